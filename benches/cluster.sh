#!/usr/bin/env bash
# Cluster mode figures (docs/scale-out.md), each against a reference measured in the same run:
#  1. the latency a shared (Redis) hit adds over a local (memory) hit, and what it saves over a miss:
#     the same 300 distinct searches sent one by one to replica B after replica A fetched them
#     (shared hits), then again (local hits), and 300 others never seen (misses to the fake);
#  2. cached-answer throughput through nginx in front of three replicas vs the same nginx in front
#     of one (wrk, alternated runs), on this machine's cores.
# Loopback only; bounded in time. Usage: benches/cluster.sh [seconds per wrk run, default 4]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DUR=${1:-4}
OUT=${BENCH_OUT:-$PWD/bench-out/cluster}
source benches/common.sh
bench_tools redis-server
redis-server --port 18390 --bind 127.0.0.1 --save '' --appendonly no >"$OUT/redis.log" 2>&1 &
pids+=($!)
bench_start
for i in 1 2 3; do
  # Quotas off: misses are paced at the published limits by design, which is not measured here.
  GEOPF_CLUSTER__REDIS_URL=redis://127.0.0.1:18390/0 GEOPF_UPSTREAM__QUOTAS__GEOCODING=0 \
    GEOPF_LOG__LEVEL=warn GEOPF_CATALOG__EMBEDDED=false \
    "$BIN" serve --listen "127.0.0.1:1819$i" --upstream "$FAKE" --cache-dir "$OUT/cache-$i" >"$OUT/gateway-$i.log" 2>&1 &
  pids+=($!)
done
for i in 1 2 3; do
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:1819$i/health" >/dev/null 2>&1 && break; sleep 0.1; done
done

echo "== 1. one request at a time, 300 distinct searches each (median and p90, ms)"
python3 - <<'PY'
import http.client, statistics, time
from urllib.parse import quote
def session(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)
def timed(conn, path):
    t = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    assert r.status == 200, (r.status, path)
    return (time.perf_counter() - t) * 1000, r.getheader("cache-status")
paths = [f"/collections/addresses/items?limit=5&q={quote(f'{i} rue de Rivoli Paris')}" for i in range(300)]
others = [f"/collections/addresses/items?limit=5&q={quote(f'{i} quai Voltaire Paris')}" for i in range(300)]
a, b = session(18191), session(18192)
for p in paths:
    timed(a, p)  # replica A fetches them: they are in Redis, not in B's memory
rows = []
for name, conn, ps, want in (("shared hit (Redis)", b, paths, "detail=shared"),
                             ("local hit (memory)", b, paths, "; hit"),
                             ("miss (upstream fake)", b, others, "fwd=miss")):
    ms = []
    for p in ps:
        t, status = timed(conn, p)
        assert want in status, (name, status)
        ms.append(t)
    ms.sort()
    rows.append((name, statistics.median(ms), ms[int(len(ms) * 0.9)]))
for name, med, p90 in rows:
    print(f"{name:24s} median {med:7.3f}   p90 {p90:7.3f}")
print(f"a shared hit adds {rows[0][1] - rows[1][1]:.3f} ms (median) over a local hit, "
      f"and saves {rows[2][1] - rows[0][1]:.3f} ms over a miss to the fake on loopback")
PY

PATHQ="/collections/addresses/items?q=1%20place%20Georges%20Freche%20Montpellier&limit=10"
for i in 1 2 3; do curl -fsS "http://127.0.0.1:1819$i$PATHQ" -o /dev/null; done
cat >"$OUT/nginx.conf" <<NGINX
worker_processes 1;
pid $OUT/nginx.pid;
error_log $OUT/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  upstream three { server 127.0.0.1:18191; server 127.0.0.1:18192; server 127.0.0.1:18193; keepalive 64; }
  upstream one { server 127.0.0.1:18191; keepalive 64; }
  server { listen 127.0.0.1:18194; location / { proxy_pass http://three; proxy_http_version 1.1; proxy_set_header Connection ""; } }
  server { listen 127.0.0.1:18195; location / { proxy_pass http://one; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
NGINX
nginx -c "$OUT/nginx.conf"
sleep 0.5
echo "== 2. cached answers through nginx, 64 connections, ${DUR}s a run, alternated (wrk -t1 -c64)"
wrk_rps() { wrk -t1 -c64 -d"${DUR}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
three=(); one=()
for _ in 1 2 3; do
  three+=("$(wrk_rps "http://127.0.0.1:18194$PATHQ")")
  one+=("$(wrk_rps "http://127.0.0.1:18195$PATHQ")")
done
python3 - "${three[*]}" "${one[*]}" "$(nproc)" <<'PY'
import statistics, sys
three = [float(x) for x in sys.argv[1].split()]
one = [float(x) for x in sys.argv[2].split()]
print(f"nginx -> 3 replicas: {statistics.median(three):10.0f} req/s (runs {three})")
print(f"nginx -> 1 replica:  {statistics.median(one):10.0f} req/s (runs {one})")
print(f"3 replicas / 1 replica: {statistics.median(three) / statistics.median(one):.2f} on {sys.argv[3]} cores "
      "(wrk, nginx and the replicas share them)")
PY
