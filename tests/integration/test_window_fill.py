"""test_window_fill.py - the message window's rebuild script (common/lua/win_fill.lua, run
by common/src/history.c after a Redis flush or restart) against a real redis-server: a
rebuild that needs a second round (messages stored while the first round read MongoDB,
whose writers appended some of them already) must keep everything it stored in the first
round. Before the fix the second round set the window's lower edge to the first seq of
its own small page and trimmed the rest, so after a FLUSHALL under traffic a room's
window could hold two messages and every history page, replay and backfill became a
MongoDB read (docs/RELIABILITY.md, the chaos runs with FLUSHALL).
Runs the script as it is in the repository (EVAL), in this test's own redis-server."""
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

redis = pytest.importorskip("redis")

REPO = Path(__file__).resolve().parents[2]
FILL = (REPO / "common/lua/win_fill.lua").read_text()
APPEND = (REPO / "common/lua/win_append.lua").read_text()
ROOM = "6b0000000000000000000001"
KEYS = [f"chat:{{{ROOM}}}:win", f"chat:{{{ROOM}}}:meta", f"chat:{{{ROOM}}}:cmids"]


@pytest.fixture
def r(tmp_path):
    from harness.stack import free_port  # tests/ is on sys.path (conftest.py)
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server")
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield client
    finally:
        proc.terminate()
        proc.wait(10)


def msg(seq):
    return json.dumps({"id": f"{seq:024x}", "room_id": ROOM, "seq": seq, "content": f"m{seq}"})


def triples(seqs):
    out = []
    for s in seqs:
        out += [s, msg(s), ""]
    return out


def test_second_fill_round_keeps_the_first_rounds_messages(r):
    run = r.info("server")["run_id"]
    size = 500
    # a writer appended seq 13 after the flush, before the window was rebuilt
    r.eval(APPEND, 3, *KEYS, run, size, "", *triples([13]))
    # round 1: MongoDB answered 1..10 (newest, top 10): 11 and 12 are stored but their
    # writers have not appended yet, 13 is above: not ready
    state, hi, pending = r.eval(FILL, 3, *KEYS, run, size, 10, *triples(range(1, 11)))
    assert (state, hi, pending) == (0, 10, 13)
    # round 2: history.c reads 11..12 from MongoDB and fills again with top 12
    state, lo, hi = r.eval(FILL, 3, *KEYS, run, size, 12, *triples([11, 12]))
    assert state == 1 and hi == 13
    assert lo == 1, "the window dropped what the first round stored"
    meta = r.hgetall(KEYS[1])
    assert (meta["lo"], meta["hi"]) == ("1", "13")
    assert [int(s) for _, s in r.zrange(KEYS[0], 0, -1, withscores=True)] == list(range(1, 14))


def test_fill_still_caps_the_window_at_its_size(r):
    run = r.info("server")["run_id"]
    state, lo, hi = r.eval(FILL, 3, *KEYS, run, 5, 12, *triples(range(3, 13)))
    assert (state, lo, hi) == (1, 8, 12)
    assert r.zcard(KEYS[0]) == 5
