//! Every notification kind's rule: from stored data to the sorted list.
//!
//! # Design decisions
//!
//! - A notification about a validator is raised once per node of its cluster, so each
//!   operator (and each node) sees its own list; the id includes the node.
//! - Only data every node holds alike is read: closed reports and their frame logs, epoch
//!   tallies, the accounting cursor and what the execution chain says. Nothing a committee
//!   member alone has (its signatures, its submissions) reaches the list.
//! - Report-based kinds look at the reports the caller passes (the API passes the latest
//!   [`Params::history_reports`]); tally-based kinds at the epochs of [`tally_window`].
//!   When the window moves on (a report closes) old notifications leave the list.
//! - The list is sorted by id: canonical, and the same on every node.

use crate::closed::Closed;
use crate::notification::{id, Kind, Notification, Part, Point, Severity};
use crate::running::RunningFrame;
use claystack_accounting::EpochTally;
use claystack_primitives::{Epoch, ValidatorIndex};
use claystack_report::{frame_of, leaf_values, tree_of};
use claystack_rewards::{Address, Economics, NodeId, PenaltyKind, RewardsReport};
use std::collections::BTreeMap;

/// The rules' parameters. They are part of what makes two nodes' lists equal: change
/// them on every node at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// A validator is offline after this many epochs in a row with duties and none included.
    pub offline_epochs: u64,
    /// How many of the latest closed reports the report-based kinds look at.
    pub history_reports: u64,
}

impl Default for Params {
    fn default() -> Params {
        Params { offline_epochs: 3, history_reports: 4 }
    }
}

/// What the list is derived from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The latest closed reports, ascending by number (the latest last).
    pub reports: &'a [Closed],
    /// The epoch tallies of [`tally_window`], ascending by epoch.
    pub tallies: &'a [EpochTally],
    /// The running frame's projection, when there is one.
    pub running: Option<&'a RunningFrame>,
    /// The highest report number the NodeManager accepted (0: none, or not known).
    pub accepted: u64,
    /// Operators' bonds held, in wei, when known (from the execution chain).
    pub bonds: &'a [(Address, u128)],
}

/// The epochs the tally-based kinds look at: from the first epoch of the latest closed
/// report's frame to the last accounted epoch. `None` without a closed report (no registry
/// yet says whose validators are whose) or before accounting reaches the window.
pub fn tally_window(
    economics: &Economics,
    first_epoch: Epoch,
    latest: Option<u64>,
    next_epoch: Epoch,
) -> Option<(Epoch, Epoch)> {
    let start = frame_of(economics, first_epoch, latest?).ok()?.0;
    (next_epoch > start).then(|| (start, next_epoch - 1))
}

/// The notification list, sorted by id.
pub fn notifications(params: &Params, inputs: &Inputs<'_>) -> Vec<Notification> {
    let mut out = Vec::new();
    if let Some(latest) = inputs.reports.last() {
        offline(params, latest, inputs.tallies, &mut out);
        claimable(latest, &mut out);
        bonds(latest, inputs.bonds, &mut out);
    }
    slashed_seen(inputs.reports, &mut out);
    for closed in inputs.reports {
        penalties_and_slashings(closed, &mut out);
        exits(closed, &mut out);
        if closed.number() <= inputs.accepted {
            let n = closed.number();
            out.push(Notification {
                id: id(Kind::ReportAccepted, &[Part::U64(n)]),
                kind: Kind::ReportAccepted,
                severity: Severity::Info,
                operator: None,
                node: None,
                validator: None,
                raised_at: Point::report(n),
                resolved_at: None,
                message: format!("report {n} was accepted by the NodeManager; its claims can be made"),
                amount_wei: None,
                proof: None,
            });
        }
    }
    if let Some(running) = inputs.running {
        performance(running, &mut out);
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Node id -> operator address, from a report.
fn owners(report: &RewardsReport) -> BTreeMap<NodeId, Address> {
    report.operators.iter().flat_map(|o| o.nodes.iter().map(move |n| (n.id, o.address))).collect()
}

/// Validator -> its cluster's nodes, from a report's frame log.
fn clusters(closed: &Closed) -> BTreeMap<ValidatorIndex, &[NodeId]> {
    closed.log.validators.iter().map(|v| (v.index, v.nodes.as_slice())).collect()
}

/// One notification per node of `validator`'s cluster.
#[allow(clippy::too_many_arguments)]
fn per_node(
    out: &mut Vec<Notification>,
    closed: &Closed,
    kind: Kind,
    severity: Severity,
    validator: ValidatorIndex,
    event: &[Part],
    raised_at: Point,
    resolved_at: Option<Point>,
    message: &str,
) {
    let owners = owners(&closed.report);
    let clusters = clusters(closed);
    for &node in clusters.get(&validator).copied().unwrap_or_default() {
        let mut parts = vec![Part::U64(node), Part::U64(validator)];
        parts.extend_from_slice(event);
        out.push(Notification {
            id: id(kind, &parts),
            kind,
            severity,
            operator: owners.get(&node).copied(),
            node: Some(node),
            validator: Some(validator),
            raised_at,
            resolved_at,
            message: message.to_string(),
            amount_wei: None,
            proof: None,
        });
    }
}

/// Runs of at least `offline_epochs` epochs with duties and nothing included; a run ends
/// (resolved) at the first epoch with an included attestation. Epochs without a duty for the
/// validator neither extend nor end a run.
fn offline(params: &Params, latest: &Closed, tallies: &[EpochTally], out: &mut Vec<Notification>) {
    let k = params.offline_epochs.max(1);
    // validator -> (first epoch of the current run, epochs in it)
    let mut runs: BTreeMap<ValidatorIndex, (Epoch, u64)> = BTreeMap::new();
    let mut ended: Vec<(ValidatorIndex, Epoch, u64, Option<Epoch>)> = Vec::new();
    let registered: BTreeMap<ValidatorIndex, ()> = latest.log.validators.iter().map(|v| (v.index, ())).collect();
    for epoch in tallies {
        for t in epoch.tallies.iter().filter(|t| t.duties > 0 && registered.contains_key(&t.validator)) {
            if t.included == 0 {
                runs.entry(t.validator).and_modify(|r| r.1 += 1).or_insert((epoch.epoch, 1));
            } else if let Some((start, len)) = runs.remove(&t.validator) {
                if len >= k {
                    ended.push((t.validator, start, len, Some(epoch.epoch)));
                }
            }
        }
    }
    ended.extend(runs.into_iter().filter(|(_, (_, len))| *len >= k).map(|(v, (start, len))| (v, start, len, None)));
    for (validator, start, len, resolved) in ended {
        let message = match resolved {
            // No count of epochs here: the message must not change while the run goes on.
            None => format!(
                "validator {validator} has had no attestation included since epoch {start}; check that it runs and is \
                 connected"
            ),
            Some(e) => {
                format!("validator {validator} was offline from epoch {start} for {len} epochs; back at epoch {e}")
            }
        };
        per_node(
            out,
            latest,
            Kind::ValidatorOffline,
            Severity::Warning,
            validator,
            &[Part::U64(start)],
            Point::epoch(start),
            resolved.map(Point::epoch),
            &message,
        );
    }
}

/// Each operator with a positive cumulative claim in the latest report, with its proof.
fn claimable(latest: &Closed, out: &mut Vec<Notification>) {
    let Ok(tree) = tree_of(&latest.report) else { return };
    let n = latest.number();
    for leaf in latest.report.operator_leaves().iter().filter(|l| l.cumulative_wei > 0) {
        let Some(index) = tree.find(&leaf_values(leaf)) else { continue };
        let Ok(proof) = tree.proof(index) else { continue };
        let address = Address(leaf.operator);
        out.push(Notification {
            id: id(Kind::RewardsClaimable, &[Part::Address(address), Part::U64(n)]),
            kind: Kind::RewardsClaimable,
            severity: Severity::Info,
            operator: Some(address),
            node: None,
            validator: None,
            raised_at: Point::report(n),
            resolved_at: None,
            message: format!(
                "report {n}: cumulative rewards of {} wei are claimable with this proof (minus what was already claimed)",
                leaf.cumulative_wei
            ),
            amount_wei: Some(leaf.cumulative_wei.to_string()),
            proof: Some(proof.iter().map(|h| claystack_primitives::hex::encode(h)).collect()),
        });
    }
}

/// Operators whose known bond is below the latest report's requirement.
fn bonds(latest: &Closed, held: &[(Address, u128)], out: &mut Vec<Notification>) {
    let held: BTreeMap<Address, u128> = held.iter().copied().collect();
    let n = latest.number();
    for o in &latest.report.operators {
        let Some(&bond) = held.get(&o.address) else { continue };
        if bond >= o.bond_requirement_wei {
            continue;
        }
        let short = o.bond_requirement_wei - bond;
        out.push(Notification {
            id: id(Kind::BondBelowRequirement, &[Part::Address(o.address), Part::U64(n)]),
            kind: Kind::BondBelowRequirement,
            severity: Severity::Warning,
            operator: Some(o.address),
            node: None,
            validator: None,
            raised_at: Point::report(n),
            resolved_at: None,
            message: format!(
                "bond of {bond} wei is below report {n}'s requirement of {} wei; add {short} wei",
                o.bond_requirement_wei
            ),
            amount_wei: Some(short.to_string()),
            proof: None,
        });
    }
}

/// A validator the beacon chain shows slashed, raised at the first report (of those given)
/// whose frame log lists it: at once, weeks before its penalty is final and charged (the
/// `slashing` notification of [`penalties_and_slashings`], with the withdrawable epoch).
fn slashed_seen(reports: &[Closed], out: &mut Vec<Notification>) {
    let mut seen = std::collections::BTreeSet::new();
    for closed in reports {
        let n = closed.number();
        for &v in &closed.log.slashed {
            if !seen.insert(v) {
                continue;
            }
            let message = format!(
                "validator {v} is slashed (seen in the beacon state at report {n}'s reference slot); its penalty \
                 is charged once the beacon chain's outcome is final (withdrawable), and it leaves the chain"
            );
            per_node(
                out,
                closed,
                Kind::Slashing,
                Severity::Critical,
                v,
                &[Part::Text("seen")],
                Point::report(n),
                None,
                &message,
            );
        }
    }
}

/// Every penalty a report charged, and its slashings.
fn penalties_and_slashings(closed: &Closed, out: &mut Vec<Notification>) {
    let n = closed.number();
    for o in &closed.report.operators {
        for node in &o.nodes {
            for p in &node.penalties {
                let kind_name = match p.kind {
                    PenaltyKind::Performance => "performance",
                    PenaltyKind::Slashing => "slashing",
                    PenaltyKind::LateExit => "late_exit",
                    PenaltyKind::ForcedExit => "forced_exit",
                };
                let validator = p.validator.unwrap_or(u64::MAX);
                out.push(Notification {
                    id: id(
                        Kind::PenaltyApplied,
                        &[Part::U64(node.id), Part::Text(kind_name), Part::U64(validator), Part::U64(n)],
                    ),
                    kind: Kind::PenaltyApplied,
                    severity: Severity::Warning,
                    operator: Some(o.address),
                    node: Some(node.id),
                    validator: p.validator,
                    raised_at: Point::report(n),
                    resolved_at: None,
                    message: format!("report {n} charged node {} a {kind_name} penalty: {}", node.id, p.reason),
                    amount_wei: Some(p.amount_wei.to_string()),
                    proof: None,
                });
            }
        }
    }
    for s in &closed.log.facts.slashings {
        let message = format!(
            "validator {} was slashed; its outcome is final at epoch {} and report {n} charged it",
            s.validator, s.epoch
        );
        per_node(
            out,
            closed,
            Kind::Slashing,
            Severity::Critical,
            s.validator,
            &[Part::U64(s.epoch)],
            Point { epoch: Some(s.epoch), report: Some(n) },
            None,
            &message,
        );
    }
}

/// Requested exits a report saw: overdue (no exit by the deadline) or confirmed.
fn exits(closed: &Closed, out: &mut Vec<Notification>) {
    let n = closed.number();
    for e in &closed.log.facts.requested_exits {
        let (kind, severity, at, message) = match e.exit_epoch {
            Some(x) if x <= e.deadline_epoch => (
                Kind::ExitConfirmed,
                Severity::Info,
                x,
                format!("validator {} exited at epoch {x}, by its deadline {}", e.validator, e.deadline_epoch),
            ),
            Some(x) => (
                Kind::ExitConfirmed,
                Severity::Warning,
                x,
                format!("validator {} exited at epoch {x}, after its deadline {}", e.validator, e.deadline_epoch),
            ),
            None => (
                Kind::ExitOverdue,
                Severity::Critical,
                e.deadline_epoch,
                format!(
                    "validator {} was asked to exit by epoch {} and has not; exit it now, late epochs are penalized",
                    e.validator, e.deadline_epoch
                ),
            ),
        };
        per_node(
            out,
            closed,
            kind,
            severity,
            e.validator,
            &[Part::U64(e.deadline_epoch), Part::U64(n)],
            Point { epoch: Some(at), report: Some(n) },
            None,
            &message,
        );
    }
}

/// Nodes whose running-frame rate is in a penalized band, with the projected penalty.
fn performance(running: &RunningFrame, out: &mut Vec<Notification>) {
    let n = running.span.number;
    for o in &running.projection.operators {
        for node in &o.nodes {
            for p in node.penalties.iter().filter(|p| p.kind == PenaltyKind::Performance) {
                out.push(Notification {
                    id: id(Kind::PerformanceBelowBand, &[Part::U64(node.id), Part::U64(n)]),
                    kind: Kind::PerformanceBelowBand,
                    severity: Severity::Warning,
                    operator: Some(o.address),
                    node: Some(node.id),
                    validator: None,
                    raised_at: Point::report(n),
                    resolved_at: None,
                    message: format!(
                        "node {} attests at {} bps over the {} epochs of report {n}'s frame accounted so far; \
                         if the frame closed now: {}",
                        node.id, node.rate_bps, running.accounted_epochs, p.reason
                    ),
                    amount_wei: Some(p.amount_wei.to_string()),
                    proof: None,
                });
            }
        }
    }
}
