//! The operator registry as a report input: every operator, node and validator, read with
//! `eth_call` pinned at one block number (never `latest`: every node must read the same
//! state, the block carried in the frame's last slot), into a plain
//! [`RegistrySnapshot`], and from there the rewards engine's [`Registry`].
//!
//! Ids are 1-based in registration order, so `1..=count` enumerates each list; the snapshot
//! keeps them sorted by id whatever order the calls come back in.

use crate::bindings::OperatorRegistry;
use crate::error::ChainError;
use crate::tx::Rpc;
use alloy::eips::BlockId;
use alloy::primitives::{Address, U256};
use claystack_rewards::{Node, Operator, Registry, Validator};
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::BTreeMap;

/// `eth_call`s in flight at once while reading a snapshot.
pub const CONCURRENT_CALLS: usize = 16;

/// The contract's `NodeType`; its [`name`](NodeType::name) is the genesis economics name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeType {
    Ssv,
    Obol,
    Direct,
}

impl NodeType {
    pub fn from_u8(v: u8) -> Option<NodeType> {
        match v {
            0 => Some(NodeType::Ssv),
            1 => Some(NodeType::Obol),
            2 => Some(NodeType::Direct),
            _ => None,
        }
    }

    /// The contract's enum value.
    pub fn to_u8(self) -> u8 {
        self as u8
    }

    /// The name of this type in genesis `economics.node_types`.
    pub fn name(self) -> &'static str {
        match self {
            NodeType::Ssv => "ssv",
            NodeType::Obol => "obol",
            NodeType::Direct => "direct",
        }
    }
}

/// The contract's `ValidatorStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ValidatorStatus {
    None,
    Active,
    VoluntaryExitRequested,
    ExitRequested,
    Exited,
}

impl ValidatorStatus {
    pub fn from_u8(v: u8) -> Option<ValidatorStatus> {
        Some(match v {
            0 => ValidatorStatus::None,
            1 => ValidatorStatus::Active,
            2 => ValidatorStatus::VoluntaryExitRequested,
            3 => ValidatorStatus::ExitRequested,
            4 => ValidatorStatus::Exited,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorEntry {
    pub id: u64,
    pub account: Address,
    pub name: String,
    pub metadata: String,
    pub registered_epoch: u64,
    /// csETH held as its bond (base units).
    pub bond: U256,
    /// What the bond is worth in ETH wei at csETH's rate at the block (`bondValueOf`,
    /// `csETH.convertToEth`): what the contract compares with the requirement.
    pub bond_value: U256,
    /// The requirement its latest claim set (what `withdrawBond` must leave).
    pub bond_requirement: U256,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEntry {
    pub id: u64,
    pub operator_id: u64,
    pub node_type: NodeType,
    pub registered_epoch: u64,
    pub metadata: String,
    /// Where it runs, as its operator set it (`nodeLocation`); "" while unset.
    pub location: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorEntry {
    pub id: u64,
    pub pubkey: [u8; 48],
    /// The cluster that runs it, ascending node ids.
    pub node_ids: Vec<u64>,
    pub status: ValidatorStatus,
    pub exit_epoch: u64,
}

/// The registry at one block; each list sorted by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySnapshot {
    pub block: u64,
    pub operators: Vec<OperatorEntry>,
    pub nodes: Vec<NodeEntry>,
    pub validators: Vec<ValidatorEntry>,
}

/// The engine's registry and what had to be left out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewardsRegistry {
    pub registry: Registry,
    /// Validators with no beacon index yet (not deposited, or not seen by the beacon node):
    /// left out of `registry`, ascending pubkey.
    pub unindexed: Vec<[u8; 48]>,
}

/// The rewards engine's input from a snapshot: operators by id, nodes by id (type named as
/// in genesis economics), validators by beacon index. A validator whose pubkey is not in
/// `pubkey_to_index` has no beacon index yet; it is left out and listed in `unindexed`.
pub fn to_rewards_registry(snapshot: &RegistrySnapshot, pubkey_to_index: &BTreeMap<[u8; 48], u64>) -> RewardsRegistry {
    let ids: BTreeMap<u64, Address> = snapshot.operators.iter().map(|o| (o.id, o.account)).collect();
    let operators = ids.iter().map(|(&id, a)| Operator { id, address: claystack_rewards::Address(a.0 .0) }).collect();
    let mut nodes: Vec<Node> = snapshot
        .nodes
        .iter()
        .map(|n| Node {
            id: n.id,
            operator: n.operator_id,
            node_type: n.node_type.name().to_string(),
            registered_epoch: n.registered_epoch,
        })
        .collect();
    nodes.sort_by_key(|n| n.id);
    let mut validators = Vec::new();
    let mut unindexed = Vec::new();
    for v in &snapshot.validators {
        match pubkey_to_index.get(&v.pubkey) {
            Some(&index) => validators.push(Validator { index, nodes: v.node_ids.clone() }),
            None => unindexed.push(v.pubkey),
        }
    }
    validators.sort_by_key(|v| v.index);
    unindexed.sort();
    RewardsRegistry { registry: Registry { operators, nodes, validators }, unindexed }
}

/// The groups the exits selection balances a validator in (docs/exits.md §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitGroups {
    /// Its node type, named as in genesis economics (`ssv`, `obol`, `direct`).
    pub node_type: &'static str,
    /// Its location ("" when unset: a group of its own).
    pub location: String,
    /// The operator that answers for its exit.
    pub operator: Address,
}

/// Each indexed validator's node type, location and operator, by beacon index: those of the
/// **lowest node id** of its cluster. A cluster is one type throughout (the contract checks
/// it), but an SSV or Obol cluster spans operators and places; one node has to stand for it
/// so that every validator counts once per dimension, and the lowest id is the one every
/// member picks the same way. Validators without a beacon index, or whose cluster names a
/// node or operator the snapshot does not hold (not possible for a snapshot read at one
/// block), are left out.
pub fn exit_groups(
    snapshot: &RegistrySnapshot,
    pubkey_to_index: &BTreeMap<[u8; 48], u64>,
) -> BTreeMap<u64, ExitGroups> {
    let nodes: BTreeMap<u64, &NodeEntry> = snapshot.nodes.iter().map(|n| (n.id, n)).collect();
    let accounts: BTreeMap<u64, Address> = snapshot.operators.iter().map(|o| (o.id, o.account)).collect();
    let mut out = BTreeMap::new();
    for v in &snapshot.validators {
        let Some(&index) = pubkey_to_index.get(&v.pubkey) else { continue };
        let Some(node) = v.node_ids.iter().min().and_then(|id| nodes.get(id)) else { continue };
        let Some(&operator) = accounts.get(&node.operator_id) else { continue };
        out.insert(index, ExitGroups { node_type: node.node_type.name(), location: node.location.clone(), operator });
    }
    out
}

/// Reads the OperatorRegistry with calls pinned at a block number.
#[derive(Debug, Clone)]
pub struct RegistryReader {
    rpc: Rpc,
    registry: Address,
}

fn id_of(v: U256, what: &str) -> Result<u64, ChainError> {
    u64::try_from(v).map_err(|_| ChainError::Invalid {
        what: what.to_string(),
        message: format!("{v} does not fit 64 bits; is this the OperatorRegistry?"),
    })
}

impl RegistryReader {
    pub fn new(rpc: Rpc, registry: Address) -> RegistryReader {
        RegistryReader { rpc, registry }
    }

    pub fn address(&self) -> Address {
        self.registry
    }

    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    /// Every operator, node and validator as of block `block`.
    pub async fn snapshot(&self, block: u64) -> Result<RegistrySnapshot, ChainError> {
        let at = BlockId::number(block);
        self.rpc.require_code("OperatorRegistry", "operator_registry", self.registry, at).await?;
        let c = OperatorRegistry::new(self.registry, &self.rpc.provider);
        let err = |what: String| move |e: alloy::contract::Error| self.rpc.err(format!("{what} at block {block}"), e);

        let operator_count = c.operatorCount().block(at).call().await.map_err(err("operatorCount".into()))?;
        let node_count = c.nodeCount().block(at).call().await.map_err(err("nodeCount".into()))?;
        let validator_count = c.validatorCount().block(at).call().await.map_err(err("validatorCount".into()))?;
        let operator_count = id_of(operator_count, "operatorCount")?;
        let node_count = id_of(node_count, "nodeCount")?;
        let validator_count = id_of(validator_count, "validatorCount")?;

        let operators: Vec<OperatorEntry> = stream::iter(1..=operator_count)
            .map(|id| {
                let c = &c;
                async move {
                    let o = c
                        .getOperator(U256::from(id))
                        .block(at)
                        .call()
                        .await
                        .map_err(err(format!("getOperator({id})")))?;
                    let bond =
                        c.bondOf(o.account).block(at).call().await.map_err(err(format!("bondOf({})", o.account)))?;
                    let bond_value = c
                        .bondValueOf(o.account)
                        .block(at)
                        .call()
                        .await
                        .map_err(err(format!("bondValueOf({})", o.account)))?;
                    let bond_requirement = c
                        .bondRequirementOf(o.account)
                        .block(at)
                        .call()
                        .await
                        .map_err(err(format!("bondRequirementOf({})", o.account)))?;
                    Ok::<_, ChainError>(OperatorEntry {
                        id,
                        account: o.account,
                        name: o.name,
                        metadata: o.metadata,
                        registered_epoch: o.registeredEpoch,
                        bond,
                        bond_value,
                        bond_requirement,
                    })
                }
            })
            .buffered(CONCURRENT_CALLS)
            .try_collect()
            .await?;

        let nodes: Vec<NodeEntry> = stream::iter(1..=node_count)
            .map(|id| {
                let c = &c;
                async move {
                    let n = c.getNode(U256::from(id)).block(at).call().await.map_err(err(format!("getNode({id})")))?;
                    let location = c
                        .nodeLocation(U256::from(id))
                        .block(at)
                        .call()
                        .await
                        .map_err(err(format!("nodeLocation({id})")))?;
                    let node_type = NodeType::from_u8(n.nodeType).ok_or_else(|| ChainError::Invalid {
                        what: format!("node {id} at block {block}"),
                        message: format!("unknown node type {}; this build knows SSV, Obol and Direct", n.nodeType),
                    })?;
                    Ok::<_, ChainError>(NodeEntry {
                        id,
                        operator_id: id_of(n.operatorId, "node operator id")?,
                        node_type,
                        registered_epoch: n.registeredEpoch,
                        metadata: n.metadata,
                        location,
                    })
                }
            })
            .buffered(CONCURRENT_CALLS)
            .try_collect()
            .await?;

        let validators: Vec<ValidatorEntry> = stream::iter(1..=validator_count)
            .map(|id| {
                let c = &c;
                async move {
                    let v = c
                        .getValidator(U256::from(id))
                        .block(at)
                        .call()
                        .await
                        .map_err(err(format!("getValidator({id})")))?;
                    let invalid = |message: String| ChainError::Invalid {
                        what: format!("validator {id} at block {block}"),
                        message,
                    };
                    let pubkey: [u8; 48] = v.pubkey.as_ref().try_into().map_err(|_| {
                        invalid(format!("pubkey is {} bytes, not 48; is this the OperatorRegistry?", v.pubkey.len()))
                    })?;
                    let node_ids =
                        v.nodeIds.iter().map(|n| id_of(*n, "validator node id")).collect::<Result<_, _>>()?;
                    let status = ValidatorStatus::from_u8(v.status)
                        .ok_or_else(|| invalid(format!("unknown validator status {}", v.status)))?;
                    Ok::<_, ChainError>(ValidatorEntry { id, pubkey, node_ids, status, exit_epoch: v.exitEpoch })
                }
            })
            .buffered(CONCURRENT_CALLS)
            .try_collect()
            .await?;

        Ok(RegistrySnapshot { block, operators, nodes, validators })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> RegistrySnapshot {
        let op = |id: u64, b: u8| OperatorEntry {
            id,
            account: Address::repeat_byte(b),
            name: format!("op{id}"),
            metadata: String::new(),
            registered_epoch: 0,
            bond: U256::ZERO,
            bond_value: U256::ZERO,
            bond_requirement: U256::ZERO,
        };
        let node = |id: u64, operator_id: u64, node_type: NodeType| NodeEntry {
            id,
            operator_id,
            node_type,
            registered_epoch: id * 10,
            metadata: String::new(),
            location: String::new(),
        };
        let val = |id: u64, key: u8, node_ids: Vec<u64>| ValidatorEntry {
            id,
            pubkey: [key; 48],
            node_ids,
            status: ValidatorStatus::Active,
            exit_epoch: 0,
        };
        RegistrySnapshot {
            block: 7,
            operators: vec![op(2, 0xbb), op(1, 0xaa)],
            nodes: vec![node(2, 2, NodeType::Obol), node(1, 1, NodeType::Direct)],
            validators: vec![val(1, 9, vec![1]), val(2, 3, vec![2]), val(3, 5, vec![1])],
        }
    }

    #[test]
    fn rewards_registry_is_sorted_and_leaves_out_unindexed_validators() {
        let index: BTreeMap<[u8; 48], u64> = [([9; 48], 40), ([3; 48], 12)].into_iter().collect();
        let r = to_rewards_registry(&snapshot(), &index);
        assert_eq!(r.registry.operators.iter().map(|o| o.id).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(r.registry.operators[0].address, claystack_rewards::Address([0xaa; 20]));
        assert_eq!(
            r.registry.nodes.iter().map(|n| (n.id, n.node_type.as_str())).collect::<Vec<_>>(),
            vec![(1, "direct"), (2, "obol")]
        );
        assert_eq!(
            r.registry.validators,
            vec![Validator { index: 12, nodes: vec![2] }, Validator { index: 40, nodes: vec![1] }]
        );
        assert_eq!(r.unindexed, vec![[5; 48]]);
    }

    #[test]
    fn exit_groups_are_the_lowest_node_of_each_cluster() {
        let mut snap = snapshot();
        let mut node = |id: u64, operator_id: u64, location: &str| {
            snap.nodes.push(NodeEntry {
                id,
                operator_id,
                node_type: NodeType::Ssv,
                registered_epoch: 0,
                metadata: String::new(),
                location: location.into(),
            })
        };
        // An SSV cluster over both operators and three places; its lowest node is 4 (op 2).
        node(6, 1, "us-east");
        node(4, 2, "eu-west");
        node(5, 1, "");
        node(7, 1, "ap-south");
        node(8, 2, "eu-west");
        snap.nodes[1].location = "eu-central".into(); // direct node 1 of op 1
        snap.validators.push(ValidatorEntry {
            id: 4,
            pubkey: [7; 48],
            node_ids: vec![4, 5, 6, 7, 8],
            status: ValidatorStatus::Active,
            exit_epoch: 0,
        });
        let index: BTreeMap<[u8; 48], u64> = [([9; 48], 40), ([3; 48], 12), ([7; 48], 3)].into_iter().collect();
        let groups = exit_groups(&snap, &index);
        let g = |node_type, location: &str, b: u8| ExitGroups {
            node_type,
            location: location.into(),
            operator: Address::repeat_byte(b),
        };
        assert_eq!(
            groups,
            [(3, g("ssv", "eu-west", 0xbb)), (12, g("obol", "", 0xbb)), (40, g("direct", "eu-central", 0xaa))]
                .into_iter()
                .collect::<BTreeMap<_, _>>(),
            "index 3 takes node 4's place and operator, not node 5's (unset) or 6's; the unindexed key 5 is left out"
        );
    }

    #[test]
    fn node_type_names_match_genesis_economics() {
        let economics = claystack_rewards::Economics::mainnet_default();
        for t in [NodeType::Ssv, NodeType::Obol, NodeType::Direct] {
            assert!(economics.node_type(t.name()).is_some(), "{t:?}");
            assert_eq!(NodeType::from_u8(t.to_u8()), Some(t));
        }
        assert_eq!(NodeType::from_u8(3), None);
    }
}
