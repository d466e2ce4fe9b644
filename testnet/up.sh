#!/usr/bin/env bash
# The main job: a whole local committee end to end, as processes on this machine — the
# beacon simulator, anvil with the contracts deployed, and 4 oracle nodes from a fresh
# genesis — through three rewards reports and an exits round: roots accepted on chain, an
# operator's claim paid, exits published and priced by report 3.
# It prints what happened and stops everything it started on exit (also on Ctrl-C).
# Usage: testnet/up.sh [devnet flags]   (from anywhere; with no flags: --exits --reports 3)
# Everything it writes (genesis, keys, configs, logs, data) is in testnet/.devnet/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/claystack-target}"
# The same build as the test command, so running both compiles RocksDB's C++ once.
cargo build --workspace --all-targets --locked
if [ $# -eq 0 ]; then
  set -- --exits --reports 3
fi
exec "$CARGO_TARGET_DIR/debug/claystack-oracle" devnet --dir testnet/.devnet "$@"
