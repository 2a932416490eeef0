"""backend_load.py - what 1,000 acked messages/s cost the backends, for docs/OPERATIONS.md's
sizing table (`bench.py --only load`). Runs in the bench driver process.

One open-loop wsload run (100 rooms of 10 through lighttpd to the gateways, one sender per
room, --rate msg/s for --seconds after a 2 s warm-up). Around the measured window it reads:
  - Redis: INFO commandstats and INFO stats (commands/s by command, bytes in/out per s)
    and the redis-server process's CPU time;
  - the database: CPU time of FerretDB and of every PostgreSQL process, and, with the
    PostgreSQL backend, pg_stat_database (rows inserted/updated, transactions per s);
  - each gateway's /metrics (messages stored/acked, deliveries) and its CPU time.
Everything is divided by the acked rate and scaled to "per 1,000 acked msg/s". CPU times
come from /proc (utime+stime of the process and of its children still running)."""
import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import benchlib as B
from bench_ws import SRCS, tools, write_tokens

TICKS = os.sysconf("SC_CLK_TCK")


def _proc_table():
    """pid -> (ppid, cpu seconds) for every process readable in /proc."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(d)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS)
    return table


def _tree_cpu(table, root):
    """CPU seconds of root and of its descendants alive now (PostgreSQL's backends)."""
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            total += table[pid][1]
            todo += [p for p, (pp, _) in table.items() if pp == pid]
    return total


def _cpu(stack):
    table = _proc_table()
    procs = {"redis": stack.redis, "ferretdb": stack.ferretdb, "postgres": stack.postgres,
             "lighttpd": stack.lighttpd}
    for i, g in enumerate(stack.gateways):
        procs[f"gateway{i}"] = g
    return {k: _tree_cpu(table, p.popen.pid) for k, p in procs.items()
            if p is not None and p.popen is not None}


def _redis_counters(stack):
    counters = {}
    for line in B.redis_cli(stack, "INFO", "commandstats").splitlines():
        m = re.match(r"cmdstat_(\w+):calls=(\d+)", line)
        if m:
            counters["cmd_" + m.group(1)] = int(m.group(2))
    for line in B.redis_cli(stack, "INFO", "stats").splitlines():
        k, _, v = line.strip().partition(":")
        if k in ("total_commands_processed", "total_net_input_bytes", "total_net_output_bytes"):
            counters[k] = int(v)
    return counters


def _pg_counters(stack):
    if not stack.postgres_url:
        return {}
    out = subprocess.run([B.psql_bin(), stack.postgres_url, "-Atc",
                          "select xact_commit, tup_inserted, tup_updated, tup_fetched "
                          "from pg_stat_database where datname = current_database()"],
                         capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        return {"error": out.stderr[-200:]}
    vals = [int(x) for x in out.stdout.strip().split("|")]
    return dict(zip(["pg_xact_commit", "pg_tup_inserted", "pg_tup_updated", "pg_tup_fetched"],
                    vals))


def _gateway_counters(stack):
    totals = {}
    for i in range(stack.n_gateways):
        url = f"http://127.0.0.1:{stack.gateway_port + i}/metrics"
        try:
            text = urllib.request.urlopen(url, timeout=5).read().decode()
        except OSError:
            continue
        for line in text.splitlines():
            m = re.match(r"(chat_gateway_(?:messages_stored|messages_acked|deliveries)_total)"
                         r"(?:\{[^}]*\})? ([0-9.e+]+)$", line)
            if m:
                totals[m.group(1)] = totals.get(m.group(1), 0.0) + float(m.group(2))
    return totals


def _snapshot(stack):
    return {"t": time.monotonic(), "cpu": _cpu(stack), "redis": _redis_counters(stack),
            "pg": _pg_counters(stack), "gw": _gateway_counters(stack)}


def _delta(a, b, key):
    return {k: b[key][k] - a[key].get(k, 0) for k in b[key] if isinstance(b[key][k], (int, float))}


def bench_backend_load(stack, data, out, rate=1000, seconds=20):
    wsload, _ = tools(out)
    rooms = [r for r in data["rooms"][2:] if len(r["members"]) == 10][:100]
    tok = Path(out) / "tokens-100x10.txt"
    if not tok.exists():
        write_tokens(stack, data, [r["id"] for r in rooms], tok)
    argv = ["-p", str(stack.http_port), "-P", "/ws?token=%T", "-J", "-m", "chat", "-k", str(tok),
            "-n", "1000", "-w", "2", "-s", SRCS, "-x", "100", "-g", "10", "-r", str(rate),
            "-d", str(seconds), "-W", "2", "-T", "120"]
    proc = subprocess.Popen([str(wsload)] + argv, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    # sockets connect and subscribe, then 2 s of warm-up: sample inside the measured phase
    before = None
    deadline = time.monotonic() + 180
    while before is None and time.monotonic() < deadline and proc.poll() is None:
        g = _gateway_counters(stack)
        if g.get("chat_gateway_messages_acked_total", 0) > 0:
            time.sleep(3)
            before = _snapshot(stack)
        else:
            time.sleep(0.5)
    time.sleep(max(1, seconds - 5))
    after = _snapshot(stack) if before is not None else None
    so, se = proc.communicate(timeout=300)
    if before is None or after is None:
        return {"error": "the load never started", "stderr": se[-400:]}
    secs = after["t"] - before["t"]
    gw = _delta(before, after, "gw")
    acked = gw.get("chat_gateway_messages_acked_total", 0) / secs
    scale = 1000.0 / acked if acked > 0 else 0.0
    cpu = {k: round(100 * v / secs * scale, 1) for k, v in _delta(before, after, "cpu").items()}
    rds = _delta(before, after, "redis")
    per = {k: round(v / secs * scale) for k, v in rds.items() if v}
    pg = {k: round(v / secs * scale) for k, v in _delta(before, after, "pg").items()}
    res = {"offered_rate": rate, "window_s": round(secs, 1), "acked_per_s": round(acked),
           "deliveries_per_s": round(gw.get("chat_gateway_deliveries_total", 0) / secs),
           "per_1k_acked": {"cpu_percent_of_a_core": cpu, "redis_per_s": per,
                            "postgres_per_s": pg},
           "load_before": round(B.load_avg(), 2), "wsload_tail": so[-800:]}
    B.say(f"load: {res}")
    return res
