#!/usr/bin/env bash
# Installs what a clean Debian/Ubuntu machine lacks to build and test the oracle.
# Idempotent: it only installs what is missing.
set -euo pipefail

# apt_install PKG...: installs Debian packages, as root or through sudo.
apt_install() {
  [ $# -gt 0 ] || return 0
  echo "setup: installing $*" >&2
  local sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@" >/dev/null
}

need_apt=()
# rocksdb's bindgen needs libclang itself (libclang-cpp, which some images
# ship, is not enough).
if command -v dpkg >/dev/null 2>&1; then
  dpkg -s libclang-dev >/dev/null 2>&1 || need_apt+=(libclang-dev)
elif ! ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1; then
  need_apt+=(libclang-dev)
fi
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)

apt_install "${need_apt[@]}"

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found — install Rust (https://rustup.rs) and re-run" >&2
  exit 1
fi

# The Merkle cross-check (crates/merkle/tests/openzeppelin.rs) runs the real
# @openzeppelin/merkle-tree with node, from tools/js.
need_apt=()
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
apt_install "${need_apt[@]}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# tools/js: OpenZeppelin's merkle-tree (cross-checks), forge/anvil/cast and solc-js (contracts),
# playwright-core (the operator page's browser test).
# Reinstalled whenever package-lock.json changed since the last install.
js="$repo_root/tools/js"
if ! cmp -s "$js/package-lock.json" "$js/node_modules/.claystack-installed-lock" 2>/dev/null; then
  echo "setup: installing tools/js (npm ci)" >&2
  npm ci --prefix "$js" --no-audit --no-fund >/dev/null
  cp "$js/package-lock.json" "$js/node_modules/.claystack-installed-lock"
fi

# The operator page's browser test (node/tests/web.rs) drives Debian's chromium through
# playwright-core (tools/js); the API load benchmark (crates/api/benches/api_load.rs) runs wrk.
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
apt_install "${need_apt[@]}"

# The compose committee's test (node/tests/compose.rs) runs a Docker engine, Debian's compose
# and debootstrap (base images from Debian's packages: no image registry is needed).
need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
apt_install "${need_apt[@]}"

# schemathesis (PyPI) tests the node's HTTP API against its own OpenAPI document
# (node/tests/api.rs), from a venv outside the clone: $HOME/.cache/claystack-schemathesis.
schemathesis_version="4.32.5"
st_venv="$HOME/.cache/claystack-schemathesis"
if ! "$st_venv/bin/st" --version 2>/dev/null | grep -q "$schemathesis_version"; then
  command -v python3 >/dev/null 2>&1 || apt_install python3
  python3 -m venv "$st_venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$st_venv"; }
  echo "setup: installing schemathesis $schemathesis_version into $st_venv" >&2
  "$st_venv/bin/pip" install -q "schemathesis==$schemathesis_version"
fi
