// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Fixtures} from "./utils/Fixtures.sol";
import {NodeManager} from "../src/NodeManager.sol";
import {OperatorRegistry} from "../src/OperatorRegistry.sol";
import {MockCsETH} from "../src/MockCsETH.sol";

/// NodeManager with a back door for roots, so claims can be fuzzed over amounts that no
/// committee signed. Only for tests: signatures are tested elsewhere.
contract NodeManagerHarness is NodeManager {
    constructor(OperatorRegistry r, bytes[] memory pks, bytes[] memory cs, bytes[] memory pops, uint256 t)
        NodeManager(r, pks, cs, pops, t)
    {}

    function acceptRoot(uint8 kind, bytes32 root) external {
        uint64 number = _lastNumber[kind] + 1;
        _lastNumber[kind] = number;
        _roots[kind][number] = root;
    }
}

contract ClaimsFuzzTest is Fixtures {
    address constant OPERATOR = address(0x0Be7A70E);
    address constant OTHER = address(0x07E4);
    NodeManagerHarness harness;

    function setUp() public {
        Committee memory c = loadCommittee(vm.readFile(REPORTS), "");
        token = new MockCsETH();
        registry = new OperatorRegistry(OWNER, token, TREASURY, registryConfig());
        harness = new NodeManagerHarness(registry, c.pubkeys, c.compressed, c.pops, c.threshold);
        vm.prank(OWNER);
        registry.setNodeManager(address(harness));
        vm.prank(OPERATOR);
        registry.registerOperator("fuzzed", "");
        vm.deal(address(harness), type(uint128).max);
    }

    function _leaf(address op, uint256 cumulative, uint256 penalty, uint256 requirement)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(op, cumulative, penalty, requirement))));
    }

    /// A two-leaf StandardMerkleTree: the root hashes the sorted pair; each leaf's proof is the other.
    function _publish(uint256 cumulative, uint256 penalty, uint256 requirement)
        internal
        returns (bytes32[] memory proof)
    {
        bytes32 a = _leaf(OPERATOR, cumulative, penalty, requirement);
        bytes32 b = _leaf(OTHER, 1, 0, 0);
        harness.acceptRoot(0, a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a)));
        proof = new bytes32[](1);
        proof[0] = b;
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    /// Two reports with growing cumulative amounts, each claimed twice by anyone: the operator
    /// gets exactly the cumulative amount, the bond loses exactly min(cumulative penalty, bond),
    /// the requirement follows the latest leaf.
    function testFuzz_claims_cumulative(
        uint96 rewards1,
        uint96 rewardsAdded,
        uint96 penalty1,
        uint96 penaltyAdded,
        uint96 requirement1,
        uint96 requirement2,
        uint96 bond,
        address caller
    ) public {
        vm.assume(caller != address(vm));
        if (bond > 0) {
            token.mint(OPERATOR, bond);
            vm.startPrank(OPERATOR);
            token.approve(address(registry), bond);
            registry.depositBond(bond);
            vm.stopPrank();
        }
        uint256 start = OPERATOR.balance;

        bytes32[] memory proof = _publish(rewards1, penalty1, requirement1);
        vm.prank(caller);
        assertEq(harness.claim(OPERATOR, rewards1, penalty1, requirement1, proof), rewards1, "first claim");
        vm.prank(caller);
        assertEq(harness.claim(OPERATOR, rewards1, penalty1, requirement1, proof), 0, "repeat pays nothing");
        assertEq(OPERATOR.balance - start, rewards1, "paid report 1");
        assertEq(token.balanceOf(TREASURY), _min(penalty1, bond), "slashed once for report 1");
        assertEq(registry.bondRequirementOf(OPERATOR), requirement1, "requirement 1");

        uint256 rewards2 = uint256(rewards1) + rewardsAdded;
        uint256 penalty2 = uint256(penalty1) + penaltyAdded;
        proof = _publish(rewards2, penalty2, requirement2);
        vm.prank(caller);
        assertEq(harness.claim(OPERATOR, rewards2, penalty2, requirement2, proof), rewardsAdded, "second claim");
        vm.prank(caller);
        assertEq(harness.claim(OPERATOR, rewards2, penalty2, requirement2, proof), 0, "repeat pays nothing");

        assertEq(OPERATOR.balance - start, rewards2, "paid the cumulative");
        assertEq(harness.claimedRewards(OPERATOR), rewards2, "claimed");
        assertEq(harness.appliedBondPenalty(OPERATOR), penalty2, "applied");
        assertEq(token.balanceOf(TREASURY), _min(penalty2, bond), "slashed exactly the cumulative penalty");
        assertEq(registry.bondOf(OPERATOR), uint256(bond) - _min(penalty2, bond), "bond left");
        assertEq(registry.bondRequirementOf(OPERATOR), requirement2, "requirement 2");
    }

    /// Any change to a leaf's values or proof fails the claim.
    function testFuzz_claims_wrongLeafRejected(
        uint96 cumulative,
        uint96 penalty,
        uint96 requirement,
        uint8 which,
        uint96 delta
    ) public {
        vm.assume(delta != 0);
        bytes32[] memory proof = _publish(cumulative, penalty, requirement);
        uint256 c = cumulative;
        uint256 p = penalty;
        uint256 r = requirement;
        address op = OPERATOR;
        which %= 5;
        if (which == 0) c += delta;
        else if (which == 1) p += delta;
        else if (which == 2) r += delta;
        else if (which == 3) op = address(uint160(op) ^ uint160(delta));
        else proof[0] = bytes32(uint256(proof[0]) ^ delta);
        vm.expectRevert(NodeManager.InvalidProof.selector);
        harness.claim(op, c, p, r, proof);
    }
}
