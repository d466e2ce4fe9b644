//! `StandardMerkleTree` exactly as `@openzeppelin/merkle-tree` 1.0.8 builds it.
//!
//! The tree is a complete binary tree in heap layout: node `i` has children `2i+1` and
//! `2i+2`, so `n` leaves make `2n-1` nodes with the leaves in the last `n` slots. The leaf
//! hashes are sorted ascending (a stable sort: equal values keep their input order) and the
//! k-th smallest is put at slot `2n-2-k`, i.e. the leaves sit in reverse order at the end.
//! Each value remembers its slot (`treeIndex`); a proof is the siblings from that slot up.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::abi::{LeafEncoding, Value};
use crate::error::MerkleError;
use crate::hash::{from_hex, hash_pair, leaf_hash_of_encoded, process_proof, to_hex, Hash};

/// The `format` field of a dump.
pub const FORMAT: &str = "standard-v1";

/// One input value and the tree slot holding its leaf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedValue {
    pub value: Vec<Value>,
    pub tree_index: usize,
}

/// A built tree. Values keep their input order; `proof(i)` is for the i-th value given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandardMerkleTree {
    encoding: LeafEncoding,
    tree: Vec<Hash>,
    values: Vec<IndexedValue>,
}

/// The JSON dump, field for field as OpenZeppelin's `dump()` writes it and `load()` reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dump {
    pub format: String,
    pub leaf_encoding: Vec<String>,
    pub tree: Vec<String>,
    pub values: Vec<DumpValue>,
}

/// A proof of several values at once, for OpenZeppelin's `MerkleProof.multiProofVerify`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiProof {
    /// The proven values' indices, in the order their leaves must be passed on chain
    /// (descending tree slot, as OpenZeppelin orders them).
    pub value_indices: Vec<usize>,
    pub leaves: Vec<Hash>,
    pub proof: Vec<Hash>,
    pub proof_flags: Vec<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DumpValue {
    pub value: Vec<Json>,
    pub tree_index: usize,
}

fn left_child(i: usize) -> usize {
    2 * i + 1
}

fn is_leaf(len: usize, i: usize) -> bool {
    i < len && left_child(i) >= len
}

fn sibling(i: usize) -> usize {
    if i % 2 == 1 {
        i + 1
    } else {
        i - 1
    }
}

fn parent(i: usize) -> usize {
    (i - 1) / 2
}

impl StandardMerkleTree {
    /// `StandardMerkleTree.of(values, leafEncoding)` with the default `sortLeaves: true`.
    pub fn of<S: AsRef<str>>(values: Vec<Vec<Value>>, encoding: &[S]) -> Result<Self, MerkleError> {
        let encoding = LeafEncoding::new(encoding)?;
        if values.is_empty() {
            return Err(MerkleError::Empty);
        }
        let mut buf = Vec::with_capacity(32 * encoding.types().len());
        let mut hashes = Vec::with_capacity(values.len());
        for (index, value) in values.iter().enumerate() {
            encoding.encode_into(index, value, &mut buf)?;
            hashes.push(leaf_hash_of_encoded(&buf));
        }

        // Stable, like JavaScript's Array.prototype.sort: duplicates keep their input order,
        // which decides which of two identical values gets which slot.
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| hashes[a].cmp(&hashes[b]));

        let n = values.len();
        let len = 2 * n - 1;
        let mut tree = vec![[0u8; 32]; len];
        let mut tree_index = vec![0usize; n];
        for (k, &value_index) in order.iter().enumerate() {
            tree[len - 1 - k] = hashes[value_index];
            tree_index[value_index] = len - 1 - k;
        }
        for i in (0..len - n).rev() {
            tree[i] = hash_pair(&tree[2 * i + 1], &tree[2 * i + 2]);
        }

        let values = values.into_iter().zip(tree_index).map(|(value, tree_index)| IndexedValue { value, tree_index });
        Ok(Self { encoding, tree, values: values.collect() })
    }

    pub fn root(&self) -> Hash {
        self.tree[0]
    }

    /// Number of values (= leaves); never zero.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Always false: an empty tree cannot be built. Present because `len` is.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn leaf_encoding(&self) -> &LeafEncoding {
        &self.encoding
    }

    /// All nodes in heap layout, root first.
    pub fn nodes(&self) -> &[Hash] {
        &self.tree
    }

    pub fn values(&self) -> &[IndexedValue] {
        &self.values
    }

    /// The leaf hash of the value at `value_index`.
    pub fn leaf(&self, value_index: usize) -> Result<Hash, MerkleError> {
        Ok(self.tree[self.indexed(value_index)?.tree_index])
    }

    /// The index of the first value equal to `value`, as OpenZeppelin's leaf lookup finds it.
    pub fn find(&self, value: &[Value]) -> Option<usize> {
        self.values.iter().position(|v| v.value == value)
    }

    /// The proof for the value at `value_index` (input order), leaf's sibling first: what
    /// `MerkleProof.verify(proof, root, leaf)` takes on chain.
    pub fn proof(&self, value_index: usize) -> Result<Vec<Hash>, MerkleError> {
        let mut i = self.indexed(value_index)?.tree_index;
        let mut proof = Vec::with_capacity(usize::BITS as usize - self.tree.len().leading_zeros() as usize);
        while i > 0 {
            proof.push(self.tree[sibling(i)]);
            i = parent(i);
        }
        debug_assert_eq!(process_proof(&self.tree[self.values[value_index].tree_index], &proof), self.root());
        Ok(proof)
    }

    /// `getMultiProof(indices)`: one proof for the values at `value_indices` (input order).
    pub fn multi_proof(&self, value_indices: &[usize]) -> Result<MultiProof, MerkleError> {
        let mut slots = Vec::with_capacity(value_indices.len());
        for &i in value_indices {
            slots.push((self.indexed(i)?.tree_index, i));
        }
        slots.sort_unstable_by(|a, b| b.cmp(a));
        if let Some(w) = slots.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(MerkleError::DuplicateIndex(w[0].1));
        }
        let mut queue: VecDeque<usize> = slots.iter().map(|&(slot, _)| slot).collect();
        let mut proof = Vec::new();
        let mut proof_flags = Vec::new();
        while let Some(&j) = queue.front() {
            if j == 0 {
                break;
            }
            queue.pop_front();
            let s = sibling(j);
            if queue.front() == Some(&s) {
                proof_flags.push(true);
                queue.pop_front();
            } else {
                proof_flags.push(false);
                proof.push(self.tree[s]);
            }
            queue.push_back(parent(j));
        }
        if slots.is_empty() {
            proof.push(self.root());
        }
        Ok(MultiProof {
            value_indices: slots.iter().map(|&(_, i)| i).collect(),
            leaves: slots.iter().map(|&(slot, _)| self.tree[slot]).collect(),
            proof,
            proof_flags,
        })
    }

    /// Whether `proof` proves `value` against this tree's root, hashed with this tree's encoding.
    pub fn verify_value(&self, value: &[Value], proof: &[Hash]) -> Result<bool, MerkleError> {
        Ok(process_proof(&self.encoding.leaf_hash(value)?, proof) == self.root())
    }

    pub fn dump(&self) -> Dump {
        Dump {
            format: FORMAT.to_string(),
            leaf_encoding: self.encoding.names().to_vec(),
            tree: self.tree.iter().map(|h| to_hex(h)).collect(),
            values: self
                .values
                .iter()
                .map(|v| DumpValue { value: v.value.iter().map(Value::to_json).collect(), tree_index: v.tree_index })
                .collect(),
        }
    }

    /// `StandardMerkleTree.load(dump)`: accepts any consistent standard-v1 tree, sorted or not,
    /// and refuses one whose nodes are not the hashes of their children, whose values do not
    /// hash to their leaves, or (stricter than OpenZeppelin, which would let such a leaf go
    /// unexplained) whose leaves and values are not in one-to-one correspondence.
    pub fn load(dump: &Dump) -> Result<Self, MerkleError> {
        if dump.format != FORMAT {
            return Err(MerkleError::UnknownFormat(dump.format.clone()));
        }
        let encoding = LeafEncoding::new(&dump.leaf_encoding)?;
        let tree = dump
            .tree
            .iter()
            .enumerate()
            .map(|(index, s)| from_hex::<32>(s).ok_or_else(|| MerkleError::BadNode { index, value: s.clone() }))
            .collect::<Result<Vec<Hash>, _>>()?;
        let len = tree.len();
        if len == 0 {
            return Err(MerkleError::Empty);
        }
        if len % 2 == 0 {
            return Err(MerkleError::BadTreeLength(len));
        }
        for i in 0..len / 2 {
            if tree[i] != hash_pair(&tree[2 * i + 1], &tree[2 * i + 2]) {
                return Err(MerkleError::NodeMismatch { index: i });
            }
        }

        let leaves = len / 2 + 1;
        if dump.values.len() != leaves {
            return Err(MerkleError::ValueCount { leaves, values: dump.values.len() });
        }
        let mut owner: Vec<Option<usize>> = vec![None; leaves];
        let mut buf = Vec::with_capacity(32 * encoding.types().len());
        let mut values = Vec::with_capacity(leaves);
        for (index, dv) in dump.values.iter().enumerate() {
            let tree_index = dv.tree_index;
            if !is_leaf(len, tree_index) {
                return Err(MerkleError::NotALeaf { index, tree_index, len });
            }
            if let Some(first) = owner[tree_index - (len - leaves)].replace(index) {
                return Err(MerkleError::SharedLeaf { first, second: index, tree_index });
            }
            let value = encoding.value_from_json(index, &dv.value)?;
            encoding.encode_into(index, &value, &mut buf)?;
            if leaf_hash_of_encoded(&buf) != tree[tree_index] {
                return Err(MerkleError::LeafMismatch { index, tree_index });
            }
            values.push(IndexedValue { value, tree_index });
        }
        Ok(Self { encoding, tree, values })
    }

    fn indexed(&self, value_index: usize) -> Result<&IndexedValue, MerkleError> {
        self.values.get(value_index).ok_or(MerkleError::IndexOutOfBounds { index: value_index, len: self.values.len() })
    }
}

/// `MerkleProof.processMultiProof`: the root a multi-proof leads to, or why it is malformed.
pub fn process_multi_proof(leaves: &[Hash], proof: &[Hash], proof_flags: &[bool]) -> Result<Hash, MerkleError> {
    let bad = || MerkleError::BadMultiProof { leaves: leaves.len(), proof: proof.len(), flags: proof_flags.len() };
    let from_proof = proof_flags.iter().filter(|f| !**f).count();
    if proof.len() < from_proof || leaves.len() + proof.len() != proof_flags.len() + 1 {
        return Err(bad());
    }
    let mut queue: VecDeque<Hash> = leaves.iter().copied().collect();
    let mut siblings = proof.iter();
    for &flag in proof_flags {
        let a = queue.pop_front().ok_or_else(bad)?;
        let b = if flag { queue.pop_front() } else { siblings.next().copied() }.ok_or_else(bad)?;
        queue.push_back(hash_pair(&a, &b));
    }
    queue.pop_back().or_else(|| siblings.next().copied()).ok_or_else(bad)
}

/// `MerkleProof.multiProofVerify`.
pub fn verify_multi_proof(root: &Hash, leaves: &[Hash], proof: &[Hash], proof_flags: &[bool]) -> bool {
    process_multi_proof(leaves, proof, proof_flags).is_ok_and(|r| r == *root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::verify;

    fn addr(byte: u8) -> Value {
        Value::Address([byte; 20])
    }

    fn rewards_tree(values: &[(u8, u128)]) -> StandardMerkleTree {
        let values = values.iter().map(|&(a, wei)| vec![addr(a), Value::uint(wei)]).collect();
        StandardMerkleTree::of(values, &["address", "uint256"]).unwrap()
    }

    /// Checked with @openzeppelin/merkle-tree 1.0.8 (StandardMerkleTree.of(...).root).
    #[test]
    fn known_openzeppelin_root() {
        let t = rewards_tree(&[(0x11, 5_000_000_000_000_000_000), (0x22, 2_500_000_000_000_000_000), (0x33, 1)]);
        assert_eq!(to_hex(&t.root()), "0xd673f832e8ae578ea16450035956e30f27212b91d6cd26edbef07c90546302ff");
        for i in 0..t.len() {
            assert!(verify(&t.root(), &t.leaf(i).unwrap(), &t.proof(i).unwrap()));
        }
    }

    #[test]
    fn empty_tree_is_an_error() {
        assert_eq!(StandardMerkleTree::of(vec![], &["address", "uint256"]), Err(MerkleError::Empty));
        assert_eq!(MerkleError::Empty.to_string(), "expected non-zero number of leaves");
    }

    #[test]
    fn one_leaf_is_its_own_root() {
        let t = rewards_tree(&[(0x11, 7)]);
        assert_eq!(t.nodes().len(), 1);
        assert_eq!(t.root(), t.leaf(0).unwrap());
        assert!(t.proof(0).unwrap().is_empty());
    }

    #[test]
    fn duplicates_get_distinct_leaves_in_input_order() {
        let t = rewards_tree(&[(0x11, 7), (0x11, 7), (0x22, 1)]);
        assert_ne!(t.values()[0].tree_index, t.values()[1].tree_index);
        // The stable sort puts the first duplicate at the higher slot (leaves are reversed).
        assert!(t.values()[0].tree_index > t.values()[1].tree_index);
        assert_eq!(t.leaf(0), t.leaf(1));
        for i in 0..3 {
            assert!(t.verify_value(&t.values()[i].value, &t.proof(i).unwrap()).unwrap());
        }
    }

    #[test]
    fn wrong_arity_or_type_is_refused() {
        let err = StandardMerkleTree::of(vec![vec![addr(1)]], &["address", "uint256"]).unwrap_err();
        assert_eq!(err, MerkleError::Arity { index: 0, expected: 2, got: 1 });
        let err = StandardMerkleTree::of(vec![vec![Value::uint(1), addr(1)]], &["address", "uint256"]).unwrap_err();
        assert!(matches!(err, MerkleError::InvalidValue { index: 0, field: 0, .. }), "{err}");
        assert!(StandardMerkleTree::of(vec![vec![addr(1)]], &["string"]).is_err());
    }

    #[test]
    fn multi_proofs_verify() {
        let t = rewards_tree(&[(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (5, 5), (6, 6)]);
        for set in [vec![], vec![0], vec![1, 3], vec![6, 0, 2, 4], vec![4, 5], (0..7).collect()] {
            let m = t.multi_proof(&set).unwrap();
            assert!(verify_multi_proof(&t.root(), &m.leaves, &m.proof, &m.proof_flags), "{set:?}");
            let mut sorted = m.value_indices.clone();
            sorted.sort();
            let mut expected = set.clone();
            expected.sort();
            assert_eq!(sorted, expected);
        }
        assert_eq!(t.multi_proof(&[2, 2]), Err(MerkleError::DuplicateIndex(2)));
        let m = t.multi_proof(&[1, 3]).unwrap();
        assert!(!verify_multi_proof(&t.root(), &m.leaves[..1], &m.proof, &m.proof_flags));
        assert!(!verify_multi_proof(&t.root(), &[m.leaves[1], m.leaves[0]], &m.proof, &m.proof_flags));
    }

    #[test]
    fn proof_index_out_of_bounds() {
        let t = rewards_tree(&[(1, 1)]);
        assert_eq!(t.proof(1), Err(MerkleError::IndexOutOfBounds { index: 1, len: 1 }));
    }

    #[test]
    fn dump_load_round_trip() {
        let t = rewards_tree(&[(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]);
        let json = serde_json::to_string(&t.dump()).unwrap();
        assert!(json.starts_with(r#"{"format":"standard-v1","leafEncoding":["address","uint256"],"tree":["0x"#));
        let loaded = StandardMerkleTree::load(&serde_json::from_str(&json).unwrap()).unwrap();
        assert_eq!(loaded, t);
    }

    #[test]
    fn load_refuses_inconsistent_dumps() {
        let t = rewards_tree(&[(1, 1), (2, 2), (3, 3)]);
        let good = t.dump();

        let mut d = good.clone();
        d.format = "simple-v1".into();
        assert_eq!(StandardMerkleTree::load(&d), Err(MerkleError::UnknownFormat("simple-v1".into())));

        let mut d = good.clone();
        d.tree[0] = to_hex(&[0u8; 32]);
        assert_eq!(StandardMerkleTree::load(&d), Err(MerkleError::NodeMismatch { index: 0 }));

        let mut d = good.clone();
        d.values[0].value[1] = Json::from("2");
        assert!(matches!(StandardMerkleTree::load(&d), Err(MerkleError::LeafMismatch { index: 0, .. })));

        let mut d = good.clone();
        d.values[0].tree_index = 0;
        assert!(matches!(StandardMerkleTree::load(&d), Err(MerkleError::NotALeaf { index: 0, .. })));

        let mut d = good.clone();
        d.values[1].tree_index = d.values[0].tree_index;
        assert!(matches!(StandardMerkleTree::load(&d), Err(MerkleError::SharedLeaf { first: 0, second: 1, .. })));

        let mut d = good.clone();
        d.values.pop();
        assert_eq!(StandardMerkleTree::load(&d), Err(MerkleError::ValueCount { leaves: 3, values: 2 }));

        let mut d = good.clone();
        d.tree.pop();
        assert_eq!(StandardMerkleTree::load(&d), Err(MerkleError::BadTreeLength(4)));

        let mut d = good;
        d.tree[1] = "0x1234".into();
        assert!(matches!(StandardMerkleTree::load(&d), Err(MerkleError::BadNode { index: 1, .. })));
    }
}
