#!/usr/bin/env bash
# The built-in DNS server against Knot DNS: the same platform zone (1,000 endpoints), the same
# query mix (platform hosts A/AAAA, validation hosts TXT, unknown names, the apex), dnsperf over
# UDP for DNS_SECONDS each, the server on PROXY_CPU (0) and dnsperf on LOAD_CPU (1), on 127.0.0.1
# only, DNS_ROUNDS rounds (1), the order of the two servers alternating.
#   BUILD_DIR=build bash bench/dns.sh        (DNS_SECONDS=10, DNS_PORT=18453, DNS_ROUNDS=1)
# Prints one line per server and round (queries per second, average latency, lost queries) and
# the ratio Portcullis / Knot per round. With DNS_RAW=FILE, appends "round,portcullis,measure,value"
# rows to FILE (bench/run.sh's raw.csv): dns_qps, dns_knot_qps, dns_qps_ratio. Needs knot (knotd)
# and dnsperf (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
SECONDS_EACH=${DNS_SECONDS:-10}
PORT=${DNS_PORT:-18453}
ENDPOINTS=${DNS_ENDPOINTS:-1000}
ROUNDS=${DNS_ROUNDS:-1}
SERVER_CPU=${PROXY_CPU:-0}
CLIENT_CPU=${LOAD_CPU:-1}
BIN=${PORTCULLIS_BIN:-$BUILD_DIR/app/portcullis}
for tool in knotd dnsperf taskset; do
  command -v "$tool" >/dev/null || { echo "dns bench: $tool is missing (apt-get install knot dnsperf)"; exit 1; }
done
[ -x "$BIN" ] || { echo "dns bench: $BIN is missing (ninja -C $BUILD_DIR portcullis)"; exit 1; }

work=$(mktemp -d /tmp/portcullis-dns-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

zone=edge.example.net
# Portcullis: endpoints, no rate limiting (dnsperf is one client network).
{
  printf '[server]\ndata_dir = "%s/data"\nworkers = 1\nlog_level = "warn"\n' "$work"
  printf '[[listener]]\nname = "https"\naddress = "127.0.0.1:%s"\n' "$((PORT + 1))"
  for i in $(seq 1 "$ENDPOINTS"); do
    printf '[[endpoint]]\nid = "elb-%s"\nhostnames = ["h%s.example.com"]\nupstreams = ["127.0.0.1:9"]\nmanaged_https = false\n' "$i" "$i"
  done
  printf '[dns]\nzone = "%s"\nlisten = ["127.0.0.1:%s"]\nrate_limit = 0\n' "$zone" "$PORT"
  printf '[dns.addresses]\nexternal = ["192.0.2.10", "2001:db8::10"]\n'
} >"$work/portcullis.toml"
# Knot: the same records as a zone file.
mkdir -p "$work/knot"
{
  printf '$ORIGIN %s.\n$TTL 300\n' "$zone"
  printf '@ SOA ns1 hostmaster 1 3600 600 1209600 300\n@ NS ns1\nns1 A 127.0.0.1\n'
  for i in $(seq 1 "$ENDPOINTS"); do
    printf 'elb-%s A 192.0.2.10\nelb-%s AAAA 2001:db8::10\n' "$i" "$i"
    [ $((i % 10)) -eq 0 ] && printf 'acme.elb-%s 60 TXT "%s"\n' "$i" "$(printf 'v%.0s' $(seq 1 43))"
  done
} >"$work/knot/$zone.zone"
cat >"$work/knot/knot.conf" <<EOF
server:
  rundir: "$work/knot"
  listen: 127.0.0.1@$PORT
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
database:
  storage: "$work/knot"
template:
  - id: default
    storage: "$work/knot"
zone:
  - domain: $zone
    file: "$zone.zone"
log:
  - target: stderr
    any: warning
EOF
# The query mix: 70 % platform hosts, 10 % validation hosts, 10 % unknown names, 10 % apex.
for i in $(seq 1 "$ENDPOINTS"); do
  printf 'elb-%s.%s A\nelb-%s.%s AAAA\nelb-%s.%s A\nelb-%s.%s AAAA\nelb-%s.%s A\n' "$i" "$zone" "$i" "$zone" "$i" "$zone" "$i" "$zone" "$i" "$zone"
  printf 'elb-%s.%s A\nelb-%s.%s AAAA\nacme.elb-%s.%s TXT\nnope-%s.%s A\n%s SOA\n' "$i" "$zone" "$i" "$zone" "$i" "$zone" "$i" "$zone" "$zone"
done >"$work/queries.txt"

# Waits until a server answers the apex SOA (bounded).
wait_up() {
  for _ in $(seq 1 100); do
    kdig @127.0.0.1 -p "$PORT" +time=1 +retry=0 "$zone" SOA 2>/dev/null | grep -q 'status: NOERROR' && return 0
    sleep 0.1
  done
  echo "dns bench: $1 did not answer"; return 1
}

QPS=""
measure() {  # measure NAME ROUND: dnsperf against the server on PORT; sets QPS
  local name=$1 round=$2
  local out
  out=$(taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$PORT" -d "$work/queries.txt" -l "$SECONDS_EACH" -c 4 -q 200 2>&1)
  echo "$out" >"$work/$name-$round.dnsperf"
  QPS=$(awk '/Queries per second/ {print $4}' <<<"$out")
  [ -n "$QPS" ] || { echo "dns bench: dnsperf gave no result against $name: $(tail -1 <<<"$out")"; return 1; }
  printf 'round %s  %-12s %12s qps  avg latency %10s s  lost %s\n' "$round" "$name" "$QPS" \
    "$(awk '/Average Latency/ {print $4}' <<<"$out")" \
    "$(awk '/Queries lost/ {print $3}' <<<"$out")"
}

# run_server NAME ROUND: starts the server pinned to SERVER_CPU, measures it, stops it.
run_server() {
  local name=$1 round=$2
  case "$name" in
    portcullis) taskset -c "$SERVER_CPU" "$BIN" run --config "$work/portcullis.toml" 2>"$work/portcullis.log" & ;;
    knot) taskset -c "$SERVER_CPU" knotd -c "$work/knot/knot.conf" 2>"$work/knot.log" & ;;
  esac
  pids+=($!)
  wait_up "$name"
  measure "$name" "$round"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'
}

echo "dns bench: $ENDPOINTS endpoints, ${SECONDS_EACH}s per server, $ROUNDS round(s), dnsperf -c 4 -q 200 over UDP"
for round in $(seq 1 "$ROUNDS"); do
  order="portcullis knot"
  [ $((round % 2)) -eq 0 ] && order="knot portcullis"
  declare -A qps=()
  for name in $order; do
    run_server "$name" "$round"
    qps[$name]=$QPS
  done
  ratio=$(awk -v a="${qps[portcullis]}" -v b="${qps[knot]}" 'BEGIN {printf "%.3f", a / b}')
  echo "round $round  portcullis / knot = $ratio"
  if [ -n "${DNS_RAW:-}" ]; then
    printf '%s,portcullis,dns_qps,%s\n%s,portcullis,dns_knot_qps,%s\n%s,portcullis,dns_qps_ratio,%s\n' \
      "$round" "${qps[portcullis]}" "$round" "${qps[knot]}" "$round" "$ratio" >>"$DNS_RAW"
  fi
  unset qps
done
