//! The node's long-running tasks besides accounting and the driver. Each loops on
//! `tokio::time` and logs what an operator cares about; none decides anything.

use crate::health::HealthReporter;
use crate::seams::{AcceptedReports, SubmitCertificate};
use crate::timings::Timings;
use crate::NodeError;
use claystack_execution::{ExitsLeaf, SubmitOutcome};
use claystack_frame_close::{stored_exits, ExitsCloser, ExitsWaiting, FrameCloser, Waiting};
use claystack_primitives::hex;
use claystack_primitives::{ReportId, ReportKind};
use claystack_quorum::{CommitteeSchedule, Roster};
use claystack_quorum_driver::{OwnReport, QuorumEvent};
use claystack_store::Store;
use claystack_sync::FollowerStatus;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

/// How often the NodeManager is asked which reports it accepted.
pub(crate) const CHAIN_POLL: Duration = Duration::from_secs(2);

/// Closes reports as accounting passes their frames, and hands each to the committee driver.
pub(crate) async fn close_reports(
    closer: FrameCloser,
    store: Arc<Store>,
    own: Option<mpsc::Sender<OwnReport>>,
    poll: Duration,
    health: Arc<HealthReporter>,
    timings: Arc<Timings>,
) -> Result<(), NodeError> {
    restart_reports(&closer, &store, own.as_ref()).await?;
    let mut last_wait = None;
    loop {
        let started = tokio::time::Instant::now();
        let (closed, waiting) = match closer.close_ready().await {
            Ok(r) => {
                health.set(CLOSING, None);
                if let Ok(n) = u32::try_from(r.0.len()) {
                    if n > 0 {
                        timings.closed(started.elapsed() / n);
                    }
                }
                r
            }
            Err(e) => {
                // Logged once, by the health reporter, when closing starts failing.
                health.set(CLOSING, Some(format!("cannot close the next report: {e}")));
                tokio::time::sleep(poll).await;
                continue;
            }
        };
        for c in closed {
            info!(
                report = c.number,
                frame = ?c.frame,
                merkle_root = %hex::encode(&c.merkle_root),
                report_hash = %hex::encode(&c.report_hash),
                operators = c.operators,
                t_wei = %c.t_wei,
                "report closed"
            );
            if let Some(e) = &c.export_error {
                warn!(report = c.number, "report stored (and signed by a member all the same), but its files were not exported: {e}; they are rewritten on the next start");
            }
            if let Some(tx) = &own {
                let id = ReportId { kind: ReportKind::Rewards, number: c.number };
                timings.own_report(id);
                tx.send(own_report(&store, id, c.merkle_root, c.report_hash)).await.ok();
            }
        }
        if last_wait.as_ref() != Some(&waiting) {
            if let Waiting::Inputs { number, reason } = &waiting {
                warn!(report = number, "{reason}");
            }
            last_wait = Some(waiting);
        }
        tokio::time::sleep(poll).await;
    }
}

/// Our report as the driver signs it, with its frame log's sections (gossiped so that members
/// with different roots see which input differs) when the stored report has a log.
fn own_report(store: &Store, id: ReportId, merkle_root: [u8; 32], report_hash: [u8; 32]) -> OwnReport {
    let sections = match store.report(id.kind, id.number) {
        Ok(Some(stored)) => serde_json::from_slice::<claystack_report::FrameLog>(&stored.log).ok(),
        _ => None,
    }
    .map(|log| claystack_report::sections(&log));
    OwnReport { id, merkle_root, report_hash, sections }
}

/// The health part that closing reports reports as.
const CLOSING: &str = "closing reports";

/// After a restart: rewrites exported files that differ from the store, and offers the
/// driver every stored report this member has not signed, oldest first (a crash, or a
/// failed export, between storing a report and signing it), and the newest one again (the
/// collector ignores what it already signed, and what left its window).
async fn restart_reports(
    closer: &FrameCloser,
    store: &Store,
    own: Option<&mpsc::Sender<OwnReport>>,
) -> Result<(), NodeError> {
    match closer.check_exports() {
        Ok(rewritten) => {
            for number in rewritten {
                warn!(report = number, "exported files were missing or differed from the stored report; rewritten");
            }
        }
        Err(e) => warn!("cannot check the exported report files: {e}"),
    }
    let Some(tx) = own else { return Ok(()) };
    offer_unsigned(store, ReportKind::Rewards, tx).await
}

/// Offers the driver every stored report of `kind` this member has not signed, oldest first,
/// and the newest one again. Exits rounds with nothing to exit (a zero root) are never signed.
async fn offer_unsigned(store: &Store, kind: ReportKind, tx: &mpsc::Sender<OwnReport>) -> Result<(), NodeError> {
    let latest = store.latest_report(kind).map_err(NodeError::LatestReport)?.map_or(0, |(n, _)| n);
    for number in 1..=latest {
        let signed = store.own_signature(kind, number).map_err(NodeError::LatestReport)?.is_some();
        if signed && number != latest {
            continue;
        }
        let Some(stored) = store.report(kind, number).map_err(NodeError::LatestReport)? else { continue };
        if stored.merkle_root == [0; 32] {
            continue;
        }
        if !signed {
            info!(%kind, report = number, "stored but not signed by this member; offering it to the committee again");
        }
        let id = ReportId { kind, number };
        tx.send(own_report(store, id, stored.merkle_root, stored.report_hash)).await.ok();
    }
    Ok(())
}

/// Closes exits rounds as accounting passes their reference epochs, and hands each one with
/// something to exit to the committee driver.
pub(crate) async fn close_exits(
    closer: ExitsCloser,
    store: Arc<Store>,
    own: Option<(mpsc::Sender<OwnReport>, Arc<Timings>)>,
    poll: Duration,
    health: Arc<HealthReporter>,
) -> Result<(), NodeError> {
    if let Err(e) = closer.export_all() {
        warn!("cannot rewrite the exported exits rounds: {e}");
    }
    if let Some((tx, _)) = &own {
        offer_unsigned(&store, ReportKind::Exits, tx).await?;
    }
    let mut last_wait = None;
    loop {
        let (closed, waiting) = match closer.close_ready().await {
            Ok(r) => {
                health.set(EXITS, None);
                r
            }
            Err(e) => {
                health.set(EXITS, Some(format!("cannot close the next exits round: {e}")));
                tokio::time::sleep(poll).await;
                continue;
            }
        };
        for c in closed {
            let root = c.merkle_root.map(|r| hex::encode(&r)).unwrap_or_else(|| "none (nothing to exit)".into());
            info!(
                round = c.number,
                reference_epoch = c.reference_epoch,
                requested = c.requested,
                voluntary = c.voluntary,
                merkle_root = %root,
                report_hash = %hex::encode(&c.report_hash),
                "exits round closed"
            );
            if let Some(e) = &c.export_error {
                warn!(round = c.number, "exits round stored, but its files were not exported: {e}");
            }
            if let (Some(root), Some((tx, timings))) = (c.merkle_root, &own) {
                let id = ReportId { kind: ReportKind::Exits, number: c.number };
                timings.own_report(id);
                tx.send(OwnReport { id, merkle_root: root, report_hash: c.report_hash, sections: None }).await.ok();
            }
        }
        if last_wait.as_ref() != Some(&waiting) {
            if let ExitsWaiting::Inputs { number, reason } = &waiting {
                warn!(round = number, "exits round waits: {reason}");
            }
            last_wait = Some(waiting);
        }
        tokio::time::sleep(poll).await;
    }
}

/// The health part that closing exits rounds reports as.
const EXITS: &str = "closing exits rounds";

/// Publishes accounting's status as the node's health, until accounting stops.
pub(crate) async fn watch_accounting(
    mut status: watch::Receiver<FollowerStatus>,
    health: Arc<HealthReporter>,
) -> Result<(), NodeError> {
    loop {
        let problem = match &*status.borrow_and_update() {
            FollowerStatus::Following => None,
            FollowerStatus::Retrying { error } => Some(format!("the beacon node keeps failing: {error}")),
        };
        health.set(ACCOUNTING, problem);
        if status.changed().await.is_err() {
            return Ok(());
        }
    }
}

/// The health part that accounting reports as.
const ACCOUNTING: &str = "accounting";

/// Sends the certificate when it is this member's turn; tells the driver what the chain accepted.
pub(crate) async fn submit_certificates(
    submitter: Box<dyn SubmitCertificate>,
    store: Arc<Store>,
    mut events: mpsc::Receiver<QuorumEvent>,
    settled: mpsc::Sender<ReportId>,
    timings: Arc<Timings>,
) -> Result<(), NodeError> {
    while let Some(event) = events.recv().await {
        let (certificate, attempt) = match event {
            QuorumEvent::Certificate(c) => {
                timings.certificate(c.id);
                continue;
            }
            QuorumEvent::Submit { certificate, attempt } => (certificate, attempt),
        };
        let id = certificate.id;
        match submitter.submit(&certificate).await {
            Ok(SubmitOutcome::Accepted { tx, block, gas_used, replacements }) => {
                info!(kind = %id.kind, report = id.number, attempt, %tx, block, gas_used, replacements, "report accepted on chain");
                timings.accepted(gas_used);
                settled.send(id).await.ok();
                publish_exits(submitter.as_ref(), &store, id).await;
            }
            Ok(SubmitOutcome::AlreadyAccepted { same_root, root, .. }) => {
                if same_root {
                    info!(kind = %id.kind, report = id.number, "already accepted on chain; nothing sent");
                    // The member that landed it may have stopped before publishing every exit.
                    publish_exits(submitter.as_ref(), &store, id).await;
                } else {
                    warn!(kind = %id.kind, report = id.number, chain_root = %root, "the chain accepted another root for this report");
                }
                settled.send(id).await.ok();
            }
            Ok(SubmitOutcome::Rejected { error, tx }) => {
                warn!(kind = %id.kind, report = id.number, ?tx, "the NodeManager refused the report: {error}");
            }
            Err(e) => {
                warn!(kind = %id.kind, report = id.number, "submission failed: {e}; the next member in the rotation takes over")
            }
        }
    }
    Ok(())
}

/// After exits report `id` is accepted: publishes each of its exits (`NodeManager.publishExit`),
/// so the registry records each deadline and emits its event. One that is already published (by
/// another member, or before a restart) is skipped; a failure is logged and the next exit tried.
async fn publish_exits(submitter: &dyn SubmitCertificate, store: &Store, id: ReportId) {
    if id.kind != ReportKind::Exits {
        return;
    }
    let report = match stored_exits(store, id.number) {
        Ok(Some(report)) => report,
        Ok(None) => {
            return warn!(
                round = id.number,
                "accepted exits round is not in the store; its exits are not published by this member"
            )
        }
        Err(e) => return warn!(round = id.number, "cannot read the accepted exits round: {e}"),
    };
    let tree = match claystack_exits::tree_of(&report.leaves) {
        Ok(Some(tree)) => tree,
        Ok(None) => return,
        Err(e) => return warn!(round = id.number, "cannot rebuild the exits tree: {e}"),
    };
    for (i, leaf) in report.leaves.iter().enumerate() {
        let proof = match tree.proof(i) {
            Ok(proof) => proof,
            Err(e) => return warn!(round = id.number, "no proof for exit {i}: {e}"),
        };
        let chain_leaf = ExitsLeaf {
            validator_index: leaf.validator,
            operator: claystack_execution::alloy::primitives::Address::from(leaf.operator.0),
            kind: leaf.kind.byte(),
            exit_by_epoch: leaf.exit_by_epoch,
        };
        match submitter.publish_exit(id.number, &chain_leaf, &proof).await {
            Ok(done) => info!(
                round = id.number,
                validator = leaf.validator,
                kind = ?leaf.kind,
                exit_by_epoch = leaf.exit_by_epoch,
                tx = %done.exit.tx,
                gas_used = done.gas_used,
                "exit published"
            ),
            Err(e) if e.to_string().contains("ExitAlreadyPublished") => {
                info!(round = id.number, validator = leaf.validator, "exit already published");
            }
            Err(e) => warn!(round = id.number, validator = leaf.validator, "cannot publish the exit: {e}"),
        }
    }
}

/// Without a submitter, a certificate is stored (by the driver) and logged.
pub(crate) async fn keep_certificates(
    mut events: mpsc::Receiver<QuorumEvent>,
    timings: Arc<Timings>,
) -> Result<(), NodeError> {
    while let Some(event) = events.recv().await {
        if let QuorumEvent::Certificate(c) = &event {
            timings.certificate(c.id);
        }
        if let QuorumEvent::Submit { certificate, attempt } = event {
            info!(kind = %certificate.id.kind, report = certificate.id.number, attempt, "no submitter key configured; the certificate stays stored");
        }
    }
    Ok(())
}

/// Reports accepted on chain by anyone settle here too, so members stop rebroadcasting; and
/// committee changes read from the NodeManager go to the driver.
pub(crate) async fn watch_chain(
    chain: Box<dyn AcceptedReports>,
    settled: mpsc::Sender<ReportId>,
    genesis: Arc<Roster>,
    schedules: watch::Sender<CommitteeSchedule>,
) -> Result<(), NodeError> {
    let mut known = [0u64; 2];
    loop {
        // Committee changes: a longer schedule goes to the driver.
        let held = schedules.borrow().latest().version + 1;
        match chain.committee_schedule(&genesis, held).await {
            Ok(Some(s)) => {
                schedules.send_if_modified(|held| {
                    let longer = s.latest().version > held.latest().version;
                    if longer {
                        *held = s;
                    }
                    longer
                });
            }
            Ok(None) => {}
            Err(e) => warn!("cannot read the committee versions from the NodeManager: {e}"),
        }
        for (i, kind) in [ReportKind::Rewards, ReportKind::Exits].into_iter().enumerate() {
            match chain.last_accepted(kind).await {
                Ok(last) => {
                    for number in (known[i] + 1).max(last.saturating_sub(4))..=last {
                        settled.send(ReportId { kind, number }).await.ok();
                    }
                    known[i] = known[i].max(last);
                }
                Err(e) => warn!("cannot read the NodeManager: {e}"),
            }
        }
        tokio::time::sleep(CHAIN_POLL).await;
    }
}
