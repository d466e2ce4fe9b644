//! A committee member's keys on disk.
//!
//! A member holds two keys: a BLS12-381 secret key that signs reports, kept in an
//! [EIP-2335](https://eips.ethereum.org/EIPS/eip-2335) keystore ([`keystore`]), and an
//! ed25519 libp2p identity that names the node on the gossip network ([`p2p`]). A
//! [`KeyDir`] keeps both side by side with the public half a genesis needs
//! (`member.json`: public key, proof of possession, peer id, submitter address) and, if asked,
//! a fresh submitter key. [`password`] reads the
//! keystore password from a file or an environment variable.
//!
//! This crate must never print, log or put into an error message a secret key, a
//! password or anything derived from them; files holding secrets are written with mode
//! 0600 and atomically (temporary file, then rename). See `docs/keys.md`.

pub mod keydir;
pub mod keystore;
pub mod lock;
pub mod p2p;
pub mod password;

pub use keydir::{KeyDir, MemberKeys, Submitter, Unlocked};
pub use keystore::{Kdf, Keystore};
pub use lock::{KeyDirLock, LOCK_FILE};
pub use password::{Password, PasswordSource};
/// Secret buffers zeroed on drop (what a [`Submitter::NewKey`] holds).
pub use zeroize::Zeroizing;

use std::path::PathBuf;
use thiserror::Error;

/// What is wrong with a keystore's content (the caller knows which file it came from).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum KeystoreError {
    /// Not JSON, or not the keystore's shape.
    #[error("not an EIP-2335 keystore: {0}")]
    Json(String),
    /// A keystore version other than 4.
    #[error("version {0} is not supported; EIP-2335 keystores are version {v}", v = keystore::VERSION)]
    Version(u32),
    /// A key derivation function other than scrypt or pbkdf2.
    #[error("crypto.kdf.function `{0}` is not supported; use scrypt or pbkdf2")]
    Kdf(String),
    /// A checksum function other than sha256.
    #[error("crypto.checksum.function `{0}` is not supported; use sha256")]
    Checksum(String),
    /// A cipher other than aes-128-ctr.
    #[error("crypto.cipher.function `{0}` is not supported; use aes-128-ctr")]
    Cipher(String),
    /// A field has a value this implementation refuses (malformed, or a cost too high to run).
    #[error("{field}: {reason}")]
    Field { field: &'static str, reason: String },
    /// The checksum does not match: the password is wrong (or the file was altered).
    #[error("wrong password (checksum mismatch)")]
    WrongPassword,
    /// The operating system gave no random bytes.
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
}

/// Errors of key files and key directories; each names the file or directory concerned.
#[derive(Debug, Error)]
pub enum KeysError {
    // The causes are fields named `error`, not `source`: the message already includes
    // them, and a `source` would make `anyhow`'s one-line form repeat them.
    /// A file of the key directory cannot be read or written.
    #[error("cannot {action} {path}: {error}")]
    Io { action: &'static str, path: PathBuf, error: std::io::Error },
    /// A keystore file's content is not usable.
    #[error("keystore {path}: {error}")]
    Keystore { path: PathBuf, error: KeystoreError },
    /// The password does not open the keystore.
    #[error("wrong password for keystore {path} (checksum mismatch); give the password it was encrypted with")]
    WrongPassword { path: PathBuf },
    /// The keystore decrypts to something that is not a BLS secret key.
    #[error("keystore {path}: the decrypted secret is not a BLS12-381 secret key (32 bytes, non-zero, below the group order)")]
    NotBlsSecret { path: PathBuf },
    /// The keystore's public key is not its secret's.
    #[error("keystore {path}: its pubkey {stored} is not the public key of its secret ({derived}); the file is damaged or was edited")]
    PubkeyMismatch { path: PathBuf, stored: String, derived: String },
    /// A secret given to import is not a BLS secret key.
    #[error("the given secret is not a BLS12-381 secret key (it is zero or not below the group order)")]
    InvalidSecret,
    /// The directory already holds keys.
    #[error("{dir} already holds keys ({file} exists); choose another directory, keys are never overwritten")]
    AlreadyExists { dir: PathBuf, file: PathBuf },
    /// The directory holds no keys.
    #[error("{dir} is not a key directory ({file} is missing); create one with `keys new` or `keys import`")]
    NotKeyDir { dir: PathBuf, file: PathBuf },
    /// A key file's content is not usable.
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    /// The key directory's files disagree.
    #[error("key directory {dir} is inconsistent: {reason}")]
    Inconsistent { dir: PathBuf, reason: String },
    /// The p2p key can be read by other users.
    #[error("p2p key {path} can be read by other users (mode {mode:o}); run `chmod 600 {path}`")]
    OpenPermissions { path: PathBuf, mode: u32 },
    /// The password cannot be read (the text says from where).
    #[error("{0}")]
    Password(String),
    /// Another process holds the key directory's lock.
    #[error("key directory {dir} is in use by another claystack-oracle process; two nodes with one member's keys sign twice — stop the other one")]
    InUse { dir: PathBuf },
    /// The operating system gave no random bytes.
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
}

impl From<claystack_fs_util::FsError> for KeysError {
    fn from(e: claystack_fs_util::FsError) -> KeysError {
        KeysError::Io { action: e.action, path: e.path, error: e.source }
    }
}

impl From<claystack_fs_util::SecretFileError> for KeysError {
    fn from(e: claystack_fs_util::SecretFileError) -> KeysError {
        match e {
            claystack_fs_util::SecretFileError::Io(e) => e.into(),
            claystack_fs_util::SecretFileError::OpenToOthers { path, mode } => {
                KeysError::OpenPermissions { path, mode }
            }
        }
    }
}

impl KeysError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> KeysError {
        let path = path.to_path_buf();
        move |error| KeysError::Io { action, path, error }
    }
}

/// Fills `buf` from the operating system's random source.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), KeystoreError> {
    getrandom::fill(buf).map_err(|e| KeystoreError::Random(e.to_string()))
}
