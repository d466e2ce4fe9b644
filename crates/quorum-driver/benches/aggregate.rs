//! From "every member has its report" to "every member holds the aggregate", with every
//! member in its own process.
//!
//! For each committee size N the bench starts N child processes of itself on 127.0.0.1;
//! each is one member running the real `QuorumDriver` (collector, RocksDB store in its own temp
//! dir, libp2p on its own TCP port, full peer list, majority threshold). Keys come from the
//! member index, so the parent and every child derive the same committee. Once every
//! member sees the N−1 others subscribed, each round the parent hands all children the
//! same report and one wall-clock instant; at that instant each child gives the report to
//! its driver, and it answers when its driver announced the quorum certificate. Reported
//! per size: the round time (instant → last member holds the aggregate; median and max over
//! rounds), the first member's time, how late the last child took its report, and the CPU
//! all members used for a round (start to 1.5 s after the last certificate) above what the
//! idle committee uses (heartbeats, pings, timers: measured for 3 s before the first round).
//!
//! The parent talks to each child over its stdin/stdout, one line per message. A child
//! exits when its stdin closes, so no member outlives the parent, even one killed with
//! SIGKILL; the parent also kills and reaps its children when it ends or panics.
//!
//! # Flood
//!
//! With `COMMITTEE_FLOOD=1`, each size runs twice more with its last member not honest:
//! once **silent** (connected, subscribed, sends nothing) and once **replaying**: it
//! publishes every signature message it receives again, with a fresh nonce, as fast as its
//! network task takes publications, for the whole run. The figures are then the honest
//! members' (round time to the last honest member's aggregate, their CPU). Real sockets, one
//! process per member, because what a flood costs is decryption, framing, gossipsub's
//! bookkeeping and the per-peer limits in `claystack-p2p`, none of which the in-memory hub
//! has. `COMMITTEE_LIMITS=off` lifts the per-peer limits (rate and buffer share) in the
//! honest members, to show what they buy.
//!
//! `cargo bench -p claystack-quorum-driver --bench aggregate`, or without the release build, the
//! dev-profile binary: `cargo build --workspace --locked --benches`, then
//! `$CARGO_TARGET_DIR/debug/deps/aggregate-<hash> --bench`. `COMMITTEE_SIZES=4,16` and
//! `COMMITTEE_ROUNDS=5` change the sizes and rounds. Without `--bench` (as
//! `cargo test --all-targets` runs it) it does one smoke round with 4 members.

use claystack_p2p::{Keypair, Multiaddr, Network, NetworkEvent, P2pConfig, PeerLimits, TopicScope, Verdict};
use claystack_primitives::{ReportId, ReportKind};
use claystack_quorum::{Config, Roster, SecretKeySigner, Signer, SigningDomain};
use claystack_quorum_driver::{OwnReport, QuorumDriver, QuorumEvent, WallClock};
use claystack_store::Store;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// The environment variable that makes the binary a member instead of the parent.
const MEMBER_ENV: &str = "CLAYSTACK_BENCH_MEMBER";
const ROUND_TIMEOUT: Duration = Duration::from_secs(90);
const MESH_TIMEOUT: Duration = Duration::from_secs(120);
/// Between rounds: late signatures are folded in and gossip settles before the CPU is read.
const SETTLE: Duration = Duration::from_millis(1500);
/// How long the idle committee's CPU is sampled before the first round.
const IDLE_SAMPLE: Duration = Duration::from_secs(3);
/// The driver's tick, as the node's (`claystack_service::TICK`).
const TICK: Duration = Duration::from_millis(250);
/// How far ahead of now the shared start instant is set, so every child has it in time.
const LEAD: Duration = Duration::from_millis(500);

fn main() {
    if let Ok(spec) = std::env::var(MEMBER_ENV) {
        return member(&spec);
    }
    let measuring = std::env::args().any(|a| a == "--bench");
    let (sizes, rounds) = if measuring { ("4,16,64", 5) } else { ("4", 1) };
    let sizes: Vec<usize> = std::env::var("COMMITTEE_SIZES")
        .unwrap_or_else(|_| sizes.into())
        .split(',')
        .map(|s| s.trim().parse().expect("COMMITTEE_SIZES: comma-separated sizes"))
        .collect();
    let rounds = std::env::var("COMMITTEE_ROUNDS").map_or(rounds, |s| s.parse().expect("COMMITTEE_ROUNDS: a number"));
    let flood = std::env::var("COMMITTEE_FLOOD").is_ok_and(|v| v == "1");
    let limits = if std::env::var("COMMITTEE_LIMITS").is_ok_and(|v| v == "off") { "off" } else { "on" };
    println!(
        "report -> aggregate on 127.0.0.1, one process per member, {rounds} rounds per size, per-peer limits {limits}"
    );
    for n in sizes {
        committee(n, rounds, Role::Honest);
        if flood {
            committee(n, rounds, Role::Silent);
            committee(n, rounds, Role::Replay);
        }
    }
}

/// What the last member of a committee does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Honest,
    /// Connected and subscribed, sends nothing.
    Silent,
    /// Replays every signature message it receives, as fast as it can.
    Replay,
}

impl Role {
    fn word(self) -> &'static str {
        match self {
            Role::Honest => "honest",
            Role::Silent => "silent",
            Role::Replay => "replay",
        }
    }

    fn from_word(w: &str) -> Role {
        match w {
            "silent" => Role::Silent,
            "replay" => Role::Replay,
            _ => Role::Honest,
        }
    }
}

fn unix_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos()
}

fn threshold(n: usize) -> usize {
    n / 2 + 1
}

fn bls_secret(i: usize) -> [u8; 32] {
    let mut s = [0x11u8; 32];
    s[30..].copy_from_slice(&(i as u16 + 1).to_be_bytes());
    s
}

fn p2p_keypair(i: usize) -> Keypair {
    let mut s = [0x22u8; 32];
    s[30..].copy_from_slice(&(i as u16 + 1).to_be_bytes());
    Keypair::ed25519_from_bytes(s).expect("32 bytes")
}

fn cpu_ms_of_this_process() -> u64 {
    // utime and stime, fields 14 and 15 of /proc/self/stat, in clock ticks (100 per second).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name.split_whitespace().skip(11).take(2).filter_map(|f| f.parse().ok()).collect();
    fields.iter().sum::<u64>() * 10
}

// ---------------------------------------------------------------------------- parent

/// The children of one committee; dropping it kills and reaps them.
struct Members {
    children: Vec<Child>,
    stdins: Vec<ChildStdin>,
    lines: std_mpsc::Receiver<(usize, String)>,
    _dir: tempfile::TempDir,
}

impl Drop for Members {
    fn drop(&mut self) {
        self.stdins.clear();
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Members {
    fn spawn(n: usize, rounds: usize, last: Role) -> Members {
        let dir = tempfile::tempdir().unwrap();
        let ports = claystack_testkit::free_ports(n);
        let ports_arg = ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(",");
        let exe = std::env::current_exe().unwrap();
        let (tx, lines) = std_mpsc::channel();
        let mut children = Vec::new();
        let mut stdins = Vec::new();
        for i in 0..n {
            let role = if i == n - 1 { last } else { Role::Honest };
            let mut child = Command::new(&exe)
                .env(
                    MEMBER_ENV,
                    format!("{i};{n};{ports_arg};{};{}", dir.path().join(i.to_string()).display(), role.word()),
                )
                .env("COMMITTEE_ROUNDS", rounds.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn a member");
            stdins.push(child.stdin.take().unwrap());
            let stdout = BufReader::new(child.stdout.take().unwrap());
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in stdout.lines().map_while(Result::ok) {
                    if tx.send((i, line)).is_err() {
                        break;
                    }
                }
            });
            children.push(child);
        }
        Members { children, stdins, lines, _dir: dir }
    }

    fn tell_all(&mut self, line: &str) {
        for stdin in &mut self.stdins {
            writeln!(stdin, "{line}").expect("a member died");
        }
    }

    /// One answer per member to the word `what`, as the words after it; panics on timeout.
    fn gather(&self, what: &str, timeout: Duration) -> Vec<Vec<String>> {
        let n = self.children.len();
        let mut answers: Vec<Option<Vec<String>>> = vec![None; n];
        let deadline = Instant::now() + timeout;
        while answers.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(Instant::now());
            let (i, line) = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                let missing: Vec<usize> = (0..n).filter(|&i| answers[i].is_none()).collect();
                panic!("no `{what}` from members {missing:?} within {timeout:?}")
            });
            let mut words = line.split_whitespace().map(str::to_owned);
            if words.next().as_deref() == Some(what) {
                answers[i] = Some(words.collect());
            }
        }
        answers.into_iter().map(Option::unwrap).collect()
    }

    fn cpu_ms(&mut self) -> u64 {
        self.tell_all("cpu");
        self.gather("cpu", Duration::from_secs(30)).iter().map(|w| w[0].parse::<u64>().unwrap()).sum()
    }
}

fn committee(n: usize, rounds: usize, last: Role) {
    let started = Instant::now();
    let mut members = Members::spawn(n, rounds, last);
    // Only honest members' figures count; the last one answers `done` with `-` otherwise.
    let honest = if last == Role::Honest { n } else { n - 1 };
    members.gather("ready", MESH_TIMEOUT);
    let mesh = started.elapsed();

    let ms = |ns: u128| ns as f64 / 1e6;
    let mut round_ms = Vec::new();
    let mut first_ms = Vec::new();
    let mut late_ms = Vec::new();
    let mut cpu_ms = Vec::new();
    // What the idle committee costs (heartbeats, pings, timers), to set the rounds' CPU against.
    let idle_start = (members.cpu_ms(), Instant::now());
    std::thread::sleep(IDLE_SAMPLE);
    let mut cpu_before = members.cpu_ms();
    let idle_per_s = (cpu_before - idle_start.0) as f64 / idle_start.1.elapsed().as_secs_f64();
    let mut window_start = Instant::now();
    for round in 1..=rounds as u64 {
        let start = unix_ns() + LEAD.as_nanos();
        members.tell_all(&format!("round {round} {start}"));
        let answers = members.gather("done", ROUND_TIMEOUT);
        let (mut had, mut ready): (Vec<u128>, Vec<u128>) = answers
            .iter()
            .filter(|w| w[1] != "-")
            .map(|w| (w[1].parse::<u128>().unwrap(), w[2].parse::<u128>().unwrap()))
            .unzip();
        assert_eq!(ready.len(), honest);
        had.sort();
        ready.sort();
        late_ms.push(ms(had[honest - 1].saturating_sub(start)));
        round_ms.push(ms(ready[honest - 1] - start));
        first_ms.push(ms(ready[0] - start));
        std::thread::sleep(SETTLE);
        let cpu = members.cpu_ms();
        // The round's own work: what the committee used minus what it would have used idle.
        let idle = idle_per_s * window_start.elapsed().as_secs_f64();
        cpu_ms.push((cpu - cpu_before) as f64 - idle);
        cpu_before = cpu;
        window_start = Instant::now();
    }
    drop(members);
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let max = round_ms.iter().copied().fold(0.0, f64::max);
    println!(
        "N={n:>2} threshold={:>2} last member {:>6}: mesh {:>6.2?}; all members hold the aggregate: median {:>8.1} ms, max {:>8.1} ms; \
         first member: median {:>7.1} ms; last report taken {:>5.1} ms late (median); CPU per round above idle, all members: {:>6.0} ms \
         (idle committee: {:>4.0} ms per s)",
        threshold(n),
        last.word(),
        mesh,
        median(&mut round_ms),
        max,
        median(&mut first_ms),
        median(&mut late_ms),
        median(&mut cpu_ms),
        idle_per_s,
    );
}

// ---------------------------------------------------------------------------- member

/// One member: `spec` is `index;size;port,port,…;data dir`.
fn member(spec: &str) {
    let parts: Vec<&str> = spec.split(';').collect();
    let (i, n): (usize, usize) = (parts[0].parse().unwrap(), parts[1].parse().unwrap());
    let ports: Vec<u16> = parts[2].split(',').map(|p| p.parse().unwrap()).collect();
    let dir = std::path::PathBuf::from(parts[3]);
    let role = Role::from_word(parts.get(4).copied().unwrap_or("honest"));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    match role {
        Role::Honest => runtime.block_on(run_member(i, n, &ports, &dir)),
        Role::Silent | Role::Replay => runtime.block_on(run_dishonest(i, n, &ports, role)),
    }
}

/// The member's network config; `COMMITTEE_LIMITS=off` lifts the per-peer limits.
fn p2p_config(i: usize, n: usize, ports: &[u16]) -> P2pConfig {
    let addr = |j: usize| -> Multiaddr { format!("/ip4/127.0.0.1/tcp/{}", ports[j]).parse().unwrap() };
    let peers = (0..n).filter(|&j| j != i).map(|j| (p2p_keypair(j).public().to_peer_id(), addr(j))).collect();
    let scope = TopicScope { chain_id: 31337, committee_hash: [3; 32] };
    let mut config = P2pConfig::new(addr(i), p2p_keypair(i), peers, scope);
    if std::env::var("COMMITTEE_LIMITS").is_ok_and(|v| v == "off") {
        config.peer_limits = PeerLimits { burst: u32::MAX / 2, rate_per_s: u32::MAX / 2, share: 1 << 16 };
    }
    config
}

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A member that does not sign: silent, or replaying what it hears as fast as it can.
async fn run_dishonest(i: usize, n: usize, ports: &[u16], role: Role) {
    let (network, mut events) = Network::spawn(p2p_config(i, n, ports)).await.unwrap();
    loop {
        if network.status().await.is_ok_and(|s| s.subscribed.len() + 1 >= n) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    say("ready".into());
    let heard = Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
    let listener = {
        let (network, heard) = (network.clone(), heard.clone());
        async move {
            while let Some(event) = events.recv().await {
                if let NetworkEvent::Message { id, source, data } = event {
                    let _ = network.validate(id, source, Verdict::Ignore).await;
                    let mut heard = heard.lock().unwrap();
                    if !heard.contains(&data) {
                        heard.push(data);
                    }
                }
            }
        }
    };
    tokio::spawn(listener);
    if role == Role::Replay {
        let (network, heard) = (network.clone(), heard.clone());
        tokio::spawn(async move {
            loop {
                let batch: Vec<Vec<u8>> = heard.lock().unwrap().clone();
                if batch.is_empty() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                for data in batch {
                    let _ = network.publish(data).await;
                }
            }
        });
    }
    let (line_tx, mut lines) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            let _ = line_tx.send(line);
        }
        std::process::exit(0);
    });
    while let Some(line) = lines.recv().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            // Its own CPU is not the committee's cost: the figures are the honest members'.
            ["cpu"] => say("cpu 0".into()),
            ["round", number, _] => say(format!("done {number} - -")),
            _ => {}
        }
    }
}

async fn run_member(i: usize, n: usize, ports: &[u16], dir: &std::path::Path) {
    let pubkeys: Vec<[u8; 48]> =
        (0..n).map(|j| SecretKeySigner::from_bytes(&bls_secret(j)).unwrap().public_key()).collect();
    let domain = SigningDomain { chain_id: 31337, node_manager: [7; 20] };
    let roster = Arc::new(Roster::new(domain, threshold(n) as u32, &pubkeys).unwrap());
    let peer_ids: Vec<String> = (0..n).map(|j| p2p_keypair(j).public().to_peer_id().to_string()).collect();
    let (network, events) = Network::spawn(p2p_config(i, n, ports)).await.unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let store = Arc::new(Store::open(dir).unwrap());
    // New data dirs on purpose: the bench measures rounds, not the fresh-store wait.
    let config = Config { rebroadcast_ms: 15_000, fallback_ms: 60_000, fresh_wait_ms: 0, ..Config::default() };
    let signer = SecretKeySigner::from_bytes(&bls_secret(i)).unwrap();
    let (quorum_tx, mut quorum_rx) = mpsc::channel(64);
    let gossip = Arc::new(network.clone());
    let driver = QuorumDriver::start(config, roster, &peer_ids, signer, store, gossip, Arc::new(WallClock), quorum_tx)
        .await
        .unwrap();
    let (own_tx, own_rx) = mpsc::channel(4);
    let (_settled_tx, settled_rx) = mpsc::channel(1);
    tokio::spawn(driver.run(own_rx, events, settled_rx, TICK));

    // Ready once every other member is subscribed.
    loop {
        if network.status().await.is_ok_and(|s| s.subscribed.len() + 1 >= n) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    say("ready".into());

    // Certificates, by report number, as they come.
    let (cert_tx, mut cert_rx) = mpsc::unbounded_channel::<(u64, u128)>();
    tokio::spawn(async move {
        while let Some(event) = quorum_rx.recv().await {
            if let QuorumEvent::Certificate(c) = event {
                let _ = cert_tx.send((c.id.number, unix_ns()));
            }
        }
    });
    let mut ready_at = std::collections::BTreeMap::new();
    let (line_tx, mut lines) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            let _ = line_tx.send(line);
        }
        // The parent's end of stdin closed (it exited, or was killed): so does the member.
        std::process::exit(0);
    });
    while let Some(line) = lines.recv().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["cpu"] => say(format!("cpu {}", cpu_ms_of_this_process())),
            ["round", number, start] => {
                let number: u64 = number.parse().unwrap();
                let start: u128 = start.parse().unwrap();
                let wait = start.saturating_sub(unix_ns());
                tokio::time::sleep(Duration::from_nanos(wait as u64)).await;
                let id = ReportId { kind: ReportKind::Rewards, number };
                let report = OwnReport {
                    id,
                    merkle_root: [number as u8; 32],
                    report_hash: [number as u8 ^ 0xff; 32],
                    sections: None,
                };
                own_tx.send(report).await.unwrap();
                let had = unix_ns();
                let ready = loop {
                    if let Some(at) = ready_at.get(&number) {
                        break *at;
                    }
                    let (got, at) = cert_rx.recv().await.expect("driver stopped");
                    ready_at.entry(got).or_insert(at);
                };
                say(format!("done {number} {had} {ready}"));
            }
            _ => {}
        }
    }
}
