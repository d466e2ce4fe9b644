//! The committee over time: genesis is version 0, and each change governance schedules on
//! the NodeManager (`scheduleCommitteeChange`) is the next version, applying from a rewards
//! report number and an exits round number on. Which version signs a report is decided here
//! by the contract's own rule (`NodeManager._keyStoreFor`): the latest version whose `from`
//! of the report's kind is at most its number. Versions never change once scheduled, so a
//! schedule only grows; docs/committee.md says when a node's view of it is final.

use crate::bls::PUBLIC_KEY_LEN;
use crate::roster::{Roster, RosterError};
use claystack_primitives::{ReportId, ReportKind};
use std::sync::Arc;
use thiserror::Error;

/// One committee version as the NodeManager records it.
#[derive(Debug, Clone)]
pub struct CommitteeVersion {
    /// 0 for genesis, then 1, 2, … in scheduling order.
    pub version: u64,
    /// First rewards report number it signs (0 for genesis).
    pub from_rewards: u64,
    /// First exits round number it signs (0 for genesis).
    pub from_exits: u64,
    pub roster: Arc<Roster>,
}

impl CommitteeVersion {
    fn from(&self, kind: ReportKind) -> u64 {
        match kind {
            ReportKind::Rewards => self.from_rewards,
            ReportKind::Exits => self.from_exits,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleError {
    /// Versions are added in order, each once.
    #[error("committee version {got}: the next version is {expected}; versions are added in order")]
    NotNext { expected: u64, got: u64 },
    /// A version starts at or before the previous one for some kind (the contract refuses that).
    #[error("committee version {version}: {kind} reports from {from}, not after version {previous}'s {previous_from}")]
    NotAfter { version: u64, kind: ReportKind, from: u64, previous: u64, previous_from: u64 },
    /// A change keeps the committee's size and signing domain.
    #[error("committee version {version}: {got} members, but the committee has {expected}")]
    Size { version: u64, expected: usize, got: usize },
    /// The version's keys or threshold do not make a committee.
    #[error("committee version {version}: {error}")]
    Roster { version: u64, error: RosterError },
}

/// Every committee version known so far, genesis first.
#[derive(Debug, Clone)]
pub struct CommitteeSchedule {
    versions: Vec<CommitteeVersion>,
}

impl CommitteeSchedule {
    /// A schedule with genesis' committee as version 0.
    pub fn new(genesis: Roster) -> CommitteeSchedule {
        let v0 = CommitteeVersion { version: 0, from_rewards: 0, from_exits: 0, roster: Arc::new(genesis) };
        CommitteeSchedule { versions: vec![v0] }
    }

    /// Adds the next version (as read from the NodeManager): same domain and size as genesis,
    /// a strict-majority threshold, and `from`s after the previous version's.
    pub fn push(
        &mut self,
        version: u64,
        from_rewards: u64,
        from_exits: u64,
        threshold: u32,
        pubkeys: &[[u8; PUBLIC_KEY_LEN]],
    ) -> Result<(), ScheduleError> {
        let last = self.latest();
        if version != last.version + 1 {
            return Err(ScheduleError::NotNext { expected: last.version + 1, got: version });
        }
        for (kind, from) in [(ReportKind::Rewards, from_rewards), (ReportKind::Exits, from_exits)] {
            if from <= last.from(kind) {
                let (previous, previous_from) = (last.version, last.from(kind));
                return Err(ScheduleError::NotAfter { version, kind, from, previous, previous_from });
            }
        }
        let expected = last.roster.size();
        if pubkeys.len() != expected {
            return Err(ScheduleError::Size { version, expected, got: pubkeys.len() });
        }
        let roster = Roster::new(*last.roster.domain(), threshold, pubkeys)
            .map_err(|error| ScheduleError::Roster { version, error })?;
        self.versions.push(CommitteeVersion { version, from_rewards, from_exits, roster: Arc::new(roster) });
        Ok(())
    }

    /// The version that signs report `id`: the latest whose `from` of its kind is at most its
    /// number.
    pub fn for_report(&self, id: ReportId) -> &CommitteeVersion {
        self.versions.iter().rev().find(|v| v.from(id.kind) <= id.number).expect("version 0 applies from 0")
    }

    /// The latest version known (it may not apply to any report yet).
    pub fn latest(&self) -> &CommitteeVersion {
        self.versions.last().expect("version 0 is always there")
    }

    /// Every version, genesis first.
    pub fn versions(&self) -> &[CommitteeVersion] {
        &self.versions
    }

    /// Member index of `pubkey` for report `id`, if it is a member of that report's committee.
    pub fn member_for(&self, id: ReportId, pubkey: &[u8; PUBLIC_KEY_LEN]) -> Option<u16> {
        self.for_report(id).roster.index_of(pubkey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bls::{SecretKeySigner, Signer};
    use crate::signing::SigningDomain;

    fn key(i: u8) -> [u8; 48] {
        SecretKeySigner::from_bytes(&[i; 32]).unwrap().public_key()
    }

    const DOMAIN: SigningDomain = SigningDomain { chain_id: 31337, node_manager: [7; 20] };

    fn genesis() -> CommitteeSchedule {
        CommitteeSchedule::new(Roster::new(DOMAIN, 3, &[key(1), key(2), key(3), key(4)]).unwrap())
    }

    fn rewards(n: u64) -> ReportId {
        ReportId { kind: ReportKind::Rewards, number: n }
    }

    fn exits(n: u64) -> ReportId {
        ReportId { kind: ReportKind::Exits, number: n }
    }

    /// The contract's rule: version 1 (member 1 replaced by key 5, threshold 4) from rewards 3
    /// and exits 5; version 2 (member 3 replaced by key 6, threshold 3) from rewards 4 and exits 9.
    #[test]
    fn each_report_gets_the_latest_version_started_by_its_number() {
        let mut s = genesis();
        s.push(1, 3, 5, 4, &[key(1), key(5), key(3), key(4)]).unwrap();
        s.push(2, 4, 9, 3, &[key(1), key(5), key(3), key(6)]).unwrap();
        let version = |id| s.for_report(id).version;
        assert_eq!([1, 2, 3, 4, 100].map(|n| version(rewards(n))), [0, 0, 1, 2, 2]);
        assert_eq!([1, 4, 5, 8, 9].map(|n| version(exits(n))), [0, 0, 1, 1, 2]);
        assert_eq!(s.for_report(rewards(3)).roster.threshold(), 4);
        assert_eq!(s.for_report(rewards(4)).roster.threshold(), 3);
        // The removed member is a member before N only; the new one from N on, at the same index.
        assert_eq!(s.member_for(rewards(2), &key(2)), Some(1));
        assert_eq!(s.member_for(rewards(3), &key(2)), None);
        assert_eq!(s.member_for(rewards(2), &key(5)), None);
        assert_eq!(s.member_for(rewards(3), &key(5)), Some(1));
        assert_eq!(s.member_for(exits(8), &key(4)), Some(3));
        assert_eq!(s.member_for(exits(9), &key(4)), None);
        assert_eq!(s.for_report(rewards(9)).roster.domain(), &DOMAIN, "a change keeps the signing domain");
    }

    #[test]
    fn versions_must_come_in_order_and_start_later() {
        let mut s = genesis();
        let keys = [key(1), key(5), key(3), key(4)];
        assert_eq!(s.push(2, 3, 3, 3, &keys), Err(ScheduleError::NotNext { expected: 1, got: 2 }));
        assert_eq!(
            s.push(1, 0, 3, 3, &keys),
            Err(ScheduleError::NotAfter {
                version: 1,
                kind: ReportKind::Rewards,
                from: 0,
                previous: 0,
                previous_from: 0
            })
        );
        s.push(1, 3, 3, 3, &keys).unwrap();
        assert!(matches!(s.push(2, 4, 3, 3, &keys), Err(ScheduleError::NotAfter { kind: ReportKind::Exits, .. })));
        assert_eq!(s.push(2, 4, 4, 3, &keys[..3]), Err(ScheduleError::Size { version: 2, expected: 4, got: 3 }));
        assert!(matches!(
            s.push(2, 4, 4, 2, &keys),
            Err(ScheduleError::Roster { version: 2, error: RosterError::Threshold { .. } })
        ));
        assert!(matches!(
            s.push(2, 4, 4, 3, &[key(1), key(1), key(3), key(4)]),
            Err(ScheduleError::Roster { version: 2, error: RosterError::DuplicateKey { .. } })
        ));
        assert_eq!(s.latest().version, 1, "a refused version is not added");
    }
}
