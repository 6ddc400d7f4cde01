#!/usr/bin/env bash
# The hot paths of issue 16, each against nginx serving the very same bytes in the same run, runs
# alternated (gateway, nginx, gateway, …) so that both see the same machine; the gateway in its
# DEFAULT configuration (access log on, written to a file as a service manager would):
#  (a) a cached XYZ tile;  (b) a cached geocoding answer;  (c) the same tile through WMTS KVP GetTile;
#  (d) the latency a miss adds over calling the fake upstream directly, pooled connections on both
#      sides;  (e) the disk store's write cost when full (cargo bench --bench disk_store).
# Loopback only. Usage: benches/hotpaths.sh [seconds per wrk run, default 4] [runs, default 3]
# PIN=1: the servers (gateway, nginx) on CPU 1 and wrk on CPU 0, rather than all three sharing the
# machine's CPUs as the scheduler sees fit: a measure of each server's cost per request on one CPU,
# steadier on a small machine where the load generator takes a core of its own.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DUR=${1:-4}
RUNS=${2:-3}
OUT=${BENCH_OUT:-$PWD/bench-out/hotpaths}
SERVER_CPU=() LOAD_CPU=()
if [ -n "${PIN:-}" ]; then SERVER_CPU=(taskset -c 1) LOAD_CPU=(taskset -c 0); fi
source benches/common.sh
mkdir -p "$OUT/www"
bench_tools
bench_start
GW="http://127.0.0.1:18281"
if curl -fsS -o /dev/null "$GW/health" 2>/dev/null; then
  echo "something already answers on $GW: stop it first" >&2
  exit 1
fi
# The default configuration but for the quotas (misses are paced at the published limits by
# design, which (d) does not measure); the access log goes to a file.
GEOPF_UPSTREAM__QUOTAS__GEOCODING=0 GEOPF_CATALOG__EMBEDDED=false \
  "${SERVER_CPU[@]}" "$BIN" serve --listen 127.0.0.1:18281 --upstream "$FAKE" --cache-dir "$OUT/cache" >"$OUT/gateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fsS "$GW/health" >/dev/null 2>&1 && break; sleep 0.1; done

hot_answers "$GW"
static_nginx_conf 18282 "worker_processes 2;"
"${SERVER_CPU[@]}" nginx -c "$OUT/nginx.conf"
sleep 0.5

wrk_run() { # name url -> "rps p99_ms"
  "${LOAD_CPU[@]}" wrk -t1 -c64 -d"${DUR}s" --latency "$2" >"$OUT/wrk-$1.txt"
  python3 - "$OUT/wrk-$1.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", text).groups()
ms = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
assert not errors, f"{sys.argv[1]}: {errors.group(0)}"
print(rps, ms)
PY
}
compare() { # label gateway-path nginx-path
  local g=() n=()
  for run in $(seq "$RUNS"); do
    g+=("$(wrk_run "$1-gateway-$run" "$GW$2")")
    n+=("$(wrk_run "$1-nginx-$run" "http://127.0.0.1:18282$3")")
  done
  python3 - "$1" "$(printf '%s;' "${g[@]}")" "$(printf '%s;' "${n[@]}")" <<'PY'
import statistics, sys
label = sys.argv[1]
runs = lambda s: [tuple(map(float, r.split())) for r in s.split(";") if r]
g, n = runs(sys.argv[2]), runs(sys.argv[3])
g_rps, n_rps = statistics.median(r for r, _ in g), statistics.median(r for r, _ in n)
g_p99, n_p99 = statistics.median(p for _, p in g), statistics.median(p for _, p in n)
print(f"{label:22s} gateway {g_rps:9.0f} req/s p99 {g_p99:6.2f} ms | nginx {n_rps:9.0f} req/s p99 {n_p99:6.2f} ms"
      f" | ratio {g_rps / n_rps:.2f}, p99 x{g_p99 / n_p99:.2f}   (gateway runs {[round(r) for r, _ in g]}, nginx {[round(r) for r, _ in n]})")
PY
}
echo "== cached answers, wrk -t1 -c64 -d${DUR}s, $RUNS alternated runs each (medians); gateway with its access log on${PIN:+; servers pinned to CPU 1, wrk to CPU 0}"
compare "(a) XYZ tile" "$HOT_TILE" "/tile.png"
compare "(b) geocoding answer" "$HOT_GEO" "/items.json"
compare "(c) WMTS KVP GetTile" "$HOT_KVP" "/kvp.png"
echo "access log lines written: $(grep -c ' INFO access: ' "$OUT/gateway.log" || true)"

echo "== (d) latency a miss adds: 300 distinct searches one at a time, kept-alive connections on both sides"
python3 - "$GW" "$FAKE" <<'PY'
import http.client, statistics, sys, time
from urllib.parse import urlsplit
gw, fake = (urlsplit(u) for u in sys.argv[1:3])
conns = {u: http.client.HTTPConnection(u.hostname, u.port, timeout=30) for u in (gw, fake)}
def timed(u, path):
    t = time.perf_counter()
    conns[u].request("GET", path)
    r = conns[u].getresponse(); r.read()
    assert r.status == 200, (path, r.status)
    return (time.perf_counter() - t) * 1000
direct, via = [], []
stamp = time.time_ns()
for i in range(300):
    q = f"rue%20{i}%20bench%20{stamp}"
    direct.append(timed(fake, f"/geocodage/search?q={q}&index=address&limit=20"))
    via.append(timed(gw, f"/collections/addresses/items?q={q}x"))
print(f"fake directly   median {statistics.median(direct):6.2f} ms")
print(f"gateway (miss)  median {statistics.median(via):6.2f} ms")
print(f"added by the gateway: {statistics.median(via) - statistics.median(direct):.2f} ms median")
PY

echo "== (e) the disk store when full"
cargo bench --locked -q --bench disk_store 2>/dev/null | grep -v '^$'
