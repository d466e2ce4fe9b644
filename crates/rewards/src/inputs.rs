//! What the engine reads for one frame: registry, tallies, facts, money, history.
//!
//! All lists may come in any order; the engine sorts what it needs. Every
//! validator, node and operator is named by id, so nothing depends on position.

use crate::wei::{self, Address};
use claystack_accounting::Tally;
use claystack_primitives::{Epoch, ValidatorIndex};
use serde::{Deserialize, Serialize};

pub type NodeId = u64;
pub type OperatorId = u64;

/// Everything one frame's report is computed from, pinned to the frame's last slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameInputs {
    /// Report number (the previous report's plus one).
    pub number: u64,
    /// First and last beacon epoch of the frame, inclusive.
    pub frame: (Epoch, Epoch),
    pub registry: Registry,
    /// Per validator, its tallies over the frame. Several entries of one validator
    /// (e.g. one per epoch) are summed.
    pub tallies: Vec<Tally>,
    #[serde(default)]
    pub facts: Facts,
    pub source: RewardsSource,
    pub ssv_price: SsvPrice,
    /// Explicit, reasoned adjustments other than the SSV price settlement.
    #[serde(default)]
    pub adjustments: Vec<Adjustment>,
    /// The previous report's carry; `None` for the first report.
    #[serde(default)]
    pub previous: Option<Carry>,
    /// keccak256 of the frame log these inputs were measured with (`claystack-report`), carried
    /// into the report so the signed report hash covers the log; `None` without a log.
    #[serde(default, with = "crate::wei::hash32_opt", skip_serializing_if = "Option::is_none")]
    pub frame_log_hash: Option<[u8; 32]>,
}

/// The registry at the frame's reference slot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    pub operators: Vec<Operator>,
    pub nodes: Vec<Node>,
    pub validators: Vec<Validator>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    pub id: OperatorId,
    /// Where the operator claims; the key of its Merkle leaf.
    pub address: Address,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub id: NodeId,
    pub operator: OperatorId,
    /// A name from `Economics::node_types`.
    pub node_type: String,
    pub registered_epoch: Epoch,
}

/// A protocol validator and the nodes that run it (its cluster).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validator {
    pub index: ValidatorIndex,
    pub nodes: Vec<NodeId>,
}

/// Exit and slashing facts to apply in this frame.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// Slashings final on the beacon chain and not applied in an earlier report.
    #[serde(default)]
    pub slashings: Vec<Slashing>,
    /// Every requested exit whose deadline has passed or whose exit happened in the
    /// frame. Late epochs are counted per frame, so listing one again is safe.
    #[serde(default)]
    pub requested_exits: Vec<RequestedExit>,
    /// Exits operators asked for; no penalty and no score change.
    #[serde(default)]
    pub voluntary_exits: Vec<ExitEvent>,
    /// Exits the beacon chain forced (e.g. after slashing), in this frame.
    #[serde(default)]
    pub forced_exits: Vec<ExitEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slashing {
    pub validator: ValidatorIndex,
    /// The epoch from which its outcome is final: its withdrawable epoch, when measured.
    pub epoch: Epoch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestedExit {
    pub validator: ValidatorIndex,
    /// The last epoch by which the validator's exit epoch must come.
    pub deadline_epoch: Epoch,
    /// The validator's exit epoch on chain, if it has one by the frame's last slot.
    pub exit_epoch: Option<Epoch>,
    /// `deadline + grace` (genesis `exits.rules.grace_epochs`): the last epoch the exit may
    /// still be merely late. Late epochs are charged up to it; an exit not made by it is
    /// *never* and pays the rest of the cap from the bond, in the frame holding the next
    /// epoch. `None` (no exits section in genesis): no grace, late without end. Absent from
    /// the JSON when `None`, so reports without a grace keep their bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_end_epoch: Option<Epoch>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitEvent {
    pub validator: ValidatorIndex,
    pub epoch: Epoch,
}

/// What the protocol's validators earned in the frame, measured by the I/O layer
/// between the previous frame's last slot and this frame's last slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardsSource {
    /// Consensus-layer balance growth of the protocol's validators (net of deposits and
    /// withdrawals); may be negative in an inactivity leak.
    #[serde(with = "wei::signed")]
    pub validator_rewards_wei: i128,
    /// Execution-layer fees and MEV received by the protocol's fee recipient.
    #[serde(with = "wei::unsigned")]
    pub execution_fees_wei: u128,
}

/// SSV token prices, in wei per whole SSV token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsvPrice {
    /// The price the protocol published in advance for this frame.
    #[serde(with = "wei::unsigned")]
    pub agreed_wei_per_ssv: u128,
    /// The price observed for the frame (source fixed by the I/O layer).
    #[serde(with = "wei::unsigned")]
    pub observed_wei_per_ssv: u128,
}

/// An explicit adjustment to one node's reward.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    pub node: NodeId,
    #[serde(with = "wei::signed")]
    pub amount_wei: i128,
    pub reason: String,
}

/// What a report hands to the next one (see `Report::carry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Carry {
    pub number: u64,
    pub last_epoch: Epoch,
    pub operators: Vec<OperatorCarry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorCarry {
    pub address: Address,
    /// Everything the operator may have claimed up to the previous report.
    #[serde(with = "wei::unsigned")]
    pub cumulative_wei: u128,
    /// Every bond penalty up to the previous report.
    #[serde(with = "wei::unsigned")]
    pub cumulative_bond_penalty_wei: u128,
    pub score_bps: u32,
    /// Frames in which the operator's nodes had attestation duties.
    pub frames_run: u64,
}
