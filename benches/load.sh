#!/usr/bin/env bash
# Load and latency figures for geopf-gateway, each against a reference measured in the same run:
#  1. cached geocoding answers per second and p99 at 64 connections (wrk), vs nginx serving the
#     same bytes from a file (the ceiling of "an HTTP server returning this body");
#  2. the latency the gateway adds on a cache miss: gateway -> fake upstream vs the fake directly.
# Loopback only; bounded in time. Usage: benches/load.sh [seconds per wrk run, default 10]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DUR=${1:-10}
OUT=${BENCH_OUT:-$PWD/bench-out}
source benches/common.sh
bench_tools
bench_start
GW="http://127.0.0.1:18181"
# Quotas off for the measurement: with them on, misses are paced at 50/s by design. No upstream
# connection reuse: the fake (Python's http.server) writes headers and body in two segments, and a
# reused connection then stalls ~40 ms on delayed ACKs — an artefact of the fake, not of data.geopf.fr.
GEOPF_UPSTREAM__QUOTAS__GEOCODING=0 GEOPF_UPSTREAM__QUOTAS__ROUTE=0 GEOPF_UPSTREAM__QUOTAS__ALTIMETRY=0 GEOPF_UPSTREAM__POOL_MAX_IDLE_PER_HOST=0 GEOPF_LOG__LEVEL=warn \
  "$BIN" serve --listen 127.0.0.1:18181 --upstream "$FAKE" >"$OUT/gateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fsS "$GW/health" >/dev/null 2>&1 && break; sleep 0.1; done

PATHQ="/collections/addresses/items?q=1%20place%20Georges%20Freche%20Montpellier&limit=10"
curl -fsS "$GW$PATHQ" -o "$OUT/body.json"   # warms the cache
mkdir -p "$OUT/www"
cp "$OUT/body.json" "$OUT/www/items.json"
cat >"$OUT/nginx.conf" <<NGINX
worker_processes 2;
pid $OUT/nginx.pid;
error_log $OUT/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  types { application/geo+json json; }
  server { listen 127.0.0.1:18182; root $OUT/www; }
}
NGINX
nginx -c "$OUT/nginx.conf"
sleep 0.5

wrk_run() { # name url
  wrk -t2 -c64 -d"${DUR}s" --latency "$2" >"$OUT/wrk-$1.txt"
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk-$1.txt")
  p99=$(awk '$1=="99%" {print $2}' "$OUT/wrk-$1.txt")
  echo "$1 $rps $p99"
}
echo "== 1. cached answers, 64 connections, ${DUR}s each (wrk -t2 -c64)"
read -r _ gw_rps gw_p99 < <(wrk_run gateway "$GW$PATHQ")
read -r _ ng_rps ng_p99 < <(wrk_run nginx "http://127.0.0.1:18182/items.json")
printf '%-28s %12s %10s\n' "" "req/s" "p99"
printf '%-28s %12s %10s\n' "gateway (cache hit)" "$gw_rps" "$gw_p99"
printf '%-28s %12s %10s\n' "nginx, same bytes (ref)" "$ng_rps" "$ng_p99"
python3 -c "print('gateway / nginx throughput ratio: %.2f' % ($gw_rps / $ng_rps))"

echo "== 2. latency added on a miss (sequential, distinct queries, 300 each, a new connection per request on both sides of the comparison)"
python3 - "$GW" "$FAKE" <<'PY'
import http.client, statistics, sys, time
from urllib.parse import urlsplit
gw, fake = (urlsplit(u) for u in sys.argv[1:3])
# A new connection per request on both sides, like the gateway's own upstream calls here.
def timed(u, path):
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    t = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    elapsed = (time.perf_counter() - t) * 1000
    conn.close()
    assert r.status == 200, (path, r.status)
    return elapsed
cf, cg = fake, gw
direct, via = [], []
for i in range(300):
    q = "rue%%20%d%%20bench%%20%d" % (i, time.time_ns())
    direct.append(timed(cf, f"/geocodage/search?q={q}&index=address&limit=20"))
    via.append(timed(cg, f"/collections/addresses/items?q={q}x"))
def p(xs, pct):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(len(xs) * pct))]
print("%-26s %8s %8s" % ("", "median", "p99"))
print("%-26s %6.2fms %6.2fms" % ("fake upstream directly", statistics.median(direct), p(direct, .99)))
print("%-26s %6.2fms %6.2fms" % ("gateway -> fake (miss)", statistics.median(via), p(via, .99)))
print("added by the gateway: %.2f ms median" % (statistics.median(via) - statistics.median(direct)))
PY

echo "== 2b. a cached tile, 64 connections (wrk -t2 -c64), vs nginx serving the same bytes; 3 alternated runs each"
# The gateway runs without an access log (log.level warn), as nginx here (access_log off).
TILE="/tiles/GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2/6/32/22.png"
for _ in $(seq 100); do curl -fsS -o "$OUT/www/tile.png" "$GW$TILE" 2>/dev/null && break; sleep 0.2; done
ratios=()
for run in 1 2 3; do
  read -r _ gt_rps gt_p99 < <(wrk_run "gateway-tile-$run" "$GW$TILE")
  read -r _ nt_rps nt_p99 < <(wrk_run "nginx-tile-$run" "http://127.0.0.1:18182/tile.png")
  printf '%-28s %12s %10s\n' "gateway (tile, hit) #$run" "$gt_rps" "$gt_p99"
  printf '%-28s %12s %10s\n' "nginx, same bytes #$run" "$nt_rps" "$nt_p99"
  ratios+=("$(python3 -c "print('%.3f' % ($gt_rps / $nt_rps))")")
done
python3 -c "import statistics,sys; r=[float(x) for x in sys.argv[1:]]; print('gateway / nginx tile throughput ratio: median %.2f (runs %s)' % (statistics.median(r), ', '.join('%.2f' % x for x in r)))" "${ratios[@]}"

echo "== 3. route execution, uncached vs cached (sequential, 100 each; a recorded 73-step route)"
python3 - "$GW" <<'PY'
import http.client, json, statistics, sys, time
from urllib.parse import urlsplit
gw = urlsplit(sys.argv[1])
def timed(path):
    conn = http.client.HTTPConnection(gw.hostname, gw.port, timeout=30)
    t = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse(); r.read()
    assert r.status == 200, (path, r.status)
    conn.close()
    return (time.perf_counter() - t) * 1000, r.getheader("cache-status")
miss, hit = [], []
for i in range(100):
    path = "/processes/route/execution?start=3.708864,43.93584&end=4.077405,44.%05d" % (12519 + i)
    ms, status = timed(path); assert "miss" in status, status; miss.append(ms)
    ms, status = timed(path); assert "hit" in status, status; hit.append(ms)
print("%-22s median %6.2f ms" % ("uncached (miss)", statistics.median(miss)))
print("%-22s median %6.2f ms" % ("cached (hit)", statistics.median(hit)))
PY

echo "== 4. job throughput: 90 elevation jobs submitted at once (Prefer: respond-async; jobs.max_jobs is 100)"
python3 - "$GW" <<'PY'
import http.client, json, sys, time
from urllib.parse import urlsplit
gw = urlsplit(sys.argv[1])
def call(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(gw.hostname, gw.port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse(); data = r.read(); conn.close()
    return r.status, data
t = time.perf_counter()
ids = []
N = 90
for i in range(N):
    body = json.dumps({"inputs": {"points": [[2.0 + i * 0.0001, 48.0]]}})
    status, data = call("POST", "/processes/elevation/execution", body, {"Prefer": "respond-async", "Content-Type": "application/json"})
    assert status == 201, (status, data)
    ids.append(json.loads(data)["jobID"])
submitted = time.perf_counter() - t
pending = set(ids)
while pending:
    for j in list(pending):
        status, data = call("GET", "/jobs/" + j)
        assert status == 200, (status, data)
        if json.loads(data)["status"] in ("successful", "failed"):
            assert json.loads(data)["status"] == "successful", data
            pending.discard(j)
elapsed = time.perf_counter() - t
print("%d jobs submitted in %.2f s, all successful after %.2f s: %.0f jobs/s end to end" % (N, submitted, elapsed, N / elapsed))
PY

echo "== 5. parsing the real WMTS capabilities (2.1 MB, 543 layers): the gateway vs OWSLib, same file"
cargo bench --bench parse_capabilities -q 2>/dev/null | grep layers
VENV=${HARNESS_VENV:-$HOME/.cache/client-check-venv}
"$VENV/bin/python" - "$SHARED/upstream/wmts/capabilities.xml" <<'PY'
import sys, time, owslib
from owslib.wmts import WebMapTileService
xml = open(sys.argv[1], "rb").read()
best = 1e9
for _ in range(5):
    t = time.perf_counter(); w = WebMapTileService(None, xml=xml); best = min(best, (time.perf_counter() - t) * 1000)
print("OWSLib %s: %d layers parsed in %.1f ms (best of 5)" % (owslib.__version__, len(w.contents), best))
PY
