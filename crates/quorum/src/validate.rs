//! The report window and the reasons a gossip message is turned away (the collector's
//! `Reject` action, which the p2p layer turns into its verdict).
//!
//! There is no separate check before forwarding: the p2p layer hands every decoded message
//! to the collector and forwards it once the collector holds it verified
//! ([`crate::Collector::standing`]), so each signature is verified once, in the collector's
//! batch. A message outside the report window is *ignored*, not rejected: an honest member
//! that lags or leads by a few reports sends them, and gossipsub should drop them without
//! penalising the peer ([`RejectReason::penalises`]).

use crate::bls::BlsError;
use crate::message::DecodeError;
use claystack_primitives::{ReportId, ReportKind};
use thiserror::Error;

/// Which report numbers are current: per kind, from `current - behind` to `current + ahead`
/// (and never 0). `current` is the highest number this node has signed or seen settled, or
/// what the driver restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    current: [u64; 2],
    behind: u64,
    ahead: u64,
}

impl Window {
    /// `current` is indexed by [`ReportKind::byte`].
    pub fn new(current: [u64; 2], behind: u64, ahead: u64) -> Window {
        Window { current, behind, ahead }
    }

    pub fn current(&self, kind: ReportKind) -> u64 {
        self.current[kind.byte() as usize]
    }

    /// The lowest and highest accepted number of `kind`.
    pub fn bounds(&self, kind: ReportKind) -> (u64, u64) {
        let c = self.current(kind);
        (c.saturating_sub(self.behind).max(1), c.saturating_add(self.ahead))
    }

    pub fn contains(&self, id: ReportId) -> bool {
        let (low, high) = self.bounds(id.kind);
        (low..=high).contains(&id.number)
    }

    /// Moves `current` of `id.kind` up to `id.number` (never down).
    pub(crate) fn advance(&mut self, id: ReportId) {
        let c = &mut self.current[id.kind.byte() as usize];
        *c = (*c).max(id.number);
    }

    pub(crate) fn check(&self, id: ReportId) -> Result<(), RejectReason> {
        if self.contains(id) {
            return Ok(());
        }
        let (low, high) = self.bounds(id.kind);
        Err(RejectReason::OutOfWindow { id, low, high })
    }
}

/// Why a message is not taken; `Display` is one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RejectReason {
    /// The bytes are not a signature message.
    #[error(transparent)]
    Malformed(DecodeError),
    /// The message names another signer than the member it came from.
    #[error("message names signer {signer} but came from member {claimed}")]
    SignerMismatch { claimed: u16, signer: u16 },
    /// The signer index names no committee member.
    #[error("member {0} is not in the committee")]
    UnknownMember(u16),
    /// The report is too old or too far ahead to be collected.
    #[error("{id} is outside the window {low}..={high}")]
    OutOfWindow { id: ReportId, low: u64, high: u64 },
    /// The signature bytes are not a valid G2 point.
    #[error(transparent)]
    BadSignature(BlsError),
    /// A valid signature, but not by this member of this report.
    #[error("signature does not verify for the member and report")]
    InvalidSignature,
    /// The member already signed two roots of this report; nothing more of it is checked.
    #[error("member {member} already equivocated on this report; its further signatures are not checked")]
    Equivocator { member: u16 },
}

impl RejectReason {
    /// False for what honest members send too (a report outside this node's window) and
    /// for what an honest member may have relayed before it knew better (an equivocator's
    /// signature): dropped without penalising the sender. Everything else no honest
    /// member sends.
    pub fn penalises(&self) -> bool {
        !matches!(self, RejectReason::OutOfWindow { .. } | RejectReason::Equivocator { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_bounds() {
        let w = Window::new([10, 0], 2, 3);
        assert_eq!(w.bounds(ReportKind::Rewards), (8, 13));
        assert_eq!(w.bounds(ReportKind::Exits), (1, 3));
        assert!(!w.contains(ReportId::new(ReportKind::Exits, 0)));
    }

    #[test]
    fn only_out_of_window_goes_unpunished() {
        let id = ReportId::new(ReportKind::Rewards, 9);
        assert!(!RejectReason::OutOfWindow { id, low: 1, high: 3 }.penalises());
        assert!(RejectReason::InvalidSignature.penalises());
        assert!(RejectReason::UnknownMember(7).penalises());
        assert!(RejectReason::SignerMismatch { claimed: 1, signer: 2 }.penalises());
    }
}
