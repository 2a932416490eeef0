"""test_gateway_presence.py - presence across gateways: a user is online while any of
their sockets is open on any gateway (one event per change per socket, debounced
against flapping), offline after the last one closes, and offline within ~35 s when the
gateway holding them is killed with SIGKILL (the other gateways' sweep)."""
import asyncio
import signal
import time

from ws_client import connect, create_room, register


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
