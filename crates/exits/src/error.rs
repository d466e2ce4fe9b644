//! Everything that can be wrong with the inputs of an exits round, one line each.

use claystack_primitives::ValidatorIndex;
use thiserror::Error;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ExitsError {
    /// A rule of genesis is out of its range.
    #[error("exit rules: `{field}` is invalid: {reason}")]
    InvalidRule { field: &'static str, reason: String },
    /// A target share is above 100%, or a dimension's shares do not add up to 100%.
    #[error("exit targets: {dimension} {reason}")]
    InvalidTarget { dimension: &'static str, reason: String },
    /// One validator appears twice in a list that must name each validator once.
    #[error("validator {validator} is listed twice in {list}")]
    DuplicateValidator { list: &'static str, validator: ValidatorIndex },
    /// A performance score above 10000 bps.
    #[error("validator {validator} has score {score_bps} bps, above the 10000 maximum")]
    InvalidScore { validator: ValidatorIndex, score_bps: u32 },
    /// Two voluntary exit requests claim the same position in the execution chain.
    #[error("two voluntary exit requests (validators {first} and {second}) have the same position: block {block}, log index {log_index}")]
    DuplicateLogPosition { block: u64, log_index: u64, first: ValidatorIndex, second: ValidatorIndex },
    /// A validator would get two exits in one report.
    #[error("validator {validator} has both a voluntary and a requested exit in one report")]
    TwoExits { validator: ValidatorIndex },
    /// The exits tree could not be built (a leaf that does not fit its Solidity type).
    #[error("building the exits tree")]
    Tree(#[source] claystack_merkle::MerkleError),
    /// A voluntary exit request names a validator that is not a protocol validator.
    #[error("validator {validator} in {list} is not among the protocol's validators")]
    UnknownValidator { list: &'static str, validator: ValidatorIndex },
    /// An amount or epoch does not fit its integer type.
    #[error("overflow computing {0}")]
    Overflow(&'static str),
}
