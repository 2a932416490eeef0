#!/usr/bin/env python3
"""bench.py - issue 9's benchmarks (`make bench` runs it through bench/run.sh). A report,
not a test: starts the system in `make run`'s configuration (bench/benchlib.py), seeds it
with bench/seed.py and measures, printing each result and writing them all to
OUT/results.json:

  history   wrk through lighttpd on the newest page, an offset page and a before_seq page
            inside the Redis window, at every --scales step (the data set grows in place;
            Redis is flushed after each growth, and the first, cold read is timed too)
  mixed     /health and non-history calls sampled while wrk loads history
  membership REST join/leave and WebSocket subscribe in a 10- and a 5,000-member room
  sub5000   5,000 sockets subscribing to the 5,000-member room (wsload -J)
  broadcast one room of 1,000 and of 5,000 sockets on one gateway at ~25,000 deliveries/s,
            beside rawfan and Centrifugo under the same load (bench/bench_broadcast.py)
  writes    wsload open loop, 100 rooms of 10 (one sender per room) at --rates, a single
            busy room, and beside it rawfan and Centrifugo under the same load; each
            rate for --seconds (60 covers two of the kernel's 30 s writebacks)
  ceiling   the database's own batched insert_many rate (pymongo, messages' shape)
  load      what 1,000 acked msg/s cost Redis, the database and the gateways (CPU, commands,
            rows), for docs/OPERATIONS.md's sizing table (bench/backend_load.py)
  redis     INFO memory before/after warming windows and member sets; MEMORY USAGE per key
  lookups   login by email, registration uniqueness, room and user by id, user search:
            the repositories' exact MongoDB operations (pymongo), and the REST calls

  python3 bench/bench.py [--scales 10k,100k,1m] [--backend postgresql] [--only a,b]
      [--build-dir /tmp/build-bench] [--out /tmp/chat-bench] [--seconds 10]
  python3 bench/bench.py --backend sqlite --scales 10k --only lookups   (the other backend)
Single-threaded driver (asyncio for sockets); wrk and wsload make the load."""
import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402
from backend_load import bench_backend_load  # noqa: E402
from bench_broadcast import bench_broadcast  # noqa: E402
from bench_ws import bench_membership, bench_sub5000, bench_writes, log_rows  # noqa: E402

HISTORY_SWEEP_CONNECTIONS = (4, 8, 16, 32)
ALL = ["history", "mixed", "membership", "sub5000", "broadcast", "writes", "load", "ceiling",
       "redis", "lookups"]


def seed(stack, scale, out, grow):
    argv = [sys.executable, str(B.REPO / "bench/seed.py"), "--mongo-uri", stack.mongo_uri,
            "--db", stack.mongo_db, "--scale", scale, "--out", str(out)]
    if grow:
        argv.append("--grow")
    t0 = time.time()
    subprocess.run(argv, check=True)
    return time.time() - t0


def cold_read(stack, data, room, user, tok, http, base):
    """The first history request of a room after a (re)start or flush: REST builds the
    window from MongoDB within MONGO_TIMEOUT_MS. When that fails, times the same MongoDB
    query with pymongo, lets a gateway build the window (subscribe with after_seq; its
    workers wait up to WS_MONGO_SOCKET_TIMEOUT_MS) and reads again."""
    from bson import ObjectId
    from pymongo import MongoClient
    tok = tok or B.token(stack, user)
    t, status, body = http.call("GET", base + "?limit=50", tok)
    res = {"first_status": status, "first_ms": round(t * 1000, 1)}
    if status == 200:
        res["total"] = json.loads(body)["total"]
        return res
    res["first_body"] = body[:200].decode(errors="replace")
    db = MongoClient(stack.mongo_uri, socketTimeoutMS=120000)[stack.mongo_db]
    t0 = time.perf_counter()
    docs = list(db.messages.find({"room_id": ObjectId(room["id"])}).sort("seq", -1).limit(500))
    res["mongo_window_query_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    head = docs[0]["seq"] if docs else 0
    t0 = time.perf_counter()
    try:
        res["gateway_subscribe"] = asyncio.run(_ws_subscribe(stack, tok, room["id"], head - 10))
    except Exception as e:  # noqa: BLE001 - a report, not a test
        res["gateway_subscribe"] = repr(e)[:200]
    res["gateway_build_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    for _ in range(30):
        t, status, body = http.call("GET", base + "?limit=50", tok)
        if status == 200:
            break
        time.sleep(2)
    res["after_status"], res["after_ms"] = status, round(t * 1000, 1)
    res["total"] = json.loads(body)["total"] if status == 200 else head
    B.say(f"cold read of {room['name']}: {res}")
    return res


async def _ws_subscribe(stack, tok, room_id, after_seq):
    from ws_client import connect
    c = await connect(stack.ws_url, tok)
    try:
        f = await c.subscribe(room_id, after_seq=after_seq, timeout=60)
        return f.get("type")
    finally:
        await c.close()


def bench_history(stack, data, seconds, scale, results):
    big = data["rooms"][0]
    user = next(u for u in data["users"] if u["id"] == big["members"][1])
    tok = B.token(stack, user)
    http = B.Http(stack.http_url)
    base = f"/api/rooms/{big['id']}/messages"
    cold = cold_read(stack, data, big, user, tok, http, base)
    head = cold["total"]
    small = data["rooms"][1]
    cold_small = cold_read(stack, data, small, next(u for u in data["users"]
                                                   if u["id"] == small["members"][0]),
                           None, http, f"/api/rooms/{small['id']}/messages")
    pages = {"newest": "?limit=50", "offset": "?limit=50&offset=200",
             "before_seq": f"?limit=50&before_seq={head - 300}"}
    row = {"scale": scale, "stored": data["messages"], "room_messages": head,
           "cold_first_read_ms": cold["first_ms"], "cold": cold,
           "cold_first_read_small_ms": cold_small["first_ms"], "cold_small": cold_small}
    for name, q in pages.items():
        load = B.load_avg()
        r = B.wrk(stack.http_url + base + q, tok, seconds)
        r.pop("raw")
        r["load_before"] = round(load, 2)
        row[name] = r
        B.say(f"history {scale} {name}: {r['rps']:.0f} req/s p50 {r['p50_ms']} ms "
              f"p99 {r['p99_ms']} ms non2xx {r['non2xx']} (load {load:.2f})")
    # wrk is a closed loop: with 50 connections the latency is mostly queueing (50 / rate).
    # The same newest page with fewer connections shows the p99 at a given rate.
    row["by_connections"] = []
    for conns in HISTORY_SWEEP_CONNECTIONS:
        load = B.load_avg()
        r = B.wrk(stack.http_url + base + pages["newest"], tok, seconds, conns=conns)
        r.pop("raw")
        r["load_before"], r["connections"] = round(load, 2), conns
        row["by_connections"].append(r)
        B.say(f"history {scale} newest, {conns} connections: {r['rps']:.0f} req/s "
              f"p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms non2xx {r['non2xx']} (load {load:.2f})")
    results.setdefault("history", []).append(row)


def bench_mixed(stack, data, seconds, results):
    """/health and non-history calls, one at a time, while wrk loads history."""
    big, small = data["rooms"][0], data["rooms"][1]
    user = next(u for u in data["users"] if u["id"] == big["members"][1])
    tok = B.token(stack, user)
    other = data["users"][1234]
    http = B.Http(stack.http_url)
    calls = {"GET /health": ("/health", None), "GET /api/users/me": ("/api/users/me", tok),
             "GET /api/rooms/{id}": (f"/api/rooms/{small['id']}", tok),
             "GET /api/users/{id}": (f"/api/users/{other['id']}", tok),
             "GET /api/users?q=": ("/api/users?q=user12&limit=20", tok),
             "GET /api/rooms/{id}/members": (f"/api/rooms/{big['id']}/members?limit=50", tok),
             "GET /api/rooms": ("/api/rooms?limit=50", tok)}
    warm = {}
    for k, (path, t) in calls.items():   # the first call builds the read model's entries
        warm[k] = round(http.call("GET", path, t)[0] * 1000, 1)
    B.say(f"mixed: first (cold) calls in ms: {warm}")
    load = B.load_avg()
    url = f"{stack.http_url}/api/rooms/{big['id']}/messages?limit=50"
    proc = subprocess.Popen(["wrk", "-t2", "-c50", f"-d{seconds + 4}s", "--latency", "--timeout",
                             "10s", "-s", str(B.REPO / "bench/wrk_auth.lua"), url],
                            env=dict(os.environ, BENCH_TOKEN=tok), stdout=subprocess.PIPE,
                            text=True)
    time.sleep(2)
    lat = {k: [] for k in calls}
    bad = {k: 0 for k in calls}
    end = time.time() + seconds
    while time.time() < end:
        for k, (path, t) in calls.items():
            dt_, status, _ = http.call("GET", path, t)
            lat[k].append(dt_)
            bad[k] += status != 200
        time.sleep(0.02)
    out, _ = proc.communicate()
    w = B.parse_wrk(out)
    w.pop("raw")
    res = {"load_before": round(load, 2), "history_under_load": w, "calls": {},
           "cold_first_call_ms": warm}
    for k in calls:
        res["calls"][k] = dict(B.summary_ms(lat[k]), errors=bad[k])
        B.say(f"mixed {k}: {res['calls'][k]}")
    B.say(f"mixed: history meanwhile {w['rps']:.0f} req/s p99 {w['p99_ms']} ms")
    results["mixed"] = res


def bench_ceiling(stack, results):
    """insert_many of message-shaped documents into `messages` (its two unique indexes)
    under a room id no room has, batches of 1, 64 and 100, as fast as one client can."""
    from bson import Int64, ObjectId
    from pymongo import MongoClient
    import datetime as dt
    db = MongoClient(stack.mongo_uri)[stack.mongo_db]
    res = {"load_before": round(B.load_avg(), 2)}
    for batch in (1, 64, 100):
        room, user = ObjectId(), ObjectId()
        seq, t0, n = 0, time.time(), 0
        while time.time() - t0 < 8:
            docs = []
            for _ in range(batch):
                seq += 1
                oid = ObjectId()
                docs.append({"_id": oid, "room_id": room, "seq": Int64(seq), "user_id": user,
                             "username": "ceiling", "content": f"ceiling {seq} " + "x" * 40,
                             "type": "text", "created_at": dt.datetime.now(dt.timezone.utc),
                             "idem_key": str(oid)})
            db.messages.insert_many(docs, ordered=True)
            db.room_heads.update_one({"_id": room}, {"$max": {"seq": Int64(seq)}}, upsert=True)
            n += batch
        secs = time.time() - t0
        res[f"batch_{batch}"] = round(n / secs)
        B.say(f"ceiling: insert_many({batch}) + one $max: {n / secs:,.0f} docs/s")
    results["ceiling"] = res


def bench_redis(stack, data, results):
    """Redis memory: INFO used_memory before/after warming 100 rooms' windows and member
    sets (a history request builds both), and MEMORY USAGE of the keys themselves."""
    B.redis_cli(stack, "FLUSHALL")
    time.sleep(0.5)
    before = int(B.parse_kv(B.redis_cli(stack, "INFO", "memory").replace(":", "="))["used_memory"])
    rooms = data["rooms"][2:42]
    http = B.Http(stack.http_url)
    users = {u["id"]: u for u in data["users"]}
    rest_failed = 0
    for r in rooms:
        tok = B.token(stack, users[r["members"][0]])
        st, status, body = http.call("GET", f"/api/rooms/{r['id']}/messages?limit=50", tok)
        if status != 200:   # REST's 1.5 s MongoDB timeout: let a gateway build the window
            rest_failed += 1
            asyncio.run(_ws_subscribe(stack, tok, r["id"], max(0, r["messages"] - 10)))
            st, status, body = http.call("GET", f"/api/rooms/{r['id']}/messages?limit=50", tok)
    time.sleep(0.5)
    after = int(B.parse_kv(B.redis_cli(stack, "INFO", "memory").replace(":", "="))["used_memory"])
    win_bytes = win_msgs = mem_bytes = mem_n = 0
    for r in rooms:
        for key, kind in ((f"chat:{{{r['id']}}}:win", "w"), (f"chat:{{{r['id']}}}:members", "m")):
            usage = int(B.redis_cli(stack, "MEMORY", "USAGE", key, "SAMPLES", "0").strip() or 0)
            card = int(B.redis_cli(stack, "ZCARD", key).strip() or 0)
            if kind == "w":
                win_bytes, win_msgs = win_bytes + usage, win_msgs + card
            else:
                mem_bytes, mem_n = mem_bytes + usage, mem_n + card
    res = {"rooms": len(rooms), "rest_cold_failures": rest_failed,
           "used_memory_before": before, "used_memory_after": after,
           "delta": after - before, "window_messages": win_msgs, "window_bytes": win_bytes,
           "bytes_per_message": round(win_bytes / max(win_msgs, 1)),
           "memberships": mem_n, "members_bytes": mem_bytes,
           "bytes_per_membership": round(mem_bytes / max(mem_n, 1)),
           "delta_per_item": round((after - before) / max(win_msgs + mem_n, 1))}
    B.say(f"redis: {res}")
    results["redis"] = res


def bench_lookups(stack, data, results):
    """The repositories' MongoDB operations (users_repo.c, rooms_repo.c) straight on
    FerretDB with pymongo: bcrypt excluded by construction."""
    from bson import ObjectId
    from pymongo import MongoClient
    from pymongo.errors import DuplicateKeyError
    import datetime as dt
    db = MongoClient(stack.mongo_uri)[stack.mongo_db]
    rng = random.Random(5)
    users, rooms = data["users"], data["rooms"]
    ops = {
        "login by email (find email_lc)": lambda: db.users.find_one(
            {"email_lc": f"{rng.choice(users)['username']}@bench.example"}),
        "user by id": lambda: db.users.find_one({"_id": ObjectId(rng.choice(users)["id"])},
                                                {"password_hash": 0}),
        "room by id": lambda: db.rooms.find_one({"_id": ObjectId(rng.choice(rooms)["id"])}),
        "user search (regex ^prefix, sort, limit 20)": lambda: list(db.users.find(
            {"username_lc": {"$regex": f"^user{rng.randrange(100):02d}"}},
            {"password_hash": 0}).sort("username_lc", 1).limit(20)),
    }
    res = {"backend": stack.backend, "load_before": round(B.load_avg(), 2), "ops": {}}
    for name, fn in ops.items():
        lat = []
        for _ in range(30 if "search" in name else 200):
            t0 = time.perf_counter()
            fn()
            lat.append(time.perf_counter() - t0)
        res["ops"][name] = B.summary_ms(lat)
    lat_new, lat_dup = [], []
    for i in range(100):
        name = f"zz{int(time.time() * 1000) % 10**9}{i}"
        doc = {"_id": ObjectId(), "username": name, "username_lc": name, "email": f"{name}@x.example",
               "email_lc": f"{name}@x.example", "password_hash": "$2b$12$x",
               "created_at": dt.datetime.now(dt.timezone.utc)}
        t0 = time.perf_counter()
        db.users.insert_one(doc)
        lat_new.append(time.perf_counter() - t0)
        u = rng.choice(users)
        dup = dict(doc, _id=ObjectId(), username=u["username"], username_lc=u["username"],
                   email=f"{name}b@x.example", email_lc=f"{name}b@x.example")
        t0 = time.perf_counter()
        try:
            db.users.insert_one(dup)
        except DuplicateKeyError:
            db.users.find_one({"username_lc": u["username"]}, {"password_hash": 0})
        lat_dup.append(time.perf_counter() - t0)
    res["ops"]["register (insert, unique indexes)"] = B.summary_ms(lat_new)
    res["ops"]["register taken name (refused insert + find username_lc)"] = B.summary_ms(lat_dup)
    for k, v in res["ops"].items():
        B.say(f"lookups {stack.backend} {k}: {v}")
    if stack.lighttpd is not None:
        http = B.Http(stack.http_url)
        me = users[77]
        tok = B.token(stack, me)
        some_users, some_rooms = users[:50], rooms[:50]
        paths = {"GET /api/users/{id}": [f"/api/users/{u['id']}" for u in some_users],
                 "GET /api/rooms/{id}": [f"/api/rooms/{r['id']}" for r in some_rooms],
                 "GET /api/users?q=": [f"/api/users?q=user{i:02d}&limit=20" for i in range(20)]}
        res["rest"] = {}
        for name, ps in paths.items():
            # every id once (cold: reported apart), then 200 random ones, all warm
            first = [http.call("GET", p, tok)[0] for p in ps]
            lat = [http.call("GET", rng.choice(ps), tok)[0] for _ in range(200)]
            res["rest"][name] = B.summary_ms(lat)
            res["rest"][name]["first_pass_p99_ms"] = B.summary_ms(first)["p99_ms"]
            B.say(f"lookups REST {name}: {res['rest'][name]}")
        # what a load tester over the whole population sees: distinct users, each once
        spread = rng.sample(users[50:], min(1000, len(users) - 50))
        lat = [http.call("GET", f"/api/users/{u['id']}", tok)[0] for u in spread]
        res["rest"]["GET /api/users/{id}, 1,000 distinct users"] = B.summary_ms(lat)
        B.say(f"lookups REST 1,000 distinct users: {B.summary_ms(lat)}")
        # a registration of a taken username (the set of logins answers it, user_logins.h)
        # and a login of nobody (its dummy bcrypt at BCRYPT_COST 12 included)
        taken, nobody = [], []
        for i in range(100):
            u = rng.choice(users)
            dt, status, raw = http.call("POST", "/api/auth/register", None,
                                        {"username": u["username"], "email": f"taken{i}@x.example",
                                         "password": "copper-kettle-91-x"})
            assert status == 409, raw
            taken.append(dt)
        for i in range(20):
            dt, status, raw = http.call("POST", "/api/auth/login", None,
                                        {"email": f"nobody{i}@x.example",
                                         "password": "copper-kettle-91-x"})
            assert status == 401, raw
            nobody.append(dt)
        res["rest"]["POST /api/auth/register, taken username"] = B.summary_ms(taken)
        res["rest"]["POST /api/auth/login, nobody (dummy bcrypt)"] = B.summary_ms(nobody)
        B.say(f"lookups REST register taken: {B.summary_ms(taken)}; "
              f"login of nobody: {B.summary_ms(nobody)}")
        # Redis memory of a cached user document (user_docs.h), over those users
        import redis as redis_mod
        r = redis_mod.Redis.from_url(stack.redis_url)
        sizes = [r.memory_usage(f"chat:{{{u['id']}}}:user") or 0 for u in spread[:200]]
        cached = [x for x in sizes if x]
        res["redis_bytes_per_user_doc"] = round(sum(cached) / len(cached)) if cached else None
        res["user_docs_cached_of_200"] = len(cached)
        B.say(f"lookups Redis bytes per cached user document: {res['redis_bytes_per_user_doc']}"
              f" ({len(cached)} of 200 cached)")
    results.setdefault("lookups", {})[stack.backend] = res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scales", default="10k,100k,1m")
    ap.add_argument("--backend", default="postgresql", choices=["postgresql", "sqlite"])
    ap.add_argument("--only", default=",".join(ALL))
    ap.add_argument("--build-dir", default=os.environ.get("CHAT_BUILD_DIR", str(B.REPO / "build")))
    ap.add_argument("--out", default=None)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--skip-seed", action="store_true",
                    help="reuse OUT's seeded database and seed.json (one scale)")
    ap.add_argument("--writes-chat-only", action="store_true",
                    help="writes: only the chat runs (keep rawfan/Centrifugo rows in OUT)")
    ap.add_argument("--rates", default="100,1000,2000,3000",
                    help="open-loop phases in msg/s (the first is a warm-up)")
    ap.add_argument("--load-rate", type=int, default=1000,
                    help="load: the offered rate in msg/s")
    args = ap.parse_args()
    only = set(args.only.split(","))
    out = Path(args.out or tempfile.mkdtemp(prefix="chat-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results.setdefault("runs", []).append({"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                           "backend": args.backend, "only": sorted(only),
                                           "uptime": subprocess.run(["uptime"], capture_output=True,
                                                                    text=True).stdout.strip()})
    stack = B.make_stack(out / f"stack-{args.backend}", args.build_dir, args.backend)
    B.say(f"stack in {stack.workdir} (backend {args.backend}); results in {results_path}")

    def save():
        results_path.write_text(json.dumps(results, indent=1))

    try:
        stack.start_redis()
        stack.start_mongo()
        scales = args.scales.split(",")
        started = False
        for i, scale in enumerate(scales):
            secs = 0.0 if args.skip_seed else seed(stack, scale, out / "seed.json", grow=i > 0)
            data = json.loads((out / "seed.json").read_text())
            if not args.skip_seed:
                results.setdefault("seed", []).append({"backend": args.backend, "scale": scale,
                                                       "messages": data["messages"],
                                                       "seconds": round(secs, 1)})
            B.say(f"seeded {data['messages']:,} messages in {secs:.0f} s")
            if not started:
                B.start_servers(stack)
                started = True
            else:
                B.redis_cli(stack, "FLUSHALL")
            if "history" in only:
                bench_history(stack, data, args.seconds, scale, results)
            save()
        if "mixed" in only:
            bench_mixed(stack, data, args.seconds, results)
            save()
        if "lookups" in only:
            bench_lookups(stack, data, results)
            save()
        if "membership" in only:
            results["membership"] = asyncio.run(bench_membership(stack, data))
            save()
        if "sub5000" in only:
            results["sub5000"] = bench_sub5000(stack, data, out)
            save()
        if "broadcast" in only:
            results["broadcast"] = bench_broadcast(stack, data, out, seconds=args.seconds)
            save()
        if "writes" in only:
            w = bench_writes(stack, data, out, [int(r) for r in args.rates.split(",")], args.seconds,
                             peers=not args.writes_chat_only)
            if args.writes_chat_only and "writes" in results:   # keep the peers' rows
                results["writes_first_attempt"] = results["writes"]
                w["rows"] += [r for r in results["writes"]["rows"] if not r["system"].startswith("chat")]
            results["writes"] = w
            log_rows(w)
            save()
        if "load" in only:
            results["load"] = bench_backend_load(stack, data, out, rate=args.load_rate,
                                                 seconds=max(args.seconds, 20))
            save()
        if "ceiling" in only:
            bench_ceiling(stack, results)
            save()
        if "redis" in only:
            bench_redis(stack, data, results)
            save()
    finally:
        save()
        stack.stop()
    B.say(f"done: {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
