#!/usr/bin/env bash
# The main job: a whole local committee end to end, as processes on this machine — the
# beacon simulator, anvil with the contracts deployed, and 16 oracle nodes from a fresh
# genesis — through three rewards reports and an exits round, with one member killed and
# restarted, one whose beacon node lies, one whose beacon node fails and a committee change
# (member 3's key replaced, the threshold raised): roots accepted on
# chain, claims paid, exits published and priced by report 3 (docs/testnet.md).
# It prints what happened and stops everything it started on exit (also on Ctrl-C).
# Usage: testnet/up.sh [devnet flags]   (from anywhere; with no flags: the long run above;
#        `testnet/up.sh --keep-running` runs it and keeps the members' APIs and pages up)
# Everything it writes (genesis, keys, configs, logs, data) is in testnet/.devnet/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/claystack-target}"
# The same build as the test command, so running both compiles RocksDB's C++ once.
cargo build --workspace --all-targets --locked
if [ $# -eq 0 ] || [ "$*" = "--keep-running" ]; then
  set -- --members 16 --reports 3 --exits --kill-member 5 --liar-member 7 --flaky-beacon-member 9 --replace-member 3 "$@"
fi
exec "$CARGO_TARGET_DIR/debug/claystack-oracle" devnet --dir testnet/.devnet "$@"
