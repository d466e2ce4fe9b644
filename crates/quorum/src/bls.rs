//! BLS12-381 helpers for committee signatures: blst `min_pk` (48-byte G1 public keys,
//! 96-byte G2 signatures) in the proof-of-possession ciphersuite, and the EIP-2537 point
//! layout the contract's precompiles take.
//!
//! Keys are checked once, when they are parsed ([`parse_public_key`]: on the curve, in the
//! subgroup, not infinity), and they are genesis keys registered with a proof of
//! possession, so aggregating them is safe against rogue keys. Signatures are checked for
//! the subgroup when parsed ([`parse_signature`]), so the verifying functions skip it.
//!
//! # Batch verification and where its randomness comes from
//!
//! [`batch_verify`] checks many (key, signature) pairs over one message with two pairings:
//! `e(g1, Σ rᵢ·sigᵢ) = e(Σ rᵢ·pkᵢ, H(m))` for random 128-bit `rᵢ`. Without the `rᵢ`, two
//! invalid signatures `s₁ + d` and `s₂ − d` would pass together. The `rᵢ` are derived by
//! hashing every input (message, keys, signatures), not taken from the OS: the crate stays
//! pure and every node reaches the same verdict on the same inputs. Because the attacker can
//! compute the derived `rᵢ` offline and grind signature bytes, the scalars are 128 bits (not
//! the 64 usual with fresh OS randomness): a forgery passes with probability about 2⁻¹²⁸ per
//! try. One message for all pairs is what makes this cheap: blst's
//! `verify_multiple_aggregate_signatures` pays a Miller loop per pair because it allows
//! different messages; here the same `H(m)` lets both sums collapse into one pairing each.

use blst::min_pk::{AggregatePublicKey, AggregateSignature, PublicKey, SecretKey, Signature};
use blst::BLST_ERROR;
use claystack_merkle::keccak256;
use claystack_primitives::hex;
use thiserror::Error;

use claystack_genesis::bls::describe_blst_error as describe;
pub use claystack_genesis::bls::{POP_DST, SIG_DST};

/// Compressed G1 public key.
pub const PUBLIC_KEY_LEN: usize = 48;
/// Compressed G2 signature.
pub const SIGNATURE_LEN: usize = 96;
/// EIP-2537 G1 point: `x || y`, each 16 zero bytes then 48 bytes big-endian.
pub const G1_EIP2537_LEN: usize = 128;
/// EIP-2537 G2 point: `x.c0 || x.c1 || y.c0 || y.c1`, each 64 bytes as for G1.
pub const G2_EIP2537_LEN: usize = 256;

/// Bits of each random scalar of [`batch_verify`] (see the module doc).
pub const BATCH_SCALAR_BITS: usize = 128;

const BATCH_TAG: &[u8] = b"claystack-quorum/batch-verify/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BlsError {
    /// Bytes that are not a valid compressed G1 public key (the reason says which check failed).
    #[error("invalid BLS public key: {0}")]
    PublicKey(&'static str),
    /// Bytes that are not a valid compressed G2 signature (the reason says which check failed).
    #[error("invalid BLS signature: {0}")]
    Signature(&'static str),
    /// An aggregate of no keys or no signatures was asked for.
    #[error("nothing to aggregate")]
    Empty,
}

/// A compressed public key, validated: on the curve, in the subgroup, not infinity.
pub fn parse_public_key(bytes: &[u8; PUBLIC_KEY_LEN]) -> Result<PublicKey, BlsError> {
    PublicKey::key_validate(bytes).map_err(|e| BlsError::PublicKey(describe(e)))
}

/// A compressed signature, validated: on the curve, in the subgroup, not infinity (no
/// member key is infinity, so no valid member signature is).
pub fn parse_signature(bytes: &[u8; SIGNATURE_LEN]) -> Result<Signature, BlsError> {
    Signature::sig_validate(bytes, true).map_err(|e| BlsError::Signature(describe(e)))
}

/// The compressed signature of `message` under [`SIG_DST`].
pub fn sign(sk: &SecretKey, message: &[u8]) -> [u8; SIGNATURE_LEN] {
    sk.sign(message, SIG_DST, &[]).to_bytes()
}

/// True if `sig` is `pk`'s signature of `message` under [`SIG_DST`]. Both were validated
/// when parsed.
pub fn verify(pk: &PublicKey, message: &[u8], sig: &Signature) -> bool {
    sig.verify(false, message, SIG_DST, &[], pk, false) == BLST_ERROR::BLST_SUCCESS
}

/// [`verify`] on compressed bytes; false if either does not parse.
pub fn verify_bytes(pk: &[u8; PUBLIC_KEY_LEN], message: &[u8], sig: &[u8; SIGNATURE_LEN]) -> bool {
    match (parse_public_key(pk), parse_signature(sig)) {
        (Ok(pk), Ok(sig)) => verify(&pk, message, &sig),
        _ => false,
    }
}

/// The G2 sum of `sigs`. Independent of their order.
pub fn aggregate_signatures(sigs: &[Signature]) -> Result<Signature, BlsError> {
    let refs: Vec<&Signature> = sigs.iter().collect();
    AggregateSignature::aggregate(&refs, false).map(|a| a.to_signature()).map_err(|_| BlsError::Empty)
}

/// The G1 sum of `pks`: what an aggregate of their signatures over one message verifies against.
pub fn aggregate_public_keys(pks: &[&PublicKey]) -> Result<PublicKey, BlsError> {
    AggregatePublicKey::aggregate(pks, false).map(|a| a.to_public_key()).map_err(|_| BlsError::Empty)
}

/// True if `aggregate` is the sum of the signatures of `message` by every key of `pks`.
pub fn verify_aggregate(pks: &[&PublicKey], message: &[u8], aggregate: &Signature) -> bool {
    match aggregate_public_keys(pks) {
        Ok(pk) => verify(&pk, message, aggregate),
        Err(_) => false,
    }
}

/// True if every signature in `items` is its key's signature of `message`, checked together
/// with random linear combinations (see the module doc). An empty batch is true.
pub fn batch_verify(message: &[u8], items: &[(&PublicKey, &Signature)]) -> bool {
    match items {
        [] => true,
        [(pk, sig)] => verify(pk, message, sig),
        _ => {
            let scalars = batch_scalars(message, items);
            let pks: Vec<PublicKey> = items.iter().map(|(pk, _)| **pk).collect();
            let sigs: Vec<Signature> = items.iter().map(|(_, sig)| **sig).collect();
            let (Ok(pk), Ok(sig)) = (
                AggregatePublicKey::aggregate_with_randomness(&pks, &scalars, BATCH_SCALAR_BITS, false),
                AggregateSignature::aggregate_with_randomness(&sigs, &scalars, BATCH_SCALAR_BITS, false),
            ) else {
                return false;
            };
            verify(&pk.to_public_key(), message, &sig.to_signature())
        }
    }
}

/// Indices (ascending) of the pairs in `items` whose signature is not valid, found by
/// bisection with [`batch_verify`]: one batch when all are valid, about `2·log₂(n)` batches
/// per bad signature otherwise.
pub fn find_invalid(message: &[u8], items: &[(&PublicKey, &Signature)]) -> Vec<usize> {
    let mut bad = Vec::new();
    bisect(message, items, 0, &mut bad);
    bad
}

fn bisect(message: &[u8], items: &[(&PublicKey, &Signature)], offset: usize, bad: &mut Vec<usize>) {
    if batch_verify(message, items) {
        return;
    }
    if items.len() == 1 {
        bad.push(offset);
        return;
    }
    let mid = items.len() / 2;
    bisect(message, &items[..mid], offset, bad);
    bisect(message, &items[mid..], offset + mid, bad);
}

/// `n` little-endian 128-bit scalars, odd (so never zero), from a hash of every input.
fn batch_scalars(message: &[u8], items: &[(&PublicKey, &Signature)]) -> Vec<u8> {
    let mut transcript = Vec::with_capacity(BATCH_TAG.len() + 8 + message.len() + items.len() * 144);
    transcript.extend_from_slice(BATCH_TAG);
    transcript.extend_from_slice(&(message.len() as u64).to_be_bytes());
    transcript.extend_from_slice(message);
    for (pk, sig) in items {
        transcript.extend_from_slice(&pk.to_bytes());
        transcript.extend_from_slice(&sig.to_bytes());
    }
    let seed = keccak256(&transcript);
    let mut scalars = Vec::with_capacity(items.len() * 16);
    for i in 0..items.len() as u64 {
        let mut input = [0u8; 40];
        input[..32].copy_from_slice(&seed);
        input[32..].copy_from_slice(&i.to_be_bytes());
        let h = keccak256(&input);
        scalars.extend_from_slice(&h[..16]);
        let last = scalars.len() - 16;
        scalars[last] |= 1;
    }
    scalars
}

/// `hash_to_curve(message)` in G2 under [`SIG_DST`], compressed: the point the contract
/// pairs with the aggregate key. It is the signature of `message` by the secret key 1.
pub fn hash_to_g2(message: &[u8]) -> [u8; SIGNATURE_LEN] {
    let mut one = [0u8; 32];
    one[31] = 1;
    let sk = SecretKey::from_bytes(&one).expect("1 is a valid secret key");
    sign(&sk, message)
}

fn pad_fp(out: &mut [u8], fp_be: &[u8]) {
    debug_assert_eq!((out.len(), fp_be.len()), (64, 48));
    out[..16].fill(0);
    out[16..].copy_from_slice(fp_be);
}

/// A compressed G1 point (on the curve; not checked for the subgroup) in the EIP-2537
/// layout; the point at infinity is 128 zero bytes.
pub fn g1_to_eip2537(compressed: &[u8; PUBLIC_KEY_LEN]) -> Result<[u8; G1_EIP2537_LEN], BlsError> {
    let pk = PublicKey::from_bytes(compressed).map_err(|e| BlsError::PublicKey(describe(e)))?;
    let raw = pk.serialize(); // x || y, 48 bytes each, flags in the top bits of byte 0
    let mut out = [0u8; G1_EIP2537_LEN];
    if raw[0] & 0x40 != 0 {
        return Ok(out);
    }
    pad_fp(&mut out[..64], &raw[..48]);
    pad_fp(&mut out[64..], &raw[48..]);
    Ok(out)
}

/// The compressed form of a G1 point in the EIP-2537 layout (what the NodeManager stores and
/// returns for each member), validated as a public key: each coordinate's 16 padding bytes
/// zero, on the curve, in the subgroup, not infinity.
pub fn g1_from_eip2537(point: &[u8; G1_EIP2537_LEN]) -> Result<[u8; PUBLIC_KEY_LEN], BlsError> {
    if point[..16].iter().chain(&point[64..80]).any(|&b| b != 0) {
        return Err(BlsError::PublicKey("a coordinate's 16 padding bytes are not zero"));
    }
    let mut raw = [0u8; 96];
    raw[..48].copy_from_slice(&point[16..64]);
    raw[48..].copy_from_slice(&point[80..]);
    let pk = PublicKey::deserialize(&raw).map_err(|e| BlsError::PublicKey(describe(e)))?;
    pk.validate().map_err(|e| BlsError::PublicKey(describe(e)))?;
    Ok(pk.compress())
}

/// A compressed G2 point (on the curve; not checked for the subgroup) in the EIP-2537
/// layout `x.c0 || x.c1 || y.c0 || y.c1`; the point at infinity is 256 zero bytes.
pub fn g2_to_eip2537(compressed: &[u8; SIGNATURE_LEN]) -> Result<[u8; G2_EIP2537_LEN], BlsError> {
    let sig = Signature::from_bytes(compressed).map_err(|e| BlsError::Signature(describe(e)))?;
    // blst (like the ZCash format) writes each Fp2 element imaginary part first:
    // x.c1 || x.c0 || y.c1 || y.c0. EIP-2537 wants the real part first.
    let raw = sig.serialize();
    let mut out = [0u8; G2_EIP2537_LEN];
    if raw[0] & 0x40 != 0 {
        return Ok(out);
    }
    pad_fp(&mut out[..64], &raw[48..96]); // x.c0
    pad_fp(&mut out[64..128], &raw[..48]); // x.c1
    pad_fp(&mut out[128..192], &raw[144..192]); // y.c0
    pad_fp(&mut out[192..], &raw[96..144]); // y.c1
    Ok(out)
}

/// A signer of committee reports: the collector holds one and calls it only after it has
/// decided that signing cannot equivocate. Signing is deterministic, so holding the key as
/// data keeps the collector pure.
pub trait Signer {
    /// The compressed public key, as registered in genesis.
    fn public_key(&self) -> [u8; PUBLIC_KEY_LEN];
    /// The signature of a 32-byte signing root under [`SIG_DST`].
    fn sign(&self, message: &[u8; 32]) -> [u8; SIGNATURE_LEN];
}

/// A [`Signer`] over a secret key in memory. `Debug` never shows the key.
pub struct SecretKeySigner {
    sk: SecretKey,
    pk: [u8; PUBLIC_KEY_LEN],
}

impl SecretKeySigner {
    pub fn new(sk: SecretKey) -> SecretKeySigner {
        let pk = sk.sk_to_pk().to_bytes();
        SecretKeySigner { sk, pk }
    }

    /// From a 32-byte big-endian secret scalar; `None` if it is zero or not below the group order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<SecretKeySigner> {
        claystack_genesis::bls::secret_key(bytes).map(SecretKeySigner::new)
    }
}

impl std::fmt::Debug for SecretKeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKeySigner").field("public_key", &hex::encode(&self.pk)).finish_non_exhaustive()
    }
}

impl Signer for SecretKeySigner {
    fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.pk
    }

    fn sign(&self, message: &[u8; 32]) -> [u8; SIGNATURE_LEN] {
        sign(&self.sk, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u8) -> SecretKey {
        SecretKey::key_gen(&[i; 32], &[]).unwrap()
    }

    #[test]
    fn sign_verify_and_aggregate() {
        let msg = [9u8; 32];
        let sks: Vec<SecretKey> = (1..=5).map(key).collect();
        let pks: Vec<PublicKey> = sks.iter().map(|s| s.sk_to_pk()).collect();
        let sigs: Vec<Signature> = sks.iter().map(|s| parse_signature(&sign(s, &msg)).unwrap()).collect();
        for (pk, sig) in pks.iter().zip(&sigs) {
            assert!(verify(pk, &msg, sig));
            assert!(!verify(pk, &[8u8; 32], sig));
        }
        assert!(!verify(&pks[0], &msg, &sigs[1]));
        let agg = aggregate_signatures(&sigs).unwrap();
        let refs: Vec<&PublicKey> = pks.iter().collect();
        assert!(verify_aggregate(&refs, &msg, &agg));
        assert!(!verify_aggregate(&refs[..4], &msg, &agg));
        let mut reversed = sigs.clone();
        reversed.reverse();
        assert_eq!(aggregate_signatures(&reversed).unwrap().to_bytes(), agg.to_bytes());
        assert_eq!(aggregate_signatures(&[]), Err(BlsError::Empty));
    }

    #[test]
    fn batch_catches_cancelling_forgeries_and_finds_them() {
        let msg = [5u8; 32];
        let sks: Vec<SecretKey> = (1..=8).map(key).collect();
        let pks: Vec<PublicKey> = sks.iter().map(|s| s.sk_to_pk()).collect();
        let mut sigs: Vec<Signature> = sks.iter().map(|s| parse_signature(&sign(s, &msg)).unwrap()).collect();
        let items = |sigs: &[Signature]| -> Vec<(PublicKey, Signature)> {
            pks.iter().copied().zip(sigs.iter().copied()).collect()
        };
        fn refs(v: &[(PublicKey, Signature)]) -> Vec<(&PublicKey, &Signature)> {
            v.iter().map(|(p, s)| (p, s)).collect()
        }
        let good = items(&sigs);
        assert!(batch_verify(&msg, &refs(&good)));
        assert!(find_invalid(&msg, &refs(&good)).is_empty());

        // s2 + d and s5 - d: the plain sum still verifies, the randomized batch does not.
        let d = parse_signature(&sign(&key(99), &msg)).unwrap();
        let neg_d = {
            let mut bytes = d.to_bytes();
            bytes[0] ^= 0x20; // flip the sign bit of the compressed point: -d
            parse_signature(&bytes).unwrap()
        };
        sigs[2] = aggregate_signatures(&[sigs[2], d]).unwrap();
        sigs[5] = aggregate_signatures(&[sigs[5], neg_d]).unwrap();
        let forged = items(&sigs);
        let all_pks: Vec<&PublicKey> = pks.iter().collect();
        assert!(verify_aggregate(&all_pks, &msg, &aggregate_signatures(&sigs).unwrap()));
        assert!(!batch_verify(&msg, &refs(&forged)));
        assert_eq!(find_invalid(&msg, &refs(&forged)), vec![2, 5]);
    }

    #[test]
    fn parsing_rejects_garbage_and_infinity() {
        let mut inf_pk = [0u8; 48];
        inf_pk[0] = 0xc0;
        assert_eq!(parse_public_key(&inf_pk).unwrap_err(), BlsError::PublicKey("the point at infinity"));
        assert!(parse_public_key(&[0u8; 48]).is_err());
        let mut inf_sig = [0u8; 96];
        inf_sig[0] = 0xc0;
        assert!(parse_signature(&inf_sig).is_err());
        assert!(parse_signature(&[0xab; 96]).is_err());
        assert_eq!(g1_to_eip2537(&inf_pk).unwrap(), [0u8; 128]);
        assert!(g1_from_eip2537(&[0u8; 128]).is_err(), "infinity is not a public key");
        assert_eq!(g2_to_eip2537(&inf_sig).unwrap(), [0u8; 256]);
    }

    #[test]
    fn signer_matches_free_functions() {
        let s = SecretKeySigner::new(key(3));
        assert_eq!(s.public_key(), key(3).sk_to_pk().to_bytes());
        assert!(verify_bytes(&s.public_key(), &[1; 32], &s.sign(&[1; 32])));
        assert!(!format!("{s:?}").contains(&format!("{:?}", key(3).to_bytes())));
    }

    #[test]
    fn g1_from_eip2537_inverts_g1_to_eip2537() {
        for i in 1..=4u8 {
            let pk = SecretKeySigner::from_bytes(&[i; 32]).unwrap().public_key();
            let point = g1_to_eip2537(&pk).unwrap();
            assert_eq!(g1_from_eip2537(&point).unwrap(), pk);
            let mut padded = point;
            padded[3] = 1;
            assert!(g1_from_eip2537(&padded).is_err(), "non-zero padding");
            let mut off_curve = point;
            off_curve[127] ^= 1;
            assert!(g1_from_eip2537(&off_curve).is_err(), "off the curve");
        }
    }
}
