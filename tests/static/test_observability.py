"""test_observability.py - offline checks of the monitoring files with the real tools:
promtool checks deploy/prometheus/alerts.yml and prometheus.yml and runs the alert unit
tests (alerts_test.yml); every PromQL expression of the Grafana dashboard is checked by
promtool too (as recording rules); alerts and dashboard use only the metric names the
servers export (the list below, agreed with the C side) and the dashboard shows every
one of them; every alert has its runbook section in docs/OPERATIONS.md."""
import json
import re
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
PROM = REPO / "deploy/prometheus"
DASHBOARD = REPO / "deploy/grafana/chat-dashboard.json"

GATEWAY_METRICS = {
    "chat_gateway_sockets_open": "gauge", "chat_gateway_sockets_opened_total": "counter",
    "chat_gateway_sockets_closed_total": "counter", "chat_gateway_rooms_watched": "gauge",
    "chat_gateway_frames_in_total": "counter", "chat_gateway_frames_out_total": "counter",
    "chat_gateway_messages_stored_total": "counter",
    "chat_gateway_messages_acked_total": "counter",
    "chat_gateway_store_seconds": "histogram", "chat_gateway_ack_seconds": "histogram",
    "chat_gateway_message_phase_seconds": "histogram",
    "chat_gateway_delivery_seconds": "histogram", "chat_gateway_deliveries_total": "counter",
    "chat_gateway_fanout_seconds": "histogram", "chat_gateway_write_round_seconds": "histogram",
    "chat_gateway_send_queue_frames": "gauge",
    "chat_gateway_slow_consumer_closes_total": "counter",
    "chat_gateway_resume_replays_total": "counter", "chat_gateway_backfills_total": "counter",
    "chat_gateway_redis_up": "gauge", "chat_gateway_mongo_up": "gauge",
    "chat_gateway_rate_limited_total": "counter",
    "chat_gateway_batch_entries_skipped_total": "counter",
    "chat_gateway_log_lines_dropped_total": "counter",
    "chat_gateway_read_model_warms_total": "counter",
    "chat_gateway_read_model_warm_seconds": "histogram",
}
API_METRICS = {
    "chat_api_requests_total": "counter", "chat_api_request_seconds": "histogram",
    "chat_api_redis_up": "gauge", "chat_api_mongo_up": "gauge",
}
PROCESS_METRICS = {"process_resident_memory_bytes": "gauge", "process_open_fds": "gauge"}
ALL = {**GATEWAY_METRICS, **API_METRICS, **PROCESS_METRICS}


def allowed_series_names():
    names = {"up"}
    for name, kind in ALL.items():
        if kind == "histogram":
            names |= {name + "_bucket", name + "_sum", name + "_count"}
        else:
            names.add(name)
    return names


def metric_names(expr):
    """Every chat_*/process_* identifier and `up{...}` in a PromQL expression (label
    values in quotes are removed first)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return set(re.findall(r"\b((?:chat|process)_[a-z0-9_]+|up(?=\s*\{))", expr))


def run(*argv, cwd=None):
    r = subprocess.run(list(argv), capture_output=True, text=True, cwd=cwd)
    return r.returncode, r.stdout + r.stderr


def alert_rules():
    doc = yaml.safe_load((PROM / "alerts.yml").read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def dashboard_targets():
    dash = json.loads(DASHBOARD.read_text())
    return dash, [(p["title"], t["expr"]) for p in dash["panels"] for t in p.get("targets", [])]


def test_promtool_checks_the_alert_rules():
    rc, out = run("promtool", "check", "rules", str(PROM / "alerts.yml"))
    assert rc == 0, out
    assert "SUCCESS" in out


def test_alert_unit_tests_pass():
    rc, out = run("promtool", "test", "rules", "alerts_test.yml", cwd=PROM)
    assert rc == 0, out
    # and every alert is exercised by at least one unit test or stated as untested below
    tested = set(re.findall(r"alertname:\s*(\w+)", (PROM / "alerts_test.yml").read_text()))
    untested_by_design = {"ChatDeliveryLatencyHigh", "ChatSlowConsumersClosed",
                          "ChatApiLatencyHigh", "ChatGatewayNearFdLimit",
                          "ChatGatewayMemoryHigh", "ChatRateLimitingSpike"}
    names = {r["alert"] for r in alert_rules()}
    assert names - tested == untested_by_design, names - tested


def test_promtool_checks_the_scrape_config():
    rc, out = run("promtool", "check", "config", str(PROM / "prometheus.yml"))
    assert rc == 0, out


def test_alerts_use_only_exported_metrics_and_have_runbooks():
    allowed = allowed_series_names()
    ops = (REPO / "docs/OPERATIONS.md").read_text()
    headings = {h.strip() for h in re.findall(r"^#{2,4}\s+(.+)$", ops, re.M)}
    names = []
    for rule in alert_rules():
        names.append(rule["alert"])
        used = metric_names(rule["expr"])
        assert used, rule["alert"]
        assert used <= allowed, (rule["alert"], used - allowed)
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"]
        anchor = rule["annotations"]["runbook"]
        assert anchor == f"docs/OPERATIONS.md#{rule['alert'].lower()}", anchor
        assert rule["alert"] in headings, f"docs/OPERATIONS.md has no section {rule['alert']}"
    assert len(names) == len(set(names))


def test_dashboard_uses_only_exported_metrics_and_shows_all_of_them():
    dash, targets = dashboard_targets()
    allowed = allowed_series_names()
    shown = set()
    for title, expr in targets:
        used = metric_names(expr)
        assert used <= allowed, (title, used - allowed)
        shown |= {re.sub(r"_(bucket|sum|count)$", "", m) if ALL.get(
            re.sub(r"_(bucket|sum|count)$", "", m)) == "histogram" else m for m in used}
    assert set(ALL) - shown == set(), f"not on the dashboard: {set(ALL) - shown}"
    # it works with whatever the Prometheus data source is called
    kinds = {v["name"]: v["type"] for v in dash["templating"]["list"]}
    assert kinds.get("datasource") == "datasource"
    for p in dash["panels"]:
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}", p["title"]


def test_dashboard_queries_are_valid_promql(tmp_path):
    _, targets = dashboard_targets()
    rules = []
    for i, (title, expr) in enumerate(targets):
        e = expr.replace("$__rate_interval", "5m").replace("$instance", ".*")
        assert "$" not in e, (title, expr)
        rules.append({"record": f"dashboard:panel_{i}", "expr": e})
    f = tmp_path / "dashboard_rules.yml"
    f.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    rc, out = run("promtool", "check", "rules", str(f))
    assert rc == 0, out


def test_dashboard_layout():
    dash, _ = dashboard_targets()
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    cells = {}
    for p in dash["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]
    assert dash["uid"] and dash["title"]
