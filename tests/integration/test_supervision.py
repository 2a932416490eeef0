"""test_supervision.py - `make run` keeps the stack up (deploy/stack.py, Supervisor):
the launcher is started exactly as `make run` starts it (`deploy/stack.py run` with its
own --var dir and free ports), then
  - a gateway killed with SIGKILL serves WebSocket upgrades on its port again within 5 s,
    under a new pid, and the launcher logs the death and the restart;
  - lighttpd killed with SIGKILL answers /health again, and the FastCGI processes of the
    dead lighttpd do not linger;
  - a gateway that keeps dying makes the launcher give up: it logs why (with growing
    backoff delays before), stops every server it started and exits 1.
The window/backoff arithmetic is also driven directly with real child processes and a
chosen clock (a 60 s window is too long to wait for). Runs in the pytest process."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.stack import Proc, free_port, port_open  # noqa: E402
from ws_client import mint_token, raw_upgrade  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy"))
from stack import Supervisor, SupervisorGaveUp  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("CHAT_BUILD_DIR") or REPO / "build")


def _free_run(n):
    """n consecutive ports on 127.0.0.1 that are free now."""
    for _ in range(200):
        start = free_port()
        if start + n >= 65535:
            continue
        ok = True
        for p in range(start, start + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return start
    raise RuntimeError("no run of free ports")


def _pid_alive(pid):
    """True unless the pid is gone or a zombie (a dead process nobody reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _children(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(d))
    return kids


class Run:
    """`deploy/stack.py run` in a subprocess, as `make run` starts it. Its database is
    FerretDB on SQLite unless env says otherwise (MONGO_BACKEND; "" for run's default,
    PostgreSQL): these tests are about the supervisor, test_postgres_backend.py covers
    PostgreSQL under `run`."""

    def __init__(self, tmp_path, gateways=2, env=None):
        self.var = tmp_path / "var"
        self.out_path = tmp_path / "run.out"
        self.http_port = free_port()
        self.gateway_port = _free_run(gateways)
        env_all = {k: v for k, v in os.environ.items() if k not in ("MONGO_URI", "REDIS_URL")}
        env_all.update({
            "HTTP_PORT": str(self.http_port), "GATEWAY_PORT": str(self.gateway_port),
            "CHAT_REDIS_PORT": str(free_port()), "CHAT_MONGO_PORT": str(free_port()),
            "CHAT_PG_PORT": str(free_port()), "MONGO_BACKEND": "sqlite",
            "GATEWAYS": str(gateways), "BCRYPT_COST": "4", "BCRYPT_ALLOW_WEAK": "1",
        })
        env_all.update(env or {})
        with open(self.out_path, "wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, str(REPO / "deploy/stack.py"), "run", "--var", str(self.var),
                 "--build-dir", str(BUILD), "--gateways", str(gateways)],
                env=env_all, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        self.pids_seen = set()
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"run exited early:\n{self.output()[-3000:]}")
            if (self.var / "stack.json").exists() and self.health() == 200:
                self.state()
                return
            time.sleep(0.2)
        self.stop()   # SIGTERM stops a launcher that is still starting, too
        raise AssertionError(f"stack not up within 120 s:\n{self.output()[-3000:]}")

    def output(self):
        return self.out_path.read_text(errors="replace")

    def state(self):
        st = json.loads((self.var / "stack.json").read_text())
        self.pids_seen |= set(st["pids"].values())
        return st

    def health(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/health",
                                        timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def wait_output(self, text, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.output():
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        # whatever it failed to stop must not outlive the test
        try:
            self.state()
        except (OSError, ValueError):
            pass
        for pid in self.pids_seen:
            if _pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.fixture
def make_run(tmp_path):
    runs = []

    def factory(**kw):
        r = Run(tmp_path, **kw)
        runs.append(r)
        return r

    yield factory
    for r in runs:
        r.stop()


def _upgrade_status(port, token):
    """The upgrade's HTTP status, or None while nothing answers. With the gateway dead,
    its port (from the ephemeral range) can be picked as the client's own: the connection
    then reaches itself and reads back its own request (BadStatusLine), seen once in a
    clean clone."""
    try:
        return raw_upgrade(f"ws://127.0.0.1:{port}/ws", token=token, timeout=1)[0]
    except (OSError, http.client.HTTPException):
        return None


def test_killed_gateway_serves_upgrades_again_within_5s(make_run):
    run = make_run(gateways=2)
    st = run.state()
    port, old_pid = st["gateway_ports"][1], st["pids"]["gateway1"]
    token = mint_token(st["jwt_secret"])
    assert _upgrade_status(port, token) == 101

    os.kill(old_pid, signal.SIGKILL)
    t0 = time.monotonic()
    status = None
    while time.monotonic() - t0 < 5.0:
        status = _upgrade_status(port, token)
        if status == 101 and not _pid_alive(old_pid):
            break
        time.sleep(0.05)
    took = time.monotonic() - t0
    assert status == 101 and took < 5.0, (status, took, run.output()[-3000:])
    assert not _pid_alive(old_pid)

    assert run.wait_output("gateway1 restarted", 2), run.output()[-3000:]
    out = run.output()
    assert f"supervisor: gateway1 (pid {old_pid}) was killed by SIGKILL; restarting in" in out
    new_pid = run.state()["pids"]["gateway1"]
    assert new_pid != old_pid and _pid_alive(new_pid)
    assert f"gateway1 restarted (pid {new_pid})" in out
    # the other gateway was left alone, and the launcher itself is still up
    assert run.state()["pids"]["gateway0"] == st["pids"]["gateway0"]
    assert _upgrade_status(st["gateway_ports"][0], token) == 101
    assert run.popen.poll() is None


def test_killed_lighttpd_is_restarted_without_orphans(make_run):
    run = make_run(gateways=1)
    # lighttpd spawns its FastCGI processes as it starts; on a loaded machine the state
    # file can name it a moment before they exist
    deadline = time.time() + 10
    while True:
        st = run.state()
        old = st["pids"]["lighttpd"]
        fcgi = _children(old)
        if fcgi or time.time() > deadline:
            break
        time.sleep(0.1)
    assert fcgi, ("lighttpd should have spawned its FastCGI processes", old,
                  run.output()[-3000:])

    os.kill(old, signal.SIGKILL)
    deadline = time.time() + 15
    while time.time() < deadline and run.health() != 200:
        time.sleep(0.1)
    assert run.health() == 200, run.output()[-3000:]
    assert run.wait_output("lighttpd restarted", 2), run.output()[-3000:]
    new = run.state()["pids"]["lighttpd"]
    assert new != old
    # the dead lighttpd's FastCGI processes were killed with it, not left orphaned
    deadline = time.time() + 5
    while time.time() < deadline and any(_pid_alive(p) for p in fcgi):
        time.sleep(0.1)
    assert not any(_pid_alive(p) for p in fcgi), fcgi
    assert _children(new), "the new lighttpd should have its own FastCGI processes"
    # WebSocket upgrades through lighttpd work again too
    assert _upgrade_status(run.http_port, mint_token(st["jwt_secret"])) == 101


def test_gateway_that_keeps_dying_makes_run_give_up(make_run):
    run = make_run(gateways=1, env={"RESTART_LIMIT": "2", "RESTART_WINDOW_SEC": "120",
                                    "RESTART_BACKOFF_MS": "200"})
    st = run.state()
    pids_before = dict(st["pids"])
    for death in range(1, 4):
        pid = run.state()["pids"]["gateway0"]
        os.kill(pid, signal.SIGKILL)
        if death < 3:
            # wait for the restart before killing it again
            deadline = time.time() + 20
            while time.time() < deadline and run.state()["pids"]["gateway0"] == pid:
                time.sleep(0.05)
            assert run.state()["pids"]["gateway0"] != pid, run.output()[-3000:]
    rc = run.popen.wait(60)
    out = run.output()
    assert rc == 1, out[-3000:]
    assert "died 3 times within 120 s (RESTART_LIMIT=2): giving up" in out, out[-3000:]
    # the backoff grew: 0.2 s before the first restart, 0.4 s before the second
    assert "restarting in 0.2 s (death 1 of 2" in out
    assert "restarting in 0.4 s (death 2 of 2" in out
    # nothing it started is left running, and nothing listens any more
    for name, pid in pids_before.items():
        assert not _pid_alive(pid), name
    assert not port_open("127.0.0.1", run.http_port)
    assert not port_open("127.0.0.1", run.gateway_port)


# ------------------------------------------------------------- the arithmetic alone

class _FakeStack:
    """Just enough of Stack for Supervisor: two real `sleep` processes as gateways."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.redis = self.ferretdb = self.postgres = self.lighttpd = None
        self.gateways = [None, None]
        self.started = []
        for i in range(2):
            self.start_gateway(i)

    def start_gateway(self, i):
        self.gateways[i] = Proc(f"gateway{i}", ["sleep", "60"], os.environ.copy(),
                                self.log_dir).start()
        self.started.append(i)
        return self.gateways[i]


def _kill_and_reap(proc):
    os.kill(proc.pid, signal.SIGKILL)
    proc.popen.wait(5)


def test_backoff_window_and_limit(tmp_path):
    lines = []
    fs = _FakeStack(tmp_path)
    # the state file is written (on_change) before the "restarted" line is logged, so a
    # reader that waits for the line finds the new pid in the state
    sup = Supervisor(fs, log=lines.append, limit=2, window=60, backoff=1, backoff_max=3,
                     on_change=lambda: lines.append("<state written>"))
    try:
        assert [sup.delay_for(n) for n in (1, 2, 3, 4)] == [1, 2, 3, 3]
        t = 1000.0
        sup.poll(now=t)
        assert fs.started == [0, 1] and not lines          # nothing died: nothing done

        _kill_and_reap(fs.gateways[0])
        sup.poll(now=t)
        assert "gateway0" in sup.pending and "restarting in 1.0 s" in lines[-1]
        sup.poll(now=t + 0.5)
        assert fs.started == [0, 1]                         # backoff not over yet
        sup.poll(now=t + 1.0)
        assert fs.started == [0, 1, 0] and "gateway0 restarted" in lines[-1]
        assert lines[-2] == "<state written>"

        _kill_and_reap(fs.gateways[0])
        sup.poll(now=t + 10)
        assert "restarting in 2.0 s (death 2 of 2" in lines[-1]
        sup.poll(now=t + 12)
        assert fs.started == [0, 1, 0, 0]

        # at t+65 the first death has left the 60 s window: still allowed
        _kill_and_reap(fs.gateways[0])
        sup.poll(now=t + 65)
        assert "restarting in 2.0 s (death 2 of 2" in lines[-1]
        sup.poll(now=t + 67)
        assert fs.started == [0, 1, 0, 0, 0]

        # a third death within 60 s of the two before it: give up
        _kill_and_reap(fs.gateways[0])
        with pytest.raises(SupervisorGaveUp):
            sup.poll(now=t + 68)
        assert "died 3 times within 60 s" in lines[-1]
        assert fs.gateways[1].alive()                        # the other unit untouched
    finally:
        for g in fs.gateways:
            g.stop(timeout=2)
