#!/usr/bin/env python3
"""cold_start.py - what a start on an empty Redis costs when much is stored (issue 9: the
read model rebuilt after a first start, a Redis restart without persistence or a
FLUSHALL), on `make run`'s configuration (bench/benchlib.py make_stack: FerretDB on
PostgreSQL with fsync, 2 gateways). Seeds --scale messages into --workdir once
(bench/seed.py; later runs reuse them: --reuse), flushes Redis, starts the servers and
waits for the gateways' start warm-up of the history windows (their "room windows" log
lines: messages read, reads of `messages`, rooms built and left, duration), then reads
the newest page of --rooms rooms (the largest, the smallest and some between) through
lighttpd as a member, twice each: the first page is what a room costs when its window
was not warmed (on FerretDB a scan of `messages` for that room alone), the second the
warm one. Prints and writes (--out) one JSON object.

  python3 bench/cold_start.py --build-dir build --workdir /tmp/cold1m --scale 1m
  python3 bench/cold_start.py --build-dir /tmp/other-build --workdir /tmp/cold1m --reuse

Runs in its own process; needs pymongo (the test requirements)."""
import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the warm-up's log lines are info: on unless the caller sets its own diagnosis settings
os.environ.setdefault("BENCH_STACK_ENV", "LOG_LEVEL=info")
import benchlib as B  # noqa: E402

WINDOWS_LINE = re.compile(r'^\{.*"msg":"room windows[^"]*".*\}$', re.M)


def windows_lines(stack, since, limit_s):
    """The gateways' "room windows" log lines since the start (byte offsets since), waited
    for up to limit_s until one of them is the warm-up's outcome (not "another process
    warms them": the other gateway waits for it); {gateway: [parsed lines]}."""
    t0 = time.perf_counter()
    found = {}
    while time.perf_counter() - t0 < limit_s:
        for i in range(stack.n_gateways):
            name = f"gateway{i}"
            found[name] = [json.loads(m.group(0))
                           for m in WINDOWS_LINE.finditer(stack.log_text(name)[since[name]:])]
        if any("another process" not in x["msg"] for lines in found.values() for x in lines):
            break
        time.sleep(0.5)
    return found


def sample_rooms(rooms, n):
    """n rooms with messages: spread over the sizes, largest and smallest included."""
    rooms = sorted((r for r in rooms if r["messages"] > 0), key=lambda r: r["messages"])
    if len(rooms) <= n:
        return rooms
    step = (len(rooms) - 1) / (n - 1)
    return [rooms[round(i * step)] for i in range(n)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.add_seeded_args(ap, "1m")
    ap.add_argument("--rooms", type=int, default=20)
    ap.add_argument("--warm-limit", type=float, default=900.0)
    args = ap.parse_args()
    stack, data = B.seeded_stack(args.workdir, args.build_dir, args.scale, args.reuse)
    try:
        users = {u["id"]: u for u in data["users"]}
        load_before = round(B.load_avg(), 2)
        since = {f"gateway{i}": len(stack.log_text(f"gateway{i}"))
                 for i in range(stack.n_gateways)}
        t0 = time.perf_counter()
        B.start_servers(stack)
        healthy_s = round(time.perf_counter() - t0, 1)
        lines = windows_lines(stack, since, args.warm_limit)
        windows_s = round(time.perf_counter() - t0, 1)
        http = B.Http(stack.http_url)
        pages = []
        for room in sample_rooms(data["rooms"], args.rooms):
            user = users[room["members"][0]]
            tok = B.token(stack, user)
            path = f"/api/rooms/{room['id']}/messages?limit=50"
            t_first, st1, _ = http.call("GET", path, tok)
            t_second, st2, _ = http.call("GET", path, tok)
            pages.append({"room_messages": room["messages"], "status": [st1, st2],
                          "first_ms": round(t_first * 1000, 1),
                          "second_ms": round(t_second * 1000, 1)})
            print(json.dumps(pages[-1]), flush=True)
        firsts = [p["first_ms"] for p in pages]
        out = {"build_dir": args.build_dir, "messages": data["messages"],
               "rooms": len(data["rooms"]), "load_before": load_before,
               "healthy_s": healthy_s, "windows_logged_s": windows_s,
               "windows_lines": {k: [{f: x.get(f) for f in ("msg", "messages", "passes", "rooms",
                                                             "rooms_left", "missing",
                                                             "duration_ms")} for x in v]
                                 for k, v in lines.items()},
               "first_page_ms": B.summary_ms([f / 1000 for f in firsts]) if firsts else None,
               "first_pages_total_s": round(sum(firsts) / 1000, 1),
               "pages": pages}
        B.report(out, args.out)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
