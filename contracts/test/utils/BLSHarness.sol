// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BLS} from "../../src/BLS.sol";

/// Exposes the BLS library's internal functions as external calls for the tests.
contract BLSHarness {
    function verify(bytes memory pk, bytes memory message, bytes memory sig) external view returns (bool) {
        return BLS.verify(pk, message, sig);
    }

    function verifyProofOfPossession(bytes memory pk, bytes memory compressed, bytes memory pop)
        external
        view
        returns (bool)
    {
        return BLS.verifyProofOfPossession(pk, compressed, pop);
    }

    function isCompressedOf(bytes memory compressed, bytes memory pk) external pure returns (bool) {
        return BLS.isCompressedOf(compressed, pk);
    }

    function hashToG2(bytes memory message, bytes memory dst) external view returns (bytes memory) {
        return BLS.hashToG2(message, dst);
    }

    function expandMessageXmd(bytes memory message, bytes memory dst, uint256 len)
        external
        view
        returns (bytes memory)
    {
        return BLS.expandMessageXmd(message, dst, len);
    }

    function g1Add(bytes memory a, bytes memory b) external view returns (bytes memory) {
        return BLS.g1Add(a, b);
    }

    function g1Negate(bytes memory a) external pure returns (bytes memory) {
        return BLS.g1Negate(a);
    }
}

/// Test-only BLS signer on the EIP-2537 MSM precompiles: pk = sk * G1, sig = sk * H(m). It
/// shares hashToG2 with the verifier, so it tests the algebra around it (pairing inputs, key
/// sums, negation), not hash-to-curve; the py_ecc and blst vectors test that.
library TestSigner {
    bytes internal constant G1_GENERATOR = abi.encodePacked(
        uint256(0x17f1d3a73197d7942695638c4fa9ac0f),
        uint256(0xc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb),
        uint256(0x08b3f481e3aaa0f1a09e30ed741d8ae4),
        uint256(0xfcf5e095d5d00af600db18cb2c04b3edd03cc744a2888ae40caa232946c5e7e1)
    );

    function publicKey(uint256 sk) internal view returns (bytes memory) {
        return _msm(BLS.G1_MSM, abi.encodePacked(G1_GENERATOR, sk), 128);
    }

    function sign(uint256 sk, bytes memory message) internal view returns (bytes memory) {
        return _msm(BLS.G2_MSM, abi.encodePacked(BLS.hashToG2(message, BLS.SIG_DST), sk), 256);
    }

    /// Proof of possession: a signature of the compressed key under the POP DST.
    function proveKey(uint256 sk) internal view returns (bytes memory) {
        return _msm(BLS.G2_MSM, abi.encodePacked(BLS.hashToG2(compress(publicKey(sk)), BLS.POP_DST), sk), 256);
    }

    /// The 48-byte compressed form of an EIP-2537 G1 point (ZCash flags: compressed, and the
    /// sign bit when y is the larger of y and p - y).
    function compress(bytes memory pk) internal pure returns (bytes memory c) {
        (uint256 xHi, uint256 xLo, uint256 yHi, uint256 yLo) = abi.decode(pk, (uint256, uint256, uint256, uint256));
        uint256 halfHi = BLS.P_HI >> 1;
        uint256 halfLo = (BLS.P_LO >> 1) | ((BLS.P_HI & 1) << 255);
        bool larger = yHi > halfHi || (yHi == halfHi && yLo > halfLo);
        c = abi.encodePacked(uint128(xHi), xLo);
        c[0] = c[0] | (larger ? bytes1(0xa0) : bytes1(0x80));
    }

    function g2Add(bytes memory a, bytes memory b) internal view returns (bytes memory) {
        return _msm(BLS.G2_ADD, bytes.concat(a, b), 256);
    }

    function _msm(address precompile, bytes memory input, uint256 outLength) private view returns (bytes memory out) {
        bool ok;
        (ok, out) = precompile.staticcall(input);
        require(ok && out.length == outLength, "TestSigner: precompile failed");
    }
}
