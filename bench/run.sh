#!/usr/bin/env bash
# Benchmark harness: Portcullis, nginx, HAProxy and Caddy measured side by side, same certificates,
# same upstream, same pinning, every proxy in every round. See bench/README.md.
#
#   bash bench/run.sh            full run (ROUNDS=5; prints the expected duration first)
#   bash bench/run.sh --smoke    ~10-second end-to-end check of the harness with tiny bounds
#
# Environment: BUILD_DIR (holds `portcullis` or `app/portcullis`), PORTCULLIS_BIN, ROUNDS, DURATION,
# HS_DURATION, HS_CONNS, HS_MAX_BURSTS, MEM_CONNS, PROXIES, PROXY_CPU, LOAD_CPU, BASE_PORT, RESULTS_DIR,
# EXTRAS, EXTRA_MEASURES, MANY_CERTS, MANY_SWAPS, STORE_PUBLISHES, STORE_FACTS, DNS01_ISSUANCES, DNS_ROUNDS, NICE,
# SNI_MODE, KEEP_TMP.
# Every load loop is bounded in time and count and targets 127.0.0.1 only; the harness stops only
# the processes it started, by PID.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

SMOKE=0
for arg in "$@"; do
  case "$arg" in
    --smoke) SMOKE=1 ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument: $arg (expected --smoke or --help)" >&2; exit 2 ;;
  esac
done

BUILD_DIR=${BUILD_DIR:-$ROOT/build}
# CMake puts the binary in <build>/app/; PORTCULLIS_BIN overrides.
if [ -z "${PORTCULLIS_BIN:-}" ]; then
  PORTCULLIS_BIN=$BUILD_DIR/portcullis
  [ -x "$PORTCULLIS_BIN" ] || [ ! -x "$BUILD_DIR/app/portcullis" ] || PORTCULLIS_BIN=$BUILD_DIR/app/portcullis
fi
if [ "$SMOKE" = 1 ]; then
  ROUNDS=${ROUNDS:-1}; DURATION=${DURATION:-1}; HS_DURATION=${HS_DURATION:-1}
  HS_CONNS=${HS_CONNS:-50}; HS_MAX_BURSTS=${HS_MAX_BURSTS:-2}; MEM_CONNS=${MEM_CONNS:-200}
  EXTRAS=${EXTRAS:-1}; MANY_CERTS=${MANY_CERTS:-1000}; MEM_SETTLE=${MEM_SETTLE:-0.2}
  # Of the Portcullis-only measures, the smoke run checks the start from a filled store.
  EXTRA_MEASURES=${EXTRA_MEASURES:-store_start}; STORE_PUBLISHES=${STORE_PUBLISHES:-2}
else
  ROUNDS=${ROUNDS:-5}; DURATION=${DURATION:-8}; HS_DURATION=${HS_DURATION:-$DURATION}
  HS_CONNS=${HS_CONNS:-200}; HS_MAX_BURSTS=${HS_MAX_BURSTS:-1000}; MEM_CONNS=${MEM_CONNS:-5000}
  EXTRAS=${EXTRAS:-1}; MANY_CERTS=${MANY_CERTS:-100000}
fi
PROXIES=${PROXIES:-"portcullis nginx haproxy caddy"}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BASE_PORT=${BASE_PORT:-18400}
WRK_CONNS=${WRK_CONNS:-50}
STARTUP_DEADLINE=${STARTUP_DEADLINE:-15}   # seconds for a proxy to answer its first request
STOP_DEADLINE=${STOP_DEADLINE:-5}          # seconds after SIGTERM before SIGKILL
MEM_DEADLINE=${MEM_DEADLINE:-60}           # seconds to open the idle connections
MEM_SETTLE=${MEM_SETTLE:-1}                # seconds between the last connection and the RSS read
MANY_START_DEADLINE=${MANY_START_DEADLINE:-180}  # seconds to start serving with MANY_CERTS loaded
MANY_SWAP_DEADLINE=${MANY_SWAP_DEADLINE:-120}    # seconds for one swap to be served with them loaded
STORM_ENDPOINTS=${STORM_ENDPOINTS:-1000}    # managed endpoints ordered at once in the renewal storm
STORM_DEADLINE=${STORM_DEADLINE:-300}       # seconds for all of them to be issued
EXTRA_MEASURES=${EXTRA_MEASURES:-"hot_swap many_certs store_start storm dns01 dns_qps"}  # which Portcullis-only measures run
STORE_PUBLISHES=${STORE_PUBLISHES:-5}       # endpoints created one at a time with MANY_CERTS in the store
STORE_FACTS=${STORE_FACTS:-1}               # 0: stored rows without their facts (as before schema version 6)
STORE_PUBLISH_DEADLINE=${STORE_PUBLISH_DEADLINE:-60}  # seconds for each one's certificate to be served
DNS01_ISSUANCES=${DNS01_ISSUANCES:-10}      # endpoints added one reload at a time, each issued over DNS-01
DNS_ROUNDS=${DNS_ROUNDS:-3}                 # dnsperf rounds, each measuring Portcullis and Knot
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
SUFFIX=""; [ "$SMOKE" = 1 ] && SUFFIX=-smoke
RESULTS_DIR=${RESULTS_DIR:-$HERE/results/$STAMP$SUFFIX}

PORT_UPSTREAM=$BASE_PORT
PORT_NGINX=$((BASE_PORT + 1))
PORT_HAPROXY=$((BASE_PORT + 2))
PORT_CADDY=$((BASE_PORT + 3))
PORT_PORTCULLIS=$((BASE_PORT + 4))

SNI_ECDSA=bench.example.test
SNI_RSA=rsa.example.test
BODY_BYTES=100

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Packages: installed from Debian only when missing, without letting their services start.
# ---------------------------------------------------------------------------------------------
install_packages() {
  local missing=() tool pkg
  for pair in nginx:nginx haproxy:haproxy caddy:caddy wrk:wrk h2load:nghttp2-client \
              openssl:openssl python3:python3 curl:curl taskset:util-linux unshare:util-linux; do
    tool=${pair%%:*}; pkg=${pair#*:}
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    die "missing packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})"
  fi
  log "installing Debian packages: ${missing[*]}"
  # Debian's postinst would start nginx/haproxy/caddy as services on :80/:443; policy-rc.d exit
  # 101 forbids it. Ours is removed afterwards; an existing one is left untouched.
  local policy=/usr/sbin/policy-rc.d ours=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"; ours=1
  fi
  local rc=0
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || rc=$?
  [ "$ours" = 1 ] && rm -f "$policy"
  [ "$rc" = 0 ] || die "apt-get install failed (exit $rc)"
}

# ---------------------------------------------------------------------------------------------
# Processes: everything we start is recorded by PID and stopped by PID on exit.
# ---------------------------------------------------------------------------------------------
OWNED=()
TMP=""

stop_pids() {  # stop_pids PID...: SIGTERM, wait up to STOP_DEADLINE, then SIGKILL
  local pid alive deadline=$((SECONDS + STOP_DEADLINE))
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  while :; do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      for pid in "$@"; do kill -KILL "$pid" 2>/dev/null || true; done
      break
    fi
    sleep 0.1
  done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

forget_pids() {  # removes PIDs from OWNED once stopped
  local keep=() p q drop
  for p in "${OWNED[@]}"; do
    drop=0; for q in "$@"; do [ "$p" = "$q" ] && drop=1; done
    [ "$drop" = 0 ] && keep+=("$p")
  done
  OWNED=("${keep[@]}")
}

MANY_DIR=""
STORE_DIR=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ ${#OWNED[@]} -gt 0 ]; then stop_pids "${OWNED[@]}"; fi
  local d
  for d in "$TMP" "$MANY_DIR" "$STORE_DIR"; do
    [ -n "$d" ] && [ -d "$d" ] || continue
    if [ "${KEEP_TMP:-0}" = 1 ]; then log "kept $d"; else rm -rf "$d"; fi
  done
  restore_priority
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Neighbours (builds) share these cores. As root, the harness and everything it starts (proxies,
# upstream, load generators) run at NICE (default -10) so they are preempted less; NICE=0: off.
# With autogroup scheduling a process's nice only weighs against its own session, so the session's
# autogroup nice is raised too and restored on exit.
AUTOGROUP_SAVED=""
raise_priority() {
  local nice=${NICE:--10}
  [ "$(id -u)" = 0 ] && [ "$nice" != 0 ] || return 0
  renice -n "$nice" -p $$ >/dev/null 2>&1 || true
  if [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ] && [ -w /proc/$$/autogroup ]; then
    AUTOGROUP_SAVED=$(awk '{print $NF}' /proc/$$/autogroup 2>/dev/null)
    echo "$nice" >/proc/$$/autogroup 2>/dev/null || AUTOGROUP_SAVED=""
  fi
}
restore_priority() {
  if [ -n "$AUTOGROUP_SAVED" ]; then echo "$AUTOGROUP_SAVED" >/proc/$$/autogroup 2>/dev/null || true; fi
}

children_of() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' || true; }

# /proc/<pid>/stat fields 14 and 15 (utime, stime), after the "(comm)" which may hold spaces.
cpu_ticks() {
  local total=0 pid t
  for pid in "$@"; do
    t=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}') || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

port_busy() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

# ---------------------------------------------------------------------------------------------
# Certificates: ECDSA P-256 and RSA-2048, self-signed, same files for every proxy.
# ---------------------------------------------------------------------------------------------
make_cert() {  # make_cert NAME KEYSPEC CN
  local name=$1 keyspec=$2 cn=$3
  openssl req -x509 -newkey "$keyspec" ${4:+-pkeyopt "$4"} -nodes -days 30 \
    -keyout "$TMP/certs/$name.key" -out "$TMP/certs/$name.crt" -subj "/CN=$cn" \
    -addext "subjectAltName=DNS:$cn,DNS:*.$cn" >/dev/null 2>&1
  cat "$TMP/certs/$name.crt" "$TMP/certs/$name.key" >"$TMP/certs/$name.pem"  # HAProxy's format
}

generate_certs() {
  mkdir -p "$TMP/certs"
  make_cert ecdsa ec "$SNI_ECDSA" ec_paramgen_curve:P-256
  make_cert rsa rsa:2048 "$SNI_RSA"
  # Two more ECDSA certificates for the same name: the hot-swap measure alternates between them.
  make_cert swap-a ec "$SNI_ECDSA" ec_paramgen_curve:P-256
  make_cert swap-b ec "$SNI_ECDSA" ec_paramgen_curve:P-256
  printf '127.0.0.1 %s %s\n' "$SNI_ECDSA" "$SNI_RSA" >"$TMP/hosts"
}

# ---------------------------------------------------------------------------------------------
# Configurations
# ---------------------------------------------------------------------------------------------
body_text() { head -c "$BODY_BYTES" /dev/zero | tr '\0' 'x'; }

write_upstream_conf() {
  local d=$TMP/upstream; mkdir -p "$d"
  cat >"$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $d/tmp-body; proxy_temp_path $d/tmp-proxy; fastcgi_temp_path $d/tmp-fcgi;
  uwsgi_temp_path $d/tmp-uwsgi; scgi_temp_path $d/tmp-scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$PORT_UPSTREAM reuseport;
    location / { default_type text/plain; return 200 "$(body_text)"; }
  }
}
EOF
}

write_nginx_conf() {
  local d=$TMP/nginx; mkdir -p "$d"
  local loc="location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
  cat >"$d/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 30000;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path $d/tmp-body; proxy_temp_path $d/tmp-proxy; fastcgi_temp_path $d/tmp-fcgi;
  uwsgi_temp_path $d/tmp-uwsgi; scgi_temp_path $d/tmp-scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  ssl_protocols TLSv1.2 TLSv1.3;
  upstream up { server 127.0.0.1:$PORT_UPSTREAM; keepalive 64; }
  server {
    listen 127.0.0.1:$PORT_NGINX ssl default_server;
    server_name $SNI_ECDSA;
    ssl_certificate $TMP/certs/ecdsa.crt; ssl_certificate_key $TMP/certs/ecdsa.key;
    $loc
  }
  server {
    listen 127.0.0.1:$PORT_NGINX ssl;
    server_name $SNI_RSA;
    ssl_certificate $TMP/certs/rsa.crt; ssl_certificate_key $TMP/certs/rsa.key;
    $loc
  }
}
EOF
}

write_haproxy_conf() {
  local d=$TMP/haproxy; mkdir -p "$d"
  cat >"$d/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 9000   # two descriptors per proxied connection; fits an open-file limit of 20000
  ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 60s
  timeout http-keep-alive 300s
frontend bench
  bind 127.0.0.1:$PORT_HAPROXY ssl crt $TMP/certs/ecdsa.pem crt $TMP/certs/rsa.pem alpn http/1.1
  default_backend upstream
backend upstream
  http-reuse always
  server up 127.0.0.1:$PORT_UPSTREAM
EOF
}

write_caddy_conf() {
  local d=$TMP/caddy; mkdir -p "$d/data" "$d/config"
  cat >"$d/caddy.json" <<EOF
{
  "admin": {"disabled": true},
  "logging": {"logs": {"default": {"level": "ERROR"}}},
  "storage": {"module": "file_system", "root": "$d/data"},
  "apps": {
    "http": {"servers": {"bench": {
      "listen": ["127.0.0.1:$PORT_CADDY"],
      "protocols": ["h1", "h2"],
      "idle_timeout": "300s",
      "automatic_https": {"disable": true},
      "tls_connection_policies": [{}],
      "routes": [{"handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "127.0.0.1:$PORT_UPSTREAM"}]}]}]
    }}},
    "tls": {"certificates": {"load_files": [
      {"certificate": "$TMP/certs/ecdsa.crt", "key": "$TMP/certs/ecdsa.key"},
      {"certificate": "$TMP/certs/rsa.crt", "key": "$TMP/certs/rsa.key"}
    ]}}
  }
}
EOF
}

# The schema is domain/config.hpp, read by app/toml_config.cpp (reference: docs/configuration.md).
# Extra TOML can be appended by the Portcullis-only measures (many certificates, swapped certificate paths).
write_portcullis_conf() {  # write_portcullis_conf FILE ECDSA_CERT ECDSA_KEY [EXTRA_TOML_FILE]
  local file=$1 cert=$2 key=$3 extra=${4:-}
  local d=$TMP/portcullis; mkdir -p "$d/data"
  cat >"$file.tmp" <<EOF
[server]
data_dir = "$d/data"
workers = 1
log_level = "warn"

[[listener]]
name = "https"
address = "127.0.0.1:$PORT_PORTCULLIS"
protocol = "https"

[tls]
default_cert = "$cert"
default_key = "$key"

[[certificate]]
cert_file = "$cert"
key_file = "$key"

[[certificate]]
cert_file = "$TMP/certs/rsa.crt"
key_file = "$TMP/certs/rsa.key"

[[endpoint]]
id = "bench"
hostnames = ["$SNI_ECDSA", "$SNI_RSA"]
upstreams = ["127.0.0.1:$PORT_UPSTREAM"]
managed_https = false
EOF
  [ -n "$extra" ] && cat "$extra" >>"$file.tmp"
  mv -f "$file.tmp" "$file"  # atomic: a SIGHUP never sees half a file
}

# ---------------------------------------------------------------------------------------------
# Starting and stopping one proxy. Sets PROXY_PIDS (all its processes, for CPU time),
# MEM_PID (the process whose RSS grows with connections) and PROXY_PORT.
# ---------------------------------------------------------------------------------------------
PROXY_PIDS=()
MEM_PID=""
PROXY_PORT=""
PROXY_MAIN=""

https_ok() {  # https_ok PORT SNI: one request, 200 with the 100-byte body
  local out
  out=$(curl -sk --max-time 2 --resolve "$2:$1:127.0.0.1" -o "$TMP/probe.body" -w '%{http_code}' \
        "https://$2:$1/" 2>/dev/null) || return 1
  [ "$out" = 200 ] && [ "$(wc -c <"$TMP/probe.body")" -eq "$BODY_BYTES" ]
}

wait_ready() {  # wait_ready PID PORT SNI
  local deadline=$((SECONDS + STARTUP_DEADLINE))
  while [ "$SECONDS" -lt "$deadline" ]; do
    kill -0 "$1" 2>/dev/null || return 1
    https_ok "$2" "$3" && https_ok "$2" "$SNI_RSA" && return 0
    sleep 0.1
  done
  return 1
}

spawn() {  # spawn LOGFILE CMD...: background, pinned by the caller's CMD, recorded in OWNED
  local logfile=$1; shift
  "$@" >"$logfile" 2>&1 &
  LAST_PID=$!
  OWNED+=("$LAST_PID")
}

PORTCULLIS_CONF=""
start_proxy() {  # start_proxy NAME LOGFILE
  local name=$1 logfile=$2 pid kids
  PROXY_PIDS=(); MEM_PID=""
  case "$name" in
    nginx)
      PROXY_PORT=$PORT_NGINX
      spawn "$logfile" taskset -c "$PROXY_CPU" nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" ;;
    haproxy)
      PROXY_PORT=$PORT_HAPROXY
      spawn "$logfile" taskset -c "$PROXY_CPU" haproxy -db -f "$TMP/haproxy/haproxy.cfg" ;;
    caddy)
      PROXY_PORT=$PORT_CADDY
      spawn "$logfile" taskset -c "$PROXY_CPU" env GOMAXPROCS=1 HOME="$TMP/caddy" \
        XDG_DATA_HOME="$TMP/caddy/data" XDG_CONFIG_HOME="$TMP/caddy/config" \
        caddy run --config "$TMP/caddy/caddy.json" ;;
    portcullis)
      PROXY_PORT=$PORT_PORTCULLIS
      spawn "$logfile" taskset -c "$PROXY_CPU" "$PORTCULLIS_BIN" run --config "$PORTCULLIS_CONF" ;;
  esac
  pid=$LAST_PID
  PROXY_MAIN=$pid
  if ! wait_ready "$pid" "$PROXY_PORT" "$SNI_ECDSA"; then
    log "$name did not serve https://$SNI_ECDSA:$PROXY_PORT/ within ${STARTUP_DEADLINE}s; log tail:"
    tail -n 5 "$logfile" | sed 's/^/    /' >&2 || true
    stop_pids "$pid"; forget_pids "$pid"
    return 1
  fi
  PROXY_PIDS=("$pid")
  MEM_PID=$pid
  if [ "$name" = nginx ]; then
    kids=$(children_of "$pid")
    for k in $kids; do PROXY_PIDS+=("$k"); OWNED+=("$k"); MEM_PID=$k; done  # the worker
  fi
  return 0
}

stop_proxy() {
  [ ${#PROXY_PIDS[@]} -gt 0 ] || return 0
  stop_pids "${PROXY_PIDS[@]}"
  forget_pids "${PROXY_PIDS[@]}"
  PROXY_PIDS=()
}

# ---------------------------------------------------------------------------------------------
# Measures. Each appends "round,proxy,measure,value" rows to raw.csv; raw tool output is kept in
# RESULTS_DIR/logs/.
# ---------------------------------------------------------------------------------------------
emit() { echo "$1,$2,$3,$4" >>"$RESULTS_DIR/raw.csv"; }
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

HOSTS_MODE=ip
detect_hosts_mode() {
  [ "${SNI_MODE:-auto}" = ip ] && return 0
  # wrk takes the TLS server name from the URL; a private mount namespace with its own /etc/hosts
  # lets it dial bench.example.test -> 127.0.0.1 without touching the system's file.
  if unshare -m sh -c 'mount --bind "$0" /etc/hosts && getent hosts bench.example.test' "$TMP/hosts" \
       >/dev/null 2>&1; then
    HOSTS_MODE=unshare
  else
    log "note: cannot use a private /etc/hosts (unshare -m); wrk will send SNI 127.0.0.1 + Host header"
  fi
}

wrk_socket_errors() {  # "Socket errors: connect 0, read 0, write 0, timeout 0" on stdin -> their sum
  awk '/Socket errors:/ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i} END {print s + 0}'
}

to_ms() {  # "651.00us" | "1.20ms" | "2.00s" -> milliseconds
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
    printf "%.3f", n }'
}

measure_keepalive() {  # measure_keepalive ROUND NAME PORT
  local r=$1 name=$2 port=$3 out=$RESULTS_DIR/logs/r$1-$2-wrk.txt
  local cmd=(wrk -t1 -c"$WRK_CONNS" -d"${DURATION}s" --timeout 5s --latency)
  if [ "$HOSTS_MODE" = unshare ]; then
    timeout $((DURATION + 20)) unshare -m sh -c \
      'mount --bind "$0" /etc/hosts && exec "$@"' "$TMP/hosts" \
      taskset -c "$LOAD_CPU" "${cmd[@]}" "https://$SNI_ECDSA:$port/" >"$out" 2>&1 || true
  else
    timeout $((DURATION + 20)) taskset -c "$LOAD_CPU" "${cmd[@]}" -H "Host: $SNI_ECDSA" \
      "https://127.0.0.1:$port/" >"$out" 2>&1 || true
  fi
  local rps p50 p99 non2xx sock
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  if [ -z "$rps" ] || ! awk -v v="$rps" 'BEGIN {exit !(v > 0)}'; then
    log "$name: wrk got no response (see $out)"; return 1
  fi
  p50=$(awk '$1 == "50%" {print $2}' "$out"); p99=$(awk '$1 == "99%" {print $2}' "$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
  sock=$(wrk_socket_errors < "$out")
  emit "$r" "$name" ka_rps "$rps"
  emit "$r" "$name" ka_p50_ms "$(to_ms "$p50")"
  emit "$r" "$name" ka_p99_ms "$(to_ms "$p99")"
  emit "$r" "$name" ka_errors "$(( ${non2xx:-0} + ${sock:-0} ))"
  log "$name: keep-alive $rps req/s, p50 $p50, p99 $p99, errors $(( ${non2xx:-0} + ${sock:-0} ))"
}

# Bursts of HS_CONNS new connections, one request each (h2load -n C -c C), until HS_DURATION
# seconds or HS_MAX_BURSTS bursts. Handshakes = responses with 2xx (each on its own connection);
# divided by the CPU seconds the proxy's processes consumed meanwhile.
measure_handshakes() {  # measure_handshakes ROUND NAME PORT SNI KEY
  local r=$1 name=$2 port=$3 sni=$4 key=$5 out=$RESULTS_DIR/logs/r$1-$2-$5.txt
  local t0 t1 c0 c1 ok=0 bursts=0 n start end
  : >"$out"
  c0=$(cpu_ticks "${PROXY_PIDS[@]}")
  start=$(date +%s.%N); end=$(awk -v s="$start" -v d="$HS_DURATION" 'BEGIN {printf "%.3f", s + d}')
  while [ "$bursts" -lt "$HS_MAX_BURSTS" ]; do
    timeout 30 taskset -c "$LOAD_CPU" h2load --h1 -n "$HS_CONNS" -c "$HS_CONNS" -m 1 -t 1 \
      --groups X25519 --connect-to "127.0.0.1:$port" "https://$sni:$port/" >>"$out" 2>&1 || true
    bursts=$((bursts + 1))
    awk -v now="$(date +%s.%N)" -v end="$end" 'BEGIN {exit !(now >= end)}' && break
  done
  c1=$(cpu_ticks "${PROXY_PIDS[@]}")
  t1=$(date +%s.%N)
  ok=$(awk '/^status codes:/ {s += $3} END {print s + 0}' "$out")
  if [ "$ok" -eq 0 ]; then log "$name: no successful handshake for $sni (see $out)"; return 1; fi
  if [ $((c1 - c0)) -le 0 ]; then log "$name: $ok handshakes but no CPU time seen on PIDs ${PROXY_PIDS[*]}"; return 1; fi
  if ! grep -q 'TLS Protocol: TLSv1.3' "$out"; then log "$name: warning: not TLS 1.3 (see $out)"; fi
  local per_cpu wall
  per_cpu=$(awk -v n="$ok" -v t=$((c1 - c0)) -v hz="$CLK_TCK" 'BEGIN {printf "%.1f", n / (t / hz)}')
  wall=$(awk -v n="$ok" -v a="$start" -v b="$t1" 'BEGIN {printf "%.1f", n / (b - a)}')
  emit "$r" "$name" "${key}_cpu" "$per_cpu"
  emit "$r" "$name" "${key}_wall" "$wall"
  emit "$r" "$name" "${key}_count" "$ok"
  log "$name: $key $ok handshakes in $bursts bursts, $per_cpu per core-second ($wall/s wall)"
}

measure_idle_memory() {  # measure_idle_memory ROUND NAME PORT
  local r=$1 name=$2 port=$3 dir=$TMP/mem-$1-$2
  mkdir -p "$dir"
  local before after held failed pid
  https_ok "$port" "$SNI_ECDSA" || true
  sleep 0.2
  before=$(rss_kib "$MEM_PID")
  taskset -c "$LOAD_CPU" python3 "$HERE/tools/hold_conns.py" --port "$port" --sni "$SNI_ECDSA" \
    --count "$MEM_CONNS" --deadline "$MEM_DEADLINE" --hold $((MEM_DEADLINE + 30)) \
    --status-file "$dir/status" --release-file "$dir/release" >"$RESULTS_DIR/logs/r$r-$name-mem.txt" 2>&1 &
  pid=$!; OWNED+=("$pid")
  local deadline=$((SECONDS + MEM_DEADLINE + 10))
  while [ ! -s "$dir/status" ] && [ "$SECONDS" -lt "$deadline" ] && kill -0 "$pid" 2>/dev/null; do
    sleep 0.1
  done
  if [ -s "$dir/status" ]; then
    sleep "$MEM_SETTLE"
    after=$(rss_kib "$MEM_PID")
  fi
  touch "$dir/release"
  stop_pids "$pid"; forget_pids "$pid"
  [ -s "$dir/status" ] || { log "$name: idle-connection client gave no status"; return 1; }
  held=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["held"])' "$dir/status")
  failed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["failed"])' "$dir/status")
  cat "$dir/status" >>"$RESULTS_DIR/logs/r$r-$name-mem.txt"
  if [ "$held" -lt $((MEM_CONNS * 9 / 10)) ]; then
    log "$name: only $held of $MEM_CONNS idle connections held ($failed failed)"; return 1
  fi
  local per
  per=$(awk -v a="$after" -v b="$before" -v n="$held" 'BEGIN {printf "%.2f", (a - b) / n}')
  emit "$r" "$name" mem_kib_conn "$per"
  emit "$r" "$name" mem_held "$held"
  emit "$r" "$name" mem_rss_before_kib "$before"
  emit "$r" "$name" mem_rss_after_kib "$after"
  log "$name: idle memory $per KiB/connection ($held held, RSS $before -> $after KiB)"
}

# ---------------------------------------------------------------------------------------------
# 5. Portcullis-only measures. Each checks that the binary supports what it needs and otherwise
#    records "skipped=<why>" in meta.txt and returns 0, so the rest of the run is unaffected.
# ---------------------------------------------------------------------------------------------
skip() { echo "skipped=$*" >>"$RESULTS_DIR/meta.txt"; log "skipped: $*"; }

# Hot swap: keep-alive load while the served certificate for bench.example.test alternates between
# two files every second, by rewriting the config and sending SIGHUP (a reload is atomic:
# docs/configuration.md).
portcullis_hot_swap() {
  local r=$1 conf=$TMP/portcullis/swap.toml out=$RESULTS_DIR/logs/swap
  mkdir -p "$out"
  write_portcullis_conf "$conf" "$TMP/certs/swap-a.crt" "$TMP/certs/swap-a.key"
  PORTCULLIS_CONF=$conf
  start_proxy portcullis "$out/portcullis.log" || { skip "hot swap: portcullis did not start"; return 0; }
  local pid=$PROXY_MAIN
  # Does a SIGHUP swap the certificate at all? One trial before loading it.
  write_portcullis_conf "$conf" "$TMP/certs/swap-b.crt" "$TMP/certs/swap-b.key"
  local t
  t=$(python3 "$HERE/tools/tls_probe.py" publish --port "$PORT_PORTCULLIS" --sni "$SNI_ECDSA" \
        --expect "$TMP/certs/swap-b.crt" --deadline 3 --signal-pid "$pid" 2>>"$out/probe.err") || t=""
  if [ -z "$t" ]; then
    skip "hot swap: SIGHUP with a new certificate path did not change the served certificate within 3 s"
    stop_proxy; return 0
  fi
  local wrk_out=$out/wrk.txt swaps=0 next=a publish=()
  if [ "$HOSTS_MODE" = unshare ]; then
    timeout $((DURATION + 20)) unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' \
      "$TMP/hosts" taskset -c "$LOAD_CPU" wrk -t1 -c"$WRK_CONNS" -d"${DURATION}s" --timeout 5s \
      "https://$SNI_ECDSA:$PORT_PORTCULLIS/" >"$wrk_out" 2>&1 &
  else
    timeout $((DURATION + 20)) taskset -c "$LOAD_CPU" wrk -t1 -c"$WRK_CONNS" -d"${DURATION}s" \
      --timeout 5s -H "Host: $SNI_ECDSA" "https://127.0.0.1:$PORT_PORTCULLIS/" >"$wrk_out" 2>&1 &
  fi
  local wpid=$!; OWNED+=("$wpid")
  local end=$((SECONDS + DURATION))
  while [ "$SECONDS" -lt "$end" ] && kill -0 "$wpid" 2>/dev/null; do
    sleep 1
    write_portcullis_conf "$conf" "$TMP/certs/swap-$next.crt" "$TMP/certs/swap-$next.key"
    t=$(python3 "$HERE/tools/tls_probe.py" publish --port "$PORT_PORTCULLIS" --sni "$SNI_ECDSA" \
          --expect "$TMP/certs/swap-$next.crt" --deadline 3 --signal-pid "$pid" 2>>"$out/probe.err") \
      && publish+=("$t")
    swaps=$((swaps + 1))
    [ "$next" = a ] && next=b || next=a
  done
  wait "$wpid" 2>/dev/null || true; forget_pids "$wpid"
  stop_proxy
  local rps non2xx sock
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$wrk_out")
  [ -n "$rps" ] || { skip "hot swap: wrk produced no result"; return 0; }
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$wrk_out")
  sock=$(wrk_socket_errors < "$wrk_out")
  emit "$r" portcullis swap_rps "$rps"
  emit "$r" portcullis swap_failed "$(( ${non2xx:-0} + ${sock:-0} + swaps - ${#publish[@]} ))"
  if [ ${#publish[@]} -gt 0 ]; then
    emit "$r" portcullis swap_publish_ms_p50 "$(printf '%s\n' "${publish[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
    emit "$r" portcullis swap_publish_ms_max "$(printf '%s\n' "${publish[@]}" | sort -g | tail -1)"
  fi
  log "portcullis: hot swap $rps req/s, $swaps swaps, $(( ${non2xx:-0} + ${sock:-0} )) failed requests"
}

# The C handshake client (tools/hs_probe.c): new connection and full TLS 1.3 handshake each, no
# resumption, random SNI from a names file, one line per handshake. Compiled once per run; returns
# 1 when it does not compile (libssl-dev missing).
HS_PROBE=""
build_hs_probe() {
  [ -n "$HS_PROBE" ] && return 0
  cc -O2 -o "$TMP/hs_probe" "$HERE/tools/hs_probe.c" -lssl -lcrypto 2>"$RESULTS_DIR/logs/hs_probe-build.txt" || return 1
  HS_PROBE=$TMP/hs_probe
}

# during_start LOG PORT NAMES SECONDS: hs_probe handshaking back to back with random NAMES on
# LOAD_CPU, bounded by SECONDS, one line per handshake into LOG ("start_epoch ms covers"); returns
# once its first handshake is logged, 1 when none is within STARTUP_DEADLINE. Sets DURING_PID.
# A line's fourth field is the client's own wait for a CPU during that handshake (ms).
DURING_PID=""
during_start() {
  local log=$1 port=$2 names=$3 seconds=$4 deadline=$((SECONDS + STARTUP_DEADLINE))
  : >"$log"
  spawn "$log.summary" taskset -c "$LOAD_CPU" "$HS_PROBE" --port "$port" --names "$names" \
    --duration "$seconds" --log "$log"
  DURING_PID=$LAST_PID
  until [ -s "$log" ]; do
    if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$DURING_PID" 2>/dev/null; then
      during_stop; return 1
    fi
    sleep 0.01
  done
}

# during_stop: stops the background client (SIGTERM: it ends the handshake in flight and exits).
during_stop() {
  [ -n "$DURING_PID" ] || return 0
  stop_pids "$DURING_PID"; forget_pids "$DURING_PID"; DURING_PID=""
}

# longest_after LOG EPOCH: of the handshakes of a during_start LOG that ended at or after EPOCH (a
# failed one counts with the time until it failed): the longest (ms), the longest less the client's
# own wait for a CPU during it (ms), and how many failed.
longest_after() {
  awk -v t="$2" '$1 + $2 / 1000 >= t {if ($2 > m) m = $2; w = $4 > 0 ? $4 : 0; if ($2 - w > n) n = $2 - w; if ($3 < 0) f++}
                 END {printf "%.2f %.2f %d\n", m, n, f}' "$1"
}

# Many certificates: MANY_CERTS certificates (one shared ECDSA key, names hNNNNNN.many.example.test)
# in a certificate folder ([[certificate_dir]]). Measures start-up time, RSS, handshake latency with
# random SNI (and that the served certificate matches it), then MANY_SWAPS swaps' publish time and
# the longest handshake while they happen.
portcullis_many_certs() {
  local r=$1 out=$RESULTS_DIR/logs/many dir
  # 100,000 small files: on tmpfs when it has room, as creating and deleting them on a disk file
  # system (ext4 with discard here) takes minutes.
  if [ -w /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR == 2 {print $4}')" -gt $((MANY_CERTS * 8 + 512 * 1024)) ]; then
    MANY_DIR=$(mktemp -d /dev/shm/portcullis-bench-many.XXXXXX); dir=$MANY_DIR
  else
    dir=$TMP/many
  fi
  mkdir -p "$out" "$dir"
  if ! cc -O2 -o "$dir/certgen" "$HERE/tools/certgen.c" -lcrypto 2>"$out/certgen-build.txt"; then
    skip "many certificates: bench/tools/certgen.c did not compile (libssl-dev missing?)"; return 0
  fi
  build_hs_probe || { skip "many certificates: bench/tools/hs_probe.c did not compile (libssl-dev missing?)"; return 0; }
  log "generating $MANY_CERTS certificates"
  # One combined PEM (certificate and key) per name in a certificate folder, $dir/certs.
  timeout 300 "$dir/certgen" --dir "$dir" "$MANY_CERTS" many.example.test >"$dir/extra.toml" 2>"$out/certgen.txt" \
    || { skip "many certificates: generation failed"; return 0; }
  # Baseline: the same client against the one-certificate config.
  PORTCULLIS_CONF=$TMP/portcullis/bench.toml
  start_proxy portcullis "$out/portcullis-one.log" || { skip "many certificates: portcullis did not start"; return 0; }
  echo "$SNI_ECDSA" >"$dir/one-name.txt"
  taskset -c "$LOAD_CPU" "$HS_PROBE" --port "$PORT_PORTCULLIS" --names "$dir/one-name.txt" \
    --count 500 --duration 60 >"$out/one.json" 2>>"$out/probe.err" || true
  stop_proxy
  local conf=$dir/many.toml
  echo "[[endpoint]]
id = \"many\"
hostnames = [\"*.many.example.test\"]
upstreams = [\"127.0.0.1:$PORT_UPSTREAM\"]
managed_https = false" >>"$dir/extra.toml"
  write_portcullis_conf "$conf" "$TMP/certs/ecdsa.crt" "$TMP/certs/ecdsa.key" "$dir/extra.toml"
  PORTCULLIS_CONF=$conf
  local t0=$SECONDS t0n
  t0n=$(date +%s.%N)
  local save=$STARTUP_DEADLINE; STARTUP_DEADLINE=$MANY_START_DEADLINE
  if ! start_proxy portcullis "$out/portcullis-many.log"; then
    STARTUP_DEADLINE=$save; skip "many certificates: portcullis did not serve with $MANY_CERTS certificates"; return 0
  fi
  STARTUP_DEADLINE=$save
  emit "$r" portcullis many_load_s "$(awk -v a="$t0n" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')"
  emit "$r" portcullis many_certs "$MANY_CERTS"
  emit "$r" portcullis many_rss_mib "$(( $(rss_kib "$PROXY_MAIN") / 1024 ))"
  taskset -c "$LOAD_CPU" "$HS_PROBE" --port "$PORT_PORTCULLIS" --names "$dir/names.txt" \
    --count 2000 --duration 60 >"$out/many.json" 2>>"$out/probe.err" || true
  python3 - "$out/one.json" "$out/many.json" "$RESULTS_DIR/raw.csv" "$r" <<'EOF'
import json, sys
one, many, raw, r = sys.argv[1:]
rows = []
try:
    o = json.load(open(one)); rows.append(("one_hs_p50_ms", o["p50_ms"]))
except Exception: pass
try:
    m = json.load(open(many))
    rows += [("many_hs_p50_ms", m["p50_ms"]), ("many_hs_p99_ms", m["p99_ms"]), ("many_hs_max_ms", m["max_ms"]),
             ("many_hs_max_less_wait_ms", m["max_less_wait_ms"]), ("many_sni_wrong", m["wrong_cert"])]
except Exception: pass
with open(raw, "a") as f:
    for k, v in rows: f.write(f"{r},portcullis,{k},{v}\n")
EOF
  # Swaps with everything loaded: the first name gets a fresh certificate (same key), written to
  # a temporary name in the folder and renamed over its file, as an operator updates one; no
  # signal. Publish time: from the rename until a handshake is served it (median of the swaps).
  # The C client handshakes with random names throughout each swap (tools/hs_probe.c); the longest
  # of its handshakes that ended after the rename is the stall figure, many_hs_max_ms its floor.
  local first i t publish=() worst=() worst_less=() swaps=${MANY_SWAPS:-5} ok longest
  first=$(head -1 "$dir/names.txt")
  for i in $(seq 1 "$swaps"); do
    "$dir/certgen" --one "$dir" "$first" $((999999000 + i)) >/dev/null 2>>"$out/certgen.txt" || break
    [ -s "$dir/one.pem" ] || break
    cp "$dir/one.pem" "$dir/certs/.swap.tmp"
    during_start "$out/during-$i.txt" "$PORT_PORTCULLIS" "$dir/names.txt" $((MANY_SWAP_DEADLINE + 10)) || break
    ok=1
    python3 "$HERE/tools/tls_probe.py" publish --port "$PORT_PORTCULLIS" --sni "$first" \
      --expect "$dir/one.crt" --deadline "$MANY_SWAP_DEADLINE" --rename "$dir/certs/.swap.tmp:$dir/certs/000000.pem" \
      --served-at "$out/served-$i.txt" >"$out/swap-$i.txt" 2>>"$out/probe.err" || ok=0
    sleep 0.5  # handshakes right after the publish count too
    during_stop
    [ "$ok" = 1 ] || break
    t=$(head -1 "$out/swap-$i.txt")
    publish+=("$t")
    # The rename's time: the first handshake served the new certificate, less the publish time.
    longest=$(longest_after "$out/during-$i.txt" "$(awk -v s="$(cat "$out/served-$i.txt")" -v t="$t" \
                'BEGIN {printf "%.6f", s - t / 1000}')")
    worst+=("${longest%% *}"); longest=${longest#* }; worst_less+=("${longest%% *}")
    log "portcullis: swap $i published in $t ms; longest handshake meanwhile ${worst[-1]} ms (${worst_less[-1]} ms less the client's own wait for a CPU)"
  done
  if [ ${#publish[@]} -eq "$swaps" ]; then
    emit "$r" portcullis many_swap_publish_ms "$(printf '%s\n' "${publish[@]}" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')"
    emit "$r" portcullis many_swap_hs_max_ms "$(printf '%s\n' "${worst[@]}" | sort -g | tail -1)"
    emit "$r" portcullis many_swap_hs_max_less_wait_ms "$(printf '%s\n' "${worst_less[@]}" | sort -g | tail -1)"
  else
    skip "many certificates: swap $((${#publish[@]} + 1)) was not served within ${MANY_SWAP_DEADLINE} s of its rename"
  fi
  stop_proxy
}

# A local Pebble with pebble-challtestsrv answering every name with 127.0.0.1, validating HTTP-01
# on HTTP_PORT: start_pebble DIR LOGDIR ACME MGMT DNS DNS_MGMT HTTP_PORT TLSALPN_PORT. Writes
# DIR/ca.pem (the CA of Pebble's own TLS certificate) and sets PEBBLE_PIDS; returns 1 (logged)
# when it does not answer within STARTUP_DEADLINE.
PEBBLE_PIDS=""
start_pebble() {
  local d=$1 out=$2 acme=$3 mgmt=$4 dns=$5 dns_mgmt=$6 http=$7 tlsalpn=$8
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=bench Pebble TLS CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$d/tls.key" -out "$d/tls.csr" 2>/dev/null
  openssl x509 -req -in "$d/tls.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1\n') -out "$d/tls.pem" 2>/dev/null
  cat >"$d/pebble.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$acme", "managementListenAddress": "127.0.0.1:$mgmt",
  "certificate": "$d/tls.pem", "privateKey": "$d/tls.key", "httpPort": $http, "tlsPort": $tlsalpn,
  "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON
  spawn "$out/challtestsrv.log" taskset -c "$LOAD_CPU" pebble-challtestsrv -management "127.0.0.1:$dns_mgmt" \
    -dns01 "127.0.0.1:$dns" -defaultIPv4 127.0.0.1 -defaultIPv6 "" -http01 "" -https01 "" -tlsalpn01 ""
  local challtestsrv=$LAST_PID
  PEBBLE_VA_NOSLEEP=1 spawn "$out/pebble.log" taskset -c "$LOAD_CPU" pebble -config "$d/pebble.json" -dnsserver "127.0.0.1:$dns"
  local pebble=$LAST_PID deadline=$((SECONDS + STARTUP_DEADLINE))
  PEBBLE_PIDS="$pebble $challtestsrv"
  until curl -sf --max-time 2 --cacert "$d/ca.pem" "https://127.0.0.1:$acme/dir" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$pebble" 2>/dev/null; then
      log "Pebble did not start ($(tail -1 "$out/pebble.log"))"
      stop_pids $PEBBLE_PIDS; forget_pids $PEBBLE_PIDS; PEBBLE_PIDS=""; return 1
    fi
    sleep 0.1
  done
}

# Start from the store: MANY_CERTS endpoints (ids st-NNNNNN, names hNNNNNN.store.example.test) as
# the admin API stores them, each with its managed certificate (certgen --store: one shared P-256
# key, 90 days, not due), written into the SQLite store by tools/store_fill.py after a first start
# on an empty data_dir created the schema. ACME on against a local Pebble, so every endpoint's
# renewal is scheduled at start. Reported: start to the first correct handshake for a random stored
# name, the background verification's duration, RSS, handshake latency with random SNI; then
# STORE_PUBLISHES endpoints created through the admin API one at a time, each issued over HTTP-01:
# the time from the issuer's "issued" line to the first handshake served the certificate, the
# publish step's duration (publish_ms of "certificate issued"), from the request to it, and the
# longest handshake of a client with random stored names during the issuance and publish, and
# during the whole creation. Ports BASE_PORT+21..+28.
portcullis_store_start() {
  local r=$1 out=$RESULTS_DIR/logs/store d
  if ! command -v pebble >/dev/null || ! command -v pebble-challtestsrv >/dev/null; then
    skip "start from the store: pebble is not installed (Debian package pebble)"; return 0
  fi
  local acme=$((BASE_PORT + 21)) mgmt=$((BASE_PORT + 22)) dns=$((BASE_PORT + 23)) dns_mgmt=$((BASE_PORT + 24))
  local http=$((BASE_PORT + 25)) tlsalpn=$((BASE_PORT + 26)) https=$((BASE_PORT + 27)) admin=$((BASE_PORT + 28)) p
  for p in $acme $mgmt $dns $dns_mgmt $http $tlsalpn $https $admin; do
    port_busy "$p" && { skip "start from the store: port 127.0.0.1:$p is in use"; return 0; }
  done
  # The store and the generated certificates on tmpfs when it has room (as for many_certs).
  if [ -w /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR == 2 {print $4}')" -gt $((MANY_CERTS * 12 + 512 * 1024)) ]; then
    STORE_DIR=$(mktemp -d /dev/shm/portcullis-bench-store.XXXXXX); d=$STORE_DIR
  else
    d=$TMP/store
  fi
  mkdir -p "$out" "$d/gen" "$d/data" "$d/pebble"
  if ! cc -O2 -o "$d/certgen" "$HERE/tools/certgen.c" -lcrypto 2>"$out/certgen-build.txt"; then
    skip "start from the store: bench/tools/certgen.c did not compile (libssl-dev missing?)"; return 0
  fi
  build_hs_probe || { skip "start from the store: bench/tools/hs_probe.c did not compile (libssl-dev missing?)"; return 0; }
  log "generating $MANY_CERTS certificates for the store"
  timeout 600 "$d/certgen" --store "$d/gen" "$MANY_CERTS" store.example.test 90 2>"$out/certgen.txt" \
    || { skip "start from the store: certificate generation failed"; return 0; }
  start_pebble "$d/pebble" "$out" "$acme" "$mgmt" "$dns" "$dns_mgmt" "$http" "$tlsalpn" \
    || { skip "start from the store: Pebble did not start (logs/store/pebble.log)"; return 0; }
  local pebble_pids=$PEBBLE_PIDS conf=$d/store.toml log=$out/portcullis.log
  {
    echo "[server]"; echo "data_dir = \"$d/data\""; echo "workers = 1"; echo "log_level = \"info\""
    echo; echo "[[listener]]"; echo "name = \"https\""; echo "address = \"127.0.0.1:$https\""; echo "protocol = \"https\""
    echo; echo "[[listener]]"; echo "name = \"http\""; echo "address = \"127.0.0.1:$http\""; echo "protocol = \"http\""
    echo; echo "[acme]"; echo "directory = \"https://127.0.0.1:$acme/dir\""; echo "ca_bundle = \"$d/pebble/ca.pem\""
    echo; echo "[admin]"; echo "listen = \"127.0.0.1:$admin\""
  } >"$conf"
  cp "$conf" "$out/store.toml"
  # A first start on the empty data_dir creates the store at this build's schema version (and the
  # admin token); the rows go in with Portcullis stopped.
  spawn "$out/portcullis-first.log" taskset -c "$PROXY_CPU" "$PORTCULLIS_BIN" run --config "$conf"
  local pid=$LAST_PID deadline=$((SECONDS + STARTUP_DEADLINE))
  until curl -sf --max-time 1 -o /dev/null "http://127.0.0.1:$admin/healthz"; do
    if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$pid" 2>/dev/null; then
      skip "start from the store: portcullis did not start on an empty data_dir (logs/store/portcullis-first.log)"
      stop_pids "$pid" $pebble_pids; forget_pids "$pid" $pebble_pids; return 0
    fi
    sleep 0.1
  done
  stop_pids "$pid"; forget_pids "$pid"
  local t0 filled
  t0=$(date +%s.%N)
  local facts=()
  [ "$STORE_FACTS" = 1 ] || facts=(--without-facts)
  if ! filled=$(python3 "$HERE/tools/store_fill.py" --db "$d/data/portcullis.db" --certs "$d/gen" \
                  --upstream "127.0.0.1:$PORT_UPSTREAM" "${facts[@]}" 2>"$out/store_fill.txt"); then
    skip "start from the store: $(tail -1 "$out/store_fill.txt")"
    stop_pids $pebble_pids; forget_pids $pebble_pids; return 0
  fi
  log "store filled: $filled endpoints with their certificates in $(awk -v a="$t0" -v b="$(date +%s.%N)" \
    'BEGIN {printf "%.1f", b - a}') s ($(du -m "$d/data/portcullis.db" | cut -f1) MiB)"

  t0=$(date +%s.%N)
  spawn "$log" taskset -c "$PROXY_CPU" "$PORTCULLIS_BIN" run --config "$conf"
  pid=$LAST_PID
  local all="$pid $pebble_pids" load
  load=$(taskset -c "$LOAD_CPU" python3 "$HERE/tools/tls_probe.py" ready --port "$https" --names "$d/gen/names.txt" \
           --since "$t0" --deadline "$MANY_START_DEADLINE" 2>>"$out/probe.err") || load=""
  if [ -z "$load" ]; then
    skip "start from the store: no handshake served a stored certificate within ${MANY_START_DEADLINE} s (logs/store/portcullis.log)"
    stop_pids $all; forget_pids $all; return 0
  fi
  emit "$r" portcullis store_certs "$filled"
  emit "$r" portcullis store_load_s "$load"
  # The background verification of every stored certificate, then the RSS with all of them parsed.
  local line=""
  deadline=$((SECONDS + MANY_START_DEADLINE))
  until line=$(grep -m1 "certificates verified count=" "$log"); do
    [ "$SECONDS" -lt "$deadline" ] && kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -n "$line" ]; then
    emit "$r" portcullis store_verified_s \
      "$(sed -n 's/.* duration_ms=\([0-9]*\).*/\1/p' <<<"$line" | awk '{printf "%.2f", $1 / 1000}')"
    emit "$r" portcullis store_verify_failed "$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<<"$line")"
  else
    log "portcullis: no \"certificates verified\" line within ${MANY_START_DEADLINE} s"
  fi
  emit "$r" portcullis store_rss_mib "$(( $(rss_kib "$pid") / 1024 ))"
  # The C client's latency with random stored names and nothing else happening: its longest
  # handshake (store_hs_max_ms) is the floor under the stall figures below.
  taskset -c "$LOAD_CPU" "$HS_PROBE" --port "$https" --names "$d/gen/names.txt" \
    --count 2000 --duration 60 >"$out/latency.json" 2>>"$out/probe.err" || true
  python3 - "$out/latency.json" "$RESULTS_DIR/raw.csv" "$r" <<'PY'
import json, sys
path, raw, r = sys.argv[1:]
try:
    m = json.load(open(path))
except Exception:
    sys.exit(0)
with open(raw, "a") as f:
    for k, v in (("store_hs_p50_ms", m["p50_ms"]), ("store_hs_p99_ms", m["p99_ms"]), ("store_hs_max_ms", m["max_ms"]),
                 ("store_hs_max_less_wait_ms", m["max_less_wait_ms"]), ("store_sni_wrong", m["wrong_cert"])):
        f.write(f"{r},portcullis,{k},{v}\n")
PY
  # One issued certificate published, STORE_PUBLISHES times: an endpoint created through the admin
  # API and ordered from Pebble; the probe handshakes for its name every 5 ms until it is served,
  # and the C client (tools/hs_probe.c) handshakes back to back with random stored names
  # throughout, logging every handshake.
  local i name publish=() served=() requested=() worst=() worst_less=() created=() times ok
  for i in $(seq 1 "$STORE_PUBLISHES"); do
    name="n$i.publish.example.test"
    if ! during_start "$out/during-$i.txt" "$https" "$d/gen/names.txt" $((STORE_PUBLISH_DEADLINE + 10)); then
      log "portcullis: endpoint pub-$i: the background client made no handshake"; continue
    fi
    ok=1
    taskset -c "$LOAD_CPU" python3 "$HERE/tools/tls_probe.py" publish --port "$https" --sni "$name" --expect-name \
      --post "http://127.0.0.1:$admin/api/v1/endpoints" --token-file "$d/data/admin-token" \
      --body "{\"id\": \"pub-$i\", \"hostnames\": [\"$name\"], \"upstreams\": [\"127.0.0.1:$PORT_UPSTREAM\"]}" \
      --deadline "$STORE_PUBLISH_DEADLINE" --interval 0.005 \
      --served-at "$out/served-$i.txt" >"$out/publish-$i.txt" 2>>"$out/probe.err" || ok=0
    sleep 0.5  # handshakes right after the publish count too
    during_stop
    if [ "$ok" = 0 ]; then
      log "portcullis: endpoint pub-$i: its certificate was not served within ${STORE_PUBLISH_DEADLINE} s"; continue
    fi
    requested+=("$(head -1 "$out/publish-$i.txt")")
    # The longest background handshake that ended after the request (served less the request's ms).
    created+=("$(longest_after "$out/during-$i.txt" "$(awk -v s="$(cat "$out/served-$i.txt")" \
                   -v t="${requested[-1]}" 'BEGIN {printf "%.6f", s - t / 1000}')" | cut -d' ' -f1)")
    # From the log: publish_ms of "certificate issued"; from the issuer's "issued" line (the
    # certificate stored, the publish next) to the first handshake served it; and the longest
    # background handshake that ended after "issuance started" (the issuance and the publish).
    times=$(python3 - "$log" "pub-$i" "$out/served-$i.txt" "$out/during-$i.txt" <<'PY'
import datetime, re, sys
log, endpoint, served_file, during_file = sys.argv[1:]
def at(line):
    t = datetime.datetime.strptime(line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()
started = issued = publish = None
for line in open(log, errors="replace"):
    if f" acme: issuance started endpoint={endpoint} " in line and started is None:
        started = at(line)
    elif f" acme: issued endpoint={endpoint} " in line and issued is None:
        issued = at(line)
    elif f" acme: certificate issued endpoint={endpoint} " in line and publish is None:
        m = re.search(r" publish_ms=([0-9.]+)", line)
        publish = m.group(1) if m else None
if started is None or issued is None or publish is None:
    sys.exit(1)
served = float(open(served_file).read())
during = [tuple(map(float, l.split())) for l in open(during_file) if l.strip()]
after = [(ms, max(wait, 0.0)) for began, ms, covers, wait in during if began + ms / 1000 >= started]
worst = max((ms for ms, wait in after), default=0.0)
worst_less = max((ms - wait for ms, wait in after), default=0.0)
print(publish, f"{(served - issued) * 1000:.1f}", f"{worst:.2f}", f"{worst_less:.2f}")
PY
    ) || { log "portcullis: endpoint pub-$i: no issuance lines in the log"; continue; }
    read -r t_publish t_served t_worst t_worst_less <<<"$times"
    publish+=("$t_publish"); served+=("$t_served"); worst+=("$t_worst"); worst_less+=("$t_worst_less")
    log "portcullis: pub-$i served $t_served ms after \"issued\" (publish step $t_publish ms); longest handshake during the issuance and publish $t_worst ms ($t_worst_less ms less the client's own wait for a CPU), during the creation ${created[-1]} ms"
  done
  stop_pids $all; forget_pids $all
  emit "$r" portcullis store_published "${#requested[@]}"
  emit_median_worst "$r" store_publish_ms "${served[@]}"
  emit_median_worst "$r" store_publish_step_ms "${publish[@]}"
  emit_median_worst "$r" store_publish_request_ms "${requested[@]}"
  emit_median_worst "$r" store_publish_hs_max_ms "${worst[@]}"
  emit_median_worst "$r" store_publish_hs_max_less_wait_ms "${worst_less[@]}"
  emit_median_worst "$r" store_create_hs_max_ms "${created[@]}"
  [ ${#requested[@]} -gt 0 ] || skip "start from the store: no new endpoint's certificate was served (logs/store)"
  log "portcullis: start from the store ${load} s with $filled certificates; ${#requested[@]}/$STORE_PUBLISHES published"
}

# emit_median_worst ROUND KEY VALUE...: KEY = the median, KEY_worst = the largest; nothing without values.
emit_median_worst() {
  local r=$1 key=$2; shift 2
  [ $# -gt 0 ] || return 0
  emit "$r" portcullis "$key" "$(printf '%s\n' "$@" | median)"
  emit "$r" portcullis "${key}_worst" "$(printf '%s\n' "$@" | sort -g | tail -1)"
}

# Renewal storm: STORM_ENDPOINTS managed endpoints (names sNNNN.storm.example.test), all due at
# once, ordered from a local Pebble (HTTP-01 on the plain listener; pebble-challtestsrv resolves
# every name to 127.0.0.1). Reported: certificates issued, seconds until the last was published,
# and the control loop's lag while it happened (p50/p99/max from Portcullis's own probe, which
# logs a summary at drain).
portcullis_renew_storm() {
  local r=$1 out=$RESULTS_DIR/logs/storm d=$TMP/storm
  if ! command -v pebble >/dev/null || ! command -v pebble-challtestsrv >/dev/null; then
    skip "renewal storm: pebble is not installed (Debian package pebble)"; return 0
  fi
  mkdir -p "$out" "$d/data"
  local acme=$((BASE_PORT + 5)) mgmt=$((BASE_PORT + 6)) dns=$((BASE_PORT + 7)) dns_mgmt=$((BASE_PORT + 8))
  local http=$((BASE_PORT + 9)) tlsalpn=$((BASE_PORT + 10)) https=$((BASE_PORT + 11)) p
  for p in $acme $mgmt $dns $dns_mgmt $http $tlsalpn $https; do
    port_busy "$p" && { skip "renewal storm: port 127.0.0.1:$p is in use"; return 0; }
  done
  start_pebble "$d" "$out" "$acme" "$mgmt" "$dns" "$dns_mgmt" "$http" "$tlsalpn" \
    || { skip "renewal storm: Pebble did not start (logs/storm/pebble.log)"; return 0; }
  local pebble_pids=$PEBBLE_PIDS deadline
  {
    echo "[server]"; echo "data_dir = \"$d/data\""; echo "workers = 1"; echo "log_level = \"info\""
    echo; echo "[[listener]]"; echo "name = \"https\""; echo "address = \"127.0.0.1:$https\""; echo "protocol = \"https\""
    echo; echo "[[listener]]"; echo "name = \"http\""; echo "address = \"127.0.0.1:$http\""; echo "protocol = \"http\""
    echo; echo "[acme]"; echo "directory = \"https://127.0.0.1:$acme/dir\""; echo "ca_bundle = \"$d/ca.pem\""
    local i
    for i in $(seq 1 "$STORM_ENDPOINTS"); do
      printf '\n[[endpoint]]\nid = "s%04d"\nhostnames = ["s%04d.storm.example.test"]\nupstreams = ["127.0.0.1:%s"]\n' \
        "$i" "$i" "$PORT_UPSTREAM"
    done
  } >"$d/storm.toml"
  local log=$out/portcullis.log t0
  t0=$(date +%s.%N)
  spawn "$log" taskset -c "$PROXY_CPU" "$PORTCULLIS_BIN" run --config "$d/storm.toml"
  local pid=$LAST_PID issued=0 failed=0
  deadline=$((SECONDS + STORM_DEADLINE))
  while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$pid" 2>/dev/null; do
    issued=$(grep -c "certificate issued" "$log" || true)
    [ "$issued" -ge "$STORM_ENDPOINTS" ] && break
    sleep 0.5
  done
  local took
  took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  failed=$(grep -c "issuance failed" "$log" || true)
  stop_pids "$pid"; forget_pids "$pid"
  stop_pids $pebble_pids; forget_pids $pebble_pids
  emit "$r" portcullis storm_endpoints "$STORM_ENDPOINTS"
  emit "$r" portcullis storm_issued "$issued"
  emit "$r" portcullis storm_failed_attempts "$failed"
  emit "$r" portcullis storm_all_issued_s "$took"
  # "control loop lag p99=1.2ms max=3.4ms p50=0.1ms samples=N" at drain.
  local lag
  lag=$(grep -o 'control loop lag p99=.*' "$log" | tail -1)
  if [ -n "$lag" ]; then
    local k
    for k in p50 p99 max; do
      emit "$r" portcullis "storm_lag_${k}_ms" "$(sed -n "s/.* $k=\([0-9.]*\)ms.*/\1/p" <<<" $lag")"
    done
  else
    skip "renewal storm: no control loop lag summary in the log"
  fi
  log "portcullis: renewal storm $issued/$STORM_ENDPOINTS issued in ${took}s; ${lag:-no lag summary}"
}

# DNS-01 issuance: the time from "endpoint created" (the SIGHUP of the reload that adds it) to a
# TLS client being served its certificate, DNS01_ISSUANCES times, through the whole chain a CA
# uses: Pebble resolves through Unbound, which asks Knot for the customer's zone (example.test,
# holding `_acme-challenge.<name> CNAME acme.<id>.edge.bench.test.`) and Portcullis's own DNS for
# the platform zone. Unbound runs with its default caching (and without its built-in empty zone for
# the special-use name test., RFC 6761). A first endpoint (the seed) creates the
# ACME account before the clock runs. Knot, Unbound and Pebble on LOAD_CPU, Portcullis on PROXY_CPU;
# ports BASE_PORT+12..+19. Also recorded: the issuance alone as Portcullis logs it (`elapsed_ms`) and
# how long a published value took to show through the resolver (`after_ms`).
portcullis_dns01() {
  local r=$1 out=$RESULTS_DIR/logs/dns01 d=$TMP/dns01 tool
  for tool in pebble knotd kdig unbound; do
    command -v "$tool" >/dev/null || { skip "dns-01 issuance: $tool is not installed (Debian packages pebble, knot, knot-dnsutils, unbound)"; return 0; }
  done
  mkdir -p "$out" "$d/data" "$d/knot"
  local knot=$((BASE_PORT + 12)) resolver=$((BASE_PORT + 13)) pdns=$((BASE_PORT + 14)) acme=$((BASE_PORT + 15))
  local mgmt=$((BASE_PORT + 16)) http=$((BASE_PORT + 17)) tlsalpn=$((BASE_PORT + 18)) https=$((BASE_PORT + 19)) p
  for p in $knot $resolver $pdns $acme $mgmt $http $tlsalpn $https; do
    port_busy "$p" && { skip "dns-01 issuance: port 127.0.0.1:$p is in use"; return 0; }
  done
  local zone=edge.bench.test customer=example.test i
  {
    printf '$ORIGIN %s.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 1209600 300\n@ NS ns1\nns1 A 127.0.0.1\n' "$customer"
    for i in seed $(seq 1 "$DNS01_ISSUANCES"); do
      printf '_acme-challenge.d%s CNAME acme.d%s.%s.\n' "$i" "$i" "$zone"
    done
  } >"$d/knot/$customer.zone"
  printf '%s\n' "server:" "  rundir: \"$d/knot\"" "  listen: 127.0.0.1@$knot" \
    "database:" "  storage: \"$d/knot\"" "template:" "  - id: default" "    storage: \"$d/knot\"" \
    "zone:" "  - domain: $customer" "    file: \"$customer.zone\"" \
    "log:" "  - target: stderr" "    any: warning" >"$d/knot/knot.conf"
  printf '%s\n' "server:" "    interface: 127.0.0.1@$resolver" "    port: $resolver" "    chroot: \"\"" \
    "    username: \"\"" "    directory: \"$d\"" "    pidfile: \"$d/unbound.pid\"" "    use-syslog: no" \
    "    logfile: \"\"" "    do-daemonize: no" "    do-ip6: no" "    num-threads: 1" \
    "    module-config: \"iterator\"" "    do-not-query-localhost: no" "    access-control: 127.0.0.0/8 allow" \
    "    local-zone: \"test.\" nodefault" \
    "stub-zone:" "    name: \"$customer\"" "    stub-addr: 127.0.0.1@$knot" \
    "stub-zone:" "    name: \"$zone\"" "    stub-addr: 127.0.0.1@$pdns" >"$d/unbound.conf"
  spawn "$out/knot.log" taskset -c "$LOAD_CPU" knotd -c "$d/knot/knot.conf"
  local knot_pid=$LAST_PID
  spawn "$out/unbound.log" taskset -c "$LOAD_CPU" unbound -d -c "$d/unbound.conf"
  local unbound_pid=$LAST_PID
  local deadline=$((SECONDS + STARTUP_DEADLINE))
  until kdig @127.0.0.1 -p "$resolver" +time=1 +retry=0 "_acme-challenge.dseed.$customer" CNAME 2>/dev/null \
          | grep -q "acme.dseed.$zone"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      skip "dns-01 issuance: Knot behind Unbound did not answer (logs/dns01/knot.log, unbound.log)"
      stop_pids "$knot_pid" "$unbound_pid"; forget_pids "$knot_pid" "$unbound_pid"; return 0
    fi
    sleep 0.1
  done
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=bench Pebble TLS CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$d/tls.key" -out "$d/tls.csr" 2>/dev/null
  openssl x509 -req -in "$d/tls.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1\n') -out "$d/tls.pem" 2>/dev/null
  printf '%s\n' "{\"pebble\": {\"listenAddress\": \"127.0.0.1:$acme\", \"managementListenAddress\": \"127.0.0.1:$mgmt\"," \
    "  \"certificate\": \"$d/tls.pem\", \"privateKey\": \"$d/tls.key\", \"httpPort\": $http, \"tlsPort\": $tlsalpn," \
    "  \"ocspResponderURL\": \"\", \"externalAccountBindingRequired\": false}}" >"$d/pebble.json"
  PEBBLE_VA_NOSLEEP=1 spawn "$out/pebble.log" taskset -c "$LOAD_CPU" pebble -config "$d/pebble.json" \
    -dnsserver "127.0.0.1:$resolver"
  local pebble=$LAST_PID
  deadline=$((SECONDS + STARTUP_DEADLINE))
  until curl -sf --max-time 2 --cacert "$d/ca.pem" "https://127.0.0.1:$acme/dir" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$pebble" 2>/dev/null; then
      skip "dns-01 issuance: Pebble did not start ($(tail -1 "$out/pebble.log"))"
      stop_pids "$pebble" "$knot_pid" "$unbound_pid"; forget_pids "$pebble" "$knot_pid" "$unbound_pid"; return 0
    fi
    sleep 0.1
  done
  local conf=$d/dns01.toml
  {
    echo "[server]"; echo "data_dir = \"$d/data\""; echo "workers = 1"; echo "log_level = \"info\""
    echo; echo "[[listener]]"; echo "name = \"https\""; echo "address = \"127.0.0.1:$https\""; echo "protocol = \"https\""
    echo; echo "[[listener]]"; echo "name = \"http\""; echo "address = \"127.0.0.1:$http\""; echo "protocol = \"http\""
    echo; echo "[acme]"; echo "directory = \"https://127.0.0.1:$acme/dir\""; echo "ca_bundle = \"$d/ca.pem\""
    echo; echo "[dns]"; echo "zone = \"$zone\""; echo "listen = [\"127.0.0.1:$pdns\"]"
    echo "resolver = \"127.0.0.1:$resolver\""
    printf '\n[[endpoint]]\nid = "dseed"\nhostnames = ["dseed.%s"]\nupstreams = ["127.0.0.1:%s"]\n' "$customer" "$PORT_UPSTREAM"
  } >"$conf"
  local log=$out/portcullis.log
  spawn "$log" taskset -c "$PROXY_CPU" "$PORTCULLIS_BIN" run --config "$conf"
  local pid=$LAST_PID all="$LAST_PID $pebble $knot_pid $unbound_pid"
  deadline=$((SECONDS + STARTUP_DEADLINE + 30))
  until grep -q "certificate issued endpoint=dseed " "$log"; do
    if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$pid" 2>/dev/null; then
      skip "dns-01 issuance: the first certificate was not issued ($(grep -m1 -E 'issuance (failed|waiting)' "$log" | cut -c1-200))"
      stop_pids $all; forget_pids $all; return 0
    fi
    sleep 0.1
  done
  local served=() t line
  for i in $(seq 1 "$DNS01_ISSUANCES"); do
    cp "$conf" "$conf.tmp"
    printf '\n[[endpoint]]\nid = "d%s"\nhostnames = ["d%s.%s"]\nupstreams = ["127.0.0.1:%s"]\n' "$i" "$i" "$customer" \
      "$PORT_UPSTREAM" >>"$conf.tmp"
    mv "$conf.tmp" "$conf"
    # The probe sends the SIGHUP, then handshakes every 5 ms until the new name's certificate is served.
    t=$(taskset -c "$LOAD_CPU" python3 "$HERE/tools/tls_probe.py" publish --port "$https" --sni "d$i.$customer" \
          --expect-name --signal-pid "$pid" --deadline 30 --interval 0.005 2>>"$out/probe.err") || t=""
    if [ -z "$t" ]; then
      log "portcullis: dns-01 issuance $i: not served within 30 s"; continue
    fi
    served+=("$t")
    emit "$r" portcullis dns01_served_ms "$t"
    line=$(grep "certificate issued endpoint=d$i " "$log" | tail -1)
    [ -z "$line" ] || emit "$r" portcullis dns01_issuance_ms "$(sed -n 's/.* elapsed_ms=\([0-9]*\).*/\1/p' <<<"$line")"
    line=$(grep "dns-01 value visible name=_acme-challenge.d$i.$customer " "$log" | tail -1)
    [ -z "$line" ] || emit "$r" portcullis dns01_visible_ms "$(sed -n 's/.* after_ms=\([0-9]*\).*/\1/p' <<<"$line")"
  done
  stop_pids $all; forget_pids $all
  emit "$r" portcullis dns01_issued "${#served[@]}"
  [ ${#served[@]} -gt 0 ] || { skip "dns-01 issuance: no certificate served (logs/dns01)"; return 0; }
  log "portcullis: dns-01 issuance, reload -> served: median $(printf '%s\n' "${served[@]}" | median) ms over ${#served[@]}"
}

# DNS queries per second: bench/dns.sh (dnsperf against the built-in server and Knot DNS serving
# the same platform zone, each pinned to PROXY_CPU in turn, in the same run), DNS_ROUNDS rounds,
# its rows appended to raw.csv.
portcullis_dns_qps() {
  if ! command -v dnsperf >/dev/null || ! command -v knotd >/dev/null; then
    skip "dns queries per second: dnsperf or knotd is not installed (Debian packages dnsperf, knot)"; return 0
  fi
  local port=$((BASE_PORT + 20))
  port_busy "$port" && { skip "dns queries per second: port 127.0.0.1:$port is in use"; return 0; }
  DNS_RAW="$RESULTS_DIR/raw.csv" DNS_PORT=$port DNS_ROUNDS=$DNS_ROUNDS PORTCULLIS_BIN=$PORTCULLIS_BIN \
    PROXY_CPU=$PROXY_CPU LOAD_CPU=$LOAD_CPU bash "$HERE/dns.sh" >"$RESULTS_DIR/logs/dns-qps.txt" 2>&1 \
    || { skip "dns queries per second: bench/dns.sh failed ($(tail -1 "$RESULTS_DIR/logs/dns-qps.txt"))"; return 0; }
  sed 's/^/    /' "$RESULTS_DIR/logs/dns-qps.txt" >&2
}

# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
main() {
  install_packages
  raise_priority
  [ "$(nproc)" -ge 2 ] || log "warning: $(nproc) CPU; proxy and load generator share it"
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  [ "$(ulimit -n)" -ge $((MEM_CONNS + 1024)) ] || die "open-file limit $(ulimit -n) is below $((MEM_CONNS + 1024)); lower MEM_CONNS"

  for p in $PORT_UPSTREAM $PORT_NGINX $PORT_HAPROXY $PORT_CADDY $PORT_PORTCULLIS; do
    port_busy "$p" && die "port 127.0.0.1:$p is in use; set BASE_PORT to a free range"
  done

  TMP=$(mktemp -d /tmp/portcullis-bench.XXXXXX)
  chmod 755 "$TMP"  # nginx workers run as another user and read nothing here but need traversal
  mkdir -p "$RESULTS_DIR/logs"
  echo "round,proxy,measure,value" >"$RESULTS_DIR/raw.csv"
  generate_certs
  detect_hosts_mode

  # Which proxies can run. Portcullis: "n/a" unless the binary exists and accepts the config.
  local active=() name failures=0
  write_portcullis_conf "$TMP/portcullis/bench.toml" "$TMP/certs/ecdsa.crt" "$TMP/certs/ecdsa.key"
  PORTCULLIS_CONF=$TMP/portcullis/bench.toml
  cp "$PORTCULLIS_CONF" "$RESULTS_DIR/portcullis.toml"
  for name in $PROXIES; do
    case "$name" in
      portcullis)
        if [ ! -x "$PORTCULLIS_BIN" ]; then
          log "portcullis: n/a ($PORTCULLIS_BIN not built)"; echo "skipped=portcullis not built ($PORTCULLIS_BIN)" >>"$RESULTS_DIR/meta.txt"; continue
        fi
        if ! "$PORTCULLIS_BIN" check-config "$PORTCULLIS_CONF" >"$RESULTS_DIR/logs/portcullis-check.txt" 2>&1; then
          log "portcullis: n/a (check-config rejected the bench config: $(head -1 "$RESULTS_DIR/logs/portcullis-check.txt"))"
          echo "skipped=portcullis check-config failed" >>"$RESULTS_DIR/meta.txt"
          PORTCULLIS_FAILED=1; failures=$((failures + 1)); continue
        fi ;;
      nginx|haproxy|caddy) ;;
      *) die "unknown proxy in PROXIES: $name" ;;
    esac
    active+=("$name")
  done
  [ ${#active[@]} -gt 0 ] || die "nothing to measure (PROXIES=\"$PROXIES\")"
  write_upstream_conf; write_nginx_conf; write_haproxy_conf; write_caddy_conf

  {
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host=$(uname -srm), $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "openssl=$(openssl version)"
    echo "version.nginx=$(nginx -v 2>&1 | sed 's#.*/##')"
    echo "version.haproxy=$(haproxy -v | awk 'NR == 1 {print $3}' | cut -d- -f1)"
    echo "version.caddy=$(caddy version | awk '{print $1}' | sed 's/^v//')"
    [ -x "$PORTCULLIS_BIN" ] && echo "version.portcullis=$("$PORTCULLIS_BIN" version 2>/dev/null | awk '{print $2}')"
    echo "wrk=$(wrk -v 2>&1 | awk 'NR == 1 {print $2}')"
    echo "h2load=$(h2load --version | awk '{print $2}')"
    echo "load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "nice=$(ps -o ni= -p $$ | tr -d ' ') autogroup=$(cat /proc/$$/autogroup 2>/dev/null)"
    echo "rounds=$ROUNDS duration=${DURATION}s hs_duration=${HS_DURATION}s hs_conns=$HS_CONNS mem_conns=$MEM_CONNS"
    echo "pinning=proxy CPU $PROXY_CPU, load generator + upstream CPU $LOAD_CPU"
    echo "sni_mode=$HOSTS_MODE"
  } >>"$RESULTS_DIR/meta.txt"

  local per_proxy=$((4 + DURATION + 2 * HS_DURATION + MEM_CONNS / 1000 + 2))
  local estimate=$((ROUNDS * ${#active[@]} * per_proxy))
  if [ "$EXTRAS" = 1 ] && [[ " ${active[*]} " == *" portcullis "* ]]; then
    local m
    for m in $EXTRA_MEASURES; do
      case "$m" in
        hot_swap) estimate=$((estimate + 2 * DURATION)) ;;
        many_certs|storm) estimate=$((estimate + 75)) ;;
        store_start) estimate=$((estimate + MANY_CERTS / 1000 + 15 + 3 * STORE_PUBLISHES)) ;;
        dns01) estimate=$((estimate + 30)) ;;
        dns_qps) estimate=$((estimate + DNS_ROUNDS * 2 * ${DNS_SECONDS:-10})) ;;
      esac
    done
  fi
  log "proxies: ${active[*]:-none}; $ROUNDS round(s); expected duration ~$((estimate / 60)) min $((estimate % 60)) s"
  log "results: $RESULTS_DIR"

  spawn "$TMP/upstream/stdout.log" taskset -c "$LOAD_CPU" nginx -c "$TMP/upstream/nginx.conf" -p "$TMP/upstream"
  local upstream=$LAST_PID
  local deadline=$((SECONDS + STARTUP_DEADLINE))
  until curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$PORT_UPSTREAM/"; do
    kill -0 "$upstream" 2>/dev/null || die "upstream nginx did not start: $(tail -3 "$TMP/upstream/error.log" 2>/dev/null)"
    [ "$SECONDS" -lt "$deadline" ] || die "upstream nginx not answering on 127.0.0.1:$PORT_UPSTREAM"
    sleep 0.1
  done
  for k in $(children_of "$upstream"); do OWNED+=("$k"); done

  local round order
  for round in $(seq 1 "$ROUNDS"); do
    # Rotate the order every round so no proxy always runs first (thermal, page cache, neighbours).
    order=("${active[@]:$(( (round - 1) % ${#active[@]} ))}" "${active[@]:0:$(( (round - 1) % ${#active[@]} ))}")
    log "round $round/$ROUNDS: ${order[*]}"
    for name in "${order[@]}"; do
      PORTCULLIS_CONF=$TMP/portcullis/bench.toml
      if ! start_proxy "$name" "$RESULTS_DIR/logs/r$round-$name.log"; then
        failures=$((failures + 1)); [ "$name" = portcullis ] && PORTCULLIS_FAILED=1; continue
      fi
      # Memory first, on a fresh process; then throughput and handshakes.
      measure_idle_memory "$round" "$name" "$PROXY_PORT" || failures=$((failures + 1))
      measure_keepalive "$round" "$name" "$PROXY_PORT" || failures=$((failures + 1))
      measure_handshakes "$round" "$name" "$PROXY_PORT" "$SNI_ECDSA" hs_ecdsa || failures=$((failures + 1))
      measure_handshakes "$round" "$name" "$PROXY_PORT" "$SNI_RSA" hs_rsa || failures=$((failures + 1))
      stop_proxy
    done
  done

  if [ "$EXTRAS" = 1 ] && [[ " ${active[*]} " == *" portcullis "* ]] && [ "${PORTCULLIS_FAILED:-0}" = 0 ]; then
    log "Portcullis-only measures"
    local extra
    for extra in $EXTRA_MEASURES; do
      case "$extra" in
        hot_swap) portcullis_hot_swap 1 ;;
        many_certs) portcullis_many_certs 1 ;;
        store_start) portcullis_store_start 1 ;;
        storm) portcullis_renew_storm 1 ;;
        dns01) portcullis_dns01 1 ;;
        dns_qps) portcullis_dns_qps 1 ;;
        *) die "unknown measure in EXTRA_MEASURES: $extra" ;;
      esac
    done
  fi

  echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS_DIR/meta.txt"
  echo "elapsed=${SECONDS}s" >>"$RESULTS_DIR/meta.txt"
  python3 "$HERE/tools/report.py" "$RESULTS_DIR"
  cat "$RESULTS_DIR/meta.txt" | grep -v '^version\.' | sed 's/^/  /'
  log "results: $RESULTS_DIR/table.md, summary.csv, raw.csv"
  if [ "$failures" -gt 0 ]; then
    log "$failures measure(s) failed (see $RESULTS_DIR/logs)"
    [ "$SMOKE" = 1 ] && return 1
  fi
  return 0
}

main
