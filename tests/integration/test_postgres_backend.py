"""test_postgres_backend.py - FerretDB on PostgreSQL, the default backend of `make run`
(deploy/stack.py starts a private cluster under WORKDIR/postgres; most other suites keep
the SQLite backend). On a real stack with backend="postgresql":
  - register, log in, create a room, send over WebSocket, get the ack, read it back
    through REST history; then FerretDB and PostgreSQL are both stopped and started again
    and Redis is flushed (so nothing can come from the Redis read model): the user logs
    in, the room and the message are still there, and a resend gets the original ack;
  - stopping PostgreSQL, and the stack's stop, leave no process of the cluster behind
    (every PostgreSQL process, postmaster or child, has the data dir as its cwd).
And `deploy/stack.py run` as `make run` starts it, with MONGO_BACKEND unset: it picks
PostgreSQL, says so, records it in var/stack.json, restarts PostgreSQL and FerretDB when
either is SIGKILLed (data kept), and on SIGTERM stops every postgres process it started.
The work dirs are mode 0711 because, as root, the cluster runs as the `postgres` user,
which must be able to reach them. `run` also says when the kernel's writeback interval
(vm.dirty_expire_centisecs) is long enough to stall PostgreSQL's commits, and only then.
Runs in the pytest process."""
import asyncio
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.stack import Stack, writeback_note  # noqa: E402
from conftest import RATES_OFF  # noqa: E402
from test_supervision import Run, _pid_alive  # noqa: E402
from ws_client import api, connect, create_room, register  # noqa: E402


@pytest.fixture
def reachable_dir():
    """A temp dir the `postgres` user can traverse (pytest's tmp_path is under a 0700
    directory when we are root)."""
    d = Path(tempfile.mkdtemp(prefix="chat-pg-test-"))
    os.chmod(d, 0o711)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _cluster(data_dir):
    """Live processes of the PostgreSQL cluster in data_dir: the postmaster and all its
    children (they setsid(), so no process group holds them) run with it as their cwd."""
    want = os.path.realpath(data_dir)
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{d}/cwd") == want:
                out.append(int(d))
        except OSError:
            continue
    return out


def _wait_gone(data_dir, timeout=15.0):
    """[] once no process of the cluster is left (else the survivors)."""
    deadline = time.time() + timeout
    while time.time() < deadline and _cluster(data_dir):
        time.sleep(0.1)
    return _cluster(data_dir)


def _redis(url, *args):
    """One Redis command over a raw socket (RESP); returns the first reply line."""
    u = urlparse(url)
    with socket.create_connection((u.hostname, u.port), timeout=5) as s:
        req = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
        s.sendall(req.encode())
        return s.recv(4096).split(b"\r\n", 1)[0].decode()


def _wait_for(fn, timeout=30.0, step=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout}s (last: {last})")


def _login(base, email, password="correct-horse-1"):
    return api(base, "POST", "/api/auth/login", body={"email": email, "password": password})


def test_end_to_end_on_postgresql_survives_a_database_restart(reachable_dir):
    s = Stack(gateways=1, env=dict(RATES_OFF, MONGO_BACKEND="sqlite"), backend="postgresql",
              workdir=reachable_dir / "stack")
    s.start()
    try:
        assert s.backend == "postgresql" and s.state()["mongo_backend"] == "postgresql"
        assert "--handler=postgresql" in s.ferretdb.argv
        assert s.postgres.alive() and s.postgres_url.startswith("postgres://chat@127.0.0.1:")
        base = s.http_url
        u = register(base)
        email = f"{u['username']}@example.com"
        room = create_room(base, u["token"], name="pg room")

        async def send(cmid, content):
            c = await connect(s.ws_url, u["token"], name="pg")
            try:
                assert (await c.subscribe(room))["type"] == "subscribed"
                ack = await c.send_message(room, content, client_msg_id=cmid)
                return ack
            finally:
                await c.close()

        ack = asyncio.run(send("pg-1", "stored in PostgreSQL"))
        assert ack["type"] == "ack" and ack["seq"] == 1, ack
        st, hist = api(base, "GET", f"/api/rooms/{room}/messages?limit=50", u["token"])
        assert st == 200, hist
        texts = [m for m in hist["messages"] if m["type"] == "text"]
        assert [(m["id"], m["seq"], m["content"]) for m in texts] == \
            [(ack["id"], 1, "stored in PostgreSQL")]

        # The whole database layer goes down and comes back; Redis forgets everything.
        data_dir = s.postgres_dir() / "data"
        pg_pid = s.postgres.pid
        assert pg_pid in _cluster(data_dir) and len(_cluster(data_dir)) > 2
        s.stop_mongo()
        s.stop_postgres()
        assert not _wait_gone(data_dir, 0), "postgres processes outlived stop_postgres()"
        s.start_mongo()       # PostgreSQL first (same data dir), then FerretDB
        assert s.postgres.pid != pg_pid
        assert _redis(s.redis_url, "FLUSHALL") == "+OK"

        st, body = _wait_for(lambda: (lambda r: r if r[0] == 200 else None)(_login(base, email)))
        token = body["token"]
        st, got = api(base, "GET", f"/api/rooms/{room}", token)
        assert st == 200 and got["name"] == "pg room", got
        st, hist2 = _wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
            api(base, "GET", f"/api/rooms/{room}/messages?limit=50", token)))
        assert hist2["messages"] == hist["messages"] and hist2["total"] == hist["total"]
        # a resend after the restart is answered from the stored copy: same ack
        again = asyncio.run(send("pg-1", "stored in PostgreSQL"))
        assert (again["type"], again["id"], again["seq"]) == ("ack", ack["id"], 1), again
        # FerretDB wrote nothing to SQLite files
        assert not list((s.workdir / "ferretdb").glob("*.sqlite"))
        assert _cluster(data_dir)
    finally:
        s.stop()
    assert not _wait_gone(s.postgres_dir() / "data", 0), "postgres outlived Stack.stop()"


def test_writeback_note_follows_the_kernel_setting(tmp_path):
    setting = tmp_path / "dirty_expire_centisecs"
    setting.write_text("3000\n")  # Linux's default: a 30 s burst
    note = writeback_note(setting)
    assert note and "is 3000" in note and "every ~30 s" in note and "OPERATIONS" in note
    for short in ("500\n", "300\n", "0\n"):
        setting.write_text(short)
        assert writeback_note(setting) is None, short
    setting.write_text("garbage")
    assert writeback_note(setting) is None
    assert writeback_note(tmp_path / "missing") is None


def test_run_defaults_to_postgresql_and_supervises_it(reachable_dir):
    run = Run(reachable_dir, gateways=1, env={"MONGO_BACKEND": ""})
    data_dir = run.var / "postgres/data"
    try:
        out = run.output()
        st = run.state()
        assert st["mongo_backend"] == "postgresql", out[-3000:]
        assert "database: FerretDB on PostgreSQL" in out, out[-3000:]
        # the host's own setting decides, whatever it is on this machine
        assert ("note: vm.dirty_expire_centisecs is" in out) == (writeback_note() is not None)
        assert (run.var / "postgres/data/PG_VERSION").exists()
        base = f"http://127.0.0.1:{run.http_port}"
        u = register(base)
        email = f"{u['username']}@example.com"
        room = create_room(base, u["token"])

        for unit in ("postgres", "ferretdb"):
            old = run.state()["pids"][unit]
            before = set(_cluster(data_dir))
            os.kill(old, signal.SIGKILL)
            assert run.wait_output(f"{unit} restarted", 60), run.output()[-3000:]
            new = run.state()["pids"][unit]
            assert new != old and _pid_alive(new)
            assert f"supervisor: {unit} (pid {old}) was killed by SIGKILL" in run.output()
            # the data is still there and reachable through the whole path
            st_, body = _wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
                _login(base, email)), timeout=60)
            # the first reads may meet FerretDB's pooled connections to the killed server
            # (InternalError, "SQLSTATE 57P01"): an outage, so 503 and a retry, never 500
            # (common/src/db.c; a 500 here failed one `make test`)
            seen = []

            def room_ok():
                r = api(base, "GET", f"/api/rooms/{room}", body["token"])
                seen.append(r[0])
                return r if r[0] == 200 else None

            st_, got = _wait_for(room_ok, timeout=30)
            assert got["id"] == room and set(seen) <= {200, 503}, seen
            if unit == "postgres":
                # the killed postmaster's children went with it: only new ones are left
                deadline = time.time() + 15
                while time.time() < deadline and before & set(_cluster(data_dir)):
                    time.sleep(0.1)
                assert not before & set(_cluster(data_dir)), before & set(_cluster(data_dir))
        # /health reports its prober's last ping (at most a second or so old)
        _wait_for(lambda: run.health() == 200, timeout=10)
        assert _cluster(data_dir)
    finally:
        run.stop()
    assert run.popen.returncode == 0, run.output()[-3000:]
    assert "==> stopped" in run.output()
    assert not _wait_gone(data_dir, 0), "postgres outlived `run`"
