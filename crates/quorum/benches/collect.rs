//! The cost of committee signatures: one verification, a batch of 64, aggregating 64, and a
//! whole in-memory collection for committees of 4, 16 and 64 (every member's message fed
//! to one collector, until the quorum and until the last), and what a replayed copy of a
//! signature the collector already holds costs (a flooding member's every message).

use blst::min_pk::{PublicKey, SecretKey, Signature};
use claystack_primitives::{ReportId, ReportKind};
use claystack_quorum::bls::{self, SecretKeySigner};
use claystack_quorum::{Action, Collector, Config, Input, Persisted, Roster, SignatureMessage, SigningDomain};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use std::sync::Arc;

const ID: ReportId = ReportId { kind: ReportKind::Rewards, number: 1 };
const DOMAIN: SigningDomain = SigningDomain { chain_id: 17000, node_manager: [0x42; 20] };
const MERKLE_ROOT: [u8; 32] = [0xa0; 32];
const REPORT_HASH: [u8; 32] = [0x0b; 32];

fn secret(i: usize) -> SecretKey {
    let mut ikm = [0x51u8; 32];
    ikm[..8].copy_from_slice(&(i as u64).to_be_bytes());
    SecretKey::key_gen(&ikm, &[]).unwrap()
}

fn primitives(c: &mut Criterion) {
    let root = DOMAIN.signing_root(ID, &MERKLE_ROOT, &REPORT_HASH);
    let msg = root.as_bytes();
    let sks: Vec<SecretKey> = (0..64).map(secret).collect();
    let pks: Vec<PublicKey> = sks.iter().map(|sk| sk.sk_to_pk()).collect();
    let sigs: Vec<Signature> = sks.iter().map(|sk| bls::parse_signature(&bls::sign(sk, msg)).unwrap()).collect();
    let items: Vec<(&PublicKey, &Signature)> = pks.iter().zip(&sigs).collect();

    let mut g = c.benchmark_group("bls");
    g.bench_function("sign", |b| b.iter(|| bls::sign(&sks[0], black_box(msg))));
    g.bench_function("verify_1", |b| b.iter(|| assert!(bls::verify(&pks[0], black_box(msg), &sigs[0]))));
    g.bench_function("batch_verify_64", |b| b.iter(|| assert!(bls::batch_verify(black_box(msg), &items))));
    g.bench_function("aggregate_64_signatures", |b| b.iter(|| bls::aggregate_signatures(black_box(&sigs)).unwrap()));
    let agg = bls::aggregate_signatures(&sigs).unwrap();
    let refs: Vec<&PublicKey> = pks.iter().collect();
    g.bench_function("verify_aggregate_64", |b| b.iter(|| assert!(bls::verify_aggregate(&refs, black_box(msg), &agg))));
    let bytes: Vec<[u8; 96]> = sigs.iter().map(|s| s.to_bytes()).collect();
    g.bench_function("parse_signature", |b| b.iter(|| bls::parse_signature(black_box(&bytes[0])).unwrap()));
    g.finish();
}

struct Committee {
    roster: Arc<Roster>,
    messages: Vec<SignatureMessage>,
}

/// A committee of `n` with a majority threshold, and every member's message but member 0's
/// (member 0 runs the collector and signs its own).
fn committee(n: usize) -> Committee {
    let sks: Vec<SecretKey> = (0..n).map(secret).collect();
    let keys: Vec<[u8; 48]> = sks.iter().map(|sk| sk.sk_to_pk().to_bytes()).collect();
    let roster = Arc::new(Roster::new(DOMAIN, (n / 2 + 1) as u32, &keys).unwrap());
    let root = roster.signing_root(ID, &MERKLE_ROOT, &REPORT_HASH);
    let messages = (1..n)
        .map(|i| SignatureMessage {
            kind: ID.kind,
            number: ID.number,
            merkle_root: MERKLE_ROOT,
            report_hash: REPORT_HASH,
            signer: i as u16,
            signature: bls::sign(&sks[i], root.as_bytes()),
        })
        .collect();
    Committee { roster, messages }
}

/// One node's whole collection: sign its own, then take peers' messages until the quorum
/// (or until the last); returns the number of signers of the final certificate.
/// The default timings, without the fresh-store wait (every collector here starts empty).
fn config() -> Config {
    Config { fresh_wait_ms: 0, ..Config::default() }
}

fn collect(c: &Committee, until_all: bool) -> usize {
    let signer = SecretKeySigner::new(secret(0));
    let (mut col, _) = Collector::new(config(), c.roster.clone(), signer, 0, Persisted::default()).unwrap();
    col.handle(Input::Own { id: ID, merkle_root: MERKLE_ROOT, report_hash: REPORT_HASH }).unwrap();
    for m in &c.messages {
        let actions = col.handle(Input::Peer { member: m.signer, message: *m }).unwrap();
        if !until_all && actions.iter().any(|a| matches!(a, Action::QuorumReached(_))) {
            break;
        }
    }
    if until_all {
        // Signatures that arrive after the quorum are verified in one batch at the first
        // tick once the oldest has waited `late_verify_ms`.
        col.handle(Input::Tick { now_ms: Config::default().late_verify_ms }).unwrap();
    }
    col.certificate(ID).expect("quorum").signers.len()
}

fn collector(c: &mut Criterion) {
    let mut g = c.benchmark_group("collector");
    g.sample_size(20);
    for n in [4usize, 16, 64] {
        let committee = committee(n);
        assert_eq!(collect(&committee, false), n / 2 + 1);
        assert_eq!(collect(&committee, true), n);
        g.bench_with_input(BenchmarkId::new("until_quorum", n), &committee, |b, c| b.iter(|| collect(c, false)));
        g.bench_with_input(BenchmarkId::new("until_all", n), &committee, |b, c| b.iter(|| collect(c, true)));
    }
    // A copy of a verified signature, as a replaying member sends it again and again: a
    // lookup by its bytes, no decompression or subgroup check (bls/parse_signature).
    let committee = committee(16);
    let signer = SecretKeySigner::new(secret(0));
    let (mut col, _) = Collector::new(config(), committee.roster.clone(), signer, 0, Persisted::default()).unwrap();
    for m in &committee.messages {
        col.handle(Input::Peer { member: m.signer, message: *m }).unwrap();
    }
    col.handle(Input::Tick { now_ms: 1_000_000 }).unwrap();
    let copy = committee.messages[3];
    assert!(col.handle(Input::Peer { member: copy.signer, message: copy }).unwrap().is_empty());
    g.bench_function("replayed_copy_of_a_held_signature", |b| {
        b.iter(|| col.handle(Input::Peer { member: copy.signer, message: black_box(copy) }).unwrap())
    });
    g.finish();
}

criterion_group!(benches, primitives, collector);
criterion_main!(benches);
