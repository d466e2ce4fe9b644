//! From "every member has its report" to "every member holds the aggregate".
//!
//! For N = 4, 16 and 64, N committee members run in this process, each the real
//! `Driver` (collector + RocksDB store in a temp dir + libp2p network on 127.0.0.1,
//! full peer lists, majority threshold). Once the mesh has formed, each round hands every
//! member the same new report at the same instant; the round ends when every member has
//! a quorum certificate for it. Reported: median and maximum round time, and the time
//! until the first member had its certificate.
//!
//! `cargo bench -p claystack-quorum --bench aggregate`; `COMMITTEE_SIZES=4,16` and
//! `COMMITTEE_ROUNDS=5` change the sizes and rounds. Without `--bench` (as
//! `cargo test --all-targets` runs it) it does one smoke round with 4 members.

use claystack_committee::{Config, ReportId, ReportKind, Roster, SecretKeySigner, Signer, SigningDomain};
use claystack_p2p::{Keypair, Multiaddr, Network, P2pConfig, TopicScope};
use claystack_quorum::{Driver, OwnReport, QuorumEvent};
use claystack_store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const ROUND_TIMEOUT: Duration = Duration::from_secs(60);

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let (sizes, rounds) = if measuring { ("4,16,64", 5) } else { ("4", 1) };
    let sizes: Vec<usize> = std::env::var("COMMITTEE_SIZES")
        .unwrap_or_else(|_| sizes.into())
        .split(',')
        .map(|s| s.trim().parse().expect("COMMITTEE_SIZES: comma-separated sizes"))
        .collect();
    let rounds = std::env::var("COMMITTEE_ROUNDS").map_or(rounds, |s| s.parse().expect("COMMITTEE_ROUNDS: a number"));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    println!("report -> aggregate on loopback, {rounds} rounds per size (real drivers, stores and sockets)");
    for n in sizes {
        runtime.block_on(committee(n, rounds));
    }
}

/// Ports below the ephemeral range, so no outgoing connection takes one before its node binds it.
fn free_addrs(n: usize) -> Vec<Multiaddr> {
    let mut port = 20_000 + (std::process::id() % 5_000) as u16;
    let mut out = Vec::new();
    while out.len() < n {
        port += 1;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            out.push(format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap());
        }
    }
    out
}

async fn committee(n: usize, rounds: usize) {
    let secrets: Vec<[u8; 32]> = (0..n).map(|i| [i as u8 + 1; 32]).collect();
    let signers: Vec<SecretKeySigner> = secrets.iter().map(|s| SecretKeySigner::from_bytes(s).unwrap()).collect();
    let pubkeys: Vec<[u8; 48]> = signers.iter().map(|s| s.public_key()).collect();
    let domain = SigningDomain { chain_id: 31337, node_manager: [7; 20] };
    let roster = Arc::new(Roster::new(domain, (n / 2 + 1) as u32, &pubkeys).unwrap());
    let p2p: Vec<Keypair> = (0..n).map(|_| Keypair::generate_ed25519()).collect();
    let peer_ids: Vec<String> = p2p.iter().map(|k| k.public().to_peer_id().to_string()).collect();
    let addrs = free_addrs(n);
    let scope = TopicScope { chain_id: 31337, committee_hash: [3; 32] };
    let dirs: Vec<tempfile::TempDir> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
    let config = Config { rebroadcast_ms: 15_000, fallback_ms: 60_000, ..Config::default() };

    let (cert_tx, mut cert_rx) = mpsc::unbounded_channel::<(usize, u64, Instant)>();
    let mut own_txs = Vec::new();
    let mut handles = Vec::new();
    for (i, signer) in signers.into_iter().enumerate() {
        let peers = (0..n).filter(|&j| j != i).map(|j| (p2p[j].public().to_peer_id(), addrs[j].clone())).collect();
        let (network, events) =
            Network::spawn(P2pConfig::new(addrs[i].clone(), p2p[i].clone(), peers, scope)).await.unwrap();
        handles.push(network.clone());
        let store = Arc::new(Store::open(dirs[i].path()).unwrap());
        let (quorum_tx, mut quorum_rx) = mpsc::channel(64);
        let driver =
            Driver::start(config, roster.clone(), &peer_ids, signer, store, network, [0, 0], quorum_tx).await.unwrap();
        let (own_tx, own_rx) = mpsc::channel(4);
        own_txs.push(own_tx);
        let (_settled_tx, settled_rx) = mpsc::channel(1);
        tokio::spawn(driver.run(own_rx, events, settled_rx, Duration::from_millis(100)));
        let cert_tx = cert_tx.clone();
        tokio::spawn(async move {
            while let Some(event) = quorum_rx.recv().await {
                if let QuorumEvent::Certificate(c) = event {
                    let _ = cert_tx.send((i, c.id.number, Instant::now()));
                }
            }
        });
    }
    // The mesh: every member sees every other subscribed.
    let formed = Instant::now();
    loop {
        let mut ready = 0;
        for h in &handles {
            if h.status().await.map(|s| s.subscribed.len() + 1 >= n).unwrap_or(false) {
                ready += 1;
            }
        }
        if ready == n || formed.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mesh = formed.elapsed();

    let mut times = Vec::new();
    let mut firsts = Vec::new();
    for round in 1..=rounds as u64 {
        let id = ReportId { kind: ReportKind::Rewards, number: round };
        let report = OwnReport { id, merkle_root: [round as u8; 32], report_hash: [round as u8 ^ 0xff; 32] };
        let start = Instant::now();
        for tx in &own_txs {
            tx.send(report).await.unwrap();
        }
        let mut holders = vec![false; n];
        let mut first = None;
        while holders.iter().any(|h| !h) {
            match tokio::time::timeout(ROUND_TIMEOUT, cert_rx.recv()).await {
                Ok(Some((i, number, at))) if number == round => {
                    first.get_or_insert(at - start);
                    holders[i] = true;
                }
                Ok(Some(_)) => {}
                _ => panic!(
                    "round {round}: only {} of {n} members reached the quorum",
                    holders.iter().filter(|h| **h).count()
                ),
            }
        }
        times.push(start.elapsed());
        firsts.push(first.unwrap());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    times.sort();
    firsts.sort();
    println!(
        "N={n:>2} threshold={:>2}: mesh {:>6.2?}; all members hold the aggregate: median {:>8.2?}, max {:>8.2?}; first member: median {:>8.2?}",
        n / 2 + 1,
        mesh,
        times[times.len() / 2],
        times[times.len() - 1],
        firsts[firsts.len() / 2]
    );
    for h in handles {
        let _ = h.shutdown().await;
    }
}
