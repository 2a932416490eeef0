"""test_metrics.py - /metrics on real processes (issue 12, Metrics): every gateway serves
Prometheus text on its own port and lighttpd serves the REST side (all FastCGI processes
counted through shared memory) only with METRICS_PUBLIC=1; `promtool check metrics`
passes on both; the values follow traffic this test makes; and a real Prometheus server
(Debian's `prometheus`) scrapes the stack and answers queries with those numbers. Runs
in the pytest process (prometheus as a child process)."""
import asyncio
import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from metrics_text import fetch as _get, gateway_metrics_url, sample as _value
from rest_client import Client
from ws_client import connect

N_MESSAGES = 7


def _promtool_ok(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def _traffic(s):
    c = Client(s)
    a, b = c.new_user(), c.new_user()
    room = c.new_room(a)["id"]
    assert c.post(f"/api/rooms/{room}/join", token=b["token"]).status_code == 200
    for _ in range(3):
        assert c.get(f"/api/rooms/{room}/messages?limit=5", a["token"]).status_code == 200

    async def run():
        sender = await connect(s.gateway_ws_url(0), a["token"], name="a")
        reader = await connect(s.gateway_ws_url(0), b["token"], name="b")
        for ws in (sender, reader):
            assert (await ws.subscribe(room))["type"] == "subscribed"
        for i in range(N_MESSAGES):
            assert (await sender.send_message(room, f"m{i}"))["type"] == "ack"
        await reader.collect(lambda f: f.get("content", "").startswith("m"), N_MESSAGES)
        return sender, reader

    return room, asyncio.run(run())


PHASES = ("queued", "members", "insert", "commit", "handback")


def _check_phases(text):
    """Each message's path to its ack, split into chat_gateway_message_phase_seconds:
    queued and handback once per message, the rest once per writer batch (each message
    here was acked before the next was sent: a batch of one). Back to back, the phases
    are the whole of the ack's time but its last microseconds (the ack's own write)."""
    phase = {p: (_value(text, "chat_gateway_message_phase_seconds_count", phase=p),
                 _value(text, "chat_gateway_message_phase_seconds_sum", phase=p)) for p in PHASES}
    assert phase["queued"][0] == N_MESSAGES and phase["handback"][0] == N_MESSAGES, phase
    for p in ("members", "insert", "commit"):
        assert 1 <= phase[p][0] <= N_MESSAGES, phase
    assert phase["insert"][1] > 0, phase  # a durable insert takes time
    # the buckets go below a millisecond, and each family's +Inf bucket is its count
    assert _value(text, "chat_gateway_message_phase_seconds_bucket", phase="insert",
                  le="0.0001") is not None
    assert _value(text, "chat_gateway_ack_seconds_bucket", le="+Inf") == N_MESSAGES
    ack_sum = _value(text, "chat_gateway_ack_seconds_sum")
    phases_sum = sum(v[1] for v in phase.values())
    assert 0.8 * ack_sum <= phases_sum <= ack_sum + 1e-5, (phases_sum, ack_sum, phase)


def test_gateway_and_rest_metrics_follow_traffic(make_stack):
    s = make_stack(gateways=2, env={"METRICS_PUBLIC": "1"})
    _traffic(s)
    gw0 = gateway_metrics_url(s, 0)
    st, ctype, text = _get(gw0)
    assert st == 200 and ctype.startswith("text/plain"), ctype
    _promtool_ok(text)
    assert _value(text, "chat_gateway_messages_acked_total") == N_MESSAGES
    assert _value(text, "chat_gateway_messages_stored_total") == N_MESSAGES
    assert _value(text, "chat_gateway_frames_in_total", type="message") == N_MESSAGES
    assert _value(text, "chat_gateway_frames_in_total", type="subscribe") == 2
    assert _value(text, "chat_gateway_frames_out_total", type="ack") == N_MESSAGES
    assert _value(text, "chat_gateway_deliveries_total") >= N_MESSAGES
    assert _value(text, "chat_gateway_ack_seconds_count") == N_MESSAGES
    _check_phases(text)
    # each message fanned out to this gateway's watchers once, timed
    assert _value(text, "chat_gateway_fanout_seconds_count") >= N_MESSAGES
    # and written by write rounds: every ack waited for one (each was answered before the
    # next message was sent), so there were at least as many rounds as messages
    assert _value(text, "chat_gateway_write_round_seconds_count") >= N_MESSAGES
    assert _value(text, "chat_gateway_sockets_opened_total") == 2
    assert _value(text, "chat_gateway_redis_up") == 1
    # nothing skipped by the per-tick batch lists at this load, and both lists are named
    assert _value(text, "chat_gateway_batch_entries_skipped_total", list="last_seen") == 0
    assert _value(text, "chat_gateway_batch_entries_skipped_total", list="socket_count") == 0
    assert _value(text, "process_open_fds") > 0
    assert _value(text, "process_resident_memory_bytes") > 1e6
    # the other gateway saw none of it
    st, _, other = _get(gw0.replace(str(s.gateway_port), str(s.gateway_port + 1)))
    _promtool_ok(other)
    assert _value(other, "chat_gateway_messages_acked_total") == 0

    st, ctype, rest = _get(s.http_url + "/metrics")
    assert st == 200 and ctype.startswith("text/plain"), ctype
    _promtool_ok(rest)
    assert _value(rest, "chat_api_requests_total", route="messages", status="200") == 3
    assert _value(rest, "chat_api_requests_total", route="rooms", status="201") == 1
    assert _value(rest, "chat_api_requests_total", route="auth_register", status="201") == 2
    assert _value(rest, "chat_api_request_seconds_count", route="messages") == 3
    assert _value(rest, "chat_api_mongo_up") == 1 and _value(rest, "chat_api_redis_up") == 1


def test_rest_metrics_are_private_by_default(stack):
    r = urllib.request.Request(stack.http_url + "/metrics")
    try:
        urllib.request.urlopen(r, timeout=10)
        raise AssertionError("/metrics answered without METRICS_PUBLIC=1")
    except urllib.error.HTTPError as e:
        assert e.code == 404
        assert json.loads(e.read())["error"]["code"] == "not_found"


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="Debian's prometheus")
def test_a_real_prometheus_scrapes_the_stack(make_stack):
    from harness.stack import free_port
    s = make_stack(gateways=2, env={"METRICS_PUBLIC": "1"})
    _traffic(s)
    host = s.host
    targets_gw = [f"{host}:{s.gateway_port}", f"{host}:{s.gateway_port + 1}"]
    port = free_port(host)
    work = Path(tempfile.mkdtemp(prefix="chat-prom-"))
    (work / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: chat-gateway\n    static_configs: [{{targets: {json.dumps(targets_gw)}}}]\n"
        f"  - job_name: chat-api\n    static_configs: [{{targets: [\"{host}:{s.http_port}\"]}}]\n")
    proc = subprocess.Popen(["prometheus", f"--config.file={work / 'prometheus.yml'}",
                             f"--storage.tsdb.path={work / 'data'}",
                             f"--web.listen-address={host}:{port}"],
                            stdout=subprocess.DEVNULL, stderr=open(work / "log", "w"))
    try:
        def query(q):
            url = f"http://{host}:{port}/api/v1/query?query=" + urllib.parse.quote(q)
            body = json.loads(_get(url)[2])
            res = body["data"]["result"]
            return float(res[0]["value"][1]) if res else None

        deadline = time.time() + 60
        acked = up = api = None
        while time.time() < deadline:
            try:
                up = query('sum(up{job="chat-gateway"})')
                acked = query('sum(chat_gateway_messages_acked_total)')
                api = query('sum(chat_api_requests_total{route="messages",status="200"})')
                if up == 2 and acked is not None and api is not None:
                    break
            except (OSError, KeyError, ValueError):
                pass
            time.sleep(1)
        assert up == 2, (up, (work / "log").read_text()[-2000:])
        assert acked == N_MESSAGES and api == 3, (acked, api)
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def test_every_log_line_of_a_request_or_socket_names_it(make_stack):
    """Issue 12, logs: the lines a FastCGI process writes while serving a request carry its
    id (`req`, also the client's X-Request-Id), even lines that do not name it themselves
    (here DB_TRACE's, logged by the MongoDB layer); lines the gateway writes while handling
    a socket carry `conn`."""
    import requests

    s = make_stack(gateways=1, env={"DB_TRACE": "1"})
    c = Client(s)
    u = c.new_user()
    r = requests.get(s.http_url + "/api/rooms?limit=5", timeout=10,
                     headers={"Authorization": "Bearer " + u["token"],
                              "X-Request-Id": "trace-me-42"})
    assert r.status_code == 200
    time.sleep(0.5)
    lines = [json.loads(ln) for ln in s.log_text("lighttpd").splitlines()
             if ln.startswith("{") and "trace-me-42" in ln]
    kinds = {ln["msg"] for ln in lines}
    assert "request" in kinds and "db command" in kinds, kinds
    assert all(ln.get("req") == "trace-me-42" for ln in lines)
    # no line of another request carries it
    others = [json.loads(ln) for ln in s.log_text("lighttpd").splitlines()
              if ln.startswith("{") and '"db command"' in ln]
    assert any(o.get("req") not in (None, "trace-me-42") for o in others)

    async def run():
        ws = await connect(s.gateway_ws_url(0), u["token"], name="traced")
        await ws.send({"type": "no-such-type"})
        await ws.recv_until(lambda f: f.get("type") == "error", 5)
        await ws.close()

    asyncio.run(run())
    time.sleep(0.5)
    gw = [json.loads(ln) for ln in s.log_text("gateway0").splitlines() if ln.startswith("{")]
    mine = [ln for ln in gw if ln.get("user") == u["id"]]
    assert mine and all("conn" in ln for ln in mine), mine
