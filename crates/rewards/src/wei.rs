//! Serde forms for wei amounts and addresses.
//!
//! Wei amounts are written as decimal strings (`"1000000000000000000"`): JSON
//! readers in JavaScript lose precision above 2^53 and TOML has no integers above
//! 2^63. Reading also accepts plain integers, which keeps small fixtures readable.

use claystack_primitives::hex;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// An operator's 20-byte execution-layer address, written as `0x…` hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(pub [u8; 20]);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0))
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode_fixed::<20>(&s).map(Address).map_err(|e| de::Error::custom(format!("address `{s}`: {e}")))
    }
}

struct AmountVisitor;

impl Visitor<'_> for AmountVisitor {
    type Value = i128;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a wei amount as a decimal string or an integer")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i128, E> {
        v.parse::<i128>().map_err(|_| E::custom(format!("`{v}` is not a decimal wei amount")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i128, E> {
        Ok(v.into())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i128, E> {
        Ok(v.into())
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<i128, E> {
        i128::try_from(v).map_err(|_| E::custom("wei amount too large"))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<i128, E> {
        Ok(v)
    }
}

/// `#[serde(with = "wei::unsigned")]` for `u128` amounts.
pub mod unsigned {
    use super::*;

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        // A string may exceed i128, so parse strings directly as u128.
        struct U;
        impl Visitor<'_> for U {
            type Value = u128;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative wei amount as a decimal string or an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<u128, E> {
                v.parse::<u128>().map_err(|_| E::custom(format!("`{v}` is not a non-negative decimal wei amount")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<u128, E> {
                Ok(v.into())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<u128, E> {
                u128::try_from(v).map_err(|_| E::custom(format!("wei amount {v} is negative")))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<u128, E> {
                Ok(v)
            }
        }
        d.deserialize_any(U)
    }
}

/// `#[serde(with = "wei::signed")]` for `i128` amounts.
pub mod signed {
    use super::*;

    pub fn serialize<S: Serializer>(v: &i128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i128, D::Error> {
        d.deserialize_any(AmountVisitor)
    }
}

/// An optional 32-byte hash as `0x`-hex.
pub mod hash32_opt {
    use claystack_primitives::hex;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(h) => s.serialize_str(&hex::encode(h)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 32]>, D::Error> {
        Option::<&str>::deserialize(d)?
            .map(|s| hex::decode_fixed::<32>(s).map_err(serde::de::Error::custom))
            .transpose()
    }
}
