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
