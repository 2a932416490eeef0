#!/usr/bin/env bash
# run.sh - runs the benchmarks (`make bench`); results go into docs/BENCHMARKS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 bench/rest_bench.py
python3 bench/ws_fanout.py
