"""test_edge_contract.py - the HTTP edge (issue 10, points 9 and 15): routes match
exactly and login/register never run outside lighttpd's bcrypt pool, whatever their
spelling; lighttpd refuses a body over 64 KiB from its Content-Length (or as chunks
arrive) with SPEC §2's JSON 413 before buffering it; and every answer lighttpd makes
itself (a GET with a body, a malformed URL or header, an unknown method, no gateway
behind /ws) is JSON in the one error shape, 405 with Allow where the route does not take
the method. Also pins what schemathesis found where the schema and the server disagreed
(q's maxLength, 64-bit integer parameters, huge integers in unknown fields, passwords
past bcrypt's 72 bytes); test_schemathesis.py runs the whole contract.
Through real lighttpd + FastCGI; raw sockets where requests is too polite."""
import json
import socket
import time
from urllib.parse import urlparse

import pytest

from rest_client import Client, assert_error

ODD_LOGINS = ["/api/auth/login/", "/api/auth/login//", "/api/auth//login", "/api//auth/login",
              "/api/auth/LOGIN", "/API/auth/login", "/api/auth/login%23x",
              "/api/auth/%6cogin", "/api/auth/./login", "/api/auth/x/../login/",
              "/api/auth/register/", "/api/auth/Register"]


@pytest.fixture(scope="module")
def s(make_stack_module):
    return make_stack_module


@pytest.fixture(scope="module")
def make_stack_module():
    from conftest import RATES_OFF
    from harness.stack import Stack
    st = Stack(gateways=0, env=dict(RATES_OFF))
    st.start()
    yield st
    st.stop()


@pytest.fixture(scope="module")
def c(s):
    return Client(s)


def _raw(stack, data, timeout=5.0):
    """Sends data on a fresh connection; returns (status line, headers, body, seconds)."""
    u = urlparse(stack.http_url)
    t0 = time.monotonic()
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as sock:
        sock.sendall(data)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (x.partition(":") for x in lines[1:])}
        want = int(headers.get("content-length", "0"))
        while len(body) < want:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return lines[0], headers, body, time.monotonic() - t0


def _assert_json_error(status_line, headers, body, status, code=None):
    assert status_line.split()[1] == str(status), (status_line, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), (headers, body[:300])
    err = json.loads(body)["error"]
    assert set(err) == {"code", "message"} and err["message"], err
    if code is not None:
        assert err["code"] == code, err
    return err


def _pool_lines(stack, request_id):
    return [json.loads(x) for x in stack.log_text("lighttpd").splitlines()
            if x.startswith("{") and '"component":"rest-fcgi"' in x and
            f'"req":"{request_id}"' in x]


@pytest.mark.parametrize("path", ODD_LOGINS)
def test_odd_spellings_of_login_are_404_in_the_auth_pool(c, s, path):
    u = c.new_user()
    rid = "odd-" + str(ODD_LOGINS.index(path))
    body = json.dumps({"email": u["email"], "password": "copper-kettle-91",
                       "username": u["username"] + "x"}).encode()
    req = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           f"X-Request-Id: {rid}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
           ).encode() + body
    status, headers, resp, _ = _raw(s, req)
    _assert_json_error(status, headers, resp, 404, "not_found")
    deadline = time.time() + 5
    while not _pool_lines(s, rid) and time.time() < deadline:
        time.sleep(0.05)
    lines = _pool_lines(s, rid)
    assert lines, f"no chat-api log line for {path}"
    # whichever process answered, it was not one that would hash in a general pool
    assert all(x.get("pool") == "auth" for x in lines), lines


def test_exact_login_is_served_by_the_auth_pool(c, s):
    u = c.new_user()
    r = c.post("/api/auth/login", {"email": u["email"], "password": "copper-kettle-91"},
               headers={"X-Request-Id": "exact-login"})
    assert r.status_code == 200, r.text
    deadline = time.time() + 5
    while not _pool_lines(s, "exact-login") and time.time() < deadline:
        time.sleep(0.05)
    assert [x["pool"] for x in _pool_lines(s, "exact-login")] == ["auth"]


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/rooms"])
def test_a_1mib_body_is_refused_by_lighttpd_before_it_is_sent(s, path):
    """Only the headers are sent: the JSON 413 must come back at once, so lighttpd
    did not wait to buffer the MiB (with the old 1 MiB cap it waits for the body)."""
    req = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           f"Content-Length: {1024 * 1024}\r\n\r\n").encode()
    status, headers, body, took = _raw(s, req, timeout=3.0)
    _assert_json_error(status, headers, body, 413, "payload_too_large")
    assert took < 2.0, took


def test_a_chunked_body_over_64k_is_refused_as_it_arrives(s):
    req = (b"POST /api/rooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" + b"11000\r\n" + b"x" * 0x11000)
    status, headers, body, took = _raw(s, req, timeout=3.0)
    _assert_json_error(status, headers, body, 413, "payload_too_large")


def test_a_body_of_exactly_64k_is_read(c):
    u = c.new_user()
    body = b'{"name": ""' + b" " * (64 * 1024 - 12) + b"}"
    assert len(body) == 64 * 1024
    assert_error(c.req("POST", "/api/rooms", u["token"], data=body,
                       headers={"Content-Type": "application/json"}), 400, "validation_error")


@pytest.mark.parametrize("raw, status, code", [
    # a GET with a body on a POST-only route: lighttpd refuses it (400) before routing
    (b"GET /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 405,
     "method_not_allowed"),
    (b"GET /api/rooms/0123456789abcdef01234567/join HTTP/1.1\r\nHost: x\r\n"
     b"Content-Length: 2\r\n\r\n{}", 405, "method_not_allowed"),
    (b"GET /api/rooms HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 400, "bad_request"),
    # invalid UTF-8 in the path and in a query key
    (b"GET /api/rooms/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request"),
    (b"GET /api/users?q=a&%ff=1 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request"),
    # a control character in a header, no Host on HTTP/1.1
    (b"GET /api/rooms HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n", 400, "bad_request"),
    (b"GET /api/rooms HTTP/1.1\r\n\r\n", 400, "bad_request"),
    # no gateway behind /ws on this stack: the proxy's 503
    (b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 503, "service_unavailable"),
])
def test_what_lighttpd_refuses_is_json(s, raw, status, code):
    line, headers, body, _ = _raw(s, raw.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))
    _assert_json_error(line, headers, body, status, code)
    if status == 405:
        assert "POST" in headers.get("allow", ""), headers


def test_the_error_handler_path_is_not_a_route(c):
    assert_error(c.get("/api/_edge_error"), 404, "not_found")
    assert_error(c.post("/api/_edge_error", {}), 404, "not_found")


# --- the schema and the server agree (point 15): what schemathesis found, pinned


def test_search_prefix_is_bounded_as_documented(c):
    u = c.new_user()
    assert c.get("/api/users", u["token"], params={"q": "é" * 64}).status_code == 200
    assert_error(c.get("/api/users", u["token"], params={"q": "é" * 65}), 400,
                 "validation_error")
    assert_error(c.get("/api/users", u["token"], params={"q": "a\u0085b"}), 400,
                 "validation_error")


def test_integers_past_int64_are_400_and_up_to_it_are_clamped(c):
    u = c.new_user()
    r = c.get("/api/rooms?limit=9223372036854775807&offset=9223372036854775807", u["token"])
    assert r.status_code == 200 and r.json()["limit"] == 200, r.text
    assert_error(c.get("/api/rooms?limit=9223372036854775808", u["token"]), 400,
                 "validation_error")


def test_unknown_fields_with_huge_integers_are_ignored(c):
    u = c.new_user()
    r = c.post("/api/rooms", {"name": "big", "x": [174894656802164572160]}, u["token"])
    assert r.status_code == 201, r.text


def test_a_password_longer_than_bcrypt_reads_is_wrong_credentials(c):
    u = c.new_user()
    assert_error(c.post("/api/auth/login", {"email": u["email"], "password": "p" * 73}),
                 401, "invalid_credentials")
