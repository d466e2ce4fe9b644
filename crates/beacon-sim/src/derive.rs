//! Deterministic values derived from the seed: coin flips, roots, keys.
//!
//! Everything uses the SplitMix64 finaliser, which is cheap enough to call once
//! per validator per epoch at a million validators. None of it is cryptographic:
//! roots and keys only need to be stable, distinct and well-formed.

/// Domain tags, so that two uses of the same numbers never collide.
pub(crate) mod tag {
    pub const PERMUTATION: u64 = 1;
    pub const MISS: u64 = 2;
    pub const UNTRACKED: u64 = 3;
    pub const BLOCK_ROOT: u64 = 4;
    pub const STATE_ROOT: u64 = 5;
    pub const BODY_ROOT: u64 = 6;
    pub const EL_BLOCK_HASH: u64 = 7;
    pub const PUBKEY: u64 = 8;
    pub const PROPOSER: u64 = 9;
    pub const FILLER: u64 = 10;
    pub const FAULT: u64 = 11;
    pub const GENESIS: u64 = 12;
    pub const WITHDRAWAL: u64 = 13;
}

/// SplitMix64's output function: a bijective mix of 64 bits.
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of a seed, a domain tag and two numbers.
pub(crate) const fn h(seed: u64, tag: u64, a: u64, b: u64) -> u64 {
    mix(mix(mix(seed ^ tag.rotate_left(56)) ^ a) ^ b)
}

/// Whether a deterministic draw falls below `rate_bps` out of 10000.
pub(crate) const fn chance(seed: u64, tag: u64, a: u64, b: u64, rate_bps: u64) -> bool {
    rate_bps > 0 && h(seed, tag, a, b) % 10_000 < rate_bps
}

/// 32 filler bytes for (tag, x).
pub(crate) fn bytes32(seed: u64, tag: u64, x: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&h(seed, tag, x, i as u64).to_le_bytes());
    }
    out
}

/// A root that carries its slot in its last 8 bytes, so `0x<root>` identifiers
/// can be resolved without an index: the slot is read back and the root recomputed.
pub(crate) fn slot_root(seed: u64, tag: u64, slot: u64) -> [u8; 32] {
    let mut r = bytes32(seed, tag, slot);
    r[24..].copy_from_slice(&slot.to_be_bytes());
    r
}

/// The slot a [`slot_root`] of this tag names, if `root` is one.
pub(crate) fn slot_of_root(seed: u64, tag: u64, root: &[u8]) -> Option<u64> {
    let slot = u64::from_be_bytes(root.get(24..32)?.try_into().ok()?);
    (root.len() == 32 && slot_root(seed, tag, slot) == root).then_some(slot)
}

/// A validator's public key: 48 deterministic bytes shaped like a compressed BLS
/// G1 point (top bits `0b10`) that end with the index, so lookups by key are O(1).
/// They are not points on the curve.
pub(crate) fn pubkey(seed: u64, index: u64) -> [u8; 48] {
    let mut k = [0u8; 48];
    for (i, chunk) in k[..40].chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&h(seed, tag::PUBKEY, index, i as u64).to_le_bytes());
    }
    k[40..].copy_from_slice(&index.to_be_bytes());
    k[0] = 0x80 | (k[0] & 0x1f);
    k
}

/// The validator index a [`pubkey`] belongs to, if `key` is one of ours.
pub(crate) fn index_of_pubkey(seed: u64, key: &[u8]) -> Option<u64> {
    let index = u64::from_be_bytes(key.get(40..48)?.try_into().ok()?);
    (key.len() == 48 && pubkey(seed, index) == key).then_some(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_and_keys_resolve_back() {
        let r = slot_root(42, tag::BLOCK_ROOT, 12345);
        assert_eq!(slot_of_root(42, tag::BLOCK_ROOT, &r), Some(12345));
        assert_eq!(slot_of_root(42, tag::STATE_ROOT, &r), None);
        assert_eq!(slot_of_root(43, tag::BLOCK_ROOT, &r), None);
        let k = pubkey(42, 999_999);
        assert_eq!(index_of_pubkey(42, &k), Some(999_999));
        assert_eq!(index_of_pubkey(42, &k[..47]), None);
        assert_ne!(pubkey(42, 1), pubkey(42, 2));
    }

    #[test]
    fn chance_matches_rate() {
        let hits = (0..100_000u64).filter(|&v| chance(7, tag::MISS, v, 3, 2_500)).count();
        assert!((24_000..26_000).contains(&hits), "{hits}");
        assert!(!(0..1000u64).any(|v| chance(7, tag::MISS, v, 3, 0)));
        assert!((0..1000u64).all(|v| chance(7, tag::MISS, v, 3, 10_000)));
    }
}
