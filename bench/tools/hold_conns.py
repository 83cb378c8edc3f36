#!/usr/bin/env python3
"""Opens COUNT TLS connections to one proxy, sends one keep-alive request on each, reads the
response, then holds every connection idle so the proxy's memory per idle connection can be read.

Bounded: at most COUNT connections, at most --concurrency handshakes in flight, everything must be
done within --deadline seconds, and the connections are held at most --hold seconds (or until the
release file appears). Targets 127.0.0.1 only.

Protocol with the harness: when every connection is idle (or failed, or the deadline passed), one
JSON line {"held": n, "failed": m, "seconds": t} is written to --status-file; the harness reads the
proxy's RSS, then creates --release-file; this client closes everything and exits.
"""
import argparse
import errno
import json
import os
import resource
import selectors
import socket
import ssl
import sys
import time

LOOPBACK = "127.0.0.1"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sni", default="bench.example.test")
    p.add_argument("--count", type=int, default=5000)
    p.add_argument("--concurrency", type=int, default=128, help="handshakes in flight at once")
    p.add_argument("--deadline", type=float, default=60.0, help="seconds to open every connection")
    p.add_argument("--hold", type=float, default=60.0, help="longest hold before closing anyway")
    p.add_argument("--status-file", required=True)
    p.add_argument("--release-file", required=True)
    return p.parse_args()


class Conn:
    __slots__ = ("sock", "state", "inbuf", "need")

    def __init__(self, sock):
        self.sock = sock
        self.state = "connect"
        self.inbuf = b""
        self.need = None  # total bytes of header + body once the header is parsed


def response_complete(conn):
    """True once the header and Content-Length bytes of body have arrived."""
    if conn.need is None:
        end = conn.inbuf.find(b"\r\n\r\n")
        if end < 0:
            return False
        length = 0
        for line in conn.inbuf[:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        conn.need = end + 4 + length
    return len(conn.inbuf) >= conn.need


def main():
    args = parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, args.count + 256) if hard != resource.RLIM_INFINITY else args.count + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["http/1.1"])
    request = (f"GET / HTTP/1.1\r\nHost: {args.sni}\r\nUser-Agent: portcullis-bench-idle\r\n\r\n").encode()

    sel = selectors.DefaultSelector()
    started = time.monotonic()
    deadline = started + args.deadline
    opened = idle = failed = 0
    in_flight = 0
    conns = []

    def fail(conn):
        nonlocal failed, in_flight
        try:
            sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
        conn.state = "failed"
        failed += 1
        in_flight -= 1

    def open_one():
        nonlocal opened, in_flight
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setblocking(False)
        err = raw.connect_ex((LOOPBACK, args.port))
        if err not in (0, errno.EINPROGRESS):
            raw.close()
            return None
        conn = Conn(raw)  # wrapped in TLS once connected: SSLSocket needs a connected socket
        conns.append(conn)
        sel.register(raw, selectors.EVENT_WRITE, conn)
        opened += 1
        in_flight += 1
        return conn

    def step(conn):
        nonlocal idle, in_flight
        s = conn.sock
        try:
            if conn.state == "connect":
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    return fail(conn)
                sel.unregister(s)
                s = conn.sock = ctx.wrap_socket(s, server_hostname=args.sni, do_handshake_on_connect=False)
                sel.register(s, selectors.EVENT_WRITE, conn)
                conn.state = "handshake"
            if conn.state == "handshake":
                s.do_handshake()
                conn.state = "send"
            if conn.state == "send":
                s.sendall(request)  # small: fits the socket buffer in one go
                conn.state = "recv"
                sel.modify(s, selectors.EVENT_READ, conn)
                return
            if conn.state == "recv":
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        return fail(conn)
                    conn.inbuf += chunk
                    if response_complete(conn):
                        ok = conn.inbuf.startswith(b"HTTP/1.1 2")
                        sel.unregister(s)
                        conn.inbuf = b""
                        if not ok:
                            return fail(conn)
                        conn.state = "idle"
                        idle += 1
                        in_flight -= 1
                        return
        except ssl.SSLWantReadError:
            sel.modify(s, selectors.EVENT_READ, conn)
        except ssl.SSLWantWriteError:
            sel.modify(s, selectors.EVENT_WRITE, conn)
        except (OSError, ssl.SSLError, ValueError):
            fail(conn)

    while idle + failed < args.count and time.monotonic() < deadline:
        while opened < args.count and in_flight < args.concurrency:
            if open_one() is None:
                failed += 1
                opened += 1
        for key, _ in sel.select(timeout=0.2):
            step(key.data)

    elapsed = time.monotonic() - started
    status = {"held": idle, "failed": failed + (args.count - idle - failed), "seconds": round(elapsed, 3)}
    tmp = args.status_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(status) + "\n")
    os.replace(tmp, args.status_file)

    hold_until = time.monotonic() + args.hold
    while time.monotonic() < hold_until and not os.path.exists(args.release_file):
        time.sleep(0.05)
    for conn in conns:
        try:
            conn.sock.close()
        except OSError:
            pass
    return 0 if idle > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
