//! One notification: what happened, to whom, since when, and its stable id.

use claystack_primitives::{Epoch, ValidatorIndex};
use claystack_rewards::{Address, NodeId};
use serde::Serialize;

/// What a notification is about. The names are the API's `kind` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A validator had attestation duties and none included for several epochs in a row.
    ValidatorOffline,
    /// In the running frame, a node's rate is in a penalized performance band.
    PerformanceBelowBand,
    /// A validator's slashing was charged in a report.
    Slashing,
    /// A report charged a node a penalty.
    PenaltyApplied,
    /// The latest report lets an operator claim (cumulative amount and proof).
    RewardsClaimable,
    /// An operator's bond is below the latest report's requirement.
    BondBelowRequirement,
    /// The NodeManager accepted a report.
    ReportAccepted,
    /// An accepted exits report asks a validator to exit by a deadline.
    ExitRequested,
    /// An accepted exits report gives an operator's voluntary exit its slot.
    ExitSlotAssigned,
    /// An exit asked for (requested, or voluntary with a slot) is past its exit-by epoch and
    /// the validator has not exited.
    ExitOverdue,
    /// An exit asked for happened: the beacon chain's exit epoch is reached.
    ExitConfirmed,
}

impl Kind {
    /// The name in the API and in the id's preimage.
    pub fn name(self) -> &'static str {
        match self {
            Kind::ValidatorOffline => "validator_offline",
            Kind::PerformanceBelowBand => "performance_below_band",
            Kind::Slashing => "slashing",
            Kind::PenaltyApplied => "penalty_applied",
            Kind::RewardsClaimable => "rewards_claimable",
            Kind::BondBelowRequirement => "bond_below_requirement",
            Kind::ReportAccepted => "report_accepted",
            Kind::ExitRequested => "exit_requested",
            Kind::ExitSlotAssigned => "exit_slot_assigned",
            Kind::ExitOverdue => "exit_overdue",
            Kind::ExitConfirmed => "exit_confirmed",
        }
    }

    pub const ALL: [Kind; 11] = [
        Kind::ValidatorOffline,
        Kind::PerformanceBelowBand,
        Kind::Slashing,
        Kind::PenaltyApplied,
        Kind::RewardsClaimable,
        Kind::BondBelowRequirement,
        Kind::ReportAccepted,
        Kind::ExitRequested,
        Kind::ExitSlotAssigned,
        Kind::ExitOverdue,
        Kind::ExitConfirmed,
    ];

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// A point on the chain's own clock: a beacon epoch, a report number, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Point {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<Epoch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<u64>,
}

impl Point {
    pub fn epoch(epoch: Epoch) -> Point {
        Point { epoch: Some(epoch), report: None }
    }

    pub fn report(report: u64) -> Point {
        Point { epoch: None, report: Some(report) }
    }
}

/// One notification, for one operator's node (or, for a report, for everyone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// `0x` + keccak256 of the kind, the subject and the raising event: the same data gives
    /// the same id on every node, and a restart or a second look gives it again.
    pub id: String,
    pub kind: Kind,
    pub severity: Severity,
    /// The operator concerned; `None` for a notification about a report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validator: Option<ValidatorIndex>,
    pub raised_at: Point,
    /// When the condition ended; `None` while it holds.
    pub resolved_at: Option<Point>,
    /// One line for a person.
    pub message: String,
    /// The amount it is about in wei (a penalty, a projected penalty, a claim).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_wei: Option<String>,
    /// For a claim: the Merkle proof of the operator's leaf, `0x` hex, leaf to root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<Vec<String>>,
}

/// A part of an id's preimage.
#[derive(Clone, Copy)]
pub(crate) enum Part {
    U64(u64),
    Address(Address),
    Text(&'static str),
}

/// The stable id: keccak256 over the kind's name and each part, each part tagged and of a
/// fixed length (text is length-prefixed), so two different subjects never share a preimage.
pub(crate) fn id(kind: Kind, parts: &[Part]) -> String {
    let mut pre = Vec::with_capacity(64);
    let name = kind.name().as_bytes();
    pre.push(name.len() as u8);
    pre.extend_from_slice(name);
    for p in parts {
        match p {
            Part::U64(v) => {
                pre.push(1);
                pre.extend_from_slice(&v.to_be_bytes());
            }
            Part::Address(a) => {
                pre.push(2);
                pre.extend_from_slice(&a.0);
            }
            Part::Text(t) => {
                pre.push(3);
                pre.push(t.len() as u8);
                pre.extend_from_slice(t.as_bytes());
            }
        }
    }
    claystack_primitives::hex::encode(&claystack_merkle::keccak256(&pre))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ_by_kind_subject_and_event_and_repeat_for_the_same_data() {
        let a = id(Kind::ValidatorOffline, &[Part::U64(1), Part::U64(7)]);
        assert_eq!(a, id(Kind::ValidatorOffline, &[Part::U64(1), Part::U64(7)]));
        assert_ne!(a, id(Kind::Slashing, &[Part::U64(1), Part::U64(7)]));
        assert_ne!(a, id(Kind::ValidatorOffline, &[Part::U64(2), Part::U64(7)]));
        assert_ne!(a, id(Kind::ValidatorOffline, &[Part::U64(1), Part::U64(8)]));
        assert!(a.starts_with("0x") && a.len() == 66, "{a}");
    }

    #[test]
    fn kinds_parse_back_from_their_names() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.name()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        }
        assert_eq!(Kind::parse("nope"), None);
    }
}
