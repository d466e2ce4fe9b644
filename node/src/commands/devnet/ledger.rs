//! What the whole run left on the chain and in the members' APIs, checked after the last
//! report: every operator claims its last leaf (paid to the wei across reports), every report
//! was submitted by exactly one transaction, and the members serve the notifications.

use super::{local_tx, receipt_fee, say, Chains};
use anyhow::{ensure, Context};
use claystack_execution::alloy::network::TransactionResponse as _;
use claystack_execution::alloy::primitives::{Address, U256};
use claystack_execution::alloy::providers::Provider;
use claystack_execution::alloy::signers::local::PrivateKeySigner;
use claystack_execution::alloy::sol_types::SolCall;
use claystack_execution::bindings::NodeManager;
use claystack_execution::{ContractAddresses, RewardsLeaf, Submitter};
use claystack_merkle::StandardMerkleTree;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

/// What an operator has been credited and charged by earlier claims in this run.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Settled {
    pub rewards: U256,
    pub penalty: U256,
}

/// Every operator of the tree at `tree_path` claims its leaf and withdraws what it was
/// credited. Checked to the wei for each: credited + netted = its cumulative rewards less what
/// earlier claims accounted; bond paid + netted + debt = its cumulative bond penalty less what
/// earlier claims applied; its balance moved by exactly the credit less the gas it paid.
pub(super) async fn claim_every_leaf(
    chains: &Chains,
    addresses: &ContractAddresses,
    operators: &[(String, PrivateKeySigner)],
    tree_path: &Path,
    settled: &mut BTreeMap<Address, Settled>,
) -> anyhow::Result<Value> {
    let rpc = &chains.rpc;
    let dump = std::fs::read(tree_path).with_context(|| format!("cannot read {}", tree_path.display()))?;
    let tree = StandardMerkleTree::load(&serde_json::from_slice(&dump)?)?;
    let mut claims = Vec::new();
    for (i, value) in tree.values().iter().enumerate() {
        let leaf = RewardsLeaf::from_values(&value.value)?;
        let (name, key) = operators
            .iter()
            .find(|(_, k)| k.address() == leaf.operator)
            .with_context(|| format!("leaf {i} is for {}, not a registered operator", leaf.operator))?;
        let before = settled.get(&leaf.operator).copied().unwrap_or_default();
        let operator = Submitter::new(rpc.clone(), addresses.node_manager, key.clone(), local_tx());
        let balance = rpc.provider().get_balance(leaf.operator).await?;
        let claimed = operator.claim(&leaf, &tree.proof(i)?).await?;
        ensure!(
            claimed.amount + claimed.netted == leaf.cumulative_rewards - before.rewards,
            "{name}: credited {} + netted {} is not its cumulative rewards {} less the {} claimed before",
            claimed.amount,
            claimed.netted,
            leaf.cumulative_rewards,
            before.rewards
        );
        let applied = claimed.bond_penalty + claimed.netted;
        ensure!(
            applied + claimed.debt == leaf.cumulative_bond_penalty - before.penalty,
            "{name}: bond paid {} + netted {} + debt {} is not its cumulative penalty {} less the {} applied before",
            claimed.bond_penalty,
            claimed.netted,
            claimed.debt,
            leaf.cumulative_bond_penalty,
            before.penalty
        );
        let mut fees = receipt_fee(rpc, claimed.tx).await?;
        let mut withdraw_tx = Value::Null;
        if claimed.amount > U256::ZERO {
            let withdrawn = operator.withdraw(leaf.operator, claimed.amount).await?;
            fees += receipt_fee(rpc, withdrawn.tx).await?;
            withdraw_tx = json!(withdrawn.tx.to_string());
        }
        let after = rpc.provider().get_balance(leaf.operator).await?;
        ensure!(after + U256::from(fees) == balance + claimed.amount, "{name}: its balance moved by the wrong amount");
        settled.insert(
            leaf.operator,
            Settled { rewards: before.rewards + claimed.amount + claimed.netted, penalty: before.penalty + applied },
        );
        say(&format!(
            "operator {name} claimed report {}'s leaf: credited {} wei (cumulative {}, {} claimed before), bond paid {} wei",
            claimed.report_number, claimed.amount, leaf.cumulative_rewards, before.rewards, claimed.bond_penalty
        ));
        claims.push(json!({
            "operator": leaf.operator.to_string(),
            "name": name,
            "report": claimed.report_number,
            "cumulative_rewards_wei": leaf.cumulative_rewards.to_string(),
            "claimed_before_wei": before.rewards.to_string(),
            "credited_wei": claimed.amount.to_string(),
            "netted_wei": claimed.netted.to_string(),
            "bond_paid_wei": claimed.bond_penalty.to_string(),
            "debt_wei": claimed.debt.to_string(),
            "tx": claimed.tx.to_string(),
            "withdraw_tx": withdraw_tx,
        }));
    }
    Ok(Value::Array(claims))
}

/// Every `submitReport` transaction sent to the NodeManager in blocks `from..=head`, mined
/// or reverted: "kind-number" to the transactions.
pub(super) async fn submissions(chains: &Chains, node_manager: Address, from: u64) -> anyhow::Result<Value> {
    let rpc = &chains.rpc;
    let head = rpc.provider().get_block_number().await?;
    let mut found: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for n in from..=head {
        let block = rpc.provider().get_block_by_number(n.into()).full().await?.with_context(|| format!("block {n}"))?;
        for tx in block.transactions.txns() {
            use claystack_execution::alloy::consensus::Transaction as _;
            if tx.to() != Some(node_manager) {
                continue;
            }
            let Ok(call) = NodeManager::submitReportCall::abi_decode(tx.input()) else { continue };
            let receipt = rpc.provider().get_transaction_receipt(tx.tx_hash()).await?.context("no receipt")?;
            let kind = if call.kind == 0 { "rewards" } else { "exits" };
            found.entry(format!("{kind}-{}", call.number)).or_default().push(json!({
                "tx": tx.tx_hash().to_string(),
                "block": n,
                "from": tx.from().to_string(),
                "success": receipt.status(),
            }));
        }
    }
    Ok(json!(found))
}

/// `GET path` on a member's API (HTTP/1.0, the body as JSON).
pub(super) fn api_get(port: u16, path: &str) -> anyhow::Result<Value> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))
        .with_context(|| format!("cannot reach the member API on 127.0.0.1:{port}"))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let (head, body) = text.split_once("\r\n\r\n").context("an HTTP answer without a body")?;
    ensure!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"), "GET {path}: {head}");
    serde_json::from_str(body).with_context(|| format!("GET {path}: not JSON"))
}
