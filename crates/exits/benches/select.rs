//! The selection over a mainnet-sized registry: 1,000,000 protocol validators of 10,000
//! operators in 3 node types and 8 locations, picking 100 and 1,000 exits.

use claystack_exits::{select, Candidate, Status, Targets};
use claystack_rewards::Address;
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const VALIDATORS: u64 = 1_000_000;
const OPERATORS: u64 = 10_000;
const TYPES: [&str; 3] = ["ssv", "obol", "direct"];
const LOCATIONS: [&str; 8] = ["eu-w", "eu-c", "us-e", "us-w", "asia-e", "asia-s", "sa", "af"];

/// A fixed, skewed registry from a multiplicative hash of the index: a fifth of the validators
/// belong to ten large operators, the rest spread over all 10,000; type, location and score
/// from other bits of the hash; one validator in 50 already exiting.
fn registry() -> Vec<Candidate> {
    (0..VALIDATORS)
        .map(|i| {
            let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let o = if h % 5 == 0 { (h >> 40) % 10 } else { (h >> 40) % OPERATORS };
            let mut address = [0u8; 20];
            address[12..].copy_from_slice(&o.to_be_bytes());
            Candidate {
                validator: i,
                operator: Address(address),
                node_type: TYPES[(h >> 7) as usize % 3].into(),
                location: LOCATIONS[(h >> 17) as usize % 8].into(),
                score_bps: (h >> 33) as u32 % 10_001,
                status: if h % 50 == 0 { Status::Exiting } else { Status::Active },
                balance_gwei: 32_000_000_000,
            }
        })
        .collect()
}

fn targets() -> Targets {
    Targets {
        node_types: [("ssv", 4000), ("obol", 3000), ("direct", 3000)].map(|(t, b)| (t.to_string(), b)).into(),
        locations: LOCATIONS.iter().map(|l| (l.to_string(), 1250)).collect(),
        operators: Default::default(),
        operator_cap_bps: 100,
    }
}

fn bench(c: &mut Criterion) {
    let candidates = registry();
    let targets = targets();
    let mut group = c.benchmark_group("select");
    group.sample_size(10);
    for picks in [100u64, 1000] {
        group.bench_function(format!("1m_validators_{picks}_picks"), |b| {
            b.iter(|| black_box(select(black_box(&candidates), &targets, picks).unwrap().picks.len()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
