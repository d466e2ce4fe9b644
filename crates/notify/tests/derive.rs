//! The notification rules and the running frame on a small registry: three operators, a
//! direct node each for operators 1 and 3 (node 1 and node 7), an SSV cluster of five nodes
//! (2..6) shared by operators 2 and 3; four-epoch frames.

use claystack_accounting::{EpochTally, Tally};
use claystack_notify::running::RunningSpan;
use claystack_notify::{notifications, running_frame, tally_window, Closed, Inputs, Kind, Params, Severity};
use claystack_primitives::hex;
use claystack_report::{build, frame_of, report_bytes, AskedExit, ExitCompliance, ExitOutcome, ExternalInputs};
use claystack_rewards::{Address, Economics, Slashing};

const FRAMES: &str = include_str!("../../frame-close/tests/data/frames.json");

fn economics() -> Economics {
    Economics { frame_epochs: 4, ..Economics::mainnet_default() }
}

/// Every registry validator attests in every epoch of `from..=to`, except `offline` (nothing
/// included in those epochs) and `half` (every second epoch missed).
fn epochs(from: u64, to: u64, offline: &[(u64, u64, u64)], half: &[u64]) -> Vec<EpochTally> {
    let validators = [0u64, 1, 2, 3, 9, 10, 11, 12, 13, 14];
    (from..=to)
        .map(|epoch| EpochTally {
            epoch,
            tallies: validators
                .iter()
                .map(|&v| {
                    let off = offline.iter().any(|&(w, a, b)| w == v && (a..=b).contains(&epoch))
                        || (half.contains(&v) && epoch % 2 == 0);
                    let included = u32::from(!off);
                    Tally { validator: v, duties: 1, included, timely: included }
                })
                .collect(),
        })
        .collect()
}

fn sum(epochs: &[EpochTally]) -> Vec<Tally> {
    let mut out: std::collections::BTreeMap<u64, Tally> = Default::default();
    for e in epochs {
        for t in &e.tallies {
            out.entry(t.validator).and_modify(|s| s.add(t)).or_insert(*t);
        }
    }
    out.into_values().collect()
}

/// Report `number` built and stored as a node stores it, then parsed back.
fn closed(number: u64, inputs: ExternalInputs, tallies: &[EpochTally], previous: Option<&Closed>) -> Closed {
    let mut inputs = inputs;
    inputs.previous = previous.map(|p| p.report.carry());
    let frame = frame_of(&economics(), 0, number).unwrap();
    let window: Vec<EpochTally> = tallies.iter().filter(|e| (frame.0..=frame.1).contains(&e.epoch)).cloned().collect();
    let built = build(&economics(), inputs, number, frame, sum(&window)).unwrap();
    Closed::parse(number, &report_bytes(&built.report), &built.log).unwrap()
}

fn file() -> ExternalInputs {
    let mut f: ExternalInputs = serde_json::from_str(FRAMES).unwrap();
    f.facts = Default::default();
    f
}

fn list(reports: &[Closed], tallies: &[EpochTally], accepted: u64) -> Vec<claystack_notify::Notification> {
    notifications(
        &Params::default(),
        &Inputs { reports, tallies, running: None, accepted, bonds: &[], exits_reports: &[], accepted_exits: 0 },
    )
}

#[test]
fn an_offline_validator_is_raised_per_node_and_resolved_when_it_attests_again() {
    // Validator 3 (node 1, operator 0x11..) misses epochs 1..=3 and is back at 4;
    // validator 12 (the SSV cluster) misses 5..=7 and is still out.
    let tallies = epochs(0, 7, &[(3, 1, 3), (12, 5, 7)], &[]);
    let r1 = closed(1, file(), &tallies, None);
    let window = tally_window(&economics(), 0, Some(1), 8).unwrap();
    assert_eq!(window, (0, 7));
    let all = list(std::slice::from_ref(&r1), &tallies, 0);
    let offline: Vec<_> = all.iter().filter(|n| n.kind == Kind::ValidatorOffline).collect();
    let v3: Vec<_> = offline.iter().filter(|n| n.validator == Some(3)).collect();
    assert_eq!(v3.len(), 1);
    assert_eq!(
        (v3[0].node, v3[0].raised_at.epoch, v3[0].resolved_at.and_then(|p| p.epoch)),
        (Some(1), Some(1), Some(4))
    );
    assert_eq!(v3[0].operator, Some(Address([0x11; 20])));
    let v12: Vec<_> = offline.iter().filter(|n| n.validator == Some(12)).collect();
    assert_eq!(v12.iter().map(|n| n.node.unwrap()).collect::<Vec<_>>().len(), 5, "one per cluster node");
    assert!(v12.iter().all(|n| n.resolved_at.is_none() && n.raised_at.epoch == Some(5)));
    // Two misses in a row are not offline.
    let short = epochs(0, 7, &[(3, 1, 2)], &[]);
    assert!(!list(std::slice::from_ref(&r1), &short, 0).iter().any(|n| n.kind == Kind::ValidatorOffline));
}

#[test]
fn the_same_data_gives_the_same_bytes_whatever_the_order_it_came_in() {
    let tallies = epochs(0, 7, &[(3, 1, 3), (12, 5, 7)], &[]);
    let r1 = closed(1, file(), &tallies, None);
    let a = serde_json::to_vec(&list(std::slice::from_ref(&r1), &tallies, 1)).unwrap();
    let mut shuffled = tallies.clone();
    for e in &mut shuffled {
        e.tallies.reverse();
    }
    let b = serde_json::to_vec(&list(std::slice::from_ref(&r1), &shuffled, 1)).unwrap();
    assert_eq!(a, b);
    let ids: Vec<_> = list(std::slice::from_ref(&r1), &tallies, 1).into_iter().map(|n| n.id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted, "sorted by id, no id twice");
}

#[test]
fn claims_come_with_a_proof_of_the_reports_root() {
    let tallies = epochs(0, 3, &[], &[]);
    let r1 = closed(1, file(), &tallies, None);
    let tree = claystack_report::tree_of(&r1.report).unwrap();
    let claims: Vec<_> =
        list(std::slice::from_ref(&r1), &tallies, 0).into_iter().filter(|n| n.kind == Kind::RewardsClaimable).collect();
    assert_eq!(claims.len(), 3);
    for c in claims {
        let leaf = r1.report.operator_leaves().into_iter().find(|l| Some(Address(l.operator)) == c.operator).unwrap();
        assert_eq!(c.amount_wei, Some(leaf.cumulative_wei.to_string()));
        let proof: Vec<[u8; 32]> = c.proof.unwrap().iter().map(|h| hex::decode_fixed(h).unwrap()).collect();
        let hash = tree.leaf_encoding().leaf_hash(&claystack_report::leaf_values(&leaf)).unwrap();
        assert!(claystack_merkle::verify(&tree.root(), &hash, &proof));
    }
}

#[test]
fn penalties_slashings_and_accepted_reports_are_listed_from_the_reports() {
    let tallies = epochs(0, 7, &[], &[]);
    let mut f = file();
    f.facts.slashings = vec![Slashing { validator: 9, epoch: 2 }];
    let r1 = closed(1, f, &tallies, None);
    let r2 = closed(2, file(), &tallies, Some(&r1));
    let all = list(&[r1.clone(), r2.clone()], &tallies, 1);
    let slash: Vec<_> = all.iter().filter(|n| n.kind == Kind::Slashing).collect();
    assert_eq!(slash.len(), 1);
    assert_eq!((slash[0].node, slash[0].severity, slash[0].raised_at.report), (Some(7), Severity::Critical, Some(1)));
    let charged: Vec<_> =
        all.iter().filter(|n| n.kind == Kind::PenaltyApplied && n.validator == Some(9) && n.node == Some(7)).collect();
    assert!(!charged.is_empty(), "the slashing penalty of node 7 is listed");
    assert!(charged.iter().all(|n| n.amount_wei.as_deref().is_some_and(|a| a != "0")));
    let accepted: Vec<_> = all.iter().filter(|n| n.kind == Kind::ReportAccepted).map(|n| n.raised_at.report).collect();
    assert_eq!(accepted, vec![Some(1)], "only what the NodeManager accepted");
    // Claims: only from the latest report.
    assert!(all.iter().filter(|n| n.kind == Kind::RewardsClaimable).all(|n| n.raised_at.report == Some(2)));
}

#[test]
fn a_known_bond_below_the_requirement_is_raised_with_the_shortfall() {
    let tallies = epochs(0, 3, &[], &[]);
    let r1 = closed(1, file(), &tallies, None);
    let op = r1.report.operators[0].clone();
    let bonds = [(op.address, op.bond_requirement_wei - 1)];
    let all = notifications(
        &Params::default(),
        &Inputs {
            reports: std::slice::from_ref(&r1),
            tallies: &tallies,
            running: None,
            accepted: 0,
            bonds: &bonds,
            exits_reports: &[],
            accepted_exits: 0,
        },
    );
    let short: Vec<_> = all.iter().filter(|n| n.kind == Kind::BondBelowRequirement).collect();
    assert_eq!(short.len(), 1);
    assert_eq!((short[0].operator, short[0].amount_wei.as_deref()), (Some(op.address), Some("1")));
    let enough = [(op.address, op.bond_requirement_wei)];
    let all = notifications(
        &Params::default(),
        &Inputs {
            reports: std::slice::from_ref(&r1),
            tallies: &tallies,
            running: None,
            accepted: 0,
            bonds: &enough,
            exits_reports: &[],
            accepted_exits: 0,
        },
    );
    assert!(!all.iter().any(|n| n.kind == Kind::BondBelowRequirement));
}

#[test]
fn the_running_frame_projects_penalties_with_the_reports_engine() {
    // Report 1 closed over epochs 0..=3; accounting is at epoch 6 (6 is not accounted yet):
    // epochs 4 and 5 of report 2's frame. Validator 0 misses every second epoch: node 1 at 50%.
    let tallies = epochs(0, 5, &[], &[0]);
    let r1 = closed(1, file(), &tallies, None);
    let span = RunningSpan::of(&economics(), 0, 1, 6);
    assert_eq!((span.number, span.frame, span.accounted), (2, (4, 7), Some((4, 5))));
    let so_far: Vec<EpochTally> = tallies.iter().filter(|e| e.epoch >= 4).cloned().collect();
    let running = running_frame(&economics(), span, &r1, sum(&so_far)).unwrap();
    assert_eq!(running.accounted_epochs, 2);
    assert_eq!(running.projected_consensus_rewards_wei, r1.log.t.consensus_rewards_wei / 2, "half the frame");
    let node1 = running.projection.operators.iter().flat_map(|o| &o.nodes).find(|n| n.id == 1).unwrap();
    // Validators 0..=3 on node 1: 8 duties, 7 included.
    assert_eq!((node1.duties, node1.included, node1.rate_bps), (8, 7, 8750));
    let all = notifications(
        &Params::default(),
        &Inputs {
            reports: std::slice::from_ref(&r1),
            tallies: &tallies,
            running: Some(&running),
            accepted: 0,
            bonds: &[],
            exits_reports: &[],
            accepted_exits: 0,
        },
    );
    let warned: Vec<_> = all.iter().filter(|n| n.kind == Kind::PerformanceBelowBand).collect();
    assert_eq!(warned.iter().map(|n| n.node).collect::<Vec<_>>(), vec![Some(1)]);
    let penalty = node1.penalties.iter().find(|p| p.kind == claystack_rewards::PenaltyKind::Performance).unwrap();
    assert_eq!(warned[0].amount_wei, Some(penalty.amount_wei.to_string()));
    assert_eq!(penalty.amount_wei, node1.base_wei, "below 90%: the whole base is forfeited");
    // The whole frame accounted with the latest frame's money: the projection is the report
    // the engine gives for those inputs, byte for byte.
    let full = RunningSpan::of(&economics(), 0, 1, 8);
    let all_epochs = epochs(4, 7, &[], &[0]);
    let projected = running_frame(&economics(), full, &r1, sum(&all_epochs)).unwrap();
    let mut inputs = file();
    inputs.source.validator_rewards_wei = r1.log.t.consensus_rewards_wei;
    inputs.source.execution_fees_wei = r1.log.t.execution_fees_wei;
    inputs.previous = Some(r1.report.carry());
    let direct = build(&economics(), inputs, 2, (4, 7), sum(&all_epochs)).unwrap();
    assert_eq!(report_bytes(&projected.projection), report_bytes(&direct.report));
}

#[test]
fn a_slashed_validator_is_raised_at_the_first_report_that_sees_it_not_when_it_is_charged() {
    let tallies = epochs(0, 11, &[], &[]);
    // Report 1 sees validator 9 slashed (not final: no slashing fact, nothing charged) ...
    let mut f = file();
    f.slashed = vec![9];
    let r1 = closed(1, f.clone(), &tallies, None);
    // ... report 2 still sees it; report 3 is where it is final and charged.
    let r2 = closed(2, f.clone(), &tallies, Some(&r1));
    f.facts.slashings = vec![Slashing { validator: 9, epoch: 10 }];
    let r3 = closed(3, f, &tallies, Some(&r2));
    let only_1 = list(std::slice::from_ref(&r1), &tallies, 0);
    let seen: Vec<_> = only_1.iter().filter(|n| n.kind == Kind::Slashing).collect();
    assert_eq!(seen.len(), 1, "{only_1:?}");
    assert_eq!((seen[0].node, seen[0].validator, seen[0].severity), (Some(7), Some(9), Severity::Critical));
    assert_eq!(seen[0].raised_at.report, Some(1));
    assert!(!only_1.iter().any(|n| n.kind == Kind::PenaltyApplied && n.validator == Some(9)), "nothing charged yet");
    // Three reports: raised once (at report 1, the same id), and the charge at report 3.
    let all = list(&[r1, r2, r3], &tallies, 0);
    let slash: Vec<_> = all.iter().filter(|n| n.kind == Kind::Slashing).collect();
    assert_eq!(slash.len(), 2, "seen once, and final once: {slash:?}");
    assert!(slash.iter().any(|n| n.id == seen[0].id && n.raised_at.report == Some(1)));
    assert!(slash.iter().any(|n| n.raised_at.report == Some(3) && n.id != seen[0].id));
}

const ETH: u128 = 1_000_000_000_000_000_000;

/// Exits report 1 at reference epoch 3 as the lead's closer stores it (`ExitsReport::bytes()`),
/// parsed back: demand for 64 ETH, validator 10's voluntary request served (slot 3 + 2 = 5)
/// and one requested exit, validator 0 (the only other active candidate), by 3 + 3 = 6.
fn exits_report_1() -> claystack_notify::ExitsClosed {
    use claystack_exits::{
        exits_report, Candidate, DemandRules, ExitRules, ExitsInputs, Liquidity, Status, Targets, VoluntaryRequest,
        VoluntaryRules,
    };
    let rules = ExitRules {
        demand: DemandRules { per_exit_wei: 32 * ETH, max_per_report: 10 },
        voluntary: VoluntaryRules { capacity_per_report: 2, exit_within_epochs: 2, fast_track_exit_within_epochs: 1 },
        targets: Targets::default(),
        requested_exit_within_epochs: 3,
        grace_epochs: 4,
    };
    let candidate = |validator, operator: u8| Candidate {
        validator,
        operator: Address([operator; 20]),
        node_type: "direct".into(),
        location: "eu".into(),
        score_bps: 5000,
        status: Status::Active,
        balance_gwei: 32_000_000_000,
    };
    let inputs = ExitsInputs {
        number: 1,
        reference_epoch: 3,
        liquidity: Liquidity { unmet_demand_wei: 64 * ETH, buffer_wei: 0 },
        candidates: vec![candidate(0, 0x11), candidate(10, 0x33)],
        voluntary_requests: vec![VoluntaryRequest {
            validator: 10,
            operator: Address([0x33; 20]),
            block: 7,
            log_index: 0,
            fast_track: false,
        }],
    };
    let report = exits_report(&rules, &inputs).unwrap();
    claystack_notify::ExitsClosed::parse(1, &report.bytes()).unwrap()
}

fn line(validator: u64, kind: AskedExit, by: u64, outcome: ExitOutcome, exit: Option<u64>, r: u64) -> ExitCompliance {
    ExitCompliance {
        validator,
        kind: Some(kind),
        exit_by_epoch: Some(by),
        outcome,
        exit_epoch: exit,
        late_epochs: 0,
        slashed: false,
        exited: exit.is_some_and(|e| r >= e),
    }
}

#[test]
fn exits_are_raised_from_accepted_exits_reports_and_the_frame_logs_compliance() {
    let exits = [exits_report_1()];
    let leaves: Vec<_> = exits[0].report.leaves.iter().map(|l| (l.validator, l.exit_by_epoch)).collect();
    assert_eq!(leaves, vec![(0, 6), (10, 5)]);
    let tallies = epochs(0, 11, &[], &[]);
    // Report 1 (epochs 0..=3): nothing due. Report 2 (4..=7): 0 is late and not out, 10 exited
    // at 5 by its slot, 11's voluntary slot 6 passed without an exit. Report 3 (8..=11): 0
    // exited at 9, 11 at 10.
    use AskedExit::{Requested, Voluntary};
    use ExitOutcome::{Late, Pending, Timely};
    let mut f = file();
    f.exits = vec![line(0, Requested, 6, Pending, None, 3), line(10, Voluntary, 5, Timely, Some(5), 3)];
    let r1 = closed(1, f.clone(), &tallies, None);
    f.exits = vec![
        line(0, Requested, 6, Late, None, 7),
        line(10, Voluntary, 5, Timely, Some(5), 7),
        line(11, Voluntary, 6, Late, None, 7),
    ];
    let r2 = closed(2, f.clone(), &tallies, Some(&r1));
    f.exits = vec![
        line(0, Requested, 6, Late, Some(9), 11),
        line(10, Voluntary, 5, Timely, Some(5), 11),
        line(11, Voluntary, 6, Late, Some(10), 11),
    ];
    let r3 = closed(3, f, &tallies, Some(&r2));
    let at = |reports: &[Closed], accepted_exits| {
        notifications(
            &Params::default(),
            &Inputs {
                reports,
                tallies: &tallies,
                running: None,
                accepted: 0,
                bonds: &[],
                exits_reports: &exits,
                accepted_exits,
            },
        )
    };
    let of = |all: &[claystack_notify::Notification], kind| -> Vec<_> {
        all.iter()
            .filter(|n| n.kind == kind)
            .map(|n| (n.validator.unwrap(), n.node, n.operator, n.severity, n.raised_at, n.resolved_at))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let point = |epoch, report| claystack_notify::Point { epoch, report };
    let one = Some(Address([0x11; 20]));
    let three = Some(Address([0x33; 20]));

    // Not accepted yet: the exits report raises nothing.
    let before = at(std::slice::from_ref(&r1), 0);
    assert!(of(&before, Kind::ExitRequested).is_empty() && of(&before, Kind::ExitSlotAssigned).is_empty());

    // Accepted, report 1 only: requested (deadline 6) and slot (5), open, per node of the cluster.
    let first = at(std::slice::from_ref(&r1), 1);
    assert_eq!(of(&first, Kind::ExitRequested), vec![(0, Some(1), one, Severity::Warning, point(Some(3), None), None)]);
    assert_eq!(
        of(&first, Kind::ExitSlotAssigned),
        vec![(10, Some(7), three, Severity::Info, point(Some(3), None), None)]
    );
    assert!(first.iter().any(|n| n.kind == Kind::ExitRequested && n.message.contains("by epoch 6")), "{first:?}");
    assert!(of(&first, Kind::ExitOverdue).is_empty());

    // Reports 1 and 2: 0 and 11 overdue (voluntary only a warning), 10 confirmed, its slot resolved.
    let second = at(&[r1.clone(), r2.clone()], 1);
    assert_eq!(
        of(&second, Kind::ExitOverdue),
        vec![
            (0, Some(1), one, Severity::Critical, point(Some(6), Some(2)), None),
            (11, Some(7), three, Severity::Warning, point(Some(6), Some(2)), None),
        ]
    );
    assert_eq!(
        of(&second, Kind::ExitConfirmed),
        vec![(10, Some(7), three, Severity::Info, point(Some(5), Some(2)), None)]
    );
    assert_eq!(
        of(&second, Kind::ExitSlotAssigned),
        vec![(10, Some(7), three, Severity::Info, point(Some(3), None), Some(point(Some(5), Some(2))))]
    );

    // All three: the overdue exits resolved where report 3 shows them out; same ids as before.
    let third = at(&[r1, r2, r3], 1);
    let overdue = of(&third, Kind::ExitOverdue);
    assert_eq!(
        overdue.iter().map(|o| o.5).collect::<Vec<_>>(),
        vec![Some(point(Some(9), Some(3))), Some(point(Some(10), Some(3)))]
    );
    let ids = |all: &[claystack_notify::Notification], kind| -> Vec<String> {
        all.iter()
            .filter(|n| n.kind == kind)
            .map(|n| n.id.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    assert_eq!(ids(&third, Kind::ExitOverdue), ids(&second, Kind::ExitOverdue), "one notification per exit");
    assert_eq!(
        of(&third, Kind::ExitConfirmed).iter().map(|c| (c.0, c.3)).collect::<Vec<_>>(),
        vec![(0, Severity::Warning), (10, Severity::Info), (11, Severity::Warning)]
    );
    assert_eq!(of(&third, Kind::ExitRequested)[0].5, Some(point(Some(9), Some(3))));
}

#[test]
fn a_stored_exits_report_under_another_number_or_not_an_exits_report_is_refused() {
    let bytes = exits_report_1().report.bytes();
    let err = claystack_notify::ExitsClosed::parse(2, &bytes).unwrap_err().to_string();
    assert_eq!(err, "stored exits report 2: its report.json is report 1");
    let err = claystack_notify::ExitsClosed::parse(1, b"{}").unwrap_err().to_string();
    assert!(err.starts_with("stored exits report 1: report.json does not parse"), "{err}");
}
