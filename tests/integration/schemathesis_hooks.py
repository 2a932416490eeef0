"""schemathesis_hooks.py - loaded by schemathesis (SCHEMATHESIS_HOOKS) in
test_schemathesis.py: every generated request gets a fresh token of the test's user,
logged in just for it, so that POST /api/auth/logout (which revokes the token it is
sent with) cannot leave the rest of the run answering 401. Runs in the schemathesis
process; the user's URL and credentials come from CHAT_ST_URL, CHAT_ST_EMAIL and
CHAT_ST_PASSWORD."""
import os

import requests
import schemathesis


@schemathesis.auth(refresh_interval=None)  # no cache: one login per request
class FreshToken:
    def get(self, case, ctx):
        r = requests.post(os.environ["CHAT_ST_URL"] + "/api/auth/login",
                          json={"email": os.environ["CHAT_ST_EMAIL"],
                                "password": os.environ["CHAT_ST_PASSWORD"]}, timeout=20)
        r.raise_for_status()
        return r.json()["token"]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
