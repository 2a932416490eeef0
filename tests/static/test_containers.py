"""test_containers.py - offline checks that docker-compose.yml, the Dockerfile and the
edge's HAProxy file are valid and in step with the code (no Docker engine on these
machines): Debian's docker-compose parses the file; the topology is mongo/redis/edge/api
and ONE scalable gateway service with the real mongo image; only the edge publishes a
port; `haproxy -c` accepts deploy/haproxy/haproxy.cfg with the edge's environment, and
the edge points at the gateway and api services and ports compose defines; images run as
non-root with health checks and pinned base tags; every variable the containers set is
one the servers (or the edge) read; Redis requires a password and MongoDB has a root user,
both from the environment, and the apps' REDIS_URL / MONGO_URI carry them."""
import os
import re
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
HAPROXY_CFG = REPO / "deploy/haproxy/haproxy.cfg"


BACKEND_SECRETS = {"REDIS_PASSWORD": "redis-pw-0123", "MONGO_PASSWORD": "mongo-pw-4567"}


def compose_config(**overrides):
    env = dict(os.environ, JWT_SECRET="x" * 40, **BACKEND_SECRETS)
    env.update(overrides)
    out = subprocess.run(["docker-compose", "-f", str(REPO / "docker-compose.yml"), "config"],
                         env=env, capture_output=True, text=True, check=True).stdout
    return yaml.safe_load(out)


def test_compose_requires_jwt_secret():
    env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"}
    env.update(BACKEND_SECRETS)
    r = subprocess.run(["docker-compose", "-f", str(REPO / "docker-compose.yml"), "config", "-q"],
                       env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "JWT_SECRET" in r.stderr


def test_compose_requires_backend_passwords():
    for var in BACKEND_SECRETS:
        env = dict(os.environ, JWT_SECRET="x" * 40, **BACKEND_SECRETS)
        del env[var]
        r = subprocess.run(["docker-compose", "-f", str(REPO / "docker-compose.yml"), "config",
                            "-q"], env=env, capture_output=True, text=True)
        assert r.returncode != 0 and var in r.stderr, (var, r.stderr)


def test_redis_requires_its_password():
    redis = compose_config()["services"]["redis"]
    assert redis["environment"]["REDIS_PASSWORD"] == BACKEND_SECRETS["REDIS_PASSWORD"]
    command = " ".join(redis["command"])
    # the password reaches redis-server on stdin, never on its command line
    assert "redis-server -" in command and "requirepass $$REDIS_PASSWORD" in command, command
    assert BACKEND_SECRETS["REDIS_PASSWORD"] not in command
    # the health check authenticates (an unauthenticated PING is refused) and needs a PONG
    check = " ".join(redis["healthcheck"]["test"])
    assert "REDISCLI_AUTH" in check and "PONG" in check, check


def test_mongo_has_a_root_user():
    mongo = compose_config(MONGO_USER="chatadmin")["services"]["mongo"]
    assert mongo["environment"]["MONGO_INITDB_ROOT_USERNAME"] == "chatadmin"
    assert mongo["environment"]["MONGO_INITDB_ROOT_PASSWORD"] == BACKEND_SECRETS["MONGO_PASSWORD"]


def test_apps_connect_with_the_credentials():
    cfg = compose_config()
    for name in ["api", "ws-gateway"]:
        env = cfg["services"][name]["environment"]
        assert env["REDIS_URL"] == f"redis://:{BACKEND_SECRETS['REDIS_PASSWORD']}@redis:6379"
        assert env["MONGO_URI"] == (f"mongodb://chat:{BACKEND_SECRETS['MONGO_PASSWORD']}"
                                    "@mongo:27017/?authSource=admin"), env["MONGO_URI"]


def test_compose_topology():
    cfg = compose_config()
    services = cfg["services"]
    assert set(services) == {"mongo", "redis", "edge", "api", "ws-gateway"}
    assert services["mongo"]["image"].startswith("mongo:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["api"]["build"]["target"] == "api"
    assert services["edge"]["build"]["target"] == "edge"
    assert services["ws-gateway"]["build"]["target"] == "gateway"
    for name in ["mongo", "redis"]:
        assert "healthcheck" in services[name]
    # only the edge is reachable from outside: one origin (SPEC §1)
    published = [n for n, s in services.items() if s.get("ports")]
    assert published == ["edge"], published
    assert [p["target"] for p in services["edge"]["ports"]] == [8080]


def test_gateway_service_scales():
    gw = compose_config()["services"]["ws-gateway"]
    # `--scale ws-gateway=N` needs a service that N copies can share
    for key in ("container_name", "ports", "hostname"):
        assert key not in gw, key
    # each replica must pick its own id (gw-<hostname>-<pid>) for presence
    assert "GATEWAY_ID" not in gw["environment"]
    assert gw["environment"]["GATEWAY_HOST"] == "0.0.0.0"
    assert gw["deploy"]["replicas"] >= 2
    assert gw["stop_grace_period"]  # time to drain on SIGTERM
    drain_ms = int(gw["environment"].get("WS_DRAIN_MS", "5000"))
    grace = gw["stop_grace_period"]
    grace_s = int(re.fullmatch(r"(\d+)s", grace).group(1))
    assert grace_s * 1000 > drain_ms + 5000, (grace, drain_ms)


def test_edge_points_at_the_services():
    services = compose_config()["services"]
    edge = services["edge"]["environment"]
    assert edge["GATEWAY_SERVICE"] == "ws-gateway"
    assert edge["GATEWAY_SERVICE_PORT"] == services["ws-gateway"]["environment"]["GATEWAY_PORT"]
    assert edge["API_SERVICE"] == "api"
    assert edge["API_SERVICE_PORT"] == services["api"]["environment"]["HTTP_PORT"]
    # enough descriptors for EDGE_MAXCONN (two per proxied connection)
    nofile = services["edge"]["ulimits"]["nofile"]["soft"]
    assert nofile > 2 * int(edge["EDGE_MAXCONN"])
    # lighttpd believes X-Forwarded-For from the edge only because this is set
    assert services["api"]["environment"]["TRUSTED_PROXIES"]


def _haproxy_check(env_extra):
    env = dict(os.environ, **env_extra)
    return subprocess.run(["haproxy", "-c", "-f", str(HAPROXY_CFG)], env=env,
                          capture_output=True, text=True)


def test_haproxy_config_is_valid_offline():
    # with the edge's compose environment, and with the file's own defaults; service
    # names are not resolvable here, so this also proves nothing is resolved at start
    edge_env = compose_config()["services"]["edge"]["environment"]
    for env in (edge_env, {}):
        r = _haproxy_check({k: str(v) for k, v in env.items()})
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Configuration file is valid" in r.stdout + r.stderr
    # and it is a real check: a bad value is refused
    r = _haproxy_check({"GATEWAY_SLOTS": "0"})
    assert r.returncode != 0


def _section(text, header):
    m = re.search(rf"^{re.escape(header)}\n((?:[ \t].*\n|\n)*)", text, re.M)
    assert m, header
    return m.group(1)


def test_haproxy_discovers_and_balances_gateways():
    text = HAPROXY_CFG.read_text()
    resolvers = _section(text, "resolvers dns")
    assert re.search(r'nameserver \S+ "\$\{DNS_RESOLVER-127\.0\.0\.11:53\}"', resolvers)
    gateways = _section(text, "backend gateways")
    assert re.search(r"^\s+balance leastconn$", gateways, re.M)
    assert "init-addr none" in gateways and "resolvers dns" in gateways
    assert re.search(r'server-template gw "\$\{GATEWAY_SLOTS-\d+\}" '
                     r'"\$\{GATEWAY_SERVICE-ws-gateway\}:\$\{GATEWAY_SERVICE_PORT-9001\}"',
                     gateways)
    assert "option httpchk GET /health" in gateways
    public = _section(text, "frontend public")
    assert "use_backend gateways if { path /ws }" in public
    assert "default_backend api" in public


def test_container_env_is_read_by_the_servers():
    known = {v for f in sorted((REPO / "common/src").glob("config*.c"))
             for v in re.findall(r'"([A-Z][A-Z0-9_]+)"', f.read_text())}
    known |= set(re.findall(r'"(WS_[A-Z0-9_]+)"', (REPO / "ws-gateway/main.c").read_text()))
    known |= set(re.findall(r"env\.([A-Z][A-Z0-9_]+)", (REPO / "lighttpd.conf").read_text()))
    known |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", (REPO / "deploy/lighttpd-gateways.sh").read_text()))
    edge_known = set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)-", HAPROXY_CFG.read_text()))
    cfg = compose_config()
    for name in ["api", "ws-gateway"]:
        for var in cfg["services"][name]["environment"]:
            assert var in known, f"{name} sets {var}, which no server reads"
    for var in cfg["services"]["edge"]["environment"]:
        assert var in edge_known, f"edge sets {var}, which haproxy.cfg does not read"


def test_images_are_pinned():
    cfg = compose_config()
    for name, svc in cfg["services"].items():
        image = svc["image"]
        repo_, _, tag = image.rpartition(":")
        assert repo_ and tag and tag != "latest", f"{name}: {image}"
        if "build" not in svc:  # third-party images: at least major.minor
            assert re.fullmatch(r"\d+\.\d+(\.\d+)?", tag), f"{name}: {image}"
    froms = re.findall(r"^FROM\s+(\S+)", (REPO / "Dockerfile").read_text(), re.M)
    assert froms
    for image in froms:
        repo_, _, tag = image.rpartition(":")
        assert repo_ and re.match(r"\d+\.\d+", tag), f"Dockerfile base {image} is not pinned"


def test_dockerfile_stages():
    text = (REPO / "Dockerfile").read_text()
    stages = dict((s, img) for img, s in re.findall(r"^FROM\s+(\S+)\s+AS\s+(\S+)", text, re.M))
    assert {"api", "gateway", "edge"} <= set(stages)
    for stage in ("api", "gateway", "edge"):
        assert stages[stage].startswith("debian:12."), stages[stage]
        body = text.split(f" AS {stage}\n", 1)[1].split("\nFROM ", 1)[0]
        assert "\nUSER chat\n" in body, f"{stage} does not drop root"
        assert "useradd --system --uid 10001" in body
        assert "HEALTHCHECK" in body, stage
    assert "COPY deploy/haproxy/haproxy.cfg" in text
    # every source dir the C build needs is copied
    for d in ["common", "rest-fcgi", "ws-gateway"]:
        assert f"COPY {d} {d}" in text
