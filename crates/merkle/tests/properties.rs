//! Invariants of the tree, for arbitrary rewards leaves (duplicates included).

use claystack_merkle::{verify, verify_multi_proof, Hash, StandardMerkleTree, Value, ADDRESS_AMOUNT_ENCODING};
use proptest::prelude::*;

fn leaf() -> impl Strategy<Value = Vec<Value>> {
    // A small address space makes duplicate values common.
    (0u8..8, any::<[u8; 32]>(), any::<bool>()).prop_map(|(a, wei, small)| {
        let amount = if small { Value::uint(u128::from(wei[0])) } else { Value::Uint256(wei) };
        vec![Value::Address([a; 20]), amount]
    })
}

fn leaves() -> impl Strategy<Value = Vec<Vec<Value>>> {
    prop::collection::vec(leaf(), 1..70)
}

fn build(values: Vec<Vec<Value>>) -> StandardMerkleTree {
    StandardMerkleTree::of(values, &ADDRESS_AMOUNT_ENCODING).unwrap()
}

proptest! {
    #[test]
    fn every_proof_verifies(values in leaves()) {
        let tree = build(values);
        for i in 0..tree.len() {
            let proof = tree.proof(i).unwrap();
            prop_assert!(verify(&tree.root(), &tree.leaf(i).unwrap(), &proof));
            prop_assert!(tree.verify_value(&tree.values()[i].value, &proof).unwrap());
        }
    }

    #[test]
    fn tampered_value_or_root_does_not_verify(values in leaves(), pick in any::<prop::sample::Index>(), bit in 0usize..256) {
        let tree = build(values);
        let i = pick.index(tree.len());
        let proof = tree.proof(i).unwrap();

        let mut tampered = tree.values()[i].value.clone();
        let Value::Uint256(mut wei) = tampered[1] else { unreachable!() };
        wei[bit / 8] ^= 1 << (bit % 8);
        tampered[1] = Value::Uint256(wei);
        prop_assert!(!tree.verify_value(&tampered, &proof).unwrap());

        let mut root: Hash = tree.root();
        root[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(!verify(&root, &tree.leaf(i).unwrap(), &proof));
    }

    #[test]
    fn input_order_does_not_change_the_root(values in leaves(), seed in any::<u64>()) {
        let mut shuffled = values.clone();
        // Fisher-Yates with a fixed LCG, so proptest can shrink the seed.
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        let a = build(values);
        let b = build(shuffled);
        prop_assert_eq!(a.root(), b.root());
        prop_assert_eq!(a.nodes(), b.nodes());
    }

    #[test]
    fn dump_round_trips(values in leaves()) {
        let tree = build(values);
        let json = serde_json::to_string(&tree.dump()).unwrap();
        prop_assert_eq!(StandardMerkleTree::load(&serde_json::from_str(&json).unwrap()).unwrap(), tree);
    }

    #[test]
    fn multi_proofs_verify(values in leaves(), picks in prop::collection::vec(any::<prop::sample::Index>(), 0..20)) {
        let tree = build(values);
        let mut set: Vec<usize> = picks.iter().map(|p| p.index(tree.len())).collect();
        set.sort_unstable();
        set.dedup();
        let m = tree.multi_proof(&set).unwrap();
        prop_assert!(verify_multi_proof(&tree.root(), &m.leaves, &m.proof, &m.proof_flags));
        if let Some(first) = m.leaves.first() {
            let mut wrong = m.leaves.clone();
            wrong[0] = claystack_merkle::keccak256(first);
            prop_assert!(!verify_multi_proof(&tree.root(), &wrong, &m.proof, &m.proof_flags));
        }
    }
}
