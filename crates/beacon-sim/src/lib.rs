//! A deterministic simulated beacon node that serves the standard Beacon API.
//!
//! A [`Scenario`] (one TOML file) fixes a chain completely: validators, who is
//! offline, late, slashed or exiting, which slots are empty, which HTTP answers
//! fail. [`BeaconModel`] is that chain as a pure model (no I/O, no clock) and knows the
//! [`Truth`]: for every tracked validator and epoch, whether its attestation was
//! included and whether in time. It also keeps the chain's money: balances moved by
//! attestation rewards and penalties, slashings, the inactivity leak, the withdrawals
//! sweep and deposits, with [`BeaconModel::consensus_rewards`] as the truth of the
//! rewards an oracle measures from balances. [`serve`] answers Beacon API requests from the
//! chain, so an oracle can be checked end to end against the truth.
//!
//! It scales to mainnet shape (a million validators): per-validator facts are
//! computed, never stored, and an epoch's deviations are planned on demand.
//!
//! What it must never do: pretend to be a real chain. Committees use a cheap
//! permutation instead of the spec's shuffle, keys are not BLS keys, signatures
//! and roots are filler. Everything the oracle needs (duties, blocks, bits,
//! statuses) is consistent; nothing cryptographic is.

mod api;
mod derive;
mod inclusion;
mod ledger;
mod model;
mod money;
mod plan;
mod scenario;
mod server;
mod truth;
mod validators;

pub use api::ApiError;
pub use claystack_primitives::BeaconSpec;
pub use ledger::{effective_balance, Change, Deposit, Entry, Withdrawal, BALANCE_GWEI, EFFECTIVE_BALANCE_INCREMENT};
pub use model::BeaconModel;
pub use scenario::{
    DepositRule, Faults, LateRule, LeakWindow, MissRule, OfflineRule, Rewards, Scenario, ScenarioError, ValidatorEpoch,
    ValidatorSet, ValidatorSpec, WrongBalance, MAX_HEAD_EPOCH, MAX_VALIDATORS,
};
pub use server::{router, serve};
pub use truth::{EpochMoney, EpochTruth, MoneyTruth, TallyTruth, Truth, ValidatorMoney};
pub use validators::{Duty, ValidatorState, EXIT_DELAY, WITHDRAWABILITY_DELAY};
