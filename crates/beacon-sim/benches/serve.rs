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
    let toml = format!(
        "seed = 1\npreset = \"mainnet\"\nvalidators = 1000000\ntracked = [\"0-9999\"]\nhead_epoch = {HEAD_EPOCH}\n{extra}\
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
    let c = chain("");
    cr.bench_function("chain_new_mainnet_1M", |b| b.iter(|| black_box(chain(""))));
    black_box(c);
}

criterion_group!(benches, bench);
criterion_main!(benches);
