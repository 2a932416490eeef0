"""test_abuse_limits.py - abuse that would cost every other user (issue 10, points 5-7),
on real processes: membership changes are charged to a per-user bucket shared by REST
and every gateway; a subscribe flood is throttled, counted and closed while another
user's subscribe stays fast; MAX_SOCKETS_PER_USER counts across gateways. Runs in the
pytest process."""
import asyncio

from rest_client import Client
from ws_client import connect


def test_membership_changes_share_one_bucket(make_stack):
    s = make_stack(gateways=2, env={"RATE_MEMBERSHIP_PER_MIN": "10"})
    c = Client(s)
    owner, flipper = c.new_user(), c.new_user()
    room = c.new_room(owner)["id"]
    refused = 0
    for _ in range(100):
        for action in ("join", "leave"):
            r = c.post(f"/api/rooms/{room}/{action}", token=flipper["token"])
            if r.status_code == 429:
                refused += 1
                assert r.json()["error"]["code"] == "rate_limited"
                assert int(r.headers["Retry-After"]) >= 1
            else:
                assert r.status_code == 200, r.text
    # a refused join leaves nothing to leave: the leave after it is a free no-op
    assert refused >= 85, refused
    total = c.get(f"/api/rooms/{room}/messages?limit=1", owner["token"]).json()["total"]
    assert total <= 12, total  # the burst (10) plus what refilled meanwhile

    async def run():
        # the same bucket through either gateway: still empty
        for i in (0, 1):
            ws = await connect(s.gateway_ws_url(i), flipper["token"], name=f"flipper@gw{i}")
            await ws.send({"type": "join", "room_id": room})
            f = await ws.recv_until(lambda f: f.get("room_id") == room
                                    and f.get("type") in ("error", "subscribed"), 5)
            assert f["type"] == "error" and f["code"] == "rate_limited", f
            assert f["retry_after_ms"] > 0
            await ws.close()

    asyncio.run(run())
    # another user is not affected
    other = c.new_user()
    assert c.post(f"/api/rooms/{room}/join", token=other["token"]).status_code == 200


def test_subscribe_flood_is_throttled_and_closed(make_stack):
    """3,000 subscribes with random ids from one socket: no Redis SUBSCRIBE for any of
    them, the flooder is closed with 1008, and another user's subscribes stay fast."""
    import secrets
    import statistics
    import time

    import redis
    from websockets.exceptions import ConnectionClosed

    s = make_stack(gateways=1)
    c = Client(s)
    owner, flooder, other = c.new_user(), c.new_user(), c.new_user()
    room = c.new_room(owner)["id"]
    c.join(other, room)
    r = redis.Redis.from_url(s.redis_url)

    async def run():
        bad = await connect(s.gateway_ws_url(0), flooder["token"], name="flooder")
        good = await connect(s.gateway_ws_url(0), other["token"], name="other")
        for ws in (bad, good):  # both admitted (admission.c) before the clock starts
            await ws.send({"type": "ping"})
            await ws.recv_until(lambda f: f.get("type") == "pong", 10)
        # the room's first subscribe on this gateway (channel SUBSCRIBE, caches) is done
        # before the flood: what is measured below is the flood's cost to others
        assert (await good.subscribe(room))["type"] == "subscribed"
        await good.send({"type": "unsubscribe", "room_id": room})
        await good.recv_until(lambda f: f.get("type") == "unsubscribed", 5)

        async def flood():
            try:
                for i in range(3000):
                    await bad.send({"type": "subscribe", "room_id": secrets.token_hex(12)})
                    if i % 8 == 0:
                        # a send into an open buffer never yields: without this the
                        # flood holds this test's own event loop for ~0.5 s and the
                        # other user's reply waits here, not in the gateway
                        await asyncio.sleep(0)
            except ConnectionClosed:
                pass

        async def measure():
            took = []
            for _ in range(10):
                t0 = time.monotonic()
                f = await good.subscribe(room)
                took.append(time.monotonic() - t0)
                assert f["type"] == "subscribed", f
                await good.send({"type": "unsubscribe", "room_id": room})
                await good.recv_until(lambda f: f.get("type") == "unsubscribed", 5)
            return took

        took, _ = await asyncio.gather(measure(), flood())
        code, _ = await bad.wait_closed(15)
        assert code == 1008, code
        channels = [ch.decode() for ch in r.pubsub_channels("chat:room:*")]
        assert len(channels) <= 1, channels  # at most the real room
        print(f"\nother user's subscribe during the flood: median "
              f"{statistics.median(took) * 1000:.0f} ms, max {max(took) * 1000:.0f} ms")
        assert max(took) < 0.5, took
        await good.close()

    asyncio.run(run())


def test_every_frame_type_counts_against_the_budget(make_stack):
    """Even harmless frames (ping) are budgeted per connection: past the burst they are
    refused with rate_limited, and a socket that keeps going is closed with 1008."""
    from websockets.exceptions import ConnectionClosed

    s = make_stack(gateways=1, env={"WS_FRAME_RATE": "20", "WS_FRAME_BURST": "100"})
    c = Client(s)
    u = c.new_user()

    async def run():
        ws = await connect(s.gateway_ws_url(0), u["token"], name="pinger")
        try:
            for _ in range(400):
                await ws.send({"type": "ping"})
        except ConnectionClosed:
            pass
        code, _ = await ws.wait_closed(10)
        assert code == 1008, code
        pongs = [f for f in ws.frames if f.get("type") == "pong"]
        limited = [f for f in ws.frames if f.get("code") == "rate_limited"]
        assert 100 <= len(pongs) < 150, len(pongs)
        assert limited and limited[0]["retry_after_ms"] > 0

    asyncio.run(run())


def test_socket_cap_counts_every_gateway_and_frees_a_dead_ones(make_stack):
    """Point 7: MAX_SOCKETS_PER_USER=4 across two gateways and lighttpd: the fifth socket
    is closed with 1008 too_many_connections wherever it lands; closing one frees a place;
    a killed gateway's sockets stop counting within their 30 s expiry."""
    import time

    s = make_stack(gateways=2, env={"MAX_SOCKETS_PER_USER": "4"})
    c = Client(s)
    u, other = c.new_user(), c.new_user()

    async def ok(url, name):
        ws = await connect(url, u["token"], name=name)
        await ws.send({"type": "ping"})
        assert (await ws.recv_until(lambda f: f.get("type") == "pong", 5))["type"] == "pong"
        return ws

    async def refused(url):
        from websockets.exceptions import ConnectionClosed
        ws = await connect(url, u["token"], name="over")
        try:
            await ws.send({"type": "ping"})
        except ConnectionClosed:
            pass  # closed before the frame went out
        assert await ws.wait_closed(5) == (1008, "too_many_connections")

    async def run():
        on0 = [await ok(s.gateway_ws_url(0), "gw0a"), await ok(s.gateway_ws_url(0), "gw0b")]
        on1 = [await ok(s.gateway_ws_url(1), "gw1a"), await ok(s.gateway_ws_url(1), "gw1b")]
        for url in (s.gateway_ws_url(0), s.gateway_ws_url(1), s.ws_url):
            await refused(url)
        # another user is not affected
        ws = await connect(s.gateway_ws_url(0), other["token"])
        await ws.send({"type": "ping"})
        assert (await ws.recv())["type"] == "pong"
        await ws.close()
        # a closed socket gives its place back
        await on0.pop().close()
        await asyncio.sleep(0.3)
        on0.append(await ok(s.ws_url, "again"))
        await refused(s.gateway_ws_url(0))
        # gateway 1 dies with two sockets: they count until their entry expires (30 s)
        s.kill_gateway(1)
        await refused(s.gateway_ws_url(0))
        t0 = time.monotonic()
        while True:
            ws = await connect(s.gateway_ws_url(0), u["token"], name="after-death")
            try:
                await ws.send({"type": "ping"})
                f = await ws.recv(3)
            except Exception:
                f = None
            if f and f.get("type") == "pong":
                break
            assert time.monotonic() - t0 < 40, "a dead gateway's sockets still count"
            await asyncio.sleep(2)
        freed_after = time.monotonic() - t0
        assert freed_after > 5, freed_after  # not freed by anything but the expiry
        for ws in on0 + [ws]:
            await ws.close()

    asyncio.run(run())
