#!/usr/bin/env bash
# `make run`: starts Portcullis on its embedded defaults (data in ./var, HTTPS 127.0.0.1:8443,
# HTTP 127.0.0.1:8080, admin 127.0.0.1:9900, a demo upstream on 127.0.0.1:9901).
set -euo pipefail
build_dir=${1:-build}
bin="$build_dir/proxy/portcullis"
[ -x "$bin" ] || { echo "run.sh: $bin not built (run: make build)" >&2; exit 1; }
exec "$bin" run
