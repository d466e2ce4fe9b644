#!/usr/bin/env bash
# Runs every test of the project: unit, property, integration, cross-process.
# Benchmarks are compiled and run once each in test mode (no timing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/claystack-target}"
cargo fmt --all -- --check
bash scripts/contracts.sh
bash scripts/contracts.sh check-artifacts
cargo build --workspace --all-targets --locked
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --all-targets --locked
