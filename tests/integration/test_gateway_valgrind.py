"""test_gateway_valgrind.py - the gateway leaks nothing once its connections are closed
(the quality bar: "valgrind shows no leaks in the gateway after connections close").

A gateway runs under valgrind (memcheck, --leak-check=full) while 30 sockets of two users
connect, subscribe (with and without a replay), send and receive messages, one socket
is left to the server's close on shutdown, and the rest close; then the gateway is
stopped with SIGTERM (the drain path) and valgrind's report must show no definitely or
indirectly lost block and no memory error in our code. Runs in the pytest process
(real lighttpd, gateway, Redis, FerretDB); slow (~30 s: memcheck runs the gateway 20-50
times slower).
"""
import asyncio
import re
import signal
import time

from ws_client import api, connect, create_room, is_room_message, register

SOCKETS = 30


def test_no_leaks_after_connections_close(make_stack, tmp_path):
    s = make_stack(gateways=1, env={"WS_DRAIN_MS": "500", "LOG_LEVEL": "warn"})
    log = tmp_path / "valgrind.log"
    s.kill_gateway(0)
    s.start_gateway(0, wrapper=["valgrind", "--tool=memcheck", "--leak-check=full",
                                "--show-leak-kinds=definite,indirect",
                                "--errors-for-leak-kinds=definite,indirect",
                                "--num-callers=30", f"--log-file={log}"])
    a = register(s.http_url)
    b = register(s.http_url)
    room = create_room(s.http_url, a["token"])
    api(s.http_url, "POST", f"/api/rooms/{room}/join", b["token"])
    url = s.gateway_ws_url(0)

    async def run():
        socks = []
        for i in range(SOCKETS):
            u = a if i % 2 == 0 else b
            c = await connect(url, u["token"], open_timeout=60, name=f"s{i}")
            f = await c.subscribe(room, **({"after_seq": 0} if i % 3 == 0 else {}))
            assert f["type"] == "subscribed", f
            socks.append(c)
        for i in range(10):
            ack = await asyncio.wait_for(socks[i].send_message(room, f"m{i}"), 60)
            assert ack["type"] == "ack", ack
        last = socks[-1]
        await last.wait_for_new(lambda f: is_room_message(f) and f.get("content") == "m9", 0, 60)
        for c in socks[:-1]:
            await c.close()
        return last  # left open: the gateway closes it as it drains

    last = asyncio.run(run())
    time.sleep(1.0)
    code = s.kill_gateway(0, sig=signal.SIGTERM, timeout=120)
    del last
    report = log.read_text()
    tail = report[-4000:]
    assert code == 0, (code, tail)
    assert re.search(r"ERROR SUMMARY: 0 errors", report), tail
    assert "definitely lost: 0 bytes" in report or "All heap blocks were freed" in report or \
        "definitely lost" not in report, tail
    assert "indirectly lost: 0 bytes" in report or "All heap blocks were freed" in report or \
        "indirectly lost" not in report, tail
