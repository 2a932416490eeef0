"""test_redis_cluster.py - the C Redis Cluster module (common/src/redis_cluster.c, loaded
through ctypes from the probe library tests/unit/CMakeLists.txt builds) against a real
6-node cluster from tests/harness/redis_cluster.py:
  - its key slots equal the server's CLUSTER KEYSLOT (hash tags, random keys);
  - the slot map it builds from CLUSTER SLOTS (raw RESP off the socket, parsed by
    hiredis's reader) covers all slots with the 3 masters, and every key SET/GET on the
    node it names succeeds with a plain, non-cluster connection (no redirect);
  - the node that does not own a key answers -MOVED, which the C parser reads as that
    key's slot and owner; a slot in migration answers -ASK to the importing node;
  - after a master is killed and its replica promoted, a fresh map names the replica,
    the stale one is corrected by the MOVED it gets, and the data acked with WAIT is
    there. Runs in the pytest process (redis-cli and a socket for raw replies)."""
import ctypes
import os
import secrets
import socket
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.redis_cluster import RedisCluster  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
HOST_LEN, ID_LEN = 256, 41
MOVED, ASK = 1, 2
OK, ERR_INVALID, ERR_NOT_FOUND = 0, 2, 3


class Node(ctypes.Structure):
    _fields_ = [("host", ctypes.c_char * HOST_LEN), ("port", ctypes.c_int),
                ("id", ctypes.c_char * ID_LEN)]


class Redirect(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("slot", ctypes.c_uint),
                ("host", ctypes.c_char * HOST_LEN), ("port", ctypes.c_int)]


def _probe_path():
    for d in (os.environ.get("CHAT_BUILD_DIR"), str(REPO / "build")):
        if d:
            p = Path(d) / "tests/unit/libchat_redis_cluster_probe.so"
            if p.exists():
                return p
    raise AssertionError("libchat_redis_cluster_probe.so not built (make build)")


class C:
    """The C functions, typed."""

    def __init__(self):
        self.lib = lib = ctypes.CDLL(str(_probe_path()))
        self.hiredis = h = ctypes.CDLL("libhiredis.so.0.14")
        lib.chat_redis_cluster_key_slot.restype = ctypes.c_uint
        lib.chat_redis_cluster_key_slot.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        lib.chat_redis_cluster_parse_redirect.argtypes = [ctypes.c_char_p, ctypes.c_size_t,
                                                          ctypes.POINTER(Redirect)]
        lib.chat_redis_cluster_map_create.argtypes = [ctypes.c_void_p,
                                                      ctypes.POINTER(ctypes.c_void_p)]
        lib.chat_redis_cluster_map_destroy.argtypes = [ctypes.c_void_p]
        lib.chat_redis_cluster_map_lookup_key.restype = ctypes.POINTER(Node)
        lib.chat_redis_cluster_map_lookup_key.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                                          ctypes.c_size_t]
        lib.chat_redis_cluster_map_node_count.restype = ctypes.c_size_t
        lib.chat_redis_cluster_map_node_count.argtypes = [ctypes.c_void_p]
        lib.chat_redis_cluster_map_covers_all.restype = ctypes.c_bool
        lib.chat_redis_cluster_map_covers_all.argtypes = [ctypes.c_void_p]
        lib.chat_redis_cluster_map_apply_moved.argtypes = [ctypes.c_void_p,
                                                           ctypes.POINTER(Redirect)]
        h.redisReaderCreate.restype = ctypes.c_void_p
        h.redisReaderFeed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        h.redisReaderGetReply.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
        h.redisReaderFree.argtypes = [ctypes.c_void_p]
        h.freeReplyObject.argtypes = [ctypes.c_void_p]

    def slot(self, key: bytes):
        return self.lib.chat_redis_cluster_key_slot(key, len(key))

    def redirect(self, text: bytes):
        r = Redirect()
        rc = self.lib.chat_redis_cluster_parse_redirect(text, len(text), ctypes.byref(r))
        return rc, r

    def map_from_resp(self, raw: bytes):
        """A slot map (a handle to destroy) from raw CLUSTER SLOTS RESP bytes."""
        reader = self.hiredis.redisReaderCreate()
        reply = ctypes.c_void_p()
        try:
            assert self.hiredis.redisReaderFeed(reader, raw, len(raw)) == 0
            assert self.hiredis.redisReaderGetReply(reader, ctypes.byref(reply)) == 0
            assert reply.value, "incomplete reply"
            m = ctypes.c_void_p()
            rc = self.lib.chat_redis_cluster_map_create(reply, ctypes.byref(m))
            assert rc == OK, rc
            return m
        finally:
            if reply.value:
                self.hiredis.freeReplyObject(reply)
            self.hiredis.redisReaderFree(reader)

    def lookup(self, m, key: bytes):
        p = self.lib.chat_redis_cluster_map_lookup_key(m, key, len(key))
        return (p.contents.host.decode(), p.contents.port) if p else None


def raw_command(host, port, *args):
    """Sends one command and returns the complete raw RESP reply (bytes)."""
    parts = [f"*{len(args)}\r\n".encode()]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"".join(parts))
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if _complete(buf):
                return buf
    raise AssertionError(f"connection closed mid-reply: {buf!r}")


def raw_commands(host, port, *commands):
    """Sends several commands on one connection (READONLY needs that) and returns the
    raw reply of the last one."""
    with socket.create_connection((host, port), timeout=5) as s:
        reply = b""
        for args in commands:
            parts = [f"*{len(args)}\r\n".encode()]
            for a in args:
                a = a if isinstance(a, bytes) else str(a).encode()
                parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
            s.sendall(b"".join(parts))
            reply = b""
            while not reply or not _complete(reply):
                chunk = s.recv(65536)
                if not chunk:
                    raise AssertionError(f"connection closed mid-reply: {reply!r}")
                reply += chunk
        return reply


def _complete(buf):
    """True when buf holds one whole RESP2 reply."""
    def parse(i):
        if i >= len(buf):
            raise IndexError
        end = buf.index(b"\r\n", i)
        t, line = buf[i:i + 1], buf[i + 1:end]
        i = end + 2
        if t in b"+-:":
            return i
        if t == b"$":
            n = int(line)
            if n < 0:
                return i
            if len(buf) < i + n + 2:
                raise IndexError
            return i + n + 2
        if t == b"*":
            for _ in range(max(int(line), 0)):
                i = parse(i)
            return i
        raise AssertionError(f"unknown RESP type {t!r}")
    try:
        return parse(0) == len(buf)
    except (IndexError, ValueError):
        return False


@pytest.fixture(scope="module")
def cluster():
    with RedisCluster() as c:
        c.wait_replicas_online()
        yield c


@pytest.fixture(scope="module")
def c_lib():
    return C()


KEYS = [b"foo", b"bar", b"{user1000}.following", b"{user1000}.followers", b"foo{}{bar}",
        b"foo{{bar}}zap", b"foo{bar}{zap}", b"{", b"}", b"{}", b"a}b{c}", b"",
        b"chat:room:65a1b2c3d4e5f60718293a4b", b"{chat:room:65a1b2c3d4e5f60718293a4b}:seq",
        b"\x00{\xff}\x01", "ключ{тег}".encode()]


def test_key_slots_match_the_server(cluster, c_lib):
    port = cluster.live_ports()[0]
    keys = KEYS + [secrets.token_bytes(n % 24) for n in range(300)]
    for key in keys:
        raw = raw_command(cluster.host, port, b"CLUSTER", b"KEYSLOT", key)
        assert raw.startswith(b":"), raw
        assert c_lib.slot(key) == int(raw[1:-2]), key


def test_slot_map_routes_every_key_without_redirect(cluster, c_lib):
    raw = raw_command(cluster.host, cluster.live_ports()[0], "CLUSTER", "SLOTS")
    m = c_lib.map_from_resp(raw)
    try:
        assert c_lib.lib.chat_redis_cluster_map_node_count(m) == 3
        assert c_lib.lib.chat_redis_cluster_map_covers_all(m)
        masters = {n["port"] for n in cluster.masters()}
        used = set()
        for i in range(60):
            key = f"route:{i}:{secrets.token_hex(4)}".encode()
            host, port = c_lib.lookup(m, key)
            assert host == cluster.host and port in masters
            used.add(port)
            # a plain connection to the named node: it must own the key (no MOVED)
            assert raw_command(host, port, b"SET", key, b"v%d" % i) == b"+OK\r\n"
            assert raw_command(host, port, b"GET", key) == b"$%d\r\nv%d\r\n" % (
                len(b"v%d" % i), i)
        assert used == masters  # 60 random keys land on every master
    finally:
        c_lib.lib.chat_redis_cluster_map_destroy(m)


def test_moved_from_a_wrong_node_parses_to_the_owner(cluster, c_lib):
    key = b"moved-test"
    slot = c_lib.slot(key)
    owner = cluster.master_for_slot(slot)
    other = next(n["port"] for n in cluster.masters() if n["port"] != owner)
    raw = raw_command(cluster.host, other, b"GET", key)
    assert raw.startswith(b"-MOVED "), raw
    rc, r = c_lib.redirect(raw)  # the wire form: '-' and CRLF included
    assert rc == OK
    assert (r.kind, r.slot, r.host.decode(), r.port) == (MOVED, slot, cluster.host, owner)
    rc, _ = c_lib.redirect(raw_command(cluster.host, owner, b"GET", b"no-such-cmd-arg",
                                       b"extra"))
    assert rc == ERR_NOT_FOUND  # "-ERR wrong number of arguments" is no redirect


def test_ask_during_slot_migration(cluster, c_lib):
    key = b"ask-test"
    slot = c_lib.slot(key)
    src = cluster.master_for_slot(slot)
    dst = next(n["port"] for n in cluster.masters() if n["port"] != src)
    src_id, dst_id = cluster.node_id(src), cluster.node_id(dst)
    cluster.cli(dst, "CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
    cluster.cli(src, "CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
    try:
        # the key is not on the source any more (never was): it sends us to the target
        raw = raw_command(cluster.host, src, b"GET", key)
        assert raw.startswith(b"-ASK "), raw
        rc, r = c_lib.redirect(raw)
        assert rc == OK
        assert (r.kind, r.slot, r.host.decode(), r.port) == (ASK, slot, cluster.host, dst)
        # an ASK is one-off: it must not move the slot in the map
        m = c_lib.map_from_resp(raw_command(cluster.host, src, "CLUSTER", "SLOTS"))
        try:
            assert c_lib.lib.chat_redis_cluster_map_apply_moved(m, ctypes.byref(r)) == \
                ERR_INVALID
            assert c_lib.lookup(m, key) == (cluster.host, src)
        finally:
            c_lib.lib.chat_redis_cluster_map_destroy(m)
    finally:
        cluster.cli(src, "CLUSTER", "SETSLOT", slot, "STABLE")
        cluster.cli(dst, "CLUSTER", "SETSLOT", slot, "STABLE")


def test_failover_moves_the_slots_to_the_replica(cluster, c_lib):
    key = b"{failover}:k"
    slot = c_lib.slot(key)
    cluster.wait_replicas_online()
    old = c_lib.map_from_resp(raw_command(cluster.host, cluster.live_ports()[0],
                                          "CLUSTER", "SLOTS"))
    try:
        host, master = c_lib.lookup(old, key)
        assert master == cluster.master_for_slot(slot)
        # the master's own list of replicas in sync (INFO replication), not a node's
        # CLUSTER NODES view, which can still list a replica that is resyncing
        replicas = [int(line.split("port=")[1].split(",")[0])
                    for line in cluster.cli(master, "INFO", "replication").splitlines()
                    if line.startswith("slave") and "state=online" in line]
        assert replicas, cluster.cli(master, "INFO", "replication")
        assert raw_command(host, master, b"SET", key, b"kept") == b"+OK\r\n"
        # acknowledged by every replica before the master dies
        assert raw_command(host, master, b"WAIT", str(len(replicas)).encode(), b"5000") == \
            b":%d\r\n" % len(replicas)
        for r in replicas:  # the data is on every replica before the master dies
            # (a read can trail the WAIT acknowledgement by a moment: CI saw one replica
            # answer nil right after WAIT 1 had returned 1, so give it 5 s)
            deadline = time.time() + 5
            while True:
                got = raw_commands(host, r, (b"READONLY",), (b"GET", key))
                if got == b"$4\r\nkept\r\n" or time.time() > deadline:
                    break
                time.sleep(0.05)
            assert got == b"$4\r\nkept\r\n", (r, got, cluster.cli(r, "INFO", "replication"))

        promoted = cluster.kill_master(master)
        assert promoted in replicas

        fresh = c_lib.map_from_resp(raw_command(cluster.host, promoted, "CLUSTER", "SLOTS"))
        try:
            assert c_lib.lib.chat_redis_cluster_map_covers_all(fresh)
            assert c_lib.lookup(fresh, key) == (cluster.host, promoted)
        finally:
            c_lib.lib.chat_redis_cluster_map_destroy(fresh)
        assert raw_command(cluster.host, promoted, b"GET", key) == b"$4\r\nkept\r\n"

        # a client with the stale map asks another master, gets MOVED, and corrects it
        other = next(n["port"] for n in cluster.masters() if n["port"] != promoted)
        raw = raw_command(cluster.host, other, b"GET", key)
        rc, r = c_lib.redirect(raw)
        assert rc == OK and r.kind == MOVED and r.port == promoted, raw
        assert c_lib.lib.chat_redis_cluster_map_apply_moved(old, ctypes.byref(r)) == OK
        assert c_lib.lookup(old, key) == (cluster.host, promoted)
    finally:
        c_lib.lib.chat_redis_cluster_map_destroy(old)
