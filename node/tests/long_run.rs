//! The devnet that runs on (issue 13): 16 members, three rewards reports and an exits round,
//! with a member killed (`kill -9`) and restarted after report 1, a member whose beacon node
//! lies (it computes and gossips another root every report), a member whose beacon node
//! fails and slows, and a committee change (member 3's key replaced and the threshold raised
//! from report 3 on). The same flags as `testnet/up.sh`'s first command. Checked from the
//! summary the run writes and from the files it leaves.

use crate::devnet::{devnet, DEVNET_REPORT_1_ROOT};
use std::collections::BTreeSet;

const MEMBERS: usize = 16;
const KILLED: usize = 5;
const LIAR: usize = 7;
const FLAKY: usize = 9;
const REPLACED: usize = 3;

#[test]
fn sixteen_members_run_three_reports_and_an_exits_round_through_a_crash_a_liar_a_failing_beacon_and_a_committee_change()
{
    let tmp = tempfile::tempdir().unwrap();
    let args =
        "--members 16 --reports 3 --exits --kill-member 5 --liar-member 7 --flaky-beacon-member 9 --replace-member 3";
    // The README's first command runs exactly this (a flag dropped there once went unseen).
    let up = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../testnet/up.sh")).unwrap();
    assert!(up.contains(&format!("set -- {args} \"$@\"")), "testnet/up.sh's default flags differ from {args}");
    let (dir, summary, stdout) = devnet(tmp.path(), &args.split(' ').collect::<Vec<_>>());
    // The liar and the crash change nothing anyone else computes: report 1 is the devnet's.
    assert_eq!(summary["merkle_root"], DEVNET_REPORT_1_ROOT);
    assert_eq!(summary["threshold"], 11, "16 * 2 / 3 + 1");
    assert_eq!(summary["faults"]["killed"]["member"], KILLED);

    let reports = summary["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 3);
    for r in reports {
        let n = r["number"].as_u64().unwrap();
        let root = r["merkle_root"].as_str().unwrap();
        // Every member but the liar exported the accepted root: the killed member after its
        // restart, the member behind the failing beacon node.
        for i in (0..MEMBERS).filter(|&i| i != LIAR) {
            let file = dir.join(format!("member-{i}/data/reports/rewards-{n}/root"));
            assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), root, "member {i}, report {n}");
        }
        // The liar computed and signed another root every time; it never counted.
        let liar = &r["liar"];
        assert_eq!(liar["member"], LIAR);
        assert_ne!(liar["root"].as_str().unwrap(), root, "report {n}");
        let signers: BTreeSet<u64> = r["signers"].as_array().unwrap().iter().map(|s| s.as_u64().unwrap()).collect();
        assert!(signers.len() >= 11 && !signers.contains(&(LIAR as u64)), "report {n}: {signers:?}");
        assert!(r["gas_used"].as_u64().unwrap() > 0);
    }
    // The killed member came back and closed reports 2 and 3 with the accepted roots (above);
    // its second run logged from the start.
    let restarted = std::fs::read_to_string(dir.join(format!("member-{KILLED}/node-restarted.log"))).unwrap();
    assert!(restarted.contains("oracle node started"), "{restarted}");
    // The flaky member's beacon node really answered errors, and it still computed every root.
    assert!(stdout.contains(&format!("member {FLAKY}'s beacon node is a flaky simulator")), "{stdout}");
    let flaky_log = std::fs::read_to_string(dir.join("sim-flaky.log")).unwrap();
    let errors = flaky_log.matches("injected fault: an error answer").count();
    assert!(errors >= 10, "the flaky simulator answered {errors} errors");

    // The committee change: version 1 from report 3, threshold 12; report 3 needed 12 signers
    // (the contract counted them against the new keys; devnet checked every report's
    // committee on chain and both of member 3's logs).
    let change = &summary["faults"]["committee_change"];
    assert_eq!(change["change"]["member"], REPLACED);
    assert_eq!((change["change"]["version"].as_u64(), change["change"]["threshold"].as_u64()), (Some(1), Some(12)));
    // The new node judged itself member 3 of report 3 (it signed, or held back its first
    // signature as a fresh data dir does); the replaced node refused to sign.
    assert!(change["new_node_signed"] == true || change["new_node_held_back"] == true, "{change}");
    assert_eq!(change["replaced_node_refused"], true);
    assert!(reports[2]["signers"].as_array().unwrap().len() >= 12, "{}", reports[2]);
    let new_root = dir.join(format!("member-{REPLACED}-new/data/reports/rewards-3/root"));
    assert_eq!(std::fs::read_to_string(new_root).unwrap().trim(), reports[2]["merkle_root"].as_str().unwrap());

    // Exactly one transaction per report, none reverted: 3 rewards reports and exits round 1.
    let submissions = summary["submissions"].as_object().unwrap();
    let ids: Vec<&String> = submissions.keys().collect();
    assert_eq!(ids, ["exits-1", "rewards-1", "rewards-2", "rewards-3"]);
    for (id, txs) in submissions {
        let txs = txs.as_array().unwrap();
        assert_eq!(txs.len(), 1, "{id}: {txs:?}");
        assert_eq!(txs[0]["success"], true, "{id}");
    }
    assert_eq!(summary["exits"]["round_1"]["published"].as_array().map(Vec::len), Some(4));

    // Claims to the wei across reports: alpha claimed report 1, then every operator report 3;
    // what alpha was credited the second time is its cumulative rewards less the first claim.
    let first = summary["claim"]["amount_wei"].as_str().unwrap().parse::<u128>().unwrap();
    let claims = summary["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 4);
    let wei = |v: &serde_json::Value| v.as_str().unwrap().parse::<u128>().unwrap();
    for c in claims {
        let before = wei(&c["claimed_before_wei"]);
        assert_eq!(wei(&c["credited_wei"]) + wei(&c["netted_wei"]), wei(&c["cumulative_rewards_wei"]) - before, "{c}");
        if c["operator"] == summary["claim"]["operator"] {
            assert_eq!(before, first, "{c}");
        } else {
            assert_eq!(before, 0, "{c}");
        }
    }

    // Every running member's API served report_accepted for the three reports.
    let served = summary["notifications"].as_object().unwrap();
    assert_eq!(served.len(), MEMBERS);
    for (member, kinds) in served {
        assert!(kinds["report_accepted"].as_u64().unwrap() >= 3, "{member}: {kinds}");
    }
}
