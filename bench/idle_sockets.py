"""bench/idle_sockets.py - idle sockets on one box (issue 11): G gateway processes sharing one port (SO_REUSEPORT),
L wsload processes (one source address each). Measures connect time, CPU of all gateways
while idle (3 ping rounds), RSS, then SIGSTOPs one wsload and times the reaping of its
sockets while the others (which answer pings) stay open.
  python3 bench/idle_sockets.py [sockets]   (env: IDLE_GATEWAYS=6 IDLE_LOADS=6 IDLE_PING=20
  IDLE_IDLE=45 IDLE_CONNECT_RATE=600 per wsload process; WSLOAD, CHAT_BUILD_DIR)
wsload does not answer pings while it is still connecting its sockets: IDLE_IDLE must
outlast the connect phase, or the gateways reap the early sockets as idle."""
import os, signal, subprocess, sys, time
from pathlib import Path
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'tests')); sys.path.insert(0, str(REPO / 'tests/integration'))
WSLOAD = os.environ.get('WSLOAD', '/tmp/wsl/wsload')  # gcc -O2 -o /tmp/wsl/wsload ../shared/bench/wsload.c
from conftest import RATES_OFF
from harness.stack import Stack, Proc
from ws_client import register, create_room
# usage: python3 bench/idle_sockets.py [sockets]
G = int(os.environ.get("IDLE_GATEWAYS", 6)); L = int(os.environ.get("IDLE_LOADS", 6))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000; PER = N // L
PING, IDLE = int(os.environ.get("IDLE_PING", 20)), int(os.environ.get("IDLE_IDLE", 45))
RATE = os.environ.get("IDLE_CONNECT_RATE", "600")
env = dict(RATES_OFF); env.update({"MAX_SOCKETS_PER_USER": "100000", "WS_PING_SEC": str(PING),
                                   "WS_IDLE_SEC": str(IDLE), "LOG_LEVEL": "warn"})
s = Stack(gateways=0, env=env, build_dir=os.environ.get('CHAT_BUILD_DIR', str(REPO / 'build'))); s.start()
gws, loads = [], []
def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().split(")")[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
def rss(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])
def fds(pid): return len(os.listdir(f"/proc/{pid}/fd"))
try:
    port = s.gateway_port
    for i in range(G):
        e = s.server_env(); e["GATEWAY_PORT"] = str(port); e["GATEWAY_ID"] = f"gw{i}"
        p = Proc(f"gateway{i}", [str(s.gateway_binary())], e, s.log_dir, cwd=str(s.workdir)).start()
        gws.append(p)
    time.sleep(3)
    base_fds = [fds(p.pid) for p in gws]; base_rss = [rss(p.pid) for p in gws]
    u = register(s.http_url); room = create_room(s.http_url, u["token"])
    with open("/tmp/idle_sockets_tokens.txt", "w") as f:
        for _ in range(PER): f.write(f"{u['token']} {room}\n")
    t0 = time.time()
    for i in range(L):
        loads.append(subprocess.Popen([WSLOAD, "-p", str(port), "-P", "/ws?token=%T", "-J", "-m", "chat",
            "-k", "/tmp/idle_sockets_tokens.txt", "-n", str(PER), "-w", "1", "-s", f"127.0.0.{2 + i}",
            "-I", str(PING * 4 + IDLE + 400), "-c", RATE, "-T", "240"], stdout=open(f"/tmp/idle_sockets_load{i}.log","w"), stderr=subprocess.STDOUT))
    while time.time() - t0 < 300:
        open_now = sum(fds(p.pid) - b for p, b in zip(gws, base_fds))
        if open_now >= L * PER * 0.995: break
        time.sleep(2)
    t_conn = time.time() - t0
    per_gw = [fds(p.pid) - b for p, b in zip(gws, base_fds)]
    print(f"connected {sum(per_gw)} sockets in {t_conn:.0f} s; per gateway {per_gw}", flush=True)
    time.sleep(5)
    c0 = [cpu(p.pid) for p in gws]; t1 = time.time()
    time.sleep(3 * PING)
    dt = time.time() - t1
    use = [100 * (cpu(p.pid) - c) / dt for p, c in zip(gws, c0)]
    r = [rss(p.pid) for p in gws]
    still = [fds(p.pid) - b for p, b in zip(gws, base_fds)]
    print(f"idle {dt:.0f} s ({3} ping rounds): gateways CPU {sum(use):.1f}% of a core in total "
          f"({', '.join(f'{x:.1f}' for x in use)}); RSS {sum(r)//1024} MB total, "
          f"{(sum(r)-sum(base_rss))*1024/max(1,sum(still)):.0f} B per socket; open {sum(still)}", flush=True)
    # reaping: one wsload stops answering pings
    kids = subprocess.run(["pgrep", "-P", str(loads[0].pid)], capture_output=True, text=True).stdout.split()
    for pid in [loads[0].pid] + [int(k) for k in kids]:
        os.kill(pid, signal.SIGSTOP)
    print(f"SIGSTOP wsload 0 and its {len(kids)} worker processes", flush=True)
    ts = time.time()
    target = sum(still) - PER
    first = None
    while time.time() - ts < IDLE + PING + 30:
        now_open = sum(fds(p.pid) - b for p, b in zip(gws, base_fds))
        if first is None and now_open < sum(still) - 10: first = time.time() - ts
        if now_open <= target + 10: break
        time.sleep(1)
    done = time.time() - ts
    left = sum(fds(p.pid) - b for p, b in zip(gws, base_fds))
    print(f"stopped wsload 0 ({PER} sockets): reaping began after {first} s, open {left} "
          f"(others {target}) after {done:.0f} s (idle limit {IDLE} s, ping every {PING} s)", flush=True)
    # the rest close at once (their wsloads killed): the memory goes back (heap_trim.h)
    for l in loads[1:]:
        for k in subprocess.run(["pgrep", "-P", str(l.pid)], capture_output=True, text=True).stdout.split():
            os.kill(int(k), signal.SIGKILL)
        l.kill()
    tc = time.time()
    while time.time() - tc < 30 and sum(fds(p.pid) - b for p, b in zip(gws, base_fds)) > 10:
        time.sleep(0.5)
    time.sleep(3)  # the gateway's 1 s tick decides the trim
    ra = [rss(p.pid) for p in gws]
    print(f"all closed after {time.time() - tc:.0f} s: RSS {sum(ra)//1024} MB total "
          f"({100 * sum(ra) / max(1, sum(base_rss)):.0f}% of the {sum(base_rss)//1024} MB before the sockets)",
          flush=True)
finally:
    for l in loads:
        try:
            for k in subprocess.run(["pgrep", "-P", str(l.pid)], capture_output=True, text=True).stdout.split():
                os.kill(int(k), signal.SIGKILL)
            l.kill()
        except Exception: pass
    for p in gws: p.stop()
    s.stop()
