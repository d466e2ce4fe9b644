//! The worked example of docs/rewards.md, number for number.
//!
//! Inputs: `tests/fixtures/worked_example.json`. Every expected value below is
//! worked by hand in the doc; if one changes here, it changes there.

use claystack_rewards::{compute_report, AdjustmentKind, Economics, FrameInputs, PenaltyKind, RewardsReport};
use serde::Deserialize;

const ETH: u128 = 1_000_000_000_000_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    economics: Economics,
    inputs: FrameInputs,
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("fixtures/worked_example.json")).expect("fixture parses")
}

fn report() -> RewardsReport {
    let f = fixture();
    compute_report(&f.economics, &f.inputs).expect("worked example computes")
}

#[test]
fn totals() {
    let t = report().totals;
    assert_eq!(t.t_wei, 3_600_007);
    assert_eq!(t.weighted_attestations, 360_000);
    assert_eq!(t.bases_wei, 3_600_003);
    assert_eq!(t.undistributed_wei, 4);
    assert_eq!(t.penalties_wei, 2_330_003);
    assert_eq!(t.positive_adjustments_wei, 170_000);
    assert_eq!(t.negative_adjustments_wei, 0);
    assert_eq!(t.paid_wei, 1_588_000);
    assert_eq!(t.retained_wei, 2_182_003);
    assert_eq!(t.bond_penalties_wei, 148_000);
    // paid + undistributed + retained = T + positive adjustments
    assert_eq!(t.paid_wei + t.undistributed_wei + t.retained_wei, t.t_wei + t.positive_adjustments_wei);
}

/// (id, E, N, rate, F*N, base, sum of penalties, sum of adjustments, R)
type NodeRow = (u64, u64, u64, u32, u128, u128, u128, i128, i128);

#[test]
fn nodes() {
    let r = report();
    let nodes: Vec<_> = r.operators.iter().flat_map(|o| &o.nodes).collect();
    let expected: [NodeRow; 7] = [
        (1, 16, 16, 10_000, 32_000, 320_000, 0, 32_000, 352_000),
        (2, 16, 16, 10_000, 32_000, 320_000, 0, 32_000, 352_000),
        (3, 16, 16, 10_000, 32_000, 320_000, 0, 32_000, 352_000),
        (4, 16, 16, 10_000, 32_000, 320_000, 0, 32_000, 352_000),
        (6, 17, 16, 9_411, 40_000, 400_000, 230_000, 10_000, 180_000),
        (5, 16, 16, 10_000, 32_000, 320_000, 0, 32_000, 352_000),
        (7, 20, 16, 8_000, 160_000, 1_600_003, 2_100_003, 0, -500_000),
    ];
    assert_eq!(nodes.len(), expected.len());
    for (n, &(id, e, big_n, rate, w, base, p, o, reward)) in nodes.iter().zip(&expected) {
        let got_p: u128 = n.penalties.iter().map(|p| p.amount_wei).sum();
        let got_o: i128 = n.adjustments.iter().map(|a| a.amount_wei).sum();
        assert_eq!(
            (n.id, n.duties, n.included, n.rate_bps, n.weight, n.base_wei, got_p, got_o, n.reward_wei),
            (id, e, big_n, rate, w, base, p, o, reward),
            "node {}",
            n.id
        );
    }
}

#[test]
fn penalty_and_adjustment_lines() {
    let r = report();
    let node = |id: u64| r.operators.iter().flat_map(|o| &o.nodes).find(|n| n.id == id).unwrap();
    let lines = |id: u64| node(id).penalties.iter().map(|p| (p.kind, p.validator, p.amount_wei)).collect::<Vec<_>>();
    assert_eq!(lines(6), vec![(PenaltyKind::Performance, None, 200_000), (PenaltyKind::LateExit, Some(201), 30_000)]);
    assert_eq!(
        lines(7),
        vec![(PenaltyKind::Performance, None, 1_600_003), (PenaltyKind::Slashing, Some(301), 500_000)]
    );
    for id in 1..=5 {
        assert!(lines(id).is_empty());
        let adj: Vec<_> = node(id).adjustments.iter().map(|a| (a.kind, a.amount_wei)).collect();
        assert_eq!(adj, vec![(AdjustmentKind::SsvPrice, 32_000)]);
    }
    let adj: Vec<_> = node(6).adjustments.iter().map(|a| (a.kind, a.amount_wei)).collect();
    assert_eq!(adj, vec![(AdjustmentKind::Explicit, 10_000)]);
}

#[test]
fn operators() {
    let r = report();
    // (address byte, R, epoch amount, bond penalty, retained, cumulative, cumulative bond penalty)
    let expected: [(u8, i128, u128, u128, u128, u128, u128); 3] = [
        (0xaa, 704_000, 704_000, 0, 0, 1_704_000, 0),
        (0xbb, 884_000, 884_000, 0, 230_000, 2_884_000, 0),
        (0xcc, -148_000, 0, 148_000, 1_952_003, 500_000, 148_000),
    ];
    assert_eq!(r.operators.len(), 3);
    for (o, &(a, rew, amount, bond_pen, retained, cum, cum_bond)) in r.operators.iter().zip(&expected) {
        assert_eq!(o.address.0, [a; 20]);
        assert_eq!(
            (o.rewards_wei, o.epoch_amount_wei, o.bond_penalty_wei, o.retained_wei, o.cumulative_wei),
            (rew, amount, bond_pen, retained, cum),
            "operator {}",
            o.address
        );
        assert_eq!(o.cumulative_bond_penalty_wei, cum_bond);
    }
    let claims: Vec<_> = r.operator_leaves().iter().map(|l| (l.operator, l.cumulative_wei)).collect();
    assert_eq!(claims, vec![([0xaa; 20], 1_704_000), ([0xbb; 20], 2_884_000), ([0xcc; 20], 500_000)]);
}

#[test]
fn scores_and_bonds() {
    let r = report();
    // (effectiveness, frames run, experience, frame, smoothed, timely, late, slashings, score, bond)
    let expected = [
        (Some(10_000), 21, 10_000, 10_000, 9_500, 1, 0, 0, 9_600, ETH),
        (Some(9_795), 6, 6_000, 9_036, 8_018, 1, 1, 0, 7_618, 3 * ETH + ETH / 2),
        (Some(8_888), 10, 10_000, 9_110, 8_555, 1, 0, 1, 6_655, 5 * ETH),
    ];
    for (o, e) in r.operators.iter().zip(&expected) {
        let s = &o.score;
        assert_eq!(
            (
                s.effectiveness_bps,
                s.frames_run,
                s.experience_bps,
                s.frame_bps,
                s.smoothed_bps,
                s.timely_exits,
                s.late_exits,
                s.slashings,
                s.score_bps,
                o.bond_requirement_wei
            ),
            *e,
            "operator {}",
            o.address
        );
    }
}

#[test]
fn report_round_trips_through_json_and_carries() {
    let r = report();
    let json = serde_json::to_string_pretty(&r).unwrap();
    let back: RewardsReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    let carry = r.carry();
    assert_eq!((carry.number, carry.last_epoch), (5, 109));
    assert_eq!(carry.operators[2].cumulative_bond_penalty_wei, 148_000);
    assert_eq!(carry.operators[1].score_bps, 7_618);
}
