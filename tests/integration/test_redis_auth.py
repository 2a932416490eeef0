"""test_redis_auth.py - issue 10, point 11: the whole system (REST behind lighttpd and two
gateways) against a Redis that requires a password, given in REDIS_URL either as
requirepass (redis://:PASSWORD@host:port) or as an ACL user (redis://USER:PASSWORD@...):
register, login, send and receive across both gateways and lighttpd work, the gateways
AUTH again after Redis restarts, a connection without (or with a wrong) password is
refused by that Redis, and no log line carries the password."""
import asyncio
import secrets
import time

import pytest

from rest_client import RedisConn
from ws_client import api, connect, create_room, register


def _refused(reply):
    return isinstance(reply, str) and reply.startswith(("NOAUTH", "WRONGPASS", "ERR", "NOPERM"))


async def _exchange(stack, owner, other, room, text):
    """owner sends on gateway 0; other receives on gateway 1 and through lighttpd."""
    a = await connect(stack.gateway_ws_url(0), owner["token"], name="owner@gw0")
    b = await connect(stack.gateway_ws_url(1), other["token"], name="other@gw1")
    c = await connect(stack.ws_url, other["token"], name="other@lighttpd")
    try:
        for cl in (a, b, c):
            assert (await cl.subscribe(room))["type"] == "subscribed"
        ack = await a.send_message(room, text)
        assert ack["type"] == "ack", ack
        for cl in (b, c):
            got = await cl.recv_until(lambda f: f.get("content") == text, timeout=10)
            assert got["seq"] == ack["seq"], got
    finally:
        for cl in (a, b, c):
            await cl.close()


def _exchange_with_retry(stack, owner, other, room, text, timeout=30.0):
    deadline = time.time() + timeout
    while True:
        try:
            asyncio.run(_exchange(stack, owner, other, room, text))
            return
        except (AssertionError, TimeoutError, OSError):
            if time.time() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.parametrize("user", [None, "chatapp"], ids=["requirepass", "acl_user"])
def test_stack_against_password_protected_redis(make_stack, user):
    password = "rp-" + secrets.token_hex(12)
    s = make_stack(gateways=2, redis_password=password, redis_user=user)
    assert f"{user or ''}:{password}@" in s.redis_url

    # that Redis refuses whoever lacks the password
    anon = RedisConn(s.redis_url, auth=False)
    try:
        assert _refused(anon.command("PING")), "Redis answered without a password"
        assert _refused(anon.command("PUBLISH", "chat:user:{x}", "{}"))
        wrong = ("AUTH", user, "wrong-" + password) if user else ("AUTH", "wrong-" + password)
        assert _refused(anon.command(*wrong))
    finally:
        anon.close()
    authed = RedisConn(s.redis_url)
    try:
        assert authed.command("PING") == "PONG"
    finally:
        authed.close()

    # REST over lighttpd: health sees Redis, register and login work
    st, health = api(s.http_url, "GET", "/health")
    assert st == 200 and health["redis"] == "ok", (st, health)
    owner, other = register(s.http_url), register(s.http_url)
    room = create_room(s.http_url, owner["token"])
    st, _ = api(s.http_url, "POST", f"/api/rooms/{room}/join", token=other["token"])
    assert st == 200

    # send and receive across both gateways and lighttpd (subscribe connection + command
    # connection of each gateway authenticated)
    _exchange_with_retry(s, owner, other, room, "hello over an authenticated Redis")

    # Redis restarts: every connection must AUTH again before anything else
    s.stop_redis()
    s.start_redis()
    _exchange_with_retry(s, owner, other, room, "hello after a Redis restart")
    st, health = api(s.http_url, "GET", "/health")
    assert st == 200 and health["redis"] == "ok", (st, health)

    # no process logged the password
    for path in s.log_dir.glob("*.log"):
        assert password not in path.read_text(errors="replace"), path.name
