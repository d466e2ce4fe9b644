//! The one error type of the crate: each variant names what failed and the value that was wrong.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MerkleError {
    /// OpenZeppelin throws "Expected non-zero number of leaves" for the same input.
    #[error("expected non-zero number of leaves")]
    Empty,
    #[error("leaf encoding is empty")]
    EmptyEncoding,
    #[error("unsupported Solidity type '{0}' in leaf encoding (supported: address, bool, uint8..uint256, bytes32)")]
    UnsupportedType(String),
    #[error("value {index} has {got} fields, the leaf encoding has {expected}")]
    Arity { index: usize, expected: usize, got: usize },
    #[error("value {index}, field {field}: {reason}")]
    InvalidValue { index: usize, field: usize, reason: String },
    #[error("value index {index} out of bounds (tree has {len} values)")]
    IndexOutOfBounds { index: usize, len: usize },
    #[error("unknown format '{0}', expected 'standard-v1'")]
    UnknownFormat(String),
    #[error("tree node {index} is not a 32-byte 0x-hex hash: '{value}'")]
    BadNode { index: usize, value: String },
    #[error("tree has {0} nodes; a standard-v1 tree has an odd number (2n-1) of nodes")]
    BadTreeLength(usize),
    #[error("tree node {index} is not the hash of its children")]
    NodeMismatch { index: usize },
    #[error("value {index} has treeIndex {tree_index}, which is not a leaf of a {len}-node tree")]
    NotALeaf { index: usize, tree_index: usize, len: usize },
    #[error("value {index}: its leaf hash differs from tree node {tree_index}")]
    LeafMismatch { index: usize, tree_index: usize },
    #[error("tree has {leaves} leaves but the dump lists {values} values")]
    ValueCount { leaves: usize, values: usize },
    #[error("values {first} and {second} both claim tree node {tree_index}")]
    SharedLeaf { first: usize, second: usize, tree_index: usize },
    #[error("value {0} is listed twice in a multi-proof request")]
    DuplicateIndex(usize),
    #[error("malformed multi-proof: {leaves} leaves, {proof} proof hashes, {flags} flags")]
    BadMultiProof { leaves: usize, proof: usize, flags: usize },
}
