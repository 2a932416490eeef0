"""test_rest_resilience.py - the REST service and its dependencies: data survives a
restart of lighttpd + FastCGI and of FerretDB; MongoDB down: /health says so within a
probe interval, writes answer 503 quickly, what the Redis read model holds is still
served, and everything recovers by itself; Redis down keeps reads working from MongoDB
while membership changes are refused (503) until it is back; MongoDB down at start-up
does not stop chat-api, which creates its indexes once MongoDB is back."""
import time

from rest_client import Client, assert_error


def wait_for(fn, timeout=20.0, step=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout}s (last: {last})")


def test_data_survives_lighttpd_restart(make_stack):
    s = make_stack(gateways=0)
    c = Client(s)
    u = c.new_user()
    room = c.new_room(u, "persist")
    s.restart_lighttpd()
    c = Client(s)
    tok = c.login(u["email"])
    assert c.get(f"/api/rooms/{room['id']}", tok).json() == room
    assert c.get("/api/users/me", u["token"]).status_code == 200  # old token still valid


def health_within(c, status, seconds=2.5):
    """/health answers from its prober's pings (at most a second old): poll it."""
    t0 = time.time()
    got = wait_for(lambda: (lambda r: [r] if r.status_code == status else None)(c.get("/health")),
                   timeout=seconds, step=0.1)
    return got[0], time.time() - t0


def test_mongo_down_503_fast_then_recovers(make_stack):
    s = make_stack(gateways=0)
    c = Client(s)
    u = c.new_user()
    room = c.new_room(u, "before outage")
    assert c.get(f"/api/rooms/{room['id']}", u["token"]).json() == room
    assert c.get(f"/api/rooms/{room['id']}/messages", u["token"]).json()["total"] == 0
    s.stop_mongo()

    r, took = health_within(c, 503)
    assert r.json() == {"status": "degraded", "mongo": "down", "redis": "ok"}
    # writes need MongoDB: a quick 503
    for method, path, body in [("POST", "/api/rooms", {"name": "x"}),
                               ("POST", f"/api/rooms/{room['id']}/leave", None),
                               ("GET", f"/api/users/{'0' * 24}", None)]:
        t0 = time.time()
        r = c.req(method, path, u["token"], json_body=body)
        took = time.time() - t0
        assert r.status_code in (503, 403, 404), (method, path, r.status_code, r.text)
        assert took < 2.5, f"{method} {path} took {took:.2f}s"
    t0 = time.time()
    assert_error(c.post("/api/auth/register", {"username": "during", "email": "d@ex.com",
                                               "password": "copper-kettle-91"}),
                 503, "service_unavailable")
    assert time.time() - t0 < 2.5
    # what the read model holds is still answered: the room, its history, the user's login
    assert c.get(f"/api/rooms/{room['id']}", u["token"]).json() == room
    assert c.get(f"/api/rooms/{room['id']}/messages", u["token"]).json()["total"] == 0
    assert c.login(u["email"])
    # bad input is still judged without the database
    assert_error(c.post("/api/auth/register", {"username": "x"}), 400)

    s.start_mongo()
    wait_for(lambda: c.get("/health").status_code == 200)
    assert c.get("/health").json() == {"status": "ok", "mongo": "ok", "redis": "ok"}
    # every process recovered (several requests spread over both) and nothing was lost
    for _ in range(6):
        assert c.get(f"/api/rooms/{room['id']}", u["token"]).json() == room
    assert c.new_room(u, "after outage")
    assert c.login(u["email"])


def test_redis_down_rest_keeps_working(make_stack):
    s = make_stack(gateways=0)
    c = Client(s)
    a = c.new_user()
    b = c.new_user()
    room = c.new_room(a, "no redis")
    s.stop_redis()
    r, _ = health_within(c, 503)
    assert r.json()["redis"] == "down" and r.json()["mongo"] == "ok"
    tok = c.login(a["email"])
    # reads come from MongoDB alone
    assert c.get(f"/api/rooms/{room['id']}", tok).json()["name"] == "no redis"
    hist = c.get(f"/api/rooms/{room['id']}/messages", tok).json()
    assert hist["total"] == 0 and hist["messages"] == []
    assert c.get(f"/api/users/{b['id']}", tok).json()["online"] is False
    members = c.get(f"/api/rooms/{room['id']}/members", tok).json()["members"]
    assert {m["online"] for m in members} == {False}
    # membership changes need Redis (its sets must never miss one): refused, nothing changed
    assert_error(c.post(f"/api/rooms/{room['id']}/join", token=b["token"]), 503,
                 "service_unavailable")
    assert [m["id"] for m in c.get(f"/api/rooms/{room['id']}/members", tok).json()["members"]] \
        == [a["id"]]
    s.start_redis()
    wait_for(lambda: c.get("/health").status_code == 200)
    wait_for(lambda: c.post(f"/api/rooms/{room['id']}/join", token=b["token"]).status_code == 200)
    hist = c.get(f"/api/rooms/{room['id']}/messages", tok).json()
    assert hist["total"] == 1 and hist["messages"][0]["content"].endswith("joined the room")


def test_mongo_down_at_start(make_stack):
    s = make_stack(gateways=0)
    s.stop_mongo()
    s.restart_lighttpd()  # chat-api starts while MongoDB is down
    c = Client(s)
    assert_error(c.post("/api/auth/register", {"username": "late_user", "email": "late@ex.com",
                                               "password": "copper-kettle-91"}), 503)
    s.start_mongo()
    wait_for(lambda: c.get("/health").status_code == 200)
    # the unique indexes were created once MongoDB came back
    wait_for(lambda: c.post("/api/auth/register", {
        "username": "late_user", "email": "late@ex.com",
        "password": "copper-kettle-91"}).status_code == 201)
    time.sleep(3.5)  # index retry period of every process
    assert_error(c.post("/api/auth/register", {"username": "LATE_user", "email": "l2@ex.com",
                                               "password": "copper-kettle-91"}), 409, "username_taken")
