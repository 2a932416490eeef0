#!/usr/bin/env python3
"""redis_restart.py - what a restart of Redis costs when much is stored (issue 9: the read
model was rebuilt from MongoDB after every restart), on `make run`'s configuration
(bench/benchlib.py make_stack: FerretDB on PostgreSQL, 2 gateways, Redis with its AOF).
Seeds --scale messages into --workdir once (--reuse afterwards), starts the servers and
waits for the windows' warm-up, then restarts Redis twice while the servers run:

  handover  a clean stop that hands the read model over (deploy/redis_handover.py, what
            `make run` does when it stops), Redis started again as `make run` starts it
  signal    SIGTERM (Redis fsyncs its AOF, but nothing is handed over), started again

After each: the seconds until both gateways are connected to it again, until the windows
count as warm for the new Redis (benchlib.windows_warmed), whether a gateway warmed the
read model again ("read model lost mid-run"), and for --rooms rooms (the largest, the
smallest and some between) the newest page through lighttpd and a subscribe over a
gateway by a member, the first ones after the gateways are back. Prints and writes (--out) one JSON object.

  python3 bench/redis_restart.py --build-dir /tmp/bbuild --workdir /tmp/rr1m --scale 1m

Runs in its own process; needs pymongo and websockets (the test requirements)."""
import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402
from cold_start import sample_rooms  # noqa: E402
from ws_client import connect  # noqa: E402


def first_calls(stack, users, rooms):
    """Each room's newest page (REST) and one subscribe (gateway 0), timed in ms."""
    http = B.Http(stack.http_url)
    out = []

    async def subscribe(tok, room_id):
        ws = await connect(stack.gateway_ws_url(0), tok, name="bench")
        t0 = time.perf_counter()
        reply = await ws.subscribe(room_id)
        took = time.perf_counter() - t0
        await ws.close()
        return took, reply.get("type")

    for room in rooms:
        user = users[room["members"][0]]
        tok = B.token(stack, user)
        t_page, status, _ = http.call("GET", f"/api/rooms/{room['id']}/messages?limit=50", tok)
        t_sub, kind = asyncio.run(subscribe(tok, room["id"]))
        out.append({"room_messages": room["messages"], "members": len(room["members"]),
                    "page_status": status, "page_ms": round(t_page * 1000, 1),
                    "subscribe": kind, "subscribe_ms": round(t_sub * 1000, 1)})
    return out


def gateways_back(stack, since, limit_s=60.0):
    """Waits until every gateway logged both Redis connections (commands, pub/sub) since
    the byte offsets since: they reconnect with a backoff (2.6 and 6.6 s here), and calls
    before that would not show what a gateway does with the restarted Redis."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        if all(all(f'"msg":"redis connected","conn_kind":"{k}"' in
                   stack.log_text(name)[since[name]:] for k in ("cmd", "sub"))
               for name in since):
            return True
        time.sleep(0.1)
    return False


def restart(stack, mode, users, rooms, warm_limit):
    since = {f"gateway{i}": len(stack.log_text(f"gateway{i}")) for i in range(stack.n_gateways)}
    t0 = time.perf_counter()
    epoch = stack.stop_redis(hand_over=mode == "handover")
    stack.start_redis()
    up_s = round(time.perf_counter() - t0, 2)
    back = gateways_back(stack, since)
    back_s = round(time.perf_counter() - t0, 2)
    calls = first_calls(stack, users, rooms)
    calls_s = round(time.perf_counter() - t0, 2)
    while time.perf_counter() - t0 < warm_limit and not B.windows_warmed(stack):
        time.sleep(0.5)
    warm_s = round(time.perf_counter() - t0, 1) if B.windows_warmed(stack) else None
    again = first_calls(stack, users, rooms)
    rebuilt = [name for name in since
               if "read model lost mid-run" in stack.log_text(name)[since[name]:]]
    res = {"mode": mode, "handed_over": bool(epoch), "taken": bool(stack.redis_epoch),
           "redis_up_s": up_s, "gateways_back": back, "gateways_back_s": back_s,
           "first_calls_done_s": calls_s, "windows_warm_s": warm_s,
           "gateways_rewarmed": rebuilt,
           "first_page_ms": B.summary_ms([c["page_ms"] / 1000 for c in calls]),
           "first_subscribe_ms": B.summary_ms([c["subscribe_ms"] / 1000 for c in calls]),
           "warm_page_ms": B.summary_ms([c["page_ms"] / 1000 for c in again]),
           "warm_subscribe_ms": B.summary_ms([c["subscribe_ms"] / 1000 for c in again]),
           "calls": calls}
    print({k: v for k, v in res.items() if k != "calls"}, flush=True)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    B.add_seeded_args(ap, "1m")
    ap.add_argument("--rooms", type=int, default=20)
    ap.add_argument("--warm-limit", type=float, default=600.0)
    ap.add_argument("--modes", default="handover,signal")
    args = ap.parse_args()
    # gateways_back and the "read model lost mid-run" count read the gateways' info lines,
    # which the bench's quiet logs (benchlib.RATES_OFF: warn) would leave out
    os.environ["BENCH_STACK_ENV"] = ",".join(
        filter(None, ("LOG_LEVEL=info", os.environ.get("BENCH_STACK_ENV"))))
    stack, data = B.seeded_stack(args.workdir, args.build_dir, args.scale, args.reuse)
    try:
        users = {u["id"]: u for u in data["users"]}
        rooms = sample_rooms(data["rooms"], args.rooms)
        t0 = time.perf_counter()
        B.start_servers(stack)
        waited = B.read_model_warmed(stack, args.warm_limit)
        start_warm_s = round(time.perf_counter() - t0, 1)
        out = {"build_dir": args.build_dir, "messages": data["messages"],
               "rooms": len(data["rooms"]), "load_before": round(B.load_avg(), 2),
               "start_warm_s": start_warm_s, "start_wait_s": waited, "restarts": []}
        for mode in args.modes.split(","):
            out["restarts"].append(restart(stack, mode, users, rooms, args.warm_limit))
        B.report(out, args.out)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
