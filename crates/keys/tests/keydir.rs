//! Key directories: create, import, list, unlock, and every refusal.

use claystack_genesis::{bls, Address};
use claystack_keys::keydir::{KEYSTORE_FILE, MEMBER_FILE, P2P_KEY_FILE, SUBMITTER_KEY_FILE};
use claystack_keys::{p2p, Kdf, KeyDir, KeysError, Password, Submitter, Zeroizing};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const SECRET: [u8; 32] = [0x11; 32];

fn pw() -> Password {
    Password::new("a long enough password")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_submitter_is_recorded_and_a_new_submitter_key_written_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    // An address given: in member.json, no key file.
    let given = tmp.path().join("given");
    let member =
        KeyDir::create_with_submitter(&given, None, &pw(), Kdf::FAST, Submitter::Address(Address([7; 20]))).unwrap();
    assert_eq!(member.submitter, Some(Address([7; 20])));
    assert_eq!(KeyDir::load_public(&given).unwrap(), member);
    assert!(!given.join(SUBMITTER_KEY_FILE).exists());
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(given.join(MEMBER_FILE)).unwrap()).unwrap();
    assert_eq!(json["submitter"], "0x0707070707070707070707070707070707070707");

    // A new key: written as 0x hex, 0600, with the address the caller derived.
    let fresh = tmp.path().join("fresh");
    let secret = Zeroizing::new([0x42; 32]);
    let submitter = Submitter::NewKey { secret, address: Address([9; 20]) };
    let member = KeyDir::create_with_submitter(&fresh, None, &pw(), Kdf::FAST, submitter).unwrap();
    assert_eq!(member.submitter, Some(Address([9; 20])));
    let key = fresh.join(SUBMITTER_KEY_FILE);
    assert_eq!(std::fs::read_to_string(&key).unwrap(), format!("0x{}\n", "42".repeat(32)));
    assert_eq!(mode(&key), 0o600);

    // A directory holding only a submitter key is not overwritten either.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join(SUBMITTER_KEY_FILE), "0x01\n").unwrap();
    let err = KeyDir::create(&other, None, &pw(), Kdf::FAST).unwrap_err();
    assert!(matches!(err, KeysError::AlreadyExists { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(other.join(SUBMITTER_KEY_FILE)).unwrap(), "0x01\n");
}

#[test]
fn create_load_unlock() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys/member-0");
    let member = KeyDir::create(&dir, Some(SECRET), &pw(), Kdf::FAST).unwrap();
    let sk = bls::secret_key(&SECRET).unwrap();
    assert_eq!(member.bls_pubkey, bls::public_key(&sk));
    assert_eq!(member.pop, bls::pop_sign(&sk));
    assert!(bls::pop_verify(&member.bls_pubkey, &member.pop));

    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(KEYSTORE_FILE)), 0o600);
    assert_eq!(mode(&dir.join(P2P_KEY_FILE)), 0o600);
    assert_eq!(mode(&dir.join(MEMBER_FILE)), 0o644);
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 3, "no temporary files left: {names:?}");

    // member.json is a genesis member entry without the submitter.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(MEMBER_FILE)).unwrap()).unwrap();
    let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["bls_pubkey", "peer_id", "pop"]);
    let entry = member.genesis_member(Address([7; 20]));
    assert_eq!((entry.bls_pubkey, entry.pop, &entry.peer_id), (member.bls_pubkey, member.pop, &member.peer_id));

    assert_eq!(KeyDir::load_public(&dir).unwrap(), member);
    let unlocked = KeyDir::unlock(&dir, &pw()).unwrap();
    assert_eq!(unlocked.secret_key.to_bytes(), SECRET);
    assert_eq!(p2p::peer_id(&unlocked.p2p), member.peer_id);
    assert!(!format!("{unlocked:?}").contains(&hex::encode(SECRET)));

    // Never overwritten.
    let err = KeyDir::create(&dir, None, &pw(), Kdf::FAST).unwrap_err();
    assert!(matches!(err, KeysError::AlreadyExists { .. }), "{err}");
    assert_eq!(KeyDir::unlock(&dir, &pw()).unwrap().secret_key.to_bytes(), SECRET);

    // A wrong password names the keystore.
    let err = KeyDir::unlock(&dir, &Password::new("not the password")).unwrap_err().to_string();
    assert!(err.starts_with(&format!("wrong password for keystore {}", dir.join(KEYSTORE_FILE).display())), "{err}");
}

#[test]
fn random_secret_import_and_discover() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let first = KeyDir::create(&a, None, &pw(), Kdf::FAST).unwrap();
    let second = KeyDir::import(&b, &KeyDir::keystore_path(&a), &pw()).unwrap();
    assert_eq!(second.bls_pubkey, first.bls_pubkey);
    assert_ne!(second.peer_id, first.peer_id, "an imported key gets its own libp2p identity");
    std::fs::create_dir(tmp.path().join("not-keys")).unwrap();
    std::fs::write(tmp.path().join("file"), "x").unwrap();
    assert_eq!(KeyDir::discover(tmp.path()).unwrap(), vec![a.clone(), b.clone()]);
    assert_eq!(KeyDir::discover(&a).unwrap(), vec![a.clone()]);
    let err = KeyDir::load_public(&tmp.path().join("not-keys")).unwrap_err();
    assert!(matches!(err, KeysError::NotKeyDir { .. }), "{err}");
    // A file that is no keystore: one message, no repeated cause.
    let junk = tmp.path().join("file");
    let err = KeyDir::import(&tmp.path().join("c"), &junk, &pw()).unwrap_err();
    assert!(matches!(err, KeysError::Keystore { .. }), "{err}");
    assert!(std::error::Error::source(&err).is_none());
    let err = KeyDir::import(&tmp.path().join("c"), &tmp.path().join("missing"), &pw()).unwrap_err();
    assert!(err.to_string().starts_with("cannot read ") && std::error::Error::source(&err).is_none(), "{err}");
    // Importing over an existing directory is refused.
    assert!(matches!(KeyDir::import(&a, &KeyDir::keystore_path(&b), &pw()), Err(KeysError::AlreadyExists { .. })));
}

#[test]
fn refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let err = KeyDir::create(&tmp.path().join("x"), None, &Password::new("short\n\n\n\n"), Kdf::FAST).unwrap_err();
    assert!(err.to_string().contains("has 5 characters"), "{err}");
    assert!(!tmp.path().join("x").exists());
    let err = KeyDir::create(&tmp.path().join("x"), Some([0xff; 32]), &pw(), Kdf::FAST).unwrap_err();
    assert!(matches!(err, KeysError::InvalidSecret), "{err}");

    // Tampering is caught when reading the public half.
    let dir = tmp.path().join("m");
    KeyDir::create(&dir, Some(SECRET), &pw(), Kdf::FAST).unwrap();
    let member_file = dir.join(MEMBER_FILE);
    let original = std::fs::read_to_string(&member_file).unwrap();
    let other = bls::secret_key(&[0x22; 32]).unwrap();
    let mut forged: serde_json::Value = serde_json::from_str(&original).unwrap();
    forged["pop"] = claystack_primitives::hex::encode(&bls::pop_sign(&other)).into();
    std::fs::write(&member_file, forged.to_string()).unwrap();
    assert!(KeyDir::load_public(&dir).unwrap_err().to_string().contains("not a valid proof of possession"));
    forged["bls_pubkey"] = claystack_primitives::hex::encode(&bls::public_key(&other)).into();
    std::fs::write(&member_file, forged.to_string()).unwrap();
    let err = KeyDir::load_public(&dir).unwrap_err().to_string();
    assert!(err.contains("is not the bls_pubkey of member.json"), "{err}");

    // A p2p key swapped for another one does not unlock.
    std::fs::write(&member_file, &original).unwrap();
    std::fs::remove_file(dir.join(P2P_KEY_FILE)).unwrap();
    p2p::write(&dir.join(P2P_KEY_FILE), &p2p::generate().unwrap()).unwrap();
    let err = KeyDir::unlock(&dir, &pw()).unwrap_err().to_string();
    assert!(err.contains("p2p.key is not the key of the peer_id"), "{err}");
}
