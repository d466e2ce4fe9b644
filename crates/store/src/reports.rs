//! The committee's state: computed reports, own and peers' signatures, aggregates and
//! submissions, keyed by report kind and number.
//!
//! Signature and aggregate values are opaque bytes here (their encoding belongs to
//! `claystack-quorum`); this module only promises where they are and that the own
//! signature is on disk (fsync'd) before the call returns, so a node never signs a
//! second root for a report it already signed, even across a crash.

use crate::{Result, Store, StoreError};
use claystack_primitives::ReportKind;
use rocksdb::WriteOptions;

const REPORT: &[u8] = b"rep/";
const OWN: &[u8] = b"sig/own/";
const PEER: &[u8] = b"sig/peer/";
const AGGREGATE: &[u8] = b"agg/";
const SUBMISSION: &[u8] = b"sub/";
const IN_FLIGHT: &[u8] = b"tx/";
const BONDS: &[u8] = b"bond/";

/// Root, hash, report and tree.
const V1: u8 = 1;
/// Root, hash, report, tree and frame log.
const V2: u8 = 2;

/// A report as the node computed it: the root and hash it signs, and the files it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    pub merkle_root: [u8; 32],
    pub report_hash: [u8; 32],
    /// `report.json` bytes.
    pub report: Vec<u8>,
    /// The tree dump (`tree.json`) bytes.
    pub tree: Vec<u8>,
    /// The frame log (`frame-log.json`) bytes; empty for a report stored before logs existed.
    pub log: Vec<u8>,
}

fn key(prefix: &[u8], kind: ReportKind, number: u64) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.push(kind.byte());
    k.extend_from_slice(&number.to_be_bytes());
    k
}

fn corrupt(key: &[u8], what: &str) -> StoreError {
    StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        error: crate::CodecError::Malformed(what.to_string()),
    }
}

fn encode_report(r: &StoredReport) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 64 + 24 + r.report.len() + r.tree.len() + r.log.len());
    out.push(V2);
    out.extend_from_slice(&r.merkle_root);
    out.extend_from_slice(&r.report_hash);
    for part in [&r.report, &r.tree, &r.log] {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

fn decode_report(k: &[u8], v: &[u8]) -> Result<StoredReport> {
    let bad = || corrupt(k, "report record is truncated or has an unknown version");
    let (&version, rest) = v.split_first().ok_or_else(bad)?;
    let count = match version {
        V1 => 2,
        V2 => 3,
        _ => return Err(bad()),
    };
    if rest.len() < 64 {
        return Err(bad());
    }
    let (roots, mut rest) = rest.split_at(64);
    let mut parts = Vec::with_capacity(3);
    for _ in 0..count {
        if rest.len() < 8 {
            return Err(bad());
        }
        let (len, tail) = rest.split_at(8);
        let len = usize::try_from(u64::from_be_bytes(len.try_into().expect("8 bytes"))).map_err(|_| bad())?;
        if tail.len() < len {
            return Err(bad());
        }
        parts.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    if !rest.is_empty() {
        return Err(bad());
    }
    let log = if count == 3 { parts.pop().expect("three parts") } else { Vec::new() };
    let tree = parts.pop().expect("two parts");
    let report = parts.pop().expect("two parts");
    Ok(StoredReport {
        merkle_root: roots[..32].try_into().expect("32 bytes"),
        report_hash: roots[32..].try_into().expect("32 bytes"),
        report,
        tree,
        log,
    })
}

impl Store {
    fn synced_put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.put_opt(key, value, &opts)?;
        Ok(())
    }

    pub fn put_report(&self, kind: ReportKind, number: u64, report: &StoredReport) -> Result<()> {
        self.db.put(key(REPORT, kind, number), encode_report(report))?;
        Ok(())
    }

    pub fn report(&self, kind: ReportKind, number: u64) -> Result<Option<StoredReport>> {
        let k = key(REPORT, kind, number);
        self.db.get(&k)?.map(|v| decode_report(&k, &v)).transpose()
    }

    /// The highest-numbered stored report of `kind`.
    pub fn latest_report(&self, kind: ReportKind) -> Result<Option<(u64, StoredReport)>> {
        let upper = key(REPORT, kind, u64::MAX);
        let mut iter = self.db.iterator(rocksdb::IteratorMode::From(&upper, rocksdb::Direction::Reverse));
        match iter.next().transpose()? {
            Some((k, v)) if k.len() == REPORT.len() + 9 && k.starts_with(REPORT) && k[REPORT.len()] == kind.byte() => {
                let number = u64::from_be_bytes(k[REPORT.len() + 1..].try_into().expect("8 bytes"));
                Ok(Some((number, decode_report(&k, &v)?)))
            }
            _ => Ok(None),
        }
    }

    /// Stores the bonds held at a report's reference block (opaque bytes here; the
    /// report crate's `BondHeld` list). Written before the report itself, so a stored report
    /// read with bonds always finds them; writing the same report's again replaces them.
    pub fn put_report_bonds(&self, kind: ReportKind, number: u64, bonds: &[u8]) -> Result<()> {
        self.db.put(key(BONDS, kind, number), bonds)?;
        Ok(())
    }

    /// The bonds stored for a report; `None` when none were read (inputs from a file, or a
    /// report closed by a build that did not read bonds).
    pub fn report_bonds(&self, kind: ReportKind, number: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key(BONDS, kind, number))?)
    }

    /// Stores this node's signature message for a report, synced to disk before returning.
    /// Callers must not send it before this returns.
    pub fn put_own_signature(&self, kind: ReportKind, number: u64, message: &[u8]) -> Result<()> {
        self.synced_put(&key(OWN, kind, number), message)
    }

    pub fn own_signature(&self, kind: ReportKind, number: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key(OWN, kind, number))?)
    }

    /// Every own signature stored (the signing record), by kind then number.
    pub fn own_signatures(&self) -> Result<Vec<(ReportKind, u64, Vec<u8>)>> {
        let mut out = Vec::new();
        for item in self.db.iterator(rocksdb::IteratorMode::From(OWN, rocksdb::Direction::Forward)) {
            let (k, v) = item?;
            if !k.starts_with(OWN) {
                break;
            }
            let rest = &k[OWN.len()..];
            let kind = rest.first().and_then(|b| ReportKind::from_byte(*b));
            match (kind, rest.len()) {
                (Some(kind), 9) => {
                    out.push((kind, u64::from_be_bytes(rest[1..].try_into().expect("8 bytes")), v.to_vec()))
                }
                _ => return Err(corrupt(&k, "own signature key is malformed")),
            }
        }
        Ok(out)
    }

    /// Stores a peer's valid signature message; one per (member, root), so an equivocating
    /// member's two messages are both kept as evidence.
    pub fn put_peer_signature(
        &self,
        kind: ReportKind,
        number: u64,
        member: u16,
        root: &[u8; 32],
        message: &[u8],
    ) -> Result<()> {
        let mut k = key(PEER, kind, number);
        k.extend_from_slice(&member.to_be_bytes());
        k.extend_from_slice(root);
        self.db.put(k, message)?;
        Ok(())
    }

    /// Every stored peer message of a report, by member then root.
    pub fn peer_signatures(&self, kind: ReportKind, number: u64) -> Result<Vec<Vec<u8>>> {
        let prefix = key(PEER, kind, number);
        let mut out = Vec::new();
        for item in self.db.iterator(rocksdb::IteratorMode::From(&prefix, rocksdb::Direction::Forward)) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            out.push(v.to_vec());
        }
        Ok(out)
    }

    /// The aggregate of a report once quorum is reached (replaced as more signatures arrive).
    pub fn put_aggregate(&self, kind: ReportKind, number: u64, record: &[u8]) -> Result<()> {
        self.db.put(key(AGGREGATE, kind, number), record)?;
        Ok(())
    }

    pub fn aggregate(&self, kind: ReportKind, number: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key(AGGREGATE, kind, number))?)
    }

    /// Submission state of a report (transaction sent, accepted, …), synced: a restarted
    /// node must see that it already sent a transaction.
    pub fn put_submission(&self, kind: ReportKind, number: u64, record: &[u8]) -> Result<()> {
        self.synced_put(&key(SUBMISSION, kind, number), record)
    }

    pub fn submission(&self, kind: ReportKind, number: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key(SUBMISSION, kind, number))?)
    }

    /// The submitter's record of the transaction it has in flight for a report (hash,
    /// nonce, fees: opaque bytes here, the execution crate's `InFlight`), synced: it is
    /// written before the transaction is sent, so a restarted node tracks it instead of
    /// sending another.
    pub fn put_in_flight(&self, kind: ReportKind, number: u64, record: &[u8]) -> Result<()> {
        self.synced_put(&key(IN_FLIGHT, kind, number), record)
    }

    pub fn in_flight(&self, kind: ReportKind, number: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key(IN_FLIGHT, kind, number))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use claystack_primitives::ReportKind::{Exits as E, Rewards as R};

    fn report(n: u8) -> StoredReport {
        StoredReport {
            merkle_root: [n; 32],
            report_hash: [n + 1; 32],
            report: vec![n; 3],
            tree: vec![],
            log: vec![n; 2],
        }
    }

    #[test]
    fn reports_round_trip_and_latest_is_per_kind() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.latest_report(R).unwrap(), None);
        store.put_report(R, 1, &report(1)).unwrap();
        store.put_report(R, 2, &report(2)).unwrap();
        store.put_report(E, 7, &report(7)).unwrap();
        assert_eq!(store.report(R, 1).unwrap(), Some(report(1)));
        assert_eq!(store.latest_report(R).unwrap(), Some((2, report(2))));
        assert_eq!(store.latest_report(E).unwrap(), Some((7, report(7))));
    }

    #[test]
    fn report_bonds_are_per_kind_and_number_and_do_not_disturb_the_latest_report() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.put_report(R, 1, &report(1)).unwrap();
        store.put_report_bonds(R, 1, b"[1]").unwrap();
        // Bonds of a report not stored yet (written first when closing) are not a report.
        store.put_report_bonds(R, 2, b"[2]").unwrap();
        assert_eq!(store.latest_report(R).unwrap(), Some((1, report(1))));
        assert_eq!(store.report_bonds(R, 1).unwrap().as_deref(), Some(&b"[1]"[..]));
        assert_eq!(store.report_bonds(R, 2).unwrap().as_deref(), Some(&b"[2]"[..]));
        assert_eq!(store.report_bonds(E, 1).unwrap(), None);
        assert_eq!(store.report_bonds(R, 3).unwrap(), None);
        store.put_report_bonds(R, 1, b"[3]").unwrap();
        assert_eq!(store.report_bonds(R, 1).unwrap().as_deref(), Some(&b"[3]"[..]));
    }

    #[test]
    fn signatures_survive_reopen_and_keep_both_roots_of_a_member() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.put_own_signature(R, 3, b"own").unwrap();
            store.put_peer_signature(R, 3, 2, &[1; 32], b"p2-root1").unwrap();
            store.put_peer_signature(R, 3, 2, &[2; 32], b"p2-root2").unwrap();
            store.put_peer_signature(R, 3, 1, &[1; 32], b"p1-root1").unwrap();
            store.put_peer_signature(R, 4, 1, &[1; 32], b"other report").unwrap();
            store.put_aggregate(R, 3, b"agg").unwrap();
            store.put_submission(R, 3, b"sent").unwrap();
            store.put_in_flight(R, 3, b"tx").unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.own_signature(R, 3).unwrap().as_deref(), Some(&b"own"[..]));
        assert_eq!(store.own_signature(R, 4).unwrap(), None);
        store.put_own_signature(E, 2, b"own exits").unwrap();
        assert_eq!(store.own_signatures().unwrap(), vec![(R, 3, b"own".to_vec()), (E, 2, b"own exits".to_vec())]);
        let peers = store.peer_signatures(R, 3).unwrap();
        assert_eq!(peers, vec![b"p1-root1".to_vec(), b"p2-root1".to_vec(), b"p2-root2".to_vec()]);
        assert_eq!(store.aggregate(R, 3).unwrap().as_deref(), Some(&b"agg"[..]));
        assert_eq!(store.submission(R, 3).unwrap().as_deref(), Some(&b"sent"[..]));
        assert_eq!(store.in_flight(R, 3).unwrap().as_deref(), Some(&b"tx"[..]));
        assert_eq!(store.in_flight(E, 3).unwrap(), None);
    }

    #[test]
    fn a_corrupt_report_record_is_an_error_not_a_panic() {
        for bytes in [&[][..], &[9][..], &[1, 0, 0][..]] {
            assert!(decode_report(b"rep/x", bytes).is_err());
        }
        let mut ok = encode_report(&report(5));
        ok.push(0);
        assert!(decode_report(b"rep/x", &ok).is_err());
    }

    #[test]
    fn a_report_stored_before_frame_logs_reads_with_an_empty_log() {
        let mut v1 = vec![V1];
        v1.extend_from_slice(&[4; 32]);
        v1.extend_from_slice(&[5; 32]);
        for part in [&b"report"[..], &b"tree"[..]] {
            v1.extend_from_slice(&(part.len() as u64).to_be_bytes());
            v1.extend_from_slice(part);
        }
        let r = decode_report(b"rep/x", &v1).unwrap();
        assert_eq!((r.report.as_slice(), r.tree.as_slice(), r.log.len()), (&b"report"[..], &b"tree"[..], 0));
        assert_eq!(r.merkle_root, [4; 32]);
    }
}
