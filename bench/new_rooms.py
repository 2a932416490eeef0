#!/usr/bin/env python3
"""new_rooms.py - what a room's first calls cost right after it is created (issue 9: a new
room's first join, page, subscribe and message on a large collection), on `make run`'s
configuration (bench/benchlib.py make_stack: FerretDB on PostgreSQL with fsync, 2
gateways). Seeds --scale messages into --workdir once (bench/seed.py; later runs reuse
them: --reuse), starts the servers on a flushed Redis, waits for their start's warm-up,
then per trial: one user creates a room, two others join it, the first reads its newest
page, and the creator subscribes over the WebSocket and sends one message (ack timed).
Prints one row of milliseconds per trial and writes them as JSON to --out.

  python3 bench/new_rooms.py --build-dir build --workdir /tmp/nr --scale 100k
  python3 bench/new_rooms.py --build-dir /tmp/other-build --workdir /tmp/nr --reuse

Runs in its own process; needs pymongo and websockets (the test requirements)."""
import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests/integration"))
import benchlib as B  # noqa: E402
from ws_client import connect  # noqa: E402

COLUMNS = ("create", "first_join", "second_join", "first_page", "first_subscribe",
           "first_message_ack")


async def _first_message(stack, token, room):
    c = await connect(stack.gateway_ws_url(0), token)
    try:
        t0 = time.perf_counter()
        f = await c.subscribe(room)
        subscribed = time.perf_counter() - t0
        assert f["type"] == "subscribed", f
        t0 = time.perf_counter()
        await c.send({"type": "message", "room_id": room, "content": "first",
                      "client_msg_id": f"first-{os.urandom(6).hex()}"})
        a = await c.recv_until(lambda f: f.get("type") in ("ack", "error"), 30)
        assert a["type"] == "ack", a
        return subscribed, time.perf_counter() - t0
    finally:
        await c.close()


def trial(stack, http, users, i):
    owner, first, second = users[i], users[200 + i], users[300 + i]
    t_create, st, body = http.call("POST", "/api/rooms", B.token(stack, owner),
                                   {"name": f"new-{i}-{int(time.time() * 1000)}"})
    assert st == 201, body
    room = json.loads(body)["id"]
    t_join1, st1, _ = http.call("POST", f"/api/rooms/{room}/join", B.token(stack, first))
    t_join2, st2, _ = http.call("POST", f"/api/rooms/{room}/join", B.token(stack, second))
    t_page, st3, _ = http.call("GET", f"/api/rooms/{room}/messages", B.token(stack, first))
    assert (st1, st2, st3) == (200, 200, 200), (st1, st2, st3)
    t_sub, t_ack = asyncio.run(_first_message(stack, B.token(stack, owner), room))
    return [round(t * 1000, 1) for t in (t_create, t_join1, t_join2, t_page, t_sub, t_ack)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.add_seeded_args(ap, "100k")
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    stack, data = B.seeded_stack(args.workdir, args.build_dir, args.scale, args.reuse)
    try:
        B.start_servers(stack)
        B.read_model_warmed(stack)
        time.sleep(15)  # the looks after the start settle (as in stop 30's runs, comparable)
        http = B.Http(stack.http_url)
        rows = [trial(stack, http, data["users"], i) for i in range(args.trials)]
        out = {"build_dir": args.build_dir, "messages": data["messages"],
               "load_before": round(B.load_avg(), 2), "columns": COLUMNS, "rows_ms": rows}
        B.report(out, args.out)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
