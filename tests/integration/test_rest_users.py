"""test_rest_users.py - /api/users: own profile (GET/PATCH me), public profiles with
online/last_seen, username prefix search. Black-box through lighttpd + FastCGI."""
import secrets
import socket
import time
from urllib.parse import urlparse

import pytest

from rest_client import Client, assert_error, new_id


@pytest.fixture(scope="module")
def c(stack):
    return Client(stack)


def test_me_and_patch(c):
    u = c.new_user()
    me = c.get("/api/users/me", u["token"]).json()
    assert me["id"] == u["id"] and me["email"] == u["email"]
    assert me["display_name"] is None and me["avatar_url"] is None
    r = c.patch("/api/users/me", {"display_name": "Ålice ✓", "avatar_url": "https://x.io/a.png",
                                  "unknown": 1}, u["token"])
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Ålice ✓"
    assert r.json()["avatar_url"] == "https://x.io/a.png"
    # only one field: the other stays
    r = c.patch("/api/users/me", {"display_name": "Alice"}, u["token"])
    assert r.json()["display_name"] == "Alice" and r.json()["avatar_url"] == "https://x.io/a.png"
    # null or "" clears
    r = c.patch("/api/users/me", {"avatar_url": None}, u["token"])
    assert r.status_code == 200 and r.json()["avatar_url"] is None
    r = c.patch("/api/users/me", {"display_name": ""}, u["token"])
    assert r.status_code == 200 and r.json()["display_name"] is None
    # empty patch: the profile as it is
    r = c.patch("/api/users/me", {}, u["token"])
    assert r.status_code == 200 and r.json()["id"] == u["id"]
    assert "password" not in r.text


@pytest.mark.parametrize("body", [
    {"display_name": 5}, {"avatar_url": True}, {"avatar_url": "javascript:alert(1)"},
    {"display_name": "x" * 65}, {"display_name": "bad\u0001ctl"}, {"avatar_url": "ftp://x"},
])
def test_patch_validation(c, body):
    u = c.new_user()
    assert_error(c.patch("/api/users/me", body, u["token"]), 400, "validation_error")


def test_patch_malformed(c):
    u = c.new_user()
    r = c.req("PATCH", "/api/users/me", u["token"], data=b"{\"display_name\":")
    assert_error(r, 400, "invalid_json")
    r = c.req("PATCH", "/api/users/me", u["token"], data=b"[1]")
    assert_error(r, 400, "invalid_json")
    assert_error(c.patch("/api/users/me", {"display_name": "x"}), 401, "missing_token")


def test_public_profile(c, stack):
    a = c.new_user()
    b = c.new_user()
    c.patch("/api/users/me", {"display_name": "Bee"}, b["token"])
    r = c.get(f"/api/users/{b['id']}", a["token"])
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["id"] == b["id"] and p["username"] == b["username"]
    assert p["display_name"] == "Bee" and p["online"] is False
    assert "last_seen" in p and "email" not in p
    # one spelling of an id: the upper-case one names nothing (issue 10, point 1)
    assert_error(c.get(f"/api/users/{b['id'].upper()}", a["token"]), 404, "not_found")
    assert_error(c.get(f"/api/users/{new_id()}", a["token"]), 404, "not_found")
    assert_error(c.get("/api/users/not-an-id", a["token"]), 404, "not_found")
    assert_error(c.get("/api/users/" + "a" * 25, a["token"]), 404, "not_found")
    assert_error(c.get(f"/api/users/{b['id']}"), 401)


def _redis(stack, *args):
    u = urlparse(stack.redis_url)
    with socket.create_connection((u.hostname, u.port)) as s:
        out = f"*{len(args)}\r\n"
        for a in args:
            out += f"${len(str(a))}\r\n{a}\r\n"
        s.sendall(out.encode())
        return s.recv(4096)


def test_online_follows_presence_keys(c, stack):
    """A gateway's presence entry (chat:presence:<id>, score = expiry ms) makes the user
    online in profiles, search and member lists; an expired one does not."""
    a = c.new_user()
    b = c.new_user()
    key = f"chat:presence:{b['id']}"
    _redis(stack, "ZADD", key, int(time.time() * 1000) - 1000, "gw-old")
    assert c.get(f"/api/users/{b['id']}", a["token"]).json()["online"] is False
    _redis(stack, "ZADD", key, int(time.time() * 1000) + 30000, "gw-test")
    assert c.get(f"/api/users/{b['id']}", a["token"]).json()["online"] is True
    found = c.get("/api/users", a["token"], params={"q": b["username"]}).json()["users"]
    assert [x["online"] for x in found if x["id"] == b["id"]] == [True]
    room = c.new_room(b)
    c.join(a, room["id"])
    members = c.get(f"/api/rooms/{room['id']}/members", a["token"]).json()["members"]
    assert {m["id"]: m["online"] for m in members} == {a["id"]: False, b["id"]: True}
    _redis(stack, "DEL", key)


def test_search(c):
    tag = secrets.token_hex(3)
    a = c.new_user(f"srch{tag}_alpha")
    c.new_user(f"srch{tag}_beta")
    c.new_user(f"SRCH{tag}_gamma")
    c.new_user(f"zz{tag}")
    r = c.get("/api/users", a["token"], params={"q": f"srch{tag}"})
    assert r.status_code == 200, r.text
    names = [u["username"] for u in r.json()["users"]]
    assert sorted(n.lower() for n in names) == sorted(
        [f"srch{tag}_alpha", f"srch{tag}_beta", f"srch{tag}_gamma"])
    for u in r.json()["users"]:
        assert set(u) >= {"id", "username", "display_name", "avatar_url", "online", "last_seen"}
        assert "email" not in u
    r = c.get("/api/users", a["token"], params={"q": f"SrCh{tag}", "limit": "2"})
    assert len(r.json()["users"]) == 2
    # URL-decoded: "%5F" is "_"
    r = c.get(f"/api/users?q=srch{tag}%5Fb&limit=20", a["token"])
    assert [u["username"] for u in r.json()["users"]] == [f"srch{tag}_beta"]
    # regex characters are literal
    assert c.get("/api/users", a["token"], params={"q": ".*"}).json()["users"] == []
    assert c.get("/api/users?q=", a["token"]).json()["users"] == []
    assert_error(c.get("/api/users", a["token"]), 400, "validation_error")
    assert_error(c.get("/api/users?q=a&limit=abc", a["token"]), 400, "validation_error")
    assert_error(c.get("/api/users?q=a&limit=0", a["token"]), 400, "validation_error")
    # invalid UTF-8 (lighttpd itself may refuse it first)
    assert c.get("/api/users?q=%ff%fe", a["token"]).status_code == 400
    assert_error(c.get("/api/users?q=a"), 401, "missing_token")
