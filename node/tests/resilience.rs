//! The node keeps working through outages, corruption, failed exports and crashes with a
//! transaction in flight (real processes: `claystack-oracle run`, the beacon simulator,
//! anvil, RocksDB on disk).
//!
//! - a beacon node down for a minute and back: no member exits, report 1 is accepted;
//! - a truncated write-ahead log: the node refuses to start with one clear line;
//! - a failed export: the report is signed all the same, and the files are rewritten on
//!   the next start;
//! - `kill -9` of the submitter with its transaction in flight: one submission.

use crate::devnet::{assert_all_stopped, devnet, DEVNET_REPORT_1_ROOT};
use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// Waits for a line containing every needle; returns it (lines before it are kept in `log`).
fn wait_for(lines: &Receiver<String>, needles: &[&str], timeout: Duration, log: &mut Vec<String>) -> String {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) {
            log.push(line.clone());
            if needles.iter().all(|n| line.contains(n)) {
                return line;
            }
        }
    }
    panic!("no line with {needles:?} within {timeout:?}; log:\n{}", log.join("\n"));
}

/// Lines of `text` holding every needle.
fn count(text: &str, needles: &[&str]) -> usize {
    text.lines().filter(|l| needles.iter().all(|n| l.contains(n))).count()
}

#[test]
fn a_beacon_node_down_for_a_minute_stops_no_member_and_the_report_is_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    // devnet fails if any member exits while the simulator is down (it checks every 250 ms).
    let (dir, summary, stdout) = devnet(tmp.path(), &["--beacon-outage-secs", "60"]);
    assert_eq!(summary["faults"]["beacon_outage_secs"], 60, "{stdout}");
    assert_eq!(summary["merkle_root"], DEVNET_REPORT_1_ROOT, "same chain, same report");
    assert!(stdout.contains("report 1 accepted in block"), "{stdout}");
    for i in 0..4 {
        let log = std::fs::read_to_string(dir.join(format!("member-{i}/node.log"))).unwrap();
        // Said once per outage (500 ms polling: some 120 failed polls), and the recovery once.
        assert_eq!(count(&log, &["node degraded", "part=\"accounting\""]), 1, "member {i}:\n{log}");
        assert_eq!(count(&log, &["recovered", "part=\"accounting\""]), 1, "member {i}:\n{log}");
        assert_eq!(count(&log, &["ERROR"]), 0, "member {i}:\n{log}");
    }
    assert_all_stopped(&summary);
}

#[test]
fn a_submitter_killed_with_its_transaction_in_flight_submits_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, summary, stdout) = devnet(tmp.path(), &["--crash-submitter"]);
    let crashed = &summary["faults"]["crashed_submitter"];
    let member = crashed["member"].as_u64().unwrap();
    // The accepted transaction is one the member sent before the kill (the first, or a
    // replacement with the same nonce if it had already bumped the fees): nothing new after it.
    let attempts: Vec<&str> = crashed["attempts"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(attempts.contains(&summary["tx"].as_str().unwrap()), "{stdout}");
    assert_eq!(summary["submitter_member"], member, "{stdout}");
    assert_eq!(summary["merkle_root"], DEVNET_REPORT_1_ROOT);
    let restarted = std::fs::read_to_string(dir.join(format!("member-{member}/node-restarted.log"))).unwrap();
    let tx = crashed["tx"].as_str().unwrap();
    assert!(count(&restarted, &["resuming the transaction an earlier run sent", tx]) >= 1, "{restarted}");
    // It may hand the node the same transaction again ("sent again, unchanged"), never a new one.
    assert_eq!(
        count(&restarted, &["transaction sent what="]),
        0,
        "the restarted member sent a new transaction:\n{restarted}"
    );
    // Before the journal, every turn of the restarted member failed at gas estimation (the
    // pending transaction already carries the report).
    assert_eq!(count(&restarted, &["submission failed"]), 0, "a turn failed:\n{restarted}");
    assert_all_stopped(&summary);
}

/// The data directory of a node that accounted `0..=until` of `restart.toml`'s chain.
fn accounted_data_dir(root: &Path, until: u64) -> (PathBuf, ChildProcess, String) {
    let (sim, url) = start_sim(&data_file("restart.toml"), None);
    let data = root.join("data");
    let (ok, log) = run_to_end(&run_args(&data, &url, "0-199", until), &[("NO_COLOR", "1")]);
    assert!(ok, "{log}");
    (data, sim, url)
}

/// The data directory's newest non-empty write-ahead log.
fn wal(data: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log") && p.metadata().unwrap().len() > 0)
        .collect();
    logs.sort();
    logs.pop().expect("a write-ahead log")
}

#[test]
fn a_truncated_write_ahead_log_stops_the_node_with_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _sim, url) = accounted_data_dir(tmp.path(), 30);
    let log = wal(&data);
    let len = log.metadata().unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&log).unwrap().set_len(len - 200).unwrap();

    // Neither the node nor `tallies` opens it, and neither rolls it back silently.
    let (ok, out) = run_to_end(&run_args(&data, &url, "0-199", 40), &[("NO_COLOR", "1")]);
    assert!(!ok, "the node started on a corrupt store:\n{out}");
    let line = out.lines().find(|l| l.contains("is corrupt")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains(&data.display().to_string()) && line.contains("backup"), "{line}");
    assert!(!out.contains("in use by another process"), "{out}");
    let tallies = Command::new(bin()).args(["tallies", "--to", "30", "--data-dir"]).arg(&data).output().unwrap();
    assert!(!tallies.status.success());
    assert!(String::from_utf8_lossy(&tallies.stderr).contains("is corrupt"));
}

#[test]
fn a_data_directory_in_use_is_not_called_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _sim, url) = accounted_data_dir(tmp.path(), 4);
    // A node that follows for ever holds the directory.
    let args: Vec<String> = run_args(&data, &url, "0-199", 4).into_iter().take(7).collect();
    let (_node, lines) = spawn_with_lines(&args, &[("NO_COLOR", "1")]);
    wait_for(&lines, &["oracle node started"], Duration::from_secs(30), &mut Vec::new());
    let tallies = Command::new(bin()).args(["tallies", "--to", "4", "--data-dir"]).arg(&data).output().unwrap();
    assert!(!tallies.status.success());
    let err = String::from_utf8_lossy(&tallies.stderr);
    assert!(err.contains("in use by another process") && !err.contains("corrupt"), "{err}");
}

#[test]
fn a_failed_export_still_signs_the_report_and_the_next_start_rewrites_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let net = HeldDevnet::start(dir.path(), 1, 1);
    let data = net.member(0).join("data");
    // Report 1's export directory cannot be made: a file stands where it belongs.
    let exported = data.join("reports/rewards-1");
    std::fs::create_dir_all(exported.parent().unwrap()).unwrap();
    std::fs::write(&exported, b"in the way").unwrap();
    let args = net.run_args(0);
    let env = [("NO_COLOR", "1")];

    let mut log = Vec::new();
    let (mut node, lines) = spawn_with_lines(&args, &env);
    let closed = wait_for(&lines, &["report closed", "report=1"], Duration::from_secs(90), &mut log);
    wait_for(&lines, &["not exported", "report=1"], Duration::from_secs(10), &mut log);
    // Signed (before this change, a failed export dropped the report before the driver saw it).
    wait_for(&lines, &["signed", "kind=rewards report=1"], Duration::from_secs(30), &mut log);
    wait_for(&lines, &["quorum certificate", "kind=rewards report=1"], Duration::from_secs(30), &mut log);
    node.kill();

    // The obstacle goes; the next start writes the files the store holds.
    std::fs::remove_file(&exported).unwrap();
    let (_node, lines) = spawn_with_lines(&args, &env);
    let mut log = Vec::new();
    wait_for(&lines, &["rewritten", "report=1"], Duration::from_secs(30), &mut log);
    let root_field = closed.split("merkle_root=").nth(1).unwrap().split_whitespace().next().unwrap();
    assert_eq!(std::fs::read_to_string(exported.join("root")).unwrap().trim(), root_field);
    assert!(exported.join("report.json").exists() && exported.join("tree.json").exists());
}
