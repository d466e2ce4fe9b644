//! What the beacon chain says about the protocol's validators over a frame: the rewards
//! they earned and the facts (slashings, exits) the engine charges.
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
//! # Facts
//!
//! From the records at the frame's last state and the exit requests on chain: a slashing is
//! charged in the frame that holds its withdrawable epoch (its outcome, correlation penalty
//! and any leak included, is then final), so exactly once; an exit is forced when the
//! validator was slashed or nobody asked for it.

use claystack_accounting::EpochFlows;
use claystack_primitives::{Epoch, ValidatorIndex, ValidatorInfo, FAR_FUTURE_EPOCH};
use claystack_rewards::{ExitEvent, Facts, RequestedExit, Slashing};
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

/// What the contracts say about a validator's exit at the reference block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ExitRequest {
    /// The operator asked to exit; the protocol gave it this exit epoch.
    Voluntary { validator: ValidatorIndex, exit_epoch: Epoch },
    /// The protocol asked it to exit by this epoch.
    Requested { validator: ValidatorIndex, deadline_epoch: Epoch },
}

impl ExitRequest {
    fn validator(&self) -> ValidatorIndex {
        match *self {
            ExitRequest::Voluntary { validator, .. } | ExitRequest::Requested { validator, .. } => validator,
        }
    }
}

/// The facts of `frame` from the protocol validators' `records` at the frame's last state and
/// the exit `requests` on chain. Output lists are sorted by validator.
///
/// - a slashing when `slashed` and the withdrawable epoch is in the frame (with that epoch);
/// - a validator whose exit epoch is in the frame: forced when slashed or never asked to exit,
///   else a voluntary exit, or a requested exit with its beacon exit epoch;
/// - a requested exit not yet done whose deadline is before the frame's last epoch (it is late
///   in this frame), with no exit epoch, or its exit epoch when that is still ahead.
pub fn beacon_facts(frame: (Epoch, Epoch), records: &[ValidatorInfo], requests: &[ExitRequest]) -> Facts {
    let in_frame = |e: Epoch| (frame.0..=frame.1).contains(&e);
    let request_of: BTreeMap<ValidatorIndex, ExitRequest> = requests.iter().map(|r| (r.validator(), *r)).collect();
    let mut facts = Facts::default();
    let mut seen = std::collections::BTreeSet::new();
    for r in records {
        if !seen.insert(r.index) {
            continue;
        }
        if r.slashed && in_frame(r.withdrawable_epoch) {
            facts.slashings.push(Slashing { validator: r.index, epoch: r.withdrawable_epoch });
        }
        let exited_in_frame = in_frame(r.exit_epoch);
        match (request_of.get(&r.index), r.slashed) {
            (_, true) | (None, false) => {
                if exited_in_frame {
                    facts.forced_exits.push(ExitEvent { validator: r.index, epoch: r.exit_epoch });
                }
            }
            (Some(ExitRequest::Voluntary { .. }), false) => {
                if exited_in_frame {
                    facts.voluntary_exits.push(ExitEvent { validator: r.index, epoch: r.exit_epoch });
                }
            }
            (Some(&ExitRequest::Requested { deadline_epoch, .. }), false) => {
                let exit_epoch = (r.exit_epoch != FAR_FUTURE_EPOCH).then_some(r.exit_epoch);
                let done_before = exit_epoch.is_some_and(|e| e < frame.0);
                let late_here = deadline_epoch < frame.1;
                if !done_before && (exited_in_frame || late_here) {
                    facts.requested_exits.push(RequestedExit { validator: r.index, deadline_epoch, exit_epoch });
                }
            }
        }
    }
    facts.slashings.sort();
    facts.forced_exits.sort();
    facts.voluntary_exits.sort();
    facts.requested_exits.sort();
    facts
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

    fn record(index: u64, slashed: bool, exit_epoch: u64, withdrawable_epoch: u64) -> ValidatorInfo {
        ValidatorInfo {
            index,
            status: String::new(),
            pubkey: String::new(),
            balance_gwei: 0,
            effective_balance_gwei: 0,
            slashed,
            activation_epoch: 0,
            exit_epoch,
            withdrawable_epoch,
        }
    }

    const FAR: u64 = FAR_FUTURE_EPOCH;

    #[test]
    fn a_slashing_is_charged_in_the_frame_of_its_withdrawable_epoch_only() {
        let slashed = record(7, true, 25, 90);
        let frames = [(0, 19), (20, 39), (40, 59), (60, 79), (80, 99), (100, 119)];
        let charged: Vec<(Epoch, Epoch)> = frames
            .iter()
            .copied()
            .filter(|&f| !beacon_facts(f, std::slice::from_ref(&slashed), &[]).slashings.is_empty())
            .collect();
        assert_eq!(charged, vec![(80, 99)]);
        assert_eq!(
            beacon_facts((80, 99), std::slice::from_ref(&slashed), &[]).slashings,
            vec![Slashing { validator: 7, epoch: 90 }]
        );
        // Its exit is forced, in the frame of its exit epoch, even if it had asked to exit.
        let asked = [ExitRequest::Voluntary { validator: 7, exit_epoch: 30 }];
        assert_eq!(
            beacon_facts((20, 39), &[slashed], &asked).forced_exits,
            vec![ExitEvent { validator: 7, epoch: 25 }]
        );
    }

    #[test]
    fn exits_are_forced_voluntary_or_requested_by_what_the_contracts_asked() {
        let records = [
            record(1, false, 30, 286),
            record(2, false, 31, 287),
            record(3, false, 32, 288),
            record(4, false, FAR, FAR),
        ];
        let requests = [
            ExitRequest::Voluntary { validator: 2, exit_epoch: 31 },
            ExitRequest::Requested { validator: 3, deadline_epoch: 28 },
            ExitRequest::Requested { validator: 4, deadline_epoch: 35 },
        ];
        let f = beacon_facts((20, 39), &records, &requests);
        assert_eq!(f.forced_exits, vec![ExitEvent { validator: 1, epoch: 30 }]);
        assert_eq!(f.voluntary_exits, vec![ExitEvent { validator: 2, epoch: 31 }]);
        assert_eq!(
            f.requested_exits,
            vec![
                RequestedExit { validator: 3, deadline_epoch: 28, exit_epoch: Some(32) },
                RequestedExit { validator: 4, deadline_epoch: 35, exit_epoch: None },
            ]
        );
        assert!(f.slashings.is_empty());
        // The next frame: 3 exited before it (nothing more to charge), 4 is still late.
        let next = beacon_facts((40, 59), &records, &requests);
        assert_eq!(next.requested_exits, vec![RequestedExit { validator: 4, deadline_epoch: 35, exit_epoch: None }]);
        assert!(next.forced_exits.is_empty() && next.voluntary_exits.is_empty());
        // A request whose deadline is still ahead and not done yet is not listed.
        assert!(beacon_facts((0, 19), &records, &requests).requested_exits.is_empty());
    }
}
