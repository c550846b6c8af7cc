#!/usr/bin/env bash
# A long fuzzing run of the ingest readers (tests/fuzz_ingest.rs): CASES cases per target
# (default 100000; the test suite runs 500), from the same fixed seed as the suite, each case
# in a forked process with a time limit. Failures are shrunk and saved to
# tests/proptest-regressions/fuzz_ingest.txt; commit that file so every later run replays them.
#
#   benches/fuzz.sh [CASES]
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-100000}"
cargo test --release --test tests --no-run
start=$(date +%s)
AUMANN_FUZZ_CASES="$cases" cargo test --release --test tests fuzz_ingest:: -- --test-threads 1
end=$(date +%s)
echo "fuzz: ${cases} cases per target, $((end - start)) s on $(nproc) cores ($(uname -m))"
