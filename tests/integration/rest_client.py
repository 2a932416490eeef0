"""rest_client.py - small helpers for the REST integration suites (test_rest_*.py,
test_openapi.py): a JSON client bound to one stack, user/room factories, JWT minting
with the stack's secret, a minimal Redis client and pub/sub listener (deploy/
redis_handover.py's RESP client, AUTH from the URL) and the error-shape assertion. Runs in
the pytest process; stdlib + requests only."""
import base64
import hashlib
import hmac
import json
import secrets
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy"))
from redis_handover import Resp, RespError  # noqa: E402

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


class RedisConn(Resp):
    """One RESP connection to the stack's Redis, with AUTH (and SELECT) from the URL:
    redis://[[user]:password@]host[:port][/db] (deploy/redis_handover.py's client), its
    replies as text: an integer as "1", an error reply as its message."""

    def __init__(self, redis_url, auth=True):
        u = urlparse(redis_url)
        if not auth:  # the same server, as a client that knows no password
            redis_url = f"redis://{u.hostname}:{u.port or 6379}{u.path or ''}"
        super().__init__(url=redis_url, timeout=5)

    def command(self, *args, check=False):
        """Sends one command; its reply (an error reply as "ERR..." text; raised when
        check)."""
        try:
            return _as_text(self.call(*args))
        except RespError as e:
            if check:
                raise RuntimeError(f"redis {args[0]}: {e}") from None
            return str(e)


def _as_text(reply):
    if isinstance(reply, list):
        return [_as_text(x) for x in reply]
    return str(reply) if isinstance(reply, (int, RespError)) else reply


class RedisSubscriber(RedisConn):
    """SUBSCRIBE to channels of the stack's Redis and collect published payloads."""

    def __init__(self, redis_url, *channels):
        super().__init__(redis_url)
        self.send("SUBSCRIBE", *channels)
        for _ in channels:
            self.reply()

    def messages(self, count, timeout=5.0):
        """The next count published payloads (parsed JSON), within timeout."""
        out = []
        deadline = time.time() + timeout
        while len(out) < count and time.time() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.time()))
            try:
                reply = _as_text(self.reply())
            except socket.timeout:
                break
            if isinstance(reply, list) and reply and reply[0] == "message":
                out.append(json.loads(reply[2]))
        return out
