//! The gossip message: one member's signature of one report, in a canonical fixed-size
//! binary encoding. Fixed size means no length fields to lie about, one byte string per
//! message (so gossipsub's content-based ids deduplicate exactly) and a size check that
//! rejects anything else before decoding.
//!
//! | bytes    | field        | encoding                               |
//! |----------|--------------|----------------------------------------|
//! | 0        | version      | [`MESSAGE_VERSION`]                    |
//! | 1        | kind         | 0 rewards, 1 exits                     |
//! | 2..10    | number       | u64 big-endian, at least 1             |
//! | 10..42   | merkle_root  | 32 bytes                               |
//! | 42..74   | report_hash  | 32 bytes                               |
//! | 74..76   | signer       | u16 big-endian member index            |
//! | 76..172  | signature    | compressed G2 signature, 96 bytes      |
//!
//! The chain id and contract are not carried: they are part of the signed bytes, so a
//! message meant for another chain or contract simply fails verification.

use claystack_primitives::{ReportId, ReportKind};
use thiserror::Error;

/// The only encoding version this crate writes and reads.
pub const MESSAGE_VERSION: u8 = 1;

/// Length of every encoded message.
pub const MESSAGE_LEN: usize = 1 + 1 + 8 + 32 + 32 + 2 + 96;

/// The largest message the p2p layer should accept (every valid message has exactly this size).
pub const MAX_MESSAGE_SIZE: usize = MESSAGE_LEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SignatureMessage {
    pub kind: ReportKind,
    pub number: u64,
    pub merkle_root: [u8; 32],
    pub report_hash: [u8; 32],
    /// Member index in genesis `committee.members`.
    pub signer: u16,
    /// Compressed G2 signature of the report's signing root.
    pub signature: [u8; 96],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The message is not exactly `MESSAGE_LEN` bytes long.
    #[error("signature message: {0} bytes, expected {MESSAGE_LEN}")]
    Length(usize),
    /// The version byte is not `MESSAGE_VERSION`.
    #[error("signature message: version {0} is unknown, expected {MESSAGE_VERSION}")]
    Version(u8),
    /// The report kind byte names no `ReportKind`.
    #[error("signature message: report kind {0} is unknown (0 rewards, 1 exits)")]
    Kind(u8),
    /// The report number is 0; numbers start at 1.
    #[error("signature message: report number 0 (numbers start at 1)")]
    ZeroNumber,
}

impl SignatureMessage {
    pub fn id(&self) -> ReportId {
        ReportId { kind: self.kind, number: self.number }
    }

    pub fn encode(&self) -> [u8; MESSAGE_LEN] {
        let mut out = [0u8; MESSAGE_LEN];
        out[0] = MESSAGE_VERSION;
        out[1] = self.kind.byte();
        out[2..10].copy_from_slice(&self.number.to_be_bytes());
        out[10..42].copy_from_slice(&self.merkle_root);
        out[42..74].copy_from_slice(&self.report_hash);
        out[74..76].copy_from_slice(&self.signer.to_be_bytes());
        out[76..].copy_from_slice(&self.signature);
        out
    }

    /// Decodes exactly [`MESSAGE_LEN`] bytes. The signature bytes are not checked here.
    pub fn decode(bytes: &[u8]) -> Result<SignatureMessage, DecodeError> {
        let b: &[u8; MESSAGE_LEN] = bytes.try_into().map_err(|_| DecodeError::Length(bytes.len()))?;
        if b[0] != MESSAGE_VERSION {
            return Err(DecodeError::Version(b[0]));
        }
        let kind = ReportKind::from_byte(b[1]).ok_or(DecodeError::Kind(b[1]))?;
        let number = u64::from_be_bytes(b[2..10].try_into().expect("8 bytes"));
        if number == 0 {
            return Err(DecodeError::ZeroNumber);
        }
        Ok(SignatureMessage {
            kind,
            number,
            merkle_root: b[10..42].try_into().expect("32 bytes"),
            report_hash: b[42..74].try_into().expect("32 bytes"),
            signer: u16::from_be_bytes([b[74], b[75]]),
            signature: b[76..].try_into().expect("96 bytes"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> SignatureMessage {
        SignatureMessage {
            kind: ReportKind::Exits,
            number: 0x0102_0304_0506_0708,
            merkle_root: [0x11; 32],
            report_hash: [0x22; 32],
            signer: 0x0a0b,
            signature: [0x33; 96],
        }
    }

    #[test]
    fn layout_is_as_documented() {
        let e = sample().encode();
        assert_eq!(MESSAGE_LEN, 172);
        assert_eq!(&e[..10], &[1, 1, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(e[10], 0x11);
        assert_eq!(e[73], 0x22);
        assert_eq!(&e[74..76], &[0x0a, 0x0b]);
        assert_eq!(e[171], 0x33);
    }

    #[test]
    fn decode_errors_are_typed() {
        let e = sample().encode();
        assert_eq!(SignatureMessage::decode(&e[..171]), Err(DecodeError::Length(171)));
        assert_eq!(SignatureMessage::decode(&[e.as_slice(), &[0]].concat()), Err(DecodeError::Length(173)));
        let mut v = e;
        v[0] = 2;
        assert_eq!(SignatureMessage::decode(&v), Err(DecodeError::Version(2)));
        let mut k = e;
        k[1] = 7;
        assert_eq!(SignatureMessage::decode(&k), Err(DecodeError::Kind(7)));
        let mut z = e;
        z[2..10].fill(0);
        assert_eq!(SignatureMessage::decode(&z), Err(DecodeError::ZeroNumber));
        assert_eq!(DecodeError::Length(3).to_string(), "signature message: 3 bytes, expected 172");
    }

    proptest! {
        #[test]
        fn round_trips(kind in 0u8..2, number in 1u64.., root in any::<[u8; 32]>(), hash in any::<[u8; 32]>(),
                       signer in any::<u16>(), sig in proptest::collection::vec(any::<u8>(), 96)) {
            let m = SignatureMessage {
                kind: ReportKind::from_byte(kind).unwrap(), number, merkle_root: root, report_hash: hash, signer,
                signature: sig.try_into().unwrap(),
            };
            prop_assert_eq!(SignatureMessage::decode(&m.encode()), Ok(m));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(m) = SignatureMessage::decode(&bytes) {
                let again = m.encode();
                prop_assert_eq!(again.as_slice(), bytes.as_slice());
            }
        }
    }
}
