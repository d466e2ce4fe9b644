//! Each exit kind and outcome, from the simulated beacon chain's validator records through
//! the rewards report: the facts `frame_facts` gives, the compliance the frame log lists,
//! the penalty lines, the score and the bond penalty in the operator's leaf.
//!
//! Ten operators with one direct node and one validator each (operator `v` runs validator
//! `v`), all attesting fully, so every node has the same base and operator 10 (no exit) is
//! the baseline each other operator's score is compared with in the same report.

use claystack_beacon_sim::{BeaconModel, Scenario};
use claystack_exits::{classify_all, frame_facts, Compliance, ExitAsked, ExitKind, Outcome};
use claystack_primitives::{ValidatorInfo, FAR_FUTURE_EPOCH};
use claystack_rewards::{
    compute_report, Address, Economics, ExitEvent, Facts, FrameInputs, Node, Operator, OperatorReport, PenaltyKind,
    Registry, RequestedExit, RewardsReport, RewardsSource, Slashing, SsvPrice, Tally, Validator,
};

/// Minimal preset (8 slots an epoch). A validator that signs its exit at `epoch` gets exit
/// epoch `epoch + 5`; one slashed at `epoch` exits at `epoch + 5` too.
const SCENARIO: &str = r#"
seed = 17
preset = "minimal"
validators = 64
head_epoch = 60
[[exit]]
validator = 1
epoch = 10
[[exit]]
validator = 2
epoch = 20
[[exit]]
validator = 3
epoch = 30
[[slashing]]
validator = 5
epoch = 12
[[exit]]
validator = 6
epoch = 8
[[exit]]
validator = 7
epoch = 22
[[exit]]
validator = 9
epoch = 17
"#;

const PROTOCOL: [u64; 10] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const FRAME_EPOCHS: u64 = 10;
const GRACE: u64 = 10;
const DEADLINE: u64 = 20;
const BASE: u128 = 1_000_000;
const LATE_PER_EPOCH: u128 = 10_000;
const LATE_CAP: u128 = 150_000;
const FORCED_FIXED: u128 = 200_000;
const SLASHING_FIXED: u128 = 300_000;

/// Requested exits by epoch 20 for 1 to 5; a voluntary exit with slot 30 for 7; an open
/// voluntary request (no slot yet) for 9. Nobody asked 6 to exit.
fn asked() -> Vec<ExitAsked> {
    let requested = |validator| ExitAsked { validator, kind: ExitKind::Requested, exit_by_epoch: DEADLINE };
    vec![
        requested(1),
        requested(2),
        requested(3),
        requested(4),
        requested(5),
        ExitAsked { validator: 7, kind: ExitKind::Voluntary, exit_by_epoch: 30 },
        ExitAsked { validator: 9, kind: ExitKind::Voluntary, exit_by_epoch: FAR_FUTURE_EPOCH },
    ]
}

fn economics() -> Economics {
    let mut e = Economics::mainnet_default();
    e.frame_epochs = FRAME_EPOCHS;
    e.exits.late_per_epoch_wei = LATE_PER_EPOCH;
    e.exits.late_cap_wei = LATE_CAP;
    e.exits.forced_fixed_wei = FORCED_FIXED;
    e.exits.forced_base_bps = 0;
    e.slashing.fixed_wei = SLASHING_FIXED;
    e.slashing.base_bps = 0;
    e
}

/// The protocol validators' records at `epoch`'s last slot, as the validators endpoint serves them.
fn records(chain: &BeaconModel, epoch: u64) -> Vec<ValidatorInfo> {
    PROTOCOL
        .iter()
        .map(|&v| {
            let s = chain.validator_at(v, epoch * 8 + 7);
            ValidatorInfo {
                index: s.index,
                status: s.status.to_string(),
                pubkey: String::new(),
                balance_gwei: s.balance,
                effective_balance_gwei: s.effective_balance,
                slashed: s.slashed,
                activation_epoch: s.activation_epoch,
                exit_epoch: s.exit_epoch,
                withdrawable_epoch: s.withdrawable_epoch,
            }
        })
        .collect()
}

struct Closed {
    facts: Facts,
    compliance: Vec<Compliance>,
    report: RewardsReport,
}

/// Report `number` (frames of 10 epochs from epoch 0) from the simulator's records.
fn close(number: u64, grace: Option<u64>) -> Closed {
    let chain = BeaconModel::new(Scenario::from_toml(SCENARIO).unwrap()).unwrap();
    let frame = ((number - 1) * FRAME_EPOCHS, number * FRAME_EPOCHS - 1);
    let records = records(&chain, frame.1);
    let facts = frame_facts(frame, &asked(), &records, grace);
    let compliance = classify_all(&asked(), &records, frame.1, grace.unwrap_or(u64::MAX));
    let registry = Registry {
        operators: PROTOCOL.iter().map(|&v| Operator { id: v, address: Address([v as u8; 20]) }).collect(),
        nodes: PROTOCOL
            .iter()
            .map(|&v| Node { id: v, operator: v, node_type: "direct".into(), registered_epoch: 0 })
            .collect(),
        validators: PROTOCOL.iter().map(|&v| Validator { index: v, nodes: vec![v] }).collect(),
    };
    let d = FRAME_EPOCHS as u32;
    let input = FrameInputs {
        number,
        frame,
        registry,
        tallies: PROTOCOL.iter().map(|&v| Tally { validator: v, duties: d, included: d, timely: d }).collect(),
        facts: facts.clone(),
        // T = 10% of 10^8: 10^6 wei of base for each of the ten equal nodes.
        source: RewardsSource { validator_rewards_wei: 100_000_000, execution_fees_wei: 0 },
        ssv_price: SsvPrice { agreed_wei_per_ssv: 1, observed_wei_per_ssv: 1 },
        adjustments: Vec::new(),
        previous: None,
        frame_log_hash: None,
    };
    let report = compute_report(&economics(), &input).expect("the frame computes");
    Closed { facts, compliance, report }
}

fn operator(report: &RewardsReport, v: u64) -> &OperatorReport {
    report.operators.iter().find(|o| o.address == Address([v as u8; 20])).unwrap()
}

/// (kind, amount) of every penalty line of operator `v`'s node.
fn lines(report: &RewardsReport, v: u64) -> Vec<(PenaltyKind, u128)> {
    operator(report, v).nodes[0].penalties.iter().map(|p| (p.kind, p.amount_wei)).collect()
}

/// Operator `v`'s score minus the baseline operator 10's, in the same report.
fn score_effect(report: &RewardsReport, v: u64) -> i64 {
    i64::from(operator(report, v).score.score_bps) - i64::from(operator(report, 10).score.score_bps)
}

/// Operator `v`'s leaf: (cumulative claim, cumulative bond penalty).
fn leaf(report: &RewardsReport, v: u64) -> (u128, u128) {
    let l = report.operator_leaves().into_iter().find(|l| l.operator == [v as u8; 20]).unwrap();
    (l.cumulative_wei, l.cumulative_bond_penalty_wei)
}

fn outcome(c: &[Compliance], v: u64) -> Option<Outcome> {
    c.iter().find(|c| c.validator == v).map(|c| c.outcome)
}

fn requested(validator: u64, exit_epoch: Option<u64>) -> RequestedExit {
    RequestedExit { validator, deadline_epoch: DEADLINE, exit_epoch, grace_end_epoch: Some(DEADLINE + GRACE) }
}

#[test]
fn a_timely_requested_exit_raises_the_score_and_costs_nothing() {
    let s = economics().score;
    let r2 = close(2, Some(GRACE));
    assert!(r2.facts.requested_exits.contains(&requested(1, Some(15))));
    assert_eq!(outcome(&r2.compliance, 1), Some(Outcome::Timely { exit_epoch: 15 }));
    assert_eq!(lines(&r2.report, 1), vec![]);
    assert_eq!(score_effect(&r2.report, 1), i64::from(s.timely_exit_bonus_bps));
    assert_eq!(leaf(&r2.report, 1), (BASE, 0));
}

#[test]
fn a_late_requested_exit_pays_per_late_epoch_from_its_rewards_and_lowers_the_score() {
    let s = economics().score;
    let r3 = close(3, Some(GRACE));
    assert!(r3.facts.requested_exits.contains(&requested(2, Some(25))));
    assert_eq!(outcome(&r3.compliance, 2), Some(Outcome::Late { exit_epoch: Some(25), late_epochs: 5 }));
    assert_eq!(lines(&r3.report, 2), vec![(PenaltyKind::LateExit, 5 * LATE_PER_EPOCH)]);
    assert_eq!(score_effect(&r3.report, 2), -i64::from(s.late_exit_malus_bps));
    assert_eq!(leaf(&r3.report, 2), (BASE - 5 * LATE_PER_EPOCH, 0));
    // The next frame: it exited before it, nothing more to charge.
    let r4 = close(4, Some(GRACE));
    assert!(r4.facts.requested_exits.iter().all(|r| r.validator != 2));
    assert_eq!(lines(&r4.report, 2), vec![]);
}

#[test]
fn a_requested_exit_never_made_pays_the_rest_of_the_cap_from_the_bond_once() {
    let s = economics().score;
    // Frame 3 (epochs 20..=29): 3 and 4 have no exit epoch yet, late 9 epochs each.
    let r3 = close(3, Some(GRACE));
    for v in [3, 4] {
        assert!(r3.facts.requested_exits.contains(&requested(v, None)));
        assert_eq!(outcome(&r3.compliance, v), Some(Outcome::Late { exit_epoch: None, late_epochs: 9 }));
        assert_eq!(lines(&r3.report, v), vec![(PenaltyKind::LateExit, 9 * LATE_PER_EPOCH)]);
        assert_eq!(leaf(&r3.report, v), (BASE - 9 * LATE_PER_EPOCH, 0));
    }
    // Frame 4 (30..=39) holds epoch 31, the first past the grace: 3 signed at 30 (exit epoch
    // 35 > 30), 4 never signed. Each pays its late epoch up to the grace end (30) from its
    // rewards, and the rest of the cap, 150,000 - 100,000, from its bond.
    let r4 = close(4, Some(GRACE));
    assert!(r4.facts.requested_exits.contains(&requested(3, Some(35))));
    assert!(r4.facts.requested_exits.contains(&requested(4, None)));
    assert_eq!(outcome(&r4.compliance, 3), Some(Outcome::Never { exit_epoch: Some(35), late_epochs: 15 }));
    assert_eq!(outcome(&r4.compliance, 4), Some(Outcome::Never { exit_epoch: None, late_epochs: 19 }));
    let rest = LATE_CAP - 10 * LATE_PER_EPOCH;
    for v in [3, 4] {
        assert_eq!(lines(&r4.report, v), vec![(PenaltyKind::LateExit, LATE_PER_EPOCH), (PenaltyKind::NeverExit, rest)]);
        let o = operator(&r4.report, v);
        assert_eq!(
            (o.rewards_wei, o.bond_penalty_wei, o.retained_wei),
            ((BASE - LATE_PER_EPOCH) as i128, rest, LATE_PER_EPOCH)
        );
        assert_eq!(leaf(&r4.report, v), (BASE - LATE_PER_EPOCH, rest));
        assert_eq!(score_effect(&r4.report, v), -i64::from(s.late_exit_malus_bps));
    }
    assert_eq!(r4.report.totals.bond_penalties_wei, 2 * rest);
    // Frame 5: 3 exited before it; 4 is still open and late (score), but the cap is reached.
    let r5 = close(5, Some(GRACE));
    assert!(r5.facts.requested_exits.iter().all(|r| r.validator != 3));
    assert_eq!(lines(&r5.report, 4), vec![(PenaltyKind::LateExit, 0)]);
    assert_eq!(leaf(&r5.report, 4), (BASE, 0));
    assert_eq!(score_effect(&r5.report, 4), -i64::from(s.late_exit_malus_bps));
}

#[test]
fn without_a_grace_nothing_is_never_and_the_cap_is_charged_per_epoch() {
    let r4 = close(4, None);
    assert_eq!(outcome(&r4.compliance, 4), Some(Outcome::Late { exit_epoch: None, late_epochs: 19 }));
    assert_eq!(lines(&r4.report, 3), vec![(PenaltyKind::LateExit, 6 * LATE_PER_EPOCH)]);
    assert_eq!(lines(&r4.report, 4), vec![(PenaltyKind::LateExit, LATE_CAP - 9 * LATE_PER_EPOCH)]);
    assert_eq!(r4.report.totals.bond_penalties_wei, 0);
    assert!(r4.facts.requested_exits.iter().all(|r| r.grace_end_epoch.is_none()));
}

#[test]
fn forced_exits_by_slashing_or_without_a_request_are_charged_in_the_frame_of_their_exit_epoch() {
    let s = economics().score;
    let r2 = close(2, Some(GRACE));
    // 5 was asked to exit but slashed at 12 (exit epoch 17); 6 exited at 13 unasked.
    assert_eq!(
        r2.facts.forced_exits,
        vec![ExitEvent { validator: 5, epoch: 17 }, ExitEvent { validator: 6, epoch: 13 }]
    );
    assert_eq!(outcome(&r2.compliance, 5), Some(Outcome::Forced { exit_epoch: Some(17), slashed: true }));
    assert_eq!(outcome(&r2.compliance, 6), Some(Outcome::Forced { exit_epoch: Some(13), slashed: false }));
    assert!(r2.facts.requested_exits.iter().all(|r| r.validator != 5));
    for v in [5, 6] {
        assert_eq!(lines(&r2.report, v), vec![(PenaltyKind::ForcedExit, FORCED_FIXED)]);
        assert_eq!(score_effect(&r2.report, v), -i64::from(s.forced_exit_malus_bps));
        assert_eq!(leaf(&r2.report, v), (BASE - FORCED_FIXED, 0));
    }
    assert!(close(3, Some(GRACE)).facts.forced_exits.is_empty());
    // 5's slashing is charged once, in the frame of its withdrawable epoch.
    let chain = BeaconModel::new(Scenario::from_toml(SCENARIO).unwrap()).unwrap();
    let withdrawable = chain.validator_at(5, 8 * 60 + 7).withdrawable_epoch;
    let number = withdrawable / FRAME_EPOCHS + 1;
    let charged = close(number, Some(GRACE));
    assert_eq!(charged.facts.slashings, vec![Slashing { validator: 5, epoch: withdrawable }]);
    assert_eq!(lines(&charged.report, 5), vec![(PenaltyKind::Slashing, SLASHING_FIXED)]);
    assert_eq!(score_effect(&charged.report, 5), -i64::from(s.slashing_malus_bps));
    assert!(close(number - 1, Some(GRACE)).facts.slashings.is_empty());
}

#[test]
fn voluntary_exits_with_a_slot_or_still_open_are_voluntary_and_cost_nothing() {
    let r3 = close(3, Some(GRACE));
    // 7: slot 30, exit epoch 27. 9: no slot yet, exit epoch 22: voluntary, not forced.
    assert_eq!(
        r3.facts.voluntary_exits,
        vec![ExitEvent { validator: 7, epoch: 27 }, ExitEvent { validator: 9, epoch: 22 }]
    );
    assert!(r3.facts.forced_exits.is_empty());
    assert_eq!(outcome(&r3.compliance, 7), Some(Outcome::Timely { exit_epoch: 27 }));
    assert_eq!(outcome(&r3.compliance, 9), Some(Outcome::Timely { exit_epoch: 22 }));
    for v in [7, 9] {
        assert_eq!(lines(&r3.report, v), vec![]);
        assert_eq!(score_effect(&r3.report, v), 0);
        assert_eq!(leaf(&r3.report, v), (BASE, 0));
    }
}
