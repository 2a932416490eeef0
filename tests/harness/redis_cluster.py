#!/usr/bin/env python3
"""redis_cluster.py - a real local Redis Cluster for tests: 6 Debian redis-server
processes (3 masters + 3 replicas) with --cluster-enabled yes on free loopback ports
(client and bus ports both chosen free), joined with `redis-cli --cluster create ...
--cluster-replicas 1 --cluster-yes`. It waits for cluster_state:ok everywhere, can kill a
master and wait for its replica's promotion, and stops everything (temp dir removed).
Runs in the caller's thread; stdlib only (redis-cli for every command).

    with RedisCluster() as c:
        port = c.master_for_slot(c.keyslot("foo"))
        c.cli(port, "SET", "foo", "1")
        new_port = c.kill_master(port)      # returns once the replica is master

    python3 tests/harness/redis_cluster.py   # starts one, prints the nodes, Ctrl-C stops
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy"))
from stack import Proc, free_port, port_open  # noqa: E402


class ClusterError(RuntimeError):
    pass


class RedisCluster:
    """masters x (1 + replicas) redis-server processes forming one cluster."""

    def __init__(self, masters=3, replicas=1, host="127.0.0.1", node_timeout_ms=3000,
                 workdir=None):
        self.host = host
        self.masters_wanted = masters
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="chat-redis-cluster-"))
        self.procs = {}          # client port -> Proc
        self.bus_ports = {}      # client port -> cluster bus port

    # ------------------------------------------------------------- life cycle
    def _unused_port(self, taken):
        for _ in range(100):
            p = free_port(self.host)
            if p not in taken:
                return p
        raise ClusterError("no free port")

    def start(self, timeout=60.0):
        n = self.masters_wanted * (1 + self.replicas)
        taken = set()
        try:
            for _ in range(n):
                port = self._unused_port(taken)
                taken.add(port)
                bus = self._unused_port(taken)
                taken.add(bus)
                self._start_node(port, bus)
            for port, proc in self.procs.items():
                self._wait_listen(port, proc)
            addrs = [f"{self.host}:{p}" for p in self.procs]
            r = subprocess.run(["redis-cli", "--cluster", "create", *addrs, "--cluster-replicas",
                                str(self.replicas), "--cluster-yes"],
                               capture_output=True, text=True, timeout=timeout)
            if r.returncode != 0 or "[OK] All 16384 slots covered" not in r.stdout:
                raise ClusterError(f"redis-cli --cluster create failed:\n{r.stdout}\n{r.stderr}")
            self.wait_ok(timeout)
            self.wait_replicas_online(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_node(self, port, bus):
        d = self.workdir / str(port)
        d.mkdir(parents=True, exist_ok=True)
        argv = ["redis-server", "--port", str(port), "--bind", self.host,
                "--cluster-enabled", "yes", "--cluster-port", str(bus),
                "--cluster-config-file", str(d / "nodes.conf"),
                "--cluster-node-timeout", str(self.node_timeout_ms),
                "--dir", str(d), "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--protected-mode", "yes"]
        self.procs[port] = Proc(f"redis-{port}", argv, os.environ.copy(), d).start()
        self.bus_ports[port] = bus

    def _wait_listen(self, port, proc, timeout=20.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if port_open(self.host, port):
                return
            if not proc.alive():
                raise ClusterError(f"redis-server on {port} exited:\n{proc.log_text()[-2000:]}")
            time.sleep(0.05)
        raise ClusterError(f"redis-server on {port} did not listen")

    def stop(self):
        for proc in self.procs.values():
            proc.stop(timeout=5)
        if self._own_workdir and not os.environ.get("CHAT_KEEP_STACK"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------- commands
    def cli(self, port, *args, check=True, timeout=10):
        """Runs one command on one node (no -c: redirections come back as errors) and
        returns redis-cli's output, stripped. check: raise on a redis error reply."""
        r = subprocess.run(["redis-cli", "-h", self.host, "-p", str(port), *map(str, args)],
                           capture_output=True, text=True, timeout=timeout)
        out = r.stdout.strip()
        if r.returncode != 0 or (check and (out.startswith("ERR") or out.startswith("MOVED")
                                            or out.startswith("ASK")
                                            or out.startswith("CLUSTERDOWN"))):
            raise ClusterError(f"{args} on {port}: {out} {r.stderr.strip()}")
        return out

    def live_ports(self):
        return [p for p, proc in self.procs.items() if proc.alive()]

    def info(self, port):
        """CLUSTER INFO as a dict."""
        out = self.cli(port, "CLUSTER", "INFO")
        return dict(line.split(":", 1) for line in out.splitlines() if ":" in line)

    def nodes(self, port=None):
        """CLUSTER NODES seen from one live node: a list of dicts with id, port, role
        ("master"/"slave"), master_id, flags, link, slots (list of (start, end))."""
        port = port or self.live_ports()[0]
        result = []
        for line in self.cli(port, "CLUSTER", "NODES").splitlines():
            f = line.split()
            addr = f[1].split("@")[0]
            flags = f[2].split(",")
            slots = []
            for s in f[8:]:
                if s.startswith("["):
                    continue  # a slot being migrated
                a, _, b = s.partition("-")
                slots.append((int(a), int(b or a)))
            result.append({
                "id": f[0], "port": int(addr.rsplit(":", 1)[1]), "flags": flags,
                "role": "master" if "master" in flags else "slave",
                "master_id": None if f[3] == "-" else f[3], "link": f[7], "slots": slots,
                "failed": "fail" in flags or "fail?" in flags,
            })
        return result

    def masters(self):
        return [n for n in self.nodes() if n["role"] == "master" and not n["failed"]
                and n["slots"]]

    def node_id(self, port):
        return self.cli(port, "CLUSTER", "MYID")

    def keyslot(self, key):
        return int(self.cli(self.live_ports()[0], "CLUSTER", "KEYSLOT", key))

    def master_for_slot(self, slot):
        for n in self.masters():
            if any(a <= slot <= b for a, b in n["slots"]):
                return n["port"]
        raise ClusterError(f"no master serves slot {slot}")

    def replicas_of(self, master_port):
        mid = next(n["id"] for n in self.nodes() if n["port"] == master_port)
        return [n["port"] for n in self.nodes() if n["master_id"] == mid and not n["failed"]]

    # ------------------------------------------------------------- waiting
    def wait_ok(self, timeout=30.0, ports=None):
        """Until every (given) live node reports cluster_state:ok and 16384 slots ok."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                infos = [self.info(p) for p in (ports or self.live_ports())]
                if all(i.get("cluster_state") == "ok" and i.get("cluster_slots_ok") == "16384"
                       for i in infos):
                    return
                last = infos
            except (ClusterError, subprocess.TimeoutExpired) as e:
                last = e
            time.sleep(0.1)
        raise ClusterError(f"cluster not ok within {timeout}s: {last}")

    def wait_replicas_online(self, timeout=30.0):
        """Until every master has its replicas attached and in sync (so a failover has
        a replica with the data)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            ok = True
            for m in self.masters():
                info = self.cli(m["port"], "INFO", "replication")
                online = info.count("state=online")
                if online < self.replicas:
                    ok = False
            if ok:
                return
            time.sleep(0.1)
        raise ClusterError("replicas not in sync in time")

    def kill_master(self, port, timeout=30.0):
        """SIGKILLs the master on port and waits until one of its replicas is master of
        its slots and the cluster is ok again. Returns the promoted replica's port."""
        slots = next(n["slots"] for n in self.masters() if n["port"] == port)
        replicas = self.replicas_of(port)
        if not replicas:
            raise ClusterError(f"master {port} has no replica")
        self.procs[port].stop(sig=signal.SIGKILL, timeout=5)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                for n in self.nodes(replicas[0]):
                    if n["port"] in replicas and n["role"] == "master" and n["slots"] == slots:
                        self.wait_ok(max(deadline - time.time(), 1.0))
                        return n["port"]
            except ClusterError:
                pass
            time.sleep(0.1)
        raise ClusterError(f"no replica of {port} was promoted within {timeout}s")


def main():
    with RedisCluster() as c:
        for n in sorted(c.nodes(), key=lambda n: n["port"]):
            print(f"{c.host}:{n['port']} {n['role']} slots={n['slots']}", flush=True)
        stopping = []
        signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
        while not stopping:
            time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
