// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Fixtures} from "./utils/Fixtures.sol";
import {NodeManager} from "../src/NodeManager.sol";
import {BLS} from "../src/BLS.sol";

/// Committee construction and the report rules of NodeManager, with the 4-member committee and
/// the reports of test/vectors/reports.json (signed by py_ecc).
contract NodeManagerTest is Fixtures {
    string json;
    Committee committee;
    address nodeManagerAddress;

    function setUp() public {
        json = vm.readFile(REPORTS);
        committee = loadCommittee(json, "");
        nodeManagerAddress = vm.parseJsonAddress(json, ".nodeManager");
        deploy(committee, nodeManagerAddress);
    }

    function report(string memory name) internal view returns (Report memory) {
        return loadReport(json, string.concat(".reports.", name));
    }

    function forged(string memory name) internal view returns (bytes memory) {
        return vm.parseJsonBytes(json, string.concat(".forged.", name));
    }

    // ---- construction -----------------------------------------------------------------------

    function test_committee() public view {
        assertEq(nm.committeeSize(), 4, "size");
        assertEq(nm.threshold(), 3, "threshold");
        bytes memory sum = committee.pubkeys[0];
        for (uint256 i = 1; i < 4; i++) {
            sum = _g1Add(sum, committee.pubkeys[i]);
            assertEq(nm.memberPublicKey(i), committee.pubkeys[i], "member key");
        }
        assertEq(nm.aggregatePublicKey(), sum, "aggregate key");
        assertEq(address(nm.registry()), address(registry), "registry");
    }

    function test_constructor_rejectsThresholdNotMajority() public {
        uint256[3] memory bad = [uint256(2), 5, 0];
        for (uint256 i = 0; i < bad.length; i++) {
            vm.expectRevert(abi.encodeWithSelector(NodeManager.ThresholdNotMajority.selector, bad[i], 4));
            new NodeManager(registry, 4, bad[i]);
        }
        new NodeManager(registry, 4, 4);
    }

    /// A fresh, unsealed NodeManager for `c` (registered by this test contract).
    function _unsealed(Committee memory c) internal returns (NodeManager) {
        return new NodeManager(registry, c.pubkeys.length, 3);
    }

    function test_register_rejectsWrongProofOfPossession() public {
        Committee memory c = committee;
        (c.pops[1], c.pops[2]) = (c.pops[2], c.pops[1]);
        NodeManager m = _unsealed(c);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.InvalidProofOfPossession.selector, 1));
        m.registerMembers(c.pubkeys, c.compressed, c.pops);
    }

    function test_register_rejectsSignatureInPlaceOfProof() public {
        // A signature of the compressed key under the signature DST (not the POP DST).
        string memory v = vm.readFile("test/vectors/py_ecc.json");
        bytes[] memory pks = new bytes[](1);
        bytes[] memory cs = new bytes[](1);
        bytes[] memory ps = new bytes[](1);
        pks[0] = vm.parseJsonBytes(v, ".pops[4].pubkey");
        cs[0] = vm.parseJsonBytes(v, ".pops[4].compressed");
        ps[0] = vm.parseJsonBytes(v, ".pops[4].pop");
        NodeManager m = new NodeManager(registry, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.InvalidProofOfPossession.selector, 0));
        m.registerMembers(pks, cs, ps);
    }

    function test_register_rejectsMismatchedCompressedKey() public {
        Committee memory c = committee;
        (c.compressed[0], c.compressed[3]) = (c.compressed[3], c.compressed[0]);
        NodeManager m = _unsealed(c);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.PublicKeyMismatch.selector, 0));
        m.registerMembers(c.pubkeys, c.compressed, c.pops);
    }

    function test_register_rejectsDuplicateKey() public {
        Committee memory c = committee;
        c.pubkeys[2] = c.pubkeys[0];
        c.compressed[2] = c.compressed[0];
        c.pops[2] = c.pops[0];
        NodeManager m = _unsealed(c);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.DuplicatePublicKey.selector, 0, 2));
        m.registerMembers(c.pubkeys, c.compressed, c.pops);
    }

    function test_register_rejectsMalformedCommittee() public {
        Committee memory c = committee;
        c.pubkeys[1] = new bytes(128);
        NodeManager m = _unsealed(c);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.InvalidPublicKey.selector, 1));
        m.registerMembers(c.pubkeys, c.compressed, c.pops);

        // A point off the curve whose compressed form still matches (same x, same sign).
        c = committee;
        bytes memory offCurve = bytes.concat(c.pubkeys[2]);
        offCurve[127] = offCurve[127] ^ 0x01;
        c.pubkeys[2] = offCurve;
        vm.expectRevert(abi.encodeWithSelector(NodeManager.InvalidProofOfPossession.selector, 2));
        m.registerMembers(c.pubkeys, c.compressed, c.pops);

        vm.expectRevert(abi.encodeWithSelector(NodeManager.CommitteeSizeOutOfRange.selector, 0));
        new NodeManager(registry, 0, 1);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.CommitteeSizeOutOfRange.selector, 129));
        new NodeManager(registry, 129, 100);

        bytes[] memory three = new bytes[](3);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.CommitteeLengthMismatch.selector, 4, 3, 4));
        m.registerMembers(committee.pubkeys, three, committee.pops);
    }

    /// Members 0..1 then 2..3: the committee is usable only once the second batch seals it;
    /// only the registrar registers; a key of the first batch cannot come back in the second.
    function test_register_inBatchesThenSealed() public {
        Committee memory c = committee;
        NodeManager m = _unsealed(c);
        (bytes[] memory pks, bytes[] memory cs, bytes[] memory ps) = _slice(c, 0, 2);
        m.registerMembers(pks, cs, ps);
        assertEq(m.registeredMembers(), 2, "two registered");
        assertFalse(m.isSealed(), "not sealed");
        vm.expectRevert(abi.encodeWithSelector(NodeManager.CommitteeNotSealed.selector, 2, 4));
        m.submitReport(0, 1, bytes32(uint256(1)), bytes32(0), 7, new bytes(256));
        vm.expectRevert(abi.encodeWithSelector(NodeManager.CommitteeNotSealed.selector, 2, 4));
        m.aggregatePublicKey();

        (pks, cs, ps) = _slice(c, 2, 2);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.NotRegistrar.selector, address(0xBAD)));
        vm.prank(address(0xBAD));
        m.registerMembers(pks, cs, ps);
        (bytes[] memory again, bytes[] memory againC, bytes[] memory againP) = _slice(c, 0, 1);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.DuplicatePublicKey.selector, 0, 2));
        m.registerMembers(again, againC, againP);
        (bytes[] memory three, bytes[] memory threeC, bytes[] memory threeP) = _slice(c, 0, 3);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.TooManyMembers.selector, 2, 3, 4));
        m.registerMembers(three, threeC, threeP);

        m.registerMembers(pks, cs, ps);
        assertTrue(m.isSealed(), "sealed by the last member");
        for (uint256 i = 0; i < 4; i++) {
            assertEq(m.memberPublicKey(i), c.pubkeys[i], "member key across batches");
        }
        assertEq(m.aggregatePublicKey(), nm.aggregatePublicKey(), "same aggregate as one batch");
        vm.expectRevert(NodeManager.CommitteeAlreadySealed.selector);
        m.registerMembers(pks, cs, ps);
    }

    function _slice(Committee memory c, uint256 first, uint256 k)
        internal
        pure
        returns (bytes[] memory pks, bytes[] memory cs, bytes[] memory ps)
    {
        pks = new bytes[](k);
        cs = new bytes[](k);
        ps = new bytes[](k);
        for (uint256 i = 0; i < k; i++) {
            (pks[i], cs[i], ps[i]) = (c.pubkeys[first + i], c.compressed[first + i], c.pops[first + i]);
        }
    }

    // ---- the signing root (docs/signing.md) -------------------------------------------------

    function test_signingRoot_matchesOffChainVectors() public {
        string memory v = vm.readFile(SIGNING_ROOTS);
        assertEq(nm.REPORT_DOMAIN(), vm.parseJsonBytes32(v, ".reportDomain"), "REPORT_DOMAIN");
        uint256 n = count(v, ".cases");
        assertTrue(n >= 4, "cases present");
        for (uint256 i = 0; i < n; i++) {
            string memory at = string.concat(".cases[", vm.toString(i), "]");
            assertEq(vm.parseJsonAddress(v, string.concat(at, ".nodeManager")), address(nm), "vector's contract");
            vm.chainId(vm.parseJsonUint(v, string.concat(at, ".chainId")));
            bytes32 got = nm.signingRoot(
                uint8(vm.parseJsonUint(v, string.concat(at, ".kind"))),
                uint64(vm.parseJsonUint(v, string.concat(at, ".number"))),
                vm.parseJsonBytes32(v, string.concat(at, ".root")),
                vm.parseJsonBytes32(v, string.concat(at, ".reportHash"))
            );
            assertEq(
                got, vm.parseJsonBytes32(v, string.concat(at, ".signingRoot")), string.concat("case ", vm.toString(i))
            );
        }
    }

    /// The Rust committee crate's vectors (crates/quorum/tests/vectors/signing_root.json):
    /// NodeManager's code is placed at each case's address, on each case's chain.
    function test_signingRoot_matchesCommitteeCrateVectors() public {
        string memory path = "../crates/quorum/tests/vectors/signing_root.json";
        if (!vm.exists(path)) return log("crates/quorum signing_root.json not present: skipped");
        string memory v = vm.readFile(path);
        assertEq(nm.REPORT_DOMAIN(), vm.parseJsonBytes32(v, ".report_domain"), "REPORT_DOMAIN");
        uint256 n = count(v, ".cases");
        assertTrue(n > 0, "cases present");
        for (uint256 i = 0; i < n; i++) {
            string memory at = string.concat(".cases[", vm.toString(i), "]");
            address target = vm.parseJsonAddress(v, string.concat(at, ".node_manager"));
            vm.etch(target, address(nm).code);
            vm.chainId(vm.parseJsonUint(v, string.concat(at, ".chain_id")));
            bytes32 got = NodeManager(payable(target))
                .signingRoot(
                    uint8(vm.parseJsonUint(v, string.concat(at, ".kind"))),
                    uint64(vm.parseJsonUint(v, string.concat(at, ".number"))),
                    vm.parseJsonBytes32(v, string.concat(at, ".merkle_root")),
                    vm.parseJsonBytes32(v, string.concat(at, ".report_hash"))
                );
            assertEq(
                got, vm.parseJsonBytes32(v, string.concat(at, ".signing_root")), string.concat("case ", vm.toString(i))
            );
        }
    }

    function test_signingRoot_ofReports() public view {
        Report memory r = report("rewards1");
        assertEq(
            nm.signingRoot(r.kind, r.number, r.root, r.reportHash),
            vm.parseJsonBytes32(json, ".reports.rewards1.signingRoot"),
            "rewards1"
        );
    }

    // ---- accepting ----------------------------------------------------------------------------

    function test_submit_acceptsQuorumSignedReport() public {
        Report memory r = report("rewards1");
        address anyone = address(0xBEEF);
        vm.expectEmit(address(nm));
        emit NodeManager.ReportAccepted(r.kind, r.number, r.root, r.reportHash, r.signerBitmap, anyone);
        vm.prank(anyone);
        submit(r);
        assertEq(nm.lastReportNumber(0), 1, "last rewards number");
        assertEq(nm.reportRoot(0, 1), r.root, "root stored");
        assertEq(nm.lastReportNumber(1), 0, "exits untouched");
    }

    function test_submit_kindsAreNumberedSeparately() public {
        submit(report("rewards1"));
        submit(report("exits1"));
        submit(report("rewards2"));
        assertEq(nm.lastReportNumber(0), 2, "rewards");
        assertEq(nm.lastReportNumber(1), 1, "exits");
        assertEq(nm.reportRoot(1, 1), report("exits1").root, "exits root");
    }

    /// An exits round with nothing to exit is not submitted: exits numbers may skip, but never
    /// go back. Rewards numbers may not skip (test_submit_rejectsOutOfOrder).
    function test_submit_exitsNumbersMaySkipButNotGoBack() public {
        Report memory e2 = report("exits2");
        submit(e2);
        assertEq(nm.lastReportNumber(1), 2, "exits report 2 accepted without 1");
        assertEq(nm.reportRoot(1, 2), e2.root, "exits root");
        assertEq(nm.reportRoot(1, 1), bytes32(0), "round 1 never submitted");
        vm.expectRevert(abi.encodeWithSelector(NodeManager.StaleReport.selector, 1, 1, 2));
        submit(report("exits1"));
        vm.expectRevert(abi.encodeWithSelector(NodeManager.ReportAlreadyAccepted.selector, 1, 2));
        submit(e2);
    }

    // ---- rejecting ----------------------------------------------------------------------------

    function test_submit_rejectsReplay() public {
        Report memory r = report("rewards1");
        submit(r);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.ReportAlreadyAccepted.selector, 0, 1));
        submit(r);
    }

    function test_submit_rejectsStale() public {
        Report memory r1 = report("rewards1");
        submit(r1);
        submit(report("rewards2"));
        vm.expectRevert(abi.encodeWithSelector(NodeManager.StaleReport.selector, 0, 1, 2));
        submit(r1);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.StaleReport.selector, 0, 0, 2));
        nm.submitReport(0, 0, r1.root, r1.reportHash, r1.signerBitmap, r1.signature);
    }

    function test_submit_rejectsOutOfOrder() public {
        vm.expectRevert(abi.encodeWithSelector(NodeManager.ReportOutOfOrder.selector, 0, 2, 1));
        submit(report("rewards2"));
        Report memory r = report("rewards1");
        vm.expectRevert(abi.encodeWithSelector(NodeManager.ReportOutOfOrder.selector, 0, 7, 1));
        nm.submitReport(0, 7, r.root, r.reportHash, r.signerBitmap, r.signature);
    }

    function test_submit_rejectsSignaturesForAnotherDomain() public {
        string[5] memory names = ["otherChain", "otherContract", "otherKind", "otherNumber", "otherReportHash"];
        Report memory r = report("rewards1");
        for (uint256 i = 0; i < names.length; i++) {
            r.signature = forged(names[i]);
            vm.expectRevert(NodeManager.InvalidSignature.selector);
            submit(r);
        }
        // The valid signature still works: nothing was accepted above.
        submit(report("rewards1"));
    }

    function test_submit_rejectsOnAnotherChain() public {
        vm.chainId(1);
        vm.expectRevert(NodeManager.InvalidSignature.selector);
        submit(report("rewards1"));
    }

    function test_submit_rejectsSignatureForOtherKindOrNumber() public {
        // rewards1's valid signature, presented as exits report 1 and as rewards report 2.
        Report memory r = report("rewards1");
        vm.expectRevert(NodeManager.InvalidSignature.selector);
        nm.submitReport(1, 1, r.root, r.reportHash, r.signerBitmap, r.signature);
        submit(r);
        vm.expectRevert(NodeManager.InvalidSignature.selector);
        nm.submitReport(0, 2, r.root, r.reportHash, r.signerBitmap, r.signature);
    }

    function test_submit_rejectsForgedAggregate() public {
        Report memory r = report("rewards1");
        // The bitmap names members 0, 1, 2; the aggregate lacks member 2.
        r.signature = forged("missingSigner");
        vm.expectRevert(NodeManager.InvalidSignature.selector);
        submit(r);
        // An outsider's signature in member 2's place.
        r.signature = forged("outsiderInsteadOfMember2");
        vm.expectRevert(NodeManager.InvalidSignature.selector);
        submit(r);
        // The right signers but another bitmap (members 0, 1, 3).
        r = report("rewards1");
        r.signerBitmap = 0xb;
        vm.expectRevert(NodeManager.InvalidSignature.selector);
        submit(r);
        // Another root under the valid signature.
        r = report("rewards1");
        r.root = keccak256("another root");
        vm.expectRevert(NodeManager.InvalidSignature.selector);
        submit(r);
    }

    function test_submit_rejectsBelowQuorum() public {
        Report memory r = report("rewards1");
        r.signerBitmap = 0x3;
        r.signature = forged("twoSigners"); // a true aggregate of members 0 and 1
        vm.expectRevert(abi.encodeWithSelector(NodeManager.NotEnoughSigners.selector, 2, 3));
        submit(r);
        r.signerBitmap = 0;
        vm.expectRevert(abi.encodeWithSelector(NodeManager.NotEnoughSigners.selector, 0, 3));
        submit(r);
    }

    function test_submit_rejectsBitBeyondCommittee() public {
        Report memory r = report("rewards1");
        uint256[3] memory extra = [uint256(1) << 4, uint256(1) << 128, uint256(1) << 255];
        for (uint256 i = 0; i < extra.length; i++) {
            uint256 bitmap = r.signerBitmap | extra[i];
            vm.expectRevert(abi.encodeWithSelector(NodeManager.SignerOutsideCommittee.selector, bitmap, 4));
            nm.submitReport(r.kind, r.number, r.root, r.reportHash, bitmap, r.signature);
        }
    }

    function test_submit_rejectsMalformedInput() public {
        Report memory r = report("rewards1");
        vm.expectRevert(abi.encodeWithSelector(NodeManager.UnknownReportKind.selector, 2));
        nm.submitReport(2, 1, r.root, r.reportHash, r.signerBitmap, r.signature);
        vm.expectRevert(NodeManager.ZeroRoot.selector);
        nm.submitReport(0, 1, bytes32(0), r.reportHash, r.signerBitmap, r.signature);
        vm.expectRevert(abi.encodeWithSelector(NodeManager.InvalidSignatureLength.selector, 96));
        nm.submitReport(0, 1, r.root, r.reportHash, r.signerBitmap, new bytes(96));
        // The identity (all zeros) is not a signature.
        vm.expectRevert(NodeManager.InvalidSignature.selector);
        nm.submitReport(0, 1, r.root, r.reportHash, r.signerBitmap, new bytes(256));
    }

    /// Any bitmap with a bit outside the committee, or fewer bits than the threshold, is
    /// rejected before any signature check; with a valid count it fails unless it is the
    /// signers' own bitmap.
    function testFuzz_submit_onlyTheSignersBitmapVerifies(uint256 bitmap) public {
        Report memory r = report("rewards1");
        if (bitmap >> 4 != 0) {
            vm.expectRevert(abi.encodeWithSelector(NodeManager.SignerOutsideCommittee.selector, bitmap, 4));
        } else if (_popcount(bitmap) < 3) {
            vm.expectRevert(abi.encodeWithSelector(NodeManager.NotEnoughSigners.selector, _popcount(bitmap), 3));
        } else if (bitmap != r.signerBitmap) {
            vm.expectRevert(NodeManager.InvalidSignature.selector);
        }
        nm.submitReport(r.kind, r.number, r.root, r.reportHash, bitmap, r.signature);
    }

    function _popcount(uint256 x) internal pure returns (uint256 c) {
        for (; x != 0; x &= x - 1) {
            c++;
        }
    }

    function _g1Add(bytes memory a, bytes memory b) internal view returns (bytes memory out) {
        bool ok;
        (ok, out) = BLS.G1_ADD.staticcall(bytes.concat(a, b));
        assertTrue(ok, "G1ADD");
    }
}
