//! Serde for fixed-size byte arrays as `0x` hex (read in either case, written lower-case).

use claystack_primitives::hex;
use serde::{de, Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
    let s = String::deserialize(d)?;
    hex::decode_fixed::<N>(&s).map_err(|e| de::Error::custom(format!("`{s}`: {e}")))
}

/// The same for an optional field (absent when `None`: pair with `skip_serializing_if`).
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer, const N: usize>(v: &Option<[u8; N]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<Option<[u8; N]>, D::Error> {
        super::deserialize(d).map(Some)
    }
}
