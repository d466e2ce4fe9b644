//! Money: balances that move with attestation rewards and misses, slashing penalties,
//! the inactivity leak, the withdrawals sweep and deposits, to the gwei.
//!
//! # Model
//!
//! Every validator starts with [`BALANCE_GWEI`] (32 ETH). The post-state of slot `s`
//! applies, in this order:
//!
//! 1. epoch processing, at the first slot of an epoch (empty or not): the attestation
//!    delta of epoch `e` is credited at the first slot of epoch `e + 2` (its inclusion
//!    window ended with epoch `e + 1`), then the correlation penalty of a validator
//!    slashed at epoch `E`, at the first slot of `E + EPOCHS_PER_SLASHINGS_VECTOR / 2`;
//! 2. the withdrawals sweep, if slot `s` has a block;
//! 3. the block's operations: a slashing's initial penalty, deposits.
//!
//! A balance never goes below 0: a penalty larger than the balance takes what is left,
//! and what it took is what is credited.
//!
//! # Design decisions
//!
//! The outcome of a duty (timely, late, missed) follows the delay the scenario gives the
//! attestation (its status in the epoch plan), not where block packing put it: an
//! attestation pushed past the timely limit by empty slots or a full block still earns as
//! timely. Validators no rule names are credited as timely every epoch (the untracked
//! miss draw only thins aggregates); their balance is closed form: 32 ETH plus what they
//! earned since their last sweep, because their balance never falls below 32 ETH and
//! each sweep takes the excess. Validators a rule names (attestation rules, lifecycle,
//! deposits) are walked epoch by epoch into a [`Ledger`], built once and cached.

use crate::ledger::{
    effective_balance, Change, Deposit, Entry, Ledger, Withdrawal, BALANCE_GWEI, EFFECTIVE_BALANCE_INCREMENT,
};
use crate::model::BeaconModel;
use crate::plan::{MISSED, NEVER};
use crate::validators::{EXIT_DELAY, WITHDRAWABILITY_DELAY};
use claystack_primitives::FAR_FUTURE_EPOCH;
use std::sync::Arc;

/// `PROPORTIONAL_SLASHING_MULTIPLIER_BELLATRIX`.
const PROPORTIONAL_SLASHING_MULTIPLIER: u128 = 3;
/// `MIN_SLASHING_PENALTY_QUOTIENT_BELLATRIX` (before Electra) and `_ELECTRA`.
const SLASHING_QUOTIENT_BEFORE_ELECTRA: u64 = 32;
const SLASHING_QUOTIENT_ELECTRA: u64 = 4096;

/// Kinds of events a ledger walk visits within one slot, in the order they apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Attestation(u64),
    Correlation,
    Sweep,
    SlashingInitial,
    Deposit(u64),
}

impl BeaconModel {
    /// Whether validator `v`'s balance is walked epoch by epoch (a rule names it).
    fn is_walked(&self, v: u64) -> bool {
        self.walked_bits.get(v)
    }

    /// The epoch from which `v` may be fully withdrawn (`FAR_FUTURE_EPOCH` if never).
    pub fn withdrawable_epoch(&self, v: u64) -> u64 {
        match (self.rules.slashed_at.get(&v), self.rules.exit_requested_at.get(&v)) {
            (Some(&e), _) => e + EXIT_DELAY + self.money.slashings_vector,
            (None, Some(&e)) => e + EXIT_DELAY + WITHDRAWABILITY_DELAY,
            (None, None) => FAR_FUTURE_EPOCH,
        }
    }

    /// The validators the block at `slot` sweeps: `[w*k, w*k + k)` for window
    /// `w = slot mod ceil(validators / k)`; slot 0 and empty slots sweep nothing.
    pub fn swept_at(&self, slot: u64) -> std::ops::Range<u64> {
        if slot == 0 || !self.has_block(slot) {
            return 0..0;
        }
        let m = &self.money;
        let start = slot % m.sweep_period * m.sweep_k;
        start..(start + m.sweep_k).min(self.validator_count())
    }

    /// The latest slot at or before `t` whose block swept `v`.
    fn last_sweep(&self, v: u64, t: u64) -> Option<u64> {
        let m = &self.money;
        let w = v / m.sweep_k;
        if t < w {
            return None;
        }
        let mut s = w + (t - w) / m.sweep_period * m.sweep_period;
        while s == 0 || !self.has_block(s) {
            s = s.checked_sub(m.sweep_period)?;
        }
        Some(s)
    }

    /// Epochs whose timely reward a validator no rule names has received by slot `t`:
    /// epochs `e <= epoch(t) - 2`, leak epochs excluded.
    fn timely_epochs_credited(&self, t: u64) -> u64 {
        let Some(last) = self.spec().epoch_of(t).checked_sub(2) else { return 0 };
        last + 1 - self.money.leak_epochs_through(last)
    }

    /// Balance of a validator no rule names in the post-state of `t`.
    fn closed_form_balance(&self, v: u64, t: u64) -> u64 {
        let since = self.last_sweep(v, t).map_or(0, |s| self.timely_epochs_credited(s));
        BALANCE_GWEI + self.scenario.rewards.timely_gwei * (self.timely_epochs_credited(t) - since)
    }

    /// What the sweep at `slot` (which sweeps `v`) withdraws from a validator no rule names.
    fn closed_form_withdrawal(&self, v: u64, slot: u64) -> u64 {
        let since =
            slot.checked_sub(1).and_then(|p| self.last_sweep(v, p)).map_or(0, |s| self.timely_epochs_credited(s));
        self.scenario.rewards.timely_gwei * (self.timely_epochs_credited(slot) - since)
    }

    /// Balance of validator `v` in the post-state of `slot` (empty slots included);
    /// 0 for an index that does not exist.
    pub fn balance(&self, v: u64, slot: u64) -> u64 {
        if v >= self.validator_count() {
            0
        } else if self.is_walked(v) {
            self.ledger(v, slot).balance_at(slot)
        } else {
            self.closed_form_balance(v, slot)
        }
    }

    /// The balance changes of validator `v` in slots `(after, through]`: for a validator no
    /// rule names, one attestation entry per credited epoch (built on the fly).
    pub fn balance_changes(&self, v: u64, after: u64, through: u64) -> Vec<Entry> {
        if v >= self.validator_count() || through <= after {
            return Vec::new();
        }
        if self.is_walked(v) {
            let l = self.ledger(v, through);
            return l.entries.iter().filter(|e| after < e.slot && e.slot <= through).copied().collect();
        }
        let spec = self.spec();
        let mut out = Vec::new();
        for k in spec.epoch_of(after) + 1..=spec.epoch_of(through) {
            if k >= 2 && self.money.leak_of(k - 2).is_none() {
                let delta = self.scenario.rewards.timely_gwei as i64;
                out.push(Entry {
                    slot: spec.first_slot(k),
                    change: Change::Attestation { epoch: k - 2 },
                    delta,
                    balance: 0,
                });
            }
        }
        let mut sweep = self.last_sweep(v, through);
        while let Some(at) = sweep.filter(|&at| at > after) {
            let amount = self.closed_form_withdrawal(v, at);
            if amount > 0 {
                out.push(Entry { slot: at, change: Change::Withdrawal, delta: -(amount as i64), balance: 0 });
            }
            sweep = at.checked_sub(1).and_then(|p| self.last_sweep(v, p));
        }
        // Within a slot the epoch's credit comes before the sweep.
        out.sort_by_key(|e| (e.slot, e.change == Change::Withdrawal));
        let mut balance = self.closed_form_balance(v, after);
        for e in &mut out {
            balance = balance.checked_add_signed(e.delta).expect("a sweep takes no more than was credited");
            e.balance = balance;
        }
        out
    }

    /// The withdrawals of the block at `slot`, in sweep order (empty when no block).
    pub fn withdrawals_at(&self, slot: u64) -> Vec<Withdrawal> {
        let mut index = self.withdrawals_before(slot);
        self.withdrawal_amounts(slot)
            .into_iter()
            .map(|(validator, amount_gwei)| {
                index += 1;
                Withdrawal { index: index - 1, validator, address: self.withdrawal_address(validator), amount_gwei }
            })
            .collect()
    }

    /// `(validator, gwei)` of every withdrawal the block at `slot` makes.
    fn withdrawal_amounts(&self, slot: u64) -> Vec<(u64, u64)> {
        self.swept_at(slot)
            .filter_map(|v| {
                let amount = if self.is_walked(v) {
                    let l = self.ledger(v, slot);
                    let i = l.entries.partition_point(|e| e.slot < slot);
                    l.entries[i..]
                        .iter()
                        .take_while(|e| e.slot == slot)
                        .find(|e| e.change == Change::Withdrawal)
                        .map_or(0, |e| e.delta.unsigned_abs())
                } else {
                    self.closed_form_withdrawal(v, slot)
                };
                (amount > 0).then_some((v, amount))
            })
            .collect()
    }

    /// Withdrawals in all blocks before `slot` (counted through its epoch once, then kept).
    fn withdrawals_before(&self, slot: u64) -> u64 {
        let spec = self.spec();
        let epoch = spec.epoch_of(slot);
        let mut counts = self.money.withdrawal_counts.lock().unwrap();
        while counts.before_epoch.len() as u64 <= epoch + 1 {
            let e = counts.before_epoch.len() as u64 - 1;
            let mut n = *counts.before_epoch.last().unwrap();
            for s in spec.first_slot(e)..=spec.last_slot(e) {
                let k = self.withdrawal_amounts(s).len();
                counts.at_slot.push(k as u8);
                n += k as u64;
            }
            counts.before_epoch.push(n);
        }
        let within = &counts.at_slot[spec.first_slot(epoch) as usize..slot as usize];
        counts.before_epoch[epoch as usize] + within.iter().map(|&k| k as u64).sum::<u64>()
    }

    /// The deposits the block at `slot` carries (empty when no block).
    pub fn deposits_at(&self, slot: u64) -> Vec<Deposit> {
        let d = &self.money.deposits;
        let lo = d.partition_point(|(s, _)| *s < slot);
        d[lo..].iter().take_while(|(s, _)| *s == slot).map(|(_, d)| *d).collect()
    }

    /// Deposits carried by blocks at or before `slot` in `body.deposits` (before Electra).
    pub(crate) fn eth1_deposits_through(&self, slot: u64) -> u64 {
        let spec = self.spec();
        self.money.deposits.iter().filter(|(s, _)| *s <= slot && !spec.is_electra(spec.epoch_of(*s))).count() as u64
    }

    /// The ground truth of `T_CL`: the rewards and penalties credited to `validators` in
    /// the post-states of slots `(after_slot, through_slot]`, summed from the credits
    /// themselves (attestation deltas, slashing penalties), not from balances.
    pub fn consensus_rewards(&self, validators: &[u64], after_slot: u64, through_slot: u64) -> i128 {
        if through_slot <= after_slot {
            return 0;
        }
        validators
            .iter()
            .filter(|&&v| v < self.validator_count())
            .map(|&v| {
                if self.is_walked(v) {
                    let l = self.ledger(v, through_slot);
                    l.entries
                        .iter()
                        .filter(|e| after_slot < e.slot && e.slot <= through_slot && e.change.is_reward())
                        .map(|e| e.delta as i128)
                        .sum::<i128>()
                } else {
                    let epochs = self.timely_epochs_credited(through_slot) - self.timely_epochs_credited(after_slot);
                    (self.scenario.rewards.timely_gwei * epochs) as i128
                }
            })
            .sum()
    }

    /// The ledger of walked validator `v`, covering at least slot `t` (cached; rebuilt
    /// from genesis to a doubled horizon when a later slot is asked for).
    fn ledger(&self, v: u64, t: u64) -> Arc<Ledger> {
        if let Some(l) = self.money.ledgers.lock().unwrap().get(&v).filter(|l| l.through >= t) {
            return l.clone();
        }
        let old = self.money.ledgers.lock().unwrap().get(&v).map_or(0, |l| l.through);
        let horizon = t.max(old.saturating_mul(2)).max(self.initial_head_slot());
        // Built outside the lock: a correlation penalty reads other validators' ledgers.
        let ledger = Arc::new(self.walk(v, horizon));
        let mut map = self.money.ledgers.lock().unwrap();
        let keep = map.get(&v).is_some_and(|l| l.through >= ledger.through);
        if !keep {
            map.insert(v, ledger.clone());
        }
        ledger
    }

    /// Walks validator `v`'s balance from genesis through slot `through`.
    fn walk(&self, v: u64, through: u64) -> Ledger {
        let spec = self.spec();
        let m = &self.money;
        let mut steps: Vec<(u64, Step)> = Vec::new();
        for k in 2..=spec.epoch_of(through) {
            if self.is_active(v, k - 2) {
                steps.push((spec.first_slot(k), Step::Attestation(k - 2)));
            }
        }
        let slashing = m.slashings.iter().find(|x| x.1 == v).copied();
        if let Some((block, _, epoch)) = slashing {
            steps.push((block, Step::SlashingInitial));
            steps.push((spec.first_slot(epoch + m.slashings_vector / 2), Step::Correlation));
        }
        let w = v / m.sweep_k;
        let mut s = if w == 0 { m.sweep_period } else { w };
        while s <= through {
            if self.has_block(s) {
                steps.push((s, Step::Sweep));
            }
            s += m.sweep_period;
        }
        for (slot, d) in &m.deposits {
            if d.validator == v {
                steps.push((*slot, Step::Deposit(d.amount_gwei)));
            }
        }
        steps.retain(|(slot, _)| *slot <= through);
        steps.sort_unstable();

        let r = self.scenario.rewards;
        let timely = spec.timely_delay();
        let withdrawable = self.withdrawable_epoch(v);
        let mut balance = BALANCE_GWEI;
        let mut entries = Vec::with_capacity(steps.len());
        let mut leak: Option<(usize, u64)> = None;
        for (slot, step) in steps {
            let (change, delta): (Change, i128) = match step {
                Step::Attestation(epoch) => {
                    let st = self.status(v, epoch);
                    let missed = st == MISSED || st == NEVER;
                    let delta = match m.leak_of(epoch) {
                        Some(window) => {
                            let missed_so_far = match leak {
                                Some((w, k)) if w == window => k,
                                _ => 0,
                            };
                            let k = missed_so_far + missed as u64;
                            leak = Some((window, k));
                            if missed {
                                -((r.miss_penalty_gwei + k * r.leak_penalty_gwei) as i128)
                            } else {
                                0
                            }
                        }
                        None if missed => -(r.miss_penalty_gwei as i128),
                        None if st as u64 <= timely => r.timely_gwei as i128,
                        None => r.late_gwei as i128,
                    };
                    (Change::Attestation { epoch }, delta)
                }
                Step::SlashingInitial => {
                    let q = if spec.is_electra(spec.epoch_of(slot)) {
                        SLASHING_QUOTIENT_ELECTRA
                    } else {
                        SLASHING_QUOTIENT_BEFORE_ELECTRA
                    };
                    (Change::SlashingInitial, -((effective_balance(balance) / q) as i128))
                }
                Step::Correlation => {
                    (Change::SlashingCorrelation, -(self.correlation_penalty(spec.epoch_of(slot), balance) as i128))
                }
                Step::Sweep => {
                    let amount = if spec.epoch_of(slot) >= withdrawable {
                        balance
                    } else {
                        balance.saturating_sub(BALANCE_GWEI)
                    };
                    (Change::Withdrawal, -(amount as i128))
                }
                Step::Deposit(gwei) => (Change::Deposit, gwei as i128),
            };
            let after = (balance as i128 + delta).max(0) as u64;
            if after != balance {
                entries.push(Entry { slot, change, delta: after as i64 - balance as i64, balance: after });
                balance = after;
            }
        }
        Ledger { through, entries }
    }

    /// The correlation penalty at epoch `x` of a slashed validator with balance `balance`:
    /// the spec's `process_slashings` over the validators slashed in the vector window
    /// (slashing blocks before `x`'s first slot, within `EPOCHS_PER_SLASHINGS_VECTOR`).
    fn correlation_penalty(&self, x: u64, balance: u64) -> u64 {
        let spec = self.spec();
        let m = &self.money;
        let first = spec.first_slot(x);
        let slashed: u128 = m
            .slashings
            .iter()
            .filter(|(block, _, _)| *block < first && spec.epoch_of(*block) + m.slashings_vector > x)
            .map(|&(block, w, _)| self.effective_balance_before_slashing(w, block) as u128)
            .sum();
        let total = self.active_count(x) as u128 * BALANCE_GWEI as u128;
        if total == 0 {
            return 0;
        }
        let adjusted = (slashed * PROPORTIONAL_SLASHING_MULTIPLIER).min(total);
        let increments = (effective_balance(balance) / EFFECTIVE_BALANCE_INCREMENT) as u128;
        let inc = EFFECTIVE_BALANCE_INCREMENT as u128;
        let penalty = if spec.is_electra(x) {
            adjusted / (total / inc) * increments
        } else {
            increments * adjusted / total * inc
        };
        penalty as u64
    }

    /// The effective balance validator `w` had when its slashing's block at `block` applied.
    fn effective_balance_before_slashing(&self, w: u64, block: u64) -> u64 {
        // Walked exactly through the block, not to a horizon: a longer walk could reach
        // w's own correlation penalty, which asks for this again.
        let cached = self.money.ledgers.lock().unwrap().get(&w).filter(|l| l.through >= block).cloned();
        let l = cached.unwrap_or_else(|| Arc::new(self.walk(w, block)));
        let pre = l
            .entries
            .iter()
            .find(|e| e.slot == block && e.change == Change::SlashingInitial)
            .map_or_else(|| l.balance_at(block.saturating_sub(1)), |e| (e.balance as i64 - e.delta) as u64);
        effective_balance(pre)
    }
}
