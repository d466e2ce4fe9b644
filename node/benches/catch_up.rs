//! Catch-up speed: finalized beacon epochs accounted per second, end to end.
//!
//! A real `claystack-oracle sim beacon` process serves a mainnet-shaped chain
//! (1,000,000 validators, 32 slots per epoch, Electra); the follower — the same
//! code `claystack-oracle run` uses — fetches duties for 10,000 tracked
//! validators and every block over HTTP on 127.0.0.1, verifies the chain,
//! accounts each epoch and commits it to a fresh RocksDB store. The tracked
//! validators miss 5% of their duties; the others all attest (with misses among
//! the 990,000 untracked ones the simulator's own planning, ~6 ms an epoch,
//! becomes the bottleneck and the figure measures it rather than the oracle).
//!
//! `cargo bench -p claystack-oracle --bench catch_up` measures; under
//! `cargo test` it runs once on a small chain to prove it still works.
//! Figures: docs/benchmarks.md.

use claystack_beacon::{BeaconClient, ClientConfig};
use claystack_store::Store;
use claystack_sync::{Follower, SyncConfig};
use claystack_testkit::{free_port, ChildProcess};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The simulated chain, sized by `{validators}`, `{last_tracked}` and `{head_epoch}`.
const SCENARIO: &str = include_str!("catch_up.toml");

fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn start_sim(dir: &std::path::Path, validators: u64, tracked: u64, head: u64) -> (ChildProcess, String) {
    let scenario = dir.join("bench.toml");
    let text = SCENARIO
        .replace("{validators}", &validators.to_string())
        .replace("{last_tracked}", &(tracked - 1).to_string())
        .replace("{head_epoch}", &head.to_string());
    std::fs::write(&scenario, text).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_claystack-oracle"));
    cmd.args(["sim", "beacon", "--scenario"])
        .arg(&scenario)
        .args(["--listen", &addr])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let sim = ChildProcess::spawn("simulator", cmd).expect("start simulator");
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "simulator did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (sim, format!("http://{addr}"))
}

fn catch_up(c: &mut Criterion) {
    let (validators, tracked, epochs) = if measuring() { (1_000_000, 10_000, 32) } else { (20_000, 500, 2) };
    let dir = tempfile::tempdir().unwrap();
    let (_sim, url) = start_sim(dir.path(), validators, tracked, epochs + 4);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut group = c.benchmark_group("catch_up");
    group.sample_size(10).measurement_time(Duration::from_secs(20)).throughput(Throughput::Elements(epochs));
    group.bench_function(format!("{validators}_validators_{tracked}_tracked_{epochs}_epochs"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let data = tempfile::tempdir().unwrap();
                let store = Arc::new(Store::open(data.path()).unwrap());
                let client = BeaconClient::new(std::slice::from_ref(&url), ClientConfig::default()).unwrap();
                let cfg = SyncConfig {
                    tracked: (0..tracked).collect(),
                    until_epoch: Some(epochs - 1),
                    ..SyncConfig::default()
                };
                let start = Instant::now();
                rt.block_on(async {
                    let f = Follower::new(client, store.clone(), cfg).await.unwrap();
                    f.run().await.unwrap();
                });
                total += start.elapsed();
                assert_eq!(store.accounting_cursor().unwrap().unwrap().next_epoch, epochs);
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, catch_up);
criterion_main!(benches);
