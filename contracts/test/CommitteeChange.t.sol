// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Fixtures} from "./utils/Fixtures.sol";
import {Vm} from "./utils/Test.sol";
import {TestSigner} from "./utils/BLSHarness.sol";
import {NodeManager} from "../src/NodeManager.sol";
import {OperatorRegistry} from "../src/OperatorRegistry.sol";
import {MockCsETH} from "../src/MockCsETH.sol";
import {BLS} from "../src/BLS.sol";

/// Committee changes: governance replaces a member and/or sets a new threshold from a report
/// number on. A 4-member committee of test keys (secret keys 1..4, threshold 3) signs with the
/// EIP-2537 MSM precompiles (TestSigner); key 5 is the new member.
contract CommitteeChangeTest is Fixtures {
    uint8 constant R = 0; // rewards
    uint8 constant E = 1; // exits
    uint256 constant NEW_SK = 5;
    address constant STRANGER = address(0xBAD);
    uint256 constant NONE = type(uint256).max; // NodeManager.NO_MEMBER
    string constant PEER = "12D3KooWNewMember";

    /// Secret key of each member index, as the current test sees it.
    uint256[4] sks = [uint256(1), 2, 3, 4];

    function setUp() public {
        token = new MockCsETH();
        registry = new OperatorRegistry(OWNER, token, TREASURY, registryConfig());
        nm = new NodeManager(registry, 4, 3);
        bytes[] memory pks = new bytes[](4);
        bytes[] memory compressed = new bytes[](4);
        bytes[] memory pops = new bytes[](4);
        for (uint256 i = 0; i < 4; i++) {
            pks[i] = TestSigner.publicKey(sks[i]);
            compressed[i] = TestSigner.compress(pks[i]);
            pops[i] = TestSigner.proveKey(sks[i]);
        }
        nm.registerMembers(pks, compressed, pops);
    }

    /// Signs report (kind, number) with the given secret keys (in member order) and submits it
    /// with `bitmap`; returns the revert data (empty: accepted).
    function _submit(uint8 kind, uint64 number, uint256 bitmap, uint256[] memory signerKeys)
        internal
        returns (bytes memory)
    {
        bytes32 root = keccak256(abi.encode("root", kind, number));
        bytes32 reportHash = keccak256(abi.encode("hash", kind, number));
        bytes memory message = abi.encodePacked(nm.signingRoot(kind, number, root, reportHash));
        bytes memory agg;
        for (uint256 i = 0; i < signerKeys.length; i++) {
            bytes memory sig = TestSigner.sign(signerKeys[i], message);
            agg = agg.length == 0 ? sig : TestSigner.g2Add(agg, sig);
        }
        try nm.submitReport(kind, number, root, reportHash, bitmap, agg) {
            assertEq(nm.reportRoot(kind, number), root, "accepted root");
            return "";
        } catch (bytes memory reason) {
            return reason;
        }
    }

    function _keys(uint256 a, uint256 b, uint256 c) internal pure returns (uint256[] memory k) {
        k = new uint256[](3);
        (k[0], k[1], k[2]) = (a, b, c);
    }

    function _keys(uint256 a, uint256 b, uint256 c, uint256 d) internal pure returns (uint256[] memory k) {
        k = new uint256[](4);
        (k[0], k[1], k[2], k[3]) = (a, b, c, d);
    }

    /// Replaces member 1 (key 2) by key 5 and sets the threshold to 4, from rewards report
    /// `fromRewards` and exits round `fromExits` on.
    function _replaceMember1(uint64 fromRewards, uint64 fromExits) internal {
        bytes memory pk = TestSigner.publicKey(NEW_SK);
        nm.scheduleCommitteeChange(
            fromRewards,
            fromExits,
            4,
            NodeManager.NewMember(1, pk, TestSigner.compress(pk), TestSigner.proveKey(NEW_SK), PEER)
        );
    }

    function _notEnough(uint256 signers, uint256 threshold) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(NodeManager.NotEnoughSigners.selector, signers, threshold);
    }

    bytes INVALID = abi.encodeWithSelector(NodeManager.InvalidSignature.selector);

    function test_changeTakesEffectExactlyAtN() public {
        _replaceMember1(3, 5);
        // Reports 1 and 2 (before N = 3): the old committee, member 1 with key 2, threshold 3.
        assertEq(_submit(R, 1, 0x7, _keys(1, 2, 3)), "", "report 1: old committee");
        // The new member's signature does not count before N.
        assertEq(_submit(R, 2, 0xF, _keys(1, NEW_SK, 3, 4)), INVALID, "report 2: new key refused before N");
        assertEq(_submit(R, 2, 0x7, _keys(1, 2, 3)), "", "report 2: removed member still counts before N");
        // Report 3 (= N): the removed member's signature is refused, the new member's counts,
        // and three signers are no longer enough.
        assertEq(_submit(R, 3, 0xF, _keys(1, 2, 3, 4)), INVALID, "report 3: removed member's key refused");
        assertEq(_submit(R, 3, 0xD, _keys(1, 3, 4)), _notEnough(3, 4), "report 3: new threshold 4");
        assertEq(_submit(R, 3, 0xF, _keys(1, NEW_SK, 3, 4)), "", "report 3: new committee accepted");
        assertEq(_submit(R, 4, 0xF, _keys(1, NEW_SK, 3, 4)), "", "report 4: new committee accepted");
    }

    function test_exitsRoundsFollowTheirOwnFrom() public {
        _replaceMember1(3, 5);
        assertEq(_submit(E, 4, 0x7, _keys(1, 2, 3)), "", "exits round 4: old committee");
        assertEq(_submit(E, 5, 0x7, _keys(1, 2, 3)), _notEnough(3, 4), "exits round 5: new threshold");
        assertEq(_submit(E, 5, 0xF, _keys(1, 2, 3, 4)), INVALID, "exits round 5: removed key refused");
        assertEq(_submit(E, 5, 0xF, _keys(1, NEW_SK, 3, 4)), "", "exits round 5: new committee");
        // Rewards report 1 is still before its N.
        assertEq(_submit(R, 1, 0x7, _keys(1, 2, 3)), "", "rewards 1: old committee");
    }

    function test_thresholdOnlyChange() public {
        nm.scheduleCommitteeChange(2, 2, 4, _none());
        assertEq(_submit(R, 1, 0x7, _keys(1, 2, 3)), "", "report 1: three of four");
        assertEq(_submit(R, 2, 0x7, _keys(1, 2, 3)), _notEnough(3, 4), "report 2: four needed");
        assertEq(_submit(R, 2, 0xF, _keys(1, 2, 3, 4)), "", "report 2: four of four");
        assertEq(nm.threshold(), 4, "latest threshold");
    }

    /// A report before the latest version's `from` is verified by an earlier version, found by
    /// walking back (the common case, a report at or past the latest `from`, reads one slot).
    function test_reportBeforeTheLatestVersionUsesAnEarlierOne() public {
        _replaceMember1(2, 2); // version 1: key 5 at member 1, threshold 4
        // version 2: member 3 (key 4) replaced by key 6, threshold back to 3
        bytes memory pk6 = TestSigner.publicKey(6);
        nm.scheduleCommitteeChange(
            4, 4, 3, NodeManager.NewMember(3, pk6, TestSigner.compress(pk6), TestSigner.proveKey(6), PEER)
        );
        assertEq(nm.committeeVersions(), 3, "versions");
        assertEq(_submit(R, 1, 0x7, _keys(1, 2, 3)), "", "report 1: version 0");
        assertEq(_submit(R, 2, 0xF, _keys(1, NEW_SK, 3, 4)), "", "report 2: version 1");
        assertEq(_submit(R, 3, 0x7, _keys(1, NEW_SK, 3)), _notEnough(3, 4), "report 3: version 1's threshold");
        assertEq(_submit(R, 3, 0xF, _keys(1, NEW_SK, 3, 4)), "", "report 3: version 1");
        assertEq(_submit(R, 4, 0xF, _keys(1, NEW_SK, 3, 4)), INVALID, "report 4: key 4 removed");
        assertEq(_submit(R, 4, 0xB, _keys(1, NEW_SK, 6)), "", "report 4: version 2, three of four");
    }

    function test_committeeForViews() public {
        _replaceMember1(3, 5);
        (uint256 v, uint256 t, bytes[] memory keys) = nm.committeeFor(R, 2);
        assertEq(v, 0, "rewards 2: version 0");
        assertEq(t, 3, "version 0 threshold");
        assertEq(keys[1], TestSigner.publicKey(2), "version 0 member 1");
        (v, t, keys) = nm.committeeFor(R, 3);
        assertEq(v, 1, "rewards 3: version 1");
        assertEq(t, 4, "version 1 threshold");
        assertEq(keys.length, 4, "size");
        assertEq(keys[0], TestSigner.publicKey(1), "member 0 kept");
        assertEq(keys[1], TestSigner.publicKey(NEW_SK), "member 1 replaced");
        assertEq(keys[3], TestSigner.publicKey(4), "member 3 kept");
        (v,,) = nm.committeeFor(E, 4);
        assertEq(v, 0, "exits 4: version 0");
        (v,,) = nm.committeeFor(E, 5);
        assertEq(v, 1, "exits 5: version 1");
        (uint64 fr, uint64 fe, uint256 th) = nm.committeeVersion(1);
        assertEq(abi.encode(fr, fe, th), abi.encode(uint64(3), uint64(5), uint256(4)), "version 1 schedule");
        assertEq(nm.memberPublicKey(1), TestSigner.publicKey(NEW_SK), "latest member key");
        bytes memory sum = _g1Add(TestSigner.publicKey(1), TestSigner.publicKey(NEW_SK));
        sum = _g1Add(_g1Add(sum, TestSigner.publicKey(3)), TestSigner.publicKey(4));
        assertEq(nm.aggregatePublicKey(), sum, "latest aggregate");
    }

    function test_changeEmitsItsEvent() public {
        bytes memory pk = TestSigner.publicKey(NEW_SK);
        bytes memory compressed = TestSigner.compress(pk);
        vm.recordLogs();
        nm.scheduleCommitteeChange(3, 5, 4, NodeManager.NewMember(1, pk, compressed, TestSigner.proveKey(NEW_SK), PEER));
        nm.scheduleCommitteeChange(4, 6, 3, _none());
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 2, "one event per change");
        for (uint256 i = 0; i < 2; i++) {
            assertEq(logs[i].emitter, address(nm), "emitter");
            assertEq(logs[i].topics[0], NodeManager.CommitteeChangeScheduled.selector, "event");
            assertEq(uint256(logs[i].topics[1]), i + 1, "version");
        }
        (uint64 fr, uint64 fe, uint256 member, bytes memory key, string memory peer, uint256 t,) =
            abi.decode(logs[0].data, (uint64, uint64, uint256, bytes, string, uint256, address));
        assertEq(
            abi.encode(fr, fe, member, key, peer, t),
            abi.encode(uint64(3), uint64(5), 1, compressed, PEER, 4),
            "change 1"
        );
        (fr, fe, member, key, peer, t,) =
            abi.decode(logs[1].data, (uint64, uint64, uint256, bytes, string, uint256, address));
        assertEq(
            abi.encode(fr, fe, member, key, peer, t), abi.encode(uint64(4), uint64(6), NONE, "", "", 3), "change 2"
        );
    }

    function test_badProofOfPossessionRefused() public {
        bytes memory pk = TestSigner.publicKey(NEW_SK);
        bytes memory compressed = TestSigner.compress(pk);
        bytes memory pop = TestSigner.proveKey(NEW_SK);
        bytes memory otherPop = TestSigner.proveKey(6);
        bytes memory otherCompressed = TestSigner.compress(TestSigner.publicKey(6));
        vm.expectRevert(abi.encodeWithSelector(NodeManager.InvalidProofOfPossession.selector, 1));
        nm.scheduleCommitteeChange(3, 3, 4, NodeManager.NewMember(1, pk, compressed, otherPop, PEER));
        vm.expectRevert(abi.encodeWithSelector(NodeManager.PublicKeyMismatch.selector, 1));
        nm.scheduleCommitteeChange(3, 3, 4, NodeManager.NewMember(1, pk, otherCompressed, pop, PEER));
        assertEq(nm.committeeVersions(), 1, "nothing scheduled");
        nm.scheduleCommitteeChange(3, 3, 4, NodeManager.NewMember(1, pk, compressed, pop, PEER));
        assertEq(nm.committeeVersions(), 2, "the right proof is accepted");
    }

    function test_memberKeyOrMemberIndexRefused() public {
        // A current member's key, and a key that was a member's before it was replaced.
        (bytes memory pk3, bytes memory c3, bytes memory pop3) = _member(3);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.DuplicatePublicKey.selector, 2, 1));
        nm.scheduleCommitteeChange(3, 3, 4, NodeManager.NewMember(1, pk3, c3, pop3, PEER));
        _replaceMember1(3, 3);
        (bytes memory pk2, bytes memory c2, bytes memory pop2) = _member(2);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.DuplicatePublicKey.selector, 1, 2));
        nm.scheduleCommitteeChange(4, 4, 4, NodeManager.NewMember(2, pk2, c2, pop2, PEER));
        (bytes memory pk7, bytes memory c7, bytes memory pop7) = _member(7);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.NoSuchMember.selector, 4, 4));
        nm.scheduleCommitteeChange(4, 4, 4, NodeManager.NewMember(4, pk7, c7, pop7, PEER));
    }

    function _member(uint256 sk) internal view returns (bytes memory pk, bytes memory compressed, bytes memory pop) {
        pk = TestSigner.publicKey(sk);
        compressed = TestSigner.compress(pk);
        pop = TestSigner.proveKey(sk);
    }

    function test_thresholdMustStayAStrictMajority() public {
        vm.expectRevert(abi.encodeWithSelector(NodeManager.ThresholdNotMajority.selector, 2, 4));
        nm.scheduleCommitteeChange(3, 3, 2, _none());
        vm.expectRevert(abi.encodeWithSelector(NodeManager.ThresholdNotMajority.selector, 5, 4));
        nm.scheduleCommitteeChange(3, 3, 5, _none());
    }

    function test_nonGovernanceCallerRefused() public {
        (bytes memory pk, bytes memory compressed, bytes memory pop) = _member(NEW_SK);
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, STRANGER));
        nm.scheduleCommitteeChange(3, 3, 4, NodeManager.NewMember(1, pk, compressed, pop, PEER));
        // Governance is handed over in two steps; the new owner may then schedule.
        nm.transferOwnership(STRANGER);
        vm.prank(STRANGER);
        nm.acceptOwnership();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        nm.scheduleCommitteeChange(3, 3, 4, _none());
        vm.prank(STRANGER);
        nm.scheduleCommitteeChange(3, 3, 4, NodeManager.NewMember(1, pk, compressed, pop, PEER));
        vm.prank(STRANGER);
        vm.expectRevert(NodeManager.RenounceDisabled.selector);
        nm.renounceOwnership();
    }

    function test_schedulingInThePastRefused() public {
        assertEq(_submit(R, 1, 0x7, _keys(1, 2, 3)), "", "report 1");
        assertEq(_submit(E, 3, 0x7, _keys(1, 2, 3)), "", "exits round 3");
        // Rewards: the next report is 2, which the committee may be signing: 3 is the earliest.
        for (uint64 from = 0; from <= 2; from++) {
            vm.expectRevert(abi.encodeWithSelector(NodeManager.ChangeTooEarly.selector, R, from, 3));
            nm.scheduleCommitteeChange(from, 5, 4, _none());
        }
        vm.expectRevert(abi.encodeWithSelector(NodeManager.ChangeTooEarly.selector, E, 4, 5));
        nm.scheduleCommitteeChange(3, 4, 4, _none());
        nm.scheduleCommitteeChange(3, 5, 4, _none());
        // A later change starts past the previous one.
        vm.expectRevert(abi.encodeWithSelector(NodeManager.ChangeTooEarly.selector, R, 3, 4));
        nm.scheduleCommitteeChange(3, 6, 3, _none());
        vm.expectRevert(abi.encodeWithSelector(NodeManager.ChangeTooEarly.selector, E, 5, 6));
        nm.scheduleCommitteeChange(4, 5, 3, _none());
    }

    function test_changeBeforeSealingRefused() public {
        NodeManager fresh = new NodeManager(registry, 4, 3);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.CommitteeNotSealed.selector, 0, 4));
        fresh.scheduleCommitteeChange(3, 3, 4, _none());
    }

    /// submitReport's gas with a committee change scheduled, in steady state (the counter slot
    /// already non-zero): before the latest version's `from` (one more version read) and at it
    /// (one slot, as without a change); and without any change, for comparison.
    function test_gas_submitReportAfterAChange() public {
        uint256[] memory old = _keys(1, 2, 3);
        uint256 snapshot = vm.snapshotState();
        _submit(R, 1, 0x7, old);
        uint256 noChange = _gasOf(R, 2, 0x7, old);
        vm.revertToState(snapshot);
        _replaceMember1(3, 3);
        _submit(R, 1, 0x7, old);
        uint256 before = _gasOf(R, 2, 0x7, old);
        uint256 atN = _gasOf(R, 3, 0xF, _keys(1, NEW_SK, 3, 4));
        log("submitReport 3 of 4 signers, no change scheduled:", noChange);
        log("submitReport 3 of 4 signers, before the latest version's from:", before);
        log("submitReport 4 of 4 signers, at the latest version's from:", atN);
    }

    function _gasOf(uint8 kind, uint64 number, uint256 bitmap, uint256[] memory keys) internal returns (uint256) {
        bytes32 root = keccak256(abi.encode("root", kind, number));
        bytes32 reportHash = keccak256(abi.encode("hash", kind, number));
        bytes memory message = abi.encodePacked(nm.signingRoot(kind, number, root, reportHash));
        bytes memory agg = TestSigner.sign(keys[0], message);
        for (uint256 i = 1; i < keys.length; i++) {
            agg = TestSigner.g2Add(agg, TestSigner.sign(keys[i], message));
        }
        uint256 g = gasleft();
        nm.submitReport(kind, number, root, reportHash, bitmap, agg);
        return g - gasleft();
    }

    function _g1Add(bytes memory a, bytes memory b) internal view returns (bytes memory out) {
        bool ok;
        (ok, out) = BLS.G1_ADD.staticcall(bytes.concat(a, b));
        assertTrue(ok, "G1ADD");
    }

    function _none() internal pure returns (NodeManager.NewMember memory m) {
        m.index = NONE;
    }
}
