//! The loop: wait for finality, fetch, verify, account, commit.

use crate::window::{BlockWindow, LinkError};
use claystack_accounting::{account_epoch, epoch_flows, solve_active_count, AccountingError, ActiveCount, Layout};
use claystack_beacon::{BeaconClient, BeaconError};
use claystack_primitives::{AttesterDuty, BeaconSpec, BlockSummary, Epoch, Slot};
use claystack_store::{AccountingCursor, Store, StoreError};
use futures::{stream, StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Validator indices to account (any order; duplicates ignored).
    pub tracked: Vec<u64>,
    /// First epoch to account when the store is empty.
    pub start_epoch: Epoch,
    /// Stop once this epoch is accounted (`None`: follow forever).
    pub until_epoch: Option<Epoch>,
    /// Block requests in flight at once.
    pub concurrency: usize,
    /// How often to ask for a new finalized checkpoint when caught up.
    pub poll_interval: Duration,
    /// The longest wait between two tries while the beacon node keeps failing (the wait
    /// doubles from 200 ms up to this).
    pub max_retry_wait: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            tracked: Vec::new(),
            start_epoch: 0,
            until_epoch: None,
            concurrency: 16,
            poll_interval: Duration::from_secs(6),
            max_retry_wait: Duration::from_secs(10),
        }
    }
}

/// Why following stopped. Causes are printed in the message (fields named `error`, as in
/// `claystack-keys`), never also kept as a `source`, so `anyhow`'s `{:#}` prints them once.
#[derive(Debug, Error)]
pub enum SyncError {
    /// The beacon node could not be asked, or answered something unusable.
    #[error(transparent)]
    Beacon(#[from] BeaconError),
    /// The data directory failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The beacon node's duties and blocks contradict each other.
    #[error(
        "beacon data for epoch {epoch} is inconsistent: {error} — the node may be faulty; try another beacon node"
    )]
    Inconsistent { epoch: Epoch, error: AccountingError },
    /// The blocks do not form one chain.
    #[error("{0} — the node may be missing blocks (not synced, or pruned); try another beacon node")]
    Link(LinkError),
    /// The tracked validator set is empty.
    #[error("no validators to track")]
    NothingTracked,
}

impl From<LinkError> for SyncError {
    fn from(error: LinkError) -> Self {
        SyncError::Link(error)
    }
}

impl SyncError {
    /// Whether another round could succeed without anyone changing anything: the beacon
    /// node may answer, or answer better, later (see [`BeaconError::is_retryable`]), and a
    /// block it skipped may be served next time. A failing data directory or an empty
    /// tracked set stay as they are: retrying would only hide them.
    ///
    /// [`SyncError::Inconsistent`] (the node's duties and blocks contradict each other) is
    /// retryable, on purpose: nothing of the round is committed, so retrying is safe; a
    /// node that is resyncing, or a fallback URL behind a load balancer, can answer
    /// consistently on a later try; and stopping would take the node's signing and
    /// submission of reports already closed down with it, which do not need the beacon
    /// node. A node that keeps contradicting itself leaves the follower retrying, and the
    /// node's health degraded with this error as the reason, until an operator points it
    /// at another beacon node.
    pub fn is_retryable(&self) -> bool {
        match self {
            SyncError::Beacon(e) => e.is_retryable(),
            SyncError::Inconsistent { .. } | SyncError::Link(_) => true,
            SyncError::Store(_) | SyncError::NothingTracked => false,
        }
    }
}

/// What the follower is doing, for the node's health: published on a `watch` channel
/// ([`Follower::status`]) and changed only when it changes, not on every poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowerStatus {
    /// Accounting, or caught up and waiting for finality.
    Following,
    /// The beacon node keeps failing (three times in a row, or more) with errors that waiting
    /// can fix; the follower retries with backoff for as long as it takes. `error` is the
    /// first error of the streak.
    Retrying { error: String },
}

/// What the follower has seen, for the node's metrics; read from any task at any time.
#[derive(Debug, Default)]
pub struct FollowerProbe {
    /// The finalized epoch last read from the beacon node, plus one (0: none read yet).
    finalized_plus_one: std::sync::atomic::AtomicU64,
    beacon_errors: std::sync::atomic::AtomicU64,
}

impl FollowerProbe {
    /// The finalized epoch the beacon node last reported (`None` before the first answer).
    pub fn finalized_epoch(&self) -> Option<Epoch> {
        self.finalized_plus_one.load(std::sync::atomic::Ordering::Relaxed).checked_sub(1)
    }

    /// Failed rounds of the follower caused by the beacon node, each counted once after the
    /// client's own retries and failover (a round stops at its first error).
    pub fn beacon_errors(&self) -> u64 {
        self.beacon_errors.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// SHA-256 of the sorted tracked indices, to notice when the set changes.
pub fn tracked_hash(tracked: &[u64]) -> [u8; 32] {
    let mut h = Sha256::new();
    for v in tracked {
        h.update(v.to_be_bytes());
    }
    h.finalize().into()
}

/// One epoch's worth of fetched data, in slot order.
struct Chunk {
    epoch: Epoch,
    /// `None` for the partly final epoch at the bound.
    duties: Option<Vec<AttesterDuty>>,
    blocks: Vec<(Slot, Option<BlockSummary>)>,
}

pub struct Follower {
    client: BeaconClient,
    store: Arc<Store>,
    spec: BeaconSpec,
    cfg: SyncConfig,
    tracked: Arc<Vec<u64>>,
    hash: [u8; 32],
    warned_tracked: std::sync::atomic::AtomicBool,
    /// The finalized epoch last warned about as behind the accounted ones (warn once per value).
    warned_behind: std::sync::atomic::AtomicU64,
    status: watch::Sender<FollowerStatus>,
    probe: Arc<FollowerProbe>,
}

impl Follower {
    pub async fn new(client: BeaconClient, store: Arc<Store>, mut cfg: SyncConfig) -> Result<Self, SyncError> {
        cfg.tracked.sort_unstable();
        cfg.tracked.dedup();
        if cfg.tracked.is_empty() {
            return Err(SyncError::NothingTracked);
        }
        let spec = client.spec().await?;
        let hash = tracked_hash(&cfg.tracked);
        Ok(Follower {
            tracked: Arc::new(cfg.tracked.clone()),
            client,
            store,
            spec,
            cfg,
            hash,
            warned_tracked: Default::default(),
            warned_behind: std::sync::atomic::AtomicU64::new(u64::MAX),
            status: watch::Sender::new(FollowerStatus::Following),
            probe: Arc::default(),
        })
    }

    pub fn spec(&self) -> &BeaconSpec {
        &self.spec
    }

    /// What the follower is doing now, and each change of it.
    pub fn status(&self) -> watch::Receiver<FollowerStatus> {
        self.status.subscribe()
    }

    /// The finalized epoch and beacon errors it has seen, for metrics.
    pub fn probe(&self) -> Arc<FollowerProbe> {
        self.probe.clone()
    }

    /// Follows finality until `until_epoch` is accounted, or forever. Errors that waiting
    /// can fix ([`SyncError::is_retryable`]) are retried with backoff for as long as it
    /// takes, never returned; the others end the run at once.
    pub async fn run(&self) -> Result<(), SyncError> {
        let mut retry = Retry::new(self.cfg.max_retry_wait);
        loop {
            // A fresh store's cursor reads the anchor block from the beacon node too.
            let cursor = match self.cursor().await {
                Ok(c) => c,
                Err(e) => {
                    self.back_off(&mut retry, e, self.cfg.start_epoch).await?;
                    continue;
                }
            };
            if self.cfg.until_epoch.is_some_and(|u| cursor.next_epoch > u) {
                return Ok(());
            }
            let finalized = match self.client.finality_checkpoints("head").await {
                Ok(c) => {
                    let plus_one = c.finalized.epoch.saturating_add(1);
                    self.probe.finalized_plus_one.store(plus_one, std::sync::atomic::Ordering::Relaxed);
                    c.finalized.epoch
                }
                Err(e) => {
                    self.back_off(&mut retry, e.into(), cursor.next_epoch).await?;
                    continue;
                }
            };
            // Epoch e needs e+1's blocks and one verified block after them, all final:
            // slots up to first_slot(finalized) are.
            if cursor.next_epoch + 2 > finalized {
                // Accounting epoch `next - 1` needed finality at `next + 1`: a beacon node that
                // now reports less went back (a resynced node, another network). That is for
                // the operator, not a debug line.
                let accounted = cursor.next_epoch > self.cfg.start_epoch;
                if accounted
                    && finalized < cursor.next_epoch + 1
                    && self.warned_behind.swap(finalized, std::sync::atomic::Ordering::Relaxed) != finalized
                {
                    warn!(
                        finalized,
                        accounted_through = cursor.next_epoch - 1,
                        "the beacon node's finalized epoch is behind epochs already accounted as final: finality went \
                         backwards; check that the beacon node is synced and on the genesis network"
                    );
                }
                debug!(next = cursor.next_epoch, finalized, "waiting for finality");
                self.following(&mut retry);
                tokio::time::sleep(self.cfg.poll_interval).await;
                continue;
            }
            match self.round(cursor, finalized).await {
                Ok(done) => {
                    self.following(&mut retry);
                    if done == 0 {
                        tokio::time::sleep(self.cfg.poll_interval).await;
                    }
                }
                Err(e) => {
                    // After a round, the cursor is in the store: reading it asks no beacon node.
                    let now = self.store.accounting_cursor()?.map_or(cursor.next_epoch, |c| c.next_epoch);
                    if now > cursor.next_epoch {
                        retry.progressed();
                    }
                    self.back_off(&mut retry, e, now).await?;
                }
            }
        }
    }

    /// A failure at `epoch`: the error itself if waiting cannot fix it, else the status
    /// (once the streak is long enough) and the wait before the next try.
    async fn back_off(&self, retry: &mut Retry, error: SyncError, epoch: Epoch) -> Result<(), SyncError> {
        if matches!(error, SyncError::Beacon(_)) {
            self.probe.beacon_errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let wait = retry.failed(error, epoch)?;
        self.retrying(retry);
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// The beacon node answers again (or never stopped): back to [`FollowerStatus::Following`].
    fn following(&self, retry: &mut Retry) {
        if retry.failures > 0 {
            debug!(failures = retry.failures, "the beacon node answers again");
        }
        retry.progressed();
        self.status.send_if_modified(|s| std::mem::replace(s, FollowerStatus::Following) != FollowerStatus::Following);
    }

    /// Publishes the streak's first error once the streak is [`RETRYING_AFTER`] failures
    /// long; later failures of the streak change nothing.
    fn retrying(&self, retry: &Retry) {
        let Some(error) = retry.first.as_ref().filter(|_| retry.failures >= RETRYING_AFTER) else { return };
        self.status.send_if_modified(|s| match s {
            FollowerStatus::Retrying { .. } => false,
            FollowerStatus::Following => {
                *s = FollowerStatus::Retrying { error: error.clone() };
                true
            }
        });
    }

    /// The stored cursor, or a fresh one anchored on the block at or before the start epoch.
    async fn cursor(&self) -> Result<AccountingCursor, SyncError> {
        if let Some(c) = self.store.accounting_cursor()? {
            // Warn once per process, not on every poll until the next commit.
            if c.tracked_hash != self.hash && !self.warned_tracked.swap(true, std::sync::atomic::Ordering::Relaxed) {
                warn!(
                    epoch = c.next_epoch,
                    "the tracked validator set changed; tallies from this epoch on use the new set"
                );
            }
            return Ok(AccountingCursor { tracked_hash: self.hash, ..c });
        }
        // Anchor on the last block before the start epoch's first slot, so the
        // first block we account is already checked against its parent.
        // Look back at most two epochs: a node without history (checkpoint sync)
        // answers 404 all the way down, and an unanchored first epoch is only a
        // weaker check, not a wrong one.
        let first = self.spec.first_slot(self.cfg.start_epoch);
        let mut anchor = None;
        for slot in (first.saturating_sub(2 * self.spec.slots_per_epoch)..first).rev() {
            if let Some(b) = self.client.block(slot).await? {
                anchor = Some((slot, b.execution));
                break;
            }
        }
        if anchor.is_none() && first > 0 {
            warn!(
                epoch = self.cfg.start_epoch,
                "no block in the two epochs before the start epoch; its first block is not checked against a parent"
            );
        }
        Ok(AccountingCursor { next_epoch: self.cfg.start_epoch, anchor, tracked_hash: self.hash })
    }

    /// Accounts every epoch that `finalized` allows, from `cursor`. Returns how many.
    async fn round(&self, cursor: AccountingCursor, finalized: Epoch) -> Result<u64, SyncError> {
        let spec = self.spec;
        let bound = spec.first_slot(finalized);
        let first = spec.first_slot(cursor.next_epoch);
        let mut window = BlockWindow::new(first, cursor.anchor);
        let (tx, mut rx) = mpsc::channel::<Result<Chunk, SyncError>>(4);
        let producer = tokio::spawn(produce(
            self.client.clone(),
            self.tracked.clone(),
            spec,
            first,
            bound,
            self.cfg.concurrency,
            tx,
        ));
        let _abort = AbortOnDrop(producer);
        let mut duties: BTreeMap<Epoch, Vec<AttesterDuty>> = BTreeMap::new();
        let mut next = cursor.next_epoch;
        let mut done = 0;
        while let Some(chunk) = rx.recv().await {
            let chunk = chunk?;
            if let Some(d) = chunk.duties {
                duties.insert(chunk.epoch, d);
            }
            for (slot, block) in chunk.blocks {
                window.push(slot, block)?;
            }
            while window.settled_through(spec.last_slot(next + 1)) && duties.contains_key(&next) {
                let epoch_duties = duties.remove(&next).unwrap_or_default();
                self.account(next, &epoch_duties, &window).await?;
                window.trim_before(spec.first_slot(next + 1));
                next += 1;
                done += 1;
                if self.cfg.until_epoch.is_some_and(|u| next > u) {
                    return Ok(done);
                }
            }
        }
        Ok(done)
    }

    async fn account(&self, epoch: Epoch, duties: &[AttesterDuty], window: &BlockWindow) -> Result<(), SyncError> {
        let spec = &self.spec;
        let blocks = window.blocks(spec.first_slot(epoch) + 1, spec.last_slot(epoch + 1));
        let needs_layout = blocks
            .iter()
            .flat_map(|b| &b.attestations)
            .any(|a| a.committee_bits.is_some() && spec.epoch_of(a.slot) == epoch);
        let layout =
            if needs_layout && !duties.is_empty() { Some(self.layout(epoch, duties, &blocks).await?) } else { None };
        let tally = account_epoch(spec, epoch, duties, &blocks, layout.as_ref())
            .map_err(|error| SyncError::Inconsistent { epoch, error })?;
        let flows =
            epoch_flows(spec, epoch, &window.blocks(spec.first_slot(epoch), spec.last_slot(epoch)), &self.tracked);
        let anchor = window.last_block_before(spec.first_slot(epoch + 1));
        let cursor = AccountingCursor { next_epoch: epoch + 1, anchor, tracked_hash: self.hash };
        self.store.commit_epoch_tracked(&tally, &flows, &cursor, &self.tracked)?;
        let included: u32 = tally.tallies.iter().map(|t| t.included).sum();
        info!(epoch, duties = duties.len(), included, "epoch accounted");
        Ok(())
    }

    /// BeaconCommittee lengths of `epoch`: solved from the data when it pins them down,
    /// else read from the node's committees.
    async fn layout(
        &self,
        epoch: Epoch,
        duties: &[AttesterDuty],
        blocks: &[&BlockSummary],
    ) -> Result<Layout, SyncError> {
        match solve_active_count(&self.spec, epoch, duties, blocks) {
            ActiveCount::Exact(n) => {
                Ok(Layout::Active(claystack_primitives::beacon_committee::BeaconCommitteeLayout::new(&self.spec, n)))
            }
            ActiveCount::NoFit => {
                Err(SyncError::Inconsistent { epoch, error: AccountingError::LayoutMissing { epoch } })
            }
            ActiveCount::Ambiguous => {
                debug!(epoch, "committee layout ambiguous from duties; fetching committees");
                let state = self.spec.first_slot(epoch).to_string();
                let committees = self.client.committees(&state, epoch, None).await?;
                Ok(Layout::Lengths(
                    committees.into_iter().map(|c| ((c.slot, c.index), c.validators.len() as u64)).collect(),
                ))
            }
        }
    }
}

/// Failures in a row and how long to wait after each: the loop's one decision that does
/// not need a beacon node or a store, kept apart so it can be tested without them.
#[derive(Debug)]
struct Retry {
    failures: u32,
    max_wait: Duration,
    /// The first error of the current streak, as the status and the one warn line show it.
    first: Option<String>,
}

/// Failures in a row before the status says [`FollowerStatus::Retrying`]: one failed round
/// that the next one repairs (a beacon node answering 5xx now and then) is not an outage,
/// and must not flip the node's health back and forth.
const RETRYING_AFTER: u32 = 3;

/// The wait after the first failure of a streak; it doubles with each failure after it.
const FIRST_RETRY_WAIT: Duration = Duration::from_millis(200);

impl Retry {
    fn new(max_wait: Duration) -> Self {
        Retry { failures: 0, max_wait, first: None }
    }

    /// Something was accounted, or the beacon node answered and there was nothing to do:
    /// the streak is over.
    fn progressed(&mut self) {
        self.failures = 0;
        self.first = None;
    }

    /// A request or round failed with the cursor at `epoch`: how long to wait before trying
    /// again, or the error itself when waiting cannot fix it. Each failure is a debug line:
    /// the streak is logged once, by whoever watches [`Follower::status`] (the node's health).
    fn failed(&mut self, error: SyncError, epoch: Epoch) -> Result<Duration, SyncError> {
        if !error.is_retryable() {
            return Err(error);
        }
        self.failures = self.failures.saturating_add(1);
        debug!(%error, epoch, failures = self.failures, "beacon node failing; retrying");
        if self.first.is_none() {
            self.first = Some(error.to_string());
        }
        let doublings = (self.failures - 1).min(16);
        Ok(FIRST_RETRY_WAIT.saturating_mul(1 << doublings).min(self.max_wait))
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Fetches slots `first..=bound` an epoch at a time (several epochs and many blocks
/// in flight) and sends them in order, with each epoch's duties.
async fn produce(
    client: BeaconClient,
    tracked: Arc<Vec<u64>>,
    spec: BeaconSpec,
    first: Slot,
    bound: Slot,
    concurrency: usize,
    tx: mpsc::Sender<Result<Chunk, SyncError>>,
) {
    let epochs = spec.epoch_of(first)..=spec.epoch_of(bound);
    let chunks = stream::iter(epochs).map(|epoch| {
        let client = client.clone();
        let tracked = tracked.clone();
        async move {
            let from = spec.first_slot(epoch).max(first);
            let to = spec.last_slot(epoch).min(bound);
            let duties = async {
                // The bound epoch is only partly final; its duties are fetched next round.
                if spec.first_slot(epoch) >= bound {
                    Ok(None)
                } else {
                    client.attester_duties(epoch, &tracked).await.map(|d| Some(d.duties))
                }
            };
            let blocks = stream::iter(from..=to)
                .map(|slot| {
                    let client = client.clone();
                    async move { client.block(slot).await.map(|b| (slot, b)) }
                })
                .buffered(concurrency)
                .try_collect::<Vec<_>>();
            let (duties, blocks) = tokio::try_join!(duties, blocks)?;
            Ok::<_, SyncError>(Chunk { epoch, duties, blocks })
        }
    });
    let mut chunks = chunks.buffered(4);
    while let Some(chunk) = chunks.next().await {
        let failed = chunk.is_err();
        if tx.send(chunk).await.is_err() || failed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use claystack_store::CodecError;

    fn store_error() -> SyncError {
        SyncError::Store(StoreError::Corrupt { key: "acct/cursor".into(), error: CodecError::Version(9) })
    }

    fn link_error() -> SyncError {
        SyncError::Link(LinkError::OutOfOrder { expected: 64, got: 65 })
    }

    fn unreachable() -> BeaconError {
        BeaconError::Unreachable {
            endpoint: "http://127.0.0.1:1".into(),
            path: "/eth/v1/node/health".into(),
            reason: "refused".into(),
        }
    }

    #[test]
    fn a_store_error_is_returned_at_once_not_retried() {
        let mut retry = Retry::new(Duration::from_secs(10));
        let err = retry.failed(store_error(), 3).unwrap_err();
        assert!(matches!(err, SyncError::Store(StoreError::Corrupt { .. })), "{err:?}");
    }

    #[test]
    fn a_refused_request_is_returned_at_once_not_retried() {
        let refused = BeaconError::Status {
            endpoint: "http://127.0.0.1:1".into(),
            path: "/eth/v1/validator/duties/attester/3".into(),
            status: 400,
            message: "bad request".into(),
        };
        let mut retry = Retry::new(Duration::from_secs(10));
        let err = retry.failed(refused.into(), 3).unwrap_err();
        assert!(matches!(err, SyncError::Beacon(BeaconError::Status { status: 400, .. })), "{err:?}");
        let bad_url = BeaconError::InvalidUrl { url: "x".into(), reason: "no host".into() };
        assert!(matches!(retry.failed(bad_url.into(), 3), Err(SyncError::Beacon(BeaconError::InvalidUrl { .. }))));
    }

    #[test]
    fn an_unreachable_beacon_node_is_retried_for_ever_with_a_capped_backoff() {
        let mut retry = Retry::new(Duration::from_secs(10));
        let waits: Vec<u128> =
            (0..1000).map(|_| retry.failed(SyncError::Beacon(unreachable()), 5).unwrap().as_millis()).collect();
        assert_eq!(&waits[..8], &[200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
        assert!(waits.iter().all(|&w| w <= 10_000));
        assert_eq!(retry.failures, 1000);
        assert!(retry.first.as_deref().is_some_and(|e| e.contains("127.0.0.1:1")), "{:?}", retry.first);
    }

    #[test]
    fn progress_ends_the_streak_and_the_backoff_starts_over() {
        let mut retry = Retry::new(Duration::from_secs(10));
        for _ in 0..5 {
            retry.failed(link_error(), 5).unwrap();
        }
        retry.progressed();
        assert_eq!(retry.first, None);
        assert_eq!(retry.failed(SyncError::Beacon(unreachable()), 6).unwrap(), Duration::from_millis(200));
    }

    #[test]
    fn retryable_errors_are_the_ones_time_can_fix() {
        assert!(!store_error().is_retryable());
        assert!(!SyncError::NothingTracked.is_retryable());
        assert!(link_error().is_retryable());
        assert!(SyncError::Beacon(unreachable()).is_retryable());
        let exhausted = BeaconError::Exhausted { endpoints: 2, attempts: 6, last: Box::new(unreachable()) };
        assert!(SyncError::Beacon(exhausted).is_retryable());
        let inconsistent = SyncError::Inconsistent { epoch: 4, error: AccountingError::LayoutMissing { epoch: 4 } };
        assert!(inconsistent.is_retryable());
    }
}
