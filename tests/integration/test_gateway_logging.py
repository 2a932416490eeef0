"""test_gateway_logging.py - a stderr nobody reads must not stall a gateway (issue 11,
hot path: "a slow log reader must not stall the loop ... drop with a counter when full").

The gateway is started with its stderr on a pipe that is never read: the pipe (64 KiB)
fills after a hundred or so connects, then the log ring (LOG_BUFFER_BYTES, 64 KiB here). Before common/log.c's
writer thread, the loop thread blocked in fwrite() on the full pipe and every socket
hung; now sockets keep working, lines past the ring are dropped, and
chat_gateway_log_lines_dropped_total counts them.

Runs in the pytest process (real lighttpd, gateway, Redis, FerretDB).
"""
import asyncio
import sys
import time

from metrics_text import gateway_page, sample
from ws_client import connect, create_room, register

# Holds the read end of the gateway's stderr pipe open and never reads it.
NEVER_READ = ("import os, subprocess, sys\n"
              "r, w = os.pipe()\n"
              "p = subprocess.Popen(sys.argv[1:], stdout=w, stderr=w)\n"
              "os.close(w)\n"
              "sys.exit(p.wait())\n")

SOCKETS = 2000  # 2 lines of ~200 bytes each: six times the pipe and the ring


def _dropped(s):
    got = sample(gateway_page(s, 0), "chat_gateway_log_lines_dropped_total")
    assert got is not None, "chat_gateway_log_lines_dropped_total missing from /metrics"
    return got


def test_a_stderr_nobody_reads_does_not_stall_the_gateway(make_stack):
    s = make_stack(gateways=1, env={"LOG_LEVEL": "info", "LOG_BUFFER_BYTES": "65536",
                                    "MAX_SOCKETS_PER_USER": "100000"})
    s.kill_gateway(0)
    s.start_gateway(0, wrapper=[sys.executable, "-c", NEVER_READ])
    u = register(s.http_url)
    room = create_room(s.http_url, u["token"])
    url = s.gateway_ws_url(0)

    async def run():
        sem = asyncio.Semaphore(50)
        slowest = 0.0

        async def one(i):
            nonlocal slowest
            async with sem:
                t0 = time.monotonic()
                c = await connect(url, u["token"], open_timeout=10)
                f = await c.subscribe(room)
                assert f["type"] == "subscribed", f
                await c.close()
                slowest = max(slowest, time.monotonic() - t0)

        t0 = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(SOCKETS))), 240)
        took = time.monotonic() - t0
        # the loop still answers a message at once
        c = await connect(url, u["token"])
        t1 = time.monotonic()
        ack = await asyncio.wait_for(c.send_message(room, "still here"), 5)
        assert ack["type"] == "ack", ack
        ack_s = time.monotonic() - t1
        await c.close()
        return took, slowest, ack_s

    took, slowest, ack_s = asyncio.run(run())
    dropped = _dropped(s)
    print(f"\n{SOCKETS} sockets opened, subscribed, closed with stderr never read: "
          f"{took:.1f} s, slowest {slowest:.2f} s, then an ack in {ack_s * 1000:.0f} ms; "
          f"{dropped:.0f} log lines dropped")
    assert s.gateways[0].alive()
    assert dropped > 0, "the pipe and the ring should have filled"
