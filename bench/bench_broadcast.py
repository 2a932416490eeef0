"""bench_broadcast.py - issue 11's fan-out comparison for bench/bench.py (`--only
broadcast`): one room of N sockets on ONE gateway (its own port, no lighttpd), two senders
at a rate that makes ~25,000 deliveries/s, measured with the shared load tool
(/work/shared/bench/wsload.c) beside the machine's raw fan-out loop (rawfan: epoll, one
write() per recipient, no JSON, no auth, no storage) and Centrifugo v6 (memory engine, one
channel of N) under the same load, in the same run. For each: delivery p50/p99 (send to
receipt by every other socket), ack p50/p99 where there is one (chat: the durable store
before the fan-out), and the server's CPU over the measured phase (utime+stime from
/proc, % of one core). Chat runs twice: on one gateway, and on two gateway processes
sharing its port (SO_REUSEPORT: the box's two cores, as Centrifugo's Go runtime uses
them). Before each phase the machine is let go quiet (wait_quiet: what the previous
phase's close leaves, the gateways' last_seen batch, must not run in the next). Runs in
the bench driver process."""
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import benchlib as B
from stack import Proc
from bench_ws import CF_SH, SRCS, _phase_rows, centrifugo_dir, parse_phases, rawfan_running, tools

TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux
HISTS = ("chat_gateway_store_seconds", "chat_gateway_ack_seconds", "chat_gateway_fanout_seconds",
         "chat_gateway_write_round_seconds")
# a message's time before its ack and fan-out, by phase (gateway_metrics.h gw_msg_phase_t)
PHASES = ("queued", "members", "insert", "commit", "handback")
PHASE_HIST = "chat_gateway_message_phase_seconds"
# wsload's two worker processes each send from one socket at half the rate, at the same
# instants (both count from one start): each pair of messages reaches the room's writer
# together and the second waits for the first's insert. BENCH_BROADCAST_SENDERS=1 sends
# from one socket only (a diagnosis of that wait; the reported runs use 2).
SENDERS = int(os.environ.get("BENCH_BROADCAST_SENDERS", "2"))


def _cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _gateway_hist(port, name, label=""):
    """{le: cumulative count} plus sum and count of histogram name on a gateway's /metrics
    (label: the one series of a labelled family, e.g. 'phase="insert"')."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    h = {"buckets": {}, "sum": 0.0, "count": 0.0}
    lab = re.escape(label)
    for line in text.splitlines():
        m = re.match(rf'{name}_bucket{{{lab}{"," if label else ""}le="([^"]+)"}} ([0-9.e+]+)$',
                     line)
        if m:
            h["buckets"][m.group(1)] = float(m.group(2))
        m = re.match(rf"{name}_(sum|count)(?:{{{lab}}})? ([0-9.e+]+)$", line)
        if m:
            h[m.group(1)] = float(m.group(2))
    return h


def _gateway_hists(port):
    """Snapshots of HISTS and of every phase of PHASE_HIST on the gateway at port."""
    out = {h: _gateway_hist(port, h) for h in HISTS}
    out.update({f"phase_{p}": _gateway_hist(port, PHASE_HIST, f'phase="{p}"') for p in PHASES})
    return out


def _hist_delta(a, b):
    """Mean and bucket-bound p50/p99 in ms of what histogram snapshots a -> b observed."""
    n = b["count"] - a["count"]
    if n <= 0:
        return {"n": 0}
    out = {"n": int(n), "mean_ms": round(1000 * (b["sum"] - a["sum"]) / n, 2)}
    for q in (50, 99):
        for le, c in b["buckets"].items():  # in the page's order: ascending bounds
            if c - a["buckets"].get(le, 0.0) >= n * q / 100:
                out[f"p{q}_le_ms"] = None if le == "+Inf" else round(1000 * float(le), 2)
                break
    return out


def _busy_cores():
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    return sum(v) - idle, sum(v)


def wait_quiet(limit_s=45.0, below=0.15):
    """Waits until the machine's CPU has been below `below` of one core for a whole second
    (at most limit_s): what a phase's close leaves behind (the gateways' presence work for
    the sockets that just went, and until stop 34 their last_seen batch, FerretDB decoding
    `users` for it) must not run during the next system's phase. Returns the seconds
    waited."""
    t0 = time.monotonic()
    ncpu = os.cpu_count() or 1
    while time.monotonic() - t0 < limit_s:
        b0, a0 = _busy_cores()
        time.sleep(1.0)
        b1, a1 = _busy_cores()
        if a1 > a0 and (b1 - b0) / (a1 - a0) * ncpu < below:
            break
    return round(time.monotonic() - t0, 1)


def _sockets(pid):
    """How many TCP sockets process pid holds (its clients, plus a few of its own)."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


def _run_measured(wsload, argv, pids, seconds, timeout=600, count_sockets=False):
    """Runs wsload (argv) while sampling the CPU time of pids (one server, or several
    sharing a port) every 0.25 s; their CPU together over wsload's measured phase (its last
    `seconds`, minus its last second and the close) as % of one core. Returns (phases,
    cpu_pct, connect_s, stderr tail, most sockets each pid held when count_sockets)."""
    pids = [pids] if isinstance(pids, int) else list(pids)
    p = subprocess.Popen([str(wsload)] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    samples = []
    held = [0] * len(pids)
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            try:
                samples.append((time.monotonic(), sum(_cpu_s(pid) for pid in pids)))
                for i, pid in enumerate(pids if count_sockets else ()):
                    held[i] = max(held[i], _sockets(pid))
            except OSError:
                return
            stop.wait(0.25)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, err = p.communicate(timeout=timeout)
    end = time.monotonic()
    stop.set()
    t.join(5)
    window = [(ts, c) for ts, c in samples if end - seconds - 0.2 <= ts <= end - 1.2]
    cpu = None
    if len(window) >= 2 and window[-1][0] > window[0][0]:
        cpu = round(100.0 * (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0]), 1)
    done = [float(x) for x in re.findall(r"connect phase done in ([\d.]+) s", err)]
    return parse_phases(out), cpu, max(done) if done else None, err[-400:], held


def _row(name, n, phases, load, cpu, connect_s):
    rows = _phase_rows(name, phases, load)
    for r in rows:
        r.update({"sockets": n, "cpu_pct_of_core": cpu, "connect_s": connect_s})
    return rows


def _two_gateways(stack, wsload, chat_argv, n, seconds):
    """The same load on two gateway processes sharing gateway 0's port (SO_REUSEPORT, as
    docs/OPERATIONS.md runs one per core): gateway 1 is restarted on that port for the
    run, then put back on its own. The kernel spreads the sockets (and the two senders)
    over both; each fans out to its own share, the sender's gateway storing first and the
    other hearing the message through Redis. Their CPU is counted together."""
    stack.kill_gateway(1, signal.SIGTERM)
    env = stack.server_env()
    env.update({"GATEWAY_PORT": str(stack.gateway_port), "GATEWAY_ID": "gw1"})
    stack.gateways[1] = Proc("gateway1", [str(stack.gateway_binary())], env, stack.log_dir,
                             cwd=str(stack.workdir)).start()
    rows = []
    try:
        time.sleep(3)  # its listener and its look at the (warm) read model
        B.say(f"quiet after {wait_quiet()} s")
        if not stack.gateways[1].alive():
            return [{"system": "chat (two gateways on one port)", "sockets": n,
                     "error": "gateway 1 did not start on the shared port"}]
        load = round(B.load_avg(), 2)
        phases, cpu, conn_s, err, held = _run_measured(
            wsload, chat_argv, [stack.gateway_pid(0), stack.gateway_pid(1)], seconds,
            count_sockets=True)
        rows = _row("chat (two gateways on one port, stored then fanned out)", n, phases, load,
                    cpu, conn_s)
        if rows:
            rows[-1]["sockets_per_gateway"] = held
        B.say(f"broadcast {n} chat, two gateways: {rows[-1] if rows else err}")
    finally:
        stack.kill_gateway(1, signal.SIGTERM)
        stack.start_gateway(1)
    return rows


def bench_broadcast(stack, data, out, sizes=((1000, 25), (5000, 5)), seconds=10, warmup=2,
                    two_gateways=True):
    """sizes: (sockets, msg/s) pairs; SENDERS senders each time. two_gateways: chat also on
    two gateway processes sharing one port (the box's two cores, as Centrifugo uses
    them)."""
    wsload, rawfan = tools(out)
    big = data["rooms"][0]
    users = {u["id"]: u for u in data["users"]}
    rows = []
    cf = centrifugo_dir(out)
    for n, rate in sizes:
        common = ["-n", str(n), "-w", "2", "-s", SRCS, "-x", str(SENDERS), "-r", str(rate),
                  "-d", str(seconds), "-W", str(warmup), "-T", "180"]
        # chat: the first n members of the big room, straight to gateway 0
        tok = Path(out) / f"tokens-broadcast-{n}.txt"
        with open(tok, "w") as f:
            for uid in big["members"][:n]:
                f.write(f"{B.token(stack, users[uid])} {big['id']}\n")
        B.say(f"quiet after {wait_quiet()} s")
        load = round(B.load_avg(), 2)
        hists = _gateway_hists(stack.gateway_port)
        chat_argv = ["-p", str(stack.gateway_port), "-P", "/ws?token=%T", "-J", "-m", "chat",
                     "-k", str(tok)] + common
        phases, cpu, conn_s, err, _ = _run_measured(wsload, chat_argv, stack.gateway_pid(0),
                                                    seconds)
        rows += _row("chat (one gateway, stored then fanned out)", n, phases, load, cpu, conn_s)
        after = _gateway_hists(stack.gateway_port)
        for h in hists:  # the gateway's own view: the store alone, receipt to ack, the phases
            rows[-1][h] = _hist_delta(hists[h], after[h])
        B.say(f"broadcast {n} chat: {rows[-1] if rows else err}")
        B.say(f"quiet after {wait_quiet()} s")
        if two_gateways:
            rows += _two_gateways(stack, wsload, chat_argv, n, seconds)
            B.say(f"quiet after {wait_quiet()} s")
        # rawfan: the machine's ceiling
        with rawfan_running(rawfan) as (port, pid):
            load = round(B.load_avg(), 2)
            phases, cpu, conn_s, err, _ = _run_measured(
                wsload, ["-p", str(port), "-P", "/", "-m", "mirror"] + common, pid, seconds)
            rows += _row("rawfan (epoll write loop, no storage)", n, phases, load, cpu, conn_s)
            B.say(f"broadcast {n} rawfan: {rows[-1] if rows else err}")
        B.say(f"quiet after {wait_quiet()} s")
        # Centrifugo: one channel of n
        port = B.free_port()
        r = subprocess.run(["bash", CF_SH, "start", str(port), str(n), str(cf)],
                           capture_output=True, text=True, timeout=1200)
        if r.returncode != 0:
            rows.append({"system": "Centrifugo v6.9.1", "sockets": n,
                         "error": (r.stdout + r.stderr)[-600:]})
            continue
        try:
            pid = int((cf / "centrifugo.pid").read_text().split()[0])
            load = round(B.load_avg(), 2)
            phases, cpu, conn_s, err, _ = _run_measured(
                wsload, ["-p", str(port), "-P", "/connection/websocket", "-m", "centrifugo",
                         "-k", str(cf / "tokens.txt"), "-R", "big"] + common, pid, seconds)
            rows += _row("Centrifugo v6.9.1 (memory engine, no storage)", n, phases, load, cpu,
                         conn_s)
            B.say(f"broadcast {n} centrifugo: {rows[-1] if rows else err}")
        finally:
            subprocess.run(["bash", CF_SH, "stop", str(cf)])
        B.say(f"quiet after {wait_quiet()} s")
    return {"rows": rows}
