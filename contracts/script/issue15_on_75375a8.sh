#!/usr/bin/env bash
# Runs test/Issue15.t.sol (issue 15, items 1-5) against the contracts of commit 75375a8, to show
# which of its tests fail there. The test bodies are this tree's; only the adapter
# (test/utils/Issue15Adapter.sol: how each step is asked of the contracts) is rewritten below for
# the old API: the old NodeManager takes its committee in its constructor, pays on claim, and
# the old registry takes csETH bonds and withdraws them at once.
#
#   bash contracts/script/issue15_on_75375a8.sh        (from the repository root)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
old="$(mktemp -d)"
trap 'rm -rf "$old"' EXIT
git -C "$repo" archive 75375a8 contracts | tar -x -C "$old"
cp "$repo/contracts/test/Issue15.t.sol" "$old/contracts/test/"
cp "$repo/contracts/test/utils/Test.sol" "$repo/contracts/test/utils/BLSHarness.sol" "$old/contracts/test/utils/"
sed -i "s#\.\./tools/js#$repo/tools/js#g" "$old/contracts/foundry.toml"
cat > "$old/contracts/test/utils/Issue15Adapter.sol" <<'SOL'
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Fixtures} from "./Fixtures.sol";
import {NodeManager} from "../../src/NodeManager.sol";
import {OperatorRegistry} from "../../src/OperatorRegistry.sol";
import {MockCsETH} from "../../src/MockCsETH.sol";

contract RootHarness is NodeManager {
    constructor(OperatorRegistry r, bytes[] memory pks, bytes[] memory cs, bytes[] memory pops, uint256 t)
        NodeManager(r, pks, cs, pops, t)
    {}

    function acceptRoot(bytes32 root) external {
        uint64 number = _lastNumber[KIND_REWARDS] + 1;
        _lastNumber[KIND_REWARDS] = number;
        _roots[KIND_REWARDS][number] = root;
    }
}

/// The same steps with the API of 75375a8.
abstract contract Issue15Adapter is Fixtures {
    mapping(address => uint256) internal reported;

    function deployHarness(Committee memory c) internal returns (RootHarness h) {
        token = new MockCsETH();
        registry = new OperatorRegistry(OWNER, token, TREASURY, registryConfig());
        h = new RootHarness(registry, c.pubkeys, c.compressed, c.pops, c.threshold);
        vm.prank(OWNER);
        registry.setNodeManager(address(h));
        nm = h;
    }

    /// One transaction: the constructor takes the whole committee.
    function deployInBatches(Committee memory c, uint256) internal returns (NodeManager m, uint256[] memory gas) {
        gas = new uint256[](1);
        vm.prank(DEPLOYER);
        uint256 before = gasleft();
        m = new NodeManager(registry, c.pubkeys, c.compressed, c.pops, c.threshold);
        gas[0] = before - gasleft();
    }

    /// csETH is 1:1 with ETH on the old mock.
    function bond(address op, uint256 amount) internal {
        token.mint(op, amount);
        vm.startPrank(op);
        token.approve(address(registry), amount);
        registry.depositBond(amount);
        vm.stopPrank();
    }

    /// Claims paid the operator's own account directly: report what reached it.
    function payOut(address op, address to) internal returns (uint256 paid) {
        if (to != op) return 0;
        paid = nm.claimedRewards(op) - reported[op];
        reported[op] = nm.claimedRewards(op);
    }

    function askBondBack(address, uint256) internal {}

    function takeBondBack(address op, uint256 amount) internal returns (bool ok) {
        vm.prank(op);
        (ok,) = address(registry).call(abi.encodeCall(OperatorRegistry.withdrawBond, (amount)));
    }

    function penaltyPaid(address op) internal view returns (uint256) {
        return nm.appliedBondPenalty(op);
    }
}
SOL
export PATH="$repo/tools/js/node_modules/.bin:$PATH"
cd "$old/contracts"
forge test --match-contract Issue15Test "$@" || true
