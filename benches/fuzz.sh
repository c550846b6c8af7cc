#!/usr/bin/env bash
# The long fuzzing campaign: every property-based fuzz target of the test suite with many more
# cases than the suite runs, each on its pinned seed and, with SEEDS > 1, on further seeds.
# Prints cases and seconds per target; a failing case is shrunk, reported and recorded in
# tests/proptest-regressions/ (replayed first by the suite from then on). Installs nothing.
#
#   bash benches/fuzz.sh [CASES] [SEEDS]     (default: 100000 cases per target, 1 seed)
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-100000}
seeds=${2:-1}
cargo test --release --test tests --no-run --quiet
targets=$(cargo test --release --test tests -- --list 2>/dev/null |
    sed -n 's/^\(fuzz[a-z_]*::[a-z_]*\): test$/\1/p')
printf '%-60s %5s %9s %9s\n' target seed cases seconds
for seed in $(seq 1 "$seeds"); do
    for target in $targets; do
        start=$(date +%s.%N)
        AUMANN_PROPTEST_CASES=$cases AUMANN_PROPTEST_SEED=$seed XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp} \
            cargo test --release --quiet --test tests "$target" -- --exact >/dev/null
        end=$(date +%s.%N)
        printf '%-60s %5s %9s %9.1f\n' "$target" "$seed" "$cases" "$(awk "BEGIN { print $end - $start }")"
    done
done
