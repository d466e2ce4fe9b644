//! BLS12-381 as Ethereum uses it: blst `min_pk` (48-byte G1 public keys, 96-byte G2
//! signatures) with the proof-of-possession ciphersuite.
//!
//! A proof of possession is the signature of the member's own compressed public key
//! under the PoP domain tag. Registering keys only with a valid proof stops a rogue
//! member from choosing a key that cancels the others' in an aggregate.

use blst::min_pk::{PublicKey, SecretKey, Signature};
use blst::BLST_ERROR;

/// Domain tag of proofs of possession (the `POP_` ciphersuite's PopProve).
pub const POP_DST: &[u8] = b"BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

/// Domain tag of ordinary signatures in the same ciphersuite (used for reports).
pub const SIG_DST: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

/// Reads a 32-byte big-endian secret scalar; `None` if it is zero or not below the group order.
pub fn secret_key(bytes: &[u8; 32]) -> Option<SecretKey> {
    SecretKey::from_bytes(bytes).ok()
}

/// The compressed public key of `sk`.
pub fn public_key(sk: &SecretKey) -> [u8; 48] {
    sk.sk_to_pk().to_bytes()
}

/// The proof of possession of `sk`: its signature of its own compressed public key.
pub fn pop_sign(sk: &SecretKey) -> [u8; 96] {
    let pk = sk.sk_to_pk().to_bytes();
    sk.sign(&pk, POP_DST, &[]).to_bytes()
}

/// Checks a public key: a valid compressed G1 point in the subgroup and not the point at infinity.
pub fn pubkey_check(pk: &[u8; 48]) -> Result<(), String> {
    PublicKey::key_validate(pk).map(|_| ()).map_err(|e| describe_blst_error(e).to_string())
}

/// True if `pop` is a valid proof of possession for `pk` (the key is validated too).
pub fn pop_verify(pk: &[u8; 48], pop: &[u8; 96]) -> bool {
    let Ok(key) = PublicKey::key_validate(pk) else { return false };
    let Ok(sig) = Signature::sig_validate(pop, true) else { return false };
    sig.verify(true, pk, POP_DST, &[], &key, true) == BLST_ERROR::BLST_SUCCESS
}

/// What blst's verdict on a point means, as words for an error message ("invalid public
/// key: …"). The one place that turns `BLST_ERROR` into text; `claystack-quorum` and
/// `claystack-keys` use it too.
pub fn describe_blst_error(e: BLST_ERROR) -> &'static str {
    match e {
        BLST_ERROR::BLST_SUCCESS => "valid",
        BLST_ERROR::BLST_BAD_ENCODING => "not a compressed point encoding",
        BLST_ERROR::BLST_POINT_NOT_ON_CURVE => "not a point on the curve",
        BLST_ERROR::BLST_POINT_NOT_IN_GROUP => "not in the prime-order subgroup",
        BLST_ERROR::BLST_AGGR_TYPE_MISMATCH => "a point of the wrong group for this aggregate",
        BLST_ERROR::BLST_VERIFY_FAIL => "a signature that does not verify",
        BLST_ERROR::BLST_PK_IS_INFINITY => "the point at infinity",
        BLST_ERROR::BLST_BAD_SCALAR => "not a valid scalar (zero or not below the group order)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use claystack_primitives::hex;

    /// Known answer from py_ecc 's `G2ProofOfPossession` (an independent implementation):
    /// `SkToPk(sk)` and `PopProve(sk)` for the secret key of the consensus-spec BLS test vectors.
    #[test]
    fn pop_known_answer_py_ecc() {
        let sk = hex::decode_fixed::<32>("0x263dbd792f5b1be47ed85f8938c0f29586af0d3ac7b977f21c278fe1462040e3").unwrap();
        let sk = secret_key(&sk).unwrap();
        let pk = public_key(&sk);
        assert_eq!(
            hex::encode(&pk),
            "0xa491d1b0ecd9bb917989f0e74f0dea0422eac4a873e5e2644f368dffb9a6e20fd6e10c1b77654d067c0618f6e5a7f79a"
        );
        let pop = pop_sign(&sk);
        assert_eq!(
            hex::encode(&pop),
            "0xb803eb0ed93ea10224a73b6b9c725796be9f5fefd215ef7a5b97234cc956cf6870db6127b7e4d824ec62276078e787db\
             05584ce1adbf076bc0808ca0f15b73d59060254b25393d95dfc7abe3cda566842aaedf50bbb062aae1bbb6ef3b1f77e1"
        );
        assert!(pop_verify(&pk, &pop));
    }

    #[test]
    fn pop_rejects_wrong_key_infinity_and_garbage() {
        let a = secret_key(&[1; 32]).unwrap();
        let b = secret_key(&[2; 32]).unwrap();
        let (pa, pb) = (public_key(&a), public_key(&b));
        assert!(pop_verify(&pa, &pop_sign(&a)));
        assert!(!pop_verify(&pb, &pop_sign(&a)));
        // A plain signature of the key under the other tag is not a proof of possession.
        let wrong_dst = a.sign(&pa, SIG_DST, &[]).to_bytes();
        assert!(!pop_verify(&pa, &wrong_dst));
        let mut infinity = [0u8; 48];
        infinity[0] = 0xc0;
        assert_eq!(pubkey_check(&infinity), Err("the point at infinity".into()));
        assert!(pubkey_check(&[0u8; 48]).is_err());
        assert!(pubkey_check(&[0xab; 48]).is_err());
        assert!(!pop_verify(&infinity, &pop_sign(&a)));
        assert!(!pop_verify(&pa, &[0u8; 96]));
        assert!(secret_key(&[0u8; 32]).is_none());
        assert!(secret_key(&[0xff; 32]).is_none());
    }
}
