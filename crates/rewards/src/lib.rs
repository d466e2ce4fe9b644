//! The rewards engine: from one frame's attestation tallies, registry and facts to
//! every node's reward `R = T*F*N/A - P + O`, every operator's claim, bond penalty,
//! performance score and bond requirement.
//!
//! Pure: plain data in, plain data out. No I/O, no clock, no randomness, and no
//! hash-map iteration reaches the output, so every honest oracle computes the same
//! report byte for byte. Arithmetic is integer only: wei in `u128` (signed `i128`
//! where a reward can go negative), ratios in basis points, every division floors,
//! every operation is checked and overflow is an error, never a wrap.
//!
//! The formulas, the rounding rule, the invariants and a worked example are in
//! `docs/rewards.md`.

mod bond;
mod economics;
mod engine;
mod error;
mod inputs;
mod report;
mod score;
pub mod wei;

pub use bond::bond_requirement;
pub use claystack_accounting::Tally;
pub use economics::{DiscountBand, Economics, ExitPenalties, NodeType, PenaltyBand, ScoreParams, SlashingPenalty, BPS};
pub use engine::{compute_report, operator_rewards};
pub use error::RewardsError;
pub use inputs::{
    Adjustment, Carry, ExitEvent, Facts, FrameInputs, Node, NodeId, Operator, OperatorCarry, OperatorId, Registry,
    RequestedExit, RewardsSource, Slashing, SsvPrice, Validator,
};
pub use report::{
    AdjustmentKind, AdjustmentLine, ClaimLeaf, NodeReport, OperatorReport, Penalty, PenaltyKind, RewardsReport,
    ScoreReport, Totals,
};
pub use score::{score, ScoreEvents};
pub use wei::Address;
