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

use crate::closed::{Closed, ExitsClosed};
use crate::notification::{id, Kind, Notification, Part, Point, Severity};
use crate::running::RunningFrame;
use claystack_accounting::EpochTally;
use claystack_exits::ExitKind;
use claystack_primitives::{Epoch, ValidatorIndex};
use claystack_report::{frame_of, leaf_values, tree_of, AskedExit, ExitCompliance, ExitOutcome};
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
    /// The latest stored exits reports, ascending by number; only those numbered up to
    /// [`Inputs::accepted_exits`] raise notifications.
    pub exits_reports: &'a [ExitsClosed],
    /// The highest exits report number the NodeManager accepted (0: none, or not known).
    pub accepted_exits: u64,
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
    exits_published(inputs, &mut out);
    exit_compliance(inputs.reports, &mut out);
    for closed in inputs.reports {
        penalties_and_slashings(closed, &mut out);
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
                    PenaltyKind::NeverExit => "never_exit",
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

/// The first report (of those given) whose frame log shows `validator`'s exit confirmed, with
/// its exit epoch.
fn confirmed_in(reports: &[Closed], validator: ValidatorIndex) -> Option<(u64, Option<Epoch>)> {
    reports.iter().find_map(|closed| {
        let c = closed.log.exits.iter().find(|c| c.validator == validator && c.exited)?;
        Some((closed.number(), c.exit_epoch))
    })
}

/// One notification per node of `validator`'s cluster in the latest report (`operator` then
/// is the node's owner), or one for `operator` when no report knows the validator yet.
#[allow(clippy::too_many_arguments)]
fn per_node_or_operator(
    out: &mut Vec<Notification>,
    latest: Option<&Closed>,
    kind: Kind,
    severity: Severity,
    operator: Address,
    validator: ValidatorIndex,
    event: &[Part],
    raised_at: Point,
    resolved_at: Option<Point>,
    message: &str,
) {
    let nodes: Vec<(Option<NodeId>, Address)> = match latest {
        Some(closed) if clusters(closed).contains_key(&validator) => {
            let owners = owners(&closed.report);
            clusters(closed)[&validator]
                .iter()
                .map(|&n| (Some(n), owners.get(&n).copied().unwrap_or(operator)))
                .collect()
        }
        _ => vec![(None, operator)],
    };
    for (node, owner) in nodes {
        let mut parts = vec![node.map_or(Part::Address(owner), Part::U64), Part::U64(validator)];
        parts.extend_from_slice(event);
        out.push(Notification {
            id: id(kind, &parts),
            kind,
            severity,
            operator: Some(owner),
            node,
            validator: Some(validator),
            raised_at,
            resolved_at,
            message: message.to_string(),
            amount_wei: None,
            proof: None,
        });
    }
}

/// Each exit an accepted exits report publishes: `exit_requested` (with its deadline) or
/// `exit_slot_assigned` (with its slot), raised at the report's reference epoch and resolved
/// when a rewards report's frame log shows the exit confirmed. An exit listed again by a
/// later report (the same leaf) is one notification, raised by the first.
fn exits_published(inputs: &Inputs<'_>, out: &mut Vec<Notification>) {
    let mut seen = std::collections::BTreeSet::new();
    for exits in inputs.exits_reports.iter().filter(|e| e.number() <= inputs.accepted_exits) {
        let n = exits.number();
        for leaf in &exits.report.leaves {
            if !seen.insert((leaf.validator, leaf.kind, leaf.exit_by_epoch)) {
                continue;
            }
            let (v, by) = (leaf.validator, leaf.exit_by_epoch);
            let (kind, severity, message) = match leaf.kind {
                ExitKind::Requested => (
                    Kind::ExitRequested,
                    Severity::Warning,
                    format!(
                        "exits report {n} asks validator {v} to exit by epoch {by}: sign and broadcast its voluntary \
                         exit so its exit epoch comes by then; each late epoch is charged, and past the grace the rest \
                         of the cap is taken from the bond. Keep its nodes running until the exit is confirmed"
                    ),
                ),
                ExitKind::Voluntary => (
                    Kind::ExitSlotAssigned,
                    Severity::Info,
                    format!(
                        "exits report {n} gives validator {v}'s voluntary exit the slot epoch {by}: sign and broadcast \
                         its exit so its exit epoch comes by then; keep its nodes running until the exit is confirmed"
                    ),
                ),
            };
            let resolved = confirmed_in(inputs.reports, v).map(|(r, e)| Point { epoch: e, report: Some(r) });
            per_node_or_operator(
                out,
                inputs.reports.last(),
                kind,
                severity,
                leaf.operator,
                v,
                &[Part::U64(by)],
                Point::epoch(exits.report.reference_epoch),
                resolved,
                &message,
            );
        }
    }
}

/// From the frame logs' compliance lists (requested and voluntary exits alike): an exit past
/// its exit-by epoch and not made is overdue from the first report that shows it until the
/// first that shows it confirmed; an exit made is confirmed at the first report that shows it.
/// Exits nobody asked for are the slashing and penalty notifications' business.
fn exit_compliance(reports: &[Closed], out: &mut Vec<Notification>) {
    let mut overdue: BTreeMap<ValidatorIndex, (u64, &Closed, &ExitCompliance)> = BTreeMap::new();
    let mut confirmed: BTreeMap<ValidatorIndex, (&Closed, &ExitCompliance)> = BTreeMap::new();
    for closed in reports {
        for c in closed.log.exits.iter().filter(|c| c.kind.is_some()) {
            let late = matches!(c.outcome, ExitOutcome::Late | ExitOutcome::Never);
            if late && !c.exited {
                overdue.entry(c.validator).or_insert((closed.number(), closed, c));
            }
            if c.exited {
                confirmed.entry(c.validator).or_insert((closed, c));
            }
        }
    }
    let what = |c: &ExitCompliance| match c.kind {
        Some(AskedExit::Requested) => "was asked to exit",
        _ => "has its voluntary exit slot",
    };
    for (&v, &(n, closed, c)) in &overdue {
        let by = c.exit_by_epoch.unwrap_or_default();
        let (severity, consequence) = match c.kind {
            Some(AskedExit::Requested) => (
                Severity::Critical,
                "exit it now: each late epoch is charged, and past the grace the rest of the cap is taken from the bond",
            ),
            _ => (Severity::Warning, "exit it now; a voluntary exit costs nothing, but the protocol counts on it"),
        };
        let message = format!("validator {v} {} by epoch {by} and has not exited; {consequence}", what(c));
        let resolved = confirmed.get(&v).map(|(r, c)| Point { epoch: c.exit_epoch, report: Some(r.number()) });
        per_node(
            out,
            closed,
            Kind::ExitOverdue,
            severity,
            v,
            &[Part::U64(by)],
            Point { epoch: Some(by), report: Some(n) },
            resolved,
            &message,
        );
    }
    for (&v, &(closed, c)) in &confirmed {
        let n = closed.number();
        let at = c.exit_epoch.unwrap_or_default();
        let (severity, message) = match (c.outcome, c.exit_by_epoch) {
            (ExitOutcome::Timely, Some(by)) => {
                (Severity::Info, format!("validator {v} exited at epoch {at}, by its exit-by epoch {by}"))
            }
            (ExitOutcome::Timely, None) => {
                (Severity::Info, format!("validator {v} exited at epoch {at}, as its operator asked"))
            }
            (ExitOutcome::Forced, _) => {
                (Severity::Warning, format!("validator {v} exited at epoch {at}, forced (slashed)"))
            }
            (_, by) => (
                Severity::Warning,
                format!("validator {v} exited at epoch {at}, after its exit-by epoch {}", by.unwrap_or_default()),
            ),
        };
        per_node(
            out,
            closed,
            Kind::ExitConfirmed,
            severity,
            v,
            &[Part::U64(c.exit_by_epoch.unwrap_or(u64::MAX))],
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
