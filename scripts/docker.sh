#!/usr/bin/env bash
# The Docker side of the tests (node/tests/compose.rs) on a machine that reaches no image
# registry: a Docker engine started here, base images made from Debian's packages, and the
# project's images built from them. Users with a registry need none of this: docs/docker.md.
#
#   scripts/docker.sh engine-start          start dockerd unless one answers (records that it did)
#   scripts/docker.sh engine-stop           stop the dockerd engine-start started, if any
#   scripts/docker.sh images BINARY         claystack-oracle:local (Dockerfile target `prebuilt`,
#                                           with BINARY) and claystack-anvil:local (anvil, cast)
#
# Images: claystack-debian:bookworm-ca (debootstrap --variant=minbase with ca-certificates, which
# cast needs even for http; imported once, cached as a
# tarball under $HOME/.cache/claystack-docker), the runtime base of both.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
cache="$HOME/.cache/claystack-docker"
state="${XDG_RUNTIME_DIR:-/tmp}/claystack-dockerd"
base_image=claystack-debian:bookworm-ca

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

engine_start() {
  if docker info >/dev/null 2>&1; then
    echo "docker.sh: a Docker engine already answers; using it" >&2
    return 0
  fi
  command -v dockerd >/dev/null || { echo "docker.sh: dockerd not found; run scripts/setup.sh" >&2; exit 1; }
  mkdir -p "$state"
  echo "docker.sh: starting dockerd (log $state/dockerd.log)" >&2
  $sudo_cmd sh -c "dockerd >'$state/dockerd.log' 2>&1 & echo \$! >'$state/dockerd.pid'"
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  echo "docker.sh: dockerd did not answer within 30 s; last lines of $state/dockerd.log:" >&2
  tail -5 "$state/dockerd.log" >&2
  exit 1
}

engine_stop() {
  [ -f "$state/dockerd.pid" ] || return 0
  local pid
  pid=$(cat "$state/dockerd.pid")
  rm -f "$state/dockerd.pid"
  $sudo_cmd kill "$pid" 2>/dev/null || return 0
  # dockerd stops its containers first; give it the time it takes.
  for _ in $(seq 1 60); do
    $sudo_cmd kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  echo "docker.sh: dockerd $pid did not stop in 30 s; killing it" >&2
  $sudo_cmd kill -9 "$pid" 2>/dev/null || true
}

# The Debian mirror apt already uses (debootstrap needs one; no registry is involved).
debian_mirror() {
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

base_image() {
  docker image inspect "$base_image" >/dev/null 2>&1 && return 0
  local tarball="$cache/bookworm-minbase-ca.tar"
  if [ ! -f "$tarball" ]; then
    command -v debootstrap >/dev/null || { echo "docker.sh: debootstrap not found; run scripts/setup.sh" >&2; exit 1; }
    local root
    root=$(mktemp -d /tmp/claystack-rootfs-XXXX)
    echo "docker.sh: making $base_image with debootstrap from $(debian_mirror) (about a minute)" >&2
    $sudo_cmd debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$(debian_mirror)" >"$root.log" 2>&1 \
      || { tail -5 "$root.log" >&2; exit 1; }
    mkdir -p "$cache"
    $sudo_cmd tar -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    $sudo_cmd rm -rf "$root" "$root.log"
  fi
  docker import "$tarball" "$base_image" >/dev/null
}

images() {
  local binary=$1
  [ -x "$binary" ] || { echo "docker.sh: $binary is not an executable" >&2; exit 1; }
  base_image
  # The oracle image: the Dockerfile's `prebuilt` target, the binary without its debug info.
  mkdir -p docker/.prebuilt
  strip --strip-debug -o docker/.prebuilt/claystack-oracle "$binary"
  docker build -q -f docker/Dockerfile --target prebuilt --network host \
    --build-arg RUNTIME_IMAGE="$base_image" -t claystack-oracle:local . >/dev/null
  # anvil and cast from the pinned npm packages (tools/js), in place of Foundry's image.
  local foundry="$repo/tools/js/node_modules/@foundry-rs"
  local ctx
  ctx=$(mktemp -d /tmp/claystack-anvil-XXXX)
  cp "$foundry/anvil-linux-amd64/bin/anvil" "$foundry/cast-linux-amd64/bin/cast" "$ctx/"
  printf 'FROM %s\nCOPY anvil cast /usr/local/bin/\nUSER 10001\nENTRYPOINT ["anvil"]\n' "$base_image" >"$ctx/Dockerfile"
  docker build -q --network host -t claystack-anvil:local "$ctx" >/dev/null
  rm -rf "$ctx"
  echo "docker.sh: built claystack-oracle:local and claystack-anvil:local on $base_image" >&2
}

case "${1:-}" in
  engine-start) engine_start ;;
  engine-stop) engine_stop ;;
  images) images "${2:?usage: scripts/docker.sh images BINARY}" ;;
  *) echo "usage: scripts/docker.sh engine-start | engine-stop | images BINARY" >&2; exit 2 ;;
esac
