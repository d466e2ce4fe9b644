//! `kill -9` in the middle of catch-up, restart, and the tallies are identical
//! to an uninterrupted run and to the ground truth — while the beacon node
//! answers with 5xx, malformed bodies, slow responses and hidden blocks.

use crate::support::*;
use std::time::{Duration, Instant};

const UNTIL: u64 = 58;

/// Waits for an "epoch accounted" log line with epoch >= `at`.
fn wait_for_epoch(lines: &std::sync::mpsc::Receiver<String>, at: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) {
            if line.contains("epoch accounted") {
                let epoch = line
                    .split("epoch=")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .map(|n| n.trim_matches(|c: char| !c.is_ascii_digit()).parse::<u64>().unwrap_or(0));
                if epoch.is_some_and(|e| e >= at) {
                    return;
                }
            }
        }
    }
    panic!("no epoch >= {at} accounted in time");
}

#[test]
fn kill_9_mid_catch_up_gives_identical_tallies() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = data_file("restart.toml");
    let truth = dir.path().join("truth.json");
    let (_sim, url) = start_sim(&scenario, Some(&truth));
    let env = [("NO_COLOR", "1")];

    // Uninterrupted run.
    let straight = dir.path().join("straight");
    let (ok, log) = run_to_end(&run_args(&straight, &url, "0-199", UNTIL), &env);
    assert!(ok, "uninterrupted run failed: {log}");

    // Killed three times, at different depths and a few milliseconds after a
    // commit so the kill lands while requests and writes are in flight.
    let killed = dir.path().join("killed");
    let args = run_args(&killed, &url, "0-199", UNTIL);
    for (at, delay_ms) in [(8u64, 0u64), (25, 3), (44, 9)] {
        let (mut proc, lines) = spawn_with_lines(&args, &env);
        wait_for_epoch(&lines, at);
        std::thread::sleep(Duration::from_millis(delay_ms));
        proc.kill();
    }
    let (ok, log) = run_to_end(&args, &env);
    assert!(ok, "restarted run failed: {log}");

    let a = tallies_json(&straight, UNTIL);
    let b = tallies_json(&killed, UNTIL);
    assert_eq!(a["epochs"].as_array().unwrap().len(), (UNTIL + 1) as usize);
    assert_eq!(a, b, "a killed and restarted node must store the same tallies");
    assert_eq!(a, truth_json(&truth, UNTIL), "tallies must equal the simulator's ground truth");
}
