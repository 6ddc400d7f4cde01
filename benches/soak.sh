#!/usr/bin/env bash
# Soak test: the release gateway in front of the fake upstream, with small memory budgets
# (MEMORY_MB for each of the two memory caches and for the rendered answers kept a few seconds,
# JOBS_MB for job results) so that they fill and
# evict, under wrk at N connections for D seconds with mixed traffic — repeated searches and tiles
# (hits), new searches (misses queued on the 50/s geocoding quota), new tiles (misses) — and a batch
# geocoding job running beside it. Fails on any error or non-2xx answer, or if the gateway's RSS
# ends above its RSS at start + the budgets + OVERHEAD_MB. Loopback only; bounded in time.
#   benches/soak.sh [seconds, default 60] [connections, default 64]
# BIN=path soaks that binary (an earlier build, to compare) instead of building this tree's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DUR=${1:-60}
CONNS=${2:-64}
MEMORY_MB=${MEMORY_MB:-16}
JOBS_MB=${JOBS_MB:-8}
# What the process may hold beyond the budgets: allocator arenas, connection buffers, the parsed
# catalogue's copies during a refresh (BENCHMARKS.md, "Memory under a soak").
OVERHEAD_MB=${OVERHEAD_MB:-64}
SHARED=${SHARED:-$(cd .. && pwd)/shared}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/geopf-gateway-target}
OUT=${SOAK_OUT:-$PWD/bench-out/soak}
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
[ -n "${BIN:-}" ] || cargo build --release --locked -q
BIN=${BIN:-$CARGO_TARGET_DIR/release/geopf-gateway}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
rm -f "$OUT/fake.port"
python3 "$SHARED/tools/fake-geopf" --port-file "$OUT/fake.port" --quiet >"$OUT/fake.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -s "$OUT/fake.port" ] && break; sleep 0.1; done
PORT=${SOAK_PORT:-18191}
GEOPF_LOG__LEVEL=warn GEOPF_CACHE__MEMORY_MB=$MEMORY_MB GEOPF_CACHE__DOCUMENTS_MB=$MEMORY_MB GEOPF_JOBS__MEMORY_MB=$JOBS_MB \
  GEOPF_CACHE__DISK_MB=64 "$BIN" serve --cache-dir "$OUT/cache" --listen "127.0.0.1:$PORT" --upstream "http://127.0.0.1:$(cat "$OUT/fake.port")" >"$OUT/gateway.log" 2>&1 &
gw=$!
pids+=("$gw")
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$gw/status"; }

cat >"$OUT/mixed.lua" <<'LUA'
counter = 0
request = function()
  counter = counter + 1
  local r = math.random()
  if r < 0.05 then
    return wrk.format("GET", "/collections/addresses/items?q=rue%20nouvelle%20" .. counter .. "%20" .. math.random(1000000000))
  elseif r < 0.45 then
    return wrk.format("GET", "/collections/addresses/items?q=rue%20" .. math.random(50))
  elseif r < 0.6 then
    -- a new tile: z 14 over a wide area, a miss that fills the image caches
    return wrk.format("GET", "/tiles/GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2/14/" .. math.random(8000, 8800) .. "/" .. math.random(5500, 6300) .. ".png")
  else
    return wrk.format("GET", "/tiles/GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2/12/" .. math.random(2090, 2110) .. "/" .. math.random(1490, 1510) .. ".png")
  end
end
LUA
# Warm the 50 repeated searches once, then measure memory from there.
for i in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/collections/addresses/items?q=rue%20$i"; done
start_rss=$(rss)
# A batch geocoding job of 2 000 rows runs beside the load.
{ echo "q"; for i in $(seq 2000); do echo "$i rue de la soak"; done; } >"$OUT/batch.csv"
job=$(python3 -c 'import json,sys; print(json.dumps({"inputs": {"data": open(sys.argv[1]).read()}}))' "$OUT/batch.csv" |
  curl -fsS -D - -o /dev/null -H 'content-type: application/json' -H 'prefer: respond-async' --data-binary @- \
    "http://127.0.0.1:$PORT/processes/batch-geocode/execution" | awk 'tolower($1) == "location:" {print $2}' | tr -d '\r')
test -n "$job"
wrk -t2 -c"$CONNS" -d"${DUR}s" --timeout 15s --latency -s "$OUT/mixed.lua" "http://127.0.0.1:$PORT" >"$OUT/wrk.txt"
end_rss=$(rss)
job_status=$(curl -fsS "$job" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["status"], d["progress"])')
cat "$OUT/wrk.txt"
requests=$(awk '/requests in/ {print $1}' "$OUT/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $5}' "$OUT/wrk.txt")
sockerr=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$OUT/wrk.txt")
limit_kb=$(( start_rss + (3 * MEMORY_MB + JOBS_MB + OVERHEAD_MB) * 1024 ))
echo "soak: ${DUR}s at ${CONNS} connections: ${requests} requests, ${non2xx:-0} non-2xx, ${sockerr:-0} socket errors; batch job: ${job_status}; RSS ${start_rss} kB -> ${end_rss} kB (limit ${limit_kb} kB: start + 3 x ${MEMORY_MB} + ${JOBS_MB} + ${OVERHEAD_MB} MiB)"
test "${non2xx:-0}" -eq 0
test "${sockerr:-0}" -eq 0
test "$end_rss" -le "$limit_kb"
