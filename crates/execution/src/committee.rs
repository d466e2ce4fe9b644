//! Committee changes on the NodeManager (docs/committee.md, "Committee changes"):
//! [`ReportReader::committee_for`] reads the committee that verifies a report,
//! [`ReportReader::committee_schedule`] every version into a [`CommitteeSchedule`], and
//! [`ReportReader::committee_changes`] the `CommitteeChangeScheduled` events (a new member's
//! peer id is only there); [`schedule_committee_change`] is governance's transaction.
//!
//! Reads are pinned to the reader's block ([`ReportReader::at`]): the answer for report `n`
//! can still change until the chain has accepted report `n - 1` of its kind (a later change
//! must start past the next number), never after.

use crate::bindings::NodeManager;
use crate::error::ChainError;
use crate::node_manager::ReportReader;
use crate::tx::{Call, Transactor};
use alloy::primitives::{Address, Bytes, TxKind, B256, U256};
use alloy::rpc::types::Filter;
use alloy::sol_types::{SolCall, SolEvent};
use claystack_primitives::{ReportId, ReportKind};
use claystack_quorum::bls::{g1_from_eip2537, g1_to_eip2537, g2_to_eip2537, PUBLIC_KEY_LEN, SIGNATURE_LEN};
use claystack_quorum::{CommitteeSchedule, Roster};

/// The committee that verifies one report, as the NodeManager answers `committeeFor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainCommittee {
    pub version: u64,
    pub threshold: u32,
    /// Compressed public keys, in member order.
    pub public_keys: Vec<[u8; PUBLIC_KEY_LEN]>,
}

/// A member replacement: member `member` gets this key from the change on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMember {
    pub member: u16,
    /// Compressed BLS public key.
    pub bls_pubkey: [u8; PUBLIC_KEY_LEN],
    /// Proof of possession of `bls_pubkey` (compressed G2), as genesis holds for each member.
    pub pop: [u8; SIGNATURE_LEN],
    /// The new member's libp2p peer id (recorded in the event).
    pub peer_id: String,
}

impl NewMember {
    /// Member `member` replaced by the key directory or genesis entry `entry` (its
    /// `member.json`: key, proof of possession, peer id).
    pub fn from_entry(member: u16, entry: &claystack_genesis::Member) -> NewMember {
        NewMember { member, bls_pubkey: entry.bls_pubkey, pop: entry.pop, peer_id: entry.peer_id.clone() }
    }
}

/// One committee change for governance to schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitteeChange {
    /// First rewards report the new version verifies: past the next one (`last + 1`).
    pub from_rewards: u64,
    /// First exits round the new version verifies: past `last + 1`.
    pub from_exits: u64,
    /// Signatures a report needs from then on (a strict majority).
    pub threshold: u32,
    /// The member replaced, if any.
    pub replace: Option<NewMember>,
}

/// A `CommitteeChangeScheduled` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledChange {
    pub version: u64,
    pub from_rewards: u64,
    pub from_exits: u64,
    pub threshold: u32,
    /// The member replaced, its new compressed key and peer id.
    pub replaced: Option<(u16, [u8; PUBLIC_KEY_LEN], String)>,
    pub block: u64,
    pub tx: B256,
}

impl ReportReader {
    /// The committee that verifies report `id`, at this reader's block.
    pub async fn committee_for(&self, id: ReportId) -> Result<ChainCommittee, ChainError> {
        let what = format!("NodeManager.committeeFor({id})");
        let r = self
            .contract()
            .committeeFor(id.kind.byte(), id.number)
            .block(self.block())
            .call()
            .await
            .map_err(|e| self.rpc().err(what.clone(), e))?;
        let version = self.small(&what, "version", r.version)?;
        let threshold = u32::try_from(self.small(&what, "threshold", r.threshold_)?)
            .map_err(|_| self.invalid(&what, "threshold above 32 bits"))?;
        let mut public_keys = Vec::with_capacity(r.publicKeys.len());
        for (i, key) in r.publicKeys.iter().enumerate() {
            let point: &[u8; 128] = key
                .as_ref()
                .try_into()
                .map_err(|_| self.invalid(&what, &format!("member {i}'s key is not 128 bytes")))?;
            public_keys.push(g1_from_eip2537(point).map_err(|e| self.invalid(&what, &format!("member {i}: {e}")))?);
        }
        Ok(ChainCommittee { version, threshold, public_keys })
    }

    /// How many committee versions the NodeManager holds at this reader's block (genesis'
    /// committee is version 0: 1 once sealed).
    pub async fn committee_versions(&self) -> Result<u64, ChainError> {
        let what = "NodeManager.committeeVersions()";
        let count = self
            .contract()
            .committeeVersions()
            .block(self.block())
            .call()
            .await
            .map_err(|e| self.rpc().err(what, e))?;
        self.small(what, "count", count)
    }

    /// Every committee version at this reader's block, with genesis' roster as version 0
    /// (checked against the chain's version 0).
    pub async fn committee_schedule(&self, genesis: &Roster) -> Result<CommitteeSchedule, ChainError> {
        let what = "NodeManager.committeeVersions()";
        let count = self.committee_versions().await?;
        if count == 0 {
            return Err(self.invalid(what, "no committee yet: the NodeManager is not sealed"));
        }
        let v0 = self.committee_for(ReportId { kind: ReportKind::Rewards, number: 0 }).await?;
        if v0.public_keys != genesis.public_keys() || v0.threshold as usize != genesis.threshold() {
            return Err(self.invalid(what, "the chain's committee version 0 is not genesis' committee"));
        }
        let mut schedule = CommitteeSchedule::new(genesis.clone());
        for version in 1..count {
            let what = format!("NodeManager.committeeVersion({version})");
            let v = self
                .contract()
                .committeeVersion(U256::from(version))
                .block(self.block())
                .call()
                .await
                .map_err(|e| self.rpc().err(what.clone(), e))?;
            // Versions start strictly later, so version v verifies rewards report fromRewards(v).
            let c = self.committee_for(ReportId { kind: ReportKind::Rewards, number: v.fromRewards }).await?;
            if c.version != version {
                return Err(self.invalid(
                    &what,
                    &format!("rewards report {} is verified by version {}", v.fromRewards, c.version),
                ));
            }
            schedule
                .push(version, v.fromRewards, v.fromExits, c.threshold, &c.public_keys)
                .map_err(|e| self.invalid(&what, &e.to_string()))?;
        }
        Ok(schedule)
    }

    /// Every `CommitteeChangeScheduled` event in blocks `from..=to`, in chain order.
    pub async fn committee_changes(&self, from: u64, to: u64) -> Result<Vec<ScheduledChange>, ChainError> {
        let filter = Filter::new()
            .address(self.node_manager())
            .event_signature(NodeManager::CommitteeChangeScheduled::SIGNATURE_HASH);
        let logs = self.rpc().logs(filter, "CommitteeChangeScheduled", from, to).await?;
        let mut out = Vec::new();
        for log in logs {
            let what = format!("CommitteeChangeScheduled event in block {}", log.block_number.unwrap_or_default());
            let decoded = log
                .log_decode::<NodeManager::CommitteeChangeScheduled>()
                .map_err(|e| self.invalid(&what, &format!("an event does not decode ({e})")))?;
            let ev = &decoded.inner.data;
            let replaced = if ev.member == U256::MAX {
                None
            } else {
                let member = u16::try_from(self.small(&what, "member", ev.member)?)
                    .map_err(|_| self.invalid(&what, "member above 16 bits"))?;
                let key: [u8; PUBLIC_KEY_LEN] = ev
                    .compressedPublicKey
                    .as_ref()
                    .try_into()
                    .map_err(|_| self.invalid(&what, "compressed key is not 48 bytes"))?;
                Some((member, key, ev.peerId.clone()))
            };
            out.push(ScheduledChange {
                version: self.small(&what, "version", ev.version)?,
                from_rewards: ev.fromRewards,
                from_exits: ev.fromExits,
                threshold: u32::try_from(self.small(&what, "threshold", ev.threshold)?)
                    .map_err(|_| self.invalid(&what, "threshold above 32 bits"))?,
                replaced,
                block: log.block_number.unwrap_or_default(),
                tx: log.transaction_hash.unwrap_or_default(),
            });
        }
        Ok(out)
    }

    fn small(&self, what: &str, field: &str, value: U256) -> Result<u64, ChainError> {
        u64::try_from(value).map_err(|_| self.invalid(what, &format!("{field} {value} is above 64 bits")))
    }

    fn invalid(&self, what: &str, message: &str) -> ChainError {
        ChainError::Invalid {
            what: what.to_string(),
            message: format!("{message}; is {} the NodeManager?", self.node_manager()),
        }
    }
}

/// Schedules `change` on the NodeManager at `node_manager`, sent by `tx` (its owner:
/// governance, the deployer until ownership is handed over). Returns the event it emitted.
pub async fn schedule_committee_change(
    tx: &Transactor,
    node_manager: Address,
    change: &CommitteeChange,
) -> Result<ScheduledChange, ChainError> {
    let what = format!(
        "NodeManager.scheduleCommitteeChange(from rewards {}, exits {}, threshold {})",
        change.from_rewards, change.from_exits, change.threshold
    );
    let member = match &change.replace {
        None => NodeManager::NewMember {
            index: U256::MAX,
            publicKey: Bytes::new(),
            compressedKey: Bytes::new(),
            proof: Bytes::new(),
            peerId: String::new(),
        },
        Some(m) => {
            let invalid = |e: claystack_quorum::bls::BlsError| ChainError::Invalid {
                what: format!("new member {}", m.member),
                message: e.to_string(),
            };
            NodeManager::NewMember {
                index: U256::from(m.member),
                publicKey: Bytes::copy_from_slice(&g1_to_eip2537(&m.bls_pubkey).map_err(invalid)?),
                compressedKey: Bytes::copy_from_slice(&m.bls_pubkey),
                proof: Bytes::copy_from_slice(&g2_to_eip2537(&m.pop).map_err(invalid)?),
                peerId: m.peer_id.clone(),
            }
        }
    };
    let input = NodeManager::scheduleCommitteeChangeCall {
        fromRewards: change.from_rewards,
        fromExits: change.from_exits,
        newThreshold: U256::from(change.threshold),
        member,
    };
    let call = Call {
        what: what.clone(),
        to: TxKind::Call(node_manager),
        input: input.abi_encode().into(),
        value: U256::ZERO,
    };
    let mined = tx.mined(&call).await?;
    let reader = ReportReader::new(tx.rpc().clone(), node_manager);
    reader.committee_changes(mined.block, mined.block).await?.into_iter().find(|c| c.tx == mined.tx).ok_or_else(|| {
        ChainError::Invalid {
            what,
            message: format!(
                "transaction {} has no CommitteeChangeScheduled event; is {node_manager} the NodeManager?",
                mined.tx
            ),
        }
    })
}
