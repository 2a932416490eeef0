"""test_rest_sessions.py - issue 10, point 12 (REST side): tokens carry a random jti and
the session's auth_time; a refresh keeps auth_time and can never extend a session past
SESSION_MAX_AGE; POST /api/auth/logout revokes the token server-side (a Redis denylist
entry by jti that expires with the token), after which every authenticated REST call
answers 401 invalid_token, and the gateways are told on the user's channel."""
import base64
import json
import time

import pytest

from rest_client import Client, RedisConn, RedisSubscriber, assert_error


def claims_of(token):
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


@pytest.fixture(scope="module")
def client(stack):
    return Client(stack)


def test_tokens_carry_jti_and_auth_time(client):
    u = client.new_user()
    again = client.login(u["email"])
    a, b = claims_of(u["token"]), claims_of(again)
    assert len(a["jti"]) == 32 and a["jti"] != b["jti"], (a, b)
    assert a["auth_time"] == a["iat"], a
    time.sleep(1.1)
    r = client.post("/api/auth/refresh", token=u["token"])
    assert r.status_code == 200, r.text
    c = claims_of(r.json()["token"])
    assert c["auth_time"] == a["auth_time"] and c["iat"] > a["iat"], (a, c)
    assert c["jti"] != a["jti"], c


def test_logout_revokes_the_token(client, stack):
    u = client.new_user()
    other = client.login(u["email"])  # a second session of the same user
    jti = claims_of(u["token"])["jti"]
    sub = RedisSubscriber(stack.redis_url, f"chat:user:{{{u['id']}}}")
    try:
        r = client.post("/api/auth/logout", token=u["token"])
        assert r.status_code == 204, r.text
        events = sub.messages(1, timeout=5)
    finally:
        sub.close()
    assert events == [{"type": "token_revoked", "jti": jti}], events
    for method, path in (("GET", "/api/users/me"), ("GET", "/api/rooms"),
                         ("POST", "/api/auth/refresh"), ("POST", "/api/auth/logout"),
                         ("POST", "/api/rooms")):
        r = client.req(method, path, token=u["token"],
                       json_body={"name": "x", "description": "", "is_private": False}
                       if path == "/api/rooms" and method == "POST" else None)
        err = assert_error(r, 401, "invalid_token")
        assert "revoked" in err["message"], err
    # the user's other session is untouched
    assert client.get("/api/users/me", token=other).status_code == 200


def test_denylist_entry_lives_as_long_as_the_token(client, stack):
    u = client.new_user()
    c = claims_of(u["token"])
    assert client.post("/api/auth/logout", token=u["token"]).status_code == 204
    redis = RedisConn(stack.redis_url)
    try:
        ttl = int(redis.command("TTL", f"chat:revoked:{c['jti']}"))
    finally:
        redis.close()
    left = c["exp"] - time.time()
    assert left - 5 <= ttl <= left + 1, (ttl, left)


def test_denylist_entry_expires_with_the_token(make_stack):
    s = make_stack(gateways=0, env={"JWT_TTL": "3"})
    c = Client(s)
    u = c.new_user()
    jti = claims_of(u["token"])["jti"]
    assert c.post("/api/auth/logout", token=u["token"]).status_code == 204
    redis = RedisConn(s.redis_url)
    try:
        assert redis.command("EXISTS", f"chat:revoked:{jti}") == "1"
        assert_error(c.get("/api/users/me", token=u["token"]), 401, "invalid_token")
        time.sleep(3.5)
        assert redis.command("EXISTS", f"chat:revoked:{jti}") == "0"
    finally:
        redis.close()
    # gone from the denylist because the token itself has expired
    assert_error(c.get("/api/users/me", token=u["token"]), 401, "token_expired")


def test_refresh_cannot_extend_past_session_max_age(make_stack):
    s = make_stack(gateways=0, env={"SESSION_MAX_AGE": "4", "JWT_TTL": "1h"})
    c = Client(s)
    u = c.new_user()
    first = claims_of(u["token"])
    assert first["exp"] == first["auth_time"] + 4, first  # login: capped too
    time.sleep(1.1)
    r = c.post("/api/auth/refresh", token=u["token"])
    assert r.status_code == 200, r.text
    renewed = claims_of(r.json()["token"])
    assert renewed["auth_time"] == first["auth_time"], renewed
    assert renewed["exp"] == first["auth_time"] + 4, renewed  # not now + 1 h
    # a chain of refreshes gets no further: the session ends at auth_time + 4
    token = r.json()["token"]
    deadline = first["auth_time"] + 4
    while time.time() < deadline - 0.5:
        r = c.post("/api/auth/refresh", token=token)
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        assert claims_of(token)["exp"] <= deadline
        time.sleep(0.5)
    time.sleep(max(0.0, deadline - time.time()) + 0.2)
    assert_error(c.post("/api/auth/refresh", token=token), 401, "token_expired")
    # a fresh login starts a new session
    assert c.post("/api/auth/refresh", token=c.login(u["email"])).status_code == 200


def test_logout_closes_the_sockets_of_that_token(client, stack):
    """Point 12 (gateway side): sockets opened with a token close with 4001 token_revoked
    on every gateway when it is logged out; a new socket with it is closed before any frame
    is acted on; the same user's other session keeps its socket; an auth frame renewing to
    a revoked token closes the socket too."""
    import asyncio

    from websockets.exceptions import ConnectionClosed
    from ws_client import connect

    u = client.new_user()
    other = client.login(u["email"])
    spare = client.login(u["email"])

    async def run():
        doomed = [await connect(stack.gateway_ws_url(0), u["token"], name="gw0"),
                  await connect(stack.gateway_ws_url(1), u["token"], name="gw1"),
                  await connect(stack.ws_url, u["token"], name="lighttpd")]
        kept = await connect(stack.gateway_ws_url(0), other, name="kept")
        renewing = await connect(stack.gateway_ws_url(1), spare, name="renewing")
        for ws in doomed + [kept, renewing]:
            await ws.send({"type": "ping"})
            await ws.recv_until(lambda f: f.get("type") == "pong", 5)
        assert client.post("/api/auth/logout", token=u["token"]).status_code == 204
        for ws in doomed:
            assert await ws.wait_closed(3) == (4001, "token_revoked")
        await kept.send({"type": "ping"})
        assert (await kept.recv_until(lambda f: f.get("type") == "pong", 5))["type"] == "pong"
        # a new socket with the revoked token: upgraded (the signature is fine), then closed
        ws = await connect(stack.gateway_ws_url(0), u["token"], name="again")
        try:
            await ws.send({"type": "ping"})
        except ConnectionClosed:
            pass
        assert await ws.wait_closed(3) == (4001, "token_revoked")
        # renewing a live socket to the revoked token closes it as well
        await renewing.send({"type": "auth", "token": u["token"]})
        assert await renewing.wait_closed(3) == (4001, "token_revoked")
        await kept.close()

    asyncio.run(run())
