"""test_chaos_short.py - runs the short form of the chaos suite (tests/chaos/chaos.py:
60 s of traffic, 3,000 messages from 50 clients on 3 gateways, while gateways are killed
and drained, Redis is frozen and restarted, FerretDB is restarted and one client stops
reading) and asserts that nothing acked was lost, nothing was delivered twice or out of
order, the stored seqs have no holes, resends were stored once and no gateway crashed
(docs/RELIABILITY.md).
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
    assert counts["acked_missing"] == 0, report
    assert counts["duplicated"] == 0, report
    assert counts["out_of_order"] == 0, report
    assert counts["seq_holes"] == 0, report
    assert counts["idempotency"] == 0, report
    assert counts["phantom"] == 0, report
    assert counts["gateway_crashes"] == 0, report
    totals = res["totals"]
    assert totals["clients"] >= 50 and totals["gateways"] >= 3, report
    assert totals["messages_sent"] >= 2000, report  # "a few thousand"
    assert totals["faults_applied"] >= 7, report
    # a run in which little got through would pass the counts vacuously
    assert totals["acked"] >= 0.9 * totals["messages_sent"], report
    assert proc.returncode == 0, report
