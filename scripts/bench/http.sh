#!/usr/bin/env bash
# HTTP throughput and latency of `shrike serve` from a loopback load generator (wrk), bounded in
# time. Usage: scripts/bench/http.sh [seconds] [connections] [reasons]
# Needs: wrk (apt-get install wrk), a release build (cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}; conns=${2:-32}; reasons=${3:-5}
bin=target/release/shrike
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
token=bench-token-$RANDOM$RANDOM
port=$((20000 + RANDOM % 20000))
SHRIKE_API_TOKENS=$token SHRIKE_LOG=warn "$bin" serve --listen 127.0.0.1:$port &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
lua=$(mktemp --suffix .lua)
python3 - "$lua" "$token" <<'PY'
import sys, json
path, token = sys.argv[1], sys.argv[2]
body = open("testdata/email/paypal-lookalike.eml").read()
open(path, "w").write(f'''wrk.method = "POST"
wrk.body = {json.dumps(body)}
wrk.headers["Content-Type"] = "message/rfc822"
wrk.headers["Authorization"] = "Bearer {token}"
''')
PY
wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$lua" "http://127.0.0.1:$port/v1/email/score?reasons=$reasons"
curl -s -H "Authorization: Bearer $token" http://127.0.0.1:$port/metrics | grep -E 'shrike_http_requests_total\{endpoint="score"' || true
