//! Cross-checks against the real `@openzeppelin/merkle-tree` 1.0.8 (run with node, from
//! `tools/js`, installed by `scripts/setup.sh`): a Rust dump loads in JavaScript with the
//! same root and proofs, and a JavaScript dump is byte for byte the Rust one and loads here.

use std::path::PathBuf;
use std::process::Command;

use claystack_merkle::{hash::to_hex, Dump, StandardMerkleTree, Value, ADDRESS_AMOUNT_ENCODING};
use serde_json::{json, Value as Json};

const SIZES: [usize; 7] = [1, 2, 3, 5, 7, 100, 1000];

fn js_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/js");
    assert!(
        dir.join("node_modules/@openzeppelin/merkle-tree").is_dir(),
        "@openzeppelin/merkle-tree is not installed in {}: run scripts/setup.sh",
        dir.display()
    );
    dir
}

/// What `tools/js/oz-tree.mjs` prints.
struct JsTree {
    root: String,
    proofs: Vec<Vec<String>>,
    dump: Json,
    multi_proofs: Json,
}

fn json_file(v: &Json) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), serde_json::to_vec(v).expect("json")).expect("write input");
    file
}

fn run_js(mode: &str, input: &Json) -> JsTree {
    run_js_with_multi_proofs(mode, input, &[])
}

fn run_js_with_multi_proofs(mode: &str, input: &Json, sets: &[Vec<usize>]) -> JsTree {
    let dir = js_dir();
    let file = json_file(input);
    let sets_file = json_file(&json!(sets));
    let out = Command::new("node")
        .arg(dir.join("oz-tree.mjs"))
        .arg(mode)
        .arg(file.path())
        .arg(sets_file.path())
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): run scripts/setup.sh"));
    assert!(out.status.success(), "oz-tree.mjs {mode} failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut v: Json = serde_json::from_slice(&out.stdout).expect("oz-tree.mjs prints JSON");
    let strings =
        |v: &Json| v.as_array().expect("array").iter().map(|s| s.as_str().expect("hex").to_string()).collect();
    JsTree {
        root: v["root"].as_str().expect("root").to_string(),
        proofs: v["proofs"].as_array().expect("proofs").iter().map(strings).collect(),
        dump: v["dump"].take(),
        multi_proofs: v["multiProofs"].take(),
    }
}

fn proofs_hex(tree: &StandardMerkleTree) -> Vec<Vec<String>> {
    (0..tree.len()).map(|i| tree.proof(i).unwrap().iter().map(|h| to_hex(h)).collect()).collect()
}

/// SplitMix64: deterministic values without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        std::array::from_fn(|_| self.next() as u8)
    }
}

/// `n` (address, wei) leaves; about one in six repeats an earlier one, and amounts range from
/// 0 through wei-sized values to the full 256 bits.
fn rewards_values(n: usize, seed: u64) -> Vec<Vec<Value>> {
    let mut rng = Rng(seed);
    let mut values: Vec<Vec<Value>> = Vec::with_capacity(n);
    for i in 0..n {
        if i > 0 && rng.next().is_multiple_of(6) {
            let earlier = values[(rng.next() as usize) % i].clone();
            values.push(earlier);
            continue;
        }
        let amount = match rng.next() % 4 {
            0 => Value::uint(u128::from(rng.next() % 3)),
            1 => Value::uint(u128::from(rng.next()) * 1_000_000_000),
            2 => Value::uint(u128::from(rng.next()) << 64 | u128::from(rng.next())),
            _ => Value::Uint256(rng.bytes()),
        };
        values.push(vec![Value::Address(rng.bytes()), amount]);
    }
    values
}

fn json_values(values: &[Vec<Value>]) -> Json {
    values.iter().map(|v| v.iter().map(Value::to_json).collect::<Json>()).collect()
}

#[test]
fn rust_dump_loads_in_openzeppelin_with_same_root_and_proofs() {
    for n in SIZES {
        let tree = StandardMerkleTree::of(rewards_values(n, n as u64), &ADDRESS_AMOUNT_ENCODING).unwrap();
        let js = run_js("load", &serde_json::to_value(tree.dump()).unwrap());
        assert_eq!(js.root, to_hex(&tree.root()), "{n} leaves: root");
        assert_eq!(js.proofs, proofs_hex(&tree), "{n} leaves: proofs");
    }
}

#[test]
fn openzeppelin_tree_is_byte_for_byte_ours_and_loads_here() {
    for n in SIZES {
        let values = rewards_values(n, 1000 + n as u64);
        let js = run_js("of", &json!({ "leafEncoding": ADDRESS_AMOUNT_ENCODING, "values": json_values(&values) }));

        let ours = StandardMerkleTree::of(values, &ADDRESS_AMOUNT_ENCODING).unwrap();
        assert_eq!(serde_json::to_value(ours.dump()).unwrap(), js.dump, "{n} leaves: dump");

        let dump: Dump = serde_json::from_value(js.dump).unwrap();
        let loaded = StandardMerkleTree::load(&dump).unwrap_or_else(|e| panic!("{n} leaves: load: {e}"));
        assert_eq!(to_hex(&loaded.root()), js.root, "{n} leaves: root");
        assert_eq!(proofs_hex(&loaded), js.proofs, "{n} leaves: proofs");
    }
}

#[test]
fn every_supported_type_encodes_as_openzeppelin_does() {
    let encoding = ["bytes32", "uint64", "bool", "address", "uint8", "uint"];
    let mut rng = Rng(7);
    let values: Vec<Vec<Value>> = (0..9)
        .map(|i| {
            vec![
                Value::Bytes32(rng.bytes()),
                Value::uint(u128::from(rng.next())),
                Value::Bool(i % 2 == 0),
                Value::Address(rng.bytes()),
                Value::uint(u128::from(rng.next() as u8)),
                Value::Uint256(rng.bytes()),
            ]
        })
        .collect();
    let js = run_js("of", &json!({ "leafEncoding": encoding, "values": json_values(&values) }));
    let ours = StandardMerkleTree::of(values, &encoding).unwrap();
    assert_eq!(serde_json::to_value(ours.dump()).unwrap(), js.dump);
    assert_eq!(proofs_hex(&ours), js.proofs);
}

/// A dump written by hand (lowercase addresses, amounts as numbers and hex) loads in both
/// libraries with the same root: the forms our `load` accepts are ones OpenZeppelin reads alike.
#[test]
fn loose_value_forms_agree_with_openzeppelin() {
    let values = json!([
        ["0xabcdefabcdefabcdefabcdefabcdefabcdefabcd", 5],
        ["0x1111111111111111111111111111111111111111", "0x10"],
        ["0x2222222222222222222222222222222222222222", "340282366920938463463374607431768211456"],
    ]);
    let js = run_js("of", &json!({ "leafEncoding": ADDRESS_AMOUNT_ENCODING, "values": values }));
    let dump: Dump = serde_json::from_value(js.dump).unwrap();
    let loaded = StandardMerkleTree::load(&dump).unwrap();
    assert_eq!(to_hex(&loaded.root()), js.root);
    assert_eq!(proofs_hex(&loaded), js.proofs);
}

#[test]
fn multi_proofs_match_openzeppelin() {
    let values = rewards_values(100, 42);
    let tree = StandardMerkleTree::of(values, &ADDRESS_AMOUNT_ENCODING).unwrap();
    let mut rng = Rng(9);
    let mut sets: Vec<Vec<usize>> = vec![vec![], vec![0], vec![99, 0], (0..100).collect()];
    for k in [2, 3, 10, 40] {
        let mut set: Vec<usize> = (0..100).collect();
        for i in (1..set.len()).rev() {
            set.swap(i, rng.next() as usize % (i + 1));
        }
        set.truncate(k);
        sets.push(set);
    }
    let js = run_js_with_multi_proofs("load", &serde_json::to_value(tree.dump()).unwrap(), &sets);
    for (set, theirs) in sets.iter().zip(js.multi_proofs.as_array().unwrap()) {
        let ours = tree.multi_proof(set).unwrap();
        let leaves: Vec<Json> =
            ours.value_indices.iter().map(|&i| tree.values()[i].value.iter().map(Value::to_json).collect()).collect();
        let expected = json!({
            "leaves": leaves,
            "proof": ours.proof.iter().map(|h| to_hex(h)).collect::<Vec<_>>(),
            "proofFlags": ours.proof_flags,
        });
        assert_eq!(&expected, theirs, "set {set:?}");
        assert!(claystack_merkle::verify_multi_proof(&tree.root(), &ours.leaves, &ours.proof, &ours.proof_flags));
    }
}
