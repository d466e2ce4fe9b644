//! Known answers from implementations independent of ours, written by
//! `tests/vectors/generate.py` (pycryptodome's keccak for the signing root; py_ecc 8.0.0
//! for keys, signatures, hash-to-G2 and the EIP-2537 coordinates).

use claystack_primitives::hex;
use claystack_primitives::{ReportId, ReportKind};
use claystack_quorum::bls::{self, SIG_DST};
use claystack_quorum::{SigningDomain, REPORT_DOMAIN, REPORT_DOMAIN_TAG};
use serde::Deserialize;

#[derive(Deserialize)]
struct SigningVectors {
    domain_tag: String,
    report_domain: String,
    cases: Vec<SigningCase>,
}

#[derive(Deserialize)]
struct SigningCase {
    chain_id: u64,
    node_manager: String,
    kind: u8,
    number: u64,
    merkle_root: String,
    report_hash: String,
    preimage: String,
    signing_root: String,
}

#[test]
fn signing_root_matches_pycryptodome() {
    let v: SigningVectors = serde_json::from_str(include_str!("vectors/signing_root.json")).unwrap();
    assert_eq!(v.domain_tag.as_bytes(), REPORT_DOMAIN_TAG);
    assert_eq!(hex::encode(&REPORT_DOMAIN), v.report_domain);
    assert_eq!(v.cases.len(), 2);
    for c in v.cases {
        let domain = SigningDomain { chain_id: c.chain_id, node_manager: hex::decode_fixed(&c.node_manager).unwrap() };
        let id = ReportId::new(ReportKind::from_byte(c.kind).unwrap(), c.number);
        let root = hex::decode_fixed::<32>(&c.merkle_root).unwrap();
        let hash = hex::decode_fixed::<32>(&c.report_hash).unwrap();
        assert_eq!(hex::encode(&domain.preimage(id, &root, &hash)), c.preimage);
        assert_eq!(hex::encode(domain.signing_root(id, &root, &hash).as_bytes()), c.signing_root);
    }
}

#[derive(Deserialize)]
struct Eip2537Vectors {
    dst: String,
    g1: Vec<Point>,
    g2: Vec<SignatureCase>,
    hash_to_g2: Vec<HashCase>,
}

#[derive(Deserialize)]
struct Point {
    compressed: String,
    eip2537: String,
}

#[derive(Deserialize)]
struct SignatureCase {
    secret_key: Option<String>,
    message: String,
    compressed: String,
    eip2537: String,
}

#[derive(Deserialize)]
struct HashCase {
    msg: String,
    compressed: String,
    eip2537: String,
}

fn vectors() -> Eip2537Vectors {
    serde_json::from_str(include_str!("vectors/eip2537.json")).unwrap()
}

#[test]
fn g1_encoding_matches_py_ecc() {
    let v = vectors();
    assert_eq!(v.g1.len(), 7, "six keys and the point at infinity");
    for p in v.g1 {
        let compressed = hex::decode_fixed::<48>(&p.compressed).unwrap();
        assert_eq!(hex::encode(&bls::g1_to_eip2537(&compressed).unwrap()), p.eip2537, "{}", p.compressed);
    }
}

#[test]
fn signatures_and_g2_encoding_match_py_ecc() {
    let v = vectors();
    assert_eq!(v.dst.as_bytes(), SIG_DST);
    let mut signed = 0;
    for s in v.g2 {
        let compressed = hex::decode_fixed::<96>(&s.compressed).unwrap();
        assert_eq!(hex::encode(&bls::g2_to_eip2537(&compressed).unwrap()), s.eip2537, "{}", s.compressed);
        if let Some(sk) = s.secret_key {
            let sk = blst::min_pk::SecretKey::from_bytes(&hex::decode_fixed::<32>(&sk).unwrap()).unwrap();
            assert_eq!(hex::encode(&bls::sign(&sk, &hex::decode(&s.message).unwrap())), s.compressed);
            signed += 1;
        }
    }
    assert_eq!(signed, 6);
}

#[test]
fn hash_to_g2_matches_py_ecc() {
    let v = vectors();
    assert_eq!(v.hash_to_g2.len(), 5);
    for h in v.hash_to_g2 {
        let msg = hex::decode(&h.msg).unwrap();
        assert_eq!(hex::encode(&bls::hash_to_g2(&msg)), h.compressed, "msg {}", h.msg);
        assert_eq!(hex::encode(&bls::g2_to_eip2537(&bls::hash_to_g2(&msg)).unwrap()), h.eip2537, "msg {}", h.msg);
    }
}
