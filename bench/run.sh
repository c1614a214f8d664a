#!/usr/bin/env bash
# run.sh: builds the benchmarks (Release) and runs every one of them on this
# machine, printing their tables one after another. Usage: bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/bootstrap.sh --no-build >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSQ_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
for b in build-bench/bench/bench_*; do
  echo "## $(basename "$b")"
  "$b" --sqgate build-bench/sqgate 2>/dev/null || "$b"
  echo
done
