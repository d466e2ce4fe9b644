//! `0x`-prefixed hex, as the Beacon API writes byte strings.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum HexError {
    /// No `0x` prefix.
    #[error("hex string does not start with 0x")]
    MissingPrefix,
    /// An odd number of hex digits.
    #[error("hex string has an odd number of digits ({0})")]
    OddLength(usize),
    /// A character that is not a hex digit.
    #[error("hex string has a non-hex character at position {0}")]
    BadDigit(usize),
    /// Valid hex of the wrong length.
    #[error("expected {expected} bytes of hex, got {got}")]
    WrongLength { expected: usize, got: usize },
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes `0x…` into bytes.
pub fn decode(s: &str) -> Result<Vec<u8>, HexError> {
    let digits = s.strip_prefix("0x").ok_or(HexError::MissingPrefix)?.as_bytes();
    if digits.len() % 2 != 0 {
        return Err(HexError::OddLength(digits.len()));
    }
    let mut out = Vec::with_capacity(digits.len() / 2);
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let hi = nibble(pair[0]).ok_or(HexError::BadDigit(2 + 2 * i))?;
        let lo = nibble(pair[1]).ok_or(HexError::BadDigit(3 + 2 * i))?;
        out.push(hi << 4 | lo);
    }
    Ok(out)
}

/// Decodes `0x…` into exactly `N` bytes.
pub fn decode_fixed<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let v = decode(s)?;
    v.as_slice().try_into().map_err(|_| HexError::WrongLength { expected: N, got: v.len() })
}

/// Encodes bytes as lower-case `0x…`.
pub fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    encode_into(bytes, &mut s);
    s
}

/// Appends the lower-case hex digits of `bytes` (no prefix) to `out`.
pub fn encode_into(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
}

/// Serde for a fixed-size byte array as `0x`-hex (a validator public key, a hash):
/// `#[serde(with = "claystack_primitives::hex::fixed")]`.
pub mod fixed {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(bytes: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
        let s = <&str>::deserialize(d)?;
        super::decode_fixed::<N>(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        assert_eq!(decode("0x").unwrap(), Vec::<u8>::new());
        assert_eq!(decode("0x00ffA0").unwrap(), vec![0, 255, 160]);
        assert_eq!(encode(&[0, 255, 160]), "0x00ffa0");
        assert_eq!(decode("00"), Err(HexError::MissingPrefix));
        assert_eq!(decode("0x0"), Err(HexError::OddLength(1)));
        assert_eq!(decode("0x0g"), Err(HexError::BadDigit(3)));
        assert_eq!(decode_fixed::<2>("0x0102").unwrap(), [1, 2]);
        assert_eq!(decode_fixed::<3>("0x0102"), Err(HexError::WrongLength { expected: 3, got: 2 }));
    }
}
