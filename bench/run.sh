#!/usr/bin/env bash
# run.sh - `make bench`: issue 9's benchmarks on make run's configuration (FerretDB on
# PostgreSQL, 2 gateways, lighttpd, Redis; rate limits off), seeded by bench/seed.py with
# 10k, then 100k, then 1M messages in 1,000 rooms and 10,000 users; then the lookups on
# FerretDB/SQLite over the same users and rooms. Prints the tables of docs/BENCHMARKS.md
# and writes the plot docs/bench-history-scale.png. Takes ~30 min on 2 cores.
#   BENCH_OUT=/tmp/chat-bench BENCH_SCALES=10k,100k,1m BUILD_DIR=build bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${BENCH_OUT:-$(mktemp -d /tmp/chat-bench-XXXXXX)}
BUILD=${BUILD_DIR:-build}
SCALES=${BENCH_SCALES:-10k,100k,1m}
if [ -z "${FERRETDB_BIN:-}" ] && [ -x .tools/bin/ferretdb ]; then
  export FERRETDB_BIN=$PWD/.tools/bin/ferretdb
fi
echo "==> results in $OUT (uptime: $(uptime))"
python3 bench/bench.py --backend postgresql --scales "$SCALES" --build-dir "$BUILD" --out "$OUT"
python3 bench/bench.py --backend sqlite --scales 10k --only lookups --build-dir "$BUILD" --out "$OUT"
python3 bench/report.py "$OUT/results.json" --plot docs/bench-history-scale.png
