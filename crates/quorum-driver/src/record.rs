//! Stored forms of the driver's records: certificates (fixed layout, version byte first)
//! and the "accepted on chain" marker of a report's submission state.

use claystack_primitives::{ReportId, ReportKind};
use claystack_quorum::{Certificate, SignerBitmap, SigningRoot};
use claystack_store::{Store, StoreError};

const V1: u8 = 1;
/// 1 version + 1 kind + 8 number + 32 signing root + 32 merkle root + 32 report hash + 32 bitmap + 96 signature.
const CERTIFICATE_LEN: usize = 1 + 1 + 8 + 32 * 4 + 96;

/// The submission state of a report accepted on chain.
pub(crate) const SETTLED: &[u8] = b"settled";

/// Whether the store records report `id` as accepted on chain.
pub fn is_settled(store: &Store, id: ReportId) -> Result<bool, StoreError> {
    Ok(store.submission(id.kind, id.number)?.as_deref() == Some(SETTLED))
}

pub fn encode_certificate(c: &Certificate) -> Vec<u8> {
    let mut out = Vec::with_capacity(CERTIFICATE_LEN);
    out.push(V1);
    out.push(c.id.kind.byte());
    out.extend_from_slice(&c.id.number.to_be_bytes());
    out.extend_from_slice(c.signing_root.as_bytes());
    out.extend_from_slice(&c.merkle_root);
    out.extend_from_slice(&c.report_hash);
    out.extend_from_slice(&c.signers.to_be_bytes());
    out.extend_from_slice(&c.signature);
    out
}

/// `None` when the bytes are not a version-1 certificate.
pub fn decode_certificate(b: &[u8]) -> Option<Certificate> {
    if b.len() != CERTIFICATE_LEN || b[0] != V1 {
        return None;
    }
    let word = |at: usize| -> [u8; 32] { b[at..at + 32].try_into().expect("32 bytes") };
    Some(Certificate {
        id: ReportId {
            kind: ReportKind::from_byte(b[1])?,
            number: u64::from_be_bytes(b[2..10].try_into().expect("8 bytes")),
        },
        signing_root: SigningRoot(word(10)),
        merkle_root: word(42),
        report_hash: word(74),
        signers: SignerBitmap::from_be_bytes(word(106)),
        signature: b[138..234].try_into().expect("96 bytes"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_round_trip_and_garbage_is_refused() {
        let mut signers = SignerBitmap::from_be_bytes([0; 32]);
        for m in [0, 2, 63] {
            signers.insert(m);
        }
        let c = Certificate {
            id: ReportId { kind: ReportKind::Exits, number: 9 },
            signing_root: SigningRoot([1; 32]),
            merkle_root: [2; 32],
            report_hash: [3; 32],
            signers,
            signature: [4; 96],
        };
        let bytes = encode_certificate(&c);
        assert_eq!(bytes.len(), CERTIFICATE_LEN);
        assert_eq!(decode_certificate(&bytes), Some(c));
        assert_eq!(decode_certificate(&bytes[1..]), None);
        let mut bad = bytes.clone();
        bad[0] = 2;
        assert_eq!(decode_certificate(&bad), None);
        bad[0] = 1;
        bad[1] = 7;
        assert_eq!(decode_certificate(&bad), None);
    }
}
