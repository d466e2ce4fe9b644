//! SSZ bitfields as the Beacon API sends them: `0x`-hex of the SSZ bytes.
//!
//! Bit `i` is bit `i % 8` (least significant first) of byte `i / 8`. A `Bitlist`
//! carries its own length: one extra sentinel bit set just past the last bit,
//! so its last byte is never zero. A `Bitvector[N]` has exactly `ceil(N/8)`
//! bytes and no bit set at or beyond `N`.

use crate::hex;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum BitsError {
    /// The bitfield is not 0x-hex. The cause is printed in the message, not kept as a
    /// source, so `anyhow`'s `{:#}` prints it once.
    #[error("bitfield is not valid hex: {0}")]
    Hex(hex::HexError),
    /// A bitlist without its length sentinel bit.
    #[error("bitlist is empty or its last byte is zero (no length sentinel)")]
    NoSentinel,
    /// A bitvector of the wrong byte length.
    #[error("bitvector of {bits} bits needs {expected} bytes, got {got}")]
    VectorLength { bits: usize, expected: usize, got: usize },
    /// A bitvector with a bit set in its padding.
    #[error("bitvector of {0} bits has a bit set beyond its length")]
    VectorPadding(usize),
}

impl From<hex::HexError> for BitsError {
    fn from(error: hex::HexError) -> Self {
        BitsError::Hex(error)
    }
}

/// An SSZ `Bitlist`: a bit string of a length carried by its sentinel bit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitlist {
    bytes: Vec<u8>,
    len: usize,
}

impl Bitlist {
    /// Reads the API's `0x…` form.
    pub fn from_hex(s: &str) -> Result<Self, BitsError> {
        Self::from_ssz(hex::decode(s)?)
    }

    /// Reads SSZ bytes (with the sentinel bit).
    pub fn from_ssz(mut bytes: Vec<u8>) -> Result<Self, BitsError> {
        let last = *bytes.last().ok_or(BitsError::NoSentinel)?;
        if last == 0 {
            return Err(BitsError::NoSentinel);
        }
        let top = 7 - last.leading_zeros() as usize;
        let len = (bytes.len() - 1) * 8 + top;
        // Drop the sentinel so `bytes` holds only data bits.
        let n = bytes.len();
        bytes[n - 1] &= !(1u8 << top);
        Ok(Bitlist { bytes, len })
    }

    /// A list of `len` zero bits.
    pub fn zeros(len: usize) -> Self {
        Bitlist { bytes: vec![0; len / 8 + 1], len }
    }

    /// A list of `len` one bits.
    pub fn ones(len: usize) -> Self {
        let mut b = Self::zeros(len);
        for byte in b.bytes.iter_mut().take(len / 8) {
            *byte = 0xff;
        }
        if !len.is_multiple_of(8) {
            b.bytes[len / 8] = (1u8 << (len % 8)) - 1;
        }
        b
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bit `i`; false past the end.
    pub fn get(&self, i: usize) -> bool {
        i < self.len && self.bytes[i / 8] >> (i % 8) & 1 == 1
    }

    /// Sets bit `i` (must be below `len`).
    pub fn set(&mut self, i: usize, value: bool) {
        assert!(i < self.len, "bit {i} beyond bitlist length {}", self.len);
        if value {
            self.bytes[i / 8] |= 1 << (i % 8);
        } else {
            self.bytes[i / 8] &= !(1 << (i % 8));
        }
    }

    pub fn count_ones(&self) -> usize {
        self.bytes.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// SSZ bytes, sentinel included.
    pub fn to_ssz(&self) -> Vec<u8> {
        let mut out = self.bytes[..self.len / 8 + 1].to_vec();
        out[self.len / 8] |= 1 << (self.len % 8);
        out
    }

    /// The API's `0x…` form.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.to_ssz())
    }
}

/// An SSZ `Bitvector[N]` of a length fixed by the type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitvector {
    bytes: Vec<u8>,
    len: usize,
}

impl Bitvector {
    /// Reads the API's `0x…` form of a `Bitvector[len]`.
    pub fn from_hex(s: &str, len: usize) -> Result<Self, BitsError> {
        let bytes = hex::decode(s)?;
        let expected = len.div_ceil(8);
        if bytes.len() != expected {
            return Err(BitsError::VectorLength { bits: len, expected, got: bytes.len() });
        }
        if !len.is_multiple_of(8) && bytes[expected - 1] >> (len % 8) != 0 {
            return Err(BitsError::VectorPadding(len));
        }
        Ok(Bitvector { bytes, len })
    }

    pub fn zeros(len: usize) -> Self {
        Bitvector { bytes: vec![0; len.div_ceil(8)], len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, i: usize) -> bool {
        i < self.len && self.bytes[i / 8] >> (i % 8) & 1 == 1
    }

    pub fn set(&mut self, i: usize, value: bool) {
        assert!(i < self.len, "bit {i} beyond bitvector length {}", self.len);
        if value {
            self.bytes[i / 8] |= 1 << (i % 8);
        } else {
            self.bytes[i / 8] &= !(1 << (i % 8));
        }
    }

    /// Indices of the set bits, ascending.
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len).filter(|&i| self.get(i))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(&self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spec_examples() {
        // 0b0000_0001: the sentinel alone, an empty list.
        assert_eq!(Bitlist::from_hex("0x01").unwrap().len(), 0);
        // 0b0000_1101: length 3, bits 1,0,1.
        let b = Bitlist::from_hex("0x0d").unwrap();
        assert_eq!(b.len(), 3);
        assert!(b.get(0) && !b.get(1) && b.get(2) && !b.get(3));
        // 8 bits all set need a second byte for the sentinel.
        let b = Bitlist::from_hex("0xff01").unwrap();
        assert_eq!((b.len(), b.count_ones()), (8, 8));
        assert_eq!(Bitlist::from_hex("0x"), Err(BitsError::NoSentinel));
        assert_eq!(Bitlist::from_hex("0xff00"), Err(BitsError::NoSentinel));
        let v = Bitvector::from_hex("0x0500000000000000", 64).unwrap();
        assert_eq!(v.ones().collect::<Vec<_>>(), vec![0, 2]);
        assert!(matches!(Bitvector::from_hex("0x05", 64), Err(BitsError::VectorLength { .. })));
        assert_eq!(Bitvector::from_hex("0x10", 4), Err(BitsError::VectorPadding(4)));
    }

    proptest! {
        #[test]
        fn bitlist_round_trips(bits in proptest::collection::vec(any::<bool>(), 0..300)) {
            let mut b = Bitlist::zeros(bits.len());
            for (i, &x) in bits.iter().enumerate() { b.set(i, x); }
            let back = Bitlist::from_hex(&b.to_hex()).unwrap();
            prop_assert_eq!(back.len(), bits.len());
            for (i, &x) in bits.iter().enumerate() { prop_assert_eq!(back.get(i), x); }
            prop_assert_eq!(back.count_ones(), bits.iter().filter(|x| **x).count());
            prop_assert_eq!(Bitlist::ones(bits.len()).count_ones(), bits.len());
        }
    }
}
