#!/usr/bin/env bash
# What a publish costs at list size N, with the release `blocklist` binary:
# init, publish N entries, then time a 1-change publish and a 100k-change
# publish (90k adds, 10k removals), reading each one's peak RSS from
# /usr/bin/time -v. Not a test: it prints a table for docs/PERFORMANCE.md
# ("Publishing"). Give a second binary (today's, built from an older commit)
# to measure both on the same inputs in the same run.
#
#   cargo build --release -p blocklistd --bin blocklist
#   blocklistd/benches/centre_publish.sh 1000000 target/release/blocklist [baseline/blocklist]
#
# Targets at 10M: 1 change <= 1 s, 100k changes <= 5 s, RSS <= 500 MB.
set -euo pipefail
N=${1:-1000000}
shift || true
BINS=("${@:-target/release/blocklist}")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

seq 1 "$N" | sed 's/.*/bench-&.example/' > "$WORK/base.txt"
echo "one-$N.example" > "$WORK/one.txt"
seq $((N + 1)) $((N + 90000)) | sed 's/.*/bench-&.example/' > "$WORK/adds.txt"
seq 1 10000 | sed 's/.*/bench-&.example/' > "$WORK/removals.txt"

# Runs "$@" under /usr/bin/time; prints "seconds peak_MB".
measure() {
    /usr/bin/time -v -o "$WORK/time.txt" "$@" >/dev/null 2>"$WORK/stderr.txt" || {
        cat "$WORK/stderr.txt" >&2
        return 1
    }
    awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i] }
        /Maximum resident set size/ { rss = $2 / 1024 }
        END { printf "%8.2f s %8.0f MB", s, rss }' "$WORK/time.txt"
}

printf '%-28s %-44s %s\n' binary step "wall, peak RSS"
for bin in "${BINS[@]}"; do
    dir="$WORK/dir-$RANDOM"
    key="$WORK/k$RANDOM"
    "$bin" keygen "$key.root" >/dev/null
    "$bin" keygen "$key.pub" >/dev/null
    "$bin" init "$dir" --list bench --root-key "$key.root.key" --publish-key "$key.pub.pub" >/dev/null
    common=(--key "$key.pub.key" --kind domain --agency th-aoc)
    row() { printf '%-28s %-44s %s\n' "$bin" "$1" "$2"; }
    # Version 1 with its snapshot, so today's code replays no delta: its best case.
    row "v1: $N adds + snapshot" "$(measure "$bin" publish "$dir" "${common[@]}" --snapshot-every 1 "$WORK/base.txt")"
    row "v2: 1 change on $N" "$(measure "$bin" publish "$dir" "${common[@]}" --snapshot-every 1000 "$WORK/one.txt")"
    row "v3: 90k adds + 10k removals on $N" "$(measure "$bin" publish "$dir" "${common[@]}" --snapshot-every 1000 "$WORK/adds.txt" --remove "$WORK/removals.txt")"
    if "$bin" snapshot --help >/dev/null 2>&1; then
        row "snapshot of v3 (off the publish path)" "$(measure "$bin" snapshot "$dir" --key "$key.pub.key")"
    fi
    rm -rf "$dir"
done
