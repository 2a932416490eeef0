"""test_k8s.py - offline checks of deploy/k8s: `kubectl kustomize` (any kubectl; Debian's
kubernetes-client when nothing else is installed) renders the base and the production
overlay; every rendered object, and the example Secret, is valid against the real
Kubernetes OpenAPI schemas that kubernetes-validate ships (strict: no unknown fields),
for the oldest and newest version it knows; then what production needs: probes on the
health endpoints, a drain within the grace period, non-root and read-only containers
with every capability dropped, secrets only from the Secret, pinned images, Services,
PDBs, the gateway HPA and the Ingress pointing at what exists, and container
environment variables that the servers actually read."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy/k8s"
SECRET_KEYS = {"JWT_SECRET", "MONGO_URI", "REDIS_URL"}


def kubectl():
    exe = os.environ.get("KUBECTL") or shutil.which("kubectl")
    assert exe, "kubectl not found: deploy/install-deps.sh --test installs kubernetes-client"
    return exe


def render(path):
    r = subprocess.run([kubectl(), "kustomize", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return [d for d in yaml.safe_load_all(r.stdout) if d]


@pytest.fixture(scope="module", params=["base", "overlays/production"])
def rendered(request):
    return request.param, render(K8S / request.param)


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def one(docs, kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name)
    return found[0]


def versions():
    return ["1.25.0", kubernetes_validate.latest_version()]


def test_renders_everything(rendered):
    _, docs = rendered
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in docs)
    for want in [("ConfigMap", "chat-config"), ("Deployment", "chat-api"),
                 ("Deployment", "chat-gateway"), ("Service", "chat-api"),
                 ("Service", "chat-gateway"), ("PodDisruptionBudget", "chat-api"),
                 ("PodDisruptionBudget", "chat-gateway"),
                 ("HorizontalPodAutoscaler", "chat-gateway"), ("Ingress", "chat")]:
        assert want in kinds, want


def test_valid_against_kubernetes_schemas(rendered):
    _, docs = rendered
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    for version in versions():
        for doc in docs + [secret]:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} on {version}: "
                            f"{e.message} at {list(e.path)}")


def test_the_validator_refuses_a_broken_object():
    # guard for the check above: a typo'd field must fail with these schemas
    doc = render(K8S / "base")
    dep = one(doc, "Deployment", "chat-gateway")
    dep["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(dep, versions()[-1], strict=True)


def containers(dep):
    return dep["spec"]["template"]["spec"]["containers"]


def test_production_overlay():
    docs = render(K8S / "overlays/production")
    assert one(docs, "Namespace", "chat")
    for d in docs:
        if d["kind"] != "Namespace":
            assert d["metadata"].get("namespace") == "chat", d["metadata"]["name"]
    for dep in by_kind(docs, "Deployment"):
        for c in containers(dep):
            assert c["image"].startswith("registry.example.com/chat/"), c["image"]


def test_images_are_pinned(rendered):
    _, docs = rendered
    for dep in by_kind(docs, "Deployment"):
        for c in containers(dep):
            image = c["image"]
            assert "@sha256:" in image or re.search(r":[^/:]+$", image), image
            assert not image.endswith(":latest"), image


def test_probes_on_the_health_endpoints(rendered):
    _, docs = rendered
    gw = containers(one(docs, "Deployment", "chat-gateway"))[0]
    api = containers(one(docs, "Deployment", "chat-api"))[0]
    ports = {c["name"]: {p["name"]: p["containerPort"] for p in c["ports"]} for c in (gw, api)}
    env = {c["name"]: {e["name"]: e.get("value") for e in c["env"]} for c in (gw, api)}
    # the gateway's endpoints are on its own port, GATEWAY_PORT: /health is readiness
    # (503 while Redis or MongoDB is down), /livez liveness (the loop answers)
    for probe, path in (("readinessProbe", "/health"), ("livenessProbe", "/livez")):
        get = gw[probe]["httpGet"]
        assert get["path"] == path
        assert ports["gateway"][get["port"]] == int(env["gateway"]["GATEWAY_PORT"])
    # the API is ready when /health says so (200: MongoDB and Redis reachable) ...
    get = api["readinessProbe"]["httpGet"]
    assert get["path"] == "/health"
    assert ports["api"][get["port"]] == int(env["api"]["HTTP_PORT"])
    # ... but only lighttpd being alive decides restarts (not a database outage)
    assert ports["api"][api["livenessProbe"]["tcpSocket"]["port"]] == int(env["api"]["HTTP_PORT"])


def test_gateway_drains_within_the_grace_period(rendered):
    _, docs = rendered
    dep = one(docs, "Deployment", "chat-gateway")
    c = containers(dep)[0]
    script = c["lifecycle"]["preStop"]["exec"]["command"][-1]
    wait = float(re.match(r"sleep (\d+(?:\.\d+)?);", script).group(1))
    assert "kill -TERM 1" in script  # SIGTERM makes the gateway drain (close 1001)
    loops = int(re.search(r"\$i -lt (\d+)", script).group(1))
    drain_ms = int({e["name"]: e.get("value") for e in c["env"]}.get("WS_DRAIN_MS", "5000"))
    grace = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    # the pre-stop wait, the gateway's drain and a margin fit the grace period, and the
    # hook itself gives the gateway at least its drain time before it returns
    assert wait + drain_ms / 1000 + 5 <= grace, (wait, drain_ms, grace)
    assert loops * 0.1 >= drain_ms / 1000 + 2
    assert wait + loops * 0.1 <= grace


def test_security_contexts(rendered):
    _, docs = rendered
    for dep in by_kind(docs, "Deployment"):
        pod = dep["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, c["name"]
            assert sc["readOnlyRootFilesystem"] is True, c["name"]
            assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
            assert "add" not in sc["capabilities"]
            assert c["resources"]["limits"] and c["resources"]["requests"]


def test_secrets_only_from_the_secret(rendered):
    _, docs = rendered
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    assert set(secret["stringData"]) == SECRET_KEYS
    for cm in by_kind(docs, "ConfigMap"):
        assert not SECRET_KEYS & set(cm["data"]), cm["metadata"]["name"]
    assert not by_kind(docs, "Secret"), "real secrets do not belong in the kustomization"
    for dep in by_kind(docs, "Deployment"):
        for c in containers(dep):
            env = {e["name"]: e for e in c["env"]}
            for key in SECRET_KEYS:
                ref = env[key]["valueFrom"]["secretKeyRef"]
                assert ref == {"name": secret["metadata"]["name"], "key": key}
                assert "value" not in env[key]


def _pod_labels(dep):
    return dep["spec"]["template"]["metadata"]["labels"]


def _selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def test_services_pdbs_hpa_ingress_match(rendered):
    _, docs = rendered
    deps = {d["metadata"]["name"]: d for d in by_kind(docs, "Deployment")}
    services = {s["metadata"]["name"]: s for s in by_kind(docs, "Service")}
    for name, dep in deps.items():
        sel = dep["spec"]["selector"]["matchLabels"]
        assert _selects(sel, _pod_labels(dep))
        svc = services[name]
        assert _selects(svc["spec"]["selector"], _pod_labels(dep))
        port_names = {p["name"] for c in containers(dep) for p in c["ports"]}
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] in port_names, (name, p)
        pdbs = [p for p in by_kind(docs, "PodDisruptionBudget")
                if _selects(p["spec"]["selector"]["matchLabels"], _pod_labels(dep))]
        assert len(pdbs) == 1, name
    hpa = one(docs, "HorizontalPodAutoscaler", "chat-gateway")
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["kind"], ref["name"]) == ("Deployment", "chat-gateway")
    assert hpa["spec"]["minReplicas"] >= 2
    assert "replicas" not in deps["chat-gateway"]["spec"]  # the HPA owns the count
    # gateway PDB leaves room for evictions
    gw_pdb = one(docs, "PodDisruptionBudget", "chat-gateway")
    assert gw_pdb["spec"].get("maxUnavailable", 0) >= 1 or \
        gw_pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    # one origin: /ws to the gateways, / to the api
    ing = one(docs, "Ingress", "chat")
    paths = {p["path"]: p for r in ing["spec"]["rules"] for p in r["http"]["paths"]}
    assert paths["/ws"]["backend"]["service"]["name"] == "chat-gateway"
    assert paths["/"]["backend"]["service"]["name"] == "chat-api"
    for p in paths.values():
        svc = services[p["backend"]["service"]["name"]]
        assert p["backend"]["service"]["port"]["name"] in {x["name"] for x in svc["spec"]["ports"]}


def test_container_env_is_read_by_the_servers(rendered):
    _, docs = rendered
    known = {v for f in sorted((REPO / "common/src").glob("config*.c"))
             for v in re.findall(r'"([A-Z][A-Z0-9_]+)"', f.read_text())}
    known |= set(re.findall(r'"(WS_[A-Z0-9_]+)"', (REPO / "ws-gateway/main.c").read_text()))
    known |= set(re.findall(r"env\.([A-Z][A-Z0-9_]+)", (REPO / "lighttpd.conf").read_text()))
    known |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)",
                            (REPO / "deploy/lighttpd-gateways.sh").read_text()))
    config = one(docs, "ConfigMap", "chat-config")
    for var in config["data"]:
        assert var in known, f"chat-config sets {var}, which no server reads"
    for dep in by_kind(docs, "Deployment"):
        for c in containers(dep):
            for e in c["env"]:
                assert e["name"] in known, f"{dep['metadata']['name']} sets {e['name']}"
            assert "GATEWAY_ID" not in {e["name"] for e in c["env"]}
