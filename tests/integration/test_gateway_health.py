"""test_gateway_health.py - the gateway's own /health means what REST's /health means
(issue 10, point 14): ready (200) only while Redis and MongoDB both answer, 503 naming the
part that is down, and /livez stays 200 throughout (liveness must not follow a database
outage). Real gateway, real Redis and FerretDB. Runs in the pytest process."""
import json
import time
import urllib.error
import urllib.request


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _wait_for(url, status, timeout=10.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = _get(url)
        if last[0] == status:
            return last[1]
        time.sleep(0.2)
    raise AssertionError(f"{url}: wanted {status}, last {last}")


def test_gateway_readiness_follows_redis_and_mongo(make_stack):
    s = make_stack(gateways=1)
    base = s.gateway_ws_url(0).replace("ws://", "http://").rsplit("/ws", 1)[0]
    health, livez = base + "/health", base + "/livez"
    body = _wait_for(health, 200)
    assert body["status"] == "ok" and body["redis"] == "ok" and body["mongo"] == "ok"

    s.stop_mongo()
    try:
        body = _wait_for(health, 503)
        assert body["mongo"] == "down" and body["redis"] == "ok"
        assert _get(livez)[0] == 200
    finally:
        s.start_mongo()
    _wait_for(health, 200, timeout=20)

    s.pause_redis()
    try:
        body = _wait_for(health, 503)
        assert body["redis"] == "down"
        assert _get(livez)[0] == 200
    finally:
        s.resume_redis()
    _wait_for(health, 200, timeout=20)
