#!/usr/bin/env python3
"""with_services.py - runs a command (the ctest unit suites) with a private Redis and
FerretDB started on free ports in a temp dir, exporting CHAT_TEST_REDIS_URL and
CHAT_TEST_MONGO_URI to it; stops them afterwards and exits with the command's code.
  python3 tests/harness/with_services.py -- ctest --test-dir build"""
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy"))
from stack import Stack  # noqa: E402


def main():
    argv = sys.argv[1:]
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("usage: with_services.py -- COMMAND...", file=sys.stderr)
        return 2
    stack = Stack(gateways=0)
    try:
        stack.start_redis()
        stack.start_mongo()
        env = dict(os.environ, CHAT_TEST_REDIS_URL=stack.redis_url,
                   CHAT_TEST_MONGO_URI=stack.mongo_uri)
        return subprocess.call(argv, env=env)
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
