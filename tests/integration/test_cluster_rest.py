"""test_cluster_rest.py - REST (rest-fcgi, its health prober) on a real Redis Cluster
(REDIS_CLUSTER=1, REDIS_URL naming one seed master; tests/harness/redis_cluster.py starts
3 masters + 3 replicas): register, login, rooms, join/leave, members, history and a rate
limit (a Lua script) all work, the keys land on several masters, and after the master
owning the test room's slot is killed and its replica promoted, REST answers again
within seconds with the data acknowledged before, and the room's read model is rebuilt
under the new cluster run id (never served as truth from a node that may have lost
writes). A client that ignored the slot map (everything to the seed) or MOVED would
fail most of these calls. Runs in the pytest process; no gateway (gateways=0)."""
import socket
import sys
import time
from pathlib import Path

import pytest

from rest_client import Client, assert_error

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.redis_cluster import RedisCluster  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    c = RedisCluster(masters=3, replicas=1)
    c.start()
    yield c
    c.stop()


def _poll(fn, timeout=30.0, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - REST may fail while the cluster heals
            last = e
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout}s: {last!r}")


def _history(c, room_id, user):
    r = c.get(f"/api/rooms/{room_id}/messages?limit=100", user["token"])
    assert r.status_code == 200, r.text
    return [(m["seq"], m.get("content")) for m in r.json()["messages"]]


def _members(c, room_id, user):
    r = c.get(f"/api/rooms/{room_id}/members", user["token"])
    assert r.status_code == 200, r.text
    return sorted(m["id"] for m in r.json()["members"])


class ShardSubscriber:
    """SSUBSCRIBE to one channel on one node (sharded pub/sub, what the gateways use in
    cluster mode); collects the raw bytes pushed."""

    def __init__(self, port, channel):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        ch = channel.encode()
        self.sock.sendall(b"*2\r\n$10\r\nSSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(ch), ch))
        self.data = b""
        self.wait_for(b"ssubscribe")

    def wait_for(self, needle, timeout=5.0):
        deadline = time.time() + timeout
        while needle not in self.data and time.time() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            self.data += chunk
        return needle in self.data

    def close(self):
        self.sock.close()


def _cluster_run_id(cluster):
    acc = 0
    for n in cluster.masters():
        info = cluster.cli(n["port"], "INFO", "server")
        acc ^= int(next(l.split(":", 1)[1] for l in info.splitlines()
                        if l.startswith("run_id:")).strip(), 16)
    return f"{acc:040x}"


def test_rest_on_cluster_and_failover(cluster, make_stack):
    masters = sorted(n["port"] for n in cluster.masters())
    assert len(masters) == 3
    seed = masters[0]
    s = make_stack(gateways=0, env={"REDIS_URL": f"redis://127.0.0.1:{seed}",
                                    "REDIS_CLUSTER": "1", "RATE_ROOM_CREATE_PER_MIN": "4"})
    c = Client(s)

    health = _poll(lambda: (lambda r: r if r.status_code == 200 else None)(c.get("/health")),
                   what="/health 200")
    assert health.json()["redis"] == "ok", health.text

    a = c.new_user()
    b = c.new_user()
    room = c.new_room(a)
    rid = room["id"]
    c.join(b, rid)
    c.leave(b, rid)
    c.join(b, rid)
    assert _members(c, rid, a) == sorted([a["id"], b["id"]])
    before = _history(c, rid, a)
    assert len(before) == 3, before
    assert _history(c, rid, b) == before  # a second read: from the window now

    # a rate limit (the Lua token bucket) refuses at its limit: 4 rooms a minute
    codes = [c.post("/api/rooms", {"name": f"rl {i}", "description": "", "is_private": False},
                    a["token"]).status_code for i in range(5)]
    assert codes == [201, 201, 201, 429, 429], codes
    assert_error(c.post("/api/rooms", {"name": "rl x", "description": "", "is_private": False},
                        a["token"]), 429, "rate_limited")

    # the keys really are spread: every master that holds data got it without redirects
    sizes = {p: int(cluster.cli(p, "DBSIZE")) for p in masters}
    assert sum(1 for n in sizes.values() if n > 0) >= 2, sizes
    meta = f"chat:{{{rid}}}:meta"
    owner = cluster.master_for_slot(cluster.keyslot(meta))
    run_before = _poll(lambda: cluster.cli(owner, "HGET", meta, "run") or None,
                       what="the room's window built")
    assert run_before == _cluster_run_id(cluster), run_before

    # failover of the master that owns the room's slot
    promoted = cluster.kill_master(owner)
    assert promoted != owner

    def healthy():
        r = c.get("/health")
        return r.status_code == 200 and r.json().get("redis") == "ok"

    t0 = time.time()
    _poll(lambda: _history(c, rid, a) == before, timeout=20, what="history after failover")
    _poll(healthy, timeout=20, what="/health ok after failover")
    assert time.time() - t0 < 20
    assert _members(c, rid, b) == sorted([a["id"], b["id"]])

    # the read model was rebuilt under the new cluster run id, not trusted as it was
    run_after = _poll(lambda: (lambda v: v if v and v != run_before else None)(
        cluster.cli(promoted, "HGET", meta, "run")), timeout=10, what="window rebuilt")
    assert len(run_after) == 40 and run_after != run_before
    assert run_after == _cluster_run_id(cluster)  # the XOR of the masters' run_ids

    # writes keep working on the promoted master (and elsewhere); the system message is
    # SPUBLISHed (from the window script) to the room's shard channel
    d = c.new_user()
    sub = ShardSubscriber(promoted, f"chat:room:{{{rid}}}")
    try:
        c.join(d, rid)
        assert sub.wait_for(b"joined the room"), sub.data
        assert b"smessage" in sub.data, sub.data
    finally:
        sub.close()
    assert _members(c, rid, a) == sorted([a["id"], b["id"], d["id"]])
    after = _history(c, rid, a)
    assert after[:3] == before and len(after) == 4, after
    assert int(cluster.cli(promoted, "DBSIZE")) > 0


def _chat_admin(stack, *args):
    import subprocess
    return subprocess.run([str(stack.build_dir / "rest-fcgi/chat-admin"), *args],
                          env=stack.server_env(), capture_output=True, text=True, timeout=30)


def test_rest_follows_slot_migration_and_admin(cluster, make_stack):
    """The room's slot moves to another master while REST runs: mid-migration every call
    is answered through -ASK (ASKING on the importing node), afterwards through -MOVED
    (the client's map is stale until it follows one). Then chat-admin (its own blocking
    client) deletes an account on the cluster and REST refuses its token."""
    masters = sorted(n["port"] for n in cluster.masters())
    s = make_stack(gateways=0, env={"REDIS_URL": f"redis://127.0.0.1:{masters[-1]}",
                                    "REDIS_CLUSTER": "1"})
    c = Client(s)
    a = c.new_user()
    b = c.new_user()
    room = c.new_room(a)
    rid = room["id"]
    c.join(b, rid)
    before = _history(c, rid, a)
    assert _members(c, rid, a) == sorted([a["id"], b["id"]])

    meta = f"chat:{{{rid}}}:meta"
    slot = cluster.keyslot(meta)
    src = cluster.master_for_slot(slot)
    dst = next(p for p in masters if p != src)
    src_id, dst_id = cluster.node_id(src), cluster.node_id(dst)
    cluster.cli(dst, "CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
    cluster.cli(src, "CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
    keys = cluster.cli(src, "CLUSTER", "GETKEYSINSLOT", slot, 1000).split()
    assert meta in keys, keys
    cluster.cli(src, "MIGRATE", cluster.host, dst, "", 0, 5000, "KEYS", *keys)
    assert int(cluster.cli(src, "CLUSTER", "COUNTKEYSINSLOT", slot)) == 0

    # mid-migration: the source answers -ASK for every key of the slot (reads; a write
    # that also creates a key the target lacks would get -TRYAGAIN until the move ends)
    assert _history(c, rid, b) == before
    assert _members(c, rid, a) == sorted([a["id"], b["id"]])

    # done: every master learns the new owner; the client's map still names the source
    for p in masters:
        cluster.cli(p, "CLUSTER", "SETSLOT", slot, "NODE", dst_id)
    assert cluster.master_for_slot(slot) == dst
    d = c.new_user()
    c.join(d, rid)
    assert _members(c, rid, a) == sorted([a["id"], b["id"], d["id"]])
    c.leave(d, rid)
    after = _history(c, rid, a)
    assert after[:len(before)] == before and len(after) == len(before) + 2, after
    assert _members(c, rid, b) == sorted([a["id"], b["id"]])
    assert cluster.cli(dst, "EXISTS", meta) == "1"

    # the admin tool on the cluster
    r = _chat_admin(s, "delete-user", d["id"])
    assert r.returncode == 0, r.stderr
    assert "Redis" not in r.stderr, r.stderr
    assert_error(c.get("/api/rooms", d["token"]), 401)
