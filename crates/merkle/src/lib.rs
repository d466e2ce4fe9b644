//! OpenZeppelin's `StandardMerkleTree` (dump format `standard-v1`) in Rust.
//!
//! The rewards root the committee signs is the root of this tree, and operators claim
//! against it with OpenZeppelin's `MerkleProof`. The tree, proofs and JSON dump are byte for
//! byte those of `@openzeppelin/merkle-tree` 1.0.8, so claim front-ends and auditors can load
//! our dump with the JavaScript library and get the same root and proofs (checked by
//! `tests/openzeppelin.rs` against the real package).
//!
//! Pure: no I/O, no clock, no randomness. Callers read and write dumps themselves.
//!
//! ```
//! use claystack_merkle::{verify, StandardMerkleTree, Value, ADDRESS_AMOUNT_ENCODING};
//!
//! let values = vec![
//!     vec![Value::Address([0x11; 20]), Value::uint(5_000_000_000_000_000_000)],
//!     vec![Value::Address([0x22; 20]), Value::uint(2_500_000_000_000_000_000)],
//!     vec![Value::Address([0x33; 20]), Value::uint(1)],
//! ];
//! let tree = StandardMerkleTree::of(values, &ADDRESS_AMOUNT_ENCODING)?;
//! let proof = tree.proof(1)?; // for the second value given
//! assert!(verify(&tree.root(), &tree.leaf(1)?, &proof));
//!
//! let json = serde_json::to_string(&tree.dump())?; // loads in @openzeppelin/merkle-tree
//! let again = StandardMerkleTree::load(&serde_json::from_str(&json)?)?;
//! assert_eq!(again.root(), tree.root());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod abi;
pub mod error;
pub mod hash;
pub mod tree;

pub use abi::{AbiType, LeafEncoding, Value};
pub use error::MerkleError;
pub use hash::{hash_pair, keccak256, process_proof, verify, Hash};
pub use tree::{
    process_multi_proof, verify_multi_proof, Dump, DumpValue, IndexedValue, MultiProof, StandardMerkleTree, FORMAT,
};

/// The common airdrop-style leaf encoding (an address and an amount in wei); the crate's
/// examples and tests use it. The rewards report's own encoding lives in `claystack-report`.
pub const ADDRESS_AMOUNT_ENCODING: [&str; 2] = ["address", "uint256"];
