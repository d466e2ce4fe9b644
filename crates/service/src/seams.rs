//! The node's seams to the outside world besides the store, the inputs source and the
//! gossip network: each is small, implemented here for the real thing, and by tests for
//! an in-process stand-in.

use claystack_execution::{ChainError, ExitsLeaf, PublishedExitTx, ReportReader, SubmitOutcome, Submitter};
use claystack_primitives::ReportKind;
use claystack_quorum::{Certificate, CommitteeSchedule, Roster};
use claystack_sync::{Follower, FollowerStatus, SyncError};
use futures::future::BoxFuture;
use tokio::sync::watch;

/// Keeps the store's tallies current. In a node, the beacon-chain [`Follower`].
pub trait Accounting: Send + Sync {
    /// Runs until accounting is done (a configured last epoch was accounted; never
    /// without one), or fails with an error that waiting cannot fix.
    fn run(&self) -> BoxFuture<'_, Result<(), SyncError>>;

    /// What it is doing, for the node's health; `None` if it never says.
    fn status(&self) -> Option<watch::Receiver<FollowerStatus>> {
        None
    }
}

impl Accounting for Follower {
    fn run(&self) -> BoxFuture<'_, Result<(), SyncError>> {
        Box::pin(Follower::run(self))
    }

    fn status(&self) -> Option<watch::Receiver<FollowerStatus>> {
        Some(Follower::status(self))
    }
}

/// Sends a quorum certificate to the NodeManager, when it is this member's turn. In a
/// node, the execution [`Submitter`] (which checks the chain first, and sends at most one
/// transaction per report).
pub trait SubmitCertificate: Send + Sync {
    fn submit<'a>(&'a self, certificate: &'a Certificate) -> BoxFuture<'a, Result<SubmitOutcome, ChainError>>;

    /// Publishes one exit of accepted exits report `number` (`NodeManager.publishExit`).
    fn publish_exit<'a>(
        &'a self,
        number: u64,
        leaf: &'a ExitsLeaf,
        proof: &'a [[u8; 32]],
    ) -> BoxFuture<'a, Result<PublishedExitTx, ChainError>>;
}

impl SubmitCertificate for Submitter {
    fn submit<'a>(&'a self, certificate: &'a Certificate) -> BoxFuture<'a, Result<SubmitOutcome, ChainError>> {
        Box::pin(Submitter::submit(self, certificate))
    }

    fn publish_exit<'a>(
        &'a self,
        number: u64,
        leaf: &'a ExitsLeaf,
        proof: &'a [[u8; 32]],
    ) -> BoxFuture<'a, Result<PublishedExitTx, ChainError>> {
        Box::pin(Submitter::publish_exit(self, number, leaf, proof))
    }
}

/// Which reports the NodeManager has accepted, from anyone. In a node, the execution
/// [`ReportReader`].
pub trait AcceptedReports: Send + Sync {
    /// The highest accepted report number of `kind` (0: none yet). The NodeManager
    /// accepts reports in order, so every lower number is accepted too.
    fn last_accepted(&self, kind: ReportKind) -> BoxFuture<'_, Result<u64, ChainError>>;

    /// Every committee version the NodeManager holds, genesis' `roster` as version 0
    /// (docs/committee.md, committee changes). `None` when it holds no more than
    /// `known_versions` (the caller's schedule is current: one cheap read per poll), or from a
    /// chain that does not say.
    fn committee_schedule<'a>(
        &'a self,
        _genesis: &'a Roster,
        _known_versions: u64,
    ) -> BoxFuture<'a, Result<Option<CommitteeSchedule>, ChainError>> {
        Box::pin(std::future::ready(Ok(None)))
    }
}

impl AcceptedReports for ReportReader {
    fn last_accepted(&self, kind: ReportKind) -> BoxFuture<'_, Result<u64, ChainError>> {
        Box::pin(self.last_report_number(kind))
    }

    fn committee_schedule<'a>(
        &'a self,
        genesis: &'a Roster,
        known_versions: u64,
    ) -> BoxFuture<'a, Result<Option<CommitteeSchedule>, ChainError>> {
        // Versions never change once scheduled, so `latest` is safe to read them at, and a
        // count no higher than the caller's means nothing new.
        Box::pin(async move {
            if self.committee_versions().await? <= known_versions {
                return Ok(None);
            }
            ReportReader::committee_schedule(self, genesis).await.map(Some)
        })
    }
}
