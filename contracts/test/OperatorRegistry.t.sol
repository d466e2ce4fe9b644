// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Fixtures} from "./utils/Fixtures.sol";
import {OperatorRegistry} from "../src/OperatorRegistry.sol";
import {MockCsETH} from "../src/MockCsETH.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// Plays the NodeManager for the registry: the views the registry reads, set by the test.
contract ManagerStub {
    address public registry;
    uint64 internal _last;
    mapping(address => uint64) public settledReport;
    mapping(address => uint256) public bondDebtOf;

    constructor(address registry_) {
        registry = registry_;
    }

    function lastReportNumber(uint8) external view returns (uint64) {
        return _last;
    }

    function setReport(uint64 number) external {
        _last = number;
    }

    function setSettled(address operator, uint64 number, uint256 debt) external {
        settledReport[operator] = number;
        bondDebtOf[operator] = debt;
    }
}

/// The registry on its own; a stub plays the NodeManager.
contract OperatorRegistryTest is Fixtures {
    ManagerStub stub;
    address MANAGER;
    address constant ALICE = address(0xA11CE);
    address constant BOB = address(0xB0B);
    uint256 constant ETH = 1 ether;

    function setUp() public {
        token = new MockCsETH();
        registry = new OperatorRegistry(OWNER, token, TREASURY, registryConfig());
        stub = new ManagerStub(address(registry));
        MANAGER = address(stub);
        vm.prank(OWNER);
        registry.setNodeManager(MANAGER);
        vm.warp(BEACON_GENESIS + 1000 * SECONDS_PER_EPOCH + 5);
    }

    function _operator(address who, string memory name) internal returns (uint256 id) {
        vm.prank(who);
        id = registry.registerOperator(name, "eu-west");
    }

    /// Adds a node, bonding its increment first when `who` is an operator.
    function _node(address who, OperatorRegistry.NodeType t) internal returns (uint256 id) {
        uint256 operatorId = registry.operatorIdOf(who);
        if (operatorId != 0) _fundBond(who, registry.nodeBondIncrement(operatorId, t));
        vm.prank(who);
        id = registry.addNode(t, "");
    }

    function _pubkey(uint256 i) internal pure returns (bytes memory) {
        return bytes.concat(keccak256(abi.encode("validator", i)), bytes16(0));
    }

    function _fundBond(address who, uint256 amount) internal {
        token.mint(who, amount);
        vm.startPrank(who);
        token.approve(address(registry), amount);
        registry.depositBond(amount);
        vm.stopPrank();
    }

    // ---- operators and nodes ------------------------------------------------------------------

    function test_registerOperator() public {
        vm.expectEmit(address(registry));
        emit OperatorRegistry.OperatorRegistered(1, ALICE, "Alice", "eu-west");
        assertEq(_operator(ALICE, "Alice"), 1, "first id");
        assertEq(_operator(BOB, "Bob"), 2, "second id");
        assertEq(registry.operatorCount(), 2, "count");
        assertEq(registry.operatorIdOf(BOB), 2, "id of");
        OperatorRegistry.Operator memory o = registry.getOperator(1);
        assertEq(o.account, ALICE, "account");
        assertEq(o.registeredEpoch, 1000, "registered epoch");

        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.AlreadyRegistered.selector, ALICE, 1));
        _operator(ALICE, "Again");
        vm.expectRevert(OperatorRegistry.EmptyName.selector);
        _operator(address(0xCAFE), "");
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.UnknownOperator.selector, 3));
        registry.getOperator(3);
    }

    function test_addNode() public {
        _operator(ALICE, "Alice");
        _fundBond(ALICE, ETH);
        vm.expectEmit(address(registry));
        emit OperatorRegistry.NodeAdded(1, 1, OperatorRegistry.NodeType.SSV, 1000, "");
        _nodeUnfunded(ALICE, OperatorRegistry.NodeType.SSV);
        _node(ALICE, OperatorRegistry.NodeType.Direct);
        assertEq(registry.nodeCount(), 2, "nodes");
        uint256[] memory ids = registry.nodesOf(1);
        assertEq(ids.length, 2, "nodes of alice");
        assertEq(ids[1], 2, "second node");
        assertTrue(registry.getNode(2).nodeType == OperatorRegistry.NodeType.Direct, "type");

        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.NotOperator.selector, BOB));
        _nodeUnfunded(BOB, OperatorRegistry.NodeType.Obol);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.UnknownNode.selector, 9));
        registry.getNode(9);
    }

    function test_setNodeLocation() public {
        _operator(ALICE, "Alice");
        _operator(BOB, "Bob");
        uint256 a = _node(ALICE, OperatorRegistry.NodeType.Direct);
        uint256 b = _node(BOB, OperatorRegistry.NodeType.Direct);
        assertEq(bytes(registry.nodeLocation(a)), bytes(""), "unset location reads empty");

        vm.expectEmit(address(registry));
        emit OperatorRegistry.NodeLocationSet(a, 1, "eu-west");
        vm.prank(ALICE);
        registry.setNodeLocation(a, "eu-west");
        assertEq(bytes(registry.nodeLocation(a)), bytes("eu-west"), "set");
        assertEq(bytes(registry.nodeLocation(b)), bytes(""), "other node untouched");

        // Overwrite, then clear.
        vm.prank(ALICE);
        registry.setNodeLocation(a, "us-east-2");
        assertEq(bytes(registry.nodeLocation(a)), bytes("us-east-2"), "overwritten");
        vm.prank(ALICE);
        registry.setNodeLocation(a, "");
        assertEq(bytes(registry.nodeLocation(a)), bytes(""), "cleared");

        // Exactly the maximum length is accepted; one more byte is not.
        string memory max = "abcdefghijklmnopqrstuvwxyz-01234";
        assertEq(bytes(max).length, registry.MAX_LOCATION_LENGTH(), "max fixture");
        vm.prank(ALICE);
        registry.setNodeLocation(a, max);
        assertEq(bytes(registry.nodeLocation(a)), bytes(max), "max length");
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.LocationTooLong.selector, 33, 32));
        vm.prank(ALICE);
        registry.setNodeLocation(a, string.concat(max, "5"));
        assertEq(bytes(registry.nodeLocation(a)), bytes(max), "unchanged after a revert");
    }

    function test_setNodeLocation_rejects() public {
        _operator(ALICE, "Alice");
        _operator(BOB, "Bob");
        uint256 a = _node(ALICE, OperatorRegistry.NodeType.Direct);

        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.NotNodeOperator.selector, BOB, a));
        vm.prank(BOB);
        registry.setNodeLocation(a, "eu-west");
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.NotOperator.selector, address(0xCAFE)));
        vm.prank(address(0xCAFE));
        registry.setNodeLocation(a, "eu-west");
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.NotOperator.selector, OWNER));
        vm.prank(OWNER);
        registry.setNodeLocation(a, "eu-west");
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.UnknownNode.selector, 7));
        vm.prank(ALICE);
        registry.setNodeLocation(7, "eu-west");
        // Upper case, spaces and other bytes would split one place into several groups.
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.InvalidLocationByte.selector, 0));
        vm.prank(ALICE);
        registry.setNodeLocation(a, "EU-west");
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.InvalidLocationByte.selector, 2));
        vm.prank(ALICE);
        registry.setNodeLocation(a, "eu west");
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.InvalidLocationByte.selector, 2));
        vm.prank(ALICE);
        registry.setNodeLocation(a, "eu_west");
        assertEq(bytes(registry.nodeLocation(a)), bytes(""), "nothing set");
    }

    // ---- validators -----------------------------------------------------------------------------

    function _ssvCluster() internal returns (uint256[] memory ids) {
        _operator(ALICE, "Alice");
        _operator(BOB, "Bob");
        ids = new uint256[](5);
        for (uint256 i = 0; i < 5; i++) {
            ids[i] = _node(i % 2 == 0 ? ALICE : BOB, OperatorRegistry.NodeType.SSV);
        }
    }

    function test_addValidator_clusters() public {
        uint256[] memory ssv = _ssvCluster();
        vm.prank(OWNER);
        assertEq(registry.addValidator(_pubkey(0), ssv), 1, "ssv validator");
        assertEq(registry.validatorsOf(ssv[3]).length, 1, "on every node of the cluster");
        assertEq(registry.validatorIdOf(keccak256(_pubkey(0))), 1, "by pubkey hash");

        uint256[] memory obol = new uint256[](4);
        for (uint256 i = 0; i < 4; i++) {
            obol[i] = _node(ALICE, OperatorRegistry.NodeType.Obol);
        }
        vm.prank(OWNER);
        registry.addValidator(_pubkey(1), obol);

        uint256[] memory direct = new uint256[](1);
        direct[0] = _node(BOB, OperatorRegistry.NodeType.Direct);
        vm.prank(OWNER);
        registry.addValidator(_pubkey(2), direct);

        assertEq(registry.validatorCount(), 3, "validators");
        OperatorRegistry.Validator memory v = registry.getValidator(2);
        assertEq(v.pubkey, _pubkey(1), "pubkey");
        assertEq(v.nodeIds.length, 4, "obol cluster");
        assertTrue(v.status == OperatorRegistry.ValidatorStatus.Active, "active");
    }

    function test_addValidator_rejects() public {
        uint256[] memory ssv = _ssvCluster();
        vm.startPrank(OWNER);
        registry.addValidator(_pubkey(0), ssv);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.ValidatorExists.selector, keccak256(_pubkey(0)), 1));
        registry.addValidator(_pubkey(0), ssv);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.InvalidPubkeyLength.selector, 47));
        registry.addValidator(new bytes(47), ssv);

        uint256[] memory four = new uint256[](4);
        for (uint256 i = 0; i < 4; i++) {
            four[i] = ssv[i];
        }
        vm.expectRevert(
            abi.encodeWithSelector(OperatorRegistry.WrongClusterSize.selector, OperatorRegistry.NodeType.SSV, 5, 4)
        );
        registry.addValidator(_pubkey(1), four);

        uint256[] memory unsorted = new uint256[](5);
        (unsorted[0], unsorted[1], unsorted[2], unsorted[3], unsorted[4]) = (ssv[0], ssv[2], ssv[1], ssv[3], ssv[4]);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.ClusterNotCanonical.selector, 2));
        registry.addValidator(_pubkey(1), unsorted);
        vm.stopPrank();

        uint256 direct = _node(ALICE, OperatorRegistry.NodeType.Direct);
        uint256[] memory mixed = new uint256[](5);
        (mixed[0], mixed[1], mixed[2], mixed[3], mixed[4]) = (ssv[0], ssv[1], ssv[2], ssv[3], direct);
        vm.expectRevert(
            abi.encodeWithSelector(
                OperatorRegistry.MixedNodeTypes.selector,
                direct,
                OperatorRegistry.NodeType.SSV,
                OperatorRegistry.NodeType.Direct
            )
        );
        vm.prank(OWNER);
        registry.addValidator(_pubkey(1), mixed);

        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, ALICE));
        vm.prank(ALICE);
        registry.addValidator(_pubkey(1), ssv);
    }

    // ---- bonds ----------------------------------------------------------------------------------

    /// Alice asks for `amount`, one report is accepted and her leaf of it claimed.
    function _requestAndReport(uint256 amount) internal {
        vm.prank(ALICE);
        registry.requestBondWithdrawal(amount);
        uint64 next = stub.lastReportNumber(0) + 1;
        stub.setReport(next);
        stub.setSettled(ALICE, next, stub.bondDebtOf(ALICE));
    }

    function _withdrawAfterReport(uint256 amount) internal {
        _requestAndReport(amount);
        vm.prank(ALICE);
        registry.withdrawBond();
    }

    function test_bond_depositAndWithdrawAboveRequirement() public {
        _operator(ALICE, "Alice");
        _fundBond(ALICE, 3 * ETH);
        assertEq(registry.bondOf(ALICE), 3 * ETH, "bond");
        assertEq(token.balanceOf(address(registry)), 3 * ETH, "held by the registry");

        vm.prank(MANAGER);
        registry.setBondRequirement(ALICE, 2 * ETH, 1);
        assertEq(registry.withdrawableBond(ALICE), ETH, "withdrawable");

        _requestAndReport(ETH / 2);
        vm.expectEmit(address(registry));
        emit OperatorRegistry.BondWithdrawn(ALICE, ETH / 2, 5 * ETH / 2);
        vm.prank(ALICE);
        registry.withdrawBond();
        _withdrawAfterReport(ETH / 2); // down to exactly the requirement
        assertEq(token.balanceOf(ALICE), ETH, "paid out");
        assertEq(registry.bondOf(ALICE), 2 * ETH, "at requirement");
    }

    function test_bond_withdrawBelowRequirementRejected() public {
        _operator(ALICE, "Alice");
        _fundBond(ALICE, 3 * ETH);
        vm.prank(MANAGER);
        registry.setBondRequirement(ALICE, 2 * ETH, 1);
        _requestAndReport(ETH + 1);
        vm.expectRevert(
            abi.encodeWithSelector(OperatorRegistry.BondBelowRequirement.selector, 3 * ETH, ETH + 1, 2 * ETH)
        );
        vm.prank(ALICE);
        registry.withdrawBond();
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.BondBelowRequirement.selector, 3 * ETH, 4 * ETH, 0));
        vm.prank(ALICE);
        registry.requestBondWithdrawal(4 * ETH);
        vm.prank(ALICE);
        registry.requestBondWithdrawal(0); // cancels the request above
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.NoWithdrawalRequest.selector, ALICE));
        vm.prank(ALICE);
        registry.withdrawBond();
        // A certified penalty the bond has not paid yet (a debt) is kept too.
        stub.setSettled(ALICE, stub.lastReportNumber(0), ETH / 2);
        _requestAndReport(ETH);
        vm.expectRevert(
            abi.encodeWithSelector(OperatorRegistry.BondBelowRequirement.selector, 3 * ETH, ETH, 5 * ETH / 2)
        );
        vm.prank(ALICE);
        registry.withdrawBond();
    }

    function test_bond_depositEthMintsCsEthAtTheRate() public {
        _operator(ALICE, "Alice");
        token.setExchangeRate(1.25 ether); // 1 csETH is worth 1.25 ETH
        vm.deal(ALICE, 5 ether);
        vm.prank(ALICE);
        assertEq(registry.depositBondWithEth{value: 5 ether}(), 4 ether, "5 ETH mint 4 csETH");
        assertEq(registry.bondOf(ALICE), 4 ether, "bond in csETH");
        assertEq(registry.bondValueOf(ALICE), 5 ether, "worth 5 ETH");
        assertEq(address(token).balance, 5 ether, "the ETH went to csETH");
        // A 4 ETH direct node fits; a second one (4 ETH more) does not.
        _nodeUnfunded(ALICE, OperatorRegistry.NodeType.Direct);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.BondBelowRequirement.selector, 5 ether, 0, 8 ether));
        _nodeUnfunded(ALICE, OperatorRegistry.NodeType.Direct);
        // A 1.25 ETH penalty takes 1 csETH.
        vm.prank(MANAGER);
        assertEq(registry.slashBond(ALICE, 1.25 ether), 1.25 ether, "slashed value");
        assertEq(token.balanceOf(TREASURY), 1 ether, "1 csETH to the treasury");
    }

    function _nodeUnfunded(address who, OperatorRegistry.NodeType t) internal returns (uint256 id) {
        vm.prank(who);
        id = registry.addNode(t, "");
    }

    function test_bond_depositNeedsOperatorAndApproval() public {
        token.mint(BOB, ETH);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.NotOperator.selector, BOB));
        vm.prank(BOB);
        registry.depositBond(ETH);
        _operator(BOB, "Bob");
        vm.expectRevert(); // ERC20InsufficientAllowance
        vm.prank(BOB);
        registry.depositBond(ETH);
    }

    function test_bond_slashTakesAtMostTheBond() public {
        _operator(ALICE, "Alice");
        _fundBond(ALICE, ETH);
        vm.expectEmit(address(registry));
        emit OperatorRegistry.BondSlashed(ALICE, ETH / 4, ETH / 4, ETH / 4, 3 * ETH / 4);
        vm.prank(MANAGER);
        assertEq(registry.slashBond(ALICE, ETH / 4), ETH / 4, "slashed");
        vm.prank(MANAGER);
        assertEq(registry.slashBond(ALICE, 5 * ETH), 3 * ETH / 4, "only what is left");
        assertEq(registry.bondOf(ALICE), 0, "empty");
        assertEq(token.balanceOf(TREASURY), ETH, "to the treasury");
    }

    function test_onlyNodeManager() public {
        bytes memory err = abi.encodeWithSelector(OperatorRegistry.NotNodeManager.selector, ALICE);
        vm.startPrank(ALICE);
        vm.expectRevert(err);
        registry.setBondRequirement(ALICE, 0, 1);
        vm.expectRevert(err);
        registry.slashBond(BOB, 1);
        vm.expectRevert(err);
        registry.markExit(1, ALICE, 0, 1, 1);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, ALICE));
        vm.prank(ALICE);
        registry.setNodeManager(ALICE);
    }

    // ---- exits ----------------------------------------------------------------------------------

    /// Two validators of the SSV cluster (Alice runs nodes 1, 3, 5; Bob 2 and 4), with beacon
    /// indices 77 and 78.
    function _twoValidators() internal {
        uint256[] memory ssv = _ssvCluster();
        vm.startPrank(OWNER);
        registry.addValidator(_pubkey(0), ssv);
        registry.addValidator(_pubkey(1), ssv);
        uint256[] memory ids = new uint256[](2);
        uint64[] memory indices = new uint64[](2);
        (ids[0], ids[1], indices[0], indices[1]) = (1, 2, 77, 78);
        registry.setBeaconIndices(ids, indices);
        vm.stopPrank();
    }

    function _status(uint256 id) internal view returns (OperatorRegistry.ValidatorStatus) {
        return registry.getValidator(id).status;
    }

    function _wrongStatus(uint256 id, OperatorRegistry.ValidatorStatus s) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(OperatorRegistry.WrongValidatorStatus.selector, id, s);
    }

    function test_setBeaconIndices() public {
        uint256[] memory ssv = _ssvCluster();
        vm.startPrank(OWNER);
        registry.addValidator(_pubkey(0), ssv);
        registry.addValidator(_pubkey(1), ssv);
        uint256[] memory ids = new uint256[](1);
        uint64[] memory indices = new uint64[](1);
        (bool known,) = registry.beaconIndexOf(1);
        assertTrue(!known, "none before");

        (ids[0], indices[0]) = (1, 0); // index 0 is a valid beacon index
        vm.expectEmit(address(registry));
        emit OperatorRegistry.BeaconIndexSet(1, 0);
        registry.setBeaconIndices(ids, indices);
        (bool k, uint64 index) = registry.beaconIndexOf(1);
        assertTrue(k && index == 0, "recorded");
        assertEq(registry.validatorIdOfIndex(0), 1, "index -> id");
        registry.setBeaconIndices(ids, indices); // the same pair again changes nothing

        indices[0] = 5;
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.BeaconIndexAlreadySet.selector, 1, 0));
        registry.setBeaconIndices(ids, indices);
        (ids[0], indices[0]) = (2, 0);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.BeaconIndexTaken.selector, 0, 1));
        registry.setBeaconIndices(ids, indices);
        (ids[0], indices[0]) = (3, 9);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.UnknownValidatorId.selector, 3));
        registry.setBeaconIndices(ids, indices);
        (ids[0], indices[0]) = (2, type(uint64).max);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.BeaconIndexOutOfRange.selector, type(uint64).max));
        registry.setBeaconIndices(ids, indices);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.LengthMismatch.selector, 1, 0));
        registry.setBeaconIndices(ids, new uint64[](0));
        vm.stopPrank();

        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, ALICE));
        vm.prank(ALICE);
        registry.setBeaconIndices(ids, indices);
    }

    function test_voluntaryExit() public {
        _twoValidators();
        vm.expectEmit(address(registry));
        emit OperatorRegistry.VoluntaryExitRequested(1, keccak256(_pubkey(0)), BOB, false);
        vm.prank(BOB); // Bob runs nodes 2 and 4 of the cluster
        assertEq(registry.requestVoluntaryExit(_pubkey(0), false), 1, "validator id");
        vm.expectEmit(address(registry));
        emit OperatorRegistry.VoluntaryExitRequested(2, keccak256(_pubkey(1)), ALICE, true);
        vm.prank(ALICE);
        registry.requestVoluntaryExit(_pubkey(1), true);
        assertTrue(_status(1) == OperatorRegistry.ValidatorStatus.VoluntaryExitRequested, "asked");
        assertEq(registry.getValidator(1).exitEpoch, 0, "no slot before an exits report gives one");

        vm.expectRevert(_wrongStatus(1, OperatorRegistry.ValidatorStatus.VoluntaryExitRequested));
        vm.prank(ALICE);
        registry.requestVoluntaryExit(_pubkey(0), true);

        address carol = address(0xCA401);
        _operator(carol, "Carol");
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.NotValidatorOperator.selector, carol, 1));
        vm.prank(carol);
        registry.requestVoluntaryExit(_pubkey(0), false);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.UnknownValidator.selector, keccak256(_pubkey(9))));
        vm.prank(ALICE);
        registry.requestVoluntaryExit(_pubkey(9), false);

        // The exits report's voluntary leaf gives the request its slot, once.
        vm.expectEmit(address(registry));
        emit OperatorRegistry.ExitRequested(1, 77, BOB, 1, 1225, 3);
        vm.prank(MANAGER);
        registry.markExit(77, BOB, 1, 1225, 3);
        OperatorRegistry.Validator memory v = registry.getValidator(1);
        assertTrue(v.status == OperatorRegistry.ValidatorStatus.VoluntaryExitRequested, "still voluntary");
        assertEq(v.exitEpoch, 1225, "its slot");
        vm.expectRevert(_wrongStatus(1, OperatorRegistry.ValidatorStatus.VoluntaryExitRequested));
        vm.prank(MANAGER);
        registry.markExit(77, BOB, 1, 1300, 4);
    }

    function test_requestedExit() public {
        _twoValidators();
        vm.prank(ALICE);
        registry.requestVoluntaryExit(_pubkey(0), false);

        // A requested exit supersedes an open voluntary one.
        vm.expectEmit(address(registry));
        emit OperatorRegistry.ExitRequested(1, 77, ALICE, 0, 1100, 3);
        vm.prank(MANAGER);
        registry.markExit(77, ALICE, 0, 1100, 3);
        OperatorRegistry.Validator memory v = registry.getValidator(1);
        assertTrue(v.status == OperatorRegistry.ValidatorStatus.ExitRequested, "requested");
        assertEq(v.exitEpoch, 1100, "exit by");

        vm.startPrank(MANAGER);
        vm.expectRevert(_wrongStatus(1, OperatorRegistry.ValidatorStatus.ExitRequested));
        registry.markExit(77, ALICE, 0, 1100, 4);
        // A voluntary slot needs an open request.
        vm.expectRevert(_wrongStatus(2, OperatorRegistry.ValidatorStatus.Active));
        registry.markExit(78, ALICE, 1, 1100, 4);

        address carol = address(0xCA401);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.NotValidatorOperator.selector, carol, 2));
        registry.markExit(78, carol, 0, 1100, 4);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.UnknownValidatorIndex.selector, 79));
        registry.markExit(79, ALICE, 0, 1100, 4);
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.UnknownExitKind.selector, 2));
        registry.markExit(78, ALICE, 2, 1100, 4);
        // The deadline must be ahead: epoch 1000 now.
        vm.expectRevert(abi.encodeWithSelector(OperatorRegistry.ExitDeadlinePassed.selector, 78, 1000, 1000));
        registry.markExit(78, ALICE, 0, 1000, 4);
        registry.markExit(78, ALICE, 0, 1001, 4);
        vm.stopPrank();
        assertTrue(_status(2) == OperatorRegistry.ValidatorStatus.ExitRequested, "one epoch ahead is enough");
    }

    function test_currentEpoch() public {
        assertEq(registry.currentEpoch(), 1000, "from genesis time");
        vm.warp(BEACON_GENESIS - 1);
        assertEq(registry.currentEpoch(), 0, "before genesis");
        assertEq(registry.clusterSize(OperatorRegistry.NodeType.SSV), 5, "ssv");
        assertEq(registry.clusterSize(OperatorRegistry.NodeType.Obol), 4, "obol");
        assertEq(registry.clusterSize(OperatorRegistry.NodeType.Direct), 1, "direct");
    }

    /// Whatever the deposits, requirement and withdrawal, the bond never goes below the
    /// requirement through a withdrawal, and the registry holds exactly the sum of bonds.
    function testFuzz_bond_neverBelowRequirement(uint96 deposit, uint96 requirement, uint96 amount) public {
        vm.assume(deposit > 0 && amount > 0 && amount <= deposit);
        _operator(ALICE, "Alice");
        _fundBond(ALICE, deposit);
        vm.prank(MANAGER);
        registry.setBondRequirement(ALICE, requirement, 1);
        bool allowed = deposit - amount >= requirement;
        vm.prank(ALICE);
        registry.requestBondWithdrawal(amount);
        stub.setReport(1);
        stub.setSettled(ALICE, 1, 0);
        if (!allowed) {
            vm.expectRevert(
                abi.encodeWithSelector(OperatorRegistry.BondBelowRequirement.selector, deposit, amount, requirement)
            );
        }
        vm.prank(ALICE);
        registry.withdrawBond();
        assertTrue(registry.bondOf(ALICE) >= requirement || !allowed, "bond covers the requirement");
        assertEq(token.balanceOf(address(registry)), registry.bondOf(ALICE), "held == bonds");
    }
}
