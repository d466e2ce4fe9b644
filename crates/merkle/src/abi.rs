//! The static Solidity types a leaf may hold, their `abi.encode` words and their JSON form.
//!
//! Only static types are supported: each encodes to one 32-byte word, so a leaf's
//! `abi.encode` is the concatenation of its words. The JSON form is the one a dump written
//! by `@openzeppelin/merkle-tree` holds and its `load` accepts: addresses and `bytes32` as
//! `0x` hex, unsigned integers as decimal strings (JSON numbers cannot carry 256 bits),
//! booleans as JSON booleans.

use serde_json::Value as Json;

use crate::error::MerkleError;
use crate::hash::{from_hex, keccak256, leaf_hash_of_encoded, Hash};

/// A Solidity type of the leaf encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiType {
    Address,
    Bool,
    /// `uintN`, with N the bit width (8..=256, a multiple of 8). `uint` is `uint256`.
    Uint(u16),
    Bytes32,
}

impl AbiType {
    pub fn parse(s: &str) -> Result<Self, MerkleError> {
        let unsupported = || MerkleError::UnsupportedType(s.to_string());
        match s {
            "address" => Ok(Self::Address),
            "bool" => Ok(Self::Bool),
            "bytes32" => Ok(Self::Bytes32),
            "uint" => Ok(Self::Uint(256)),
            _ => {
                let bits: u16 = s.strip_prefix("uint").and_then(|b| b.parse().ok()).ok_or_else(unsupported)?;
                // Reject "uint064" and the like: the type string is hashed nowhere, but a
                // dump must name types the way Solidity does.
                if (8..=256).contains(&bits) && bits.is_multiple_of(8) && s == format!("uint{bits}") {
                    Ok(Self::Uint(bits))
                } else {
                    Err(unsupported())
                }
            }
        }
    }
}

/// One field of a leaf.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    Address([u8; 20]),
    /// Any `uintN`, big-endian; the leaf encoding's width is checked when the leaf is encoded.
    Uint256([u8; 32]),
    Bytes32([u8; 32]),
    Bool(bool),
}

impl Value {
    pub fn uint(n: u128) -> Self {
        let mut word = [0u8; 32];
        word[16..].copy_from_slice(&n.to_be_bytes());
        Self::Uint256(word)
    }

    /// The 32-byte `abi.encode` word of this value as `ty`, or why it does not fit.
    pub fn encode_as(&self, ty: AbiType) -> Result<[u8; 32], String> {
        let mut word = [0u8; 32];
        match (ty, self) {
            (AbiType::Address, Value::Address(a)) => word[12..].copy_from_slice(a),
            (AbiType::Bool, Value::Bool(b)) => word[31] = u8::from(*b),
            (AbiType::Bytes32, Value::Bytes32(b)) => word = *b,
            (AbiType::Uint(bits), Value::Uint256(n)) => {
                let unused = usize::from(32 - bits / 8);
                if n[..unused].iter().any(|&b| b != 0) {
                    return Err(format!("{} is out of range for uint{bits}", u256_to_decimal(n)));
                }
                word = *n;
            }
            (ty, v) => return Err(format!("{v:?} is not a value of type {ty:?}")),
        }
        Ok(word)
    }

    /// The JSON form OpenZeppelin's `load` accepts (see the module comment).
    pub fn to_json(&self) -> Json {
        match self {
            Value::Address(a) => Json::String(checksum_address(a)),
            Value::Uint256(n) => Json::String(u256_to_decimal(n)),
            Value::Bytes32(b) => Json::String(crate::hash::to_hex(b)),
            Value::Bool(b) => Json::Bool(*b),
        }
    }

    /// Reads a value of type `ty` in any form `@metamask/abi-utils` (OpenZeppelin's encoder)
    /// accepts for it that is unambiguous: hex of the exact width for addresses and `bytes32`;
    /// decimal or `0x` hex strings and non-negative JSON integers for `uintN`; booleans or
    /// "true"/"false" for `bool`.
    pub fn from_json(ty: AbiType, json: &Json) -> Result<Self, String> {
        let value = match (ty, json) {
            (AbiType::Address, Json::String(s)) => {
                Value::Address(from_hex(s).ok_or_else(|| format!("'{s}' is not a 20-byte 0x-hex address"))?)
            }
            (AbiType::Bytes32, Json::String(s)) => {
                Value::Bytes32(from_hex(s).ok_or_else(|| format!("'{s}' is not 32 bytes of 0x hex"))?)
            }
            (AbiType::Bool, Json::Bool(b)) => Value::Bool(*b),
            (AbiType::Bool, Json::String(s)) if s == "true" || s == "false" => Value::Bool(s == "true"),
            (AbiType::Uint(_), Json::String(s)) => Value::Uint256(parse_u256(s)?),
            (AbiType::Uint(_), Json::Number(n)) => {
                Value::uint(n.as_u64().ok_or_else(|| format!("{n} is not a non-negative integer"))?.into())
            }
            (ty, json) => return Err(format!("{json} is not a JSON value of type {ty:?}")),
        };
        value.encode_as(ty)?;
        Ok(value)
    }
}

/// The parsed leaf encoding, kept with the type names exactly as given (a dump repeats them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafEncoding {
    names: Vec<String>,
    types: Vec<AbiType>,
}

impl LeafEncoding {
    pub fn new<S: AsRef<str>>(names: &[S]) -> Result<Self, MerkleError> {
        if names.is_empty() {
            return Err(MerkleError::EmptyEncoding);
        }
        let types = names.iter().map(|n| AbiType::parse(n.as_ref())).collect::<Result<_, _>>()?;
        Ok(Self { names: names.iter().map(|n| n.as_ref().to_string()).collect(), types })
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn types(&self) -> &[AbiType] {
        &self.types
    }

    /// `abi.encode(value...)` appended to `buf` (cleared first), so a caller hashing many
    /// leaves reuses one buffer. `index` only labels errors.
    pub fn encode_into(&self, index: usize, value: &[Value], buf: &mut Vec<u8>) -> Result<(), MerkleError> {
        if value.len() != self.types.len() {
            return Err(MerkleError::Arity { index, expected: self.types.len(), got: value.len() });
        }
        buf.clear();
        for (field, (v, ty)) in value.iter().zip(&self.types).enumerate() {
            let word = v.encode_as(*ty).map_err(|reason| MerkleError::InvalidValue { index, field, reason })?;
            buf.extend_from_slice(&word);
        }
        Ok(())
    }

    /// The standard leaf hash `keccak256(keccak256(abi.encode(value...)))`.
    pub fn leaf_hash(&self, value: &[Value]) -> Result<Hash, MerkleError> {
        let mut buf = Vec::with_capacity(32 * self.types.len());
        self.encode_into(0, value, &mut buf)?;
        Ok(leaf_hash_of_encoded(&buf))
    }

    pub(crate) fn value_from_json(&self, index: usize, fields: &[Json]) -> Result<Vec<Value>, MerkleError> {
        if fields.len() != self.types.len() {
            return Err(MerkleError::Arity { index, expected: self.types.len(), got: fields.len() });
        }
        fields
            .iter()
            .zip(&self.types)
            .enumerate()
            .map(|(field, (json, ty))| {
                Value::from_json(*ty, json).map_err(|reason| MerkleError::InvalidValue { index, field, reason })
            })
            .collect()
    }
}

/// EIP-55 mixed-case checksum: the form wallets and block explorers show an address in.
pub fn checksum_address(address: &[u8; 20]) -> String {
    let lower = hex::encode(address);
    let hash = keccak256(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (hash[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0x0f;
        out.push(if nibble >= 8 { c.to_ascii_uppercase() } else { c });
    }
    out
}

/// A big-endian 256-bit integer as four u64 limbs, most significant first.
fn limbs(n: &[u8; 32]) -> [u64; 4] {
    std::array::from_fn(|i| u64::from_be_bytes(n[8 * i..8 * i + 8].try_into().expect("8 bytes")))
}

fn from_limbs(l: &[u64; 4]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, limb) in l.iter().enumerate() {
        out[8 * i..8 * i + 8].copy_from_slice(&limb.to_be_bytes());
    }
    out
}

pub fn u256_to_decimal(n: &[u8; 32]) -> String {
    const CHUNK: u64 = 10_000_000_000_000_000_000; // 10^19, the largest power of ten in a u64
    let mut l = limbs(n);
    let mut chunks = Vec::with_capacity(5);
    loop {
        let mut rem: u128 = 0;
        for limb in l.iter_mut() {
            let cur = (rem << 64) | u128::from(*limb);
            *limb = (cur / u128::from(CHUNK)) as u64;
            rem = cur % u128::from(CHUNK);
        }
        chunks.push(rem as u64);
        if l.iter().all(|&x| x == 0) {
            break;
        }
    }
    let mut out = chunks.pop().expect("at least one chunk").to_string();
    for chunk in chunks.iter().rev() {
        out.push_str(&format!("{chunk:019}"));
    }
    out
}

/// Parses a decimal string, or `0x` hex, into a 256-bit big-endian integer.
pub fn parse_u256(s: &str) -> Result<[u8; 32], String> {
    let bad = || format!("'{s}' is not an unsigned integer (decimal or 0x hex)");
    if let Some(digits) = s.strip_prefix("0x") {
        if digits.is_empty() || digits.len() > 64 {
            return Err(bad());
        }
        let padded = format!("{digits:0>64}");
        let mut out = [0u8; 32];
        hex::decode_to_slice(padded, &mut out).map_err(|_| bad())?;
        return Ok(out);
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let mut l = [0u64; 4];
    for d in s.bytes() {
        let mut carry = u128::from(d - b'0');
        for limb in l.iter_mut().rev() {
            let cur = u128::from(*limb) * 10 + carry;
            *limb = cur as u64;
            carry = cur >> 64;
        }
        if carry != 0 {
            return Err(format!("'{s}' does not fit in 256 bits"));
        }
    }
    Ok(from_limbs(&l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_types() {
        assert_eq!(AbiType::parse("uint"), Ok(AbiType::Uint(256)));
        assert_eq!(AbiType::parse("uint64"), Ok(AbiType::Uint(64)));
        assert_eq!(AbiType::parse("bytes32"), Ok(AbiType::Bytes32));
        for bad in ["uint7", "uint264", "uint064", "int256", "string", "bytes", "address[]"] {
            assert!(AbiType::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decimal_round_trip_at_the_edges() {
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(parse_u256(max).unwrap(), [0xff; 32]);
        assert_eq!(u256_to_decimal(&[0xff; 32]), max);
        assert!(parse_u256("115792089237316195423570985008687907853269984665640564039457584007913129639936").is_err());
        assert_eq!(u256_to_decimal(&[0; 32]), "0");
        assert_eq!(u256_to_decimal(&parse_u256("10000000000000000000").unwrap()), "10000000000000000000");
        assert_eq!(Value::Uint256(parse_u256("0x10").unwrap()), Value::uint(16));
        for bad in ["", "-1", "1e18", "0x", " 1", "0xzz"] {
            assert!(parse_u256(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn checksum_matches_eip55_vectors() {
        for addr in ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"] {
            assert_eq!(checksum_address(&from_hex(addr).unwrap()), addr);
        }
    }

    #[test]
    fn uint_width_is_checked() {
        assert!(Value::uint(u128::from(u64::MAX)).encode_as(AbiType::Uint(64)).is_ok());
        assert!(Value::uint(u128::from(u64::MAX) + 1).encode_as(AbiType::Uint(64)).is_err());
        assert!(Value::Bool(true).encode_as(AbiType::Uint(256)).is_err());
    }

    #[test]
    fn json_forms() {
        let v = Value::from_json(AbiType::Uint(256), &Json::from("5000000000000000000")).unwrap();
        assert_eq!(v, Value::uint(5_000_000_000_000_000_000));
        assert_eq!(v.to_json(), Json::from("5000000000000000000"));
        assert_eq!(Value::from_json(AbiType::Uint(8), &Json::from(255)).unwrap(), Value::uint(255));
        assert!(Value::from_json(AbiType::Uint(8), &Json::from(256)).is_err());
        assert!(Value::from_json(AbiType::Uint(256), &Json::from(-1)).is_err());
        assert_eq!(Value::from_json(AbiType::Bool, &Json::from("true")).unwrap(), Value::Bool(true));
        assert!(Value::from_json(AbiType::Address, &Json::from("0x1234")).is_err());
    }
}
