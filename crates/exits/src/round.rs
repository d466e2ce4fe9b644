//! One exits round: from what the chains say at the reference point to the exits report.
//!
//! 1. open voluntary requests of active validators get exit slots (capacity, fast track
//!    first); those of pending validators wait, those of exiting or slashed validators are
//!    dropped (they leave anyway);
//! 2. the exits under way (exiting and slashed validators, and the voluntary exits just
//!    served) count with their balances, and the demand says how many more must exit;
//! 3. the selection picks them among the active validators without a voluntary request;
//! 4. every served voluntary exit and every pick becomes a leaf.

use crate::demand::{exits_needed, Demand, DemandRules, Liquidity, UnderWay};
use crate::error::ExitsError;
use crate::report::{canonical, ExitKind, ExitLeaf};
use crate::selection::{checked, select, Candidate, Selection, Status, Targets};
use crate::voluntary::{self, assign_slots, Slots, VoluntaryRequest, VoluntaryRules};
use claystack_primitives::{Epoch, ValidatorIndex};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The exit rules of genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitRules {
    pub demand: DemandRules,
    pub voluntary: VoluntaryRules,
    pub targets: Targets,
    /// Epochs from the report's reference epoch to a requested exit's deadline.
    pub requested_exit_within_epochs: u64,
    /// Epochs after an exit-by epoch before a missing exit counts as never made.
    pub grace_epochs: u64,
}

/// Everything one exits round is computed from, read at its reference point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitsInputs {
    /// Exits report number (counted from 1, apart from rewards reports).
    pub number: u64,
    /// The epoch of the reference slot.
    pub reference_epoch: Epoch,
    pub liquidity: Liquidity,
    /// Every protocol validator. The exiting and slashed ones are the exits under way, each
    /// expected to pay its balance (0 once withdrawn).
    pub candidates: Vec<Candidate>,
    /// Voluntary requests no earlier exits report served.
    #[serde(default)]
    pub voluntary_requests: Vec<VoluntaryRequest>,
}

/// The exits report: what it publishes and every number that led to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitsReport {
    pub number: u64,
    pub reference_epoch: Epoch,
    pub demand: Demand,
    /// Voluntary requests served (with their slots) and carried to the next report.
    pub voluntary: Slots,
    /// Voluntary requests of validators already exiting or slashed: nothing to serve.
    pub dropped: Vec<VoluntaryRequest>,
    pub selection: Selection,
    /// The tree's leaves, ascending by validator.
    pub leaves: Vec<ExitLeaf>,
}

impl ExitsReport {
    /// Canonical bytes: pretty JSON of the typed struct (field order is the type's, every
    /// list in the order documented on it) and a final newline; the report hash is their
    /// keccak256.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("an exits report always serializes");
        out.push(b'\n');
        out
    }
}

/// Computes the exits report of one round (see the module comment for the steps).
pub fn exits_report(rules: &ExitRules, inputs: &ExitsInputs) -> Result<ExitsReport, ExitsError> {
    let by_index: BTreeMap<ValidatorIndex, &Candidate> =
        checked(&inputs.candidates)?.into_iter().map(|c| (c.validator, c)).collect();
    let (mut open, mut waiting, mut dropped) = (Vec::new(), Vec::new(), Vec::new());
    for r in &inputs.voluntary_requests {
        let c = by_index
            .get(&r.validator)
            .ok_or(ExitsError::UnknownValidator { list: "the voluntary exit requests", validator: r.validator })?;
        match c.status {
            Status::Active => open.push(*r),
            Status::Pending => waiting.push(*r),
            Status::Exiting | Status::Slashed => dropped.push(*r),
        }
    }
    voluntary::check(&inputs.voluntary_requests)?;
    let mut voluntary = assign_slots(&open, rules.voluntary, inputs.reference_epoch)?;
    // Pending validators' requests wait, in serving order with the others carried.
    voluntary.carried.extend(waiting);
    voluntary.carried.sort_by_key(VoluntaryRequest::queue_key);
    dropped.sort();

    let served: BTreeSet<ValidatorIndex> = voluntary.assigned.iter().map(|s| s.request.validator).collect();
    let under_way: Vec<UnderWay> = by_index
        .values()
        .filter(|c| matches!(c.status, Status::Exiting | Status::Slashed) || served.contains(&c.validator))
        .map(|c| UnderWay { validator: c.validator, expected_gwei: c.balance_gwei })
        .collect();
    let demand = exits_needed(inputs.liquidity, &under_way, rules.demand)?;

    // A validator with a voluntary request (served or not) is leaving: not a pick.
    let leaving: BTreeSet<ValidatorIndex> = inputs.voluntary_requests.iter().map(|r| r.validator).collect();
    let mut candidates = inputs.candidates.clone();
    for c in candidates.iter_mut().filter(|c| leaving.contains(&c.validator)) {
        c.status = Status::Exiting;
    }
    let selection = select(&candidates, &rules.targets, demand.exits)?;

    let deadline = inputs
        .reference_epoch
        .checked_add(rules.requested_exit_within_epochs)
        .ok_or(ExitsError::Overflow("requested exit deadline"))?;
    let leaves = voluntary
        .assigned
        .iter()
        .map(|s| ExitLeaf {
            validator: s.request.validator,
            operator: s.request.operator,
            kind: ExitKind::Voluntary,
            exit_by_epoch: s.exit_by_epoch,
        })
        .chain(selection.picks.iter().map(|p| ExitLeaf {
            validator: p.validator,
            operator: p.operator,
            kind: ExitKind::Requested,
            exit_by_epoch: deadline,
        }))
        .collect();
    Ok(ExitsReport {
        number: inputs.number,
        reference_epoch: inputs.reference_epoch,
        demand,
        voluntary,
        dropped,
        selection,
        leaves: canonical(leaves)?,
    })
}
