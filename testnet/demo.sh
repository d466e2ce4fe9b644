#!/usr/bin/env bash
# The main job, locally: a simulated beacon chain plus an oracle node that
# accounts it, then the tallies next to the simulator's ground truth.
# Usage: testnet/demo.sh            (from the repository root or anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/claystack-target}"
cargo build --workspace --all-targets --locked
bin="$CARGO_TARGET_DIR/debug/claystack-oracle"

work=testnet/.data
rm -rf "$work" && mkdir -p "$work"
port=${BEACON_PORT:-5052}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

echo "== beacon simulator on 127.0.0.1:$port (testnet/scenarios/demo.toml)"
"$bin" sim beacon --scenario testnet/scenarios/demo.toml --listen "127.0.0.1:$port" --truth "$work/truth.json" 2>"$work/sim.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/eth/v1/node/health" >/dev/null && break; sleep 0.1; done

echo "== oracle node: accounting finalized epochs 0..=8"
"$bin" run --config testnet/node.toml --beacon-url "http://127.0.0.1:$port" --until-epoch 8 2>&1 | grep -E "epoch accounted|started|error" || true

echo "== tallies (sums over epochs 0..=8)"
"$bin" tallies --data-dir "$work/node-0" --to 8

"$bin" tallies --data-dir "$work/node-0" --to 8 --format json > "$work/tallies.json"
python3 - "$work/truth.json" "$work/tallies.json" <<'PY'
import json, sys
truth = {e["epoch"]: e["tallies"] for e in json.load(open(sys.argv[1]))["epochs"]}
ours = {e["epoch"]: e["tallies"] for e in json.load(open(sys.argv[2]))["epochs"]}
same = all(truth.get(e) == t for e, t in ours.items())
print(f"== {len(ours)} epochs accounted; equal to the simulator's ground truth: {'yes' if same else 'NO'}")
sys.exit(0 if same else 1)
PY
