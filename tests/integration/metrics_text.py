"""metrics_text.py - reading the Prometheus text the servers serve, for the tests and the
bench: a gateway's /metrics URL, fetching a page, and one sample by name and labels.
Runs in the caller's process."""
import re
import urllib.request


def gateway_metrics_url(stack, i):
    """Gateway i's /metrics (it serves it on its WebSocket port)."""
    return stack.gateway_ws_url(i).replace("ws://", "http://").replace("/ws", "/metrics")


def fetch(url, timeout=10):
    """(status, content type, text) of a metrics page."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()


def gateway_page(stack, i):
    """The text of gateway i's /metrics."""
    return fetch(gateway_metrics_url(stack, i))[2]


def sample(text, name, **labels):
    """The sample name{labels...} (labels a subset, in any order), or None."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if m is None or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return None
