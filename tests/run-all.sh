#!/usr/bin/env bash
# run-all.sh: the whole test suite, as README.md and .ci/run run it: installs
# what is missing, builds with -Werror, runs every ctest, then builds with
# ASan+UBSan (and SQ_FAULTS crash points) and runs every ctest again.
# Ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
deploy/bootstrap.sh --no-build || { echo "0 passed, 1 failed"; exit 1; }

jobs=$(nproc)
# ctest runs twice as many tests at once as there are cores, since most of
# them wait far more than they compute (tests/README.md, "Timing").
# SQ_TEST_JOBS sets another count.
test_jobs=${SQ_TEST_JOBS:-$((jobs * 2))}
passed=0 failed=0
run_suite() { # name, build dir, cmake args...
  local name=$1 dir=$2; shift 2
  echo "== $name: configure and build ($dir)"
  if ! cmake -S . -B "$dir" "$@" >"$dir.configure.log" 2>&1 ||
     ! cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1; then
    tail -n 40 "$dir.configure.log" "$dir.build.log" 2>/dev/null
    echo "== $name: build FAILED"
    failed=$((failed + 1))
    return
  fi
  echo "== $name: ctest"
  ctest --test-dir "$dir" --output-on-failure -j"$test_jobs" --timeout 900 | tee "$dir.ctest.log"
  local p f
  p=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* +Passed' "$dir.ctest.log")
  f=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*(\*\*\*|Failed|Timeout|Not Run)' "$dir.ctest.log")
  echo "== $name: $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
}

mkdir -p build-tests
run_suite "release" build-tests/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSQ_FAULTS=ON
# -O1, as the ASan documentation advises: about twice the speed of -O0 with
# the same reports, which keeps the whole run well inside CI's budget.
run_suite "asan+ubsan" build-tests/sanitize -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS_DEBUG=-g -O1" \
  -DSQ_SANITIZE=ON -DSQ_FAULTS=ON

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
