//! Section digests: what each member says its report's inputs were, so that a member whose
//! root differs from a peer's logs which input differs (`claystack_quorum::SectionDigest`).
//! Diagnostics only: nothing here decides a quorum or a submission.

use claystack_primitives::sections::differing;
use claystack_primitives::ReportId;
use claystack_quorum::{bls, Roster, SectionDigest};
use std::collections::{BTreeMap, BTreeSet};

/// Reports whose digests are kept (newest first); older ones are dropped.
const KEPT_REPORTS: usize = 8;

/// Own and peers' digests of the last few reports.
#[derive(Default)]
pub(crate) struct SectionBook {
    own: BTreeMap<ReportId, SectionDigest>,
    peers: BTreeMap<ReportId, BTreeMap<u16, SectionDigest>>,
    /// (report, member) pairs already logged as different: one line each.
    told: BTreeSet<(ReportId, u16)>,
}

/// One peer whose root differs from ours, and the sections that differ.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Disagreement {
    pub id: ReportId,
    pub member: u16,
    pub ours: [u8; 32],
    pub theirs: [u8; 32],
    pub differing: Vec<String>,
}

/// What to do with a peer's digest.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PeerDigest {
    /// Not a member, or a signature that does not verify: the peer that forwarded it is at fault.
    Reject(String),
    /// A copy of one held (or a second one from the same member): not forwarded.
    Ignore,
    /// Verified and held; the disagreements with our own digest it shows.
    Accept(Vec<Disagreement>),
}

impl SectionBook {
    pub fn own_of(&self, id: ReportId) -> Option<&SectionDigest> {
        self.own.get(&id)
    }

    /// Holds our digest; returns the disagreements with the peers' digests held.
    pub fn own(&mut self, digest: SectionDigest) -> Vec<Disagreement> {
        let id = digest.id();
        self.own.insert(id, digest);
        self.prune();
        let members: Vec<u16> = self.peers.get(&id).map(|p| p.keys().copied().collect()).unwrap_or_default();
        members.into_iter().filter_map(|m| self.compare(id, m)).collect()
    }

    /// Checks and holds a peer's digest.
    pub fn peer(&mut self, roster: &Roster, digest: SectionDigest) -> PeerDigest {
        let id = digest.id();
        if self.peers.get(&id).is_some_and(|p| p.contains_key(&digest.signer)) {
            return PeerDigest::Ignore;
        }
        let Some(key) = roster.key(digest.signer) else {
            return PeerDigest::Reject(format!(
                "section digest signed by member {}, who is not in genesis",
                digest.signer
            ));
        };
        let Ok(signature) = bls::parse_signature(&digest.signature) else {
            return PeerDigest::Reject(format!(
                "section digest of member {}: the signature does not decode",
                digest.signer
            ));
        };
        if !bls::verify(key, &digest.signing_root(), &signature) {
            return PeerDigest::Reject(format!(
                "section digest of member {}: the signature does not verify",
                digest.signer
            ));
        }
        self.peers.entry(id).or_default().insert(digest.signer, digest);
        self.prune();
        PeerDigest::Accept(self.compare(id, digest.signer).into_iter().collect())
    }

    fn compare(&mut self, id: ReportId, member: u16) -> Option<Disagreement> {
        let ours = self.own.get(&id)?;
        let theirs = self.peers.get(&id)?.get(&member)?;
        if ours.merkle_root == theirs.merkle_root || !self.told.insert((id, member)) {
            return None;
        }
        Some(Disagreement {
            id,
            member,
            ours: ours.merkle_root,
            theirs: theirs.merkle_root,
            differing: differing(&ours.sections, &theirs.sections),
        })
    }

    /// Keeps the newest [`KEPT_REPORTS`] reports (a liar's far-future numbers push out only
    /// diagnostics, never anything a quorum needs).
    fn prune(&mut self) {
        let ids: BTreeSet<ReportId> = self.own.keys().chain(self.peers.keys()).copied().collect();
        for old in ids.iter().rev().skip(KEPT_REPORTS) {
            self.own.remove(old);
            self.peers.remove(old);
            self.told.retain(|(id, _)| id != old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use claystack_primitives::sections::{scalar, SECTION_COUNT};
    use claystack_primitives::ReportKind;
    use claystack_quorum::{SecretKeySigner, Signer, SigningDomain};

    fn signers() -> (Vec<SecretKeySigner>, Roster) {
        let signers: Vec<SecretKeySigner> = (1..=3u8).map(|i| SecretKeySigner::from_bytes(&[i; 32]).unwrap()).collect();
        let keys: Vec<_> = signers.iter().map(|s| s.public_key()).collect();
        (signers, Roster::new(SigningDomain { chain_id: 1, node_manager: [1; 20] }, 2, &keys).unwrap())
    }

    fn digest(s: &SecretKeySigner, member: u16, root: u8, rewards: i128) -> SectionDigest {
        let mut sections = [[0u8; 32]; SECTION_COUNT];
        sections[0] = scalar(rewards);
        let mut d = SectionDigest {
            kind: ReportKind::Rewards,
            number: 1,
            merkle_root: [root; 32],
            signer: member,
            sections,
            signature: [0; 96],
        };
        d.signature = s.sign(&d.signing_root());
        d
    }

    #[test]
    fn a_peer_with_another_root_is_named_once_with_what_differs() {
        let (s, roster) = signers();
        let mut book = SectionBook::default();
        assert_eq!(book.peer(&roster, digest(&s[1], 1, 0xaa, 100)), PeerDigest::Accept(vec![]));
        let found = book.own(digest(&s[0], 0, 0xbb, 101));
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].member, found[0].ours, found[0].theirs), (1, [0xbb; 32], [0xaa; 32]));
        assert_eq!(found[0].differing, vec!["consensus_rewards_wei (ours 101, theirs 100)".to_string()]);
        // The same root: nothing to say; a copy: ignored; said once per member.
        assert_eq!(book.peer(&roster, digest(&s[2], 2, 0xbb, 101)), PeerDigest::Accept(vec![]));
        assert_eq!(book.peer(&roster, digest(&s[1], 1, 0xaa, 100)), PeerDigest::Ignore);
        assert!(book.own(digest(&s[0], 0, 0xbb, 101)).is_empty());
    }

    #[test]
    fn forged_and_foreign_digests_are_rejected() {
        let (s, roster) = signers();
        let mut book = SectionBook::default();
        let mut forged = digest(&s[2], 1, 0xaa, 100); // member 2's key, claiming member 1
        forged.signer = 1;
        assert!(matches!(book.peer(&roster, forged), PeerDigest::Reject(r) if r.contains("does not verify")));
        assert!(
            matches!(book.peer(&roster, digest(&s[0], 7, 0xaa, 1)), PeerDigest::Reject(r) if r.contains("not in genesis"))
        );
        // Nothing was held: the real one is still accepted.
        assert_eq!(book.peer(&roster, digest(&s[1], 1, 0xaa, 100)), PeerDigest::Accept(vec![]));
    }
}
