#!/usr/bin/env bash
# Propagation benchmark (issue 16): the real centre (`blocklist publish`,
# `blocklist serve`), one real `blocklistd` with `sync.push = true`, and a
# real C reader (propagation_reader.c, linked with libblocklist) on the
# daemon's data folder. Not a test: it prints the table for
# docs/PERFORMANCE.md ("Propagation benchmark"), each figure beside its
# target. Uses only the documented CLI, daemon config and C API.
#
#   cargo build --release -p blocklistd -p blocklist-ffi
#   blocklistd/benches/propagation.sh [ENTRIES]
#
# ENTRIES (or BLOCKLIST_BENCH_ENTRIES): the list's size, default 10M; 1000000
# for a quick run. BLOCKLIST_BENCH_BIN: the binaries' folder (default the
# workspace's target/release).
# BLOCKLIST_BENCH_RELOAD_MS: the C reader's reload_interval_ms (default: the
# library's). BLOCKLIST_BENCH_KEEP=1 keeps the work folder (logs) and says where.
set -euo pipefail
N=${1:-${BLOCKLIST_BENCH_ENTRIES:-10000000}}
HERE=$(dirname "$0")
ROOT=$HERE/../..
BIN=${BLOCKLIST_BENCH_BIN:-$ROOT/target/release}
TIMEOUT=600 # seconds a version may take to reach the daemon or the reader before the run fails
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "${BLOCKLIST_BENCH_KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
fail() {
    echo "propagation.sh: $*" >&2
    tail -n 20 "$WORK/daemon.log" >&2 2>/dev/null || true
    exit 1
}
now() { date +%s.%N; }
seconds() { printf '%.2f' "$(echo "$2 - $1" | bc)"; }
mb() { printf '%.1f MB' "$(echo "$1 / 1000000" | bc -l)"; }

# The C reader, against this workspace's header and static library.
cc -std=c11 -O2 -Wall -Wextra -Werror -pedantic -I "$ROOT/include" "$HERE/propagation_reader.c" \
    "$BIN/libblocklist.a" -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o "$WORK/reader"

# The list: N domains, then 100k changes (90k adds, 10k removals), then the
# twenty identifiers the propagation trials list one publish at a time.
seq 1 "$N" | sed 's/.*/bench-&.example/' > "$WORK/base.txt"
seq $((N + 1)) $((N + 90000)) | sed 's/.*/bench-&.example/' > "$WORK/adds.txt"
seq 1 10000 | sed 's/.*/bench-&.example/' > "$WORK/removals.txt"
seq 1 20 | sed 's/.*/propagation-&.example/' > "$WORK/ids.txt"

"$BIN/blocklist" keygen "$WORK/root" >/dev/null
"$BIN/blocklist" keygen "$WORK/pub" >/dev/null
"$BIN/blocklist" init "$WORK/dir" --list bench --root-key "$WORK/root.key" \
    --publish-key "$WORK/pub.pub" >/dev/null

# publish [ARGS...]: the next version (a snapshot when it is a multiple of
# SNAPSHOT_EVERY), timed from start to return. Sets VERSION, PUBLISHED (when
# it returned), PUBLISH_S and PUBLISH_RSS (the centre's peak resident bytes).
VERSION=0
publish() {
    local start command=("$BIN/blocklist" publish "$WORK/dir" --key "$WORK/pub.key" --kind domain
        --agency th-aoc --snapshot-every "$SNAPSHOT_EVERY" "$@")
    start=$(now)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%M' -o "$WORK/time.out" "${command[@]}" >/dev/null
        PUBLISH_RSS=$(( $(tail -n 1 "$WORK/time.out") * 1024 ))
    else
        "${command[@]}" >/dev/null &
        local pid=$! peak=0 hwm
        while hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null); [ -n "$hwm" ]; do
            peak=$hwm
            sleep 0.05
        done
        wait "$pid"
        PUBLISH_RSS=$((peak * 1024))
    fi
    PUBLISHED=$(now)
    PUBLISH_S=$(seconds "$start" "$PUBLISHED")
    VERSION=$((VERSION + 1))
}

# The initial list, then one change and a snapshot of version 2: a daemon
# starting from nothing takes the snapshot (cheaper than replaying the N adds).
# Later versions write none.
SNAPSHOT_EVERY=2
publish "$WORK/base.txt"
initial_s=$PUBLISH_S
echo "bootstrap-0.example" > "$WORK/one.txt"
publish "$WORK/one.txt"
initial_s=$(printf '%.2f' "$(echo "$initial_s + $PUBLISH_S" | bc)")
SNAPSHOT_EVERY=1000000

# start_listening FILE CMD...: runs CMD in the background, stdout to FILE,
# until it prints "listening on URL"; sets LISTENING to the URL and STARTED
# to its pid.
start_listening() {
    local out=$1; shift
    "$@" > "$out" &
    STARTED=$!
    PIDS+=("$STARTED")
    local i
    for i in $(seq 1 600); do
        LISTENING=$(sed -n 's/^listening on //p' "$out")
        [ -n "$LISTENING" ] && return 0
        kill -0 "$STARTED" 2>/dev/null || fail "$* exited before listening"
        sleep 0.05
    done
    fail "$* did not listen within 30 s"
}
start_listening "$WORK/serve.out" "$BIN/blocklist" serve "$WORK/dir" --listen 127.0.0.1:0 \
    2> "$WORK/serve.log"
centre=$LISTENING

mkdir "$WORK/data"
cat > "$WORK/blocklistd.toml" <<EOF
data_dir = "$WORK/data"
trust_root = "$(ls "$WORK"/dir/roots/1-*.root)"
[sync]
urls = ["$centre"]
# Only the push brings a version within the run.
poll_interval = "1h"
push = true
[drop]
enabled = false
[api]
listen = "127.0.0.1:0"
EOF
start=$(now)
NO_COLOR=1 start_listening "$WORK/daemon.out" "$BIN/blocklistd" --config "$WORK/blocklistd.toml" \
    2> "$WORK/daemon.log"
daemon=$STARTED api=$LISTENING

# wait_index V: until the daemon's lookups answer from version V or later.
wait_index() {
    local deadline=$(( $(date +%s) + TIMEOUT )) held
    while :; do
        held=$(curl -sf "$api/v1/status" | grep -o '"index_version":[0-9]*' | cut -d: -f2) || true
        [ "${held:-0}" -ge "$1" ] && return 0
        kill -0 "$daemon" 2>/dev/null || fail "blocklistd exited"
        [ "$(date +%s)" -lt "$deadline" ] || fail "version $1 did not reach blocklistd within ${TIMEOUT}s"
        sleep 0.05
    done
}
wait_index "$VERSION"
bootstrap_s=$(seconds "$start" "$(now)")
bootstrap_rss=$(( $(awk '/^VmHWM/ { print $2 }' "/proc/$daemon/status") * 1024 ))
bootstrap_from=deltas
grep -q "applied snapshot" "$WORK/daemon.log" && bootstrap_from=snapshot

# The C reader, from now on: it waits for the twenty identifiers.
"$WORK/reader" "$WORK/data" "$WORK/ids.txt" ${BLOCKLIST_BENCH_RELOAD_MS:+"$BLOCKLIST_BENCH_RELOAD_MS"} \
    > "$WORK/reader.out" 2> "$WORK/reader.err" &
PIDS+=($!)
until grep -q '^ready' "$WORK/reader.out"; do
    kill -0 "${PIDS[-1]}" 2>/dev/null || fail "the C reader failed: $(cat "$WORK/reader.err")"
    sleep 0.05
done

write_bytes() { awk '/^write_bytes/ { print $2 }' "/proc/$daemon/io"; }
# Let the push connection settle on the current manifest.
sleep 1

# One change: the centre's time and memory, the bytes the daemon writes for it.
before=$(write_bytes)
echo "one-change-1.example" > "$WORK/one.txt"
publish "$WORK/one.txt"
one_s=("$PUBLISH_S") one_rss=$PUBLISH_RSS
wait_index "$VERSION"
one_written=$(( $(write_bytes) - before ))

# 100k changes: the centre's time and memory, the daemon's apply (from its
# log: the catch-up step that fetches the delta to "applied delta").
sleep 1
publish "$WORK/adds.txt" --remove "$WORK/removals.txt"
big_s=$PUBLISH_S big_rss=$PUBLISH_RSS big_published=$PUBLISHED big_version=$VERSION
wait_index "$VERSION"
big_served_s=$(seconds "$big_published" "$(now)")
log_time() {
    local at
    at=$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/daemon.log" | grep -- "$1" | grep -m 1 -- "version=$big_version\b" \
        | awk '{ print $1 }')
    [ -n "$at" ] && date -d "$at" +%s.%N
}
if fetched=$(log_time "catch-up") && applied=$(log_time "applied delta"); then
    big_apply_s=$(seconds "$fetched" "$applied")
else
    big_apply_s="? (not in the log)"
fi

# wait_seen K: until the reader has seen identifier K; prints its line.
wait_seen() {
    local deadline=$(( $(date +%s) + TIMEOUT )) line
    until line=$(grep -m 1 "^seen $1 " "$WORK/reader.out"); do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.05
    done
    echo "$line"
}
# Propagation, one change at a time: publish returned -> C reader listed.
# Also from the new manifest's modification time: the daemon may start on a
# version before `blocklist publish` has returned, which the first figure hides.
latencies=() from_manifest=()
for k in $(seq 1 10); do
    sleep 1 # each trial starts from a quiet daemon and reader
    sed -n "${k}p" "$WORK/ids.txt" > "$WORK/one.txt"
    publish "$WORK/one.txt"
    one_s+=("$PUBLISH_S")
    manifest_at=$(stat -c %.9Y "$WORK/dir/manifest")
    line=$(wait_seen "$k") || fail "identifier $k never reached the C reader"
    at=$(echo "$line" | awk '{ print $4 }')
    latencies+=("$(seconds "$PUBLISHED" "$at")")
    from_manifest+=("$(seconds "$manifest_at" "$at")")
done

# Ten one-change publishes 200 ms apart (each 200 ms after the previous one
# returned: publishes take the directory's lock one at a time): all must
# arrive, in order.
sleep 1
declare -A published_at published_version
for k in $(seq 11 20); do
    sed -n "${k}p" "$WORK/ids.txt" > "$WORK/one.txt"
    publish "$WORK/one.txt"
    one_s+=("$PUBLISH_S")
    published_at[$k]=$PUBLISHED published_version[$k]=$VERSION
    sleep 0.2
done
arrived=0 in_order=yes previous=0 burst=()
for k in $(seq 11 20); do
    line=$(wait_seen "$k") || continue
    arrived=$((arrived + 1))
    read -r _ _ version at <<< "$line"
    # In order: never answered listed before its own version, nor before an
    # earlier identifier.
    if [ "$version" -lt "${published_version[$k]}" ] || [ "$version" -lt "$previous" ]; then in_order=no; fi
    previous=$version
    burst+=("$(seconds "${published_at[$k]}" "$at")")
done

stats() { [ $# -gt 0 ] || { echo "none"; return; }; printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { printf "median %.2f s, worst %.2f s (of %d)", (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2, v[NR], NR }'; }

printf '\nPropagation benchmark: %s entries, commit %s, %s, load average %s\n' "$N" \
    "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')" "$(date -u +%FT%TZ)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '(C reader reload_interval_ms: %s)\n' "${BLOCKLIST_BENCH_RELOAD_MS:-the library default}"
printf '(centre: the initial %s entries and the snapshot, two publishes: %s s)\n\n' "$N" "$initial_s"
row() { printf '| %s | %s | %s |\n' "$1" "$2" "$3"; }
row step figure target
row --- --- ---
row "bootstrap: daemon syncs the list ($bootstrap_from) from the centre" "$bootstrap_s s" "<= 30 s"
row "bootstrap: daemon peak RSS (VmHWM)" "$(mb "$bootstrap_rss")" "<= 1 GB"
row "centre: publish 1 change" "$(stats "${one_s[@]}")" "<= 1 s"
row "centre: publish 100k changes (90k adds, 10k removals)" "$big_s s" "<= 5 s"
row "centre: peak RSS during a publish (1 change / 100k)" "$(mb "$one_rss") / $(mb "$big_rss")" "<= 500 MB"
row "replica: bytes written for a 1-change delta (/proc/PID/io)" "$(mb "$one_written") ($((one_written / 1024)) KiB)" "<= 1 MB"
row "replica: 100k-change delta applied (log: fetch to applied)" "$big_apply_s s" "<= 2 s"
row "replica: 100k delta, publish returned to the daemon's index serving it" "$big_served_s s" "-"
row "propagation: publish returned to C reader listed, 1 change" "$(stats "${latencies[@]}")" \
    "median <= 1 s, worst <= 2 s"
row "propagation: manifest written (mtime) to C reader listed, 1 change" "$(stats "${from_manifest[@]}")" "-"
row "propagation: 10 one-change publishes 200 ms apart" \
    "$arrived/10 arrived, in order: $in_order; $(stats "${burst[@]}")" "all, in order"
