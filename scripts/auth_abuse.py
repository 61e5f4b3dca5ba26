#!/usr/bin/env python3
"""Measures two auth abuse cases against a fathom binary (debug or release), started here on a
fresh SQLite data directory behind a pretend proxy (127.0.0.1 is trusted, so X-Forwarded-For
picks the client address):

  flood   1000 failed logins from 50 addresses, 200 at a time; meanwhile the owner signs in
          from the address it used before, and from a new one. Prints their latencies and the
          flood's answers.
  timing  password-reset requests for a known and an unknown address, interleaved, and
          registrations of new and taken addresses: prints the medians.

Usage: python3 scripts/auth_abuse.py target/debug/fathom flood|timing [--new]
(--new sets the settings only the new configuration knows: per-route limits off.)
"""

import concurrent.futures
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SCHEMA = '[collections.notes]\nfields.body = { type = "text", required = true }\n'
PASSWORD = "correct horse battery staple 42"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, path, body, client=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"content-type": "application/json"}
    if client:
        headers["x-forwarded-for"] = client
    started = time.perf_counter()
    conn.request("POST", "/api/v1/auth" + path, json.dumps(body), headers)
    response = conn.getresponse()
    response.read()
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    return response.status, elapsed


def curl_login(port, email, client):
    """A sign-in timed by curl in its own process, so the flood's Python threads cannot skew it."""
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
         "-H", "content-type: application/json", "-H", f"x-forwarded-for: {client}",
         "-d", json.dumps({"email": email, "password": PASSWORD}),
         f"http://127.0.0.1:{port}/api/v1/auth/login"],
        capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), float(out[1]) * 1000


def start(binary, new):
    data = tempfile.mkdtemp()
    with open(os.path.join(data, "fathom.schema.toml"), "w") as f:
        f.write(SCHEMA)
    port = free_port()
    env = dict(os.environ)
    env.update({
        "FATHOM_SERVER__LISTEN": f"127.0.0.1:{port}",
        "FATHOM_DATABASE__DATA_DIR": data,
        "FATHOM_SCHEMA__PATH": os.path.join(data, "fathom.schema.toml"),
        "FATHOM_AUTH__TRUSTED_PROXIES": '["127.0.0.1"]',
        "FATHOM_AUTH__RATE_LIMIT_PER_MINUTE": "1000000",
        "FATHOM_AUTH__LOCKOUT_THRESHOLD": "1000000",
        "FATHOM_LOG__LEVEL": "error",
    })
    if new:
        for route in ["LOGIN", "REGISTER", "VERIFY", "REFRESH", "PASSWORD_RESET"]:
            env[f"FATHOM_AUTH__RATE_LIMITS__{route}"] = "0"
        env["FATHOM_MAIL__PER_RECIPIENT_PER_HOUR"] = "0"
    process = subprocess.Popen([binary, "serve"], cwd=data, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    sys.exit("the server did not start")


def flood(port):
    owner = "owner@example.com"
    post(port, "/register", {"email": owner, "password": PASSWORD})
    time.sleep(0.5)
    status, idle = post(port, "/login", {"email": owner, "password": PASSWORD}, "192.0.2.1")
    assert status == 200, status
    print(f"idle sign-in: {idle:.0f} ms")

    def guess(n):
        email = f"guess-{n}@example.com"
        return post(port, "/login", {"email": email, "password": "wrong wrong wrong"},
                    f"10.0.0.{n % 50 + 1}")

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=200) as pool:
        futures = [pool.submit(guess, n) for n in range(1000)]
        known, new = [], []
        for n in range(3):
            time.sleep(1.0)
            known.append(curl_login(port, owner, "192.0.2.1"))
            new.append(curl_login(port, owner, f"192.0.2.{100 + n}"))
        answers = [f.result() for f in futures]
    flood_ms = (time.perf_counter() - started) * 1000
    statuses = {}
    for status, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    print(f"flood of 1000 from 50 addresses: {flood_ms / 1000:.1f} s, answers {statuses}")
    show = lambda samples: ", ".join(f"{status} in {ms:.0f} ms" for status, ms in samples)
    print(f"owner from its known address during the flood (1 s apart): {show(known)}")
    print(f"owner from new addresses during the flood (1 s apart): {show(new)}")


def timing(port):
    known = "known@example.com"
    post(port, "/register", {"email": known, "password": PASSWORD})
    time.sleep(0.5)
    reset_known, reset_unknown = [], []
    for n in range(20):  # warm up
        post(port, "/password-reset", {"email": known})
        post(port, "/password-reset", {"email": f"nobody{n}@example.com"})
    for n in range(300):
        reset_known.append(post(port, "/password-reset", {"email": known})[1])
        reset_unknown.append(post(port, "/password-reset", {"email": f"x{n}@example.com"})[1])
        if n % 50 == 49:
            time.sleep(0.3)  # let background mail work drain, as between real requests
    print(f"reset median: known {statistics.median(reset_known):.2f} ms, "
          f"unknown {statistics.median(reset_unknown):.2f} ms (300 each)")
    fresh, taken = [], []
    for n in range(30):
        fresh.append(post(port, "/register", {"email": f"new{n}@example.com", "password": PASSWORD})[1])
        taken.append(post(port, "/register", {"email": known, "password": PASSWORD})[1])
    print(f"registration median: new {statistics.median(fresh):.1f} ms, "
          f"taken {statistics.median(taken):.1f} ms (30 each)")


def main():
    binary, mode = sys.argv[1], sys.argv[2]
    process, port = start(binary, "--new" in sys.argv)
    try:
        {"flood": flood, "timing": timing}[mode](port)
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
