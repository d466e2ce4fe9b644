#!/usr/bin/env bash
# The main job: a whole local committee end to end, as processes on this machine — the
# beacon simulator, anvil with the contracts deployed, and 4 oracle nodes from a fresh
# genesis — until a rewards root is accepted on chain and an operator has claimed.
# It prints what happened and stops everything it started on exit (also on Ctrl-C).
# Usage: testnet/up.sh [--members N] [--timeout-secs S]   (from anywhere)
# Everything it writes (genesis, keys, configs, logs, data) is in testnet/.devnet/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/claystack-target}"
# The same build as the test command, so running both compiles RocksDB's C++ once.
cargo build --workspace --all-targets --locked
exec "$CARGO_TARGET_DIR/debug/claystack-oracle" devnet --dir testnet/.devnet "$@"
