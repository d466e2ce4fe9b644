//! The never rule over a requested exit's whole life, for random deadlines, graces, exit
//! epochs, frame lengths and charges: frame after frame through `frame_facts` and the rewards
//! engine, the late and never lines add up to the capped late charge of a late exit, to the
//! cap exactly for an exit never made by the end of its grace, and the bond line comes once,
//! in the frame holding the epoch after the grace end.

use claystack_exits::{frame_facts, ExitAsked, ExitKind};
use claystack_primitives::{ValidatorInfo, FAR_FUTURE_EPOCH};
use claystack_rewards::{
    compute_report, Address, Economics, FrameInputs, Node, Operator, PenaltyKind, Registry, RewardsSource, SsvPrice,
    Tally, Validator,
};
use proptest::prelude::*;

/// The record at the end of a frame whose last epoch is `r`: the beacon chain assigns an exit
/// epoch `e` when the exit is processed, 5 epochs ahead (the spec's exit delay).
fn record(exit: Option<u64>, r: u64) -> ValidatorInfo {
    let exit_epoch = exit.filter(|&e| r + 5 >= e).unwrap_or(FAR_FUTURE_EPOCH);
    ValidatorInfo {
        index: 1,
        status: String::new(),
        pubkey: String::new(),
        balance_gwei: 32_000_000_000,
        effective_balance_gwei: 32_000_000_000,
        slashed: false,
        activation_epoch: 0,
        exit_epoch,
        withdrawable_epoch: FAR_FUTURE_EPOCH,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_requested_exit_pays_its_capped_charge_and_never_more_than_the_cap_with_the_bond_part_once(
        frame_epochs in 1u64..8,
        deadline in 0u64..40,
        grace in 0u64..30,
        exit_after in prop::option::of(0u64..80),
        per_epoch in 1u128..1_000,
        cap in 0u128..40_000,
        rewards in 0i128..10_000_000,
    ) {
        let exit = exit_after.map(|a| deadline.saturating_sub(3) + a);
        let mut economics = Economics::mainnet_default();
        economics.frame_epochs = frame_epochs;
        economics.exits.late_per_epoch_wei = per_epoch;
        economics.exits.late_cap_wei = cap;
        let asked = [ExitAsked { validator: 1, kind: ExitKind::Requested, exit_by_epoch: deadline }];
        let grace_end = deadline + grace;
        let never = exit.is_none_or(|e| e > grace_end);
        let last_epoch = exit.unwrap_or(0).max(grace_end) + 3 * frame_epochs + 10;
        let (mut late_total, mut never_total, mut never_frames) = (0u128, 0u128, Vec::new());
        for number in 1..=last_epoch / frame_epochs + 1 {
            let frame = ((number - 1) * frame_epochs, number * frame_epochs - 1);
            let facts = frame_facts(frame, &asked, &[record(exit, frame.1)], Some(grace));
            let input = FrameInputs {
                number,
                frame,
                registry: Registry {
                    operators: vec![Operator { id: 1, address: Address([1; 20]) }],
                    nodes: vec![Node { id: 1, operator: 1, node_type: "direct".into(), registered_epoch: 0 }],
                    validators: vec![Validator { index: 1, nodes: vec![1] }],
                },
                tallies: vec![Tally { validator: 1, duties: 1, included: 1, timely: 1 }],
                facts,
                source: RewardsSource { validator_rewards_wei: rewards, execution_fees_wei: 0 },
                ssv_price: SsvPrice { agreed_wei_per_ssv: 1, observed_wei_per_ssv: 1 },
                adjustments: Vec::new(),
                previous: None,
                frame_log_hash: None,
            };
            let report = compute_report(&economics, &input).unwrap();
            let o = &report.operators[0];
            let mut to_bond = 0;
            for p in &o.nodes[0].penalties {
                match p.kind {
                    PenaltyKind::LateExit => late_total += p.amount_wei,
                    PenaltyKind::NeverExit => {
                        never_total += p.amount_wei;
                        to_bond += p.amount_wei;
                        never_frames.push(frame);
                    }
                    other => prop_assert!(false, "unexpected {other:?} line"),
                }
            }
            // The bond line reaches the bond penalty whatever the frame's rewards.
            prop_assert!(o.bond_penalty_wei >= to_bond);
            prop_assert_eq!(o.bond_penalty_wei - to_bond, (-o.rewards_wei).max(0) as u128);
        }
        let late_epochs = exit.unwrap_or(u64::MAX).min(grace_end).saturating_sub(deadline) as u128;
        if never {
            prop_assert_eq!(never_frames.len(), 1);
            let (first, last) = never_frames[0];
            prop_assert!((first..=last).contains(&(grace_end + 1)));
            prop_assert_eq!(late_total, (late_epochs * per_epoch).min(cap));
            prop_assert_eq!(late_total + never_total, cap);
        } else {
            prop_assert!(never_frames.is_empty());
            prop_assert_eq!(late_total, (late_epochs * per_epoch).min(cap));
        }
    }
}
