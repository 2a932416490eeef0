"""conftest.py - pytest fixtures that start the real system (Redis, FerretDB, gateways,
lighttpd + rest-fcgi) through tests/harness/stack.py. Runs in the pytest process."""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.stack import Stack  # noqa: E402

RATES_OFF = {"RATE_MSG_PER_SEC": "0", "RATE_LOGIN_PER_MIN": "0", "RATE_REGISTER_PER_HOUR": "0",
             "RATE_API_PER_SEC": "0", "RATE_ROOM_CREATE_PER_MIN": "0",
             "RATE_MEMBERSHIP_PER_MIN": "0",
             "WS_FRAME_RATE": "1000000", "WS_FRAME_BURST": "1000000"}


@pytest.fixture(scope="module")
def stack():
    """One system per test module: 2 gateways, every rate limit off."""
    s = Stack(gateways=2, env=dict(RATES_OFF))
    s.start()
    yield s
    s.stop()


@pytest.fixture
def make_stack():
    """Factory for a system with its own settings; stopped after the test.
    make_stack(gateways=0, env={"RATE_LOGIN_PER_MIN": "3"}) - env is merged over RATES_OFF."""
    made = []

    def factory(gateways=2, env=None, **kwargs):
        merged = dict(RATES_OFF)
        merged.update(env or {})
        s = Stack(gateways=gateways, env=merged, **kwargs)
        made.append(s)
        s.start()
        return s

    yield factory
    for s in made:
        s.stop()
