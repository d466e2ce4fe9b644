// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title BLS12-381 signatures as Ethereum uses them, on the EIP-2537 precompiles.
/// @notice Public keys in G1, signatures in G2, the proof-of-possession ciphersuite
/// (`BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_`): the scheme of the consensus layer, blst
/// `min_pk` and py_ecc `G2ProofOfPossession`. Points are uncompressed in the EIP-2537 layout:
/// every base-field element takes 64 bytes (16 zero bytes, then 48 bytes big-endian), a G1 point
/// is `x || y` (128 bytes), a G2 point `x.c0 || x.c1 || y.c0 || y.c1` (256 bytes), and the point
/// at infinity is all zeros.
/// @dev Hash-to-curve is RFC 9380 `hash_to_curve` for the suite `BLS12381G2_XMD:SHA-256_SSWU_RO_`:
/// expand_message_xmd with SHA-256 (precompile 0x02), four 64-byte strings reduced mod p with the
/// modexp precompile (0x05), two MAP_FP2_TO_G2 calls (which also clear the cofactor) and one
/// G2ADD. Clearing the cofactor of each half before adding equals clearing it after, because
/// clear_cofactor is a group homomorphism. Subgroup checks: PAIRING_CHECK rejects G1 and G2 inputs
/// outside the prime-order subgroups, so a signature or key that is not a valid point makes
/// `verify` return false.
library BLS {
    // EIP-2537 precompiles at their final (Pectra) addresses.
    address internal constant G1_ADD = address(0x0b);
    address internal constant G1_MSM = address(0x0c);
    address internal constant G2_ADD = address(0x0d);
    address internal constant G2_MSM = address(0x0e);
    address internal constant PAIRING_CHECK = address(0x0f);
    address internal constant MAP_FP_TO_G1 = address(0x10);
    address internal constant MAP_FP2_TO_G2 = address(0x11);
    address internal constant SHA256 = address(0x02);
    address internal constant MODEXP = address(0x05);

    /// Domain separation tag of signatures (RFC 9380 / IETF BLS draft, POP ciphersuite).
    bytes internal constant SIG_DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
    /// Domain separation tag of proofs of possession.
    bytes internal constant POP_DST = "BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

    uint256 internal constant G1_POINT_LENGTH = 128;
    uint256 internal constant G2_POINT_LENGTH = 256;
    uint256 internal constant COMPRESSED_G1_LENGTH = 48;

    // The base-field modulus p as its 64-byte EIP-2537 encoding, in two words.
    uint256 internal constant P_HI = 0x1a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 internal constant P_LO = 0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;

    // -G1: the negated generator of G1 (x, p - y), the first pair of every verification.
    uint256 internal constant NEG_G1_X_HI = 0x17f1d3a73197d7942695638c4fa9ac0f;
    uint256 internal constant NEG_G1_X_LO = 0xc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb;
    uint256 internal constant NEG_G1_Y_HI = 0x114d1d6855d545a8aa7d76c8cf2e21f2;
    uint256 internal constant NEG_G1_Y_LO = 0x67816aef1db507c96655b9d5caac42364e6f38ba0ecb751bad54dcd6b939c2ca;

    /// A precompile call failed on input this library built itself (never on caller data).
    error BLSPrecompileFailed(address precompile);

    // ----------------------------------------------------------------------------------------
    // Signatures
    // ----------------------------------------------------------------------------------------

    /// True when `signature` (G2) is a valid signature of `message` under `publicKey` (G1) with
    /// the signature DST. For an aggregate, pass the sum of the signers' keys and signatures.
    /// One PAIRING_CHECK: e(-g1, signature) * e(publicKey, H(message)) == 1.
    function verify(bytes memory publicKey, bytes memory message, bytes memory signature) internal view returns (bool) {
        return verifyWithDst(publicKey, message, signature, SIG_DST);
    }

    /// `verify` with another domain separation tag.
    function verifyWithDst(bytes memory publicKey, bytes memory message, bytes memory signature, bytes memory dst)
        internal
        view
        returns (bool)
    {
        if (publicKey.length != G1_POINT_LENGTH || signature.length != G2_POINT_LENGTH) return false;
        // The identity key would accept the identity signature for every message.
        if (isZero(publicKey)) return false;
        bytes memory input = bytes.concat(
            abi.encodePacked(NEG_G1_X_HI, NEG_G1_X_LO, NEG_G1_Y_HI, NEG_G1_Y_LO),
            signature,
            publicKey,
            hashToG2(message, dst)
        );
        (bool ok, bytes memory out) = PAIRING_CHECK.staticcall(input);
        // A failed call means an input was not a point of the right subgroup: not a signature.
        return ok && out.length == 32 && uint256(bytes32(out)) == 1;
    }

    /// Proof of possession of a committee key: `pop` signs the 48-byte compressed key with the
    /// POP DST, and `compressed` must encode the same point as the uncompressed `publicKey`.
    function verifyProofOfPossession(bytes memory publicKey, bytes memory compressed, bytes memory pop)
        internal
        view
        returns (bool)
    {
        return isCompressedOf(compressed, publicKey) && verifyWithDst(publicKey, compressed, pop, POP_DST);
    }

    /// True when `compressed` (48 bytes, ZCash/IETF format) is the compression of the
    /// uncompressed EIP-2537 G1 point `publicKey`: the compression flag (0x80) set, the
    /// infinity flag (0x40) clear, the same x, and the sign flag (0x20) set exactly when y is
    /// the larger of y and p - y. It does not check that the point is on the curve (the
    /// pairing of `verifyWithDst` does).
    function isCompressedOf(bytes memory compressed, bytes memory publicKey) internal pure returns (bool) {
        if (compressed.length != COMPRESSED_G1_LENGTH || publicKey.length != G1_POINT_LENGTH) return false;
        uint256 flags = uint8(compressed[0]);
        if (flags & 0x80 == 0 || flags & 0x40 != 0) return false;
        (uint256 xHi, uint256 xLo, uint256 yHi, uint256 yLo) = _g1Words(publicKey);
        // The compressed x: the 48 bytes with the three flag bits cleared, as (16-byte hi, 32-byte lo).
        uint256 cHi;
        uint256 cLo;
        assembly ("memory-safe") {
            let word := mload(add(compressed, 32))
            cHi := shr(128, word)
            cLo := mload(add(compressed, 48))
        }
        cHi &= ~(uint256(0xe0) << 120);
        if (cHi != xHi || cLo != xLo) return false;
        (uint256 nHi, uint256 nLo) = _subFromP(yHi, yLo);
        bool yIsLarger = yHi > nHi || (yHi == nHi && yLo > nLo);
        return (flags & 0x20 != 0) == yIsLarger;
    }

    // ----------------------------------------------------------------------------------------
    // Hash to G2 (RFC 9380)
    // ----------------------------------------------------------------------------------------

    /// `hash_to_curve` to G2 for `BLS12381G2_XMD:SHA-256_SSWU_RO_` with tag `dst`.
    function hashToG2(bytes memory message, bytes memory dst) internal view returns (bytes memory point) {
        bytes memory u = hashToFieldFp2(message, dst);
        // u = u0 || u1, each an Fp2 element of 128 bytes (c0 || c1).
        bytes memory u0 = new bytes(128);
        bytes memory u1 = new bytes(128);
        assembly ("memory-safe") {
            mcopy(add(u0, 32), add(u, 32), 128)
            mcopy(add(u1, 32), add(u, 160), 128)
        }
        bytes memory q0 = _call(MAP_FP2_TO_G2, u0, G2_POINT_LENGTH);
        bytes memory q1 = _call(MAP_FP2_TO_G2, u1, G2_POINT_LENGTH);
        point = _call(G2_ADD, bytes.concat(q0, q1), G2_POINT_LENGTH);
    }

    /// `hash_to_field(message, 2)` into Fp2 (m = 2, L = 64): 256 uniform bytes cut in four
    /// 64-byte big-endian integers, each reduced mod p. Returns u0.c0 || u0.c1 || u1.c0 || u1.c1,
    /// each element in its 64-byte EIP-2537 encoding.
    function hashToFieldFp2(bytes memory message, bytes memory dst) internal view returns (bytes memory out) {
        bytes memory uniform = expandMessageXmd(message, dst, 256);
        out = new bytes(256);
        for (uint256 i = 0; i < 4; i++) {
            // modexp(base = 64 bytes, exponent = 1, modulus = p in 64 bytes): base mod p, 64 bytes.
            bytes memory chunk = new bytes(64);
            assembly ("memory-safe") {
                mcopy(add(chunk, 32), add(add(uniform, 32), mul(i, 64)), 64)
            }
            bytes memory reduced =
                _call(MODEXP, abi.encodePacked(uint256(64), uint256(1), uint256(64), chunk, uint8(1), P_HI, P_LO), 64);
            assembly ("memory-safe") {
                mcopy(add(add(out, 32), mul(i, 64)), add(reduced, 32), 64)
            }
        }
    }

    /// RFC 9380 `expand_message_xmd` with SHA-256 (b_in_bytes 32, s_in_bytes 64).
    function expandMessageXmd(bytes memory message, bytes memory dst, uint256 lenInBytes)
        internal
        view
        returns (bytes memory out)
    {
        uint256 ell = (lenInBytes + 31) / 32;
        require(ell <= 255 && lenInBytes <= 65535 && dst.length <= 255, "BLS: expand_message_xmd bounds");
        bytes memory dstPrime = abi.encodePacked(dst, uint8(dst.length));
        // b_0 = H(Z_pad || msg || I2OSP(len_in_bytes, 2) || I2OSP(0, 1) || DST_prime)
        bytes32 b0 = _sha256(abi.encodePacked(bytes32(0), bytes32(0), message, uint16(lenInBytes), uint8(0), dstPrime));
        // b_1 = H(b_0 || I2OSP(1, 1) || DST_prime); b_i = H((b_0 xor b_(i-1)) || I2OSP(i, 1) || DST_prime)
        bytes32 bi = _sha256(abi.encodePacked(b0, uint8(1), dstPrime));
        bytes memory uniform = new bytes(ell * 32);
        assembly ("memory-safe") {
            mstore(add(uniform, 32), bi)
        }
        for (uint256 i = 2; i <= ell; i++) {
            bi = _sha256(abi.encodePacked(b0 ^ bi, uint8(i), dstPrime));
            assembly ("memory-safe") {
                mstore(add(uniform, mul(i, 32)), bi)
            }
        }
        out = uniform;
        assembly ("memory-safe") {
            mstore(out, lenInBytes)
        }
    }

    // ----------------------------------------------------------------------------------------
    // G1 arithmetic
    // ----------------------------------------------------------------------------------------

    /// a + b in G1 (G1ADD: no subgroup check, which the callers' keys passed at registration).
    function g1Add(bytes memory a, bytes memory b) internal view returns (bytes memory) {
        return _call(G1_ADD, bytes.concat(a, b), G1_POINT_LENGTH);
    }

    /// `pair` = a || b (256 bytes): writes a + b over a, in place, without allocating.
    function g1AddPairInPlace(bytes memory pair) internal view {
        require(pair.length == 2 * G1_POINT_LENGTH, "BLS: G1 pair length");
        bool ok;
        assembly ("memory-safe") {
            let p := add(pair, 32)
            ok := staticcall(gas(), 0x0b, p, 256, p, 128)
            if lt(returndatasize(), 128) { ok := 0 }
        }
        if (!ok) revert BLSPrecompileFailed(G1_ADD);
    }

    /// -a in G1: (x, p - y); the point at infinity is its own negation.
    function g1Negate(bytes memory a) internal pure returns (bytes memory r) {
        require(a.length == G1_POINT_LENGTH, "BLS: G1 point length");
        if (isZero(a)) return a;
        (uint256 xHi, uint256 xLo, uint256 yHi, uint256 yLo) = _g1Words(a);
        (uint256 nHi, uint256 nLo) = _subFromP(yHi, yLo);
        return abi.encodePacked(xHi, xLo, nHi, nLo);
    }

    /// True when every byte of `a` is zero (the EIP-2537 encoding of the point at infinity).
    function isZero(bytes memory a) internal pure returns (bool) {
        for (uint256 i = 0; i < a.length; i += 32) {
            bytes32 w;
            assembly ("memory-safe") {
                w := mload(add(add(a, 32), i))
            }
            // Mask the bytes past the end of a (all lengths used here are multiples of 32).
            if (i + 32 > a.length) w &= bytes32(type(uint256).max << (8 * (i + 32 - a.length)));
            if (w != 0) return false;
        }
        return true;
    }

    // ----------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------

    function _g1Words(bytes memory a) private pure returns (uint256 xHi, uint256 xLo, uint256 yHi, uint256 yLo) {
        assembly ("memory-safe") {
            xHi := mload(add(a, 32))
            xLo := mload(add(a, 64))
            yHi := mload(add(a, 96))
            yLo := mload(add(a, 128))
        }
    }

    /// p - y for y < p given as (hi, lo) words of its 64-byte encoding.
    function _subFromP(uint256 yHi, uint256 yLo) private pure returns (uint256 hi, uint256 lo) {
        unchecked {
            lo = P_LO - yLo;
            hi = P_HI - yHi - (yLo > P_LO ? 1 : 0);
        }
    }

    function _sha256(bytes memory data) private view returns (bytes32 digest) {
        bytes memory out = _call(SHA256, data, 32);
        digest = bytes32(out);
    }

    function _call(address precompile, bytes memory input, uint256 outLength) private view returns (bytes memory out) {
        out = new bytes(outLength);
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), precompile, add(input, 32), mload(input), add(out, 32), outLength)
            // A precompile that succeeds returns exactly its output; anything shorter is a failure.
            if lt(returndatasize(), outLength) { ok := 0 }
        }
        if (!ok) revert BLSPrecompileFailed(precompile);
    }
}
