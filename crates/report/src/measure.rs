//! What the beacon chain says about the protocol's validators over a frame: the rewards
//! they earned.
//!
//! Pure: `claystack-frame-close` reads the validator records at the two reference states
//! and the accounted flows of the frame's epochs, and passes them in. Every rule below is
//! written in `docs/rewards.md`; the tests here are its worked examples.
//!
//! # Rewards
//!
//! A validator's *value* at a state is its balance plus its deposits still pending (Electra
//! queues deposits before crediting them). Over a frame its rewards are
//! `value(end) - value(start) + withdrawn - deposited`: the flows of the frame's blocks add
//! back what left the balance and take out what was paid in. A key that has no record at a
//! state (not deposited yet) is worth 0 there.
//!
//! The slashing and exit facts are `claystack_exits::frame_facts`'s (one definition of
//! compliance, `docs/exits.md` section 4).

use claystack_accounting::EpochFlows;
use claystack_primitives::ValidatorIndex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A protocol validator's value at one state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorValue {
    /// Its beacon index, if the state has its record.
    pub index: Option<ValidatorIndex>,
    pub balance_gwei: u64,
    /// Deposits to its key still queued in the state (Electra's `pending_deposits`).
    pub pending_gwei: u64,
}

impl ValidatorValue {
    fn gwei(&self) -> i128 {
        i128::from(self.balance_gwei) + i128::from(self.pending_gwei)
    }
}

/// One validator's money over the frame, as the frame log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorMoney {
    #[serde(with = "claystack_primitives::hex::fixed")]
    pub pubkey: [u8; 48],
    pub index: Option<ValidatorIndex>,
    pub start_gwei: u64,
    pub end_gwei: u64,
    pub withdrawn_gwei: u64,
    pub deposited_gwei: u64,
    /// `end - start + withdrawn - deposited`; negative when penalties outweigh rewards.
    pub rewards_gwei: i128,
}

/// The consensus-layer rewards of the protocol's validators over one frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusRewards {
    /// Ascending by public key.
    pub validators: Vec<ValidatorMoney>,
    pub total_gwei: i128,
}

impl ConsensusRewards {
    /// The total in wei (`gwei * 10^9`), the engine's `validator_rewards_wei`.
    pub fn total_wei(&self) -> i128 {
        self.total_gwei * 1_000_000_000
    }
}

/// Rewards of `validators` (the protocol's keys at the frame's end; duplicates counted once)
/// between the `start` and `end` states, with `flows` the accounted flows of every epoch of
/// the frame (the caller checks that none is missing).
pub fn consensus_rewards(
    validators: &[[u8; 48]],
    start: &BTreeMap<[u8; 48], ValidatorValue>,
    end: &BTreeMap<[u8; 48], ValidatorValue>,
    flows: &[EpochFlows],
) -> ConsensusRewards {
    let mut withdrawn: BTreeMap<ValidatorIndex, u64> = BTreeMap::new();
    let mut deposited: BTreeMap<[u8; 48], u64> = BTreeMap::new();
    for f in flows {
        for w in &f.withdrawals {
            *withdrawn.entry(w.validator).or_default() += w.gwei;
        }
        for d in &f.deposits {
            *deposited.entry(d.pubkey).or_default() += d.gwei;
        }
    }
    let mut keys = validators.to_vec();
    keys.sort_unstable();
    keys.dedup();
    let mut total_gwei = 0i128;
    let validators = keys
        .into_iter()
        .map(|pubkey| {
            let (s, e) =
                (start.get(&pubkey).copied().unwrap_or_default(), end.get(&pubkey).copied().unwrap_or_default());
            let index = e.index.or(s.index);
            let withdrawn_gwei = index.and_then(|i| withdrawn.get(&i)).copied().unwrap_or(0);
            let deposited_gwei = deposited.get(&pubkey).copied().unwrap_or(0);
            let rewards_gwei = e.gwei() - s.gwei() + i128::from(withdrawn_gwei) - i128::from(deposited_gwei);
            total_gwei += rewards_gwei;
            ValidatorMoney {
                pubkey,
                index,
                start_gwei: s.balance_gwei + s.pending_gwei,
                end_gwei: e.balance_gwei + e.pending_gwei,
                withdrawn_gwei,
                deposited_gwei,
                rewards_gwei,
            }
        })
        .collect();
    ConsensusRewards { validators, total_gwei }
}

#[cfg(test)]
mod tests {
    use super::*;
    use claystack_accounting::{PubkeyGwei, ValidatorGwei};

    fn value(index: u64, balance_gwei: u64, pending_gwei: u64) -> ValidatorValue {
        ValidatorValue { index: Some(index), balance_gwei, pending_gwei }
    }

    #[test]
    fn rewards_are_value_change_plus_withdrawals_minus_deposits() {
        let (a, b, c) = ([1u8; 48], [2u8; 48], [3u8; 48]);
        let start: BTreeMap<_, _> = [(a, value(10, 32_000_000_000, 0)), (b, value(11, 32_500_000_000, 0))].into();
        // a: +0.01 ETH and a 0.2 ETH partial withdrawal; b: a 1 ETH top-up, then slashed by 1.5 ETH;
        // c: a new validator, its 32 ETH deposit still pending at the end.
        let end: BTreeMap<_, _> = [
            (a, value(10, 31_810_000_000, 0)),
            (b, value(11, 32_000_000_000, 0)),
            (c, ValidatorValue { index: None, balance_gwei: 0, pending_gwei: 32_000_000_000 }),
        ]
        .into();
        let flows = [
            EpochFlows {
                epoch: 4,
                withdrawals: vec![ValidatorGwei { validator: 10, gwei: 200_000_000 }],
                deposits: vec![PubkeyGwei { pubkey: b, gwei: 1_000_000_000 }, PubkeyGwei { pubkey: [9; 48], gwei: 7 }],
            },
            EpochFlows {
                epoch: 5,
                withdrawals: vec![ValidatorGwei { validator: 99, gwei: 5 }],
                deposits: vec![PubkeyGwei { pubkey: c, gwei: 32_000_000_000 }],
            },
        ];
        let r = consensus_rewards(&[c, a, b, a], &start, &end, &flows);
        let by_key: Vec<(u8, i128)> = r.validators.iter().map(|v| (v.pubkey[0], v.rewards_gwei)).collect();
        assert_eq!(by_key, vec![(1, 10_000_000), (2, -1_500_000_000), (3, 0)]);
        assert_eq!(r.total_gwei, 10_000_000 - 1_500_000_000);
        assert_eq!(r.total_wei(), (10_000_000i128 - 1_500_000_000) * 1_000_000_000);
        assert_eq!((r.validators[0].withdrawn_gwei, r.validators[1].deposited_gwei), (200_000_000, 1_000_000_000));
    }
}
