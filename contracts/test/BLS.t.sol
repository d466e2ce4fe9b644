// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {BLSHarness, TestSigner} from "./utils/BLSHarness.sol";
import {BLS} from "../src/BLS.sol";

/// The BLS library against two independent implementations: py_ecc (vectors_py_ecc.py) and
/// blst (written by the Rust side, crates/quorum), plus fuzzed algebra.
contract BLSTest is Test {
    string constant PY_ECC = "test/vectors/py_ecc.json";
    string constant BLST = "test/vectors/blst.json";

    BLSHarness bls;

    function setUp() public {
        bls = new BLSHarness();
    }

    // ---- vectors ----------------------------------------------------------------------------

    function test_pyEcc_hashToG2() public view {
        _checkHashToG2(vm.readFile(PY_ECC), "py_ecc");
    }

    function test_pyEcc_signatures() public view {
        _checkCases(vm.readFile(PY_ECC), "py_ecc");
    }

    function test_blst_hashToG2() public view {
        if (!vm.exists(BLST)) return log("blst.json not present yet: skipped");
        _checkHashToG2(vm.readFile(BLST), "blst");
    }

    function test_blst_signatures() public view {
        if (!vm.exists(BLST)) return log("blst.json not present yet: skipped");
        _checkCases(vm.readFile(BLST), "blst");
    }

    function test_pyEcc_proofsOfPossession() public view {
        string memory json = vm.readFile(PY_ECC);
        assertEq(keccak256(bytes(vm.parseJsonString(json, ".pop_dst"))), keccak256(BLS.POP_DST), "pop dst of the file");
        uint256 n = _count(json, ".pops");
        assertTrue(n >= 4, "pop vectors present");
        for (uint256 i = 0; i < n; i++) {
            string memory at = string.concat(".pops[", vm.toString(i), "]");
            bool ok = bls.verifyProofOfPossession(
                vm.parseJsonBytes(json, string.concat(at, ".pubkey")),
                vm.parseJsonBytes(json, string.concat(at, ".compressed")),
                vm.parseJsonBytes(json, string.concat(at, ".pop"))
            );
            assertTrue(ok == vm.parseJsonBool(json, string.concat(at, ".valid")), string.concat("pop ", vm.toString(i)));
        }
    }

    function _checkHashToG2(string memory json, string memory source) internal view {
        assertEq(keccak256(bytes(vm.parseJsonString(json, ".dst"))), keccak256(BLS.SIG_DST), "dst of the file");
        uint256 n = _count(json, ".hash_to_g2");
        assertTrue(n > 0, string.concat(source, ": hash_to_g2 vectors present"));
        for (uint256 i = 0; i < n; i++) {
            string memory at = string.concat(".hash_to_g2[", vm.toString(i), "]");
            assertEq(
                bls.hashToG2(vm.parseJsonBytes(json, string.concat(at, ".msg")), BLS.SIG_DST),
                vm.parseJsonBytes(json, string.concat(at, ".point")),
                string.concat(source, " hash_to_g2 ", vm.toString(i))
            );
        }
    }

    function _checkCases(string memory json, string memory source) internal view {
        uint256 n = _count(json, ".cases");
        assertTrue(n > 0, string.concat(source, ": signature cases present"));
        for (uint256 i = 0; i < n; i++) {
            string memory at = string.concat(".cases[", vm.toString(i), "]");
            bytes[] memory pks = vm.parseJsonBytesArray(json, string.concat(at, ".pubkeys"));
            bytes memory pk = pks[0];
            for (uint256 j = 1; j < pks.length; j++) {
                pk = bls.g1Add(pk, pks[j]);
            }
            bool ok = bls.verify(
                pk,
                vm.parseJsonBytes(json, string.concat(at, ".message")),
                vm.parseJsonBytes(json, string.concat(at, ".signature"))
            );
            assertTrue(
                ok == vm.parseJsonBool(json, string.concat(at, ".valid")),
                string.concat(source, " case ", vm.parseJsonString(json, string.concat(at, ".name")))
            );
        }
    }

    function _count(string memory json, string memory array) internal view returns (uint256 n) {
        while (vm.keyExistsJson(json, string.concat(array, "[", vm.toString(n), "]"))) n++;
    }

    // ---- RFC 9380 expand_message_xmd (Appendix K.1, SHA-256, len_in_bytes 0x20) -------------

    function test_expandMessageXmd_rfc9380() public view {
        bytes memory dst = "QUUX-V01-CS02-with-expander-SHA256-128";
        assertEq(
            bls.expandMessageXmd("", dst, 32),
            hex"68a985b87eb6b46952128911f2a4412bbc302a9d759667f87f7a21d803f07235",
            "msg = empty"
        );
        assertEq(
            bls.expandMessageXmd("abc", dst, 32),
            hex"d8ccab23b5985ccea865c6c97b6e5b8350e794e603b4b97902f53a8a0d605615",
            "msg = abc"
        );
    }

    // ---- compressed keys --------------------------------------------------------------------

    function test_compressedFlags() public view {
        string memory json = vm.readFile(PY_ECC);
        bytes memory pk = vm.parseJsonBytes(json, ".pops[0].pubkey");
        bytes memory c = vm.parseJsonBytes(json, ".pops[0].compressed");
        assertTrue(bls.isCompressedOf(c, pk), "the real compression matches");

        bytes memory noCompressionFlag = bytes.concat(c);
        noCompressionFlag[0] = noCompressionFlag[0] & 0x7f;
        assertFalse(bls.isCompressedOf(noCompressionFlag, pk), "compression flag clear");

        bytes memory infinityFlag = bytes.concat(c);
        infinityFlag[0] = infinityFlag[0] | 0x40;
        assertFalse(bls.isCompressedOf(infinityFlag, pk), "infinity flag set");

        bytes memory otherSign = bytes.concat(c);
        otherSign[0] = otherSign[0] ^ 0x20;
        assertFalse(bls.isCompressedOf(otherSign, pk), "sign flag flipped (that is -pk)");
        assertTrue(bls.isCompressedOf(otherSign, bls.g1Negate(pk)), "sign flag flipped matches -pk");

        bytes memory otherX = bytes.concat(c);
        otherX[47] = otherX[47] ^ 0x01;
        assertFalse(bls.isCompressedOf(otherX, pk), "x differs");

        assertFalse(bls.isCompressedOf(bytes.concat(c, hex"00"), pk), "49 bytes");
    }

    function test_popRejectsMismatchedCompressedKey() public view {
        string memory json = vm.readFile(PY_ECC);
        // Key 0's pop and uncompressed key, but key 1's compressed bytes.
        assertFalse(
            bls.verifyProofOfPossession(
                vm.parseJsonBytes(json, ".pops[0].pubkey"),
                vm.parseJsonBytes(json, ".pops[1].compressed"),
                vm.parseJsonBytes(json, ".pops[0].pop")
            ),
            "pop with another compressed key"
        );
    }

    // ---- malformed inputs are rejected, not accepted ----------------------------------------

    function test_rejectsMalformedPoints() public view {
        string memory json = vm.readFile(PY_ECC);
        bytes memory pk = vm.parseJsonBytes(json, ".cases[0].pubkeys[0]");
        bytes memory m = vm.parseJsonBytes(json, ".cases[0].message");
        bytes memory sig = vm.parseJsonBytes(json, ".cases[0].signature");
        assertTrue(bls.verify(pk, m, sig), "the valid case");
        assertFalse(bls.verify(pk, m, bytes.concat(sig, hex"00")), "257-byte signature");
        assertFalse(bls.verify(bytes.concat(pk, hex"00"), m, sig), "129-byte key");
        assertFalse(bls.verify(new bytes(128), m, new bytes(256)), "identity key and signature");
        bytes memory offCurve = bytes.concat(sig);
        offCurve[255] = offCurve[255] ^ 0x01;
        assertFalse(bls.verify(pk, m, offCurve), "signature off the curve");
        bytes memory notCanonical = bytes.concat(sig);
        notCanonical[0] = 0x01; // a non-zero byte in the 16-byte padding
        assertFalse(bls.verify(pk, m, notCanonical), "non-zero padding");
    }

    // ---- fuzz -------------------------------------------------------------------------------

    /// sk * H(m) verifies under sk * G1 for any key and message, and fails for another message,
    /// another key, or a signature of another message.
    function testFuzz_signVerify(uint256 sk, bytes memory message, bytes memory other) public view {
        sk = _scalar(sk);
        vm.assume(keccak256(message) != keccak256(other));
        bytes memory pk = TestSigner.publicKey(sk);
        bytes memory sig = TestSigner.sign(sk, message);
        assertTrue(bls.verify(pk, message, sig), "own signature");
        assertFalse(bls.verify(pk, other, sig), "other message");
        assertFalse(bls.verify(TestSigner.publicKey(_scalar(sk + 1)), message, sig), "other key");
    }

    /// An aggregate of two signatures verifies under the sum of the keys, and under neither alone.
    function testFuzz_aggregate(uint256 sk1, uint256 sk2, bytes32 message) public view {
        sk1 = _scalar(sk1);
        sk2 = _scalar(sk2);
        vm.assume(sk1 != sk2);
        bytes memory m = abi.encodePacked(message);
        bytes memory agg = TestSigner.g2Add(TestSigner.sign(sk1, m), TestSigner.sign(sk2, m));
        bytes memory pk1 = TestSigner.publicKey(sk1);
        bytes memory pk2 = TestSigner.publicKey(sk2);
        assertTrue(bls.verify(bls.g1Add(pk1, pk2), m, agg), "aggregate");
        assertFalse(bls.verify(pk1, m, agg), "first key alone");
        // Key subtraction, as NodeManager does for non-signers: (pk1 + pk2) - pk2 = pk1.
        assertEq(bls.g1Add(bls.g1Add(pk1, pk2), bls.g1Negate(pk2)), pk1, "subtract a key");
    }

    /// Any single-byte change of a valid signature is rejected (never accepted, never a revert).
    function testFuzz_tamperedSignature(uint8 position, uint8 flip) public view {
        vm.assume(flip != 0);
        string memory json = vm.readFile(PY_ECC);
        bytes memory pk = vm.parseJsonBytes(json, ".cases[0].pubkeys[0]");
        bytes memory m = vm.parseJsonBytes(json, ".cases[0].message");
        bytes memory sig = vm.parseJsonBytes(json, ".cases[0].signature");
        sig[position] = sig[position] ^ bytes1(flip);
        assertFalse(bls.verify(pk, m, sig), "tampered signature");
    }

    /// hash_to_G2 of fuzzed messages is a valid G2 point in the subgroup (the pairing with it
    /// succeeds) and differs between the two DSTs.
    function testFuzz_hashToG2DomainSeparated(bytes memory message) public view {
        bytes memory a = bls.hashToG2(message, BLS.SIG_DST);
        bytes memory b = bls.hashToG2(message, BLS.POP_DST);
        assertTrue(keccak256(a) != keccak256(b), "DSTs separate");
        // e(-g1, a) * e(g1, a) == 1 checks a is a subgroup point (the precompile would fail).
        (bool ok, bytes memory out) = BLS.PAIRING_CHECK
            .staticcall(
                bytes.concat(
                    abi.encodePacked(BLS.NEG_G1_X_HI, BLS.NEG_G1_X_LO, BLS.NEG_G1_Y_HI, BLS.NEG_G1_Y_LO),
                    a,
                    TestSigner.G1_GENERATOR,
                    a
                )
            );
        assertTrue(ok && uint256(bytes32(out)) == 1, "pairing accepts the hashed point");
    }

    function _scalar(uint256 x) internal pure returns (uint256) {
        // A non-zero scalar below the group order r.
        uint256 r = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001;
        return 1 + (x % (r - 1));
    }
}
