"""test_cluster_gateway.py - the gateway's Redis Cluster mode (REDIS_CLUSTER=1,
ws-gateway/pubsub_cluster*.c) against a real 3-master / 3-replica cluster from
tests/harness/redis_cluster.py and a Stack with 2 gateways whose REDIS_URL names one seed
node:
  - fan-out through sharded pub/sub: clients on both gateways watch a room, a frame is
    SPUBLISHed on the room channel at the slot owner (as the store workers do), both
    gateways deliver it, and PUBSUB SHARDNUMSUB on the owner counts both gateways; each
    master carries each gateway's heartbeat channel;
  - failover: the owning master is SIGKILLed, its replica promoted; both gateways log the
    switch, subscribe the channel on the new owner, and the next SPUBLISH is delivered;
  - resharding: the room channel's slot is migrated to another master (IMPORTING /
    MIGRATING, keys MIGRATEd, SETSLOT NODE everywhere); the old owner pushes an unasked
    "sunsubscribe" (the push hiredis 0.14's async layer would abort on), both gateways
    resubscribe on the new owner and deliver what is SPUBLISHed there;
  - the full scenario (needs the blocking client, common/src/redis_sync.c, in cluster
    mode too, else REST and the store workers hit -MOVED): live sends through both
    gateways while the master of the room's slot is killed and replaced; the chaos
    suite's verifier (tests/chaos/verifier.py, MongoDB as the truth) then reports every
    counter 0: each acked message stored once, no seq gap, delivered once and in order to
    every member, nothing phantom, REST history and members as stored, no gateway crash.
Runs in the pytest process (redis-cli for the cluster, asyncio WebSocket clients)."""
import asyncio
import json
import secrets
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.redis_cluster import RedisCluster  # noqa: E402
from ws_client import api, connect, create_room, is_room_message, register, \
    wait_until  # noqa: E402
from chaos.rest_client import Rest  # noqa: E402
from chaos.verifier import check as verifier_check, read_mongo  # noqa: E402

RATES_OFF_EXTRA = {"REDIS_CLUSTER": "1"}


@pytest.fixture
def cluster():
    c = RedisCluster(masters=3, replicas=1)
    c.start()
    c.wait_replicas_online()
    yield c
    c.stop()


def _room_channel(room_id):
    return f"chat:room:{{{room_id}}}"


def _owner(cluster, channel):
    return cluster.master_for_slot(cluster.keyslot(channel))


def _shard_subscribers(cluster, port, channel):
    out = cluster.cli(port, "PUBSUB", "SHARDNUMSUB", channel).split()
    return int(out[-1]) if len(out) >= 2 else 0


def _frame(room_id, seq, content):
    """A room message as the store workers publish it (SPEC.md section 4 shape)."""
    return json.dumps({"type": "text", "id": secrets.token_hex(12), "room_id": room_id,
                       "user_id": "u" + secrets.token_hex(4), "username": "direct",
                       "content": content, "seq": seq,
                       "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())})


def _start(make_stack, cluster):
    seed = cluster.masters()[0]["port"]
    return make_stack(gateways=2, env={"REDIS_URL": f"redis://127.0.0.1:{seed}",
                                       **RATES_OFF_EXTRA})


def _texts(client, room_id):
    return [f for f in client.frames if is_room_message(f) and f.get("room_id") == room_id
            and f["type"] == "text"]


async def _one_watcher_per_gateway(stack, token, room):
    """One socket of the same user on each of the two gateways, both subscribed to room."""
    a = await connect(stack.gateway_ws_url(0), token, name="a@gw0")
    b = await connect(stack.gateway_ws_url(1), token, name="b@gw1")
    assert (await a.subscribe(room))["type"] == "subscribed"
    assert (await b.subscribe(room))["type"] == "subscribed"
    return a, b


def test_sharded_fanout_and_failover_direct(cluster, make_stack):
    stack = _start(make_stack, cluster)
    owner = register(stack.http_url)
    room = create_room(stack.http_url, owner["token"])
    channel = _room_channel(room)

    async def run():
        a, b = await _one_watcher_per_gateway(stack, owner["token"], room)
        port = _owner(cluster, channel)
        # both gateways hold an SSUBSCRIBE of the channel on its owner
        await asyncio.to_thread(wait_until, lambda: _shard_subscribers(cluster, port, channel) >= 2,
                                15, "SSUBSCRIBE from both gateways")
        # presence went to the master of the user's key (a routed async command)
        pkey = f"chat:presence:{owner['id']}"
        pport = cluster.master_for_slot(cluster.keyslot(pkey))
        await asyncio.to_thread(
            wait_until, lambda: cluster.cli(pport, "ZSCORE", pkey, "gw1").strip() != "", 10,
            "presence ZADD on the key's master")
        # each master carries a heartbeat channel of each gateway (per-node liveness)
        for m in cluster.masters():
            names = cluster.cli(m["port"], "PUBSUB", "SHARDCHANNELS", "chat:gw:*").split()
            for gw in ("gw0", "gw1"):
                assert any(n.startswith(f"chat:gw:{gw}:") for n in names), (m["port"], names)
        base = max([0] + [f["seq"] for c in (a, b) for f in _texts(c, room)])
        seq = base + 1
        cluster.cli(port, "SPUBLISH", channel, _frame(room, seq, "before failover"))
        for c in (a, b):
            await c.wait_for_new(lambda f: is_room_message(f) and f.get("seq") == seq, 0,
                                 timeout=10)

        new_port = await asyncio.to_thread(cluster.kill_master, port)
        assert _owner(cluster, channel) == new_port
        await asyncio.to_thread(wait_until,
                                lambda: _shard_subscribers(cluster, new_port, channel) >= 2,
                                30, "SSUBSCRIBE on the promoted replica")
        seq2 = seq + 1
        cluster.cli(new_port, "SPUBLISH", channel, _frame(room, seq2, "after failover"))
        for c in (a, b):
            await c.wait_for_new(lambda f: is_room_message(f) and f.get("seq") == seq2, 0,
                                 timeout=15)
        for c in (a, b):
            seqs = [f["seq"] for f in _texts(c, room) if f["seq"] in (seq, seq2)]
            assert seqs == [seq, seq2], (c.name, seqs)
        await a.close()
        await b.close()

    asyncio.run(run())
    for i in range(2):
        log = stack.log_text(f"gateway{i}")
        assert "redis cluster map changed" in log, log[-3000:]
        assert "redis connection lost" in log or "no longer serves slots" in log, log[-3000:]
        # the per-node heartbeat never went silent on a live node (3 x the timeout)
        assert "no heartbeat" not in log, log[-3000:]
        assert "redis refused" not in log, log[-3000:]


def _migrate_slot(cluster, slot, src, dst):
    """Moves slot (and its keys) from master src to master dst, the way redis-cli
    --cluster reshard does."""
    src_id, dst_id = cluster.node_id(src), cluster.node_id(dst)
    cluster.cli(dst, "CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
    cluster.cli(src, "CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
    while True:
        keys = cluster.cli(src, "CLUSTER", "GETKEYSINSLOT", slot, 100).split()
        if not keys:
            break
        cluster.cli(src, "MIGRATE", "127.0.0.1", dst, "", 0, 5000, "KEYS", *keys)
    for port in [dst, src] + [m["port"] for m in cluster.masters() if m["port"] not in (src, dst)]:
        cluster.cli(port, "CLUSTER", "SETSLOT", slot, "NODE", dst_id)


def test_slot_migration_moves_subscriptions(cluster, make_stack):
    stack = _start(make_stack, cluster)
    owner = register(stack.http_url)
    room = create_room(stack.http_url, owner["token"])
    channel = _room_channel(room)

    async def run():
        a, b = await _one_watcher_per_gateway(stack, owner["token"], room)
        slot = cluster.keyslot(channel)
        src = _owner(cluster, channel)
        dst = next(m["port"] for m in cluster.masters() if m["port"] != src)
        await asyncio.to_thread(wait_until, lambda: _shard_subscribers(cluster, src, channel) >= 2,
                                15, "SSUBSCRIBE from both gateways")
        await asyncio.to_thread(_migrate_slot, cluster, slot, src, dst)
        await asyncio.to_thread(wait_until, lambda: _shard_subscribers(cluster, dst, channel) >= 2,
                                20, "SSUBSCRIBE on the new owner")
        assert _shard_subscribers(cluster, src, channel) == 0
        base = max([0] + [f["seq"] for c in (a, b) for f in _texts(c, room)])
        cluster.cli(dst, "SPUBLISH", channel, _frame(room, base + 1, "after resharding"))
        for c in (a, b):
            await c.wait_for_new(lambda f: is_room_message(f) and f.get("seq") == base + 1, 0,
                                 timeout=10)
        await a.close()
        await b.close()

    asyncio.run(run())
    for i in range(2):
        log = stack.log_text(f"gateway{i}")
        assert "unsubscribed a channel (slot moved)" in log, log[-3000:]
        assert "redis cluster map changed" in log, log[-3000:]
        assert stack.gateways[i].alive(), f"gateway{i} died"


def _blocking_client_speaks_cluster(stack, token, room):
    """True when a message sent through a gateway is stored and acked against the
    cluster (the store workers' blocking Redis client follows -MOVED / SPUBLISHes)."""
    async def probe():
        c = await connect(stack.gateway_ws_url(0), token, name="probe")
        try:
            if (await c.subscribe(room))["type"] != "subscribed":
                return False
            r = await c.send_message(room, "probe", timeout=15)
            if r.get("type") != "ack":
                return False
            await c.wait_for_new(lambda f: is_room_message(f) and f.get("seq") == r["seq"], 0,
                                 timeout=5)
            return True
        except (TimeoutError, AssertionError):
            return False
        finally:
            await c.close()
    return asyncio.run(probe())


def _verifier_counts(stack, room, token, members, clients, acks):
    """The chaos suite's verifier (tests/chaos/verifier.py: MongoDB, read with pymongo, is
    the truth) over this run: every counter it reports, which must all be 0."""
    rest = Rest(stack.http_url)
    stored, mongo_members = read_mongo(stack.mongo_uri, stack.mongo_db, [room])
    data = {
        "rooms": [room], "stored": stored, "mongo_members": mongo_members,
        "rest_history": {room: rest.history(room, token)}, "pages": [],
        "rest_members": {room: sorted(rest.members(room, token))}, "member_probes": [],
        "expected_members": {room: sorted(members)}, "static_members": {room: sorted(members)},
        "churners": [], "settle_maxes": {},
        "crashes": [i for i in range(stack.n_gateways) if not stack.gateways[i].alive()],
        "clients": [{
            "idx": i, "user_id": user_id, "rooms": [room],
            "received": {room: [(f["seq"], f["id"], c.name, f.get("user_id"), f.get("content"),
                                 0.0) for f in c.frames
                                if is_room_message(f) and f.get("room_id") == room]},
            "acks": acks.get(i, {}), "ack_conflicts": [], "away": []}
            for i, (c, user_id) in enumerate(clients)]}
    counts, examples, totals = verifier_check(data)
    return counts, examples, totals


def test_live_traffic_through_failover_exactly_once(cluster, make_stack):
    stack = _start(make_stack, cluster)
    owner = register(stack.http_url)
    others = [register(stack.http_url) for _ in range(2)]
    room = create_room(stack.http_url, owner["token"])
    assert _blocking_client_speaks_cluster(stack, owner["token"], room), \
        "a message sent through a gateway was not stored and acked on the cluster"
    channel = _room_channel(room)
    n_per_sender = 60
    acks = {0: {}, 1: {}}  # client index -> {client_msg_id: (id, seq, room, content)}

    async def run():
        for o in others:
            status, _ = await asyncio.to_thread(api, stack.http_url, "POST",
                                                f"/api/rooms/{room}/join", o["token"])
            assert status == 200
        a = await connect(stack.gateway_ws_url(0), owner["token"], name="a@gw0")
        b = await connect(stack.gateway_ws_url(1), others[0]["token"], name="b@gw1")
        c = await connect(stack.gateway_ws_url(0), others[1]["token"], name="c@gw0")
        clients = [a, b, c]
        for cl_ in clients:  # from seq 1: every stream holds the whole room
            assert (await cl_.subscribe(room, after_seq=0))["type"] == "subscribed"
        port = _owner(cluster, channel)

        async def blast(client, idx, tag):
            acked = []
            for i in range(n_per_sender):
                cmid = f"{tag}-{i}"
                content = f"{tag} #{i}"
                for _attempt in range(30):  # resend (same client_msg_id) until acked
                    r = await client.send_message(room, content, cmid, timeout=20)
                    if r.get("type") == "ack":
                        acked.append(r["seq"])
                        acks[idx][cmid] = (r.get("id"), r["seq"], room, content)
                        break
                    await asyncio.sleep(0.3)
                await asyncio.sleep(0.02)
            return acked

        async def failover():
            await asyncio.sleep(0.5)
            await asyncio.to_thread(cluster.kill_master, port)

        results = await asyncio.gather(blast(a, 0, "A"), blast(b, 1, "B"), failover())
        acked = sorted(s for r in results[:2] for s in r)
        assert len(acked) == 2 * n_per_sender and len(set(acked)) == len(acked)
        for cl_ in clients:
            await cl_.wait_for_new(lambda f: is_room_message(f) and f["seq"] == acked[-1], 0,
                                   timeout=60)
        await asyncio.sleep(1.0)
        for cl_ in clients:
            await cl_.drain(0.3)
        for cl_ in clients:
            await cl_.close()
        return clients

    clients = asyncio.run(run())
    users = [owner["id"], others[0]["id"], others[1]["id"]]
    counts, examples, totals = _verifier_counts(stack, room, owner["token"], users,
                                                list(zip(clients, users)), acks)
    assert totals["acked"] == 2 * n_per_sender, totals
    assert totals["deliveries"] >= 3 * 2 * n_per_sender, totals
    assert all(v == 0 for v in counts.values()), (counts, examples)
