//! Building the rewards tree for 100,000 operators and every operator's proof.

use claystack_merkle::{StandardMerkleTree, Value, ADDRESS_AMOUNT_ENCODING};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const LEAVES: usize = 100_000;

fn values() -> Vec<Vec<Value>> {
    (0..LEAVES as u64)
        .map(|i| {
            let mut address = [0u8; 20];
            address[..8].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
            address[12..].copy_from_slice(&i.to_be_bytes());
            vec![Value::Address(address), Value::uint(u128::from(i) * 1_000_000_007_000_000_000)]
        })
        .collect()
}

fn build_and_prove_all(c: &mut Criterion) {
    let input = values();
    let mut group = c.benchmark_group("tree");
    group.sample_size(10);
    group.bench_function("of_and_all_proofs_100k", |b| {
        b.iter(|| {
            let tree = StandardMerkleTree::of(black_box(input.clone()), &ADDRESS_AMOUNT_ENCODING).unwrap();
            let proofs: usize = (0..tree.len()).map(|i| tree.proof(i).unwrap().len()).sum();
            black_box((tree.root(), proofs))
        })
    });
    let tree = StandardMerkleTree::of(input.clone(), &ADDRESS_AMOUNT_ENCODING).unwrap();
    group.bench_function("dump_100k", |b| b.iter(|| black_box(tree.dump())));
    let dump = tree.dump();
    group.bench_function("load_100k", |b| b.iter(|| black_box(StandardMerkleTree::load(&dump).unwrap())));
    group.finish();
}

criterion_group!(benches, build_and_prove_all);
criterion_main!(benches);
