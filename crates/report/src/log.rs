//! The frame log: why every input number of a report is what it is.
//!
//! The report (`report.json`) already says, per node, its duties, rate, base, every penalty with
//! its reason and every adjustment. The log completes it with what the report is computed
//! *from*: per validator its cluster, duties, included and timely attestations and, when the
//! frame was measured, its balance at the start and end, withdrawals, deposits and rewards; the
//! components of `T`; the prices; the slashing and exit facts; the explicit adjustments. No
//! number is written in both files. The report carries the log's keccak256
//! (`frame_log_hash`), so the committee's signature over the report hash covers the log too.
//!
//! It depends only on the inputs, never on the engine's result, so its hash is known before
//! the report is computed. Canonical: JSON of these types in their field order, lists sorted.

use crate::measure::ValidatorMoney;
use crate::onchain::ChainReadings;
use crate::ExternalInputs;
use claystack_accounting::Tally;
use claystack_primitives::{Epoch, ValidatorIndex};
use claystack_rewards::{Adjustment, Facts, NodeId, SsvPrice};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameLog {
    pub number: u64,
    pub frame: (Epoch, Epoch),
    pub t: TComponents,
    pub ssv_price: SsvPrice,
    /// The readings of the protocol's contracts behind the execution fees and the prices.
    pub chain: Option<ChainReadings>,
    pub facts: Facts,
    /// Explicit adjustments, sorted.
    pub adjustments: Vec<Adjustment>,
    /// Every registry validator, ascending by index.
    pub validators: Vec<ValidatorLine>,
    /// Protocol validators slashed at the frame's last state, final or not, ascending
    /// (absent when none, so logs without a slashing keep their bytes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slashed: Vec<ValidatorIndex>,
    /// Every exit asked for and every exit nobody asked for, with its compliance at the
    /// frame's last state, ascending by validator (absent when none, so logs without exits
    /// keep their bytes). Operators and `claystack-notify` read it without the beacon chain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exits: Vec<ExitCompliance>,
}

/// One exit's compliance at the frame's last state: `claystack_exits::classify_all`'s
/// outcome in plain data (this crate does not depend on the exits crate; the I/O layer maps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitCompliance {
    pub validator: ValidatorIndex,
    /// What was asked; `None` for an exit nobody asked for (forced).
    pub kind: Option<AskedExit>,
    /// The exit-by epoch asked for; `None` when nobody asked, or for a voluntary request
    /// without a slot yet.
    pub exit_by_epoch: Option<Epoch>,
    pub outcome: ExitOutcome,
    /// The validator's beacon exit epoch, once the beacon chain assigned one.
    pub exit_epoch: Option<Epoch>,
    /// Epochs late up to the frame's last epoch (`docs/exits.md` section 4).
    pub late_epochs: u64,
    pub slashed: bool,
    /// The frame's last epoch is at or past the exit epoch: the exit is confirmed.
    pub exited: bool,
}

/// Who asked for an exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AskedExit {
    /// The protocol (an exits report's kind-0 leaf): the operator must exit by the deadline.
    Requested,
    /// The operator (its slot is an exits report's kind-1 leaf).
    Voluntary,
}

/// An exit's outcome (`docs/exits.md` section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitOutcome {
    Pending,
    Timely,
    Late,
    Never,
    Forced,
}

/// What `T` is made of, before the operator share (docs/rewards.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TComponents {
    /// The consensus-layer rewards of the protocol's validators, in wei.
    #[serde(with = "claystack_rewards::wei::signed")]
    pub consensus_rewards_wei: i128,
    /// Whether `consensus_rewards_wei` was measured from the beacon chain (`false`: given in a file).
    pub consensus_measured: bool,
    /// What the protocol's fee recipient received, in wei.
    #[serde(with = "claystack_rewards::wei::unsigned")]
    pub execution_fees_wei: u128,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorLine {
    pub index: ValidatorIndex,
    /// The nodes of its cluster, ascending.
    pub nodes: Vec<NodeId>,
    pub duties: u32,
    pub included: u32,
    pub timely: u32,
    /// Its money over the frame when the frame was measured.
    pub money: Option<ValidatorMoney>,
}

/// The log of report `number` over `frame` from `inputs` and the (registry-filtered) tallies.
pub fn frame_log(number: u64, frame: (Epoch, Epoch), inputs: &ExternalInputs, tallies: &[Tally]) -> FrameLog {
    let mut tally_of: BTreeMap<ValidatorIndex, Tally> = BTreeMap::new();
    for t in tallies {
        tally_of.entry(t.validator).and_modify(|s| s.add(t)).or_insert(*t);
    }
    let money_of: BTreeMap<ValidatorIndex, &ValidatorMoney> =
        inputs.consensus.iter().flat_map(|c| &c.validators).filter_map(|m| m.index.map(|i| (i, m))).collect();
    let mut validators: Vec<ValidatorLine> = inputs
        .registry
        .validators
        .iter()
        .map(|v| {
            let t = tally_of.get(&v.index);
            let mut nodes = v.nodes.clone();
            nodes.sort_unstable();
            ValidatorLine {
                index: v.index,
                nodes,
                duties: t.map_or(0, |t| t.duties),
                included: t.map_or(0, |t| t.included),
                timely: t.map_or(0, |t| t.timely),
                money: money_of.get(&v.index).map(|m| (*m).clone()),
            }
        })
        .collect();
    validators.sort_by_key(|v| v.index);
    validators.dedup_by_key(|v| v.index);
    let mut adjustments = inputs.adjustments.clone();
    adjustments.sort();
    let mut facts = inputs.facts.clone();
    facts.slashings.sort();
    facts.requested_exits.sort();
    facts.voluntary_exits.sort();
    facts.forced_exits.sort();
    FrameLog {
        number,
        frame,
        t: TComponents {
            consensus_rewards_wei: inputs.source.validator_rewards_wei,
            consensus_measured: inputs.consensus.is_some(),
            execution_fees_wei: inputs.source.execution_fees_wei,
        },
        ssv_price: inputs.ssv_price,
        chain: inputs.chain.clone(),
        facts,
        adjustments,
        validators,
        slashed: {
            let mut s = inputs.slashed.clone();
            s.sort_unstable();
            s.dedup();
            s
        },
        exits: {
            let mut e = inputs.exits.clone();
            e.sort_unstable();
            e.dedup_by_key(|c| c.validator);
            e
        },
    }
}

/// Canonical bytes of a frame log: pretty-printed JSON and a final newline.
pub fn log_bytes(log: &FrameLog) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(log).expect("a frame log always serializes");
    out.push(b'\n');
    out
}

/// The log's named sections ([`claystack_primitives::sections`]): what a member gossips beside
/// its signature so that members with different roots can see which input disagreed.
pub fn sections(log: &FrameLog) -> claystack_primitives::sections::Sections {
    use claystack_primitives::sections::scalar;
    let unsigned = |v: u128| match i128::try_from(v) {
        Ok(v) => scalar(v),
        // Beyond i128: the plain 32-byte value (shown as a hash, still compared exactly).
        Err(_) => {
            let mut out = [0u8; 32];
            out[16..].copy_from_slice(&v.to_be_bytes());
            out
        }
    };
    fn hash<T: Serialize>(part: &T) -> [u8; 32] {
        claystack_merkle::keccak256(&serde_json::to_vec(part).expect("frame log parts always serialize"))
    }
    let registry: Vec<(ValidatorIndex, &[NodeId])> = log.validators.iter().map(|v| (v.index, &v.nodes[..])).collect();
    let tallies: Vec<(ValidatorIndex, u32, u32, u32)> =
        log.validators.iter().map(|v| (v.index, v.duties, v.included, v.timely)).collect();
    let balances: Vec<(ValidatorIndex, &Option<ValidatorMoney>)> =
        log.validators.iter().map(|v| (v.index, &v.money)).collect();
    [
        scalar(log.t.consensus_rewards_wei),
        unsigned(log.t.execution_fees_wei),
        unsigned(log.ssv_price.agreed_wei_per_ssv),
        unsigned(log.ssv_price.observed_wei_per_ssv),
        hash(&registry),
        hash(&tallies),
        hash(&balances),
        hash(&log.facts),
        hash(&log.adjustments),
    ]
}
