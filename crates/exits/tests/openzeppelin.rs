//! The exits tree against the real `@openzeppelin/merkle-tree` (run with node from
//! `tools/js`, installed by `scripts/setup.sh`): same root, same dump, byte for byte.

use claystack_exits::{leaf_values, tree_of, ExitKind, ExitLeaf, EXITS_LEAF_ENCODING};
use claystack_rewards::Address;
use serde_json::{json, Value as Json};
use std::path::PathBuf;
use std::process::Command;

fn oz_of(values: &[Vec<Json>]) -> Json {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/js");
    assert!(
        dir.join("node_modules/@openzeppelin/merkle-tree").is_dir(),
        "@openzeppelin/merkle-tree is not installed in {}: run scripts/setup.sh",
        dir.display()
    );
    let input = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(input.path(), json!({ "leafEncoding": EXITS_LEAF_ENCODING, "values": values }).to_string()).unwrap();
    let out = Command::new("node")
        .arg(dir.join("oz-tree.mjs"))
        .arg("of")
        .arg(input.path())
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): run scripts/setup.sh"));
    assert!(out.status.success(), "oz-tree.mjs failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_exits_tree_is_openzeppelins_for_every_size() {
    for n in [1u64, 2, 3, 5, 8, 33] {
        let leaves: Vec<ExitLeaf> = (0..n)
            .map(|i| ExitLeaf {
                validator: 1_000_000 + i * 7919,
                operator: Address([(i % 5) as u8 + 1; 20]),
                kind: if i % 3 == 0 { ExitKind::Voluntary } else { ExitKind::Requested },
                exit_by_epoch: u64::MAX - i,
            })
            .collect();
        let tree = tree_of(&leaves).unwrap().unwrap();
        let values: Vec<Vec<Json>> =
            leaves.iter().map(|l| leaf_values(l).iter().map(|v| v.to_json()).collect()).collect();
        let js = oz_of(&values);
        assert_eq!(js["root"].as_str().unwrap(), claystack_merkle::hash::to_hex(&tree.root()), "{n} leaves: root");
        assert_eq!(js["dump"], serde_json::to_value(tree.dump()).unwrap(), "{n} leaves: dump");
    }
}
