#!/usr/bin/env bash
# Whole-process throughput: `shrike score` over the SpamAssassin corpus (6,046 raw messages,
# extracted once to a temp dir), pinned to one core, timed by hyperfine.
# Usage: scripts/bench/whole-process.sh   Needs: hyperfine (apt-get install hyperfine), a release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$PWD/target/release/shrike
data=../shared/data/email/spamassassin
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
dir=$(mktemp -d); qdir=$(mktemp -d)
trap 'rm -rf "$dir" "$qdir"' EXIT
for a in "$data"/*.tar.xz; do tar -xJf "$a" -C "$dir"; done
n=$(find "$dir" -type f | wc -l)
echo "messages: $n"
hyperfine -i --warmup 1 --runs 5 \
  "taskset -c 0 $bin score --quiet --reasons 0 --quarantine $qdir/q.ndjson $dir > /dev/null" \
  "taskset -c 0 $bin score --quiet --reasons 5 --quarantine $qdir/q.ndjson $dir > /dev/null"
