#!/usr/bin/env bash
# Builds and tests the Solidity contracts (contracts/, a Foundry project) with the forge and
# solc-js pinned in tools/js (npm), and exports the ABI+bytecode artifacts the Rust side binds.
#
#   scripts/contracts.sh                   forge fmt --check, forge build, forge test
#   scripts/contracts.sh test [ARGS...]    forge test with extra forge arguments (e.g. --gas-report, -vv)
#   scripts/contracts.sh gas               gas figures: GasTest (writes snapshots/GasTest.json) and --gas-report
#   scripts/contracts.sh snapshot          forge snapshot (contracts/.gas-snapshot; --check to compare)
#   scripts/contracts.sh anvil-gas [PORT]  submitReport as real transactions on a private anvil (127.0.0.1:8645)
#   scripts/contracts.sh artifacts         write contracts/artifacts/<contract>.json (the seven the Rust side deploys)
#   scripts/contracts.sh check-artifacts   fail when contracts/artifacts/ differs from a fresh build
#   scripts/contracts.sh vectors           regenerate test/vectors with py_ecc (makes contracts/.venv)
#
# It installs nothing but tools/js's npm packages (`npm ci`, when forge or solc is missing).
# The vector files are committed: running the tests needs no Python.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
js="$repo/tools/js"
contracts="$repo/contracts"

if [ ! -x "$js/node_modules/.bin/forge" ] || [ ! -f "$js/node_modules/solc/package.json" ] \
  || [ ! -d "$js/node_modules/@openzeppelin/contracts" ]; then
  echo "contracts: installing tools/js (npm ci)" >&2
  npm ci --prefix "$js" --no-audit --no-fund >/dev/null
fi
export PATH="$js/node_modules/.bin:$PATH"
cd "$contracts"

# The pinned forge (npm @foundry-rs) exits 0 on some errors ("Error: Compiler run failed" when
# solc-js hits "Stack too deep", "Error: `solc` ... does not exist") and then runs no test at
# all; so its output is checked too: any line starting with "Error" fails the run.
checked() { # runs forge "$@", fails if it failed or printed an error
  local log
  log="$(mktemp)"
  if ! forge "$@" 2>&1 | tee "$log"; then
    rm -f "$log"
    return 1
  fi
  if grep -q "^Error" "$log"; then
    rm -f "$log"
    echo "contracts: forge $1 printed an error (above) although it exited 0" >&2
    return 1
  fi
  rm -f "$log"
}

export_artifacts() { # $1: target directory
  checked build >/dev/null
  node "$contracts/script/artifacts.mjs" "$contracts/out" "$1"
}

cmd="${1:-all}"
[ $# -gt 0 ] && shift
case "$cmd" in
  all)
    forge fmt --check
    checked build
    checked test
    ;;
  test)
    checked test "$@"
    ;;
  gas)
    forge test --match-contract GasTest -vv
    forge test --gas-report --no-match-test 'testFuzz|test_gas'
    ;;
  snapshot)
    forge snapshot "$@"
    ;;
  anvil-gas)
    forge build >/dev/null
    python3 "$contracts/script/anvil_gas.py" "$@"
    ;;
  artifacts)
    export_artifacts "$contracts/artifacts"
    echo "contracts: wrote contracts/artifacts/" >&2
    ;;
  check-artifacts)
    fresh="$(mktemp -d)"
    trap 'rm -rf "$fresh"' EXIT
    export_artifacts "$fresh"
    if ! diff -r "$contracts/artifacts" "$fresh" >/dev/null; then
      echo "contracts: contracts/artifacts/ is out of date with contracts/src; run scripts/contracts.sh artifacts and commit it" >&2
      exit 1
    fi
    echo "contracts: artifacts up to date" >&2
    ;;
  vectors)
    venv="$contracts/.venv"
    if [ ! -x "$venv/bin/python" ]; then
      python3 -m venv "$venv"
      "$venv/bin/pip" install -q py_ecc==8.0.0 pycryptodome==4.4.0
    fi
    "$venv/bin/python" "$contracts/script/vectors_py_ecc.py"
    ;;
  *)
    echo "contracts: unknown command '$cmd' (all | test | gas | snapshot | anvil-gas | artifacts | check-artifacts | vectors)" >&2
    exit 2
    ;;
esac
