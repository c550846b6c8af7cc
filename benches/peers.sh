#!/usr/bin/env bash
# aumann against its peers (JAX/XLA and Captum) on the same files, in one sitting, with the
# ratios. Installs nothing: a peer whose Python environment is missing is skipped, and the
# table says so.
#
#   benches/peers.sh                      # release binary at target/release/aumann
#
# Work (this machine's acceptance targets in BENCHMARKS.md, *Against the peers*):
#   - DeepSets of depth 2 and 3, tanh and GELU, width 32 and 64, on [14, 10^5, 3], and the
#     shipped square model (width 8) on [14, 10^6, 3], both cores, midpoint m = 32, f32, zero
#     baseline (JAX's GELU is its default tanh approximation, aumann's the exact erf form);
#   - the four analytic indicators' path integral on [10^6, 3], one thread;
#   - the exact forms of variance and Gini on [10^6, 3] (criterion: cargo bench -p aumann-kernels).
#
# Environment: AUMANN (binary), PEERS (the harnesses, default benches/peers), JAX_PY (python with jax;
# default .venv-jax/bin/python in PEERS, else python3), TORCH_PY (python with captum; default
# .venv-peers/bin/python in PEERS, else python3), LIMIT (seconds per peer run, default 900).
set -u
BIN=${AUMANN:-target/release/aumann}
PEERS=${PEERS:-benches/peers}
LIMIT=${LIMIT:-900}
pick() { # pick VENV MODULE: a python that imports MODULE, or nothing
    for py in "$PEERS/$1/bin/python" python3; do
        if [ -x "$(command -v "$py")" ] && "$py" -c "import $2" 2>/dev/null; then
            echo "$py"
            return
        fi
    done
}
JAX_PY=${JAX_PY:-$(pick .venv-jax jax)}
TORCH_PY=${TORCH_PY:-$(pick .venv-peers captum)}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
[ -x "$BIN" ] || { echo "no aumann binary at $BIN (cargo build --release)"; exit 1; }

# seconds of attribution and relative gap from aumann's summary
summary() {
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); \
print(f\"{d['seconds_attribution']:.3f} {max(abs(g) for g in d['relative_efficiency_gap'] if g is not None):.1e}\")" "$1"
}
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{b/a:.1f}x')" "$1" "$2"; }

"$BIN" synth --agents 100000 --time-steps 14 --out "$TMP/w.npy" >/dev/null || exit 1
"$BIN" synth --agents 1000000 --time-steps 14 --out "$TMP/x.npy" >/dev/null || exit 1
"$BIN" synth --agents 1000000 --out "$TMP/a.npy" >/dev/null || exit 1
"$BIN" synth --agents 200 --time-steps 64 --out "$TMP/train.npy" >/dev/null || exit 1
# Models of every shape measured (two epochs: time does not depend on the weights).
for depth in 2 3; do for act in tanh gelu; do for width in 32 64; do
    "$BIN" train --features "$TMP/train.npy" --target-indicator variance --hidden $width \
        --depth $depth --activation $act --epochs 2 --out "$TMP/$act$width-$depth" \
        --quiet >/dev/null || exit 1
done; done; done

echo "DeepSet, midpoint m = 32, f32, zero baseline, both cores (seconds, relative gap)"
echo "| work | aumann | JAX | aumann vs JAX |"
echo "|---|---:|---:|---:|"
deepset() { # LABEL X MODEL WIDTH ACT DEPTH
    "$BIN" attribute --features "$2" --indicator deepset --model "$3" --out "$TMP/p.npy" \
        --summary "$TMP/s.json" --quiet || { echo "| $1 | failed | | |"; return; }
    read -r secs gap < <(summary "$TMP/s.json")
    local peer="JAX not installed: skipped" r=""
    if [ -n "$JAX_PY" ]; then
        local line
        line=$(timeout "$LIMIT" "$JAX_PY" "$PEERS/deepset_jax.py" "$2" "$4" "$5" "${6:-2}" 2>/dev/null | tail -n 1)
        local jsecs
        jsecs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$line")
        if [ -n "$jsecs" ]; then peer="$jsecs s"; r=$(ratio "$secs" "$jsecs"); else peer="failed or over $LIMIT s"; fi
    fi
    echo "| $1 | $secs s ($gap) | $peer | $r |"
}
for depth in 2 3; do for act in tanh gelu; do for width in 32 64; do
    deepset "$act, width $width, depth $depth, [14, 10^5, 3]" "$TMP/w.npy" \
        "$TMP/$act$width-$depth" $width $act $depth
done; done; done
deepset "square, width 8 (shipped), [14, 10^6, 3]" "$TMP/x.npy" models/deepset-variance 8 square

echo
echo "Analytic path integral, [10^6, 3], midpoint m = 32, f32, one thread (best of 3)"
declare -A OURS
for ind in linear mult variance gini; do
    best=""
    for _ in 1 2 3; do
        "$BIN" attribute --features "$TMP/a.npy" --indicator "$ind" --threads 1 \
            --out "$TMP/p.npy" --summary "$TMP/s.json" --quiet || break
        read -r secs _ < <(summary "$TMP/s.json")
        best=$(python3 -c "import sys; print(min(float(v) for v in sys.argv[1:] if v))" "$secs" ${best:+"$best"})
    done
    OURS[$ind]=$best
done
JAX_LINES=""
if [ -n "$JAX_PY" ]; then
    JAX_LINES=$(XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
        timeout "$LIMIT" taskset -c 0 "$JAX_PY" "$PEERS/analytic_jax.py" "$TMP/a.npy" f32 2>/dev/null)
fi
TORCH_LINES=""
if [ -n "$TORCH_PY" ]; then
    TORCH_LINES=$(timeout "$LIMIT" "$TORCH_PY" "$PEERS/captum_side.py" "$TMP/a.npy" 1 f32 2>/dev/null)
fi
peer_secs() { # LINES INDICATOR: the first number after the indicator's name
    grep -i "$2" <<<"$1" | head -n 1 | grep -oE '[0-9]+\.[0-9]+' | head -n 1
}
echo "| indicator | aumann (s) | JAX (s) | aumann vs JAX | Captum IG (s) | aumann vs Captum |"
echo "|---|---:|---:|---:|---:|---:|"
for ind in linear mult variance gini; do
    j=$(peer_secs "$JAX_LINES" "$ind")
    c=$(peer_secs "$TORCH_LINES" "$ind")
    echo "| $ind | ${OURS[$ind]} | ${j:-${JAX_PY:+failed}${JAX_PY:-JAX not installed: skipped}} | ${j:+$(ratio "${OURS[$ind]}" "$j")} | ${c:-${TORCH_PY:+failed}${TORCH_PY:-Captum not installed: skipped}} | ${c:+$(ratio "${OURS[$ind]}" "$c")} |"
done

echo
echo "Exact forms, [10^6, 3] (criterion, both cores):"
cargo bench -q -p aumann-kernels --bench kernels -- "closed_form/(variance|gini)/1000000" 2>/dev/null \
    | grep -E "closed_form|time:"
exit 0
