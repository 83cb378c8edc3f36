#!/usr/bin/env bash
# `make run`: a local ACME CA (Pebble, Let's Encrypt's test CA, from Debian), a recursive resolver
# for it (Unbound) and Portcullis on its embedded defaults: data in ./var, HTTPS on 127.0.0.1:8443
# (internal: 8444), HTTP on 127.0.0.1:8080, a demo upstream on 127.0.0.1:9901, the admin API on
# 127.0.0.1:9900 (token in var/admin-token), and the demo platform zone portcullis.test served by
# Portcullis on 127.0.0.1:8053. Pebble resolves through Unbound on 127.0.0.1:8054: localhost and
# *.localhost are 127.0.0.1 (Pebble validates HTTP-01 against the plain listener), portcullis.test
# is asked of Portcullis (DNS-01 for the platform wildcard and the wiki endpoint). Nothing in /etc
# is touched.
# Ctrl-C stops Portcullis (it drains) and then the Pebble and Unbound processes this script started.
set -euo pipefail

build_dir=${1:-build}
bin="$build_dir/app/portcullis"
[ -x "$bin" ] || { echo "run.sh: $bin is not built (make build)" >&2; exit 1; }

state=var/pebble
resolver_dir=$PWD/var/unbound
mkdir -p "$state" "$resolver_dir"
chmod 700 var "$state" "$resolver_dir"

pebble_acme=127.0.0.1:14000
pebble_mgmt=127.0.0.1:15000
resolver_host=127.0.0.1
resolver_port=8054           # [dns] resolver in the embedded config
zone=portcullis.test         # [dns] zone
zone_server=127.0.0.1@8053   # [dns] listen
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

# Unbound, iterator only: localhost and every name below it answer 127.0.0.1 (A only, as the
# listeners bind no IPv6); the demo zone is a stub zone at Portcullis's DNS port; every TTL is
# capped to 0, so a value just published is seen at once. .test is one of Unbound's default
# local zones (RFC 6761): "nodefault" lets the stub zone below it through.
cat > "$resolver_dir/unbound.conf" <<CONF
server:
    interface: $resolver_host
    port: $resolver_port
    chroot: ""
    username: ""
    directory: "$resolver_dir"
    pidfile: "$resolver_dir/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    do-daemonize: no
    do-ip6: no
    num-threads: 1
    so-reuseport: no
    module-config: "iterator"
    do-not-query-localhost: no
    qname-minimisation: no
    cache-max-ttl: 0
    cache-max-negative-ttl: 0
    access-control: 127.0.0.0/8 allow
    local-zone: "localhost." redirect
    local-data: "localhost. 0 IN A 127.0.0.1"
    local-zone: "test." nodefault
remote-control:
    control-enable: yes
    control-interface: "$resolver_dir/unbound.ctl"
    control-use-cert: no
stub-zone:
    name: "$zone"
    stub-addr: $zone_server
CONF

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -f "$state/pebble.pid"
}
trap cleanup EXIT

unbound -d -c "$resolver_dir/unbound.conf" >"$resolver_dir/unbound.log" 2>&1 &
pids+=($!)
# PEBBLE_VA_NOSLEEP: validate at once instead of after a random pause of up to 15 s.
PEBBLE_VA_NOSLEEP=1 pebble -config "$state/pebble.json" -dnsserver "$resolver_host:$resolver_port" \
  >"$state/pebble.log" 2>&1 &
pids+=($!)
echo "$!" >"$state/pebble.pid"

# Readiness: poll each with a deadline; each probe is bounded itself (unbound-control fails at
# once while the control socket is missing; curl has --max-time), so none can hang the loop.
deadline=$((SECONDS + 20))
until unbound-control -c "$resolver_dir/unbound.conf" status >/dev/null 2>&1; do
  if [ $SECONDS -ge $deadline ] || ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "run.sh: Unbound did not start; its log:" >&2; cat "$resolver_dir/unbound.log" >&2; exit 1
  fi
  sleep 0.05
done
until curl -sf --max-time 2 --cacert "$state/tls-ca.pem" "https://$pebble_acme/dir" >/dev/null 2>&1; do
  if [ $SECONDS -ge $deadline ] || ! kill -0 "${pids[1]}" 2>/dev/null; then
    echo "run.sh: Pebble did not start; its log:" >&2; cat "$state/pebble.log" >&2; exit 1
  fi
  sleep 0.05
done
# Pebble makes a new root at every start: fetch the one that signs what it issues now.
curl -sf --max-time 10 --cacert "$state/tls-ca.pem" "https://$pebble_mgmt/roots/0" >"$state/root.pem"

cat <<MSG
Local ACME CA: Pebble at https://$pebble_acme/dir (log: $state/pebble.log), resolving through
Unbound at $resolver_host:$resolver_port (log: var/unbound/unbound.log).
Within seconds of start the demo endpoint gets a Pebble certificate over HTTP-01, and the platform
wildcard *.$zone and the internal wiki endpoint theirs over DNS-01 in the zone Portcullis serves. Try
  curl --cacert $state/root.pem https://localhost:8443/    # HTTP-01, verified against Pebble's root
  kdig @127.0.0.1 -p 8053 wiki.$zone A          # the demo zone, served by Portcullis
  curl --cacert $state/root.pem --resolve wiki.$zone:8444:127.0.0.1 https://wiki.$zone:8444/
      # the internal endpoint's certificate, over DNS-01 in our own zone
  openssl s_client -connect 127.0.0.1:8443 -servername anything.$zone </dev/null 2>/dev/null |
    openssl x509 -noout -issuer -ext subjectAltName   # the platform wildcard, for a name nothing else covers
  $bin dns-check --config examples/portcullis.toml --endpoint wiki   # a name in the zone: nothing to create
Dashboard: http://127.0.0.1:9900/ — it asks once for the admin token, written to var/admin-token
at first start (mode 0600). The admin API (docs/admin-api.md) takes the same token:
  curl -H "Authorization: Bearer \$(cat var/admin-token)" http://127.0.0.1:9900/api/v1/endpoints
MSG

"$bin" run ${PORTCULLIS_CONFIG:+--config "$PORTCULLIS_CONFIG"} --acme-directory "https://$pebble_acme/dir" --acme-ca-bundle "$state/tls-ca.pem" &
pids=($! "${pids[@]}")
trap 'kill -INT ${pids[0]} 2>/dev/null || true' INT TERM
wait "${pids[0]}" || true
