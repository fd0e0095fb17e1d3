#!/usr/bin/env bash
# Reproduces the fusion comparison of docs/scenario.md: builds the training scenario (seed 11)
# and the evaluation scenario (seed 7: other estate names, other times, same source captures),
# triages the training scenario, turns its tickets into simulated dispositions from its ground
# truth, learns the stacked weights from them, then runs all four strategies on the evaluation
# scenario and evaluates them. Usage: scripts/scenario-compare.sh [path/to/shrike] (release)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/shrike}
WORK=${WORK:-$(mktemp -d)}
"$BIN" scenario build -q --seed 11 --out "$WORK/train"
"$BIN" scenario build -q --seed 7 --out "$WORK/eval"
"$BIN" triage -q "$WORK/train/events.ndjson" --assets "$WORK/train/assets.csv" --out "$WORK/train-out"
"$BIN" scenario feedback --truth "$WORK/train/truth.json" --triage "$WORK/train-out" --out "$WORK/feedback.ndjson"
"$BIN" train fusion --feedback "$WORK/feedback.ndjson" --entities "$WORK/train-out/findings.ndjson" --out "$WORK/stacked.json"
printf 'stacked_weights = "%s"\n' "$WORK/stacked.json" > "$WORK/stacked.toml"
"$BIN" scenario compare --scenario "$WORK/eval" --config "$WORK/stacked.toml" --out "$WORK/compare" > "$WORK/report.md"
echo "report: $WORK/report.md"
