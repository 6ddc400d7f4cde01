#!/usr/bin/env bash
# User-space instructions per request, counted by valgrind's callgrind: the gateway's cached hot
# paths of benches/hotpaths.sh — (a) an XYZ tile, (b) a geocoding answer, (c) a WMTS KVP
# GetTile — and, as the reference, nginx serving the very same bytes. Unlike req/s on a shared
# machine (±10 % from one run to the next), the count barely moves between runs: the measure
# for a change of a few per cent. It leaves out the kernel (the loopback TCP, the same work for
# both servers), and the time an instruction takes (cache misses, contention between CPUs).
# Usage: benches/instructions.sh [seconds per path, default 8]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DUR=${1:-8}
OUT=${BENCH_OUT:-$PWD/bench-out/instructions}
source benches/common.sh
mkdir -p "$OUT/www"
rm -f "$OUT"/*.cg*
bench_tools valgrind
bench_start
GW="http://127.0.0.1:18291"
NGINX="http://127.0.0.1:18292"
for url in "$GW" "$NGINX"; do
  if curl -fsS -o /dev/null "$url/" 2>/dev/null; then
    echo "something already answers on $url: stop it first" >&2
    exit 1
  fi
done

GEOPF_UPSTREAM__QUOTAS__GEOCODING=0 GEOPF_CATALOG__EMBEDDED=false \
  valgrind --tool=callgrind --callgrind-out-file="$OUT/gateway.cg" \
  "$BIN" serve --listen 127.0.0.1:18291 --upstream "$FAKE" --cache-dir "$OUT/cache" >"$OUT/gateway.log" 2>&1 &
GW_PID=$!
pids+=($GW_PID)
for _ in $(seq 600); do curl -fsS -o /dev/null "$GW/health" 2>/dev/null && break; sleep 0.2; done

hot_answers "$GW"
# One process, for callgrind to follow.
static_nginx_conf 18292 "daemon off;" "master_process off;"
valgrind --tool=callgrind --callgrind-out-file="$OUT/nginx.cg" nginx -c "$OUT/nginx.conf" >"$OUT/nginx.log" 2>&1 &
NGINX_PID=$!
pids+=($NGINX_PID)
for _ in $(seq 300); do curl -fsS -o /dev/null "$NGINX/tile.png" 2>/dev/null && break; sleep 0.2; done

# per_request PID URL -> instructions per request of process PID while wrk asks for URL
per_request() {
  wrk -t1 -c16 -d2s "$2" >/dev/null # warm: connections, caches, lazily made things
  callgrind_control -z "$1" >/dev/null 2>&1
  local n
  n=$(wrk -t1 -c16 -d"${DUR}s" "$2" | awk '/requests in/{print $1}')
  callgrind_control -d "$1" >/dev/null 2>&1
  sleep 1
  local dump
  dump=$(ls -t "$OUT"/*.cg.* | head -1) # the dump just written
  local total
  total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",", "", $1); print $1}')
  echo $((total / n))
}
echo "== user-space instructions per request (callgrind), wrk -t1 -c16 -d${DUR}s each"
for path in "(a) XYZ tile|$HOT_TILE|/tile.png" "(b) geocoding answer|$HOT_GEO|/items.json" "(c) WMTS KVP GetTile|$HOT_KVP|/kvp.png"; do
  IFS='|' read -r label gateway_path nginx_path <<<"$path"
  g=$(per_request "$GW_PID" "$GW$gateway_path")
  n=$(per_request "$NGINX_PID" "$NGINX$nginx_path")
  python3 -c "import sys; g, n = int(sys.argv[2]), int(sys.argv[3]); print(f'{sys.argv[1]:22s} gateway {g:7d} | nginx {n:7d} | gateway / nginx {g / n:.2f}')" "$label" "$g" "$n"
done
