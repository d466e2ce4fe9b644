//! The signature-collection state machine: `(state, input) -> actions`, no I/O.
//!
//! The driver feeds it [`Input`]s — this node's own report, peers' messages, clock ticks,
//! reports seen settled on chain — and carries out the returned [`Action`]s **in order**:
//! persisting, gossiping, submitting. `docs/committee.md` describes the whole machine.
//!
//! Rules, in short:
//! - **Never two roots.** The collector signs (it holds the [`Signer`]) only after checking
//!   that this node has signed nothing else for the report, in this run, in the persisted
//!   state it was built from, or in a valid signature of its key seen on the network. Its
//!   first action is [`Action::Persist`], which the driver must make durable before the
//!   [`Action::Broadcast`] that follows: a signature nobody has seen can be lost in a crash
//!   harmlessly, a signature that was sent but not stored could be contradicted after a
//!   restart.
//! - **Order does not matter.** Honest members sign one root each and the threshold is a
//!   strict majority, so at most one root gathers a quorum of non-equivocating members; the
//!   certificate (root, bitmap, aggregate) and the set of equivocators after a set of
//!   messages do not depend on the order they came in.
//! - **Equivocators count for nothing.** A member with valid signatures of two different
//!   roots for one report is kept as evidence (the first two roots that verified) and
//!   excluded from every root's count.
//! - **Verify lazily, in batches, once.** A peer signature is checked for the curve and
//!   subgroup on arrival, but its pairing check waits until its root could reach the
//!   threshold (if it is not certified yet), until a conflicting message needs a verdict,
//!   or until a tick (for late signatures of a certified root, the first tick after the
//!   oldest has waited [`Config::late_verify_ms`]); then all waiting signatures of a root
//!   are checked in one [`bls::find_invalid`] batch. Only verified signatures count. This
//!   batch is the only place a peer signature is verified: the p2p layer forwards a
//!   message once [`Action::Record`] or [`Collector::standing`] says it is valid.
//! - **Rotation.** The submitter of attempt `k` for report number `n` is member
//!   `(n + k) mod size`; attempt `k` is due `k * fallback_ms` after this node saw the quorum.
//! - **A fresh store waits before it signs.** A collector restored with no own signature
//!   (a new data dir, or a lost one) may have signed before, in a life it no longer
//!   remembers. It holds [`Input::Own`] back for [`Config::fresh_wait_ms`] ([`Action::Deferred`]),
//!   while every member re-gossips each signature it holds for unsettled reports once per
//!   `rebroadcast_ms` ([`Action::Regossip`]); a signature of its own key that comes back that
//!   way is adopted if it is the root it computed and otherwise stops it from signing
//!   ([`Action::SignRefused`]). It never starts signing a report already settled on chain.
//! - **Copies cost nothing.** A message already held (pending, verified, or as evidence) is
//!   recognised by its bytes before any curve work, and a member already caught
//!   equivocating on a report gets no more signature checks for it: its further messages
//!   are ignored ([`RejectReason::Equivocator`]), so the evidence kept is the first two
//!   roots that verified.

use crate::bls::{self, Signer};
use crate::message::SignatureMessage;
use crate::roster::{Roster, SignerBitmap};
use crate::schedule::CommitteeSchedule;
use crate::signing::SigningRoot;
use crate::validate::{RejectReason, Window};
use blst::min_pk::Signature;
use claystack_primitives::hex;
use claystack_primitives::ReportId;
use std::collections::BTreeMap;
use std::sync::Arc;
use thiserror::Error;

/// Timing and window of the collector; every value is a genesis or config setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Reports older than the current one by more than this are dropped.
    pub window_behind: u64,
    /// Reports newer than the current one by more than this are refused.
    pub window_ahead: u64,
    /// How often own unsettled signatures are gossiped again.
    pub rebroadcast_ms: u64,
    /// Time each submitter gets before the next member's attempt is due.
    pub fallback_ms: u64,
    /// Signatures that arrive after their root is certified are verified together, at the
    /// first tick after the oldest of them has waited this long (0: at the next tick).
    /// They only add signers to a certificate that is already valid, so batching them saves
    /// a pairing pair per tick; the p2p layer forwards them once verified.
    pub late_verify_ms: u64,
    /// How long a collector restored with no own signature holds its reports back before
    /// signing (see the module doc); 0 signs at once. At least `rebroadcast_ms` plus the
    /// time to connect to the committee, so that every peer's re-gossip has come in.
    pub fresh_wait_ms: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            window_behind: 2,
            window_ahead: 2,
            rebroadcast_ms: 30_000,
            fallback_ms: 60_000,
            late_verify_ms: 1_000,
            fresh_wait_ms: 60_000,
        }
    }
}

/// What the driver restored from its store at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Persisted {
    /// The current report number per kind (indexed by `ReportKind::byte`): the highest the
    /// node knows is settled or signed. Anchors the window of a node with no signatures yet.
    pub current: [u64; 2],
    /// Every own signature persisted ([`Action::Persist`]).
    pub own: Vec<SignatureMessage>,
    /// Peer signatures recorded ([`Action::Record`]) and evidence messages, in any order.
    pub peers: Vec<SignatureMessage>,
    /// Reports known accepted on chain.
    pub settled: Vec<ReportId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// This node computed report `id` with this root and report hash: sign it (once).
    Own { id: ReportId, merkle_root: [u8; 32], report_hash: [u8; 32] },
    /// A decoded gossip message from member `member` (the driver passes the signer the message
    /// names: gossip envelopes are anonymous, and the BLS signature is the proof).
    Peer { member: u16, message: SignatureMessage },
    /// The clock, in milliseconds; it never goes back (an earlier value is taken as the last).
    Tick { now_ms: u64 },
    /// Report `id` was accepted on chain (by anyone): stop submitting and rebroadcasting it.
    Settled { id: ReportId },
}

/// A quorum: what `NodeManager.submitReport` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub id: ReportId,
    pub signing_root: SigningRoot,
    pub merkle_root: [u8; 32],
    pub report_hash: [u8; 32],
    pub signers: SignerBitmap,
    /// Compressed G2 sum of the signers' signatures of `signing_root`.
    pub signature: [u8; 96],
}

/// Proof that `member` signed two different roots for one report: both messages verify.
/// `first` has the lower `(merkle_root, report_hash)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub member: u16,
    pub first: SignatureMessage,
    pub second: SignatureMessage,
}

/// See [`Collector::standing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Held and verified (counted, or kept as equivocation evidence).
    Valid,
    /// Held, its signature not checked yet: a verdict follows at the latest at the first
    /// tick after it has waited [`Config::late_verify_ms`].
    Pending,
    /// Not held: never seen, refused, superseded, or its report left the window.
    Unknown,
}

/// What the driver must do, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Store this own signature durably; only then carry out the next action.
    Persist(SignatureMessage),
    /// Gossip this own signature (the first time).
    Broadcast(SignatureMessage),
    /// Gossip this own signature again (timer, report not settled yet).
    Rebroadcast(SignatureMessage),
    /// Gossip this verified peer signature (or evidence message) again, so that a member
    /// on a fresh store learns what its key signed before (timer, report not settled yet).
    Regossip(SignatureMessage),
    /// A fresh store: report `id` is signed no earlier than `until_ms` (and only if no
    /// signature of this node's key for another root has come in by then).
    Deferred { id: ReportId, until_ms: u64 },
    /// A report held back by [`Action::Deferred`] was not signed: the error says why (a
    /// signature of this node's key for another root came in).
    SignRefused(CollectorError),
    /// Store this verified peer signature (no ordering constraint; idempotent).
    Record(SignatureMessage),
    /// A quorum formed for a report (first time, or after it was lost).
    QuorumReached(Certificate),
    /// More (or fewer) signers for the same root: the certificate to submit from now on.
    AggregateUpdated(Certificate),
    /// An equivocation took the quorum below the threshold.
    QuorumLost { id: ReportId },
    /// A member signed two roots for one report; keep the evidence.
    Equivocation(Evidence),
    /// `message`, from `member`, was refused. The p2p layer must not forward it (and
    /// penalises the sender unless [`RejectReason::penalises`] says otherwise).
    Reject { member: u16, message: SignatureMessage, reason: RejectReason },
    /// This node's turn to submit: attempt `attempt` of the rotation.
    Submit { certificate: Certificate, attempt: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CollectorError {
    /// A collector timing is below 1 ms.
    #[error("collector config: {0} must be at least 1 ms")]
    Config(&'static str),
    /// The node's own BLS key is not in the committee.
    #[error("this node's BLS key {0} is not a committee member; check the key and genesis")]
    NotAMember(String),
    /// The node's key is not in the committee version that signs this report (a member
    /// replaced before it, or one that joins after it): it does not sign it.
    #[error("{id}: this node's key is not in committee version {version}, which signs it; not signing")]
    NotAMemberFor { id: ReportId, version: u64 },
    /// Signing would put a second root under a report this node already signed.
    #[error("{id}: refusing to sign merkle root {requested} (report hash {requested_hash}): this node already signed merkle root {signed} (report hash {signed_hash})")]
    WouldEquivocate { id: ReportId, signed: String, signed_hash: String, requested: String, requested_hash: String },
    /// Report number 0 was asked to be signed.
    #[error("{id}: report numbers start at 1")]
    ZeroNumber { id: ReportId },
    /// The report is older than the collection window.
    #[error("{id}: older than the window {low}..={high}; it is not signed any more")]
    Stale { id: ReportId, low: u64, high: u64 },
    /// The own signature read back from the store does not check out.
    #[error("persisted own signature for {id}: {problem}; the store is damaged or belongs to another key")]
    BadPersistedOwn { id: ReportId, problem: &'static str },
}

type Content = ([u8; 32], [u8; 32]);

fn content(m: &SignatureMessage) -> Content {
    (m.merkle_root, m.report_hash)
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    message: SignatureMessage,
    signature: Signature,
    /// The collector's clock when it arrived.
    arrived_ms: u64,
}

#[derive(Debug, Clone)]
enum SignatureState {
    /// Parsed (on curve, in subgroup) but not yet checked against the key.
    Pending(Entry),
    Verified(Entry),
    Equivocated(Evidence),
}

#[derive(Debug, Clone)]
struct OwnSignature {
    message: SignatureMessage,
    next_broadcast_ms: u64,
}

#[derive(Debug, Default)]
struct Round {
    slots: BTreeMap<u16, SignatureState>,
    own: Option<OwnSignature>,
    certificate: Option<Certificate>,
    quorum_since_ms: Option<u64>,
    /// Attempts below this were already considered for submission.
    next_attempt: u64,
    settled: bool,
}

/// The collector of one node. `S` signs this node's reports.
pub struct Collector<S> {
    config: Config,
    /// Every committee version known; each report is signed by one of them.
    schedule: CommitteeSchedule,
    signer: S,
    /// This node's compressed public key: its member index is per report.
    pk: [u8; bls::PUBLIC_KEY_LEN],
    now_ms: u64,
    window: Window,
    rounds: BTreeMap<ReportId, Round>,
    /// While set (a fresh store), own reports wait in `deferred` until this time.
    quiet_until_ms: Option<u64>,
    deferred: Vec<(ReportId, Content)>,
    /// When every held peer signature of unsettled reports is next gossiped again.
    next_regossip_ms: u64,
}

impl<S: Signer> Collector<S> {
    /// A collector restored from `persisted` (use `Persisted::default()` on a fresh node).
    /// Returns the actions of the restart: own unsettled signatures are broadcast again,
    /// and quorums already held are announced.
    pub fn new(
        config: Config,
        roster: Arc<Roster>,
        signer: S,
        now_ms: u64,
        persisted: Persisted,
    ) -> Result<(Collector<S>, Vec<Action>), CollectorError> {
        Collector::with_schedule(config, CommitteeSchedule::new((*roster).clone()), signer, now_ms, persisted)
    }

    /// [`Collector::new`] for a committee that changed: each report is signed, verified and
    /// submitted by the version `schedule` assigns it. This node's key must be a member of
    /// some version.
    pub fn with_schedule(
        config: Config,
        schedule: CommitteeSchedule,
        signer: S,
        now_ms: u64,
        persisted: Persisted,
    ) -> Result<(Collector<S>, Vec<Action>), CollectorError> {
        if config.rebroadcast_ms == 0 {
            return Err(CollectorError::Config("rebroadcast_ms"));
        }
        if config.fallback_ms == 0 {
            return Err(CollectorError::Config("fallback_ms"));
        }
        let pk = signer.public_key();
        if !schedule.versions().iter().any(|v| v.roster.index_of(&pk).is_some()) {
            return Err(CollectorError::NotAMember(hex::encode(&pk)));
        }
        let mut window = Window::new(persisted.current, config.window_behind, config.window_ahead);
        for id in persisted.settled.iter().copied().chain(persisted.own.iter().map(|m| m.id())) {
            window.advance(id);
        }
        // Nobody else to hear from in a committee of one.
        let fresh = persisted.own.is_empty() && schedule.latest().roster.size() > 1 && config.fresh_wait_ms > 0;
        let mut c = Collector {
            config,
            schedule,
            signer,
            pk,
            now_ms,
            window,
            rounds: BTreeMap::new(),
            quiet_until_ms: fresh.then(|| now_ms.saturating_add(config.fresh_wait_ms)),
            deferred: Vec::new(),
            next_regossip_ms: now_ms.saturating_add(config.rebroadcast_ms),
        };
        let mut out = Vec::new();

        let mut own = persisted.own;
        own.sort();
        for m in own {
            c.restore_own(m)?;
        }
        for id in persisted.settled {
            if c.window.contains(id) {
                c.rounds.entry(id).or_default().settled = true;
            }
        }
        for round in c.rounds.values() {
            if let (Some(own), false) = (&round.own, round.settled) {
                out.push(Action::Broadcast(own.message));
            }
        }
        for m in persisted.peers {
            if c.window.contains(m.id()) {
                c.peer(m.signer, m, &mut out);
            }
        }
        let ids: Vec<ReportId> = c.rounds.keys().copied().collect();
        for id in ids {
            c.after_change(id, &mut out);
        }
        Ok((c, out))
    }

    /// Applies one input. Only [`Input::Own`] can fail (it refuses to equivocate); peer
    /// problems are [`Action::Reject`]s.
    pub fn handle(&mut self, input: Input) -> Result<Vec<Action>, CollectorError> {
        let mut out = Vec::new();
        match input {
            Input::Own { id, merkle_root, report_hash } => match self.quiet_until_ms {
                Some(until_ms) => {
                    if !self.deferred.iter().any(|d| d.0 == id) {
                        out.push(Action::Deferred { id, until_ms });
                    }
                    self.deferred.push((id, (merkle_root, report_hash)));
                }
                None => self.own(id, (merkle_root, report_hash), &mut out)?,
            },
            Input::Peer { member, message } => self.peer(member, message, &mut out),
            Input::Tick { now_ms } => self.tick(now_ms, &mut out),
            Input::Settled { id } => self.settled(id),
        }
        Ok(out)
    }

    /// Until when a fresh store holds its own reports back (`None`: it signs at once).
    pub fn quiet_until_ms(&self) -> Option<u64> {
        self.quiet_until_ms
    }

    /// This node's member index in the latest committee version known (`None`: removed).
    pub fn member(&self) -> Option<u16> {
        self.schedule.latest().roster.index_of(&self.pk)
    }

    /// This node's member index for report `id` (`None`: not in the version that signs it).
    pub fn member_for(&self, id: ReportId) -> Option<u16> {
        self.schedule.member_for(id, &self.pk)
    }

    /// Signs this member's section digest of a report it computed; false (unsigned) when this
    /// node is not in the report's committee. The digest's domain is not a report's
    /// (`digest.rs`), so this signs nothing a quorum could count.
    pub fn sign_digest(&self, digest: &mut crate::SectionDigest) -> bool {
        let id = ReportId { kind: digest.kind, number: digest.number };
        let Some(me) = self.member_for(id) else { return false };
        digest.signer = me;
        digest.signature = self.signer.sign(&digest.signing_root());
        true
    }

    /// The committee that signs report `id`.
    pub fn roster_for(&self, id: ReportId) -> &Arc<Roster> {
        &self.schedule.for_report(id).roster
    }

    pub fn schedule(&self) -> &CommitteeSchedule {
        &self.schedule
    }

    /// Takes a longer schedule (versions read from the chain since). A report whose version
    /// changes forgets the peer signatures and the certificate it held (judged against another
    /// committee; peers rebroadcast them); its own signature, if any, is kept. A schedule that
    /// is not longer is ignored.
    pub fn update_schedule(&mut self, schedule: CommitteeSchedule) {
        if schedule.latest().version <= self.schedule.latest().version {
            return;
        }
        let old = std::mem::replace(&mut self.schedule, schedule);
        let pk = self.pk;
        for (id, round) in self.rounds.iter_mut() {
            if old.for_report(*id).version == self.schedule.for_report(*id).version {
                continue;
            }
            let me = self.schedule.member_for(*id, &pk);
            let own = round.own.as_ref().and_then(|o| round.slots.get(&o.message.signer).cloned());
            round.slots.clear();
            if let (Some(slot), Some(me)) = (own, me) {
                if round.own.as_ref().is_some_and(|o| o.message.signer == me) {
                    round.slots.insert(me, slot);
                }
            }
            round.certificate = None;
            round.quorum_since_ms = None;
            round.next_attempt = 0;
        }
    }

    /// The report window now (for [`crate::validate`] in the p2p layer).
    pub fn window(&self) -> Window {
        self.window
    }

    /// The quorum certificate of `id`, if a quorum is held.
    pub fn certificate(&self, id: ReportId) -> Option<&Certificate> {
        self.rounds.get(&id)?.certificate.as_ref()
    }

    /// The equivocation evidence of `id`, by member.
    pub fn equivocations(&self, id: ReportId) -> Vec<&Evidence> {
        let Some(round) = self.rounds.get(&id) else { return Vec::new() };
        round
            .slots
            .values()
            .filter_map(|s| match s {
                SignatureState::Equivocated(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    /// This node's signature of `id`, if it signed it.
    pub fn own_signature(&self, id: ReportId) -> Option<&SignatureMessage> {
        Some(&self.rounds.get(&id)?.own.as_ref()?.message)
    }

    /// What the collector holds of exactly this message. The p2p layer forwards a gossip
    /// message only once it is [`Standing::Valid`]: the collector's batch is the one place
    /// a peer signature is verified, and [`Action::Record`] / [`Action::Reject`] announce
    /// the verdicts as they are reached.
    pub fn standing(&self, message: &SignatureMessage) -> Standing {
        let slot = self.rounds.get(&message.id()).and_then(|round| round.slots.get(&message.signer));
        match slot {
            Some(SignatureState::Verified(e)) if e.message == *message => Standing::Valid,
            Some(SignatureState::Equivocated(ev)) if ev.first == *message || ev.second == *message => Standing::Valid,
            Some(SignatureState::Pending(e)) if e.message == *message => Standing::Pending,
            _ => Standing::Unknown,
        }
    }

    fn restore_own(&mut self, m: SignatureMessage) -> Result<(), CollectorError> {
        let id = m.id();
        let bad = |problem| CollectorError::BadPersistedOwn { id, problem };
        let Some(me) = self.member_for(id) else {
            return Err(bad("this key is not in the committee version that signs it"));
        };
        if m.signer != me {
            return Err(bad("it names another member as signer"));
        }
        let signature = bls::parse_signature(&m.signature).map_err(|_| bad("its signature is not a valid point"))?;
        let roster = self.roster_for(id);
        let root = roster.signing_root(id, &m.merkle_root, &m.report_hash);
        if !roster.verify(me, &root, &signature) {
            return Err(bad("its signature does not verify"));
        }
        if !self.window.contains(id) {
            return Ok(());
        }
        let round = self.rounds.entry(id).or_default();
        match round.slots.get(&me) {
            None => {
                round
                    .slots
                    .insert(me, SignatureState::Verified(Entry { message: m, signature, arrived_ms: self.now_ms }));
            }
            Some(SignatureState::Verified(e)) if e.message == m => {}
            Some(_) => return Err(bad("another own signature for the same report has a different root")),
        }
        round.own = Some(OwnSignature { message: m, next_broadcast_ms: self.now_ms + self.config.rebroadcast_ms });
        Ok(())
    }

    fn own(&mut self, id: ReportId, c: Content, out: &mut Vec<Action>) -> Result<(), CollectorError> {
        if id.number == 0 {
            return Err(CollectorError::ZeroNumber { id });
        }
        let (low, high) = self.window.bounds(id.kind);
        if id.number < low {
            return Err(CollectorError::Stale { id, low, high });
        }
        // The window follows the reports this node computed, signed or not.
        self.advance(id);
        let Some(me) = self.member_for(id) else {
            return Err(CollectorError::NotAMemberFor { id, version: self.schedule.for_report(id).version });
        };
        let roster = self.schedule.for_report(id).roster.clone();
        let round = self.rounds.entry(id).or_default();
        if round.settled && round.own.is_none() {
            // Accepted on chain without us: a signature adds nothing, and on a fresh store it
            // could contradict one this key made before.
            return Ok(());
        }
        if let Some(SignatureState::Pending(e)) = round.slots.get(&me) {
            // A signature of our key from the network (say, sent before a lost store): settle it first.
            let e = *e;
            if verify_entry(&roster, &e) {
                round.slots.insert(me, SignatureState::Verified(e));
                out.push(Action::Record(e.message));
            } else {
                round.slots.remove(&me);
                out.push(Action::Reject { member: me, message: e.message, reason: RejectReason::InvalidSignature });
            }
        }
        let would_equivocate = |signed: Content| CollectorError::WouldEquivocate {
            id,
            signed: hex::encode(&signed.0),
            signed_hash: hex::encode(&signed.1),
            requested: hex::encode(&c.0),
            requested_hash: hex::encode(&c.1),
        };
        match round.slots.get(&me) {
            Some(SignatureState::Pending(_)) => unreachable!("settled above"),
            // Our key already signed two roots (a lost store and a restart?): sign nothing more.
            Some(SignatureState::Equivocated(ev)) => {
                let other = if content(&ev.first) == c { content(&ev.second) } else { content(&ev.first) };
                return Err(would_equivocate(other));
            }
            Some(SignatureState::Verified(e)) if content(&e.message) != c => {
                return Err(would_equivocate(content(&e.message)))
            }
            Some(SignatureState::Verified(_)) if round.own.is_some() => return Ok(()),
            Some(SignatureState::Verified(e)) => {
                // Our key's signature of this very report came from the network: adopt it.
                let message = e.message;
                round.own = Some(OwnSignature { message, next_broadcast_ms: self.now_ms + self.config.rebroadcast_ms });
                out.push(Action::Persist(message));
                out.push(Action::Broadcast(message));
            }
            None => {
                let root = roster.signing_root(id, &c.0, &c.1);
                let message = SignatureMessage {
                    kind: id.kind,
                    number: id.number,
                    merkle_root: c.0,
                    report_hash: c.1,
                    signer: me,
                    signature: self.signer.sign(root.as_bytes()),
                };
                let signature = bls::parse_signature(&message.signature).expect("our signer makes valid signatures");
                round.slots.insert(me, SignatureState::Verified(Entry { message, signature, arrived_ms: self.now_ms }));
                round.own = Some(OwnSignature { message, next_broadcast_ms: self.now_ms + self.config.rebroadcast_ms });
                out.push(Action::Persist(message));
                out.push(Action::Broadcast(message));
            }
        }
        self.after_change(id, out);
        Ok(())
    }

    fn peer(&mut self, member: u16, message: SignatureMessage, out: &mut Vec<Action>) {
        let reject = |out: &mut Vec<Action>, reason| out.push(Action::Reject { member, message, reason });
        if message.signer != member {
            return reject(out, RejectReason::SignerMismatch { claimed: member, signer: message.signer });
        }
        let id = message.id();
        let roster = self.schedule.for_report(id).roster.clone();
        if roster.key(member).is_none() {
            return reject(out, RejectReason::UnknownMember(member));
        }
        if let Err(reason) = self.window.check(id) {
            return reject(out, reason);
        }
        // Copies and an equivocator's further roots are settled by their bytes: no curve work.
        match self.rounds.get(&id).and_then(|round| round.slots.get(&member)) {
            Some(SignatureState::Pending(old) | SignatureState::Verified(old)) if old.message == message => return,
            Some(SignatureState::Equivocated(ev)) if ev.first == message || ev.second == message => return,
            Some(SignatureState::Equivocated(_)) => return reject(out, RejectReason::Equivocator { member }),
            _ => {}
        }
        let signature = match bls::parse_signature(&message.signature) {
            Ok(s) => s,
            Err(e) => return reject(out, RejectReason::BadSignature(e)),
        };
        let new = Entry { message, signature, arrived_ms: self.now_ms };
        let roster = &*roster;
        let round = self.rounds.entry(id).or_default();
        match round.slots.get(&member).cloned() {
            None => {
                round.slots.insert(member, SignatureState::Pending(new));
            }
            Some(SignatureState::Pending(old)) => {
                if verify_entry(roster, &old) {
                    out.push(Action::Record(old.message));
                    conflict(roster, round, member, old, new, out);
                } else {
                    // The earlier message was the forgery; the new one waits for its own check.
                    out.push(Action::Reject { member, message: old.message, reason: RejectReason::InvalidSignature });
                    round.slots.insert(member, SignatureState::Pending(new));
                }
            }
            Some(SignatureState::Verified(old)) => conflict(roster, round, member, old, new, out),
            Some(SignatureState::Equivocated(_)) => unreachable!("answered above"),
        }
        self.after_change(id, out);
    }

    fn tick(&mut self, now_ms: u64, out: &mut Vec<Action>) {
        self.now_ms = self.now_ms.max(now_ms);
        if self.quiet_until_ms.is_some_and(|until| self.now_ms >= until) {
            self.quiet_until_ms = None;
            for (id, c) in std::mem::take(&mut self.deferred) {
                match self.own(id, c, out) {
                    Ok(()) | Err(CollectorError::Stale { .. }) => {}
                    Err(e) => out.push(Action::SignRefused(e)),
                }
            }
        }
        if self.now_ms >= self.next_regossip_ms {
            self.next_regossip_ms = self.now_ms + self.config.rebroadcast_ms;
            self.regossip(out);
        }
        let ids: Vec<ReportId> = self.rounds.keys().copied().collect();
        for id in ids {
            let round = self.rounds.get_mut(&id).expect("listed");
            // Roots short of a quorum at once; late signatures of the certified root in a
            // batch once the oldest has waited `late_verify_ms`.
            let certified = round.certificate.as_ref().map(|cert| (cert.merkle_root, cert.report_hash));
            let (now, late_ms) = (self.now_ms, self.config.late_verify_ms);
            let due = |c: Content, oldest_ms: u64| certified != Some(c) || now >= oldest_ms.saturating_add(late_ms);
            verify_pending(&self.schedule.for_report(id).roster, id, round, due, out);
            self.refresh_certificate(id, out);
            let round = self.rounds.get_mut(&id).expect("listed");
            if round.settled {
                continue;
            }
            if let Some(own) = &mut round.own {
                if self.now_ms >= own.next_broadcast_ms {
                    own.next_broadcast_ms = self.now_ms + self.config.rebroadcast_ms;
                    out.push(Action::Rebroadcast(own.message));
                }
            }
            self.due_submission(id, out);
        }
    }

    /// Every verified peer signature and evidence message of the unsettled reports, again.
    fn regossip(&self, out: &mut Vec<Action>) {
        for (&id, round) in self.rounds.iter().filter(|(_, r)| !r.settled) {
            let me = self.member_for(id);
            for (&member, slot) in &round.slots {
                match slot {
                    SignatureState::Verified(e) if Some(member) != me => out.push(Action::Regossip(e.message)),
                    SignatureState::Equivocated(ev) => {
                        out.push(Action::Regossip(ev.first));
                        out.push(Action::Regossip(ev.second));
                    }
                    _ => {}
                }
            }
        }
    }

    fn settled(&mut self, id: ReportId) {
        self.advance(id);
        if self.window.contains(id) {
            self.rounds.entry(id).or_default().settled = true;
        }
    }

    /// Moves the window and forgets reports that fell out of it.
    fn advance(&mut self, id: ReportId) {
        self.window.advance(id);
        let window = self.window;
        self.rounds.retain(|rid, _| rid.number >= window.bounds(rid.kind).0);
    }

    /// Verifies the waiting signatures of any root that could now reach the threshold (and is
    /// not certified yet), then brings the certificate up to date.
    fn after_change(&mut self, id: ReportId, out: &mut Vec<Action>) {
        let roster = self.schedule.for_report(id).roster.clone();
        let threshold = roster.threshold();
        let Some(round) = self.rounds.get_mut(&id) else { return };
        let mut counts: BTreeMap<Content, (usize, bool)> = BTreeMap::new();
        for slot in round.slots.values() {
            match slot {
                SignatureState::Pending(e) => {
                    let t = counts.entry(content(&e.message)).or_default();
                    t.0 += 1;
                    t.1 = true;
                }
                SignatureState::Verified(e) => counts.entry(content(&e.message)).or_default().0 += 1,
                SignatureState::Equivocated(_) => {}
            }
        }
        let certified = round.certificate.as_ref().map(|cert| (cert.merkle_root, cert.report_hash));
        for (c, (count, pending)) in counts {
            // Once a root is certified, late signatures wait for the tick's batch.
            if pending && count >= threshold && certified != Some(c) {
                verify_pending(&roster, id, round, |root, _| root == c, out);
            }
        }
        self.refresh_certificate(id, out);
    }

    fn refresh_certificate(&mut self, id: ReportId, out: &mut Vec<Action>) {
        let roster = self.schedule.for_report(id).roster.clone();
        let threshold = roster.threshold();
        let Some(round) = self.rounds.get_mut(&id) else { return };
        let mut tallies: BTreeMap<Content, Vec<&Entry>> = BTreeMap::new();
        for slot in round.slots.values() {
            if let SignatureState::Verified(e) = slot {
                tallies.entry(content(&e.message)).or_default().push(e);
            }
        }
        // At most one root can reach a strict majority of single-root members.
        let winner = tallies.into_iter().find(|(_, entries)| entries.len() >= threshold);
        let unchanged = match (&winner, &round.certificate) {
            (None, None) => true,
            (Some((c, entries)), Some(cert)) => {
                *c == (cert.merkle_root, cert.report_hash)
                    && entries.iter().map(|e| e.message.signer).collect::<SignerBitmap>() == cert.signers
            }
            _ => false,
        };
        if unchanged {
            return;
        }
        let certificate = winner.map(|(c, entries)| {
            let sigs: Vec<Signature> = entries.iter().map(|e| e.signature).collect();
            Certificate {
                id,
                signing_root: roster.signing_root(id, &c.0, &c.1),
                merkle_root: c.0,
                report_hash: c.1,
                signers: entries.iter().map(|e| e.message.signer).collect(),
                signature: bls::aggregate_signatures(&sigs).expect("a quorum is not empty").to_bytes(),
            }
        });
        let previous = std::mem::replace(&mut round.certificate, certificate.clone());
        match (previous, certificate) {
            (_, None) => out.push(Action::QuorumLost { id }),
            (Some(p), Some(c)) if (p.merkle_root, p.report_hash) == (c.merkle_root, c.report_hash) => {
                out.push(Action::AggregateUpdated(c))
            }
            (_, Some(c)) => {
                round.quorum_since_ms.get_or_insert(self.now_ms);
                out.push(Action::QuorumReached(c));
                self.due_submission(id, out);
            }
        }
    }

    /// Emits [`Action::Submit`] if an attempt of this node's has come due since the last look.
    fn due_submission(&mut self, id: ReportId, out: &mut Vec<Action>) {
        let Some(round) = self.rounds.get_mut(&id) else { return };
        let (Some(since), Some(cert), false) = (round.quorum_since_ms, &round.certificate, round.settled) else {
            return;
        };
        let due = self.now_ms.saturating_sub(since) / self.config.fallback_ms;
        if due < round.next_attempt {
            return;
        }
        // The latest attempt k <= due with (number + k) mod size == me; a node outside the
        // report's committee never submits it (its members do).
        let roster = self.schedule.for_report(id).roster.clone();
        let Some(me) = roster.index_of(&self.pk) else {
            round.next_attempt = due + 1;
            return;
        };
        let n = roster.size() as u64;
        let mine = (me as u64 + n - id.number % n) % n;
        let latest = (due >= mine).then(|| due - (due - mine) % n);
        if let Some(k) = latest.filter(|&k| k >= round.next_attempt) {
            debug_assert_eq!(roster.submitter(id.number, k), me);
            out.push(Action::Submit { certificate: cert.clone(), attempt: k });
        }
        round.next_attempt = due + 1;
    }
}

fn verify_entry(roster: &Roster, e: &Entry) -> bool {
    let root = roster.signing_root(e.message.id(), &e.message.merkle_root, &e.message.report_hash);
    roster.verify(e.message.signer, &root, &e.signature)
}

/// `old` (verified) and `new` (parsed) are two messages of `member` for one report.
fn conflict(roster: &Roster, round: &mut Round, member: u16, old: Entry, new: Entry, out: &mut Vec<Action>) {
    let reject = |out: &mut Vec<Action>| {
        out.push(Action::Reject { member, message: new.message, reason: RejectReason::InvalidSignature })
    };
    if content(&old.message) == content(&new.message) || !verify_entry(roster, &new) {
        // Same root: a key has exactly one valid signature of it, and `old` is that one.
        round.slots.insert(member, SignatureState::Verified(old));
        return reject(out);
    }
    let (first, second) = if content(&old.message) < content(&new.message) {
        (old.message, new.message)
    } else {
        (new.message, old.message)
    };
    let evidence = Evidence { member, first, second };
    round.slots.insert(member, SignatureState::Equivocated(evidence.clone()));
    out.push(Action::Equivocation(evidence));
}

/// Verifies the pending signatures of `round`, one batch per root, for the roots `due`
/// selects (given the root and the arrival time of its oldest pending signature): valid
/// ones become verified and are recorded, invalid ones are dropped and rejected.
fn verify_pending(
    roster: &Roster,
    id: ReportId,
    round: &mut Round,
    due: impl Fn(Content, u64) -> bool,
    out: &mut Vec<Action>,
) {
    let mut groups: BTreeMap<Content, Vec<Entry>> = BTreeMap::new();
    for slot in round.slots.values() {
        if let SignatureState::Pending(e) = slot {
            groups.entry(content(&e.message)).or_default().push(*e);
        }
    }
    groups.retain(|c, entries| due(*c, entries.iter().map(|e| e.arrived_ms).min().expect("not empty")));
    for (c, entries) in groups {
        let root = roster.signing_root(id, &c.0, &c.1);
        let keyed: Vec<_> =
            entries.iter().map(|e| (roster.key(e.message.signer).expect("checked on arrival"), &e.signature)).collect();
        let bad = bls::find_invalid(root.as_bytes(), &keyed);
        for (i, e) in entries.iter().enumerate() {
            let member = e.message.signer;
            if bad.contains(&i) {
                round.slots.remove(&member);
                out.push(Action::Reject { member, message: e.message, reason: RejectReason::InvalidSignature });
            } else {
                round.slots.insert(member, SignatureState::Verified(*e));
                out.push(Action::Record(e.message));
            }
        }
    }
}

#[cfg(test)]
mod tests;
