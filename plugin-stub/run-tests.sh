#!/usr/bin/env bash
# Runs the plugin's tests with QGIS 3.22 (Debian's) and QGIS 3.40 LTR (../shared/tools/modern-qgis),
# against a geopf-gateway in front of ../shared/tools/fake-geopf.
#   plugin-stub/run-tests.sh [GATEWAY_BINARY]
# GEOPF_GATEWAY_URL / GEOPF_TEST_UPSTREAM may name an already running gateway and fake upstream.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared}
BIN=${1:-${GEOPF_GATEWAY_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/geopf-gateway-target}/release/geopf-gateway}}
OUT=${OUT_DIR:-$ROOT/ci-out/plugin}
mkdir -p "$OUT"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
if [ -z "${GEOPF_TEST_UPSTREAM:-}" ]; then
  rm -f "$OUT/fake.port"
  python3 "$SHARED/tools/fake-geopf" --port-file "$OUT/fake.port" --quiet >"$OUT/fake.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do [ -s "$OUT/fake.port" ] && break; sleep 0.1; done
  export GEOPF_TEST_UPSTREAM="http://127.0.0.1:$(cat "$OUT/fake.port")"
fi
if [ -z "${GEOPF_GATEWAY_URL:-}" ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$BIN" serve --listen "127.0.0.1:$port" --upstream "$GEOPF_TEST_UPSTREAM" --cache-dir "$OUT/cache" >"$OUT/gateway.log" 2>&1 &
  pids+=($!)
  export GEOPF_GATEWAY_URL="http://127.0.0.1:$port"
  for _ in $(seq 100); do curl -fsS "$GEOPF_GATEWAY_URL/health" >/dev/null 2>&1 && break; sleep 0.1; done
fi
export GEOPF_GATEWAY_BIN="$BIN"
cd "$HERE"
echo "== plugin tests, QGIS 3.22"
QT_QPA_PLATFORM=offscreen /usr/bin/python3 -m pytest -q -p no:cacheprovider tests
echo "== plugin tests, QGIS 3.40 LTR"
MODERN_QGIS_BIND="$(dirname "$BIN")" bash "$SHARED/tools/modern-qgis/run.sh" -m pytest -q -p no:cacheprovider tests
