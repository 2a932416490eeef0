"""test_rest_limits.py - REST rate limits (SPEC §5/§6): registrations per IP, logins per
IP and per account, room creation per user, every other call per user. Each limit is
shared by all FastCGI processes through Redis, so the 429 comes at the limit, not at
(number of processes) x the limit. Requests from other client IPs use 127.0.0.x source
addresses (REMOTE_ADDR is the client IP)."""
import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from rest_client import Client, assert_error, mint_jwt


def post_from(stack, source_ip, path, body):
    """POST body from source_ip; returns (status, headers, parsed body)."""
    u = urlparse(stack.http_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10,
                                      source_address=(source_ip, 0))
    try:
        conn.request("POST", path, body=json.dumps(body),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), json.loads(r.read() or b"null")
    finally:
        conn.close()


def token_for(stack, user):
    now = int(time.time())
    return mint_jwt(stack.jwt_secret, {"sub": user["id"], "username": user["username"],
                                       "iat": now, "exp": now + 600, "iss": "chat-server"})


def served_pids(stack, path):
    pids = set()
    for line in stack.log_text("lighttpd").splitlines():
        if line.startswith("{") and '"msg":"request"' in line and '"rest-fcgi"' in line:
            rec = json.loads(line)
            if rec.get("path") == path:
                pids.add(rec.get("pid"))
    return pids


def test_register_per_ip_shared_by_processes(make_stack):
    s = make_stack(gateways=0, env={"RATE_REGISTER_PER_HOUR": "5"})

    def attempt(i):
        return post_from(s, "127.0.0.1", "/api/auth/register", {
            "username": f"rl_user{i}", "email": f"rl{i}@example.com",
            "password": "copper-kettle-91"})

    with ThreadPoolExecutor(8) as ex:
        results = list(ex.map(attempt, range(12)))
    codes = sorted(r[0] for r in results)
    assert codes == [201] * 5 + [429] * 7, codes
    assert len(served_pids(s, "/api/auth/register")) >= 2, "both FastCGI processes took part"
    for status, headers, body in results:
        if status == 429:
            assert body["error"]["code"] == "rate_limited"
            assert 1 <= int(headers["Retry-After"]) <= 720
    # another IP has its own allowance
    status, _, _ = post_from(s, "127.0.0.2", "/api/auth/register", {
        "username": "rl_other", "email": "rl_other@example.com", "password": "copper-kettle-91"})
    assert status == 201


def test_login_room_and_api_limits(make_stack):
    s = make_stack(gateways=0, env={"RATE_LOGIN_PER_MIN": "5", "RATE_ROOM_CREATE_PER_MIN": "3",
                                    "RATE_API_PER_SEC": "5"})
    c = Client(s)
    victim = c.register()
    others = [c.register() for _ in range(3)]

    # --- per account: 5 attempts from 5 different IPs, the 6th (another IP) is refused
    for i in range(5):
        status, _, body = post_from(s, f"127.0.0.{20 + i}", "/api/auth/login",
                                    {"email": victim["email"], "password": "wrong-password"})
        assert status == 401, body
    status, headers, body = post_from(s, "127.0.0.30", "/api/auth/login",
                                      {"email": victim["email"].upper(),
                                       "password": "copper-kettle-91"})
    assert status == 429 and body["error"]["code"] == "rate_limited", body
    assert 1 <= int(headers["Retry-After"]) <= 12

    # --- per IP: different accounts from one IP, concurrently over both processes
    def login(i):
        return post_from(s, "127.0.0.40", "/api/auth/login",
                         {"email": f"nobody{i}@example.com", "password": "copper-kettle-91"})[0]

    with ThreadPoolExecutor(6) as ex:
        codes = sorted(ex.map(login, range(10)))
    assert codes == [401] * 5 + [429] * 5, codes

    # --- room creation per user
    owner = others[0]
    tok = token_for(s, owner)
    codes = [c.post("/api/rooms", {"name": f"r{i}"}, tok).status_code for i in range(4)]
    assert codes == [201, 201, 201, 429], codes
    r = c.post("/api/rooms", {"name": "again"}, tok)
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) >= 1
    assert c.post("/api/rooms", {"name": "someone else"}, token_for(s, others[1])).status_code == 201

    # --- every other authenticated call: 5/s, burst 10, per user across processes
    tok = token_for(s, others[2])

    def me(_):
        return Client(s).get("/api/users/me", tok).status_code

    with ThreadPoolExecutor(10) as ex:
        codes = list(ex.map(me, range(24)))
    ok = codes.count(200)
    assert 10 <= ok <= 12, codes  # burst 10 (+ refill while the burst runs), never 2 x 10
    assert len(served_pids(s, "/api/users/me")) >= 2, "both FastCGI processes took part"
    assert codes.count(429) == 24 - ok
    r = c.get("/api/users/me", tok)
    if r.status_code == 429:
        assert int(r.headers["Retry-After"]) == 1
    time.sleep(1.0)
    assert c.get("/api/users/me", tok).status_code == 200  # refilled
    # /health is never limited
    assert all(c.get("/health").status_code == 200 for _ in range(15))


def test_limits_fall_back_to_local_when_redis_is_down(make_stack):
    s = make_stack(gateways=0, env={"RATE_ROOM_CREATE_PER_MIN": "2"})
    c = Client(s)
    u = c.register()
    tok = token_for(s, u)
    s.stop_redis()
    codes = [c.post("/api/rooms", {"name": f"r{i}"}, tok).status_code for i in range(8)]
    # each of the two processes keeps its own bucket while Redis is down
    assert codes.count(201) >= 2 and codes.count(201) <= 4, codes
    assert codes.count(429) == 8 - codes.count(201)
