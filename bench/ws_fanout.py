#!/usr/bin/env python3
"""ws_fanout.py - WebSocket fan-out benchmark (report, not a test): starts the real system
(deploy/stack.py, rate limits off), connects N sockets to ONE gateway (tokens minted with
the stack's secret), all members of one public room, then one sender posts M messages at
a fixed rate; every receiver timestamps each delivery. Prints delivery latency
percentiles (send -> receive, through the gateway, Redis pub/sub and back), deliveries/s,
and the gateway's RSS per socket. The asyncio client runs in this one process, so its own
overhead is part of the latency.
  python3 bench/ws_fanout.py [--sockets 1000] [--messages 200] [--rate 20] [--build-dir build]"""
import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "deploy"))
sys.path.insert(0, str(REPO / "tests/integration"))
from stack import Stack  # noqa: E402
from ws_client import create_room, mint_token, new_user_id, register  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

RATES_OFF = {"RATE_MSG_PER_SEC": "0", "RATE_LOGIN_PER_MIN": "0", "RATE_REGISTER_PER_HOUR": "0",
             "RATE_API_PER_SEC": "0", "RATE_ROOM_CREATE_PER_MIN": "0",
             "RATE_MEMBERSHIP_PER_MIN": "0",
             "WS_FRAME_RATE": "1000000", "WS_FRAME_BURST": "1000000", "LOG_LEVEL": "warn",
             "MAX_SOCKETS_PER_USER": "100000"}


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def run(stack, n_sockets, n_messages, rate):
    owner = register(stack.http_url)
    room_id = create_room(stack.http_url, owner["token"])
    url = stack.gateway_ws_url(0)
    pid = stack.gateway_pid(0)
    rss_before = rss_kb(pid)
    latencies, received = [], [0]
    expected_prefix = "bench-"

    async def receiver(ws):
        try:
            await receive(ws)
        except Exception as e:  # a closed socket is reported, not fatal
            closed.append(repr(e))

    closed = []

    frames_seen = [0]

    async def receive(ws):
        async for raw in ws:
            frames_seen[0] += 1
            f = json.loads(raw)
            c = f.get("content", "")
            if f.get("type") == "text" and c.startswith(expected_prefix):
                latencies.append(time.time() - float(c.split("-", 2)[1]))
                received[0] += 1

    sockets, tasks = [], []
    for i in range(n_sockets):
        tok = mint_token(stack.jwt_secret, new_user_id(), f"b{i}")
        ws = await connect(f"{url}?token={tok}&room_id={room_id}", max_queue=None,
                           ping_interval=None)
        sockets.append(ws)
        tasks.append(asyncio.create_task(receiver(ws)))  # read from the start: unread
        if i % 100 == 99:                                 # sockets are slow consumers
            await asyncio.sleep(0.2)  # let join system messages drain
    # Every join stores and fans out a system message: wait until that storm is over
    # (no frame for 3 s) so that the measurement sees only the benchmark's messages.
    settle_start, last, quiet_since = time.time(), -1, time.time()
    while time.time() - settle_start < 300:
        await asyncio.sleep(0.5)
        if frames_seen[0] != last:
            last, quiet_since = frames_seen[0], time.time()
        elif time.time() - quiet_since >= 3:
            break
    print(f"joins settled after {time.time() - settle_start:.1f}s ({frames_seen[0]} frames)")
    rss_after = rss_kb(pid)
    sender = await connect(f"{url}?token={owner['token']}&room_id={room_id}")
    acks, errors = [0], []

    async def sender_replies():
        async for raw in sender:
            f = json.loads(raw)
            if f.get("type") == "ack":
                acks[0] += 1
            elif f.get("type") == "error":
                errors.append(f)

    sender_task = asyncio.create_task(sender_replies())
    t0 = time.time()
    for i in range(n_messages):
        await sender.send(json.dumps({"type": "message", "room_id": room_id,
                                      "content": f"bench-{time.time():.6f}-{i}",
                                      "client_msg_id": f"b{i}"}))
        await asyncio.sleep(1.0 / rate)
    deadline = time.time() + 60
    want = n_messages * n_sockets
    while received[0] < want and time.time() < deadline:
        await asyncio.sleep(0.1)
    elapsed = time.time() - t0
    for t in tasks + [sender_task]:
        t.cancel()
    for ws in sockets + [sender]:
        await ws.close()
    lat = sorted(latencies)
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
    print(f"sockets={n_sockets} messages={n_messages} at {rate}/s; machine: {os.cpu_count()} cores")
    print(f"delivered {received[0]}/{want} in {elapsed:.1f}s "
          f"({received[0] / elapsed:.0f} deliveries/s)")
    print(f"latency ms: p50={pct(0.50):.1f} p90={pct(0.90):.1f} p99={pct(0.99):.1f} "
          f"max={lat[-1] * 1000 if lat else float('nan'):.1f} mean={statistics.mean(lat) * 1000 if lat else float('nan'):.1f}")
    print(f"sockets closed early: {len(closed)}; sender: {acks[0]} acks, {len(errors)} errors"
          f"{' e.g. ' + str(errors[0]) if errors else ''}")
    print(f"gateway RSS: {rss_before} kB before, {rss_after} kB with {n_sockets} sockets "
          f"= {(rss_after - rss_before) / n_sockets:.1f} kB per socket")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sockets", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--rate", type=float, default=20)
    ap.add_argument("--build-dir", default=str(REPO / "build"))
    args = ap.parse_args()
    stack = Stack(gateways=1, env=RATES_OFF, build_dir=args.build_dir)
    stack.start()
    try:
        asyncio.run(run(stack, args.sockets, args.messages, args.rate))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
