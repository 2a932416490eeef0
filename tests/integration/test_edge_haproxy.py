"""test_edge_haproxy.py - the container edge (deploy/haproxy/haproxy.cfg) run for real
with Debian's haproxy, outside Docker: a small DNS server in this test plays Docker's
embedded DNS (one A record per replica of the gateway service, each replica a real
gateway on its own loopback address 127.0.0.x, all on the same port, as containers
would be), and the api service is the test stack's lighttpd. Checks that
  - WebSocket clients through the edge are spread over every replica (leastconn);
  - a replica added later (a new A record, as after --scale) is found and gets the new
    sockets; a replica that drains (SIGTERM) is taken out and gets none;
  - REST and static go to lighttpd, /metrics is refused from outside, and lighttpd
    (TRUSTED_PROXIES) logs the client's own address, not the edge's, while a client
    that is not a trusted proxy cannot forge one.
Runs in the pytest process plus one DNS thread."""
import asyncio
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from ws_client import connect, mint_token, real_user_id, wait_until

REPO = Path(__file__).resolve().parents[2]
CFG = REPO / "deploy/haproxy/haproxy.cfg"


class FakeDockerDNS:
    """Answers A queries for the names in `records` (name -> list of IPv4) over UDP;
    NXDOMAIN for other names, an empty answer for other types (AAAA)."""

    def __init__(self, records):
        self.records = dict(records)
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def set(self, name, ips):
        with self.lock:
            self.records[name] = list(ips)

    def _serve(self):
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self.sock.sendto(self._answer(data), addr)
                self.queries += 1
            except (ValueError, IndexError, struct.error, OSError):
                pass

    def _answer(self, q):
        qid, flags = struct.unpack("!HH", q[:4])
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode().lower())
            i += 1 + q[i]
        qtype, _qclass = struct.unpack("!HH", q[i + 1:i + 5])
        question = q[12:i + 5]
        name = ".".join(labels)
        with self.lock:
            ips = self.records.get(name)
        rd = flags & 0x0100
        if ips is None:
            return struct.pack("!HHHHHH", qid, 0x8083 | rd, 1, 0, 0, 0) + question
        answers = b""
        if qtype == 1:
            for ip in ips:
                answers += struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(ip)
        n = len(ips) if qtype == 1 else 0
        return struct.pack("!HHHHHH", qid, 0x8480 | rd, 1, n, 0, 0) + question + answers

    def stop(self):
        self._stop = True
        self.thread.join(2)
        self.sock.close()


def _free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_free_on(port, hosts):
    for h in hosts:
        with socket.socket() as s:
            try:
                s.bind((h, port))
            except OSError:
                return False
    return True


def _gateway_health(host, port):
    with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=3) as r:
        return json.loads(r.read())


def _haproxy_metric(port, name, proxy):
    """A value from HAProxy's Prometheus exporter; None before it listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as r:
            text = r.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name + "{") and f'proxy="{proxy}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.fixture
def edge(make_stack, tmp_path):
    s = make_stack(gateways=0, env={"TRUSTED_PROXIES": "127.0.0.1"})
    hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
    gw_port = next(p for p in (_free_port() for _ in range(50)) if _port_free_on(p, hosts))
    gateways = {}

    def start_gateway(host):
        env = s.server_env()
        env.update({"GATEWAY_HOST": host, "GATEWAY_PORT": str(gw_port)})
        env.pop("GATEWAY_ID", None)
        log = open(s.log_dir / f"gw-{host}.log", "wb")
        p = subprocess.Popen([str(s.gateway_binary())], env=env, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        gateways[host] = p
        wait_until(lambda: p.poll() is None and _health_ok(host, gw_port), 30, f"gateway {host}")
        return p

    dns = FakeDockerDNS({"ws-gateway": hosts[:3], "api": ["127.0.0.1"]})
    edge_port, internal_port = _free_port(), _free_port()
    env = dict(os.environ, DNS_RESOLVER=f"127.0.0.1:{dns.port}",
               EDGE_BIND=f"127.0.0.1:{edge_port}", EDGE_INTERNAL_BIND=f"127.0.0.1:{internal_port}",
               GATEWAY_SERVICE_PORT=str(gw_port), API_SERVICE_PORT=str(s.http_port),
               GATEWAY_SLOTS="8")
    for h in hosts[:3]:
        start_gateway(h)
    hlog = open(tmp_path / "haproxy.log", "wb")
    haproxy = subprocess.Popen(["haproxy", "-db", "-f", str(CFG)], env=env, stdout=hlog,
                               stderr=subprocess.STDOUT, start_new_session=True)
    hlog.close()
    ctx = {"stack": s, "dns": dns, "hosts": hosts, "gw_port": gw_port,
           "gateways": gateways, "start_gateway": start_gateway, "haproxy": haproxy,
           "edge_port": edge_port, "internal_port": internal_port,
           "log": tmp_path / "haproxy.log"}
    try:
        wait_until(lambda: _haproxy_metric(internal_port, "haproxy_backend_active_servers",
                                      "gateways") == 3, 30, "3 gateways UP in haproxy")
        wait_until(lambda: _haproxy_metric(internal_port, "haproxy_backend_active_servers",
                                      "api") == 1, 30, "the api UP in haproxy")
        yield ctx
    finally:
        haproxy.terminate()
        try:
            haproxy.wait(10)
        except subprocess.TimeoutExpired:
            haproxy.kill()
        for p in gateways.values():
            if p.poll() is None:
                p.kill()
            p.wait(10)
        dns.stop()


def _health_ok(host, port):
    try:
        return _gateway_health(host, port)["status"] == "ok"
    except OSError:
        return False


def _connections(ctx, hosts):
    return {h: _gateway_health(h, ctx["gw_port"])["connections"] for h in hosts}


def test_websockets_spread_over_replicas_and_follow_scaling(edge):
    s = edge["stack"]
    url = f"ws://127.0.0.1:{edge['edge_port']}/ws"
    first3 = edge["hosts"][:3]

    async def run():
        clients = [await connect(url, mint_token(s.jwt_secret, real_user_id(s.http_url))) for _ in range(30)]
        counts = _connections(edge, first3)
        assert sum(counts.values()) == 30, counts
        assert max(counts.values()) - min(counts.values()) <= 2, counts  # leastconn

        # scale up: a 4th replica appears in DNS; it gets the next sockets
        new = edge["hosts"][3]
        edge["start_gateway"](new)
        edge["dns"].set("ws-gateway", edge["hosts"])
        wait_until(lambda: _haproxy_metric(edge["internal_port"], "haproxy_backend_active_servers",
                                      "gateways") == 4, 20, "the new replica UP")
        clients += [await connect(url, mint_token(s.jwt_secret, real_user_id(s.http_url))) for _ in range(10)]
        counts = _connections(edge, edge["hosts"])
        assert sum(counts.values()) == 40, counts
        assert counts[new] >= 8, counts  # it had none, so leastconn fills it first

        # a draining replica (SIGTERM) is taken out and gets no new sockets
        drained = first3[0]
        edge["gateways"][drained].send_signal(signal.SIGTERM)
        edge["dns"].set("ws-gateway", [h for h in edge["hosts"] if h != drained])
        wait_until(lambda: _haproxy_metric(edge["internal_port"], "haproxy_backend_active_servers",
                                      "gateways") == 3, 20, "the drained replica out")
        more = [await connect(url, mint_token(s.jwt_secret, real_user_id(s.http_url))) for _ in range(9)]
        after = _connections(edge, [h for h in edge["hosts"] if h != drained])
        assert sum(after.values()) >= 9 + 30 - counts[drained], (counts, after)
        for c in clients + more:
            await c.close()

    asyncio.run(run())


def _http_from(source_ip, port, path, headers=None):
    """GET from a chosen loopback source address; (status, body)."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5,
                                      source_address=(source_ip, 0))
    conn.request("GET", path, headers=headers or {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


def test_rest_through_the_edge_with_client_addresses(edge):
    s = edge["stack"]
    port = edge["edge_port"]
    st, body = _http_from("127.0.0.1", port, "/health")
    assert st == 200 and json.loads(body)["status"] == "ok"
    st, _ = _http_from("127.0.0.1", port, "/metrics")
    assert st == 404
    st, body = _http_from("127.0.0.1", port, "/")
    assert st == 200

    # lighttpd logs the client's address from the edge's X-Forwarded-For; a forged
    # header sent through the edge is replaced, not believed
    st, _ = _http_from("127.0.0.9", port, "/health",
                       headers={"X-Forwarded-For": "203.0.113.66"})
    assert st == 200
    # a client talking to lighttpd directly is not a trusted proxy: its header is ignored
    st, _ = _http_from("127.0.0.8", s.http_port, "/health",
                       headers={"X-Forwarded-For": "203.0.113.77"})
    assert st == 200

    def remotes():
        return {json.loads(x)["remote"] for x in s.log_text("lighttpd").splitlines()
                if x.startswith("{") and '"component":"lighttpd"' in x and '"/health"' in x}

    # lighttpd flushes its access log about once a second
    deadline = time.time() + 5
    while time.time() < deadline and not {"127.0.0.8", "127.0.0.9"} <= remotes():
        time.sleep(0.2)
    remotes = remotes()
    assert "127.0.0.9" in remotes, remotes       # through the edge: the real client
    assert "127.0.0.8" in remotes, remotes       # direct: its own address
    assert "203.0.113.66" not in remotes and "203.0.113.77" not in remotes, remotes
