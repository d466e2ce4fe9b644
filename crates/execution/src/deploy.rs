//! Deploys the contracts for a genesis: MockCsETH, OperatorRegistry (with the genesis bond
//! rules), NodeManager, RewardsVault (the fee recipient), RewardsGovernance (agreed SSV price,
//! adjustments with the genesis cap) and, on a local chain, a MockAggregatorV3 standing in for
//! the SSV price feed and a WithdrawalQueue stand-in; then the committee's keys in batches (`registerMembers`, the last batch
//! seals the committee), `registry.setNodeManager` and the first agreed SSV price.
//!
//! Registering a member checks its proof of possession (~0.24M gas), so a whole committee of
//! 128 does not fit one transaction under EIP-7825's cap of 16,777,216 gas: members go in
//! batches of [`DeployConfig::members_per_batch`] (32 by default, ~8-12M gas each; see
//! docs/contracts.md), each its own transaction, and no report is accepted before the last.
//!
//! The committee signs a root bound to the NodeManager's address, so the genesis must name
//! the address before anyone signs. A contract created by an account lands at
//! `keccak256(rlp(deployer, nonce))`: [`predict_addresses`] gives the addresses for a
//! deployer and its next nonce, a local testnet writes them into its genesis, and
//! [`Deployer::deploy`] refuses to start when the genesis disagrees and checks every
//! address it gets against the prediction.

use crate::bindings::{
    MockAggregatorV3, MockCsETH, NodeManager, OperatorRegistry, RewardsGovernance, RewardsVault, WithdrawalQueue,
};
use crate::error::ChainError;
use crate::tx::{Call, Mined, Transactor};
use alloy::primitives::{Address, Bytes, TxKind, I256, U256};
use alloy::providers::Provider;
use alloy::sol_types::{SolCall, SolConstructor};
use claystack_genesis::Genesis;
use claystack_quorum::bls::{g1_to_eip2537, g2_to_eip2537};
use tracing::info;

/// Where the contracts of one deployment live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractAddresses {
    pub cs_eth: Address,
    pub operator_registry: Address,
    pub node_manager: Address,
    pub rewards_vault: Address,
    pub rewards_governance: Address,
    /// Where the feed stand-in lands, if the deployment makes one.
    pub ssv_price_feed: Address,
    /// Where the withdrawal queue stand-in lands, if the deployment makes one (after the feed
    /// stand-in, so every other contract keeps its address).
    pub withdrawal_queue: Address,
}

impl ContractAddresses {
    /// Writes the addresses into `genesis.contracts` (the feed too: a local chain has no other).
    /// The withdrawal queue is not written: the genesis has no field for it yet.
    pub fn apply_to(&self, genesis: &mut Genesis) {
        let g = |a: Address| claystack_genesis::Address(a.0 .0);
        genesis.contracts.node_manager = g(self.node_manager);
        genesis.contracts.operator_registry = g(self.operator_registry);
        genesis.contracts.rewards_vault = g(self.rewards_vault);
        genesis.contracts.rewards_governance = g(self.rewards_governance);
        genesis.contracts.ssv_price_feed = g(self.ssv_price_feed);
    }
}

/// The addresses [`Deployer::deploy`] gives when `deployer`'s next nonce is `nonce`: csETH
/// at `nonce`, then the registry, the NodeManager, the vault, the governance contract, the
/// feed stand-in and the withdrawal queue stand-in at the next six.
pub fn predict_addresses(deployer: Address, nonce: u64) -> ContractAddresses {
    ContractAddresses {
        cs_eth: deployer.create(nonce),
        operator_registry: deployer.create(nonce + 1),
        node_manager: deployer.create(nonce + 2),
        rewards_vault: deployer.create(nonce + 3),
        rewards_governance: deployer.create(nonce + 4),
        ssv_price_feed: deployer.create(nonce + 5),
        withdrawal_queue: deployer.create(nonce + 6),
    }
}

/// A `MockAggregatorV3` to deploy as the SSV price feed (local chains only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedStandIn {
    /// The feed's `decimals()` (Chainlink's ETH pairs: 18).
    pub decimals: u8,
    /// Its first answer, in units of `10^-decimals` ETH per SSV.
    pub initial_answer: i128,
}

/// The registry's constructor settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployConfig {
    /// Beacon chain genesis time (seconds); the registry counts epochs from it.
    pub beacon_genesis_time: u64,
    pub seconds_per_epoch: u64,
    /// Nodes in an Obol cluster (genesis economics `node_types` "obol" `cluster_size`).
    pub obol_cluster_size: u8,
    /// The registry's owner (the protocol); the deployer when `None`.
    pub owner: Option<Address>,
    /// Receives slashed bonds; the owner when `None`.
    pub treasury: Option<Address>,
    /// Bond (wei) of an operator's first node of each type, in the registry's order (SSV,
    /// Obol, Direct): genesis `node_types[].first_node_bond_wei`.
    pub first_node_bond_wei: [u128; 3],
    /// Bond (wei) of each further node of a type: genesis `per_node_bond_wei`.
    pub per_node_bond_wei: [u128; 3],
    /// Committee members registered per transaction.
    pub members_per_batch: usize,
    /// RewardsGovernance's cap on one report's adjustments (genesis `economics.adjustment_cap_wei`).
    pub adjustment_cap_wei: u128,
    /// Deploy a feed stand-in where genesis names the feed; `None`: the feed exists already.
    pub feed_stand_in: Option<FeedStandIn>,
    /// Deploy a WithdrawalQueue stand-in (owned by the registry's owner) at the nonce after
    /// the feed stand-in's; needs `feed_stand_in` (local chains have neither for real).
    pub withdrawal_queue_stand_in: bool,
    /// Publish this agreed SSV price (wei per SSV) from report 1 on, when the deployer owns
    /// the governance contract.
    pub agreed_wei_per_ssv: Option<u128>,
}

/// Members per `registerMembers` transaction by default: 32 proofs of possession and the
/// seal stay well under EIP-7825's 16,777,216 gas (docs/contracts.md has the figures).
pub const MEMBERS_PER_BATCH: usize = 32;

impl DeployConfig {
    /// Settings from a genesis: the Obol cluster size and the bonds from its economics; no
    /// stand-ins.
    pub fn for_genesis(
        genesis: &Genesis,
        beacon_genesis_time: u64,
        seconds_per_epoch: u64,
    ) -> Result<DeployConfig, ChainError> {
        let invalid = |message: String| ChainError::Invalid { what: "genesis economics".into(), message };
        let obol = genesis
            .economics
            .node_type("obol")
            .ok_or_else(|| invalid("node_types has no \"obol\" entry; the registry needs its cluster size".into()))?;
        let mut first_node_bond_wei = [0u128; 3];
        let mut per_node_bond_wei = [0u128; 3];
        // The registry's NodeType order: SSV, Obol, Direct.
        for (i, name) in ["ssv", "obol", "direct"].into_iter().enumerate() {
            let t = genesis
                .economics
                .node_type(name)
                .ok_or_else(|| invalid(format!("node_types has no \"{name}\" entry; the registry needs its bonds")))?;
            first_node_bond_wei[i] = t.first_node_bond_wei;
            per_node_bond_wei[i] = t.per_node_bond_wei;
        }
        let obol_cluster_size = u8::try_from(obol.cluster_size)
            .ok()
            .filter(|&s| s > 0)
            .ok_or_else(|| invalid(format!("node_types obol cluster_size {} is not 1..=255", obol.cluster_size)))?;
        Ok(DeployConfig {
            beacon_genesis_time,
            seconds_per_epoch,
            obol_cluster_size,
            owner: None,
            treasury: None,
            first_node_bond_wei,
            per_node_bond_wei,
            members_per_batch: MEMBERS_PER_BATCH,
            adjustment_cap_wei: genesis.economics.adjustment_cap_wei,
            feed_stand_in: None,
            withdrawal_queue_stand_in: false,
            agreed_wei_per_ssv: None,
        })
    }
}

/// The committee as the NodeManager constructor takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitteeArgs {
    /// G1 keys, uncompressed EIP-2537 (128 bytes).
    pub public_keys: Vec<Bytes>,
    /// The same keys compressed (48 bytes, genesis `bls_pubkey`).
    pub compressed_keys: Vec<Bytes>,
    /// Proofs of possession, uncompressed EIP-2537 G2 (256 bytes), from genesis `pop`.
    pub proofs: Vec<Bytes>,
}

/// A finished deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub addresses: ContractAddresses,
    pub deployer: Address,
    /// The deployer's nonce of the first contract.
    pub first_nonce: u64,
    /// The block of the NodeManager's creation: where to start reading its events.
    pub node_manager_block: u64,
    /// Gas used by the NodeManager's creation.
    pub node_manager_gas: u64,
    /// Each `registerMembers` transaction: members it registered and gas it used.
    pub member_batches: Vec<(usize, u64)>,
}

/// Deploys from one local key (see [`crate::tx`] for how transactions are sent).
#[derive(Debug, Clone)]
pub struct Deployer {
    tx: Transactor,
}

impl Deployer {
    pub fn new(tx: Transactor) -> Deployer {
        Deployer { tx }
    }

    pub fn address(&self) -> Address {
        self.tx.address()
    }

    /// The deployer's next nonce (mined transactions).
    pub async fn next_nonce(&self) -> Result<u64, ChainError> {
        let rpc = self.tx.rpc();
        rpc.provider
            .get_transaction_count(self.address())
            .latest()
            .await
            .map_err(|e| rpc.err("eth_getTransactionCount", e))
    }

    /// Where a deployment from now would put the contracts.
    pub async fn predict(&self) -> Result<ContractAddresses, ChainError> {
        Ok(predict_addresses(self.address(), self.next_nonce().await?))
    }

    /// The NodeManager constructor's committee arguments, in member order.
    pub fn committee_args(genesis: &Genesis) -> Result<CommitteeArgs, ChainError> {
        let mut args = CommitteeArgs::default();
        for (i, m) in genesis.committee.members.iter().enumerate() {
            let invalid = |e: claystack_quorum::bls::BlsError| ChainError::Invalid {
                what: format!("genesis committee.members[{i}]"),
                message: format!("{e}; run `claystack-oracle genesis verify`"),
            };
            args.public_keys.push(Bytes::copy_from_slice(&g1_to_eip2537(&m.bls_pubkey).map_err(invalid)?));
            args.compressed_keys.push(Bytes::copy_from_slice(&m.bls_pubkey));
            args.proofs.push(Bytes::copy_from_slice(&g2_to_eip2537(&m.pop).map_err(invalid)?));
        }
        Ok(args)
    }

    /// Deploys csETH (mock), the registry and the NodeManager for `genesis`, then points the
    /// registry at the NodeManager. Fails before sending anything if the genesis' contract
    /// addresses are not where this deployment will put them.
    pub async fn deploy(&self, genesis: &Genesis, config: &DeployConfig) -> Result<Deployment, ChainError> {
        let deployer = self.address();
        let rpc = self.tx.rpc();
        if rpc.chain_id != genesis.chain_id {
            return Err(ChainError::WrongChain { url: rpc.url.clone(), got: rpc.chain_id, expected: genesis.chain_id });
        }
        let nonce = self.next_nonce().await?;
        let predicted = predict_addresses(deployer, nonce);
        let mut expected = vec![
            ("node_manager", genesis.contracts.node_manager, predicted.node_manager),
            ("operator_registry", genesis.contracts.operator_registry, predicted.operator_registry),
            ("rewards_vault", genesis.contracts.rewards_vault, predicted.rewards_vault),
            ("rewards_governance", genesis.contracts.rewards_governance, predicted.rewards_governance),
        ];
        if config.feed_stand_in.is_some() {
            expected.push(("ssv_price_feed", genesis.contracts.ssv_price_feed, predicted.ssv_price_feed));
        }
        for (field, genesis_address, predicted) in expected {
            let genesis_address = Address::from(genesis_address.0);
            if genesis_address != predicted {
                return Err(ChainError::GenesisMismatch {
                    field,
                    genesis: genesis_address,
                    predicted,
                    deployer,
                    nonce,
                });
            }
        }
        if config.withdrawal_queue_stand_in && config.feed_stand_in.is_none() {
            return Err(ChainError::Invalid {
                what: "deploy config".into(),
                message: format!(
                    "the withdrawal queue stand-in goes at nonce {} after the feed stand-in; deploy the feed stand-in too, or neither",
                    nonce + 6
                ),
            });
        }
        let committee = Deployer::committee_args(genesis)?;
        let owner = config.owner.unwrap_or(deployer);
        let treasury = config.treasury.unwrap_or(owner);

        let (cs_eth, _) =
            self.create("deploy MockCsETH", MockCsETH::BYTECODE.to_vec(), predicted.cs_eth, nonce).await?;

        let registry_args = OperatorRegistry::constructorCall {
            owner_: owner,
            csETH_: cs_eth,
            treasury_: treasury,
            config: OperatorRegistry::Config {
                beaconGenesisTime: config.beacon_genesis_time,
                secondsPerEpoch: config.seconds_per_epoch,
                obolClusterSize: config.obol_cluster_size,
                firstNodeBond: config.first_node_bond_wei.map(U256::from),
                perNodeBond: config.per_node_bond_wei.map(U256::from),
            },
        }
        .abi_encode();
        let code = [OperatorRegistry::BYTECODE.as_ref(), &registry_args].concat();
        let (registry, _) =
            self.create("deploy OperatorRegistry", code, predicted.operator_registry, nonce + 1).await?;

        let manager_args = NodeManager::constructorCall {
            registry_: registry,
            committeeSize_: U256::from(committee.public_keys.len()),
            threshold_: U256::from(genesis.committee.threshold),
        }
        .abi_encode();
        let code = [NodeManager::BYTECODE.as_ref(), &manager_args].concat();
        let (node_manager, created) =
            self.create("deploy NodeManager", code, predicted.node_manager, nonce + 2).await?;
        let (rewards_vault, _) = self
            .create(
                "deploy RewardsVault",
                [RewardsVault::BYTECODE.as_ref(), &RewardsVault::constructorCall { owner_: owner }.abi_encode()]
                    .concat(),
                predicted.rewards_vault,
                nonce + 3,
            )
            .await?;
        let governance_args = RewardsGovernance::constructorCall {
            owner_: owner,
            adjustmentCapWei_: U256::from(config.adjustment_cap_wei),
        }
        .abi_encode();
        let (rewards_governance, _) = self
            .create(
                "deploy RewardsGovernance",
                [RewardsGovernance::BYTECODE.as_ref(), &governance_args].concat(),
                predicted.rewards_governance,
                nonce + 4,
            )
            .await?;
        if let Some(feed) = config.feed_stand_in {
            let args = MockAggregatorV3::constructorCall {
                decimals_: feed.decimals,
                description_: "SSV / ETH (local stand-in)".into(),
                initialAnswer: I256::try_from(feed.initial_answer).expect("i128 fits i256"),
            }
            .abi_encode();
            self.create(
                "deploy MockAggregatorV3",
                [MockAggregatorV3::BYTECODE.as_ref(), &args].concat(),
                predicted.ssv_price_feed,
                nonce + 5,
            )
            .await?;
        }
        if config.withdrawal_queue_stand_in {
            let args = WithdrawalQueue::constructorCall { owner_: owner }.abi_encode();
            self.create(
                "deploy WithdrawalQueue",
                [WithdrawalQueue::BYTECODE.as_ref(), &args].concat(),
                predicted.withdrawal_queue,
                nonce + 6,
            )
            .await?;
        }
        let member_batches = self.register_members(node_manager, &committee, config.members_per_batch).await?;

        if owner == deployer {
            let input = OperatorRegistry::setNodeManagerCall { nodeManager_: node_manager }.abi_encode();
            let call = Call {
                what: "OperatorRegistry.setNodeManager".into(),
                to: TxKind::Call(registry),
                input: input.into(),
                value: U256::ZERO,
            };
            self.mined(&call).await?;
            if let Some(price) = config.agreed_wei_per_ssv {
                let input =
                    RewardsGovernance::publishAgreedSsvPriceCall { fromReport: 1, weiPerSsv: U256::from(price) }
                        .abi_encode();
                let call = Call {
                    what: "RewardsGovernance.publishAgreedSsvPrice(1)".into(),
                    to: TxKind::Call(rewards_governance),
                    input: input.into(),
                    value: U256::ZERO,
                };
                self.mined(&call).await?;
            }
        } else {
            info!(%owner, %node_manager, "registry owner is not the deployer: the owner must call setNodeManager");
        }
        info!(%cs_eth, %registry, %node_manager, %rewards_vault, %rewards_governance, "contracts deployed");
        Ok(Deployment {
            addresses: predicted,
            deployer,
            first_nonce: nonce,
            node_manager_block: created.block,
            node_manager_gas: created.gas_used,
            member_batches,
        })
    }

    /// Registers the committee in batches of `per_batch` members, one transaction each; the
    /// last seals it. Returns each batch's size and gas.
    async fn register_members(
        &self,
        node_manager: Address,
        committee: &CommitteeArgs,
        per_batch: usize,
    ) -> Result<Vec<(usize, u64)>, ChainError> {
        let per_batch = per_batch.max(1);
        let n = committee.public_keys.len();
        let mut batches = Vec::new();
        for first in (0..n).step_by(per_batch) {
            let end = (first + per_batch).min(n);
            let input = NodeManager::registerMembersCall {
                publicKeys: committee.public_keys[first..end].to_vec(),
                compressedKeys: committee.compressed_keys[first..end].to_vec(),
                proofs: committee.proofs[first..end].to_vec(),
            }
            .abi_encode();
            let call = Call {
                what: format!("NodeManager.registerMembers({first}..{end} of {n})"),
                to: TxKind::Call(node_manager),
                input: input.into(),
                value: U256::ZERO,
            };
            let m = self.mined(&call).await?;
            batches.push((end - first, m.gas_used));
        }
        Ok(batches)
    }

    /// Creates a contract from `code` and checks it landed at `expected`.
    async fn create(
        &self,
        what: &str,
        code: Vec<u8>,
        expected: Address,
        nonce: u64,
    ) -> Result<(Address, Mined), ChainError> {
        let call = Call { what: what.to_string(), to: TxKind::Create, input: code.into(), value: U256::ZERO };
        let m = self.mined(&call).await?;
        match m.contract_address {
            Some(a) if a == expected => Ok((a, m)),
            got => Err(ChainError::Invalid {
                what: what.to_string(),
                message: format!(
                    "created at {got:?}, not at the predicted {expected} (nonce {nonce}): another transaction of {} got in between; deploy from a key nothing else uses",
                    self.address()
                ),
            }),
        }
    }

    async fn mined(&self, call: &Call) -> Result<Mined, ChainError> {
        self.tx.mined(call).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicted_addresses_follow_the_nonce() {
        let deployer: Address = "0x000000000000000000000000000000000000c1a5".parse().unwrap();
        let a = predict_addresses(deployer, 0);
        assert_eq!(a.cs_eth, deployer.create(0));
        assert_eq!(a.operator_registry, deployer.create(1));
        assert_eq!(a.node_manager, deployer.create(2));
        assert_eq!(a.ssv_price_feed, deployer.create(5));
        assert_eq!(a.withdrawal_queue, deployer.create(6), "after every earlier contract");
        assert_eq!(predict_addresses(deployer, 1).cs_eth, a.operator_registry);
    }

    #[test]
    fn config_takes_obol_cluster_size_from_genesis() {
        let (genesis, _) = claystack_genesis::generate_local(4, 3, [1; 32], 31337);
        let c = DeployConfig::for_genesis(&genesis, 1_600_000_000, 384).unwrap();
        assert_eq!(u32::from(c.obol_cluster_size), genesis.economics.node_type("obol").unwrap().cluster_size);
        assert!(!c.withdrawal_queue_stand_in && c.feed_stand_in.is_none(), "no stand-ins unless asked");
        for (i, name) in ["ssv", "obol", "direct"].into_iter().enumerate() {
            let t = genesis.economics.node_type(name).unwrap();
            assert_eq!(
                (c.first_node_bond_wei[i], c.per_node_bond_wei[i]),
                (t.first_node_bond_wei, t.per_node_bond_wei)
            );
        }
    }

    #[test]
    fn committee_args_are_eip2537() {
        let (genesis, _) = claystack_genesis::generate_local(3, 2, [2; 32], 31337);
        let args = Deployer::committee_args(&genesis).unwrap();
        assert_eq!(args.public_keys.len(), 3);
        assert!(args.public_keys.iter().all(|k| k.len() == 128 && k[..16] == [0; 16] && k[64..80] == [0; 16]));
        assert!(args.compressed_keys.iter().zip(&genesis.committee.members).all(|(c, m)| c.as_ref() == m.bls_pubkey));
        assert!(args.proofs.iter().all(|p| p.len() == 256));
    }
}
