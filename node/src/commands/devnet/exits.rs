//! `devnet --exits`: one exits round through the committee, and what the beacon chain makes of it.
//!
//! The genesis gets an `exits` section (an exits round every frame, the rules below) and the
//! deployment a withdrawal queue stand-in. Before report 1's reference block the owner records
//! every validator's beacon index, the queue is given an unmet demand of 150 ETH with no buffer,
//! and alpha asks to exit validator 0 (a voluntary request). Exits round 1 (reference epoch 19,
//! with report 1) then
//!
//! - gives validator 0 its exit slot (epoch 19 + 8 = 27);
//! - counts it and the slashed validator 50 as exits under way (about 64 ETH), so about 86 ETH
//!   more must exit: 3 validators;
//! - picks them from the most over-represented node type against the targets below: the Obol
//!   cluster (15 staying validators for a 20 % target), validators 48, 49 and 51 (delta's),
//!   each to exit by epoch 19 + 6 = 25.
//!
//! The simulated beacon chain plays what the operators do: validator 0 and 48 exit in time
//! (exit epoch 25), 49 a epoch late (26, within the 1-epoch grace) and 51 never. Report 3's
//! frame (epochs 24-27) shows the effects: [`check_rewards`] prints them.

use super::{say, wait_until, Chains, Procs};
use anyhow::{ensure, Context};
use claystack_execution::alloy::primitives::Address;
use claystack_execution::alloy::providers::Provider;
use claystack_execution::{ExitEventsReader, Registrar, ReportReader};
use claystack_exits::{DemandRules, ExitRules, Targets, VoluntaryRules};
use claystack_primitives::{ReportId, ReportKind};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

const ETH: u128 = 1_000_000_000_000_000_000;
/// The queue's unmet demand: validator 0's voluntary exit and slashed validator 50 cover about
/// 64 ETH, the rest asks for 3 requested exits of 32 ETH.
pub const UNMET_DEMAND_WEI: u128 = 150 * ETH;
/// Alpha's validator that asks to exit.
pub const VOLUNTARY: u64 = 0;
/// The validators exits round 1 picks, and the one that never exits.
pub const PICKED: [u64; 3] = [48, 49, 51];

/// Scenario lines for the simulated chain: a shard committee period short enough for validators
/// active from genesis to exit by epoch 19, and the exits the operators make.
pub fn scenario_top() -> &'static str {
    "shard_committee_period = 4\n"
}

/// `[[exit]]` entries: an exit asked at epoch `e` has exit epoch `e + 5` in the simulator.
pub fn scenario_exits() -> String {
    [(VOLUNTARY, 20), (48, 20), (49, 21)]
        .iter()
        .map(|(v, e)| format!("\n[[exit]]\nvalidator = {v}\nepoch = {e}\n"))
        .collect()
}

/// The genesis `exits` section.
pub fn genesis_section(queue: Address, frame_epochs: u64) -> claystack_genesis::Exits {
    let bps = |pairs: &[(&str, u32)]| pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    claystack_genesis::Exits {
        cadence_epochs: frame_epochs,
        withdrawal_queue: claystack_genesis::Address(queue.0 .0),
        rules: ExitRules {
            demand: DemandRules { per_exit_wei: 32 * ETH, max_per_report: 8 },
            voluntary: VoluntaryRules {
                capacity_per_report: 2,
                exit_within_epochs: 8,
                fast_track_exit_within_epochs: 4,
            },
            targets: Targets {
                node_types: bps(&[("direct", 5000), ("ssv", 3000), ("obol", 2000)]),
                locations: BTreeMap::new(),
                operators: BTreeMap::new(),
                operator_cap_bps: 10_000,
            },
            requested_exit_within_epochs: 6,
            grace_epochs: 1,
        },
    }
}

/// Before report 1's reference block: beacon indices, the demand and alpha's request.
pub async fn prepare(owner: &Registrar, alpha: &Registrar, validators: &[(u64, u64, [u8; 48])]) -> anyhow::Result<()> {
    let pairs: Vec<(u64, u64)> = validators.iter().map(|&(id, index, _)| (id, index)).collect();
    owner.set_beacon_indices(&pairs).await?;
    owner.set_queue_liquidity(UNMET_DEMAND_WEI, 0).await?;
    let pubkey = validators.iter().find(|v| v.1 == VOLUNTARY).context("validator 0 is not registered")?.2;
    alpha.request_voluntary_exit(&pubkey, false).await?;
    say(&format!(
        "exits: beacon indices of {} validators recorded; withdrawal queue demand {} ETH, no buffer; alpha asked to exit validator {VOLUNTARY}",
        pairs.len(),
        UNMET_DEMAND_WEI / ETH
    ));
    Ok(())
}

/// Waits until exits round 1 is accepted and each of its exits published; prints and returns them.
pub async fn wait_published(
    chains: &Chains,
    node_manager: Address,
    registry: Address,
    procs: &mut Procs,
    timeout: Duration,
) -> anyhow::Result<serde_json::Value> {
    let reader = ReportReader::new(chains.rpc.clone(), node_manager);
    let events = ExitEventsReader::new(chains.rpc.clone(), registry);
    let expected = PICKED.len() + 1;
    wait_until(procs, timeout, "exits round 1 accepted and its exits published", || async {
        let latest = chains.rpc.block_number().await.unwrap_or(0);
        reader.last_report_number(ReportKind::Exits).await.unwrap_or(0) >= 1
            && events.published_exits(0, latest).await.map_or(0, |e| e.len()) >= expected
    })
    .await?;
    let id = ReportId { kind: ReportKind::Exits, number: 1 };
    let accepted = reader.find_accepted(id, 0).await?.context("no ReportAccepted event for exits round 1")?;
    let receipt = chains.rpc.provider().get_transaction_receipt(accepted.tx).await?.context("no receipt")?;
    let latest = chains.rpc.block_number().await?;
    let published = events.published_exits(0, latest).await?;
    say(&format!(
        "exits round 1 accepted in block {} (tx {}, {} gas): root {}",
        accepted.block, accepted.tx, receipt.gas_used, accepted.merkle_root
    ));
    let mut list = Vec::new();
    for e in &published {
        let gas = chains.rpc.provider().get_transaction_receipt(e.tx).await?.map_or(0, |r| r.gas_used);
        let kind = if e.kind == 0 { "requested" } else { "voluntary" };
        say(&format!(
            "exits:   validator {} ({kind}, operator {}) must exit by epoch {}: published in block {} ({gas} gas)",
            e.validator_index, e.operator, e.exit_by_epoch, e.block
        ));
        list.push(
            json!({"validator": e.validator_index, "kind": kind, "exit_by_epoch": e.exit_by_epoch, "gas_used": gas}),
        );
    }
    let mut picked: Vec<u64> = published.iter().filter(|e| e.kind == 0).map(|e| e.validator_index).collect();
    picked.sort_unstable();
    ensure!(picked == PICKED, "exits round 1 asked validators {picked:?} to exit; the rules pick {PICKED:?}");
    ensure!(
        published.iter().any(|e| e.kind == 1 && e.validator_index == VOLUNTARY),
        "validator {VOLUNTARY}'s voluntary exit got no slot"
    );
    Ok(json!({
        "tx": accepted.tx.to_string(),
        "block": accepted.block,
        "gas_used": receipt.gas_used,
        "merkle_root": accepted.merkle_root.to_string(),
        "published": list,
    }))
}

/// Waits for member `member`'s exits round 2 (reference epoch 23): the exits under way cover
/// the demand, so it has nothing to exit, and is stored and exported but never signed.
pub async fn check_round_2(exports: &Path, procs: &mut Procs, timeout: Duration) -> anyhow::Result<serde_json::Value> {
    let path = exports.join("exits-2/report.json");
    wait_until(procs, timeout, "exits round 2", || async { path.exists() }).await?;
    let report: claystack_exits::ExitsReport = serde_json::from_slice(&std::fs::read(&path)?)?;
    ensure!(
        report.leaves.is_empty(),
        "exits round 2 asks for exits {:?}; the exits under way cover the demand",
        report.leaves
    );
    say(&format!(
        "exits round 2 (reference epoch {}): {} wei under way cover the {} wei demand; nothing to exit, so nothing signed or sent",
        report.reference_epoch, report.demand.under_way_wei, report.demand.unmet_demand_wei
    ));
    Ok(json!({"demand": report.demand, "leaves": report.leaves.len()}))
}

/// What the rewards report whose frame holds the exits measured: each exit's facts, and each
/// operator's score and penalties. Fails unless the beacon chain's exits are the ones it lists.
pub fn check_rewards(exported: &Path) -> anyhow::Result<serde_json::Value> {
    let log: serde_json::Value = serde_json::from_slice(&std::fs::read(exported.join("frame-log.json"))?)?;
    let facts = &log["facts"];
    let requested: Vec<(u64, Option<u64>)> = facts["requested_exits"]
        .as_array()
        .map(|a| a.iter().map(|r| (r["validator"].as_u64().unwrap_or(u64::MAX), r["exit_epoch"].as_u64())).collect())
        .unwrap_or_default();
    let voluntary: Vec<u64> = facts["voluntary_exits"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["validator"].as_u64()).collect())
        .unwrap_or_default();
    say(&format!(
        "exits: report {} lists requested exits {requested:?} (validator, exit epoch) and voluntary exits {voluntary:?}",
        log["number"]
    ));
    ensure!(
        requested == vec![(48, Some(25)), (49, Some(26)), (51, None)],
        "the report lists requested exits {requested:?}; the simulator's validators 48 and 49 exited in epochs 25 and 26, 51 did not"
    );
    ensure!(voluntary == vec![VOLUNTARY], "the report lists voluntary exits {voluntary:?}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(exported.join("report.json"))?)?;
    let mut operators = Vec::new();
    for o in report["operators"].as_array().into_iter().flatten() {
        let score = &o["score"];
        let exit_penalties: Vec<&serde_json::Value> = o["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|n| n["penalties"].as_array().into_iter().flatten())
            .filter(|p| ["late_exit", "never_exit", "forced_exit"].iter().any(|k| p["kind"] == *k))
            .collect();
        let (timely, late) = (score["timely_exits"].as_u64().unwrap_or(0), score["late_exits"].as_u64().unwrap_or(0));
        if timely + late == 0 && exit_penalties.is_empty() {
            continue;
        }
        // Each node running the validator is charged: sum per validator.
        let mut charged: BTreeMap<u64, (u128, usize)> = BTreeMap::new();
        for p in &exit_penalties {
            let amount = p["amount_wei"].as_str().and_then(|a| a.parse::<u128>().ok()).unwrap_or(0);
            let entry = charged.entry(p["validator"].as_u64().unwrap_or(u64::MAX)).or_default();
            *entry = (entry.0 + amount, entry.1 + 1);
        }
        let charges: Vec<String> =
            charged.iter().map(|(v, (wei, nodes))| format!("validator {v} {wei} wei over {nodes} nodes")).collect();
        say(&format!(
            "exits:   operator {}: {timely} timely and {late} late exits, score {} -> {}, exit charges: {}; bond penalty {} wei",
            o["address"].as_str().unwrap_or("?"),
            score["previous_bps"],
            score["score_bps"],
            charges.join(", "),
            o["bond_penalty_wei"].as_str().unwrap_or("0"),
        ));
        operators.push(json!({
            "address": o["address"],
            "timely_exits": timely,
            "late_exits": late,
            "score_bps": score["score_bps"],
            "previous_bps": score["previous_bps"],
            "exit_penalties": exit_penalties,
            "bond_penalty_wei": o["bond_penalty_wei"],
        }));
    }
    Ok(json!({"requested": requested, "voluntary": voluntary, "operators": operators}))
}
