//! How long a whole committee takes to exchange one round of signatures.
//!
//! For N = 4, 16 and 64, N nodes run in this process on 127.0.0.1, each with
//! the full member list and the default configuration (as `claystack-oracle
//! run` would have them). Once every node sees the N-1 others subscribed,
//! each round every node publishes one 200-byte message at the same instant;
//! the round ends when every node has received, and accepted, all N-1
//! messages of the round. Reported: the time the mesh took to form, and the
//! median and maximum round time.
//!
//! `cargo bench -p claystack-p2p --bench mesh`; `MESH_SIZES=4,16` and
//! `MESH_ROUNDS=30` change the committee sizes and the number of rounds.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use claystack_p2p::{
    Keypair, Multiaddr, Network, NetworkEvent, NetworkHandle, P2pConfig, Published, TopicScope, Verdict,
};
use tokio::sync::mpsc;

#[path = "../tests/support/mod.rs"]
mod support;

const MESSAGE_BYTES: usize = 200;
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);
const PAUSE_BETWEEN_ROUNDS: Duration = Duration::from_millis(250);

fn main() {
    // `cargo test --all-targets` runs this binary without `--bench`: a smoke
    // run that proves it works, without the minutes a measurement takes.
    let measuring = std::env::args().any(|a| a == "--bench");
    let (default_sizes, default_rounds) = if measuring { ("4,16,64", 20) } else { ("4", 2) };
    let sizes: Vec<usize> = std::env::var("MESH_SIZES")
        .unwrap_or_else(|_| default_sizes.into())
        .split(',')
        .map(|s| s.trim().parse().expect("MESH_SIZES: comma-separated committee sizes"))
        .collect();
    let rounds: usize =
        std::env::var("MESH_ROUNDS").map_or(default_rounds, |s| s.parse().expect("MESH_ROUNDS: a number"));
    // `RUST_LOG=warn` shows what the nodes complain about (slow peers, drops).
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    println!("committee gossip on loopback, {rounds} rounds per size, {MESSAGE_BYTES}-byte messages");
    for n in sizes {
        runtime.block_on(committee(n, rounds));
    }
}

async fn committee(n: usize, rounds: usize) {
    let keys: Vec<Keypair> = (0..n).map(|_| Keypair::generate_ed25519()).collect();
    let addrs: Vec<Multiaddr> = (0..n).map(|_| support::free_addr()).collect();
    let scope = TopicScope { chain_id: 31337, committee_hash: [1; 32] };

    let started = Instant::now();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(usize, u32, Instant)>();
    let mut handles: Vec<NetworkHandle> = Vec::new();
    for i in 0..n {
        let peers = (0..n).filter(|&j| j != i).map(|j| (keys[j].public().to_peer_id(), addrs[j].clone())).collect();
        let config = P2pConfig::new(addrs[i].clone(), keys[i].clone(), peers, scope);
        let (handle, events) = Network::spawn(config).await.expect("spawn");
        tokio::spawn(receive(i, n, handle.clone(), events, done_tx.clone()));
        handles.push(handle);
    }
    for handle in &handles {
        loop {
            let status = handle.status().await.unwrap();
            if status.subscribed.len() == n - 1 && !status.mesh.is_empty() {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "N={n}: mesh did not form: {status:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let formed = started.elapsed();
    // A few heartbeats to let the mesh settle at its degree.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut times = Vec::with_capacity(rounds);
    let mut cpu = Duration::ZERO;
    let mut incomplete = 0;
    let load_before = load_average();
    for round in 0..rounds as u32 {
        tokio::time::sleep(PAUSE_BETWEEN_ROUNDS).await;
        let cpu_before = cpu_time();
        let start = Instant::now();
        let published =
            futures::future::join_all(handles.iter().enumerate().map(|(i, h)| h.publish(message(round, i)))).await;
        for p in published {
            assert!(matches!(p, Ok(Published::Sent(_))), "N={n}: {p:?}");
        }
        let deadline = tokio::time::Instant::from_std(start + ROUND_TIMEOUT);
        let mut finished = 0;
        let mut last = start;
        while finished < n {
            match tokio::time::timeout_at(deadline, done_rx.recv()).await {
                Ok(Some((_, r, at))) if r == round => {
                    finished += 1;
                    last = last.max(at);
                }
                Ok(_) => {} // a node completing an earlier, timed-out round
                Err(_) => break,
            }
        }
        cpu += cpu_time().saturating_sub(cpu_before);
        if finished == n {
            times.push(last - start);
        } else {
            // No rebroadcast here, unlike the committee: a message lost to an
            // overloaded queue stays lost.
            eprintln!("N={n}: round {round}: {finished} of {n} nodes complete after {ROUND_TIMEOUT:?}");
            incomplete += 1;
        }
    }
    for handle in &handles {
        handle.shutdown().await.unwrap();
    }

    times.sort();
    let (median, max) = match times.len() {
        0 => ("-".to_owned(), "-".to_owned()),
        len => (format!("{:.2} ms", ms(times[len / 2])), format!("{:.2} ms", ms(times[len - 1]))),
    };
    let deliveries = n * (n - 1);
    println!(
        "N={n:>2}: mesh formed in {:.2} s; round ({deliveries} deliveries): median {median}, max {max}, \
         {incomplete} of {rounds} incomplete; CPU {:.1} ms per round, {:.0} µs per delivery; load {load_before} → {}",
        formed.as_secs_f64(),
        ms(cpu) / rounds as f64,
        cpu.as_secs_f64() * 1e6 / (rounds * deliveries) as f64,
        load_average(),
    );
}

/// Accepts every message at once and reports when a node has all N-1 of a round.
async fn receive(
    node: usize,
    n: usize,
    handle: NetworkHandle,
    mut events: mpsc::Receiver<NetworkEvent>,
    done: mpsc::UnboundedSender<(usize, u32, Instant)>,
) {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    while let Some(event) = events.recv().await {
        let NetworkEvent::Message { id, source, data, .. } = event else { continue };
        if handle.validate(id, source, Verdict::Accept).await.is_err() {
            return;
        }
        let round = u32::from_be_bytes(data[..4].try_into().unwrap());
        let count = counts.entry(round).or_default();
        *count += 1;
        if *count == n - 1 {
            let _ = done.send((node, round, Instant::now()));
        }
    }
}

/// Round number, sender, then filler: unique per round and sender.
fn message(round: u32, sender: usize) -> Vec<u8> {
    let mut data = round.to_be_bytes().to_vec();
    data.extend_from_slice(&(sender as u16).to_be_bytes());
    data.resize(MESSAGE_BYTES, 0xab);
    data
}

/// CPU time (user + system) this process has used, from `/proc/self/stat`
/// (Linux; zero elsewhere). Ticks are 10 ms, so only long runs are precise.
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return Duration::ZERO };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = fields.get(11..13).map_or(0, |f| f.iter().filter_map(|t| t.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10)
}

/// The one-minute load average, to tell a quiet machine from a shared one.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
