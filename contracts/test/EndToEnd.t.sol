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
            // Every operator bonds 1 csETH.
            token.mint(op, 1 ether);
            vm.prank(op);
            token.approve(address(registry), 1 ether);
            vm.prank(op);
            registry.depositBond(1 ether);
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

    function test_endToEnd() public {
        // Report 1: members 0, 1, 2 signed; anyone submits.
        vm.prank(address(0xD00D));
        submit(loadReport(json, ".reports.rewards1"));

        // Every operator claims; operator 1 is penalised 0.5 csETH of its bond.
        for (uint256 i = 0; i < 4; i++) {
            Leaf memory l = leaf("rewards1", i);
            uint256 before = l.operator.balance;
            if (l.penalty != 0 || l.cumulative != 0) {
                vm.expectEmit(address(nm));
                emit NodeManager.Claimed(l.operator, 1, l.cumulative, l.cumulative, l.penalty, l.requirement);
            }
            vm.prank(address(0xD00D)); // anyone may trigger; the ETH goes to the operator
            assertEq(claim(l), l.cumulative, "paid the cumulative");
            assertEq(l.operator.balance - before, l.cumulative, "operator received");
            assertEq(registry.bondRequirementOf(l.operator), l.requirement, "requirement set");
        }
        assertEq(registry.bondOf(operators[1]), 0.5 ether, "penalty slashed");
        assertEq(token.balanceOf(TREASURY), 0.5 ether, "treasury got the penalty");

        // Claiming again pays nothing and slashes nothing.
        Leaf memory l1 = leaf("rewards1", 1);
        uint256 balance = l1.operator.balance;
        assertEq(claim(l1), 0, "nothing more");
        assertEq(l1.operator.balance, balance, "no second payment");
        assertEq(registry.bondOf(operators[1]), 0.5 ether, "penalty applied once");

        // Operator 1 may withdraw nothing: 0.5 bonded, 2 required.
        vm.expectRevert(
            abi.encodeWithSelector(OperatorRegistry.BondBelowRequirement.selector, 0.5 ether, 0.1 ether, 2 ether)
        );
        vm.prank(operators[1]);
        registry.withdrawBond(0.1 ether);

        // Report 2 (all four signed): cumulative amounts grow.
        submit(loadReport(json, ".reports.rewards2"));
        for (uint256 i = 0; i < 4; i++) {
            Leaf memory a = leaf("rewards1", i);
            Leaf memory b = leaf("rewards2", i);
            uint256 before = b.operator.balance;
            assertEq(claim(b), b.cumulative - a.cumulative, "pays the increase");
            assertEq(b.operator.balance - before, b.cumulative - a.cumulative, "operator received the increase");
            assertEq(nm.claimedRewards(b.operator), b.cumulative, "claimed so far");
            assertEq(nm.appliedBondPenalty(b.operator), b.penalty, "penalty applied so far");
        }
        // Operator 1's cumulative penalty went from 0.5 to 0.7: 0.2 more slashed.
        assertEq(registry.bondOf(operators[1]), 0.3 ether, "second penalty");
        // Operator 2's requirement dropped to 0: its whole bond is withdrawable.
        vm.prank(operators[2]);
        registry.withdrawBond(1 ether);
        assertEq(token.balanceOf(operators[2]), 1 ether, "bond returned");

        // Exits report 1: requested exits published by anyone, once.
        submit(loadReport(json, ".reports.exits1"));
        for (uint256 i = 0; i < 2; i++) {
            string memory v = string.concat(".reports.exits1.values[", vm.toString(i), "]");
            address op = vm.parseJsonAddress(json, string.concat(v, "[0]"));
            uint64 index = uint64(vm.parseJsonUint(json, string.concat(v, "[1]")));
            bytes32 pubkeyHash = vm.parseJsonBytes32(json, string.concat(v, "[2]"));
            uint64 exitBy = uint64(vm.parseJsonUint(json, string.concat(v, "[3]")));
            bytes32[] memory proof =
                vm.parseJsonBytes32Array(json, string.concat(".reports.exits1.proofs[", vm.toString(i), "]"));
            vm.expectEmit(address(registry));
            emit OperatorRegistry.ExitRequested(i + 1, pubkeyHash, op, index, exitBy, 1);
            nm.publishExitRequest(1, op, index, pubkeyHash, exitBy, proof);
            OperatorRegistry.Validator memory val = registry.getValidator(i + 1);
            assertTrue(val.status == OperatorRegistry.ValidatorStatus.ExitRequested, "exit requested");
            assertEq(val.exitEpoch, exitBy, "exit by");

            vm.expectRevert(
                abi.encodeWithSelector(
                    OperatorRegistry.WrongValidatorStatus.selector,
                    i + 1,
                    OperatorRegistry.ValidatorStatus.ExitRequested
                )
            );
            nm.publishExitRequest(1, op, index, pubkeyHash, exitBy, proof);
            vm.expectRevert(NodeManager.InvalidProof.selector);
            nm.publishExitRequest(1, op, index, pubkeyHash, exitBy + 1, proof);
            vm.expectRevert(abi.encodeWithSelector(NodeManager.NoReport.selector, 1, 2));
            nm.publishExitRequest(2, op, index, pubkeyHash, exitBy, proof);
        }
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

    function test_claim_insufficientFunds() public {
        NodeManager empty = nm;
        submit(loadReport(json, ".reports.rewards1"));
        vm.deal(address(empty), 0.1 ether);
        Leaf memory l = leaf("rewards1", 0);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.InsufficientFunds.selector, 0.1 ether, l.cumulative));
        claim(l);
    }
}
