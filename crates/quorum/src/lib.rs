//! The committee member's driver: the async shell around the pure signature collector
//! (`claystack-committee`). It feeds the collector this node's closed reports, the
//! peers' gossip and the clock, and carries out its actions against the store, the
//! network and (when configured) the chain submitter.
//!
//! Ordering is the one promise it adds: an own signature is synced to the store before
//! it is gossiped (`Action::Persist` then `Action::Broadcast`), so a restarted node can
//! never sign a second root for a report it already signed. Everything else — which
//! root wins, who submits when — is decided by the collector.

mod record;

pub use record::{decode_certificate, encode_certificate};

use claystack_committee::{
    validate, Action, Certificate, Collector, CollectorError, Config, Input, Persisted, ReportId, ReportKind, Roster,
    SignatureMessage, Signer, Verdict,
};
use claystack_p2p::{NetworkEvent, NetworkHandle, PeerId, Verdict as NetVerdict};
use claystack_primitives::hex;
use claystack_store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

#[derive(Debug, Error)]
pub enum QuorumError {
    #[error(transparent)]
    Collector(#[from] CollectorError),
    #[error(transparent)]
    Store(#[from] claystack_store::StoreError),
    #[error("genesis member {member}: peer id {value:?} is not a libp2p peer id — regenerate the genesis with real member keys")]
    PeerId { member: usize, value: String },
    #[error("stored signature for {what} is corrupt: {message}")]
    Corrupt { what: String, message: String },
}

/// A report this node computed and now signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnReport {
    pub id: ReportId,
    pub merkle_root: [u8; 32],
    pub report_hash: [u8; 32],
}

/// What the driver tells the rest of the node (the submitter, the API, tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuorumEvent {
    /// A quorum certificate exists (or gained signers).
    Certificate(Certificate),
    /// It is this node's turn to submit the certificate.
    Submit { certificate: Certificate, attempt: u64 },
}

/// The collector's clock: milliseconds since the Unix epoch (the driver is the only place
/// that reads the wall clock; report content never depends on it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// How many reports below the newest stored one are restored at start-up.
const RESTORE_BEHIND: u64 = 4;

/// Reads what the collector needs after a restart: own and peers' signatures and
/// certificates of the last few reports of each kind.
pub fn restore(store: &Store, latest: [u64; 2]) -> Result<Persisted, QuorumError> {
    let mut persisted = Persisted { current: latest, ..Persisted::default() };
    for kind in ReportKind::ALL {
        let top = latest[kind.byte() as usize];
        for number in top.saturating_sub(RESTORE_BEHIND).max(1)..=top {
            let what = || format!("{kind} report {number}");
            if let Some(bytes) = store.own_signature(kind.byte(), number)? {
                let m = SignatureMessage::decode(&bytes)
                    .map_err(|e| QuorumError::Corrupt { what: what(), message: e.to_string() })?;
                persisted.own.push(m);
            }
            for bytes in store.peer_signatures(kind.byte(), number)? {
                let m = SignatureMessage::decode(&bytes)
                    .map_err(|e| QuorumError::Corrupt { what: what(), message: e.to_string() })?;
                persisted.peers.push(m);
            }
            if store.submission(kind.byte(), number)?.as_deref() == Some(record::SETTLED) {
                persisted.settled.push(ReportId { kind, number });
            }
        }
    }
    Ok(persisted)
}

/// The driver of one committee member.
pub struct Driver<S> {
    collector: Collector<S>,
    roster: Arc<Roster>,
    store: Arc<Store>,
    network: NetworkHandle,
    members_by_peer: BTreeMap<PeerId, u16>,
    events: mpsc::Sender<QuorumEvent>,
}

impl<S: Signer> Driver<S> {
    /// Restores the collector from the store and returns the driver with the restart's
    /// actions already carried out (own signatures gossiped again).
    pub async fn start(
        config: Config,
        roster: Arc<Roster>,
        member_peer_ids: &[String],
        signer: S,
        store: Arc<Store>,
        network: NetworkHandle,
        latest: [u64; 2],
        events: mpsc::Sender<QuorumEvent>,
    ) -> Result<Driver<S>, QuorumError> {
        let mut members_by_peer = BTreeMap::new();
        for (i, value) in member_peer_ids.iter().enumerate() {
            let peer: PeerId = value.parse().map_err(|_| QuorumError::PeerId { member: i, value: value.clone() })?;
            members_by_peer.insert(peer, i as u16);
        }
        let persisted = restore(&store, latest)?;
        let restored = (persisted.own.len(), persisted.peers.len());
        let (collector, actions) = Collector::new(config, roster.clone(), signer, now_ms(), persisted)?;
        info!(member = collector.member(), own = restored.0, peers = restored.1, "committee member started");
        let mut driver = Driver { collector, roster, store, network, members_by_peer, events };
        driver.apply(actions).await?;
        Ok(driver)
    }

    /// Runs until the report and network channels close. `settled` tells it which reports
    /// the chain accepted (from this node's submitter or a chain watcher); it may stay silent.
    pub async fn run(
        mut self,
        mut reports: mpsc::Receiver<OwnReport>,
        mut network_events: mpsc::Receiver<NetworkEvent>,
        mut settled: mpsc::Receiver<ReportId>,
        tick: Duration,
    ) -> Result<(), QuorumError> {
        let mut settled_open = true;
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
                _ = ticker.tick() => {
                    let actions = self.collector.handle(Input::Tick { now_ms: now_ms() })?;
                    self.apply(actions).await?;
                }
            }
        }
    }

    /// Signs a report this node computed (once; a second, different root is refused).
    pub async fn own(&mut self, r: OwnReport) -> Result<(), QuorumError> {
        let input = Input::Own { id: r.id, merkle_root: r.merkle_root, report_hash: r.report_hash };
        match self.collector.handle(input) {
            Ok(actions) => self.apply(actions).await,
            Err(e @ CollectorError::WouldEquivocate { .. }) => {
                // Never fatal: the node keeps its first signature and says loudly why it did not sign.
                warn!(kind = %r.id.kind, report = r.id.number, "{e}");
                Ok(())
            }
            Err(e @ CollectorError::Stale { .. }) => {
                debug!(kind = %r.id.kind, report = r.id.number, "{e}");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn network_event(&mut self, event: NetworkEvent) -> Result<(), QuorumError> {
        match event {
            NetworkEvent::Message { id, source, author, data } => {
                let member = author.and_then(|a| self.members_by_peer.get(&a).copied());
                let verdict = match member {
                    None => {
                        debug!(%source, "gossip without a committee author; rejected");
                        NetVerdict::Reject
                    }
                    Some(member) => match validate(&self.roster, &self.collector.window(), &data, member) {
                        Verdict::Accept(message) => {
                            let actions = self.collector.handle(Input::Peer { member, message })?;
                            self.apply(actions).await?;
                            NetVerdict::Accept
                        }
                        Verdict::Reject(reason) => {
                            warn!(member, "refused a gossip message: {reason}");
                            NetVerdict::Reject
                        }
                        Verdict::Ignore(reason) => {
                            debug!(member, "ignored a gossip message: {reason}");
                            NetVerdict::Ignore
                        }
                    },
                };
                if let Err(e) = self.network.validate(id, source, verdict).await {
                    debug!("network gone while validating: {e}");
                }
            }
            NetworkEvent::PeerConnected(peer) => debug!(%peer, "member connected"),
            NetworkEvent::PeerDisconnected(peer) => debug!(%peer, "member disconnected"),
        }
        Ok(())
    }

    async fn publish(&self, m: &SignatureMessage) {
        match self.network.publish(m.encode().to_vec()).await {
            Ok(published) => debug!(kind = %m.kind, report = m.number, ?published, "own signature gossiped"),
            Err(e) => {
                warn!(kind = %m.kind, report = m.number, "cannot gossip own signature: {e}; retrying on the next rebroadcast")
            }
        }
    }

    /// Carries out the collector's actions, in order.
    async fn apply(&mut self, actions: Vec<Action>) -> Result<(), QuorumError> {
        for action in actions {
            match action {
                Action::Persist(m) => {
                    self.store.put_own_signature(m.kind.byte(), m.number, &m.encode())?;
                    info!(kind = %m.kind, report = m.number, merkle_root = %hex::encode(&m.merkle_root), "signed");
                }
                Action::Broadcast(m) | Action::Rebroadcast(m) => self.publish(&m).await,
                Action::Record(m) => {
                    self.store.put_peer_signature(m.kind.byte(), m.number, m.signer, &m.merkle_root, &m.encode())?
                }
                Action::QuorumReached(c) | Action::AggregateUpdated(c) => {
                    self.store.put_aggregate(c.id.kind.byte(), c.id.number, &encode_certificate(&c))?;
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
                        self.store.put_peer_signature(
                            m.kind.byte(),
                            m.number,
                            m.signer,
                            &m.merkle_root,
                            &m.encode(),
                        )?;
                    }
                    warn!(
                        kind = %e.first.kind, report = e.first.number,
                        member = e.member,
                        first_root = %hex::encode(&e.first.merkle_root),
                        second_root = %hex::encode(&e.second.merkle_root),
                        "equivocation: member signed two roots; evidence stored, its signatures no longer count"
                    );
                }
                Action::Reject { member, reason } => warn!(member, "refused a signature: {reason}"),
                Action::Submit { certificate, attempt } => {
                    info!(kind = %certificate.id.kind, report = certificate.id.number, attempt, "this node's turn to submit");
                    let _ = self.events.send(QuorumEvent::Submit { certificate, attempt }).await;
                }
            }
        }
        Ok(())
    }

    /// This node's member index.
    pub fn member(&self) -> u16 {
        self.collector.member()
    }

    /// Tells the collector a report was accepted on chain, and remembers it across restarts.
    pub async fn settled(&mut self, id: ReportId) -> Result<(), QuorumError> {
        if self.store.submission(id.kind.byte(), id.number)?.as_deref() == Some(record::SETTLED) {
            return Ok(());
        }
        info!(kind = %id.kind, report = id.number, "accepted on chain");
        self.store.put_submission(id.kind.byte(), id.number, record::SETTLED)?;
        let actions = self.collector.handle(Input::Settled { id })?;
        self.apply(actions).await
    }
}
