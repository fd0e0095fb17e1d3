#!/usr/bin/env bash
# Whole-process throughput of the offline pipeline (`shrike triage`): the default scenario
# (`shrike scenario build --seed 7`: 318,213 OCSF events, ~795 MB) through Sigma (2,290 rules),
# the three domain models, intel matching, fusion and routing, three runs, plus raw-telemetry
# input (the 62 atomic Mordor captures: decode + normalize first). Prints events/s, peak RSS and
# the stage times. Usage: scripts/bench/triage.sh [path/to/shrike]   (default target/release/shrike)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-target/release/shrike}
WORK=${WORK:-$(mktemp -d)}
[ -s "$WORK/scen/events.ndjson" ] || "$BIN" scenario build -q --seed 7 --out "$WORK/scen"
for i in 1 2 3; do
  /usr/bin/time -f "peak RSS %M KB, wall %e s" "$BIN" triage -q "$WORK/scen/events.ndjson" \
    --assets "$WORK/scen/assets.csv" --out "$WORK/out" 2>&1 | grep -E "triage|peak"
done
python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print('stages ms', s['stage_ms']); print('fusion', s['fusion'])" "$WORK/out/summary.json"
/usr/bin/time -f "peak RSS %M KB, wall %e s" "$BIN" triage -q ../shared/data/endpoint/mordor/atomic \
  --out "$WORK/mordor" 2>&1 | grep -E "triage|peak"
python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print('stages ms', s['stage_ms'])" "$WORK/mordor/summary.json"
