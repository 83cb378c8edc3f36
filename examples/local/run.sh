#!/usr/bin/env bash
# `make run`: a local ACME CA (Pebble, Let's Encrypt's test CA, from Debian) and Portcullis on its
# embedded defaults: data in ./var, HTTPS on 127.0.0.1:8443, HTTP on 127.0.0.1:8080, a demo upstream
# on 127.0.0.1:9901, the admin API on 127.0.0.1:9900 (token in var/admin-token). Pebble validates
# HTTP-01 against the plain listener; its resolver is pebble-challtestsrv answering every name with
# 127.0.0.1, so nothing in /etc is touched.
# Ctrl-C stops Portcullis (it drains) and then the two Pebble processes this script started.
set -euo pipefail

build_dir=${1:-build}
bin="$build_dir/app/portcullis"
[ -x "$bin" ] || { echo "run.sh: $bin is not built (make build)" >&2; exit 1; }

state=var/pebble
mkdir -p "$state"
chmod 700 var "$state"

pebble_acme=127.0.0.1:14000
pebble_mgmt=127.0.0.1:15000
dns_addr=127.0.0.1:8053
dns_mgmt=127.0.0.1:8055
http_port=8080

# Pebble's own TLS certificate, signed by a CA made here once; Portcullis trusts that CA for ACME.
if [ ! -s "$state/tls-ca.pem" ] || [ ! -s "$state/tls.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=Portcullis local Pebble TLS CA" -keyout "$state/tls-ca.key" -out "$state/tls-ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$state/tls.key" -out "$state/tls.csr" 2>/dev/null
  openssl x509 -req -in "$state/tls.csr" -CA "$state/tls-ca.pem" -CAkey "$state/tls-ca.key" -CAcreateserial \
    -days 3650 -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n') -out "$state/tls.pem" 2>/dev/null
  chmod 600 "$state"/*.key
fi

cat > "$state/pebble.json" <<JSON
{
  "pebble": {
    "listenAddress": "$pebble_acme",
    "managementListenAddress": "$pebble_mgmt",
    "certificate": "$state/tls.pem",
    "privateKey": "$state/tls.key",
    "httpPort": $http_port,
    "tlsPort": 5001,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
JSON

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -f "$state/pebble.pid" "$state/challtestsrv.pid"
}
trap cleanup EXIT

pebble-challtestsrv -management "$dns_mgmt" -dns01 "$dns_addr" -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
  -http01 "" -https01 "" -tlsalpn01 "" >"$state/challtestsrv.log" 2>&1 &
pids+=($!)
echo "$!" >"$state/challtestsrv.pid"
# PEBBLE_VA_NOSLEEP: validate at once instead of after a random pause of up to 15 s.
PEBBLE_VA_NOSLEEP=1 pebble -config "$state/pebble.json" -dnsserver "$dns_addr" >"$state/pebble.log" 2>&1 &
pids+=($!)
echo "$!" >"$state/pebble.pid"

# Readiness: poll each with a deadline (the management port answers once DNS is up too); each
# probe has its own --max-time, so a port that accepts but never answers cannot hang the loop.
deadline=$((SECONDS + 20))
until curl -s --max-time 2 -o /dev/null "http://$dns_mgmt/" 2>/dev/null; do
  if [ $SECONDS -ge $deadline ] || ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "run.sh: pebble-challtestsrv did not start; its log:" >&2; cat "$state/challtestsrv.log" >&2; exit 1
  fi
  sleep 0.1
done
until curl -sf --max-time 2 --cacert "$state/tls-ca.pem" "https://$pebble_acme/dir" >/dev/null 2>&1; do
  if [ $SECONDS -ge $deadline ] || ! kill -0 "${pids[1]}" 2>/dev/null; then
    echo "run.sh: Pebble did not start; its log:" >&2; cat "$state/pebble.log" >&2; exit 1
  fi
  sleep 0.1
done
# Pebble makes a new root at every start: fetch the one that signs what it issues now.
curl -sf --max-time 10 --cacert "$state/tls-ca.pem" "https://$pebble_mgmt/roots/0" >"$state/root.pem"

cat <<MSG
Local ACME CA: Pebble at https://$pebble_acme/dir (log: $state/pebble.log).
The demo endpoint gets a Pebble certificate over HTTP-01 within seconds of start; then
  curl --cacert $state/root.pem https://localhost:8443/     # verified against Pebble's root
Admin API: http://127.0.0.1:9900/ (docs/admin-api.md); its bearer token is written to var/admin-token
at first start (mode 0600):
  curl -H "Authorization: Bearer \$(cat var/admin-token)" http://127.0.0.1:9900/api/v1/endpoints
MSG

"$bin" run ${PORTCULLIS_CONFIG:+--config "$PORTCULLIS_CONFIG"} --acme-directory "https://$pebble_acme/dir" --acme-ca-bundle "$state/tls-ca.pem" &
pids=($! "${pids[@]}")
trap 'kill -INT ${pids[0]} 2>/dev/null || true' INT TERM
wait "${pids[0]}" || true
