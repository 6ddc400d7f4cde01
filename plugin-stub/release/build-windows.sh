#!/usr/bin/env bash
# The Windows x86_64 gateway for the plugin zip, cross-compiled in a Debian 13 chroot (rustc-web
# and cargo-web 1.96 with the standard library built from its sources — Debian ships none for
# Windows —, MinGW-w64 to link, CMake and NASM for aws-lc-sys); then run under Wine in that chroot
# (SMOKE_UPSTREAM: the upstream it serves from, e.g. fake-geopf on the host's loopback).
#
#   build-windows.sh OUT_DIR   ->  OUT_DIR/windows-x86_64/geopf-gateway.exe
#
# Cached between runs: the chroot ($HOME/.cache/geopf-build-trixie), its cargo home and the
# target directory: a second run with the same sources is quick.
set -euo pipefail
# shellcheck source=chroot.sh
. "$(dirname "$0")/chroot.sh"
OUT=$(release_dir "${1:?OUT_DIR}" windows-x86_64)
ROOT=${GEOPF_TRIXIE_ROOT:-$HOME/.cache/geopf-build-trixie}
TARGET=${GEOPF_WINDOWS_TARGET:-$HOME/.cache/geopf-gateway-target-windows}
CARGO=${GEOPF_TRIXIE_CARGO_HOME:-$HOME/.cache/geopf-cargo-trixie}
make_chroot "$ROOT" trixie "ca-certificates curl rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64 cmake nasm wine64"
mkdir -p "$TARGET" "$CARGO"
t0=$(date +%s)
in_chroot "$ROOT" "$REPO $TARGET $CARGO" /usr/bin/env CARGO_HOME="$CARGO" RUSTC_BOOTSTRAP=1 \
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
  cargo build --release --locked --quiet -Zbuild-std=std,panic_abort --target x86_64-pc-windows-gnu \
  --manifest-path "$REPO/Cargo.toml" --target-dir "$TARGET"
cp "$TARGET/x86_64-pc-windows-gnu/release/geopf-gateway.exe" "$OUT/geopf-gateway.exe"
# Without its symbols (half the size; a panic still says where, by file and line).
in_chroot "$ROOT" "$OUT" x86_64-w64-mingw32-strip "$OUT/geopf-gateway.exe"
say "windows-x86_64: built in $(( $(date +%s) - t0 )) s, $(du -h "$OUT/geopf-gateway.exe" | cut -f1)"
if [ -n "${SMOKE_UPSTREAM:-}" ]; then
  port=${SMOKE_PORT:-18192}
  smoke wine "$port" in_chroot "$ROOT" "$OUT" /usr/bin/env WINEPREFIX=/root/.wine-geopf WINEDEBUG=-all \
    /usr/lib/wine/wine64 "$OUT/geopf-gateway.exe" serve --listen "127.0.0.1:$port" \
    --upstream "$SMOKE_UPSTREAM" --cache-dir 'C:\geopf-smoke-cache'
  # Wine's own processes (wineserver, winedevice.exe…) outlive the gateway: ended with its prefix.
  in_chroot "$ROOT" "" /usr/bin/env WINEPREFIX=/root/.wine-geopf /usr/lib/wine/wineserver -k 2>/dev/null || true
  pkill -f 'C:\\windows\\system32\\' 2>/dev/null || true
fi
