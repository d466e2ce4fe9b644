// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Fixtures} from "./Fixtures.sol";
import {NodeManager} from "../../src/NodeManager.sol";
import {OperatorRegistry} from "../../src/OperatorRegistry.sol";
import {MockCsETH} from "../../src/MockCsETH.sol";

/// NodeManager with a back door for roots, so claims can be tested on leaves no committee
/// signed. Only for tests: signatures are tested elsewhere.
contract RootHarness is NodeManager {
    constructor(OperatorRegistry r, uint256 n, uint256 t) NodeManager(r, n, t) {}

    function acceptRoot(bytes32 root) external {
        uint64 number = _lastNumber[KIND_REWARDS] + 1;
        _lastNumber[KIND_REWARDS] = number;
        _roots[KIND_REWARDS][number] = root;
    }
}

/// How test/Issue15.t.sol does each step with the contracts' API: what an operator, the
/// protocol or a deployer does. The tests state what must hold; this file only says how to ask.
abstract contract Issue15Adapter is Fixtures {
    /// Token, registry and a root-harness NodeManager for committee `c`, wired together.
    function deployHarness(Committee memory c) internal returns (RootHarness h) {
        token = new MockCsETH();
        registry = new OperatorRegistry(OWNER, token, TREASURY, registryConfig());
        h = new RootHarness(registry, c.pubkeys.length, c.threshold);
        h.registerMembers(c.pubkeys, c.compressed, c.pops);
        vm.prank(OWNER);
        registry.setNodeManager(address(h));
        nm = h;
    }

    /// Deploys a NodeManager for `c` from DEPLOYER as separate transactions of at most `batch`
    /// members; returns it and the gas of each transaction's execution.
    function deployInBatches(Committee memory c, uint256 batch) internal returns (NodeManager m, uint256[] memory gas) {
        uint256 n = c.pubkeys.length;
        gas = new uint256[](1 + (n + batch - 1) / batch);
        vm.startPrank(DEPLOYER);
        uint256 before = gasleft();
        m = new NodeManager(registry, n, c.threshold);
        gas[0] = before - gasleft();
        for (uint256 first = 0; first < n; first += batch) {
            uint256 k = n - first < batch ? n - first : batch;
            bytes[] memory pks = new bytes[](k);
            bytes[] memory cs = new bytes[](k);
            bytes[] memory pops = new bytes[](k);
            for (uint256 i = 0; i < k; i++) {
                (pks[i], cs[i], pops[i]) = (c.pubkeys[first + i], c.compressed[first + i], c.pops[first + i]);
            }
            m.registerMembers(pks, cs, pops);
            gas[1 + first / batch] = vm.lastCallGas().gasTotalUsed;
        }
        vm.stopPrank();
    }

    /// `op` bonds `amount` ETH (as csETH minted at csETH's rate).
    function bond(address op, uint256 amount) internal {
        bondEth(op, amount);
    }

    /// `op` pays out its rewards to `to`; returns the ETH `to` received (0 if refused).
    function payOut(address op, address to) internal returns (uint256 paid) {
        uint256 amount = nm.balanceOf(op);
        uint256 before = to.balance;
        if (amount != 0) {
            vm.prank(op);
            (bool ok,) = address(nm).call(abi.encodeCall(NodeManager.withdraw, (payable(to), amount)));
            ok; // a refused payment changes nothing; `paid` says what arrived
        }
        paid = to.balance - before;
    }

    /// `op` asks to withdraw `amount` csETH of its bond (before the reports that follow).
    function askBondBack(address op, uint256 amount) internal {
        vm.prank(op);
        registry.requestBondWithdrawal(amount);
    }

    /// `op` takes back the bond it asked for; returns whether the registry let it.
    function takeBondBack(address op, uint256) internal returns (bool ok) {
        vm.prank(op);
        (ok,) = address(registry).call(abi.encodeCall(OperatorRegistry.withdrawBond, ()));
    }

    /// The ETH the protocol keeps from `op` for penalties so far: slashed from its bond or
    /// netted from its rewards.
    function penaltyPaid(address op) internal view returns (uint256) {
        return nm.appliedBondPenalty(op);
    }
}
