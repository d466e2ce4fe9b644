//! The committee member's driver: the async shell around the pure signature collector
//! (`claystack-quorum`). It feeds the collector this node's closed reports, the
//! peers' gossip and the clock, and carries out its actions against the store, the
//! network and (through [`QuorumEvent`]s) the node's submitter.
//!
//! # Promises
//!
//! Ordering is the one promise it adds: an own signature is synced to the store before
//! it is gossiped (`Action::Persist` then `Action::Broadcast`), so a restarted node can
//! never sign a second root for a report it already signed. Everything else — which
//! root wins, who submits when — is decided by the collector; the driver must never
//! decide it.
//!
//! Gossip verdicts come from the collector too. A received message is decoded and handed
//! to the collector at once; gossipsub (manual validation) holds it unforwarded until the
//! collector's batch has checked it: `Action::Record` (or a message it already holds
//! verified) is Accept, `Action::Reject` is Reject (Ignore for a report outside the
//! window). So each peer signature is BLS-verified once per node, in a batch, and a forged
//! one is never forwarded. A verdict waits for the batch that checks its message: the
//! quorum batch, or for a signature that arrives after the quorum, `late_verify_ms` and a
//! tick. Delivery does not wait: authors send to every member directly.
//!
//! # Seams
//!
//! The driver reads time only through a [`Clock`] and waits only on `tokio::time`, and
//! reaches the network only through [`Gossip`] (publish, verdict) and a channel of
//! `NetworkEvent`s. A node passes [`WallClock`] and the libp2p `NetworkHandle`; tests pass
//! a [`TokioClock`] and the in-memory hub of `test_utils` (feature `test-utils`), and run
//! a whole committee in one process under paused time. The store is the real one.

mod clock;
mod gossip;
mod record;
mod sections;
pub mod signing_record;
#[cfg(any(test, feature = "test-utils"))]
pub mod test_utils;

pub use clock::{Clock, TokioClock, WallClock};
pub use gossip::Gossip;
pub use record::{decode_certificate, encode_certificate, is_settled};

use claystack_p2p::{MessageId, NetworkEvent, PeerId, Verdict};
use claystack_primitives::hex;
use claystack_primitives::sections::Sections;
use claystack_primitives::{ReportId, ReportKind};
use claystack_quorum::{
    Action, Certificate, Collector, CollectorError, CommitteeSchedule, Config, DecodeError, Input, Persisted, Roster,
    SectionDigest, SignatureMessage, Signer, Standing, DIGEST_LEN, DIGEST_VERSION,
};
use claystack_store::{Store, StoreError};
use sections::{Disagreement, PeerDigest, SectionBook};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};

/// Why the driver could not start, or stopped.
#[derive(Debug, Error)]
pub enum QuorumDriverError {
    /// The collector refused its configuration, its restored state or an input.
    #[error("the signature collector refused its input")]
    Collector(#[from] CollectorError),
    /// Reading or writing a record in the store failed; `what` names the record.
    #[error("cannot {what}")]
    Store {
        what: String,
        #[source]
        source: StoreError,
    },
    /// A genesis member's peer id is not a libp2p peer id.
    #[error("genesis member {member}: peer id {value:?} is not a libp2p peer id — regenerate the genesis with real member keys")]
    PeerId { member: usize, value: String },
    /// A stored signature message does not decode.
    #[error("the stored signature of {id} is corrupt")]
    Corrupt {
        id: ReportId,
        #[source]
        source: DecodeError,
    },
}

/// Names the record a store call was about, for [`QuorumDriverError::Store`].
fn store_error(what: impl FnOnce() -> String) -> impl FnOnce(StoreError) -> QuorumDriverError {
    move |source| QuorumDriverError::Store { what: what(), source }
}

/// A report this node computed and now signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnReport {
    pub id: ReportId,
    pub merkle_root: [u8; 32],
    pub report_hash: [u8; 32],
    /// The frame log's named sections, gossiped beside the signature so that members with
    /// different roots can see which input differs (`None`: a report stored without a log).
    pub sections: Option<Sections>,
}

/// What the driver tells the rest of the node (the submitter, the API, tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuorumEvent {
    /// A quorum certificate exists (or gained signers).
    Certificate(Certificate),
    /// It is this node's turn to submit the certificate.
    Submit { certificate: Certificate, attempt: u64 },
}

/// How many reports below the newest stored one are restored at start-up.
const RESTORE_BEHIND: u64 = 4;

/// Reads what the collector needs after a restart: own and peers' signatures and
/// certificates of the last few reports of each kind, below the newest stored report.
pub fn restore(store: &Store) -> Result<Persisted, QuorumDriverError> {
    let mut persisted = Persisted::default();
    // An imported signing record can run ahead of the stored reports.
    let own = store.own_signatures().map_err(store_error(|| "read the signing record".to_string()))?;
    for kind in ReportKind::ALL {
        let latest =
            store.latest_report(kind).map_err(store_error(|| format!("read the newest stored {kind} report")))?;
        let newest_own = own.iter().filter(|(k, _, _)| *k == kind).map(|(_, n, _)| *n).max();
        let top = latest.map_or(0, |(number, _)| number).max(newest_own.unwrap_or(0));
        persisted.current[kind.byte() as usize] = top;
        for number in top.saturating_sub(RESTORE_BEHIND).max(1)..=top {
            let id = ReportId { kind, number };
            let decode = |bytes: &[u8]| {
                SignatureMessage::decode(bytes).map_err(|source| QuorumDriverError::Corrupt { id, source })
            };
            let own =
                store.own_signature(kind, number).map_err(store_error(|| format!("read the own signature of {id}")))?;
            if let Some(bytes) = own {
                persisted.own.push(decode(&bytes)?);
            }
            let peers = store
                .peer_signatures(kind, number)
                .map_err(store_error(|| format!("read the peer signatures of {id}")))?;
            for bytes in peers {
                persisted.peers.push(decode(&bytes)?);
            }
            if is_settled(store, id).map_err(store_error(|| format!("read the submission state of {id}")))? {
                persisted.settled.push(id);
            }
        }
    }
    Ok(persisted)
}

/// The driver of one committee member.
pub struct QuorumDriver<S> {
    collector: Collector<S>,
    store: Arc<Store>,
    network: Arc<dyn Gossip>,
    clock: Arc<dyn Clock>,
    /// Who handed over a message (gossip `source`), for the logs of refused ones.
    members_by_peer: BTreeMap<PeerId, u16>,
    events: mpsc::Sender<QuorumEvent>,
    /// Gossip deliveries waiting for the collector's verdict on their message (one
    /// message can arrive as several publications: rebroadcasts).
    awaiting: BTreeMap<SignatureMessage, Vec<(MessageId, PeerId)>>,
    /// Own and peers' section digests (diagnostics).
    book: SectionBook,
    /// Longer committee schedules as the chain is read (`with_schedule_updates`).
    schedule_updates: Option<watch::Receiver<CommitteeSchedule>>,
}

impl<S: Signer> QuorumDriver<S> {
    /// Restores the collector from the store (the newest stored reports anchor its window)
    /// and returns the driver with the restart's actions already carried out (own
    /// signatures gossiped again).
    #[allow(clippy::too_many_arguments)] // each is one of the node's parts; the service wires them
    pub async fn start(
        config: Config,
        roster: Arc<Roster>,
        member_peer_ids: &[String],
        signer: S,
        store: Arc<Store>,
        network: Arc<dyn Gossip>,
        clock: Arc<dyn Clock>,
        events: mpsc::Sender<QuorumEvent>,
    ) -> Result<QuorumDriver<S>, QuorumDriverError> {
        let schedule = CommitteeSchedule::new((*roster).clone());
        QuorumDriver::start_with_schedule(config, schedule, member_peer_ids, signer, store, network, clock, events)
            .await
    }

    /// [`QuorumDriver::start`] with the committee versions read from the chain (genesis is
    /// version 0): a member not in genesis starts with the version that adds it.
    #[allow(clippy::too_many_arguments)] // as `start`
    pub async fn start_with_schedule(
        config: Config,
        schedule: CommitteeSchedule,
        member_peer_ids: &[String],
        signer: S,
        store: Arc<Store>,
        network: Arc<dyn Gossip>,
        clock: Arc<dyn Clock>,
        events: mpsc::Sender<QuorumEvent>,
    ) -> Result<QuorumDriver<S>, QuorumDriverError> {
        let mut members_by_peer = BTreeMap::new();
        for (i, value) in member_peer_ids.iter().enumerate() {
            let peer: PeerId =
                value.parse().map_err(|_| QuorumDriverError::PeerId { member: i, value: value.clone() })?;
            members_by_peer.insert(peer, i as u16);
        }
        let persisted = restore(&store)?;
        let restored = (persisted.own.len(), persisted.peers.len());
        let (collector, actions) = Collector::with_schedule(config, schedule, signer, clock.now_ms(), persisted)?;
        info!(member = ?collector.member(), own = restored.0, peers = restored.1, "committee member started");
        if let Some(until_ms) = collector.quiet_until_ms() {
            let wait_s = until_ms.saturating_sub(clock.now_ms()) / 1000;
            warn!(
                wait_s,
                "no own signature in the data dir (a new or lost one): signing waits until the peers have re-gossiped \
                 what this key signed before; if this member ran elsewhere, import its signing record first"
            );
        }
        let mut driver = QuorumDriver {
            collector,
            store,
            network,
            clock,
            members_by_peer,
            events,
            awaiting: BTreeMap::new(),
            book: SectionBook::default(),
            schedule_updates: None,
        };
        driver.apply(actions).await?;
        Ok(driver)
    }

    /// Runs until the report and network channels close, ticking the collector every
    /// `tick` of `tokio::time`. `settled` tells it which reports the chain accepted (from
    /// this node's submitter or a chain watcher); it may stay silent.
    pub async fn run(
        mut self,
        mut reports: mpsc::Receiver<OwnReport>,
        mut network_events: mpsc::Receiver<NetworkEvent>,
        mut settled: mpsc::Receiver<ReportId>,
        tick: Duration,
    ) -> Result<(), QuorumDriverError> {
        let mut settled_open = true;
        let mut schedules = self.schedule_updates.take();
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                report = reports.recv() => match report {
                    Some(r) => self.own(r).await?,
                    None => return Ok(()),
                },
                event = network_events.recv() => match event {
                    Some(e) => self.network_event(e).await?,
                    None => return Ok(()),
                },
                id = settled.recv(), if settled_open => match id {
                    Some(id) => self.settled(id).await?,
                    None => settled_open = false,
                },
                schedule = next_schedule(&mut schedules) => self.update_schedule(schedule),
                _ = ticker.tick() => {
                    let actions = self.collector.handle(Input::Tick { now_ms: self.clock.now_ms() })?;
                    self.apply(actions).await?;
                    self.sweep_awaiting().await;
                }
            }
        }
    }

    /// Signs a report this node computed (once; a second, different root is refused).
    pub async fn own(&mut self, r: OwnReport) -> Result<(), QuorumDriverError> {
        if let Some(sections) = r.sections {
            let mut digest = SectionDigest {
                kind: r.id.kind,
                number: r.id.number,
                merkle_root: r.merkle_root,
                signer: 0,
                sections,
                signature: [0; 96],
            };
            if self.collector.sign_digest(&mut digest) {
                for d in self.book.own(digest) {
                    tell(&d);
                }
                self.publish_digest(r.id).await;
            }
        }
        let input = Input::Own { id: r.id, merkle_root: r.merkle_root, report_hash: r.report_hash };
        match self.collector.handle(input) {
            Ok(actions) => self.apply(actions).await,
            Err(e @ CollectorError::WouldEquivocate { .. }) => {
                // Never fatal: the node keeps its first signature and says loudly why it did not sign.
                error!(kind = %r.id.kind, report = r.id.number, "{e}");
                Ok(())
            }
            Err(e @ CollectorError::NotAMemberFor { .. }) => {
                info!(kind = %r.id.kind, report = r.id.number, "{e}");
                Ok(())
            }
            Err(e @ CollectorError::Stale { .. }) => {
                debug!(kind = %r.id.kind, report = r.id.number, "{e}");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn network_event(&mut self, event: NetworkEvent) -> Result<(), QuorumDriverError> {
        match event {
            NetworkEvent::Message { id, source, data } if data.first() == Some(&DIGEST_VERSION) => {
                let verdict = match SectionDigest::decode(&data) {
                    Err(_) => {
                        warn!(%source, from = ?self.members_by_peer.get(&source), "refused a section digest of {} bytes (expected {DIGEST_LEN})", data.len());
                        Verdict::Reject
                    }
                    Ok(digest) => match self
                        .book
                        .peer(self.collector.roster_for(ReportId { kind: digest.kind, number: digest.number }), digest)
                    {
                        PeerDigest::Reject(reason) => {
                            warn!(%source, "refused a {reason}");
                            Verdict::Reject
                        }
                        PeerDigest::Ignore => Verdict::Ignore,
                        PeerDigest::Accept(found) => {
                            found.iter().for_each(tell);
                            Verdict::Accept
                        }
                    },
                };
                self.verdict(id, source, verdict).await;
            }
            NetworkEvent::Message { id, source, data } => {
                let message = match SignatureMessage::decode(&data) {
                    Ok(m) => m,
                    Err(e) => {
                        warn!(%source, from = ?self.members_by_peer.get(&source), "refused a gossip message: {e}");
                        self.verdict(id, source, Verdict::Reject).await;
                        return Ok(());
                    }
                };
                // Gossip envelopes are anonymous: the message names its member, and its BLS
                // signature (checked in the collector's batch) proves it. A signer that is
                // not a member, or a signature that does not verify, is a Reject that
                // penalises `source`, the peer that handed it over (honest members forward
                // only what verified).
                let member = message.signer;
                // A copy of a message already held (a replay, a rebroadcast or a peer's
                // re-gossip) costs a map lookup: no curve work, and it is not forwarded again,
                // so a member replaying signatures reaches only its direct peers.
                if self.collector.standing(&message) != Standing::Unknown {
                    self.verdict(id, source, Verdict::Ignore).await;
                    return Ok(());
                }
                // Waiting first: the collector's actions below may already settle it.
                self.awaiting.entry(message).or_default().push((id, source));
                let actions = self.collector.handle(Input::Peer { member, message })?;
                self.apply(actions).await?;
                self.resolve_from_standing(&message).await;
            }
            NetworkEvent::PeerConnected(peer) => debug!(%peer, "member connected"),
            NetworkEvent::PeerDisconnected(peer) => debug!(%peer, "member disconnected"),
        }
        Ok(())
    }

    async fn verdict(&self, id: MessageId, source: PeerId, verdict: Verdict) {
        if let Err(e) = self.network.validate(id, source, verdict).await {
            debug!("network gone while validating: {e}");
        }
    }

    /// Reports `verdict` for every delivery of `message` still waiting.
    async fn resolve(&mut self, message: &SignatureMessage, verdict: Verdict) {
        for (id, source) in self.awaiting.remove(message).unwrap_or_default() {
            if verdict == Verdict::Reject {
                let from = self.members_by_peer.get(&source);
                warn!(%source, ?from, signer = message.signer, "penalising the member that handed over a refused signature");
            }
            self.verdict(id, source, verdict).await;
        }
    }

    /// A message the collector holds verified is forwarded (a rebroadcast of a known
    /// signature, say); one it does not hold at all (a report that left the window) is
    /// dropped; a pending one keeps waiting for the batch.
    async fn resolve_from_standing(&mut self, message: &SignatureMessage) {
        if !self.awaiting.contains_key(message) {
            return;
        }
        match self.collector.standing(message) {
            Standing::Valid => self.resolve(message, Verdict::Accept).await,
            Standing::Unknown => self.resolve(message, Verdict::Ignore).await,
            Standing::Pending => {}
        }
    }

    /// After a tick: settles the deliveries whose message was decided without an action
    /// naming it (its report left the window, say); pending ones keep waiting.
    async fn sweep_awaiting(&mut self) {
        let waiting: Vec<SignatureMessage> = self.awaiting.keys().copied().collect();
        for message in waiting {
            self.resolve_from_standing(&message).await;
        }
    }

    async fn publish(&self, m: &SignatureMessage) {
        match self.network.publish(m.encode().to_vec()).await {
            Ok(published) => debug!(kind = %m.kind, report = m.number, ?published, "own signature gossiped"),
            Err(e) => {
                warn!(kind = %m.kind, report = m.number, "cannot gossip own signature: {e}; retrying on the next rebroadcast")
            }
        }
    }

    /// Gossips our section digest of `id`, if we hold one (with each own signature broadcast).
    async fn publish_digest(&self, id: ReportId) {
        if let Some(d) = self.book.own_of(id) {
            if let Err(e) = self.network.publish(d.encode().to_vec()).await {
                debug!(kind = %id.kind, report = id.number, "cannot gossip own section digest: {e}");
            }
        }
    }

    /// Carries out the collector's actions, in order.
    async fn apply(&mut self, actions: Vec<Action>) -> Result<(), QuorumDriverError> {
        for action in actions {
            match action {
                Action::Persist(m) => {
                    self.store
                        .put_own_signature(m.kind, m.number, &m.encode())
                        .map_err(store_error(|| format!("store the own signature of {}", m.id())))?;
                    info!(kind = %m.kind, report = m.number, merkle_root = %hex::encode(&m.merkle_root), "signed");
                }
                Action::Broadcast(m) | Action::Rebroadcast(m) => {
                    self.publish(&m).await;
                    self.publish_digest(m.id()).await;
                }
                Action::Regossip(m) => {
                    if let Err(e) = self.network.publish(m.encode().to_vec()).await {
                        debug!(kind = %m.kind, report = m.number, signer = m.signer, "cannot re-gossip a held signature: {e}");
                    }
                }
                Action::Deferred { id, until_ms } => {
                    let wait_s = until_ms.saturating_sub(self.clock.now_ms()).div_ceil(1000);
                    info!(kind = %id.kind, report = id.number, wait_s, "report held back: a fresh data dir signs once the peers have re-gossiped");
                }
                // A held-back report of a committee version without this node's key (a new
                // member's reports before its version) is expected, as when signing at once.
                Action::SignRefused(e @ CollectorError::NotAMemberFor { .. }) => info!("{e}"),
                Action::SignRefused(e) => error!("{e}"),
                Action::Record(m) => {
                    self.store_peer_signature(&m)?;
                    self.resolve(&m, Verdict::Accept).await;
                }
                Action::QuorumReached(c) | Action::AggregateUpdated(c) => {
                    self.store
                        .put_aggregate(c.id.kind, c.id.number, &encode_certificate(&c))
                        .map_err(store_error(|| format!("store the quorum certificate of {}", c.id)))?;
                    info!(
                        kind = %c.id.kind, report = c.id.number,
                        merkle_root = %hex::encode(&c.merkle_root),
                        signers = ?c.signers.members().collect::<Vec<_>>(),
                        "quorum certificate"
                    );
                    let _ = self.events.send(QuorumEvent::Certificate(c)).await;
                }
                Action::QuorumLost { id } => {
                    warn!(kind = %id.kind, report = id.number, "quorum lost: an equivocation took it below the threshold")
                }
                Action::Equivocation(e) => {
                    for m in [&e.first, &e.second] {
                        self.store_peer_signature(m)?;
                        // Both verified: forwarding them lets every member see the evidence.
                        self.resolve(m, Verdict::Accept).await;
                    }
                    warn!(
                        kind = %e.first.kind, report = e.first.number,
                        member = e.member,
                        first_root = %hex::encode(&e.first.merkle_root),
                        second_root = %hex::encode(&e.second.merkle_root),
                        "equivocation: member signed two roots; evidence stored, its signatures no longer count"
                    );
                }
                Action::Reject { member, message, reason } => {
                    if reason.penalises() {
                        warn!(member, "refused a signature: {reason}");
                        self.resolve(&message, Verdict::Reject).await;
                    } else {
                        debug!(member, "ignored a signature: {reason}");
                        self.resolve(&message, Verdict::Ignore).await;
                    }
                }
                Action::Submit { certificate, attempt } => {
                    info!(kind = %certificate.id.kind, report = certificate.id.number, attempt, "this node's turn to submit");
                    let _ = self.events.send(QuorumEvent::Submit { certificate, attempt }).await;
                }
            }
        }
        Ok(())
    }

    fn store_peer_signature(&self, m: &SignatureMessage) -> Result<(), QuorumDriverError> {
        self.store
            .put_peer_signature(m.kind, m.number, m.signer, &m.merkle_root, &m.encode())
            .map_err(store_error(|| format!("store member {}'s signature of {}", m.signer, m.id())))
    }

    /// This node's member index in the latest committee version known (`None`: removed).
    pub fn member(&self) -> Option<u16> {
        self.collector.member()
    }

    /// Takes the committee versions read from the chain since (a longer schedule); see
    /// `Collector::update_schedule`.
    pub fn update_schedule(&mut self, schedule: CommitteeSchedule) {
        let (before, latest) = (self.collector.schedule().latest().version, schedule.latest());
        if latest.version > before {
            info!(
                version = latest.version,
                from_rewards = latest.from_rewards,
                from_exits = latest.from_exits,
                threshold = latest.roster.threshold(),
                "committee change read from the chain"
            );
        }
        self.collector.update_schedule(schedule);
    }

    /// Runs [`run`](QuorumDriver::run) with longer committee schedules from `updates` (the
    /// service's chain watcher reads them from the NodeManager).
    pub fn with_schedule_updates(mut self, updates: watch::Receiver<CommitteeSchedule>) -> QuorumDriver<S> {
        self.schedule_updates = Some(updates);
        self
    }

    /// Tells the collector a report was accepted on chain, and remembers it across restarts.
    pub async fn settled(&mut self, id: ReportId) -> Result<(), QuorumDriverError> {
        if is_settled(&self.store, id).map_err(store_error(|| format!("read the submission state of {id}")))? {
            return Ok(());
        }
        info!(kind = %id.kind, report = id.number, "accepted on chain");
        self.store
            .put_submission(id.kind, id.number, record::SETTLED)
            .map_err(store_error(|| format!("store that {id} is accepted on chain")))?;
        let actions = self.collector.handle(Input::Settled { id })?;
        self.apply(actions).await
    }
}

/// The next schedule the watcher sends; never, without a watcher or once it is gone.
async fn next_schedule(updates: &mut Option<watch::Receiver<CommitteeSchedule>>) -> CommitteeSchedule {
    if let Some(rx) = updates {
        if rx.changed().await.is_ok() {
            return rx.borrow_and_update().clone();
        }
    }
    *updates = None;
    std::future::pending().await
}

/// One warn line per member whose root differs from ours, naming the inputs that differ.
fn tell(d: &Disagreement) {
    let what = if d.differing.is_empty() {
        "no named input differs (the difference is outside the frame log's sections)".to_string()
    } else {
        d.differing.join("; ")
    };
    warn!(
        kind = %d.id.kind, report = d.id.number, member = d.member,
        ours = %hex::encode(&d.ours), theirs = %hex::encode(&d.theirs),
        "member {} computed another merkle root; inputs that differ: {what}", d.member
    );
}
