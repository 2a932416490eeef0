"""test_rest_history.py - GET /api/rooms/{id}/messages: latest pages counted back from
the newest (oldest first within a page), before_seq / after_seq cursors, totals and
offsets, visibility and query validation. Messages are made with join/leave, which
store system messages through the same repository as chat messages."""
import pytest

from rest_client import Client, assert_error, new_id

N = 25  # messages in the room


@pytest.fixture(scope="module")
def c(stack):
    return Client(stack)


@pytest.fixture(scope="module")
def room(c):
    owner = c.new_user()
    guest = c.new_user()
    r = c.new_room(owner)
    for i in range(N):
        if i % 2 == 0:
            c.join(guest, r["id"])
        else:
            c.leave(guest, r["id"])
    return {"room": r, "owner": owner, "guest": guest}


def _page(c, room, query=""):
    r = c.get(f"/api/rooms/{room['room']['id']}/messages{query}", room["owner"]["token"])
    assert r.status_code == 200, r.text
    return r.json()


def seqs(page):
    return [m["seq"] for m in page["messages"]]


def test_latest_pages(c, room):
    p = _page(c, room)
    assert p["total"] == N and p["offset"] == 0 and p["limit"] == 50
    assert seqs(p) == list(range(1, N + 1))
    p = _page(c, room, "?limit=10")
    assert seqs(p) == list(range(N - 9, N + 1)) and p["limit"] == 10
    p = _page(c, room, "?limit=10&offset=10")
    assert seqs(p) == list(range(N - 19, N - 9)) and p["offset"] == 10
    p = _page(c, room, "?limit=10&offset=20")
    assert seqs(p) == list(range(1, N - 19))
    assert _page(c, room, "?offset=1000")["messages"] == []
    assert _page(c, room, "?limit=500")["limit"] == 200
    m = p["messages"][0]
    assert m["type"] == "system" and m["room_id"] == room["room"]["id"]
    assert m["user_id"] == room["guest"]["id"] and m["username"] == room["guest"]["username"]
    assert m["timestamp"].endswith("Z")


def test_both_cursors_are_a_range(c, room):
    """after_seq with before_seq: the oldest `limit` messages strictly between them."""
    assert seqs(_page(c, room, "?after_seq=3&before_seq=9")) == [4, 5, 6, 7, 8]
    assert seqs(_page(c, room, "?after_seq=3&before_seq=9&limit=2")) == [4, 5]
    p = _page(c, room, "?after_seq=5&before_seq=6")
    assert p["messages"] == [] and p["offset"] == N - 5
    assert _page(c, room, "?after_seq=0&before_seq=0")["messages"] == []


def test_cursors(c, room):
    p = _page(c, room, "?before_seq=11&limit=5")
    assert seqs(p) == [6, 7, 8, 9, 10]
    assert p["total"] == N and p["offset"] == N - 10 and p["limit"] == 5
    assert seqs(_page(c, room, "?before_seq=3")) == [1, 2]
    assert seqs(_page(c, room, "?before_seq=1")) == []
    assert seqs(_page(c, room, f"?before_seq={N + 100}&limit=3")) == [N - 2, N - 1, N]
    p = _page(c, room, "?after_seq=20&limit=3")
    assert seqs(p) == [21, 22, 23] and p["offset"] == N - 23
    assert seqs(_page(c, room, "?after_seq=0&limit=2")) == [1, 2]
    p = _page(c, room, f"?after_seq={N}")
    assert p["messages"] == [] and p["offset"] == 0
    # walking backwards with before_seq sees every message once
    got, cursor = [], N + 1
    while True:
        page = seqs(_page(c, room, f"?before_seq={cursor}&limit=7"))
        if not page:
            break
        got = page + got
        cursor = page[0]
    assert got == list(range(1, N + 1))


@pytest.mark.parametrize("q", ["?limit=0", "?limit=abc", "?offset=-1", "?before_seq=x",
                               "?after_seq=-5", "?limit=%31%",
                               "?limit=1.5", "?limit=99999999999999999999999"])
def test_bad_queries(c, room, q):
    r = c.get(f"/api/rooms/{room['room']['id']}/messages{q}", room["owner"]["token"])
    assert_error(r, 400, "validation_error")


def test_url_decoded_numbers(c, room):
    # "%31%30" is "10"
    assert seqs(_page(c, room, "?limit=%31%30")) == list(range(N - 9, N + 1))


def test_visibility(c, room):
    outsider = c.new_user()
    # public room: anyone signed in may read
    r = c.get(f"/api/rooms/{room['room']['id']}/messages", outsider["token"])
    assert r.status_code == 200 and r.json()["total"] == N
    priv = c.new_room(room["owner"], private=True)
    assert_error(c.get(f"/api/rooms/{priv['id']}/messages", outsider["token"]), 404, "not_found")
    r = c.get(f"/api/rooms/{priv['id']}/messages", room["owner"]["token"])
    assert r.status_code == 200 and r.json() == {"messages": [], "total": 0, "offset": 0,
                                                 "limit": 50}
    assert_error(c.get(f"/api/rooms/{new_id()}/messages", outsider["token"]), 404)
    assert_error(c.get("/api/rooms/123/messages", outsider["token"]), 404)
    assert_error(c.get(f"/api/rooms/{room['room']['id']}/messages"), 401, "missing_token")
