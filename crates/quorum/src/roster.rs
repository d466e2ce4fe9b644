//! The committee as signature collection sees it: where signatures are valid (chain and
//! contract), the members' parsed public keys in genesis order, and the threshold; and the
//! signer bitmap that names members on chain.

use crate::bls::{self, BlsError, PUBLIC_KEY_LEN};
use crate::signing::{SigningDomain, SigningRoot};
use blst::min_pk::{PublicKey, Signature};
use claystack_genesis::Genesis;
use claystack_primitives::ReportId;
use thiserror::Error;

/// Members a `uint256` signer bitmap can name.
pub const MAX_MEMBERS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RosterError {
    /// The committee lists no member.
    #[error("committee: has no members")]
    Empty,
    /// More members than the signer bitmap can name.
    #[error("committee: {0} members; a uint256 signer bitmap names at most {MAX_MEMBERS}")]
    TooMany(usize),
    /// The threshold is not a strict majority of the members, or exceeds them.
    #[error("committee: threshold {threshold} of {members} members is not a strict majority (at least {min}) or exceeds the members")]
    Threshold { threshold: u32, members: usize, min: usize },
    /// A member's public key does not decode. The cause is a field named `error`, not
    /// `source`: the message already prints it, and `anyhow`'s `{:#}` would repeat a source.
    #[error("committee member {member}: {error}")]
    Key { member: usize, error: BlsError },
    /// Two members have the same public key.
    #[error("committee member {second}: same public key as member {first}")]
    DuplicateKey { first: usize, second: usize },
}

/// The committee, checked: 1 to 256 members with distinct valid keys (registered with
/// proofs of possession: `Genesis::verify` checks those) and a strict-majority threshold.
/// A strict majority matters: honest members sign one root per report, so at most one root
/// can gather a quorum of them.
#[derive(Debug, Clone)]
pub struct Roster {
    domain: SigningDomain,
    threshold: usize,
    keys: Vec<PublicKey>,
    compressed: Vec<[u8; PUBLIC_KEY_LEN]>,
}

impl Roster {
    pub fn new(domain: SigningDomain, threshold: u32, pubkeys: &[[u8; PUBLIC_KEY_LEN]]) -> Result<Roster, RosterError> {
        let n = pubkeys.len();
        if n == 0 {
            return Err(RosterError::Empty);
        }
        if n > MAX_MEMBERS {
            return Err(RosterError::TooMany(n));
        }
        let min = n / 2 + 1;
        if (threshold as usize) < min || threshold as usize > n {
            return Err(RosterError::Threshold { threshold, members: n, min });
        }
        let mut keys = Vec::with_capacity(n);
        for (member, pk) in pubkeys.iter().enumerate() {
            if let Some(first) = pubkeys[..member].iter().position(|k| k == pk) {
                return Err(RosterError::DuplicateKey { first, second: member });
            }
            keys.push(bls::parse_public_key(pk).map_err(|error| RosterError::Key { member, error })?);
        }
        Ok(Roster { domain, threshold: threshold as usize, keys, compressed: pubkeys.to_vec() })
    }

    /// The roster of a genesis (whose proofs of possession `Genesis::verify` has checked).
    pub fn from_genesis(genesis: &Genesis) -> Result<Roster, RosterError> {
        let domain = SigningDomain { chain_id: genesis.chain_id, node_manager: genesis.contracts.node_manager.0 };
        let keys: Vec<[u8; PUBLIC_KEY_LEN]> = genesis.committee.members.iter().map(|m| m.bls_pubkey).collect();
        Roster::new(domain, genesis.committee.threshold, &keys)
    }

    pub fn domain(&self) -> &SigningDomain {
        &self.domain
    }

    /// Number of members.
    pub fn size(&self) -> usize {
        self.keys.len()
    }

    /// Signatures needed for a quorum.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// Member `member`'s key, if it exists.
    pub fn key(&self, member: u16) -> Option<&PublicKey> {
        self.keys.get(member as usize)
    }

    /// Compressed public keys in member order.
    pub fn public_keys(&self) -> &[[u8; PUBLIC_KEY_LEN]] {
        &self.compressed
    }

    /// The member index of a compressed key.
    pub fn index_of(&self, pubkey: &[u8; PUBLIC_KEY_LEN]) -> Option<u16> {
        self.compressed.iter().position(|k| k == pubkey).map(|i| i as u16)
    }

    pub fn signing_root(&self, id: ReportId, merkle_root: &[u8; 32], report_hash: &[u8; 32]) -> SigningRoot {
        self.domain.signing_root(id, merkle_root, report_hash)
    }

    /// True if `sig` is member `member`'s signature of `root`; false for unknown members.
    pub fn verify(&self, member: u16, root: &SigningRoot, sig: &Signature) -> bool {
        self.key(member).is_some_and(|pk| bls::verify(pk, root.as_bytes(), sig))
    }

    /// Submitter of attempt `attempt` for report number `number`: member
    /// `(number + attempt) mod size`, so the first choice rotates with the report number and
    /// each fallback passes to the next member.
    pub fn submitter(&self, number: u64, attempt: u64) -> u16 {
        let n = self.size() as u64;
        ((number % n + attempt % n) % n) as u16
    }
}

/// Which members signed: member `i` is bit `i` of a `uint256`, bit 0 least significant,
/// stored as the 32 big-endian bytes the contract reads (`docs/signing.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct SignerBitmap([u8; 32]);

impl SignerBitmap {
    pub fn from_be_bytes(bytes: [u8; 32]) -> SignerBitmap {
        SignerBitmap(bytes)
    }

    /// The `uint256` as 32 big-endian bytes (`abi.encode` of the contract's argument).
    pub fn to_be_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Sets member `member`'s bit. Panics if `member` is 256 or more (no roster has that many).
    pub fn insert(&mut self, member: u16) {
        assert!((member as usize) < MAX_MEMBERS, "member {member} does not fit a uint256 bitmap");
        self.0[31 - member as usize / 8] |= 1 << (member % 8);
    }

    pub fn contains(&self, member: u16) -> bool {
        (member as usize) < MAX_MEMBERS && self.0[31 - member as usize / 8] & (1 << (member % 8)) != 0
    }

    /// Number of members set.
    pub fn len(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0 == [0; 32]
    }

    /// The members set, ascending.
    pub fn members(&self) -> impl Iterator<Item = u16> + '_ {
        (0..MAX_MEMBERS as u16).filter(|&m| self.contains(m))
    }
}

impl FromIterator<u16> for SignerBitmap {
    fn from_iter<I: IntoIterator<Item = u16>>(iter: I) -> SignerBitmap {
        let mut b = SignerBitmap::default();
        for m in iter {
            b.insert(m);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bls::SecretKeySigner;
    use crate::bls::Signer;

    fn keys(n: u8) -> Vec<[u8; 48]> {
        (1..=n).map(|i| SecretKeySigner::from_bytes(&[i; 32]).unwrap().public_key()).collect()
    }

    #[test]
    fn bitmap_is_a_big_endian_uint256() {
        let b: SignerBitmap = [0u16, 1, 8, 255].into_iter().collect();
        let bytes = b.to_be_bytes();
        assert_eq!(bytes[31], 0b0000_0011);
        assert_eq!(bytes[30], 0b0000_0001);
        assert_eq!(bytes[0], 0b1000_0000);
        assert_eq!(b.len(), 4);
        assert_eq!(b.members().collect::<Vec<_>>(), vec![0, 1, 8, 255]);
        assert!(!b.contains(2) && !b.contains(300));
    }

    #[test]
    fn roster_checks_threshold_keys_and_size() {
        let d = SigningDomain { chain_id: 1, node_manager: [1; 20] };
        let k = keys(4);
        assert!(Roster::new(d, 3, &k).is_ok());
        assert_eq!(Roster::new(d, 2, &k).unwrap_err(), RosterError::Threshold { threshold: 2, members: 4, min: 3 });
        assert!(matches!(Roster::new(d, 5, &k), Err(RosterError::Threshold { .. })));
        assert_eq!(Roster::new(d, 1, &[]).unwrap_err(), RosterError::Empty);
        let mut dup = k.clone();
        dup[3] = dup[1];
        assert_eq!(Roster::new(d, 3, &dup).unwrap_err(), RosterError::DuplicateKey { first: 1, second: 3 });
        let mut bad = k.clone();
        bad[2] = [0; 48];
        assert!(matches!(Roster::new(d, 3, &bad), Err(RosterError::Key { member: 2, .. })));
    }

    #[test]
    fn submitter_rotates_by_number_then_attempt() {
        let r = Roster::new(SigningDomain { chain_id: 1, node_manager: [1; 20] }, 3, &keys(4)).unwrap();
        assert_eq!(r.submitter(1, 0), 1);
        assert_eq!(r.submitter(1, 1), 2);
        assert_eq!(r.submitter(1, 3), 0);
        assert_eq!(r.submitter(6, 0), 2);
        assert_eq!(r.submitter(u64::MAX, u64::MAX), ((u64::MAX % 4) * 2 % 4) as u16);
    }
}
