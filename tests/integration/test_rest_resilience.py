"""test_rest_resilience.py - the REST service and its dependencies: data survives a
restart of lighttpd + FastCGI and of FerretDB; MongoDB down answers 503 quickly and
recovers by itself; Redis down keeps REST working (health says so); MongoDB down at
start-up does not stop chat-api, which creates its indexes once MongoDB is back."""
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


def test_mongo_down_503_fast_then_recovers(make_stack):
    s = make_stack(gateways=0)
    c = Client(s)
    u = c.new_user()
    room = c.new_room(u, "before outage")
    s.stop_mongo()

    t0 = time.time()
    r = c.get("/health")
    assert time.time() - t0 < 2.5
    assert r.status_code == 503 and r.json() == {"status": "degraded", "mongo": "down",
                                                 "redis": "ok"}
    for method, path, body in [("GET", f"/api/rooms/{room['id']}", None),
                               ("GET", "/api/rooms", None),
                               ("POST", "/api/rooms", {"name": "x"})]:
        t0 = time.time()
        r = c.req(method, path, u["token"], json_body=body)
        took = time.time() - t0
        assert_error(r, 503, "service_unavailable")
        assert took < 2.5, f"{method} {path} took {took:.2f}s"
    t0 = time.time()
    assert_error(c.post("/api/auth/login", {"email": u["email"], "password": "password123"}),
                 503, "service_unavailable")
    assert time.time() - t0 < 2.5
    # bad input is still judged without the database
    assert_error(c.post("/api/auth/register", {"username": "x"}), 400)

    s.start_mongo()
    wait_for(lambda: c.get("/health").status_code == 200)
    assert c.get("/health").json() == {"status": "ok", "mongo": "ok", "redis": "ok"}
    # every process recovered (several requests spread over both) and nothing was lost
    for _ in range(6):
        assert c.get(f"/api/rooms/{room['id']}", u["token"]).json() == room
    assert c.login(u["email"])


def test_redis_down_rest_keeps_working(make_stack):
    s = make_stack(gateways=0)
    c = Client(s)
    a = c.new_user()
    b = c.new_user()
    s.stop_redis()
    r = c.get("/health")
    assert r.status_code == 503 and r.json()["redis"] == "down" and r.json()["mongo"] == "ok"
    tok = c.login(a["email"])
    room = c.new_room(a, "no redis")
    c.join(b, room["id"])  # the publish fails and is logged; the join is stored
    hist = c.get(f"/api/rooms/{room['id']}/messages", tok).json()
    assert hist["total"] == 1
    assert c.get(f"/api/users/{b['id']}", tok).json()["online"] is False
    members = c.get(f"/api/rooms/{room['id']}/members", tok).json()["members"]
    assert {m["online"] for m in members} == {False}
    s.start_redis()
    wait_for(lambda: c.get("/health").status_code == 200)
    assert "publish failed" in s.log_text("lighttpd")


def test_mongo_down_at_start(make_stack):
    s = make_stack(gateways=0)
    s.stop_mongo()
    s.restart_lighttpd()  # chat-api starts while MongoDB is down
    c = Client(s)
    assert_error(c.post("/api/auth/register", {"username": "late_user", "email": "late@ex.com",
                                               "password": "password123"}), 503)
    s.start_mongo()
    wait_for(lambda: c.get("/health").status_code == 200)
    # the unique indexes were created once MongoDB came back
    wait_for(lambda: c.post("/api/auth/register", {
        "username": "late_user", "email": "late@ex.com",
        "password": "password123"}).status_code == 201)
    time.sleep(3.5)  # index retry period of every process
    assert_error(c.post("/api/auth/register", {"username": "LATE_user", "email": "l2@ex.com",
                                               "password": "password123"}), 409, "username_taken")
