//! Decoded answers of the endpoints that have no counterpart in `claystack-primitives`.

use claystack_primitives::{AttesterDuty, Epoch, Root, Slot, ValidatorIndex};

/// `/eth/v1/beacon/genesis`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeaconGenesis {
    /// Unix seconds of slot 0.
    pub genesis_time: u64,
    pub genesis_validators_root: Root,
    pub genesis_fork_version: [u8; 4],
}

/// An epoch boundary block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub epoch: Epoch,
    pub root: Root,
}

/// `/eth/v1/beacon/states/{state_id}/finality_checkpoints`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinalityCheckpoints {
    pub previous_justified: Checkpoint,
    pub current_justified: Checkpoint,
    pub finalized: Checkpoint,
}

/// `/eth/v1/beacon/headers/{block_id}`: a block header and the block's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    pub root: Root,
    pub slot: Slot,
    pub proposer_index: ValidatorIndex,
    pub parent_root: Root,
    pub state_root: Root,
    pub body_root: Root,
}

/// `/eth/v1/validator/duties/attester/{epoch}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttesterDuties {
    /// The block root the duties depend on; they change only if this root does.
    pub dependent_root: Root,
    /// In the node's order, chunk after chunk; validators not active in the epoch are absent.
    pub duties: Vec<AttesterDuty>,
}

/// One beacon committee, `/eth/v1/beacon/states/{state_id}/committees`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeaconCommittee {
    pub index: u64,
    pub slot: Slot,
    /// Members in committee order (aggregation bit `i` is `validators[i]`).
    pub validators: Vec<ValidatorIndex>,
}

/// `/eth/v1/node/syncing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncStatus {
    pub head_slot: Slot,
    pub sync_distance: u64,
    pub is_syncing: bool,
    /// Absent in older clients; `false` then.
    pub is_optimistic: bool,
    /// Absent in older clients; `false` then.
    pub el_offline: bool,
}
