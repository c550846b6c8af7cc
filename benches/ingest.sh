#!/usr/bin/env bash
# Ingest throughput: the synthetic panel written as Jetstream events (plain JSONL and zstd),
# then `aumann panel ingest` of it, at two population sizes. Prints, per run, the JSON bytes,
# wall time, CPU time, MB/s per core and peak RSS (GNU time), end to end (the panel written
# included). Installs nothing.
#
#   bash benches/ingest.sh [AGENTS:LIKES...]   (default: 400000:0 1000000:0 400000:4)
#
# LIKES is likes per post: they triple the events and change nothing an ingest keeps, so
# the peak memory of 400000:4 against 400000:0 shows what the event volume costs.
# Needs ~2.5x the largest size in free space under ${TMPDIR:-/tmp}.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/aumann
work=$(mktemp -d "${TMPDIR:-/tmp}/aumann-ingest.XXXXXX")
trap 'rm -rf "$work"' EXIT
specs=("${@:-400000:0 1000000:0 400000:4}")
read -r -a specs <<< "${specs[*]}"
printf '%-9s %-5s %-5s %9s %9s %9s %8s %8s %11s %9s\n' agents likes form events "JSON MB" \
  "file MB" "wall s" "cpu s" "MB/s/core" "peak MB"
for spec in "${specs[@]}"; do
  n=${spec%%:*} likes=${spec##*:}
  for form in plain zstd; do
    ev="$work/ev-$n-$form"
    flag=(--likes-per-post "$likes"); [ "$form" = zstd ] && flag+=(--compress)
    json_mb=$("$bin" panel synth --agents "$n" --events "$ev" "${flag[@]}" 2>&1 \
      | sed -n 's/.* \([0-9.]*\) MB of JSON lines.*/\1/p')
    file_mb=$(du -sm "$ev/events" | cut -f1)
    sync
    /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$bin" panel ingest --quiet \
      --events "$ev/events" --topics "$ev/topics.toml" --followers "$ev/followers.csv" \
      --out "$work/panel" 2> "$work/log"
    read -r wall user sys rss < "$work/time"
    cpu=$(echo "$user + $sys" | bc)
    events=$(sed -n 's/^ *"events": \([0-9]*\),$/\1/p' "$work/panel/manifest.json" | head -1)
    printf '%-9s %-5s %-5s %9s %9.0f %9s %8.2f %8.2f %11.0f %9.0f\n' "$n" "$likes" "$form" "$events" "$json_mb" "$file_mb" \
      "$wall" "$cpu" "$(echo "$json_mb / $cpu" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
    rm -rf "$ev" "$work/panel"
  done
done
