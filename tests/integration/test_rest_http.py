"""test_rest_http.py - HTTP behaviour shared by every endpoint: unknown routes 404,
wrong methods 405 with Allow, bodies over 64 KiB 413, CORS allow-list and preflight,
request ids, /health, and the one error shape. Through real lighttpd + FastCGI."""
import json
import socket
from urllib.parse import urlparse

import pytest

from rest_client import Client, assert_error

ALLOWED = "http://localhost:3000"  # on the default CORS_ORIGINS allow-list


@pytest.fixture(scope="module")
def c(stack):
    return Client(stack)


def test_health(c):
    r = c.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "mongo": "ok", "redis": "ok"}


@pytest.mark.parametrize("method, path", [
    ("GET", "/api"), ("GET", "/api/"), ("GET", "/api/nope"), ("POST", "/api/auth"),
    ("GET", "/api/rooms/0123456789abcdef01234567/nothing"), ("GET", "/api/users/me/x"),
    ("GET", "/api//rooms"),
])
def test_unknown_routes_404(c, method, path):
    assert_error(c.req(method, path), 404, "not_found")


@pytest.mark.parametrize("method, path, allow", [
    ("GET", "/api/auth/login", "POST"), ("DELETE", "/api/rooms", "GET"),
    ("PUT", "/api/users/me", "PATCH"), ("POST", "/health", "GET"),
    ("PATCH", "/api/rooms/0123456789abcdef01234567", "GET"),
])
def test_wrong_method_405(c, method, path, allow):
    r = c.req(method, path)
    assert_error(r, 405, "method_not_allowed")
    assert allow in r.headers["Allow"]


def test_routes_match_exactly_and_queries_are_ignored(c):
    """One spelling per route (issue 10, point 9): a trailing slash is another path."""
    u = c.new_user()
    assert_error(c.get("/api/users/me/", u["token"]), 404, "not_found")
    assert c.get("/api/users/me?x=1&token=secret", u["token"]).status_code == 200


def test_body_over_64k_is_413(c):
    u = c.new_user()
    big = json.dumps({"name": "x", "description": "d" * (70 * 1024)})
    assert_error(c.req("POST", "/api/rooms", u["token"], data=big,
                       headers={"Content-Type": "application/json"}), 413, "payload_too_large")
    assert_error(c.req("POST", "/api/auth/register", data="{" + " " * (65 * 1024) + "}"), 413,
                 "payload_too_large")
    # just under the limit is parsed (and refused for its content, not its size)
    ok = json.dumps({"name": "x", "description": "d" * (60 * 1024)})
    assert_error(c.req("POST", "/api/rooms", u["token"], data=ok), 400, "validation_error")


def _raw_http(stack, raw, read_timeout=5):
    u = urlparse(stack.http_url)
    with socket.create_connection((u.hostname, u.port), timeout=read_timeout) as s:
        s.sendall(raw)
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
    return data


def test_content_length_lies_are_capped(c, stack):
    """A declared length over the cap is refused before the body is read."""
    head = (b"POST /api/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: 900000\r\n\r\n")
    data = _raw_http(stack, head + b"{" + b" " * 899998 + b"}")
    assert data.startswith(b"HTTP/1.1 413"), data[:200]
    assert b"payload_too_large" in data


def test_cors(c):
    r = c.get("/health", headers={"Origin": ALLOWED})
    assert r.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in r.headers["Vary"]
    r = c.get("/health", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
    # errors carry CORS too, so the browser can read them
    r = c.get("/api/users/me", headers={"Origin": ALLOWED})
    assert r.status_code == 401 and r.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_preflight(c):
    r = c.req("OPTIONS", "/api/rooms", headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert r.status_code == 204, r.text
    assert r.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "DELETE" in r.headers["Access-Control-Allow-Methods"]
    allow_headers = r.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allow_headers and "content-type" in allow_headers
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert r.text == ""
    r = c.req("OPTIONS", "/api/users/me", headers={"Origin": "http://evil.example",
                                                  "Access-Control-Request-Method": "GET"})
    assert r.status_code == 204 and "Access-Control-Allow-Origin" not in r.headers


def test_request_id(c):
    r = c.get("/health")
    assert len(r.headers["X-Request-Id"]) >= 8
    r = c.get("/health", headers={"X-Request-Id": "abc-123"})
    assert r.headers["X-Request-Id"] == "abc-123"
    r = c.get("/health", headers={"X-Request-Id": "bad id\"{"})
    assert r.headers["X-Request-Id"] != "bad id\"{"


def test_request_log_has_no_tokens(c, stack):
    u = c.new_user()
    c.get("/api/users/me?token=SECRETQUERY", u["token"])
    log = stack.log_text("lighttpd")
    assert "SECRETQUERY" not in log
    assert u["token"] not in log
    lines = [json.loads(x) for x in log.splitlines()
             if x.startswith("{") and '"component":"rest-fcgi"' in x and '"request"' in x]
    mine = [x for x in lines if x.get("path") == "/api/users/me" and x.get("user") == u["id"]]
    assert mine, lines[-5:]
    assert set(mine[-1]) >= {"ts", "level", "msg", "component", "method", "path", "status",
                             "duration_ms", "user", "req"}


def test_garbage_never_crashes(c, stack):
    u = c.new_user()
    for body in [b"\x00\x01\x02", b"{\"name\": \"\\u0000\"}", b"{\"name\": \"\xc3\x28\"}",
                 b"{" * 60000, b"9" * 60000, b"{\"name\": 1e999999}"]:
        r = c.req("POST", "/api/rooms", u["token"], data=body)
        assert r.status_code == 400, (body[:20], r.status_code, r.text[:200])
    for path in ["/api/rooms/%00", "/api/rooms/" + "a" * 5000, "/api/users/%2e%2e",
                 "/api/rooms/0123456789abcdef01234567/messages?limit=%",
                 "/api/users?q=%ff%fe&limit=5"]:
        r = c.get(path, u["token"])
        assert r.status_code in (400, 404), (path, r.status_code)
    assert c.get("/health").status_code == 200
