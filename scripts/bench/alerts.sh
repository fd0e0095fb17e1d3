#!/usr/bin/env bash
# Whole-process throughput of POST /v1/alerts: every Suricata EVE record of the shared network
# captures (IcedID 2022/2023, WRCCDC and conference alert samples, nmap web scan, SSH/TLS flows),
# posted in batches of 1,000 NDJSON records to a fresh `shrike serve` with the bundled playbooks,
# the shared intel store, the example inventory and a baseline store. Prints records/s and the
# outcome counts. Usage: scripts/bench/alerts.sh [path/to/shrike]   (default target/release/shrike)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-target/release/shrike}
DATA=../shared/data/network
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for f in "$DATA"/c2/icedid-*/eve.json.xz "$DATA"/suricata/*/*.xz; do xzcat "$f"; done \
  | grep -v '"event_type":"stats"' > "$WORK/all.ndjson"
split -l 1000 "$WORK/all.ndjson" "$WORK/batch."
cat > "$WORK/serve.toml" <<TOML
listen = "127.0.0.1:18081"
max_body_bytes = 104857600
[soar]
db = "$WORK/cases.db"
baseline_db = "$WORK/baseline.db"
assets = ["content/soar/assets.csv"]
intel_dir = "../shared/data/threat-intel"
TOML
SHRIKE_API_TOKENS="ingest=bench-ingest-token" "$BIN" serve --config "$WORK/serve.toml" 2>"$WORK/serve.log" &
PID=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18081/readyz >/dev/null && break; sleep 0.2; done
N=$(wc -l < "$WORK/all.ndjson")
START=$(date +%s.%N)
for b in "$WORK"/batch.*; do
  curl -sf -H 'Authorization: Bearer bench-ingest-token' --data-binary @"$b" \
       http://127.0.0.1:18081/v1/alerts > "$b.out"
done
END=$(date +%s.%N)
echo "records: $N  seconds: $(echo "$END - $START" | bc)  records/s: $(echo "$N / ($END - $START)" | bc)"
cat "$WORK"/batch.*.out | jq -s '{tickets_created: (map(.tickets_created) | add), joined: (map(.joined) | add),
  below_threshold: (map(.below_threshold) | add), no_playbook: (map(.no_playbook) | add),
  rejected: (map(.rejected) | add), duplicate: (map(.duplicate) | add)}' -c
