//! What an exits round reads on chain and writes back (docs/exits.md):
//!
//! - [`WithdrawalQueueReader`]: the protocol's unmet withdrawal demand and buffer at a pinned
//!   block (the exits report's reference block), from the withdrawal queue's `liquidity()`;
//! - [`ExitEventsReader`]: the registry's exit events in a block range — operators'
//!   voluntary requests (their place in the queue is the event's block and log index) and the
//!   exits published from exits reports — and the beacon indices the registry holds;
//! - [`ExitsLeaf`]: one leaf of the exits tree as `NodeManager.publishExit` takes it
//!   ([`crate::Submitter::publish_exit`] sends it).
//!
//! The rules (how many must exit, which, the slots) are pure and live in `claystack-exits`.

use crate::bindings::{OperatorRegistry, WithdrawalQueue};
use crate::error::ChainError;
use crate::tx::Rpc;
use alloy::eips::BlockId;
use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use claystack_merkle::Value;

/// The withdrawal queue's numbers at one block, ETH wei.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liquidity {
    /// Asked for by users and not paid yet.
    pub unmet_demand_wei: u128,
    /// Held to pay the demand.
    pub buffer_wei: u128,
}

/// Reads the withdrawal queue at pinned blocks.
#[derive(Debug, Clone)]
pub struct WithdrawalQueueReader {
    rpc: Rpc,
    queue: Address,
}

impl WithdrawalQueueReader {
    pub fn new(rpc: Rpc, queue: Address) -> WithdrawalQueueReader {
        WithdrawalQueueReader { rpc, queue }
    }

    /// `liquidity()` as of block `block`. A queue without code there is an error
    /// ([`ChainError::NoCode`]): the genesis names the wrong address, or the block is too early.
    pub async fn liquidity(&self, block: u64) -> Result<Liquidity, ChainError> {
        let at = BlockId::number(block);
        self.rpc.require_code("WithdrawalQueue", "withdrawal_queue", self.queue, at).await?;
        let r = WithdrawalQueue::new(self.queue, &self.rpc.provider)
            .liquidity()
            .block(at)
            .call()
            .await
            .map_err(|e| self.rpc.err(format!("WithdrawalQueue.liquidity at block {block}"), e))?;
        Ok(Liquidity {
            unmet_demand_wei: wei(r._0, "WithdrawalQueue unmet demand")?,
            buffer_wei: wei(r._1, "WithdrawalQueue buffer")?,
        })
    }
}

fn wei(v: U256, what: &str) -> Result<u128, ChainError> {
    u128::try_from(v).map_err(|_| ChainError::Invalid {
        what: what.to_string(),
        message: format!("{v} wei does not fit 128 bits; is this the withdrawal queue?"),
    })
}

/// An operator's request to exit a validator (`VoluntaryExitRequested`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoluntaryExitRequest {
    /// The registry's validator id (1-based); the beacon index comes from the beacon chain
    /// (by public key) or [`ExitEventsReader::beacon_index`].
    pub validator_id: u64,
    /// keccak256 of the validator's 48-byte public key.
    pub pubkey_hash: B256,
    pub operator: Address,
    pub fast_track: bool,
    /// Where the request was made: its place in the queue.
    pub block: u64,
    pub log_index: u64,
}

/// One exit published from an exits report (`ExitRequested`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedExit {
    pub validator_id: u64,
    /// Beacon chain index.
    pub validator_index: u64,
    pub operator: Address,
    /// 0 requested, 1 voluntary (`claystack_exits::ExitKind::byte`).
    pub kind: u8,
    pub exit_by_epoch: u64,
    pub report_number: u64,
    pub block: u64,
    pub log_index: u64,
    pub tx: B256,
}

/// One leaf of the exits tree, in `EXITS_LEAF_ENCODING` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitsLeaf {
    pub validator_index: u64,
    pub operator: Address,
    pub kind: u8,
    pub exit_by_epoch: u64,
}

impl ExitsLeaf {
    /// From a tree value (`claystack_exits::leaf_values`): (uint64, address, uint8, uint64).
    pub fn from_values(values: &[Value]) -> Result<ExitsLeaf, ChainError> {
        let bad = || ChainError::Invalid {
            what: "exits leaf".into(),
            message: format!("{values:?} is not [uint64, address, uint8, uint64]; take the value from the exits tree"),
        };
        match values {
            [Value::Uint256(v), Value::Address(a), Value::Uint256(k), Value::Uint256(e)] => Ok(ExitsLeaf {
                validator_index: uint_of(v).ok_or_else(bad)?,
                operator: Address::from(*a),
                kind: uint_of(k).ok_or_else(bad)?,
                exit_by_epoch: uint_of(e).ok_or_else(bad)?,
            }),
            _ => Err(bad()),
        }
    }
}

/// A big-endian word as a `T`, if it fits.
fn uint_of<T: TryFrom<U256>>(word: &[u8; 32]) -> Option<T> {
    T::try_from(U256::from_be_bytes(*word)).ok()
}

/// Reads the registry's exit events and beacon indices.
#[derive(Debug, Clone)]
pub struct ExitEventsReader {
    rpc: Rpc,
    registry: Address,
}

impl ExitEventsReader {
    pub fn new(rpc: Rpc, registry: Address) -> ExitEventsReader {
        ExitEventsReader { rpc, registry }
    }

    /// Every `VoluntaryExitRequested` in blocks `from..=to`, in chain order.
    pub async fn voluntary_requests(&self, from: u64, to: u64) -> Result<Vec<VoluntaryExitRequest>, ChainError> {
        let logs = self
            .logs(OperatorRegistry::VoluntaryExitRequested::SIGNATURE_HASH, "VoluntaryExitRequested", from, to)
            .await?;
        logs.iter()
            .map(|log| {
                let ev = self.decode::<OperatorRegistry::VoluntaryExitRequested>(log, "VoluntaryExitRequested")?;
                Ok(VoluntaryExitRequest {
                    validator_id: id_of(ev.validatorId, "VoluntaryExitRequested validator id")?,
                    pubkey_hash: ev.pubkeyHash,
                    operator: ev.operator,
                    fast_track: ev.fastTrack,
                    block: log.block_number.unwrap_or_default(),
                    log_index: log.log_index.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Every `ExitRequested` (an exit published from an exits report) in blocks `from..=to`,
    /// in chain order.
    pub async fn published_exits(&self, from: u64, to: u64) -> Result<Vec<PublishedExit>, ChainError> {
        let logs = self.logs(OperatorRegistry::ExitRequested::SIGNATURE_HASH, "ExitRequested", from, to).await?;
        logs.iter()
            .map(|log| {
                let ev = self.decode::<OperatorRegistry::ExitRequested>(log, "ExitRequested")?;
                Ok(PublishedExit {
                    validator_id: id_of(ev.validatorId, "ExitRequested validator id")?,
                    validator_index: ev.validatorIndex,
                    operator: ev.operator,
                    kind: ev.kind,
                    exit_by_epoch: ev.exitByEpoch,
                    report_number: ev.reportNumber,
                    block: log.block_number.unwrap_or_default(),
                    log_index: log.log_index.unwrap_or_default(),
                    tx: log.transaction_hash.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The beacon index the registry holds for validator `validator_id` as of block `block`
    /// (`None` while the owner has not recorded it).
    pub async fn beacon_index(&self, validator_id: u64, block: u64) -> Result<Option<u64>, ChainError> {
        let at = BlockId::number(block);
        self.rpc.require_code("OperatorRegistry", "operator_registry", self.registry, at).await?;
        let r = OperatorRegistry::new(self.registry, &self.rpc.provider)
            .beaconIndexOf(U256::from(validator_id))
            .block(at)
            .call()
            .await
            .map_err(|e| self.rpc.err(format!("beaconIndexOf({validator_id}) at block {block}"), e))?;
        Ok(r.known.then_some(r.index))
    }

    async fn logs(&self, signature: B256, name: &str, from: u64, to: u64) -> Result<Vec<Log>, ChainError> {
        self.rpc.logs(Filter::new().address(self.registry).event_signature(signature), name, from, to).await
    }

    fn decode<E: SolEvent>(&self, log: &Log, name: &str) -> Result<E, ChainError> {
        log.log_decode::<E>().map(|l| l.inner.data).map_err(|e| ChainError::Invalid {
            what: format!("{name} event in block {}", log.block_number.unwrap_or_default()),
            message: format!("does not decode ({e}); is {} the OperatorRegistry?", self.registry),
        })
    }
}

fn id_of(v: U256, what: &str) -> Result<u64, ChainError> {
    u64::try_from(v).map_err(|_| ChainError::Invalid {
        what: what.to_string(),
        message: format!("{v} does not fit 64 bits; is this the OperatorRegistry?"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_from_tree_values_and_wrong_shapes() {
        let op = [0x11; 20];
        let leaf =
            ExitsLeaf::from_values(&[Value::uint(7), Value::Address(op), Value::uint(1), Value::uint(1225)]).unwrap();
        assert_eq!(leaf, ExitsLeaf { validator_index: 7, operator: Address::from(op), kind: 1, exit_by_epoch: 1225 });
        let err =
            ExitsLeaf::from_values(&[Value::Address(op), Value::uint(7), Value::uint(1), Value::uint(1)]).unwrap_err();
        assert!(err.to_string().contains("is not [uint64, address, uint8, uint64]"), "{err}");
        // A kind above a byte, an epoch above 64 bits: not an exits leaf.
        assert!(
            ExitsLeaf::from_values(&[Value::uint(7), Value::Address(op), Value::uint(256), Value::uint(1)]).is_err()
        );
        let big = Value::uint(u128::from(u64::MAX) + 1);
        assert!(ExitsLeaf::from_values(&[Value::uint(7), Value::Address(op), Value::uint(0), big]).is_err());
        assert!(ExitsLeaf::from_values(&[]).is_err());
    }
}
