//! The money rules of the protocol: every number the engine uses comes from here.
//!
//! `Economics` is the part of genesis that fixes how a frame's rewards are split,
//! penalised, scored and bonded. It is a separate struct so the full genesis file
//! (committee keys, contract addresses) can embed it unchanged.

use crate::error::RewardsError;
use crate::wei;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Basis points: 10000 = 100%.
pub const BPS: u32 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Economics {
    /// Beacon epochs in one rewards frame (1575 = 7 days on mainnet).
    pub frame_epochs: u64,
    /// Share of the protocol validators' rewards that goes to node operators.
    pub operator_share_bps: u32,
    /// Node types (`ssv`, `obol`, `direct`, ...), each name once.
    pub node_types: Vec<NodeType>,
    /// Performance penalty bands; the band with the highest `min_rate_bps` not above a
    /// node's rate applies. A rate below every band pays no performance penalty.
    pub performance_bands: Vec<PenaltyBand>,
    pub slashing: SlashingPenalty,
    pub exits: ExitPenalties,
    pub score: ScoreParams,
    /// Discount on the bond of every node after the first of a type, by score; the
    /// band with the highest `min_score_bps` not above the score applies.
    pub bond_discount_bands: Vec<DiscountBand>,
    /// Most explicit adjustments may move in one report: the sum of their absolute amounts
    /// (governance enters them on chain, where the same cap holds).
    #[serde(with = "wei::unsigned")]
    pub adjustment_cap_wei: u128,
}

/// One kind of node and what it earns and needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeType {
    pub name: String,
    /// `F`: weight of one included attestation of this node type, in basis points.
    pub factor_bps: u32,
    /// Nodes that run one validator together (SSV 5, Obol e.g. 4, direct 1).
    pub cluster_size: u32,
    /// Share of the node's base paid in SSV tokens at the pre-agreed price (0 for
    /// node types not paid in SSV). The price difference is settled in `O`.
    pub ssv_portion_bps: u32,
    /// Bond for an operator's first node of this type (SSV: 1 ETH).
    #[serde(with = "wei::unsigned")]
    pub first_node_bond_wei: u128,
    /// Bond for each further node of this type, before the score discount.
    #[serde(with = "wei::unsigned")]
    pub per_node_bond_wei: u128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PenaltyBand {
    pub min_rate_bps: u32,
    /// Part of the node's base forfeited.
    pub penalty_bps: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscountBand {
    pub min_score_bps: u32,
    pub discount_bps: u32,
}

/// Charged to every node of a slashed validator's cluster, once per slashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlashingPenalty {
    #[serde(with = "wei::unsigned")]
    pub fixed_wei: u128,
    /// Part of the node's base, on top of `fixed_wei`.
    pub base_bps: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitPenalties {
    /// Per epoch a requested exit is late, charged to every node of the validator's cluster.
    #[serde(with = "wei::unsigned")]
    pub late_per_epoch_wei: u128,
    /// Most a single requested exit can cost one node, over all frames together.
    #[serde(with = "wei::unsigned")]
    pub late_cap_wei: u128,
    /// Per forced exit, charged to every node of the validator's cluster.
    #[serde(with = "wei::unsigned")]
    pub forced_fixed_wei: u128,
    pub forced_base_bps: u32,
}

/// Parameters of the account-level performance score (see docs/rewards.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreParams {
    /// Score of an operator without history.
    pub initial_bps: u32,
    /// Weight of attestation effectiveness in the frame score; experience gets the rest.
    pub effectiveness_weight_bps: u32,
    /// Frames with duties after which experience is full.
    pub experience_cap_frames: u64,
    /// Weight of the previous score in the smoothed score.
    pub smoothing_bps: u32,
    pub timely_exit_bonus_bps: u32,
    pub late_exit_malus_bps: u32,
    pub slashing_malus_bps: u32,
    pub forced_exit_malus_bps: u32,
}

fn invalid(field: &str, reason: impl Into<String>) -> RewardsError {
    RewardsError::InvalidEconomics { field: field.to_string(), reason: reason.into() }
}

fn check_bps(field: &str, v: u32) -> Result<(), RewardsError> {
    if v > BPS {
        return Err(invalid(field, format!("{v} is above 10000 bps")));
    }
    Ok(())
}

impl Economics {
    /// Checks every rule the engine relies on; `compute_report` calls it first.
    pub fn validate(&self) -> Result<(), RewardsError> {
        if self.frame_epochs == 0 {
            return Err(invalid("frame_epochs", "must be at least 1"));
        }
        check_bps("operator_share_bps", self.operator_share_bps)?;
        let mut names = BTreeSet::new();
        for t in &self.node_types {
            if !names.insert(t.name.as_str()) {
                return Err(invalid("node_types", format!("type `{}` is listed twice", t.name)));
            }
            if t.cluster_size == 0 {
                return Err(invalid("node_types", format!("type `{}` has cluster_size 0", t.name)));
            }
            check_bps(&format!("node_types.{}.ssv_portion_bps", t.name), t.ssv_portion_bps)?;
        }
        let mut rates = BTreeSet::new();
        for b in &self.performance_bands {
            check_bps("performance_bands.min_rate_bps", b.min_rate_bps)?;
            check_bps("performance_bands.penalty_bps", b.penalty_bps)?;
            if !rates.insert(b.min_rate_bps) {
                return Err(invalid("performance_bands", format!("min_rate_bps {} is listed twice", b.min_rate_bps)));
            }
        }
        let mut scores = BTreeSet::new();
        for b in &self.bond_discount_bands {
            check_bps("bond_discount_bands.min_score_bps", b.min_score_bps)?;
            check_bps("bond_discount_bands.discount_bps", b.discount_bps)?;
            if !scores.insert(b.min_score_bps) {
                return Err(invalid(
                    "bond_discount_bands",
                    format!("min_score_bps {} is listed twice", b.min_score_bps),
                ));
            }
        }
        check_bps("slashing.base_bps", self.slashing.base_bps)?;
        check_bps("exits.forced_base_bps", self.exits.forced_base_bps)?;
        let s = &self.score;
        check_bps("score.initial_bps", s.initial_bps)?;
        check_bps("score.effectiveness_weight_bps", s.effectiveness_weight_bps)?;
        check_bps("score.smoothing_bps", s.smoothing_bps)?;
        check_bps("score.timely_exit_bonus_bps", s.timely_exit_bonus_bps)?;
        check_bps("score.late_exit_malus_bps", s.late_exit_malus_bps)?;
        check_bps("score.slashing_malus_bps", s.slashing_malus_bps)?;
        check_bps("score.forced_exit_malus_bps", s.forced_exit_malus_bps)?;
        if s.experience_cap_frames == 0 {
            return Err(invalid("score.experience_cap_frames", "must be at least 1"));
        }
        Ok(())
    }

    pub fn node_type(&self, name: &str) -> Option<&NodeType> {
        self.node_types.iter().find(|t| t.name == name)
    }

    /// The penalty band for `rate_bps`, if any.
    pub fn performance_band(&self, rate_bps: u32) -> Option<PenaltyBand> {
        self.performance_bands.iter().filter(|b| b.min_rate_bps <= rate_bps).max_by_key(|b| b.min_rate_bps).copied()
    }

    /// Bond discount for `score_bps` (0 when no band applies).
    pub fn bond_discount_bps(&self, score_bps: u32) -> u32 {
        self.bond_discount_bands
            .iter()
            .filter(|b| b.min_score_bps <= score_bps)
            .max_by_key(|b| b.min_score_bps)
            .map_or(0, |b| b.discount_bps)
    }

    /// A mainnet-like default: the numbers docs/rewards.md starts from.
    pub fn mainnet_default() -> Self {
        const ETH: u128 = 1_000_000_000_000_000_000;
        Economics {
            frame_epochs: 1575,
            operator_share_bps: 1000,
            node_types: vec![
                NodeType {
                    name: "ssv".into(),
                    factor_bps: 2000,
                    cluster_size: 5,
                    ssv_portion_bps: 5000,
                    first_node_bond_wei: ETH,
                    per_node_bond_wei: ETH,
                },
                NodeType {
                    name: "obol".into(),
                    factor_bps: 2500,
                    cluster_size: 4,
                    ssv_portion_bps: 0,
                    first_node_bond_wei: 2 * ETH,
                    per_node_bond_wei: 2 * ETH,
                },
                NodeType {
                    name: "direct".into(),
                    factor_bps: 10_000,
                    cluster_size: 1,
                    ssv_portion_bps: 0,
                    first_node_bond_wei: 4 * ETH,
                    per_node_bond_wei: 4 * ETH,
                },
            ],
            performance_bands: vec![
                PenaltyBand { min_rate_bps: 9500, penalty_bps: 0 },
                PenaltyBand { min_rate_bps: 9000, penalty_bps: 5000 },
                PenaltyBand { min_rate_bps: 0, penalty_bps: 10_000 },
            ],
            slashing: SlashingPenalty { fixed_wei: ETH / 10, base_bps: 10_000 },
            exits: ExitPenalties {
                late_per_epoch_wei: ETH / 1000,
                late_cap_wei: ETH / 2,
                forced_fixed_wei: ETH / 20,
                forced_base_bps: 0,
            },
            score: ScoreParams {
                initial_bps: 5000,
                effectiveness_weight_bps: 8000,
                experience_cap_frames: 52,
                smoothing_bps: 8000,
                timely_exit_bonus_bps: 100,
                late_exit_malus_bps: 500,
                slashing_malus_bps: 2000,
                forced_exit_malus_bps: 1000,
            },
            bond_discount_bands: vec![
                DiscountBand { min_score_bps: 0, discount_bps: 0 },
                DiscountBand { min_score_bps: 7000, discount_bps: 5000 },
                DiscountBand { min_score_bps: 9000, discount_bps: 10_000 },
            ],
            adjustment_cap_wei: 10 * ETH,
        }
    }
}
