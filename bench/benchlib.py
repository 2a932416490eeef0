"""benchlib.py - helpers of bench/bench.py (issue 9's benchmarks): the stack in `make run`'s
configuration, JWTs, wrk and wsload runs and their parsing, latency samplers and
percentiles. Runs in the bench driver process; stdlib + pymongo + websockets."""
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "deploy"))
sys.path.insert(0, str(REPO / "tests/integration"))
from stack import Stack, find_postgres_bindir, free_port  # noqa: E402
from redis_handover import EPOCH_KEY, epoch_of  # noqa: E402
from metrics_text import gateway_page, sample  # noqa: E402
from ws_client import mint_token  # noqa: E402

# tests/integration/conftest.py RATES_OFF, plus quiet logs; BCRYPT_COST is make run's 12.
RATES_OFF = {"RATE_MSG_PER_SEC": "0", "RATE_LOGIN_PER_MIN": "0", "RATE_REGISTER_PER_HOUR": "0",
             "RATE_API_PER_SEC": "0", "RATE_ROOM_CREATE_PER_MIN": "0",
             "RATE_MEMBERSHIP_PER_MIN": "0",
             "WS_FRAME_RATE": "1000000", "WS_FRAME_BURST": "1000000", "BCRYPT_COST": "12",
             "LOG_LEVEL": "warn"}


def say(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def load_avg():
    return os.getloadavg()[0]


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))
    return v[k]


def slowest_ms(values, k=3):
    """The k slowest calls as [call index, ms], slowest first: whether a p99 is one
    call, which one (the first of a series is often a cold path) and how far apart."""
    order = sorted(range(len(values)), key=lambda i: values[i], reverse=True)[:k]
    return [[i, round(values[i] * 1000, 2)] for i in order]


def summary_ms(values):
    return {"n": len(values), "p50_ms": round(pct(values, 50) * 1000, 2),
            "p99_ms": round(pct(values, 99) * 1000, 2),
            "max_ms": round(max(values) * 1000, 2) if values else None}


def make_stack(workdir, build_dir, backend, gateways=2):
    """make run's configuration (stack.py run: persistent, PostgreSQL by default, 2
    gateways, bcrypt 12, Redis AOF, PostgreSQL with fsync) on free ports in workdir."""
    probe = Stack(gateways=gateways, build_dir=build_dir, workdir=workdir)
    gw_port = probe._free_port_run(gateways)
    env = dict(RATES_OFF)
    # BENCH_STACK_ENV="DB_TRACE=1,LOG_LEVEL=debug": extra settings for a diagnosis run
    for kv in filter(None, os.environ.get("BENCH_STACK_ENV", "").split(",")):
        k, _, v = kv.partition("=")
        env[k.strip()] = v.strip()
    return Stack(gateways=gateways, env=env, build_dir=build_dir, workdir=workdir,
                 persistent=True, backend=backend, http_port=free_port(),
                 gateway_port=gw_port)


def start_servers(stack):
    for i in range(stack.n_gateways):
        stack.start_gateway(i)
    stack.start_lighttpd()
    stack.wait_healthy(timeout=120)


WARM_OUTCOMES = ("built", "already_warm", "by_another", "failed")  # gateway_metrics.c


def read_model_warms(stack, i):
    """Gateway i's looks at the read model from its /metrics: {"outcomes": {outcome:
    count}, "seconds": total time of its warm-ups, "warm_ups": their count}; None when
    the gateway does not answer."""
    try:
        page = gateway_page(stack, i)
    except OSError:
        return None
    name = "chat_gateway_read_model_warm_seconds"
    return {"outcomes": {o: int(sample(page, "chat_gateway_read_model_warms_total",
                                       outcome=o) or 0) for o in WARM_OUTCOMES},
            "seconds": round(sample(page, name + "_sum") or 0.0, 2),
            "warm_ups": int(sample(page, name + "_count") or 0)}


def read_model_warmed(stack, limit_s=300.0):
    """Waits until every gateway has counted its start's look at the read model
    (chat_gateway_read_model_warms_total, any outcome: built, waited for the other
    gateway, already warm or failed), at most limit_s; returns the seconds waited. For
    phases that measure a warm system, so that a run of that phase alone right after the
    start does not time the warm-up instead. At a million messages the windows' warm-up
    reads the collection twice (~200 s on FerretDB/PostgreSQL here): 120 s, the limit
    until stop 36, timed the membership phase at 1M inside it."""
    t0 = time.perf_counter()
    pending = set(range(stack.n_gateways))
    while pending and time.perf_counter() - t0 < limit_s:
        for i in sorted(pending):
            got = read_model_warms(stack, i)
            if got is not None and sum(got["outcomes"].values()) >= 1:
                pending.discard(i)
        if pending:
            time.sleep(0.2)
    # ... and until the windows' warm-up of this Redis run is done (its mark holds the
    # run id): a look that found another process warming counts above before it ends
    while time.perf_counter() - t0 < limit_s and not windows_warmed(stack):
        time.sleep(0.5)
    return round(time.perf_counter() - t0, 2)


def windows_warmed(stack):
    """Whether chat:rooms:windows:warmed holds this Redis run's id (history_warm.c), or
    the epoch a clean stop handed over to it (deploy/redis_handover.py)."""
    info = redis_cli(stack, "INFO", "server")
    run_id = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                   if line.startswith("run_id:")), None)
    if run_id is None:
        return False
    epoch = epoch_of(redis_cli(stack, "GET", EPOCH_KEY).strip(), run_id)
    return redis_cli(stack, "GET", "chat:rooms:windows:warmed").strip() == epoch


def add_seeded_args(ap, scale):
    """The options of a script run on a seeded workdir (seeded_stack): --build-dir,
    --workdir, --scale (default scale), --reuse and --out."""
    ap.add_argument("--build-dir", default=str(REPO / "build"))
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--scale", default=scale)
    ap.add_argument("--reuse", action="store_true", help="the workdir is seeded already")
    ap.add_argument("--out", default=None, help="write the result there as JSON too")


def report(out, path):
    """Prints a script's result as one JSON line, and writes it to path (when given)."""
    print(json.dumps(out))
    if path:
        Path(path).write_text(json.dumps(out, indent=1))


def seeded_stack(workdir, build_dir, scale, reuse):
    """make run's configuration in workdir/stack with Redis and the database started,
    seeded once with scale messages (bench/seed.py, its summary in workdir/seed.json;
    reuse: seeded already) and Redis flushed (after waiting for it to load its AOF):
    (stack, the seed's summary). The caller starts the servers and stops the stack."""
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    stack = make_stack(work / "stack", build_dir, "postgresql")
    stack.start_redis()
    stack.start_mongo()
    try:
        if not reuse:
            subprocess.run([sys.executable, str(REPO / "bench/seed.py"), "--mongo-uri",
                            stack.mongo_uri, "--db", stack.mongo_db, "--scale", scale,
                            "--out", str(work / "seed.json")], check=True)
        data = json.loads((work / "seed.json").read_text())
        deadline = time.time() + 120
        while redis_cli(stack, "PING").strip() != "PONG" and time.time() < deadline:
            time.sleep(0.5)
        assert redis_cli(stack, "FLUSHALL").strip() == "OK"
    except BaseException:
        stack.stop()
        raise
    return stack, data


def redis_cli(stack, *args):
    """redis-cli against the stack's Redis (host and port of its REDIS_URL); stdout."""
    u = urlparse(stack.redis_url)
    return subprocess.run(["redis-cli", "-h", u.hostname, "-p", str(u.port), *args],
                          capture_output=True, text=True, check=True).stdout


def psql_bin():
    """Debian's psql beside the PostgreSQL server the stack runs."""
    return str(find_postgres_bindir() / "psql")


def token(stack, user):
    return mint_token(stack.jwt_secret, sub=user["id"], username=user["username"],
                      exp_in=6 * 3600)


class Http:
    """One keep-alive HTTP/1.1 connection to lighttpd; timed JSON calls."""

    def __init__(self, base):
        u = urlparse(base)
        self.host, self.port = u.hostname, u.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def call(self, method, path, tok=None, body=None):
        headers = {"Content-Type": "application/json"}
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        data = json.dumps(body).encode() if body is not None else None
        t0 = time.perf_counter()
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt:
                    raise
        return time.perf_counter() - t0, r.status, raw


def wrk(url, tok, seconds, conns=50, threads=2, lua=None):
    """wrk --latency through lighttpd; returns req/s, p50/p90/p99 (ms), errors."""
    env = dict(os.environ, BENCH_TOKEN=tok or "")
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "10s",
            "-s", str(lua or REPO / "bench/wrk_auth.lua"), url]
    out = subprocess.run(argv, env=env, capture_output=True, text=True).stdout
    return parse_wrk(out)


def _ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out):
    res = {"raw": out}
    for p in ("50", "90", "99"):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        res[f"p{p}_ms"] = round(_ms(*m.groups()), 2) if m else None
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = sum(map(int, m.groups())) if m else 0
    return res


def parse_kv(out):
    res = {}
    for line in out.splitlines():
        if "=" in line and not line.startswith("summary"):
            k, _, v = line.partition("=")
            try:
                res[k.strip()] = float(v)
            except ValueError:
                res[k.strip()] = v.strip()
    return res


def build_tool(name, tools_dir):
    src = Path("/work/shared/bench") / f"{name}.c"
    out = Path(tools_dir) / name
    if not out.exists():
        subprocess.run(["gcc", "-O2", "-o", str(out), str(src)], check=True)
    return out


def median(values):
    return statistics.median(values) if values else float("nan")
