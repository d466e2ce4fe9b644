//! Keccak-256 and the two hashes of OpenZeppelin's standard tree: the double-hashed leaf
//! and the sorted-pair node (the node hash `MerkleProof.sol` recomputes on chain).

use tiny_keccak::{Hasher, Keccak};

/// A 32-byte hash: a tree node, a leaf or a root.
pub type Hash = [u8; 32];

pub fn keccak256(data: &[u8]) -> Hash {
    let mut out = [0u8; 32];
    let mut k = Keccak::v256();
    k.update(data);
    k.finalize(&mut out);
    out
}

/// `keccak256(bytes.concat(keccak256(abi.encode(...))))`: the inner hash is hashed again so
/// that a 64-byte leaf can never be mistaken for an internal node (second-preimage defence).
pub fn leaf_hash_of_encoded(abi_encoded: &[u8]) -> Hash {
    keccak256(&keccak256(abi_encoded))
}

/// OpenZeppelin's `_hashPair`: the smaller hash first, so proofs need no left/right flags.
pub fn hash_pair(a: &Hash, b: &Hash) -> Hash {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut out = [0u8; 32];
    let mut k = Keccak::v256();
    k.update(lo);
    k.update(hi);
    k.finalize(&mut out);
    out
}

/// `MerkleProof.processProof`: folds the proof into the leaf.
pub fn process_proof(leaf: &Hash, proof: &[Hash]) -> Hash {
    proof.iter().fold(*leaf, |acc, sibling| hash_pair(&acc, sibling))
}

/// `MerkleProof.verify`: whether `proof` takes `leaf` to `root`.
pub fn verify(root: &Hash, leaf: &Hash, proof: &[Hash]) -> bool {
    process_proof(leaf, proof) == *root
}

/// `0x`-prefixed lowercase hex, the form OpenZeppelin writes hashes in (its `load` compares
/// hashes as strings, so the case matters there).
pub fn to_hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// Parses `0x`-prefixed hex of exactly `N` bytes, either case.
pub fn from_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keccak_of_empty_input() {
        assert_eq!(to_hex(&keccak256(b"")), "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    }

    #[test]
    fn pair_hash_is_symmetric() {
        let a = keccak256(b"a");
        let b = keccak256(b"b");
        assert_eq!(hash_pair(&a, &b), hash_pair(&b, &a));
    }

    #[test]
    fn hex_round_trip_and_rejects_wrong_length() {
        let h = keccak256(b"x");
        assert_eq!(from_hex::<32>(&to_hex(&h)), Some(h));
        assert_eq!(from_hex::<32>(&to_hex(&h).to_uppercase().replacen("0X", "0x", 1)), Some(h));
        assert_eq!(from_hex::<20>(&to_hex(&h)), None);
        assert_eq!(from_hex::<32>(&hex::encode(h)), None, "the 0x prefix is required");
    }
}
