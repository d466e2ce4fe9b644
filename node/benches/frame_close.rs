//! Frame close at mainnet shape: from "the frame's last epoch is finalized and accounted" to
//! "the signed root is on disk".
//!
//! # Shape
//! A real `claystack-oracle sim beacon` process serves a mainnet-preset chain of 1,000,000
//! validators over HTTP on 127.0.0.1; the protocol runs 10,000 of them (beacon indices
//! 0..10,000) for 2,000 operators through 3,500 nodes (every operator an SSV node, every
//! fourth an Obol node, every second a direct node; validators alternate SSV clusters of 5,
//! Obol clusters of 4 and direct nodes). The frame is report 1's: epochs 0..=1574.
//!
//! # Setup (not measured)
//! - the store gets 1,575 epochs of tallies for the 10,000 validators (5 % missed, 2 % late)
//!   and of flows (6 withdrawals an epoch) through `Store::commit_epoch_tracked`, the call
//!   the follower makes (catching the week up from the simulator is measured by
//!   `benches/catch_up.rs`);
//! - the registry is the `RegistrySnapshot` the OperatorRegistry would return at the
//!   reference block, built in memory (see docs/benchmarks.md for why, and what reading it
//!   from anvil costs);
//! - genesis (mainnet economics, `frame_epochs` 1575) and the frame-inputs file (execution
//!   fees, SSV price) on disk.
//!
//! # Measured
//! Each run is a fresh child process (this binary with `--close-child`) on a fresh copy of
//! the store, so its peak RSS (`VmHWM`) is the closing node's alone: open the store, read
//! the reference slot, the two boundary states for the 10,000 keys and the pending deposits
//! from the simulator, the frame's flows, consensus rewards and facts, then `FrameCloser::
//! close_next` (tallies summed from RocksDB, rewards engine, Merkle tree, frame log, store
//! write, export of report, tree and frame log), the signing root, the BLS signature and its
//! synced store write. The child prints one JSON line of figures; the parent prints them.
//!
//! `cargo bench -p claystack-oracle --bench frame_close` measures (`FRAME_CLOSE_RUNS`, default
//! 3; `FRAME_CLOSE_PERF=<file>` records the closing child with `perf record -g`); under
//! `cargo test` it runs once at a small shape to prove it still works. Figures:
//! docs/benchmarks.md.

use claystack_accounting::{EpochFlows, EpochTally, Tally, ValidatorGwei};
use claystack_beacon::{BeaconClient, ClientConfig};
use claystack_execution::alloy::primitives::{Address, U256};
use claystack_execution::{
    to_rewards_registry, NodeEntry, NodeType, OperatorEntry, RegistrySnapshot, ValidatorEntry, ValidatorStatus,
};
use claystack_frame_close::{
    frame_flows, BoxFuture, FrameCloseError, FrameCloser, InputsSource, InputsStatus, Measured,
};
use claystack_genesis::{generate_local, Economics, Genesis};
use claystack_primitives::{hex, BeaconSpec, Epoch, ReportId, ReportKind, ValidatorInfo};
use claystack_quorum::{SecretKeySigner, Signer, SigningDomain};
use claystack_report::{consensus_rewards, ChainReadings, FeedRound, ValidatorValue};
use claystack_rewards::SsvPrice;
use claystack_store::{AccountingCursor, Store};
use claystack_testkit::{free_port, ChildProcess};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Sizes of one run.
#[derive(Clone, Copy)]
struct Shape {
    validators: u64,
    protocol_validators: u64,
    operators: u64,
    frame_epochs: u64,
}

const MAINNET: Shape =
    Shape { validators: 1_000_000, protocol_validators: 10_000, operators: 2_000, frame_epochs: 1575 };
/// Under `cargo test`: the same code at a size that runs in seconds.
const SMALL: Shape = Shape { validators: 20_000, protocol_validators: 400, operators: 80, frame_epochs: 8 };

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--close-child") {
        close_child(Path::new(&args[i + 1]), &args[i + 2]);
        return;
    }
    let measuring = args.iter().any(|a| a == "--bench");
    let shape = if measuring { MAINNET } else { SMALL };
    let runs: usize = if measuring { std::env::var("FRAME_CLOSE_RUNS").map_or(3, |r| r.parse().unwrap()) } else { 1 };
    parent(shape, runs);
}

// ---------------------------------------------------------------------------------------
// Setup

fn parent(shape: Shape, runs: usize) {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (_sim, url) = start_sim(dir.path(), shape);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let beacon = BeaconClient::new(std::slice::from_ref(&url), ClientConfig::default()).unwrap();
    let ids: Vec<u64> = (0..shape.protocol_validators).collect();
    let records = rt.block_on(beacon.validators("head", &ids)).unwrap();
    assert_eq!(records.len(), ids.len(), "the simulator holds every protocol validator");
    let pubkeys: Vec<String> = records.iter().map(|r| r.pubkey.clone()).collect();
    std::fs::write(dir.path().join("pubkeys.json"), serde_json::to_vec(&pubkeys).unwrap()).unwrap();
    std::fs::write(dir.path().join("operators"), shape.operators.to_string()).unwrap();

    let (mut genesis, secrets) = generate_local(4, 3, [7; 32], 31337);
    genesis.first_epoch = 0;
    genesis.economics = Economics { frame_epochs: shape.frame_epochs, ..Economics::mainnet_default() };
    genesis.save(&dir.path().join("genesis.json")).unwrap();
    std::fs::write(dir.path().join("member.key"), hex::encode(&secrets[0])).unwrap();
    let seed = dir.path().join("seed-store");
    populate(&seed, shape);
    settle(&seed);
    eprintln!(
        "setup: {} validators, {} protocol, {} operators, {} epochs; {:.1} s, store {} MB",
        shape.validators,
        shape.protocol_validators,
        shape.operators,
        shape.frame_epochs,
        started.elapsed().as_secs_f64(),
        dir_bytes(&seed) / 1_000_000
    );

    for run in 1..=runs {
        let work = dir.path().join(format!("run-{run}"));
        copy_dir(&seed, &work.join("data"));
        // FRAME_CLOSE_PERF=<file>: record the closing child alone with `perf record -g`.
        let mut cmd = match std::env::var_os("FRAME_CLOSE_PERF") {
            Some(file) => {
                let mut perf = Command::new("perf");
                perf.args(["record", "-F", "2999", "-g", "-o"])
                    .arg(file)
                    .arg("--")
                    .arg(std::env::current_exe().unwrap());
                perf
            }
            None => Command::new(std::env::current_exe().unwrap()),
        };
        let out = cmd
            .arg("--close-child")
            .arg(dir.path())
            .arg(&url)
            .env("FRAME_CLOSE_WORK", &work)
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success(), "run {run} failed: {}", String::from_utf8_lossy(&out.stdout));
        println!("frame_close run {run}: {}", String::from_utf8_lossy(&out.stdout).trim());
        std::fs::remove_dir_all(&work).unwrap();
    }
}

fn start_sim(dir: &Path, shape: Shape) -> (ChildProcess, String) {
    let scenario = dir.join("scenario.toml");
    let text = format!(
        "seed = 1\npreset = \"mainnet\"\nvalidators = {}\ntracked = [\"0-{}\"]\nhead_epoch = {}\nfinality_lag = 2\n",
        shape.validators,
        shape.protocol_validators - 1,
        shape.frame_epochs + 3
    );
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

/// The follower's commits for every epoch of the frame: tallies (5 % of duties missed, 2 %
/// late) and flows (six partial withdrawals an epoch, spread over the validators).
fn populate(dir: &Path, shape: Shape) {
    let store = Store::open(dir).unwrap();
    let tracked: Vec<u64> = (0..shape.protocol_validators).collect();
    let hash = claystack_sync::tracked_hash(&tracked);
    for epoch in 0..shape.frame_epochs {
        let tallies = tracked
            .iter()
            .map(|&v| {
                let included = u32::from((v * 7 + epoch) % 20 != 0);
                let timely = included & u32::from((v + 3 * epoch) % 50 != 0);
                Tally { validator: v, duties: 1, included, timely }
            })
            .collect();
        let mut withdrawals: Vec<ValidatorGwei> = (0..6)
            .map(|k| ValidatorGwei {
                validator: (epoch * 6 + k) * 7919 % shape.protocol_validators,
                gwei: 18_000_000 + k * 1_000,
            })
            .collect();
        withdrawals.sort_by_key(|w| w.validator);
        withdrawals.dedup_by_key(|w| w.validator);
        let flows = EpochFlows { epoch, withdrawals, deposits: Vec::new() };
        let cursor = AccountingCursor { next_epoch: epoch + 1, anchor: None, tracked_hash: hash };
        store.commit_epoch_tracked(&EpochTally { epoch, tallies }, &flows, &cursor, &tracked).unwrap();
    }
}

/// Reopens the store and waits until RocksDB stops rewriting its files: the write-ahead log
/// of the setup's writes replayed into tables and those compacted, as they would be in a node
/// that accounted the week epoch by epoch. Without it every measured run would replay and
/// compact the setup's last 64 MB of writes (a third of its CPU in `perf`).
fn settle(dir: &Path) {
    let _store = Store::open(dir).unwrap();
    let listing = || {
        let mut files: Vec<(std::ffi::OsString, u64)> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| (e.file_name(), e.metadata().map_or(0, |m| m.len())))
            .collect();
        files.sort();
        files
    };
    let mut last = listing();
    let mut quiet = 0;
    while quiet < 6 {
        std::thread::sleep(Duration::from_millis(250));
        let now = listing();
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum()
}

/// The OperatorRegistry's answer at the reference block, as `RegistryReader::snapshot` gives
/// it: `operators` operators, 3,500 nodes for 2,000, and one validator per key.
fn registry_snapshot(pubkeys: &[[u8; 48]], operators: u64, block: u64) -> RegistrySnapshot {
    let operator_entries = (1..=operators)
        .map(|id| OperatorEntry {
            id,
            account: Address::left_padding_from(&(0x1000_0000u64 + id).to_be_bytes()),
            name: format!("operator-{id}"),
            metadata: "{}".into(),
            registered_epoch: 0,
            bond: U256::from(10u64.pow(19)),
            bond_value: U256::from(10u64.pow(19)),
            bond_requirement: U256::from(10u64.pow(18)),
        })
        .collect();
    let mut nodes = Vec::new();
    let mut by_type: BTreeMap<u8, Vec<u64>> = BTreeMap::new();
    for operator in 1..=operators {
        let mut kinds = vec![NodeType::Ssv];
        if operator % 4 == 0 {
            kinds.push(NodeType::Obol);
        }
        if operator % 2 == 1 {
            kinds.push(NodeType::Direct);
        }
        for node_type in kinds {
            let id = nodes.len() as u64 + 1;
            nodes.push(NodeEntry {
                id,
                operator_id: operator,
                node_type,
                registered_epoch: 0,
                metadata: String::new(),
                location: String::new(),
            });
            by_type.entry(node_type.to_u8()).or_default().push(id);
        }
    }
    let validators = pubkeys
        .iter()
        .enumerate()
        .map(|(i, pubkey)| {
            let i = i as u64;
            let (node_type, size) = match i % 4 {
                0 | 1 => (NodeType::Ssv, 5),
                2 => (NodeType::Obol, 4),
                _ => (NodeType::Direct, 1),
            };
            let pool = &by_type[&node_type.to_u8()];
            let mut node_ids: Vec<u64> =
                (0..size).map(|k| pool[((i * 31 + k * 97) % pool.len() as u64) as usize]).collect();
            node_ids.sort_unstable();
            node_ids.dedup();
            assert_eq!(node_ids.len() as u64, size, "a cluster of distinct nodes");
            ValidatorEntry { id: i + 1, pubkey: *pubkey, node_ids, status: ValidatorStatus::Active, exit_epoch: 0 }
        })
        .collect();
    RegistrySnapshot { block, operators: operator_entries, nodes, validators }
}

// ---------------------------------------------------------------------------------------
// Measured: one closing node

/// The frame inputs as `MeasuredInputs` gathers them, with the registry snapshot given.
struct BenchInputs {
    beacon: BeaconClient,
    store: Arc<Store>,
    pubkeys: Vec<[u8; 48]>,
    operators: u64,
    phases: Arc<Mutex<Vec<(&'static str, Duration)>>>,
}

fn source(number: u64, message: String) -> FrameCloseError {
    FrameCloseError::Source { number, message }
}

impl BenchInputs {
    fn lap(&self, name: &'static str, since: &mut Instant) {
        self.phases.lock().unwrap().push((name, since.elapsed()));
        *since = Instant::now();
    }

    /// Last non-empty slot of the frame and its execution block, as `ReferenceReader::reference`.
    async fn reference(
        &self,
        number: u64,
        spec: &BeaconSpec,
        frame: (Epoch, Epoch),
    ) -> Result<(u64, u64), FrameCloseError> {
        let mut slot = spec.last_slot(frame.1);
        loop {
            let block = self.beacon.block(slot).await.map_err(|e| source(number, format!("block {slot}: {e}")))?;
            if let Some(b) = block {
                return Ok((slot, b.execution.block_number));
            }
            slot -= 1;
        }
    }

    /// Records and values of the keys at `slot`, as `ReferenceReader` reads them.
    async fn values(
        &self,
        number: u64,
        spec: &BeaconSpec,
        slot: u64,
    ) -> Result<(Vec<ValidatorInfo>, BTreeMap<[u8; 48], ValidatorValue>), FrameCloseError> {
        let state = slot.to_string();
        let records = self
            .beacon
            .validators_by_pubkey(&state, &self.pubkeys)
            .await
            .map_err(|e| source(number, format!("validators at {slot}: {e}")))?;
        let mut values = BTreeMap::new();
        for r in &records {
            let key = hex::decode_fixed::<48>(&r.pubkey).map_err(|_| source(number, r.pubkey.clone()))?;
            values.insert(key, ValidatorValue { index: Some(r.index), balance_gwei: r.balance_gwei, pending_gwei: 0 });
        }
        if spec.is_electra(spec.epoch_of(slot)) {
            let wanted: BTreeSet<&[u8; 48]> = self.pubkeys.iter().collect();
            let pending = self
                .beacon
                .pending_deposits(&state)
                .await
                .map_err(|e| source(number, format!("pending deposits at {slot}: {e}")))?;
            for d in pending.iter().filter(|d| wanted.contains(&d.pubkey)) {
                let v: &mut ValidatorValue = values.entry(d.pubkey).or_default();
                v.pending_gwei = v.pending_gwei.saturating_add(d.amount_gwei);
            }
        }
        Ok((records, values))
    }

    async fn inputs(&self, number: u64, frame: (Epoch, Epoch)) -> Result<InputsStatus, FrameCloseError> {
        let mut since = Instant::now();
        let flows = frame_flows(&self.store, number, frame)?;
        self.lap("frame flows", &mut since);
        let spec = self.beacon.spec().await.map_err(|e| source(number, e.to_string()))?;
        let (slot, block) = self.reference(number, &spec, frame).await?;
        self.lap("spec and reference slot", &mut since);
        let snapshot = registry_snapshot(&self.pubkeys, self.operators, block);
        self.lap("registry snapshot (stand-in)", &mut since);
        let (records, end) = self.values(number, &spec, spec.last_slot(frame.1)).await?;
        let start_slot = if frame.0 == 0 { 0 } else { spec.last_slot(frame.0 - 1) };
        let (_, start) = self.values(number, &spec, start_slot).await?;
        self.lap("beacon states at both boundaries", &mut since);
        let index_of: BTreeMap<[u8; 48], u64> = end.iter().filter_map(|(k, v)| v.index.map(|i| (*k, i))).collect();
        let registry = to_rewards_registry(&snapshot, &index_of);
        let rewards = consensus_rewards(&self.pubkeys, &start, &end, &flows);
        let facts = claystack_exits::frame_facts(frame, &[], &records, None);
        // The vault, governance and feed readings are seven `eth_call`s at two blocks (about a
        // millisecond on anvil); like the registry, they stand in here with fixed values.
        let feed =
            FeedRound { round_id: 1, answer: 3_900_000_000_000_000, updated_at: 1, answered_in_round: 1, decimals: 18 };
        let file = Measured {
            reference: (slot, block),
            unindexed: registry.unindexed.len(),
            registry: registry.registry,
            rewards,
            facts,
            execution_fees_wei: 250_000_000_000_000_000_000,
            ssv_price: SsvPrice {
                agreed_wei_per_ssv: 4_000_000_000_000_000,
                observed_wei_per_ssv: 3_900_000_000_000_000,
            },
            adjustments: Vec::new(),
            chain: ChainReadings {
                start_block: 0,
                end_block: block,
                vault_received_start_wei: 0,
                vault_received_end_wei: 250_000_000_000_000_000_000,
                agreed_price_from_report: 1,
                feed,
                end_block_timestamp: 1,
            },
            slashed: records.iter().filter(|r| r.slashed).map(|r| r.index).collect(),
            // Bonds are stored beside the report, not computed with: one small write.
            bonds: Vec::new(),
            exits: Vec::new(),
        }
        .into_inputs();
        self.lap("registry mapping, consensus rewards and facts", &mut since);
        Ok(InputsStatus::Ready(Box::new(file)))
    }
}

impl InputsSource for BenchInputs {
    fn frame_inputs(&self, number: u64, frame: (Epoch, Epoch)) -> BoxFuture<'_, Result<InputsStatus, FrameCloseError>> {
        Box::pin(self.inputs(number, frame))
    }
}

fn close_child(dir: &Path, url: &str) {
    let work = PathBuf::from(std::env::var("FRAME_CLOSE_WORK").unwrap());
    let pubkeys: Vec<String> = serde_json::from_slice(&std::fs::read(dir.join("pubkeys.json")).unwrap()).unwrap();
    let pubkeys: Vec<[u8; 48]> = pubkeys.iter().map(|k| hex::decode_fixed(k).unwrap()).collect();
    let operators: u64 = std::fs::read_to_string(dir.join("operators")).unwrap().parse().unwrap();
    let secret: [u8; 32] = hex::decode_fixed(std::fs::read_to_string(dir.join("member.key")).unwrap().trim()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    let started = Instant::now();
    let (genesis, _) = Genesis::load(&dir.join("genesis.json")).unwrap();
    let store = Arc::new(Store::open(&work.join("data")).unwrap());
    let beacon = BeaconClient::new(&[url.to_string()], ClientConfig::default()).unwrap();
    let phases = Arc::new(Mutex::new(vec![("start: genesis, store open", started.elapsed())]));
    let inputs = BenchInputs { beacon, store: store.clone(), pubkeys, operators, phases: phases.clone() };
    let closer =
        FrameCloser::new(genesis.clone(), store.clone(), Box::new(inputs)).with_export_dir(work.join("export"));
    let close_started = Instant::now();
    let closed = rt.block_on(closer.close_next()).unwrap().expect("the frame is ready to close");
    let close = close_started.elapsed();
    let gathered: Duration = phases.lock().unwrap().iter().skip(1).map(|(_, d)| *d).sum();
    let signing = Instant::now();
    let domain = SigningDomain { chain_id: genesis.chain_id, node_manager: genesis.contracts.node_manager.0 };
    let root = domain.signing_root(
        ReportId::new(ReportKind::Rewards, closed.number),
        &closed.merkle_root,
        &closed.report_hash,
    );
    let signature = SecretKeySigner::from_bytes(&secret).unwrap().sign(root.as_bytes());
    store.put_own_signature(ReportKind::Rewards, closed.number, &signature).unwrap();
    let sign = signing.elapsed();
    let total = started.elapsed();
    assert!(closed.export_error.is_none(), "{:?}", closed.export_error);

    let mut figures = serde_json::Map::new();
    figures.insert("total_ms".into(), ms(total).into());
    for (name, d) in phases.lock().unwrap().iter() {
        figures.insert(format!("{name} ms"), ms(*d).into());
    }
    figures.insert(
        "close_next after inputs (tallies, engine, tree, log, store, export) ms".into(),
        ms(close - gathered).into(),
    );
    figures.insert("signing root, BLS signature, synced write ms".into(), ms(sign).into());
    figures.insert("peak_rss_mb".into(), (peak_rss_kb() / 1024).into());
    figures.insert("operators".into(), closed.operators.into());
    figures.insert("t_wei".into(), closed.t_wei.to_string().into());
    figures.insert("merkle_root".into(), hex::encode(&closed.merkle_root).into());
    println!("{}", serde_json::Value::Object(figures));
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// This process's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("Linux /proc/self/status has VmHWM");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
