#!/usr/bin/env python3
"""Small TLS probes for the Portcullis-only measures. Every handshake is a new connection to
127.0.0.1 without resumption; every loop is bounded by a count and a deadline.

  tls_probe.py latency --port P (--sni NAME | --names FILE) [--count N] [--deadline S]
      N handshakes (random SNI from FILE if given); prints JSON with p50/p99/max handshake time
      and how many served a certificate that does not contain the SNI name.
  tls_probe.py ready --port P --names FILE --since EPOCH [--deadline S] [--interval S]
      Handshakes with one random name of FILE until the served certificate names it; prints the
      seconds from EPOCH (a time.time() value, e.g. when the harness started the process).
  tls_probe.py publish --port P --sni NAME (--expect CERT.pem | --expect-name)
                       (--signal-pid PID | --rename SRC:DST | --post URL --body JSON --token-file F)
                       [--deadline S] [--interval S] [--during-names FILE] [--served-at FILE]
      Sends SIGHUP to PID (a process the harness started), renames SRC to DST (a new file into
      a watched certificate folder), or POSTs the JSON body to the loopback admin API URL with the
      bearer token read from F (it must answer 201), then handshakes until the served certificate
      is CERT.pem (with --expect-name: until it is one that names the SNI, such as a certificate the
      reload or the new endpoint had ordered); prints the elapsed milliseconds since the signal,
      rename or request. With --during-names, a second thread keeps handshaking with random names
      meanwhile and the longest one (ms) is printed on a second line: a stall during the swap shows
      there. --served-at writes the time.time() of the first handshake served the certificate;
      --during-log writes one line per background handshake: its start (time.time()) and its ms.
"""
import argparse
import http.client
import json
import os
import random
import signal
import socket
import ssl
import sys
import threading
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


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def cmd_latency(args):
    ctx = context()
    names = [args.sni] if args.sni else [l.strip() for l in open(args.names) if l.strip()]
    times, wrong, failed = [], 0, 0
    end = time.monotonic() + args.deadline
    for _ in range(args.count):
        if time.monotonic() > end:
            break
        name = random.choice(names)
        try:
            t, der = handshake(ctx, args.port, name)
        except (OSError, ssl.SSLError):
            failed += 1
            continue
        times.append(t * 1000)
        if name.encode() not in der:
            wrong += 1
    print(json.dumps({"count": len(times), "failed": failed, "wrong_cert": wrong,
                      "p50_ms": round(percentile(times, 0.5), 3), "p99_ms": round(percentile(times, 0.99), 3),
                      "max_ms": round(max(times, default=0.0), 3)}))
    return 0 if times else 1


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

    stop = threading.Event()
    worst = [0.0]

    samples = []  # (time.time() at the start, milliseconds) of each background handshake

    def background():
        names = [l.strip() for l in open(args.during_names) if l.strip()]
        while not stop.is_set():
            began = time.time()
            try:
                t, _ = handshake(ctx, args.port, random.choice(names))
                ms = t * 1000
            except (OSError, ssl.SSLError):
                ms = CONNECT_TIMEOUT * 1000
            worst[0] = max(worst[0], ms)
            samples.append((began, ms))

    thread = None
    if args.during_names:
        thread = threading.Thread(target=background, daemon=True)
        thread.start()
        time.sleep(0.2)
    t0 = time.perf_counter()
    if args.rename:
        src, dst = args.rename.split(":", 1)
        os.rename(src, dst)
    elif args.post:
        try:
            post(args.post, args.body, args.token_file)
        except Exception as e:  # reported, and no figure printed
            print(f"tls_probe: {e}", file=sys.stderr)
            stop.set()
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
    if thread:
        time.sleep(0.5)  # handshakes right after the publish count too
        stop.set()
        thread.join(CONNECT_TIMEOUT + 1)
    if published is None:
        return 1
    if args.served_at:
        with open(args.served_at, "w") as f:
            f.write(f"{served_at:.6f}\n")
    if args.during_log:
        with open(args.during_log, "w") as f:
            f.writelines(f"{began:.6f} {ms:.3f}\n" for began, ms in samples)
    print(f"{published:.2f}")
    if thread:
        print(f"{worst[0]:.2f}")
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    lat = sub.add_parser("latency")
    lat.add_argument("--port", type=int, required=True)
    g = lat.add_mutually_exclusive_group(required=True)
    g.add_argument("--sni")
    g.add_argument("--names")
    lat.add_argument("--count", type=int, default=1000)
    lat.add_argument("--deadline", type=float, default=60.0)
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
    pub.add_argument("--during-log")
    pub.add_argument("--deadline", type=float, default=10.0)
    pub.add_argument("--interval", type=float, default=0.0, help="seconds between handshakes (default: none)")
    pub.add_argument("--during-names")
    ready = sub.add_parser("ready")
    ready.add_argument("--port", type=int, required=True)
    ready.add_argument("--names", required=True)
    ready.add_argument("--since", type=float, required=True)
    ready.add_argument("--deadline", type=float, default=60.0)
    ready.add_argument("--interval", type=float, default=0.01)
    args = p.parse_args()
    if args.cmd == "publish" and args.post and not args.token_file:
        p.error("--post needs --token-file")
    return {"latency": cmd_latency, "ready": cmd_ready, "publish": cmd_publish}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
