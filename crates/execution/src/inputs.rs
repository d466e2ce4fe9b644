//! The report inputs that live in the protocol's own contracts besides the registry, each
//! read with `eth_call` pinned at a block number (the frame's reference blocks, never
//! `latest`):
//!
//! - what the **RewardsVault** (the protocol validators' fee recipient) has received up to a
//!   block: its balance plus everything it ever paid out, so the execution-layer part of `T`
//!   is the difference between two reference blocks whatever the protocol moved out between;
//! - the **agreed SSV price** of a report from RewardsGovernance's history;
//! - the **explicit adjustments** governance entered for a report;
//! - the latest round of the **SSV price feed** (a Chainlink `AggregatorV3Interface`), and the
//!   block's timestamp to judge its age by.
//!
//! This module reads; the rules (how old a round may be, how an answer becomes wei per SSV)
//! are pure and live in `claystack-report`.

use crate::bindings::{MockAggregatorV3, RewardsGovernance, RewardsVault};
use crate::error::ChainError;
use crate::tx::Rpc;
use alloy::eips::BlockId;
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;

/// One round of the price feed as the contract answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedAnswer {
    pub round_id: u128,
    /// The answer, in `10^-decimals` ETH per SSV; `None` when it does not fit 128 bits.
    pub answer: Option<i128>,
    pub updated_at: u64,
    pub answered_in_round: u128,
    pub decimals: u8,
}

/// One explicit adjustment as RewardsGovernance holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainAdjustment {
    pub node: u64,
    pub amount_wei: i128,
    pub reason: String,
}

/// Reads the vault, the governance contract and the feed at pinned blocks.
#[derive(Debug, Clone)]
pub struct RewardsInputsReader {
    rpc: Rpc,
    vault: Address,
    governance: Address,
    feed: Address,
}

fn to_u128(v: U256, what: &str) -> Result<u128, ChainError> {
    u128::try_from(v).map_err(|_| ChainError::Invalid {
        what: what.to_string(),
        message: format!("{v} does not fit 128 bits; is this the right contract?"),
    })
}

impl RewardsInputsReader {
    pub fn new(rpc: Rpc, vault: Address, governance: Address, feed: Address) -> RewardsInputsReader {
        RewardsInputsReader { rpc, vault, governance, feed }
    }

    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    /// Everything the vault has received up to and including block `block`: `totalReceived()`,
    /// or, before the vault's code is deployed there, the address's plain balance (ETH sent to
    /// the address early counts as received when it is first seen).
    pub async fn vault_received(&self, block: u64) -> Result<u128, ChainError> {
        let at = BlockId::number(block);
        let code = self
            .rpc
            .provider
            .get_code_at(self.vault)
            .block_id(at)
            .await
            .map_err(|e| self.rpc.err(format!("eth_getCode of RewardsVault {} at block {block}", self.vault), e))?;
        if code.is_empty() {
            let balance = self
                .rpc
                .provider
                .get_balance(self.vault)
                .block_id(at)
                .await
                .map_err(|e| self.rpc.err(format!("eth_getBalance of {} at block {block}", self.vault), e))?;
            return to_u128(balance, "rewards vault balance");
        }
        let v = RewardsVault::new(self.vault, &self.rpc.provider)
            .totalReceived()
            .block(at)
            .call()
            .await
            .map_err(|e| self.rpc.err(format!("RewardsVault.totalReceived at block {block}"), e))?;
        to_u128(v, "RewardsVault.totalReceived")
    }

    /// The agreed SSV price (wei per SSV) of report `number` as of block `block`, with the
    /// report it was published from; `None` when governance has published none that applies.
    pub async fn agreed_ssv_price(&self, number: u64, block: u64) -> Result<Option<(u128, u64)>, ChainError> {
        let at = BlockId::number(block);
        self.rpc.require_code("RewardsGovernance", "rewards_governance", self.governance, at).await?;
        let r = RewardsGovernance::new(self.governance, &self.rpc.provider)
            .agreedSsvPrice(number)
            .block(at)
            .call()
            .await
            .map_err(|e| self.rpc.err(format!("RewardsGovernance.agreedSsvPrice({number}) at block {block}"), e))?;
        if !r.found {
            return Ok(None);
        }
        Ok(Some((to_u128(r.weiPerSsv, "agreed SSV price")?, r.fromReport)))
    }

    /// The explicit adjustments of report `number` as of block `block`, in entry order.
    pub async fn adjustments(&self, number: u64, block: u64) -> Result<Vec<ChainAdjustment>, ChainError> {
        let at = BlockId::number(block);
        self.rpc.require_code("RewardsGovernance", "rewards_governance", self.governance, at).await?;
        let list = RewardsGovernance::new(self.governance, &self.rpc.provider)
            .adjustmentsOf(number)
            .block(at)
            .call()
            .await
            .map_err(|e| self.rpc.err(format!("RewardsGovernance.adjustmentsOf({number}) at block {block}"), e))?;
        list.into_iter()
            .map(|a| {
                let amount_wei = i128::try_from(a.amountWei).map_err(|_| ChainError::Invalid {
                    what: format!("adjustment of node {} in report {number}", a.nodeId),
                    message: format!("{} wei does not fit 128 bits", a.amountWei),
                })?;
                Ok(ChainAdjustment { node: a.nodeId, amount_wei, reason: a.reason })
            })
            .collect()
    }

    /// The feed's latest round as of block `block`. A feed without code there, or one that
    /// reverts (no round yet), is an error the caller waits on.
    pub async fn feed_round(&self, block: u64) -> Result<FeedAnswer, ChainError> {
        let at = BlockId::number(block);
        self.rpc.require_code("SSV price feed", "ssv_price_feed", self.feed, at).await?;
        // Only the AggregatorV3Interface part of the stand-in's ABI is used: any Chainlink feed answers it.
        let feed = MockAggregatorV3::new(self.feed, &self.rpc.provider);
        let decimals = feed
            .decimals()
            .block(at)
            .call()
            .await
            .map_err(|e| self.rpc.err(format!("SSV price feed decimals() at block {block}"), e))?;
        let r = feed
            .latestRoundData()
            .block(at)
            .call()
            .await
            .map_err(|e| self.rpc.err(format!("SSV price feed latestRoundData() at block {block}"), e))?;
        let updated_at = u64::try_from(r._3).unwrap_or(u64::MAX);
        Ok(FeedAnswer {
            round_id: r._0.to::<u128>(),
            answer: i128::try_from(r._1).ok(),
            updated_at,
            answered_in_round: r._4.to::<u128>(),
            decimals,
        })
    }

    /// Block `block`'s timestamp (seconds).
    pub async fn block_timestamp(&self, block: u64) -> Result<u64, ChainError> {
        let b = self
            .rpc
            .provider
            .get_block_by_number(block.into())
            .await
            .map_err(|e| self.rpc.err(format!("eth_getBlockByNumber({block})"), e))?
            .ok_or_else(|| ChainError::Invalid {
                what: format!("execution block {block}"),
                message: "the node does not have it; is it synced?".into(),
            })?;
        Ok(b.header.timestamp)
    }
}
