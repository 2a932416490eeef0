"""bench_ws.py - the socket parts of bench/bench.py: membership latencies (REST join/leave,
WebSocket subscribe), 5,000 sockets subscribing to one room, and durable writes with the
shared load tool /work/shared/bench/wsload.c beside rawfan and Centrifugo v6
(/work/shared/bench/README.md). Runs in the bench driver process; wsload, rawfan and
Centrifugo are child processes built/installed under OUT/tools."""
import contextlib
import re
import subprocess
import threading
import time
from pathlib import Path

import benchlib as B
from ws_client import connect

SRCS = "127.0.0.2,127.0.0.3"
CF_SH = "/work/shared/bench/centrifugo.sh"


def leaves_settled(stack, limit_s=30.0):
    """Waits until no leave is waiting for its room_members delete (member_leaves
    records not done: the REST collector deletes a small room's a second after the
    leave, and settles a large room's once they are CHAT_MEMBER_LEAVE_SETTLE_MS, 10 s,
    old; both once the api process has answered nothing for 250 ms), at most limit_s. Returns the seconds waited, so that one room's phase does not pay for
    the previous one's deferred deletes."""
    from pymongo import MongoClient
    db = MongoClient(stack.mongo_uri)[stack.mongo_db]
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s and \
            db.member_leaves.count_documents({"done": {"$ne": True}}) > 0:
        time.sleep(0.2)
    db.client.close()
    return round(time.perf_counter() - t0, 2)


async def bench_membership(stack, data):
    """Per room (10 and 5,000 members): 100 non-members join and leave over REST (each
    call timed, keep-alive), then 100 subscribes of members over the WebSocket (connect
    untimed, subscribe -> subscribed timed). The first room starts once the gateways'
    read-model warm-up is over (B.read_model_warmed), each next one once the previous
    one's deferred membership deletes are done (leaves_settled)."""
    http = B.Http(stack.http_url)
    users = {u["id"]: u for u in data["users"]}
    res = {"load_before": round(B.load_avg(), 2),
           "waited_for_warm_up_s": B.read_model_warmed(stack)}
    for room in (data["rooms"][1], data["rooms"][0]):
        settled_s = leaves_settled(stack)
        members = set(room["members"])
        outsiders = [u for u in data["users"] if u["id"] not in members][:100]
        join, leave, errors = [], [], 0
        for u in outsiders:
            tok = B.token(stack, u)
            t, st, _ = http.call("POST", f"/api/rooms/{room['id']}/join", tok)
            join.append(t)
            errors += st != 200
            t, st, _ = http.call("POST", f"/api/rooms/{room['id']}/leave", tok)
            leave.append(t)
            errors += st not in (200, 204)
        sub = []
        for uid in list(room["members"])[:100] if len(room["members"]) >= 100 else \
                list(room["members"]) * (100 // len(room["members"])):
            c = await connect(stack.ws_url, B.token(stack, users[uid]))
            try:
                t0 = time.perf_counter()
                f = await c.subscribe(room["id"])
                sub.append(time.perf_counter() - t0)
                errors += f.get("type") != "subscribed"
            finally:
                await c.close()
        key = f"{len(room['members'])}_members"
        res[key] = {"join": B.summary_ms(join), "leave": B.summary_ms(leave),
                    "subscribe": B.summary_ms(sub), "errors": errors,
                    "slowest": {"join": B.slowest_ms(join), "leave": B.slowest_ms(leave),
                                "subscribe": B.slowest_ms(sub)},
                    "waited_for_deletes_s": settled_s}
        B.say(f"membership {key}: {res[key]}")
    # the last room's deferred deletes run before the next phase, not beside it
    res["waited_for_deletes_after_s"] = leaves_settled(stack)
    B.say(f"membership: deferred deletes done after {res['waited_for_deletes_after_s']} s")
    return res


@contextlib.contextmanager
def rawfan_running(rawfan):
    """rawfan on a free loopback port for the block: yields (port, pid)."""
    port = B.free_port()
    rf = subprocess.Popen([str(rawfan), str(port)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        yield port, rf.pid
    finally:
        rf.terminate()
        rf.wait()


def centrifugo_dir(out):
    """OUT/tools/cf, with a Centrifugo built earlier linked in (saves a go install)."""
    cf = Path(out) / "tools/cf"
    cf.mkdir(parents=True, exist_ok=True)
    prebuilt = Path("/tmp/bench-tools/cf/centrifugo")
    if prebuilt.exists() and not (cf / "centrifugo").exists():
        (cf / "centrifugo").symlink_to(prebuilt)
    return cf


def tools(out):
    d = Path(out) / "tools"
    d.mkdir(exist_ok=True)
    return B.build_tool("wsload", d), B.build_tool("rawfan", d)


def write_tokens(stack, data, room_ids, path):
    users = {u["id"]: u for u in data["users"]}
    rooms = {r["id"]: r for r in data["rooms"]}
    with open(path, "w") as f:
        for rid in room_ids:
            for uid in rooms[rid]["members"]:
                f.write(f"{B.token(stack, users[uid])} {rid}\n")


@contextlib.contextmanager
def phase_sampler(stack, every_s=0.5):
    """Snapshots every gateway's message-phase histograms (bench_broadcast._gateway_hists)
    every every_s while the block runs; yields the list of (epoch, [one per gateway])."""
    from bench_broadcast import _gateway_hists
    samples, stop = [], threading.Event()

    def loop():
        while not stop.is_set():
            t = time.time()
            try:
                samples.append((t, [_gateway_hists(stack.gateway_port + i)
                                    for i in range(stack.n_gateways)]))
            except OSError:
                pass
            stop.wait(every_s)
    th = threading.Thread(target=loop, daemon=True)
    th.start()
    try:
        yield samples
    finally:
        stop.set()
        th.join()


def _merged(snaps):
    """One histogram snapshot per name: the gateways' buckets, sums and counts added."""
    out = {}
    for snap in snaps:
        for name, h in snap.items():
            m = out.setdefault(name, {"buckets": {}, "sum": 0.0, "count": 0.0})
            m["sum"] += h["sum"]
            m["count"] += h["count"]
            for le, c in h["buckets"].items():
                m["buckets"][le] = m["buckets"].get(le, 0.0) + c
    return out


def phase_means(samples, stderr):
    """Per wsload phase (its stderr's 'phase N measure_start_epoch=T duration=D'): what the
    gateways' histograms observed between the last sample before T and the first after
    T+D, as {name: {n, mean_ms, p50_le_ms, p99_le_ms}}. The store's time by phase, so that
    an ack p99 says whether it waited in the room's queue, the insert or the commit."""
    from bench_broadcast import _hist_delta
    out = []
    for m in re.finditer(r"phase (\d+) measure_start_epoch=([\d.]+) duration=(\d+)", stderr):
        t0, t1 = float(m.group(2)), float(m.group(2)) + int(m.group(3))
        before = [s for s in samples if s[0] <= t0]
        after = [s for s in samples if s[0] >= t1]
        if not before or not after:
            out.append({})
            continue
        a, b = _merged(before[-1][1]), _merged(after[0][1])
        ph = {name: _hist_delta(a[name], b[name]) for name in b}
        ack = "chat_gateway_ack_seconds"  # its whole distribution: where the tail starts
        ph["ack_buckets"] = {le: int(c - a[ack]["buckets"].get(le, 0.0))
                             for le, c in b[ack]["buckets"].items()}
        out.append(ph)
    return out


def run_wsload(wsload, argv, timeout=600):
    t0 = time.time()
    r = subprocess.run([str(wsload)] + argv, capture_output=True, text=True, timeout=timeout)
    wall = time.time() - t0
    return parse_phases(r.stdout), wall, r.stdout, r.stderr


def parse_phases(stdout):
    """wsload's key=value report: one dict per phase (numbers as floats)."""
    phases, cur = [], None
    for line in stdout.splitlines():
        if line.startswith("phase="):
            cur = {}
            phases.append(cur)
        if cur is not None and "=" in line and not line.startswith("summary"):
            k, _, v = line.partition("=")
            try:
                cur[k] = float(v)
            except ValueError:
                cur[k] = v
    return phases


def bench_sub5000(stack, data, out):
    """5,000 member sockets of the 5,000-member room each send a subscribe frame
    (wsload -J) through lighttpd, twice: cold (the users' room sets and presence not yet
    in Redis) and warm (the same sockets again). all_ready_s: wall time of wsload minus
    its 1 s hold, when every socket was subscribed; otherwise it stopped at -T."""
    wsload, _ = tools(out)
    big = data["rooms"][0]
    tok = Path(out) / "tokens-5000.txt"
    write_tokens(stack, data, [big["id"]], tok)
    runs = []
    for label in ("cold", "warm"):
        load = B.load_avg()
        phases, wall, so, se = run_wsload(wsload, [
            "-p", str(stack.http_port), "-P", "/ws?token=%T", "-J", "-m", "chat", "-k", str(tok),
            "-n", "5000", "-w", "2", "-s", SRCS, "-c", "5000", "-d", "1", "-r", "0", "-T", "90"])
        rep = phases[0] if phases else {}
        # wsload's own clock: "worker N: connect phase done in X s" (connect, upgrade,
        # subscribe -> subscribed of all its sockets); the wall time also holds its start,
        # the 1 s phase and closing 5,000 sockets
        done = [float(x) for x in re.findall(r"connect phase done in ([\d.]+) s", se)]
        connect_s = max(done) if done else round(wall - 1.0, 2)
        res = {"label": label, "load_before": round(load, 2), "wall_s": round(wall, 2),
               "connect_and_subscribe_s": connect_s,
               "all_ready_s": connect_s if rep.get("ready", 0) >= 5000 else None,
               "stderr_tail": se[-400:], "report": rep or so[-600:],
               # what the gateways' read-model warm-ups (at start, or when a batch of
               # sockets found it cold) took so far: the part of a cold run spent on it
               "read_model_warms": [B.read_model_warms(stack, i)
                                    for i in range(stack.n_gateways)]}
        B.say(f"sub5000 {label}: ready {rep.get('ready')} in {connect_s:.1f} s "
              f"(wall {wall:.1f} s, load {load:.1f}; warm-ups {res['read_model_warms']})")
        runs.append(res)
        time.sleep(3)
    return runs


def _phase_rows(name, phases, load):
    rows = []
    for p in phases:
        rows.append({"system": name, "rate": p.get("rate_msgs_per_s"), "load_before": load,
                     "sent_per_s": p.get("sent_per_s"), "acks_per_s": p.get("acks_per_s"),
                     "ack_p50_ms": p.get("ack_ms_p50"), "ack_p99_ms": p.get("ack_ms_p99"),
                     "deliveries_per_s": p.get("deliveries_per_s"),
                     "delivery_p50_ms": p.get("lat_ms_p50"), "delivery_p99_ms": p.get("lat_ms_p99"),
                     "errors": p.get("error_frames"), "closed_by_server": p.get("closed_by_server"),
                     "ready": p.get("ready"),
                     "open": p.get("connections_open"), "failed": p.get("connections_failed")})
    return rows


async def prewarm(stack, data, rooms):
    """Builds the windows of rooms before a write run: one member socket per room
    subscribes with after_seq (a gateway builds the window from MongoDB with its 10 s
    worker timeout; REST's history pool waits as long, HISTORY_SCAN_TIMEOUT_MS, but builds
    one room at a time per process).
    Returns the seconds it took and how many were subscribed."""
    import asyncio
    users = {u["id"]: u for u in data["users"]}
    t0 = time.time()

    async def one(r):
        c = await connect(stack.ws_url, B.token(stack, users[r["members"][0]]))
        try:
            f = await c.subscribe(r["id"], after_seq=max(0, r["messages"] - 1), timeout=300)
            return f.get("type") == "subscribed"
        finally:
            await c.close()
    ok = await asyncio.gather(*(one(r) for r in rooms), return_exceptions=True)
    return {"seconds": round(time.time() - t0, 1), "rooms": len(rooms),
            "subscribed": sum(1 for x in ok if x is True)}


def bench_writes(stack, data, out, rates, seconds=10, peers=True):
    """Open loop: 100 rooms of 10 members (1,000 sockets through lighttpd to the two
    gateways), one sender per room (-x 100 -g 10), each rate for `seconds`; then one
    busy room of 10 with every member sending; then rawfan and Centrifugo with the same
    sockets, senders and rates (rawfan has no rooms: 10 sockets, so each message reaches
    10 like in a room of 10)."""
    wsload, rawfan = tools(out)
    rooms = [r for r in data["rooms"][2:] if len(r["members"]) == 10][:101]
    tok = Path(out) / "tokens-100x10.txt"
    write_tokens(stack, data, [r["id"] for r in rooms[:100]], tok)
    rate_s = ",".join(str(r) for r in rates)
    res = {"rows": []}
    import asyncio
    res["prewarm"] = asyncio.run(prewarm(stack, data, rooms))
    B.say(f"writes: windows built first: {res['prewarm']}")
    common = ["-n", "1000", "-w", "2", "-s", SRCS, "-x", "100", "-g", "10", "-r", rate_s,
              "-d", str(seconds), "-W", "2", "-T", "120"]
    load = round(B.load_avg(), 2)
    with phase_sampler(stack) as samples:
        phases, wall, so, se = run_wsload(wsload, ["-p", str(stack.http_port), "-P",
                                                   "/ws?token=%T", "-J", "-m", "chat", "-k",
                                                   str(tok)] + common)
    res["rows"] += _phase_rows("chat (2 gateways, via lighttpd)", phases, load)
    res["gateway_phases"] = phase_means(samples, se)
    res["chat_stderr"] = se[-400:]
    one = Path(out) / "tokens-1x10.txt"
    write_tokens(stack, data, [rooms[100]["id"]], one)
    load = round(B.load_avg(), 2)
    phases, wall, so, se = run_wsload(wsload, [
        "-p", str(stack.http_port), "-P", "/ws?token=%T", "-J", "-m", "chat", "-k", str(one),
        "-n", "10", "-w", "1", "-s", SRCS, "-x", "10", "-r", "1000,1500,2000", "-d", str(seconds),
        "-W", "2", "-T", "60"])
    res["busy_room"] = _phase_rows("chat, one room of 10, 10 senders", phases, load)
    if not peers:
        return res
    with rawfan_running(rawfan) as (port, _):
        load = round(B.load_avg(), 2)
        phases, *_ = run_wsload(wsload, ["-p", str(port), "-P", "/", "-m", "mirror", "-n", "10",
                                         "-w", "1", "-s", SRCS, "-x", "10", "-r", rate_s,
                                         "-d", str(seconds), "-W", "1"])
        res["rows"] += _phase_rows("rawfan (10 sockets, no storage)", phases, load)
    res["rows"] += _centrifugo(wsload, out, rate_s, seconds, common)
    return res


def log_rows(res):
    for row in res["rows"] + res["busy_room"]:
        B.say(f"writes: {row}")
    for i, ph in enumerate(res.get("gateway_phases", [])):
        B.say(f"writes: phase {i}, gateways' histograms: {ph}")
    return res


def _centrifugo(wsload, out, rate_s, seconds, common):
    cf = centrifugo_dir(out)
    port = B.free_port()
    r = subprocess.run(["bash", CF_SH, "start", str(port), "1000", str(cf)],
                       capture_output=True, text=True, timeout=1200)
    if r.returncode != 0:
        return [{"system": "Centrifugo v6.9.1", "error": (r.stdout + r.stderr)[-600:]}]
    try:
        subprocess.run(["bash", CF_SH, "tokens", "1000", str(cf / "tokens-rooms.txt"), "10"],
                       check=True)
        load = round(B.load_avg(), 2)
        phases, *_ = run_wsload(wsload, ["-p", str(port), "-P", "/connection/websocket", "-m",
                                         "centrifugo", "-k", str(cf / "tokens-rooms.txt")] + common)
        return _phase_rows("Centrifugo v6.9.1 (memory engine, no storage)", phases, load)
    finally:
        subprocess.run(["bash", CF_SH, "stop", str(cf)])
