"""test_rest_timing.py - at the default BCRYPT_COST (12), a login for an unknown email
takes as long as one with a wrong password for a real account (the server burns a
dummy bcrypt verification), so response times do not reveal which emails exist."""
import statistics
import time

from rest_client import Client


def test_login_timing_does_not_reveal_accounts(make_stack):
    s = make_stack(gateways=0, env={"BCRYPT_COST": "12"})
    c = Client(s)
    u = c.register()
    known, unknown = [], []
    for i in range(6):
        for email, bucket in ((u["email"], known), (f"nobody{i}@example.com", unknown)):
            t0 = time.perf_counter()
            r = c.post("/api/auth/login", {"email": email, "password": "wrong-password"})
            bucket.append(time.perf_counter() - t0)
            assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    mk, mu = statistics.median(known), statistics.median(unknown)
    assert mk > 0.08 and mu > 0.08, (known, unknown)  # bcrypt at cost 12 really ran
    assert abs(mk - mu) < 0.35 * max(mk, mu), (known, unknown)
