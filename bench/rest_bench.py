#!/usr/bin/env python3
"""rest_bench.py - REST throughput benchmark (report, not a test): starts the real system
(deploy/stack.py, rate limits off, BCRYPT_COST 12 = the default), seeds a room with
messages over the WebSocket gateway, then runs wrk through lighttpd against
GET /api/rooms/{id}/messages?limit=50, GET /api/rooms and POST /api/auth/login, and
prints requests/s and latency percentiles. Single-threaded driver; wrk does the load.
  python3 bench/rest_bench.py [--seconds 15] [--connections 50] [--build-dir build]"""
import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "deploy"))
sys.path.insert(0, str(REPO / "tests/integration"))
from stack import Stack  # noqa: E402

RATES_OFF = {"RATE_MSG_PER_SEC": "0", "RATE_LOGIN_PER_MIN": "0", "RATE_REGISTER_PER_HOUR": "0",
             "RATE_API_PER_SEC": "0", "RATE_ROOM_CREATE_PER_MIN": "0",
             "RATE_MEMBERSHIP_PER_MIN": "0",
             "WS_FRAME_RATE": "1000000", "WS_FRAME_BURST": "1000000", "BCRYPT_COST": "12",
             "LOG_LEVEL": "warn"}


def call(base, method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


async def seed_messages(ws_url, token, room_id, count):
    """Stores count messages through the gateway in acked batches (see send_batch)."""
    from test_gateway_resume import send_batch
    from ws_client import connect
    client = await connect(ws_url, token)
    try:
        await client.subscribe(room_id)
        return len(await send_batch(client, room_id, "seed", count, batch=50))
    finally:
        await client.close()


def wrk(url, seconds, connections, script, env):
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url]
    out = subprocess.run(argv, env=dict(os.environ, **env), capture_output=True, text=True,
                         check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": rps, "p50": lat.get("50"), "p99": lat.get("99"),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0, "raw": out}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--build-dir", default=str(REPO / "build"))
    args = ap.parse_args()
    stack = Stack(gateways=1, env=RATES_OFF, build_dir=args.build_dir)
    stack.start()
    try:
        base = stack.http_url
        password = "benchmark-password"
        call(base, "POST", "/api/auth/register",
             {"username": "bench", "email": "bench@example.com", "password": password})
        token = call(base, "POST", "/api/auth/login",
                     {"email": "bench@example.com", "password": password})["token"]
        room = call(base, "POST", "/api/rooms",
                    {"name": "bench", "description": "", "is_private": False}, token)
        for i in range(30):
            call(base, "POST", "/api/rooms", {"name": f"room {i}", "description": "",
                                              "is_private": False}, token)
        acked = asyncio.run(seed_messages(stack.gateway_ws_url(0), token, room["id"],
                                          args.messages))
        print(f"seeded {acked} messages; machine: {os.cpu_count()} cores; "
              f"wrk -t2 -c{args.connections} -d{args.seconds}s through lighttpd")
        env = {"BENCH_TOKEN": token, "BENCH_EMAIL": "bench@example.com",
               "BENCH_PASSWORD": password}
        bench_dir = Path(__file__).resolve().parent
        results = {
            "GET /api/rooms/{id}/messages?limit=50":
                wrk(f"{base}/api/rooms/{room['id']}/messages?limit=50", args.seconds,
                    args.connections, str(bench_dir / "wrk_auth.lua"), env),
            "GET /api/rooms?limit=50":
                wrk(f"{base}/api/rooms?limit=50", args.seconds, args.connections,
                    str(bench_dir / "wrk_auth.lua"), env),
            "POST /api/auth/login (bcrypt cost 12)":
                wrk(f"{base}/api/auth/login", args.seconds, 4, str(bench_dir / "wrk_login.lua"),
                    env),
        }
        print(f"{'endpoint':45} {'req/s':>9} {'p50':>9} {'p99':>9} {'non-2xx':>8}")
        for name, r in results.items():
            print(f"{name:45} {r['rps']:9.1f} {r['p50']:>9} {r['p99']:>9} {r['non_2xx']:8d}")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
