#!/usr/bin/env bash
# The Linux x86_64 gateway for the plugin zip, runnable on older distributions: built against
# Debian 11's glibc (2.31) in a Debian 11 chroot, with this machine's Rust toolchain (rustup's
# own binaries need only an old glibc) bind-mounted; then run in that chroot (SMOKE_UPSTREAM: the
# upstream it serves from, e.g. fake-geopf).
#
#   build-linux.sh OUT_DIR   ->  OUT_DIR/linux-x86_64/geopf-gateway
#
# Cached between runs: the chroot ($HOME/.cache/geopf-build-bullseye) and the target directory
# ($HOME/.cache/geopf-gateway-target-bullseye): a second run with the same sources is quick.
set -euo pipefail
# shellcheck source=chroot.sh
. "$(dirname "$0")/chroot.sh"
OUT=$(release_dir "${1:?OUT_DIR}" linux-x86_64)
ROOT=${GEOPF_BULLSEYE_ROOT:-$HOME/.cache/geopf-build-bullseye}
TARGET=${GEOPF_BULLSEYE_TARGET:-$HOME/.cache/geopf-gateway-target-bullseye}
RUSTUP=${RUSTUP_HOME:-$HOME/.rustup}
CARGO=${CARGO_HOME:-$HOME/.cargo}
make_chroot "$ROOT" bullseye "ca-certificates curl gcc g++ libc6-dev make cmake perl pkg-config"
mkdir -p "$TARGET"
t0=$(date +%s)
in_chroot "$ROOT" "$REPO $TARGET $RUSTUP $CARGO" /usr/bin/env RUSTUP_HOME="$RUSTUP" CARGO_HOME="$CARGO" \
  PATH="$CARGO/bin:/usr/bin:/bin" cargo build --release --locked --quiet \
  --manifest-path "$REPO/Cargo.toml" --target-dir "$TARGET"
cp "$TARGET/release/geopf-gateway" "$OUT/geopf-gateway"
strip "$OUT/geopf-gateway"   # without its symbols: a third smaller
glibc=$(objdump -T "$OUT/geopf-gateway" | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1)
say "linux-x86_64: built in $(( $(date +%s) - t0 )) s, $(du -h "$OUT/geopf-gateway" | cut -f1), needs $glibc"
case "$glibc" in GLIBC_2.[0-9]|GLIBC_2.[12][0-9]|GLIBC_2.3[01]) ;; *) say "needs a glibc newer than Debian 11's"; exit 1 ;; esac
# Runs on Debian 11.
in_chroot "$ROOT" "$OUT" "$OUT/geopf-gateway" --version
if [ -n "${SMOKE_UPSTREAM:-}" ]; then
  port=${SMOKE_PORT:-18191}
  smoke debian11 "$port" in_chroot "$ROOT" "$OUT" "$OUT/geopf-gateway" serve --listen "127.0.0.1:$port" \
    --upstream "$SMOKE_UPSTREAM" --cache-dir /tmp/geopf-smoke-cache
fi
