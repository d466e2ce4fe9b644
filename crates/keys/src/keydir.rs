//! A key directory: one committee member's keys, side by side.
//!
//! ```text
//! <dir>/                   mode 0700
//!   bls.keystore.json      EIP-2335 keystore of the BLS secret key       0600
//!   p2p.key                libp2p ed25519 keypair (protobuf encoding)    0600
//!   submitter.key          secp256k1 submitter key, `0x` hex (optional)  0600
//!   member.json            public: bls_pubkey, pop, peer_id, submitter   0644
//! ```
//!
//! `member.json` is the member's entry of a genesis `committee.members[]`, with the
//! `submitter` address if one was given at creation; it is written last, and every read checks it against the other two
//! files. A key directory is never overwritten: creating or importing into a directory
//! that already holds any of these files fails.

use crate::keystore::{Kdf, Keystore};
use crate::password::Password;
use crate::{p2p, KeysError, KeystoreError};
use blst::min_pk::SecretKey;
use claystack_genesis::{bls, Address, MemberEntry};
use claystack_primitives::hex;
use libp2p_identity::Keypair;
use std::fmt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// File name of the BLS keystore.
pub const KEYSTORE_FILE: &str = "bls.keystore.json";
/// File name of the libp2p identity.
pub const P2P_KEY_FILE: &str = "p2p.key";
/// File name of the public member entry.
pub const MEMBER_FILE: &str = "member.json";
/// File name of the submitter's secp256k1 key, when the directory was created with one.
pub const SUBMITTER_KEY_FILE: &str = "submitter.key";

/// Fewest characters (after EIP-2335 processing) a new keystore's password may have.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// `description` of the keystores this crate creates.
const DESCRIPTION: &str = "claystack-oracle committee member BLS key";

/// The public half of a key directory, as `member.json` holds it: the member's genesis entry
/// (one definition, `claystack_genesis::MemberEntry`), whose `submitter` is set when the
/// directory was created with one.
pub type MemberKeys = MemberEntry;

/// The execution-layer address a new key directory records in `member.json`.
pub enum Submitter {
    /// None yet: the member adds it before the genesis is assembled.
    None,
    /// An address whose key the member keeps elsewhere.
    Address(Address),
    /// A fresh secp256k1 secret key, written to [`SUBMITTER_KEY_FILE`] as `0x` hex (the
    /// format the node's submitter key file has), and its address, which the caller derived
    /// from it (this crate does no secp256k1).
    NewKey { secret: Zeroizing<[u8; 32]>, address: Address },
}

impl Submitter {
    fn address(&self) -> Option<Address> {
        match self {
            Submitter::None => None,
            Submitter::Address(a) | Submitter::NewKey { address: a, .. } => Some(*a),
        }
    }
}

/// The keys of an unlocked directory, ready to sign and to join the network.
pub struct Unlocked {
    pub secret_key: SecretKey,
    pub p2p: Keypair,
    pub member: MemberKeys,
}

impl fmt::Debug for Unlocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unlocked").field("member", &self.member).finish_non_exhaustive()
    }
}

/// Operations on key directories (see the module documentation for the layout).
pub struct KeyDir;

impl KeyDir {
    pub fn keystore_path(dir: &Path) -> PathBuf {
        dir.join(KEYSTORE_FILE)
    }

    pub fn p2p_key_path(dir: &Path) -> PathBuf {
        dir.join(P2P_KEY_FILE)
    }

    pub fn member_path(dir: &Path) -> PathBuf {
        dir.join(MEMBER_FILE)
    }

    pub fn submitter_key_path(dir: &Path) -> PathBuf {
        dir.join(SUBMITTER_KEY_FILE)
    }

    /// Creates a key directory: the BLS secret `secret` (a fresh random one if `None`)
    /// encrypted under `password` with `kdf`, a fresh libp2p identity, and `member.json`.
    /// The password must have at least [`MIN_PASSWORD_CHARS`] characters. `member.json` has
    /// no submitter; see [`KeyDir::create_with_submitter`].
    pub fn create(
        dir: &Path,
        secret: Option<[u8; 32]>,
        password: &Password,
        kdf: Kdf,
    ) -> Result<MemberKeys, KeysError> {
        KeyDir::create_with_submitter(dir, secret, password, kdf, Submitter::None)
    }

    /// [`KeyDir::create`], with `submitter`'s address in `member.json` and, for a new key, that
    /// key in [`SUBMITTER_KEY_FILE`] (mode 0600, written before `member.json`).
    pub fn create_with_submitter(
        dir: &Path,
        secret: Option<[u8; 32]>,
        password: &Password,
        kdf: Kdf,
        submitter: Submitter,
    ) -> Result<MemberKeys, KeysError> {
        ensure_vacant(dir)?;
        let chars = password.processed_len();
        if chars < MIN_PASSWORD_CHARS {
            return Err(KeysError::Password(format!(
                "the password has {chars} characters (control characters do not count); use at least {MIN_PASSWORD_CHARS}"
            )));
        }
        let sk = match secret {
            Some(bytes) => bls::secret_key(&bytes).ok_or(KeysError::InvalidSecret)?,
            None => {
                // EIP-2333 KeyGen from fresh entropy, as validator key tools do.
                let mut ikm = Zeroizing::new([0u8; 32]);
                getrandom::fill(ikm.as_mut()).map_err(|e| KeysError::Random(e.to_string()))?;
                SecretKey::key_gen(ikm.as_ref(), &[]).expect("32 bytes of key material are enough")
            }
        };
        let keystore_path = KeyDir::keystore_path(dir);
        let secret = Zeroizing::new(sk.to_bytes());
        let mut keystore = Keystore::encrypt(secret.as_ref(), password, kdf)
            .map_err(|error| KeysError::Keystore { path: keystore_path.clone(), error })?;
        let pubkey = bls::public_key(&sk);
        keystore.pubkey = hex::encode(&pubkey)[2..].to_string();
        keystore.description = DESCRIPTION.into();
        write_dir(dir, keystore.to_json().as_bytes(), &sk, &submitter)
    }

    /// Creates a key directory around an existing EIP-2335 keystore: checks that `password`
    /// decrypts it, that the secret is a BLS key and that the keystore's `pubkey` is its
    /// public key, then copies the keystore unchanged and adds a fresh libp2p identity and
    /// `member.json`.
    pub fn import(dir: &Path, keystore_file: &Path, password: &Password) -> Result<MemberKeys, KeysError> {
        ensure_vacant(dir)?;
        let (mut keystore, text) = read_keystore(keystore_file)?;
        let sk = decrypt_bls(&keystore, keystore_file, password)?;
        // A keystore without a pubkey (allowed by the EIP for other secrets) gets one, so
        // that the directory can be listed without the password.
        let bytes = if keystore.pubkey.is_empty() {
            keystore.pubkey = hex::encode(&bls::public_key(&sk))[2..].to_string();
            keystore.to_json()
        } else {
            text
        };
        write_dir(dir, bytes.as_bytes(), &sk, &Submitter::None)
    }

    /// The public half of a key directory, checked: the proof of possession verifies, the
    /// peer id parses, and the keystore's `pubkey` is `member.json`'s. Needs no password.
    pub fn load_public(dir: &Path) -> Result<MemberKeys, KeysError> {
        let path = KeyDir::member_path(dir);
        if !path.exists() {
            return Err(KeysError::NotKeyDir { dir: dir.to_path_buf(), file: path });
        }
        let text = claystack_fs_util::read(&path)?;
        let member: MemberKeys = serde_json::from_slice(&text)
            .map_err(|e| KeysError::Invalid { path: path.clone(), reason: format!("not a member file: {e}") })?;
        let inconsistent = |reason: String| KeysError::Inconsistent { dir: dir.to_path_buf(), reason };
        if !bls::pop_verify(&member.bls_pubkey, &member.pop) {
            return Err(inconsistent(format!("{MEMBER_FILE}: pop is not a valid proof of possession of bls_pubkey")));
        }
        p2p::parse_peer_id(&member.peer_id).map_err(|reason| KeysError::Invalid { path: path.clone(), reason })?;
        let keystore_path = KeyDir::keystore_path(dir);
        if !keystore_path.exists() {
            return Err(KeysError::NotKeyDir { dir: dir.to_path_buf(), file: keystore_path });
        }
        let (keystore, _) = read_keystore(&keystore_path)?;
        let stored = keystore.pubkey_bytes().map_err(|error| KeysError::Keystore { path: keystore_path, error })?;
        if stored.as_deref() != Some(&member.bls_pubkey[..]) {
            return Err(inconsistent(format!("the pubkey of {KEYSTORE_FILE} is not the bls_pubkey of {MEMBER_FILE}")));
        }
        Ok(member)
    }

    /// Decrypts the BLS key with `password` and reads the libp2p identity, checking both
    /// against `member.json`.
    pub fn unlock(dir: &Path, password: &Password) -> Result<Unlocked, KeysError> {
        let member = KeyDir::load_public(dir)?;
        let keystore_path = KeyDir::keystore_path(dir);
        let (keystore, _) = read_keystore(&keystore_path)?;
        let secret_key = decrypt_bls(&keystore, &keystore_path, password)?;
        let p2p = p2p::read(&KeyDir::p2p_key_path(dir))?;
        if p2p::peer_id(&p2p) != member.peer_id {
            return Err(KeysError::Inconsistent {
                dir: dir.to_path_buf(),
                reason: format!("{P2P_KEY_FILE} is not the key of the peer_id in {MEMBER_FILE}"),
            });
        }
        Ok(Unlocked { secret_key, p2p, member })
    }

    /// True if `dir` holds any of the key directory's files.
    pub fn is_key_dir(dir: &Path) -> bool {
        [KEYSTORE_FILE, P2P_KEY_FILE, MEMBER_FILE].iter().any(|f| dir.join(f).symlink_metadata().is_ok())
    }

    /// `dir` itself if it is a key directory, else its immediate subdirectories that are,
    /// sorted by name.
    pub fn discover(dir: &Path) -> Result<Vec<PathBuf>, KeysError> {
        if KeyDir::is_key_dir(dir) {
            return Ok(vec![dir.to_path_buf()]);
        }
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(KeysError::io("read directory", dir))? {
            let path = entry.map_err(KeysError::io("read directory", dir))?.path();
            if path.is_dir() && KeyDir::is_key_dir(&path) {
                found.push(path);
            }
        }
        found.sort();
        Ok(found)
    }
}

/// Fails if `dir` already holds any key directory file.
fn ensure_vacant(dir: &Path) -> Result<(), KeysError> {
    for name in [KEYSTORE_FILE, P2P_KEY_FILE, MEMBER_FILE, SUBMITTER_KEY_FILE] {
        let file = dir.join(name);
        if file.symlink_metadata().is_ok() {
            return Err(KeysError::AlreadyExists { dir: dir.to_path_buf(), file });
        }
    }
    Ok(())
}

/// Writes a new key directory: the keystore bytes as given, a fresh libp2p identity, the
/// submitter key if new, and `member.json` last, so a directory with a member file is complete.
fn write_dir(dir: &Path, keystore: &[u8], sk: &SecretKey, submitter: &Submitter) -> Result<MemberKeys, KeysError> {
    let keypair = p2p::generate()?;
    let member = MemberKeys {
        bls_pubkey: bls::public_key(sk),
        pop: bls::pop_sign(sk),
        peer_id: p2p::peer_id(&keypair),
        submitter: submitter.address(),
    };
    claystack_fs_util::create_private_dir(dir)?;
    p2p::write(&KeyDir::p2p_key_path(dir), &keypair)?;
    claystack_fs_util::write_private(&KeyDir::keystore_path(dir), keystore)?;
    if let Submitter::NewKey { secret, .. } = submitter {
        let text = Zeroizing::new(format!("{}\n", hex::encode(secret.as_ref())));
        claystack_fs_util::write_new_private(&KeyDir::submitter_key_path(dir), text.as_bytes())?;
    }
    claystack_fs_util::write_atomic(&KeyDir::member_path(dir), member.to_json().as_bytes())?;
    Ok(member)
}

fn read_keystore(path: &Path) -> Result<(Keystore, String), KeysError> {
    let bytes = claystack_fs_util::read(path)?;
    let text = String::from_utf8(bytes).map_err(|_| KeysError::Keystore {
        path: path.to_path_buf(),
        error: KeystoreError::Json("the file is not UTF-8 text".into()),
    })?;
    let keystore =
        Keystore::from_json(&text).map_err(|error| KeysError::Keystore { path: path.to_path_buf(), error })?;
    Ok((keystore, text))
}

/// Decrypts a keystore that must hold a BLS secret key matching its `pubkey` (if any).
fn decrypt_bls(keystore: &Keystore, path: &Path, password: &Password) -> Result<SecretKey, KeysError> {
    let secret = keystore.decrypt(password).map_err(|error| match error {
        KeystoreError::WrongPassword => KeysError::WrongPassword { path: path.to_path_buf() },
        error => KeysError::Keystore { path: path.to_path_buf(), error },
    })?;
    let bytes: Zeroizing<[u8; 32]> =
        Zeroizing::new(secret.as_slice().try_into().map_err(|_| KeysError::NotBlsSecret { path: path.to_path_buf() })?);
    let sk = bls::secret_key(&bytes).ok_or_else(|| KeysError::NotBlsSecret { path: path.to_path_buf() })?;
    let derived = bls::public_key(&sk);
    let stored = keystore.pubkey_bytes().map_err(|error| KeysError::Keystore { path: path.to_path_buf(), error })?;
    if let Some(stored) = stored {
        if stored != derived {
            return Err(KeysError::PubkeyMismatch {
                path: path.to_path_buf(),
                stored: hex::encode(&stored),
                derived: hex::encode(&derived),
            });
        }
    }
    Ok(sk)
}
