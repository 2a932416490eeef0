"""chat_client.py - one chaos-suite user on one WebSocket at a time: sends numbered messages
with client_msg_ids, resends unacked ones after reconnects, retryable errors and timeouts,
resubscribes with after_seq, and records every room-message frame raw (no dedupe, no
reordering) so the verifier measures the server's guarantees, not the client's. A
churning client sends nothing; it leaves one of its rooms over REST, stays out a few
seconds, joins again and resubscribes with after_seq, over and over (its leave and rejoin
times go to the verifier, which checks that nothing of the room reached it meanwhile).
Runs on the chaos driver's asyncio loop."""
import asyncio
import collections
import json
import random
import socket
import time

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

RESEND_AFTER = 30.0        # seconds without an ack (same socket) before a message is resent;
                           # doubles with each such resend of the message (at most 240 s)
WINDOW = 16                # messages a client has in flight (sent, not acked) at once
BACKOFF_MIN, BACKOFF_MAX = 0.2, 3.0
SLOW_RCVBUF = 4096         # receive buffer of the slow client's socket (set before connect)
CHURN_STAY = (2.0, 5.0)    # a churner stays in a room this long (s) before it leaves one
CHURN_AWAY = (6.5, 9.0)    # and stays out of it this long (> SPEC §5's 5 s) before rejoining


class Pending:
    __slots__ = ("room", "content", "sent_at", "retry_at", "attempts", "created", "errors",
                 "timeouts")

    def __init__(self, room, content, now):
        self.room, self.content = room, content
        self.sent_at = None   # monotonic time of the last send, None = to be (re)sent
        self.retry_at = 0.0
        self.attempts = 0
        self.errors = 0       # retryable errors so far (backoff exponent)
        self.timeouts = 0     # resends after RESEND_AFTER (backoff exponent)
        self.created = now


class Client:
    """One user on one WebSocket at a time. Runs on the driver's asyncio loop."""

    def __init__(self, drv, idx, user_id, username, token, rooms, slow=False, churn=False):
        self.drv, self.idx = drv, idx
        self.user_id, self.username, self.token = user_id, username, token
        self.rooms = list(rooms)
        self.slow = slow
        self.churn = churn
        self.away = set()        # rooms it has left (from before the leave until its rejoin)
        self.away_log = []       # (room, leave answered, rejoin asked), seconds since t0
        self.subscribed_on = {}  # room -> the connection number its last subscribe went on
        self.received = {r: [] for r in self.rooms}   # raw: (seq, id, conn_no, user_id, content)
        self.last_seq = {r: 0 for r in self.rooms}    # highest seq seen per room
        self.pending = {}                             # client_msg_id -> Pending
        self.acks = {}                                # client_msg_id -> (id, seq, room, content)
        self.ack_conflicts = []                       # a second ack that differs from the first
        self.unknown_acks = 0
        self.dup_acks = 0
        self.rejected = {}                            # client_msg_id -> error code
        self.foreign = []                             # room messages of rooms not ours
        self.errors = collections.Counter()
        self.closes = collections.Counter()
        self.sent = 0            # distinct messages created
        self.sends = 0           # frames sent (first sends + resends)
        self.timeout_resends = 0
        self.connects = 0
        self.connect_failures = 0
        self.ws = None
        self.ready = False       # subscribed on the current socket; messages may go out
        self.conn_no = 0
        self.gw = None
        self.connected_gw_history = []
        self.events = []         # (t, what, detail...) for --dump: connects, subscribes, closes
        self.ack_latency = []    # seconds from a message's creation to its first ack
        self.task_conn = self.task_send = None

    # -- sending
    async def _send_frame(self, obj):
        ws = self.ws
        if ws is None:
            return False
        try:
            await asyncio.wait_for(ws.send(json.dumps(obj)), 5.0)
            return True
        except Exception:
            return False

    def inflight(self):
        return sum(1 for p in self.pending.values() if p.sent_at is not None)

    async def try_send(self, cmid, resend=False):
        """Sends (or resends) one pending message on the current socket. A first send or a
        queued one waits while WINDOW messages are in flight."""
        p = self.pending.get(cmid)
        if p is None or not self.ready:
            return
        if not resend and p.sent_at is None and self.inflight() >= WINDOW:
            return
        p.sent_at = time.monotonic()
        p.attempts += 1
        self.sends += 1
        await self._send_frame({"type": "message", "room_id": p.room, "content": p.content,
                                "client_msg_id": cmid})

    async def sender(self, n_msgs, interval, t_start):
        """Creates n_msgs numbered messages at a steady pace (jittered start)."""
        next_t = t_start + random.uniform(0, interval)
        for k in range(1, n_msgs + 1):
            delay = next_t - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            next_t += interval
            if self.drv.stop_sending:
                return
            room = self.rooms[k % len(self.rooms)]
            cmid = f"{self.drv.run_id}-c{self.idx}-m{k}"
            self.pending[cmid] = Pending(room, f"c{self.idx}-m{k}", time.monotonic())
            self.sent += 1
            await self.try_send(cmid)

    async def resend_due(self, now):
        """Called by the driver's scanner: sends what is queued or due, oldest first."""
        if not self.ready:
            return
        room = WINDOW - self.inflight()
        for cmid, p in list(self.pending.items()):
            if p.sent_at is None:
                if room > 0 and now >= p.retry_at:
                    room -= 1
                    await self.try_send(cmid)
            elif now - p.sent_at > min(RESEND_AFTER * 2 ** p.timeouts, 240.0):
                p.timeouts += 1
                self.timeout_resends += 1
                await self.try_send(cmid, resend=True)

    # -- receiving
    def handle(self, raw):
        try:
            f = json.loads(raw)
        except ValueError:
            self.errors["<unparseable frame>"] += 1
            return
        if not isinstance(f, dict):
            return
        t = f.get("type")
        if t == "ack":
            self.on_ack(f)
        elif t == "error":
            self.on_error(f)
        elif "seq" in f and "room_id" in f and "id" in f and t in ("text", "system", "message", None):
            self.on_room_message(f)
        elif isinstance(f.get("messages"), list):  # a batched replay, should a gateway send one
            for m in f["messages"]:
                if isinstance(m, dict) and "seq" in m and "id" in m:
                    m.setdefault("room_id", f.get("room_id"))
                    self.on_room_message(m)
        # subscribed / presence / typing / pong / member_* frames: nothing to record

    def on_room_message(self, f):
        """Records the frame raw (no dedupe, no reordering) and the highest seq seen."""
        room = f["room_id"]
        try:
            seq = int(f["seq"])
        except (TypeError, ValueError):
            self.errors["<room message without integer seq>"] += 1
            return
        if room not in self.received:
            self.foreign.append((room, seq))
            return
        self.received[room].append((seq, f.get("id"), self.conn_no, f.get("user_id"),
                                    f.get("content"), time.monotonic() - self.drv.t0))
        if seq > self.last_seq[room]:
            self.last_seq[room] = seq

    def on_ack(self, f):
        cmid = f.get("client_msg_id")
        rec = (f.get("id"), f.get("seq"))
        if cmid in self.acks:
            self.dup_acks += 1
            first = self.acks[cmid]
            if (first[0], first[1]) != rec:
                self.ack_conflicts.append({"client": self.idx, "client_msg_id": cmid,
                                           "first": list(first[:2]), "later": list(rec)})
            return
        p = self.pending.pop(cmid, None)
        if p is None:
            self.unknown_acks += 1
            if cmid in self.rejected:   # acked after a non-retryable error: still an ack
                room, content = None, None
            else:
                return
        else:
            room, content = p.room, p.content
            self.ack_latency.append(time.monotonic() - p.created)
        self.acks[cmid] = (rec[0], rec[1], room, content)

    def note(self, *event):
        self.events.append((round(time.monotonic() - self.drv.t0, 3),) + event)

    def on_error(self, f):
        code = f.get("code", "?")
        self.errors[code] += 1
        self.note("error", code, f.get("room_id"), f.get("client_msg_id"), f.get("retryable"))
        cmid = f.get("client_msg_id")
        if cmid and cmid in self.pending:
            p = self.pending[cmid]
            if f.get("retryable"):
                p.sent_at = None
                p.errors += 1
                ms = f.get("retry_after_ms")
                if isinstance(ms, (int, float)) and ms > 0:
                    wait = min(ms / 1000.0, 10.0)
                else:
                    wait = min(0.25 * 2 ** p.errors, 8.0) * random.uniform(0.5, 1.5)
                p.retry_at = time.monotonic() + wait
            else:
                self.rejected[cmid] = code
                del self.pending[cmid]
        elif not cmid and f.get("room_id") in self.last_seq and f.get("retryable"):
            # a subscribe that failed (e.g. replay while MongoDB is down): subscribe again
            room = f["room_id"]
            asyncio.get_running_loop().call_later(
                1.0, lambda: asyncio.ensure_future(self.subscribe(room)))

    async def subscribe(self, room):
        if room in self.away:
            return
        self.note("resubscribe", room, self.last_seq[room])
        await self._send_frame({"type": "subscribe", "room_id": room,
                                "after_seq": self.last_seq[room]})

    # -- the connection
    async def open_socket(self, gw):
        url = f"{self.drv.stack.gateway_ws_url(gw)}?token={self.token}"
        kwargs = dict(open_timeout=5, close_timeout=2, max_size=2 ** 20,
                      ping_interval=None if self.slow else 10,
                      ping_timeout=None if self.slow else 20)
        if self.slow:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)
            sock.setblocking(False)
            try:
                await asyncio.wait_for(asyncio.get_running_loop().sock_connect(
                    sock, (self.drv.stack.host, self.drv.stack.gateway_port + gw)), 5)
            except BaseException:
                sock.close()
                raise
            kwargs["sock"] = sock
        return await ws_connect(url, **kwargs)

    async def run(self):
        backoff = BACKOFF_MIN
        prev = None
        first = True
        while not self.drv.closing:
            gw = self.drv.pick_gateway(prefer=self.idx % self.drv.n_gateways if first else None,
                                       exclude=prev)
            first = False
            if gw is None:
                await asyncio.sleep(0.2)
                continue
            try:
                ws = await self.open_socket(gw)
            except Exception:
                self.connect_failures += 1
                prev = gw
                await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            self.ws, self.gw = ws, gw
            self.conn_no += 1
            self.connects += 1
            self.connected_gw_history.append(gw)
            self.note("connect", gw, self.conn_no)
            opened = time.monotonic()
            code = None
            try:
                for room in self.rooms:
                    if room in self.away or self.subscribed_on.get(room) == self.conn_no:
                        continue
                    self.subscribed_on[room] = self.conn_no
                    self.note("subscribe", room, self.last_seq[room])
                    await ws.send(json.dumps({"type": "subscribe", "room_id": room,
                                              "after_seq": self.last_seq[room]}))
                self.ready = True
                for p in self.pending.values():  # nothing is in flight on a new socket
                    p.sent_at, p.retry_at = None, 0.0
                await self.resend_due(time.monotonic())
                while True:
                    if self.slow and not self.drv.slow_gate.is_set():
                        await self.drv.slow_gate.wait()
                    raw = await ws.recv()
                    self.handle(raw)
            except ConnectionClosed:
                pass
            except asyncio.CancelledError:
                self.ready, self.ws = False, None
                raise
            except Exception as e:  # a driver bug must not pass silently
                self.errors[f"<driver exception {type(e).__name__}: {e}>"] += 1
            finally:
                self.ready, self.ws = False, None
            code = int(ws.close_code) if ws.close_code is not None else 1006
            self.note("close", code, ws.close_reason)
            if not self.drv.closing:
                self.closes[code] += 1
                if self.slow and self.drv.slow_stalled_once:
                    self.drv.slow_closes.append((round(time.monotonic() - self.drv.t0, 1), code))
            try:
                await ws.close()
            except Exception:
                pass
            prev = gw
            if time.monotonic() - opened > 5:
                backoff = BACKOFF_MIN
            if code == 1001:  # going away: reconnect elsewhere at once
                await asyncio.sleep(random.uniform(0.05, 0.3))
            else:
                await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
                backoff = min(backoff * 2, BACKOFF_MAX)

    async def churn_loop(self):
        """Leaves one room after another and joins it again, until sending stops; ends a
        member of all its rooms."""
        drv = self.drv
        while not drv.stop_sending:
            await asyncio.sleep(random.uniform(*CHURN_STAY))
            if drv.stop_sending:
                return
            room = random.choice(self.rooms)
            self.away.add(room)
            self.subscribed_on.pop(room, None)
            self.note("leave", room)
            await drv.membership_call("leave", room, self.token)
            t_left = time.monotonic() - drv.t0
            self.note("left", room)
            await asyncio.sleep(random.uniform(*CHURN_AWAY))
            t_back = time.monotonic() - drv.t0
            await drv.membership_call("join", room, self.token)
            self.away_log.append((room, round(t_left, 3), round(t_back, 3)))
            self.away.discard(room)
            self.note("rejoined", room)
            if self.ws is not None and self.subscribed_on.get(room) != self.conn_no:
                self.subscribed_on[room] = self.conn_no  # else the next connect subscribes
                await self.subscribe(room)

    async def close(self):
        ws = self.ws
        if ws is not None:
            try:
                await asyncio.wait_for(ws.close(), 3)
            except Exception:
                pass

