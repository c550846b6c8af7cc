#!/usr/bin/env bash
# Path attribution of a [T, n, 3] population (default [14, 10^6, 3]; midpoint m = 32, f32) on
# wgpu against flex, for the four analytic indicators and the shipped DeepSet. Run it on a
# machine with a GPU:
#
#     benches/gpu.sh                      # AGENTS=1000000 STEPS=14 by default
#     AGENTS=100000 benches/gpu.sh        # smaller
#
# It prints the device wgpu chose and a markdown table: seconds of attribution (the summary's
# `seconds_attribution`: compute only, no file I/O) on each backend and their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS=${AGENTS:-1000000}
STEPS=${STEPS:-14}
BIN=${AUMANN:-target/release/aumann}
[ -x "$BIN" ] || cargo build --release --quiet
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

"$BIN" synth --agents "$AGENTS" --time-steps "$STEPS" --out "$TMP/x.npy"
field() { sed -n "s/.*\"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$1" | head -n 1; }

echo "population: [$STEPS, $AGENTS, 3], midpoint m = 32, f32"
printf '| indicator | flex (s) | wgpu (s) | flex / wgpu |\n|---|---:|---:|---:|\n'
for ind in linear mult variance gini deepset; do
    extra=()
    [ "$ind" = deepset ] && extra=(--model models/deepset-variance)
    for backend in flex wgpu; do
        "$BIN" attribute --features "$TMP/x.npy" --indicator "$ind" "${extra[@]}" \
            --backend "$backend" --out "$TMP/phi.npy" --summary "$TMP/$backend.json" --quiet
    done
    f=$(field "$TMP/flex.json" seconds_attribution)
    w=$(field "$TMP/wgpu.json" seconds_attribution)
    awk -v i="$ind" -v f="$f" -v w="$w" 'BEGIN { printf "| %s | %.2f | %.2f | %.1f× |\n", i, f, w, f / w }'
done
echo "wgpu device: $(field "$TMP/wgpu.json" device)"
