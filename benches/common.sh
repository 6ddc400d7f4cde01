# The set-up the benchmark scripts share (sourced from the repository's root, with OUT set): the
# tools (wrk, nginx, and any other Debian package named), the release binary ($BIN), the fake
# upstream ($FAKE), and every process in $pids (and nginx, if started) stopped at exit.
SHARED=${SHARED:-$(cd .. && pwd)/shared}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/geopf-gateway-target}
mkdir -p "$OUT"

# bench_tools [package…]: installs wrk, nginx-light and the packages named, if a command is missing.
bench_tools() {
  local tool
  for tool in wrk nginx "$@"; do
    command -v "$tool" >/dev/null || {
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk nginx-light "$@" >/dev/null
      return
    }
  done
}

pids=()
bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ ! -f "$OUT/nginx.conf" ] || nginx -c "$OUT/nginx.conf" -s stop 2>/dev/null || true
}
trap bench_cleanup EXIT

# bench_start: builds the release binary and starts fake-geopf on a free port.
bench_start() {
  cargo build --release --locked -q
  BIN=$CARGO_TARGET_DIR/release/geopf-gateway
  rm -f "$OUT/fake.port"
  python3 "$SHARED/tools/fake-geopf" --port-file "$OUT/fake.port" --quiet >"$OUT/fake.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do [ -s "$OUT/fake.port" ] && break; sleep 0.1; done
  FAKE="http://127.0.0.1:$(cat "$OUT/fake.port")"
}

# The cached hot paths of issue 16 (hotpaths.sh, instructions.sh): an XYZ tile, the same tile
# through WMTS KVP, a geocoding search.
HOT_LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2
HOT_TILE="/tiles/$HOT_LAYER/6/32/22.png"
HOT_KVP="/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=$HOT_LAYER&STYLE=normal&FORMAT=image/png&TILEMATRIXSET=PM&TILEMATRIX=6&TILEROW=22&TILECOL=32"
HOT_GEO="/collections/addresses/items?q=1%20place%20Georges%20Freche%20Montpellier&limit=10"

# hot_answers GATEWAY_URL: the gateway's answers to the hot paths, saved in $OUT/www for nginx to
# serve the very same bytes (tile.png, kvp.png, items.json); waits for the tile while the gateway
# starts.
hot_answers() {
  mkdir -p "$OUT/www"
  for _ in $(seq 100); do curl -fsS -o "$OUT/www/tile.png" "$1$HOT_TILE" 2>/dev/null && break; sleep 0.5; done
  curl -fsS -o "$OUT/www/kvp.png" "$1$HOT_KVP"
  curl -fsS -o "$OUT/www/items.json" "$1$HOT_GEO"
  cmp "$OUT/www/tile.png" "$OUT/www/kvp.png"
}

# static_nginx_conf PORT [directive…]: writes $OUT/nginx.conf, nginx serving $OUT/www on PORT
# without an access log, the directives given first (worker_processes, daemon…).
static_nginx_conf() {
  local port=$1
  shift
  {
    printf '%s\n' "$@"
    cat <<NGINX
pid $OUT/nginx.pid;
error_log $OUT/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  types { image/png png; application/geo+json json; }
  server { listen 127.0.0.1:$port; root $OUT/www; }
}
NGINX
  } >"$OUT/nginx.conf"
}
