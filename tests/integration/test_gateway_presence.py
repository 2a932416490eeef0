"""test_gateway_presence.py - presence across gateways: a user is online while any of
their sockets is open on any gateway (one event per change per socket, debounced
against flapping), offline after the last one closes, and offline within ~35 s when the
gateway holding them is killed with SIGKILL (the other gateways' sweep). last_seen goes to
MongoDB's last_seen_log in batches (one insert each, at most one per 2 s of steady churn),
never as an update of `users`."""
import asyncio
import signal
import time

from sanitized import SANITIZER_ENV, asan_build_dir, sanitizer_lines
from ws_client import api, connect, create_room, register, wait_until


def _presence_of(uid):
    return lambda f: f.get("type") == "presence" and f.get("user_id") == uid


def test_online_offline_across_gateways(stack):
    owner = register(stack.http_url)
    room = create_room(stack.http_url, owner["token"])
    peer = register(stack.http_url)

    async def run():
        # peer becomes a member, then goes away for good
        p = await connect(stack.gateway_ws_url(1), peer["token"])
        assert (await p.join(room))["type"] == "subscribed"
        await p.close()
        await asyncio.sleep(3.0)  # past the offline debounce

        w0 = await connect(stack.gateway_ws_url(0), owner["token"], name="w@gw0")
        w1 = await connect(stack.ws_url, owner["token"], name="w@lighttpd")
        for w in (w0, w1):
            assert (await w.subscribe(room))["type"] == "subscribed"
        p1 = await connect(stack.gateway_ws_url(1), peer["token"])
        p2 = await connect(stack.gateway_ws_url(0), peer["token"])  # second socket, other gw
        for w in (w0, w1):
            ev = await w.recv_until(_presence_of(peer["id"]), 10)
            assert ev == {"type": "presence", "user_id": peer["id"], "status": "online"}
        # closing one of two sockets changes nothing; closing the last one goes offline
        await p1.close()
        await asyncio.sleep(3.0)
        for w in (w0, w1):
            assert not [f for f in await w.drain(0.2) if _presence_of(peer["id"])(f)]
        t0 = time.monotonic()
        await p2.close()
        for w in (w0, w1):
            ev = await w.recv_until(_presence_of(peer["id"]), 10)
            assert ev["status"] == "offline"
        assert time.monotonic() - t0 < 8
        # a quick reconnect (flapping) inside the debounce is not reported at all
        p3 = await connect(stack.gateway_ws_url(1), peer["token"])
        await w0.recv_until(_presence_of(peer["id"]), 10)  # online again
        await p3.close()
        p4 = await connect(stack.gateway_ws_url(1), peer["token"])
        await asyncio.sleep(3.0)
        assert not [f for f in await w0.drain(0.2) if _presence_of(peer["id"])(f)]
        # exactly one event per change reached each socket
        for w in (w0, w1):
            evs = [f["status"] for f in w.frames if _presence_of(peer["id"])(f)]
            assert evs[:2] == ["online", "offline"], evs
        await p4.close()
        for w in (w0, w1):
            await w.close()

    asyncio.run(run())


def _log_seen(db, oid):
    """The user's latest time (ms) in last_seen_log, or None. last_seen_log.h: each
    document packs its entries into `seen`, 20 bytes each (the ObjectId's 12, then the
    time as a little-endian int64 of ms)."""
    best = None
    for d in db.last_seen_log.find({}):
        b = bytes(d["seen"])
        for i in range(0, len(b) - 19, 20):
            if b[i:i + 12] == oid.binary:
                t = int.from_bytes(b[i + 12:i + 20], "little", signed=True)
                best = t if best is None or t > best else best
    return best


def test_last_seen_is_written_in_batches(make_stack):
    """A socket's close notes its user's last_seen; a gateway writes the noted ones as one
    insert into last_seen_log at most every 2 s (PRESENCE__SEEN_EVERY_MS), and `users` is
    not updated: on FerretDB an update of `users` scans every user (~10 ms each at 10,000
    users, ~0.75 s for an `$in` of many), an insert does not. A close right after a batch
    waits for the next one; it is not lost. REST shows it from the cached document, and
    after a Redis loss from MongoDB (the user's document and the log)."""
    import redis
    from bson import ObjectId
    from pymongo import MongoClient

    s = make_stack(gateways=1)
    first, second = register(s.http_url), register(s.http_url)
    db = MongoClient(s.mongo_uri)[s.mongo_db]

    def seen(user):
        return _log_seen(db, ObjectId(user["id"]))

    def wait_seen(user, limit_s):
        t0 = time.monotonic()
        while seen(user) is None and time.monotonic() - t0 < limit_s:
            time.sleep(0.05)
        return seen(user) is not None

    async def close_one(user):
        c = await connect(s.gateway_ws_url(0), user["token"])
        await c.send({"type": "ping"})  # answered once admitted: the user is online
        await c.recv_until(lambda f: f.get("type") == "pong", 10)
        await c.close()

    def shown(user):
        st, got = api(s.http_url, "GET", f"/api/users/{user['id']}", first["token"])
        assert st == 200, (st, got)
        return got["last_seen"]

    try:
        asyncio.run(close_one(first))
        assert wait_seen(first, 15), "the first close's last_seen was never written"
        written = time.monotonic()
        asyncio.run(close_one(second))  # right after a batch: waits for the next
        time.sleep(0.5)
        assert seen(second) is None, "written again within 0.5 s of the previous batch"
        assert wait_seen(second, 15), "the second close's last_seen was never written"
        assert time.monotonic() - written > 1.2
        for u in (first, second):
            assert db.users.find_one({"_id": ObjectId(u["id"])}).get("last_seen") is None, \
                "users was updated"
        # the cached document REST answers from takes the same last_seen (user_docs.h:
        # it does not expire, so without that a profile would show none for good)
        cached = shown(second)
        assert cached, "no last_seen in the cached document"
        redis.Redis.from_url(s.redis_url).flushall()
        assert shown(second) == cached, "after a Redis loss, last_seen read from MongoDB differs"
        assert shown(first), "after a Redis loss, no last_seen"
    finally:
        db.client.close()


def test_a_mass_close_does_not_stop_the_stores_on_sqlite(make_stack):
    """Many users going offline at once: their last_seen batch must not stop the other
    writes. On FerretDB/SQLite (the test stacks' backend) a filtered write holds the
    database's one write lock while it decodes the collection: an `$in` update of `users`
    for a batch of more than 64 users held it for seconds (1,000 beside 10,000 users: 54 s,
    measured), and every message's insert waited behind it. A batch is now one insert into
    last_seen_log, whatever the number of users. The servers are the ASan+UBSan build: a
    SIGTERM after the batches frees everything."""
    from bson import ObjectId
    from pymongo import MongoClient

    s = make_stack(gateways=1, build_dir=asan_build_dir(), env=SANITIZER_ENV)
    owner = register(s.http_url)
    room = create_room(s.http_url, owner["token"])
    closers = [register(s.http_url) for _ in range(200)]
    db = MongoClient(s.mongo_uri)[s.mongo_db]
    # users like the registered ones, so that a scan of `users` costs what it would
    model = db.users.find_one({"_id": ObjectId(owner["id"])})
    pad = []
    for i in range(6000):
        doc = dict(model, _id=ObjectId(), username=f"pad{i}", username_lc=f"pad{i}")
        for k in ("email", "email_lc"):
            if k in doc:
                doc[k] = f"pad{i}@example.com"
        pad.append(doc)
    db.users.insert_many(pad)
    ids = [ObjectId(u["id"]) for u in closers]

    def written():
        return sum(_log_seen(db, i) is not None for i in ids)

    async def run():
        sender = await connect(s.gateway_ws_url(0), owner["token"])
        assert (await sender.subscribe(room))["type"] == "subscribed"
        socks = [await connect(s.gateway_ws_url(0), u["token"]) for u in closers]
        for c in socks:
            await c.send({"type": "ping"})  # answered once admitted: the user is online
            await c.recv_until(lambda f: f.get("type") == "pong", 10)
        closed = time.monotonic()
        await asyncio.gather(*(c.close() for c in socks))
        acks = []
        while time.monotonic() - closed < 6.0:
            t0 = time.monotonic()
            got = await sender.send_message(room, "while they go", timeout=30)
            assert got["type"] == "ack", got
            acks.append(time.monotonic() - t0)
            await asyncio.sleep(0.1)
        await sender.close()
        return acks, closed

    try:
        acks, closed = asyncio.run(run())
        n = written()
        print(f"acks: {len(acks)}, slowest {max(acks) * 1000:.0f} ms; last_seen written for "
              f"{n} of {len(ids)} after {time.monotonic() - closed:.1f} s ({s.backend})")
        assert max(acks) < 0.8, f"a store waited {max(acks):.2f} s behind the last_seen batch"
        assert n == len(ids), f"last_seen written for {n} of {len(ids)} after 6 s"
        assert db.users.count_documents({"_id": {"$in": ids}, "last_seen": {"$exists": True}}) \
            == 0, "users was updated"
    finally:
        db.client.close()
    rc = s.kill_gateway(0, signal.SIGTERM, timeout=30)
    log = s.log_text("gateway0")
    assert not sanitizer_lines(log), log[-6000:]
    assert rc == 0, log[-3000:]


def test_killed_gateway_users_go_offline(make_stack):
    s = make_stack(gateways=2)
    owner = register(s.http_url)
    room = create_room(s.http_url, owner["token"])
    peer = register(s.http_url)

    async def run():
        w = await connect(s.gateway_ws_url(0), owner["token"])
        assert (await w.subscribe(room))["type"] == "subscribed"
        p = await connect(s.gateway_ws_url(1), peer["token"])
        assert (await p.join(room))["type"] == "subscribed"
        ev = await w.recv_until(_presence_of(peer["id"]), 10)
        assert ev["status"] == "online"
        t0 = time.monotonic()
        s.kill_gateway(1, signal.SIGKILL)
        ev = await w.recv_until(_presence_of(peer["id"]), 45)
        took = time.monotonic() - t0
        assert ev["status"] == "offline"
        print(f"offline seen {took:.1f} s after kill -9")
        assert took <= 38
        await w.close()

    asyncio.run(run())


def test_presence_dedupe_is_bounded_per_process(make_stack):
    """Issue 11: a session is told a user's status once even when they share several
    rooms (its dedupe map), and all sessions' maps together hold at most
    WS_PRESENCE_SEEN_MAX users: past it a status is told again rather than remembered.
    With the default the watcher gets one "online" for a peer in two shared rooms; with
    WS_PRESENCE_SEEN_MAX=0 (nothing may be remembered) it gets one per room."""
    s = make_stack(gateways=1)
    owner = register(s.http_url)
    peers = [register(s.http_url) for _ in range(2)]
    rooms = [create_room(s.http_url, owner["token"]) for _ in range(2)]
    for p in peers:
        for r in rooms:
            assert api(s.http_url, "POST", f"/api/rooms/{r}/join", p["token"])[0] == 200

    async def onlines_seen(peer):
        w = await connect(s.gateway_ws_url(0), owner["token"], name="watcher")
        for r in rooms:
            assert (await w.subscribe(r))["type"] == "subscribed"
        p = await connect(s.gateway_ws_url(0), peer["token"], name="peer")
        await w.recv_until(_presence_of(peer["id"]), 10)
        await asyncio.sleep(1.5)
        await w.drain(0.3)
        seen = [f["status"] for f in w.frames if _presence_of(peer["id"])(f)]
        await p.close()
        await w.close()
        return seen

    assert asyncio.run(onlines_seen(peers[0])) == ["online"]
    s.kill_gateway(0, sig=signal.SIGTERM)
    s.start_gateway(0, extra_env={"WS_PRESENCE_SEEN_MAX": "0"})
    assert asyncio.run(onlines_seen(peers[1])) == ["online", "online"]
