"""test_rest_rooms.py - /api/rooms: create, list with limit/offset, get, join, leave,
private-room visibility, and the live events (system message, member_added /
member_removed) published on chat:room:<id> for the gateways."""
import secrets

import pytest

from rest_client import Client, RedisSubscriber, assert_error, new_id


@pytest.fixture(scope="module")
def c(stack):
    return Client(stack)


def test_create_room(c):
    u = c.new_user()
    r = c.post("/api/rooms", {"name": "Général 🎉", "description": "d", "is_private": False},
               u["token"])
    assert r.status_code == 201, r.text
    room = r.json()
    assert room["name"] == "Général 🎉" and room["description"] == "d"
    assert room["creator_id"] == u["id"] and room["members"] == [u["id"]]
    assert room["is_private"] is False and room["created_at"].endswith("Z")
    # description and is_private are optional
    r = c.post("/api/rooms", {"name": "minimal"}, u["token"])
    assert r.status_code == 201 and r.json()["description"] == ""
    assert r.json()["is_private"] is False


@pytest.mark.parametrize("body", [
    {}, {"name": ""}, {"name": "   "}, {"name": "x" * 101}, {"name": 5},
    {"name": "ok", "description": "d" * 501}, {"name": "ok", "description": 3},
    {"name": "ok", "is_private": "yes"}, {"name": "ok", "is_private": 1},
])
def test_create_room_validation(c, body):
    u = c.new_user()
    assert_error(c.post("/api/rooms", body, u["token"]), 400, "validation_error")


def test_create_room_limits_are_characters(c):
    u = c.new_user()
    assert c.post("/api/rooms", {"name": "é" * 100}, u["token"]).status_code == 201
    assert c.post("/api/rooms", {"name": "n", "description": "ü" * 500},
                  u["token"]).status_code == 201


def test_list_pagination_and_visibility(c):
    a = c.new_user()
    b = c.new_user()
    mine = [c.new_room(a, f"pub {i}") for i in range(3)]
    secret = c.new_room(a, "secret", private=True)
    other_secret = c.new_room(b, "other secret", private=True)
    r = c.get("/api/rooms", a["token"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["offset"] == 0 and body["limit"] == 50
    ids = [x["id"] for x in body["rooms"]]
    assert secret["id"] in ids or body["total"] > 50
    assert other_secret["id"] not in ids
    total = body["total"]
    # pages cover everything exactly once
    seen = []
    for off in range(0, total, 2):
        page = c.get(f"/api/rooms?limit=2&offset={off}", a["token"]).json()
        assert page["limit"] == 2 and page["offset"] == off and page["total"] == total
        seen += [x["id"] for x in page["rooms"]]
    assert len(seen) == total and len(set(seen)) == total
    assert {m["id"] for m in mine} <= set(seen)
    assert other_secret["id"] not in seen
    # b sees its own private room but not a's
    bseen = [x["id"] for x in c.get("/api/rooms?limit=200", b["token"]).json()["rooms"]]
    assert other_secret["id"] in bseen and secret["id"] not in bseen
    # limit is capped at 200
    assert c.get("/api/rooms?limit=1000", a["token"]).json()["limit"] == 200
    assert c.get(f"/api/rooms?offset={total}", a["token"]).json()["rooms"] == []
    for q in ("limit=0", "limit=-1", "limit=x", "offset=-1", "offset=1.5", "limit=", "limit=1e3"):
        assert_error(c.get(f"/api/rooms?{q}", a["token"]), 400, "validation_error")
    assert_error(c.get("/api/rooms"), 401, "missing_token")


def test_a_list_page_mixes_cached_and_uncached_rooms(c, stack):
    """GET /api/rooms reads a page's room documents and member pages from Redis in two
    pipelined round trips; a room whose document or member set Redis lost is read from
    MongoDB in the same page, and the answer is the same as with everything cached."""
    import redis
    a, b = c.new_user(), c.new_user()
    rooms = [c.new_room(a, f"mix {i}") for i in range(6)]
    for room in rooms[::2]:
        c.join(b, room["id"])
    before = c.get("/api/rooms?limit=6", a["token"]).json()
    assert [x["id"] for x in before["rooms"]] == [x["id"] for x in reversed(rooms)], before
    r = redis.Redis.from_url(stack.redis_url)
    lost = [f"chat:{{{rooms[1]['id']}}}:info", f"chat:{{{rooms[4]['id']}}}:info",
            f"chat:{{{rooms[2]['id']}}}:members",  # evicted alone: its meta still counts 2
            f"chat:{{{rooms[4]['id']}}}:members", f"chat:{{{rooms[4]['id']}}}:mmeta"]
    assert r.delete(*lost) == 5
    after = c.get("/api/rooms?limit=6", a["token"]).json()
    assert after == before
    joined = {x["id"]: x for x in after["rooms"]}
    assert joined[rooms[2]["id"]]["member_count"] == 2
    assert sorted(joined[rooms[4]["id"]]["members"]) == sorted([a["id"], b["id"]])
    # and the pieces it read from MongoDB are cached again
    assert r.exists(f"chat:{{{rooms[1]['id']}}}:info", f"chat:{{{rooms[2]['id']}}}:members",
                    f"chat:{{{rooms[4]['id']}}}:members") == 3


def test_get_room(c):
    a = c.new_user()
    b = c.new_user()
    pub = c.new_room(a)
    priv = c.new_room(a, private=True)
    assert c.get(f"/api/rooms/{pub['id']}", b["token"]).json() == pub
    assert c.get(f"/api/rooms/{priv['id']}", a["token"]).json()["id"] == priv["id"]
    assert_error(c.get(f"/api/rooms/{priv['id']}", b["token"]), 404, "not_found")
    assert_error(c.get(f"/api/rooms/{new_id()}", a["token"]), 404, "not_found")
    assert_error(c.get("/api/rooms/xyz", a["token"]), 404, "not_found")
    assert_error(c.get("/api/rooms/0123456789abcdef0123456g", a["token"]), 404, "not_found")


def test_join_and_leave_publish_live_events(c, stack):
    a = c.new_user()
    b = c.new_user()
    room = c.new_room(a)
    sub = RedisSubscriber(stack.redis_url, f"chat:room:{{{room['id']}}}")
    try:
        joined = c.join(b, room["id"])
        assert set(joined["members"]) == {a["id"], b["id"]}
        # joining twice is a no-op
        assert c.join(b, room["id"])["members"] == joined["members"]
        left = c.leave(b, room["id"])
        assert left["members"] == [a["id"]]
        assert c.leave(b, room["id"])["members"] == [a["id"]]  # not a member: no-op
        events = sub.messages(4)
    finally:
        sub.close()
    assert [e.get("type") for e in events] == ["member_added", "system", "system",
                                               "member_removed"], events
    assert events[0] == {"type": "member_added", "room_id": room["id"], "user_id": b["id"]}
    assert events[3] == {"type": "member_removed", "room_id": room["id"], "user_id": b["id"]}
    j, lv = events[1], events[2]
    assert j["room_id"] == room["id"] and j["user_id"] == b["id"]
    assert b["username"] in j["content"] and "joined" in j["content"]
    assert "left" in lv["content"] and lv["seq"] == j["seq"] + 1
    for m in (j, lv):
        assert set(m) >= {"id", "room_id", "user_id", "username", "content", "type",
                          "timestamp", "seq"}
    # the same messages are in the history
    hist = c.get(f"/api/rooms/{room['id']}/messages", a["token"]).json()["messages"]
    assert [m["id"] for m in hist] == [j["id"], lv["id"]]


def test_join_rules(c):
    a = c.new_user()
    b = c.new_user()
    priv = c.new_room(a, private=True)
    # private rooms are invisible to non-members, joining included
    assert_error(c.post(f"/api/rooms/{priv['id']}/join", token=b["token"]), 404, "not_found")
    assert_error(c.post(f"/api/rooms/{new_id()}/join", token=b["token"]), 404, "not_found")
    assert_error(c.post("/api/rooms/nothex/join", token=b["token"]), 404, "not_found")
    assert_error(c.get(f"/api/rooms/{priv['id']}/join", b["token"]), 405, "method_not_allowed")
    # the owner cannot leave
    pub = c.new_room(a)
    assert_error(c.post(f"/api/rooms/{pub['id']}/leave", token=a["token"]), 403,
                 "owner_cannot_leave")
    assert_error(c.post(f"/api/rooms/{priv['id']}/leave", token=b["token"]), 404, "not_found")


def test_private_room_member_can_leave(c):
    a = c.new_user()
    b = c.new_user()
    priv = c.new_room(a, private=True)
    r = c.post(f"/api/rooms/{priv['id']}/members", {"user_id": b["id"]}, a["token"])
    assert r.status_code == 200, r.text
    assert c.get(f"/api/rooms/{priv['id']}", b["token"]).status_code == 200
    assert c.leave(b, priv["id"])["members"] == [a["id"]]
    assert_error(c.get(f"/api/rooms/{priv['id']}", b["token"]), 404, "not_found")
    # and cannot come back by itself
    assert_error(c.post(f"/api/rooms/{priv['id']}/join", token=b["token"]), 404)


def test_concurrent_joins_store_one_message_each(c):
    from concurrent.futures import ThreadPoolExecutor
    a = c.new_user()
    room = c.new_room(a, "busy " + secrets.token_hex(2))
    users = [c.new_user() for _ in range(6)]
    with ThreadPoolExecutor(6) as ex:
        list(ex.map(lambda u: Client(c.stack).join(u, room["id"]), users))
    got = c.get(f"/api/rooms/{room['id']}", a["token"]).json()
    assert set(got["members"]) == {a["id"]} | {u["id"] for u in users}
    hist = c.get(f"/api/rooms/{room['id']}/messages", a["token"]).json()
    assert hist["total"] == 6
    assert [m["seq"] for m in hist["messages"]] == list(range(1, 7))
