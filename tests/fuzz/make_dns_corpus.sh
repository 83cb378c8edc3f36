#!/usr/bin/env bash
# Regenerates tests/fuzz/corpus/dns: real queries as kdig sends them (UDP and TCP framing
# removed), captured by a throw-away listener on 127.0.0.1 that answers nothing.
set -euo pipefail
out="$(cd "$(dirname "$0")" && pwd)/corpus/dns"
mkdir -p "$out"
port=${PORT:-25353}
python3 - "$out" "$port" <<'PY' &
import os, socket, sys
out, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
s.settimeout(5)
n = 0
while True:
    try:
        data, _ = s.recvfrom(65535)
    except socket.timeout:
        break
    if data == b"stop":
        break
    with open(os.path.join(out, f"kdig-{n:03d}"), "wb") as f:
        f.write(data)
    n += 1
PY
listener=$!
q() { kdig @127.0.0.1 -p "$port" +time=1 +retry=0 "$@" >/dev/null 2>&1 || true; }
zone=edge.example.net
for type in SOA NS A AAAA TXT CAA MX ANY HINFO CNAME DS DNSKEY SRV PTR AXFR IXFR TYPE65534; do q "$zone" "$type"; done
for name in elb-1 int-2 acme.elb-1 acme.int-2 ns1 nope x.elb-1 eLb-1 ACME.ELB-1; do q "$name.$zone" A; q "$name.$zone" TXT; done
q example.com A
q . NS
q +noedns elb-1.$zone AAAA
q +bufsize=512 acme.elb-1.$zone TXT
q +bufsize=4096 +dnssec elb-1.$zone A
q +edns=1 $zone SOA
q +nsid $zone SOA
q +cookie $zone SOA
q +padding=128 $zone SOA
q +subnet=192.0.2.0/24 elb-1.$zone A
q +norecurse +cd +ad elb-1.$zone A
q -c CH version.bind TXT
q -c ANY $zone SOA
python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'stop', ('127.0.0.1', $port))"
wait "$listener"
ls "$out" | wc -l
