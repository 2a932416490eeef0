"""rest_client.py - small helpers for the REST integration suites (test_rest_*.py,
test_openapi.py): a JSON client bound to one stack, user/room factories, JWT minting
with the stack's secret, a minimal Redis client and pub/sub listener (RESP over a socket,
AUTH from the URL; the redis package is not installed) and the error-shape assertion. Runs in the pytest
process; stdlib + requests only."""
import base64
import hashlib
import hmac
import json
import secrets
import socket
import time
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

TIMEOUT = 10


def assert_error(r, status, code=None):
    """r has the given status and the one error shape of SPEC §2."""
    assert r.status_code == status, f"{r.status_code} != {status}: {r.text[:500]}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    code_ = body["error"]["code"]
    assert isinstance(code_, str) and code_ == code_.lower() and " " not in code_, body
    if code is not None:
        assert code_ == code, body
    return body["error"]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_jwt(secret, claims, alg="HS256", header=None):
    """A token signed with secret (HS256) or unsigned (alg none)."""
    head = header or {"alg": alg, "typ": "JWT"}
    signing = b64url(json.dumps(head).encode()) + "." + b64url(json.dumps(claims).encode())
    if alg == "none":
        return signing + "."
    sig = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64url(sig)


class Client:
    """JSON over HTTP to one stack's lighttpd."""

    def __init__(self, stack):
        self.stack = stack
        self.base = stack.http_url
        self.s = requests.Session()
        # A kept-alive connection that lighttpd closes (server.max-keep-alive-idle, 5 s)
        # just as the next request goes out is read as "Remote end closed connection
        # without response"; a browser sends an idempotent request again, and so do we
        # for GET (never for a status: a 503 stays visible to the tests).
        again = Retry(total=2, connect=2, read=2, status=0, other=0, backoff_factor=0,
                      allowed_methods=frozenset({"GET", "HEAD", "OPTIONS"}),
                      raise_on_status=False, respect_retry_after_header=False)
        self.s.mount("http://", HTTPAdapter(max_retries=again))

    def req(self, method, path, token=None, json_body=None, data=None, headers=None, **kw):
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        return self.s.request(method, self.base + path, json=json_body, data=data, headers=h,
                              timeout=kw.pop("timeout", TIMEOUT), **kw)

    def get(self, path, token=None, **kw):
        return self.req("GET", path, token, **kw)

    def post(self, path, body=None, token=None, **kw):
        return self.req("POST", path, token, json_body=body, **kw)

    def patch(self, path, body=None, token=None, **kw):
        return self.req("PATCH", path, token, json_body=body, **kw)

    def delete(self, path, token=None, **kw):
        return self.req("DELETE", path, token, **kw)

    # ------------------------------------------------------------------ factories
    def register(self, username=None, email=None, password="copper-kettle-91"):
        username = username or "u_" + secrets.token_hex(5)
        email = email or f"{username}@example.com"
        r = self.post("/api/auth/register", {"username": username, "email": email,
                                             "password": password})
        assert r.status_code == 201, r.text
        return r.json()

    def login(self, email, password="copper-kettle-91"):
        r = self.post("/api/auth/login", {"email": email, "password": password})
        assert r.status_code == 200, r.text
        return r.json()["token"]

    def new_user(self, username=None, password="copper-kettle-91"):
        """Registers and logs in: a dict with id, username, email, token."""
        u = self.register(username=username, password=password)
        u["token"] = self.login(u["email"], password)
        return u

    def new_room(self, owner, name=None, private=False, description=""):
        r = self.post("/api/rooms", {"name": name or "room " + secrets.token_hex(3),
                                     "description": description, "is_private": private},
                      owner["token"])
        assert r.status_code == 201, r.text
        return r.json()

    def join(self, user, room_id):
        r = self.post(f"/api/rooms/{room_id}/join", token=user["token"])
        assert r.status_code == 200, r.text
        return r.json()

    def leave(self, user, room_id):
        r = self.post(f"/api/rooms/{room_id}/leave", token=user["token"])
        assert r.status_code == 200, r.text
        return r.json()


def new_id():
    """A syntactically valid ObjectId that names nothing."""
    return "0123456789ab" + secrets.token_hex(6)


class RedisConn:
    """One RESP connection to the stack's Redis, with AUTH (and SELECT) from the URL:
    redis://[[user]:password@]host[:port][/db]."""

    def __init__(self, redis_url, auth=True):
        u = urlparse(redis_url)
        self.sock = socket.create_connection((u.hostname, u.port or 6379), timeout=5)
        self.buf = b""
        if auth and u.password:
            self.command(*(("AUTH", u.username, u.password) if u.username
                           else ("AUTH", u.password)), check=True)
        db = (u.path or "/").strip("/")
        if db and db != "0":
            self.command("SELECT", db, check=True)

    def command(self, *args, check=False):
        """Sends one command; its reply (an error reply as "ERR..." text; raised when
        check)."""
        self._send(*args)
        line_kind, reply = self._peek_kind(), self._read_reply()
        if check and line_kind == b"-":
            raise RuntimeError(f"redis {args[0]}: {reply}")
        return reply

    def _peek_kind(self):
        while not self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed")
            self.buf += chunk
        return self.buf[:1]

    def _send(self, *args):
        out = [f"*{len(args)}\r\n".encode()]
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out.append(f"${len(a)}\r\n".encode() + a + b"\r\n")
        self.sock.sendall(b"".join(out))

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read_reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-", b":"):
            return rest.decode()
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("redis closed")
                self.buf += chunk
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode()
        if kind == b"*":
            return [self._read_reply() for _ in range(int(rest))]
        raise ValueError(f"unexpected RESP {line!r}")

    def close(self):
        self.sock.close()


class RedisSubscriber(RedisConn):
    """SUBSCRIBE to channels of the stack's Redis and collect published payloads."""

    def __init__(self, redis_url, *channels):
        super().__init__(redis_url)
        self._send("SUBSCRIBE", *channels)
        for _ in channels:
            self._read_reply()

    def messages(self, count, timeout=5.0):
        """The next count published payloads (parsed JSON), within timeout."""
        out = []
        deadline = time.time() + timeout
        while len(out) < count and time.time() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.time()))
            try:
                reply = self._read_reply()
            except socket.timeout:
                break
            if isinstance(reply, list) and reply and reply[0] == "message":
                out.append(json.loads(reply[2]))
        return out
