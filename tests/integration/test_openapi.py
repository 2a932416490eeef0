"""test_openapi.py - docs/openapi.yaml is a valid OpenAPI 3.1 document and tells the
truth: live responses of every operation (successes and errors: 400, 401, 403, 404, 405,
409, 413, 429, 503) are documented for that operation, validate against the documented
schema (OAS 3.1 dialect via openapi-schema-validator), and carry the documented headers.
Runs one stack through lighttpd + FastCGI + FerretDB + Redis."""
import re
import time
from pathlib import Path

import pytest
import yaml
from openapi_schema_validator import OAS31Validator

from rest_client import Client, new_id

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs/openapi.yaml"
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(SPEC_PATH.read_text())


def test_spec_is_valid_openapi_31(spec):
    assert spec["openapi"].startswith("3.1")
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(spec)


def _operation(spec, method, path):
    """(template, operation) documenting method+path; literal templates win."""
    templates = sorted(spec["paths"], key=lambda t: t.count("{"))
    for t in templates:
        rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", t) + "$"
        if re.match(rx, path):
            return t, spec["paths"][t].get(method.lower())
    return None, None


def _schema_for(spec, op, status):
    responses = op["responses"]
    resp = responses.get(str(status)) or responses.get("default")
    assert resp is not None, f"status {status} not documented"
    if "$ref" in resp:
        resp = spec["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
    return resp


class Recorder(Client):
    """A client that keeps every exchange for validation."""

    def __init__(self, stack):
        super().__init__(stack)
        self.seen = []

    def req(self, method, path, token=None, json_body=None, data=None, headers=None, **kw):
        r = super().req(method, path, token, json_body=json_body, data=data, headers=headers,
                        **kw)
        self.seen.append((method, path.split("?")[0], r))
        return r


def _scenario(c, s):
    a = c.new_user()
    b = c.new_user()
    c.post("/api/auth/register", {"username": a["username"], "email": "z" + a["email"],
                                  "password": "copper-kettle-91"})            # 409
    c.post("/api/auth/register", {"username": "x"})                     # 400
    c.post("/api/auth/login", {"email": a["email"], "password": "nope-nope"})  # 401
    c.post("/api/auth/refresh", token=a["token"])
    c.post("/api/auth/refresh")                                          # 401
    c.get("/api/users/me", a["token"])
    c.patch("/api/users/me", {"display_name": "A", "avatar_url": "https://a.io/x.png"},
            a["token"])
    c.patch("/api/users/me", {"display_name": 3}, a["token"])            # 400
    c.patch("/api/users/me", {"display_name": "d" * 70000}, a["token"])  # 413
    c.get("/api/users", a["token"], params={"q": b["username"][:4]})
    c.get("/api/users?q=a&limit=x", a["token"])                          # 400
    c.get(f"/api/users/{b['id']}", a["token"])
    c.get(f"/api/users/{new_id()}", a["token"])                          # 404
    pub = c.new_room(a, "pub")
    priv = c.new_room(a, "priv", private=True)
    c.post("/api/rooms", {"name": ""}, a["token"])                       # 400
    c.post("/api/rooms", {"name": "third"}, a["token"])                  # 429 (limit 2/min)
    c.get("/api/rooms?limit=5", a["token"])
    c.get("/api/rooms?limit=-5", a["token"])                             # 400
    c.get(f"/api/rooms/{pub['id']}", b["token"])
    c.get(f"/api/rooms/{priv['id']}", b["token"])                        # 404
    c.post(f"/api/rooms/{pub['id']}/join", token=b["token"])
    c.post(f"/api/rooms/{priv['id']}/join", token=b["token"])            # 404
    c.post(f"/api/rooms/{pub['id']}/leave", token=a["token"])            # 403
    c.post(f"/api/rooms/{pub['id']}/leave", token=b["token"])
    c.get(f"/api/rooms/{pub['id']}/members", b["token"])
    c.post(f"/api/rooms/{priv['id']}/members", {"user_id": b["id"]}, a["token"])
    c.post(f"/api/rooms/{priv['id']}/members", {"user_id": "bad"}, a["token"])  # 400
    c.post(f"/api/rooms/{priv['id']}/members", {"user_id": a["id"]}, b["token"])  # 403
    c.delete(f"/api/rooms/{priv['id']}/members/{b['id']}", a["token"])
    c.delete(f"/api/rooms/{priv['id']}/members/{b['id']}", a["token"])  # 404
    c.post("/api/dms", {"user_id": b["id"]}, a["token"])
    c.post("/api/dms", {"user_id": a["id"]}, a["token"])                 # 403
    c.post("/api/dms", {"user_id": "nope"}, a["token"])                  # 400
    c.post("/api/dms", {"user_id": new_id()}, a["token"])                # 404
    c.get(f"/api/rooms/{pub['id']}/messages", a["token"])
    c.get(f"/api/rooms/{pub['id']}/messages?before_seq=2&limit=1", a["token"])
    c.get(f"/api/rooms/{pub['id']}/messages?after_seq=1", a["token"])
    c.get(f"/api/rooms/{pub['id']}/messages?limit=0", a["token"])        # 400
    c.get("/api/rooms/nothex/messages", a["token"])                      # 404
    c.req("DELETE", "/api/rooms", a["token"])                            # 405
    gone = c.new_user()
    c.post("/api/auth/logout", token=gone["token"])                      # 204
    c.get("/api/users/me", gone["token"])                                # 401 (revoked)
    c.get("/health")
    s.stop_mongo()
    # the health prober notices within about a second; reads keep being served
    # from the Redis read model, writes answer 503
    deadline = time.time() + 10
    while time.time() < deadline and c.get("/health").status_code != 503:  # 503
        time.sleep(0.2)
    c.get(f"/api/rooms/{pub['id']}", a["token"])                         # 200 from Redis
    c.post("/api/rooms", {"name": "down-" + new_id()[:6]}, a["token"])  # 503
    s.start_mongo()
    deadline = time.time() + 20
    while time.time() < deadline and c.get("/health").status_code != 200:
        time.sleep(0.2)


def test_live_responses_match_the_spec(spec, make_stack):
    s = make_stack(gateways=0, env={"RATE_ROOM_CREATE_PER_MIN": "2"})
    c = Recorder(s)
    _scenario(c, s)
    exercised = set()
    statuses = set()
    for method, path, r in c.seen:
        template, op = _operation(spec, method, path)
        assert template is not None, f"{method} {path}: no documented path"
        if op is None:
            assert r.status_code == 405, f"{method} {path}: undocumented method answered"
            op = next(spec["paths"][template][m] for m in METHODS if m in spec["paths"][template])
        exercised.add((method.lower(), template))
        statuses.add(r.status_code)
        resp = _schema_for(spec, op, r.status_code)
        for name in resp.get("headers", {}):
            assert name in r.headers, f"{method} {path} {r.status_code}: no {name} header"
        if r.status_code == 204:
            assert "content" not in resp and r.content == b"", f"{method} {path}: 204 body"
            continue
        content = resp.get("content", {}).get("application/json")
        assert content is not None, f"{method} {path} {r.status_code}: no documented body"
        assert r.headers["Content-Type"].startswith("application/json")
        schema = dict(content["schema"])
        schema["components"] = spec["components"]
        errors = list(OAS31Validator(schema).iter_errors(r.json()))
        assert not errors, f"{method} {path} {r.status_code}: {errors[0].message}\n{r.text[:500]}"
    documented = {(m, t) for t, item in spec["paths"].items() for m in item if m in METHODS}
    assert documented - exercised == set(), "operations never exercised"
    assert {200, 201, 400, 401, 403, 404, 405, 409, 413, 429, 503} <= statuses, statuses
