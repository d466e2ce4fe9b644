// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Fixtures} from "./utils/Fixtures.sol";
import {NodeManager} from "../src/NodeManager.sol";
import {OperatorRegistry} from "../src/OperatorRegistry.sol";
import {MockCsETH} from "../src/MockCsETH.sol";

/// NodeManager with a back door for roots, so claims can be fuzzed over amounts that no
/// committee signed. Only for tests: signatures are tested elsewhere.
contract NodeManagerHarness is NodeManager {
    constructor(OperatorRegistry r, uint256 n, uint256 t) NodeManager(r, n, t) {}

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
        harness = new NodeManagerHarness(registry, c.pubkeys.length, c.threshold);
        harness.registerMembers(c.pubkeys, c.compressed, c.pops);
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

    // The model of one operator's accounts the fuzz test checks the contracts against.
    uint256 modelBond;
    uint256 modelAccounted;
    uint256 modelSettled;
    uint256 modelSlashed;
    uint256 modelCredited;

    /// A claim in the model: the penalty not yet settled comes from the bond first, then from
    /// the rewards not yet accounted; the rest stays a debt.
    function _modelClaim(uint256 cumulative, uint256 penalty) internal returns (uint256 credited) {
        uint256 rewards = cumulative > modelAccounted ? cumulative - modelAccounted : 0;
        uint256 due = penalty > modelSettled ? penalty - modelSettled : 0;
        uint256 slashed = _min(due, modelBond);
        uint256 netted = _min(due - slashed, rewards);
        modelBond -= slashed;
        modelSlashed += slashed;
        modelSettled += slashed + netted;
        if (cumulative > modelAccounted) modelAccounted = cumulative;
        credited = rewards - netted;
        modelCredited += credited;
    }

    function _claimTwice(uint256 cumulative, uint256 penalty, uint256 requirement, address caller) internal {
        bytes32[] memory proof = _publish(cumulative, penalty, requirement);
        uint256 expected = _modelClaim(cumulative, penalty);
        vm.prank(caller);
        assertEq(harness.claim(OPERATOR, cumulative, penalty, requirement, proof), expected, "credited");
        vm.prank(caller);
        assertEq(harness.claim(OPERATOR, cumulative, penalty, requirement, proof), 0, "repeat credits nothing");
        assertEq(harness.claimedRewards(OPERATOR), modelAccounted, "accounted");
        assertEq(harness.appliedBondPenalty(OPERATOR), modelSettled, "settled");
        assertEq(harness.bondDebtOf(OPERATOR), penalty - modelSettled, "the rest is a debt, not forgiven");
        assertEq(token.balanceOf(TREASURY), modelSlashed, "slashed exactly what the bond could pay");
        assertEq(registry.bondOf(OPERATOR), modelBond, "bond left");
        assertEq(harness.balanceOf(OPERATOR), modelCredited, "credited so far");
        assertEq(registry.bondRequirementOf(OPERATOR), requirement, "requirement follows the leaf");
    }

    /// Two reports with growing cumulative amounts, each claimed twice by anyone, then the
    /// operator withdraws: every step matches the model (penalty from the bond first, the rest
    /// netted against rewards not yet accounted, what remains a debt), and the operator is paid
    /// exactly what was credited.
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
        modelBond = bond;
        uint256 start = OPERATOR.balance;

        _claimTwice(rewards1, penalty1, requirement1, caller);
        assertEq(OPERATOR.balance, start, "a claim moves no ETH");
        _claimTwice(uint256(rewards1) + rewardsAdded, uint256(penalty1) + penaltyAdded, requirement2, caller);

        uint256 credit = harness.balanceOf(OPERATOR);
        if (credit > 0) {
            vm.prank(OPERATOR);
            harness.withdraw(payable(OPERATOR), credit);
        }
        assertEq(OPERATOR.balance - start, modelCredited, "paid what was credited");
        assertEq(harness.balanceOf(OPERATOR), 0, "nothing left to withdraw");
        assertEq(harness.totalCredited(), 0, "nothing owed");
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
