"""test_rest_members.py - /api/rooms/{id}/members (list with role and presence; the
owner adds and removes members) and /api/dms (the one private room of a pair)."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from rest_client import Client, RedisSubscriber, assert_error, new_id


@pytest.fixture(scope="module")
def c(stack):
    return Client(stack)


def test_members_list(c):
    a = c.new_user()
    b = c.new_user()
    room = c.new_room(a)
    c.join(b, room["id"])
    r = c.get(f"/api/rooms/{room['id']}/members", b["token"])
    assert r.status_code == 200, r.text
    members = r.json()["members"]
    assert sorted(members, key=lambda m: m["role"] != "owner") == [
        {"id": a["id"], "username": a["username"], "online": False, "role": "owner"},
        {"id": b["id"], "username": b["username"], "online": False, "role": "member"},
    ]
    priv = c.new_room(a, private=True)
    assert_error(c.get(f"/api/rooms/{priv['id']}/members", b["token"]), 404, "not_found")
    assert_error(c.get(f"/api/rooms/{new_id()}/members", b["token"]), 404, "not_found")
    assert_error(c.get(f"/api/rooms/{room['id']}/members"), 401)


def test_owner_adds_and_removes(c, stack):
    owner = c.new_user()
    b = c.new_user()
    x = c.new_user()
    priv = c.new_room(owner, private=True)
    sub = RedisSubscriber(stack.redis_url, f"chat:room:{{{priv['id']}}}")
    try:
        r = c.post(f"/api/rooms/{priv['id']}/members", {"user_id": b["id"]}, owner["token"])
        assert r.status_code == 200, r.text
        assert set(r.json()["members"]) == {owner["id"], b["id"]}
        # adding again: no change, no second message
        r = c.post(f"/api/rooms/{priv['id']}/members", {"user_id": b["id"]}, owner["token"])
        assert r.status_code == 200 and len(r.json()["members"]) == 2
        # the upper-case spelling of an id is not an id (issue 10, point 1)
        r = c.post(f"/api/rooms/{priv['id']}/members", {"user_id": b["id"].upper()},
                   owner["token"])
        assert r.status_code == 400, r.text
        r = c.delete(f"/api/rooms/{priv['id']}/members/{b['id']}", owner["token"])
        assert r.status_code == 200, r.text
        assert r.json()["members"] == [owner["id"]]
        events = sub.messages(4)
    finally:
        sub.close()
    assert [e.get("type") for e in events] == ["member_added", "system", "system",
                                               "member_removed"], events
    assert events[0]["user_id"] == b["id"] and events[3]["user_id"] == b["id"]
    assert "joined" in events[1]["content"] and "removed" in events[2]["content"]
    assert_error(c.get(f"/api/rooms/{priv['id']}", b["token"]), 404)
    # removing a non-member
    assert_error(c.delete(f"/api/rooms/{priv['id']}/members/{b['id']}", owner["token"]), 404,
                 "not_found")
    # non-owner member: 403
    c.post(f"/api/rooms/{priv['id']}/members", {"user_id": b["id"]}, owner["token"])
    assert_error(c.post(f"/api/rooms/{priv['id']}/members", {"user_id": x["id"]}, b["token"]),
                 403, "not_owner")
    assert_error(c.delete(f"/api/rooms/{priv['id']}/members/{owner['id']}", b["token"]), 403,
                 "not_owner")
    # non-member of the private room: it does not exist for them
    assert_error(c.post(f"/api/rooms/{priv['id']}/members", {"user_id": x["id"]}, x["token"]),
                 404, "not_found")
    # the owner cannot remove themself
    assert_error(c.delete(f"/api/rooms/{priv['id']}/members/{owner['id']}", owner["token"]),
                 403)
    # unknown / malformed targets
    assert_error(c.post(f"/api/rooms/{priv['id']}/members", {"user_id": new_id()},
                        owner["token"]), 404, "not_found")
    assert_error(c.post(f"/api/rooms/{priv['id']}/members", {"user_id": "zz"}, owner["token"]),
                 400, "validation_error")
    assert_error(c.post(f"/api/rooms/{priv['id']}/members", {"user_id": 7}, owner["token"]),
                 400, "validation_error")
    assert_error(c.post(f"/api/rooms/{priv['id']}/members", {}, owner["token"]), 400)
    assert_error(c.delete(f"/api/rooms/{priv['id']}/members/nope", owner["token"]), 404)
    assert_error(c.req("PUT", f"/api/rooms/{priv['id']}/members/{b['id']}", owner["token"]), 405)


def test_owner_manages_public_room(c):
    owner = c.new_user()
    b = c.new_user()
    pub = c.new_room(owner)
    c.join(b, pub["id"])
    assert_error(c.delete(f"/api/rooms/{pub['id']}/members/{owner['id']}", b["token"]), 403,
                 "not_owner")
    r = c.delete(f"/api/rooms/{pub['id']}/members/{b['id']}", owner["token"])
    assert r.status_code == 200 and r.json()["members"] == [owner["id"]]


def test_dm(c, stack):
    a = c.new_user()
    b = c.new_user()
    outsider = c.new_user()
    r = c.post("/api/dms", {"user_id": b["id"]}, a["token"])
    assert r.status_code == 200, r.text
    dm = r.json()
    assert dm["is_private"] is True and sorted(dm["members"]) == sorted([a["id"], b["id"]])
    # the same room from either side, every time
    assert c.post("/api/dms", {"user_id": a["id"]}, b["token"]).json()["id"] == dm["id"]
    assert c.post("/api/dms", {"user_id": b["id"]}, a["token"]).json()["id"] == dm["id"]
    # private: invisible to others, and nobody can be added or leave
    assert_error(c.get(f"/api/rooms/{dm['id']}", outsider["token"]), 404)
    assert_error(c.post(f"/api/rooms/{dm['id']}/join", token=outsider["token"]), 404)
    owner = a if dm["creator_id"] == a["id"] else b
    assert_error(c.post(f"/api/rooms/{dm['id']}/members", {"user_id": outsider["id"]},
                        owner["token"]), 403)
    assert_error(c.post(f"/api/rooms/{dm['id']}/leave", token=b["token"]), 403)
    # listed for both
    for u in (a, b):
        ids = [x["id"] for x in c.get("/api/rooms?limit=200", u["token"]).json()["rooms"]]
        assert dm["id"] in ids
    assert_error(c.post("/api/dms", {"user_id": a["id"]}, a["token"]), 403, "forbidden")
    assert_error(c.post("/api/dms", {"user_id": new_id()}, a["token"]), 404, "not_found")
    assert_error(c.post("/api/dms", {"user_id": "abc"}, a["token"]), 400, "validation_error")
    assert_error(c.post("/api/dms", {}, a["token"]), 400, "validation_error")
    assert_error(c.post("/api/dms", {"user_id": b["id"]}), 401, "missing_token")


def test_dm_race_creates_one_room(c):
    a = c.new_user()
    b = c.new_user()

    def open_dm(i):
        me, other = (a, b) if i % 2 else (b, a)
        return Client(c.stack).post("/api/dms", {"user_id": other["id"]}, me["token"]).json()["id"]

    with ThreadPoolExecutor(6) as ex:
        ids = set(ex.map(open_dm, range(6)))
    assert len(ids) == 1
