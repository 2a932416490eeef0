"""bench/room_memory.py - a gateway's memory per watched room (issue 11: "state RSS per
socket and per room, measured"). One gateway; U users create R rooms (500 each, the
per-socket subscription cap), one socket per user. The gateway's RSS (/proc VmRSS) is
read after each step, 2 s after it settled:
  sockets      U sockets connected, nothing watched (the baseline)
  watched      every socket subscribed to its rooms: R rooms watched, caches empty
               (registry entry, Redis channel, reorder buffer, dedupe, the socket's
               subscription list)
  cached       F messages of C bytes sent to every room and delivered: each room's
               recent-frame ring holds F frames (WS_ROOM_CACHE=F)
  closed       the sockets closed, 12 s later (rooms are released a few seconds after
               their last watcher; a mass close trims the heap)
Per room = (watched - sockets) / R; per cached frame = (cached - watched) / (R x F).
Runs in one Python process (asyncio for the sockets; the stack as child processes).
  python3 bench/room_memory.py [--rooms 1000] [--frames 16] [--content 100] [--out FILE]
"""
import argparse
import asyncio
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests/integration"))
from conftest import RATES_OFF  # noqa: E402
from harness.stack import Stack  # noqa: E402
from ws_client import connect, create_room, is_room_message, register  # noqa: E402

PER_SOCKET = 500  # the gateway's max_rooms_per_session
INFLIGHT = 200    # messages sent before waiting for their acks (the gateway allows 256)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def settled_rss(pid, wait=2.0):
    time.sleep(wait)
    return rss_kb(pid)


def make_rooms(s, rooms):
    """[(user, [room ids])], PER_SOCKET rooms per user, created over REST in parallel."""
    owned = []
    left = rooms
    with ThreadPoolExecutor(max_workers=4) as pool:
        while left > 0:
            n = min(PER_SOCKET, left)
            u = register(s.http_url)
            owned.append((u, list(pool.map(lambda _i, t=u["token"]: create_room(s.http_url, t),
                                           range(n)))))
            left -= n
    return owned


async def _until(ws, start, count, pred, timeout):
    """Reads until count frames from index start on match pred; the index after the
    last frame looked at."""
    deadline = time.monotonic() + timeout
    seen = 0
    i = start
    while True:
        while i < len(ws.frames):
            seen += pred(ws.frames[i])
            i += 1
        if seen >= count:
            return i
        if time.monotonic() > deadline or not await ws._pull(deadline - time.monotonic()):
            raise TimeoutError(f"{ws.name}: {seen} of {count} frames")


async def _send_acked(ws, batch, content, timeout=120):
    """Sends batch [(room, client_msg_id)] and waits for every ack; a retryable error
    (the store timed out: SQLite FerretDB under this load) is resent with the same id,
    as a client does."""
    deadline = time.monotonic() + timeout
    todo = list(batch)
    while todo:
        mark = len(ws.frames)
        for r, cmid in todo:
            await ws.send({"type": "message", "room_id": r, "content": content,
                           "client_msg_id": cmid})
        await _until(ws, mark, len(todo), lambda f: f.get("type") in ("ack", "error"),
                     max(1.0, deadline - time.monotonic()))
        answered = {f.get("client_msg_id"): f for f in ws.frames[mark:]
                    if f.get("type") in ("ack", "error")}
        for f in answered.values():
            assert f["type"] == "ack" or f.get("retryable"), f
        todo = [(r, c) for r, c in todo if answered.get(c, {}).get("type") != "ack"]


async def fill(sockets, frames, content):
    """frames messages to every room, INFLIGHT at a time per socket, each batch acked;
    then until each socket has received all its rooms' messages back."""
    async def one(ws, rooms):
        todo = [(r, f"m{i}-{r}") for i in range(frames) for r in rooms]
        start = len(ws.frames)
        for at in range(0, len(todo), INFLIGHT):
            await _send_acked(ws, todo[at:at + INFLIGHT], content)
        await _until(ws, start, len(todo),
                     lambda f: is_room_message(f) and f.get("content") == content, 120)
    await asyncio.gather(*(one(ws, rooms) for ws, rooms in sockets))


async def run(s, owned, frames, content, pid, res):
    sockets = []
    for u, rooms in owned:
        ws = await connect(s.gateway_ws_url(0), u["token"], name=u["username"])
        sockets.append((ws, rooms))
    res["rss_kb"]["sockets"] = settled_rss(pid)
    t0 = time.time()
    for ws, rooms in sockets:
        for r in rooms:
            f = await ws.subscribe(r, timeout=30)
            assert f["type"] == "subscribed", f
    res["subscribe_s"] = round(time.time() - t0, 1)
    res["rss_kb"]["watched"] = settled_rss(pid)
    t0 = time.time()
    await fill(sockets, frames, content)
    res["fill_s"] = round(time.time() - t0, 1)
    res["rss_kb"]["cached"] = settled_rss(pid)
    for ws, _ in sockets:
        await ws.close()
    res["rss_kb"]["closed"] = settled_rss(pid, wait=12.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rooms", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--content", type=int, default=100)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    env = dict(RATES_OFF)
    env.update({"WS_ROOM_CACHE": str(args.frames), "LOG_LEVEL": "warn"})
    s = Stack(gateways=1, env=env,
              build_dir=os.environ.get("CHAT_BUILD_DIR", str(REPO / "build")))
    s.start()
    res = {"rooms": args.rooms, "frames_per_room": args.frames, "content_bytes": args.content,
           "rss_kb": {}}
    try:
        t0 = time.time()
        owned = make_rooms(s, args.rooms)
        res["rooms_created_s"] = round(time.time() - t0, 1)
        pid = s.gateway_pid(0)
        res["rss_kb"]["start"] = rss_kb(pid)
        asyncio.run(run(s, owned, args.frames, "x" * args.content, pid, res))
    finally:
        s.stop()
    kb = res["rss_kb"]
    res["bytes_per_room"] = round((kb["watched"] - kb["sockets"]) * 1024 / args.rooms)
    res["bytes_per_cached_frame"] = round(
        (kb["cached"] - kb["watched"]) * 1024 / (args.rooms * args.frames))
    print(json.dumps(res, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
