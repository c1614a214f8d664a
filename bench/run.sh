#!/usr/bin/env bash
# run.sh: builds the benchmarks (Release) and runs every one of them on this
# machine, printing their tables one after another; with a name (engine,
# validate, chain) only that one. Arguments after the name go to it, e.g.
# `bench/run.sh chain --quick`. Progress lines (stderr) go to
# build-bench/NAME.log, kept after the run: a failed check (the chain's
# delivery check, say) explains itself there.
# Usage: bench/run.sh [NAME [ARGS...]]
set -euo pipefail
cd "$(dirname "$0")/.."
only="${1:-}"
[ $# -gt 0 ] && shift
deploy/bootstrap.sh --no-build >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSQ_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
ran=0
for b in build-bench/bench/bench_*; do
  if [ -n "$only" ] && [ "$(basename "$b")" != "bench_$only" ]; then
    continue
  fi
  ran=1
  name="$(basename "$b")"
  log="build-bench/$name.log"
  echo "## $name"
  "$b" --sqgate build-bench/sqgate "$@" 2>"$log" || echo "$name exited with status $? (its progress lines: $log)"
  if grep -q "failed" "$log"; then
    echo "$name: a check failed; its progress lines: $log"
  fi
  echo
done
if [ "$ran" = 0 ]; then
  echo "run.sh: no benchmark bench_$only (see bench/)" >&2
  exit 2
fi
