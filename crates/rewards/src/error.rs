//! Everything that can be wrong with the engine's input, one line each.

use crate::wei::Address;
use thiserror::Error;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum RewardsError {
    /// An economics parameter is out of its range.
    #[error("economics: `{field}` is invalid: {reason}")]
    InvalidEconomics { field: String, reason: String },
    /// The frame is not `frame_epochs` long.
    #[error("frame {first}..={last} is not {expected} epochs long (economics.frame_epochs)")]
    FrameLength { first: u64, last: u64, expected: u64 },
    /// The previous report does not end just before this frame.
    #[error("previous report {prev_number} ends at epoch {prev_last}; report {number} must follow it and start at epoch {expected_first}, not {first}")]
    PreviousNotContiguous { prev_number: u64, prev_last: u64, number: u64, expected_first: u64, first: u64 },
    /// An operator id appears twice in the registry.
    #[error("operator {0} is listed twice in the registry")]
    DuplicateOperator(u64),
    /// An address belongs to two operators.
    #[error("address {0} belongs to two operators in the registry (or twice in the previous report)")]
    DuplicateAddress(Address),
    /// A node id appears twice in the registry.
    #[error("node {0} is listed twice in the registry")]
    DuplicateNode(u64),
    /// A validator index appears twice in the registry.
    #[error("validator {0} is listed twice in the registry")]
    DuplicateValidator(u64),
    /// A node has a type the economics do not define.
    #[error("node {node} has unknown node type `{node_type}` (not in economics.node_types)")]
    UnknownNodeType { node: u64, node_type: String },
    /// A node belongs to an operator missing from the registry.
    #[error("node {node} belongs to operator {operator}, which is not in the registry")]
    UnknownOperator { node: u64, operator: u64 },
    /// A node is registered after the frame.
    #[error("node {node} is registered at epoch {registered}, after the frame's last epoch {last}")]
    NodeFromFuture { node: u64, registered: u64, last: u64 },
    /// A validator is run by a node missing from the registry.
    #[error("validator {validator} is run by node {node}, which is not in the registry")]
    ValidatorOfUnknownNode { validator: u64, node: u64 },
    /// A validator lists the same node twice.
    #[error("validator {validator} lists node {node} twice")]
    NodeTwiceInCluster { validator: u64, node: u64 },
    /// A validator is run by nodes of different types.
    #[error("validator {validator} is run by nodes of different types (`{a}` and `{b}`)")]
    MixedCluster { validator: u64, a: String, b: String },
    /// A validator's cluster has another size than its node type requires.
    #[error("validator {validator} is run by {got} `{node_type}` nodes; that type's cluster_size is {expected}")]
    ClusterSize { validator: u64, node_type: String, expected: u32, got: usize },
    /// A tally for a validator missing from the registry.
    #[error("tallies given for validator {0}, which is not in the registry")]
    TallyForUnknownValidator(u64),
    /// A tally that no frame of this length can produce.
    #[error("tallies of validator {validator} are impossible for a {frame_epochs}-epoch frame: duties {duties}, included {included}, timely {timely}")]
    BadTally { validator: u64, duties: u64, included: u64, timely: u64, frame_epochs: u64 },
    /// A slashing or forced exit of a validator missing from the registry.
    #[error("{kind} of validator {validator}, which is not in the registry")]
    FactForUnknownValidator { kind: &'static str, validator: u64 },
    /// The same fact listed twice for a validator.
    #[error("{kind} of validator {validator} is listed twice")]
    DuplicateFact { kind: &'static str, validator: u64 },
    /// A fact dated outside the frame.
    #[error("{kind} of validator {validator} at epoch {epoch} is outside the frame {first}..={last}")]
    FactOutsideFrame { kind: &'static str, validator: u64, epoch: u64, first: u64, last: u64 },
    /// An adjustment for a node missing from the registry.
    #[error("adjustment for node {0}, which is not in the registry")]
    AdjustmentForUnknownNode(u64),
    /// The explicit adjustments move more than economics allow in one report.
    #[error("explicit adjustments move {total_wei} wei in total (sum of absolute amounts), above economics.adjustment_cap_wei {cap_wei}")]
    AdjustmentsAboveCap { total_wei: u128, cap_wei: u128 },
    /// The agreed SSV price is zero.
    #[error("agreed SSV price is zero; the SSV settlement divides by it")]
    ZeroSsvPrice,
    /// An amount does not fit in u128 wei.
    #[error("arithmetic overflow computing {0}; amounts exceed what u128 wei holds")]
    Overflow(&'static str),
    /// The report fails its own consistency check: a bug in the engine.
    #[error("internal error, the report does not add up: {0}")]
    Internal(String),
}
