#!/usr/bin/env python3
"""Small TLS probes for the Portcullis-only measures: waiting for a certificate to be served. Every
handshake is a new connection to 127.0.0.1 without resumption; every loop is bounded by a deadline.
Handshake latency and the background client of the publish measures are tools/hs_probe.c (C), whose
own floor is far below this interpreter's (tens of milliseconds on a loaded machine).

  tls_probe.py ready --port P --names FILE --since EPOCH [--deadline S] [--interval S]
      Handshakes with one random name of FILE until the served certificate names it; prints the
      seconds from EPOCH (a time.time() value, e.g. when the harness started the process).
  tls_probe.py publish --port P --sni NAME (--expect CERT.pem | --expect-name)
                       (--signal-pid PID | --rename SRC:DST | --post URL --body JSON --token-file F)
                       [--deadline S] [--interval S] [--served-at FILE]
      Sends SIGHUP to PID (a process the harness started), renames SRC to DST (a new file into
      a watched certificate folder), or POSTs the JSON body to the loopback admin API URL with the
      bearer token read from F (it must answer 201), then handshakes until the served certificate
      is CERT.pem (with --expect-name: until it is one that names the SNI, such as a certificate the
      reload or the new endpoint had ordered); prints the elapsed milliseconds since the signal,
      rename or request. --served-at writes the time.time() of the first handshake served the
      certificate.
"""
import argparse
import http.client
import os
import random
import signal
import socket
import ssl
import sys
import time
import urllib.parse

LOOPBACK = "127.0.0.1"
CONNECT_TIMEOUT = 5.0


def context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def handshake(ctx, port, sni):
    """Returns (seconds, DER of the served certificate), or raises OSError/ssl.SSLError."""
    t0 = time.perf_counter()
    with socket.create_connection((LOOPBACK, port), timeout=CONNECT_TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as s:
            elapsed = time.perf_counter() - t0
            return elapsed, s.getpeercert(binary_form=True)


def cmd_ready(args):
    ctx = context()
    names = [l.strip() for l in open(args.names) if l.strip()]
    name = random.choice(names)
    end = time.monotonic() + args.deadline
    while time.monotonic() < end:
        try:
            _, der = handshake(ctx, args.port, name)
            if name.encode() in der:
                print(f"{time.time() - args.since:.3f}")
                return 0
        except (OSError, ssl.SSLError):
            pass
        time.sleep(args.interval)
    return 1


def post(url, body, token_file):
    """POST `body` (JSON text) to a loopback http:// URL with the bearer token; raises unless 201."""
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http" or u.hostname != LOOPBACK:
        raise ValueError(f"--post: expected http://{LOOPBACK}:PORT/..., got {url}")
    token = open(token_file).read().strip()
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)  # a create may take a while
    try:
        conn.request("POST", u.path, body=body.encode(),
                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        response = conn.getresponse()
        text = response.read().decode(errors="replace")
    finally:
        conn.close()
    if response.status != 201:
        raise RuntimeError(f"POST {url}: {response.status} {text[:300]}")


def cmd_publish(args):
    ctx = context()
    expected = ssl.PEM_cert_to_DER_cert(open(args.expect).read()) if args.expect else None

    def wanted(der):
        return der == expected if expected is not None else args.sni.encode() in der

    t0 = time.perf_counter()
    if args.rename:
        src, dst = args.rename.split(":", 1)
        os.rename(src, dst)
    elif args.post:
        try:
            post(args.post, args.body, args.token_file)
        except Exception as e:  # reported, and no figure printed
            print(f"tls_probe: {e}", file=sys.stderr)
            return 1
    else:
        os.kill(args.signal_pid, signal.SIGHUP)
    published = None
    while time.perf_counter() - t0 < args.deadline:
        try:
            _, der = handshake(ctx, args.port, args.sni)
        except (OSError, ssl.SSLError):
            der = b""
        if wanted(der):
            published = (time.perf_counter() - t0) * 1000
            served_at = time.time()
            break
        if args.interval:
            time.sleep(args.interval)  # a poll for something slower than a reload: spare the proxy's core
    if published is None:
        return 1
    if args.served_at:
        with open(args.served_at, "w") as f:
            f.write(f"{served_at:.6f}\n")
    print(f"{published:.2f}")
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pub = sub.add_parser("publish")
    pub.add_argument("--port", type=int, required=True)
    pub.add_argument("--sni", required=True)
    what = pub.add_mutually_exclusive_group(required=True)
    what.add_argument("--expect")
    what.add_argument("--expect-name", action="store_true")
    how = pub.add_mutually_exclusive_group(required=True)
    how.add_argument("--signal-pid", type=int)
    how.add_argument("--rename", metavar="SRC:DST")
    how.add_argument("--post", metavar="URL")
    pub.add_argument("--body", default="{}")
    pub.add_argument("--token-file")
    pub.add_argument("--served-at")
    pub.add_argument("--deadline", type=float, default=10.0)
    pub.add_argument("--interval", type=float, default=0.0, help="seconds between handshakes (default: none)")
    ready = sub.add_parser("ready")
    ready.add_argument("--port", type=int, required=True)
    ready.add_argument("--names", required=True)
    ready.add_argument("--since", type=float, required=True)
    ready.add_argument("--deadline", type=float, default=60.0)
    ready.add_argument("--interval", type=float, default=0.01)
    args = p.parse_args()
    if args.cmd == "publish" and args.post and not args.token_file:
        p.error("--post needs --token-file")
    return {"ready": cmd_ready, "publish": cmd_publish}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
