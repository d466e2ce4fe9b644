//! The NodeManager as the oracle uses it: read which reports are accepted, submit a
//! quorum's certificate, claim rewards, publish the exits of an exits report.
//!
//! Submission rules ([`Submitter::submit`]):
//! - first ask the chain whether report `number` of that kind is already accepted
//!   (`lastReportNumber`, `reportRoot`): if so, answer [`SubmitOutcome::AlreadyAccepted`]
//!   and send nothing. A report is never submitted twice;
//! - simulate the call: a report the contract rejects (not enough signers, a bad
//!   signature, out of order) is answered [`SubmitOutcome::Rejected`] with the contract's
//!   error, and nothing is sent;
//! - send it by the rules of [`crate::tx`] (explicit nonce, node fees, replacement of a
//!   stuck transaction), asking the chain again before each replacement: once another
//!   member's submission is accepted, ours is not replaced;
//! - with a [`SubmissionJournal`], save the transaction in flight before it is sent, and on
//!   the next submission of the same report (after a crash, say) look it up first: mined
//!   is done, pending is waited for or replaced with the same nonce, dropped is sent again.
//!   A node killed with a submission in flight never sends a second one.

use crate::bindings::{ContractError, NodeManager, OperatorRegistry};
use crate::error::ChainError;
use crate::exits::{ExitsLeaf, PublishedExit};
use crate::tx::{Call, InFlight, Mined, Rpc, Sent, Transactor, TxConfig};
use alloy::eips::BlockId;
use alloy::primitives::{Address, Bytes, TxKind, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};
use claystack_merkle::Value;
use claystack_primitives::{ReportId, ReportKind};
use claystack_quorum::bls::g2_to_eip2537;
use claystack_quorum::{Certificate, SignerBitmap};
use std::sync::Arc;
use tracing::info;

/// A `ReportAccepted` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedReport {
    pub id: ReportId,
    pub merkle_root: B256,
    pub report_hash: B256,
    pub signers: SignerBitmap,
    /// Who sent the accepted transaction.
    pub submitter: Address,
    pub block: u64,
    pub tx: B256,
}

/// Reads the NodeManager at the latest block, or at a pinned one ([`ReportReader::at`]).
#[derive(Debug, Clone)]
pub struct ReportReader {
    rpc: Rpc,
    node_manager: Address,
    block: BlockId,
}

impl ReportReader {
    pub fn new(rpc: Rpc, node_manager: Address) -> ReportReader {
        ReportReader { rpc, node_manager, block: BlockId::latest() }
    }

    /// The same reader, reading at block `number`.
    pub fn at(&self, number: u64) -> ReportReader {
        ReportReader { block: BlockId::number(number), ..self.clone() }
    }

    pub fn node_manager(&self) -> Address {
        self.node_manager
    }

    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    /// The block this reader reads at.
    pub(crate) fn block(&self) -> BlockId {
        self.block
    }

    pub(crate) fn contract(&self) -> NodeManager::NodeManagerInstance<&alloy::providers::RootProvider> {
        NodeManager::new(self.node_manager, &self.rpc.provider)
    }

    /// Fails unless the NodeManager has code at this reader's block.
    pub async fn check_deployed(&self) -> Result<(), ChainError> {
        self.rpc.require_code("NodeManager", "node_manager", self.node_manager, self.block).await
    }

    /// The number of the last accepted report of `kind` (0 before the first).
    pub async fn last_report_number(&self, kind: ReportKind) -> Result<u64, ChainError> {
        self.contract()
            .lastReportNumber(kind.byte())
            .block(self.block)
            .call()
            .await
            .map_err(|e| self.rpc.err(format!("NodeManager.lastReportNumber({kind})"), e))
    }

    /// The Merkle root of accepted report `number` of `kind`, if it is accepted.
    pub async fn report_root(&self, kind: ReportKind, number: u64) -> Result<Option<B256>, ChainError> {
        let root = self
            .contract()
            .reportRoot(kind.byte(), number)
            .block(self.block)
            .call()
            .await
            .map_err(|e| self.rpc.err(format!("NodeManager.reportRoot({kind}, {number})"), e))?;
        Ok((root != B256::ZERO).then_some(root))
    }

    /// The signing root as the contract computes it (for cross-checks with the committee crate).
    pub async fn signing_root(
        &self,
        id: ReportId,
        merkle_root: [u8; 32],
        report_hash: [u8; 32],
    ) -> Result<[u8; 32], ChainError> {
        let root = self
            .contract()
            .signingRoot(id.kind.byte(), id.number, merkle_root.into(), report_hash.into())
            .block(self.block)
            .call()
            .await
            .map_err(|e| self.rpc.err(format!("NodeManager.signingRoot({id})"), e))?;
        Ok(root.0)
    }

    /// ETH credited to `operator` by claims and not yet withdrawn.
    pub async fn balance_of(&self, operator: Address) -> Result<U256, ChainError> {
        self.contract()
            .balanceOf(operator)
            .block(self.block)
            .call()
            .await
            .map_err(|e| self.rpc.err(format!("NodeManager.balanceOf({operator})"), e))
    }

    /// Cumulative rewards already accounted to `operator` (credited, or netted against a
    /// penalty its bond could not pay).
    pub async fn claimed_rewards(&self, operator: Address) -> Result<U256, ChainError> {
        self.contract()
            .claimedRewards(operator)
            .block(self.block)
            .call()
            .await
            .map_err(|e| self.rpc.err(format!("NodeManager.claimedRewards({operator})"), e))
    }

    /// Every `ReportAccepted` event in blocks `from..=to`, in chain order.
    pub async fn accepted_reports(&self, from: u64, to: u64) -> Result<Vec<AcceptedReport>, ChainError> {
        self.logs(from, to, None).await
    }

    /// The `ReportAccepted` event of one report, searched in blocks `from..=latest`.
    pub async fn find_accepted(&self, id: ReportId, from: u64) -> Result<Option<AcceptedReport>, ChainError> {
        let to = self.rpc.provider.get_block_number().await.map_err(|e| self.rpc.err("eth_blockNumber", e))?;
        Ok(self.logs(from, to, Some(id)).await?.into_iter().next())
    }

    async fn logs(&self, from: u64, to: u64, id: Option<ReportId>) -> Result<Vec<AcceptedReport>, ChainError> {
        let mut filter =
            Filter::new().address(self.node_manager).event_signature(NodeManager::ReportAccepted::SIGNATURE_HASH);
        if let Some(id) = id {
            filter = filter.topic1(U256::from(id.kind.byte())).topic2(U256::from(id.number));
        }
        let logs = self.rpc.logs(filter, "ReportAccepted", from, to).await?;
        let mut out = Vec::new();
        for log in logs {
            let decoded = log.log_decode::<NodeManager::ReportAccepted>().map_err(|e| ChainError::Invalid {
                what: format!("ReportAccepted event in block {}", log.block_number.unwrap_or_default()),
                message: format!("does not decode ({e}); is {} the NodeManager?", self.node_manager),
            })?;
            let ev = &decoded.inner.data;
            let Some(kind) = ReportKind::from_byte(ev.kind) else { continue };
            out.push(AcceptedReport {
                id: ReportId::new(kind, ev.number),
                merkle_root: ev.root,
                report_hash: ev.reportHash,
                signers: SignerBitmap::from_be_bytes(ev.signerBitmap.to_be_bytes()),
                submitter: ev.submitter,
                block: log.block_number.unwrap_or_default(),
                tx: log.transaction_hash.unwrap_or_default(),
            });
        }
        Ok(out)
    }
}

/// What became of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// Our transaction carried the report.
    Accepted { tx: B256, block: u64, gas_used: u64, replacements: u32 },
    /// The chain already holds a root for this report number (from another submitter, or
    /// an earlier run of ours); nothing was sent unless `our_tx` says otherwise.
    AlreadyAccepted {
        id: ReportId,
        /// The accepted root, and whether it is the certificate's.
        root: B256,
        same_root: bool,
        /// The acceptance event, when it is found in the searched range.
        accepted: Option<AcceptedReport>,
        /// A transaction of ours for this report that lost the race (reverted, or left
        /// pending unreplaced), if one was sent.
        our_tx: Option<B256>,
    },
    /// The contract refuses the report: `tx` is `None` when the simulation caught it (nothing
    /// was sent), or the reverted transaction.
    Rejected { error: ContractError, tx: Option<B256> },
}

/// One operator's leaf of the rewards tree, as `NodeManager.claim` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewardsLeaf {
    pub operator: Address,
    pub cumulative_rewards: U256,
    pub cumulative_bond_penalty: U256,
    pub bond_requirement: U256,
}

impl RewardsLeaf {
    /// From a tree value in `REWARDS_LEAF_ENCODING` order (address, uint256, uint256, uint256).
    pub fn from_values(values: &[Value]) -> Result<RewardsLeaf, ChainError> {
        let bad = || ChainError::Invalid {
            what: "rewards leaf".into(),
            message: format!(
                "{values:?} is not [address, uint256, uint256, uint256]; take the value from the rewards tree"
            ),
        };
        match values {
            [Value::Address(a), Value::Uint256(c), Value::Uint256(p), Value::Uint256(b)] => Ok(RewardsLeaf {
                operator: Address::from(*a),
                cumulative_rewards: U256::from_be_bytes(*c),
                cumulative_bond_penalty: U256::from_be_bytes(*p),
                bond_requirement: U256::from_be_bytes(*b),
            }),
            _ => Err(bad()),
        }
    }
}

impl From<&claystack_rewards::ClaimLeaf> for RewardsLeaf {
    fn from(l: &claystack_rewards::ClaimLeaf) -> RewardsLeaf {
        RewardsLeaf {
            operator: Address::from(l.operator),
            cumulative_rewards: U256::from(l.cumulative_wei),
            cumulative_bond_penalty: U256::from(l.cumulative_bond_penalty_wei),
            bond_requirement: U256::from(l.bond_requirement_wei),
        }
    }
}

/// A mined claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub tx: B256,
    pub block: u64,
    pub gas_used: u64,
    /// The rewards report the claim was proven against.
    pub report_number: u64,
    /// ETH credited to the operator's balance by this claim (0 when already claimed); the
    /// operator takes it out with [`Submitter::withdraw`].
    pub amount: U256,
    /// Bond penalty (ETH wei) its bond paid in this claim.
    pub bond_penalty: U256,
    /// Penalty taken from the claim's rewards because the bond could not pay it.
    pub netted: U256,
    /// Certified penalty still unpaid after this claim.
    pub debt: U256,
}

/// A mined `publishExit`: the registry's `ExitRequested` event and the gas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedExitTx {
    pub exit: PublishedExit,
    pub gas_used: u64,
}

/// A mined withdrawal of credited rewards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawn {
    pub tx: B256,
    pub block: u64,
    pub gas_used: u64,
    pub to: Address,
    pub amount: U256,
}

/// Where a [`Submitter`] keeps the transaction it has in flight for each report, so that a
/// restarted node tracks or replaces it instead of sending a second one. A node keeps it in
/// its store, synced to disk before `save` returns. Errors are one line saying what failed.
pub trait SubmissionJournal: Send + Sync {
    /// The record saved for report `id`, if one is (and the report is not settled).
    fn load(&self, id: ReportId) -> Result<Option<InFlight>, String>;
    /// Saves the record of report `id`, replacing the previous one.
    fn save(&self, id: ReportId, record: &InFlight) -> Result<(), String>;
}

#[derive(Clone)]
struct Journal(Arc<dyn SubmissionJournal>);

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubmissionJournal")
    }
}

/// Sends reports and claims from one local key.
#[derive(Debug, Clone)]
pub struct Submitter {
    tx: Transactor,
    reader: ReportReader,
    events_from: u64,
    journal: Option<Journal>,
}

impl Submitter {
    pub fn new(rpc: Rpc, node_manager: Address, signer: PrivateKeySigner, config: TxConfig) -> Submitter {
        Submitter {
            reader: ReportReader::new(rpc.clone(), node_manager),
            tx: Transactor::new(rpc, signer, config),
            events_from: 0,
            journal: None,
        }
    }

    /// Saves each submission's transaction in flight in `journal` before sending it, and
    /// resumes from it (see the module doc).
    pub fn with_journal(mut self, journal: Arc<dyn SubmissionJournal>) -> Submitter {
        self.journal = Some(Journal(journal));
        self
    }

    /// Where to start searching `ReportAccepted` events (the NodeManager's deployment block);
    /// 0 by default.
    pub fn with_events_from(mut self, block: u64) -> Submitter {
        self.events_from = block;
        self
    }

    /// The submitting address.
    pub fn address(&self) -> Address {
        self.tx.address()
    }

    pub fn reader(&self) -> &ReportReader {
        &self.reader
    }

    /// Submits `cert` unless its report is already accepted; see the module doc.
    pub async fn submit(&self, cert: &Certificate) -> Result<SubmitOutcome, ChainError> {
        let call = self.submit_call(cert)?;
        let journal_error = |message| ChainError::Journal { what: call.what.clone(), message };
        let resume = match &self.journal {
            Some(j) => j.0.load(cert.id).map_err(journal_error)?,
            None => None,
        };
        if let Some(saved) = &resume {
            // Ours, mined while this node was down (or before it noticed)?
            if let Some(m) = self.tx.find_mined(&call.what, &saved.hashes, saved.attempt).await? {
                return self.mined_outcome(cert, &call, &m).await;
            }
        }
        let ours = resume.as_ref().and_then(|r| r.hashes.last().copied());
        if let Some(done) = self.already_accepted(cert, ours).await? {
            info!(report = %cert.id, "already accepted on chain; not submitting");
            return Ok(done);
        }
        let reader = &self.reader;
        let still_wanted = move || async move { Ok(reader.report_root(cert.id.kind, cert.id.number).await?.is_none()) };
        let save = |record: &InFlight| match &self.journal {
            Some(j) => j.0.save(cert.id, record).map_err(journal_error),
            None => Ok(()),
        };
        match self.tx.send_journaled(&call, resume, &save, still_wanted).await {
            Ok(Sent::Mined(m)) => self.mined_outcome(cert, &call, &m).await,
            Ok(Sent::Abandoned { pending }) => {
                match self.already_accepted(cert, pending.last().copied()).await? {
                    Some(done) => Ok(done),
                    // Seen accepted a moment ago, gone now: the block was reorganised away.
                    None => Err(ChainError::Invalid {
                        what: format!("submitReport {}", cert.id),
                        message: "was accepted on chain, then no longer (a reorg); submit it again".into(),
                    }),
                }
            }
            Err(ChainError::Rejected { error, .. }) => {
                // Accepted between our check and the simulation?
                match self.already_accepted(cert, None).await? {
                    Some(done) => Ok(done),
                    None => Ok(SubmitOutcome::Rejected { error, tx: None }),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// What the contract would answer to `cert` now, without sending anything: `None` if it
    /// would accept it, else its error. Unlike [`Submitter::submit`] this does not look at
    /// whether the report is accepted first, so a replay shows `ReportAlreadyAccepted`.
    pub async fn simulate(&self, cert: &Certificate) -> Result<Option<ContractError>, ChainError> {
        let call = self.submit_call(cert)?;
        let out = self
            .tx
            .rpc()
            .simulate(&call.what, self.address(), call.to, &call.input, call.value, BlockId::latest())
            .await?;
        Ok(out.err())
    }

    /// Claims `leaf` with `proof` against the latest accepted rewards root: credits
    /// `leaf.operator`'s balance and applies its penalty and requirement, whoever sends it.
    /// No ETH moves; the operator withdraws with [`Submitter::withdraw`].
    pub async fn claim(&self, leaf: &RewardsLeaf, proof: &[[u8; 32]]) -> Result<Claimed, ChainError> {
        let input = NodeManager::claimCall {
            operator: leaf.operator,
            cumulativeRewards: leaf.cumulative_rewards,
            cumulativeBondPenalty: leaf.cumulative_bond_penalty,
            bondRequirement: leaf.bond_requirement,
            proof: proof.iter().map(|p| B256::from(*p)).collect(),
        }
        .abi_encode();
        let call = Call {
            what: format!("claim for {}", leaf.operator),
            to: TxKind::Call(self.reader.node_manager),
            input: input.into(),
            value: U256::ZERO,
        };
        let m = match self.tx.send(&call, || async { Ok(true) }).await? {
            Sent::Mined(m) => m,
            Sent::Abandoned { .. } => unreachable!("claims are always still wanted"),
        };
        if !m.success {
            return Err(ChainError::Reverted { what: call.what, tx: m.tx, block: m.block });
        }
        let event = m
            .logs
            .iter()
            .filter(|l| l.address() == self.reader.node_manager)
            .find_map(|l| l.log_decode::<NodeManager::Claimed>().ok())
            .ok_or_else(|| ChainError::Invalid {
                what: call.what.clone(),
                message: format!(
                    "transaction {} has no Claimed event; is {} the NodeManager?",
                    m.tx, self.reader.node_manager
                ),
            })?;
        let ev = &event.inner.data;
        info!(operator = %leaf.operator, credited = %ev.credited, slashed = %ev.slashed, report = ev.reportNumber, tx = %m.tx, "claimed");
        Ok(Claimed {
            tx: m.tx,
            block: m.block,
            gas_used: m.gas_used,
            report_number: ev.reportNumber,
            amount: ev.credited,
            bond_penalty: ev.slashed,
            netted: ev.netted,
            debt: ev.debt,
        })
    }

    /// Publishes `leaf` of exits report `number` (the latest accepted) with `proof`: the
    /// registry records the exit and its deadline. Anyone may send it. The contract refuses
    /// (simulated first, nothing sent) a leaf of an older report (`NotLatestExitsReport`),
    /// one already published (`ExitAlreadyPublished`) or past its deadline
    /// (`ExitDeadlinePassed`): [`ChainError::Rejected`] names the error.
    pub async fn publish_exit(
        &self,
        number: u64,
        leaf: &ExitsLeaf,
        proof: &[[u8; 32]],
    ) -> Result<PublishedExitTx, ChainError> {
        let input = NodeManager::publishExitCall {
            number,
            validatorIndex: leaf.validator_index,
            operator: leaf.operator,
            kind: leaf.kind,
            exitByEpoch: leaf.exit_by_epoch,
            proof: proof.iter().map(|p| B256::from(*p)).collect(),
        }
        .abi_encode();
        let call = Call {
            what: format!("publishExit of validator {} from exits report {number}", leaf.validator_index),
            to: TxKind::Call(self.reader.node_manager),
            input: input.into(),
            value: U256::ZERO,
        };
        let m = self.tx.mined(&call).await?;
        let registry = OperatorRegistry::ExitRequested::SIGNATURE_HASH;
        let (log, ev) = m
            .logs
            .iter()
            .filter(|l| l.topic0() == Some(&registry))
            .find_map(|l| l.log_decode::<OperatorRegistry::ExitRequested>().ok().map(|d| (l, d.inner.data)))
            .ok_or_else(|| ChainError::Invalid {
                what: call.what.clone(),
                message: format!(
                    "transaction {} has no ExitRequested event; is {} the NodeManager?",
                    m.tx, self.reader.node_manager
                ),
            })?;
        let exit = PublishedExit {
            validator_id: u64::try_from(ev.validatorId).unwrap_or(u64::MAX),
            validator_index: ev.validatorIndex,
            operator: ev.operator,
            kind: ev.kind,
            exit_by_epoch: ev.exitByEpoch,
            report_number: ev.reportNumber,
            block: m.block,
            log_index: log.log_index.unwrap_or_default(),
            tx: m.tx,
        };
        info!(validator = leaf.validator_index, operator = %leaf.operator, kind = leaf.kind, exit_by_epoch = leaf.exit_by_epoch, report = number, tx = %m.tx, "exit published");
        Ok(PublishedExitTx { exit, gas_used: m.gas_used })
    }

    /// Pays `amount` of the sender's credited balance to `to` (the sender is the operator).
    pub async fn withdraw(&self, to: Address, amount: U256) -> Result<Withdrawn, ChainError> {
        let input = NodeManager::withdrawCall { to, amount }.abi_encode();
        let call = Call {
            what: format!("withdraw {amount} wei to {to}"),
            to: TxKind::Call(self.reader.node_manager),
            input: input.into(),
            value: U256::ZERO,
        };
        let m = match self.tx.send(&call, || async { Ok(true) }).await? {
            Sent::Mined(m) => m,
            Sent::Abandoned { .. } => unreachable!("withdrawals are always still wanted"),
        };
        if !m.success {
            return Err(ChainError::Reverted { what: call.what, tx: m.tx, block: m.block });
        }
        info!(operator = %self.address(), %to, %amount, tx = %m.tx, "withdrew rewards");
        Ok(Withdrawn { tx: m.tx, block: m.block, gas_used: m.gas_used, to, amount })
    }

    fn submit_call(&self, cert: &Certificate) -> Result<Call, ChainError> {
        let signature = g2_to_eip2537(&cert.signature).map_err(|e| ChainError::Invalid {
            what: format!("certificate of {}", cert.id),
            message: format!("aggregate signature: {e}; the collector produced a bad aggregate"),
        })?;
        let input = NodeManager::submitReportCall {
            kind: cert.id.kind.byte(),
            number: cert.id.number,
            root: cert.merkle_root.into(),
            reportHash: cert.report_hash.into(),
            signerBitmap: U256::from_be_bytes(cert.signers.to_be_bytes()),
            aggregateSignature: Bytes::copy_from_slice(&signature),
        }
        .abi_encode();
        Ok(Call {
            what: format!("submitReport {}", cert.id),
            to: TxKind::Call(self.reader.node_manager),
            input: input.into(),
            value: U256::ZERO,
        })
    }

    /// `Some(AlreadyAccepted)` if report `cert.id` already has a root on chain.
    async fn already_accepted(
        &self,
        cert: &Certificate,
        our_tx: Option<B256>,
    ) -> Result<Option<SubmitOutcome>, ChainError> {
        let id = cert.id;
        if id.number == 0 {
            return Ok(None);
        }
        let last = self.reader.last_report_number(id.kind).await?;
        if id.number > last {
            return Ok(None);
        }
        let root = self.reader.report_root(id.kind, id.number).await?.unwrap_or_default();
        // Best effort: a node that refuses the log range still lets us answer.
        let accepted = self.reader.find_accepted(id, self.events_from).await.unwrap_or_default();
        Ok(Some(SubmitOutcome::AlreadyAccepted { id, root, same_root: root.0 == cert.merkle_root, accepted, our_tx }))
    }

    /// What our mined transaction did: carried the report, or reverted.
    async fn mined_outcome(&self, cert: &Certificate, call: &Call, m: &Mined) -> Result<SubmitOutcome, ChainError> {
        if !m.success {
            return self.after_revert(cert, call, m).await;
        }
        info!(report = %cert.id, tx = %m.tx, block = m.block, gas_used = m.gas_used, "report accepted");
        Ok(SubmitOutcome::Accepted { tx: m.tx, block: m.block, gas_used: m.gas_used, replacements: m.replacements })
    }

    /// Our mined transaction reverted: someone else's acceptance in between, or a rejection
    /// the simulation could not foresee (the state changed).
    async fn after_revert(&self, cert: &Certificate, call: &Call, m: &Mined) -> Result<SubmitOutcome, ChainError> {
        if let Some(done) = self.already_accepted(cert, Some(m.tx)).await? {
            return Ok(done);
        }
        let replay = self
            .tx
            .rpc()
            .simulate(&call.what, self.address(), call.to, &call.input, call.value, BlockId::number(m.block))
            .await?;
        let error = replay.err().unwrap_or_else(|| crate::bindings::decode_revert(&[]));
        Ok(SubmitOutcome::Rejected { error, tx: Some(m.tx) })
    }
}
