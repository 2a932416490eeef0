"""test_gateway_fuzz.py - tens of thousands of fuzzed WebSocket frames over hundreds of
sockets against two gateways (and chat-api) built with ASan+UBSan
(CHAT_ASAN_BUILD_DIR, default build-asan; built here when missing).

Frames: JSON of every frame type with wrong-typed, missing, huge or malformed fields,
broken JSON, non-objects, deep nesting (within and past jansson's 2048 levels), NUL
escapes, integers and reals past int64/double, objects with thousands of keys, binary
frames of random bytes; then, per socket role, invalid UTF-8 in a text frame (1007),
a frame over 64 KiB whole or in fragments (1009), refusals past the abuse limit
(1008), or random bytes where a WebSocket frame header should be (the connection is
dropped). Every other socket must still answer in order afterwards.

Asserts: each socket ends as its role says (open and answering, or closed with its
code; an oversize frame may instead meet a TCP reset that overtakes the 1009 close
frame while the client is still writing, tolerated for at most 1 in 5); both gateways stay alive, answer a normal client directly and through lighttpd,
write no sanitizer report, and exit 0 on SIGTERM with no leak report. The generator is
seeded (CHAT_FUZZ_SEED, printed on failure) so a failing run can be replayed.
"""
import asyncio
import base64
import json
import os
import random
import signal
import time

from sanitized import SANITIZER_ENV, asan_build_dir, sanitizer_lines
from ws_client import api, connect, create_room, register

ROOT_ID = "65f0c0ffee0123456789abcd"
N_USERS = 8
SOCKETS_PER_USER = 40           # 320 sockets
SURVIVOR_FRAMES = 90            # frames per socket that must stay open
PROLOGUE_FRAMES = 20            # fuzz frames before a closing frame
ABUSE_LIMIT = 50                # refusals in 10 s that close 1008 (ws-gateway/main.c)
TYPES = ["message", "join", "leave", "subscribe", "unsubscribe", "typing", "ping", "auth"]


# ---------------------------------------------------------------- frame generator

class FrameGen:
    """Fuzzed frames. Each is (payload, binary, risky): risky frames may be refused
    (bad JSON, no type, unknown type, a room id that costs a lookup) and so count
    toward the abuse close; the others are answered without counting."""

    def __init__(self, rng, room):
        self.rng = rng
        self.room = room

    def junk(self, depth=0):
        r = self.rng
        pick = r.randrange(14 if depth < 3 else 10)
        if pick == 0:
            return None
        if pick == 1:
            return r.choice([True, False])
        if pick == 2:
            return r.choice([0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, -2**63])
        if pick == 3:
            return r.choice([0.5, -0.0, 1e308, -1e-300, 3.0])
        if pick == 4:
            return ""
        if pick == 5:
            return "".join(r.choice("aZ09 _-.é✓𝄞\n\t\"\\/") for _ in range(r.randrange(1, 40)))
        if pick == 6:
            return "x" * r.choice([23, 24, 25, 64, 65, 4001, 20000])
        if pick == 7:
            return "".join(r.choice("0123456789abcdefABCDEF") for _ in range(24))
        if pick == 8:
            return "".join(chr(r.randrange(1, 32)) for _ in range(r.randrange(1, 8)))
        if pick == 9:
            return self.room.upper()
        if pick == 10:
            return [self.junk(depth + 1) for _ in range(r.randrange(0, 4))]
        if pick == 11:
            return {self.key(): self.junk(depth + 1) for _ in range(r.randrange(0, 4))}
        if pick == 12:
            return "é" * r.choice([3999, 4000, 4001])
        return self.room

    def key(self):
        return self.rng.choice(["type", "room_id", "content", "client_msg_id", "after_seq",
                                "token", "x", "", "type ", "ROOM_ID", "é"])

    def room_field(self, ftype):
        """(value, risky) for room_id: mostly malformed; the real room only where it
        changes nothing (never join/leave: those would churn the membership)."""
        r = self.rng.random()
        if r < 0.08 and ftype not in ("join", "leave"):
            return self.room, False
        if r < 0.11:
            return "%024x" % self.rng.getrandbits(96), True
        v = self.junk()
        if ftype in ("join", "leave") and v == self.room:
            v = self.room.upper()
        return v, False

    def typed(self):
        """A JSON object of a known type with fuzzed fields. Never refused: the error
        (if any) is a per-type one. Returns (text, risky)."""
        r = self.rng
        ftype = r.choice(TYPES)
        frame = {"type": ftype}
        risky = False
        if r.random() < 0.9:
            frame["room_id"], risky = self.room_field(ftype)
        if ftype == "message":
            if r.random() < 0.8:
                content = self.junk()
                if (frame.get("room_id") == self.room and isinstance(content, str) and
                        content and r.random() < 0.9):
                    content = "\x07" + content  # keeps stored messages rare
                frame["content"] = content
            if r.random() < 0.5:
                frame["client_msg_id"] = self.junk()
        if ftype in ("join", "subscribe") and r.random() < 0.6:
            frame["after_seq"] = self.junk()
        if ftype == "auth" and r.random() < 0.8:
            frame["token"] = self.junk()
        for _ in range(r.randrange(0, 3)):
            k = self.rng.choice(["x", "extra", "é", "nested", ""])
            frame.setdefault(k, self.junk())
        text = json.dumps(frame, ensure_ascii=r.random() < 0.5)
        return text, risky

    def refused(self):
        """Text that is valid UTF-8 but is refused before any type: broken JSON, a
        non-object, no string type, an unknown type, nesting past 2048 levels, \\u0000,
        numbers jansson cannot hold."""
        r = self.rng
        pick = r.randrange(10)
        # a mutation may still parse: never as a join or leave of the real room
        base = json.dumps({"type": r.choice(["message", "subscribe", "typing", "ping"]),
                           "room_id": self.room, "content": "\u0007"})
        if pick == 0:
            return base[:r.randrange(0, len(base))]
        if pick == 1:
            i = r.randrange(len(base))
            return base[:i] + r.choice(["}", "{", ",", ":", "\"", "\\", "é", " ]"]) + base[i:]
        if pick == 2:
            return json.dumps(r.choice([[1, 2], "ping", 5, None, True, [], [{"type": "ping"}]]))
        if pick == 3:
            return json.dumps({"room_id": self.room, "type": r.choice([None, 5, [], {}, True])})
        if pick == 4:
            return json.dumps({"type": r.choice(["dance", "", "PING", "message ", "é" * 500,
                                                 "x" * 5000])})
        if pick == 5:
            d = r.choice([2049, 5000, 30000])
            return '{"type":"message","content":' + "[" * d + "]" * d + "}"
        if pick == 6:
            return '{"type":"message","room_id":"%s","content":"a\\u0000b"}' % self.room
        if pick == 7:
            return '{"type":"join","room_id":"%s","after_seq":%s}' % (
                self.room, r.choice(["1e400", "99999999999999999999", "-1e999",
                                     "18446744073709551616"]))
        if pick == 8:
            return '{"type":"ping","type":"message"' + r.choice(["", ",", "}}", "]"])
        return "".join(r.choice("{}[]\":,0123456789abcdefnulltrue \\") for _ in
                       range(r.randrange(1, 200)))

    def surely_refused(self):
        """Text refused before any type in every case (for the abuse role)."""
        r = self.rng
        return r.choice(['{"type":"ping"', "[1,2]", '{"type":5}', '{"no_type":1}',
                         json.dumps({"type": "dance%d" % r.randrange(1000)}), "nul", "{}"])

    def answered(self):
        """Frames answered without a refusal: deep nesting inside a field, thousands of
        keys, binary frames. Returns (payload, binary)."""
        r = self.rng
        pick = r.randrange(4)
        if pick == 0:
            d = r.choice([100, 1000, 2000])
            return ('{"type":"message","room_id":"%s","content":' % self.room + "[" * d +
                    "]" * d + "}", False)
        if pick == 1:
            obj = {"k%d" % i: i for i in range(r.choice([100, 3000]))}
            obj["type"] = r.choice(["unsubscribe", "typing", "message"])
            obj["room_id"] = "zz"
            return json.dumps(obj), False
        if pick == 2:
            return bytes(r.getrandbits(8) for _ in range(r.randrange(1, 300))), True
        return json.dumps({"type": "subscribe", "room_id": self.room,
                           "after_seq": r.choice([0, 2**63 - 1, 10**15])}), False

    def frame(self):
        """One frame for a socket that must stay open: (payload, binary, risky), under
        WS_MAX_FRAME_BYTES (64 KiB; bigger ones are the oversize roles' business)."""
        while True:
            f = self._frame()
            size = len(f[0]) if f[1] else len(f[0].encode())
            if size <= 60000:
                return f

    def _frame(self):
        x = self.rng.random()
        if x < 0.2:
            return self.refused(), False, True
        if x < 0.3:
            payload, binary = self.answered()
            return payload, binary, False
        text, risky = self.typed()
        return text, False, risky


def _invalid_utf8(rng):
    bad = rng.choice([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82",
                      b"\x80", bytes(rng.getrandbits(8) | 0x80 for _ in range(5))])
    try:
        bad.decode("utf-8")  # random high bytes can spell valid UTF-8 (seed 273167322:
        bad += b"\xff"       # c7 bd e3 9e a4); \xff is never valid
    except UnicodeDecodeError:
        pass
    return b'{"type":"message","content":"' + bad + b'"}'


# ---------------------------------------------------------------- socket roles

async def _send_all(c, frames):
    for payload, binary, _ in frames:
        if binary:
            await c.ws.send(payload)
        else:
            await c.ws.send(payload, text=True)


async def _survivor(url, token, gen, tag):
    """SURVIVOR_FRAMES fuzzed frames, then a sentinel answered in order: the socket
    must answer it (or have been closed 1008 if it sent enough refusable frames)."""
    frames = [gen.frame() for _ in range(SURVIVOR_FRAMES)]
    risky = sum(1 for f in frames if f[2])
    c = await connect(url, token)
    try:
        await _send_all(c, frames)
        await c.send({"type": "message", "room_id": gen.room, "content": "",
                      "client_msg_id": tag})
        t0 = time.monotonic()
        try:
            await c.recv_until(lambda f: f.get("client_msg_id") == tag, 45)
            return ("open", len(frames) + 1, None)
        except Exception as e:
            code = f"{c.closed_code} ({type(e).__name__} after {time.monotonic() - t0:.1f} s)"
            if c.closed_code == 1008 and risky >= ABUSE_LIMIT:
                return ("open", len(frames) + 1, None)
            return ("bad", len(frames) + 1, f"survivor {tag}: closed {code} with "
                                            f"{risky} refusable frames; {c.frames[-3:]}")
    finally:
        await c.close()


async def _closer(url, token, gen, role, rng):
    frames = [f for f in (gen.frame() for _ in range(PROLOGUE_FRAMES * 2)) if not f[2]]
    frames = frames[:PROLOGUE_FRAMES]
    c = await connect(url, token)
    want = {"utf8": 1007, "oversize": 1009, "fragments": 1009, "abuse": 1008}[role]
    sent = len(frames) + 1
    await _send_all(c, frames)
    if role == "utf8":
        await c.ws.send(_invalid_utf8(rng), text=True)
    elif role == "oversize":
        await c.ws.send(json.dumps({"type": "message", "room_id": gen.room,
                                    "content": "y" * (64 * 1024 + rng.randrange(1, 9000))}))
    elif role == "fragments":
        await c.ws.send(iter(["z" * 16384 for _ in range(5)]))
    else:
        for _ in range(ABUSE_LIMIT + 10):
            await c.ws.send(gen.surely_refused(), text=True)
        sent += ABUSE_LIMIT + 9
    t0 = time.monotonic()
    try:
        code, _ = await c.wait_closed(30)
    except TimeoutError:
        code = "still open after 30 s"
    await c.close()
    if code is None and want == 1009:
        # the gateway closes while the client is still writing the big frame: the TCP
        # reset can overtake the close frame (seen through lighttpd and direct); counted,
        # and most such sockets must still read 1009
        return ("oversize-reset", sent, None)
    if code is None and want == 1007:
        # the same race, rarer: a pong to the gateway's keep-alive ping still unread when
        # it closes makes the kernel send a reset (seen once in ~20 runs); counted, and
        # most utf8 sockets must still read 1007
        return ("utf8-reset", sent, None)
    if code != want:
        return ("bad", sent, f"{role} via {url}: closed with {code} after "
                             f"{time.monotonic() - t0:.1f} s, expected {want}; "
                             f"last frames {c.frames[-3:]}")
    return (role, sent, None)


async def _protocol_garbage(host, port, token, rng):
    """A real upgrade, then random bytes where frames go: the gateway must drop the
    connection (any way) and nothing else."""
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws?token={token} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 15)
    if b" 101 " not in head.split(b"\r\n")[0]:
        writer.close()
        return ("bad", 0, f"garbage socket: upgrade refused: {head[:80]!r}")
    junk = bytes(rng.getrandbits(8) for _ in range(rng.randrange(2, 4000)))
    try:
        writer.write(junk)
        await writer.drain()
        while await asyncio.wait_for(reader.read(65536), 20):
            pass  # read until the gateway closes
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    except asyncio.TimeoutError:
        # a short header can leave lws waiting for the rest of the frame: not a failure
        # of the gateway, which must still be alive (checked after)
        pass
    writer.close()
    return ("garbage", 1, None)


# ---------------------------------------------------------------- the test

def test_fuzzed_frames_leave_sanitized_gateways_alive(make_stack):
    seed = int(os.environ.get("CHAT_FUZZ_SEED") or random.randrange(1 << 30))
    asan = asan_build_dir()
    san_env = dict(SANITIZER_ENV, MAX_SOCKETS_PER_USER="1000")
    s = make_stack(gateways=2, build_dir=asan, env=san_env)
    users = [register(s.http_url) for _ in range(N_USERS)]
    room = create_room(s.http_url, users[0]["token"])
    for u in users[1:]:
        st, body = api(s.http_url, "POST", f"/api/rooms/{room}/join", token=u["token"])
        assert st in (200, 201, 204), (st, body)
    master = random.Random(seed)
    roles = ["survivor"] * 12 + ["utf8", "oversize", "fragments", "abuse"]

    async def run():
        limit = asyncio.Semaphore(120)
        jobs = []

        async def guarded(coro):
            async with limit:
                try:
                    return await coro
                except Exception as e:  # a socket that failed to behave is a finding
                    return ("bad", 0, f"{type(e).__name__}: {e}")

        for i in range(N_USERS * SOCKETS_PER_USER):
            u = users[i % N_USERS]
            rng = random.Random(master.getrandbits(64))
            gen = FrameGen(rng, room)
            url = s.gateway_ws_url(i % 2) if i % 9 else s.ws_url  # some through lighttpd
            role = roles[i % len(roles)]
            if role == "survivor":
                jobs.append(guarded(_survivor(url, u["token"], gen, f"end-{i}")))
            else:
                jobs.append(guarded(_closer(url, u["token"], gen, role, rng)))
        for i in range(12):
            jobs.append(guarded(_protocol_garbage(s.host, s.gateway_port + i % 2,
                                                  users[i % N_USERS]["token"],
                                                  random.Random(master.getrandbits(64)))))
        return await asyncio.gather(*jobs)

    t0 = time.monotonic()
    results = asyncio.run(run())
    took = time.monotonic() - t0
    frames = sum(r[1] for r in results)
    bad = [r[2] for r in results if r[2]]
    counts = {}
    for r in results:
        counts[r[0]] = counts.get(r[0], 0) + 1
    print(f"seed {seed}: {len(results)} sockets, {frames} frames in {took:.1f} s, {counts}")
    for b in bad:
        print("  " + b[:600])
    assert not bad, (f"seed {seed}: {len(bad)} sockets misbehaved", bad[:10])
    assert len(results) >= 300 and frames >= 20000, (len(results), frames)
    got_1009 = counts.get("oversize", 0) + counts.get("fragments", 0)
    assert got_1009 >= 4 * counts.get("oversize-reset", 0), counts
    assert counts.get("utf8", 0) >= 4 * counts.get("utf8-reset", 0), counts

    for i in range(2):
        assert s.gateways[i].alive(), (f"seed {seed}: gateway{i} died",
                                       s.log_text(f"gateway{i}")[-4000:])

    async def normal_client():
        for url in (s.gateway_ws_url(0), s.gateway_ws_url(1), s.ws_url):
            c = await connect(url, users[1]["token"])
            assert (await c.subscribe(room))["type"] == "subscribed"
            ack = await c.send_message(room, "still here")
            assert ack["type"] == "ack", ack
            await c.close()

    asyncio.run(normal_client())
    for i in range(2):
        assert not sanitizer_lines(s.log_text(f"gateway{i}")), (
            f"seed {seed}", s.log_text(f"gateway{i}")[-6000:])
        rc = s.kill_gateway(i, signal.SIGTERM, timeout=30)
        log = s.log_text(f"gateway{i}")
        assert not sanitizer_lines(log), (f"seed {seed}", log[-6000:])
        assert rc == 0, (f"seed {seed}: gateway{i} exit {rc}", log[-3000:])
    assert not sanitizer_lines(s.log_text("lighttpd")), s.log_text("lighttpd")[-4000:]
