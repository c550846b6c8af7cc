#!/usr/bin/env bash
# GPU dispatches per attribution on wgpu, by agent count: any adapter, lavapipe (software
# Vulkan) included, so the count is watched without a GPU.
#
#   benches/dispatches.sh                 # release binary at target/release/aumann
#   AGENTS="10000 100000" benches/dispatches.sh
#
# Each run writes CubeCL's minimal profiling log (one line per kernel executed, no timing;
# `cubecl.toml` in a scratch folder) and counts its lines: every kernel launch of the run,
# uploads, `V(x)`, `V(b)` and the path integral, midpoint m = 32, f32, zero baseline, one step.
# Indicators: the four analytic ones, the shipped DeepSet (`models/deepset-variance`, square,
# width 8, depth 2) and a GELU DeepSet of width 64 and depth 3 (trained for one epoch here: the
# count does not depend on the weights).
set -u
BIN=$(realpath "${AUMANN:-target/release/aumann}")
MODEL=$(realpath models/deepset-variance)
AGENTS=${AGENTS:-"10000 100000 1000000"}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
[ -x "$BIN" ] || { echo "no aumann binary at $BIN (cargo build --release)"; exit 1; }
cat > "$TMP/cubecl.toml" <<EOF
[profiling.logger]
level = "minimal"
file = "$TMP/kernels.log"
EOF
cd "$TMP" || exit 1
echo "wgpu dispatches per attribution (one step, m = 32, f32, zero baseline)"
printf '| indicator |'; for n in $AGENTS; do printf ' n = %s |' "$n"; done; echo
printf '|---|'; for _ in $AGENTS; do printf -- '---:|'; done; echo
for n in $AGENTS; do "$BIN" synth --agents "$n" --out "x$n.npy" >/dev/null || exit 1; done
"$BIN" synth --agents 200 --time-steps 16 --out train.npy >/dev/null || exit 1
"$BIN" train --features train.npy --target-indicator variance --hidden 64 --depth 3 \
    --activation gelu --epochs 1 --out gelu64-3 --quiet >/dev/null || exit 1
for ind in linear mult variance gini deepset deepset-gelu64-3; do
    printf '| %s |' "$ind"
    for n in $AGENTS; do
        rm -f kernels.log
        model=()
        [ "$ind" = deepset ] && model=(--model "$MODEL")
        [ "$ind" = deepset-gelu64-3 ] && model=(--model "$TMP/gelu64-3")
        if "$BIN" attribute --backend wgpu --features "x$n.npy" --indicator "${ind%%-*}" "${model[@]}" \
            --out phi.npy --quiet 2>/dev/null; then
            printf ' %s |' "$(wc -l < kernels.log)"
        else
            printf ' failed |'
        fi
    done
    echo
done
