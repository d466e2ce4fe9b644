//! Decoding the two hot responses at mainnet size: an Electra block and 10k attester duties.
//!
//! The block is shaped like a full mainnet Electra block at ~1M active validators:
//! 8 aggregates each covering all 64 committees of a slot (64 x 488 bits, ~8 KB
//! of hex apiece), 200 transactions of 500 bytes, 16 withdrawals, full sync
//! aggregate. A Deneb block with 128 single-committee aggregates is measured too.

use claystack_beacon::parse;
use claystack_primitives::{hex, Bitlist, Bitvector};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};

fn bytes(seed: u64, n: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v: Vec<u8> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    hex::encode(&v)
}

fn attestation(i: u64, committees: usize, bits_per_committee: usize, electra: bool) -> Value {
    let mut bits = Bitlist::zeros(committees * bits_per_committee);
    for b in 0..bits.len() {
        bits.set(b, !(b as u64 * 7 + i).is_multiple_of(10));
    }
    let mut a = json!({
        "aggregation_bits": bits.to_hex(),
        "data": {
            "slot": (11_651_232 - i % 3).to_string(),
            "index": if electra { "0".to_string() } else { (i % 64).to_string() },
            "beacon_block_root": bytes(i, 32),
            "source": {"epoch": "364099", "root": bytes(1, 32)},
            "target": {"epoch": "364100", "root": bytes(2, 32)}
        },
        "signature": bytes(100 + i, 96)
    });
    if electra {
        let mut cb = Bitvector::zeros(64);
        for c in 0..committees {
            cb.set(c, true);
        }
        a["committee_bits"] = Value::String(cb.to_hex());
    }
    a
}

fn block(version: &str, attestations: Vec<Value>) -> Vec<u8> {
    let txs: Vec<String> = (0..200).map(|i| bytes(1000 + i, 500)).collect();
    let withdrawals: Vec<Value> = (0..16)
        .map(|i| json!({"index": (90_000_000 + i).to_string(), "validator_index": (i * 1000).to_string(), "address": bytes(i, 20), "amount": "18000000"}))
        .collect();
    let mut body = json!({
        "randao_reveal": bytes(3, 96),
        "eth1_data": {"deposit_root": bytes(4, 32), "deposit_count": "1900000", "block_hash": bytes(5, 32)},
        "graffiti": bytes(6, 32),
        "proposer_slashings": [], "attester_slashings": [],
        "attestations": attestations,
        "deposits": [], "voluntary_exits": [],
        "sync_aggregate": {"sync_committee_bits": bytes(7, 64), "sync_committee_signature": bytes(8, 96)},
        "execution_payload": {
            "parent_hash": bytes(9, 32), "fee_recipient": bytes(10, 20), "state_root": bytes(11, 32),
            "receipts_root": bytes(12, 32), "logs_bloom": bytes(13, 256), "prev_randao": bytes(14, 32),
            "block_number": "22430000", "gas_limit": "36000000", "gas_used": "17000000", "timestamp": "1746612311",
            "extra_data": "0x6265617665726275696c642e6f7267", "base_fee_per_gas": "1234567890",
            "block_hash": bytes(15, 32), "transactions": txs, "withdrawals": withdrawals,
            "blob_gas_used": "786432", "excess_blob_gas": "0"
        },
        "bls_to_execution_changes": [],
        "blob_kzg_commitments": (0..6).map(|i| bytes(50 + i, 48)).collect::<Vec<_>>()
    });
    if version == "electra" {
        body["execution_requests"] = json!({"deposits": [], "withdrawals": [], "consolidations": []});
    }
    serde_json::to_vec(&json!({
        "version": version, "execution_optimistic": false, "finalized": true,
        "data": {"message": {"slot": "11651233", "proposer_index": "424242", "parent_root": bytes(16, 32),
                 "state_root": bytes(17, 32), "body": body}, "signature": bytes(18, 96)}
    }))
    .unwrap()
}

fn duties(n: u64) -> Vec<u8> {
    let data: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "pubkey": bytes(i, 48), "validator_index": (i * 97).to_string(), "committee_index": (i % 64).to_string(),
                "committee_length": "488", "committees_at_slot": "64",
                "validator_committee_index": (i % 488).to_string(), "slot": (11_651_232 + i % 32).to_string()
            })
        })
        .collect();
    serde_json::to_vec(&json!({"dependent_root": bytes(19, 32), "execution_optimistic": false, "data": data})).unwrap()
}

/// The first full block of a real Holesky node's recorded answers (tests/fixtures/real), its
/// envelope put back together as the node sent it (compact JSON, as nodes serve it).
fn real_deneb_block() -> Vec<u8> {
    let path = format!("{}/tests/fixtures/real/lido-oracle/holesky-deneb-blocks.cl.json", env!("CARGO_MANIFEST_DIR"));
    let recorded: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let entry = recorded
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["url"].as_str().unwrap().contains("eth/v2/beacon/blocks/"))
        .unwrap();
    let mut answer = entry["response"][1].clone();
    answer["data"] = entry["response"][0].clone();
    serde_json::to_vec(&answer).unwrap()
}

fn bench(c: &mut Criterion) {
    let real = real_deneb_block();
    assert_eq!(parse::block(&real, None, 64).unwrap().withdrawals.len(), 16);
    let electra = block("electra", (0..8).map(|i| attestation(i, 64, 488, true)).collect());
    let deneb = block("deneb", (0..128).map(|i| attestation(i, 1, 488, false)).collect());
    let duties = duties(10_000);
    assert_eq!(parse::block(&electra, None, 64).unwrap().attestations[0].aggregation_bits.len(), 64 * 488);
    assert_eq!(parse::block(&deneb, None, 64).unwrap().attestations.len(), 128);
    assert_eq!(parse::attester_duties(&duties).unwrap().duties.len(), 10_000);

    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(electra.len() as u64));
    g.bench_function(format!("electra_block_{}KB", electra.len() / 1024), |b| {
        b.iter(|| parse::block(&electra, None, 64).unwrap())
    });
    g.throughput(Throughput::Bytes(deneb.len() as u64));
    g.bench_function(format!("deneb_block_{}KB", deneb.len() / 1024), |b| {
        b.iter(|| parse::block(&deneb, None, 64).unwrap())
    });
    g.throughput(Throughput::Bytes(real.len() as u64));
    g.bench_function(format!("real_holesky_deneb_block_{}KB", real.len() / 1024), |b| {
        b.iter(|| parse::block(&real, None, 64).unwrap())
    });
    g.throughput(Throughput::Bytes(duties.len() as u64));
    g.bench_function(format!("duties_10k_{}KB", duties.len() / 1024), |b| {
        b.iter(|| parse::attester_duties(&duties).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
