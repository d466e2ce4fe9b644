//! The notification rules and the running frame on a small registry: three operators, a
//! direct node each for operators 1 and 3 (node 1 and node 7), an SSV cluster of five nodes
//! (2..6) shared by operators 2 and 3; four-epoch frames.

use claystack_accounting::{EpochTally, Tally};
use claystack_notify::running::RunningSpan;
use claystack_notify::{notifications, running_frame, tally_window, Closed, Inputs, Kind, Params, Severity};
use claystack_primitives::hex;
use claystack_report::{build, frame_of, report_bytes, ExternalInputs};
use claystack_rewards::{Address, Economics, RequestedExit, Slashing};

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
    notifications(&Params::default(), &Inputs { reports, tallies, running: None, accepted, bonds: &[] })
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
fn penalties_slashings_exits_and_accepted_reports_are_listed_from_the_reports() {
    let tallies = epochs(0, 7, &[], &[]);
    let mut f = file();
    f.facts.slashings = vec![Slashing { validator: 9, epoch: 2 }];
    f.facts.requested_exits = vec![
        RequestedExit { validator: 0, deadline_epoch: 2, exit_epoch: None },
        RequestedExit { validator: 1, deadline_epoch: 2, exit_epoch: Some(1) },
    ];
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
    let overdue: Vec<_> = all.iter().filter(|n| n.kind == Kind::ExitOverdue).collect();
    assert_eq!(overdue.iter().map(|n| n.validator).collect::<Vec<_>>(), vec![Some(0)]);
    assert!(all.iter().any(|n| n.kind == Kind::ExitConfirmed && n.validator == Some(1)));
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
        &Inputs { reports: std::slice::from_ref(&r1), tallies: &tallies, running: None, accepted: 0, bonds: &bonds },
    );
    let short: Vec<_> = all.iter().filter(|n| n.kind == Kind::BondBelowRequirement).collect();
    assert_eq!(short.len(), 1);
    assert_eq!((short[0].operator, short[0].amount_wei.as_deref()), (Some(op.address), Some("1")));
    let enough = [(op.address, op.bond_requirement_wei)];
    let all = notifications(
        &Params::default(),
        &Inputs { reports: std::slice::from_ref(&r1), tallies: &tallies, running: None, accepted: 0, bonds: &enough },
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
