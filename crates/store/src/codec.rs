//! Canonical binary encoding of stored values: big-endian integers, fixed widths,
//! a leading format version byte.

use crate::AccountingCursor;
use claystack_accounting::{EpochFlows, PubkeyGwei, Tally, ValidatorGwei};
use claystack_primitives::ExecutionLink;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CodecError {
    /// A value written by a format version this build does not read.
    #[error("unknown format version {0}")]
    Version(u8),
    /// A value of the wrong length for its kind.
    #[error("value has {got} bytes, expected {expected}")]
    Length { expected: usize, got: usize },
    /// A value whose bytes do not decode (the text says how).
    #[error("{0}")]
    Malformed(String),
}

const V1: u8 = 1;
const TALLY_BYTES: usize = 8 + 4 * 3;

pub fn encode_tallies(tallies: &[Tally]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + tallies.len() * TALLY_BYTES);
    out.push(V1);
    for t in tallies {
        out.extend_from_slice(&t.validator.to_be_bytes());
        out.extend_from_slice(&t.duties.to_be_bytes());
        out.extend_from_slice(&t.included.to_be_bytes());
        out.extend_from_slice(&t.timely.to_be_bytes());
    }
    out
}

pub fn decode_tallies(bytes: &[u8]) -> Result<Vec<Tally>, CodecError> {
    let body = versioned(bytes)?;
    if body.len() % TALLY_BYTES != 0 {
        return Err(CodecError::Length { expected: body.len() / TALLY_BYTES * TALLY_BYTES + 1, got: bytes.len() });
    }
    Ok(body
        .chunks_exact(TALLY_BYTES)
        .map(|c| Tally {
            validator: u64::from_be_bytes(c[0..8].try_into().unwrap()),
            duties: u32::from_be_bytes(c[8..12].try_into().unwrap()),
            included: u32::from_be_bytes(c[12..16].try_into().unwrap()),
            timely: u32::from_be_bytes(c[16..20].try_into().unwrap()),
        })
        .collect())
}

/// A sorted validator index set: version byte, then 8 bytes an index.
pub fn encode_indices(indices: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + indices.len() * 8);
    out.push(V1);
    for i in indices {
        out.extend_from_slice(&i.to_be_bytes());
    }
    out
}

pub fn decode_indices(bytes: &[u8]) -> Result<Vec<u64>, CodecError> {
    let body = versioned(bytes)?;
    if body.len() % 8 != 0 {
        return Err(CodecError::Length { expected: body.len() / 8 * 8 + 1, got: bytes.len() });
    }
    Ok(body.chunks_exact(8).map(|c| u64::from_be_bytes(c.try_into().unwrap())).collect())
}

const CURSOR_BYTES: usize = 8 + 32 + 1 + 8 + 8 + 32 + 32;

pub fn encode_cursor(c: &AccountingCursor) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + CURSOR_BYTES);
    out.push(V1);
    out.extend_from_slice(&c.next_epoch.to_be_bytes());
    out.extend_from_slice(&c.tracked_hash);
    match &c.anchor {
        None => out.extend_from_slice(&[0u8; 1 + 8 + 8 + 32 + 32]),
        Some((slot, link)) => {
            out.push(1);
            out.extend_from_slice(&slot.to_be_bytes());
            out.extend_from_slice(&link.block_number.to_be_bytes());
            out.extend_from_slice(&link.block_hash);
            out.extend_from_slice(&link.parent_hash);
        }
    }
    out
}

pub fn decode_cursor(bytes: &[u8]) -> Result<AccountingCursor, CodecError> {
    let b = versioned(bytes)?;
    if b.len() != CURSOR_BYTES {
        return Err(CodecError::Length { expected: CURSOR_BYTES + 1, got: bytes.len() });
    }
    let u64_at = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().unwrap());
    let anchor = (b[40] == 1).then(|| {
        (
            u64_at(41),
            ExecutionLink {
                block_number: u64_at(49),
                block_hash: b[57..89].try_into().unwrap(),
                parent_hash: b[89..121].try_into().unwrap(),
            },
        )
    });
    Ok(AccountingCursor { next_epoch: u64_at(0), tracked_hash: b[8..40].try_into().unwrap(), anchor })
}

/// An epoch's flows (without the epoch, which is the key): a 4-byte count of withdrawals,
/// each validator and gwei (8 + 8 bytes), then a 4-byte count of deposits, each public key and
/// gwei (48 + 8 bytes).
pub fn encode_flows(f: &EpochFlows) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 8 + f.withdrawals.len() * 16 + f.deposits.len() * 56);
    out.push(V1);
    out.extend_from_slice(&(f.withdrawals.len() as u32).to_be_bytes());
    for w in &f.withdrawals {
        out.extend_from_slice(&w.validator.to_be_bytes());
        out.extend_from_slice(&w.gwei.to_be_bytes());
    }
    out.extend_from_slice(&(f.deposits.len() as u32).to_be_bytes());
    for d in &f.deposits {
        out.extend_from_slice(&d.pubkey);
        out.extend_from_slice(&d.gwei.to_be_bytes());
    }
    out
}

pub fn decode_flows(epoch: u64, bytes: &[u8]) -> Result<EpochFlows, CodecError> {
    let mut r = Reader(versioned(bytes)?);
    let withdrawals = (0..r.u32()?)
        .map(|_| Ok(ValidatorGwei { validator: r.u64()?, gwei: r.u64()? }))
        .collect::<Result<_, CodecError>>()?;
    let deposits = (0..r.u32()?)
        .map(|_| Ok(PubkeyGwei { pubkey: r.array()?, gwei: r.u64()? }))
        .collect::<Result<_, CodecError>>()?;
    if !r.0.is_empty() {
        return Err(CodecError::Malformed(format!("{} bytes after the flows", r.0.len())));
    }
    Ok(EpochFlows { epoch, withdrawals, deposits })
}

/// Reads fixed-width big-endian fields off the front of a value.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        if self.0.len() < N {
            return Err(CodecError::Malformed(format!("value ends {} bytes short", N - self.0.len())));
        }
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        Ok(head.try_into().expect("split at N"))
    }
    fn u32(&mut self) -> Result<u32, CodecError> {
        self.array().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Result<u64, CodecError> {
        self.array().map(u64::from_be_bytes)
    }
}

fn versioned(bytes: &[u8]) -> Result<&[u8], CodecError> {
    match bytes.split_first() {
        Some((&V1, rest)) => Ok(rest),
        Some((&v, _)) => Err(CodecError::Version(v)),
        None => Err(CodecError::Length { expected: 1, got: 0 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn tallies_round_trip(v in proptest::collection::vec((any::<u64>(), any::<u32>(), any::<u32>(), any::<u32>()), 0..50)) {
            let t: Vec<Tally> = v.into_iter().map(|(validator, duties, included, timely)| Tally { validator, duties, included, timely }).collect();
            prop_assert_eq!(decode_tallies(&encode_tallies(&t)).unwrap(), t);
        }

        #[test]
        fn flows_round_trip(e in any::<u64>(), w in proptest::collection::vec(any::<(u64, u64)>(), 0..20), d in proptest::collection::vec((any::<u8>(), any::<u64>()), 0..20)) {
            let f = EpochFlows {
                epoch: e,
                withdrawals: w.into_iter().map(|(validator, gwei)| ValidatorGwei { validator, gwei }).collect(),
                deposits: d.into_iter().map(|(k, gwei)| PubkeyGwei { pubkey: [k; 48], gwei }).collect(),
            };
            let bytes = encode_flows(&f);
            prop_assert_eq!(decode_flows(e, &bytes).unwrap(), f);
            prop_assert!(decode_flows(e, &bytes[..bytes.len() - 1]).is_err());
        }

        #[test]
        fn cursor_round_trips(e in any::<u64>(), slot in any::<u64>(), n in any::<u64>(), h in any::<[u8; 32]>(), some in any::<bool>()) {
            let c = AccountingCursor { next_epoch: e, tracked_hash: h, anchor: some.then_some((slot, ExecutionLink { block_number: n, block_hash: h, parent_hash: [7; 32] })) };
            prop_assert_eq!(decode_cursor(&encode_cursor(&c)).unwrap(), c);
        }
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(decode_tallies(&[]), Err(CodecError::Length { expected: 1, got: 0 }));
        assert_eq!(decode_tallies(&[9]), Err(CodecError::Version(9)));
        assert!(decode_tallies(&[1, 0, 0]).is_err());
        assert!(decode_cursor(&[1, 2, 3]).is_err());
    }
}
