//! The node's long-running tasks besides accounting and the driver. Each loops on
//! `tokio::time` and logs what an operator cares about; none decides anything.

use crate::seams::{AcceptedReports, SubmitCertificate};
use crate::NodeError;
use claystack_execution::SubmitOutcome;
use claystack_frame_close::{FrameCloser, Waiting};
use claystack_primitives::hex;
use claystack_primitives::{ReportId, ReportKind};
use claystack_quorum_driver::{OwnReport, QuorumEvent};
use claystack_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// How often the NodeManager is asked which reports it accepted.
pub(crate) const CHAIN_POLL: Duration = Duration::from_secs(2);

/// Closes reports as accounting passes their frames, and hands each to the committee driver.
pub(crate) async fn close_reports(
    closer: FrameCloser,
    store: Arc<Store>,
    own: Option<mpsc::Sender<OwnReport>>,
    poll: Duration,
) -> Result<(), NodeError> {
    // After a restart, the newest stored report is offered again: the collector signs it
    // if the crash came before its signature was stored, and does nothing otherwise.
    if let Some((number, stored)) = store.latest_report(ReportKind::Rewards).map_err(NodeError::LatestReport)? {
        // A crash between storing and exporting leaves the files one report behind.
        if let Err(e) = closer.export(number) {
            warn!(report = number, "cannot export the report's files: {e}");
        }
        if let Some(tx) = &own {
            let id = ReportId { kind: ReportKind::Rewards, number };
            tx.send(OwnReport { id, merkle_root: stored.merkle_root, report_hash: stored.report_hash }).await.ok();
        }
    }
    let mut last_wait = None;
    loop {
        let (closed, waiting) = match closer.close_ready().await {
            Ok(r) => r,
            Err(e) => {
                warn!("cannot close the next report: {e}");
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
            if let Some(tx) = &own {
                let id = ReportId { kind: ReportKind::Rewards, number: c.number };
                tx.send(OwnReport { id, merkle_root: c.merkle_root, report_hash: c.report_hash }).await.ok();
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

/// Sends the certificate when it is this member's turn; tells the driver what the chain accepted.
pub(crate) async fn submit_certificates(
    submitter: Box<dyn SubmitCertificate>,
    mut events: mpsc::Receiver<QuorumEvent>,
    settled: mpsc::Sender<ReportId>,
) -> Result<(), NodeError> {
    while let Some(event) = events.recv().await {
        let QuorumEvent::Submit { certificate, attempt } = event else { continue };
        let id = certificate.id;
        match submitter.submit(&certificate).await {
            Ok(SubmitOutcome::Accepted { tx, block, gas_used, replacements }) => {
                info!(kind = %id.kind, report = id.number, attempt, %tx, block, gas_used, replacements, "report accepted on chain");
                settled.send(id).await.ok();
            }
            Ok(SubmitOutcome::AlreadyAccepted { same_root, root, .. }) => {
                if same_root {
                    info!(kind = %id.kind, report = id.number, "already accepted on chain; nothing sent");
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

/// Without a submitter, a certificate is stored (by the driver) and logged.
pub(crate) async fn keep_certificates(mut events: mpsc::Receiver<QuorumEvent>) -> Result<(), NodeError> {
    while let Some(event) = events.recv().await {
        if let QuorumEvent::Submit { certificate, attempt } = event {
            info!(kind = %certificate.id.kind, report = certificate.id.number, attempt, "no submitter key configured; the certificate stays stored");
        }
    }
    Ok(())
}

/// Reports accepted on chain by anyone settle here too, so members stop rebroadcasting.
pub(crate) async fn watch_chain(
    chain: Box<dyn AcceptedReports>,
    settled: mpsc::Sender<ReportId>,
) -> Result<(), NodeError> {
    let mut known = 0;
    loop {
        match chain.last_accepted(ReportKind::Rewards).await {
            Ok(last) => {
                for number in (known + 1).max(last.saturating_sub(4))..=last {
                    settled.send(ReportId { kind: ReportKind::Rewards, number }).await.ok();
                }
                known = known.max(last);
            }
            Err(e) => warn!("cannot read the NodeManager: {e}"),
        }
        tokio::time::sleep(CHAIN_POLL).await;
    }
}
