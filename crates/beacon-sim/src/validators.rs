//! What each simulated validator is and does at an epoch: its lifecycle (activation,
//! slashing, exit) and record, whether and how late it attests, and its attester duty.

use crate::derive::{self, tag};
use crate::ledger::effective_balance;
use crate::model::BeaconModel;
use crate::plan::{Shape, Status, MISSED, NEVER};
use claystack_primitives::FAR_FUTURE_EPOCH;

/// `MAX_SEED_LOOKAHEAD + 1`: epochs between an exit's initiation and its exit epoch.
pub const EXIT_DELAY: u64 = 5;
/// `MIN_VALIDATOR_WITHDRAWABILITY_DELAY` (both presets).
pub const WITHDRAWABILITY_DELAY: u64 = 256;

/// One validator's attester duty, as the duties endpoint reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duty {
    pub validator: u64,
    pub slot: u64,
    pub committee_index: u64,
    pub committee_length: u64,
    pub committees_at_slot: u64,
    pub validator_committee_index: u64,
    /// Shuffled position inside the epoch (for plan look-ups).
    pub(crate) position: u64,
}

/// A validator's record at some epoch, as the validators endpoint reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidatorState {
    pub index: u64,
    pub status: &'static str,
    pub balance: u64,
    pub effective_balance: u64,
    pub slashed: bool,
    pub activation_epoch: u64,
    pub exit_epoch: u64,
    pub withdrawable_epoch: u64,
}

impl BeaconModel {
    pub fn activation_epoch(&self, v: u64) -> u64 {
        self.rules.activation.get(&v).copied().unwrap_or(0)
    }

    /// The exit epoch the validator will eventually have (`FAR_FUTURE_EPOCH` if none).
    pub fn exit_epoch(&self, v: u64) -> u64 {
        match (self.rules.slashed_at.get(&v), self.rules.exit_requested_at.get(&v)) {
            (Some(&e), _) | (None, Some(&e)) => e + EXIT_DELAY,
            (None, None) => FAR_FUTURE_EPOCH,
        }
    }

    pub fn is_active(&self, v: u64, epoch: u64) -> bool {
        self.activation_epoch(v) <= epoch && epoch < self.exit_epoch(v)
    }

    /// The validator's record in the post-state of `slot`.
    pub fn validator_at(&self, v: u64, slot: u64) -> ValidatorState {
        if !self.walked_bits.get(v) {
            // No rule names it: active from genesis, never exits (and no map look-ups).
            let balance = self.balance(v, slot);
            return ValidatorState {
                index: v,
                status: "active_ongoing",
                balance,
                effective_balance: effective_balance(balance),
                slashed: false,
                activation_epoch: 0,
                exit_epoch: FAR_FUTURE_EPOCH,
                withdrawable_epoch: FAR_FUTURE_EPOCH,
            };
        }
        let epoch = self.spec().epoch_of(slot);
        let activation = self.activation_epoch(v);
        let slashed = self.rules.slashed_at.get(&v).is_some_and(|&e| e <= epoch);
        let exiting = slashed || self.rules.exit_requested_at.get(&v).is_some_and(|&e| e <= epoch);
        let (exit, withdrawable) = if exiting {
            (self.exit_epoch(v), self.withdrawable_epoch(v))
        } else {
            (FAR_FUTURE_EPOCH, FAR_FUTURE_EPOCH)
        };
        let balance = self.balance(v, slot);
        let status = if epoch < activation {
            "pending_queued"
        } else if epoch < exit {
            match (exit == FAR_FUTURE_EPOCH, slashed) {
                (true, _) => "active_ongoing",
                (false, true) => "active_slashed",
                (false, false) => "active_exiting",
            }
        } else if epoch < withdrawable {
            if slashed {
                "exited_slashed"
            } else {
                "exited_unslashed"
            }
        } else if balance == 0 {
            "withdrawal_done"
        } else {
            "withdrawal_possible"
        };
        ValidatorState {
            index: v,
            status,
            balance,
            effective_balance: effective_balance(balance),
            slashed,
            activation_epoch: activation,
            exit_epoch: exit,
            withdrawable_epoch: withdrawable,
        }
    }

    /// Whether (and with what delay) validator `v`, active in `epoch`, attests.
    pub(crate) fn status(&self, v: u64, epoch: u64) -> Status {
        let untracked_missed = || !self.is_tracked(v) && self.untracked_misses(self.untracked_base(epoch), v);
        if !self.special_bits.get(v) {
            return if untracked_missed() { MISSED } else { 1 };
        }
        let r = &self.rules;
        if r.offline.iter().any(|(set, from, to)| (*from..=*to).contains(&epoch) && set.contains(v))
            || r.slashed_at.get(&v).is_some_and(|&e| e <= epoch)
            || r.miss.iter().any(|(set, rate)| set.contains(v) && derive::chance(self.seed, tag::MISS, v, epoch, *rate))
            || untracked_missed()
        {
            return MISSED;
        }
        let delay = r
            .late
            .iter()
            .find(|(set, _, from, to)| (*from..=*to).contains(&epoch) && set.contains(v))
            .map_or(1, |l| l.1);
        // Past two epochs no block may include it.
        if delay > 2 * self.spec().slots_per_epoch {
            NEVER
        } else {
            delay as Status
        }
    }

    /// Per-epoch part of the untracked-miss draw, hoisted out of per-validator loops.
    pub(crate) fn untracked_base(&self, epoch: u64) -> u64 {
        derive::h(self.seed, tag::UNTRACKED, epoch, 0)
    }

    /// Whether an untracked validator misses, given [`Self::untracked_base`]: one mix per validator.
    pub(crate) fn untracked_misses(&self, base: u64, v: u64) -> bool {
        let rate = self.scenario.untracked_miss_rate_bps;
        rate > 0 && derive::mix(base ^ v) % 10_000 < rate
    }

    /// Duties of `validators` in `epoch`, skipping unknown or inactive ones.
    pub fn duties(&self, epoch: u64, validators: &[u64]) -> Vec<Duty> {
        let shape = self.shape(epoch);
        validators.iter().filter_map(|&v| self.duty_in(&shape, epoch, v)).collect()
    }

    pub(crate) fn duty_in(&self, shape: &Shape, epoch: u64, v: u64) -> Option<Duty> {
        let layout = shape.layout?;
        if v >= self.validator_count() || !self.is_active(v, epoch) {
            return None;
        }
        let p = shape.position_of(v);
        let (k, pos) = layout.locate(p);
        let (offset, index) = layout.slot_and_index(k);
        Some(Duty {
            validator: v,
            slot: self.spec().first_slot(epoch) + offset,
            committee_index: index,
            committee_length: layout.length(offset, index),
            committees_at_slot: layout.per_slot,
            validator_committee_index: pos,
            position: p,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn chain(extra: &str) -> BeaconModel {
        let s = Scenario::from_toml(&format!("seed = 5\nvalidators = 100\nhead_epoch = 4\n{extra}")).unwrap();
        BeaconModel::new(s).unwrap()
    }

    #[test]
    fn lifecycle_statuses() {
        let c = chain(
            "[[slashing]]\nvalidator = 9\nepoch = 3\n[[exit]]\nvalidator = 10\nepoch = 4\n[[activation]]\nvalidator = 11\nepoch = 2\n",
        );
        let at = |v: u64, epoch: u64| c.validator_at(v, epoch * 8);
        assert_eq!(at(9, 2).status, "active_ongoing");
        let s = at(9, 3);
        assert_eq!((s.status, s.slashed, s.exit_epoch, s.withdrawable_epoch), ("active_slashed", true, 8, 72));
        assert_eq!(at(9, 8).status, "exited_slashed");
        assert_eq!(at(10, 3).exit_epoch, FAR_FUTURE_EPOCH);
        assert_eq!(at(10, 4).status, "active_exiting");
        assert_eq!(at(10, 9).status, "exited_unslashed");
        // Withdrawable at 265; validator 10 is swept (4 a block, 25 blocks a round) at
        // slots 2 mod 25: the first from slot 2120 (epoch 265) is 2127.
        assert_eq!(at(10, 265).status, "withdrawal_possible");
        assert!(at(10, 265).balance > 0);
        assert_eq!(c.validator_at(10, 2126).status, "withdrawal_possible");
        let gone = c.validator_at(10, 2127);
        assert_eq!((gone.status, gone.balance, gone.effective_balance), ("withdrawal_done", 0, 0));
        assert_eq!(at(11, 1).status, "pending_queued");
        assert_eq!(at(11, 2).status, "active_ongoing");
    }
}
