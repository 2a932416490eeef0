#!/usr/bin/env python3
"""stack.py - starts and stops the whole chat system: Redis, FerretDB, N gateways and
lighttpd (which spawns the rest-fcgi processes). One launcher for both uses:

  python3 deploy/stack.py run            `make run`: data kept under var/, fixed ports
                                         (HTTP_PORT, GATEWAY_PORT), stays in the foreground
  python3 deploy/stack.py serve --state-file F
                                         tests: a temp dir, free ports; writes F (JSON with
                                         the URLs and pids) when ready; runs until SIGTERM
  from harness.stack import Stack        pytest: the same, driven from Python (tests/harness)

Redis and FerretDB are started only when REDIS_URL / MONGO_URI are not given. Single
threaded; stdlib only.
"""
import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def say(msg):
    print(f"==> {msg}", flush=True)


def free_port(host="127.0.0.1"):
    """A port that was free a moment ago (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(host, port, timeout=0.2):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def find_ferretdb():
    for cand in (os.environ.get("FERRETDB_BIN"), str(REPO / ".tools/bin/ferretdb"),
                 shutil.which("ferretdb"), str(Path.home() / "go/bin/ferretdb")):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise RuntimeError("ferretdb not found: run deploy/install-deps.sh")


class Proc:
    """One child process with its output in a log file."""

    def __init__(self, name, argv, env, log_dir, cwd=None):
        self.name, self.argv, self.env, self.cwd = name, argv, env, cwd
        self.log_path = Path(log_dir) / f"{name}.log"
        self.popen = None

    def start(self):
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=log,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True)
        log.close()
        return self

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.popen.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signals the process, waits up to timeout, then SIGKILLs. Returns exit code."""
        if self.popen is None:
            return None
        if self.alive():
            try:
                os.kill(self.popen.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        else:
            self.popen.wait()
        # lighttpd's FastCGI children live in its process group; clean them up too.
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return self.popen.returncode

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


class Stack:
    """The whole system on one machine. Attributes after start(): http_url, ws_url,
    redis_url, mongo_uri, mongo_db, jwt_secret, env (what every server process gets)."""

    def __init__(self, gateways=2, env=None, build_dir=None, workdir=None, http_port=None,
                 gateway_port=None, persistent=False, web_root=None, host="127.0.0.1"):
        self.n_gateways = gateways
        self.host = host
        self.persistent = persistent
        self.build_dir = Path(build_dir or os.environ.get("CHAT_BUILD_DIR") or REPO / "build").resolve()
        if workdir:
            self.workdir = Path(workdir)
            self.workdir.mkdir(parents=True, exist_ok=True)
            self._own_workdir = False
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix="chat-stack-"))
            self._own_workdir = True
        self.log_dir = self.workdir / "logs"
        self.run_dir = self.workdir / "run"
        self.log_dir.mkdir(exist_ok=True)
        self.run_dir.mkdir(exist_ok=True)
        overrides = dict(env or {})
        base = {k: v for k, v in os.environ.items()}
        base.update(overrides)
        self.http_port = int(http_port or base.get("HTTP_PORT") or 0) or free_port(host)
        if gateway_port:
            self.gateway_port = int(gateway_port)
        elif persistent:
            self.gateway_port = int(base.get("GATEWAY_PORT", "9001"))
        else:
            self.gateway_port = self._free_port_run(max(gateways, 1))
        self.web_root = Path(web_root or base.get("CHAT_WEB_ROOT") or self._default_web_root())
        self.redis = self.ferretdb = self.lighttpd = None
        self.gateways = [None] * gateways
        self.redis_port = self.mongo_port = None
        self.redis_url = overrides.get("REDIS_URL") or (os.environ.get("REDIS_URL") if persistent else None)
        self.mongo_uri = overrides.get("MONGO_URI") or (os.environ.get("MONGO_URI") if persistent else None)
        self._own_redis = self.redis_url is None
        self._own_mongo = self.mongo_uri is None
        self.mongo_db = base.get("MONGO_DB", "chat")
        self.jwt_secret = base.get("JWT_SECRET") or self._make_secret()
        self._base_env = base

    # ---------------------------------------------------------------- set-up helpers
    def _free_port_run(self, n):
        """n consecutive free ports (gateway i listens on GATEWAY_PORT+i)."""
        for _ in range(200):
            start = free_port(self.host)
            if start + n >= 65535:
                continue
            if all(not port_open(self.host, start + i) and self._bindable(start + i)
                   for i in range(n)):
                return start
        raise RuntimeError("no run of free ports")

    def _bindable(self, port):
        with socket.socket() as s:
            try:
                s.bind((self.host, port))
                return True
            except OSError:
                return False

    def _default_web_root(self):
        dist = REPO / "web/dist"
        if (dist / "index.html").exists():
            return dist
        return REPO / "web/public-fallback"

    def _make_secret(self):
        if not self.persistent:
            return secrets.token_hex(32)
        path = self.workdir / "jwt_secret"
        if not path.exists():
            say(f"creating a random JWT_SECRET in {path} (kept for later runs)")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        return path.read_text().strip()

    def server_env(self):
        env = dict(self._base_env)
        env.update({
            "MONGO_URI": self.mongo_uri,
            "MONGO_DB": self.mongo_db,
            "REDIS_URL": self.redis_url,
            "JWT_SECRET": self.jwt_secret,
            "HTTP_PORT": str(self.http_port),
            "HTTP_HOST": self.host,
            "GATEWAYS": str(self.n_gateways),
            "GATEWAY_PORT": str(self.gateway_port),
            "GATEWAY_HOST": self.host,
            "CHAT_ROOT": str(REPO),
            "CHAT_RUN_DIR": str(self.run_dir),
            "CHAT_API_BIN": str(self.build_dir / "rest-fcgi/chat-api"),
            "CHAT_WEB_ROOT": str(self.web_root),
        })
        if not self.persistent:
            env.setdefault("BCRYPT_COST", "4")
        return env

    @property
    def env(self):
        return self.server_env()

    def _wait_port(self, proc, port, what, timeout=30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if port_open(self.host, port):
                return
            if proc is not None and not proc.alive():
                raise RuntimeError(f"{what} exited early:\n{proc.log_text()[-3000:]}")
            time.sleep(0.05)
        raise RuntimeError(f"{what} did not listen on {port} within {timeout}s:\n"
                           f"{proc.log_text()[-3000:] if proc else ''}")

    # ---------------------------------------------------------------- services
    def start_redis(self):
        if not self._own_redis:
            return
        if self.redis_port is None:
            self.redis_port = int(self._base_env.get("CHAT_REDIS_PORT", 0)) if self.persistent else 0
            self.redis_port = self.redis_port or free_port(self.host)
        data = self.workdir / "redis"
        data.mkdir(exist_ok=True)
        argv = ["redis-server", "--port", str(self.redis_port), "--bind", self.host,
                "--dir", str(data), "--daemonize", "no", "--protected-mode", "yes",
                "--save", ""]
        argv += ["--appendonly", "yes"] if self.persistent else ["--appendonly", "no"]
        self.redis = Proc("redis", argv, os.environ.copy(), self.log_dir).start()
        self._wait_port(self.redis, self.redis_port, "redis-server")
        self.redis_url = f"redis://{self.host}:{self.redis_port}"

    def stop_redis(self):
        if self.redis:
            self.redis.stop()

    def pause_redis(self):
        self.redis.send_signal(signal.SIGSTOP)

    def resume_redis(self):
        self.redis.send_signal(signal.SIGCONT)

    def start_mongo(self):
        if not self._own_mongo:
            return
        if self.mongo_port is None:
            self.mongo_port = int(self._base_env.get("CHAT_MONGO_PORT", 0)) if self.persistent else 0
            self.mongo_port = self.mongo_port or free_port(self.host)
        data = self.workdir / "ferretdb"
        data.mkdir(exist_ok=True)
        argv = [find_ferretdb(), "--handler=sqlite", f"--sqlite-url=file:{data}/",
                f"--listen-addr={self.host}:{self.mongo_port}", "--debug-addr=-",
                "--telemetry=disable", f"--state-dir={data}", "--log-level=warn"]
        self.ferretdb = Proc("ferretdb", argv, os.environ.copy(), self.log_dir).start()
        self._wait_port(self.ferretdb, self.mongo_port, "ferretdb")
        self.mongo_uri = f"mongodb://{self.host}:{self.mongo_port}/"

    def stop_mongo(self):
        if self.ferretdb:
            self.ferretdb.stop()

    # ---------------------------------------------------------------- our servers
    def gateway_binary(self):
        return self.build_dir / "ws-gateway/chat-gateway"

    def gateway_ws_url(self, i):
        return f"ws://{self.host}:{self.gateway_port + i}/ws"

    def gateway_pid(self, i):
        return self.gateways[i].pid if self.gateways[i] else None

    def start_gateway(self, i, wrapper=None, extra_env=None):
        """Starts gateway i on GATEWAY_PORT+i. wrapper: argv prefix (e.g. valgrind)."""
        env = self.server_env()
        env["GATEWAY_PORT"] = str(self.gateway_port + i)
        env["GATEWAY_ID"] = env.get("GATEWAY_ID_PREFIX", "gw") + str(i)
        env.update(extra_env or {})
        argv = list(wrapper or []) + [str(self.gateway_binary())]
        proc = Proc(f"gateway{i}", argv, env, self.log_dir, cwd=str(self.workdir))
        self.gateways[i] = proc.start()
        self._wait_port(proc, self.gateway_port + i, f"gateway{i}", timeout=60)
        return proc

    def kill_gateway(self, i, sig=signal.SIGKILL, timeout=15.0):
        """Sends sig to gateway i and waits for it to exit; returns its exit code."""
        proc = self.gateways[i]
        if proc is None:
            return None
        return proc.stop(sig, timeout)

    def start_lighttpd(self):
        env = self.server_env()
        argv = ["lighttpd", "-D", "-f", str(REPO / "lighttpd.conf")]
        self.lighttpd = Proc("lighttpd", argv, env, self.log_dir, cwd=str(self.workdir)).start()
        self._wait_port(self.lighttpd, self.http_port, "lighttpd")

    def stop_lighttpd(self):
        if self.lighttpd:
            self.lighttpd.stop()

    def restart_lighttpd(self):
        self.stop_lighttpd()
        deadline = time.time() + 10
        while port_open(self.host, self.http_port) and time.time() < deadline:
            time.sleep(0.05)
        self.start_lighttpd()
        self.wait_healthy(require_ok=False)

    def wait_healthy(self, timeout=30.0, require_ok=True):
        """Waits until GET /health answers (200 when require_ok)."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.http_url}/health", timeout=3) as r:
                    if r.status == 200:
                        return
            except urllib.error.HTTPError as e:
                last = e.code
                if not require_ok and e.code in (200, 503):
                    return
            except (urllib.error.URLError, OSError) as e:
                last = e
            time.sleep(0.1)
        raise RuntimeError(f"/health not ready within {timeout}s (last: {last})\n"
                           f"{self.log_text('lighttpd')[-3000:]}")

    @property
    def http_url(self):
        return f"http://{self.host}:{self.http_port}"

    @property
    def ws_url(self):
        return f"ws://{self.host}:{self.http_port}/ws"

    def log_text(self, name):
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # ---------------------------------------------------------------- whole system
    def start(self, verbose=False):
        log = say if verbose else (lambda _m: None)
        try:
            if self._own_redis:
                log("starting Redis")
                self.start_redis()
                log(f"Redis listening on {self.redis_url}")
            else:
                log(f"using Redis at {self.redis_url}")
            if self._own_mongo:
                log("starting FerretDB (MongoDB wire protocol, SQLite storage)")
                self.start_mongo()
                log(f"FerretDB listening on {self.mongo_uri}")
            else:
                log(f"using MongoDB at {self.mongo_uri}")
            if self.n_gateways and self.gateway_binary().exists():
                for i in range(self.n_gateways):
                    self.start_gateway(i)
                    log(f"gateway {i} listening on {self.gateway_ws_url(i)}")
            elif self.n_gateways:
                log(f"no gateway binary at {self.gateway_binary()}: not starting gateways")
            log(f"starting lighttpd on {self.http_url}")
            self.start_lighttpd()
            if (self.build_dir / "rest-fcgi/chat-api").exists():
                self.wait_healthy(timeout=60)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for proc in [self.lighttpd] + list(reversed(self.gateways)):
            if proc:
                proc.stop()
        for proc in (self.ferretdb, self.redis):
            if proc:
                proc.stop()
        if self._own_workdir and not os.environ.get("CHAT_KEEP_STACK"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def state(self):
        return {
            "http_url": self.http_url,
            "ws_url": self.ws_url,
            "gateway_ports": [self.gateway_port + i for i in range(self.n_gateways)],
            "redis_url": self.redis_url,
            "mongo_uri": self.mongo_uri,
            "jwt_secret": self.jwt_secret,
            "workdir": str(self.workdir),
            "pids": {name: p.pid for name, p in self._procs().items() if p},
        }

    def _procs(self):
        procs = {"redis": self.redis, "ferretdb": self.ferretdb, "lighttpd": self.lighttpd}
        for i, g in enumerate(self.gateways):
            procs[f"gateway{i}"] = g
        return procs

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def wait_for_signal(stack, watch=False):
    """Blocks until SIGINT/SIGTERM; with watch, reports children that die."""
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    reported = set()
    while not stopping:
        time.sleep(0.5)
        if watch:
            for name, proc in stack._procs().items():
                if proc and not proc.alive() and name not in reported:
                    reported.add(name)
                    say(f"{name} exited with {proc.popen.returncode}; see {proc.log_path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the system locally with data under var/")
    run.add_argument("--var", default=str(REPO / "var"))
    serve = sub.add_parser("serve", help="temporary stack for tests")
    serve.add_argument("--state-file", required=True)
    for p in (run, serve):
        p.add_argument("--gateways", type=int, default=int(os.environ.get("GATEWAYS", "2")))
        p.add_argument("--build-dir", default=None)
    args = ap.parse_args()

    if args.cmd == "run":
        var = Path(args.var)
        var.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("CHAT_REDIS_PORT", "16379")
        os.environ.setdefault("CHAT_MONGO_PORT", "27117")
        stack = Stack(gateways=args.gateways, build_dir=args.build_dir, workdir=var,
                      http_port=int(os.environ.get("HTTP_PORT", "8080")), persistent=True)
        stack.start(verbose=True)
        say(f"logs: {stack.log_dir}/")
        say(f"open {stack.http_url}/  (Ctrl-C stops everything)")
        wait_for_signal(stack, watch=True)
        say("stopping")
        stack.stop()
        say("stopped")
        return 0

    stack = Stack(gateways=args.gateways, build_dir=args.build_dir)
    stack.start()
    tmp = args.state_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(stack.state(), f)
    os.replace(tmp, args.state_file)
    wait_for_signal(stack)
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
