//! Whole nodes in one process, under tokio's paused time: a committee of four closes a
//! report from tallies already in their (real, temporary) stores, signs it, reaches a
//! quorum over the in-memory gossip hub, submits it to a stand-in for the NodeManager,
//! settles it, and stops when its shutdown future fires. No sockets, no wall clock.

use claystack_accounting::{EpochTally, Tally};
use claystack_execution::alloy::primitives::B256;
use claystack_execution::{ChainError, ExitsLeaf, PublishedExitTx, SubmitOutcome};
use claystack_frame_close::{FrameCloser, InputFiles};
use claystack_genesis::{generate_local, Genesis};
use claystack_primitives::{ReportId, ReportKind};
use claystack_quorum::bls::{parse_signature, verify_aggregate};
use claystack_quorum::{
    Certificate, CommitteeSchedule, Config as CollectorConfig, Roster, SecretKeySigner, SignatureMessage, Signer,
};
use claystack_quorum_driver::test_utils::{member_peer_id, GossipHub};
use claystack_quorum_driver::{is_settled, TokioClock};
use claystack_service::{AcceptedReports, Accounting, Health, Member, Node, NodeError, Reports, SubmitCertificate};
use claystack_store::{AccountingCursor, Store};
use claystack_sync::{FollowerStatus, SyncError};
use futures::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::watch;
use tokio::time::{sleep, timeout, Instant};

const SIZE: usize = 4;
const REBROADCAST: Duration = Duration::from_secs(1);
const FALLBACK: Duration = Duration::from_secs(5);
const REPORT_1: ReportId = ReportId { kind: ReportKind::Rewards, number: 1 };

fn inputs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// A local committee of four (threshold 3, frames of 4 epochs) whose members have real
/// libp2p peer ids, and the members' BLS secrets.
fn committee() -> (Genesis, Vec<[u8; 32]>) {
    let (mut genesis, secrets) = generate_local(SIZE, 3, [7; 32], 31337);
    for (i, member) in genesis.committee.members.iter_mut().enumerate() {
        member.peer_id = member_peer_id(i).to_string();
    }
    assert_eq!(genesis.economics.frame_epochs, 4);
    (genesis, secrets)
}

/// A store that accounting has taken through epoch 4: report 1 (epochs 0-3) can close.
fn store_with_tallies(dir: &Path) -> Arc<Store> {
    store_with_epochs(dir, 5)
}

/// A store with epochs `0..epochs` accounted.
fn store_with_epochs(dir: &Path, epochs: u64) -> Arc<Store> {
    let store = Store::open(dir).unwrap();
    for epoch in 0..epochs {
        let tallies = (0..25u64)
            .map(|v| {
                let included = u32::from((v + epoch) % 7 != 0);
                Tally { validator: v, duties: 1, included, timely: included }
            })
            .collect();
        let cursor = AccountingCursor { next_epoch: epoch + 1, anchor: None, tracked_hash: [0; 32] };
        store.commit_epoch(&EpochTally { epoch, tallies }, &cursor).unwrap();
    }
    Arc::new(store)
}

/// Accounting that has nothing left to do and never finishes.
struct Caught;

impl Accounting for Caught {
    fn run(&self) -> BoxFuture<'_, Result<(), SyncError>> {
        Box::pin(std::future::pending())
    }
}

/// Accounting that ends after `after`: with `Ok` (a last epoch reached) or with an error.
struct EndsAfter {
    after: Duration,
    fails: bool,
}

impl Accounting for EndsAfter {
    fn run(&self) -> BoxFuture<'_, Result<(), SyncError>> {
        Box::pin(async move {
            sleep(self.after).await;
            if self.fails {
                Err(SyncError::NothingTracked)
            } else {
                Ok(())
            }
        })
    }
}

/// A stand-in for the NodeManager shared by the committee: it accepts reports in order,
/// and records who submitted what.
#[derive(Clone, Default)]
struct StandInNodeManager {
    state: Arc<Mutex<ChainState>>,
}

#[derive(Default)]
struct ChainState {
    accepted: Vec<Certificate>,
    submissions: Vec<(usize, Certificate)>,
    /// The committee versions it answers (`None`: it does not say, genesis only).
    schedule: Option<CommitteeSchedule>,
}

/// One member's connection to the [`StandInNodeManager`].
struct ChainClient {
    chain: StandInNodeManager,
    member: usize,
}

impl SubmitCertificate for ChainClient {
    fn submit<'a>(&'a self, certificate: &'a Certificate) -> BoxFuture<'a, Result<SubmitOutcome, ChainError>> {
        let mut state = self.chain.state.lock().unwrap();
        state.submissions.push((self.member, certificate.clone()));
        let outcome = match state.accepted.iter().find(|c| c.id == certificate.id) {
            Some(c) => SubmitOutcome::AlreadyAccepted {
                id: c.id,
                root: B256::from(c.merkle_root),
                same_root: c.merkle_root == certificate.merkle_root,
                accepted: None,
                our_tx: None,
            },
            None => {
                assert_eq!(certificate.id.number, state.accepted.len() as u64 + 1, "out of order");
                state.accepted.push(certificate.clone());
                SubmitOutcome::Accepted { tx: B256::repeat_byte(1), block: 100, gas_used: 90_000, replacements: 0 }
            }
        };
        Box::pin(std::future::ready(Ok(outcome)))
    }

    /// The stand-in accepts rewards reports only (these genesis files have no exits section).
    fn publish_exit<'a>(
        &'a self,
        number: u64,
        _leaf: &'a ExitsLeaf,
        _proof: &'a [[u8; 32]],
    ) -> BoxFuture<'a, Result<PublishedExitTx, ChainError>> {
        panic!("exits report {number} published on a committee whose genesis has no exits section")
    }
}

impl AcceptedReports for ChainClient {
    fn last_accepted(&self, kind: ReportKind) -> BoxFuture<'_, Result<u64, ChainError>> {
        let state = self.chain.state.lock().unwrap();
        let last = state.accepted.iter().filter(|c| c.id.kind == kind).map(|c| c.id.number).max();
        Box::pin(std::future::ready(Ok(last.unwrap_or(0))))
    }

    fn committee_schedule<'a>(
        &'a self,
        _genesis: &'a Roster,
        _known_versions: u64,
    ) -> BoxFuture<'a, Result<Option<CommitteeSchedule>, ChainError>> {
        // Always the whole schedule: the watcher keeps only a longer one.
        Box::pin(std::future::ready(Ok(self.chain.state.lock().unwrap().schedule.clone())))
    }
}

/// Member `i` of the committee, with its data directory, connected to `hub` and `chain`.
fn member_node(
    i: usize,
    (genesis, secrets): &(Genesis, Vec<[u8; 32]>),
    hub: &GossipHub,
    chain: &StandInNodeManager,
    dir: &Path,
    accounting: Box<dyn Accounting>,
) -> Node {
    keyed_node(i, &secrets[i], genesis, hub, chain, store_with_tallies(dir), dir, accounting)
}

/// A node with BLS secret `secret` at gossip peer `peer` (a member added by a committee
/// change has a key that is not in genesis).
#[allow(clippy::too_many_arguments)]
fn keyed_node(
    peer: usize,
    secret: &[u8; 32],
    genesis: &Genesis,
    hub: &GossipHub,
    chain: &StandInNodeManager,
    store: Arc<Store>,
    dir: &Path,
    accounting: Box<dyn Accounting>,
) -> Node {
    let i = peer;
    let (network, network_events) = hub.join(member_peer_id(peer));
    let member = Member {
        signer: SecretKeySigner::from_bytes(secret).unwrap(),
        roster: Arc::new(Roster::from_genesis(genesis).unwrap()),
        collector: CollectorConfig {
            rebroadcast_ms: REBROADCAST.as_millis() as u64,
            fallback_ms: FALLBACK.as_millis() as u64,
            // Every member starts on a new data dir here; the wait is tested in quorum and node/tests.
            fresh_wait_ms: 0,
            ..CollectorConfig::default()
        },
        network: Arc::new(network),
        network_events,
        submitter: Some(Box::new(ChainClient { chain: chain.clone(), member: i })),
        chain: Some(Box::new(ChainClient { chain: chain.clone(), member: i })),
    };
    let reports = Reports {
        genesis: genesis.clone(),
        inputs: Box::new(InputFiles::new(&inputs_dir())),
        export_dir: dir.join("reports"),
        poll_interval: Duration::from_secs(1),
        member: Some(member),
        exits: None,
    };
    Node::new(store, Arc::new(TokioClock::new(1_700_000_000_000)), accounting, Some(reports))
}

/// Polls `done` every 100 ms of tokio time, for at most `within`.
async fn until(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    timeout(within, async {
        while !done() {
            sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .is_ok()
}

#[tokio::test(start_paused = true)]
async fn a_committee_closes_signs_submits_and_settles_a_report_then_stops_on_shutdown() {
    let committee = committee();
    let (hub, chain) = (GossipHub::new(), StandInNodeManager::default());
    let dirs: Vec<TempDir> = (0..SIZE).map(|_| tempfile::tempdir().unwrap()).collect();
    let (stop, stopped) = watch::channel(false);
    let mut nodes = Vec::new();
    let mut timings = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let node = member_node(i, &committee, &hub, &chain, dir.path(), Box::new(Caught));
        timings.push(node.timings());
        let mut stopped = stopped.clone();
        let shutdown = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        nodes.push(tokio::spawn(node.run(shutdown)));
    }

    let accepted = || !chain.state.lock().unwrap().accepted.is_empty();
    assert!(until(Duration::from_secs(30), accepted).await, "no report reached the chain");
    // Everyone learns it settled (the submitter from its transaction, the others from the
    // chain), so the turn passes to nobody else after the fallback delay.
    sleep(FALLBACK * 2).await;
    let root = {
        let state = chain.state.lock().unwrap();
        assert_eq!(state.submissions.len(), 1, "submitted by members {:?}", state.submissions.iter().map(|s| s.0));
        let (by, cert) = &state.submissions[0];
        // Report 1's first turn: member (1 + 0) mod 4.
        assert_eq!((*by, cert.id), (1, REPORT_1));
        // What each member measured about itself: every member closed the report; a member
        // that had its own report before the quorum formed measured the time to it (at least
        // the threshold's worth did: their signatures formed it); only the submitter counts an
        // accepted submission, with the stand-in's gas.
        let readings: Vec<_> = timings.iter().map(|t| t.reading()).collect();
        assert!(readings.iter().all(|r| r.report_close_ms.is_some()), "{readings:?}");
        let timed = readings.iter().filter(|r| r.time_to_quorum_ms.is_some_and(|ms| ms < 30_000)).count();
        assert!(timed >= 3, "{readings:?}");
        for (i, r) in readings.iter().enumerate() {
            let submitted = if i == 1 { (1, Some(90_000)) } else { (0, None) };
            assert_eq!((r.submissions, r.submission_gas_used), submitted, "member {i}: {r:?}");
        }
        let roster = Roster::from_genesis(&committee.0).unwrap();
        let keys: Vec<_> = cert.signers.members().map(|m| roster.key(m).unwrap()).collect();
        assert!(keys.len() >= 3);
        assert!(verify_aggregate(&keys, cert.signing_root.as_bytes(), &parse_signature(&cert.signature).unwrap()));
        cert.merkle_root
    };

    // Each node stops when told, and lets go of its store.
    stop.send(true).unwrap();
    for (i, node) in nodes.into_iter().enumerate() {
        let result = timeout(Duration::from_secs(1), node).await.expect("stops at once").unwrap();
        assert!(result.is_ok(), "member {i}: {result:?}");
    }
    for (i, dir) in dirs.iter().enumerate() {
        let store = Store::open(dir.path()).expect("the node released its store");
        let report = store.report(ReportKind::Rewards, 1).unwrap().expect("report 1 stored");
        assert_eq!(report.merkle_root, root, "member {i} closed another root");
        let own = SignatureMessage::decode(&store.own_signature(ReportKind::Rewards, 1).unwrap().unwrap()).unwrap();
        assert_eq!((own.signer, own.merkle_root), (i as u16, root), "member {i}");
        assert!(is_settled(&store, REPORT_1).unwrap(), "member {i} did not settle");
        let exported = std::fs::read_to_string(dir.path().join("reports/rewards-1/root")).unwrap();
        assert_eq!(exported.trim(), claystack_primitives::hex::encode(&root), "member {i}");
    }
}

#[tokio::test(start_paused = true)]
async fn an_error_in_one_task_ends_run_with_that_error() {
    let committee = committee();
    let dir = tempfile::tempdir().unwrap();
    let accounting = Box::new(EndsAfter { after: Duration::from_secs(3), fails: true });
    let node = member_node(0, &committee, &GossipHub::new(), &StandInNodeManager::default(), dir.path(), accounting);
    let started = Instant::now();
    let result = timeout(Duration::from_secs(60), node.run(std::future::pending())).await.expect("run ended");
    let err = result.unwrap_err();
    assert!(matches!(err, NodeError::Accounting(SyncError::NothingTracked)), "{err:?}");
    assert_eq!(started.elapsed(), Duration::from_secs(3), "ended by something else");
    // The cause is kept as the source, not repeated in the message.
    assert_eq!(err.to_string(), "accounting stopped");
    let source = std::error::Error::source(&err).expect("a source").to_string();
    assert_eq!(source, SyncError::NothingTracked.to_string());
    // Every other task (driver, closer, submitter, watcher) has let go of the store.
    Store::open(dir.path()).expect("the node released its store");
}

#[tokio::test(start_paused = true)]
async fn finished_accounting_ends_a_node_unless_it_is_a_committee_member() {
    let committee = committee();
    let dir = tempfile::tempdir().unwrap();
    let reports = Reports {
        genesis: committee.0.clone(),
        inputs: Box::new(InputFiles::new(&inputs_dir())),
        export_dir: dir.path().join("reports"),
        poll_interval: Duration::from_secs(1),
        member: None,
        exits: None,
    };
    let accounting = Box::new(EndsAfter { after: Duration::from_secs(3), fails: false });
    let clock = Arc::new(TokioClock::new(0));
    let node = Node::new(store_with_tallies(dir.path()), clock, accounting, Some(reports));
    let started = Instant::now();
    timeout(Duration::from_secs(60), node.run(std::future::pending())).await.expect("run ended").unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(3));

    // A member keeps gossiping after accounting is done, until it is told to stop.
    let dir = tempfile::tempdir().unwrap();
    let accounting = Box::new(EndsAfter { after: Duration::from_secs(3), fails: false });
    let node = member_node(0, &committee, &GossipHub::new(), &StandInNodeManager::default(), dir.path(), accounting);
    let started = Instant::now();
    node.run(sleep(Duration::from_secs(20))).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(20));
}

/// Accounting that never finishes and reports the status the test sets.
struct Reporting(watch::Sender<FollowerStatus>);

impl Accounting for Reporting {
    fn run(&self) -> BoxFuture<'_, Result<(), SyncError>> {
        Box::pin(std::future::pending())
    }

    fn status(&self) -> Option<watch::Receiver<FollowerStatus>> {
        Some(self.0.subscribe())
    }
}

#[tokio::test(start_paused = true)]
async fn health_is_degraded_while_accounting_retries_and_ok_again_after() {
    let committee = committee();
    let dir = tempfile::tempdir().unwrap();
    let status = watch::Sender::new(FollowerStatus::Following);
    let accounting = Box::new(Reporting(status.clone()));
    let node = member_node(0, &committee, &GossipHub::new(), &StandInNodeManager::default(), dir.path(), accounting);
    let mut health = node.health();
    let (stop, mut stopped) = watch::channel(false);
    let running = tokio::spawn(node.run(async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    sleep(Duration::from_secs(5)).await;
    assert_eq!(*health.borrow_and_update(), Health::Ok);

    status.send_replace(FollowerStatus::Retrying { error: "beacon node unreachable".into() });
    timeout(Duration::from_secs(1), health.changed()).await.expect("health changes").unwrap();
    match &*health.borrow_and_update() {
        Health::Degraded { since_ms, reason } => {
            assert_eq!(*since_ms, 1_700_000_005_000, "since the change, on the node's clock");
            assert!(reason.starts_with("accounting: ") && reason.contains("beacon node unreachable"), "{reason}");
        }
        Health::Ok => panic!("still Ok"),
    }
    // The node runs on (the driver, the closer, the submitter): nothing ended.
    sleep(Duration::from_secs(60)).await;
    assert!(!running.is_finished());

    status.send_replace(FollowerStatus::Following);
    timeout(Duration::from_secs(1), health.changed()).await.expect("health changes").unwrap();
    assert_eq!(*health.borrow_and_update(), Health::Ok);
    stop.send(true).unwrap();
    running.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_restarted_member_signs_every_stored_report_it_had_not_signed() {
    let committee = committee();
    let dir = tempfile::tempdir().unwrap();
    // Reports 1 and 2 were stored, and the node stopped before signing either (a crash, or
    // an export that failed before the report reached the driver).
    {
        let store = store_with_epochs(dir.path(), 9);
        let closer = FrameCloser::new(committee.0.clone(), store.clone(), Box::new(InputFiles::new(&inputs_dir())));
        let (closed, _) = closer.close_ready().await.unwrap();
        assert_eq!(closed.iter().map(|c| c.number).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(store.own_signature(ReportKind::Rewards, 1).unwrap(), None);
    }
    let node =
        member_node(0, &committee, &GossipHub::new(), &StandInNodeManager::default(), dir.path(), Box::new(Caught));
    node.run(sleep(Duration::from_secs(5))).await.unwrap();

    let store = Store::open(dir.path()).unwrap();
    for number in [1, 2] {
        let stored = store.report(ReportKind::Rewards, number).unwrap().unwrap();
        let own = store.own_signature(ReportKind::Rewards, number).unwrap();
        let own = SignatureMessage::decode(&own.unwrap_or_else(|| panic!("report {number} unsigned"))).unwrap();
        assert_eq!((own.number, own.merkle_root), (number, stored.merkle_root));
    }
}

/// Governance replaced member 1 by a new key and raised the threshold to 4 from report 2:
/// report 1 is certified by genesis' committee; report 2 only by the new one, all four of it,
/// with the new node (whose key is not in genesis) at index 1; the replaced node signs report
/// 1 and not report 2.
#[tokio::test(start_paused = true)]
async fn a_committee_change_applies_from_its_report_on() {
    let committee = committee();
    let new_secret = [0x55; 32];
    let genesis_roster = Roster::from_genesis(&committee.0).unwrap();
    let mut schedule = CommitteeSchedule::new(genesis_roster.clone());
    let mut keys = genesis_roster.public_keys().to_vec();
    keys[1] = SecretKeySigner::from_bytes(&new_secret).unwrap().public_key();
    schedule.push(1, 2, 2, 4, &keys).unwrap();
    let (hub, chain) = (GossipHub::new(), StandInNodeManager::default());
    chain.state.lock().unwrap().schedule = Some(schedule.clone());

    // Genesis' four members and the new one (gossip peer 4), each with reports 1 and 2 to close.
    let dirs: Vec<TempDir> = (0..=SIZE).map(|_| tempfile::tempdir().unwrap()).collect();
    let (stop, stopped) = watch::channel(false);
    let mut nodes = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let secret = if i < SIZE { committee.1[i] } else { new_secret };
        let store = store_with_epochs(dir.path(), 9);
        let node = keyed_node(i, &secret, &committee.0, &hub, &chain, store, dir.path(), Box::new(Caught));
        let mut stopped = stopped.clone();
        let shutdown = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        nodes.push(tokio::spawn(node.run(shutdown)));
    }
    let both = || chain.state.lock().unwrap().accepted.len() == 2;
    assert!(until(Duration::from_secs(60), both).await, "reports 1 and 2 did not both reach the chain");
    // Late signatures fold into the stored certificates.
    sleep(FALLBACK * 2).await;
    stop.send(true).unwrap();
    for node in nodes {
        timeout(Duration::from_secs(1), node).await.expect("stops at once").unwrap().unwrap();
    }

    let accepted = chain.state.lock().unwrap().accepted.clone();
    for cert in &accepted {
        let roster = &schedule.for_report(cert.id).roster;
        let keys: Vec<_> = cert.signers.members().map(|m| roster.key(m).unwrap()).collect();
        let signature = parse_signature(&cert.signature).unwrap();
        assert!(verify_aggregate(&keys, cert.signing_root.as_bytes(), &signature), "{}: its version's keys", cert.id);
        assert!(cert.signers.len() >= roster.threshold(), "{}: {:?}", cert.id, cert.signers);
    }
    assert_eq!(accepted[1].signers.members().collect::<Vec<_>>(), vec![0, 1, 2, 3], "report 2 needs all four");
    let report_2 = ReportId { kind: ReportKind::Rewards, number: 2 };
    let own = |dir: &TempDir, number| {
        let store = Store::open(dir.path()).unwrap();
        store.own_signature(ReportKind::Rewards, number).unwrap().map(|m| SignatureMessage::decode(&m).unwrap())
    };
    // The replaced node signed report 1 as member 1, and not report 2.
    assert_eq!(own(&dirs[1], 1).map(|m| m.signer), Some(1));
    assert_eq!(own(&dirs[1], 2), None);
    // The new node did not sign report 1 (not a member then) and signed report 2 as member 1,
    // and that is the signature in report 2's certificate.
    assert_eq!(own(&dirs[SIZE], 1), None);
    let new_2 = own(&dirs[SIZE], 2).expect("the new member signed report 2");
    assert_eq!(new_2.signer, 1);
    let roster_2 = &schedule.for_report(report_2).roster;
    let root = roster_2.signing_root(report_2, &new_2.merkle_root, &new_2.report_hash);
    assert!(roster_2.verify(1, &root, &parse_signature(&new_2.signature).unwrap()));
    assert_eq!(new_2.merkle_root, accepted[1].merkle_root);
}
