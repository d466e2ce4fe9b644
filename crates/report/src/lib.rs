//! A rewards report end to end: frame inputs + tallies -> `Report` + Merkle tree.
//!
//! Pure glue between `claystack-rewards` (the money) and `claystack-merkle` (the
//! tree operators claim against). It reads nothing and writes nothing; the
//! binary fetches tallies from the store and writes the files. What it produces
//! is canonical: the same inputs give the same bytes on any machine.

mod log;
mod measure;
mod onchain;

pub use log::{
    frame_log, log_bytes, sections, AskedExit, ExitCompliance, ExitOutcome, FrameLog, TComponents, ValidatorLine,
};
pub use measure::{consensus_rewards, ConsensusRewards, ValidatorMoney, ValidatorValue};
pub use onchain::{execution_fees_wei, observed_wei_per_ssv, ChainReadings, FeedRound, PriceProblem};

use claystack_accounting::Tally;
use claystack_merkle::{StandardMerkleTree, Value};
use claystack_primitives::Epoch;
use claystack_rewards::{
    compute_report, Adjustment, Carry, ClaimLeaf, Economics, Facts, FrameInputs, Registry, RewardsReport,
    RewardsSource, SsvPrice,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use thiserror::Error;

/// Everything a frame needs besides the tallies, which come from the node's own
/// accounting. A node measures all of it from the chains at the frame's reference points
/// (`claystack-frame-close`); `report compute` and `report verify` read it from a file
/// (`inputs.json`, which every closed report exports).
///
/// Why this is not [`FrameInputs`]: the engine's input also holds the frame's position
/// (report number and beacon epochs, which every node derives from genesis, never from
/// a file) and the tallies (one entry per tracked validator, tens of thousands on
/// mainnet, which only the node's own accounting supplies). This type is exactly what
/// is gathered from outside the node and exported as `inputs.json`, so anyone holding
/// tallies can recompute the report; [`build`] joins the two.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalInputs {
    #[serde(default)]
    pub registry: Registry,
    #[serde(default)]
    pub facts: Facts,
    pub source: RewardsSource,
    pub ssv_price: SsvPrice,
    #[serde(default)]
    pub adjustments: Vec<Adjustment>,
    #[serde(default)]
    pub previous: Option<Carry>,
    /// Per validator money over the frame, when the node measured it from the beacon chain
    /// (`source.validator_rewards_wei` is then its total); it goes into the frame log.
    #[serde(default)]
    pub consensus: Option<ConsensusRewards>,
    /// What the node read from the protocol's contracts (vault, governance, price feed), when
    /// it measured the execution fees and prices; it goes into the frame log.
    #[serde(default)]
    pub chain: Option<ChainReadings>,
    /// Protocol validators the beacon chain shows slashed at the frame's last state, final
    /// or not, ascending (a slashing is charged only once final: `facts.slashings`); it goes
    /// into the frame log, so operators hear of a slashing at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slashed: Vec<claystack_primitives::ValidatorIndex>,
    /// Each exit's compliance at the frame's last state, ascending by validator; it goes into
    /// the frame log (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exits: Vec<ExitCompliance>,
    /// The bond each registry operator held at the frame's reference block, ascending by
    /// address (absent when not read, e.g. inputs from a file). Not an input of the
    /// computation and not in the frame log, so the report and its hash do not depend on it:
    /// the node stores it beside the report for the API and the `bond_below_requirement`
    /// notification.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bonds: Vec<BondHeld>,
}

/// An operator's bond at one block, as `OperatorRegistry` holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BondHeld {
    pub operator: claystack_rewards::Address,
    /// csETH base units (`bondOf`).
    #[serde(with = "claystack_rewards::wei::unsigned")]
    pub cs_eth: u128,
    /// Its ETH value in wei at csETH's rate at the block (`bondValueOf`, `csETH.convertToEth`),
    /// what the contract compares with the requirement.
    #[serde(with = "claystack_rewards::wei::unsigned")]
    pub wei: u128,
}

impl BondHeld {
    /// Canonical bytes of a bond list as the store keeps it: JSON sorted by operator.
    pub fn list_bytes(bonds: &[BondHeld]) -> Vec<u8> {
        let mut sorted = bonds.to_vec();
        sorted.sort();
        sorted.dedup_by_key(|b| b.operator);
        serde_json::to_vec(&sorted).expect("a bond list always serializes")
    }
}

#[derive(Debug, Error)]
pub enum ReportError {
    /// The rewards engine refused the frame inputs.
    #[error(transparent)]
    Rewards(#[from] claystack_rewards::RewardsError),
    /// The claim tree cannot be built. The cause is printed in the message, not kept as a
    /// source, so `anyhow`'s `{:#}` prints it once.
    #[error("merkle tree: {0}")]
    Merkle(claystack_merkle::MerkleError),
    /// No operator, hence no leaf: the tree would be empty.
    #[error("report has no operator to put in the tree — is the registry empty?")]
    NoOperators,
    /// Report number 0 was asked for.
    #[error("report numbers start at 1; there is no report 0")]
    NumberZero,
}

impl From<claystack_merkle::MerkleError> for ReportError {
    fn from(error: claystack_merkle::MerkleError) -> Self {
        ReportError::Merkle(error)
    }
}

/// Beacon epochs of report `number`'s frame, counted from 1: it starts at
/// `first_epoch + (number - 1) * frame_epochs` and is `frame_epochs` long.
pub fn frame_of(economics: &Economics, first_epoch: Epoch, number: u64) -> Result<(Epoch, Epoch), ReportError> {
    if number == 0 {
        return Err(ReportError::NumberZero);
    }
    let start = first_epoch + (number - 1) * economics.frame_epochs;
    Ok((start, start + economics.frame_epochs - 1))
}

/// The report whose frame holds beacon epoch `epoch`, if the epoch is not before the first frame.
pub fn number_of(economics: &Economics, first_epoch: Epoch, epoch: Epoch) -> Option<u64> {
    epoch.checked_sub(first_epoch).map(|d| d / economics.frame_epochs + 1)
}

/// A computed report with its claim tree and frame log.
#[derive(Debug, Clone)]
pub struct Built {
    pub report: RewardsReport,
    pub tree: StandardMerkleTree,
    /// [`log_bytes`] of the frame log; its keccak256 is the report's `frame_log_hash`.
    pub log: Vec<u8>,
}

/// Computes report `number` over `frame` from the file's inputs and the accounted
/// tallies, with its frame log. Tallies of validators outside the registry are left out (a
/// node may track more validators than the protocol registered).
pub fn build(
    economics: &Economics,
    file: ExternalInputs,
    number: u64,
    frame: (Epoch, Epoch),
    tallies: Vec<Tally>,
) -> Result<Built, ReportError> {
    let registered: BTreeSet<u64> = file.registry.validators.iter().map(|v| v.index).collect();
    let tallies: Vec<Tally> = tallies.into_iter().filter(|t| registered.contains(&t.validator)).collect();
    let log = log_bytes(&frame_log(number, frame, &file, &tallies));
    let inputs = FrameInputs {
        number,
        frame,
        registry: file.registry,
        tallies,
        facts: file.facts,
        source: file.source,
        ssv_price: file.ssv_price,
        adjustments: file.adjustments,
        previous: file.previous,
        frame_log_hash: Some(claystack_merkle::keccak256(&log)),
    };
    let report = compute_report(economics, &inputs)?;
    let tree = tree_of(&report)?;
    Ok(Built { report, tree, log })
}

/// Leaf encoding of the rewards tree, in the contract's order: operator, cumulative rewards,
/// cumulative bond penalty and bond requirement, all in wei (`NodeManager.claim` takes the
/// same four values).
pub const REWARDS_LEAF_ENCODING: [&str; 4] = ["address", "uint256", "uint256", "uint256"];

/// The leaf values of one operator, in [`REWARDS_LEAF_ENCODING`] order.
pub fn leaf_values(leaf: &ClaimLeaf) -> Vec<Value> {
    vec![
        Value::Address(leaf.operator),
        Value::uint(leaf.cumulative_wei),
        Value::uint(leaf.cumulative_bond_penalty_wei),
        Value::uint(leaf.bond_requirement_wei),
    ]
}

/// The claim tree: one [`REWARDS_LEAF_ENCODING`] leaf per operator.
pub fn tree_of(report: &RewardsReport) -> Result<StandardMerkleTree, ReportError> {
    let leaves: Vec<Vec<Value>> = report.operator_leaves().iter().map(leaf_values).collect();
    if leaves.is_empty() {
        return Err(ReportError::NoOperators);
    }
    Ok(StandardMerkleTree::of(leaves, &REWARDS_LEAF_ENCODING)?)
}

/// The report hash the committee signs besides the root: keccak256 of [`report_bytes`].
pub fn report_hash(report_bytes: &[u8]) -> [u8; 32] {
    claystack_merkle::keccak256(report_bytes)
}

/// Canonical bytes of a report: pretty-printed JSON of the typed struct (field order is
/// the type's, every list sorted by the engine) and a final newline.
pub fn report_bytes(report: &RewardsReport) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(report).expect("a report always serializes");
    out.push(b'\n');
    out
}
