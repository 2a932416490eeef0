#!/usr/bin/env python3
"""stack.py (tests) - the launcher used by the test suites; the implementation is
deploy/stack.py, shared with `make run`. Importable (`from harness.stack import Stack`)
and runnable (`python3 tests/harness/stack.py serve --state-file F`)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy"))
from stack import Proc, Stack, free_port, main, port_open, writeback_note  # noqa: E402,F401

if __name__ == "__main__":
    sys.exit(main())
