"""test_containers.py - offline checks that docker-compose.yml and the Dockerfile are
valid and in step with the code (no Docker engine on these machines): Debian's
docker-compose parses the file, the topology is mongo/redis/api/gateways with the real
mongo image, images run as non-root with health checks, and every variable the
containers set is one the servers read (common/src/config.c or lighttpd.conf)."""
import os
import re
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def compose_config():
    env = dict(os.environ, JWT_SECRET="x" * 40)
    out = subprocess.run(["docker-compose", "-f", str(REPO / "docker-compose.yml"), "config"],
                         env=env, capture_output=True, text=True, check=True).stdout
    return yaml.safe_load(out)


def test_compose_requires_jwt_secret():
    env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"}
    r = subprocess.run(["docker-compose", "-f", str(REPO / "docker-compose.yml"), "config", "-q"],
                       env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "JWT_SECRET" in r.stderr


def test_compose_topology():
    cfg = compose_config()
    services = cfg["services"]
    assert services["mongo"]["image"].startswith("mongo")
    assert services["redis"]["image"].startswith("redis")
    gateways = [n for n in services if n.startswith("ws-gateway")]
    assert len(gateways) >= 2
    assert services["api"]["build"]["target"] == "api"
    hosts = services["api"]["environment"]["GATEWAY_HOSTS"].split(",")
    assert sorted(h.split(":")[0] for h in hosts) == sorted(gateways)
    for name in gateways:
        assert services[name]["build"]["target"] == "gateway"
    for name in ["mongo", "redis"]:
        assert "healthcheck" in services[name]


def test_container_env_is_read_by_the_servers():
    known = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', (REPO / "common/src/config.c").read_text()))
    known |= set(re.findall(r"env\.([A-Z][A-Z0-9_]+)", (REPO / "lighttpd.conf").read_text()))
    known |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", (REPO / "deploy/lighttpd-gateways.sh").read_text()))
    cfg = compose_config()
    for name in ["api"] + [n for n in cfg["services"] if n.startswith("ws-gateway")]:
        for var in cfg["services"][name]["environment"]:
            assert var in known, f"{name} sets {var}, which no server reads"


def test_dockerfile_stages():
    text = (REPO / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)\s+AS\s+(\S+)", text, re.M)
    names = {s for _, s in stages}
    assert {"api", "gateway"} <= names
    for image, stage in stages:
        if stage in ("api", "gateway"):
            assert image == "debian:12-slim"
    assert text.count("USER chat") == 2
    assert text.count("HEALTHCHECK") == 2
    # every source dir the C build needs is copied
    for d in ["common", "rest-fcgi", "ws-gateway"]:
        assert f"COPY {d} {d}" in text
