//! EIP-2335 keystores (version 4): a secret encrypted under a password.
//!
//! Three modules, each `{function, params, message}`: the `kdf` turns the processed
//! password and a salt into a 32-byte decryption key; the `checksum` is SHA-256 of the
//! key's second half followed by the ciphertext, and tells a wrong password from a right
//! one; the `cipher` is AES-128-CTR under the key's first half. This module supports
//! exactly what the EIP lists: scrypt or PBKDF2-HMAC-SHA256, sha256, aes-128-ctr.
//!
//! A keystore read from disk is untrusted input: its KDF cost is bounded before it runs,
//! and every malformed field is an error naming the field, never a panic.

use crate::password::Password;
use crate::{random_bytes, KeystoreError};
use ctr::cipher::{KeyIvInit, StreamCipher};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The only keystore version (the EIP's `version`).
pub const VERSION: u32 = 4;

/// Length of the derived decryption key (`dklen`): 16 bytes of AES key, 16 of checksum key.
const DKLEN: u32 = 32;

/// Upper bounds on the cost of a keystore's KDF, so a hostile file cannot make the node
/// allocate gigabytes or spin for minutes. Production parameters are far below them.
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
const MAX_SCRYPT_P: u32 = 16;
const MAX_PBKDF2_ROUNDS: u32 = 1 << 24;

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// A password-based key derivation function and its cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    /// scrypt (RFC 7914); memory is 128 · `n` · `r` bytes.
    Scrypt { n: u32, r: u32, p: u32 },
    /// PBKDF2 with HMAC-SHA256 (RFC 2898), `c` rounds.
    Pbkdf2 { c: u32 },
}

impl Kdf {
    /// The cost of the EIP's test vector and of the staking deposit CLI: scrypt with
    /// n = 2^18, r = 8, p = 1 — 256 MiB of memory and about a second per unlock.
    pub const PRODUCTION: Kdf = Kdf::Scrypt { n: 1 << 18, r: 8, p: 1 };

    /// For tests and local testnets only: scrypt with n = 2^14 (16 MiB, a few milliseconds).
    /// A stolen keystore of this cost falls to password guessing 16 times faster.
    pub const FAST: Kdf = Kdf::Scrypt { n: 1 << 14, r: 8, p: 1 };

    /// The decryption key for `password` and `salt`.
    fn derive(&self, password: &Password, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
        self.check()?;
        let password = password.kdf_bytes();
        let mut key = Zeroizing::new([0u8; 32]);
        match *self {
            Kdf::Scrypt { n, r, p } => {
                let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p, key.len())
                    .map_err(|e| field("crypto.kdf.params", format!("scrypt rejects n={n} r={r} p={p}: {e}")))?;
                scrypt::scrypt(&password, salt, &params, key.as_mut())
                    .map_err(|e| field("crypto.kdf.params.dklen", e.to_string()))?;
            }
            Kdf::Pbkdf2 { c } => pbkdf2::pbkdf2_hmac::<Sha256>(&password, salt, c, key.as_mut()),
        }
        Ok(key)
    }

    /// Refuses parameters that are malformed or would cost more than the bounds above.
    fn check(&self) -> Result<(), KeystoreError> {
        match *self {
            Kdf::Scrypt { n, r, p } => {
                if n < 2 || !n.is_power_of_two() {
                    return Err(field("crypto.kdf.params.n", format!("{n} is not a power of two above 1")));
                }
                if r == 0 || p == 0 || p > MAX_SCRYPT_P {
                    return Err(field(
                        "crypto.kdf.params",
                        format!("r={r} p={p}: need r >= 1 and 1 <= p <= {MAX_SCRYPT_P}"),
                    ));
                }
                let memory = 128 * u64::from(n) * u64::from(r);
                if memory > MAX_SCRYPT_MEMORY {
                    return Err(field(
                        "crypto.kdf.params",
                        format!(
                            "scrypt n={n} r={r} needs {} MiB; the limit is {} MiB",
                            memory >> 20,
                            MAX_SCRYPT_MEMORY >> 20
                        ),
                    ));
                }
            }
            Kdf::Pbkdf2 { c } => {
                if c == 0 || c > MAX_PBKDF2_ROUNDS {
                    return Err(field("crypto.kdf.params.c", format!("{c} rounds; need 1 to {MAX_PBKDF2_ROUNDS}")));
                }
            }
        }
        Ok(())
    }
}

/// The keystore file, field for field. `pubkey` is the hex of the compressed public key
/// (no `0x`), `path` the EIP-2334 derivation path or `""`, `uuid` a random RFC 4122 UUID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keystore {
    pub crypto: Crypto,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub pubkey: String,
    pub path: String,
    pub uuid: String,
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crypto {
    pub kdf: Module,
    pub checksum: Module,
    pub cipher: Module,
}

/// One EIP-2335 module; `params` are read according to `function`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Module {
    pub function: String,
    pub params: Map<String, Value>,
    pub message: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    dklen: u32,
    n: u32,
    p: u32,
    r: u32,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct Pbkdf2Params {
    dklen: u32,
    c: u32,
    prf: String,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct CipherParams {
    iv: String,
}

/// The random inputs of an encryption. Fresh ones come from [`Randomness::fresh`]; fixed
/// ones reproduce a known keystore (the EIP's test vectors).
#[derive(Debug, Clone)]
pub struct Randomness {
    pub salt: [u8; 32],
    pub iv: [u8; 16],
    pub uuid: [u8; 16],
}

impl Randomness {
    pub fn fresh() -> Result<Randomness, KeystoreError> {
        let mut r = Randomness { salt: [0; 32], iv: [0; 16], uuid: [0; 16] };
        random_bytes(&mut r.salt)?;
        random_bytes(&mut r.iv)?;
        random_bytes(&mut r.uuid)?;
        Ok(r)
    }
}

impl Keystore {
    /// Encrypts `secret` under `password` with a fresh salt, IV and UUID. `pubkey`, `path`
    /// and `description` are left empty for the caller to fill.
    pub fn encrypt(secret: &[u8], password: &Password, kdf: Kdf) -> Result<Keystore, KeystoreError> {
        Keystore::encrypt_with(secret, password, kdf, &Randomness::fresh()?)
    }

    /// [`Keystore::encrypt`] with given random inputs.
    pub fn encrypt_with(
        secret: &[u8],
        password: &Password,
        kdf: Kdf,
        random: &Randomness,
    ) -> Result<Keystore, KeystoreError> {
        let key = kdf.derive(password, &random.salt)?;
        let mut ciphertext = secret.to_vec();
        Aes128Ctr::new(key[..16].into(), (&random.iv).into()).apply_keystream(&mut ciphertext);
        let checksum = checksum(&key, &ciphertext);
        let salt = hex::encode(random.salt);
        let (function, params) = match kdf {
            Kdf::Scrypt { n, r, p } => ("scrypt", to_map(ScryptParams { dklen: DKLEN, n, p, r, salt })),
            Kdf::Pbkdf2 { c } => ("pbkdf2", to_map(Pbkdf2Params { dklen: DKLEN, c, prf: "hmac-sha256".into(), salt })),
        };
        Ok(Keystore {
            crypto: Crypto {
                kdf: Module { function: function.into(), params, message: String::new() },
                checksum: Module { function: "sha256".into(), params: Map::new(), message: hex::encode(checksum) },
                cipher: Module {
                    function: "aes-128-ctr".into(),
                    params: to_map(CipherParams { iv: hex::encode(random.iv) }),
                    message: hex::encode(&ciphertext),
                },
            },
            description: String::new(),
            pubkey: String::new(),
            path: String::new(),
            uuid: uuid::Builder::from_random_bytes(random.uuid).into_uuid().hyphenated().to_string(),
            version: VERSION,
        })
    }

    /// Parses a keystore and checks its version and UUID (not the password).
    pub fn from_json(text: &str) -> Result<Keystore, KeystoreError> {
        let ks: Keystore = serde_json::from_str(text).map_err(|e| KeystoreError::Json(e.to_string()))?;
        if ks.version != VERSION {
            return Err(KeystoreError::Version(ks.version));
        }
        uuid::Uuid::parse_str(&ks.uuid).map_err(|e| field("uuid", format!("`{}` is not a UUID: {e}", ks.uuid)))?;
        Ok(ks)
    }

    /// The file form: pretty JSON and a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a keystore serializes");
        s.push('\n');
        s
    }

    /// The KDF and its cost, as the file states them.
    pub fn kdf(&self) -> Result<Kdf, KeystoreError> {
        Ok(self.kdf_and_salt()?.0)
    }

    fn kdf_and_salt(&self) -> Result<(Kdf, Vec<u8>), KeystoreError> {
        let m = &self.crypto.kdf;
        let (kdf, dklen, salt) = match m.function.as_str() {
            "scrypt" => {
                let p: ScryptParams = from_map(&m.params, "crypto.kdf.params")?;
                (Kdf::Scrypt { n: p.n, r: p.r, p: p.p }, p.dklen, p.salt)
            }
            "pbkdf2" => {
                let p: Pbkdf2Params = from_map(&m.params, "crypto.kdf.params")?;
                if p.prf != "hmac-sha256" {
                    return Err(field(
                        "crypto.kdf.params.prf",
                        format!("`{}` is not supported; use hmac-sha256", p.prf),
                    ));
                }
                (Kdf::Pbkdf2 { c: p.c }, p.dklen, p.salt)
            }
            other => return Err(KeystoreError::Kdf(other.into())),
        };
        if dklen != DKLEN {
            return Err(field("crypto.kdf.params.dklen", format!("{dklen}; this implementation needs {DKLEN}")));
        }
        Ok((kdf, decode_hex("crypto.kdf.params.salt", &salt)?))
    }

    /// Decrypts the secret. A wrong password is [`KeystoreError::WrongPassword`].
    pub fn decrypt(&self, password: &Password) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
        let (kdf, salt) = self.kdf_and_salt()?;
        if self.crypto.checksum.function != "sha256" {
            return Err(KeystoreError::Checksum(self.crypto.checksum.function.clone()));
        }
        if self.crypto.cipher.function != "aes-128-ctr" {
            return Err(KeystoreError::Cipher(self.crypto.cipher.function.clone()));
        }
        let stored = decode_hex("crypto.checksum.message", &self.crypto.checksum.message)?;
        let ciphertext = decode_hex("crypto.cipher.message", &self.crypto.cipher.message)?;
        let iv: CipherParams = from_map(&self.crypto.cipher.params, "crypto.cipher.params")?;
        let iv: [u8; 16] = decode_hex("crypto.cipher.params.iv", &iv.iv)?
            .try_into()
            .map_err(|v: Vec<u8>| field("crypto.cipher.params.iv", format!("{} bytes; AES-CTR needs 16", v.len())))?;

        let key = kdf.derive(password, &salt)?;
        if !equal(&checksum(&key, &ciphertext), &stored) {
            return Err(KeystoreError::WrongPassword);
        }
        let mut secret = Zeroizing::new(ciphertext);
        Aes128Ctr::new(key[..16].into(), (&iv).into()).apply_keystream(&mut secret);
        Ok(secret)
    }

    /// The `pubkey` field's bytes, or `None` if it is empty.
    pub fn pubkey_bytes(&self) -> Result<Option<Vec<u8>>, KeystoreError> {
        if self.pubkey.is_empty() {
            return Ok(None);
        }
        decode_hex("pubkey", &self.pubkey).map(Some)
    }
}

/// SHA-256 of the decryption key's second half and the ciphertext.
fn checksum(key: &[u8; 32], ciphertext: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(&key[16..]);
    h.update(ciphertext);
    h.finalize().into()
}

/// Compares without an early exit, so timing says nothing about where two values differ.
fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn field(field: &'static str, reason: String) -> KeystoreError {
    KeystoreError::Field { field, reason }
}

/// Hex with or without a `0x` prefix (EIP-2335 files have none; some tools add one).
fn decode_hex(name: &'static str, s: &str) -> Result<Vec<u8>, KeystoreError> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s)).map_err(|e| field(name, format!("not hex: {e}")))
}

fn to_map<T: Serialize>(v: T) -> Map<String, Value> {
    match serde_json::to_value(v).expect("params serialize") {
        Value::Object(m) => m,
        _ => unreachable!("params are structs"),
    }
}

fn from_map<T: for<'de> Deserialize<'de>>(m: &Map<String, Value>, name: &'static str) -> Result<T, KeystoreError> {
    serde_json::from_value(Value::Object(m.clone())).map_err(|e| field(name, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw() -> Password {
        Password::new("correct horse battery staple")
    }

    #[test]
    fn round_trip_both_kdfs_and_wrong_password() {
        let secret = [7u8; 32];
        for kdf in [Kdf::Scrypt { n: 16, r: 8, p: 1 }, Kdf::Pbkdf2 { c: 10 }] {
            let ks = Keystore::encrypt(&secret, &pw(), kdf).unwrap();
            let back = Keystore::from_json(&ks.to_json()).unwrap();
            assert_eq!(back, ks);
            assert_eq!(back.kdf().unwrap(), kdf);
            assert_eq!(&back.decrypt(&pw()).unwrap()[..], &secret);
            assert_eq!(back.decrypt(&Password::new("wrong")), Err(KeystoreError::WrongPassword));
            // Control codes are no part of a password.
            assert_eq!(&back.decrypt(&Password::new("correct horse battery staple\n")).unwrap()[..], &secret);
        }
    }

    #[test]
    fn fresh_randomness_differs() {
        let a = Keystore::encrypt(&[1; 32], &pw(), Kdf::Pbkdf2 { c: 1 }).unwrap();
        let b = Keystore::encrypt(&[1; 32], &pw(), Kdf::Pbkdf2 { c: 1 }).unwrap();
        assert_ne!(a.crypto.cipher.message, b.crypto.cipher.message);
        assert_ne!(a.uuid, b.uuid);
        assert_eq!(uuid::Uuid::parse_str(&a.uuid).unwrap().get_version_num(), 4);
    }

    #[test]
    fn hostile_or_malformed_fields_are_errors() {
        let good = Keystore::encrypt(&[1; 32], &pw(), Kdf::Scrypt { n: 16, r: 1, p: 1 }).unwrap();
        let edit = |f: &dyn Fn(&mut Keystore)| {
            let mut ks = good.clone();
            f(&mut ks);
            ks.decrypt(&pw()).unwrap_err().to_string()
        };
        let huge = edit(&|ks| {
            ks.crypto.kdf.params.insert("n".into(), (1u32 << 31).into());
        });
        assert!(huge.contains("limit is 1024 MiB"), "{huge}");
        let odd = edit(&|ks| {
            ks.crypto.kdf.params.insert("n".into(), 1000.into());
        });
        assert!(odd.contains("power of two"), "{odd}");
        let kdf = edit(&|ks| ks.crypto.kdf.function = "argon2".into());
        assert!(kdf.contains("`argon2` is not supported"), "{kdf}");
        let cipher = edit(&|ks| ks.crypto.cipher.function = "aes-256-gcm".into());
        assert!(cipher.contains("aes-128-ctr"), "{cipher}");
        let iv = edit(&|ks| {
            ks.crypto.cipher.params.insert("iv".into(), "00ff".into());
        });
        assert!(iv.contains("2 bytes"), "{iv}");
        let hex = edit(&|ks| ks.crypto.cipher.message = "zz".into());
        assert!(hex.contains("crypto.cipher.message: not hex"), "{hex}");
        let missing = edit(&|ks| {
            ks.crypto.kdf.params.remove("salt");
        });
        assert!(missing.contains("missing field `salt`"), "{missing}");

        assert!(matches!(Keystore::from_json("{}"), Err(KeystoreError::Json(_))));
        let mut v3 = good.clone();
        v3.version = 3;
        assert_eq!(Keystore::from_json(&v3.to_json()), Err(KeystoreError::Version(3)));
        let mut bad_uuid = good.clone();
        bad_uuid.uuid = "not-a-uuid".into();
        assert!(Keystore::from_json(&bad_uuid.to_json()).unwrap_err().to_string().starts_with("uuid:"));
    }
}
