#!/usr/bin/env python3
"""Small TLS probes for the Portcullis-only measures. Every handshake is a new connection to
127.0.0.1 without resumption; every loop is bounded by a count and a deadline.

  tls_probe.py latency --port P (--sni NAME | --names FILE) [--count N] [--deadline S]
      N handshakes (random SNI from FILE if given); prints JSON with p50/p99 handshake time and
      how many served a certificate that does not contain the SNI name.
  tls_probe.py publish --port P --sni NAME (--expect CERT.pem | --expect-name) (--signal-pid PID | --rename SRC:DST)
                       [--deadline S] [--interval S] [--during-names FILE]
      Sends SIGHUP to PID (a process the harness started), or renames SRC to DST (a new file into
      a watched certificate folder), then handshakes until the served certificate is CERT.pem (with
      --expect-name: until it is one that names the SNI, such as a certificate the reload had
      ordered); prints the elapsed milliseconds since the signal or rename. With --during-names, a second
      thread keeps handshaking with random names meanwhile and the longest one (ms) is printed on
      a second line: a stall during the swap shows there.
"""
import argparse
import json
import os
import random
import signal
import socket
import ssl
import sys
import threading
import time

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
                      "p50_ms": round(percentile(times, 0.5), 3), "p99_ms": round(percentile(times, 0.99), 3)}))
    return 0 if times else 1


def cmd_publish(args):
    ctx = context()
    expected = ssl.PEM_cert_to_DER_cert(open(args.expect).read()) if args.expect else None

    def wanted(der):
        return der == expected if expected is not None else args.sni.encode() in der

    stop = threading.Event()
    worst = [0.0]

    def background():
        names = [l.strip() for l in open(args.during_names) if l.strip()]
        while not stop.is_set():
            try:
                t, _ = handshake(ctx, args.port, random.choice(names))
                worst[0] = max(worst[0], t * 1000)
            except (OSError, ssl.SSLError):
                worst[0] = max(worst[0], CONNECT_TIMEOUT * 1000)

    thread = None
    if args.during_names:
        thread = threading.Thread(target=background, daemon=True)
        thread.start()
        time.sleep(0.2)
    t0 = time.perf_counter()
    if args.rename:
        src, dst = args.rename.split(":", 1)
        os.rename(src, dst)
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
            break
        if args.interval:
            time.sleep(args.interval)  # a poll for something slower than a reload: spare the proxy's core
    if thread:
        time.sleep(0.5)  # handshakes right after the publish count too
        stop.set()
        thread.join(CONNECT_TIMEOUT + 1)
    if published is None:
        return 1
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
    pub.add_argument("--deadline", type=float, default=10.0)
    pub.add_argument("--interval", type=float, default=0.0, help="seconds between handshakes (default: none)")
    pub.add_argument("--during-names")
    args = p.parse_args()
    return cmd_latency(args) if args.cmd == "latency" else cmd_publish(args)


if __name__ == "__main__":
    sys.exit(main())
