#!/usr/bin/env bash
# Run every benchmark in turn and keep each one's output.
#   bash bench/run_all.sh                 # all, ~35-60 min on 2 cores (the year's backfill dominates)
#   SKIP_BACKFILL=1 bash bench/run_all.sh # the quick ones only (~6 min)
# Needs PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres; ADELIE_BENCH_PG_DSN overrides) and the
# project installed in the Python environment (PYTHON, default: the active `python`).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
OUT="${BENCH_OUT:-/tmp/adelie_bench_results/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  free -h
  "$PYTHON" -c 'import sys, dagster; print("python", sys.version.split()[0], "dagster", dagster.__version__)'
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt"

run() {
  local name="$1"; shift
  echo; echo "=== $name ==="
  "$PYTHON" "bench/$name.py" "$@" 2>&1 | tee "$OUT/$name.txt"
}

run bench_load --importtime
run bench_warehouse
run bench_checks --days 25 --runs 5
run bench_krx_import --runs 7
run bench_llm_fanout
run bench_daily
if [ -z "${SKIP_BACKFILL:-}" ]; then
  run bench_backfill
fi
echo; echo "results in $OUT"
