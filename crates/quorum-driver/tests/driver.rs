//! A committee of four drivers in one process, connected by the in-memory gossip hub,
//! under tokio's paused time: every rebroadcast and fallback happens when the test
//! advances time, and no test waits on the wall clock. The stores are real RocksDB
//! stores in temporary directories.

use claystack_p2p::{MessageId, NetworkError, PeerId, Published, Verdict};
use claystack_primitives::{ReportId, ReportKind};
use claystack_quorum::bls::{parse_signature, verify_aggregate};
use claystack_quorum::{Certificate, Config, Roster, SecretKeySigner, SignatureMessage, Signer, SigningDomain};
use claystack_quorum_driver::test_utils::{member_peer_id, GossipHub, HubHandle};
use claystack_quorum_driver::{
    decode_certificate, is_settled, Gossip, OwnReport, QuorumDriver, QuorumDriverError, QuorumEvent, TokioClock,
};
use claystack_store::{Store, StoredReport};
use futures::future::BoxFuture;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};

const SIZE: usize = 4;
const THRESHOLD: u32 = 3;
const TICK: Duration = Duration::from_millis(250);
const REBROADCAST: Duration = Duration::from_millis(1_000);
const FALLBACK: Duration = Duration::from_millis(5_000);
const CONFIG: Config = Config {
    window_behind: 2,
    window_ahead: 2,
    rebroadcast_ms: REBROADCAST.as_millis() as u64,
    fallback_ms: FALLBACK.as_millis() as u64,
    late_verify_ms: 0,
    fresh_wait_ms: 0,
};
/// Report 1: its first submitter is member (1 + 0) mod 4 = 1, then 2, 3, 0.
const REPORT: OwnReport = OwnReport {
    id: ReportId { kind: ReportKind::Rewards, number: 1 },
    merkle_root: [0xaa; 32],
    report_hash: [0xbb; 32],
    sections: None,
};

fn signer(member: usize) -> SecretKeySigner {
    SecretKeySigner::from_bytes(&[member as u8 + 1; 32]).expect("a valid secret key")
}

fn roster() -> Arc<Roster> {
    let keys: Vec<[u8; 48]> = (0..SIZE).map(|i| signer(i).public_key()).collect();
    let domain = SigningDomain { chain_id: 31337, node_manager: [0x5f; 20] };
    Arc::new(Roster::new(domain, THRESHOLD, &keys).unwrap())
}

/// The hub, and one data directory per member (kept across restarts).
struct Committee {
    hub: GossipHub,
    dirs: Vec<TempDir>,
    roster: Arc<Roster>,
}

/// One member's running driver and the test's ends of its channels.
struct Running {
    own: mpsc::Sender<OwnReport>,
    settled: mpsc::Sender<ReportId>,
    events: mpsc::Receiver<QuorumEvent>,
    store: Arc<Store>,
    task: JoinHandle<Result<(), QuorumDriverError>>,
}

impl Committee {
    fn new() -> Committee {
        let dirs = (0..SIZE).map(|_| tempfile::tempdir().unwrap()).collect();
        Committee { hub: GossipHub::new(), dirs, roster: roster() }
    }

    async fn start(&self, member: usize) -> Running {
        self.start_with(member, |hub, _| Arc::new(hub)).await
    }

    /// Starts `member` on its store (as frame-close would have left it: report 1 stored),
    /// with the network `wrap` makes of its hub connection.
    async fn start_with(&self, member: usize, wrap: impl FnOnce(HubHandle, Arc<Store>) -> Arc<dyn Gossip>) -> Running {
        self.start_on(member, self.dirs[member].path(), CONFIG, wrap).await
    }

    /// Starts `member` on the data dir `dir` with `config`.
    async fn start_on(
        &self,
        member: usize,
        dir: &std::path::Path,
        config: Config,
        wrap: impl FnOnce(HubHandle, Arc<Store>) -> Arc<dyn Gossip>,
    ) -> Running {
        let store = Arc::new(Store::open(dir).unwrap());
        let report = StoredReport {
            merkle_root: REPORT.merkle_root,
            report_hash: REPORT.report_hash,
            report: b"{}".to_vec(),
            tree: b"{}".to_vec(),
            log: b"{}".to_vec(),
        };
        store.put_report(ReportKind::Rewards, 1, &report).unwrap();
        let (hub, network_events) = self.hub.join(member_peer_id(member));
        let network = wrap(hub, store.clone());
        let peer_ids: Vec<String> = (0..SIZE).map(|i| member_peer_id(i).to_string()).collect();
        let clock = Arc::new(TokioClock::new(1_700_000_000_000));
        let (events_tx, events) = mpsc::channel(64);
        let driver = QuorumDriver::start(
            config,
            self.roster.clone(),
            &peer_ids,
            signer(member),
            store.clone(),
            network,
            clock,
            events_tx,
        )
        .await
        .unwrap();
        let (own, own_rx) = mpsc::channel(4);
        let (settled, settled_rx) = mpsc::channel(4);
        let task = tokio::spawn(driver.run(own_rx, network_events, settled_rx, TICK));
        Running { own, settled, events, store, task }
    }

    /// Every signature message `member` published, in order.
    fn published_by(&self, member: usize) -> Vec<SignatureMessage> {
        let peer = member_peer_id(member);
        self.hub
            .published()
            .into_iter()
            .filter(|(from, _)| *from == peer)
            .map(|(_, data)| SignatureMessage::decode(&data).unwrap())
            .collect()
    }
}

impl Running {
    /// The next certificate this member announces, within `within` of tokio time.
    async fn certificate(&mut self, within: Duration) -> Option<Certificate> {
        timeout(within, async {
            loop {
                if let QuorumEvent::Certificate(c) = self.events.recv().await? {
                    return Some(c);
                }
            }
        })
        .await
        .ok()
        .flatten()
    }

    /// The next turn to submit this member announces, within `within` of tokio time.
    async fn submit(&mut self, within: Duration) -> Option<(Certificate, u64)> {
        timeout(within, async {
            loop {
                if let QuorumEvent::Submit { certificate, attempt } = self.events.recv().await? {
                    return Some((certificate, attempt));
                }
            }
        })
        .await
        .ok()
        .flatten()
    }

    /// Turns to submit announced so far and not yet taken.
    fn pending_submits(&mut self) -> Vec<u64> {
        let mut attempts = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            if let QuorumEvent::Submit { attempt, .. } = event {
                attempts.push(attempt);
            }
        }
        attempts
    }

    /// Stops the driver (its report channel closes) and releases the store.
    async fn stop(self) {
        drop(self.own);
        self.task.await.unwrap().unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_quorum_certificate_forms_with_the_same_root_at_every_member() {
    let committee = Committee::new();
    let mut members = Vec::new();
    for i in 0..SIZE {
        members.push(committee.start(i).await);
    }
    for m in &members {
        m.own.send(REPORT).await.unwrap();
    }
    let root = committee.roster.signing_root(REPORT.id, &REPORT.merkle_root, &REPORT.report_hash);
    for (i, m) in members.iter_mut().enumerate() {
        let cert = m.certificate(Duration::from_secs(5)).await.unwrap_or_else(|| panic!("member {i}: no certificate"));
        assert_eq!((cert.id, cert.signing_root, cert.merkle_root), (REPORT.id, root, REPORT.merkle_root), "member {i}");
        let signers: Vec<u16> = cert.signers.members().collect();
        assert!(signers.len() >= THRESHOLD as usize, "member {i}: {signers:?}");
        let keys: Vec<_> = signers.iter().map(|&s| committee.roster.key(s).unwrap()).collect();
        let aggregate = parse_signature(&cert.signature).unwrap();
        assert!(verify_aggregate(&keys, root.as_bytes(), &aggregate), "member {i}: the aggregate does not verify");
        // The driver stored what it announced.
        let stored = m.store.aggregate(ReportKind::Rewards, 1).unwrap().expect("a stored certificate");
        assert_eq!(decode_certificate(&stored).unwrap().signing_root, root, "member {i}");
    }
    // Every delivery was judged valid: nothing was refused or ignored.
    let verdicts = committee.hub.verdicts();
    assert!(!verdicts.is_empty() && verdicts.iter().all(|v| v.verdict == Verdict::Accept), "{verdicts:?}");
}

#[tokio::test(start_paused = true)]
async fn a_member_that_starts_late_gets_the_others_signatures_on_the_next_rebroadcast() {
    let committee = Committee::new();
    let mut early = Vec::new();
    for i in 0..3 {
        early.push(committee.start(i).await);
    }
    for m in &early {
        m.own.send(REPORT).await.unwrap();
    }
    for m in &mut early {
        m.certificate(Duration::from_secs(5)).await.expect("three members are a quorum");
    }
    // Signed at t=0, rebroadcast at t=1 s and t=2 s: member 3 joins between the two.
    sleep(Duration::from_millis(1_500)).await;
    let mut late = committee.start(3).await;
    sleep(Duration::from_millis(400)).await;
    assert!(late.events.try_recv().is_err(), "member 3 heard something before the next rebroadcast");
    let joined = Instant::now();
    let cert = late.certificate(REBROADCAST).await.expect("the rebroadcast brings the quorum to member 3");
    assert!(joined.elapsed() <= Duration::from_millis(200), "came {:?} after t=1.9 s", joined.elapsed());
    assert_eq!(cert.merkle_root, REPORT.merkle_root);
    assert_eq!(cert.signers.members().collect::<Vec<_>>(), vec![0, 1, 2]);
}

#[tokio::test(start_paused = true)]
async fn the_turn_to_submit_passes_to_the_next_member_after_the_fallback_delay() {
    let committee = Committee::new();
    let mut members = Vec::new();
    for i in 0..SIZE {
        members.push(committee.start(i).await);
    }
    for m in &members {
        m.own.send(REPORT).await.unwrap();
    }
    // Report 1's first turn is member 1's, as soon as it sees the quorum.
    let (cert, attempt) = members[1].submit(Duration::from_secs(1)).await.expect("member 1's turn");
    assert_eq!((cert.id, attempt), (REPORT.id, 0));
    let quorum_at = Instant::now();
    // Member 1 does not settle it: after the fallback delay, it is member 2's turn.
    let (_, attempt) = members[2].submit(FALLBACK + TICK).await.expect("member 2's turn");
    assert_eq!(attempt, 1);
    let waited = quorum_at.elapsed();
    assert!(waited >= FALLBACK && waited <= FALLBACK + TICK, "member 2's turn came after {waited:?}");
    for i in [0, 3] {
        assert_eq!(members[i].pending_submits(), Vec::<u64>::new(), "member {i}");
    }
    // Once the report settles everywhere, nobody's turn comes again.
    for m in &members {
        m.settled.send(REPORT.id).await.unwrap();
    }
    sleep(FALLBACK * 4).await;
    for (i, m) in members.iter_mut().enumerate() {
        assert_eq!(m.pending_submits(), Vec::<u64>::new(), "member {i}");
        assert!(is_settled(&m.store, REPORT.id).unwrap(), "member {i}");
    }
}

/// Checks, at every publication, that the store already holds the signature sent.
struct StoredFirst {
    inner: HubHandle,
    store: Arc<Store>,
    /// Per publication: whether the store held exactly its bytes as the own signature.
    seen: Arc<Mutex<Vec<bool>>>,
}

impl Gossip for StoredFirst {
    fn publish(&self, data: Vec<u8>) -> BoxFuture<'_, Result<Published, NetworkError>> {
        let m = SignatureMessage::decode(&data).unwrap();
        let stored = self.store.own_signature(m.kind, m.number).unwrap();
        self.seen.lock().unwrap().push(stored.as_deref() == Some(&data[..]));
        self.inner.publish(data)
    }

    fn validate(&self, id: MessageId, source: PeerId, verdict: Verdict) -> BoxFuture<'_, Result<(), NetworkError>> {
        self.inner.validate(id, source, verdict)
    }
}

#[tokio::test(start_paused = true)]
async fn an_own_signature_is_in_the_store_before_it_is_published() {
    let committee = Committee::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let check = seen.clone();
    let member = committee.start_with(0, move |inner, store| Arc::new(StoredFirst { inner, store, seen: check })).await;
    member.own.send(REPORT).await.unwrap();
    // The broadcast, then two rebroadcasts.
    sleep(REBROADCAST * 2 + TICK).await;
    assert_eq!(*seen.lock().unwrap(), vec![true, true, true]);
    assert!(committee.published_by(0).iter().all(|m| m.merkle_root == REPORT.merkle_root));
}

#[tokio::test(start_paused = true)]
async fn a_restarted_driver_does_not_sign_a_second_root_for_a_report_it_signed() {
    let committee = Committee::new();
    let first = committee.start(0).await;
    first.own.send(REPORT).await.unwrap();
    sleep(TICK).await;
    assert_eq!(committee.published_by(0).len(), 1);
    first.stop().await;

    // Restarted on the same data directory, it is handed another root for report 1.
    let restarted = committee.start(0).await;
    let other = OwnReport { merkle_root: [0xcc; 32], report_hash: [0xdd; 32], ..REPORT };
    restarted.own.send(other).await.unwrap();
    sleep(REBROADCAST * 2 + TICK).await;
    let published = committee.published_by(0);
    // At start-up it gossips its stored signature again, then rebroadcasts it; never the other root.
    assert!(published.len() >= 3, "{published:?}");
    assert!(published.iter().all(|m| m.merkle_root == REPORT.merkle_root), "{published:?}");
    let stored = SignatureMessage::decode(&restarted.store.own_signature(ReportKind::Rewards, 1).unwrap().unwrap());
    assert_eq!(stored.unwrap().merkle_root, REPORT.merkle_root);
    // Refusing is not an error: the driver keeps running.
    assert!(!restarted.task.is_finished());
}

#[tokio::test(start_paused = true)]
async fn a_driver_on_a_lost_data_dir_waits_and_never_signs_another_root() {
    let committee = Committee::new();
    let mut members = Vec::new();
    for i in 0..SIZE {
        members.push(committee.start(i).await);
    }
    for m in &members {
        m.own.send(REPORT).await.unwrap();
    }
    for m in &mut members {
        m.certificate(Duration::from_secs(5)).await.expect("a quorum");
    }
    members.pop().unwrap().stop().await;
    // What member 3 signed and gossiped (it also re-gossips the others' signatures).
    let own_key =
        || -> Vec<SignatureMessage> { committee.published_by(3).into_iter().filter(|m| m.signer == 3).collect() };
    let before = own_key().len();

    // Member 3 again, on an empty data dir, and it computes another root.
    let lost = tempfile::tempdir().unwrap();
    let config = Config { fresh_wait_ms: 2 * REBROADCAST.as_millis() as u64, ..CONFIG };
    let fresh = committee.start_on(3, lost.path(), config, |hub, _| Arc::new(hub)).await;
    let other = OwnReport { merkle_root: [0xcc; 32], report_hash: [0xdd; 32], ..REPORT };
    fresh.own.send(other).await.unwrap();
    sleep(REBROADCAST * 4).await;
    // It heard its earlier signature re-gossiped by the peers and signed nothing.
    assert_eq!(own_key().len(), before, "{:?}", own_key());
    assert_eq!(fresh.store.own_signature(ReportKind::Rewards, 1).unwrap(), None);
    assert!(!fresh.task.is_finished());
    // The peers never saw a second root from member 3: nothing was refused as an equivocation.
    assert!(committee.hub.verdicts().iter().all(|v| v.verdict != Verdict::Reject));

    // The same lost data dir handed the root it did sign: it adopts and gossips that one.
    fresh.stop().await;
    let again = committee.start_on(3, lost.path(), config, |hub, _| Arc::new(hub)).await;
    again.own.send(REPORT).await.unwrap();
    sleep(REBROADCAST * 3).await;
    let stored = again.store.own_signature(ReportKind::Rewards, 1).unwrap().expect("adopted");
    assert_eq!(SignatureMessage::decode(&stored).unwrap().merkle_root, REPORT.merkle_root);
    let published = own_key();
    assert!(published.len() > before && published.iter().all(|m| m.merkle_root == REPORT.merkle_root));
}
