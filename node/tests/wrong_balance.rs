//! A member whose beacon node answers a wrong balance (issue 11): four `claystack-oracle run`
//! processes on the devnet's chains (`devnet --hold`); member 3's beacon node says validator
//! 12 holds 1000 gwei more than it does from slot 140 on (inside report 1's frame). Member 3
//! computes another root and signs it; members 0, 1 and 2 reach the quorum on the devnet's
//! root, which the chain accepts; and member 3's log names the inputs that differ (the
//! consensus-layer rewards, with both values, and the balances), from the section digests
//! every member gossips beside its signature.

use crate::support::*;
use std::time::Duration;

const WRONG_BALANCE: &str = "[faults.wrong_balance]\nvalidator = 12\nfrom_slot = 140\ngwei = 1000";

/// The line with every needle: already read into `log`, or the next one to come.
fn seen_or_next(lines: &std::sync::mpsc::Receiver<String>, needles: &[&str], log: &mut Vec<String>) -> String {
    match log.iter().find(|l| needles.iter().all(|n| l.contains(n))) {
        Some(line) => line.clone(),
        None => wait_for(lines, needles, Duration::from_secs(60), log),
    }
}

#[test]
fn a_member_with_a_lying_beacon_node_names_the_input_that_differs() {
    let dir = tempfile::tempdir().unwrap();
    let net = HeldDevnet::start(dir.path(), 4, 1);
    let (_liar_beacon, lying) = net.faulty_beacon("wrong-balance", WRONG_BALANCE);
    let env = [("CLAYSTACK_LOG", "info")];
    let honest: Vec<_> = (0..3).map(|i| spawn_with_lines(&net.run_args(i), &env)).collect();
    let mut args = net.run_args(3);
    args.extend(["--beacon-url".into(), lying]);
    let (_m3, lines3) = spawn_with_lines(&args, &env);

    let mut log3 = Vec::new();
    let closed = wait_for(&lines3, &["report closed", "report=1"], Duration::from_secs(120), &mut log3);
    let other_root = field(&closed, "merkle_root").to_string();
    assert_ne!(other_root, crate::devnet::DEVNET_REPORT_1_ROOT, "the wrong balance must give another root");
    let mut logs: Vec<Vec<String>> = vec![Vec::new(); 3];
    for (i, (_, lines)) in honest.iter().enumerate() {
        let cert = wait_for(
            lines,
            &["quorum certificate", "kind=rewards report=1", "signers=[0, 1, 2]"],
            Duration::from_secs(120),
            &mut logs[i],
        );
        assert_eq!(field(&cert, "merkle_root"), crate::devnet::DEVNET_REPORT_1_ROOT);
    }
    wait_for(&honest[0].1, &["accepted on chain", "report=1"], Duration::from_secs(60), &mut logs[0]);

    // Member 3 names what differs, once per member, with its own and the others' values.
    let said = seen_or_next(&lines3, &["computed another merkle root", "member=0"], &mut log3);
    assert!(said.contains("consensus_rewards_wei (ours ") && said.contains("balances (ours "), "{said}");
    let value = |side: &str| -> i128 {
        let start = said.find("consensus_rewards_wei (ours ").unwrap();
        let part = &said[start..];
        let v = part.split(&format!("{side} ")).nth(1).unwrap();
        v.split([',', ')']).next().unwrap().parse().unwrap()
    };
    // 1000 gwei more at the frame's end: 10^12 wei more consensus-layer rewards.
    assert_eq!(value("ours") - value("theirs"), 1_000_000_000_000, "{said}");
    for input in ["execution_fees_wei", "registry", "tallies", "facts", "adjustments"] {
        assert!(!said.contains(&format!("{input} (ours")), "{input} does not differ: {said}");
    }
    // The honest members say it of member 3 too; never of each other.
    let line = seen_or_next(&honest[0].1, &["computed another merkle root", "member=3"], &mut logs[0]);
    assert!(line.contains("consensus_rewards_wei"), "{line}");
    for log in &logs {
        assert!(!log.iter().any(|l| l.contains("computed another merkle root") && !l.contains("member=3")), "{log:?}");
    }
}
