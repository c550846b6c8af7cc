#!/usr/bin/env bash
# Path attribution on wgpu against flex (midpoint m = 32, f32, zero baseline), on a machine with
# a GPU:
#
#   - the four analytic indicators and the shipped DeepSet (square, width 8) on [T, AGENTS, 3];
#   - wider DeepSets on [T, WIDE_AGENTS, 3], one row per folder in WIDE_MODELS (`aumann train ...
#     --hidden 64 --depth 3 --activation tanh`; time does not depend on the weights);
#   - the JAX peer (`deepset_jax.py`, jit, on whatever device JAX finds: the GPU where jaxlib has
#     CUDA) on the same files and shapes, when `python3 -c 'import jax'` works and PEERS holds
#     the script.
#
#     benches/gpu.sh                                   # AGENTS=1000000 STEPS=14
#     WIDE_MODELS="models/tanh64-2 models/gelu64-3" benches/gpu.sh
#
# Environment: AUMANN (binary, default target/release/aumann), AGENTS, WIDE_AGENTS (default
# 100000), STEPS (14), WIDE_MODELS, PEERS (the harnesses, default benches/peers), LIMIT (seconds per run,
# default 150: a run over it is reported as "> LIMIT").
#
# It prints the devices and markdown tables: seconds of attribution (the summary's
# `seconds_attribution`: compute only, no file I/O; JAX: its timed loop, compile excluded), the
# largest relative efficiency gap over the steps, and the ratio flex / wgpu.
set -uo pipefail
cd "$(dirname "$0")/.."
AGENTS=${AGENTS:-1000000}
WIDE_AGENTS=${WIDE_AGENTS:-100000}
STEPS=${STEPS:-14}
LIMIT=${LIMIT:-150}
PEERS=${PEERS:-benches/peers}
BIN=${AUMANN:-target/release/aumann}
[ -x "$BIN" ] || cargo build --release --quiet || exit 1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

field() { sed -n "s/.*\"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$1" | head -n 1; }
# The largest entry of the summary's relative_efficiency_gap list.
max_gap() {
    [ -s "$1" ] || { echo -; return; }
    tr -d '\n ' <"$1" | sed -n 's/.*"relative_efficiency_gap":\[\([^]]*\)\].*/\1/p' | tr ',' '\n' |
        awk '$1 != "null" { v = $1 + 0; if (v > m) m = v } END { printf "%.1e", m }'
}

# run LABEL X.npy INDICATOR [MODEL]: one row, flex then wgpu.
run() {
    local label=$1 x=$2 ind=$3 model=${4:-} extra=() f w gf gw
    [ -n "$model" ] && extra=(--model "$model")
    for backend in flex wgpu; do
        rm -f "$TMP/$backend.json"
        timeout "$LIMIT" "$BIN" attribute --features "$x" --indicator "$ind" "${extra[@]}" \
            --backend "$backend" --out "$TMP/phi.npy" --summary "$TMP/$backend.json" --quiet ||
            echo "$label on $backend: failed or over ${LIMIT} s" >&2
    done
    f=$(field "$TMP/flex.json" seconds_attribution 2>/dev/null)
    w=$(field "$TMP/wgpu.json" seconds_attribution 2>/dev/null)
    gf=$(max_gap "$TMP/flex.json" 2>/dev/null)
    gw=$(max_gap "$TMP/wgpu.json" 2>/dev/null)
    [ -s "$TMP/wgpu.json" ] && DEVICE=$(sed -n 's/.*"device": "\(.*\)",$/\1/p' "$TMP/wgpu.json")
    awk -v l="$label" -v f="${f:-}" -v w="${w:-}" -v gf="${gf:--}" -v gw="${gw:--}" -v lim="$LIMIT" 'BEGIN {
        fs = f == "" ? "> " lim : sprintf("%.2f", f); ws = w == "" ? "> " lim : sprintf("%.2f", w)
        r = (f == "" || w == "") ? "–" : sprintf("%.1f×", f / w)
        printf "| %s | %s | %s | %s | %s | %s |\n", l, fs, ws, r, gf, gw }'
}

# jax LABEL X.npy WIDTH ACT [DEPTH]: the JAX peer's seconds and gap, or why not.
jax() {
    if ! python3 -c 'import jax' 2>/dev/null; then
        echo "| $1 | JAX not installed: skipped |"
    elif ! [ -f "$PEERS/deepset_jax.py" ]; then
        echo "| $1 | $PEERS/deepset_jax.py not found: skipped |"
    else
        local line
        line=$(timeout "$LIMIT" python3 "$PEERS/deepset_jax.py" "$2" "$3" "$4" "${5:-2}" 2>/dev/null | tail -n 1)
        echo "| $1 | ${line:-failed or over $LIMIT s} |"
    fi
}

"$BIN" synth --agents "$AGENTS" --time-steps "$STEPS" --out "$TMP/x.npy" || exit 1
DEVICE="(wgpu did not run)"
echo "population: [$STEPS, $AGENTS, 3], midpoint m = 32, f32, zero baseline"
printf '| indicator | flex (s) | wgpu (s) | flex / wgpu | rel. gap flex | rel. gap wgpu |\n'
printf '|---|---:|---:|---:|---:|---:|\n'
for ind in linear mult variance gini; do
    run "$ind" "$TMP/x.npy" "$ind"
done
run "deepset (shipped: square, width 8)" "$TMP/x.npy" deepset models/deepset-variance
WIDE_MODELS=${WIDE_MODELS:-${WIDE_MODEL:-}}
# shape MODEL: "ACT WIDTH DEPTH" from the model's config.json (activation in lower case).
shape() {
    tr -d '\n ' <"$1/config.json" | sed 's/.*"hidden":\([0-9]*\),"depth":\([0-9]*\),"activation":"\([A-Za-z]*\)".*/\3 \1 \2/' |
        tr '[:upper:]' '[:lower:]'
}
if [ -n "$WIDE_MODELS" ]; then
    "$BIN" synth --agents "$WIDE_AGENTS" --time-steps "$STEPS" --out "$TMP/w.npy" || exit 1
    echo
    echo "population: [$STEPS, $WIDE_AGENTS, 3]"
    printf '| indicator | flex (s) | wgpu (s) | flex / wgpu | rel. gap flex | rel. gap wgpu |\n'
    printf '|---|---:|---:|---:|---:|---:|\n'
    for model in $WIDE_MODELS; do
        read -r act width depth < <(shape "$model")
        run "deepset ($act, width $width, depth $depth)" "$TMP/w.npy" deepset "$model"
    done
fi
echo "wgpu device: $DEVICE"
echo
echo "JAX peer (deepset_jax.py; random weights of the same shapes):"
printf '| work | result |\n|---|---|\n'
jax "square, width 8, [$STEPS, $AGENTS, 3]" "$TMP/x.npy" 8 square
for model in $WIDE_MODELS; do
    read -r act width depth < <(shape "$model")
    jax "$act, width $width, depth $depth, [$STEPS, $WIDE_AGENTS, 3]" "$TMP/w.npy" "$width" "$act" "$depth"
done
python3 -c 'import jax; print("JAX devices:", jax.devices())' 2>/dev/null || true
exit 0
