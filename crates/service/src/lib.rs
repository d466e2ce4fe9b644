//! The oracle node as one value: [`Node`] owns the node's tasks — accounting, closing
//! reports and, for a committee member, the quorum driver, the submitter and the chain
//! watcher — and runs them until a shutdown future fires or one of them fails.
//!
//! It is built from resolved parts: plain values, the genesis, the store, an
//! [`Accounting`] (the beacon-chain follower), an inputs source and, for a member, its
//! signer, roster and network. It never reads a config file, a flag, a key file or an
//! environment variable (the binary resolves those), and it must never decide anything
//! the pure crates decide: which report to close and its content (`report`), what to sign,
//! which root wins and whose turn it is to submit (`quorum`). It only starts, connects and
//! stops the crates that do.
//!
//! # Health
//!
//! A part that keeps failing with something waiting can fix (the beacon node is down, the
//! registry cannot be read) does not stop the node: it retries, and the node's [`Health`]
//! ([`Node::health`], a `watch` channel a later HTTP layer serves) is `Degraded` since then,
//! with the reason, until it recovers. Each change is one log line. Only what waiting
//! cannot fix (the store fails, a task panics) stops the node.
//!
//! # Testing
//!
//! Like mini-redis's `server::run(listener, shutdown)`, [`Node::run`] takes its shutdown
//! future, and the node takes its [`Clock`]; every timer is `tokio::time`. With a
//! `TokioClock`, the quorum driver's in-memory gossip hub (`claystack-quorum-driver`'s
//! `test-utils`) and in-process stand-ins for the seams in [`seams`], a whole committee
//! runs in one test under paused time (`crates/service/tests/node.rs`).

mod health;
mod journal;
mod seams;
mod tasks;
mod timings;

pub use health::Health;
pub use journal::StoreJournal;
pub use seams::{AcceptedReports, Accounting, SubmitCertificate};
pub use timings::{Timings, TimingsReading};

use claystack_frame_close::{ExitsCloser, FrameCloser, InputsSource};
use claystack_genesis::Genesis;
use claystack_p2p::NetworkEvent;
use claystack_quorum::{CommitteeSchedule, Config as CollectorConfig, Roster, SecretKeySigner};
use claystack_quorum_driver::{Clock, Gossip, OwnReport, QuorumDriver, QuorumDriverError};
use claystack_store::{Store, StoreError};
use claystack_sync::SyncError;
use health::HealthReporter;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinError, JoinSet};
use tracing::warn;

/// How often the quorum driver ticks (rebroadcasts, late batch verification, submitter
/// turns): its timers are precise to a tick.
pub const TICK: Duration = Duration::from_millis(250);

/// Why the node stopped other than by its shutdown signal.
#[derive(Debug, Error)]
pub enum NodeError {
    /// Accounting stopped with an error.
    #[error("accounting stopped")]
    Accounting(#[source] SyncError),
    /// The quorum driver could not start, or stopped with an error.
    #[error("the quorum driver stopped")]
    Driver(#[source] QuorumDriverError),
    /// The stored reports could not be read at start-up.
    #[error("cannot read the stored reports at start-up")]
    LatestReport(#[source] StoreError),
    /// A node task panicked.
    #[error("a node task panicked")]
    Task(#[source] JoinError),
}

/// The node: accounting, and with [`Reports`], closing reports (and, for a committee
/// member, signing them).
pub struct Node {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    accounting: Box<dyn Accounting>,
    reports: Option<Reports>,
    health: Arc<HealthReporter>,
    timings: Arc<Timings>,
}

/// What a node needs to close rewards reports: present when it has a genesis.
pub struct Reports {
    pub genesis: Genesis,
    /// Where each frame's inputs come from (files, and the registry on chain).
    pub inputs: Box<dyn InputsSource>,
    /// Where closed reports' files are exported.
    pub export_dir: PathBuf,
    /// How often to try to close the next report.
    pub poll_interval: Duration,
    /// This node as a committee member: it signs, gossips and collects a quorum.
    pub member: Option<Member>,
    /// Closes exits rounds, when the genesis has an `exits` section; exported beside the
    /// rewards reports, signed and submitted through the same driver.
    pub exits: Option<ExitsCloser>,
}

/// What this node needs as one member of the genesis committee.
pub struct Member {
    /// The member's BLS key, unlocked.
    pub signer: SecretKeySigner,
    /// The committee, from genesis.
    pub roster: Arc<Roster>,
    pub collector: CollectorConfig,
    /// The gossip network, and the messages it delivers.
    pub network: Arc<dyn Gossip>,
    pub network_events: mpsc::Receiver<NetworkEvent>,
    /// Sends certificates on this member's turns; without one they are only stored.
    pub submitter: Option<Box<dyn SubmitCertificate>>,
    /// Tells which reports the chain accepted, so this member stops rebroadcasting them, and
    /// which committee versions it holds (a member added by a change is not in genesis).
    pub chain: Option<Box<dyn AcceptedReports>>,
}

impl Node {
    /// A node that accounts into `store`, and closes reports when `reports` is given.
    pub fn new(
        store: Arc<Store>,
        clock: Arc<dyn Clock>,
        accounting: Box<dyn Accounting>,
        reports: Option<Reports>,
    ) -> Node {
        let health = Arc::new(HealthReporter::new(clock.clone()));
        Node { store, clock, accounting, reports, health, timings: Arc::default() }
    }

    /// What the node's tasks measure about themselves (close time, time to quorum,
    /// submissions), for metrics.
    pub fn timings(&self) -> Arc<Timings> {
        self.timings.clone()
    }

    /// The node's health, and each change of it, for as long as the node runs.
    pub fn health(&self) -> watch::Receiver<Health> {
        self.health.subscribe()
    }

    /// Runs the node until `shutdown` fires (`Ok`), a task fails (its error), or
    /// accounting is done on a node that is not a committee member (`Ok`: a member keeps
    /// running, to finish gossiping). Every task has stopped when it returns; the store is
    /// consistent at any point, so a restart resumes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), NodeError> {
        let mut tasks = JoinSet::new();
        let result = self.run_tasks(&mut tasks, shutdown).await;
        tasks.shutdown().await;
        result
    }

    async fn run_tasks(
        self,
        tasks: &mut JoinSet<Result<(), NodeError>>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), NodeError> {
        let Node { store, clock, accounting, reports, health, timings } = self;
        let accounting_ends_node = reports.as_ref().is_none_or(|r| r.member.is_none());
        if let Some(status) = accounting.status() {
            tasks.spawn(tasks::watch_accounting(status, health.clone()));
        }
        let accounting_task = tasks.spawn(async move { accounting.run().await.map_err(NodeError::Accounting) }).id();
        if let Some(reports) = reports {
            start_reports(reports, store, clock, health, timings, tasks).await?;
        }
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                done = tasks.join_next_with_id() => match done {
                    Some(Ok((id, Ok(())))) if id == accounting_task && accounting_ends_node => return Ok(()),
                    Some(Ok((_, Ok(())))) => continue,
                    Some(Ok((_, Err(e)))) => return Err(e),
                    Some(Err(e)) => return Err(NodeError::Task(e)),
                    None => return Ok(()),
                },
                () = &mut shutdown => return Ok(()),
            }
        }
    }
}

/// Starts the member's tasks (when there is a member), then the task that closes reports.
async fn start_reports(
    reports: Reports,
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    health: Arc<HealthReporter>,
    timings: Arc<Timings>,
    tasks: &mut JoinSet<Result<(), NodeError>>,
) -> Result<(), NodeError> {
    let Reports { genesis, inputs, export_dir, poll_interval, member, exits } = reports;
    let own = match member {
        Some(member) => Some(start_member(member, &genesis, store.clone(), clock, timings.clone(), tasks).await?),
        None => None,
    };
    if let Some(exits) = exits {
        let exits = exits.with_export_dir(export_dir.clone());
        let own = own.clone().map(|tx| (tx, timings.clone()));
        tasks.spawn(tasks::close_exits(exits, store.clone(), own, poll_interval, health.clone()));
    }
    let closer = FrameCloser::new(genesis, store.clone(), inputs).with_export_dir(export_dir);
    tasks.spawn(tasks::close_reports(closer, store, own, poll_interval, health, timings));
    Ok(())
}

/// Starts the driver, and the submitter (or a task that keeps certificates) and the chain
/// watcher around it; returns where to send own reports.
async fn start_member(
    member: Member,
    genesis: &Genesis,
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    timings: Arc<Timings>,
    tasks: &mut JoinSet<Result<(), NodeError>>,
) -> Result<mpsc::Sender<OwnReport>, NodeError> {
    let Member { signer, roster, collector, network, network_events, submitter, chain } = member;
    let peer_ids: Vec<String> = genesis.committee.members.iter().map(|m| m.peer_id.clone()).collect();
    let (quorum_tx, quorum_rx) = mpsc::channel(64);
    // The committee versions on chain (a member added by a change is not in genesis).
    let schedule = match &chain {
        Some(chain) => match chain.committee_schedule(&roster, 0).await {
            Ok(Some(schedule)) => schedule,
            Ok(None) => CommitteeSchedule::new((*roster).clone()),
            Err(e) => {
                warn!("cannot read the committee versions from the NodeManager: {e}; starting with genesis' committee, read again every {}s", tasks::CHAIN_POLL.as_secs());
                CommitteeSchedule::new((*roster).clone())
            }
        },
        None => CommitteeSchedule::new((*roster).clone()),
    };
    let (schedule_tx, schedule_rx) = watch::channel(schedule.clone());
    let driver = QuorumDriver::start_with_schedule(
        collector,
        schedule,
        &peer_ids,
        signer,
        store.clone(),
        network,
        clock,
        quorum_tx,
    )
    .await
    .map_err(NodeError::Driver)?
    .with_schedule_updates(schedule_rx);
    let (own_tx, own_rx) = mpsc::channel(16);
    let (settled_tx, settled_rx) = mpsc::channel(16);
    tasks.spawn(async move { driver.run(own_rx, network_events, settled_rx, TICK).await.map_err(NodeError::Driver) });
    if let Some(chain) = chain {
        tasks.spawn(tasks::watch_chain(chain, settled_tx.clone(), roster, schedule_tx));
    }
    match submitter {
        Some(submitter) => tasks.spawn(tasks::submit_certificates(submitter, store, quorum_rx, settled_tx, timings)),
        None => tasks.spawn(tasks::keep_certificates(quorum_rx, timings)),
    };
    Ok(own_tx)
}
