//! The ground truth an oracle is checked against: for every tracked validator and
//! epoch, whether its attestation was included and whether in time ([`Truth`]), and
//! what it was credited, held, withdrew and deposited ([`MoneyTruth`]).

use crate::ledger::Change;
use crate::model::BeaconModel;
use crate::plan::{MISSED, NEVER};
use serde::{Deserialize, Serialize};

/// The truth about tracked validators, epoch by epoch.
#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
pub struct Truth {
    pub epochs: Vec<EpochTruth>,
}

/// One epoch of truth: a tally for every tracked validator that had a duty.
#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
pub struct EpochTruth {
    pub epoch: u64,
    pub tallies: Vec<TallyTruth>,
}

/// One validator's duty in one epoch: 1 duty; included if its bit is in a block
/// within the inclusion window; timely if that block is within `timely_delay` slots.
#[derive(Serialize, Deserialize, PartialEq, Debug, Clone, Copy)]
pub struct TallyTruth {
    pub validator: u64,
    pub duties: u32,
    pub included: u32,
    pub timely: u32,
}

impl BeaconModel {
    /// The truth for epochs `0..=through_epoch`, clipped so that every epoch's
    /// inclusion window (which ends with the next epoch) lies at or before the
    /// initial head: epochs above `head_epoch - 1` are left out.
    pub fn truth(&self, through_epoch: u64) -> Truth {
        let head_epoch = self.scenario.head_epoch;
        if head_epoch == 0 {
            return Truth { epochs: Vec::new() };
        }
        let through = through_epoch.min(head_epoch - 1);
        let timely = self.spec().timely_delay();
        let epochs = (0..=through)
            .map(|epoch| {
                let plan = self.plan(epoch);
                let inclusion = self.inclusion_index(epoch);
                let tallies = self
                    .tracked()
                    .iter()
                    .filter_map(|&v| {
                        let duty = self.duty_in(&plan.shape, epoch, v)?;
                        let st = plan.status_at(duty.position);
                        let block = if st == MISSED || st == NEVER {
                            None
                        } else {
                            inclusion.block_for(duty.slot, duty.committee_index, st)
                        };
                        let included = block.is_some();
                        let timely = block.is_some_and(|b| b - duty.slot <= timely);
                        Some(TallyTruth { validator: v, duties: 1, included: included as u32, timely: timely as u32 })
                    })
                    .collect();
                EpochTruth { epoch, tallies }
            })
            .collect();
        Truth { epochs }
    }
}

/// The money of tracked validators, epoch by epoch: what was credited to each in the
/// post-states of the epoch's slots, and what it held, withdrew and deposited.
#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
pub struct MoneyTruth {
    pub epochs: Vec<EpochMoney>,
}

/// One epoch of money: an entry for every tracked validator.
#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
pub struct EpochMoney {
    pub epoch: u64,
    pub validators: Vec<ValidatorMoney>,
}

/// One validator's money over the slots of one epoch (slot 0 has no changes).
#[derive(Serialize, Deserialize, PartialEq, Debug, Clone, Copy)]
pub struct ValidatorMoney {
    pub validator: u64,
    /// Rewards minus penalties credited in the epoch's slots (the `T_CL` share).
    pub rewards_gwei: i64,
    /// Balance in the post-state of the epoch's last slot.
    pub balance_gwei: u64,
    pub withdrawn_gwei: u64,
    pub deposited_gwei: u64,
}

impl BeaconModel {
    /// The money truth for epochs `0..=through_epoch`, clipped to the initial head's epoch.
    pub fn money_truth(&self, through_epoch: u64) -> MoneyTruth {
        let spec = self.spec();
        let epochs = (0..=through_epoch.min(self.scenario.head_epoch))
            .map(|epoch| {
                let (after, through) = (spec.first_slot(epoch).saturating_sub(1), spec.last_slot(epoch));
                let validators = self
                    .tracked()
                    .iter()
                    .map(|&v| {
                        let mut m = ValidatorMoney {
                            validator: v,
                            rewards_gwei: 0,
                            balance_gwei: self.balance(v, through),
                            withdrawn_gwei: 0,
                            deposited_gwei: 0,
                        };
                        for e in self.balance_changes(v, after, through) {
                            match e.change {
                                Change::Withdrawal => m.withdrawn_gwei += e.delta.unsigned_abs(),
                                Change::Deposit => m.deposited_gwei += e.delta.unsigned_abs(),
                                _ => m.rewards_gwei += e.delta,
                            }
                        }
                        m
                    })
                    .collect();
                EpochMoney { epoch, validators }
            })
            .collect();
        MoneyTruth { epochs }
    }
}
