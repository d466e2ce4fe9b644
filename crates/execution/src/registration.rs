//! Writing to the OperatorRegistry as its users do: an operator registers, bonds (ETH
//! deposited into csETH, or csETH) and adds nodes its bond covers; the protocol (the registry's owner) delegates validators to node clusters
//! and funds the NodeManager's rewards; governance publishes agreed SSV prices and enters
//! adjustments (RewardsGovernance); the local chain's feed stand-in gets new prices; users
//! and governance move the withdrawal queue stand-in's demand and buffer; the protocol
//! records validators' beacon indices and operators ask for voluntary exits. The local testnet uses these to set up a chain the
//! committee then reports on; production operators would use their own wallets and UIs.

use crate::bindings::{
    MockAggregatorV3, MockCsETH, OperatorRegistry, RewardsGovernance, RewardsVault, WithdrawalQueue,
};
use crate::error::ChainError;
use crate::registry::NodeType;
use crate::tx::{Call, Mined, Transactor};
use crate::ContractAddresses;
use alloy::primitives::{Address, Bytes, TxKind, I256, U256};
use alloy::sol_types::{SolCall, SolEvent};

/// Sends registry transactions from one key.
#[derive(Clone)]
pub struct Registrar {
    tx: Transactor,
    registry: Address,
    cs_eth: Address,
    governance: Address,
    feed: Address,
    vault: Address,
    queue: Address,
}

impl Registrar {
    pub fn new(tx: Transactor, addresses: &ContractAddresses) -> Registrar {
        Registrar {
            tx,
            registry: addresses.operator_registry,
            cs_eth: addresses.cs_eth,
            governance: addresses.rewards_governance,
            feed: addresses.ssv_price_feed,
            vault: addresses.rewards_vault,
            queue: addresses.withdrawal_queue,
        }
    }

    /// The account this registrar sends from.
    pub fn address(&self) -> Address {
        self.tx.address()
    }

    /// Registers the sender as an operator; returns its id.
    pub async fn register_operator(&self, name: &str, metadata: &str) -> Result<u64, ChainError> {
        let input = OperatorRegistry::registerOperatorCall { name: name.into(), metadata: metadata.into() };
        let m = self.call(format!("registerOperator({name})"), self.registry, input.abi_encode()).await?;
        let ev = self.event::<OperatorRegistry::OperatorRegistered>(&m, "OperatorRegistered")?;
        u64::try_from(ev.operatorId).map_err(|_| self.invalid("OperatorRegistered", "operator id above 64 bits"))
    }

    /// Adds a node of `node_type` to the sender's operator; returns its id.
    pub async fn add_node(&self, node_type: NodeType, metadata: &str) -> Result<u64, ChainError> {
        let input = OperatorRegistry::addNodeCall { nodeType: node_type.to_u8(), metadata: metadata.into() };
        let m = self.call(format!("addNode({})", node_type.name()), self.registry, input.abi_encode()).await?;
        let ev = self.event::<OperatorRegistry::NodeAdded>(&m, "NodeAdded")?;
        u64::try_from(ev.nodeId).map_err(|_| self.invalid("NodeAdded", "node id above 64 bits"))
    }

    /// Sets where the sender's node `node` runs (at most 32 bytes of `a`-`z`, `0`-`9`, `-`;
    /// "" clears it); returns the block.
    pub async fn set_node_location(&self, node: u64, location: &str) -> Result<u64, ChainError> {
        let input = OperatorRegistry::setNodeLocationCall { nodeId: U256::from(node), location: location.into() };
        let m = self.call(format!("setNodeLocation({node}, {location:?})"), self.registry, input.abi_encode()).await?;
        self.event::<OperatorRegistry::NodeLocationSet>(&m, "NodeLocationSet")?;
        Ok(m.block)
    }

    /// Mints `amount` of the csETH stand-in to the sender (anyone may, on the mock), lets the
    /// registry take it and deposits it as the sender's bond.
    pub async fn bond_with_mock_cs_eth(&self, amount: U256) -> Result<(), ChainError> {
        let mint = MockCsETH::mintCall { to: self.address(), amount };
        self.call("csETH.mint".into(), self.cs_eth, mint.abi_encode()).await?;
        let approve = MockCsETH::approveCall { spender: self.registry, value: amount };
        self.call("csETH.approve".into(), self.cs_eth, approve.abi_encode()).await?;
        let deposit = OperatorRegistry::depositBondCall { amount };
        self.call("depositBond".into(), self.registry, deposit.abi_encode()).await?;
        Ok(())
    }

    /// Bonds `amount` wei of ETH: the registry deposits it into csETH at csETH's rate and
    /// keeps the csETH as the sender's bond (how an operator bonds; the seed: "the supplied
    /// bond is converted to csETH"). Returns the csETH minted.
    pub async fn bond_with_eth(&self, amount: U256) -> Result<U256, ChainError> {
        let input = OperatorRegistry::depositBondWithEthCall {}.abi_encode();
        let call = Call {
            what: "depositBondWithEth".into(),
            to: TxKind::Call(self.registry),
            input: input.into(),
            value: amount,
        };
        let m = self.mined(&call).await?;
        let ev = self.event::<OperatorRegistry::BondDeposited>(&m, "BondDeposited")?;
        Ok(ev.amount)
    }

    /// Asks to withdraw `amount` csETH of the sender's bond; it can be taken with
    /// [`Registrar::withdraw_bond`] once a later rewards report is accepted and claimed.
    pub async fn request_bond_withdrawal(&self, amount: U256) -> Result<(), ChainError> {
        let input = OperatorRegistry::requestBondWithdrawalCall { amount };
        self.call("requestBondWithdrawal".into(), self.registry, input.abi_encode()).await?;
        Ok(())
    }

    /// Takes the bond withdrawal asked for; returns the csETH withdrawn.
    pub async fn withdraw_bond(&self) -> Result<U256, ChainError> {
        let m =
            self.call("withdrawBond".into(), self.registry, OperatorRegistry::withdrawBondCall {}.abi_encode()).await?;
        let ev = self.event::<OperatorRegistry::BondWithdrawn>(&m, "BondWithdrawn")?;
        Ok(ev.amount)
    }

    /// Delegates the validator `pubkey` to the cluster `nodes` (ascending ids); owner only.
    pub async fn add_validator(&self, pubkey: &[u8; 48], nodes: &[u64]) -> Result<u64, ChainError> {
        let input = OperatorRegistry::addValidatorCall {
            pubkey: Bytes::copy_from_slice(pubkey),
            nodeIds: nodes.iter().map(|&n| U256::from(n)).collect(),
        };
        let m = self.call(format!("addValidator(nodes {nodes:?})"), self.registry, input.abi_encode()).await?;
        let ev = self.event::<OperatorRegistry::ValidatorAdded>(&m, "ValidatorAdded")?;
        u64::try_from(ev.validatorId).map_err(|_| self.invalid("ValidatorAdded", "validator id above 64 bits"))
    }

    /// Records the beacon chain index of each validator (`(validator id, beacon index)`);
    /// owner only, once per validator (recording the same pair again changes nothing).
    pub async fn set_beacon_indices(&self, pairs: &[(u64, u64)]) -> Result<u64, ChainError> {
        let input = OperatorRegistry::setBeaconIndicesCall {
            validatorIds: pairs.iter().map(|&(id, _)| U256::from(id)).collect(),
            indices: pairs.iter().map(|&(_, index)| index).collect(),
        };
        let what = format!("setBeaconIndices({} validators)", pairs.len());
        Ok(self.call(what, self.registry, input.abi_encode()).await?.block)
    }

    /// Asks to exit the sender's validator `pubkey` (fast-tracked or not); the exits report
    /// gives it a slot. Returns the block of the request (its place in the queue is the
    /// event's block and log index).
    pub async fn request_voluntary_exit(&self, pubkey: &[u8; 48], fast_track: bool) -> Result<u64, ChainError> {
        let input = OperatorRegistry::requestVoluntaryExitCall {
            pubkey: Bytes::copy_from_slice(pubkey),
            fastTrack: fast_track,
        };
        let what = format!("requestVoluntaryExit(fast track {fast_track})");
        let m = self.call(what, self.registry, input.abi_encode()).await?;
        self.event::<OperatorRegistry::VoluntaryExitRequested>(&m, "VoluntaryExitRequested")?;
        Ok(m.block)
    }

    /// Enqueues a withdrawal of `amount_wei` in the withdrawal queue stand-in (anyone).
    pub async fn request_withdrawal(&self, amount_wei: u128) -> Result<u64, ChainError> {
        let input = WithdrawalQueue::requestWithdrawalCall { amountWei: U256::from(amount_wei) };
        let what = format!("WithdrawalQueue.requestWithdrawal({amount_wei})");
        Ok(self.call(what, self.queue, input.abi_encode()).await?.block)
    }

    /// Sets the withdrawal queue stand-in's unmet demand and buffer (wei); its owner only.
    pub async fn set_queue_liquidity(&self, unmet_demand_wei: u128, buffer_wei: u128) -> Result<u64, ChainError> {
        let demand = WithdrawalQueue::setUnmetDemandCall { amountWei: U256::from(unmet_demand_wei) };
        self.call(format!("WithdrawalQueue.setUnmetDemand({unmet_demand_wei})"), self.queue, demand.abi_encode())
            .await?;
        let buffer = WithdrawalQueue::setBufferCall { amountWei: U256::from(buffer_wei) };
        Ok(self.call(format!("WithdrawalQueue.setBuffer({buffer_wei})"), self.queue, buffer.abi_encode()).await?.block)
    }

    /// Sends `amount` wei to `to` (e.g. the NodeManager, which pays claims from its balance).
    pub async fn transfer(&self, to: Address, amount: U256) -> Result<u64, ChainError> {
        let call = Call { what: format!("transfer to {to}"), to: TxKind::Call(to), input: Bytes::new(), value: amount };
        Ok(self.mined(&call).await?.block)
    }

    /// Publishes the agreed SSV price `wei_per_ssv` from report `from_report` on; governance only.
    pub async fn publish_agreed_ssv_price(&self, from_report: u64, wei_per_ssv: u128) -> Result<u64, ChainError> {
        let input = RewardsGovernance::publishAgreedSsvPriceCall {
            fromReport: from_report,
            weiPerSsv: U256::from(wei_per_ssv),
        };
        let what = format!("RewardsGovernance.publishAgreedSsvPrice({from_report})");
        Ok(self.call(what, self.governance, input.abi_encode()).await?.block)
    }

    /// Enters an adjustment of `amount_wei` to node `node` in report `report`; governance only.
    pub async fn enter_adjustment(
        &self,
        report: u64,
        node: u64,
        amount_wei: i128,
        reason: &str,
    ) -> Result<u64, ChainError> {
        let input = RewardsGovernance::enterAdjustmentCall {
            report,
            nodeId: node,
            amountWei: I256::try_from(amount_wei).expect("i128 fits i256"),
            reason: reason.into(),
        };
        let what = format!("RewardsGovernance.enterAdjustment(report {report}, node {node})");
        Ok(self.call(what, self.governance, input.abi_encode()).await?.block)
    }

    /// Posts a new round with `answer` to the local feed stand-in (anyone may); returns its block.
    pub async fn post_feed_answer(&self, answer: i128) -> Result<u64, ChainError> {
        let input = MockAggregatorV3::postAnswerCall { answer: I256::try_from(answer).expect("i128 fits i256") };
        Ok(self.call(format!("feed.postAnswer({answer})"), self.feed, input.abi_encode()).await?.block)
    }

    /// Moves `amount` wei out of the RewardsVault to `to`; the vault's owner only.
    pub async fn vault_withdraw(&self, to: Address, amount: U256) -> Result<u64, ChainError> {
        let input = RewardsVault::withdrawCall { to, amount };
        Ok(self.call(format!("RewardsVault.withdraw({amount} to {to})"), self.vault, input.abi_encode()).await?.block)
    }

    async fn call(&self, what: String, to: Address, input: Vec<u8>) -> Result<Mined, ChainError> {
        self.mined(&Call { what, to: TxKind::Call(to), input: input.into(), value: U256::ZERO }).await
    }

    async fn mined(&self, call: &Call) -> Result<Mined, ChainError> {
        self.tx.mined(call).await
    }

    fn event<E: SolEvent>(&self, m: &Mined, name: &str) -> Result<E, ChainError> {
        m.logs
            .iter()
            .filter(|l| l.address() == self.registry)
            .find_map(|l| l.log_decode::<E>().ok().map(|l| l.inner.data))
            .ok_or_else(|| self.invalid(name, &format!("transaction {} has no {name} event", m.tx)))
    }

    fn invalid(&self, what: &str, message: &str) -> ChainError {
        ChainError::Invalid {
            what: what.to_string(),
            message: format!("{message}; is {} the OperatorRegistry?", self.registry),
        }
    }
}
