//! An exits round through the committee: `devnet --exits --reports 3` (node/src/commands/devnet/exits.rs)
//! gives the withdrawal queue an unmet demand of 150 ETH and alpha a voluntary exit request; the
//! members close exits round 1, sign, gossip, submit it and publish its exits; the simulated
//! beacon chain exits validators 0 and 48 in time and 49 late, 51 never; report 3 prices it.
//! Checked from the files each member exported and from the chain's events, and recomputed here
//! from the exported inputs with the pure crate.

use crate::devnet::{assert_all_stopped, devnet, DEVNET_REPORT_1_ROOT};
use claystack_exits::{exits_report, tree_of, ExitKind, ExitsInputs, ExitsReport, Group};
use claystack_genesis::Genesis;
use claystack_primitives::hex;
use std::path::Path;

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn an_exits_round_is_accepted_published_and_priced_by_the_next_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, summary, stdout) = devnet(tmp.path(), &["--exits", "--reports", "3"]);
    assert_eq!(summary["merkle_root"], DEVNET_REPORT_1_ROOT, "exits change no rewards input of report 1");
    let genesis = Genesis::load(&dir.join("genesis.json")).unwrap().0;
    let rules = &genesis.exits.as_ref().expect("the devnet's genesis has an exits section").rules;

    // Every member computed the root the chain accepted, and anyone can recompute the round
    // from the inputs it exported: the same report bytes and the same tree.
    let round = &summary["exits"]["round_1"];
    let accepted = round["merkle_root"].as_str().unwrap();
    for i in 0..4 {
        let exported = dir.join(format!("member-{i}/data/reports/exits-1"));
        assert_eq!(std::fs::read_to_string(exported.join("root")).unwrap().trim(), accepted, "member {i}");
        let inputs: ExitsInputs = read_json(&exported.join("inputs.json"));
        let recomputed = exits_report(rules, &inputs).unwrap();
        assert_eq!(recomputed.bytes(), std::fs::read(exported.join("report.json")).unwrap(), "member {i}");
        let root = tree_of(&recomputed.leaves).unwrap().unwrap().root();
        assert_eq!(hex::encode(&root), accepted, "member {i}");
    }

    // And from the chains alone, as any operator can (`report verify-exits`, run by devnet on
    // member 0's data after stopping it): round 1's root, and round 2 with nothing to exit.
    let verified = format!("exits round 1: root {accepted} recomputed (4 exits) and equal to the NodeManager");
    assert!(stdout.contains(&verified), "{stdout}");
    assert!(stdout.contains("exits round 2: recomputed with nothing to exit"), "{stdout}");

    // Each candidate carries its cluster's lowest node's location, as the operator set it.
    let inputs: ExitsInputs = read_json(&dir.join("member-0/data/reports/exits-1/inputs.json"));
    let location = |v: u64| inputs.candidates.iter().find(|c| c.validator == v).map(|c| c.location.clone());
    assert_eq!((location(0).unwrap(), location(48).unwrap()), ("eu-west".to_string(), "ap-south".to_string()));

    // What round 1 decided: validator 0's voluntary exit gets its slot (reference epoch 19 + 8);
    // the demand left after it and the slashed validator 50 asks for 3 exits, taken from the
    // most over-represented node type (the Obol cluster), each to exit by 19 + 6.
    let report: ExitsReport = read_json(&dir.join("member-0/data/reports/exits-1/report.json"));
    assert_eq!(report.reference_epoch, 19);
    assert_eq!(report.demand.exits, 3, "{:?}", report.demand);
    let under_way_eth = report.demand.under_way_wei / 1_000_000_000_000_000_000;
    assert!((63..=64).contains(&under_way_eth), "validators 0 and 50 are under way: {:?}", report.demand);
    let leaves: Vec<(u64, ExitKind, u64)> =
        report.leaves.iter().map(|l| (l.validator, l.kind, l.exit_by_epoch)).collect();
    assert_eq!(
        leaves,
        [
            (0, ExitKind::Voluntary, 27),
            (48, ExitKind::Requested, 25),
            (49, ExitKind::Requested, 25),
            (51, ExitKind::Requested, 25)
        ]
    );
    let obol = Group::NodeType("obol".into());
    assert!(report.selection.picks.iter().all(|p| p.group == obol), "{:?}", report.selection);

    // Published once each, on chain, from the accepted round.
    let published = round["published"].as_array().unwrap();
    let mut on_chain: Vec<u64> = published.iter().map(|p| p["validator"].as_u64().unwrap()).collect();
    on_chain.sort_unstable();
    assert_eq!(on_chain, [0, 48, 49, 51], "{stdout}");
    assert!(round["gas_used"].as_u64().unwrap() > 0);

    // Round 2 has nothing to exit (the 5 exits under way cover the demand): stored and exported
    // with no tree (a zero root), so no member signs it.
    let exported = dir.join("member-0/data/reports/exits-2");
    let round_2: ExitsReport = read_json(&exported.join("report.json"));
    assert!(round_2.leaves.is_empty() && round_2.demand.exits == 0, "round 2: {:?}", round_2.demand);
    assert_eq!(std::fs::read_to_string(exported.join("root")).unwrap().trim(), hex::encode(&[0u8; 32]));

    // Report 3 (epochs 24-27) sees the beacon chain's exits: 48 in time (epoch 25), 49 one
    // epoch late (26), 51 not at all; delta's score counts them and its nodes pay the late epochs.
    let priced = &summary["exits"]["report_3"];
    assert_eq!(priced["requested"], serde_json::json!([[48, 25], [49, 26], [51, null]]), "{stdout}");
    assert_eq!(priced["voluntary"], serde_json::json!([0]));
    let delta = priced["operators"].as_array().unwrap();
    assert_eq!(delta.len(), 1, "only delta's validators were asked to exit: {delta:?}");
    assert_eq!(delta[0]["timely_exits"], 1);
    let charged: Vec<u64> =
        delta[0]["exit_penalties"].as_array().unwrap().iter().map(|p| p["validator"].as_u64().unwrap()).collect();
    assert!(charged.contains(&49) && charged.contains(&51) && !charged.contains(&48), "{charged:?}");
    // 51 is past its grace (deadline 25 + 1 epoch) at epoch 27: the rest of the capped charge,
    // one line per node, comes from delta's bond; 49 exited within the grace and pays only its
    // late epoch.
    let never: Vec<u64> = delta[0]["exit_penalties"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "never_exit")
        .map(|p| p["validator"].as_u64().unwrap())
        .collect();
    assert_eq!(never, [51, 51, 51, 51], "one never-exit line per node of delta's cluster: {delta:?}");
    let bond_penalty: u128 = delta[0]["bond_penalty_wei"].as_str().unwrap().parse().unwrap();
    assert!(bond_penalty > 0, "the never-made exit is taken from delta's bond: {delta:?}");
    assert_all_stopped(&summary);
}
