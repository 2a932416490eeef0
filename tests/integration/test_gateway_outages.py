"""test_gateway_outages.py - SPEC section 4.5 on real processes: with Redis frozen a
gateway keeps storing and delivering to its own clients, while the acks wait until the
messages are visible in the room's Redis window too (an ack means "stored, and no reader
can miss it"); when Redis returns the acks come and the other gateway's clients catch up
without gap or duplicate; with MongoDB down nothing is acked (a `service_unavailable` error with
retryable=true instead), and once it is back the same resend is stored and delivered
exactly once; a restarted Redis is followed within about a second."""
import asyncio
import secrets
import time

from ws_client import connect, create_room, is_room_message, register


def test_redis_outage_keeps_local_delivery_and_catches_up(make_stack):
    s = make_stack(gateways=2)
    owner = register(s.http_url)
    room = create_room(s.http_url, owner["token"])
    other = register(s.http_url)

    async def run():
        a0 = await connect(s.gateway_ws_url(0), owner["token"], name="a@gw0")
        b0 = await connect(s.gateway_ws_url(0), other["token"], name="b@gw0")
        b1 = await connect(s.gateway_ws_url(1), other["token"], name="b@gw1")
        assert (await a0.subscribe(room))["type"] == "subscribed"
        assert (await b0.join(room))["type"] == "subscribed"
        assert (await b1.subscribe(room))["type"] == "subscribed"
        warm = await a0.send_message(room, "before the outage")
        await b1.recv_until(lambda f: is_room_message(f) and f["id"] == warm["id"], 10)

        s.pause_redis()
        try:
            await asyncio.sleep(3.0)  # long enough for the gateways to declare Redis down
            cmids = [f"out-{i}-{secrets.token_hex(3)}" for i in range(10)]
            for i, cmid in enumerate(cmids):
                await a0.send({"type": "message", "room_id": room,
                               "content": f"during outage {i}", "client_msg_id": cmid})
            # the same gateway stores and delivers them at once, in order
            got = await b0.collect(lambda f: is_room_message(f) and f["type"] == "text"
                                   and f["content"].startswith("during"), 10, timeout=10)
            seqs = [f["seq"] for f in got]
            assert seqs == sorted(seqs) and len(set(seqs)) == 10
            # but no ack yet: the window in Redis does not show them
            await asyncio.sleep(1.0)
            early = [f for f in await a0.drain(0.1) if f.get("type") == "ack"
                     and f.get("client_msg_id") in cmids]
            assert not early, early
            assert not [f for f in await b1.drain(0.1) if is_room_message(f)
                        and f["content"].startswith("during")], "Redis was not down?"
        finally:
            s.resume_redis()
        t0 = time.monotonic()
        acks = await a0.collect(lambda f: f.get("type") == "ack" and f.get("client_msg_id") in cmids,
                                10, timeout=30)
        print(f"\nacks came {time.monotonic() - t0:.1f} s after Redis returned")
        assert sorted(a["seq"] for a in acks) == seqs
        got = await b1.collect(lambda f: is_room_message(f) and f["type"] == "text"
                               and f["content"].startswith("during"), 10, timeout=30)
        print(f"other gateway caught up {time.monotonic() - t0:.1f} s after Redis returned")
        assert [f["seq"] for f in got] == seqs
        # a real restart (connections drop, subscriptions and the window are gone): the
        # messages sent meanwhile are acked once Redis is back, and gateway 1 resubscribes
        # and backfills them
        s.stop_redis()
        try:
            await asyncio.sleep(1.0)
            cmids = [f"restart-{i}-{secrets.token_hex(3)}" for i in range(5)]
            for i, cmid in enumerate(cmids):
                await a0.send({"type": "message", "room_id": room,
                               "content": f"restart {i}", "client_msg_id": cmid})
            await b0.collect(lambda f: is_room_message(f) and f["type"] == "text"
                             and f["content"].startswith("restart"), 5, timeout=10)
        finally:
            s.start_redis()
        acks = await a0.collect(lambda f: f.get("type") == "ack" and f.get("client_msg_id") in cmids,
                                5, timeout=30)
        got = await b1.collect(lambda f: is_room_message(f) and f["type"] == "text"
                               and f["content"].startswith("restart"), 5, timeout=30)
        assert [f["seq"] for f in got] == sorted(a["seq"] for a in acks)
        # live traffic flows again everywhere, and nothing was delivered twice
        after = await a0.send_message(room, "after the outage")
        for c in (b0, b1):
            await c.recv_until(lambda f: is_room_message(f) and f["id"] == after["id"], 15)
            await c.drain(0.3)
            seqs = [f["seq"] for f in c.frames if is_room_message(f) and f["type"] == "text"]
            assert len(seqs) == len(set(seqs)) and seqs == sorted(seqs), (c.name, seqs)
        for c in (a0, b0, b1):
            await c.close()

    asyncio.run(run())


def test_mongo_outage_gives_no_ack_and_recovers(make_stack):
    s = make_stack(gateways=1)
    owner = register(s.http_url)
    room = create_room(s.http_url, owner["token"])
    watcher = register(s.http_url)

    async def run():
        a = await connect(s.gateway_ws_url(0), owner["token"])
        w = await connect(s.gateway_ws_url(0), watcher["token"])
        assert (await a.subscribe(room))["type"] == "subscribed"
        assert (await w.join(room))["type"] == "subscribed"
        s.stop_mongo()
        try:
            r = await a.send_message(room, "is anyone storing this?", "cm-outage", timeout=20)
            assert r["type"] == "error" and r["code"] == "service_unavailable", r
            assert r["retryable"] is True and r["client_msg_id"] == "cm-outage"
            await a.send({"type": "ping"})
            await a.recv_until(lambda f: f.get("type") == "pong", 5)
        finally:
            s.start_mongo()
        deadline = time.monotonic() + 40
        while True:
            r = await a.send_message(room, "is anyone storing this?", "cm-outage", timeout=20)
            if r["type"] == "ack" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert r["type"] == "ack", r
        again = await a.send_message(room, "is anyone storing this?", "cm-outage")
        assert (again["id"], again["seq"]) == (r["id"], r["seq"])
        await w.recv_until(lambda f: is_room_message(f) and f["id"] == r["id"], 10)
        await asyncio.sleep(0.5)
        await w.drain(0.2)
        assert sum(1 for f in w.frames if f.get("id") == r["id"]) == 1
        for c in (a, w):
            await c.close()

    asyncio.run(run())


def test_a_gateway_follows_a_restarted_redis_within_a_second(make_stack):
    """Redis stopped for 1.5 s, then started again: the gateway's two connections (its
    commands, its subscriptions) are back within a second or so. Before ws-gateway/
    redis_uv.c, hiredis's libuv adapter never reported a refused connect, so each
    attempt hung until the health check gave up on it (the subscribe connection 6 s)."""
    s = make_stack(gateways=1)
    since = len(s.log_text("gateway0"))
    s.stop_redis()
    time.sleep(1.5)
    s.start_redis()
    back = time.monotonic()
    while True:
        text = s.log_text("gateway0")[since:]
        if all(f'"msg":"redis connected","conn_kind":"{k}"' in text for k in ("cmd", "sub")):
            break
        assert time.monotonic() - back < 3.0, "the gateway was slow to reconnect:\n" + text[-2000:]
        time.sleep(0.05)
