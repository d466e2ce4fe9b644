//! The second gossip message: one member's [`Sections`] of a report, signed, so that members
//! with different roots can name the input that differs (`claystack_primitives::sections`).
//! Diagnostics only: it never counts toward a quorum, and nothing but a log line follows from
//! it.
//!
//! | bytes    | field        | encoding                               |
//! |----------|--------------|----------------------------------------|
//! | 0        | version      | [`DIGEST_VERSION`] (a signature is 1)  |
//! | 1        | kind         | 0 rewards, 1 exits                     |
//! | 2..10    | number       | u64 big-endian, at least 1             |
//! | 10..42   | merkle_root  | the root the member computed           |
//! | 42..44   | signer       | u16 big-endian member index            |
//! | 44..332  | sections     | 9 entries of 32 bytes                  |
//! | 332..428 | signature    | compressed G2 signature, 96 bytes      |
//!
//! The signature is over `keccak256(DIGEST_DOMAIN || bytes 0..332)`: a domain no report
//! signing root can have, so a digest's signature is never a report signature.

use crate::message::DecodeError;
use claystack_primitives::sections::{Sections, SECTION_COUNT};
use claystack_primitives::{ReportId, ReportKind};

pub const DIGEST_VERSION: u8 = 2;

const SIGNED_LEN: usize = 1 + 1 + 8 + 32 + 2 + 32 * SECTION_COUNT;

/// Length of every encoded digest.
pub const DIGEST_LEN: usize = SIGNED_LEN + 96;

/// Prefix of the signed bytes.
pub const DIGEST_DOMAIN: &[u8] = b"claystack-report-sections-v1\0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionDigest {
    pub kind: ReportKind,
    pub number: u64,
    pub merkle_root: [u8; 32],
    pub signer: u16,
    pub sections: Sections,
    pub signature: [u8; 96],
}

impl SectionDigest {
    pub fn id(&self) -> ReportId {
        ReportId { kind: self.kind, number: self.number }
    }

    fn signed_bytes(&self) -> [u8; SIGNED_LEN] {
        let mut out = [0u8; SIGNED_LEN];
        out[0] = DIGEST_VERSION;
        out[1] = self.kind.byte();
        out[2..10].copy_from_slice(&self.number.to_be_bytes());
        out[10..42].copy_from_slice(&self.merkle_root);
        out[42..44].copy_from_slice(&self.signer.to_be_bytes());
        for (i, s) in self.sections.iter().enumerate() {
            out[44 + 32 * i..76 + 32 * i].copy_from_slice(s);
        }
        out
    }

    /// What the member signs: 32 bytes under the domain.
    pub fn signing_root(&self) -> [u8; 32] {
        claystack_merkle::keccak256(&[DIGEST_DOMAIN, &self.signed_bytes()[..]].concat())
    }

    pub fn encode(&self) -> [u8; DIGEST_LEN] {
        let mut out = [0u8; DIGEST_LEN];
        out[..SIGNED_LEN].copy_from_slice(&self.signed_bytes());
        out[SIGNED_LEN..].copy_from_slice(&self.signature);
        out
    }

    /// Decodes exactly [`DIGEST_LEN`] bytes. The signature is not checked here.
    pub fn decode(bytes: &[u8]) -> Result<SectionDigest, DecodeError> {
        let b: &[u8; DIGEST_LEN] = bytes.try_into().map_err(|_| DecodeError::Length(bytes.len()))?;
        if b[0] != DIGEST_VERSION {
            return Err(DecodeError::Version(b[0]));
        }
        let kind = ReportKind::from_byte(b[1]).ok_or(DecodeError::Kind(b[1]))?;
        let number = u64::from_be_bytes(b[2..10].try_into().expect("8 bytes"));
        if number == 0 {
            return Err(DecodeError::ZeroNumber);
        }
        let mut sections = [[0u8; 32]; SECTION_COUNT];
        for (i, s) in sections.iter_mut().enumerate() {
            s.copy_from_slice(&b[44 + 32 * i..76 + 32 * i]);
        }
        Ok(SectionDigest {
            kind,
            number,
            merkle_root: b[10..42].try_into().expect("32 bytes"),
            signer: u16::from_be_bytes([b[42], b[43]]),
            sections,
            signature: b[SIGNED_LEN..].try_into().expect("96 bytes"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> SectionDigest {
        let mut sections = [[0u8; 32]; SECTION_COUNT];
        for (i, s) in sections.iter_mut().enumerate() {
            *s = [i as u8 + 1; 32];
        }
        SectionDigest {
            kind: ReportKind::Rewards,
            number: 7,
            merkle_root: [0x11; 32],
            signer: 3,
            sections,
            signature: [0x33; 96],
        }
    }

    #[test]
    fn layout_round_trip_and_errors() {
        let e = sample().encode();
        assert_eq!(DIGEST_LEN, 428);
        assert_eq!(&e[..3], &[2, 0, 0]);
        assert_eq!((e[43], e[44], e[331], e[332]), (3, 1, 9, 0x33));
        assert_eq!(SectionDigest::decode(&e), Ok(sample()));
        assert_eq!(SectionDigest::decode(&e[..427]), Err(DecodeError::Length(427)));
        let mut v = e;
        v[0] = 1;
        assert_eq!(SectionDigest::decode(&v), Err(DecodeError::Version(1)));
        // The signature is not part of what is signed; every other byte is.
        let mut other = sample();
        other.signature = [0x44; 96];
        assert_eq!(other.signing_root(), sample().signing_root());
        other.sections[8][0] ^= 1;
        assert_ne!(other.signing_root(), sample().signing_root());
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..500)) {
            let _ = SectionDigest::decode(&bytes);
        }
    }
}
