//! The one error type of the crate: each variant names what failed and the value that was wrong.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MerkleError {
    /// OpenZeppelin throws "Expected non-zero number of leaves" for the same input.
    #[error("expected non-zero number of leaves")]
    Empty,
    /// The leaf encoding lists no Solidity type.
    #[error("leaf encoding is empty")]
    EmptyEncoding,
    /// The leaf encoding names a Solidity type this tree does not encode.
    #[error("unsupported Solidity type '{0}' in leaf encoding (supported: address, bool, uint8..uint256, bytes32)")]
    UnsupportedType(String),
    /// A value has another number of fields than the leaf encoding.
    #[error("value {index} has {got} fields, the leaf encoding has {expected}")]
    Arity { index: usize, expected: usize, got: usize },
    /// A field does not fit its Solidity type.
    #[error("value {index}, field {field}: {reason}")]
    InvalidValue { index: usize, field: usize, reason: String },
    /// A value index past the end of the tree's values.
    #[error("value index {index} out of bounds (tree has {len} values)")]
    IndexOutOfBounds { index: usize, len: usize },
    /// A tree dump of another format than `standard-v1`.
    #[error("unknown format '{0}', expected 'standard-v1'")]
    UnknownFormat(String),
    /// A tree dump node that is not a 32-byte hash.
    #[error("tree node {index} is not a 32-byte 0x-hex hash: '{value}'")]
    BadNode { index: usize, value: String },
    /// A tree dump with an even number of nodes.
    #[error("tree has {0} nodes; a standard-v1 tree has an odd number (2n-1) of nodes")]
    BadTreeLength(usize),
    /// A tree dump node that is not the hash of its children.
    #[error("tree node {index} is not the hash of its children")]
    NodeMismatch { index: usize },
    /// A tree dump value pointing at an inner node.
    #[error("value {index} has treeIndex {tree_index}, which is not a leaf of a {len}-node tree")]
    NotALeaf { index: usize, tree_index: usize, len: usize },
    /// A tree dump value whose leaf hash is not its node.
    #[error("value {index}: its leaf hash differs from tree node {tree_index}")]
    LeafMismatch { index: usize, tree_index: usize },
    /// A tree dump with more or fewer values than leaves.
    #[error("tree has {leaves} leaves but the dump lists {values} values")]
    ValueCount { leaves: usize, values: usize },
    /// Two tree dump values pointing at the same leaf.
    #[error("values {first} and {second} both claim tree node {tree_index}")]
    SharedLeaf { first: usize, second: usize, tree_index: usize },
    /// A multi-proof request naming a value twice.
    #[error("value {0} is listed twice in a multi-proof request")]
    DuplicateIndex(usize),
    /// A multi-proof whose leaves, hashes and flags do not add up.
    #[error("malformed multi-proof: {leaves} leaves, {proof} proof hashes, {flags} flags")]
    BadMultiProof { leaves: usize, proof: usize, flags: usize },
}
