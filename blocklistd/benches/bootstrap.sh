#!/usr/bin/env bash
# Bootstrap benchmark: a fresh daemon's first sync from a snapshot of N
# entries (default 1M) served by `blocklist serve`, for one or more builds in
# the same run. Prints, per build, the wall time from the daemon's start to
# "applied snapshot" (verified, applied to SQLite, lookup index published),
# the daemon's peak resident memory and what it wrote to storage, until it
# stopped (/usr/bin/time -v). Not a test: figures
# for docs/PERFORMANCE.md ("Bootstrap").
#
#   cargo build --release -p blocklistd --bins
#   blocklistd/benches/bootstrap.sh [ENTRIES] [BIN_DIR...]
#
# Each BIN_DIR holds `blocklist` and `blocklistd` (default: target/release).
# BOOTSTRAP_KEEP=1 keeps the work folder (lists, daemon logs) and names it.
# BOOTSTRAP_CENTRE=DIR keeps the centre (keys and published list) in DIR and
# reuses it when DIR already holds one: the 10M list takes minutes to make.
# The list is made once, with the first BIN_DIR's `blocklist`, in 10
# publishes a second apart: the snapshot then holds 10 groups whose values
# interleave in key order, as a list built over time does.
set -euo pipefail
N=${1:-1000000}
shift || true
DIRS=("$@")
[ ${#DIRS[@]} -eq 0 ] && DIRS=(target/release)
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -n "${BOOTSTRAP_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

BIN=${DIRS[0]}/blocklist
CENTRE=${BOOTSTRAP_CENTRE:-$WORK/centre}
if [ -f "$CENTRE/entries" ] && [ "$(cat "$CENTRE/entries")" = "$N" ]; then
    echo "reusing the list in $CENTRE"
else
    rm -rf "$CENTRE"
    mkdir -p "$CENTRE"
    "$BIN" keygen "$CENTRE/root" >/dev/null
    "$BIN" keygen "$CENTRE/pub" >/dev/null
    "$BIN" init "$CENTRE/dir" --list bench --root-key "$CENTRE/root.key" --publish-key "$CENTRE/pub.pub" >/dev/null
    PUBLISHES=10
    started=$(date +%s)
    for k in $(seq 1 $PUBLISHES); do
        seq "$k" "$PUBLISHES" "$N" | sed 's/.*/bench-&.example/' > "$WORK/batch.txt"
        "$BIN" publish "$CENTRE/dir" --key "$CENTRE/pub.key" --kind domain --agency th-aoc \
            --snapshot-every "$PUBLISHES" "$WORK/batch.txt" >/dev/null
        sleep 1 # a new listed_at: a new group
    done
    echo "$N" > "$CENTRE/entries"
    echo "list made in $(( $(date +%s) - started )) s"
fi
snapshot=$(ls "$CENTRE"/dir/snapshots/*.snapshot)
printf 'list: %d entries, snapshot %d bytes\n' "$N" "$(stat -c %s "$snapshot")"

"$BIN" serve "$CENTRE/dir" --listen 127.0.0.1:0 > "$WORK/serve.out" 2> "$WORK/serve.log" &
PIDS+=($!)
until grep -qs 'listening on' "$WORK/serve.out"; do sleep 0.05; done
URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$WORK/serve.out")
ROOT=$(ls "$CENTRE"/dir/roots/1-*.root)

printf '%-40s %12s %14s %14s\n' "build" "bootstrap" "peak RSS" "written"
run=0
for d in "${DIRS[@]}"; do
    run=$((run + 1))
    data="$WORK/data-$run"
    mkdir -p "$data"
    cat > "$data.toml" <<EOF
data_dir = "$data"
trust_root = "$ROOT"
[sync]
urls = ["$URL"]
poll_interval = "1h"
poll_jitter = "0s"
[drop]
enabled = false
[api]
listen = "127.0.0.1:0"
EOF
    start=$(date +%s.%N)
    /usr/bin/time -v -o "$data.time" "$d/blocklistd" --config "$data.toml" > /dev/null 2> "$data.log" &
    timer=$!
    PIDS+=($timer)
    until grep -qs 'applied snapshot' "$data.log"; do
        if ! kill -0 "$timer" 2>/dev/null; then
            echo "blocklistd in $d stopped before applying the snapshot:" >&2
            tail -5 "$data.log" >&2
            exit 1
        fi
        sleep 0.05
    done
    end=$(date +%s.%N)
    # SIGTERM to the daemon (the child of time), which then writes its report.
    kill -TERM "$(pgrep -P "$timer")"
    wait "$timer" || true
    rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$data.time")
    # Bytes the daemon had written to storage (512-byte blocks): not load-dependent.
    blocks=$(sed -n 's/.*File system outputs: //p' "$data.time")
    printf '%-40s %10.1f s %11d MB %11d MB\n' "$d" "$(echo "$end - $start" | bc)" \
        "$((rss_kb / 1024))" "$((blocks / 2048))"
done
