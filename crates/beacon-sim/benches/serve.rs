//! What one epoch costs the simulator at mainnet shape (1M validators, 10k
//! tracked): the duties answer for the tracked validators plus the epoch's 32
//! blocks, rendered to JSON, as the oracle's catch-up asks for them.
//!
//! `warm`: the same epoch again (plans cached). `first_visit`: epochs 1, 2, 3, …
//! each rendered for the first time, so the cost includes planning the epoch.

use claystack_beacon_sim::{BeaconModel, Scenario};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::time::{Duration, Instant};

const HEAD_EPOCH: u64 = 100;

fn chain(extra: &str) -> BeaconModel {
    chain_to(HEAD_EPOCH, extra)
}

/// The mainnet bench scenario with its head at the last slot of `head_epoch`.
fn chain_to(head_epoch: u64, extra: &str) -> BeaconModel {
    let toml = format!(
        "seed = 1\npreset = \"mainnet\"\nvalidators = 1000000\ntracked = [\"0-9999\"]\nhead_epoch = {head_epoch}\n{extra}\
         missed_slots = [100, 777, 1500, 2222]\n[[late]]\nvalidators = [\"5-50\"]\ndelay = 3\n\
         [[offline]]\nvalidators = [\"100-199\"]\nfrom_epoch = 0\nto_epoch = 1000\n"
    );
    BeaconModel::new(Scenario::from_toml(&toml).unwrap()).unwrap()
}

/// Duties of the tracked validators and the 32 blocks of `epoch`; returns bytes rendered.
fn render_epoch(c: &BeaconModel, epoch: u64) -> usize {
    let head = c.initial_head_slot();
    let mut bytes = c.duties_json(epoch, c.tracked(), head).unwrap().len();
    let spec = c.spec();
    for slot in spec.first_slot(epoch)..=spec.last_slot(epoch) {
        if c.has_block(slot) {
            bytes += c.block_json(slot, head).1.len();
        }
    }
    bytes
}

fn bench(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("epoch_duties_and_32_blocks_mainnet_1M");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(1));
    for (name, extra) in [("quiet", ""), ("untracked_miss_1pct", "untracked_miss_rate_bps = 100\n")] {
        let c = chain(extra);
        render_epoch(&c, 50);
        g.bench_function(format!("warm/{name}"), |b| b.iter(|| black_box(render_epoch(&c, 50))));
        g.bench_function(format!("first_visit/{name}"), |b| {
            let mut c = chain(extra);
            let mut epoch = 1;
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    if epoch >= HEAD_EPOCH {
                        c = chain(extra);
                        epoch = 1;
                    }
                    let t = Instant::now();
                    black_box(render_epoch(&c, epoch));
                    total += t.elapsed();
                    epoch += 1;
                }
                total
            })
        });
    }
    g.finish();

    // The validators answer (balances included) for the 10,000 tracked validators at the
    // first slot of epoch 1600, as the oracle reads a frame's end. 146 of them are named by
    // rules (offline 100-199, late 5-50) and walked; the rest are closed form. `cold`: a
    // fresh chain each time, so the named validators' ledgers are walked from genesis.
    let mut g = cr.benchmark_group("validators_10k_tracked_epoch_1600_mainnet_1M");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    let c = chain_to(1700, "");
    let slot = c.spec().first_slot(1600);
    let head = c.initial_head_slot();
    let all = |_: &str| true;
    g.bench_function("warm", |b| b.iter(|| black_box(c.validators_json(slot, head, c.tracked(), all).len())));
    g.bench_function("cold", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let c = chain_to(1700, "");
                let t = Instant::now();
                black_box(c.validators_json(slot, head, c.tracked(), all).len());
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
    let c = chain("");
    cr.bench_function("chain_new_mainnet_1M", |b| b.iter(|| black_box(chain(""))));
    black_box(c);
}

criterion_group!(benches, bench);
criterion_main!(benches);
