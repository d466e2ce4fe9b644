//! Closes exits rounds. Exits round `n` is read at the last non-empty slot of its reference
//! epoch `first_epoch + n * cadence_epochs - 1` (genesis `exits`), once accounting has passed
//! that epoch (so it is finalized), and computed by `claystack_exits::exits_report` from:
//!
//! - the **withdrawal queue**'s unmet demand and buffer at the reference block;
//! - the **registry** at the reference block: every protocol validator, its nodes and operator,
//!   whether an exit was already published for it (`ExitRequested`, or a voluntary request with
//!   a slot) and the open voluntary requests, placed by their `VoluntaryExitRequested` event;
//! - the validators' **beacon records** at the reference slot's state (status, balance), and the
//!   spec's `SHARD_COMMITTEE_PERIOD`;
//! - each operator's **score** in the latest rewards report whose frame ends by the reference
//!   epoch (genesis `score.initial_bps` before its first report), so rounds wait for that report.
//!
//! Rounds are closed strictly in order and each is stored (`ReportKind::Exits`, number `n`): the
//! report, its tree dump, its root and, as its log, the inputs it was computed from (so anyone
//! can recompute it). A round with nothing to exit has no tree (its stored root is zero): it is
//! stored, exported and never signed; the NodeManager lets exits report numbers skip it.

use crate::registry::ReferenceReader;
use crate::{write_export, FrameCloseError};
use claystack_beacon::BeaconClient;
use claystack_execution::alloy::primitives::Address;
use claystack_execution::{
    exit_groups, ExitEventsReader, RegistryReader, RegistrySnapshot, Rpc, ValidatorStatus, WithdrawalQueueReader,
};
use claystack_exits::{
    exits_report, status_of, Candidate, ExitAsked, ExitsInputs, ExitsReport, Liquidity, VoluntaryRequest,
};
use claystack_genesis::{Exits, Genesis};
use claystack_primitives::{hex, Epoch, ReportKind, ValidatorInfo, FAR_FUTURE_EPOCH};
use claystack_rewards::RewardsReport;
use claystack_store::{Store, StoredReport};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// An exits round the closer just stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedExits {
    pub number: u64,
    pub reference_epoch: Epoch,
    /// `None` when nothing exits: the round is stored, not signed.
    pub merkle_root: Option<[u8; 32]>,
    pub report_hash: [u8; 32],
    /// Requested exits picked and voluntary exits given a slot.
    pub requested: usize,
    pub voluntary: usize,
    /// Why its files could not be exported, if they could not (rewritten on the next start).
    pub export_error: Option<String>,
}

/// One round as computed: the report, its root (`None`: nothing to exit) and what is stored.
#[derive(Debug, Clone)]
pub struct ComputedExits {
    pub report: ExitsReport,
    pub merkle_root: Option<[u8; 32]>,
    pub stored: StoredReport,
}

/// What stops the next exits round from closing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitsWaiting {
    /// Accounting has not passed the round's reference epoch yet.
    Accounting { number: u64, reference_epoch: Epoch, next_epoch: Epoch },
    /// The round waits for the rewards report its scores come from.
    Scores { number: u64, rewards_report: u64 },
    /// The chains cannot answer yet; `reason` says what.
    Inputs { number: u64, reason: String },
}

pub struct ExitsCloser {
    genesis: Genesis,
    exits: Exits,
    store: Arc<Store>,
    reader: ExitsReader,
    export: Option<PathBuf>,
}

impl ExitsCloser {
    /// `None` when the genesis has no `exits` section (the committee publishes rewards only).
    pub fn new(genesis: Genesis, store: Arc<Store>, beacon: BeaconClient, rpc: Rpc) -> Option<ExitsCloser> {
        let exits = genesis.exits.clone()?;
        let reader = ExitsReader::new(beacon, rpc, &genesis, &exits);
        Some(ExitsCloser { genesis, exits, store, reader, export: None })
    }

    /// Also write each round as `<dir>/exits-<n>/{report.json,tree.json,inputs.json,root}`.
    pub fn with_export_dir(mut self, dir: PathBuf) -> ExitsCloser {
        self.export = Some(dir);
        self
    }

    /// The number of the next round to close.
    pub fn next_number(&self) -> Result<u64, FrameCloseError> {
        Ok(self.store.latest_report(ReportKind::Exits)?.map_or(1, |(n, _)| n + 1))
    }

    /// Closes every round that is ready, in order; returns them and what the next one waits for.
    pub async fn close_ready(&self) -> Result<(Vec<ClosedExits>, ExitsWaiting), FrameCloseError> {
        let mut closed = Vec::new();
        loop {
            match self.close_next().await? {
                Ok(round) => closed.push(round),
                Err(waiting) => return Ok((closed, waiting)),
            }
        }
    }

    /// Closes the next round if it is ready.
    pub async fn close_next(&self) -> Result<Result<ClosedExits, ExitsWaiting>, FrameCloseError> {
        let number = self.next_number()?;
        let computed = match self.compute(number).await? {
            Ok(computed) => computed,
            Err(waiting) => return Ok(Err(waiting)),
        };
        let ComputedExits { report, merkle_root, stored } = computed;
        self.store.put_report(ReportKind::Exits, number, &stored)?;
        let export_error = self.export(number).err().map(|e| e.to_string());
        let voluntary = report.voluntary.assigned.len();
        Ok(Ok(ClosedExits {
            number,
            reference_epoch: report.reference_epoch,
            merkle_root,
            report_hash: stored.report_hash,
            requested: report.leaves.len() - voluntary,
            voluntary,
            export_error,
        }))
    }

    /// Computes round `number` from the chains and the stored rewards report its scores come
    /// from, without storing it (`report verify-exits` compares it with the chain's root).
    pub async fn compute(&self, number: u64) -> Result<Result<ComputedExits, ExitsWaiting>, FrameCloseError> {
        let overflow = || FrameCloseError::ExitsSource { number, message: "its reference epoch overflows".into() };
        let reference_epoch = self.exits.reference_epoch(self.genesis.first_epoch, number).ok_or_else(overflow)?;
        let next_epoch = self.store.accounting_cursor()?.map_or(0, |c| c.next_epoch);
        if next_epoch <= reference_epoch {
            return Ok(Err(ExitsWaiting::Accounting { number, reference_epoch, next_epoch }));
        }
        let scores = match self.scores(number, reference_epoch)? {
            Ok(scores) => scores,
            Err(waiting) => return Ok(Err(waiting)),
        };
        let period = (reference_epoch + 1 - self.exits.cadence_epochs.min(reference_epoch + 1), reference_epoch);
        let inputs = match self.reader.read(number, period, &scores).await? {
            Ok(inputs) => inputs,
            Err(reason) => return Ok(Err(ExitsWaiting::Inputs { number, reason })),
        };
        let report = exits_report(&self.exits.rules, &inputs)
            .map_err(|e| FrameCloseError::ExitsSource { number, message: e.to_string() })?;
        let tree = claystack_exits::tree_of(&report.leaves)
            .map_err(|e| FrameCloseError::ExitsSource { number, message: e.to_string() })?;
        let bytes = report.bytes();
        let mut log = serde_json::to_vec_pretty(&inputs).expect("exits inputs always serialize");
        log.push(b'\n');
        let (merkle_root, mut dump) = match &tree {
            Some(tree) => (Some(tree.root()), serde_json::to_vec_pretty(&tree.dump()).expect("a dump serializes")),
            None => (None, b"null".to_vec()),
        };
        dump.push(b'\n');
        let stored = StoredReport {
            merkle_root: merkle_root.unwrap_or_default(),
            report_hash: claystack_report::report_hash(&bytes),
            report: bytes,
            tree: dump,
            log,
        };
        Ok(Ok(ComputedExits { report, merkle_root, stored }))
    }

    /// Each operator's score (by address) in the latest rewards report whose frame ends by
    /// `reference_epoch`, or the rewards report to wait for.
    fn scores(
        &self,
        number: u64,
        reference_epoch: Epoch,
    ) -> Result<Result<BTreeMap<Address, u32>, ExitsWaiting>, FrameCloseError> {
        let frame_epochs = self.genesis.economics.frame_epochs.max(1);
        let rewards_report = (reference_epoch + 1).saturating_sub(self.genesis.first_epoch) / frame_epochs;
        if rewards_report == 0 {
            return Ok(Ok(BTreeMap::new()));
        }
        let Some(stored) = self.store.report(ReportKind::Rewards, rewards_report)? else {
            return Ok(Err(ExitsWaiting::Scores { number, rewards_report }));
        };
        let report: RewardsReport = serde_json::from_slice(&stored.report)
            .map_err(|e| FrameCloseError::StoredReport { number: rewards_report, message: e.to_string() })?;
        Ok(Ok(report.operators.iter().map(|o| (Address::from(o.address.0), o.score.score_bps)).collect()))
    }

    /// Writes stored round `number`'s files into the export dir, if one is set.
    pub fn export(&self, number: u64) -> Result<(), FrameCloseError> {
        let Some(dir) = &self.export else { return Ok(()) };
        let Some(stored) = self.store.report(ReportKind::Exits, number)? else {
            return Err(FrameCloseError::StoredReport { number, message: "exits round not in the store".into() });
        };
        let dir = dir.join(format!("exits-{number}"));
        std::fs::create_dir_all(&dir).map_err(|error| FrameCloseError::Export { path: dir.clone(), error })?;
        let root = format!("{}\n", hex::encode(&stored.merkle_root));
        for (name, bytes) in [
            ("report.json", &stored.report[..]),
            ("tree.json", &stored.tree[..]),
            ("inputs.json", &stored.log[..]),
            ("root", root.as_bytes()),
        ] {
            write_export(&dir.join(name), bytes)?;
        }
        Ok(())
    }

    /// Rewrites every stored round's exported files (after a crash between storing and exporting).
    pub fn export_all(&self) -> Result<(), FrameCloseError> {
        let latest = self.store.latest_report(ReportKind::Exits)?.map_or(0, |(n, _)| n);
        (1..=latest).try_for_each(|n| self.export(n))
    }
}

/// A stored exits round, parsed.
pub fn stored_exits(store: &Store, number: u64) -> Result<Option<ExitsReport>, FrameCloseError> {
    let Some(stored) = store.report(ReportKind::Exits, number)? else { return Ok(None) };
    serde_json::from_slice(&stored.report)
        .map(Some)
        .map_err(|e| FrameCloseError::StoredReport { number, message: format!("exits round: {e}") })
}

/// Reads an exits round's inputs at its reference points.
pub struct ExitsReader {
    reference: ReferenceReader,
    beacon: BeaconClient,
    registry: RegistryReader,
    queue: WithdrawalQueueReader,
    events: ExitEventsReader,
    initial_score_bps: u32,
    /// Where the contracts' events start (genesis `contracts.deployed_at_block`).
    events_from: u64,
}

impl ExitsReader {
    pub fn new(beacon: BeaconClient, rpc: Rpc, genesis: &Genesis, exits: &Exits) -> ExitsReader {
        let registry = Address::from(genesis.contracts.operator_registry.0);
        ExitsReader {
            reference: ReferenceReader::new(beacon.clone(), rpc.clone(), genesis),
            beacon,
            registry: RegistryReader::new(rpc.clone(), registry),
            queue: WithdrawalQueueReader::new(rpc.clone(), Address::from(exits.withdrawal_queue.0)),
            events: ExitEventsReader::new(rpc, registry),
            initial_score_bps: genesis.economics.score.initial_bps,
            events_from: genesis.contracts.deployed_at_block,
        }
    }

    /// The inputs of round `number`, whose cadence period is `period` (its last epoch is the
    /// reference epoch); or what they wait for.
    pub async fn read(
        &self,
        number: u64,
        period: (Epoch, Epoch),
        scores: &BTreeMap<Address, u32>,
    ) -> Result<Result<ExitsInputs, String>, FrameCloseError> {
        let err = |message: String| FrameCloseError::ExitsSource { number, message };
        let (slot, block) = self.reference.reference(number, period).await.map_err(|e| err(e.to_string()))?;
        let latest = self.registry.rpc().block_number().await.map_err(|e| err(e.to_string()))?;
        if latest < block {
            return Ok(Err(format!(
                "the execution chain is at block {latest}; exits round {number} reads block {block} (beacon slot \
                 {slot}); waiting for it"
            )));
        }
        let snapshot = self.registry.snapshot(block).await.map_err(|e| err(e.to_string()))?;
        let liquidity = self.queue.liquidity(block).await.map_err(|e| err(e.to_string()))?;
        let pubkeys: Vec<[u8; 48]> = snapshot.validators.iter().map(|v| v.pubkey).collect();
        let records = self
            .beacon
            .validators_by_pubkey(&slot.to_string(), &pubkeys)
            .await
            .map_err(|e| err(format!("beacon validators at slot {slot}: {e}")))?;
        let period_epochs = self
            .beacon
            .shard_committee_period()
            .await
            .map_err(|e| err(format!("beacon spec SHARD_COMMITTEE_PERIOD: {e}")))?;
        let requests = self.events.voluntary_requests(self.events_from, block).await.map_err(|e| err(e.to_string()))?;
        let placed: BTreeMap<u64, &claystack_execution::VoluntaryExitRequest> =
            requests.iter().map(|r| (r.validator_id, r)).collect();
        let rounds = Rounds { reference_epoch: period.1, shard_committee_period: period_epochs };
        let (candidates, voluntary_requests) =
            candidates(&snapshot, &records, &placed, scores, self.initial_score_bps, rounds).map_err(err)?;
        Ok(Ok(ExitsInputs {
            number,
            reference_epoch: period.1,
            liquidity: Liquidity { unmet_demand_wei: liquidity.unmet_demand_wei, buffer_wei: liquidity.buffer_wei },
            candidates,
            voluntary_requests,
        }))
    }
}

#[derive(Clone, Copy)]
struct Rounds {
    reference_epoch: Epoch,
    shard_committee_period: u64,
}

/// Every registry validator the beacon state holds, as a candidate, and the open voluntary
/// requests. A validator's operator, node type and location are those of its cluster's lowest
/// node id (`claystack_execution::exit_groups`).
fn candidates(
    snapshot: &RegistrySnapshot,
    records: &[ValidatorInfo],
    placed: &BTreeMap<u64, &claystack_execution::VoluntaryExitRequest>,
    scores: &BTreeMap<Address, u32>,
    initial_score_bps: u32,
    rounds: Rounds,
) -> Result<(Vec<Candidate>, Vec<VoluntaryRequest>), String> {
    let by_key: BTreeMap<[u8; 48], &ValidatorInfo> =
        records.iter().filter_map(|r| Some((hex::decode_fixed::<48>(&r.pubkey).ok()?, r))).collect();
    let index_of: BTreeMap<[u8; 48], u64> = by_key.iter().map(|(k, r)| (*k, r.index)).collect();
    let groups = exit_groups(snapshot, &index_of);
    let asked: BTreeMap<u64, ExitAsked> =
        crate::registry::exits_asked(snapshot, &index_of).into_iter().map(|a| (a.validator, a)).collect();
    let (mut candidates, mut open) = (Vec::new(), Vec::new());
    for v in &snapshot.validators {
        let Some(record) = by_key.get(&v.pubkey) else { continue };
        let Some(group) = groups.get(&record.index) else { continue };
        // The registry's exits as the rewards report reads them (`exits_asked`): an open
        // voluntary request has no slot yet (exit-by FAR_FUTURE_EPOCH) and is this round's to
        // serve; every other exit there was asked by an earlier round.
        let asked_for = asked.get(&record.index);
        let open_request = v.status == ValidatorStatus::VoluntaryExitRequested
            && asked_for.is_some_and(|a| a.exit_by_epoch == FAR_FUTURE_EPOCH);
        let exit_asked = asked_for.is_some() && !open_request;
        if open_request {
            let event = placed.get(&v.id).ok_or_else(|| {
                format!("validator {} has an open voluntary exit request but no VoluntaryExitRequested event", v.id)
            })?;
            open.push(VoluntaryRequest {
                validator: record.index,
                operator: claystack_rewards::Address(event.operator.0 .0),
                block: event.block,
                log_index: event.log_index,
                fast_track: event.fast_track,
            });
        }
        candidates.push(Candidate {
            validator: record.index,
            operator: claystack_rewards::Address(group.operator.0 .0),
            node_type: group.node_type.to_string(),
            location: group.location.clone(),
            score_bps: scores.get(&group.operator).copied().unwrap_or(initial_score_bps),
            status: status_of(Some(record), exit_asked, rounds.reference_epoch, rounds.shard_committee_period),
            balance_gwei: record.balance_gwei,
        });
    }
    Ok((candidates, open))
}
