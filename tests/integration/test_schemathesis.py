"""test_schemathesis.py - docs/openapi.yaml and the server agree (issue 10, point 15):
schemathesis runs all its checks (`--checks all`: status codes, content types, headers
and bodies against the schema, schema-valid data accepted, schema-violating data
refused, undeclared methods 405, auth not ignored, resources available after creation,
gone after deletion) in every phase (examples, coverage, fuzzing, and the stateful phase
that follows the spec's OpenAPI links) against a live stack whose chat-api is built with
ASan+UBSan, with a registered user's token (a fresh one per request: schemathesis_hooks.py). 0
failures, no 5xx, no sanitizer report.

The example budget is bounded (SCHEMATHESIS_EXAMPLES per operation, default 25) so the
run takes a few minutes; SCHEMATHESIS_SEED picks the seed (default fixed, so a failure
reproduces). Runs in the pytest process; schemathesis is its CLI (PyPI, installed by
deploy/install-deps.sh --test)."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rest_client import Client

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "docs/openapi.yaml"
CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
SANITIZER_MARKS = ("AddressSanitizer", "runtime error:", "LeakSanitizer", "SUMMARY: ")


def _asan_build():
    """The ASan+UBSan build (CHAT_ASAN_BUILD_DIR, as `make test` sets it), brought up
    to date for chat-api."""
    build = Path(os.environ.get("CHAT_ASAN_BUILD_DIR", REPO / "build-asan"))
    if not (build / "build.ninja").exists():
        subprocess.run(["cmake", "-S", str(REPO), "-B", str(build), "-G", "Ninja",
                        "-DCHAT_SANITIZE=ON", "-DCMAKE_BUILD_TYPE=Debug"], check=True,
                       stdout=subprocess.DEVNULL, timeout=300)
    subprocess.run(["cmake", "--build", str(build), "--target", "chat-api"], check=True,
                   stdout=subprocess.DEVNULL, timeout=900)
    return build


SCHEMATHESIS_SELF_CRASH = "SystemError: AST constructor recursion depth mismatch"


def _schemathesis():
    exe = shutil.which("schemathesis") or shutil.which("st")
    if exe is None:
        pytest.fail("schemathesis is not installed: run deploy/install-deps.sh --test")
    return exe


def test_the_server_honours_its_openapi_contract(make_stack, tmp_path):
    exe = _schemathesis()
    build = _asan_build()
    assert b"__asan_init" in (build / "rest-fcgi/chat-api").read_bytes(), \
        f"{build} is not an ASan+UBSan build (-DCHAT_SANITIZE=ON)"
    s = make_stack(gateways=0, build_dir=build, env={
        # every finding must be visible: a UBSan report kills the process (its request
        # then fails as a 5xx) and both sanitizers write to the lighttpd log
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:exitcode=23",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"})
    c = Client(s)
    user = c.new_user()
    c.new_room(user, "schemathesis seed")
    examples = os.environ.get("SCHEMATHESIS_EXAMPLES", "25")
    seed = os.environ.get("SCHEMATHESIS_SEED", "20261202")
    argv = [exe, "--config-file", str(CONFIG), "run", str(SPEC), "--url", s.http_url,
            "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
            "--max-examples", examples, "--seed", seed, "--workers", "2",
            "--request-timeout", "20", "--no-color", "--generation-database", "none",
            "--report", "junit", "--report-dir", str(tmp_path)]
    # cwd: schemathesis keeps a cache (.schemathesis/) in its working directory
    # every request logs in afresh (schemathesis_hooks.py): logout revokes its token
    env = dict(os.environ, PYTHONUNBUFFERED="1", SCHEMATHESIS_HOOKS="schemathesis_hooks",
               PYTHONPATH=str(Path(__file__).resolve().parent), CHAT_ST_URL=s.http_url,
               CHAT_ST_EMAIL=user["email"], CHAT_ST_PASSWORD="copper-kettle-91")
    run = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=1500, cwd=str(tmp_path), env=env)
    out = run.stdout
    if run.returncode != 0 and SCHEMATHESIS_SELF_CRASH in out:
        # CPython 3.11's compiler fails inside schemathesis/hypothesis now and then (seen
        # twice in ~15 runs, every case before it had passed): a crash of the tool, not a
        # finding about the server. Run again once, with the next seed.
        print("schemathesis crashed inside CPython; running it again", file=sys.stderr)
        argv[argv.index("--seed") + 1] = str(int(seed) + 1)
        run = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=1500, cwd=str(tmp_path), env=env)
        out = run.stdout
    generated = re.search(r"(\d+) generated", out)
    print(f"schemathesis: {generated.group(0) if generated else 'no count'}", file=sys.stderr)
    log = s.log_text("lighttpd")
    assert not any(m in log for m in SANITIZER_MARKS), log[-8000:]
    assert run.returncode == 0, out[-15000:]
    assert generated and int(generated.group(1)) >= 500, out[-3000:]
    # the run reached the logic behind authentication, not a wall of 401s
    assert "Missing authentication" not in out, out[-6000:]
