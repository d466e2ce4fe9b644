//! The genesis ceremony of a committee whose members keep their own keys (docs/genesis.md).
//!
//! Each member makes their keys on their own machine and hands out only the public
//! [`MemberEntry`] (`member.json` of their key directory). [`assemble`] puts a template
//! (everything but the members) and the entries together into one genesis, in a canonical
//! member order, so that anyone assembling from the same entries gets the same bytes and
//! hash. Each member then signs an [`Approval`] of that exact hash, and [`check_approvals`]
//! says whether every member approved. Nothing here sees a secret but [`Approval::sign`].

use crate::{bls, hexbytes, Address, Genesis, Member, Problem};
use blst::min_pk::{PublicKey, SecretKey, Signature};
use blst::BLST_ERROR;
use claystack_primitives::hex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// BLS domain tag of genesis approvals. Not the reports' tag ([`bls::SIG_DST`]) nor the
/// proofs of possession's ([`bls::POP_DST`]): hashing to the curve under another tag gives
/// unrelated points, so an approval never verifies as a report signature or a proof of
/// possession, and neither of those as an approval, whatever the 32 bytes signed.
pub const APPROVAL_DST: &[u8] = b"CLAYSTACK-GENESIS-APPROVAL-V01-CS01-with-BLS12381G2_XMD:SHA-256_SSWU_RO_";

/// A member's public entry, as `member.json` of a key directory holds it: the genesis
/// `committee.members[]` entry, whose `submitter` may still be missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberEntry {
    /// Compressed G1 public key (48 bytes, `0x` hex).
    #[serde(with = "hexbytes")]
    pub bls_pubkey: [u8; 48],
    /// Proof of possession of `bls_pubkey` (96-byte G2 signature, `0x` hex).
    #[serde(with = "hexbytes")]
    pub pop: [u8; 96],
    /// The member's libp2p peer id.
    pub peer_id: String,
    /// The execution-layer address the member's node submits from; absent until the member
    /// chose one (a genesis cannot be assembled without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitter: Option<Address>,
}

impl MemberEntry {
    /// The genesis `committee.members[]` entry of this member, who submits from `submitter`.
    pub fn genesis_member(&self, submitter: Address) -> Member {
        Member { bls_pubkey: self.bls_pubkey, pop: self.pop, peer_id: self.peer_id.clone(), submitter }
    }

    /// The file form: pretty JSON and a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("member entries serialize");
        s.push('\n');
        s
    }
}

/// One thing that stops [`assemble`]; `Display` is one line naming the entry's file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AssemblyProblem {
    /// The template already lists members.
    #[error("the template already has {0} committee members; a template's committee.members must be empty, the members come from their entries")]
    TemplateHasMembers(usize),
    /// No entry was given.
    #[error("no member entries; give every member's entry")]
    NoEntries,
    /// An entry's public key does not decode.
    #[error("{file}: bls_pubkey is not a valid public key ({reason}); ask the member for the member.json of their key directory")]
    InvalidPubkey { file: String, reason: String },
    /// An entry's proof of possession does not verify.
    #[error("{file}: pop is not a valid proof of possession of its bls_pubkey; ask the member for the member.json of their key directory")]
    BadPop { file: String },
    /// An entry has no peer id.
    #[error("{file}: peer_id is empty; ask the member for the member.json of their key directory")]
    EmptyPeerId { file: String },
    /// An entry has no submitter address.
    #[error("{file}: has no submitter address; the member adds the address their node submits reports from")]
    MissingSubmitter { file: String },
    /// An entry's submitter is the zero address.
    #[error("{file}: submitter is the zero address; the member sets the address their node submits reports from")]
    ZeroSubmitter { file: String },
    /// Two entries share a key, a peer id or a submitter.
    #[error("{second}: same {field} as {first}; each member needs their own (the same entry given twice?)")]
    Duplicate { field: &'static str, first: String, second: String },
    /// The assembled genesis is invalid (a template field, or the threshold for this many members).
    #[error("{0}")]
    Genesis(Problem),
}

/// The genesis of `template` with the members of `entries` (each with the name of the file it
/// came from, for messages), or every problem found. Members are sorted by the bytes of their
/// BLS public key, so the result depends on the set of entries, not on their order.
pub fn assemble(template: &Genesis, entries: &[(String, MemberEntry)]) -> Result<Genesis, Vec<AssemblyProblem>> {
    let mut problems = Vec::new();
    if !template.committee.members.is_empty() {
        problems.push(AssemblyProblem::TemplateHasMembers(template.committee.members.len()));
    }
    if entries.is_empty() {
        problems.push(AssemblyProblem::NoEntries);
    }
    let mut keys: BTreeMap<[u8; 48], &str> = BTreeMap::new();
    let mut peers: BTreeMap<&str, &str> = BTreeMap::new();
    let mut submitters: BTreeMap<Address, &str> = BTreeMap::new();
    let mut members = Vec::with_capacity(entries.len());
    for (file, e) in entries {
        let named = || file.clone();
        match bls::pubkey_check(&e.bls_pubkey) {
            Err(reason) => problems.push(AssemblyProblem::InvalidPubkey { file: named(), reason }),
            Ok(()) if !bls::pop_verify(&e.bls_pubkey, &e.pop) => {
                problems.push(AssemblyProblem::BadPop { file: named() })
            }
            Ok(()) => {}
        }
        if e.peer_id.is_empty() {
            problems.push(AssemblyProblem::EmptyPeerId { file: named() });
        }
        match e.submitter {
            None => problems.push(AssemblyProblem::MissingSubmitter { file: named() }),
            Some(a) if a == Address::default() => problems.push(AssemblyProblem::ZeroSubmitter { file: named() }),
            Some(a) => {
                if let Some(first) = submitters.insert(a, file) {
                    problems.push(duplicate("submitter", first, file));
                }
                members.push(e.genesis_member(a));
            }
        }
        if let Some(first) = keys.insert(e.bls_pubkey, file) {
            problems.push(duplicate("bls_pubkey", first, file));
        }
        if !e.peer_id.is_empty() {
            if let Some(first) = peers.insert(&e.peer_id, file) {
                problems.push(duplicate("peer_id", first, file));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    members.sort_by_key(|m| m.bls_pubkey);
    let mut genesis = template.clone();
    genesis.committee.members = members;
    let invalid = genesis.verify();
    if !invalid.is_empty() {
        return Err(invalid.into_iter().map(AssemblyProblem::Genesis).collect());
    }
    Ok(genesis)
}

fn duplicate(field: &'static str, first: &str, second: &str) -> AssemblyProblem {
    AssemblyProblem::Duplicate { field, first: first.to_string(), second: second.to_string() }
}

/// One member's approval of one genesis: their BLS signature of its 32-byte hash under
/// [`APPROVAL_DST`]. The file form is this as JSON, `0x` hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The [`Genesis::hash`] approved.
    #[serde(with = "hexbytes")]
    pub genesis_hash: [u8; 32],
    /// The approving member's compressed G1 public key.
    #[serde(with = "hexbytes")]
    pub bls_pubkey: [u8; 48],
    /// Signature of `genesis_hash` under [`APPROVAL_DST`] (96-byte G2 point).
    #[serde(with = "hexbytes")]
    pub signature: [u8; 96],
}

impl Approval {
    /// `sk`'s approval of the genesis whose hash is `genesis_hash`.
    pub fn sign(genesis_hash: [u8; 32], sk: &SecretKey) -> Approval {
        Approval {
            genesis_hash,
            bls_pubkey: bls::public_key(sk),
            signature: sk.sign(&genesis_hash, APPROVAL_DST, &[]).to_bytes(),
        }
    }

    /// True if `signature` is `bls_pubkey`'s signature of `genesis_hash` under [`APPROVAL_DST`]
    /// (key and signature are validated, as for reports).
    pub fn signature_valid(&self) -> bool {
        let Ok(key) = PublicKey::key_validate(&self.bls_pubkey) else { return false };
        let Ok(sig) = Signature::sig_validate(&self.signature, true) else { return false };
        sig.verify(true, &self.genesis_hash, APPROVAL_DST, &[], &key, true) == BLST_ERROR::BLST_SUCCESS
    }

    /// The file form: pretty JSON and a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("approvals serialize");
        s.push('\n');
        s
    }

    /// Parses the file form.
    pub fn from_json(text: &str) -> Result<Approval, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// What is wrong with a set of approvals; `Display` is one line naming the member (index and
/// key prefix) and the file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApprovalProblem {
    /// A member has no approval at all.
    #[error("member {member} ({key}): no approval of this genesis (hash {genesis})")]
    Missing { member: usize, key: String, genesis: String },
    /// An approval of another genesis.
    #[error("{file}: {who} approves {approves}, this genesis is {genesis}; the signer approved another genesis file")]
    OtherGenesis { file: String, who: String, approves: String, genesis: String },
    /// An approval by a key that is not in the committee.
    #[error("{file}: signed by {key}, which is not a committee member of this genesis")]
    NotMember { file: String, key: String },
    /// The signature does not verify.
    #[error("{file}: member {member} ({key}): the signature does not verify as this key's approval of {genesis}")]
    BadSignature { file: String, member: usize, key: String, genesis: String },
}

/// The first six bytes of a key as `0x` hex and an ellipsis: enough to tell members apart.
pub fn key_prefix(key: &[u8; 48]) -> String {
    format!("{}…", hex::encode(&key[..6]))
}

/// Every problem with `approvals` (each with the name of its file) of `genesis`: approvals of
/// another hash, by a non-member or with a bad signature, one line each, then every member
/// that no approval names, in member order. Empty means every member approved this genesis.
pub fn check_approvals(genesis: &Genesis, approvals: &[(String, Approval)]) -> Vec<ApprovalProblem> {
    let hash = genesis.hash();
    let shown = hex::encode(&hash);
    let members = &genesis.committee.members;
    let mut named = vec![false; members.len()];
    let mut problems = Vec::new();
    for (file, a) in approvals {
        let key = key_prefix(&a.bls_pubkey);
        let index = members.iter().position(|m| m.bls_pubkey == a.bls_pubkey);
        if let Some(i) = index {
            named[i] = true;
        }
        if a.genesis_hash != hash {
            let who = match index {
                Some(i) => format!("member {i} ({key})"),
                None => format!("{key} (not a member)"),
            };
            let approves = hex::encode(&a.genesis_hash);
            problems.push(ApprovalProblem::OtherGenesis { file: file.clone(), who, approves, genesis: shown.clone() });
            continue;
        }
        match index {
            None => problems.push(ApprovalProblem::NotMember { file: file.clone(), key }),
            Some(member) if !a.signature_valid() => {
                problems.push(ApprovalProblem::BadSignature { file: file.clone(), member, key, genesis: shown.clone() })
            }
            Some(_) => {}
        }
    }
    for (member, m) in members.iter().enumerate() {
        if !named[member] {
            problems.push(ApprovalProblem::Missing { member, key: key_prefix(&m.bls_pubkey), genesis: shown.clone() });
        }
    }
    problems
}

#[cfg(test)]
mod tests;
