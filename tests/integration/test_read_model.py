"""test_read_model.py - the Redis read model on real processes (issue 9): history served
from a room's window and across its edge into MongoDB, the same answers after Redis is
flushed or restarted while messages flow, members right after Redis lost them, the
idempotency key scoped to the room, gap backfill that pages until caught up, and hot
paths that read neither `messages` nor `room_members` from MongoDB (counted from the
servers' DB_TRACE log lines, one per MongoDB command). Runs in the pytest process."""
import asyncio
import json
import os
import re
import secrets
import signal
import time

import pytest
import redis

from metrics_text import gateway_page, sample
from rest_client import Client
from ws_client import connect, is_room_message

WINDOW = 30


def _history(c, user, room_id, query=""):
    r = c.get(f"/api/rooms/{room_id}/messages{query}", user["token"])
    assert r.status_code == 200, r.text
    return r.json()


def _check_history(c, user, room_id, stored):
    """Every page shape of SPEC section 2 against the list of stored messages (oldest
    first): ids, order, total, offsets, both cursors."""
    n = len(stored)
    ids = [m["id"] for m in stored]
    p = _history(c, user, room_id, "?limit=200")
    assert p["total"] == n
    assert [m["id"] for m in p["messages"]] == ids[-200:]
    assert [m["seq"] for m in p["messages"]] == [m["seq"] for m in stored][-200:]
    for offset in (0, 7, WINDOW - 5, WINDOW, WINDOW + 3, n - 10, n - 1, n):
        for limit in (1, 10, 25):
            p = _history(c, user, room_id, f"?limit={limit}&offset={offset}")
            end = max(0, n - offset)
            want = ids[max(0, end - limit):end]
            assert [m["id"] for m in p["messages"]] == want, (offset, limit)
            assert p["total"] == n and p["offset"] == offset
    for before in (2, 10, n - WINDOW - 2, n - WINDOW + 1, n - 3, n + 1, n + 50):
        p = _history(c, user, room_id, f"?before_seq={before}&limit=20")
        want = [m["id"] for m in stored if m["seq"] < before][-20:]
        assert [m["id"] for m in p["messages"]] == want, before
    for after in (0, 5, n - WINDOW - 1, n - WINDOW + 2, n - 2, n):
        p = _history(c, user, room_id, f"?after_seq={after}&limit=20")
        want = [m["id"] for m in stored if m["seq"] > after][:20]
        assert [m["id"] for m in p["messages"]] == want, after


async def _send_many(client, room_id, n, tag):
    """Sends n messages and waits for all acks; returns the acks in seq order."""
    cmids = [f"{tag}-{i}-{secrets.token_hex(3)}" for i in range(n)]
    for i, cmid in enumerate(cmids):
        await client.send({"type": "message", "room_id": room_id, "content": f"{tag} {i}",
                           "client_msg_id": cmid})
    wanted = set(cmids)
    acks = await client.collect(lambda f: f.get("type") in ("ack", "error")
                                and f.get("client_msg_id") in wanted, n, timeout=60)
    assert all(a["type"] == "ack" for a in acks), [a for a in acks if a["type"] != "ack"][:3]
    return sorted(acks, key=lambda a: a["seq"])


def _all_stored(c, user, room_id):
    """The room's whole history through REST, oldest first (before_seq cursors)."""
    out = []
    before = None
    while True:
        q = "?limit=200" + (f"&before_seq={before}" if before else "")
        page = _history(c, user, room_id, q)["messages"]
        out = page + out
        if len(page) < 200:
            return out
        before = page[0]["seq"]


def test_history_across_the_window_edge_and_after_redis_loss(make_stack):
    s = make_stack(gateways=1, env={"HISTORY_WINDOW": str(WINDOW)})
    c = Client(s)
    owner = c.new_user()
    reader = c.new_user()
    room = c.new_room(owner)["id"]
    c.join(reader, room)
    r = redis.Redis.from_url(s.redis_url)

    async def run():
        a = await connect(s.gateway_ws_url(0), owner["token"], name="a")
        assert (await a.subscribe(room))["type"] == "subscribed"
        await _send_many(a, room, 3 * WINDOW, "first")
        stored = _all_stored(c, owner, room)
        assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))
        _check_history(c, reader, room, stored)
        # flushed while a sender keeps going
        sender = asyncio.create_task(_send_many(a, room, 40, "flush"))
        await asyncio.sleep(0.2)
        r.flushall()
        await sender
        stored = _all_stored(c, owner, room)
        assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))
        assert len(stored) == 3 * WINDOW + 40 + 1  # + the reader's join
        _check_history(c, reader, room, stored)
        # restarted while a sender keeps going (the acks wait for Redis)
        sender = asyncio.create_task(_send_many(a, room, 40, "restart"))
        await asyncio.sleep(0.2)
        s.stop_redis()
        await asyncio.sleep(1.0)
        s.start_redis()
        await sender
        stored2 = _all_stored(c, owner, room)
        assert stored2[:len(stored)] == stored
        assert [m["seq"] for m in stored2] == list(range(1, len(stored2) + 1))
        _check_history(c, reader, room, stored2)
        await a.close()

    asyncio.run(run())


def test_members_after_redis_loss(make_stack):
    s = make_stack(gateways=1)
    c = Client(s)
    owner, b, d = c.new_user(), c.new_user(), c.new_user()
    room = c.new_room(owner, private=True)["id"]
    for u in (b, d):
        assert c.post(f"/api/rooms/{room}/members", {"user_id": u["id"]}, owner["token"]).status_code in (200, 201)
    c.leave(d, room)

    def members():
        r = c.get(f"/api/rooms/{room}/members?limit=200", owner["token"])
        assert r.status_code == 200, r.text
        return sorted(m["id"] for m in r.json()["members"])

    assert members() == sorted([owner["id"], b["id"]])
    redis.Redis.from_url(s.redis_url).flushall()
    # rebuilt from MongoDB: the one who left stays out, the others stay in
    assert members() == sorted([owner["id"], b["id"]])
    assert c.get(f"/api/rooms/{room}/messages", d["token"]).status_code == 404  # SPEC: hidden
    assert c.get(f"/api/rooms/{room}/messages", b["token"]).status_code == 200
    s.stop_redis()
    s.start_redis()
    # a join right after a restart is seen by the next read, on both paths
    assert c.post(f"/api/rooms/{room}/members", {"user_id": d["id"]}, owner["token"]).status_code in (200, 201)
    assert members() == sorted([owner["id"], b["id"], d["id"]])
    assert c.get(f"/api/rooms/{room}/messages", d["token"]).status_code == 200

    async def run():
        ws = await connect(s.gateway_ws_url(0), d["token"], name="d")
        assert (await ws.subscribe(room))["type"] == "subscribed"
        await ws.close()
        c.leave(b, room)
        ws = await connect(s.gateway_ws_url(0), b["token"], name="b")
        assert (await ws.subscribe(room))["type"] == "error"
        await ws.close()

    asyncio.run(run())


def test_same_client_msg_id_in_two_rooms_stores_both(stack):
    c = Client(stack)
    u = c.new_user()
    rooms = [c.new_room(u)["id"], c.new_room(u)["id"]]

    async def run():
        ws = await connect(stack.gateway_ws_url(0), u["token"], name="u")
        acks = [await ws.send_message(r, f"to {r}", client_msg_id="same-id") for r in rooms]
        assert all(a["type"] == "ack" for a in acks), acks
        assert acks[0]["id"] != acks[1]["id"]
        # each resend gets its own room's ack back
        again = [await ws.send_message(r, f"to {r}", client_msg_id="same-id") for r in rooms]
        assert [a["id"] for a in again] == [a["id"] for a in acks]
        await ws.close()

    asyncio.run(run())
    for r, text in zip(rooms, (f"to {rooms[0]}", f"to {rooms[1]}")):
        msgs = [m for m in _history(c, u, r)["messages"] if m["type"] == "text"]
        assert [m["content"] for m in msgs] == [text]


def test_backfill_pages_until_caught_up(make_stack):
    """The reported loss: Redis killed, 450 messages stored through gateway A in a quiet
    room, A killed (what it held for Redis is gone), Redis restarted. Gateway B's client
    must receive all 450 without waiting for a later live message."""
    s = make_stack(gateways=2)
    c = Client(s)
    owner, other = c.new_user(), c.new_user()
    room = c.new_room(owner)["id"]
    c.join(other, room)
    n = 450

    async def run():
        # two sockets: a session holds at most 256 messages waiting for their acks
        senders = [await connect(s.gateway_ws_url(0), owner["token"], name=f"a{k}@gw0")
                   for k in range(2)]
        b = await connect(s.gateway_ws_url(1), other["token"], name="b@gw1")
        for a in senders:
            assert (await a.subscribe(room))["type"] == "subscribed"
        assert (await b.subscribe(room))["type"] == "subscribed"
        s.stop_redis()
        await asyncio.sleep(1.5)
        for i in range(n):
            await senders[i % 2].send({"type": "message", "room_id": room,
                                       "content": f"quiet {i}", "client_msg_id": f"q-{i}"})
        # gateway A stores them (its own subscribers see them) before it dies
        for a in senders:
            await a.collect(lambda f: is_room_message(f) and f["type"] == "text", n, timeout=60)
        s.kill_gateway(0)
        s.start_redis()
        got = await b.collect(lambda f: is_room_message(f) and f["type"] == "text", n, timeout=60)
        assert sorted(f["content"] for f in got) == sorted(f"quiet {i}" for i in range(n))
        seqs = [f["seq"] for f in got]
        assert seqs == sorted(seqs) and len(set(seqs)) == n
        await b.close()

    asyncio.run(run())


def _trace_lines(s, names, marks):
    """DB_TRACE lines logged by the named processes since marks (byte offsets)."""
    out = []
    for name in names:
        text = s.log_text(name)[marks.get(name, 0):]
        for line in text.splitlines():
            if '"db command"' in line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out


def test_hot_paths_read_neither_messages_nor_members(make_stack):
    s = make_stack(gateways=2, env={"DB_TRACE": "1", "HISTORY_WINDOW": "100"})
    c = Client(s)
    owner = c.new_user()
    readers = [c.new_user() for _ in range(3)]
    room = c.new_room(owner)["id"]
    for u in readers:
        c.join(u, room)
    names = ["lighttpd", "gateway0", "gateway1"]

    def marks():
        return {n: len(s.log_text(n)) for n in names}

    def reads(since, coll):
        return [x for x in _trace_lines(s, names, since)
                if x.get("op") == "read" and x.get("collection") == coll]

    async def run():
        a = await connect(s.gateway_ws_url(0), owner["token"], name="a")
        assert (await a.subscribe(room))["type"] == "subscribed"
        acks = await _send_many(a, room, 150, "hot")
        head = acks[-1]["seq"]
        await a.close()
        # a page below the window is read from MongoDB, and the trace sees it
        m = marks()
        assert _history(c, readers[0], room, "?before_seq=10&limit=5")["messages"]
        assert reads(m, "messages"), "the trace did not see a MongoDB read"

        m = marks()
        phases = [("history", time.time())]
        t0 = time.monotonic()
        for i in range(30):
            u = readers[i % len(readers)]
            for q in ("", "?limit=20&offset=30", f"?before_seq={head - 40}&limit=30",
                      f"?after_seq={head - 60}&limit=50"):
                p = _history(c, u, room, q)
                assert p["total"] == head and p["messages"]
        rest_took = time.monotonic() - t0
        phases.append(("subscribes", time.time()))
        # subscribes with a replay inside the window, on both gateways, and resumes in
        # the URL of sockets that moved from a killed gateway
        for i in range(30):
            u = readers[i % len(readers)]
            ws = await connect(s.gateway_ws_url(i % 2), u["token"], name=f"s{i}")
            f = await ws.subscribe(room, after_seq=head - 20)
            assert f["type"] == "subscribed", f
            await ws.wait_for_new(lambda f: is_room_message(f) and f["seq"] == head, 0, 10)
            got = [x["seq"] for x in ws.frames if is_room_message(x)]
            assert got == list(range(head - 19, head + 1))
            await ws.close()
        phases.append(("moved", time.time()))
        moved = [await connect(s.gateway_ws_url(1), u["token"], name="moved") for u in readers]
        for ws in moved:
            assert (await ws.subscribe(room))["type"] == "subscribed"
        s.kill_gateway(1)
        for ws in moved:
            await ws.wait_closed(10)
        phases.append(("resumes", time.time()))
        for u in readers:
            ws = await connect(s.gateway_ws_url(0), u["token"], room_id=room,
                               after_seq=head - 50, name="resumed")
            await ws.wait_for_new(lambda f: is_room_message(f) and f["seq"] == head, 0, 10)
            got = [x["seq"] for x in ws.frames if is_room_message(x)]
            assert got == list(range(head - 49, head + 1))
            await ws.close()
        print(f"\n120 history requests in {rest_took:.2f} s; "
              f"{len(_trace_lines(s, names, m))} MongoDB commands in all")
        for coll in ("messages", "room_members"):
            seen = [(x["ts"], x["component"], x["command"]) for x in reads(m, coll)]
            assert seen == [], (coll, seen, phases)

    asyncio.run(run())


def _room_with_members(s, n):
    """n new users who joined one new room (of another owner): (users, room id)."""
    c = Client(s)
    owner = c.new_user()
    users = [c.new_user() for _ in range(n)]
    room = c.new_room(owner)["id"]
    for u in users:
        c.join(u, room)
    return users, room


def _subscribe_one_by_one(s, users, room):
    """Each user connects to gateway 0, subscribes and leaves, one after the other (each
    socket its own admission batch)."""
    async def run():
        for u in users:
            ws = await connect(s.gateway_ws_url(0), u["token"], name=u["username"])
            assert (await ws.subscribe(room))["type"] == "subscribed"
            await ws.close()

    asyncio.run(run())


def test_a_cold_read_model_costs_one_read_not_one_per_user(make_stack):
    """After Redis lost everything, users who connect one by one (each its own admission
    batch) are answered from the set of all ids and from room sets warmed for everybody:
    one read of `users` and of `room_members` in all, not one per user (on FerretDB each
    such read decodes the whole collection)."""
    s = make_stack(gateways=1, env={"DB_TRACE": "1"})
    users, room = _room_with_members(s, 12)
    redis.Redis.from_url(s.redis_url).flushall()
    names = ["gateway0"]
    since = {n: len(s.log_text(n)) for n in names}
    _subscribe_one_by_one(s, users, room)
    lines = _trace_lines(s, names, since)
    by_coll = {}
    for x in lines:
        if x.get("op") == "read":
            by_coll.setdefault(x.get("collection"), []).append(x.get("command"))
    # users: the set of ids, built once; room_members: everybody's room sets once, and the
    # room's member set once
    assert len(by_coll.get("users", [])) == 1, by_coll
    assert len(by_coll.get("room_members", [])) <= 2, by_coll
    assert s.log_has("gateway0", "read model was cold: room sets warmed for everybody")


def _restart_on_a_flushed_redis(s):
    """Gateway 0 killed, Redis flushed, the gateway started again and its warm-up of the
    cold read model waited for: a Redis client."""
    s.kill_gateway(0)
    r = redis.Redis.from_url(s.redis_url)
    r.flushall()
    s.start_gateway(0)
    deadline = time.time() + 20
    while ("read model was cold at start: room sets warmed" not in s.log_text("gateway0")
           or not r.exists("chat:users:names:meta")):
        assert time.time() < deadline, s.log_text("gateway0")[-3000:]
        time.sleep(0.1)
    return r


def test_a_gateway_warms_a_cold_read_model_at_start(make_stack):
    """A gateway that starts on a Redis without the read model builds the set of all
    ids, everybody's room sets, every room's member set and the usernames before the
    first socket comes: the sockets that come next cost no read of `users` or of
    `room_members`, and neither do REST's first look at the room and a first search."""
    s = make_stack(gateways=1, env={"DB_TRACE": "1"})
    users, room = _room_with_members(s, 5)
    r = _restart_on_a_flushed_redis(s)
    assert '"member_sets":"' in s.log_text("gateway0")
    assert re.search(r'"duration_ms":"\d+"', s.log_text("gateway0")), s.log_text("gateway0")
    # the warm-up is counted by outcome and timed on the gateway's /metrics
    page = gateway_page(s, 0)
    assert sample(page, "chat_gateway_read_model_warms_total", outcome="built") == 1, page
    assert sample(page, "chat_gateway_read_model_warms_total", outcome="failed") == 0, page
    assert sample(page, "chat_gateway_read_model_warm_seconds_count") == 1, page
    since = {"gateway0": len(s.log_text("gateway0")), "lighttpd": len(s.log_text("lighttpd"))}
    _subscribe_one_by_one(s, users, room)
    c = Client(s)
    got = c.get(f"/api/rooms/{room}", token=users[0]["token"])
    assert got.status_code == 200, got.text
    assert users[0]["id"] in [m["id"] if isinstance(m, dict) else m
                              for m in got.json().get("members", [])], got.json()
    assert got.json()["member_count"] == 6, got.json()
    found = c.get("/api/users", token=users[0]["token"], params={"q": "nobody-has-this-name"})
    assert found.status_code == 200 and found.json()["users"] == [], found.text
    reads = [(x.get("collection"), x.get("command"))
             for x in _trace_lines(s, ["gateway0", "lighttpd"], since) if x.get("op") == "read"]
    assert not [r for r in reads if r[0] in ("users", "room_members")], reads
    # a start on a warm read model reads nothing and says so
    s.kill_gateway(0)
    s.start_gateway(0)
    deadline = time.time() + 20
    while True:
        page = gateway_page(s, 0)
        if sample(page, "chat_gateway_read_model_warms_total", outcome="already_warm"):
            break
        assert time.time() < deadline, page
        time.sleep(0.1)
    assert sample(page, "chat_gateway_read_model_warms_total", outcome="built") == 0, page
    assert sample(page, "chat_gateway_read_model_warm_seconds_count") == 0, page


def test_a_gateway_that_starts_after_rest_rebuilt_the_ids_warms_at_once(make_stack):
    """Redis flushed while the gateway is down, and a REST call first: REST rebuilds the
    set of all ids on its own, so the gateway's start finds that set warm. It still
    warms the rest at once (its start sees no mark of the windows' warm-up for this Redis
    run), before its first sockets. Before, it counted the read model as already warm and
    the warm-up came ~4 s later from its periodic look ("read model lost mid-run"), while
    the first sockets' checks waited for it (1.6-1.8 s at 100,000 messages)."""
    s = make_stack(gateways=1, env={"DB_TRACE": "1"})
    users, room = _room_with_members(s, 5)
    asyncio.run(_post_some(s, users[0], room, 3))
    s.kill_gateway(0)
    r = redis.Redis.from_url(s.redis_url)
    r.flushall()
    c = Client(s)
    got = c.get(f"/api/rooms/{room}", token=users[0]["token"])
    assert got.status_code == 200, got.text
    assert r.exists("chat:users:ids:meta"), "REST did not rebuild the set of ids"
    since = len(s.log_text("gateway0"))
    s.start_gateway(0)
    text = _wait_log(s, "gateway0", since, '"msg":"room windows', timeout=15)
    assert "read model was partly cold at start: room sets warmed for everybody" in text, text
    assert "read model lost mid-run" not in text, text
    page = gateway_page(s, 0)
    assert sample(page, "chat_gateway_read_model_warms_total", outcome="built") == 1, page
    assert sample(page, "chat_gateway_read_model_warms_total", outcome="already_warm") == 0, page
    # the first sockets find the sets warm: no read of users or room_members
    mark = {"gateway0": len(s.log_text("gateway0"))}
    _subscribe_one_by_one(s, users, room)
    reads = [(x.get("collection"), x.get("command"))
             for x in _trace_lines(s, ["gateway0"], mark) if x.get("op") == "read"]
    assert not [x for x in reads if x[0] in ("users", "room_members")], reads


async def _post_some(s, user, room, n):
    """n messages from user in room through gateway 0, each acked."""
    ws = await connect(s.gateway_ws_url(0), user["token"], name=user["username"])
    assert (await ws.subscribe(room))["type"] == "subscribed"
    for i in range(n):
        assert (await ws.send_message(room, f"warm {i}"))["type"] == "ack"
    await ws.close()


def test_after_a_warm_up_user_lookups_and_logins_read_no_users(make_stack):
    """The warm-up's one read of `users` (the set of ids) also caches every user's
    document and logins (user_docs.h), and those documents do not expire: afterwards a
    profile, a search and a login of any user cost no read of `users` (on FerretDB each
    such read is a scan, ~10 ms by id on PostgreSQL), and a profile shows what was
    changed before Redis was lost."""
    s = make_stack(gateways=1, env={"DB_TRACE": "1"})
    c = Client(s)
    users = [c.new_user() for _ in range(4)]
    assert c.patch("/api/users/me", {"display_name": "Before Loss"},
                   token=users[1]["token"]).status_code == 200
    r = _restart_on_a_flushed_redis(s)
    since = {"lighttpd": len(s.log_text("lighttpd"))}
    viewer = users[0]
    for u in users:
        got = c.get(f"/api/users/{u['id']}", token=viewer["token"])
        assert got.status_code == 200 and got.json()["username"] == u["username"], got.text
    assert c.get(f"/api/users/{users[1]['id']}",
                 token=viewer["token"]).json()["display_name"] == "Before Loss"
    found = c.get("/api/users", token=viewer["token"], params={"q": users[2]["username"]})
    assert [x["id"] for x in found.json()["users"]] == [users[2]["id"]], found.text
    assert c.login(users[3]["email"].upper())
    reads = [(x.get("collection"), x.get("command"))
             for x in _trace_lines(s, ["lighttpd"], since) if x.get("op") == "read"]
    assert not [x for x in reads if x[0] == "users"], reads
    assert r.ttl(f"chat:{{{users[2]['id']}}}:user") == -1  # kept, not expiring


def test_taken_names_and_unknown_logins_cost_no_read_of_users(make_stack):
    """The set of logins (user_logins.h) answers a registration of a taken username or
    email (409 before any bcrypt or insert) and a login of nobody (401) with no MongoDB
    command on `users` (on FerretDB/SQLite a lookup by email decodes the whole
    collection); a new name still registers and logs in, also after Redis was lost."""
    s = make_stack(gateways=1, env={"DB_TRACE": "1"})
    c = Client(s)
    ann = c.new_user()
    r = _restart_on_a_flushed_redis(s)  # the warm-up builds the set from MongoDB
    assert r.exists("chat:users:logins:meta")
    since = {"lighttpd": len(s.log_text("lighttpd"))}
    calls = [("reg-taken-name", "/api/auth/register",
              {"username": ann["username"].upper(), "email": "other_" + ann["email"],
               "password": "copper-kettle-91"}, 409, "username_taken"),
             ("reg-taken-email", "/api/auth/register",
              {"username": "x" + ann["username"], "email": ann["email"].upper(),
               "password": "copper-kettle-91"}, 409, "email_taken"),
             ("login-nobody", "/api/auth/login",
              {"email": "nobody_" + secrets.token_hex(4) + "@example.com",
               "password": "copper-kettle-91"}, 401, "invalid_credentials")]
    for rid, path, body, status, code in calls:
        got = c.post(path, body, headers={"X-Request-Id": rid})
        assert got.status_code == status and code in got.text, (rid, got.text)
    time.sleep(0.3)
    mine = [x for x in _trace_lines(s, ["lighttpd"], since)
            if x.get("req") in {call[0] for call in calls}]
    assert not [x for x in mine if x.get("collection") == "users"], mine
    bob = c.new_user()  # a free name: the insert, then the set
    assert r.zscore("chat:users:logins", "u:" + bob["username"].lower()) is not None
    assert c.login(ann["username"].upper())


def test_a_join_answers_before_room_heads_is_raised(make_stack):
    """A REST join writes room_members and its system message before it answers, and
    raises room_heads (a lower bound, the slowest of the three writes on FerretDB) only
    after the reply is out: none of the request's own MongoDB commands touches
    room_heads, and the same process raises it right after. DB_TRACE also times each
    command ("db command done")."""
    s = make_stack(gateways=1, env={"DB_TRACE": "1"})
    c = Client(s)
    owner, joiner = c.new_user(), c.new_user()
    room = c.new_room(owner)["id"]
    since = {"lighttpd": len(s.log_text("lighttpd"))}
    r = c.post(f"/api/rooms/{room}/join", token=joiner["token"],
               headers={"X-Request-Id": "join-heads-1"})
    assert r.status_code == 200, r.text
    deadline = time.time() + 10
    while True:
        lines = _trace_lines(s, ["lighttpd"], since)
        mine = [x for x in lines if x.get("req") == "join-heads-1"]
        pid = mine[0].get("pid") if mine else None
        later = [x for x in lines if x.get("req") != "join-heads-1" and x.get("pid") == pid
                 and x.get("collection") == "room_heads" and x.get("command") == "update"]
        if later or time.time() > deadline:
            break
        time.sleep(0.1)
    writes = [(x["command"], x["collection"]) for x in mine if x.get("op") == "write"]
    assert ("insert", "room_members") in writes and ("insert", "messages") in writes, writes
    assert not [w for w in writes if w[1] == "room_heads"], writes
    assert later, "room_heads was not raised after the reply"
    done = [json.loads(ln) for ln in s.log_text("lighttpd")[since["lighttpd"]:].splitlines()
            if '"db command done"' in ln]
    assert done and all(float(d["ms"]) >= 0 and d.get("request_id") for d in done)
    # the head it raised is the join's system message
    p = c.get(f"/api/rooms/{room}/messages?limit=1", owner["token"]).json()
    assert p["messages"][-1]["type"] == "system" and p["total"] == p["messages"][-1]["seq"]


def test_an_authenticated_call_reads_no_user_document(make_stack):
    """A REST call checks that the token's user still exists in the read model (O(1) in
    Redis) and takes the username from the token: a user whose document is not cached
    (expired, or never loaded: tokens minted by an embedder) costs no read of `users`.
    GET /api/users/me still answers the whole profile (a deleted user's token:
    test_authz_edges)."""
    s = make_stack(gateways=1, env={"DB_TRACE": "1"})
    c = Client(s)
    owner, joiner = c.new_user(), c.new_user()
    assert c.patch("/api/users/me", {"display_name": "Joiner J"},
                   token=joiner["token"]).status_code == 200
    room = c.new_room(owner)["id"]
    r = redis.Redis.from_url(s.redis_url)
    r.delete(f"chat:{{{joiner['id']}}}:user")  # no cached document (the PATCH dropped it)
    since = {"lighttpd": len(s.log_text("lighttpd"))}
    resp = c.post(f"/api/rooms/{room}/join", token=joiner["token"],
                  headers={"X-Request-Id": "join-cold-user"})
    assert resp.status_code == 200, resp.text
    time.sleep(0.3)
    mine = [x for x in _trace_lines(s, ["lighttpd"], since) if x.get("req") == "join-cold-user"]
    assert mine, "no DB_TRACE line for the join"
    assert not [x for x in mine if x.get("collection") == "users"], mine
    last = c.get(f"/api/rooms/{room}/messages?limit=1", owner["token"]).json()["messages"][-1]
    assert last["username"] == joiner["username"] and last["user_id"] == joiner["id"]
    me = c.get("/api/users/me", joiner["token"])
    assert me.status_code == 200 and me.json()["display_name"] == "Joiner J", me.text
    assert me.json()["email"] and me.json()["username"] == joiner["username"]


def test_only_the_auth_pool_samples_password_hashes_at_start(make_stack):
    """Each REST process used to read the newest users' password hashes (to time a login
    of an unknown user like a real one) and run a bcrypt at start: seven scans of `users`
    on FerretDB at once after every start, which kept it busy while the gateways warmed
    the read model. Only the auth pool checks passwords, so only its processes do it."""
    s = make_stack(gateways=0, env={"DB_TRACE": "1", "FCGI_PROCS": "2"})
    deadline = time.time() + 20
    while s.log_text("lighttpd").count('"chat-api ready"') < 7:  # 2 auth, 2 history, 2 api, 1 health
        assert time.time() < deadline, s.log_text("lighttpd")[-3000:]
        time.sleep(0.1)

    def finds():
        return [x for x in _trace_lines(s, ["lighttpd"], {})
                if x.get("component") == "rest-fcgi" and x.get("command") == "find"
                and x.get("collection") == "users"]

    # each process's index thread creates the indexes, then (auth pool only) samples
    deadline = time.time() + 15
    while len(finds()) < 2 and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # time for the other pools' processes to do the same, were they to
    assert 2 <= len(finds()) <= 3, finds()  # the auth pool's two (a retry at most); before: 7


def test_a_large_rooms_ws_leaves_are_settled_together(make_stack):
    """Leaves over the WebSocket of a room of more than 250 members (on FerretDB each
    membership delete scans room_members) are settled together by the gateway's leave
    collector, as REST's are: one delete for the burst once the oldest is 10 s old (+5 s
    gathering), not one delete per leave right after each job. Before, the gateway's
    worker deleted each at once."""
    from bson import ObjectId
    from pymongo import MongoClient
    s = make_stack(gateways=1, env={"DB_TRACE": "1"})
    leavers, room = _room_with_members(s, 3)
    db = MongoClient(s.mongo_uri)[s.mongo_db]
    now = db.room_members.find_one({"room_id": ObjectId(room)})["joined_at"]
    db.room_members.insert_many([{"_id": ObjectId(), "room_id": ObjectId(room),
                                  "user_id": ObjectId(), "role": "member", "joined_at": now}
                                 for _ in range(300)])
    redis.Redis.from_url(s.redis_url).flushall()  # the member set is rebuilt: 304 members
    since = {"gateway0": len(s.log_text("gateway0"))}

    async def run():
        for u in leavers:
            ws = await connect(s.gateway_ws_url(0), u["token"], name=u["username"])
            await ws.send({"type": "leave", "room_id": room})
            f = await ws.recv_until(lambda f: f.get("room_id") == room
                                    and f.get("type") in ("left", "error"), 10)
            assert f["type"] == "left", f
            await ws.close()

    t0 = time.time()
    asyncio.run(run())

    def deletes():
        return [x for x in _trace_lines(s, ["gateway0"], since)
                if x.get("command") == "delete" and x.get("collection") == "room_members"]

    time.sleep(3)
    assert deletes() == [], "deleted right after the leave"
    while time.time() < t0 + 40 and db.room_members.count_documents(
            {"room_id": ObjectId(room), "user_id": {"$in": [ObjectId(u["id"]) for u in leavers]}}):
        time.sleep(0.5)
    left = db.room_members.count_documents(
        {"room_id": ObjectId(room), "user_id": {"$in": [ObjectId(u["id"]) for u in leavers]}})
    assert left == 0, "the leaves were never settled"
    assert len(deletes()) == 1, deletes()
    assert db.room_members.count_documents({"room_id": ObjectId(room)}) == 301


def _three_rooms_with_a_reader(s):
    """Three new rooms of one owner that one reader joined (each room's seq 1 is the
    reader's join): (client, owner, reader, room ids)."""
    c = Client(s)
    owner = c.new_user()
    reader = c.new_user()
    rooms = [c.new_room(owner)["id"] for _ in range(3)]
    for room in rooms:
        c.join(reader, room)
    return c, owner, reader, rooms


async def _resume_last_three(ws, room, stored):
    """Subscribes ws to room from three messages before its head: the last three stored
    ones arrive, in order, after `subscribed`."""
    head = stored[room][-1]["seq"]
    await ws.send({"type": "subscribe", "room_id": room, "after_seq": head - 3})
    got = await ws.collect(lambda f: f.get("room_id") == room
                           and (is_room_message(f) or f["type"] == "subscribed"), 4, timeout=10)
    assert [f["id"] for f in got if f["type"] != "subscribed"] == \
        [m["id"] for m in stored[room][-3:]], got


def _wait_log(s, name, since, text, timeout=20):
    """Waits until the process's log has text after byte offset since; returns that part."""
    deadline = time.time() + timeout
    while text not in s.log_text(name)[since:]:
        assert time.time() < deadline, [x for x in s.log_text(name)[since:].splitlines()
                                        if "db command" not in x]
        time.sleep(0.1)
    return s.log_text(name)[since:]


def _message_finds(s, names, marks):
    """The finds of `messages` the named processes sent since marks."""
    return [x for x in _trace_lines(s, names, marks)
            if x.get("op") == "read" and x.get("collection") == "messages"
            and x.get("command") == "find"]


async def _six_in_each(s, gateway, owner, rooms, tag):
    """Six acked messages of the owner in each room, through the given gateway."""
    a = await connect(s.gateway_ws_url(gateway), owner["token"], name="owner")
    for room in rooms:
        assert (await a.subscribe(room))["type"] == "subscribed"
        await _send_many(a, room, 6, tag)
    await a.close()


def test_a_gateway_warms_every_rooms_window_at_start(make_stack):
    """A gateway that starts on a Redis without the read model builds every room's
    history window from one read of `messages` (common/src/history_warm.c): the first
    subscribe with a resume point, the first history pages and the replay of each room
    read nothing from `messages` afterwards, and the windows hold the newest
    HISTORY_WINDOW messages of each room, no more, in order. Before, each room's first
    look read its own window from MongoDB: on FerretDB one scan of the whole collection
    per room (the ~100 ms first subscribe of each room in bench/'s membership runs)."""
    window = 40
    s = make_stack(gateways=1, env={"DB_TRACE": "1", "HISTORY_WINDOW": str(window)})
    c, owner, reader, rooms = _three_rooms_with_a_reader(s)
    # past the window, inside it, only the reader's join (a system message, seq 1)
    counts = [window + 25, 7, 0]

    async def send_all():
        a = await connect(s.gateway_ws_url(0), owner["token"], name="owner")
        acks = {}
        for room, n in zip(rooms, counts):
            assert (await a.subscribe(room))["type"] == "subscribed"
            acks[room] = await _send_many(a, room, n, "warm") if n else []
        await a.close()
        return acks

    acks = asyncio.run(send_all())
    stored = {room: _all_stored(c, reader, room) for room in rooms}
    heads = [stored[room][-1]["seq"] for room in rooms]
    assert heads == [n + 1 for n in counts], heads
    r = _restart_on_a_flushed_redis(s)
    deadline = time.time() + 20
    while "room windows warmed" not in s.log_text("gateway0"):
        assert time.time() < deadline, s.log_text("gateway0")[-3000:]
        time.sleep(0.1)
    line = [x for x in s.log_text("gateway0").splitlines() if "room windows warmed" in x][-1]
    assert '"rooms":"3","rooms_left":"0"' in line, line
    assert f'"messages":"{sum(heads)}"' in line, line
    for room, head in zip(rooms, heads):
        meta = r.hgetall(f"chat:{{{room}}}:meta")
        lo = max(1, head - window + 1)
        assert (int(meta[b"lo"]), int(meta[b"hi"])) == (lo, head), meta
        held = r.zrange(f"chat:{{{room}}}:win", 0, -1, withscores=True)
        assert [int(sc) for _, sc in held] == list(range(lo, head + 1)), held
        assert [json.loads(m)["id"] for m, _ in held] == [m["id"] for m in stored[room][-window:]]

    since = {n: len(s.log_text(n)) for n in ("gateway0", "lighttpd")}

    async def look():
        b = await connect(s.gateway_ws_url(0), reader["token"], name="reader")
        for room, head in zip(rooms, heads):
            after = max(0, head - 5)
            await b.send({"type": "subscribe", "room_id": room, "after_seq": after})
            got = await b.collect(lambda f, room=room: f.get("room_id") == room
                                  and (is_room_message(f) or f["type"] == "subscribed"),
                                  head - after + 1, timeout=10)
            assert [f["id"] for f in got if f["type"] != "subscribed"] == \
                [m["id"] for m in stored[room][after:]], got
        await b.close()

    asyncio.run(look())
    for room, head in zip(rooms, heads):
        page = _history(c, reader, room, "?limit=20")
        assert page["total"] == head
        assert [m["id"] for m in page["messages"]] == [m["id"] for m in stored[room][-20:]]
    reads = [(x.get("component"), x.get("command"))
             for x in _trace_lines(s, ["gateway0", "lighttpd"], since)
             if x.get("op") == "read" and x.get("collection") == "messages"]
    assert reads == [], reads


def test_a_redis_flush_mid_run_warms_the_windows_once(make_stack):
    """Redis flushed while both gateways run: the first new socket on each gateway finds
    the read model cold (or the other gateway's rebuilt set of ids), and every room's
    window is rebuilt from one read of `messages` for the two gateways together (a
    second cold batch sees the first's mark for this Redis run, or its lock); the
    subscribes with a resume point and the history pages that follow
    read nothing from `messages`. Before, each room's first look read its own window."""
    s = make_stack(gateways=2, env={"DB_TRACE": "1"})
    c, owner, reader, rooms = _three_rooms_with_a_reader(s)

    asyncio.run(_six_in_each(s, 0, owner, rooms, "mid"))
    stored = {room: _all_stored(c, reader, room) for room in rooms}
    names = ["gateway0", "gateway1", "lighttpd"]
    since = {n: len(s.log_text(n)) for n in names}
    redis.Redis.from_url(s.redis_url).flushall()

    async def reconnect():
        for i in (0, 1):  # one new socket per gateway: each one's batch finds it cold
            ws = await connect(s.gateway_ws_url(i), reader["token"], name=f"r{i}")
            await ws.send({"type": "ping"})
            await ws.recv_until(lambda f: f.get("type") == "pong", 15)
            await ws.close()

    asyncio.run(reconnect())
    deadline = time.time() + 20
    while True:
        logs = s.log_text("gateway0")[since["gateway0"]:] + s.log_text("gateway1")[since["gateway1"]:]
        if "room windows warmed" in logs:
            break
        assert time.time() < deadline, [x for x in logs.splitlines() if "db command" not in x]
        time.sleep(0.1)
    assert logs.count("room windows warmed") == 1, logs
    mark = {n: len(s.log_text(n)) for n in names}

    async def look():
        for i, room in enumerate(rooms):
            b = await connect(s.gateway_ws_url(i % 2), reader["token"], name="reader")
            await _resume_last_three(b, room, stored)
            await b.close()

    asyncio.run(look())
    for room in rooms:
        page = _history(c, reader, room, "?limit=5")
        assert [m["id"] for m in page["messages"]] == [m["id"] for m in stored[room][-5:]]
    warm_reads = _message_finds(s, names, since)
    assert len(warm_reads) == 1, warm_reads
    after = [x for x in _trace_lines(s, names, mark)
             if x.get("op") == "read" and x.get("collection") == "messages"]
    assert after == [], after


@pytest.mark.parametrize("loss", ["flush", "restart"])
def test_a_redis_loss_warms_the_windows_without_new_sockets(make_stack, loss):
    """Redis flushed or restarted (empty) while a gateway runs and no socket connects:
    REST touches Redis first (it rebuilds the set of ids on its own), so no admission
    batch ever finds the read model cold; the gateway's periodic look at the warm-up's
    mark on the Redis run (ws-gateway/read_model_warm.c, every 2 s) sees it gone and warms
    every room's window from one read of `messages`. The history pages and resumes that
    follow read nothing from `messages`. Before, nothing warmed: each room's first look
    read its own window (on FerretDB a scan of the collection per room), as the long
    chaos runs' logs showed after each Redis loss. The messages go through the other
    gateway, stopped before the loss: rooms a gateway still holds are backfilled on
    their own when its Redis connection comes back."""
    s = make_stack(gateways=2, env={"DB_TRACE": "1"})
    c, owner, reader, rooms = _three_rooms_with_a_reader(s)

    asyncio.run(_six_in_each(s, 1, owner, rooms, "loss"))
    s.kill_gateway(1)
    stored = {room: _all_stored(c, reader, room) for room in rooms}
    names = ["gateway0", "lighttpd"]
    since = {n: len(s.log_text(n)) for n in names}
    if loss == "flush":
        redis.Redis.from_url(s.redis_url).flushall()
    else:
        s.stop_redis()
        s.start_redis()
    # REST first: an authenticated call that is not a history page
    r = c.get(f"/api/rooms/{rooms[0]}", reader["token"])
    assert r.status_code == 200, r.text
    assert "read model lost mid-run" in _wait_log(s, "gateway0", since["gateway0"],
                                                  "room windows warmed")
    mark = {n: len(s.log_text(n)) for n in names}
    for room in rooms:
        page = _history(c, reader, room, "?limit=5")
        assert [m["id"] for m in page["messages"]] == [m["id"] for m in stored[room][-5:]]
        assert page["total"] == len(stored[room])

    async def resume():
        b = await connect(s.gateway_ws_url(0), reader["token"], name="reader")
        for room in rooms:
            await _resume_last_three(b, room, stored)
        await b.close()

    asyncio.run(resume())
    warm_reads = _message_finds(s, names, since)
    assert len(warm_reads) == 1, [json.dumps(x) for x in warm_reads]
    after = [x for x in _trace_lines(s, names, mark)
             if x.get("op") == "read" and x.get("collection") == "messages"]
    assert after == [], after


def test_the_periodic_look_waits_while_another_process_warms(make_stack):
    """While another process holds the windows' warm-up lock (at a million messages a
    warm-up takes minutes), a gateway's periodic look that finds the mark missing does
    not run the warm-up itself (before, every look ran the room sets' warm-up again and
    then found the windows busy, every 2-3 s for as long as the lock was held); once
    the lock is gone and the mark still missing, it does."""
    s = make_stack(gateways=1)
    users, room = _room_with_members(s, 3)
    asyncio.run(_post_some(s, users[0], room, 2))
    r = redis.Redis.from_url(s.redis_url)
    since = len(s.log_text("gateway0"))
    r.flushall()
    r.set("chat:rooms:windows:warming", "another-process", px=60000)
    time.sleep(7)  # three periodic looks (every 2 s; the second one would act)
    text = s.log_text("gateway0")[since:]
    assert "read model lost mid-run" not in text, text
    r.delete("chat:rooms:windows:warming")
    assert "read model lost mid-run" in _wait_log(s, "gateway0", since, "read model lost mid-run")


def test_windows_rebuilt_by_readers_are_not_read_again(make_stack):
    """After a Redis loss, readers that came first rebuilt their rooms' windows on their
    own (REST history pages here; a gateway's resubscribe backfills every room it holds,
    as in the long chaos runs, where every warm-up then read the whole collection to build
    nothing): the gateway's look at the mark counts the rooms without a ready window
    first, and with fewer than two reads nothing (the last one's first reader reads as
    much). Before, it read all of `messages` again. The gateway is paused while the
    readers run, so that its 2 s look comes after them."""
    s = make_stack(gateways=1, env={"DB_TRACE": "1"})
    c, owner, reader, rooms = _three_rooms_with_a_reader(s)
    asyncio.run(_six_in_each(s, 0, owner, rooms, "readers"))
    stored = {room: _all_stored(c, reader, room) for room in rooms}
    names = ["gateway0", "lighttpd"]
    pid = s.gateway_pid(0)
    os.kill(pid, signal.SIGSTOP)
    try:
        since = {n: len(s.log_text(n)) for n in names}
        redis.Redis.from_url(s.redis_url).flushall()
        for room in rooms[:2]:
            page = _history(c, reader, room, "?limit=5")
            assert [m["id"] for m in page["messages"]] == [m["id"] for m in stored[room][-5:]]
    finally:
        os.kill(pid, signal.SIGCONT)
    assert '"missing":"1 of 3"' in _wait_log(s, "gateway0", since["gateway0"],
                                             "room windows: readers rebuilt them")
    page = _history(c, reader, rooms[2], "?limit=5")
    assert [m["id"] for m in page["messages"]] == [m["id"] for m in stored[rooms[2]][-5:]]
    reads = _message_finds(s, names, since)
    # one per room, by its first reader: none by the gateway's look
    assert len(reads) == 3, [json.dumps(x) for x in reads]
    assert not [x for x in _trace_lines(s, ["gateway0"], since)
                if x.get("op") == "read" and x.get("collection") == "messages"]


def test_a_gateway_holding_rooms_rebuilds_their_windows_once_after_a_restart(make_stack):
    """Redis restarted (empty) under a gateway whose sockets watch three rooms: its
    resubscribes backfill each room, which rebuilds each window from MongoDB within a
    moment. The gateway's look at the warm-up's mark counts the rooms without a window
    first and finds none: it reads nothing, and delivery goes on. Without that count the
    look read the whole collection to build no window (as after every Redis loss of a
    long chaos run). Acting only on the second look in a row that finds the mark missing
    keeps a look from counting while the backfills still run (10 of 37 looks of a chaos
    run read everything that way); here the backfills are quicker than the first look,
    so this test does not tell that rule apart."""
    s = make_stack(gateways=1, env={"DB_TRACE": "1"})
    c, owner, reader, rooms = _three_rooms_with_a_reader(s)

    async def run():
        w = await connect(s.gateway_ws_url(0), reader["token"], name="watcher")
        for room in rooms:
            assert (await w.subscribe(room))["type"] == "subscribed"
        await _six_in_each(s, 0, owner, rooms, "held")
        since = len(s.log_text("gateway0"))
        s.stop_redis()
        s.start_redis()
        await asyncio.to_thread(_wait_log, s, "gateway0", since,
                                "room windows: readers rebuilt them")
        # live delivery still works after the restart
        a = await connect(s.gateway_ws_url(0), owner["token"], name="owner2")
        await _send_many(a, rooms[0], 1, "after")
        await a.close()
        got = await w.collect(lambda f: is_room_message(f) and f.get("content") == "after 0", 1,
                              timeout=10)
        assert got
        await w.close()
        return since

    since = asyncio.run(run())
    assert "room windows warmed" not in s.log_text("gateway0")[since:]
    finds = _message_finds(s, ["gateway0"], {"gateway0": since})
    assert len(finds) <= 3, [json.dumps(x) for x in finds]  # one per room at most


def test_a_new_rooms_first_join_message_and_page_read_nothing(make_stack):
    """A room (or a DM) that was just created has no messages and exactly its creators
    as members, so its creation records that in the read model (member set, empty
    window, seq 0 in room_heads): its first join, first message, first page and first
    subscribe read neither `messages` nor `room_members` (on FerretDB the seq of a first
    message was a scan of `messages`, the member set a scan of `room_members`, ~1.5 s
    each at a million messages). Before, each of those firsts read them."""
    s = make_stack(gateways=1, env={"DB_TRACE": "1"})
    _wait_log(s, "gateway0", 0, "room windows")  # the start's warm-up reads everything
    c = Client(s)
    owner, joiner, other = c.new_user(), c.new_user(), c.new_user()
    names = ["lighttpd", "gateway0"]
    since = {n: len(s.log_text(n)) for n in names}
    room = c.new_room(owner)["id"]
    c.join(joiner, room)
    dm = c.post("/api/dms", {"user_id": other["id"]}, token=owner["token"])
    assert dm.status_code in (200, 201), dm.text
    dm = dm.json()["id"]

    async def run():
        a = await connect(s.gateway_ws_url(0), joiner["token"], name="joiner")
        assert (await a.subscribe(room))["type"] == "subscribed"
        await _send_many(a, room, 2, "first")
        await a.close()
        b = await connect(s.gateway_ws_url(0), owner["token"], name="owner")
        assert (await b.subscribe(dm))["type"] == "subscribed"
        await _send_many(b, dm, 1, "dm")
        await b.close()

    asyncio.run(run())
    page = _history(c, owner, room)
    assert [m["seq"] for m in page["messages"]] == [1, 2, 3], page  # the join, then two
    assert page["total"] == 3
    assert [m["content"] for m in _history(c, other, dm)["messages"]] == ["dm 0"]
    reads = [(x.get("collection"), x.get("command"))
             for x in _trace_lines(s, names, since) if x.get("op") == "read"]
    assert not [r for r in reads if r[0] in ("messages", "room_members")], reads
