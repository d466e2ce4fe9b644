//! Balance flows: the gwei that left the tracked validators' balances as withdrawals, and
//! the gwei that any block deposited, in one epoch's blocks.
//!
//! Rewards are measured from balances (`claystack-frame-close`): a balance grows by rewards
//! and by deposits and shrinks by penalties and by withdrawals, so the rewards over a span are
//! the balance change plus what was withdrawn minus what was deposited. Withdrawals name a
//! validator index and are kept for tracked validators only; deposits name a public key (a
//! new validator has no index yet), and are kept for every key, summed, because which keys
//! are the protocol's is known only at the frame's reference block.

use claystack_primitives::{BeaconSpec, BlockSummary, Epoch, ValidatorIndex};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The flows of one epoch's blocks (slots `first_slot(epoch) ..= last_slot(epoch)`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochFlows {
    pub epoch: Epoch,
    /// Gwei withdrawn per tracked validator, ascending by validator, no zero entries.
    pub withdrawals: Vec<ValidatorGwei>,
    /// Gwei deposited per public key, ascending by key, no zero entries.
    pub deposits: Vec<PubkeyGwei>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ValidatorGwei {
    pub validator: ValidatorIndex,
    pub gwei: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PubkeyGwei {
    #[serde(with = "claystack_primitives::hex::fixed")]
    pub pubkey: [u8; 48],
    pub gwei: u64,
}

/// Sums the withdrawals to `tracked` validators (sorted ascending) and every deposit in the
/// blocks of `epoch`; blocks of other slots are ignored. Order of `blocks` does not matter.
///
/// A sum cannot overflow `u64` on a real chain (all ether ever is about 1.2 * 10^17 gwei);
/// it saturates rather than wrap if a faulty node claims more.
pub fn epoch_flows(spec: &BeaconSpec, epoch: Epoch, blocks: &[&BlockSummary], tracked: &[u64]) -> EpochFlows {
    let (first, last) = (spec.first_slot(epoch), spec.last_slot(epoch));
    let mut withdrawals: BTreeMap<ValidatorIndex, u64> = BTreeMap::new();
    let mut deposits: BTreeMap<[u8; 48], u64> = BTreeMap::new();
    for block in blocks.iter().filter(|b| (first..=last).contains(&b.slot)) {
        for w in block.withdrawals.iter().filter(|w| tracked.binary_search(&w.validator).is_ok()) {
            let sum = withdrawals.entry(w.validator).or_default();
            *sum = sum.saturating_add(w.amount_gwei);
        }
        for d in &block.deposits {
            let sum = deposits.entry(d.pubkey).or_default();
            *sum = sum.saturating_add(d.amount_gwei);
        }
    }
    EpochFlows {
        epoch,
        withdrawals: withdrawals
            .into_iter()
            .filter(|&(_, gwei)| gwei > 0)
            .map(|(validator, gwei)| ValidatorGwei { validator, gwei })
            .collect(),
        deposits: deposits
            .into_iter()
            .filter(|&(_, gwei)| gwei > 0)
            .map(|(pubkey, gwei)| PubkeyGwei { pubkey, gwei })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use claystack_primitives::{Deposit, ExecutionLink, Withdrawal};

    fn block(slot: u64, withdrawals: &[(u64, u64)], deposits: &[(u8, u64)]) -> BlockSummary {
        BlockSummary {
            slot,
            proposer_index: 0,
            parent_root: [0; 32],
            fork: "electra".into(),
            execution: ExecutionLink { block_number: slot, block_hash: [0; 32], parent_hash: [0; 32] },
            attestations: vec![],
            withdrawals: withdrawals
                .iter()
                .enumerate()
                .map(|(i, &(validator, amount_gwei))| Withdrawal { index: i as u64, validator, amount_gwei })
                .collect(),
            deposits: deposits.iter().map(|&(k, amount_gwei)| Deposit { pubkey: [k; 48], amount_gwei }).collect(),
        }
    }

    #[test]
    fn sums_tracked_withdrawals_and_every_deposit_of_the_epoch_only() {
        let spec = BeaconSpec::minimal(); // 8 slots an epoch
        let blocks = [
            block(15, &[(1, 100)], &[(9, 1)]),                 // epoch 1: outside
            block(16, &[(1, 5), (2, 7), (3, 11)], &[(9, 32)]), // epoch 2
            block(23, &[(1, 6), (4, 0)], &[(8, 2), (9, 3)]),   // epoch 2, last slot
            block(24, &[(1, 1000)], &[(7, 1)]),                // epoch 3: outside
        ];
        let refs: Vec<&BlockSummary> = blocks.iter().rev().collect();
        let flows = epoch_flows(&spec, 2, &refs, &[1, 3, 4]);
        assert_eq!(flows.epoch, 2);
        assert_eq!(
            flows.withdrawals,
            vec![ValidatorGwei { validator: 1, gwei: 11 }, ValidatorGwei { validator: 3, gwei: 11 }]
        );
        assert_eq!(
            flows.deposits,
            vec![PubkeyGwei { pubkey: [8; 48], gwei: 2 }, PubkeyGwei { pubkey: [9; 48], gwei: 35 }]
        );
    }

    #[test]
    fn serializes_keys_as_hex() {
        let flows =
            EpochFlows { epoch: 1, withdrawals: vec![], deposits: vec![PubkeyGwei { pubkey: [0xab; 48], gwei: 1 }] };
        let json = serde_json::to_string(&flows).unwrap();
        assert!(json.contains(&format!("\"0x{}\"", "ab".repeat(48))), "{json}");
        assert_eq!(serde_json::from_str::<EpochFlows>(&json).unwrap(), flows);
    }
}
