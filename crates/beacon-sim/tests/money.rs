//! The simulator's money: balance changes add up to the credited rewards, and worked
//! examples of each rule give the numbers the rules say.

use claystack_beacon_sim::{BeaconModel, Change, Scenario, BALANCE_GWEI};
use proptest::prelude::*;
use std::sync::OnceLock;

const MONEY: &str = include_str!("data/money.toml");
const ETH: u64 = 1_000_000_000;

fn chain() -> &'static BeaconModel {
    static CHAIN: OnceLock<BeaconModel> = OnceLock::new();
    CHAIN.get_or_init(|| BeaconModel::new(Scenario::from_toml(MONEY).unwrap()).unwrap())
}

/// `T_CL` as the oracle measures it: balance growth plus withdrawals minus deposits.
fn measured(c: &BeaconModel, validators: &[u64], after: u64, through: u64) -> i128 {
    let mut t: i128 = 0;
    for &v in validators {
        t += c.balance(v, through) as i128 - c.balance(v, after) as i128;
    }
    for s in after + 1..=through {
        for w in c.withdrawals_at(s) {
            if validators.contains(&w.validator) {
                t += w.amount_gwei as i128;
            }
        }
        for d in c.deposits_at(s) {
            if validators.iter().any(|&v| c.pubkey(v) == d.pubkey) {
                t -= d.amount_gwei as i128;
            }
        }
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn balance_deltas_plus_withdrawals_minus_deposits_are_the_credited_rewards(
        a in 0u64..2407,
        len in 1u64..2407,
        picks in proptest::collection::vec(0u64..64, 1..24),
    ) {
        let c = chain();
        let b = (a + len).min(c.initial_head_slot());
        prop_assume!(a < b);
        let mut vs = picks;
        vs.sort_unstable();
        vs.dedup();
        prop_assert_eq!(measured(c, &vs, a, b), c.consensus_rewards(&vs, a, b), "validators {:?}, slots ({}, {}]", vs, a, b);
    }
}

#[test]
fn the_whole_chain_moves_every_kind_of_money() {
    let c = chain();
    let head = c.initial_head_slot();
    let all: Vec<u64> = (0..64).collect();
    assert_eq!(measured(c, &all, 0, head), c.consensus_rewards(&all, 0, head));
    // Every kind of change happened, to walked and closed-form validators alike.
    let mut seen = std::collections::BTreeSet::new();
    for v in 0..64 {
        for e in c.balance_changes(v, 0, head) {
            seen.insert(match e.change {
                Change::Attestation { .. } if e.delta > 0 => "reward",
                Change::Attestation { .. } => "penalty",
                Change::SlashingInitial => "initial",
                Change::SlashingCorrelation => "correlation",
                Change::Withdrawal if e.balance == 0 => "full withdrawal",
                Change::Withdrawal => "partial withdrawal",
                Change::Deposit => "deposit",
            });
        }
    }
    let want = ["correlation", "deposit", "full withdrawal", "initial", "partial withdrawal", "penalty", "reward"];
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), want);
    // Withdrawal indices are consecutive from 0 over all blocks.
    let indices: Vec<u64> = (0..=head).flat_map(|s| c.withdrawals_at(s)).map(|w| w.index).collect();
    assert!(indices.len() > 1000, "{} withdrawals", indices.len());
    assert!(indices.iter().enumerate().all(|(i, &x)| x == i as u64));
    // Empty slots have neither.
    assert!(c.withdrawals_at(100).is_empty() && c.deposits_at(100).is_empty());
}

#[test]
fn balance_changes_replay_to_the_balance() {
    let c = chain();
    let head = c.initial_head_slot();
    for v in [0, 1, 3, 9, 10, 12, 13, 40, 63] {
        let mut balance = BALANCE_GWEI as i128;
        let changes = c.balance_changes(v, 0, head);
        for (i, e) in changes.iter().enumerate() {
            balance += e.delta as i128;
            assert_eq!(balance, e.balance as i128, "validator {v} at slot {}", e.slot);
            // The post-state holds the slot's last change (a credit may precede a sweep).
            if changes.get(i + 1).is_none_or(|next| next.slot > e.slot) {
                assert_eq!(c.balance(v, e.slot), e.balance, "validator {v} at slot {}", e.slot);
                assert_eq!(c.balance(v, e.slot.saturating_sub(1)) as i128, balance - slot_sum(&changes, e.slot));
            }
        }
        assert_eq!(balance, c.balance(v, head) as i128, "validator {v}");
    }
}

/// The net change of one slot.
fn slot_sum(changes: &[claystack_beacon_sim::Entry], slot: u64) -> i128 {
    changes.iter().filter(|e| e.slot == slot).map(|e| e.delta as i128).sum()
}

/// Slots `(after, through]` whose post-states credit the attestations of epochs `from..=to`.
fn credit_window(from: u64, to: u64) -> (u64, u64) {
    ((from + 2) * 8 - 1, (to + 2) * 8)
}

#[test]
fn offline_through_a_leak_gives_a_negative_t() {
    let c = chain();
    // Validators 3-5 miss epochs 40-60; epochs 45-55 are a leak: the k-th missed leak
    // epoch costs 10,000 + k * 1,907 gwei, the others 10,000.
    let (after, through) = credit_window(40, 60);
    let per_validator = -(21 * 10_000 + 1_907 * (1..=11).sum::<i128>());
    assert_eq!(c.consensus_rewards(&[3], after, through), per_validator);
    assert_eq!(c.consensus_rewards(&[3, 4, 5], after, through), 3 * per_validator);
    // Attesters earn nothing in the leak.
    let (after, through) = credit_window(45, 55);
    assert_eq!(c.consensus_rewards(&[0, 1, 40, 63], after, through), 0);
    // The oracle's measure agrees, though validator 3 was topped up by 5 ETH in the leak.
    let t = measured(c, &[3, 4, 5, 40], after, through);
    assert!(t < 0, "{t}");
    assert_eq!(t, c.consensus_rewards(&[3, 4, 5, 40], after, through));
}

#[test]
fn attestation_outcomes_earn_their_rates() {
    let c = chain();
    // Epochs 0-9, credited at the first slots of epochs 2-11.
    let (after, through) = credit_window(0, 9);
    assert_eq!(c.consensus_rewards(&[0], after, through), 10 * 14_000, "timely every epoch");
    assert_eq!(c.consensus_rewards(&[8], after, through), 10 * 3_000, "3 slots late is not timely on minimal");
    // Validator 11 activates at epoch 4: nothing for epochs 0-3.
    assert_eq!(c.consensus_rewards(&[11], after, through), 6 * 14_000);
    // Validator 7 misses about 30%: each epoch is +14,000 or -10,000.
    let r = c.consensus_rewards(&[7], after, through);
    let misses = (10 * 14_000 - r) / 24_000;
    assert_eq!(10 * 14_000 - 24_000 * misses, r, "{r}");
    // The credit of an epoch lands at the first slot of epoch + 2, even an empty one (16).
    assert_eq!(c.balance(40, 15), BALANCE_GWEI);
    assert_eq!(c.balance(40, 16), BALANCE_GWEI + 14_000);
}

#[test]
fn slashing_penalties_follow_the_spec_formulas() {
    let c = chain();
    let head = c.initial_head_slot();
    let changes = |v| c.balance_changes(v, 0, head);
    let find = |v, change| changes(v).into_iter().find(|e| e.change == change).unwrap();
    // Validator 9, slashed at epoch 10 (Deneb): effective balance 32 ETH / 32, in the
    // first block of epoch 10.
    let initial = find(9, Change::SlashingInitial);
    assert_eq!((initial.slot, initial.delta), (80, -(ETH as i64)));
    // Validator 20, slashed at epoch 30 (Electra): / 4096.
    let initial = find(20, Change::SlashingInitial);
    assert_eq!((initial.slot, initial.delta), (240, -7_812_500));
    // Correlation at epoch 10 + 32 = 42: both slashings (64 ETH) are in the vector;
    // active at 42 are 64 minus 9, 10 and 20 (exited at 15, 10 and 35): 1,952 ETH.
    // Electra: min(3 * 64, 1952) ETH / 1952 increments = 98,360,655 gwei per increment,
    // times validator 9's effective balance (31 ETH: 32 - 1 - five missed epochs).
    let corr = find(9, Change::SlashingCorrelation);
    assert_eq!(corr.slot, 42 * 8);
    assert_eq!(corr.delta, -(192 * ETH as i64 / 1952) * 31);
    // Validator 20's at epoch 62: 9 slashed at 10 is still in the 64-epoch vector.
    let corr = find(20, Change::SlashingCorrelation);
    assert_eq!(corr.slot, 62 * 8);
    assert_eq!(corr.delta, -(192 * ETH as i64 / 1952) * 32, "20's balance stays above 31.75 ETH");
    // Five missed epochs while active (30-34) count as penalties.
    let missed = changes(20).iter().filter(|e| matches!(e.change, Change::Attestation { .. }) && e.delta < 0).count();
    assert_eq!(missed, 5);
}

#[test]
fn withdrawals_sweep_excess_and_exited_balances() {
    let c = chain();
    let head = c.initial_head_slot();
    // Validator 40 (no rule) is swept at slots 10 mod 16: each sweep takes what it
    // earned since the last, and its balance is 32 ETH just after.
    let swept: Vec<_> = c.balance_changes(40, 0, head).into_iter().filter(|e| e.change == Change::Withdrawal).collect();
    assert!(swept.len() > 100);
    for e in &swept {
        assert_eq!(e.slot % 16, 10);
        assert_eq!(e.balance, BALANCE_GWEI);
        let w = c.withdrawals_at(e.slot).into_iter().find(|w| w.validator == 40).unwrap();
        assert_eq!(w.amount_gwei as i64, -e.delta);
        assert_eq!(w.address, c.withdrawal_address(40));
    }
    // Validator 13's 2 ETH top-up (first block of epoch 25, slot 200) goes out with the
    // next sweep of 13 (slots 3 mod 16: 211) with what it earned since the last one.
    let d = c.deposits_at(200);
    assert_eq!((d.len(), d[0].validator, d[0].amount_gwei), (1, 13, 2 * ETH));
    assert_eq!(d[0].index, 64 + 1, "genesis deposits 0-63, then the scenario's in file order");
    let w = c.withdrawals_at(211).into_iter().find(|w| w.validator == 13).unwrap();
    assert_eq!(w.amount_gwei, 2 * ETH + 2 * 14_000, "two epochs credited (at 200 and 208) since the sweep at 195");
    // Validator 10 is withdrawable at epoch 266 and fully withdrawn by its first sweep
    // from there (slot 2130); nothing moves after.
    let before = c.balance(10, 2129);
    assert!(before > 31 * ETH);
    let w = c.withdrawals_at(2130).into_iter().find(|w| w.validator == 10).unwrap();
    assert_eq!(w.amount_gwei, before);
    assert_eq!(c.balance(10, head), 0);
    assert_eq!(c.validator_at(10, head).status, "withdrawal_done");
    assert!(c.balance_changes(10, 2130, head).is_empty());
    // The sweep of an empty slot is skipped, not moved: 100-102 are empty.
    assert!(c.swept_at(100).is_empty());
}

#[test]
fn closed_form_balances_equal_the_epoch_by_epoch_walk() {
    // Validators 0, 1, 25 and 31 are named by no rule, so their balances are closed form.
    // A `[[late]]` rule of delay 1 (normal inclusion) names them without changing what
    // they do, so the second chain walks them epoch by epoch: both must agree everywhere.
    let named = format!("{MONEY}\n[[late]]\nvalidators = [\"0-1\", 25, 31]\ndelay = 1\n");
    let walked = BeaconModel::new(Scenario::from_toml(&named).unwrap()).unwrap();
    let c = chain();
    let head = c.initial_head_slot();
    let vs = [0u64, 1, 25, 31];
    for slot in 0..=head {
        for v in vs {
            assert_eq!(c.balance(v, slot), walked.balance(v, slot), "validator {v} at slot {slot}");
        }
        assert_eq!(c.withdrawals_at(slot), walked.withdrawals_at(slot), "slot {slot}");
    }
    for (after, through) in [(0, head), (5, 333), (336, 500), (1000, 2130)] {
        assert_eq!(c.consensus_rewards(&vs, after, through), walked.consensus_rewards(&vs, after, through));
        for v in vs {
            assert_eq!(c.balance_changes(v, after, through), walked.balance_changes(v, after, through));
        }
    }
    assert_eq!(c.truth(299), walked.truth(299), "a delay-1 rule changes no attestation");
}

#[test]
fn the_testnet_money_scenario_does_what_its_comments_say() {
    let c =
        BeaconModel::new(Scenario::from_toml(include_str!("../../../testnet/scenarios/money.toml")).unwrap()).unwrap();
    let protocol: Vec<u64> = (0..64).collect();
    // The leak's epochs 41-46, credited at the first slots of 43-48: the 3 offline
    // validators pay 10,000 + k * 1,907 for k = 1..=6, validator 30 pays for its misses,
    // everyone else earns 0.
    let (after, through) = credit_window(41, 46);
    let t = c.consensus_rewards(&protocol, after, through);
    assert_eq!(c.consensus_rewards(&[3, 4, 5], after, through), -3 * (6 * 10_000 + 1_907 * 21));
    let others: Vec<u64> = protocol.iter().copied().filter(|v| ![3, 4, 5, 30].contains(v)).collect();
    assert_eq!(c.consensus_rewards(&others, after, through), 0);
    assert!(t < 0 && t <= c.consensus_rewards(&[3, 4, 5], after, through), "{t}");
    assert_eq!(measured(&c, &protocol, after, through), t);
    let full = (632..=c.initial_head_slot()).flat_map(|s| c.withdrawals_at(s)).find(|w| w.validator == 9).unwrap();
    assert_eq!(full.amount_gwei, c.balance(9, 641));
    assert_eq!(c.balance(9, 642), 0);
    let corr = c.balance_changes(9, 0, 400).into_iter().find(|e| e.change == Change::SlashingCorrelation).unwrap();
    assert_eq!(corr.slot, 42 * 8);
    let head = c.initial_head_slot();
    assert_eq!(measured(&c, &protocol, 0, head), c.consensus_rewards(&protocol, 0, head));
}

#[test]
fn money_truth_adds_up_epoch_by_epoch() {
    let c = chain();
    let m = c.money_truth(1000);
    assert_eq!(m.epochs.len(), 301, "clipped to the head epoch");
    let tracked = c.tracked();
    let mut previous: Vec<u64> = vec![BALANCE_GWEI; tracked.len()];
    for e in &m.epochs {
        let (after, through) = ((e.epoch * 8).saturating_sub(1), e.epoch * 8 + 7);
        assert_eq!(
            e.validators.iter().map(|x| x.rewards_gwei as i128).sum::<i128>(),
            c.consensus_rewards(tracked, after, through),
            "epoch {}",
            e.epoch
        );
        for (x, prev) in e.validators.iter().zip(&mut previous) {
            let moved = x.rewards_gwei as i128 - x.withdrawn_gwei as i128 + x.deposited_gwei as i128;
            assert_eq!(x.balance_gwei as i128 - *prev as i128, moved, "validator {} epoch {}", x.validator, e.epoch);
            *prev = x.balance_gwei;
        }
    }
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(serde_json::from_str::<claystack_beacon_sim::MoneyTruth>(&json).unwrap(), m);
    assert!(
        json.starts_with("{\"epochs\":[{\"epoch\":0,\"validators\":[{\"validator\":0,\"rewards_gwei\":0,"),
        "{}",
        &json[..120]
    );
}
