//! Decoded beacon data: what the accounting needs from duties, blocks and validators.
//!
//! These are not the Beacon API's JSON shapes (those live in `claystack-beacon`);
//! they are the plain values that remain once a response has been checked.

use crate::bits::{Bitlist, Bitvector};
use serde::{Deserialize, Serialize};

pub type Slot = u64;
pub type Epoch = u64;
pub type ValidatorIndex = u64;
pub type Root = [u8; 32];

/// One attestation duty of one validator in one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AttesterDuty {
    pub validator_index: ValidatorIndex,
    pub slot: Slot,
    pub committee_index: u64,
    pub committee_length: u64,
    pub committees_at_slot: u64,
    /// The validator's position inside its committee.
    pub validator_committee_index: u64,
}

/// An attestation as carried in a block body, reduced to what decides inclusion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// `data.slot`: the slot the attesters were assigned to.
    pub slot: Slot,
    /// `data.index`: the committee before Electra, always 0 from Electra on.
    pub index: u64,
    /// Electra's `committee_bits` (`Bitvector[MAX_COMMITTEES_PER_SLOT]`); `None` before Electra.
    pub committee_bits: Option<Bitvector>,
    pub aggregation_bits: Bitlist,
}

/// The execution payload fields that chain consecutive beacon blocks together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionLink {
    pub block_number: u64,
    pub block_hash: Root,
    pub parent_hash: Root,
}

/// A canonical block, reduced to what the accounting reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSummary {
    pub slot: Slot,
    pub proposer_index: ValidatorIndex,
    pub parent_root: Root,
    /// The fork name from the response's `version` field ("deneb", "electra", ...).
    pub fork: String,
    pub execution: ExecutionLink,
    pub attestations: Vec<Attestation>,
    /// Withdrawals the execution payload paid out (Capella on), in payload order.
    pub withdrawals: Vec<Withdrawal>,
    /// Deposits the block carries: `body.deposits` (the deposit contract bridge) and, from
    /// Electra, `execution_requests.deposits`, in that order.
    pub deposits: Vec<Deposit>,
}

/// One entry of `execution_payload.withdrawals`: gwei paid from a validator's balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Withdrawal {
    /// The chain-wide withdrawal counter.
    pub index: u64,
    pub validator: ValidatorIndex,
    pub amount_gwei: u64,
}

/// A deposit a block carries, keyed by public key: a deposit may come before its
/// validator has an index (a new validator) or be a top-up of an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deposit {
    pub pubkey: [u8; 48],
    pub amount_gwei: u64,
}

/// A validator's record at some state, as `/eth/v1/beacon/states/{id}/validators` gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorInfo {
    pub index: ValidatorIndex,
    pub status: String,
    pub pubkey: String,
    pub balance_gwei: u64,
    pub effective_balance_gwei: u64,
    pub slashed: bool,
    pub activation_epoch: Epoch,
    pub exit_epoch: Epoch,
    pub withdrawable_epoch: Epoch,
}

/// `FAR_FUTURE_EPOCH` of the consensus spec.
pub const FAR_FUTURE_EPOCH: Epoch = u64::MAX;
