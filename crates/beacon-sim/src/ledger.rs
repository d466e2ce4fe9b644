//! The data of the money model (`crate::money`): what a block withdraws and deposits, the
//! changes a validator's balance goes through, and the scenario's money facts resolved
//! once, with the caches the model fills. Plain data; nothing here refers to the model.

use crate::scenario::Scenario;
use claystack_primitives::BeaconSpec;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Gwei every validator holds at genesis, and `MAX_EFFECTIVE_BALANCE` (`0x01` credentials).
pub const BALANCE_GWEI: u64 = 32_000_000_000;
/// `EFFECTIVE_BALANCE_INCREMENT`: 1 ETH.
pub const EFFECTIVE_BALANCE_INCREMENT: u64 = 1_000_000_000;
/// `HYSTERESIS_QUOTIENT = 4`, `HYSTERESIS_DOWNWARD_MULTIPLIER = 1`: a balance may fall
/// a quarter ETH below its effective balance before the effective balance drops.
const HYSTERESIS_DOWNWARD_GWEI: u64 = EFFECTIVE_BALANCE_INCREMENT / 4;

/// One withdrawal of a block's `execution_payload.withdrawals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Withdrawal {
    /// Withdrawal index: unique, consecutive from 0 over the whole chain.
    pub index: u64,
    pub validator: u64,
    /// The execution address of the validator's `0x01` withdrawal credentials.
    pub address: [u8; 20],
    pub amount_gwei: u64,
}

/// One deposit a block carries (Electra: `execution_requests.deposits`; before: `body.deposits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deposit {
    /// Deposit contract index: genesis deposits are `0..validators`, then scenario order.
    pub index: u64,
    pub validator: u64,
    pub pubkey: [u8; 48],
    pub amount_gwei: u64,
}

/// What moved a walked validator's balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The attestation delta of this epoch (reward, or penalty with the leak's extra).
    Attestation { epoch: u64 },
    /// The slashing's initial penalty, in the block that carries the slashing.
    SlashingInitial,
    /// The correlation penalty, halfway through the slashings vector.
    SlashingCorrelation,
    /// A withdrawal (partial or full) by the sweep.
    Withdrawal,
    /// A deposit.
    Deposit,
}

impl Change {
    /// Whether this is a consensus-layer reward or penalty (not money moved in or out).
    pub fn is_reward(self) -> bool {
        matches!(self, Change::Attestation { .. } | Change::SlashingInitial | Change::SlashingCorrelation)
    }
}

/// One balance change of a walked validator, in the post-state of `slot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub slot: u64,
    pub change: Change,
    /// Signed gwei actually applied (a penalty is clipped at a zero balance).
    pub delta: i64,
    /// The balance after it.
    pub balance: u64,
}

/// A walked validator's balance history through slot `through`, ascending.
#[derive(Debug)]
pub(crate) struct Ledger {
    pub through: u64,
    pub entries: Vec<Entry>,
}

impl Ledger {
    pub fn balance_at(&self, slot: u64) -> u64 {
        let i = self.entries.partition_point(|e| e.slot <= slot);
        if i == 0 {
            BALANCE_GWEI
        } else {
            self.entries[i - 1].balance
        }
    }
}

/// The scenario's money facts, resolved once, and the caches of walked ledgers and
/// withdrawal counts.
#[derive(Debug)]
pub(crate) struct Money {
    /// `[from, to]` leak windows, merged and ascending.
    pub leaks: Vec<(u64, u64)>,
    /// Deposits by block slot (then scenario order).
    pub deposits: Vec<(u64, Deposit)>,
    /// `(slashing block slot, validator, slashing epoch)`, ascending.
    pub slashings: Vec<(u64, u64, u64)>,
    /// Validators swept per block (`MAX_WITHDRAWALS_PER_PAYLOAD`, at most all).
    pub sweep_k: u64,
    /// Blocks in one sweep round: `ceil(validators / sweep_k)`.
    pub sweep_period: u64,
    pub slashings_vector: u64,
    pub ledgers: Mutex<HashMap<u64, Arc<Ledger>>>,
    pub withdrawal_counts: Mutex<WithdrawalCounts>,
}

/// How many withdrawals each block made, for withdrawal indices: counted whole epochs
/// at a time, from genesis, and kept (one byte a slot).
#[derive(Debug)]
pub(crate) struct WithdrawalCounts {
    /// Withdrawals in blocks before the first slot of epoch `i`; one more entry than
    /// epochs counted.
    pub before_epoch: Vec<u64>,
    /// Withdrawals of the block at each counted slot (at most `sweep_k` <= 16).
    pub at_slot: Vec<u8>,
}

impl Money {
    /// Resolves the scenario's deposits, slashings and leaks; `first_block_from` gives the
    /// first slot at or after a slot that has a block.
    pub fn new(s: &Scenario, spec: &BeaconSpec, first_block_from: impl Fn(u64) -> u64) -> Money {
        let mainnet = s.preset == "mainnet";
        let mut windows: Vec<(u64, u64)> = s.leak.iter().map(|l| (l.from_epoch, l.to_epoch)).collect();
        windows.sort_unstable();
        let mut leaks: Vec<(u64, u64)> = Vec::new();
        for (from, to) in windows {
            match leaks.last_mut() {
                Some(last) if from <= last.1.saturating_add(1) => last.1 = last.1.max(to),
                _ => leaks.push((from, to)),
            }
        }
        let mut deposits: Vec<(u64, Deposit)> = s
            .deposit
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let slot = first_block_from(spec.first_slot(d.epoch).max(1));
                let deposit = Deposit {
                    index: s.validators + i as u64,
                    validator: d.validator,
                    pubkey: crate::derive::pubkey(s.seed, d.validator),
                    amount_gwei: d.gwei,
                };
                (slot, deposit)
            })
            .collect();
        deposits.sort_by_key(|(slot, d)| (*slot, d.index));
        let mut slashings: Vec<(u64, u64, u64)> =
            s.slashing.iter().map(|e| (first_block_from(spec.first_slot(e.epoch)), e.validator, e.epoch)).collect();
        slashings.sort_unstable();
        let sweep_k = max_withdrawals_per_payload(mainnet).min(s.validators);
        Money {
            leaks,
            deposits,
            slashings,
            sweep_k,
            sweep_period: s.validators.div_ceil(sweep_k),
            slashings_vector: if mainnet { 8192 } else { 64 },
            ledgers: Mutex::new(HashMap::new()),
            withdrawal_counts: Mutex::new(WithdrawalCounts { before_epoch: vec![0], at_slot: Vec::new() }),
        }
    }

    /// The merged leak window holding `epoch`, by number.
    pub fn leak_of(&self, epoch: u64) -> Option<usize> {
        let i = self.leaks.partition_point(|w| w.1 < epoch);
        (i < self.leaks.len() && self.leaks[i].0 <= epoch).then_some(i)
    }

    /// Leak epochs in `0..=last`.
    pub fn leak_epochs_through(&self, last: u64) -> u64 {
        self.leaks.iter().take_while(|w| w.0 <= last).map(|w| w.1.min(last) - w.0 + 1).sum()
    }
}

/// `MAX_WITHDRAWALS_PER_PAYLOAD` of the preset: validators swept per block.
pub(crate) const fn max_withdrawals_per_payload(mainnet: bool) -> u64 {
    if mainnet {
        16
    } else {
        4
    }
}

/// `effective_balance` as a stateless rule: whole ETH, at most 32, and a balance may dip
/// a quarter ETH below a whole ETH before the effective balance drops to the ETH below.
/// It equals the spec's hysteresis for every balance that only went down from 32 ETH.
pub fn effective_balance(balance: u64) -> u64 {
    let whole = (balance + HYSTERESIS_DOWNWARD_GWEI) / EFFECTIVE_BALANCE_INCREMENT * EFFECTIVE_BALANCE_INCREMENT;
    whole.min(BALANCE_GWEI)
}
