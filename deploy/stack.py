#!/usr/bin/env python3
"""stack.py - starts and stops the whole chat system: Redis, FerretDB, N gateways and
lighttpd (which spawns the rest-fcgi processes). One launcher for both uses:

  python3 deploy/stack.py run            `make run`: data kept under var/, fixed ports
                                         (HTTP_PORT, GATEWAY_PORT), stays in the foreground
                                         and restarts servers that die (Supervisor below)
  python3 deploy/stack.py serve --state-file F
                                         tests: a temp dir, free ports; writes F (JSON with
                                         the URLs and pids) when ready; runs until SIGTERM
  from harness.stack import Stack        pytest: the same, driven from Python (tests/harness)

Redis and FerretDB are started only when REDIS_URL / MONGO_URI are not given. FerretDB
stores its data either in a private PostgreSQL cluster that the stack starts too
(MONGO_BACKEND=postgresql, the default of `run`; Debian's postgresql package) or in SQLite
files (MONGO_BACKEND=sqlite, the default of the test stacks). Single threaded; stdlib only.
"""
import argparse
import glob
import json
import os
import pwd
import random
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import redis_handover  # noqa: E402  (deploy/redis_handover.py)

REPO = Path(__file__).resolve().parent.parent


def say(msg):
    print(f"==> {msg}", flush=True)


def redact_url(url):
    """url with the password of its userinfo masked (as common/src/redact.c does for the
    servers): what `make run` prints about REDIS_URL / MONGO_URI."""
    if not url or "@" not in url:
        return url
    head, sep, rest = url.partition("://")
    if not sep:
        head, rest = "", url
    userinfo, _, tail = rest.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    masked = f"{user}:***" if colon else "***"
    return f"{head}{sep}{masked}@{tail}"


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


# ==================================================================== PostgreSQL
# FerretDB's PostgreSQL handler needs a server: `run` (and any Stack with
# backend="postgresql") keeps a private cluster under WORKDIR/postgres: data/ (PGDATA),
# run/ (the unix socket), listening on 127.0.0.1 only, trust authentication for the one
# superuser PG_USER. No system-wide PostgreSQL service is used.
BACKENDS = ("postgresql", "sqlite")
PG_USER = "chat"
PG_DB = "ferretdb"


def find_postgres_bindir():
    """The newest /usr/lib/postgresql/<version>/bin (Debian's layout) holding initdb and
    postgres, or POSTGRES_BIN_DIR. Raises RuntimeError when there is none."""
    cands = [os.environ["POSTGRES_BIN_DIR"]] if os.environ.get("POSTGRES_BIN_DIR") else []

    def version(d):
        try:
            return float(Path(d).parent.name)
        except ValueError:
            return 0.0
    cands += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    for d in cands:
        if all(os.access(Path(d) / b, os.X_OK) for b in ("initdb", "postgres", "pg_isready")):
            return Path(d)
    raise RuntimeError("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: "
                       "run deploy/install-deps.sh (Debian package postgresql), or set "
                       "MONGO_BACKEND=sqlite")


def postgres_account():
    """Who runs initdb and postgres: None (this process's own user) unless we are root,
    which both refuse; then the `postgres` system user of Debian's package, as a pwd
    entry. Raises RuntimeError when root has no such user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("running as root, PostgreSQL must run as the `postgres` user, "
                           "which does not exist: install the postgresql package "
                           "(deploy/install-deps.sh) or set MONGO_BACKEND=sqlite") from None


def run_as_kwargs(account):
    """subprocess keyword arguments that run a child as account (None: as ourselves)."""
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def postgres_problem(workdir):
    """Why a cluster under workdir could not run here, or None. As root the cluster
    belongs to the `postgres` user, which must be able to reach workdir (a parent such
    as /root or pytest's tmp dirs is often mode 0700)."""
    try:
        find_postgres_bindir()
        account = postgres_account()
    except RuntimeError as e:
        return str(e)
    if account is not None:
        r = subprocess.run(["test", "-x", str(workdir)], stdin=subprocess.DEVNULL,
                           **run_as_kwargs(account))
        if r.returncode != 0:
            return (f"the postgres user cannot reach {workdir} (a parent directory is not "
                    f"searchable by others)")
    return None


class Proc:
    """One child process with its output in a log file. account: a pwd entry to run it
    as (None: as ourselves). stop_signal: what stop() sends by default."""

    def __init__(self, name, argv, env, log_dir, cwd=None, account=None,
                 stop_signal=signal.SIGTERM):
        self.name, self.argv, self.env, self.cwd = name, argv, env, cwd
        self.account, self.stop_signal = account, stop_signal
        self.log_path = Path(log_dir) / f"{name}.log"
        self.popen = None

    def start(self):
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=log,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True, **run_as_kwargs(self.account))
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

    def stop(self, sig=None, timeout=10.0):
        """Signals the process (default: its stop_signal), waits up to timeout, then
        SIGKILLs its process group. Returns the exit code."""
        if self.popen is None:
            return None
        sig = self.stop_signal if sig is None else sig
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
        # (PostgreSQL's children each call setsid(): a fast shutdown waits for them, and
        # after a SIGKILL of the postmaster they notice and exit by themselves.)
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
    redis_url, mongo_uri, mongo_db, jwt_secret, env (what every server process gets),
    backend ("postgresql" or "sqlite": where FerretDB keeps its data; from the argument,
    else MONGO_BACKEND, else sqlite) and postgres_url (postgresql backend only).
    redis_password / redis_user (or CHAT_REDIS_PASSWORD / CHAT_REDIS_USER): the Redis it
    starts requires that password (requirepass, or that ACL user) and redis_url carries it.
    redis_aof (default: persistent): the Redis it starts keeps an AOF, and a clean stop
    hands its read model to the next start (deploy/redis_handover.py)."""

    def __init__(self, gateways=2, env=None, build_dir=None, workdir=None, http_port=None,
                 gateway_port=None, persistent=False, web_root=None, host="127.0.0.1",
                 backend=None, redis_password=None, redis_user=None, redis_aof=None):
        self.n_gateways = gateways
        self.host = host
        self.persistent = persistent
        self.redis_aof = persistent if redis_aof is None else redis_aof
        self.redis_epoch = None  # the epoch the last start took over (None: rebuilt)
        self._redis_private_dir = None  # for the private socket when workdir's path is long
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
        self.redis = self.ferretdb = self.postgres = self.lighttpd = None
        self.gateways = [None] * gateways
        self.redis_port = self.mongo_port = self.pg_port = None
        self.postgres_url = None
        self.backend = backend or base.get("MONGO_BACKEND") or "sqlite"
        if self.backend not in BACKENDS:
            raise ValueError(f"MONGO_BACKEND must be one of {', '.join(BACKENDS)}, "
                             f"not {self.backend!r}")
        self.redis_url = overrides.get("REDIS_URL") or (os.environ.get("REDIS_URL") if persistent else None)
        self.mongo_uri = overrides.get("MONGO_URI") or (os.environ.get("MONGO_URI") if persistent else None)
        self._own_redis = self.redis_url is None
        # the Redis this stack starts requires a password when one is given (argument, or
        # CHAT_REDIS_PASSWORD / CHAT_REDIS_USER in the environment); the servers get it in
        # REDIS_URL, redis://:PASSWORD@host:port or, with an ACL user, redis://USER:PASSWORD@...
        self.redis_password = redis_password or base.get("CHAT_REDIS_PASSWORD") or None
        self.redis_user = redis_user or base.get("CHAT_REDIS_USER") or None
        self._own_mongo = self.mongo_uri is None
        self.mongo_db = base.get("MONGO_DB", "chat")
        self.jwt_secret = base.get("JWT_SECRET") or self._make_secret()
        self._base_env = base

    # ---------------------------------------------------------------- set-up helpers
    def _free_port_run(self, n):
        """n consecutive free ports (gateway i listens on GATEWAY_PORT+i), below the
        kernel's ephemeral range when it can: a port from that range can be taken by an
        outgoing connection (to Redis, FerretDB) between this choice and the gateway's
        bind, which made a gateway fail with "Address already in use"."""
        try:
            low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            low = 0
        rng = random.Random()
        for _ in range(200 if low > 12000 else 0):
            start = rng.randrange(10000, low - n - 1)
            if all(not port_open(self.host, start + i) and self._bindable(start + i)
                   for i in range(n)):
                return start
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
            # test stacks: a cheap bcrypt, which the servers refuse without the switch
            env.setdefault("BCRYPT_COST", "4")
            env.setdefault("BCRYPT_ALLOW_WEAK", "1")
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
        argv = ["redis-server"]
        if self.redis_password:
            argv.append(str(self._redis_auth_conf(data)))
        # with the AOF, Redis first listens on a private socket only, until a read model
        # that a clean stop handed over is taken (deploy/redis_handover.py): no chat
        # process may use the restarted server before that is on disk
        private = self._redis_private_socket(data) if self.redis_aof else None
        argv += ["--port", "0" if private else str(self.redis_port), "--bind", self.host,
                 "--dir", str(data), "--daemonize", "no", "--protected-mode", "yes",
                 "--save", "", "--appendonly", "yes" if self.redis_aof else "no"]
        if private:
            argv += ["--unixsocket", private, "--unixsocketperm", "700"]
        auth = ""
        if self.redis_password:
            auth = f"{self.redis_user or ''}:{self.redis_password}@"
        self.redis_url = f"redis://{auth}{self.host}:{self.redis_port}"
        self.redis = Proc("redis", argv, os.environ.copy(), self.log_dir).start()
        if private:
            self._take_over_redis(private)
        self._wait_port(self.redis, self.redis_port, "redis-server")

    def _redis_private_socket(self, data):
        path = data / "private.sock"
        if len(str(path)) > 100:  # sun_path holds 108 bytes
            if self._redis_private_dir is None:
                self._redis_private_dir = tempfile.mkdtemp(prefix="chat-redis-")
            path = Path(self._redis_private_dir) / "private.sock"
        if path.exists():
            path.unlink()
        return str(path)

    def _take_over_redis(self, private, timeout=600.0):
        """On the private socket: waits for the AOF to load, takes over what a clean stop
        handed over, then opens the TCP port."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = redis_handover.Resp(url=self.redis_url, unix_path=private)
                break
            except OSError:
                if not self.redis.alive() or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not open its private socket:\n"
                                       + self.redis.log_text()[-3000:])
                time.sleep(0.05)
        try:
            self.redis_epoch = redis_handover.take_over(conn)
            conn.call("CONFIG", "SET", "port", str(self.redis_port))
        finally:
            conn.close()

    def _redis_auth_conf(self, data):
        """A config file (mode 0600, never on the command line where ps shows it) that
        makes Redis require the password: requirepass for the default user, or an ACL user
        with every right and the default user switched off."""
        path = data / "auth.conf"
        if self.redis_user:
            text = (f"user default off\n"
                    f"user {self.redis_user} on >{self.redis_password} ~* &* +@all\n")
        else:
            text = f"requirepass {self.redis_password}\n"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

    def stop_redis(self, hand_over=False):
        """Stops Redis. hand_over (with the AOF on): a clean stop that hands the read model
        to the next start_redis (deploy/redis_handover.py) instead of a signal; clients'
        writes are paused meanwhile, so the caller stops the chat servers first or lets
        their writes wait for the restart. Returns the epoch handed over, or None."""
        epoch = None
        if self.redis and hand_over and self.redis_aof and self.redis.alive():
            try:
                conn = redis_handover.Resp(url=self.redis_url)
                try:
                    epoch = redis_handover.hand_over(conn)
                finally:
                    conn.close()
                self.redis.popen.wait(30)
            except (OSError, redis_handover.RespError, subprocess.TimeoutExpired) as e:
                say(f"Redis did not hand over its read model ({e}): the next start rebuilds it")
                epoch = None
        if self.redis:
            self.redis.stop()
        return epoch

    def pause_redis(self):
        self.redis.send_signal(signal.SIGSTOP)

    def resume_redis(self):
        self.redis.send_signal(signal.SIGCONT)

    def start_mongo(self):
        """Starts FerretDB, and first its PostgreSQL when that is not running."""
        if not self._own_mongo:
            return
        if self.backend == "postgresql" and not (self.postgres and self.postgres.alive()):
            self.start_postgres()
        self.start_ferretdb()

    def start_ferretdb(self):
        if self.mongo_port is None:
            self.mongo_port = int(self._base_env.get("CHAT_MONGO_PORT", 0)) if self.persistent else 0
            self.mongo_port = self.mongo_port or free_port(self.host)
        data = self.workdir / "ferretdb"   # SQLite files, and FerretDB's state either way
        data.mkdir(exist_ok=True)
        if self.backend == "postgresql":
            storage = ["--handler=postgresql", f"--postgresql-url={self.postgres_url}"]
        else:
            storage = ["--handler=sqlite", f"--sqlite-url=file:{data}/"]
        argv = [find_ferretdb()] + storage + [
            f"--listen-addr={self.host}:{self.mongo_port}", "--debug-addr=-",
            "--telemetry=disable", f"--state-dir={data}", "--log-level=warn"]
        self.ferretdb = Proc("ferretdb", argv, os.environ.copy(), self.log_dir).start()
        self._wait_port(self.ferretdb, self.mongo_port, "ferretdb")
        self.mongo_uri = f"mongodb://{self.host}:{self.mongo_port}/"

    def stop_mongo(self):
        """Stops FerretDB (a MongoDB outage); its PostgreSQL, if any, keeps running."""
        if self.ferretdb:
            self.ferretdb.stop()

    # PostgreSQL (backend "postgresql"): a private cluster in WORKDIR/postgres, created on
    # first start. As root it belongs to the `postgres` system user (initdb and postgres
    # refuse root); otherwise to whoever runs the stack.
    def postgres_dir(self):
        return self.workdir / "postgres"

    def _pg_mkdir(self, path, account):
        path.mkdir(mode=0o700, exist_ok=True)
        if account is not None:
            os.chown(path, account.pw_uid, account.pw_gid)

    def _init_postgres(self, bindir, account):
        """initdb into data.new, create the FerretDB database, then rename to data: a
        data/ directory is always a complete cluster, whatever interrupted the last try."""
        root = self.postgres_dir()
        new = root / "data.new"
        shutil.rmtree(new, ignore_errors=True)
        argv = [str(bindir / "initdb"), "-D", str(new), f"--username={PG_USER}",
                "--auth=trust", "--encoding=UTF8", "--locale=C"]
        if not self.persistent:
            argv.append("--no-sync")
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           **run_as_kwargs(account))
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
        # Only the loopback and the private socket directory, both trusted.
        hba = new / "pg_hba.conf"
        hba.write_text(
            "# pg_hba.conf - written by deploy/stack.py: a private cluster for FerretDB,\n"
            "# reachable only on 127.0.0.1 and through the socket directory beside it.\n"
            "local all all trust\n"
            "host  all all 127.0.0.1/32 trust\n")
        if account is not None:
            os.chown(hba, account.pw_uid, account.pw_gid)
        r = subprocess.run([str(bindir / "postgres"), "--single", "-D", str(new), "postgres"],
                           input=f"CREATE DATABASE {PG_DB};\n", capture_output=True, text=True,
                           **run_as_kwargs(account))
        if r.returncode != 0 or "ERROR" in r.stderr:
            raise RuntimeError(f"creating database {PG_DB} failed:\n{r.stderr[-2000:]}")
        os.rename(new, root / "data")

    def start_postgres(self):
        """Starts (creating it the first time) the private PostgreSQL cluster and waits
        until it accepts connections. Sets postgres_url."""
        bindir = find_postgres_bindir()
        account = postgres_account()
        if self._own_workdir and account is not None:
            os.chmod(self.workdir, 0o711)   # mkdtemp's 0700 would lock `postgres` out
        if self.pg_port is None:
            self.pg_port = int(self._base_env.get("CHAT_PG_PORT", 0)) if self.persistent else 0
            self.pg_port = self.pg_port or free_port(self.host)
        problem = postgres_problem(self.workdir)
        if problem:
            raise RuntimeError(f"cannot run PostgreSQL: {problem}")
        root = self.postgres_dir()
        self._pg_mkdir(root, account)
        sockets = root / "run"
        self._pg_mkdir(sockets, account)
        if not (root / "data").is_dir():
            self._init_postgres(bindir, account)
        # A unix socket path has at most 107 bytes; FerretDB uses TCP anyway.
        sock_dir = str(sockets) if len(str(sockets)) + 20 <= 107 else ""
        argv = [str(bindir / "postgres"), "-D", str(root / "data"), "-p", str(self.pg_port),
                "-c", f"listen_addresses={self.host}", "-c", f"unix_socket_directories={sock_dir}"]
        if not self.persistent:
            # throw-away test clusters: durability across a machine crash is not needed
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off"]
        # SIGINT is PostgreSQL's "fast" shutdown: it ends FerretDB's idle sessions instead
        # of waiting for them (SIGTERM, "smart", would wait for ever).
        self.postgres = Proc("postgres", argv, os.environ.copy(), self.log_dir,
                             account=account, stop_signal=signal.SIGINT).start()
        self._wait_postgres(bindir)
        self.postgres_url = f"postgres://{PG_USER}@{self.host}:{self.pg_port}/{PG_DB}"

    def _wait_postgres(self, bindir, timeout=60.0):
        """Until pg_isready says the server accepts connections (it listens a moment
        before it does; crash recovery after a kill can take longer)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.postgres.alive():
                raise RuntimeError(f"postgres exited early:\n{self.postgres.log_text()[-3000:]}")
            r = subprocess.run([str(bindir / "pg_isready"), "-q", "-h", self.host,
                                "-p", str(self.pg_port), "-U", PG_USER, "-d", PG_DB],
                               stdin=subprocess.DEVNULL)
            if r.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"postgres not ready on {self.pg_port} within {timeout}s:\n"
                           f"{self.postgres.log_text()[-3000:]}")

    def stop_postgres(self):
        if self.postgres:
            self.postgres.stop(timeout=30)

    def postgres_version(self):
        try:
            return find_postgres_bindir().parent.name
        except RuntimeError:
            return "?"

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

    def log_has(self, name, text, timeout=5.0):
        """Whether text shows up in name's log within timeout s: a gateway writes its log
        from its own thread, a moment after the event."""
        deadline = time.monotonic() + timeout
        while True:
            if text in self.log_text(name):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    # ---------------------------------------------------------------- whole system
    def start(self, verbose=False):
        log = say if verbose else (lambda _m: None)
        try:
            if self._own_redis:
                log("starting Redis")
                self.start_redis()
                log(f"Redis listening on {redact_url(self.redis_url)}")
                if self.redis_epoch:
                    log("Redis kept the read model its last clean stop handed over "
                        "(windows and member sets are not rebuilt)")
            else:
                log(f"using Redis at {redact_url(self.redis_url)}")
            if self._own_mongo and self.backend == "postgresql":
                log(f"starting PostgreSQL {self.postgres_version()} "
                    f"(cluster in {self.postgres_dir()})")
                self.start_postgres()
                log(f"PostgreSQL listening on {self.host}:{self.pg_port}")
            if self._own_mongo:
                storage = "PostgreSQL" if self.backend == "postgresql" else "SQLite"
                log(f"starting FerretDB (MongoDB wire protocol, {storage} storage)")
                self.start_mongo()
                log(f"FerretDB listening on {redact_url(self.mongo_uri)}")
            else:
                log(f"using MongoDB at {redact_url(self.mongo_uri)}")
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
        self.stop_redis(hand_over=True)  # the chat servers are stopped: nothing is paused
        for proc in (self.ferretdb, self.postgres):
            if proc:
                proc.stop(timeout=30 if proc is self.postgres else 10)
        if self._redis_private_dir:
            shutil.rmtree(self._redis_private_dir, ignore_errors=True)
        if self._own_workdir and not os.environ.get("CHAT_KEEP_STACK"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def state(self):
        return {
            "http_url": self.http_url,
            "ws_url": self.ws_url,
            "gateway_ports": [self.gateway_port + i for i in range(self.n_gateways)],
            "redis_url": self.redis_url,
            "mongo_uri": self.mongo_uri,
            "mongo_backend": self.backend if self._own_mongo else "external",
            "postgres_url": self.postgres_url,
            "jwt_secret": self.jwt_secret,
            "workdir": str(self.workdir),
            "pids": {name: p.pid for name, p in self._procs().items() if p},
        }

    def _procs(self):
        procs = {"redis": self.redis, "postgres": self.postgres, "ferretdb": self.ferretdb,
                 "lighttpd": self.lighttpd}
        for i, g in enumerate(self.gateways):
            procs[f"gateway{i}"] = g
        return procs

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def wait_for_signal(stack):
    """Blocks until SIGINT/SIGTERM (the `serve` mode of the tests: no supervision)."""
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    while not stopping:
        time.sleep(0.5)


# ==================================================================== supervision
# Everything `make run` needs to keep the stack up lives in this section and reaches the
# Stack only through its public start_*/Proc methods, so backends can change above
# without touching it. Settings (environment, read once):
#   RESTART_LIMIT (5)        deaths of one server within RESTART_WINDOW_SEC that we
#                            still restart; one more and `run` stops everything, exit 1
#   RESTART_WINDOW_SEC (60)  the window those deaths are counted in
#   RESTART_BACKOFF_MS (500) delay before the first restart; doubled for each further
#                            death in the window, at most RESTART_BACKOFF_MAX_MS (8000)

class SupervisorGaveUp(Exception):
    """A server kept dying: the stack cannot be kept up."""


class Supervisor:
    """Watches the stack's servers and restarts the ones that die, with backoff.

    Units: gateway<i> and lighttpd (which owns the FastCGI pools: a restart kills its
    old process group first, so no orphaned chat-api keeps running), plus Redis,
    PostgreSQL and FerretDB when the stack started them itself. PostgreSQL and FerretDB
    are separate units: FerretDB reconnects to a restarted PostgreSQL by itself. Single threaded: poll() is called from
    the launcher's loop; a restart blocks it until the server listens again."""

    def __init__(self, stack, log=say, limit=None, window=None, backoff=None,
                 backoff_max=None, on_change=None):
        env = os.environ
        self.stack = stack
        self.log = log
        self.limit = int(limit if limit is not None else env.get("RESTART_LIMIT", "5"))
        self.window = float(window if window is not None else env.get("RESTART_WINDOW_SEC", "60"))
        self.backoff = (float(backoff) if backoff is not None
                        else int(env.get("RESTART_BACKOFF_MS", "500")) / 1000.0)
        self.backoff_max = (float(backoff_max) if backoff_max is not None
                            else int(env.get("RESTART_BACKOFF_MAX_MS", "8000")) / 1000.0)
        self.on_change = on_change or (lambda: None)
        self.deaths = {}        # unit -> monotonic times of its deaths within the window
        self.pending = {}       # unit -> monotonic time its restart is due
        self.restarts = 0

    def units(self):
        """name -> (current Proc or None, function that starts a new one)."""
        s = self.stack
        units = {}
        if s.redis is not None:
            units["redis"] = (s.redis, s.start_redis)
        if s.postgres is not None:
            units["postgres"] = (s.postgres, s.start_postgres)
        if s.ferretdb is not None:
            units["ferretdb"] = (s.ferretdb, s.start_ferretdb)
        for i, proc in enumerate(s.gateways):
            if proc is not None:
                units[f"gateway{i}"] = (proc, lambda i=i: s.start_gateway(i))
        if s.lighttpd is not None:
            units["lighttpd"] = (s.lighttpd, s.start_lighttpd)
        return units

    @staticmethod
    def describe_exit(code):
        if code is None:
            return "exited"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with status {code}"

    def delay_for(self, deaths_in_window):
        """Backoff before restart number n (1-based) within the window."""
        return min(self.backoff * (2 ** max(deaths_in_window - 1, 0)), self.backoff_max)

    def _record_death(self, name, proc, now):
        code = proc.popen.returncode if proc.popen else None
        proc.stop()  # reaps it; for lighttpd also kills its FastCGI children
        times = [t for t in self.deaths.get(name, []) if now - t <= self.window]
        times.append(now)
        self.deaths[name] = times
        if len(times) > self.limit:
            msg = (f"supervisor: {name} (pid {proc.pid}) {self.describe_exit(code)}; it died "
                   f"{len(times)} times within {self.window:g} s (RESTART_LIMIT={self.limit}): "
                   f"giving up, see {proc.log_path}")
            self.log(msg)
            raise SupervisorGaveUp(msg)
        delay = self.delay_for(len(times))
        self.pending[name] = now + delay
        self.log(f"supervisor: {name} (pid {proc.pid}) {self.describe_exit(code)}; restarting "
                 f"in {delay:.1f} s (death {len(times)} of {self.limit} allowed within "
                 f"{self.window:g} s; log {proc.log_path})")

    def _restart(self, name, start, now):
        del self.pending[name]
        try:
            start()
        except RuntimeError as e:
            # it died (or never listened) while starting: that is one more death
            self.log(f"supervisor: {name} did not come back: {str(e).splitlines()[0]}")
            proc = self.units()[name][0]
            self._record_death(name, proc, time.monotonic())
            return
        self.restarts += 1
        proc = self.units()[name][0]
        # the state file first: whoever reads the log line finds the new pid in it
        self.on_change()
        self.log(f"supervisor: {name} restarted (pid {proc.pid})")

    def poll(self, now=None):
        """One look at every unit: records deaths, runs restarts that are due. Raises
        SupervisorGaveUp when a unit died more than RESTART_LIMIT times in the window."""
        now = time.monotonic() if now is None else now
        for name, (proc, start) in self.units().items():
            if name in self.pending:
                if now >= self.pending[name]:
                    self._restart(name, start, now)
            elif not proc.alive():
                self._record_death(name, proc, now)

    def run(self, interval=0.2):
        """Supervises until SIGINT/SIGTERM (returns 0) or a unit gives up (returns 1)."""
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
        signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
        while not stopping:
            try:
                self.poll()
            except SupervisorGaveUp:
                return 1
            time.sleep(interval)
        return 0


# ==================================================================== entry point
def write_state(stack, path):
    """Writes stack.state() to path atomically (JSON: URLs, ports and pids)."""
    tmp = str(path) + ".tmp"
    # 0600: the state holds the JWT secret
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(stack.state(), f)
    os.replace(tmp, path)


def choose_run_backend(var, asked):
    """The backend `run` uses with data in var, and a note saying why when it is not the
    one asked for. asked: --backend / MONGO_BACKEND, or None for the default, which is
    PostgreSQL, except that a var/ holding only an earlier run's SQLite data stays on
    SQLite (switching would hide that data), and that SQLite is used when PostgreSQL
    cannot run here (see postgres_problem). An explicit choice is never overridden."""
    if asked:
        return asked, None
    if (var / "postgres/data").is_dir():
        return "postgresql", None
    if any((var / "ferretdb").glob("*.sqlite")):
        return "sqlite", (f"{var}/ferretdb holds SQLite data from an earlier run: staying on "
                          f"SQLite (MONGO_BACKEND=postgresql starts an empty PostgreSQL "
                          f"store beside it)")
    problem = postgres_problem(var)
    if problem:
        return "sqlite", f"{problem}: using SQLite (MONGO_BACKEND=sqlite silences this)"
    return "postgresql", None


WRITEBACK_EXPIRE = Path("/proc/sys/vm/dirty_expire_centisecs")


def writeback_note(path=WRITEBACK_EXPIRE):
    """A hint when the kernel lets written pages wait long before writing them back: with
    Linux's default (30 s) each writeback is a burst that stalls PostgreSQL's commits,
    and every ack behind them, for 50-100 ms under write load (docs/OPERATIONS.md,
    "Kernel writeback"). None when the setting is short or cannot be read."""
    try:
        centisecs = int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if centisecs <= 500:
        return None
    return (f"vm.dirty_expire_centisecs is {centisecs}: under write load PostgreSQL's commits "
            f"stall every ~{centisecs / 100:g} s while the kernel writes back; "
            f"docs/OPERATIONS.md \"Kernel writeback\" says how to shorten it")


def describe_backend(stack):
    if not stack._own_mongo:
        return f"MongoDB at {redact_url(stack.mongo_uri)} (MONGO_URI)"
    if stack.backend == "postgresql":
        return (f"FerretDB on PostgreSQL {stack.postgres_version()} "
                f"(cluster in {stack.postgres_dir()}, {stack.host}:{stack.pg_port})")
    return f"FerretDB on SQLite (files in {stack.workdir / 'ferretdb'})"


def _interrupt(*_):
    raise KeyboardInterrupt


def interrupt_on_sigterm():
    """Until the launcher waits for signals itself, SIGTERM interrupts it as Ctrl-C does,
    so a stack half-way through start() is stopped (start() stops what it started on any
    exception) instead of being left running without its launcher."""
    signal.signal(signal.SIGTERM, _interrupt)


def ignore_stop_signals():
    """While stopping: a second Ctrl-C must not abandon servers half-stopped."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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
        p.add_argument("--backend", choices=BACKENDS, default=os.environ.get("MONGO_BACKEND") or None,
                       help="where FerretDB stores data (MONGO_BACKEND; default: postgresql "
                            "for run, sqlite for serve)")
    args = ap.parse_args()
    if args.backend and args.backend not in BACKENDS:
        ap.error(f"MONGO_BACKEND must be one of {', '.join(BACKENDS)}, not {args.backend!r}")

    if args.cmd == "run":
        var = Path(args.var).resolve()
        var.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("CHAT_REDIS_PORT", "16379")
        os.environ.setdefault("CHAT_MONGO_PORT", "27117")
        os.environ.setdefault("CHAT_PG_PORT", "15432")
        backend, note = "sqlite", None
        if not os.environ.get("MONGO_URI"):
            backend, note = choose_run_backend(var, args.backend)
        if note:
            say(note)
        stack = Stack(gateways=args.gateways, build_dir=args.build_dir, workdir=var,
                      http_port=int(os.environ.get("HTTP_PORT", "8080")), persistent=True,
                      backend=backend)
        interrupt_on_sigterm()
        try:
            try:
                stack.start(verbose=True)
            except RuntimeError as e:
                say(f"could not start: {e}")
                return 1
            say(f"database: {describe_backend(stack)}")
            slow_writeback = writeback_note() if stack._own_mongo else None
            if slow_writeback and stack.backend == "postgresql":
                say(f"note: {slow_writeback}")
            state_file = var / "stack.json"
            write_state(stack, state_file)
            say(f"logs: {stack.log_dir}/  (ports and pids: {state_file})")
            say(f"open {stack.http_url}/  (Ctrl-C stops everything)")
            supervisor = Supervisor(stack, on_change=lambda: write_state(stack, state_file))
            rc = supervisor.run()
        except KeyboardInterrupt:
            rc = 130
        ignore_stop_signals()
        say("stopping")
        stack.stop()
        say({0: "stopped", 130: "stopped (interrupted while starting)"}.get(
            rc, "stopped: the stack could not be kept up"))
        return rc

    stack = Stack(gateways=args.gateways, build_dir=args.build_dir, backend=args.backend)
    interrupt_on_sigterm()
    try:
        stack.start()
        write_state(stack, args.state_file)
        wait_for_signal(stack)
    except KeyboardInterrupt:
        pass
    ignore_stop_signals()
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
