//! The 32 bytes every committee member signs for a report, exactly as `docs/signing.md`
//! fixes them: `keccak256` of a 224-byte `abi.encode` of the domain, the chain id, the
//! NodeManager address, the report kind and number, the Merkle root and the report hash.
//! The contract recomputes the same bytes on chain, so nothing here may change without
//! changing the document, the contract and the version in [`REPORT_DOMAIN_TAG`].

use claystack_merkle::keccak256;
use claystack_primitives::ReportId;

/// The ASCII tag whose `keccak256` is [`REPORT_DOMAIN`].
pub const REPORT_DOMAIN_TAG: &[u8] = b"claystack-oracle/report-signature/v1";

/// `keccak256(REPORT_DOMAIN_TAG)`, the first word of every signing preimage.
pub const REPORT_DOMAIN: [u8; 32] = [
    0xb4, 0xf0, 0xe6, 0xa1, 0xaa, 0x1d, 0x72, 0xfb, 0x0a, 0xc3, 0xa1, 0xaa, 0x12, 0xc0, 0x1c, 0x51, 0x43, 0x6f, 0x31,
    0x44, 0xd9, 0xeb, 0x32, 0xbd, 0x51, 0xf9, 0x3d, 0x06, 0x6a, 0x95, 0x75, 0x4d,
];

/// Length of the signing preimage: seven 32-byte ABI words.
pub const PREIMAGE_LEN: usize = 7 * 32;

/// Where a signature is valid: one execution chain and one NodeManager contract (genesis
/// `chain_id` and `contracts.node_manager`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningDomain {
    pub chain_id: u64,
    pub node_manager: [u8; 20],
}

/// The 32 bytes a member signs for one report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SigningRoot(pub [u8; 32]);

impl SigningRoot {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl SigningDomain {
    /// The 224-byte `abi.encode(REPORT_DOMAIN, chain_id, node_manager, kind, number, merkle_root, report_hash)`.
    pub fn preimage(&self, id: ReportId, merkle_root: &[u8; 32], report_hash: &[u8; 32]) -> [u8; PREIMAGE_LEN] {
        let mut out = [0u8; PREIMAGE_LEN];
        out[..32].copy_from_slice(&REPORT_DOMAIN);
        out[64 - 8..64].copy_from_slice(&self.chain_id.to_be_bytes());
        out[96 - 20..96].copy_from_slice(&self.node_manager);
        out[127] = id.kind.byte();
        out[160 - 8..160].copy_from_slice(&id.number.to_be_bytes());
        out[160..192].copy_from_slice(merkle_root);
        out[192..224].copy_from_slice(report_hash);
        out
    }

    /// `keccak256` of [`preimage`](SigningDomain::preimage).
    pub fn signing_root(&self, id: ReportId, merkle_root: &[u8; 32], report_hash: &[u8; 32]) -> SigningRoot {
        SigningRoot(keccak256(&self.preimage(id, merkle_root, report_hash)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use claystack_primitives::ReportKind;

    #[test]
    fn domain_is_keccak_of_its_tag() {
        assert_eq!(keccak256(REPORT_DOMAIN_TAG), REPORT_DOMAIN);
    }

    #[test]
    fn every_field_changes_the_root() {
        let d = SigningDomain { chain_id: 1, node_manager: [7; 20] };
        let id = ReportId::new(ReportKind::Rewards, 3);
        let base = d.signing_root(id, &[1; 32], &[2; 32]);
        let others = [
            SigningDomain { chain_id: 2, ..d }.signing_root(id, &[1; 32], &[2; 32]),
            SigningDomain { node_manager: [8; 20], ..d }.signing_root(id, &[1; 32], &[2; 32]),
            d.signing_root(ReportId::new(ReportKind::Exits, 3), &[1; 32], &[2; 32]),
            d.signing_root(ReportId::new(ReportKind::Rewards, 4), &[1; 32], &[2; 32]),
            d.signing_root(id, &[3; 32], &[2; 32]),
            d.signing_root(id, &[1; 32], &[3; 32]),
        ];
        for o in others {
            assert_ne!(o, base);
        }
    }
}
