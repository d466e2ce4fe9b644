//! Frame inputs measured from the chains at the frame's reference points.
//!
//! Every member must read the same bytes whenever it closes a report, so nothing is read at
//! `latest`:
//! - the **registry** (operators, nodes, validators, exit requests) from the OperatorRegistry
//!   at the frame's **reference block**: the execution block carried in the payload of the
//!   last non-empty beacon slot of the frame (DESIGN §3);
//! - the protocol validators' **records** (index, balance, slashed, exit and withdrawable
//!   epochs) and pending deposits from the beacon states at the frame's last slot and at the
//!   slot before the frame (the previous frame's last slot), by public key;
//! - the **flows** (withdrawals, deposits) of the frame's blocks from this node's own
//!   accounting (`claystack-store`).
//!
//! From these, `claystack_report::consensus_rewards` gives the consensus-layer part of `T` and
//! `claystack_report::beacon_facts` the slashings and exits. The execution-layer fees, the SSV
//! price and explicit adjustments still come from the frame-inputs file.

use crate::{BoxFuture, FrameCloseError, InputFiles, InputsSource, InputsStatus};
use claystack_accounting::EpochFlows;
use claystack_beacon::BeaconClient;
use claystack_execution::{to_rewards_registry, RegistryReader, RegistrySnapshot, ValidatorStatus};
use claystack_primitives::{hex, BeaconSpec, Epoch, ValidatorInfo};
use claystack_report::{
    beacon_facts, consensus_rewards, ConsensusRewards, ExitRequest, ExternalInputs, ValidatorValue,
};
use claystack_rewards::{Facts, Registry};
use claystack_store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Registry, consensus rewards and facts measured at the reference points; everything else
/// from the frame-inputs file (which must then hold no registry, no facts and no
/// `validator_rewards_wei`).
pub struct MeasuredInputs {
    file: InputFiles,
    reader: ReferenceReader,
    store: Arc<Store>,
}

impl MeasuredInputs {
    pub fn new(file: InputFiles, reader: ReferenceReader, store: Arc<Store>) -> MeasuredInputs {
        MeasuredInputs { file, reader, store }
    }

    async fn inputs(&self, number: u64, frame: (Epoch, Epoch)) -> Result<InputsStatus, FrameCloseError> {
        let Some(mut file) = self.file.read(number, frame)? else {
            return Ok(InputsStatus::Waiting(self.file.missing(number)));
        };
        check_not_in_file(number, &file)?;
        let flows = frame_flows(&self.store, number, frame)?;
        match self.reader.read(number, frame, &flows).await? {
            Ok(measured) => {
                measured.apply_to(&mut file);
                Ok(InputsStatus::Ready(Box::new(file)))
            }
            Err(waiting) => Ok(InputsStatus::Waiting(waiting)),
        }
    }
}

impl InputsSource for MeasuredInputs {
    fn frame_inputs(&self, number: u64, frame: (Epoch, Epoch)) -> BoxFuture<'_, Result<InputsStatus, FrameCloseError>> {
        Box::pin(self.inputs(number, frame))
    }
}

/// The stored flows of every epoch of `frame`, or which epoch has none (accounted by a build
/// that did not record flows).
pub fn frame_flows(store: &Store, number: u64, frame: (Epoch, Epoch)) -> Result<Vec<EpochFlows>, FrameCloseError> {
    let flows = store.epoch_flows(frame.0, frame.1)?;
    let mut expected = frame.0;
    for f in &flows {
        if f.epoch != expected {
            break;
        }
        expected += 1;
    }
    if expected <= frame.1 {
        return Err(source(
            number,
            format!(
                "beacon epoch {expected} has no recorded withdrawals and deposits (it was accounted by an older \
                 build); account the frame again from an empty data directory"
            ),
        ));
    }
    Ok(flows)
}

/// What the chains say about one frame at its reference points.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The beacon slot and execution block the contracts were read at.
    pub reference: (u64, u64),
    pub registry: Registry,
    pub rewards: ConsensusRewards,
    pub facts: Facts,
    /// Registry keys the beacon state at the frame's end does not hold (not deposited yet).
    pub unindexed: usize,
}

impl Measured {
    /// Puts the measured parts into a frame-inputs file's contents.
    pub fn apply_to(self, file: &mut ExternalInputs) {
        file.registry = self.registry;
        file.facts = self.facts;
        file.source.validator_rewards_wei = self.rewards.total_wei();
        file.consensus = Some(self.rewards);
    }
}

/// Reads a frame's measured inputs: the OperatorRegistry at the reference block, validator
/// records and pending deposits at the frame's boundary states.
pub struct ReferenceReader {
    beacon: BeaconClient,
    registry: RegistryReader,
}

impl ReferenceReader {
    pub fn new(beacon: BeaconClient, registry: RegistryReader) -> ReferenceReader {
        ReferenceReader { beacon, registry }
    }

    async fn spec(&self, number: u64) -> Result<BeaconSpec, FrameCloseError> {
        self.beacon.spec().await.map_err(|e| source(number, format!("beacon spec: {e}")))
    }

    /// The last non-empty slot of `frame` and its execution block number.
    pub async fn reference(&self, number: u64, frame: (Epoch, Epoch)) -> Result<(u64, u64), FrameCloseError> {
        let spec = self.spec(number).await?;
        let first = spec.first_slot(frame.0);
        let mut slot = spec.last_slot(frame.1);
        loop {
            let block =
                self.beacon.block(slot).await.map_err(|e| source(number, format!("beacon block {slot}: {e}")))?;
            if let Some(b) = block {
                return Ok((slot, b.execution.block_number));
            }
            if slot == first {
                return Err(source(
                    number,
                    format!("no beacon block in epochs {}..={}; no reference block", frame.0, frame.1),
                ));
            }
            slot -= 1;
        }
    }

    /// The registry at report `number`'s reference block, or why it cannot be read yet (the
    /// execution node has not reached the block).
    async fn snapshot(
        &self,
        number: u64,
        frame: (Epoch, Epoch),
    ) -> Result<Result<(u64, RegistrySnapshot), String>, FrameCloseError> {
        let (slot, block) = self.reference(number, frame).await?;
        let latest = self.registry.rpc().block_number().await.map_err(|e| source(number, e.to_string()))?;
        if latest < block {
            return Ok(Err(format!(
                "the execution chain is at block {latest}; report {number} reads the registry at block {block} \
                 (beacon slot {slot}); waiting for it"
            )));
        }
        let snapshot = self.registry.snapshot(block).await.map_err(|e| source(number, e.to_string()))?;
        Ok(Ok((slot, snapshot)))
    }

    /// Records of `pubkeys` at beacon slot `slot`'s state, with each key's pending deposits.
    async fn values(
        &self,
        number: u64,
        spec: &BeaconSpec,
        slot: u64,
        pubkeys: &[[u8; 48]],
    ) -> Result<(Vec<ValidatorInfo>, BTreeMap<[u8; 48], ValidatorValue>), FrameCloseError> {
        let state = slot.to_string();
        let records = self
            .beacon
            .validators_by_pubkey(&state, pubkeys)
            .await
            .map_err(|e| source(number, format!("beacon validators at slot {slot}: {e}")))?;
        let mut values: BTreeMap<[u8; 48], ValidatorValue> = BTreeMap::new();
        for r in &records {
            let key = hex::decode_fixed::<48>(&r.pubkey)
                .map_err(|_| source(number, format!("beacon validator {} has pubkey {:?}", r.index, r.pubkey)))?;
            values.insert(key, ValidatorValue { index: Some(r.index), balance_gwei: r.balance_gwei, pending_gwei: 0 });
        }
        if spec.is_electra(spec.epoch_of(slot)) {
            let wanted: std::collections::BTreeSet<&[u8; 48]> = pubkeys.iter().collect();
            let pending = self
                .beacon
                .pending_deposits(&state)
                .await
                .map_err(|e| source(number, format!("beacon pending deposits at slot {slot}: {e}")))?;
            for d in pending.iter().filter(|d| wanted.contains(&d.pubkey)) {
                let v = values.entry(d.pubkey).or_default();
                v.pending_gwei = v.pending_gwei.saturating_add(d.amount_gwei);
            }
        }
        Ok((records, values))
    }

    /// The registry, consensus rewards and facts of report `number`, with `flows` the accounted
    /// flows of the frame's epochs; or why it cannot be read yet.
    pub async fn read(
        &self,
        number: u64,
        frame: (Epoch, Epoch),
        flows: &[EpochFlows],
    ) -> Result<Result<Measured, String>, FrameCloseError> {
        let (slot, snapshot) = match self.snapshot(number, frame).await? {
            Ok(found) => found,
            Err(waiting) => return Ok(Err(waiting)),
        };
        let spec = self.spec(number).await?;
        let pubkeys: Vec<[u8; 48]> = snapshot.validators.iter().map(|v| v.pubkey).collect();
        let end_slot = spec.last_slot(frame.1);
        // The state before the frame: the previous frame's last slot (the genesis state for a
        // frame that starts at epoch 0).
        let start_slot = if frame.0 == 0 { 0 } else { spec.last_slot(frame.0 - 1) };
        let (records, end) = self.values(number, &spec, end_slot, &pubkeys).await?;
        let (_, start) = self.values(number, &spec, start_slot, &pubkeys).await?;
        let index_of: BTreeMap<[u8; 48], u64> = end.iter().filter_map(|(key, v)| v.index.map(|i| (*key, i))).collect();
        let registry = to_rewards_registry(&snapshot, &index_of);
        let requests: Vec<ExitRequest> = snapshot
            .validators
            .iter()
            .filter_map(|v| {
                let validator = *index_of.get(&v.pubkey)?;
                match v.status {
                    // An exit the owner confirmed was one the operator or the protocol asked for;
                    // which one is not recorded, and only its exit matters here.
                    ValidatorStatus::VoluntaryExitRequested | ValidatorStatus::Exited => {
                        Some(ExitRequest::Voluntary { validator, exit_epoch: v.exit_epoch })
                    }
                    ValidatorStatus::ExitRequested => {
                        Some(ExitRequest::Requested { validator, deadline_epoch: v.exit_epoch })
                    }
                    ValidatorStatus::None | ValidatorStatus::Active => None,
                }
            })
            .collect();
        let rewards = consensus_rewards(&pubkeys, &start, &end, flows);
        let facts = beacon_facts(frame, &records, &requests);
        tracing::info!(
            report = number,
            block = snapshot.block,
            slot,
            operators = registry.registry.operators.len(),
            validators = registry.registry.validators.len(),
            unindexed = registry.unindexed.len(),
            consensus_rewards_gwei = %rewards.total_gwei,
            slashings = facts.slashings.len(),
            exits = facts.forced_exits.len() + facts.voluntary_exits.len() + facts.requested_exits.len(),
            "frame measured at its reference points"
        );
        Ok(Ok(Measured {
            reference: (slot, snapshot.block),
            unindexed: registry.unindexed.len(),
            registry: registry.registry,
            rewards,
            facts,
        }))
    }
}

/// With the registry, the consensus rewards and the facts measured, the file must not give
/// them a second time.
pub fn check_not_in_file(number: u64, file: &ExternalInputs) -> Result<(), FrameCloseError> {
    let mut given = Vec::new();
    if !file.registry.operators.is_empty() || !file.registry.validators.is_empty() {
        given.push("\"registry\"");
    }
    if file.facts != Facts::default() {
        given.push("\"facts\"");
    }
    if file.source.validator_rewards_wei != 0 {
        given.push("a non-zero \"source.validator_rewards_wei\"");
    }
    if file.consensus.is_some() {
        given.push("\"consensus\"");
    }
    if !given.is_empty() {
        return Err(source(
            number,
            format!(
                "the frame-inputs file gives {}, but the registry, the consensus-layer rewards and the slashing and \
                 exit facts are measured from the chains (an execution RPC is given); remove them from the file",
                given.join(", ")
            ),
        ));
    }
    Ok(())
}

fn source(number: u64, message: String) -> FrameCloseError {
    FrameCloseError::Source { number, message }
}
