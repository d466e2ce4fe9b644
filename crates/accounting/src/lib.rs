//! Attestation accounting: which attestation duties of the tracked validators were
//! included on chain, one finalized beacon epoch at a time.
//!
//! Pure: it takes the epoch's duties and the canonical blocks that may include
//! them, and returns per-validator tallies. It never fetches, stores, or reads a
//! clock; `claystack-sync` does that around it. Everything here is deterministic
//! and independent of input order.
//!
//! The rule, following the consensus spec (Deneb's EIP-7045 inclusion window):
//! a duty at slot `s` is *included* when a block at slot `b`, `s < b <=` the last
//! slot of the epoch after `s`'s, carries an attestation with `data.slot == s`
//! covering the duty's committee with the validator's aggregation bit set; it is
//! *timely* when the earliest such `b - s <= integer_sqrt(SLOTS_PER_EPOCH)` (the
//! timely-source limit). The same vote included twice counts once.
//!
//! It also sums each epoch's balance flows ([`epoch_flows`]): withdrawals to tracked
//! validators and deposits, from which the rewards are measured.

mod flows;
mod layout;
mod tally;

pub use flows::{epoch_flows, EpochFlows, PubkeyGwei, ValidatorGwei};
pub use layout::{solve_active_count, ActiveCount, Layout};
pub use tally::{account_epoch, AccountingError, EpochTally, Tally};
