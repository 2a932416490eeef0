"""test_gateway_delivery.py - room traffic over real sockets on two gateways and
lighttpd: every member gets every message exactly once and in the same seq order
(hundreds of messages from several senders on both gateways), acks and idempotent
resends, join/leave system messages (over WebSocket and over REST) seen live, typing
relay, resuming with after_seq (no gap, no duplicate), membership checks, and room_heads
kept up for many rooms."""
import asyncio
import secrets
import time

from ws_client import api, connect, create_room, is_room_message, mint_token, new_user_id, \
    real_user_id, \
    register


def _texts(client, room_id):
    return [f for f in client.frames if is_room_message(f) and f["room_id"] == room_id
            and f["type"] == "text"]


def test_fanout_exactly_once_in_order_across_gateways(stack):
    owner = register(stack.http_url)
    room = create_room(stack.http_url, owner["token"])
    others = [register(stack.http_url) for _ in range(2)]
    n_per_sender = 120

    async def run():
        # owner on gw0, user1 on gw1, user2 on gw0 and gw1 and through lighttpd
        a = await connect(stack.gateway_ws_url(0), owner["token"], name="a@gw0")
        b = await connect(stack.gateway_ws_url(1), others[0]["token"], name="b@gw1")
        c0 = await connect(stack.gateway_ws_url(0), others[1]["token"], name="c@gw0")
        c1 = await connect(stack.gateway_ws_url(1), others[1]["token"], name="c@gw1")
        cl = await connect(stack.ws_url, others[1]["token"], name="c@lighttpd")
        clients = [a, b, c0, c1, cl]
        assert (await a.subscribe(room))["type"] == "subscribed"
        assert (await b.join(room))["type"] == "subscribed"
        assert (await c0.join(room))["type"] == "subscribed"
        assert (await c1.subscribe(room))["type"] == "subscribed"
        assert (await cl.subscribe(room))["type"] == "subscribed"

        async def blast(client, tag):
            cmids = [f"{tag}-{i}" for i in range(n_per_sender)]
            for i, cmid in enumerate(cmids):
                await client.send({"type": "message", "room_id": room,
                                   "content": f"{tag} #{i}", "client_msg_id": cmid})
            acks = await client.collect(
                lambda f: f.get("type") in ("ack", "error") and f.get("client_msg_id", "").startswith(tag + "-"),
                n_per_sender, timeout=60)
            return acks

        results = await asyncio.gather(blast(a, "A"), blast(b, "B"), blast(c1, "C"))
        acks = [x for r in results for x in r]
        assert all(x["type"] == "ack" for x in acks), [x for x in acks if x["type"] != "ack"][:3]
        total = 3 * n_per_sender
        ack_seqs = sorted(x["seq"] for x in acks)
        assert len(set(ack_seqs)) == total

        for cl_ in clients:
            # from frame 0: a sender's own echo may arrive before its ack
            await cl_.wait_for_new(lambda f: is_room_message(f) and f["type"] == "text"
                                   and f["seq"] == ack_seqs[-1], 0, timeout=30)
        await asyncio.sleep(0.5)
        for cl_ in clients:
            await cl_.drain(0.2)
        reference = None
        for cl_ in clients:
            msgs = _texts(cl_, room)
            seqs = [m["seq"] for m in msgs]
            assert len(seqs) == total, (cl_.name, len(seqs))
            assert seqs == sorted(seqs) and len(set(seqs)) == total, cl_.name
            assert sorted(seqs) == ack_seqs
            ids = [m["id"] for m in msgs]
            if reference is None:
                reference = ids
            assert ids == reference, cl_.name
            # exactly the shape SPEC gives room messages
            for key in ("id", "room_id", "user_id", "username", "content", "type", "timestamp",
                        "seq"):
                assert key in msgs[0]
        # each message's seq matches its ack
        by_id = {m["id"]: m for m in _texts(a, room)}
        for x in acks:
            assert by_id[x["id"]]["seq"] == x["seq"]
            assert x["room_id"] == room and x["timestamp"]
        for cl_ in clients:
            await cl_.close()

    asyncio.run(run())


def test_ack_and_idempotent_resend(stack):
    owner = register(stack.http_url)
    room = create_room(stack.http_url, owner["token"])
    watcher = register(stack.http_url)

    async def run():
        s0 = await connect(stack.gateway_ws_url(0), owner["token"])
        s1 = await connect(stack.gateway_ws_url(1), owner["token"])
        w = await connect(stack.gateway_ws_url(1), watcher["token"])
        assert (await w.join(room))["type"] == "subscribed"
        assert (await s0.subscribe(room))["type"] == "subscribed"
        cmid = "idem-" + secrets.token_hex(4)
        first = await s0.send_message(room, "hello once", cmid)
        assert first["type"] == "ack" and first["client_msg_id"] == cmid
        again = await s0.send_message(room, "hello once", cmid)
        other_socket = await s1.send_message(room, "hello once", cmid)
        for x in (again, other_socket):
            assert x["type"] == "ack"
            assert (x["id"], x["seq"], x["timestamp"]) == (first["id"], first["seq"],
                                                           first["timestamp"])
        await w.recv_until(lambda f: is_room_message(f) and f["id"] == first["id"], 10)
        await asyncio.sleep(1.0)
        await w.drain(0.2)
        await s0.drain(0.2)
        assert sum(1 for f in w.frames if f.get("id") == first["id"]) == 1
        assert sum(1 for f in s0.frames if f.get("id") == first["id"] and is_room_message(f)) == 1
        # stored once
        st, body = api(stack.http_url, "GET", f"/api/rooms/{room}/messages?limit=50",
                       token=owner["token"])
        assert st == 200
        assert sum(1 for m in body["messages"] if m["id"] == first["id"]) == 1
        for c in (s0, s1, w):
            await c.close()

    asyncio.run(run())


def test_join_leave_system_messages_over_ws_and_rest(stack):
    owner = register(stack.http_url)
    room = create_room(stack.http_url, owner["token"])
    ws_user = register(stack.http_url)
    rest_user = register(stack.http_url)

    def system_about(name, verb):
        return lambda f: is_room_message(f) and f["type"] == "system" and name in f["content"] \
            and verb in f["content"]

    async def run():
        w0 = await connect(stack.gateway_ws_url(0), owner["token"], name="owner@gw0")
        w1 = await connect(stack.ws_url, owner["token"], name="owner@lighttpd")
        for w in (w0, w1):
            assert (await w.subscribe(room))["type"] == "subscribed"
        # over WebSocket, on the other gateway
        j = await connect(stack.gateway_ws_url(1), ws_user["token"])
        assert (await j.join(room))["type"] == "subscribed"
        for w in (w0, w1):
            await w.recv_until(system_about(ws_user["username"], "joined"), 10)
        # the joiner's replay starts at its own join message
        assert any(system_about(ws_user["username"], "joined")(f) for f in j.frames)
        await j.send({"type": "leave", "room_id": room})
        await j.recv_until(lambda f: f.get("type") == "left", 10)
        for w in (w0, w1):
            await w.recv_until(system_about(ws_user["username"], "left"), 10)
        # not a member any more: sending is refused
        r = await j.send_message(room, "still here?")
        assert r["type"] == "error" and r["code"] == "not_member"
        # over REST
        st, _ = api(stack.http_url, "POST", f"/api/rooms/{room}/join", token=rest_user["token"])
        assert st == 200
        for w in (w0, w1):
            await w.recv_until(system_about(rest_user["username"], "joined"), 10)
        st, _ = api(stack.http_url, "POST", f"/api/rooms/{room}/leave", token=rest_user["token"])
        assert st == 200
        for w in (w0, w1):
            await w.recv_until(system_about(rest_user["username"], "left"), 10)
        for c in (w0, w1, j):
            await c.close()

    asyncio.run(run())
    # both leaves answered before their room_members document went; the gateway's
    # worker and rest-fcgi's collector delete it after the reply and mark the record done
    from bson import ObjectId
    from pymongo import MongoClient
    db = MongoClient(stack.mongo_uri)[stack.mongo_db]
    try:
        for u in (ws_user, rest_user):
            key = {"room_id": ObjectId(room), "user_id": ObjectId(u["id"])}
            deadline = time.time() + 10
            while time.time() < deadline and (db.room_members.count_documents(key) or
                                              not db.member_leaves.find_one(dict(key, done=True))):
                time.sleep(0.1)
            assert db.room_members.count_documents(key) == 0, u
            assert db.member_leaves.find_one(dict(key, done=True)) is not None, u
    finally:
        db.client.close()


def test_typing_is_relayed_to_others_only(stack):
    owner = register(stack.http_url)
    room = create_room(stack.http_url, owner["token"])
    other = register(stack.http_url)

    async def run():
        a0 = await connect(stack.gateway_ws_url(0), owner["token"])
        a1 = await connect(stack.gateway_ws_url(1), owner["token"])
        b = await connect(stack.gateway_ws_url(1), other["token"])
        assert (await a0.subscribe(room))["type"] == "subscribed"
        assert (await a1.subscribe(room))["type"] == "subscribed"
        assert (await b.join(room))["type"] == "subscribed"
        await a0.send({"type": "typing", "room_id": room})
        t = await b.recv_until(lambda f: f.get("type") == "typing", 5)
        assert t == {"type": "typing", "room_id": room, "user_id": owner["id"],
                     "username": owner["username"]}
        await asyncio.sleep(0.5)
        for c in (a0, a1):
            assert not [f for f in await c.drain(0.2) if f.get("type") == "typing"]
        # typing is never stored
        st, body = api(stack.http_url, "GET", f"/api/rooms/{room}/messages", token=owner["token"])
        assert st == 200 and all(m["type"] != "typing" for m in body["messages"])
        # typing in a room not subscribed on this socket is an error
        c = await connect(stack.gateway_ws_url(0), other["token"])
        await c.send({"type": "typing", "room_id": room})
        e = await c.recv_until(lambda f: f.get("type") == "error", 5)
        assert e["code"] == "not_subscribed"
        for x in (a0, a1, b, c):
            await x.close()

    asyncio.run(run())


def test_resume_with_after_seq_has_no_gap_and_no_duplicate(stack):
    owner = register(stack.http_url)
    room = create_room(stack.http_url, owner["token"])
    reader = register(stack.http_url)

    async def run():
        sender = await connect(stack.gateway_ws_url(0), owner["token"])
        assert (await sender.subscribe(room))["type"] == "subscribed"
        first = None
        for i in range(40):
            ack = await sender.send_message(room, f"before {i}")
            assert ack["type"] == "ack"
            first = first or ack["seq"]
        r = await connect(stack.gateway_ws_url(1), reader["token"])
        assert (await r.join(room))["type"] == "subscribed"
        await r.close()
        resume_from = first + 10

        async def keep_sending():
            for i in range(60):
                ack = await sender.send_message(room, f"during {i}")
                assert ack["type"] == "ack"
            return ack["seq"]

        task = asyncio.create_task(keep_sending())
        await asyncio.sleep(0.2)
        # a second reader resumes through lighttpd while messages keep coming
        r2 = await connect(stack.ws_url, reader["token"], room_id=room, after_seq=resume_from)
        last_seq = await task
        await r2.recv_until(lambda f: is_room_message(f) and f["seq"] == last_seq, 30)
        await asyncio.sleep(0.5)
        await r2.drain(0.2)
        seqs = [f["seq"] for f in r2.frames if is_room_message(f)]
        assert seqs == list(range(resume_from + 1, last_seq + 1)), seqs
        assert any(f.get("type") == "subscribed" for f in r2.frames)
        # subscribing again from an older point replays again, in order
        mark = len(r2.frames)
        sub = await r2.subscribe(room, after_seq=last_seq - 5)
        assert sub["type"] == "subscribed" and sub["last_seq"] == last_seq
        replay = [f["seq"] for f in r2.frames[mark:] if is_room_message(f)]
        assert replay == list(range(last_seq - 4, last_seq + 1))
        await sender.close()
        await r2.close()

    asyncio.run(run())


def test_membership_is_checked(stack):
    owner = register(stack.http_url)
    private = create_room(stack.http_url, owner["token"], is_private=True)
    outsider_token = mint_token(stack.jwt_secret, real_user_id(stack.http_url), "outsider")

    async def run():
        c = await connect(stack.gateway_ws_url(1), outsider_token)
        # a private room is not told to outsiders: the answer of a room that is not there
        r = await c.subscribe(private)
        assert r["type"] == "error" and r["code"] == "not_found"
        r = await c.join(private)
        assert r["type"] == "error" and r["code"] == "not_found"
        r = await c.send_message(private, "let me in")
        assert r["type"] == "error" and r["code"] == "not_found"
        r = await c.subscribe("0" * 24)
        assert r["type"] == "error" and r["code"] == "not_found"
        # the socket is still usable
        await c.send({"type": "ping"})
        await c.recv_until(lambda f: f.get("type") == "pong")
        await c.close()

    asyncio.run(run())


def test_room_heads_follow_the_messages_of_many_rooms(stack):
    """The store workers raise room_heads (the durable head hint, ARCHITECTURE "Data and
    the ordering guarantee") for every room they wrote, in rounds of at most 16 rooms per
    command: 40 rooms written through one gateway all reach their last seq in MongoDB."""
    from pymongo import MongoClient
    from bson import ObjectId

    owner = register(stack.http_url)
    rooms = [create_room(stack.http_url, owner["token"]) for _ in range(40)]
    last = {}

    async def run():
        a = await connect(stack.gateway_ws_url(0), owner["token"], name="a@gw0")
        for r in rooms:
            assert (await a.subscribe(r))["type"] == "subscribed"
        for i in range(3):
            for r in rooms:
                ack = await a.send_message(r, f"m{i}")
                assert ack["type"] == "ack", ack
                last[r] = ack["seq"]
        await a.close()

    asyncio.run(run())
    client = MongoClient(stack.mongo_uri, serverSelectionTimeoutMS=5000)
    try:
        heads = client[stack.mongo_db].room_heads
        deadline = time.time() + 15
        while True:
            got = {str(d["_id"]): d.get("seq") for d in
                   heads.find({"_id": {"$in": [ObjectId(r) for r in rooms]}})}
            behind = {r: (got.get(r), s) for r, s in last.items() if got.get(r) != s}
            if not behind or time.time() > deadline:
                break
            time.sleep(0.5)
        assert not behind, f"room_heads behind for {len(behind)} rooms: {list(behind.items())[:5]}"
    finally:
        client.close()
