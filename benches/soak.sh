#!/usr/bin/env bash
# Soak test: the release gateway in front of the fake upstream, under wrk at N connections for D
# seconds with mixed traffic (9 in 10 requests from 50 repeated searches, cache hits; 1 in 10 a new
# search, a miss that queues on the 50/s geocoding quota). Fails on any error or non-2xx answer, or
# if the gateway's RSS grows by more than MAX_GROWTH_MB. Loopback only; bounded in time.
#   benches/soak.sh [seconds, default 60] [connections, default 64]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DUR=${1:-60}
CONNS=${2:-64}
MAX_GROWTH_MB=${MAX_GROWTH_MB:-100}
SHARED=${SHARED:-$(cd .. && pwd)/shared}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/geopf-gateway-target}
OUT=${SOAK_OUT:-$PWD/bench-out/soak}
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
cargo build --release --locked -q
BIN=$CARGO_TARGET_DIR/release/geopf-gateway

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
rm -f "$OUT/fake.port"
python3 "$SHARED/tools/fake-geopf" --port-file "$OUT/fake.port" --quiet >"$OUT/fake.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -s "$OUT/fake.port" ] && break; sleep 0.1; done
PORT=${SOAK_PORT:-18191}
GEOPF_LOG__LEVEL=warn "$BIN" serve --listen "127.0.0.1:$PORT" --upstream "http://127.0.0.1:$(cat "$OUT/fake.port")" >"$OUT/gateway.log" 2>&1 &
gw=$!
pids+=("$gw")
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$gw/status"; }

cat >"$OUT/mixed.lua" <<'LUA'
counter = 0
request = function()
  counter = counter + 1
  local q
  if math.random() < 0.1 then
    q = "rue%20nouvelle%20" .. counter .. "%20" .. math.random(1000000000)
  else
    q = "rue%20" .. math.random(50)
  end
  return wrk.format("GET", "/collections/addresses/items?q=" .. q)
end
LUA
# Warm the 50 repeated searches once, then measure memory from there.
for i in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/collections/addresses/items?q=rue%20$i"; done
start_rss=$(rss)
wrk -t2 -c"$CONNS" -d"${DUR}s" --timeout 15s --latency -s "$OUT/mixed.lua" "http://127.0.0.1:$PORT" >"$OUT/wrk.txt"
end_rss=$(rss)
cat "$OUT/wrk.txt"
requests=$(awk '/requests in/ {print $1}' "$OUT/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $5}' "$OUT/wrk.txt")
sockerr=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$OUT/wrk.txt")
echo "soak: ${DUR}s at ${CONNS} connections: ${requests} requests, ${non2xx:-0} non-2xx, ${sockerr:-0} socket errors; RSS ${start_rss} kB -> ${end_rss} kB"
[ "${non2xx:-0}" -eq 0 ] && [ "${sockerr:-0}" -eq 0 ] && [ $(( (end_rss - start_rss) / 1024 )) -lt "$MAX_GROWTH_MB" ]
