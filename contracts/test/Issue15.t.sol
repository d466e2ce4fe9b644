// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Issue15Adapter, RootHarness} from "./utils/Issue15Adapter.sol";
import {TestSigner} from "./utils/BLSHarness.sol";
import {Vm} from "./utils/Test.sol";
import {NodeManager} from "../src/NodeManager.sol";
import {OperatorRegistry} from "../src/OperatorRegistry.sol";

/// An operator whose account is a contract that refuses ETH (as an EOA with an EIP-7702
/// delegation to such code does).
contract RefusingOperator {
    constructor(OperatorRegistry registry) {
        registry.registerOperator("refuses ETH", "");
    }

    receive() external payable {
        revert("no ETH here");
    }
}

/// Issue 15, items 1-5: money cannot leak. Each test states what must hold; how each step is
/// asked of the contracts is in test/utils/Issue15Adapter.sol.
contract Issue15Test is Issue15Adapter {
    /// EIP-7825: the most gas one transaction may use (Osaka).
    uint256 constant TX_GAS_CAP = 16_777_216;
    address constant OPERATOR = address(0x0Be7A70E);
    address constant OTHER = address(0x07E4);
    address constant BENEFICIARY = address(0xBE4E);
    RootHarness harness;

    function setUp() public {
        harness = deployHarness(loadCommittee(vm.readFile(REPORTS), ""));
        vm.warp(BEACON_GENESIS + 4000 * SECONDS_PER_EPOCH);
        vm.prank(OPERATOR);
        registry.registerOperator("operator", "");
    }

    function _leaf(address op, uint256 rewards, uint256 penalty, uint256 requirement) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(op, rewards, penalty, requirement))));
    }

    /// Accepts a rewards report whose tree holds `op`'s leaf and one other; returns the proof.
    function _report(address op, uint256 rewards, uint256 penalty, uint256 requirement)
        internal
        returns (bytes32[] memory proof)
    {
        bytes32 a = _leaf(op, rewards, penalty, requirement);
        bytes32 b = _leaf(OTHER, 1, 0, 0);
        harness.acceptRoot(a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a)));
        proof = new bytes32[](1);
        proof[0] = b;
    }

    function _claim(address op, uint256 rewards, uint256 penalty, uint256 requirement, bytes32[] memory proof)
        internal
    {
        vm.prank(address(0xD00D)); // anyone
        harness.claim(op, rewards, penalty, requirement, proof);
    }

    function _addNode(address op, OperatorRegistry.NodeType t) internal returns (bool ok) {
        vm.prank(op);
        (ok,) = address(registry).call(abi.encodeCall(OperatorRegistry.addNode, (t, "")));
    }

    // ---- 1. a failed payment never blocks the penalty ----------------------------------------

    /// The reproduction: a 10 ETH bond, a certified 4 ETH penalty; the operator's account
    /// refuses ETH. The penalty is slashed all the same, the bond cannot be taken back whole,
    /// and the operator still gets its rewards at an account it names.
    function test_item1_operatorRefusingEthIsStillPenalised() public {
        address op = address(new RefusingOperator(registry));
        bond(op, 10 ether);
        assertTrue(_addNode(op, OperatorRegistry.NodeType.Direct), "a direct node on a 10 ETH bond");
        vm.deal(address(harness), 100 ether);
        askBondBack(op, 10 ether);

        bytes32[] memory proof = _report(op, 1 ether, 4 ether, 4 ether);
        _claim(op, 1 ether, 4 ether, 4 ether, proof);
        assertEq(token.balanceOf(TREASURY), 4 ether, "the penalty reached the treasury");
        assertEq(registry.bondOf(op), 6 ether, "the bond lost the penalty");
        assertEq(penaltyPaid(op), 4 ether, "penalty settled");

        proof = _report(op, 1 ether, 4 ether, 4 ether);
        _claim(op, 1 ether, 4 ether, 4 ether, proof);
        assertFalse(takeBondBack(op, 10 ether), "the whole bond cannot come back");
        assertEq(payOut(op, op), 0, "its own account refuses the ETH");
        assertEq(payOut(op, BENEFICIARY), 1 ether, "paid at the account it names");
    }

    /// A NodeManager holding too little ETH still applies the penalty and the requirement.
    function test_item1_underfundedManagerStillPenalises() public {
        bond(OPERATOR, 10 ether);
        assertTrue(_addNode(OPERATOR, OperatorRegistry.NodeType.Direct), "node");
        vm.deal(address(harness), 0);
        bytes32[] memory proof = _report(OPERATOR, 1 ether, 4 ether, 4 ether);
        _claim(OPERATOR, 1 ether, 4 ether, 4 ether, proof);
        assertEq(token.balanceOf(TREASURY), 4 ether, "slashed without the ETH to pay rewards");
        assertGe(registry.bondRequirementOf(OPERATOR), 4 ether, "requirement set");
        vm.deal(address(harness), 1 ether);
        assertEq(payOut(OPERATOR, OPERATOR), 1 ether, "paid once funded");
    }

    // ---- 2. a penalty above the bond is a debt -----------------------------------------------

    /// A 3 ETH penalty on a 1 ETH bond: 1 ETH is slashed, the other 2 come out of the next
    /// rewards; nothing is forgiven.
    function test_item2_penaltyAboveTheBondIsNettedAgainstLaterRewards() public {
        bond(OPERATOR, 1 ether);
        assertTrue(_addNode(OPERATOR, OperatorRegistry.NodeType.SSV), "an SSV node on 1 ETH");
        vm.deal(address(harness), 100 ether);

        bytes32[] memory proof = _report(OPERATOR, 0, 3 ether, 1 ether);
        _claim(OPERATOR, 0, 3 ether, 1 ether, proof);
        assertEq(registry.bondOf(OPERATOR), 0, "the whole bond slashed");
        assertEq(penaltyPaid(OPERATOR), 1 ether, "only what the bond paid counts as paid");

        proof = _report(OPERATOR, 2.5 ether, 3 ether, 1 ether);
        _claim(OPERATOR, 2.5 ether, 3 ether, 1 ether, proof);
        assertEq(penaltyPaid(OPERATOR), 3 ether, "the rest came out of the rewards");
        assertEq(payOut(OPERATOR, OPERATOR), 0.5 ether, "rewards less the debt");
    }

    /// The Claimed event says what the bond actually paid (item 5, on the same scenario).
    function test_item5_claimedEventReportsWhatWasSlashed() public {
        bond(OPERATOR, 1 ether);
        assertTrue(_addNode(OPERATOR, OperatorRegistry.NodeType.SSV), "node");
        bytes32[] memory proof = _report(OPERATOR, 0, 3 ether, 1 ether);
        vm.recordLogs();
        _claim(OPERATOR, 0, 3 ether, 1 ether, proof);
        bytes32 topic = keccak256("Claimed(address,uint64,uint256,uint256,uint256,uint256,uint256,uint256)");
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bool found;
        for (uint256 i = 0; i < logs.length; i++) {
            if (logs[i].emitter != address(harness) || logs[i].topics[0] != topic) continue;
            (,, uint256 slashed, uint256 netted, uint256 debt,) =
                abi.decode(logs[i].data, (uint256, uint256, uint256, uint256, uint256, uint256));
            assertEq(slashed, 1 ether, "slashed: what the bond had");
            assertEq(netted, 0, "no rewards to net");
            assertEq(debt, 2 ether, "the rest is owed");
            found = true;
        }
        assertTrue(found, "a Claimed event with the slashed amount");
    }

    // ---- 3. bonds enforced -------------------------------------------------------------------

    /// The genesis rule: SSV's first node needs 1 ETH, each further SSV node 1 ETH more, an
    /// Obol first node 2 ETH, a direct first node 4 ETH.
    function test_item3_addingANodeNeedsTheGenesisBond() public {
        assertFalse(_addNode(OPERATOR, OperatorRegistry.NodeType.SSV), "no bond, no node");
        bond(OPERATOR, 0.5 ether);
        assertFalse(_addNode(OPERATOR, OperatorRegistry.NodeType.SSV), "half the bond, no node");
        bond(OPERATOR, 0.5 ether);
        assertTrue(_addNode(OPERATOR, OperatorRegistry.NodeType.SSV), "first SSV node: 1 ETH");
        assertFalse(_addNode(OPERATOR, OperatorRegistry.NodeType.SSV), "second SSV node needs 1 ETH more");
        bond(OPERATOR, 1 ether);
        assertTrue(_addNode(OPERATOR, OperatorRegistry.NodeType.SSV), "second SSV node: 2 ETH in all");
        bond(OPERATOR, 1.9 ether);
        assertFalse(_addNode(OPERATOR, OperatorRegistry.NodeType.Obol), "first Obol node needs 2 ETH more");
        bond(OPERATOR, 0.1 ether);
        assertTrue(_addNode(OPERATOR, OperatorRegistry.NodeType.Obol), "first Obol node: 4 ETH in all");
        assertFalse(_addNode(OPERATOR, OperatorRegistry.NodeType.Direct), "direct needs 4 ETH more");
        assertEq(registry.nodesOf(1).length, 3, "three nodes added");
    }

    /// The reproduction: the operator withdrew its bond after the report carrying its penalty
    /// was signed and accepted, before anyone claimed it. Now the withdrawal waits for the
    /// report and for the claim, and then keeps the penalty and the requirement.
    function test_item3_bondCannotLeaveBeforeTheClaimCarryingItsPenalty() public {
        bond(OPERATOR, 10 ether);
        assertTrue(_addNode(OPERATOR, OperatorRegistry.NodeType.SSV), "node");
        askBondBack(OPERATOR, 9 ether); // asked while the report is being signed

        bytes32[] memory proof = _report(OPERATOR, 0, 4 ether, 1 ether);
        assertFalse(takeBondBack(OPERATOR, 9 ether), "not before the accepted report is claimed");
        _claim(OPERATOR, 0, 4 ether, 1 ether, proof);
        assertFalse(takeBondBack(OPERATOR, 9 ether), "not below the penalty and the requirement");
        assertEq(token.balanceOf(TREASURY), 4 ether, "the penalty was paid");
        assertEq(registry.bondOf(OPERATOR), 6 ether, "the rest of the bond stays");
    }

    /// A withdrawal asked for now waits for at least one more rewards report.
    function test_item3_withdrawalWaitsForTheNextReport() public {
        bond(OPERATOR, 2 ether);
        askBondBack(OPERATOR, 2 ether);
        assertFalse(takeBondBack(OPERATOR, 2 ether), "not in the same report period");
        bytes32[] memory proof = _report(OPERATOR, 0, 0, 0);
        _claim(OPERATOR, 0, 0, 0, proof);
        assertTrue(takeBondBack(OPERATOR, 2 ether), "after the next report is applied");
        assertEq(token.balanceOf(OPERATOR), 2 ether, "bond returned");
    }

    // ---- 4. the stated maximum committee deploys ---------------------------------------------

    /// 128 members (keys and proofs of possession made here), registered in batches of 32:
    /// every transaction stays under EIP-7825's cap, and a report signed by a quorum of the
    /// 128 is accepted.
    function test_item4_maximumCommitteeDeploysUnderTheTransactionCap() public {
        uint256 n = 128;
        Committee memory c;
        c.pubkeys = new bytes[](n);
        c.compressed = new bytes[](n);
        c.pops = new bytes[](n);
        c.threshold = n / 2 + 1;
        for (uint256 i = 0; i < n; i++) {
            c.pubkeys[i] = TestSigner.publicKey(1000 + i);
            c.compressed[i] = TestSigner.compress(c.pubkeys[i]);
            c.pops[i] = TestSigner.proveKey(1000 + i);
        }
        (NodeManager m, uint256[] memory gas) = deployInBatches(c, 32);
        uint256 total;
        for (uint256 i = 0; i < gas.length; i++) {
            assertLe(gas[i], TX_GAS_CAP, "every transaction under the cap");
            total += gas[i];
        }
        log("128 members, batches of 32: transactions", gas.length);
        log("128 members, batches of 32: total gas", total);
        assertEq(m.committeeSize(), n, "size");

        // Members 0..64 sign: their aggregate is (sum of their keys) * H(m).
        bytes32 root = keccak256("root");
        bytes32 reportHash = keccak256("report");
        bytes memory message = abi.encodePacked(m.signingRoot(0, 1, root, reportHash));
        uint256 skSum;
        for (uint256 i = 0; i < c.threshold; i++) {
            skSum += 1000 + i;
        }
        uint256 bitmap = (uint256(1) << c.threshold) - 1;
        m.submitReport(0, 1, root, reportHash, bitmap, TestSigner.sign(skSum, message));
        assertEq(m.lastReportNumber(0), 1, "accepted");
    }

    // ---- 5. ownership and the NodeManager ----------------------------------------------------

    function test_item5_ownershipMovesInTwoSteps() public {
        address next = address(0x2E47);
        vm.prank(OWNER);
        registry.transferOwnership(next);
        assertEq(registry.owner(), OWNER, "still the owner until accepted");
        vm.prank(next);
        (bool ok,) = address(registry).call(abi.encodeWithSignature("acceptOwnership()"));
        assertTrue(ok, "accepted");
        assertEq(registry.owner(), next, "new owner");
    }

    function test_item5_ownershipCannotBeRenounced() public {
        vm.prank(OWNER);
        (bool ok,) = address(registry).call(abi.encodeWithSignature("renounceOwnership()"));
        assertFalse(ok, "renounce refused");
        assertEq(registry.owner(), OWNER, "governance kept");
    }

    /// The NodeManager is set once, to a NodeManager of this registry: an account without code,
    /// another registry's NodeManager, or a replacement (which would strand claims in the old
    /// one or pay them twice from the new) is refused.
    function test_item5_nodeManagerIsCheckedAndNeverReplaced() public {
        vm.startPrank(OWNER);
        (bool ok,) = address(registry).call(abi.encodeCall(OperatorRegistry.setNodeManager, (address(0xBEEF))));
        assertFalse(ok, "an account without code");
        (ok,) = address(registry).call(abi.encodeCall(OperatorRegistry.setNodeManager, (address(registry))));
        assertFalse(ok, "a contract that is not a NodeManager of this registry");
        vm.stopPrank();

        Committee memory c = loadCommittee(vm.readFile(REPORTS), "");
        (NodeManager successor,) = deployInBatches(c, 4);
        vm.prank(OWNER);
        (ok,) = address(registry).call(abi.encodeCall(OperatorRegistry.setNodeManager, (address(successor))));
        assertFalse(ok, "no replacement");
        assertEq(registry.nodeManager(), address(harness), "the first NodeManager stays");
    }
}
