// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Fixtures} from "./utils/Fixtures.sol";
import {NodeManager} from "../src/NodeManager.sol";
import {OperatorRegistry} from "../src/OperatorRegistry.sol";

/// The whole path with data made off-chain: a 4-member committee (py_ecc keys and proofs of
/// possession), StandardMerkleTrees built by the OpenZeppelin merkle-tree library, reports signed by
/// py_ecc for this NodeManager's address and chain; operators register, bond, get paid,
/// penalised and asked to exit.
contract EndToEndTest is Fixtures {
    string json;
    address[] operators;

    function setUp() public {
        json = vm.readFile(REPORTS);
        deploy(loadCommittee(json, ""), vm.parseJsonAddress(json, ".nodeManager"));
        vm.warp(BEACON_GENESIS + 4000 * SECONDS_PER_EPOCH);

        for (uint256 i = 0; i < 4; i++) {
            address op = vm.parseJsonAddress(json, string.concat(".operators[", vm.toString(i), "]"));
            operators.push(op);
            vm.prank(op);
            registry.registerOperator(string.concat("operator ", vm.toString(i)), "");
            // A direct node needs its genesis bond, 4 ETH, bonded first (as csETH).
            bondEth(op, 4 ether);
            vm.prank(op);
            uint256 node = registry.addNode(OperatorRegistry.NodeType.Direct, "");
            if (i < 2) {
                uint256[] memory cluster = new uint256[](1);
                cluster[0] = node;
                vm.prank(OWNER);
                registry.addValidator(
                    vm.parseJsonBytes(json, string.concat(".validatorPubkeys[", vm.toString(i), "]")), cluster
                );
            }
        }
        vm.deal(address(this), 10 ether);
        (bool ok,) = address(nm).call{value: 10 ether}("");
        assertTrue(ok, "fund the NodeManager");
    }

    struct Leaf {
        address operator;
        uint256 cumulative;
        uint256 penalty;
        uint256 requirement;
        bytes32[] proof;
    }

    function leaf(string memory reportName, uint256 i) internal view returns (Leaf memory l) {
        string memory v = string.concat(".reports.", reportName, ".values[", vm.toString(i), "]");
        l.operator = vm.parseJsonAddress(json, string.concat(v, "[0]"));
        l.cumulative = vm.parseJsonUint(json, string.concat(v, "[1]"));
        l.penalty = vm.parseJsonUint(json, string.concat(v, "[2]"));
        l.requirement = vm.parseJsonUint(json, string.concat(v, "[3]"));
        l.proof =
            vm.parseJsonBytes32Array(json, string.concat(".reports.", reportName, ".proofs[", vm.toString(i), "]"));
    }

    function claim(Leaf memory l) internal returns (uint256) {
        return nm.claim(l.operator, l.cumulative, l.penalty, l.requirement, l.proof);
    }

    /// Pays out `op`'s whole credited balance to itself; returns the amount.
    function withdrawAll(address op) internal returns (uint256 amount) {
        amount = nm.balanceOf(op);
        if (amount == 0) return 0;
        uint256 before = op.balance;
        vm.prank(op);
        nm.withdraw(payable(op), amount);
        assertEq(op.balance - before, amount, "operator received its balance");
    }

    function test_endToEnd() public {
        // Report 1: members 0, 1, 2 signed; anyone submits.
        vm.prank(address(0xD00D));
        submit(loadReport(json, ".reports.rewards1"));

        // Every operator's leaf is claimed; operator 1 is penalised 0.5 ETH of its bond.
        for (uint256 i = 0; i < 4; i++) {
            Leaf memory l = leaf("rewards1", i);
            vm.expectEmit(address(nm));
            emit NodeManager.Claimed(l.operator, 1, l.cumulative, l.cumulative, l.penalty, 0, 0, l.requirement);
            vm.prank(address(0xD00D)); // anyone may trigger; the credit is the operator's
            assertEq(claim(l), l.cumulative, "credited the cumulative");
            assertEq(withdrawAll(l.operator), l.cumulative, "withdrew the cumulative");
            // Report 1 may have been computed before the node existed: its 4 ETH stays required.
            assertEq(registry.bondRequirementOf(l.operator), l.requirement + 4 ether, "requirement set");
        }
        assertEq(registry.bondOf(operators[1]), 3.5 ether, "penalty slashed");
        assertEq(token.balanceOf(TREASURY), 0.5 ether, "treasury got the penalty");

        // Claiming again credits nothing and slashes nothing.
        Leaf memory l1 = leaf("rewards1", 1);
        assertEq(claim(l1), 0, "nothing more");
        assertEq(nm.balanceOf(l1.operator), 0, "no second credit");
        assertEq(registry.bondOf(operators[1]), 3.5 ether, "penalty applied once");

        // Operator 2 asks for its whole bond back: not before another report is accepted.
        vm.prank(operators[2]);
        registry.requestBondWithdrawal(4 ether);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.WithdrawalTooEarly.selector, 1, 1));
        vm.prank(operators[2]);
        registry.withdrawBond();

        // Report 2 (all four signed): cumulative amounts grow.
        submit(loadReport(json, ".reports.rewards2"));
        // ...and not before its leaf of report 2 is claimed.
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.LatestReportNotClaimed.selector, operators[2], 1, 2));
        vm.prank(operators[2]);
        registry.withdrawBond();
        for (uint256 i = 0; i < 4; i++) {
            Leaf memory a = leaf("rewards1", i);
            Leaf memory b = leaf("rewards2", i);
            assertEq(claim(b), b.cumulative - a.cumulative, "credits the increase");
            assertEq(withdrawAll(b.operator), b.cumulative - a.cumulative, "withdrew the increase");
            assertEq(nm.claimedRewards(b.operator), b.cumulative, "claimed so far");
            assertEq(nm.appliedBondPenalty(b.operator), b.penalty, "penalty applied so far");
            assertEq(registry.bondRequirementOf(b.operator), b.requirement, "report 2 counts the node");
        }
        // Operator 1's cumulative penalty went from 0.5 to 0.7: 0.2 more slashed.
        assertEq(registry.bondOf(operators[1]), 3.3 ether, "second penalty");
        // Operator 2's requirement dropped to 0: its whole bond is withdrawable.
        vm.prank(operators[2]);
        registry.withdrawBond();
        assertEq(token.balanceOf(operators[2]), 4 ether, "bond returned");
    }

    struct ExitLeaf {
        uint64 validatorIndex;
        address operator;
        uint8 kind;
        uint64 exitByEpoch;
        bytes32[] proof;
    }

    function exitLeaf(string memory reportName, uint256 i) internal view returns (ExitLeaf memory l) {
        string memory v = string.concat(".reports.", reportName, ".values[", vm.toString(i), "]");
        l.validatorIndex = uint64(vm.parseJsonUint(json, string.concat(v, "[0]")));
        l.operator = vm.parseJsonAddress(json, string.concat(v, "[1]"));
        l.kind = uint8(vm.parseJsonUint(json, string.concat(v, "[2]")));
        l.exitByEpoch = uint64(vm.parseJsonUint(json, string.concat(v, "[3]")));
        l.proof =
            vm.parseJsonBytes32Array(json, string.concat(".reports.", reportName, ".proofs[", vm.toString(i), "]"));
    }

    function publish(uint64 number, ExitLeaf memory l) internal {
        nm.publishExit(number, l.validatorIndex, l.operator, l.kind, l.exitByEpoch, l.proof);
    }

    /// The protocol records the two validators' beacon indices (1000, 1001); operator 1 asks
    /// to exit its validator voluntarily. Epoch 4000 now.
    function _exitsSetUp() internal {
        uint256[] memory ids = new uint256[](2);
        uint64[] memory indices = new uint64[](2);
        (ids[0], ids[1], indices[0], indices[1]) = (1, 2, 1000, 1001);
        vm.prank(OWNER);
        registry.setBeaconIndices(ids, indices);
        vm.prank(operators[1]);
        registry.requestVoluntaryExit(vm.parseJsonBytes(json, ".validatorPubkeys[1]"), true);
    }

    /// Exits report 1 (1000 requested by 5000, 1001 voluntary slot 4500), then report 2 (1000
    /// again, 1001 slot 4600): each exit is published once, only from the latest report, while
    /// its deadline is ahead; one `ExitRequested` per exit with its deadline.
    function test_exits_publishedOnceFromTheLatestReportBeforeTheDeadline() public {
        _exitsSetUp();
        ExitLeaf memory requested = exitLeaf("exits1", 0);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.NoReport.selector, 1, 1));
        publish(1, requested);

        submit(loadReport(json, ".reports.exits1"));
        vm.expectEmit(address(registry));
        emit OperatorRegistry.ExitRequested(1, 1000, operators[0], 0, 5000, 1);
        vm.prank(address(0xD00D)); // anyone, with the proof
        publish(1, requested);
        OperatorRegistry.Validator memory val = registry.getValidator(1);
        assertTrue(val.status == OperatorRegistry.ValidatorStatus.ExitRequested, "exit requested");
        assertEq(val.exitEpoch, 5000, "exit by");
        assertEq(nm.exitPublishedIn(_leafHash(requested)), 1, "published from report 1");

        vm.expectRevert(abi.encodeWithSelector(NodeManager.ExitAlreadyPublished.selector, 1000, 1));
        publish(1, requested);
        ExitLeaf memory forged = exitLeaf("exits1", 0);
        forged.exitByEpoch += 1;
        vm.expectRevert(NodeManager.InvalidProof.selector);
        publish(1, forged);
        forged = exitLeaf("exits1", 0);
        forged.kind = 1;
        vm.expectRevert(NodeManager.InvalidProof.selector);
        publish(1, forged);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.NotLatestExitsReport.selector, 2, 1));
        publish(2, requested);

        // Report 2 is accepted before report 1's voluntary slot was published.
        submit(loadReport(json, ".reports.exits2"));
        ExitLeaf memory oldSlot = exitLeaf("exits1", 1);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.NotLatestExitsReport.selector, 1, 2));
        publish(1, oldSlot);
        vm.expectRevert(NodeManager.InvalidProof.selector); // not in report 2
        publish(2, oldSlot);
        // Report 2 lists the requested exit again: the same exit, already published.
        vm.expectRevert(abi.encodeWithSelector(NodeManager.ExitAlreadyPublished.selector, 1000, 1));
        publish(2, exitLeaf("exits2", 0));

        // Report 2's slot, past its deadline: refused; just before: published.
        ExitLeaf memory slot = exitLeaf("exits2", 1);
        vm.warp(BEACON_GENESIS + 4600 * SECONDS_PER_EPOCH);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.ExitDeadlinePassed.selector, 1001, 4600, 4600));
        publish(2, slot);
        vm.warp(BEACON_GENESIS + 4600 * SECONDS_PER_EPOCH - 1);
        vm.expectEmit(address(registry));
        emit OperatorRegistry.ExitRequested(2, 1001, operators[1], 1, 4600, 2);
        publish(2, slot);
        val = registry.getValidator(2);
        assertTrue(val.status == OperatorRegistry.ValidatorStatus.VoluntaryExitRequested, "voluntary");
        assertEq(val.exitEpoch, 4600, "its slot");
    }

    function _leafHash(ExitLeaf memory l) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(l.validatorIndex, l.operator, l.kind, l.exitByEpoch))));
    }

    function test_claim_rejectsWrongProof() public {
        vm.expectRevert(abi.encodeWithSelector(NodeManager.NoReport.selector, 0, 0));
        claim(leaf("rewards1", 0));

        submit(loadReport(json, ".reports.rewards1"));
        Leaf memory l = leaf("rewards1", 0);
        Leaf memory other = leaf("rewards1", 1);

        l.cumulative += 1;
        vm.expectRevert(NodeManager.InvalidProof.selector);
        claim(l);

        l = leaf("rewards1", 0);
        l.proof = other.proof;
        vm.expectRevert(NodeManager.InvalidProof.selector);
        claim(l);

        l = leaf("rewards1", 0);
        l.operator = other.operator;
        vm.expectRevert(NodeManager.InvalidProof.selector);
        claim(l);

        l = leaf("rewards1", 0);
        l.requirement = 0; // a lower requirement is not for the claimer to choose
        vm.expectRevert(NodeManager.InvalidProof.selector);
        claim(l);
    }

    function test_claim_onlyAgainstTheLatestRoot() public {
        submit(loadReport(json, ".reports.rewards1"));
        submit(loadReport(json, ".reports.rewards2"));
        vm.expectRevert(NodeManager.InvalidProof.selector);
        claim(leaf("rewards1", 0));
        assertEq(claim(leaf("rewards2", 0)), leaf("rewards2", 0).cumulative, "the whole cumulative at once");
    }

    function test_withdraw_insufficientFunds() public {
        submit(loadReport(json, ".reports.rewards1"));
        vm.deal(address(nm), 0.1 ether);
        Leaf memory l = leaf("rewards1", 0);
        assertEq(claim(l), l.cumulative, "the claim credits whatever the balance");
        vm.expectRevert(abi.encodeWithSelector(NodeManager.InsufficientFunds.selector, 0.1 ether, l.cumulative));
        vm.prank(l.operator);
        nm.withdraw(payable(l.operator), l.cumulative);
        assertEq(nm.balanceOf(l.operator), l.cumulative, "the credit stays");
    }
}
