"""test_gateway_scale.py - 1,200 concurrent authenticated sockets on one gateway all
receive a room broadcast (one serialized payload shared by every recipient); prints the
gateway's resident memory per socket from /proc/PID/status (VmRSS before and after)."""
import asyncio
import time

from ws_client import connect, create_room, is_room_message, mint_token, new_user_id, \
    real_user_id, register

N_USERS = 60
PER_USER = 20  # MAX_SOCKETS_PER_USER
N_SOCKETS = N_USERS * PER_USER


def _rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_thousand_sockets_receive_a_broadcast(stack):
    owner = register(stack.http_url)
    room = create_room(stack.http_url, owner["token"])
    pid = stack.gateway_pid(1)
    url = stack.gateway_ws_url(1)
    tokens = [mint_token(stack.jwt_secret, real_user_id(stack.http_url), f"load{i}") for i in range(N_USERS)]

    async def run():
        # members first (one join each), so that the sockets below only subscribe
        for tok in tokens:
            c = await connect(url, tok)
            f = await c.join(room)
            assert f["type"] == "subscribed", f  # the error frame says why
            await c.close()
        await asyncio.sleep(3.0)  # presence debounce of those short visits
        rss_before = _rss_kb(pid)
        sem = asyncio.Semaphore(100)

        async def one(i):
            async with sem:
                c = await connect(url, tokens[i % N_USERS], open_timeout=60, ping_interval=None)
                await c.send({"type": "subscribe", "room_id": room})
                await c.recv_until(lambda f: f.get("type") == "subscribed", 60)
                return c

        t0 = time.monotonic()
        clients = await asyncio.gather(*(one(i) for i in range(N_SOCKETS)))
        t_connect = time.monotonic() - t0
        await asyncio.sleep(1.0)
        rss_after = _rss_kb(pid)
        sender = await connect(stack.gateway_ws_url(0), owner["token"])
        t1 = time.monotonic()
        ack = await sender.send_message(room, "hello, everyone")
        assert ack["type"] == "ack"
        got = await asyncio.gather(*(c.recv_until(
            lambda f: is_room_message(f) and f["id"] == ack["id"], 30) for c in clients))
        t_fanout = time.monotonic() - t1
        assert len(got) == N_SOCKETS and all(g["seq"] == ack["seq"] for g in got)
        per_socket = (rss_after - rss_before) * 1024 / N_SOCKETS
        print(f"\n{N_SOCKETS} sockets on one gateway: connect+subscribe {t_connect:.1f} s, "
              f"broadcast to all {t_fanout * 1000:.0f} ms, RSS {rss_before} kB -> "
              f"{rss_after} kB = {per_socket:.0f} bytes/socket")
        await sender.close()
        await asyncio.gather(*(c.close() for c in clients))

    asyncio.run(run())


def test_memory_goes_back_after_a_mass_close(make_stack):
    """Issue 11: after thousands of sockets close, the gateway's RSS returns to within
    20% of what it was before they opened (malloc_trim after a mass close, main.c)."""
    import base64
    import os
    import socket

    s = make_stack(gateways=1, env={"MAX_SOCKETS_PER_USER": "100000"})
    u = register(s.http_url)
    pid = s.gateway_pid(0)
    time.sleep(1.0)
    base = _rss_kb(pid)
    socks = []
    req = (f"GET /ws?token={u['token']} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n").encode()
    try:
        for i in range(3000):
            c = socket.create_connection((s.host, s.gateway_port), timeout=10)
            key = base64.b64encode(os.urandom(16))
            c.sendall(req + b"Sec-WebSocket-Key: " + key + b"\r\n\r\n")
            socks.append(c)
        for c in socks:
            assert c.recv(12) == b"HTTP/1.1 101"
        time.sleep(2.0)
        full = _rss_kb(pid)
    finally:
        for c in socks:
            c.close()
    deadline = time.time() + 15
    after = _rss_kb(pid)
    while time.time() < deadline and after > base * 1.2:
        time.sleep(0.5)
        after = _rss_kb(pid)
    print(f"\nRSS: {base} kB before, {full} kB with 3,000 sockets, {after} kB after they closed")
    assert full > base * 1.2, (base, full)  # the sockets did cost memory
    assert after <= base * 1.2, (base, full, after)


def test_memory_goes_back_after_rooms_are_released(make_stack):
    """Issue 11: a gateway whose rooms held megabytes of recent frames gives that memory
    back once the rooms lose their last watcher and are released (heap_trim.h: the
    estimate of sockets, rooms and cached frames fell to half of its peak), not only
    after a mass close of sockets. One socket, 50 rooms, 64 frames of 4,000 characters
    each cached per room (~14 MB)."""
    rooms_n, per_room, content = 50, 64, "y" * 4000
    s = make_stack(gateways=1, env={"WS_ROOM_CACHE": str(per_room)})
    u = register(s.http_url)
    rooms = [create_room(s.http_url, u["token"]) for _ in range(rooms_n)]
    pid = s.gateway_pid(0)

    async def run():
        ws = await connect(s.gateway_ws_url(0), u["token"], name="filler")
        for r in rooms:
            assert (await ws.subscribe(r, timeout=30))["type"] == "subscribed"
        await asyncio.sleep(1.0)
        base = _rss_kb(pid)
        todo = [(r, f"f{i}-{r}") for i in range(per_room) for r in rooms]
        for at in range(0, len(todo), 200):  # the gateway takes 256 unacked at most
            batch = todo[at:at + 200]
            while batch:
                for r, cmid in batch:
                    await ws.send({"type": "message", "room_id": r, "content": content,
                                   "client_msg_id": cmid})
                answers = {}
                while len(answers) < len(batch):
                    f = await ws.recv_until(lambda f: f.get("type") in ("ack", "error"), 60)
                    assert f["type"] == "ack" or f.get("retryable"), f
                    answers[f["client_msg_id"]] = f["type"]
                # a store that timed out says so (retryable): resent with the same id
                batch = [(r, c) for r, c in batch if answers.get(c) != "ack"]
        def mine(f):
            return is_room_message(f) and f.get("content") == content

        got = sum(1 for f in ws.frames if mine(f))
        while got < len(todo):  # every frame read from here on is new: count it once
            assert await ws._pull(60), f"{got} of {len(todo)} room messages"
            got += mine(ws.frames[-1])
        await asyncio.sleep(1.0)
        full = _rss_kb(pid)
        await ws.close()
        return base, full

    base, full = asyncio.run(run())
    deadline = time.time() + 30  # rooms linger a few seconds after their last watcher
    after = _rss_kb(pid)
    while time.time() < deadline and after > base * 1.2:
        time.sleep(0.5)
        after = _rss_kb(pid)
    print(f"\nRSS: {base} kB with {rooms_n} rooms watched, {full} kB with their frames "
          f"cached, {after} kB after the rooms were released")
    assert full > base + 10_000, (base, full)  # the frames did cost memory
    assert after <= base * 1.2, (base, full, after)
