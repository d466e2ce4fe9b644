//! The exits report's leaves and tree: one leaf per exit the report publishes.
//!
//! A leaf is `(validator index, operator, kind, exit-by epoch)`, OpenZeppelin
//! `StandardMerkleTree` encoding [`EXITS_LEAF_ENCODING`]; leaves are in ascending validator
//! order (one exit per validator per report), which fixes the tree's dump byte for byte.

use crate::error::ExitsError;
use claystack_merkle::{StandardMerkleTree, Value};
use claystack_primitives::{Epoch, ValidatorIndex};
use claystack_rewards::Address;
use serde::{Deserialize, Serialize};

/// Who asked for an exit; its byte is the leaf's `uint8` kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ExitKind {
    /// The protocol asked (liquidity, balance): the operator must exit by the deadline.
    Requested = 0,
    /// The operator asked; the report gives it its exit slot.
    Voluntary = 1,
}

impl ExitKind {
    pub fn byte(self) -> u8 {
        self as u8
    }
}

/// Leaf encoding of the exits tree, in the contract's order: validator index, operator,
/// kind (0 requested, 1 voluntary), exit-by epoch.
pub const EXITS_LEAF_ENCODING: [&str; 4] = ["uint64", "address", "uint8", "uint64"];

/// One exit the report publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitLeaf {
    pub validator: ValidatorIndex,
    /// The operator that must exit it (that asked for it, when voluntary).
    pub operator: Address,
    pub kind: ExitKind,
    /// The epoch by which the validator's beacon exit epoch must come.
    pub exit_by_epoch: Epoch,
}

/// The leaf values of one exit, in [`EXITS_LEAF_ENCODING`] order.
pub fn leaf_values(leaf: &ExitLeaf) -> Vec<Value> {
    vec![
        Value::uint(leaf.validator.into()),
        Value::Address(leaf.operator.0),
        Value::uint(leaf.kind.byte().into()),
        Value::uint(leaf.exit_by_epoch.into()),
    ]
}

/// The leaves in canonical order (ascending validator); an error if a validator has two.
pub fn canonical(mut leaves: Vec<ExitLeaf>) -> Result<Vec<ExitLeaf>, ExitsError> {
    leaves.sort();
    if let Some(w) = leaves.windows(2).find(|w| w[0].validator == w[1].validator) {
        return Err(ExitsError::TwoExits { validator: w[0].validator });
    }
    Ok(leaves)
}

/// The exits tree of `leaves` (in canonical order), or `None` when the report publishes no
/// exit: OpenZeppelin's library refuses a tree without leaves, and so does the contract's
/// proof check, so an empty round has no root to sign.
pub fn tree_of(leaves: &[ExitLeaf]) -> Result<Option<StandardMerkleTree>, ExitsError> {
    if leaves.is_empty() {
        return Ok(None);
    }
    let values = canonical(leaves.to_vec())?.iter().map(leaf_values).collect();
    StandardMerkleTree::of(values, &EXITS_LEAF_ENCODING).map(Some).map_err(ExitsError::Tree)
}

#[cfg(test)]
mod tests {
    use super::*;
    use claystack_merkle::{keccak256, verify};

    fn leaf(validator: u64, kind: ExitKind, exit_by_epoch: u64) -> ExitLeaf {
        ExitLeaf { validator, operator: Address([validator as u8; 20]), kind, exit_by_epoch }
    }

    #[test]
    fn a_leaf_hashes_as_the_contract_hashes_it() {
        // keccak256(bytes.concat(keccak256(abi.encode(uint64 v, address op, uint8 kind, uint64 by)))).
        let l = leaf(7, ExitKind::Voluntary, 1234);
        let mut encoded = Vec::new();
        for word in [7u128, 0, 1, 1234] {
            let mut w = [0u8; 32];
            w[16..].copy_from_slice(&word.to_be_bytes());
            encoded.extend_from_slice(&w);
        }
        encoded[32 + 12..64].copy_from_slice(&[7u8; 20]);
        let expected = keccak256(&keccak256(&encoded));
        let tree = tree_of(&[l]).unwrap().unwrap();
        assert_eq!(tree.leaf(0).unwrap(), expected);
        assert_eq!(tree.root(), expected, "a one-leaf tree's root is its leaf");
    }

    #[test]
    fn the_tree_does_not_depend_on_the_order_of_the_leaves_and_proves_each() {
        let leaves =
            [leaf(3, ExitKind::Requested, 50), leaf(1, ExitKind::Voluntary, 40), leaf(2, ExitKind::Requested, 50)];
        let a = tree_of(&leaves).unwrap().unwrap();
        let mut rev = leaves;
        rev.reverse();
        let b = tree_of(&rev).unwrap().unwrap();
        assert_eq!(serde_json::to_string(&a.dump()).unwrap(), serde_json::to_string(&b.dump()).unwrap());
        for i in 0..a.len() {
            assert!(verify(&a.root(), &a.leaf(i).unwrap(), &a.proof(i).unwrap()));
        }
        // Values are dumped in canonical (validator) order.
        let first: Vec<String> = a.dump().values.iter().map(|v| v.value[0].to_string()).collect();
        assert_eq!(first, vec!["\"1\"", "\"2\"", "\"3\""]);
    }

    #[test]
    fn no_exit_means_no_tree_and_two_exits_of_one_validator_are_refused() {
        assert!(tree_of(&[]).unwrap().is_none());
        let err = tree_of(&[leaf(4, ExitKind::Requested, 9), leaf(4, ExitKind::Voluntary, 9)]).unwrap_err();
        assert_eq!(err.to_string(), "validator 4 has both a voluntary and a requested exit in one report");
    }
}
