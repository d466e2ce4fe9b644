//! The accounting of a real `run` process against a real simulator process
//! equals the simulator's ground truth, on a chain with offline validators,
//! misses, missed slots, late and too-late inclusion, duplicates, a slashing,
//! an exit, a late activation and the Deneb→Electra format change.

use crate::support::*;

#[test]
fn tallies_equal_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = data_file("truth.toml");
    let truth = dir.path().join("truth.json");
    let (_sim, url) = start_sim(&scenario, Some(&truth));
    let data = dir.path().join("node");
    let until = 10;
    let (ok, log) = run_to_end(&run_args(&data, &url, "0-40,250-260", until), &[]);
    assert!(ok, "oracle failed: {log}");
    let ours = tallies_json(&data, until);
    let expected = truth_json(&truth, until);
    assert_eq!(ours["epochs"].as_array().unwrap().len(), (until + 1) as usize);
    assert_eq!(ours, expected);
    // The scenario's trouble is really in there (the comparison is not of two empty lists).
    let flat: Vec<(u64, u64, u64, u64)> = ours["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| {
            let epoch = e["epoch"].as_u64().unwrap();
            e["tallies"].as_array().unwrap().iter().map(move |t| {
                (
                    epoch,
                    t["validator"].as_u64().unwrap(),
                    t["included"].as_u64().unwrap(),
                    t["timely"].as_u64().unwrap(),
                )
            })
        })
        .collect();
    let has = |epoch: u64, v: u64| flat.iter().find(|t| t.0 == epoch && t.1 == v).copied();
    assert_eq!(has(3, 4).map(|t| t.2), Some(0), "offline validator counted");
    assert_eq!(has(1, 4).map(|t| t.2), Some(1), "online validator not counted");
    assert_eq!(has(2, 8).map(|t| (t.2, t.3)), Some((1, 0)), "late validator should be included, not timely");
    assert_eq!(has(4, 12).map(|t| t.2), Some(0), "too-late inclusion counted");
    assert_eq!(has(2, 11), None, "not-yet-active validator has a duty");
    assert_eq!(has(10, 10), None, "exited validator has a duty");
}

#[test]
fn unreachable_beacon_node_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let mut args = run_args(&dir.path().join("node"), &url, "0-3", 1);
    args.push("--log".into());
    args.push("off".into());
    let out = std::process::Command::new(bin()).args(&args).env_remove("CLAYSTACK_LOG").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("error: ") && lines[0].contains("unreachable"), "{err}");
}

#[test]
fn starting_mid_chain_matches_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = data_file("truth.toml");
    let truth = dir.path().join("truth.json");
    let (_sim, url) = start_sim(&scenario, Some(&truth));
    let data = dir.path().join("node");
    let mut args = run_args(&data, &url, "0-40,250-260", 10);
    args.extend(["--start-epoch".into(), "4".into()]);
    let (ok, log) = run_to_end(&args, &[]);
    assert!(ok, "oracle failed: {log}");
    let ours = tallies_json(&data, 10);
    let mut expected = truth_json(&truth, 10);
    expected["epochs"].as_array_mut().unwrap().retain(|e| e["epoch"].as_u64().unwrap() >= 4);
    assert_eq!(ours["epochs"].as_array().unwrap().first().unwrap()["epoch"], 4);
    assert_eq!(ours, expected);
}
