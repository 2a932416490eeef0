"""test_chaos_short.py - runs the short form of the chaos suite (tests/chaos/chaos.py:
60 s of traffic, 3,000 messages from 50 clients on 3 gateways plus 6 clients that keep
leaving and rejoining rooms, while gateways are killed and drained, Redis is frozen,
flushed (FLUSHALL, twice) and restarted, FerretDB is restarted and one client stops
reading) and asserts that every counter of the verifier, which reads MongoDB as the truth,
is 0: nothing acked lost, nothing stored twice, no seq gap or duplicate, nothing missed,
delivered twice or out of order, history pages and member lists as MongoDB has them, no
message to a removed member, no gateway crash (docs/RELIABILITY.md).
The suite starts its own stack (fresh processes on free ports), so it runs as a subprocess
with its own event loop; its report is printed on failure."""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_chaos_short(tmp_path):
    out = tmp_path / "chaos.json"
    cmd = [sys.executable, str(REPO / "tests/chaos/chaos.py"), "--json", str(out)]
    if os.environ.get("CHAT_BUILD_DIR"):
        cmd += ["--build-dir", os.environ["CHAT_BUILD_DIR"]]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    report = f"--- chaos.py stdout ---\n{proc.stdout[-20000:]}\n--- stderr ---\n{proc.stderr[-5000:]}"
    assert proc.returncode != 2, "the chaos stack did not start\n" + report
    assert out.exists(), report
    res = json.loads(out.read_text())
    counts = res["counts"]
    assert len(counts) >= 13, report
    assert {k: v for k, v in counts.items() if v} == {}, report
    totals = res["totals"]
    assert totals["clients"] >= 50 and totals["gateways"] >= 3, report
    assert totals["messages_sent"] >= 2000, report  # "a few thousand"
    assert totals["faults_applied"] >= 9, report
    assert totals["faults_by_kind"].get("Redis FLUSHALL", 0) >= 2, report
    assert totals["removals"] >= 10, report            # the churn ran
    assert totals["pages_checked"] >= 20, report       # pages were compared with MongoDB
    # a run in which little got through would pass the counts vacuously
    assert totals["acked"] >= 0.9 * totals["messages_sent"], report
    assert proc.returncode == 0, report
