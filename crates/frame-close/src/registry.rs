//! Frame inputs measured from the chains at the frame's reference points: every number of a
//! report, none from a file.
//!
//! Every member must read the same bytes whenever it closes a report, so nothing is read at
//! `latest`. A frame's **reference block** is the execution block carried in the payload of
//! its last non-empty beacon slot (DESIGN §3); its **start block** is the previous frame's
//! reference block (the last non-empty slot at or before the slot before the frame).
//! - the **registry** (operators, nodes, validators, exit requests) from the OperatorRegistry
//!   at the reference block;
//! - the protocol validators' **records** (index, balance, slashed, exit and withdrawable
//!   epochs) and pending deposits from the beacon states at the frame's last slot and at the
//!   slot before the frame (the previous frame's last slot), by public key;
//! - the **flows** (withdrawals, deposits) of the frame's blocks from this node's own
//!   accounting (`claystack-store`);
//! - the **execution-layer fees**: the RewardsVault's running total at the start and
//!   reference blocks;
//! - the **agreed SSV price** and the **explicit adjustments** from RewardsGovernance, and the
//!   **observed SSV price** from the feed's latest round, at the reference block.
//!
//! From these, `claystack_report::consensus_rewards` gives the consensus-layer part of `T`,
//! `claystack_exits::frame_facts` the slashings and exits (and `classify_all` each exit's
//! compliance for the frame log), and `claystack_report`'s onchain
//! rules the fees and the observed price. Whatever cannot be read yet (the execution node is
//! behind, the feed is stale, no agreed price applies) makes the node wait with one line
//! saying what and why; it never signs a guess.

use crate::{BoxFuture, FrameCloseError, InputsSource, InputsStatus};
use claystack_accounting::EpochFlows;
use claystack_beacon::BeaconClient;
use claystack_execution::alloy::primitives::Address;
use claystack_execution::{
    to_rewards_registry, RegistryReader, RegistrySnapshot, RewardsInputsReader, Rpc, ValidatorStatus,
};
use claystack_exits::{ExitAsked, ExitKind};
use claystack_genesis::Genesis;
use claystack_primitives::{hex, BeaconSpec, Epoch, ValidatorInfo, FAR_FUTURE_EPOCH};
use claystack_report::{
    consensus_rewards, execution_fees_wei, observed_wei_per_ssv, AskedExit, BondHeld, ChainReadings, ConsensusRewards,
    ExitCompliance, ExitOutcome, ExternalInputs, FeedRound, ValidatorValue,
};
use claystack_rewards::{Adjustment, Facts, Registry, RewardsSource, SsvPrice};
use claystack_store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Every frame input measured at the frame's reference points.
pub struct MeasuredInputs {
    reader: ReferenceReader,
    store: Arc<Store>,
}

impl MeasuredInputs {
    pub fn new(reader: ReferenceReader, store: Arc<Store>) -> MeasuredInputs {
        MeasuredInputs { reader, store }
    }

    async fn inputs(&self, number: u64, frame: (Epoch, Epoch)) -> Result<InputsStatus, FrameCloseError> {
        let flows = frame_flows(&self.store, number, frame)?;
        match self.reader.read(number, frame, &flows).await? {
            Ok(measured) => Ok(InputsStatus::Ready(Box::new(measured.into_inputs()))),
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
    pub execution_fees_wei: u128,
    pub ssv_price: SsvPrice,
    pub adjustments: Vec<Adjustment>,
    pub chain: ChainReadings,
    /// Registry keys the beacon state at the frame's end does not hold (not deposited yet).
    pub unindexed: usize,
    /// Protocol validators slashed at the frame's last state, final or not, ascending.
    pub slashed: Vec<u64>,
    /// Every registry operator's bond at the reference block, ascending by address.
    pub bonds: Vec<BondHeld>,
    /// Each exit's compliance at the frame's last state, ascending by validator.
    pub exits: Vec<ExitCompliance>,
}

impl Measured {
    /// The report's inputs (the previous report's carry is the reporter's to add).
    pub fn into_inputs(self) -> ExternalInputs {
        ExternalInputs {
            registry: self.registry,
            facts: self.facts,
            source: RewardsSource {
                validator_rewards_wei: self.rewards.total_wei(),
                execution_fees_wei: self.execution_fees_wei,
            },
            ssv_price: self.ssv_price,
            adjustments: self.adjustments,
            previous: None,
            consensus: Some(self.rewards),
            chain: Some(self.chain),
            slashed: self.slashed,
            bonds: self.bonds,
            exits: self.exits,
        }
    }
}

/// Each operator's bond of `snapshot`, ascending by address.
fn bonds_held(number: u64, snapshot: &RegistrySnapshot) -> Result<Vec<BondHeld>, FrameCloseError> {
    let wide = |what: &str, account: Address, v: claystack_execution::alloy::primitives::U256| {
        u128::try_from(v).map_err(|_| {
            source(
                number,
                format!(
                    "{what}({account}) at block {} is {v}, above 128 bits; is genesis contracts.operator_registry the \
                     OperatorRegistry?",
                    snapshot.block
                ),
            )
        })
    };
    let mut bonds = snapshot
        .operators
        .iter()
        .map(|o| {
            Ok(BondHeld {
                operator: claystack_rewards::Address(o.account.0 .0),
                cs_eth: wide("bondOf", o.account, o.bond)?,
                wei: wide("bondValueOf", o.account, o.bond_value)?,
            })
        })
        .collect::<Result<Vec<_>, FrameCloseError>>()?;
    bonds.sort();
    Ok(bonds)
}

/// The exits the registry records at the reference block, as the exits crate takes them
/// (`NodeManager.publishExit` sets the status and `exitEpoch`): `ExitRequested` is a requested
/// exit by `exitEpoch`; `VoluntaryExitRequested` a voluntary one, by its slot once an exits
/// report published it, else (an open request, `exitEpoch == 0`) by `FAR_FUTURE_EPOCH`, so an
/// exit made meanwhile is voluntary, not forced. `Exited` is never set by the contracts; were
/// it set, the operator's exit was one it asked for. `index_of` maps public keys to beacon
/// indices; a key without an index (not deposited) is skipped.
pub fn exits_asked(snapshot: &RegistrySnapshot, index_of: &BTreeMap<[u8; 48], u64>) -> Vec<ExitAsked> {
    snapshot
        .validators
        .iter()
        .filter_map(|v| {
            let validator = *index_of.get(&v.pubkey)?;
            let (kind, exit_by_epoch) = match v.status {
                ValidatorStatus::ExitRequested => (ExitKind::Requested, v.exit_epoch),
                ValidatorStatus::VoluntaryExitRequested | ValidatorStatus::Exited => {
                    (ExitKind::Voluntary, if v.exit_epoch == 0 { FAR_FUTURE_EPOCH } else { v.exit_epoch })
                }
                ValidatorStatus::None | ValidatorStatus::Active => return None,
            };
            Some(ExitAsked { validator, kind, exit_by_epoch })
        })
        .collect()
}

/// `classify_all`'s compliance as the frame log lists it.
pub fn compliance_lines(compliance: &[claystack_exits::Compliance]) -> Vec<ExitCompliance> {
    use claystack_exits::Outcome;
    compliance
        .iter()
        .map(|c| {
            let (outcome, exit_epoch, late_epochs, slashed) = match c.outcome {
                Outcome::Pending => (ExitOutcome::Pending, None, 0, false),
                Outcome::Timely { exit_epoch } => (ExitOutcome::Timely, Some(exit_epoch), 0, false),
                Outcome::Late { exit_epoch, late_epochs } => (ExitOutcome::Late, exit_epoch, late_epochs, false),
                Outcome::Never { exit_epoch, late_epochs } => (ExitOutcome::Never, exit_epoch, late_epochs, false),
                Outcome::Forced { exit_epoch, slashed } => (ExitOutcome::Forced, exit_epoch, 0, slashed),
            };
            ExitCompliance {
                validator: c.validator,
                kind: c.asked.map(|a| match a.kind {
                    ExitKind::Requested => AskedExit::Requested,
                    ExitKind::Voluntary => AskedExit::Voluntary,
                }),
                exit_by_epoch: c.asked.map(|a| a.exit_by_epoch).filter(|&e| e != FAR_FUTURE_EPOCH),
                outcome,
                exit_epoch,
                late_epochs,
                slashed,
                exited: c.exited,
            }
        })
        .collect()
}

/// Reads a frame's measured inputs: the protocol's contracts at the reference blocks,
/// validator records and pending deposits at the frame's boundary states.
pub struct ReferenceReader {
    beacon: BeaconClient,
    registry: RegistryReader,
    contracts: RewardsInputsReader,
    /// Genesis `ssv_price_source.max_age_secs`.
    feed_max_age_secs: u64,
    /// Genesis `exits.rules.grace_epochs`; `None` without an exits section (no grace, no
    /// *never*).
    grace_epochs: Option<u64>,
}

impl ReferenceReader {
    /// Reads the contracts genesis names over `rpc`, and the beacon chain over `beacon`.
    pub fn new(beacon: BeaconClient, rpc: Rpc, genesis: &Genesis) -> ReferenceReader {
        let c = &genesis.contracts;
        let address = |a: claystack_genesis::Address| Address::from(a.0);
        ReferenceReader {
            beacon,
            registry: RegistryReader::new(rpc.clone(), address(c.operator_registry)),
            contracts: RewardsInputsReader::new(
                rpc,
                address(c.rewards_vault),
                address(c.rewards_governance),
                address(c.ssv_price_feed),
            ),
            feed_max_age_secs: genesis.ssv_price_source.max_age_secs,
            grace_epochs: genesis.exits.as_ref().map(|e| e.rules.grace_epochs),
        }
    }

    async fn spec(&self, number: u64) -> Result<BeaconSpec, FrameCloseError> {
        self.beacon.spec().await.map_err(|e| source(number, format!("beacon spec: {e}")))
    }

    /// The last non-empty slot of `frame` and its execution block number.
    pub async fn reference(&self, number: u64, frame: (Epoch, Epoch)) -> Result<(u64, u64), FrameCloseError> {
        let spec = self.spec(number).await?;
        match self.last_block(number, spec.last_slot(frame.1), spec.first_slot(frame.0)).await? {
            Some(found) => Ok(found),
            None => {
                Err(source(number, format!("no beacon block in epochs {}..={}; no reference block", frame.0, frame.1)))
            }
        }
    }

    /// The previous frame's reference block: the execution block of the last non-empty slot
    /// before `frame` (block 0 when there is none, i.e. the frame starts the chain).
    pub async fn start_block(&self, number: u64, frame: (Epoch, Epoch)) -> Result<u64, FrameCloseError> {
        let spec = self.spec(number).await?;
        if frame.0 == 0 {
            return Ok(0);
        }
        Ok(self.last_block(number, spec.last_slot(frame.0 - 1), 0).await?.map_or(0, |(_, block)| block))
    }

    /// The last slot in `floor..=slot` with a block, and that block's execution block number.
    async fn last_block(&self, number: u64, mut slot: u64, floor: u64) -> Result<Option<(u64, u64)>, FrameCloseError> {
        loop {
            let block =
                self.beacon.block(slot).await.map_err(|e| source(number, format!("beacon block {slot}: {e}")))?;
            if let Some(b) = block {
                return Ok(Some((slot, b.execution.block_number)));
            }
            if slot <= floor {
                return Ok(None);
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
        let asked = exits_asked(&snapshot, &index_of);
        let rewards = consensus_rewards(&pubkeys, &start, &end, flows);
        let facts = claystack_exits::frame_facts(frame, &asked, &records, self.grace_epochs);
        // Without a grace nothing is ever *never*: late has no end.
        let grace = self.grace_epochs.unwrap_or(u64::MAX);
        let exits = compliance_lines(&claystack_exits::classify_all(&asked, &records, frame.1, grace));
        let mut slashed: Vec<u64> = records.iter().filter(|r| r.slashed).map(|r| r.index).collect();
        slashed.sort_unstable();
        slashed.dedup();
        let bonds = bonds_held(number, &snapshot)?;
        let contracts = match self.contracts_at(number, frame, snapshot.block).await? {
            Ok(read) => read,
            Err(waiting) => return Ok(Err(waiting)),
        };
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
            execution_fees_wei = %contracts.fees_wei,
            agreed_wei_per_ssv = %contracts.price.agreed_wei_per_ssv,
            observed_wei_per_ssv = %contracts.price.observed_wei_per_ssv,
            adjustments = contracts.adjustments.len(),
            "frame measured at its reference points"
        );
        Ok(Ok(Measured {
            reference: (slot, snapshot.block),
            unindexed: registry.unindexed.len(),
            registry: registry.registry,
            rewards,
            facts,
            execution_fees_wei: contracts.fees_wei,
            ssv_price: contracts.price,
            adjustments: contracts.adjustments,
            chain: contracts.readings,
            slashed,
            bonds,
            exits,
        }))
    }

    /// The fees, prices and adjustments of report `number` from the vault, the governance
    /// contract and the feed; or what they wait for.
    async fn contracts_at(
        &self,
        number: u64,
        frame: (Epoch, Epoch),
        end_block: u64,
    ) -> Result<Result<ContractReadings, String>, FrameCloseError> {
        let read = |e: claystack_execution::ChainError| source(number, e.to_string());
        let start_block = self.start_block(number, frame).await?;
        let c = &self.contracts;
        let received_start = c.vault_received(start_block).await.map_err(read)?;
        let received_end = c.vault_received(end_block).await.map_err(read)?;
        let Some(fees_wei) = execution_fees_wei(received_start, received_end) else {
            return Err(source(
                number,
                format!(
                    "the rewards vault's total received went down from {received_start} wei at block {start_block} \
                     to {received_end} at block {end_block}; check genesis contracts.rewards_vault"
                ),
            ));
        };
        let Some((agreed, agreed_from)) = c.agreed_ssv_price(number, end_block).await.map_err(read)? else {
            return Ok(Err(format!(
                "RewardsGovernance has no agreed SSV price for report {number} at its reference block {end_block}; \
                 governance must publish one (publishAgreedSsvPrice) before a frame's reference block"
            )));
        };
        let feed = match c.feed_round(end_block).await {
            Ok(answer) => answer,
            Err(e) => return Ok(Err(format!("the SSV price feed cannot be read at block {end_block}: {e}"))),
        };
        let Some(answer) = feed.answer else {
            return Ok(Err(format!("the SSV price feed's answer at block {end_block} does not fit 128 bits")));
        };
        let feed = FeedRound {
            round_id: feed.round_id,
            answer,
            updated_at: feed.updated_at,
            answered_in_round: feed.answered_in_round,
            decimals: feed.decimals,
        };
        let timestamp = c.block_timestamp(end_block).await.map_err(read)?;
        let observed = match observed_wei_per_ssv(&feed, timestamp, self.feed_max_age_secs) {
            Ok(price) => price,
            Err(problem) => {
                return Ok(Err(format!(
                    "the SSV price feed gives no usable price for report {number} at its reference block {end_block}: \
                     {problem}; not signing a guessed price"
                )))
            }
        };
        let adjustments = c
            .adjustments(number, end_block)
            .await
            .map_err(read)?
            .into_iter()
            .map(|a| Adjustment { node: a.node, amount_wei: a.amount_wei, reason: a.reason })
            .collect();
        Ok(Ok(ContractReadings {
            fees_wei,
            price: SsvPrice { agreed_wei_per_ssv: agreed, observed_wei_per_ssv: observed },
            adjustments,
            readings: ChainReadings {
                start_block,
                end_block,
                vault_received_start_wei: received_start,
                vault_received_end_wei: received_end,
                agreed_price_from_report: agreed_from,
                feed,
                end_block_timestamp: timestamp,
            },
        }))
    }
}

/// What [`ReferenceReader::contracts_at`] read.
struct ContractReadings {
    fees_wei: u128,
    price: SsvPrice,
    adjustments: Vec<Adjustment>,
    readings: ChainReadings,
}

fn source(number: u64, message: String) -> FrameCloseError {
    FrameCloseError::Source { number, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use claystack_execution::ValidatorEntry;
    use claystack_exits::{classify_all, Outcome};

    fn entry(id: u64, status: ValidatorStatus, exit_epoch: u64) -> ValidatorEntry {
        ValidatorEntry { id, pubkey: [id as u8; 48], node_ids: vec![1], status, exit_epoch }
    }

    #[test]
    fn the_registry_maps_to_the_exits_asked_for_by_status_and_exit_epoch() {
        let snapshot = RegistrySnapshot {
            block: 30,
            operators: Vec::new(),
            nodes: Vec::new(),
            validators: vec![
                entry(1, ValidatorStatus::Active, 0),
                entry(2, ValidatorStatus::ExitRequested, 120),
                entry(3, ValidatorStatus::VoluntaryExitRequested, 90),
                entry(4, ValidatorStatus::VoluntaryExitRequested, 0),
                entry(5, ValidatorStatus::ExitRequested, 50),
                entry(6, ValidatorStatus::None, 0),
            ],
        };
        // Validator 5's key has no beacon index yet: skipped.
        let index_of: BTreeMap<[u8; 48], u64> = [1u64, 2, 3, 4, 6].iter().map(|&i| ([i as u8; 48], 100 + i)).collect();
        let asked = exits_asked(&snapshot, &index_of);
        let requested = |validator, exit_by_epoch| ExitAsked { validator, kind: ExitKind::Requested, exit_by_epoch };
        let voluntary = |validator, exit_by_epoch| ExitAsked { validator, kind: ExitKind::Voluntary, exit_by_epoch };
        assert_eq!(asked, vec![requested(102, 120), voluntary(103, 90), voluntary(104, FAR_FUTURE_EPOCH)]);

        // An open voluntary request exited: voluntary and timely, not forced; the log shows no
        // exit-by epoch for it.
        let record = ValidatorInfo {
            index: 104,
            status: String::new(),
            pubkey: String::new(),
            balance_gwei: 0,
            effective_balance_gwei: 0,
            slashed: false,
            activation_epoch: 0,
            exit_epoch: 40,
            withdrawable_epoch: 296,
        };
        let compliance = classify_all(&asked, &[record], 50, 10);
        let open = compliance.iter().find(|c| c.validator == 104).unwrap();
        assert_eq!(open.outcome, Outcome::Timely { exit_epoch: 40 });
        let lines = compliance_lines(&compliance);
        let line = lines.iter().find(|l| l.validator == 104).unwrap();
        assert_eq!(
            (line.kind, line.exit_by_epoch, line.outcome, line.exit_epoch, line.exited),
            (Some(AskedExit::Voluntary), None, ExitOutcome::Timely, Some(40), true)
        );
        // Requested by 120 with no record (not exited) at 50: pending.
        let pending = lines.iter().find(|l| l.validator == 102).unwrap();
        assert_eq!(
            (pending.kind, pending.exit_by_epoch, pending.outcome),
            (Some(AskedExit::Requested), Some(120), ExitOutcome::Pending)
        );
    }
}
