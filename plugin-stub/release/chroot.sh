# Debian chroots for the release builds, sourced by build-linux.sh and build-windows.sh (root, on a
# Debian host with debootstrap, unshare and network access to Debian's archive).
#
#   REPO                                the repository's root
#   release_dir OUT_DIR PLATFORM        OUT_DIR/PLATFORM, made, absolute
#   make_chroot ROOT SUITE "PACKAGES"   debootstrap (minbase) once, then install PACKAGES when the
#                                       list changed since the last run (else nothing: fast)
#   in_chroot ROOT "DIRS" CMD...        run CMD inside, /proc and /dev mounted, each of DIRS (host
#                                       paths, space-separated) bind-mounted at the same path, in a
#                                       private mount namespace (nothing stays mounted afterwards)

say() { echo "release: $*" >&2; }

[ "$(id -u)" = 0 ] || { say "needs root (debootstrap, chroot)"; exit 2; }
# The repository these scripts build.
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# release_dir OUT_DIR PLATFORM: OUT_DIR/PLATFORM, made, as an absolute path.
release_dir() {
  mkdir -p "$1/$2" && (cd "$1/$2" && pwd)
}

in_chroot() {
  local root=$1 dirs=$2
  shift 2
  # shellcheck disable=SC2016
  unshare --mount --propagation private /bin/bash -ec '
    root=$1; dirs=$2; shift 2
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    for d in $dirs; do mkdir -p "$root$d"; mount --bind "$d" "$root$d"; done
    exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"' bash "$root" "$dirs" "$@"
}

make_chroot() {
  local root=$1 suite=$2 packages=$3 log="${1%/}.log" t0
  t0=$(date +%s)
  if [ ! -f "$root/.geopf-debootstrap" ]; then
    if grep -q " ${root%/}/" /proc/mounts; then
      say "something is mounted under $root; unmount it first"; return 1
    fi
    command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >>"$log" 2>&1
    say "debootstrap $suite in $root (log: $log)"
    rm -rf "$root" && mkdir -p "$root"
    unshare --mount --propagation private debootstrap --variant=minbase "$suite" "$root" >>"$log" 2>&1 ||
      { tail -20 "$log" >&2; say "debootstrap failed"; return 1; }
    touch "$root/.geopf-debootstrap"
  fi
  cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  mkdir -p "$root/etc/ssl/certs"
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  grep -qs '^127\.0\.0\.1[[:space:]].*localhost' "$root/etc/hosts" ||
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost\n' >>"$root/etc/hosts"
  if [ "$(cat "$root/.geopf-packages" 2>/dev/null)" != "$packages" ]; then
    say "installing $packages in $root (log: $log)"
    # shellcheck disable=SC2086
    in_chroot "$root" "" /bin/sh -ec "apt-get update -q && apt-get install -y -q --no-install-recommends $packages && apt-get clean" \
      >>"$log" 2>&1 || { tail -20 "$log" >&2; say "package install failed"; return 1; }
    echo "$packages" >"$root/.geopf-packages"
  fi
  say "$suite chroot ready in $(( $(date +%s) - t0 )) s"
}

# smoke NAME PORT CMD...: runs CMD (a gateway serving on 127.0.0.1:PORT in front of the upstream it
# was given) in the background and asks it, from the host, what a QGIS user's first minute asks:
# /health, a Plan IGN tile, the addresses of a box (geocoding). Stops it; fails with its log.
smoke() {
  local name=$1 port=$2 log pid gw up=
  shift 2
  log=$(mktemp "/tmp/geopf-smoke-$name.XXXXXX")
  "$@" >"$log" 2>&1 &
  pid=$!
  gw="http://127.0.0.1:$port"
  for _ in $(seq 900); do   # Wine makes its prefix on a first start: up to 3 minutes
    if curl -fsS "$gw/health" >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  local rc=0
  if [ -z "$up" ]; then
    say "$name: no /health answer"; tail -30 "$log" >&2; rc=1
  else
    curl -fsS "$gw/health" | grep -q '"status":"ok"' || rc=1
    curl -fsS "$gw/tiles/GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2/12/2091/1495.png" | head -c 8 | od -An -c | grep -q "P   N   G" || rc=1
    curl -fsS "$gw/collections/addresses/items?bbox=3.894,43.596,3.900,43.601" | grep -q '"numberReturned"' || rc=1
    if [ "$rc" = 0 ]; then
      say "$name: /health, a tile and an addresses page answered"
    else
      say "$name: a check failed"; tail -30 "$log" >&2
    fi
  fi
  # CMD may be a function (a subshell): the gateway itself is found by its address.
  pkill -f -- "--listen 127.0.0.1:$port" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return "$rc"
}
