//! What the p2p layer checks before it forwards a gossip message, and the reasons a
//! message is turned away (shared with the collector's `Reject` action).
//!
//! [`validate`] runs the cheap checks first (size, decoding, member, window) and the one
//! pairing check last, so junk costs nothing. A message outside the report window is
//! *ignored*, not rejected: an honest member that lags or leads by a few reports sends
//! them, and gossipsub should drop them without penalising the peer.

use crate::bls::{self, BlsError};
use crate::message::{DecodeError, SignatureMessage, MAX_MESSAGE_SIZE};
use crate::roster::Roster;
use crate::signing::{ReportId, ReportKind};
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
    #[error("{0}")]
    Malformed(DecodeError),
    #[error("message names signer {signer} but came from member {claimed}")]
    SignerMismatch { claimed: u16, signer: u16 },
    #[error("member {0} is not in the committee")]
    UnknownMember(u16),
    #[error("{id} is outside the window {low}..={high}")]
    OutOfWindow { id: ReportId, low: u64, high: u64 },
    #[error("{0}")]
    BadSignature(BlsError),
    #[error("signature does not verify for the member and report")]
    InvalidSignature,
}

/// The p2p layer's verdict on one gossip message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Forward it and hand it to the collector.
    Accept(SignatureMessage),
    /// Drop it and penalise the sender: no honest member sends this.
    Reject(RejectReason),
    /// Drop it without penalty (outside the report window).
    Ignore(RejectReason),
}

/// Checks one gossip message from member `claimed` (the member whose peer id authored it).
pub fn validate(roster: &Roster, window: &Window, bytes: &[u8], claimed: u16) -> Verdict {
    let message = match check(roster, window, bytes, claimed) {
        Ok(m) => m,
        Err(reason @ RejectReason::OutOfWindow { .. }) => return Verdict::Ignore(reason),
        Err(reason) => return Verdict::Reject(reason),
    };
    Verdict::Accept(message)
}

fn check(roster: &Roster, window: &Window, bytes: &[u8], claimed: u16) -> Result<SignatureMessage, RejectReason> {
    if bytes.len() > MAX_MESSAGE_SIZE {
        return Err(RejectReason::Malformed(DecodeError::Length(bytes.len())));
    }
    let m = SignatureMessage::decode(bytes).map_err(RejectReason::Malformed)?;
    if m.signer != claimed {
        return Err(RejectReason::SignerMismatch { claimed, signer: m.signer });
    }
    let key = roster.key(m.signer).ok_or(RejectReason::UnknownMember(m.signer))?;
    window.check(m.id())?;
    let sig = bls::parse_signature(&m.signature).map_err(RejectReason::BadSignature)?;
    let root = roster.signing_root(m.id(), &m.merkle_root, &m.report_hash);
    if !bls::verify(key, root.as_bytes(), &sig) {
        return Err(RejectReason::InvalidSignature);
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bls::{SecretKeySigner, Signer};
    use crate::signing::SigningDomain;

    fn setup() -> (Roster, Vec<SecretKeySigner>) {
        let signers: Vec<SecretKeySigner> = (1..=4).map(|i| SecretKeySigner::from_bytes(&[i; 32]).unwrap()).collect();
        let keys: Vec<[u8; 48]> = signers.iter().map(|s| s.public_key()).collect();
        (Roster::new(SigningDomain { chain_id: 5, node_manager: [9; 20] }, 3, &keys).unwrap(), signers)
    }

    fn signed(roster: &Roster, s: &SecretKeySigner, signer: u16, number: u64) -> SignatureMessage {
        let id = ReportId::new(ReportKind::Rewards, number);
        let root = roster.signing_root(id, &[1; 32], &[2; 32]);
        SignatureMessage {
            kind: id.kind,
            number,
            merkle_root: [1; 32],
            report_hash: [2; 32],
            signer,
            signature: s.sign(root.as_bytes()),
        }
    }

    #[test]
    fn window_bounds() {
        let w = Window::new([10, 0], 2, 3);
        assert_eq!(w.bounds(ReportKind::Rewards), (8, 13));
        assert_eq!(w.bounds(ReportKind::Exits), (1, 3));
        assert!(!w.contains(ReportId::new(ReportKind::Exits, 0)));
    }

    #[test]
    fn verdicts() {
        let (roster, signers) = setup();
        let w = Window::new([1, 1], 2, 2);
        let good = signed(&roster, &signers[1], 1, 2);
        assert_eq!(validate(&roster, &w, &good.encode(), 1), Verdict::Accept(good));
        assert_eq!(
            validate(&roster, &w, &good.encode(), 2),
            Verdict::Reject(RejectReason::SignerMismatch { claimed: 2, signer: 1 })
        );
        assert_eq!(
            validate(&roster, &w, &[0u8; 500], 1),
            Verdict::Reject(RejectReason::Malformed(DecodeError::Length(500)))
        );
        let forged = signed(&roster, &signers[0], 1, 2);
        assert_eq!(validate(&roster, &w, &forged.encode(), 1), Verdict::Reject(RejectReason::InvalidSignature));
        let stranger = signed(&roster, &signers[0], 7, 2);
        assert_eq!(validate(&roster, &w, &stranger.encode(), 7), Verdict::Reject(RejectReason::UnknownMember(7)));
        let far = signed(&roster, &signers[1], 1, 9);
        assert!(matches!(validate(&roster, &w, &far.encode(), 1), Verdict::Ignore(RejectReason::OutOfWindow { .. })));
        let mut garbage = good;
        garbage.signature = [0xab; 96];
        assert!(matches!(validate(&roster, &w, &garbage.encode(), 1), Verdict::Reject(RejectReason::BadSignature(_))));
    }
}
