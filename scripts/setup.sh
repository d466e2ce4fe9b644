#!/usr/bin/env bash
# Installs what a clean Debian/Ubuntu machine lacks to build and test the oracle.
# Idempotent: it only installs what is missing.
set -euo pipefail

need_apt=()
# rocksdb's bindgen needs libclang.
if ! ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 && ! ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1; then
  need_apt+=(libclang-dev)
fi
command -v clang >/dev/null 2>&1 || true
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found — install Rust (https://rustup.rs) and re-run" >&2
  exit 1
fi

# The Merkle cross-check (crates/merkle/tests/openzeppelin.rs) runs the real
# @openzeppelin/merkle-tree with node, from tools/js.
need_apt=()
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -d "$repo_root/tools/js/node_modules/@openzeppelin/merkle-tree" ]; then
  echo "setup: installing tools/js (npm ci)" >&2
  npm ci --prefix "$repo_root/tools/js" --no-audit --no-fund >/dev/null
fi
