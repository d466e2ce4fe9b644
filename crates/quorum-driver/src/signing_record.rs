//! The signing record: every report this member signed, as a JSON file that moves with the
//! member's keys to another machine (the way EIP-3076 carries a validator's slashing
//! protection). Importing it into a new data dir means the node knows, before it signs
//! anything, which root it signed for each report, and refuses any other.
//!
//! # Format (`interchange_format_version` 1)
//!
//! ```json
//! {
//!   "metadata": { "interchange_format_version": "1", "genesis_hash": "0x…",
//!                 "chain_id": 31337, "node_manager": "0x…" },
//!   "member": { "index": 3, "bls_pubkey": "0x…" },
//!   "signed_reports": [
//!     { "kind": "rewards", "number": 1, "merkle_root": "0x…", "report_hash": "0x…",
//!       "signing_root": "0x…", "signature": "0x…" }
//!   ]
//! }
//! ```
//!
//! The signature is carried (EIP-3076 carries only the signing root) because the node
//! re-gossips its own signature of an unsettled report and stores it whole; every entry is
//! checked against the member's key on import, so a record cannot smuggle in a root the
//! key never signed. Import refuses a record of another genesis (chain, contract or
//! committee) or another member, and a record that disagrees with the store; it only adds
//! entries, never replaces or removes one.

use claystack_primitives::{hex, ReportId, ReportKind};
use claystack_quorum::{bls, Roster, SignatureMessage};
use claystack_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The only format version written and read.
pub const FORMAT_VERSION: &str = "1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningRecord {
    pub metadata: Metadata,
    pub member: MemberId,
    pub signed_reports: Vec<SignedReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub interchange_format_version: String,
    /// The genesis file's hash: chain, contracts and committee in one value.
    pub genesis_hash: String,
    pub chain_id: u64,
    pub node_manager: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberId {
    pub index: u16,
    pub bls_pubkey: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedReport {
    /// `rewards` or `exits`.
    pub kind: String,
    pub number: u64,
    pub merkle_root: String,
    pub report_hash: String,
    pub signing_root: String,
    pub signature: String,
}

/// Why a record cannot be exported or imported; each names the value at fault.
#[derive(Debug, Error)]
pub enum SigningRecordError {
    /// The store cannot be read or written.
    #[error("data dir: {0}")]
    Store(#[from] StoreError),
    /// A stored own signature does not decode.
    #[error("the stored own signature of {0} is corrupt")]
    Corrupt(ReportId),
    /// The record's format version is unknown.
    #[error("signing record format version {0:?} is unknown (expected {FORMAT_VERSION:?})")]
    Version(String),
    /// The record belongs to another genesis.
    #[error("the signing record is for genesis {theirs}, this node's genesis is {ours}: it belongs to another network or committee")]
    OtherGenesis { theirs: String, ours: String },
    /// The record belongs to another member.
    #[error("the signing record is member {index}'s ({pubkey}), not this key's ({ours})")]
    OtherMember { index: u16, pubkey: String, ours: String },
    /// An entry is malformed or its signature is not this member's.
    #[error("signed_reports entry {entry}: {problem}")]
    BadEntry { entry: usize, problem: String },
    /// The record and the store name different roots for one report.
    #[error("{id}: the signing record has merkle root {record}, the data dir has {stored}; this key signed two roots — do not import, find out which machine signed what")]
    Conflict { id: ReportId, record: String, stored: String },
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    /// Entries written to the store.
    pub added: usize,
    /// Entries the store already held, identical.
    pub already_held: usize,
}

/// The record of every own signature in `store`, for member `index` of `roster`.
pub fn export(
    store: &Store,
    roster: &Roster,
    genesis_hash: [u8; 32],
    index: u16,
    bls_pubkey: [u8; 48],
) -> Result<SigningRecord, SigningRecordError> {
    let mut signed_reports = Vec::new();
    for (kind, number, bytes) in store.own_signatures()? {
        let id = ReportId { kind, number };
        let m = SignatureMessage::decode(&bytes).map_err(|_| SigningRecordError::Corrupt(id))?;
        signed_reports.push(SignedReport {
            kind: kind.to_string(),
            number,
            merkle_root: hex::encode(&m.merkle_root),
            report_hash: hex::encode(&m.report_hash),
            signing_root: hex::encode(roster.signing_root(id, &m.merkle_root, &m.report_hash).as_bytes()),
            signature: hex::encode(&m.signature),
        });
    }
    Ok(SigningRecord {
        metadata: metadata(roster, genesis_hash),
        member: MemberId { index, bls_pubkey: hex::encode(&bls_pubkey) },
        signed_reports,
    })
}

fn metadata(roster: &Roster, genesis_hash: [u8; 32]) -> Metadata {
    Metadata {
        interchange_format_version: FORMAT_VERSION.into(),
        genesis_hash: hex::encode(&genesis_hash),
        chain_id: roster.domain().chain_id,
        node_manager: hex::encode(&roster.domain().node_manager),
    }
}

/// Checks `record` against this genesis, member and store, then adds the entries the store
/// lacks. Nothing is written unless every entry checks out.
pub fn import(
    store: &Store,
    roster: &Roster,
    genesis_hash: [u8; 32],
    bls_pubkey: [u8; 48],
    record: &SigningRecord,
) -> Result<ImportSummary, SigningRecordError> {
    if record.metadata.interchange_format_version != FORMAT_VERSION {
        return Err(SigningRecordError::Version(record.metadata.interchange_format_version.clone()));
    }
    let ours = metadata(roster, genesis_hash);
    if record.metadata != ours {
        return Err(SigningRecordError::OtherGenesis {
            theirs: record.metadata.genesis_hash.clone(),
            ours: ours.genesis_hash,
        });
    }
    let me = roster.index_of(&bls_pubkey);
    if me != Some(record.member.index) || record.member.bls_pubkey != hex::encode(&bls_pubkey) {
        return Err(SigningRecordError::OtherMember {
            index: record.member.index,
            pubkey: record.member.bls_pubkey.clone(),
            ours: hex::encode(&bls_pubkey),
        });
    }
    let member = record.member.index;
    let mut to_add = Vec::new();
    let mut already_held = 0;
    for (entry, r) in record.signed_reports.iter().enumerate() {
        let m = check_entry(roster, member, r).map_err(|problem| SigningRecordError::BadEntry { entry, problem })?;
        match store.own_signature(m.kind, m.number)? {
            None => to_add.push(m),
            Some(bytes) => {
                let stored = SignatureMessage::decode(&bytes).map_err(|_| SigningRecordError::Corrupt(m.id()))?;
                if (stored.merkle_root, stored.report_hash) != (m.merkle_root, m.report_hash) {
                    return Err(SigningRecordError::Conflict {
                        id: m.id(),
                        record: hex::encode(&m.merkle_root),
                        stored: hex::encode(&stored.merkle_root),
                    });
                }
                already_held += 1;
            }
        }
    }
    for m in &to_add {
        store.put_own_signature(m.kind, m.number, &m.encode())?;
    }
    Ok(ImportSummary { added: to_add.len(), already_held })
}

/// The entry as a signature message of `member`, or what is wrong with it.
fn check_entry(roster: &Roster, member: u16, r: &SignedReport) -> Result<SignatureMessage, String> {
    let kind = match r.kind.as_str() {
        "rewards" => ReportKind::Rewards,
        "exits" => ReportKind::Exits,
        other => return Err(format!("kind {other:?} is not rewards or exits")),
    };
    if r.number == 0 {
        return Err("report numbers start at 1".into());
    }
    let field = |name: &str, value: &str| format!("{name} {value:?} is not 0x-hex of the right length");
    let merkle_root = hex::decode_fixed::<32>(&r.merkle_root).map_err(|_| field("merkle_root", &r.merkle_root))?;
    let report_hash = hex::decode_fixed::<32>(&r.report_hash).map_err(|_| field("report_hash", &r.report_hash))?;
    let signing_root = hex::decode_fixed::<32>(&r.signing_root).map_err(|_| field("signing_root", &r.signing_root))?;
    let signature = hex::decode_fixed::<96>(&r.signature).map_err(|_| field("signature", &r.signature))?;
    let id = ReportId { kind, number: r.number };
    let root = roster.signing_root(id, &merkle_root, &report_hash);
    if root.as_bytes() != &signing_root {
        return Err(format!(
            "signing_root {} is not the signing root of the report ({})",
            r.signing_root,
            hex::encode(root.as_bytes())
        ));
    }
    let valid = bls::parse_signature(&signature).is_ok_and(|sig| roster.verify(member, &root, &sig));
    if !valid {
        return Err("the signature is not this member's signature of the report".into());
    }
    Ok(SignatureMessage { kind, number: r.number, merkle_root, report_hash, signer: member, signature })
}

#[cfg(test)]
mod tests {
    use super::*;
    use claystack_quorum::{SecretKeySigner, Signer, SigningDomain};
    use std::sync::Arc;

    fn signer(i: u8) -> SecretKeySigner {
        SecretKeySigner::from_bytes(&[i + 1; 32]).unwrap()
    }

    fn roster() -> Arc<Roster> {
        let keys: Vec<[u8; 48]> = (0..4).map(|i| signer(i).public_key()).collect();
        Arc::new(Roster::new(SigningDomain { chain_id: 31337, node_manager: [0x5f; 20] }, 3, &keys).unwrap())
    }

    fn signed(r: &Roster, member: u8, number: u64, root: u8) -> SignatureMessage {
        let id = ReportId { kind: ReportKind::Rewards, number };
        let (merkle_root, report_hash) = ([root; 32], [root ^ 0xff; 32]);
        let signature = signer(member).sign(r.signing_root(id, &merkle_root, &report_hash).as_bytes());
        SignatureMessage { kind: id.kind, number, merkle_root, report_hash, signer: member as u16, signature }
    }

    const GENESIS: [u8; 32] = [9; 32];

    #[test]
    fn a_record_moves_to_an_empty_data_dir_and_only_adds() {
        let r = roster();
        let (old, new) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let old_store = Store::open(old.path()).unwrap();
        for (n, root) in [(1, 0xaa), (2, 0xbb)] {
            old_store.put_own_signature(ReportKind::Rewards, n, &signed(&r, 2, n, root).encode()).unwrap();
        }
        let pk = signer(2).public_key();
        let record = export(&old_store, &r, GENESIS, 2, pk).unwrap();
        assert_eq!(record.signed_reports.len(), 2);
        // Through JSON, as it travels.
        let json = serde_json::to_string_pretty(&record).unwrap();
        let record: SigningRecord = serde_json::from_str(&json).unwrap();

        let new_store = Store::open(new.path()).unwrap();
        new_store.put_own_signature(ReportKind::Rewards, 2, &signed(&r, 2, 2, 0xbb).encode()).unwrap();
        let summary = import(&new_store, &r, GENESIS, pk, &record).unwrap();
        assert_eq!(summary, ImportSummary { added: 1, already_held: 1 });
        assert_eq!(new_store.own_signatures().unwrap(), old_store.own_signatures().unwrap());
        // Again: nothing to add.
        assert_eq!(import(&new_store, &r, GENESIS, pk, &record).unwrap(), ImportSummary { added: 0, already_held: 2 });
    }

    #[test]
    fn another_network_member_root_or_forgery_is_refused_and_nothing_written() {
        let r = roster();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.put_own_signature(ReportKind::Rewards, 1, &signed(&r, 2, 1, 0xaa).encode()).unwrap();
        let pk = signer(2).public_key();
        let good = export(&store, &r, GENESIS, 2, pk).unwrap();
        let empty = tempfile::tempdir().unwrap();
        let target = Store::open(empty.path()).unwrap();
        let refused =
            |record: &SigningRecord, pk: [u8; 48]| import(&target, &r, GENESIS, pk, record).unwrap_err().to_string();

        assert!(import(&target, &r, [8; 32], pk, &good).unwrap_err().to_string().contains("another network"));
        assert!(refused(&good, signer(1).public_key()).contains("not this key's"));
        let mut forged = good.clone();
        forged.signed_reports[0].signature = hex::encode(&signed(&r, 1, 1, 0xaa).signature);
        assert!(refused(&forged, pk).contains("not this member's signature"), "{}", refused(&forged, pk));
        let mut other_root = good.clone();
        other_root.signed_reports[0].merkle_root = hex::encode(&[0xcc; 32]);
        assert!(refused(&other_root, pk).contains("not the signing root"));
        let mut version = good.clone();
        version.metadata.interchange_format_version = "2".into();
        assert!(refused(&version, pk).contains("format version"));
        assert_eq!(target.own_signatures().unwrap(), vec![]);

        // The store signed another root for report 1: a conflict, and nothing written.
        let mut two = export(&store, &r, GENESIS, 2, pk).unwrap();
        store.put_own_signature(ReportKind::Rewards, 2, &signed(&r, 2, 2, 0xbb).encode()).unwrap();
        two.signed_reports.push(export(&store, &r, GENESIS, 2, pk).unwrap().signed_reports[1].clone());
        target.put_own_signature(ReportKind::Rewards, 1, &signed(&r, 2, 1, 0xdd).encode()).unwrap();
        let err = refused(&two, pk);
        assert!(err.contains("this key signed two roots"), "{err}");
        assert_eq!(target.own_signature(ReportKind::Rewards, 2).unwrap(), None);
    }
}
