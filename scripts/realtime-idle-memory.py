#!/usr/bin/env python3
"""Idle memory per realtime connection: starts `fathom serve --demo`, reads its RSS, opens N SSE
and N WebSocket connections (each authenticated anonymously with one subscription to the demo's
public `products`, and answered with `ready` and `subscribed`), waits, reads the RSS again and
prints the difference per connection. Standard library only (raw HTTP and WebSocket framing).

Usage: scripts/realtime-idle-memory.py [path/to/fathom] [N]   (defaults: target/debug/fathom, 1000)
"""
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

fathom = sys.argv[1] if len(sys.argv) > 1 else "target/debug/fathom"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def read_until(sock, marker):
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError(f"closed before {marker!r}: {data[:200]!r}")
        data += chunk
    return data


SUBS = [{"id": "p", "collection": "products"}]


def open_sse(port):
    sock = socket.create_connection(("127.0.0.1", port))
    query = urllib.parse.urlencode({"subscriptions": json.dumps(SUBS)})
    sock.sendall(f"GET /api/v1/realtime?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
    read_until(sock, b"event: subscribed")
    return sock


def ws_frame(text):
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    else:
        header += bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def open_ws(port):
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((
        "GET /api/v1/realtime/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode())
    read_until(sock, b"\r\n\r\n")
    sock.sendall(ws_frame(json.dumps({"type": "auth", "subscriptions": SUBS})))
    read_until(sock, b'"subscribed"')
    return sock


def main():
    work = tempfile.mkdtemp()
    port = free_port()
    env = dict(os.environ, FATHOM_LOG__LEVEL="warn")
    server = subprocess.Popen(
        [fathom, "serve", "--demo", "--data-dir", f"{work}/data", "--listen", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        # One of each first, so lazily built state is not counted per connection.
        warm = [open_sse(port), open_ws(port)]
        time.sleep(1)
        before = rss_kib(server.pid)
        sse = [open_sse(port) for _ in range(n)]
        time.sleep(2)
        after_sse = rss_kib(server.pid)
        ws = [open_ws(port) for _ in range(n)]
        time.sleep(2)
        after_ws = rss_kib(server.pid)
        print(f"binary: {fathom}; connections: {n} SSE then {n} WebSocket, idle, one subscription each")
        print(f"RSS before: {before / 1024:.1f} MiB; after SSE: {after_sse / 1024:.1f} MiB; after WebSocket: {after_ws / 1024:.1f} MiB")
        print(f"per idle SSE connection: {(after_sse - before) * 1024 / n / 1024:.1f} KiB")
        print(f"per idle WebSocket connection: {(after_ws - after_sse) * 1024 / n / 1024:.1f} KiB")
        for sock in warm + sse + ws:
            sock.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
