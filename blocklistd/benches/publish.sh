#!/usr/bin/env bash
# Publishing benchmark: 100k changes on top of a 1M-entry list, with the
# release `blocklist` binary. Not a test: it prints timings for
# docs/PERFORMANCE.md ("Publishing").
#
#   cargo build --release -p blocklistd --bin blocklist
#   blocklistd/benches/publish.sh [path/to/blocklist]
set -euo pipefail
BIN=${1:-target/release/blocklist}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

seq 1 1000000 | sed 's/.*/bench-&.example/' > "$WORK/base.txt"
# 100k changes: 90k new domains, 10k removals of listed ones.
seq 1000001 1090000 | sed 's/.*/bench-&.example/' > "$WORK/adds.txt"
seq 1 10000 | sed 's/.*/bench-&.example/' > "$WORK/removals.txt"
# A second batch for the run that also writes a snapshot.
seq 2000001 2090000 | sed 's/.*/bench-&.example/' > "$WORK/adds2.txt"
seq 10001 20000 | sed 's/.*/bench-&.example/' > "$WORK/removals2.txt"

"$BIN" keygen "$WORK/root" >/dev/null
"$BIN" keygen "$WORK/pub" >/dev/null
"$BIN" init "$WORK/dir" --list bench --root-key "$WORK/root.key" --publish-key "$WORK/pub.pub" >/dev/null

timed() {
    local label=$1; shift
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null
    end=$(date +%s.%N)
    printf '%-58s %6.2f s\n' "$label" "$(echo "$end - $start" | bc)"
}
common=(--key "$WORK/pub.key" --kind domain --agency th-aoc)
timed "v1: 1,000,000 adds + snapshot (bootstrap)" \
    "$BIN" publish "$WORK/dir" "${common[@]}" --snapshot-every 1 "$WORK/base.txt"
timed "v2: 90k adds + 10k removals on 1M (delta only)" \
    "$BIN" publish "$WORK/dir" "${common[@]}" --snapshot-every 1000 "$WORK/adds.txt" --remove "$WORK/removals.txt"
timed "v3: 90k adds + 10k removals on 1.08M (delta + snapshot)" \
    "$BIN" publish "$WORK/dir" "${common[@]}" --snapshot-every 3 "$WORK/adds2.txt" --remove "$WORK/removals2.txt"
timed "refresh (manifest only)" "$BIN" refresh "$WORK/dir" --key "$WORK/pub.key"
timed "verify the directory (all signatures, replay)" "$BIN" verify "$WORK/dir" --root "$(ls "$WORK"/dir/roots/1-*)"
ls -l "$WORK"/dir/deltas "$WORK"/dir/snapshots | awk 'NF > 5 { print "  " $5, $9 }'
