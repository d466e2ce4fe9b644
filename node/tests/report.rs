//! `report compute|verify` and `proof` on tallies accounted by real processes:
//! byte-identical reports from two independent nodes (different fetch
//! concurrency, one killed and restarted mid-way), a root that verifies, a
//! wrong root that does not, and a claim proof that checks against the root.

use crate::support::*;
use claystack_merkle::{verify, LeafEncoding, Value};
use claystack_primitives::hex;
use claystack_report::REWARDS_LEAF_ENCODING;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A local genesis from `claystack-oracle genesis new` (its economics: 4-epoch frames).
fn genesis_file(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("genesis");
    let seed = format!("0x{}", "42".repeat(32));
    let (ok, _, err) = report(&["genesis", "new", "--seed", &seed, "--out", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    out.join("genesis.json")
}

fn report(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn reports_are_reproducible_verifiable_and_claimable() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = data_file("report.toml");
    let (_sim, url) = start_sim(&scenario, None);
    let genesis = genesis_file(dir.path());
    // Three operators: a direct node each for 0 and 2, and a five-node SSV cluster shared by
    // 1 and 2. Report 2 chains to report 1, which (as far as this file says) paid nobody.
    let inputs = data_file("report-frames.json");

    // Node A: defaults. Node B: one request at a time, killed once mid-way, restarted.
    let a = dir.path().join("a");
    let (ok, log) = run_to_end(&run_args(&a, &url, "0-24", 10), &[]);
    assert!(ok, "node a: {log}");
    let b = dir.path().join("b");
    let config = write_file(dir.path(), "b.toml", "[accounting]\nconcurrency = 1\n");
    let mut b_args = run_args(&b, &url, "0-24", 10);
    b_args.extend(["--config".into(), config.display().to_string()]);
    let (mut proc, _lines) = spawn_with_lines(&b_args, &[]);
    std::thread::sleep(Duration::from_millis(150));
    proc.kill();
    let (ok, log) = run_to_end(&b_args, &[]);
    assert!(ok, "node b: {log}");

    let compute = |data: &Path, out: &Path, epoch: &str| {
        report(&[
            "report",
            "compute",
            "--number",
            epoch,
            "--genesis",
            genesis.to_str().unwrap(),
            "--inputs",
            inputs.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let (out_a, out_b) = (dir.path().join("out-a"), dir.path().join("out-b"));
    let (ok, stdout_a, err) = compute(&a, &out_a, "2");
    assert!(ok, "{err}");
    let (ok, stdout_b, err) = compute(&b, &out_b, "2");
    assert!(ok, "{err}");
    assert_eq!(stdout_a.replace("out-a", "out-b"), stdout_b);
    for f in ["report.json", "tree.json", "frame-log.json"] {
        let (x, y) = (std::fs::read(out_a.join(f)).unwrap(), std::fs::read(out_b.join(f)).unwrap());
        assert!(x == y, "{f} differs between the two nodes");
    }
    let root = stdout_a.split("root ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let report_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_a.join("report.json")).unwrap()).unwrap();
    assert_eq!(report_json["frame"], serde_json::json!([4, 7]));

    // The root verifies; another does not.
    let verify_args = |root: &str| {
        report(&[
            "report",
            "verify",
            "--number",
            "2",
            "--genesis",
            genesis.to_str().unwrap(),
            "--inputs",
            inputs.to_str().unwrap(),
            "--data-dir",
            b.to_str().unwrap(),
            "--root",
            root,
        ])
    };
    assert!(verify_args(&root).0);
    let wrong = format!("0x{}", "00".repeat(32));
    let (ok, _, err) = verify_args(&wrong);
    assert!(!ok && err.trim().lines().count() == 1 && err.contains("differs"), "{err}");

    // A claim proof for operator 2 (the one with a positive claim) checks against the root with OpenZeppelin's rules.
    let (ok, proof, err) = report(&[
        "proof",
        "--operator",
        "0x2222222222222222222222222222222222222222",
        "--tree",
        out_a.join("tree.json").to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let proof: serde_json::Value = serde_json::from_str(&proof).unwrap();
    let amount: u128 = proof["cumulative_wei"].as_str().unwrap().parse().unwrap();
    let expected = report_json["operators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["address"].as_str().unwrap().eq_ignore_ascii_case("0x2222222222222222222222222222222222222222"))
        .unwrap();
    assert_eq!(expected["cumulative_wei"].as_str().unwrap(), amount.to_string());
    let penalty: u128 = proof["cumulative_bond_penalty_wei"].as_str().unwrap().parse().unwrap();
    let bond: u128 = proof["bond_requirement_wei"].as_str().unwrap().parse().unwrap();
    assert_eq!(expected["cumulative_bond_penalty_wei"].as_str().unwrap(), penalty.to_string());
    assert_eq!(expected["bond_requirement_wei"].as_str().unwrap(), bond.to_string());
    assert!(bond > 0, "every operator with nodes keeps a bond");
    assert!(amount > 0, "{}", serde_json::to_string_pretty(&report_json).unwrap());
    let leaf = LeafEncoding::new(&REWARDS_LEAF_ENCODING)
        .unwrap()
        .leaf_hash(&[Value::Address([0x22; 20]), Value::uint(amount), Value::uint(penalty), Value::uint(bond)])
        .unwrap();
    let steps: Vec<[u8; 32]> = proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex::decode_fixed::<32>(h.as_str().unwrap()).unwrap())
        .collect();
    let root_bytes = hex::decode_fixed::<32>(&root).unwrap();
    assert!(verify(&root_bytes, &leaf, &steps));
    let tampered = LeafEncoding::new(&REWARDS_LEAF_ENCODING)
        .unwrap()
        .leaf_hash(&[Value::Address([0x22; 20]), Value::uint(amount + 1), Value::uint(penalty), Value::uint(bond)])
        .unwrap();
    assert!(!verify(&root_bytes, &tampered, &steps));

    // `report explain` prints operator 3's nodes with their penalties and the validators they run.
    let explain = |dir: &Path, operator: &str| {
        report(&["report", "explain", "--operator", operator, "--dir", dir.to_str().unwrap()])
    };
    let (ok, text, err) = explain(&out_a, "0x3333333333333333333333333333333333333333");
    assert!(ok, "{err}");
    assert!(text.starts_with("report 2 (beacon epochs 4..=7), operator 0x3333"), "{text}");
    assert!(text.contains("node 7 (direct)") && text.contains("validator 9: duties 4"), "{text}");
    assert!(text.contains("penalty") && text.contains("slashed"), "{text}");
    assert!(text.contains("consensus rewards 3.000000000000000000 ETH from the inputs file"), "{text}");
    assert!(!text.contains("node 1 ("), "operator 1's node is not operator 3's: {text}");
    // A log from another report is refused: the report names its log's hash.
    let log = out_a.join("frame-log.json");
    let mut other = std::fs::read(&log).unwrap();
    other.extend_from_slice(b" ");
    std::fs::write(&log, other).unwrap();
    let (ok, _, err) = explain(&out_a, "0x3333333333333333333333333333333333333333");
    assert!(!ok && err.contains("is not the frame log") && err.trim().lines().count() == 1, "{err}");
    let (ok, _, err) = explain(&out_b, "0x4444444444444444444444444444444444444444");
    assert!(!ok && err.contains("is not in report 2"), "{err}");

    // Report 3 (beacon epochs 8..=11) is not accounted yet: a clear refusal.
    let (ok, _, err) = compute(&a, &dir.path().join("out-c"), "3");
    assert!(!ok && err.contains("wait for the node"), "{err}");
}
