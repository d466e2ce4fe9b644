//! What happens on the execution chain during each frame of the local committee, and the
//! checks that every report measured it exactly.
//!
//! The RewardsVault is anvil's coinbase from deployment on, so every transaction's priority fee
//! lands in it, as a real fee recipient's would. In each frame, before the frame's reference
//! block, [`play_frame`] has a "block builder" pay an MEV-style transfer to the vault; from
//! report 2 on it also moves the SSV feed's price, enters an explicit adjustment in
//! RewardsGovernance and moves some fees out of the vault (which must not look like negative
//! fees). Then anvil mines past the reference block, and the members can close the report.
//!
//! [`check_report`] reads a member's exported report and frame log and checks them against
//! what happened, computed a second way: the fees from every block's receipts
//! ([`fees_truth`]), the observed price as posted, each SSV node's price settlement by the
//! formula in docs/rewards.md, the explicit adjustment as entered.

use super::{local_tx, mine, say, Chains, ETH};
use anyhow::{ensure, Context};
use claystack_execution::alloy::consensus::Transaction as _;
use claystack_execution::alloy::network::TransactionResponse as _;
use claystack_execution::alloy::primitives::{Address, U256};
use claystack_execution::alloy::providers::Provider;
use claystack_execution::{ContractAddresses, Registrar, Rpc, Transactor};
use claystack_frame_close::ReferenceReader;
use claystack_genesis::Genesis;
use serde_json::{json, Value};
use std::path::Path;

/// The feed stand-in's decimals and its price at deployment (0.0045 ETH per SSV); the
/// agreed price governance publishes from report 1 on (0.005 ETH per SSV).
pub(super) const FEED_DECIMALS: u8 = 18;
pub(super) const FIRST_OBSERVED_WEI_PER_SSV: u128 = 4_500_000_000_000_000;
pub(super) const AGREED_WEI_PER_SSV: u128 = 5_000_000_000_000_000;

/// Where one frame's execution-layer inputs are read.
#[derive(Debug, Clone, Copy)]
pub(super) struct FramePlan {
    pub number: u64,
    /// The previous frame's reference block: the fees count after it...
    pub start_block: u64,
    /// ...up to this frame's reference slot's block, where the contracts are read.
    pub reference_slot: u64,
    pub reference_block: u64,
}

/// The reference points of reports `1..=reports`, from the beacon chain.
pub(super) async fn plan(
    chains: &Chains,
    rpc: &Rpc,
    genesis: &Genesis,
    reports: u64,
) -> anyhow::Result<Vec<FramePlan>> {
    let reader = ReferenceReader::new(chains.beacon.clone(), rpc.clone(), genesis);
    let mut plans = Vec::new();
    for number in 1..=reports {
        let frame = claystack_report::frame_of(&genesis.economics, genesis.first_epoch, number)?;
        let (reference_slot, reference_block) = reader.reference(number, frame).await?;
        let start_block = reader.start_block(number, frame).await?;
        plans.push(FramePlan { number, start_block, reference_slot, reference_block });
    }
    Ok(plans)
}

/// What [`play_frame`] did in one frame.
#[derive(Debug, Clone)]
pub(super) struct FrameActivity {
    /// The feed's price for this frame (posted in it, or left from before).
    pub observed_wei_per_ssv: u128,
    /// The explicit adjustment entered for this report: (node, wei, reason).
    pub adjustment: Option<(u64, i128, String)>,
    pub moved_out_wei: u128,
}

/// Makes frame `plan.number`'s execution-layer activity, all of it after the start block and
/// at or before the reference block, then mines past the reference block.
pub(super) async fn play_frame(
    chains: &Chains,
    addresses: &ContractAddresses,
    plan: &FramePlan,
    previous_price: u128,
) -> anyhow::Result<FrameActivity> {
    let rpc = &chains.rpc;
    let now = rpc.block_number().await?;
    ensure!(
        now < plan.reference_block,
        "the chain is at block {now}, past report {}'s reference block {}; raise FIRST_EPOCH in node/src/commands/devnet",
        plan.number,
        plan.reference_block
    );
    if now <= plan.start_block {
        mine(rpc, plan.start_block + 1 - now).await?;
    }
    let owner = Registrar::new(Transactor::new(rpc.clone(), chains.keys[0].clone(), local_tx()), addresses);
    let k = u128::from(plan.number);
    let mev_wei = ETH / 4 + k * ETH / 100;
    let mut activity = FrameActivity { observed_wei_per_ssv: previous_price, adjustment: None, moved_out_wei: 0 };
    let mut last = owner.transfer(addresses.rewards_vault, U256::from(mev_wei)).await?;
    if plan.number >= 2 {
        // The observed price rises 0.001 ETH a report: above the agreed price from report 2 on.
        let price = FIRST_OBSERVED_WEI_PER_SSV + (k - 1) * ETH / 1000;
        owner.post_feed_answer(price as i128).await?;
        activity.observed_wei_per_ssv = price;
        let reason = format!("devnet: refund of a relay outage in report {}", plan.number);
        let amount = (ETH / 100) as i128;
        owner.enter_adjustment(plan.number, 1, amount, &reason).await?;
        activity.adjustment = Some((1, amount, reason));
        activity.moved_out_wei = ETH / 10;
        last = owner.vault_withdraw(addresses.node_manager, U256::from(activity.moved_out_wei)).await?;
    }
    ensure!(
        last <= plan.reference_block,
        "frame {}'s transactions reached block {last}, past its reference block {}",
        plan.number,
        plan.reference_block
    );
    let now = rpc.block_number().await?;
    mine(rpc, plan.reference_block + 8 - now).await?;
    say(&format!(
        "frame of report {}: {} ETH paid to the vault by the block builder{}; anvil mined past its reference block {} (beacon slot {})",
        plan.number,
        super::eth(U256::from(mev_wei)),
        if plan.number >= 2 {
            format!(
                ", feed price now {} wei/SSV, an adjustment of node 1 entered, 0.1 ETH moved out of the vault",
                activity.observed_wei_per_ssv
            )
        } else {
            String::new()
        },
        plan.reference_block,
        plan.reference_slot
    ));
    Ok(activity)
}

/// What the vault received in blocks `start + 1 ..= end`, from the blocks themselves: each
/// transaction's priority fee (the vault is the coinbase) plus the value of every transaction
/// sent to it. Independent of the vault's own accounting, which the report reads.
pub(super) async fn fees_truth(rpc: &Rpc, vault: Address, start: u64, end: u64) -> anyhow::Result<u128> {
    let mut total = 0u128;
    for n in start + 1..=end {
        let block = rpc.provider().get_block_by_number(n.into()).full().await?.with_context(|| format!("block {n}"))?;
        ensure!(block.header.beneficiary == vault, "block {n}'s fee recipient is not the vault");
        let base_fee = u128::from(block.header.base_fee_per_gas.unwrap_or(0));
        let receipts = rpc.provider().get_block_receipts(n.into()).await?.unwrap_or_default();
        for tx in block.transactions.txns() {
            let receipt = receipts
                .iter()
                .find(|r| r.transaction_hash == tx.tx_hash())
                .with_context(|| format!("no receipt of {} in block {n}", tx.tx_hash()))?;
            total += (receipt.effective_gas_price - base_fee) * u128::from(receipt.gas_used);
            if tx.to() == Some(vault) {
                total += tx.value().to::<u128>();
            }
        }
    }
    Ok(total)
}

fn wei(v: &Value) -> anyhow::Result<i128> {
    v.as_str().and_then(|s| s.parse().ok()).with_context(|| format!("{v} is not a wei amount"))
}

/// Checks report `plan.number` as exported in `exported` against what happened; returns the
/// summary's line for it.
pub(super) async fn check_report(
    exported: &Path,
    rpc: &Rpc,
    addresses: &ContractAddresses,
    plan: &FramePlan,
    activity: &FrameActivity,
) -> anyhow::Result<Value> {
    let log: Value = serde_json::from_slice(&std::fs::read(exported.join("frame-log.json"))?)?;
    let report: Value = serde_json::from_slice(&std::fs::read(exported.join("report.json"))?)?;
    let n = plan.number;
    let truth = fees_truth(rpc, addresses.rewards_vault, plan.start_block, plan.reference_block).await?;
    let fees = wei(&log["t"]["execution_fees_wei"])?;
    ensure!(
        fees == truth as i128,
        "report {n}: execution fees {fees} wei, but the blocks {}..={} paid the vault {truth}",
        plan.start_block + 1,
        plan.reference_block
    );
    let chain = &log["chain"];
    ensure!(
        chain["start_block"] == plan.start_block && chain["end_block"] == plan.reference_block,
        "report {n}: read the vault at blocks {}..{}, not {}..{}",
        chain["start_block"],
        chain["end_block"],
        plan.start_block,
        plan.reference_block
    );
    let agreed = wei(&log["ssv_price"]["agreed_wei_per_ssv"])?;
    let observed = wei(&log["ssv_price"]["observed_wei_per_ssv"])?;
    ensure!(
        (agreed, observed) == (AGREED_WEI_PER_SSV as i128, activity.observed_wei_per_ssv as i128),
        "report {n}: SSV prices {agreed}/{observed}, expected {AGREED_WEI_PER_SSV}/{}",
        activity.observed_wei_per_ssv
    );
    // docs/rewards.md: S = floor(base * ssv_portion_bps / 10000); O_ssv = S * (agreed - observed) / agreed,
    // rounded toward zero.
    let portion_bps: i128 = 5000; // genesis economics: ssv ssv_portion_bps
    let mut settled = Vec::new();
    let mut explicit = Vec::new();
    for o in report["operators"].as_array().context("report.json has no operators")? {
        for node in o["nodes"].as_array().context("operator without nodes")? {
            let lines = node["adjustments"].as_array().context("node without adjustments")?;
            let ssv: i128 = lines
                .iter()
                .filter(|a| a["kind"] == "ssv_price")
                .map(|a| wei(&a["amount_wei"]))
                .sum::<Result<_, _>>()?;
            if node["node_type"] == "ssv" {
                let s = wei(&node["base_wei"])? * portion_bps / 10_000;
                let expected = s * (agreed - observed) / agreed;
                ensure!(
                    ssv == expected,
                    "report {n}: node {} settles {ssv} wei for SSV, docs say {expected}",
                    node["id"]
                );
                settled.push(json!({ "node": node["id"], "amount_wei": ssv.to_string() }));
            }
            for a in lines.iter().filter(|a| a["kind"] == "explicit") {
                explicit.push((node["id"].as_u64().unwrap_or(0), wei(&a["amount_wei"])?, a["reason"].clone()));
            }
        }
    }
    match &activity.adjustment {
        Some((node, amount, reason)) => ensure!(
            explicit == [(*node, *amount, json!(reason))],
            "report {n}: explicit adjustments {explicit:?}, governance entered node {node} {amount} wei"
        ),
        None => ensure!(explicit.is_empty(), "report {n}: explicit adjustments {explicit:?}, governance entered none"),
    }
    say(&format!(
        "report {n} measured: execution fees {fees} wei (= the blocks' priority fees and transfers to the vault), \
         consensus rewards {} wei, SSV {agreed}/{observed} wei agreed/observed, SSV settlement per SSV node {}",
        log["t"]["consensus_rewards_wei"].as_str().unwrap_or("?"),
        settled.first().map_or("-".to_string(), |s| s["amount_wei"].as_str().unwrap_or("?").to_string())
    ));
    Ok(json!({
        "execution_fees_wei": fees.to_string(),
        "consensus_rewards_wei": log["t"]["consensus_rewards_wei"],
        "agreed_wei_per_ssv": agreed.to_string(),
        "observed_wei_per_ssv": observed.to_string(),
        "ssv_settlements": settled,
        "explicit_adjustments": explicit.len(),
        "vault_moved_out_wei": activity.moved_out_wei.to_string(),
    }))
}
