"""test_gateway_dns.py - a Redis host name never blocks the gateway's event loop (the
quality bar: no blocking call on the loop). hiredis resolves a name with a blocking
getaddrinfo inside its connect; the gateway looks the name up on libuv's threadpool first
and hands hiredis the address. Here the gateway's getaddrinfo is made slow (1.5 s, an
LD_PRELOAD shim compiled by the test) for one name that stands for the stack's Redis;
while Redis is down the gateway reconnects again and again, each time looking the name up,
and its /livez must keep answering at once. Then Redis comes back and the gateway, still
through the name, is ready again. Real gateway, Redis and FerretDB; runs in the pytest
process."""
import os
import subprocess
import time
import urllib.request
from urllib.parse import urlparse

SLOW_NAME = "slow-redis.test"
SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    gai_fn real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");

    if (node != NULL && strcmp(node, "%(name)s") == 0) {
        usleep(1500000);
        node = "%(addr)s";
    }
    return real(node, service, hints, res);
}
"""


def _get_ms(url):
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    return status, (time.monotonic() - t0) * 1000


def test_a_slow_name_lookup_does_not_stall_the_loop(make_stack, tmp_path):
    s = make_stack(gateways=1)
    src = tmp_path / "slow_gai.c"
    so = tmp_path / "slow_gai.so"
    src.write_text(SHIM % {"name": SLOW_NAME, "addr": s.host})
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(so), str(src), "-ldl"], check=True)
    u = urlparse(s.redis_url)
    auth = u.netloc.rsplit("@", 1)[0] + "@" if "@" in u.netloc else ""
    named = f"redis://{auth}{SLOW_NAME}:{u.port}{u.path}"
    s.kill_gateway(0)
    s.start_gateway(0, wrapper=["env", f"LD_PRELOAD={so}", "ASAN_OPTIONS=verify_asan_link_order=0:"
                                + os.environ.get("ASAN_OPTIONS", "")],
                    extra_env={"REDIS_URL": named})
    base = s.gateway_ws_url(0).replace("ws://", "http://").rsplit("/ws", 1)[0]
    deadline = time.monotonic() + 20
    while _get_ms(base + "/health")[0] != 200:  # connected through the name
        assert time.monotonic() < deadline, "the gateway never reached Redis by its name"
        time.sleep(0.2)

    s.stop_redis()
    try:
        worst = 0.0
        t_end = time.monotonic() + 8  # several reconnects, each a 1.5 s lookup
        while time.monotonic() < t_end:
            status, ms = _get_ms(base + "/livez")
            assert status == 200
            worst = max(worst, ms)
            time.sleep(0.05)
        print(f"\nworst /livez while Redis was away: {worst:.0f} ms")
        assert worst < 500, f"/livez took {worst:.0f} ms: the loop waited on a name lookup"
        assert s.log_has("gateway0", "redis connection lost")
    finally:
        s.start_redis()
    deadline = time.monotonic() + 30
    while _get_ms(base + "/health")[0] != 200:
        assert time.monotonic() < deadline, "the gateway did not come back to Redis by its name"
        time.sleep(0.2)
