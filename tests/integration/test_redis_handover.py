"""test_redis_handover.py - a clean Redis restart keeps the read model (issue 9: the
windows and member sets were rebuilt from MongoDB after every restart, ~4 minutes at a
million messages): deploy/redis_handover.py's stop and take around a restart of a Redis
with its AOF on, on real processes. After the handover, history, subscribes with a
replay and membership read neither `messages` nor `room_members` (counted from the
servers' DB_TRACE lines); after a crash, or a stop without the handover, the read model
is rebuilt and answers the same. Runs in the pytest process."""
import asyncio
import signal
import sys
import time
from pathlib import Path

import pytest
import redis

from conftest import RATES_OFF
from harness.stack import Stack
from rest_client import Client
from test_read_model import _all_stored, _check_history, _send_many, _trace_lines
from ws_client import connect, is_room_message

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy"))
import redis_handover  # noqa: E402

ENV = {"DB_TRACE": "1", "HISTORY_WINDOW": "30"}
GW_READ_MODEL_CHECK_S = 2.0  # ws-gateway/read_model_warm.h GW_READ_MODEL_CHECK_MS
NAMES = ["lighttpd", "gateway0"]


def _marks(s):
    return {n: len(s.log_text(n)) for n in NAMES}


def _reads(s, since):
    """(component, collection) of every MongoDB read of messages or room_members."""
    return [(x.get("component"), x.get("collection")) for x in _trace_lines(s, NAMES, since)
            if x.get("op") == "read" and x.get("collection") in ("messages", "room_members")]


def _gateway_back(s, since, timeout=30.0):
    """Waits until gateway 0 logged both of its Redis connections (commands and pub/sub)
    since the byte offset since: it reconnects with a backoff, and until then its calls
    would not show what it does with the restarted server."""
    deadline = time.monotonic() + timeout
    while True:
        text = s.log_text("gateway0")[since:]
        if all(f'"msg":"redis connected","conn_kind":"{k}"' in text for k in ("cmd", "sub")):
            return text
        assert time.monotonic() < deadline, text[-3000:]
        time.sleep(0.1)


def _run_id(s):
    return redis.Redis.from_url(s.redis_url).info("server")["run_id"]


def _room_with_history(s, n):
    """A room with an owner, a reader and n messages sent over the gateway; its whole
    history read once (every window and set built): (client, owner, reader, room, stored)."""
    c = Client(s)
    owner, reader = c.new_user(), c.new_user()
    room = c.new_room(owner)["id"]
    c.join(reader, room)

    async def send():
        ws = await connect(s.gateway_ws_url(0), owner["token"], name="sender")
        assert (await ws.subscribe(room))["type"] == "subscribed"
        await _send_many(ws, room, n, "before")
        await ws.close()

    asyncio.run(send())
    stored = _all_stored(c, reader, room)
    assert len(stored) >= n  # and the join's notice
    _check_history(c, reader, room, stored)
    return c, owner, reader, room, stored


def _in_window(c, user, room, stored):
    """Pages inside the window (HISTORY_WINDOW 30) checked against stored: none of them
    reads MongoDB while the window is built."""
    ids = [m["id"] for m in stored]
    head, n = stored[-1]["seq"], len(stored)
    for q, want in (("?limit=20", ids[-20:]), ("?limit=10&offset=5", ids[-15:-5]),
                    (f"?before_seq={head - 10}&limit=15", ids[-26:-11]),
                    (f"?after_seq={head - 25}&limit=20", ids[-25:-5])):
        p = c.get(f"/api/rooms/{room}/messages{q}", user["token"])
        assert p.status_code == 200, p.text
        assert [m["id"] for m in p.json()["messages"]] == want, q
        assert p.json()["total"] == n


async def _replay(s, user, room, after, head):
    ws = await connect(s.gateway_ws_url(0), user["token"], name="replay")
    assert (await ws.subscribe(room, after_seq=after))["type"] == "subscribed"
    await ws.wait_for_new(lambda f: is_room_message(f) and f["seq"] == head, 0, 10)
    got = [f["seq"] for f in ws.frames if is_room_message(f)]
    await ws.close()
    return got


def test_a_clean_restart_hands_the_read_model_over(make_stack):
    s = make_stack(gateways=1, env=ENV, redis_aof=True)
    c, owner, reader, room, stored = _room_with_history(s, 80)
    head = stored[-1]["seq"]
    old_run = _run_id(s)

    since = len(s.log_text("gateway0"))
    assert s.stop_redis(hand_over=True) == old_run
    s.start_redis()
    assert s.redis_epoch == old_run
    m = _marks(s)
    _gateway_back(s, since)
    # two of the gateway's periodic looks at the windows' mark: it is this epoch's
    time.sleep(2 * GW_READ_MODEL_CHECK_S + 0.5)
    assert "read model lost mid-run" not in s.log_text("gateway0")[since:]
    r = redis.Redis.from_url(s.redis_url, decode_responses=True)
    new_run = r.info("server")["run_id"]
    assert new_run != old_run
    assert r.get("chat:redis:epoch") == f"{new_run} {old_run}"
    assert r.get("chat:redis:handover") is None
    # the take is on disk before the port opened: appendfsync is back to its setting
    assert r.config_get("appendfsync")["appendfsync"] == "everysec"

    _in_window(c, reader, room, stored)
    assert asyncio.run(_replay(s, reader, room, head - 20, head)) == list(range(head - 19, head + 1))
    assert c.get(f"/api/rooms/{room}/members", reader["token"]).status_code == 200
    assert _reads(s, m) == [], "the restarted Redis rebuilt what was handed over"
    _check_history(c, reader, room, stored)

    # messages sent after the restart join the handed-over window
    async def more():
        ws = await connect(s.gateway_ws_url(0), owner["token"], name="after")
        assert (await ws.subscribe(room))["type"] == "subscribed"
        acks = await _send_many(ws, room, 10, "after")
        await ws.close()
        return acks

    acks = asyncio.run(more())
    assert [a["seq"] for a in acks] == list(range(head + 1, head + 11))
    after = _all_stored(c, reader, room)
    assert [x["id"] for x in after[:len(stored)]] == [x["id"] for x in stored]
    _check_history(c, reader, room, after)

    # a second clean restart hands the same epoch on
    assert s.stop_redis(hand_over=True) == old_run
    s.start_redis()
    assert s.redis_epoch == old_run
    m = _marks(s)
    _in_window(c, reader, room, after)
    assert _reads(s, m) == []


def test_a_whole_stack_restart_keeps_the_read_model(tmp_path):
    """`make run`'s case: Ctrl-C stops every process (Stack.stop hands Redis's read model
    over once the servers are down) and the next start runs on the same data: no
    rebuild at the gateway's start nor at the first reads."""
    env = dict(RATES_OFF, **ENV)
    work = tmp_path / "stack"
    s = Stack(gateways=1, env=env, workdir=work, redis_aof=True)
    try:
        s.start()
        _c, _owner, reader, room, stored = _room_with_history(s, 60)
        head = stored[-1]["seq"]
        old_run = _run_id(s)
    finally:
        s.stop()
    s = Stack(gateways=1, env=env, workdir=work, redis_aof=True)
    try:
        m = _marks(s)  # the logs are appended to: everything this start logs counts
        s.start()
        assert s.redis_epoch == old_run
        c = Client(s)
        reader["token"] = c.login(reader["email"])
        _in_window(c, reader, room, stored)
        assert asyncio.run(_replay(s, reader, room, head - 20, head)) == list(range(head - 19, head + 1))
        assert _reads(s, m) == [], "the next start rebuilt the read model"
    finally:
        s.stop()


def test_a_crash_after_the_take_or_a_plain_stop_rebuilds(make_stack):
    s = make_stack(gateways=1, env=ENV, redis_aof=True)
    c, _owner, reader, room, stored = _room_with_history(s, 60)
    head = stored[-1]["seq"]
    s.stop_redis(hand_over=True)
    s.start_redis()
    assert s.redis_epoch

    # a crash: the AOF still holds the taken epoch, but it names the crashed run; the
    # window is read again from MongoDB (by REST's first read or the gateway's warm-up,
    # whichever comes first)
    since = len(s.log_text("gateway0"))
    m = _marks(s)
    s.redis.stop(sig=signal.SIGKILL)
    s.start_redis()
    assert s.redis_epoch is None
    _gateway_back(s, since)
    _in_window(c, reader, room, stored)
    assert asyncio.run(_replay(s, reader, room, head - 10, head)) == list(range(head - 9, head + 1))
    assert "messages" in {coll for _, coll in _reads(s, m)}, "a crashed Redis's read model was trusted"
    _check_history(c, reader, room, stored)

    # a stop by signal (SIGTERM: Redis saves, but nobody handed anything over)
    m = _marks(s)
    s.stop_redis()
    s.start_redis()
    assert s.redis_epoch is None
    _in_window(c, reader, room, stored)
    assert "messages" in {coll for _, coll in _reads(s, m)}
    _check_history(c, reader, room, stored)


def test_without_the_aof_a_handover_is_dropped_not_taken(make_stack):
    """A snapshot alone could bring a taken handover back after a crash, so without the
    AOF the take drops the key and the stop hands nothing over."""
    s = make_stack(gateways=0, env=ENV)  # the test stacks' Redis: no AOF
    r = redis.Redis.from_url(s.redis_url, decode_responses=True)
    r.set(redis_handover.HANDOVER_KEY, "0" * 40)
    conn = redis_handover.Resp(url=s.redis_url)
    try:
        assert redis_handover.take_over(conn) is None
    finally:
        conn.close()
    assert r.get(redis_handover.HANDOVER_KEY) is None and r.get(redis_handover.EPOCH_KEY) is None
    assert s.stop_redis(hand_over=True) is None
    assert not s.redis.alive()


def test_epoch_of_follows_only_this_run():
    assert redis_handover.epoch_of(None, "b" * 40) == "b" * 40
    assert redis_handover.epoch_of("b" * 40 + " " + "a" * 40, "b" * 40) == "a" * 40
    assert redis_handover.epoch_of("c" * 40 + " " + "a" * 40, "b" * 40) == "b" * 40
    assert redis_handover.epoch_of("garbage", "b" * 40) == "b" * 40


def test_a_redis_with_an_acl_user_is_handed_over_too(make_stack):
    """Both steps authenticate from REDIS_URL, on the private socket too."""
    s = make_stack(gateways=0, env=ENV, redis_aof=True, redis_user="chat",
                   redis_password="handover-" + "x" * 24)
    run = redis.Redis.from_url(s.redis_url).info("server")["run_id"]
    assert s.stop_redis(hand_over=True) == run
    s.start_redis()
    assert s.redis_epoch == run
    assert Client(s).get("/health").status_code == 200


def test_a_handover_redis_refuses_is_undone(make_stack):
    """A Redis out of memory refuses the handover's SET: the stop fails, Redis keeps
    running with no handover key and no pause on anybody's writes."""
    s = make_stack(gateways=0, env=ENV, redis_aof=True)
    r = redis.Redis.from_url(s.redis_url, decode_responses=True)
    r.config_set("maxmemory", "1")
    conn = redis_handover.Resp(url=s.redis_url)
    try:
        with pytest.raises(redis_handover.RespError, match="OOM"):
            redis_handover.hand_over(conn)
    finally:
        conn.close()
    r.config_set("maxmemory", "0")
    assert s.redis.alive()
    assert r.get(redis_handover.HANDOVER_KEY) is None
    t0 = time.monotonic()
    assert r.set("after-a-refused-handover", "1")
    assert time.monotonic() - t0 < 5  # not held by a pause (30 s)
