"""test_config_hardening.py - issue 10, points 8 and 10, against the real programs:
a BCRYPT_COST below 10 stops both servers at start unless BCRYPT_ALLOW_WEAK=1; the
unknown-account dummy bcrypt runs at the cost the stored hashes use, not at BCRYPT_COST,
so a cost change does not make unknown emails answer faster; and a malformed
REDIS_URL / MONGO_URI never writes its password to the logs."""
import os
import secrets
import statistics
import subprocess
import time
from pathlib import Path

import pytest

from harness.stack import free_port
from rest_client import Client

BUILD = Path(os.environ.get("CHAT_BUILD_DIR") or Path(__file__).resolve().parents[2] / "build")
API = BUILD / "rest-fcgi/chat-api"
GATEWAY = BUILD / "ws-gateway/chat-gateway"
SECRET_PW = "Sw0rdfish-" + secrets.token_hex(6)


def run_program(binary, env, timeout=20):
    """Runs binary (stdin closed, not a FastCGI socket) until it exits; (rc, output)."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("BCRYPT_COST", "BCRYPT_ALLOW_WEAK", "REDIS_URL", "MONGO_URI")}
    base.update({"JWT_SECRET": secrets.token_hex(32), "GATEWAY_PORT": str(free_port()),
                 "MONGO_TIMEOUT_MS": "300", "LOG_LEVEL": "debug"})
    base.update(env)
    try:
        p = subprocess.run([str(binary)], env=base, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
        return p.returncode, (p.stdout + p.stderr).decode(errors="replace")
    except subprocess.TimeoutExpired as e:  # a gateway that started: it does not exit
        out = ((e.stdout or b"") + (e.stderr or b"")).decode(errors="replace")
        return None, out


@pytest.mark.parametrize("binary", [API, GATEWAY], ids=["rest", "gateway"])
def test_weak_bcrypt_cost_refused_at_start(binary):
    rc, out = run_program(binary, {"BCRYPT_COST": "4"}, timeout=10)
    assert rc not in (0, None), out
    assert "BCRYPT_COST must be at least 10, got 4" in out, out
    assert "BCRYPT_ALLOW_WEAK=1" in out, out


def test_weak_bcrypt_cost_allowed_with_test_switch():
    # past the configuration: chat-api then finds no FastCGI socket on stdin and ends
    rc, out = run_program(API, {"BCRYPT_COST": "4", "BCRYPT_ALLOW_WEAK": "1"}, timeout=10)
    assert "BCRYPT_COST" not in out, out


MALFORMED = [
    ("REDIS_URL", f"rediss://:{SECRET_PW}@cache:6380"),         # wrong scheme (config)
    ("REDIS_URL", f"redis://:{SECRET_PW}@cache:notaport/0"),    # parser (REST, gateway)
    ("REDIS_URL", f"redis://app:{SECRET_PW}@cache:6379/x"),     # bad db, ACL user
    ("MONGO_URI", f"mongo://root:{SECRET_PW}@db:27017"),        # wrong scheme (config)
    ("MONGO_URI", f"mongodb://root:{SECRET_PW}@db:99999999"),   # mongoc parser
    ("MONGO_URI", f"mongodb://root:{SECRET_PW}@db/chat?bogus=%zz"),
]


@pytest.mark.parametrize("binary", [API, GATEWAY], ids=["rest", "gateway"])
@pytest.mark.parametrize("var,value", MALFORMED)
def test_malformed_url_password_not_logged(binary, var, value):
    rc, out = run_program(binary, {var: value}, timeout=8)
    assert SECRET_PW not in out, out
    assert SECRET_PW[:-4] not in out, out  # not even a truncated copy


def test_dummy_hash_uses_stored_cost(make_stack):
    """Accounts hashed at cost 10, then the servers restart with BCRYPT_COST=4: a login
    for an unknown email must still take as long as one with a wrong password."""
    s = make_stack(gateways=0, env={"BCRYPT_COST": "10"})
    c = Client(s)
    users = [c.register() for _ in range(3)]
    s._base_env["BCRYPT_COST"] = "4"
    s.restart_lighttpd()
    time.sleep(1.0)  # the start-up sample of stored costs runs beside the first requests
    known, unknown = [], []
    for i in range(8):
        for email, bucket in ((users[i % 3]["email"], known),
                              (f"nobody{i}@example.com", unknown)):
            t0 = time.perf_counter()
            r = c.post("/api/auth/login", {"email": email, "password": "wrong-password"})
            bucket.append(time.perf_counter() - t0)
            assert r.status_code == 401, r.text
    mk, mu = statistics.median(known), statistics.median(unknown)
    assert mk > 0.02, (known, unknown)  # cost 10 really ran for the real accounts
    assert abs(mk - mu) < 0.35 * max(mk, mu), (known, unknown)
