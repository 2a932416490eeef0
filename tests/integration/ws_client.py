"""ws_client.py - a small toolkit for black-box tests of the WebSocket gateway (and of
anything else that speaks SPEC section 3): HS256 JWTs minted with the stdlib, a thin
asyncio client on the `websockets` library that keeps every frame it receives, raw
handshakes that return the HTTP refusal (status, headers, JSON body), and REST helpers
(register / login / rooms) on urllib. Runs in the test process; no threads of its own.

    tok = mint_token(stack.jwt_secret, new_user_id(), "alice")
    async with await connect(stack.ws_url, tok) as c:
        await c.send({"type": "subscribe", "room_id": rid})
        await c.recv_until(lambda f: f.get("type") == "subscribed")
"""
import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import os
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request

from websockets.asyncio.client import connect as _ws_connect
from websockets.exceptions import ConnectionClosed

ISSUER = "chat-server"


# ---------------------------------------------------------------- tokens

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_user_id() -> str:
    """A made-up 24-hex ObjectId."""
    return secrets.token_hex(12)


def mint_token(secret, sub=None, username=None, exp_in=3600, iat=None, alg="HS256",
               iss=ISSUER, key=None, claims=None):
    """A JWT like rest-fcgi's. alg: HS256, HS512 or none; key overrides the secret."""
    now = int(time.time())
    payload = {"sub": sub or new_user_id(), "username": username or "u" + secrets.token_hex(4),
               "iat": now if iat is None else iat, "exp": now + exp_in, "iss": iss}
    if claims:
        payload.update(claims)
    header = {"alg": alg, "typ": "JWT"}
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(payload, separators=(",", ":")).encode()))
    if alg == "none":
        return signing_input + "."
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    k = (key if key is not None else secret)
    k = k.encode() if isinstance(k, str) else k
    sig = hmac.new(k, signing_input.encode(), digest).digest()
    return signing_input + "." + b64url(sig)


# ---------------------------------------------------------------- websocket client

def ws_url_with(url, token=None, room_id=None, after_seq=None):
    q = {}
    if token is not None:
        q["token"] = token
    if room_id is not None:
        q["room_id"] = room_id
    if after_seq is not None:
        q["after_seq"] = str(after_seq)
    return url + ("?" + urllib.parse.urlencode(q) if q else "")


class Client:
    """One socket. Every frame received is parsed and appended to self.frames; the
    recv helpers consume from a cursor so nothing is lost between waits."""

    def __init__(self, ws, name=""):
        self.ws = ws
        self.name = name
        self.frames = []
        self.arrivals = []  # time.monotonic() at which frames[i] was read
        self._cursor = 0
        self.closed_code = None
        self.closed_reason = None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def send(self, obj):
        await self.ws.send(obj if isinstance(obj, (str, bytes)) else json.dumps(obj))

    async def _pull(self, timeout):
        """Reads one frame into self.frames; False on timeout, raises on close."""
        try:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
        except asyncio.TimeoutError:
            return False
        except ConnectionClosed as e:
            self._note_close(e)
            raise
        self.frames.append(json.loads(raw))
        self.arrivals.append(time.monotonic())
        return True

    def _note_close(self, e):
        rcvd = getattr(e, "rcvd", None)
        if rcvd is not None:
            self.closed_code, self.closed_reason = rcvd.code, rcvd.reason

    async def recv(self, timeout=5.0):
        """The next unread frame (raises TimeoutError)."""
        return (await self.recv_until(lambda f: True, timeout))

    async def recv_until(self, pred, timeout=5.0):
        """The first unread frame matching pred; earlier unread frames are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            while self._cursor < len(self.frames):
                f = self.frames[self._cursor]
                self._cursor += 1
                if pred(f):
                    return f
            left = deadline - time.monotonic()
            if left <= 0 or not await self._pull(left):
                raise TimeoutError(f"{self.name}: no matching frame within {timeout}s; "
                                   f"last frames: {self.frames[-5:]}")

    async def collect(self, pred, n, timeout=10.0):
        """n unread frames matching pred, in arrival order."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.name}: got {len(out)} of {n} frames")
            out.append(await self.recv_until(pred, left))
        return out

    async def drain(self, quiet=0.3):
        """Reads until nothing arrives for `quiet` seconds; returns the new frames."""
        start = len(self.frames)
        try:
            while await self._pull(quiet):
                pass
        except ConnectionClosed:
            pass
        self._cursor = len(self.frames)
        return self.frames[start:]

    async def wait_closed(self, timeout=10.0):
        """Reads until the server closes; returns (code, reason)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                await self._pull(max(0.01, deadline - time.monotonic()))
        except ConnectionClosed:
            return self.closed_code, self.closed_reason
        raise TimeoutError(f"{self.name}: still open after {timeout}s")

    async def subscribe(self, room_id, after_seq=None, timeout=10.0):
        msg = {"type": "subscribe", "room_id": room_id}
        if after_seq is not None:
            msg["after_seq"] = after_seq
        await self.send(msg)
        return await self.recv_until(
            lambda f: f.get("room_id") == room_id and f.get("type") in ("subscribed", "error"),
            timeout)

    async def join(self, room_id, timeout=10.0):
        await self.send({"type": "join", "room_id": room_id})
        return await self.recv_until(
            lambda f: f.get("room_id") == room_id and f.get("type") in ("subscribed", "error"),
            timeout)

    async def wait_for_new(self, pred, start, timeout=5.0):
        """The first frame from index start on matching pred, without moving the read
        cursor: frames that arrive meanwhile (the sender's own echo may come before its
        ack) stay unread for recv_until."""
        deadline = time.monotonic() + timeout
        i = start
        while True:
            while i < len(self.frames):
                if pred(self.frames[i]):
                    return self.frames[i]
                i += 1
            left = deadline - time.monotonic()
            if left <= 0 or not await self._pull(left):
                raise TimeoutError(f"{self.name}: no matching frame within {timeout}s; "
                                   f"last frames: {self.frames[-5:]}")

    async def send_message(self, room_id, content, client_msg_id=None, timeout=10.0):
        """Sends and waits for the ack (or error) with that client_msg_id."""
        cmid = client_msg_id or secrets.token_hex(8)
        start = len(self.frames)
        await self.send({"type": "message", "room_id": room_id, "content": content,
                         "client_msg_id": cmid})
        return await self.wait_for_new(
            lambda f: f.get("client_msg_id") == cmid and f.get("type") in ("ack", "error"),
            start, timeout)

    async def close(self):
        try:
            await self.ws.close()
        except Exception:
            pass


async def connect(url, token=None, origin=None, room_id=None, after_seq=None, headers=None,
                  name="", open_timeout=15, **kwargs):
    """Opens a socket (token in the query string unless None). Raises
    websockets.exceptions.InvalidStatus when the upgrade is refused. Frames are read
    off the socket into an unbounded queue (max_queue=None) unless told otherwise, so a
    test that sends many frames before reading cannot deadlock on TCP backpressure."""
    kwargs.setdefault("max_queue", None)
    ws = await _ws_connect(ws_url_with(url, token, room_id, after_seq), origin=origin,
                           additional_headers=headers, compression=None, proxy=None,
                           open_timeout=open_timeout, max_size=None, **kwargs)
    return Client(ws, name)


def wait_until(pred, timeout, what):
    """Polls pred() every 0.1 s until it is true; AssertionError naming `what` after
    timeout seconds. For conditions outside a socket (Redis, metrics, processes)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def is_room_message(f):
    return f.get("type") in ("text", "system") and "seq" in f


# ---------------------------------------------------------------- raw handshakes

def raw_upgrade(url, token=None, origin=None, headers=None, room_id=None, after_seq=None,
                timeout=10):
    """Sends a WebSocket upgrade by hand and returns (status, headers dict (lower-case
    names), body bytes); the socket is closed afterwards. For refusals."""
    u = urllib.parse.urlsplit(ws_url_with(url, token, room_id, after_seq))
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    h = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
         "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()}
    if origin:
        h["Origin"] = origin
    h.update(headers or {})
    conn.request("GET", u.path + ("?" + u.query if u.query else ""), headers=h)
    resp = conn.getresponse()
    status = resp.status
    hdrs = {k.lower(): v for k, v in resp.getheaders()}
    body = b"" if status == 101 else resp.read()
    conn.close()
    return status, hdrs, body


# ---------------------------------------------------------------- REST

def api(base_url, method, path, token=None, body=None, timeout=15):
    """(status, parsed JSON or None) for a REST call."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base_url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, None


def register(base_url, username=None, password="correct-horse-1"):
    """Registers and logs in a fresh user; returns dict(id, username, token)."""
    username = username or "u" + secrets.token_hex(5)
    st, body = api(base_url, "POST", "/api/auth/register",
                   body={"username": username, "email": f"{username}@example.com",
                         "password": password})
    assert st == 201, (st, body)
    st, body = api(base_url, "POST", "/api/auth/login",
                   body={"email": f"{username}@example.com", "password": password})
    assert st == 200, (st, body)
    return {"id": body["user"]["id"], "username": username, "token": body["token"]}


def real_user_id(base_url):
    """The id of a freshly registered user: a gateway closes a socket whose token names no
    existing user (4001 account_deleted), so minted tokens that should work use this."""
    return register(base_url)["id"]


def create_room(base_url, token, name=None, is_private=False):
    st, body = api(base_url, "POST", "/api/rooms", token=token,
                   body={"name": name or "room " + secrets.token_hex(3), "description": "",
                         "is_private": is_private})
    assert st == 201, (st, body)
    return body["id"]
