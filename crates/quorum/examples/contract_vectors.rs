//! Writes BLS vectors for the Solidity verifier: aggregate signatures over committee-style
//! messages with their public keys in the EIP-2537 layout, valid and invalid cases, and
//! hash-to-G2 points. Deterministic: keys come from fixed seeds.
//!
//! ```text
//! cargo run -p claystack-quorum --example contract_vectors -- contracts/test/vectors/blst.json
//! ```

use blst::min_pk::{SecretKey, Signature};
use claystack_merkle::keccak256;
use claystack_primitives::hex;
use claystack_primitives::{ReportId, ReportKind};
use claystack_quorum::bls::{self, SIG_DST};
use claystack_quorum::SigningDomain;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Serialize)]
struct Vectors {
    generator: &'static str,
    dst: String,
    cases: Vec<Case>,
    hash_to_g2: Vec<HashCase>,
}

#[derive(Serialize)]
struct Case {
    name: String,
    message: String,
    pubkeys: Vec<String>,
    signature: String,
    valid: bool,
}

#[derive(Serialize)]
struct HashCase {
    msg: String,
    point: String,
}

/// Member `i`'s key: EIP-2333 KeyGen of `keccak256("claystack-quorum/contract-vectors/" || i)`.
fn secret_key(i: u32) -> SecretKey {
    let mut seed = b"claystack-quorum/contract-vectors/".to_vec();
    seed.extend_from_slice(&i.to_be_bytes());
    SecretKey::key_gen(&keccak256(&seed), &[]).expect("32-byte ikm")
}

struct Key {
    sk: SecretKey,
    eip2537: String,
}

fn keys(n: u32) -> Vec<Key> {
    (0..n)
        .map(|i| {
            let sk = secret_key(i);
            let pk = sk.sk_to_pk().to_bytes();
            Key { sk, eip2537: hex::encode(&bls::g1_to_eip2537(&pk).expect("a valid key")) }
        })
        .collect()
}

/// The aggregate of `signers`' signatures of `message`, in the EIP-2537 layout.
fn aggregate(signers: &[&Key], message: &[u8]) -> [u8; 96] {
    let sigs: Vec<Signature> =
        signers.iter().map(|k| bls::parse_signature(&bls::sign(&k.sk, message)).expect("valid")).collect();
    bls::aggregate_signatures(&sigs).expect("not empty").to_bytes()
}

fn case(name: &str, message: &[u8], pubkeys: &[&Key], signature: [u8; 96], valid: bool) -> Case {
    // The stated verdict must be blst's: the aggregate of the listed keys checked against the signature.
    let pks: Vec<_> = pubkeys.iter().map(|k| k.sk.sk_to_pk()).collect();
    let refs: Vec<_> = pks.iter().collect();
    let sig = bls::parse_signature(&signature).expect("valid point");
    assert_eq!(bls::verify_aggregate(&refs, message, &sig), valid, "case {name}");
    Case {
        name: name.into(),
        message: hex::encode(message),
        pubkeys: pubkeys.iter().map(|k| k.eip2537.clone()).collect(),
        signature: hex::encode(&bls::g2_to_eip2537(&signature).expect("valid point")),
        valid,
    }
}

fn main() {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: contract_vectors <out.json>   (e.g. contracts/test/vectors/blst.json)");
        std::process::exit(2);
    };
    let all = keys(64);
    let k: Vec<&Key> = all.iter().collect();

    let single = keccak256(b"claystack-quorum contract vector: single signer");
    let domain = SigningDomain { chain_id: 31337, node_manager: [0x5f; 20] };
    let root = domain.signing_root(
        ReportId::new(ReportKind::Rewards, 1),
        &keccak256(b"merkle root"),
        &keccak256(b"report.json"),
    );
    let root = root.as_bytes();
    let mut wrong = *root;
    wrong[31] ^= 1;

    let cases = vec![
        case("single_signer", &single, &k[..1], aggregate(&k[..1], &single), true),
        case("aggregate_3_signing_root", root, &k[..3], aggregate(&k[..3], root), true),
        case("aggregate_64_signing_root", root, &k, aggregate(&k, root), true),
        case("invalid_wrong_message", &wrong, &k[..3], aggregate(&k[..3], root), false),
        case("invalid_signature_by_other_key", &single, &k[..1], aggregate(&k[1..2], &single), false),
        case("invalid_missing_signer", root, &k[..3], aggregate(&k[..2], root), false),
        case("invalid_extra_signer", root, &k[..2], aggregate(&k[..3], root), false),
    ];

    let messages: [&[u8]; 5] = [b"", b"abc", root, &[0u8; 32], &[b'q'; 128]];
    let hash_to_g2 = messages
        .iter()
        .map(|m| HashCase {
            msg: hex::encode(m),
            point: hex::encode(&bls::g2_to_eip2537(&bls::hash_to_g2(m)).expect("valid point")),
        })
        .collect();

    let vectors =
        Vectors { generator: "blst", dst: String::from_utf8(SIG_DST.to_vec()).expect("ASCII"), cases, hash_to_g2 };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    }
    let mut json = serde_json::to_string_pretty(&vectors).expect("serializes");
    json.push('\n');
    std::fs::write(&out, json).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
    println!(
        "wrote {} cases and {} hash_to_g2 points to {}",
        vectors.cases.len(),
        vectors.hash_to_g2.len(),
        out.display()
    );
}
