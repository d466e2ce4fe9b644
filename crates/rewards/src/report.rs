//! The engine's output: per node, per operator, and totals, in canonical order.

use crate::inputs::{Carry, NodeId, OperatorCarry, OperatorId};
use crate::wei::{self, Address};
use claystack_primitives::{Epoch, ValidatorIndex};
use serde::{Deserialize, Serialize};

/// One frame's report. Operators are sorted by address, nodes by id, penalties
/// and adjustments by their kind then validator or reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardsReport {
    pub number: u64,
    pub frame: (Epoch, Epoch),
    pub totals: Totals,
    pub operators: Vec<OperatorReport>,
    /// keccak256 of the frame log (`frame-log.json`): why every input number is what it is.
    /// Absent for a report computed without one.
    #[serde(default, with = "crate::wei::hash32_opt", skip_serializing_if = "Option::is_none")]
    pub frame_log_hash: Option<[u8; 32]>,
}

/// Where every wei of the frame went.
///
/// Exact invariants (checked by `Report::check`):
/// - `t_wei = bases_wei + undistributed_wei`
/// - `paid_wei + undistributed_wei + retained_wei = t_wei + positive_adjustments_wei`
/// - `retained_wei + bond_penalties_wei = penalties_wei + negative_adjustments_wei`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    /// `T = floor(max(0, cl + el) * operator_share_bps / 10000)`.
    #[serde(with = "wei::unsigned")]
    pub t_wei: u128,
    /// `A = sum over nodes of F * N`.
    pub weighted_attestations: u128,
    #[serde(with = "wei::unsigned")]
    pub bases_wei: u128,
    #[serde(with = "wei::unsigned")]
    pub penalties_wei: u128,
    #[serde(with = "wei::unsigned")]
    pub positive_adjustments_wei: u128,
    #[serde(with = "wei::unsigned")]
    pub negative_adjustments_wei: u128,
    /// Sum of the operators' epoch amounts (claimable this frame).
    #[serde(with = "wei::unsigned")]
    pub paid_wei: u128,
    /// Penalties and negative adjustments taken out of this frame's rewards.
    #[serde(with = "wei::unsigned")]
    pub retained_wei: u128,
    /// Penalties larger than an operator's rewards, to be taken from bonds.
    #[serde(with = "wei::unsigned")]
    pub bond_penalties_wei: u128,
    /// `T` minus the bases: flooring dust, or all of `T` when nobody attested.
    #[serde(with = "wei::unsigned")]
    pub undistributed_wei: u128,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorReport {
    pub address: Address,
    /// `None` for an operator only present in the previous report (carried, so it can still claim).
    pub id: Option<OperatorId>,
    pub nodes: Vec<NodeReport>,
    /// Sum of its nodes' `R`.
    #[serde(with = "wei::signed")]
    pub rewards_wei: i128,
    /// `max(0, rewards)`: added to the claim.
    #[serde(with = "wei::unsigned")]
    pub epoch_amount_wei: u128,
    /// `max(0, -rewards)`: taken from the bond, never a negative claim.
    #[serde(with = "wei::unsigned")]
    pub bond_penalty_wei: u128,
    /// Penalties and negative adjustments of its nodes minus the bond penalty.
    #[serde(with = "wei::unsigned")]
    pub retained_wei: u128,
    /// Previous cumulative plus the epoch amount: the Merkle leaf's value.
    #[serde(with = "wei::unsigned")]
    pub cumulative_wei: u128,
    #[serde(with = "wei::unsigned")]
    pub cumulative_bond_penalty_wei: u128,
    pub score: ScoreReport,
    #[serde(with = "wei::unsigned")]
    pub bond_requirement_wei: u128,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeReport {
    pub id: NodeId,
    pub node_type: String,
    /// Validators of the registry the node runs.
    pub validators: u64,
    /// `E`: attestation duties of its validators.
    pub duties: u64,
    /// `N`: those included on chain.
    pub included: u64,
    pub timely: u64,
    /// `floor(N * 10000 / E)`; 10000 when `E = 0`.
    pub rate_bps: u32,
    /// `F * N`.
    pub weight: u128,
    /// `floor(T * F * N / A)`.
    #[serde(with = "wei::unsigned")]
    pub base_wei: u128,
    pub penalties: Vec<Penalty>,
    pub adjustments: Vec<AdjustmentLine>,
    /// `R = base - P + O`.
    #[serde(with = "wei::signed")]
    pub reward_wei: i128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PenaltyKind {
    Performance,
    Slashing,
    LateExit,
    ForcedExit,
    /// A requested exit not made by the end of its grace: the rest of its late charge's cap,
    /// taken from the bond (not netted against the node's reward, so not in `reward_wei`).
    NeverExit,
}

impl PenaltyKind {
    /// Whether the line is charged to the bond directly instead of netted into `R`.
    pub fn charged_to_bond(self) -> bool {
        self == PenaltyKind::NeverExit
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Penalty {
    pub kind: PenaltyKind,
    /// The validator it is for (`None` for performance).
    pub validator: Option<ValidatorIndex>,
    #[serde(with = "wei::unsigned")]
    pub amount_wei: u128,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentKind {
    SsvPrice,
    Explicit,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentLine {
    pub kind: AdjustmentKind,
    #[serde(with = "wei::signed")]
    pub amount_wei: i128,
    pub reason: String,
}

/// The operator's score and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreReport {
    pub previous_bps: u32,
    /// `floor(sum included * 10000 / sum duties)` over all its nodes; `None` without duties.
    pub effectiveness_bps: Option<u32>,
    pub frames_run: u64,
    /// `floor(min(frames_run, cap) * 10000 / cap)`.
    pub experience_bps: u32,
    /// Effectiveness and experience weighted; the previous score when it had no duties.
    pub frame_bps: u32,
    /// `floor((previous * smoothing + frame * (10000 - smoothing)) / 10000)`.
    pub smoothed_bps: u32,
    pub timely_exits: u64,
    pub late_exits: u64,
    pub slashings: u64,
    pub forced_exits: u64,
    /// `clamp(smoothed + bonuses - maluses, 0, 10000)`.
    pub score_bps: u32,
}

/// What the contract needs of one operator: its claim, the bond penalties to apply and the
/// bond it must keep. Cumulative amounts, so an operator that skips reports loses nothing and
/// the contract applies each wei once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClaimLeaf {
    pub operator: [u8; 20],
    pub cumulative_wei: u128,
    pub cumulative_bond_penalty_wei: u128,
    pub bond_requirement_wei: u128,
}

impl RewardsReport {
    /// One claim leaf per operator, sorted by address: the Merkle leaves.
    pub fn operator_leaves(&self) -> Vec<ClaimLeaf> {
        let mut leaves: Vec<_> = self
            .operators
            .iter()
            .map(|o| ClaimLeaf {
                operator: o.address.0,
                cumulative_wei: o.cumulative_wei,
                cumulative_bond_penalty_wei: o.cumulative_bond_penalty_wei,
                bond_requirement_wei: o.bond_requirement_wei,
            })
            .collect();
        leaves.sort();
        leaves
    }

    /// What the next report needs from this one.
    pub fn carry(&self) -> Carry {
        Carry {
            number: self.number,
            last_epoch: self.frame.1,
            operators: self
                .operators
                .iter()
                .map(|o| OperatorCarry {
                    address: o.address,
                    cumulative_wei: o.cumulative_wei,
                    cumulative_bond_penalty_wei: o.cumulative_bond_penalty_wei,
                    score_bps: o.score.score_bps,
                    frames_run: o.score.frames_run,
                })
                .collect(),
        }
    }

    /// Recomputes the totals from the operators and checks the wei invariants.
    /// The engine only returns reports that pass; verifiers can call it on any report.
    pub fn check(&self) -> Result<(), String> {
        let t = &self.totals;
        let ovf = || "overflow".to_string();
        let (mut bases, mut pens, mut pos, mut neg, mut paid, mut retained, mut bond) =
            (0u128, 0u128, 0u128, 0u128, 0u128, 0u128, 0u128);
        for o in &self.operators {
            let mut r = 0i128;
            let mut op_pen = 0u128;
            let mut to_bond = 0u128;
            for n in &o.nodes {
                bases = bases.checked_add(n.base_wei).ok_or_else(ovf)?;
                let mut rn = n.base_wei as i128;
                for p in &n.penalties {
                    pens = pens.checked_add(p.amount_wei).ok_or_else(ovf)?;
                    op_pen = op_pen.checked_add(p.amount_wei).ok_or_else(ovf)?;
                    if p.kind.charged_to_bond() {
                        to_bond = to_bond.checked_add(p.amount_wei).ok_or_else(ovf)?;
                    } else {
                        rn = rn.checked_sub(p.amount_wei as i128).ok_or_else(ovf)?;
                    }
                }
                for a in &n.adjustments {
                    if a.amount_wei >= 0 {
                        pos = pos.checked_add(a.amount_wei as u128).ok_or_else(ovf)?;
                    } else {
                        neg = neg.checked_add(a.amount_wei.unsigned_abs()).ok_or_else(ovf)?;
                        op_pen = op_pen.checked_add(a.amount_wei.unsigned_abs()).ok_or_else(ovf)?;
                    }
                    rn = rn.checked_add(a.amount_wei).ok_or_else(ovf)?;
                }
                if rn != n.reward_wei {
                    return Err(format!("node {}: R {} != base - P + O = {}", n.id, n.reward_wei, rn));
                }
                r = r.checked_add(rn).ok_or_else(ovf)?;
            }
            if r != o.rewards_wei
                || o.epoch_amount_wei != r.max(0) as u128
                || Some(o.bond_penalty_wei) != ((-r).max(0) as u128).checked_add(to_bond)
                || o.retained_wei.checked_add(o.bond_penalty_wei) != Some(op_pen)
            {
                return Err(format!("operator {}: amounts do not add up", o.address));
            }
            paid = paid.checked_add(o.epoch_amount_wei).ok_or_else(ovf)?;
            retained = retained.checked_add(o.retained_wei).ok_or_else(ovf)?;
            bond = bond.checked_add(o.bond_penalty_wei).ok_or_else(ovf)?;
        }
        let sums = (bases, pens, pos, neg, paid, retained, bond);
        let stated = (
            t.bases_wei,
            t.penalties_wei,
            t.positive_adjustments_wei,
            t.negative_adjustments_wei,
            t.paid_wei,
            t.retained_wei,
            t.bond_penalties_wei,
        );
        if sums != stated {
            return Err(format!("totals {stated:?} differ from the operators' sums {sums:?}"));
        }
        if t.bases_wei.checked_add(t.undistributed_wei) != Some(t.t_wei) {
            return Err("bases + undistributed != T".into());
        }
        let out = paid.checked_add(t.undistributed_wei).and_then(|x| x.checked_add(retained));
        if out != t.t_wei.checked_add(pos) {
            return Err("paid + undistributed + retained != T + positive adjustments".into());
        }
        if retained.checked_add(bond) != pens.checked_add(neg) {
            return Err("retained + bond penalties != penalties + negative adjustments".into());
        }
        Ok(())
    }
}
