"""fault_driver.py - the chaos suite's driver: starts a fresh stack (tests/harness/stack.py:
several gateways, lighttpd + rest-fcgi, Redis, FerretDB on free ports), creates the users
and rooms, runs every client's traffic, the membership churn (clients that leave and
rejoin rooms) and the fault schedule (gateways killed and drained, Redis frozen, flushed
with FLUSHALL and restarted, FerretDB restarted, a client that stops reading), probes the
REST history pages and member lists right after each flush, restarts gateways that die on
their own (counted as crashes), waits for acks and for deliveries to settle, and collects
the gateway logs.
The traffic, the schedule and the monitor run on one asyncio loop; blocking launcher and
REST calls are handed to worker threads: the churners' membership calls (which retry for
minutes while Redis is down) to a pool of their own, everything else to the loop's default
pool, sized so that the schedule's own calls (e.g. SIGCONT to a frozen Redis) never wait
behind them."""
import asyncio
import collections
import json
import random
import signal
import socket
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from chat_client import Client
from harness.stack import Stack
from rest_client import Rest

RATES_OFF = {"RATE_MSG_PER_SEC": "0", "RATE_API_PER_SEC": "0", "RATE_LOGIN_PER_MIN": "0",
             "RATE_REGISTER_PER_HOUR": "0", "RATE_ROOM_CREATE_PER_MIN": "0",
             "RATE_MEMBERSHIP_PER_MIN": "0",
             "WS_FRAME_RATE": "1000000", "WS_FRAME_BURST": "1000000"}


def log(t0, msg):
    print(f"[{time.monotonic() - t0:7.1f}s] {msg}", flush=True)


class Driver:
    def __init__(self, args):
        self.args = args
        self.n_gateways = args.gateways
        self.run_id = f"{random.randrange(16 ** 6):06x}"
        self.stack = None
        self.rest = None
        self.clients = []
        self.rooms = []
        self.admin_token = None
        self.down = set()          # gateways the schedule has taken down
        self.stop_sending = False
        self.closing = False
        self.faults = []           # (t, description, recovery?, kind)
        self.crashes = []          # unexpected gateway exits
        self.slow_gate = None
        self.slow_stalled_once = False
        self.slow_closes = []
        self.drain_closes = collections.Counter()
        self.t0 = time.monotonic()
        self.workdir = None
        self.probes = []           # history pages read through REST during the run
        self.member_probes = []    # member lists read through REST during the run
        self.users = []            # (user id, name, token, rooms), clients then churners
        self.admin_id = None
        self.t_send_start = self.t_send_end = time.monotonic()
        self.settled, self.settle_maxes = False, {}

    # -- helpers
    def say(self, msg):
        log(self.t0, msg)

    def pick_gateway(self, prefer=None, exclude=None):
        live = [i for i in range(self.n_gateways) if i not in self.down]
        if not live:
            return None
        if prefer is not None and prefer in live:
            return prefer
        others = [i for i in live if i != exclude]
        return random.choice(others or live)

    def fault(self, desc, recovery=False, kind=None):
        """Records a schedule event: a fault applied (of a kind, for the report's count by
        kind), or (recovery) its undoing."""
        t = time.monotonic() - self.t0
        self.faults.append((round(t, 1), desc, recovery, kind))
        self.say(f"{'recover' if recovery else 'fault'}: {desc}")

    # -- setup
    def start_stack(self):
        self.workdir = Path(tempfile.mkdtemp(prefix="chaos-"))
        self.stack = Stack(gateways=self.n_gateways, env=dict(RATES_OFF),
                           build_dir=self.args.build_dir, workdir=self.workdir)
        if not self.stack.gateway_binary().exists():
            raise RuntimeError(f"no gateway binary at {self.stack.gateway_binary()} (make build)")
        if not (self.stack.build_dir / "rest-fcgi/chat-api").exists():
            raise RuntimeError(f"no REST binary at {self.stack.build_dir}/rest-fcgi/chat-api")
        self.stack.start()
        self.rest = Rest(self.stack.http_url)

    def make_user(self, name):
        pw = f"pw-{name}-chaos"
        self.rest.must("POST", "/api/auth/register",
                       {"username": name, "email": f"{name}@chaos.example.com", "password": pw})
        doc = self.rest.must("POST", "/api/auth/login",
                             {"email": f"{name}@chaos.example.com", "password": pw})
        return doc["user"]["id"], name, doc["token"]

    def setup_users(self):
        a = self.args
        self.admin_id, _, self.admin_token = self.make_user(f"chaos_admin_{self.run_id}")
        for r in range(a.rooms):
            doc = self.rest.must("POST", "/api/rooms",
                                 {"name": f"chaos-{r}", "description": "chaos test room",
                                  "is_private": False}, token=self.admin_token)
            self.rooms.append(doc["id"])
        n_all = a.clients + a.churners
        with ThreadPoolExecutor(8) as pool:
            users = list(pool.map(lambda i: self.make_user(f"chaos_{self.run_id}_c{i}"),
                                  range(n_all)))
        memberships = []
        for i in range(n_all):
            if i == 0 or i >= a.clients:
                # the slow client: every room, so its stall backs up the most traffic;
                # the churners: every room, leaving and rejoining them one at a time
                rooms = list(self.rooms)
            elif i % 2 == 1:
                rooms = [self.rooms[i % a.rooms], self.rooms[(i + 1) % a.rooms]]
            else:
                rooms = [self.rooms[i % a.rooms]]
            memberships.append(list(dict.fromkeys(rooms)))

        # Joins run concurrently (many to one room at once); rooms_repo.c keeps one document
        # per member, so none may be lost. Checked below before any socket opens.
        jobs = [(users[i][2], room) for i in range(n_all) for room in memberships[i]]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda job: self.rest.must("POST", f"/api/rooms/{job[1]}/join",
                                                     token=job[0]), jobs))
        for room in self.rooms:
            have = set(self.rest.members(room, self.admin_token))
            want = {users[i][0] for i in range(n_all) if room in memberships[i]}
            if want - have:
                raise RuntimeError(f"room {room}: {len(want - have)} joined users are not "
                                   f"members after POST /join")
        for i, (uid, name, token) in enumerate(users):
            self.users.append((uid, name, token, memberships[i]))
            self.clients.append(Client(self, i, uid, name, token, memberships[i], slow=(i == 0),
                                       churn=(i >= a.clients)))

    def static_members(self, room):
        """Who is a member of room throughout the run: the owner and the clients that
        never leave (the churners come and go)."""
        return {self.admin_id} | {c.user_id for c in self.clients
                                  if not c.churn and room in c.rooms}

    def expected_members(self, room):
        """Who must be a member of room now, by what the driver did."""
        return self.static_members(room) | {c.user_id for c in self.clients
                                            if c.churn and room in c.rooms
                                            and room not in c.away}

    def membership(self, what, room, token):
        """POST /api/rooms/{room}/join|leave, retried through 5xx (a refusal while Redis is
        down) until it is answered 200 (both are idempotent). Worker thread."""
        self.rest.must("POST", f"/api/rooms/{room}/{what}", token=token, ok=(200,), tries=240)

    # -- fault schedule
    def schedule(self):
        """[(offset_s, coroutine_factory)]: one entry per fault episode, per round."""
        a = self.args
        L = a.seconds / a.rounds
        G = self.n_gateways
        eps = []
        if a.no_faults:  # a baseline: the same traffic and verification, no faults
            return eps
        for r in range(a.rounds):
            base = r * L
            ga, gb, gc = r % G, (r + 1) % G, (r + 2) % G
            eps += [
                (base + 0.05 * L, lambda g=ga: self.ep_kill(g, signal.SIGKILL, 4.0)),
                # flushed while the killed gateway's clients resume on the others
                (base + 0.05 * L + 1.0, lambda: self.ep_flush()),
                (base + 0.20 * L, lambda g=gb: self.ep_kill(g, signal.SIGTERM, 4.0)),
                (base + 0.33 * L, lambda: self.ep_redis(5.0, max(1.0, 0.14 * L - 5.0), 2.0)),
                (base + 0.60 * L, lambda: self.ep_mongo_restart(3.0)),
                (base + 0.72 * L, lambda: self.ep_slow(min(15.0, 0.2 * L))),
                (base + 0.76 * L, lambda g=gc: self.ep_kill(g, signal.SIGKILL, 3.0)),
                (base + 0.88 * L, lambda: self.ep_flush()),
            ]
        return eps

    async def ep_kill(self, i, sig, down_for):
        name = "SIGKILL" if sig == signal.SIGKILL else "SIGTERM"
        self.down.add(i)
        t = time.monotonic()
        on_it = [c for c in self.clients if c.ws is not None and c.gw == i]
        marks = {c.idx: len(c.events) for c in on_it}
        rc = await asyncio.to_thread(self.stack.kill_gateway, i, sig)
        if sig == signal.SIGTERM:
            asyncio.get_running_loop().call_later(2.0, self.count_drain_closes, on_it, marks)
        extra = ""
        if sig == signal.SIGTERM:
            extra = f" (drained and exited with {rc} in {time.monotonic() - t:.1f}s)"
            if rc not in (0, None):
                self.crashes.append({"t": round(time.monotonic() - self.t0, 1), "gateway": i,
                                     "what": f"SIGTERM drain ended with exit code {rc}"})
        self.fault(f"{name} gateway{i}{extra}",
                   kind="gateway SIGKILL" if sig == signal.SIGKILL else "gateway SIGTERM")
        await asyncio.sleep(down_for)
        await asyncio.to_thread(self.stack.start_gateway, i)
        self.down.discard(i)
        self.fault(f"gateway{i} restarted", True)

    def count_drain_closes(self, clients, marks):
        """SPEC §4.6: a draining gateway closes its sockets with 1001. Records the close
        codes that the clients of a SIGTERMed gateway saw."""
        for c in clients:
            codes = [e[2] for e in c.events[marks[c.idx]:] if e[1] == "close"]
            self.drain_closes[str(codes[0]) if codes else "still open"] += 1

    async def ep_redis(self, pause, gap, down):
        """Redis frozen (SIGSTOP) for pause seconds, then after gap seconds a real restart
        (stopped for down seconds). One episode so the two never overlap."""
        await asyncio.to_thread(self.stack.pause_redis)
        self.fault(f"Redis SIGSTOP for {pause:.0f}s", kind="Redis SIGSTOP")
        await asyncio.sleep(pause)
        await asyncio.to_thread(self.stack.resume_redis)
        self.fault("Redis SIGCONT", True)
        await asyncio.sleep(gap)
        await asyncio.to_thread(self.stack.stop_redis)
        self.fault(f"Redis stopped (restart in {down:.0f}s)", kind="Redis restart")
        await asyncio.sleep(down)
        await asyncio.to_thread(self.stack.start_redis)
        self.fault("Redis started", True)

    def flush_redis(self):
        """FLUSHALL on the stack's Redis (RESP over a plain socket). Worker thread."""
        with socket.create_connection((self.stack.host, self.stack.redis_port), 5) as s:
            s.sendall(b"*1\r\n$8\r\nFLUSHALL\r\n")
            reply = s.recv(64)
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"FLUSHALL answered {reply!r}")

    async def ep_flush(self):
        """Redis loses everything at once (FLUSHALL) while clients send, join, leave and
        reconnect: the read model (windows, member sets, heads, resend indexes) is gone
        and must be rebuilt from MongoDB. Right after, history pages and member lists are
        read through REST for the verifier to compare with MongoDB."""
        try:
            await asyncio.to_thread(self.flush_redis)
        except Exception as e:  # Redis stopped by another episode: nothing to flush
            self.say(f"FLUSHALL failed: {e}")
            return
        self.fault("Redis FLUSHALL", kind="Redis FLUSHALL")
        await asyncio.sleep(0.3)
        await asyncio.to_thread(self.probe_all, "after FLUSHALL")

    def probe_page(self, when, room, params):
        """One history page through REST, kept for the verifier. Worker thread."""
        q = "&".join(f"{k}={v}" for k, v in params.items())
        try:
            doc = self.rest.must("GET", f"/api/rooms/{room}/messages?{q}",
                                 token=self.admin_token, tries=20)
        except Exception as e:
            self.say(f"probe {when}: history page {q} failed: {e}")
            doc = None
        return {"when": when, "room": room, "params": dict(params), "doc": doc,
                "t": round(time.monotonic() - self.t0, 2)}

    def probe_all(self, when):
        """History pages (newest, an offset, both cursors) and member lists of every room,
        read through REST (the read model). Worker thread."""
        for room in self.rooms:
            first = self.probe_page(when, room, {"limit": 50, "offset": 0})
            self.probes.append(first)
            total = (first["doc"] or {}).get("total") or 0
            for params in ({"limit": 50, "offset": 20},
                           {"before_seq": max(1, total - 30), "limit": 50},
                           {"after_seq": max(0, total - 120), "limit": 200}):
                self.probes.append(self.probe_page(when, room, params))
            try:
                members = self.rest.members(room, self.admin_token)
            except Exception as e:
                self.say(f"probe {when}: members of {room} failed: {e}")
                members = None
            self.member_probes.append({"when": when, "room": room, "members": members,
                                       "t": round(time.monotonic() - self.t0, 2)})

    async def ep_mongo_restart(self, secs):
        await asyncio.to_thread(self.stack.stop_mongo)
        self.fault(f"FerretDB stopped (restart in {secs:.0f}s)", kind="FerretDB restart")
        await asyncio.sleep(secs)
        await asyncio.to_thread(self.stack.start_mongo)
        self.fault("FerretDB started", True)

    async def ep_slow(self, secs):
        self.slow_gate.clear()
        self.slow_stalled_once = True
        self.fault(f"client c0 stops reading its socket for {secs:.0f}s", kind="slow client")
        await asyncio.sleep(secs)
        self.slow_gate.set()
        self.fault("client c0 reads again", True)

    async def run_schedule(self, t_start):
        tasks = []
        for offset, factory in self.schedule():
            delay = t_start + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(factory()))
        await asyncio.gather(*tasks)

    async def monitor(self):
        """Restarts a gateway that died on its own (and records the crash)."""
        while not self.closing:
            await asyncio.sleep(0.5)
            for i in range(self.n_gateways):
                proc = self.stack.gateways[i]
                if i in self.down or proc is None or proc.alive():
                    continue
                rc = proc.popen.returncode
                tail = proc.log_text()[-1500:]
                self.crashes.append({"t": round(time.monotonic() - self.t0, 1), "gateway": i,
                                     "what": f"exited on its own with {rc}", "log_tail": tail})
                self.say(f"CRASH: gateway{i} exited with {rc}; restarting it")
                self.down.add(i)
                try:
                    await asyncio.to_thread(self.stack.start_gateway, i)
                except Exception as e:
                    self.say(f"gateway{i} failed to restart: {e}")
                    continue
                self.down.discard(i)

    async def resender(self):
        while not self.closing:
            await asyncio.sleep(0.2)
            now = time.monotonic()
            for c in self.clients:
                if c.pending:
                    await c.resend_due(now)

    # -- the run
    async def membership_call(self, what, room, token):
        """membership() on the churners' own threads."""
        await asyncio.get_running_loop().run_in_executor(
            self.churn_pool, self.membership, what, room, token)

    async def traffic(self):
        a = self.args
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(32, thread_name_prefix="chaos"))
        self.churn_pool = ThreadPoolExecutor(max(1, a.churners), thread_name_prefix="churn")
        self.slow_gate = asyncio.Event()
        self.slow_gate.set()
        per_client = max(1, a.messages // a.clients)
        interval = a.seconds / per_client
        for c in self.clients:
            c.task_conn = asyncio.create_task(c.run())
        bg = [asyncio.create_task(self.monitor()), asyncio.create_task(self.resender())]
        # wait until everyone is connected once (or 20 s)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(c.connects == 0 for c in self.clients):
            await asyncio.sleep(0.2)
        self.say(f"{sum(1 for c in self.clients if c.connects)} of {len(self.clients)} clients "
                 f"connected; sending {per_client} messages each for {a.seconds:.0f}s "
                 f"({a.rounds} round(s) of the fault schedule)")
        t_start = time.monotonic()
        self.t_send_start = t_start
        senders = [c for c in self.clients if not c.churn]
        for c in senders:
            c.task_send = asyncio.create_task(c.sender(per_client, interval, t_start))
        churn = [asyncio.create_task(c.churn_loop()) for c in self.clients if c.churn]
        sched = asyncio.create_task(self.run_schedule(t_start))
        await asyncio.gather(*(c.task_send for c in senders))
        self.stop_sending = True
        self.t_send_end = time.monotonic()
        self.say("sending done; waiting for the fault schedule and the churn to finish")
        await sched
        await asyncio.gather(*churn)
        self.churn_pool.shutdown(wait=False)
        self.slow_gate.set()

        # drain: every sent message acked (or give up)
        self.say("waiting for every sent message to be acked")
        deadline = time.monotonic() + a.drain_timeout
        while time.monotonic() < deadline:
            left = sum(len(c.pending) for c in self.clients)
            if left == 0:
                break
            await asyncio.sleep(0.5)
        left = sum(len(c.pending) for c in self.clients)
        self.say(f"unacked after drain: {left}")

        # settle: every client caught up with what MongoDB holds, twice in a row. The
        # stored maxima are read through REST (a scan per room on FerretDB) only when
        # every client has reached the last ones read, or every 10 s: polling faster
        # would load the database the gateways are catching up from.
        self.say("letting deliveries settle")
        deadline = time.monotonic() + a.settle_timeout
        prev, fetched_at = None, 0.0
        self.settled = False

        def behind(maxes):
            return [c.idx for c in self.clients if any(c.last_seq[r] < maxes[r] for r in c.rooms)]

        while time.monotonic() < deadline:
            if prev is None or not behind(prev) or time.monotonic() - fetched_at > 10:
                try:
                    maxes = await asyncio.to_thread(
                        lambda: {r: self.rest.last_seq(r, self.admin_token) for r in self.rooms})
                except Exception as e:
                    self.say(f"settle: REST failed ({e}); retrying")
                    await asyncio.sleep(1)
                    continue
                fetched_at = time.monotonic()
                if not behind(maxes) and maxes == prev:
                    self.settled = True
                    break
                prev = maxes
            await asyncio.sleep(0.5)
        self.settle_maxes = prev or {}
        self.say(f"settled={self.settled}; stored max seq per room: "
                 f"{[self.settle_maxes.get(r) for r in self.rooms]}")
        self.closing = True
        for t in bg:
            t.cancel()
        await asyncio.gather(*(c.close() for c in self.clients))
        for c in self.clients:
            c.task_conn.cancel()
        await asyncio.gather(*(c.task_conn for c in self.clients), *bg, return_exceptions=True)

    def scan_logs(self):
        """Counts the gateway log lines that tell how the faults were handled."""
        keys = {"slow consumer: closing": "slow_consumer_closes",
                "persistent abuse: closing": "abuse_closes",
                "gap backfill failed": "gap_backfill_failures",
                "message not stored": "messages_not_stored",
                "redis connection lost": "redis_connection_lost"}
        out = collections.Counter()
        for i in range(self.n_gateways):
            for line in self.stack.log_text(f"gateway{i}").splitlines():
                try:
                    j = json.loads(line)
                except ValueError:
                    if "ERROR" in line or "AddressSanitizer" in line:
                        out["non_json_error_lines"] += 1
                    continue
                msg = j.get("msg", "")
                if msg in keys:
                    out[keys[msg]] += 1
                if j.get("level") == "error":
                    out["error_level_lines"] += 1
        return dict(out)

    def dump(self, path):
        """Raw material for diagnosing a failure: per client its rooms, events and streams."""
        out = {"t0_wall": time.time() - (time.monotonic() - self.t0), "rooms": self.rooms,
               "faults": self.faults, "clients": []}
        for c in self.clients:
            out["clients"].append({
                "idx": c.idx, "user_id": c.user_id, "rooms": c.rooms, "events": c.events,
                "received": {r: [[s, i, n, round(t, 3)] for (s, i, n, _u, _c, t) in v]
                             for r, v in c.received.items()},
                "acks": c.acks, "pending": list(c.pending)})
        with open(path, "w") as f:
            json.dump(out, f)

    def shutdown_gateways(self):
        """SIGTERM every gateway (the drain path once more) and records how each ended:
        a signal death or a drain that needed SIGKILL counts as a crash."""
        codes = {}
        for i in range(self.n_gateways):
            proc = self.stack.gateways[i]
            if proc is None or not proc.alive():
                continue
            rc = self.stack.kill_gateway(i, signal.SIGTERM)
            codes[f"gateway{i}"] = rc
            if rc is not None and rc < 0:
                self.crashes.append({"t": round(time.monotonic() - self.t0, 1), "gateway": i,
                                     "what": f"final SIGTERM ended with {rc}",
                                     "log_tail": proc.log_text()[-1500:]})
        return codes
