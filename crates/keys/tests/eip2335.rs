//! Known answers: the two test vectors published in EIP-2335 (data files in `vectors/`).

use claystack_genesis::bls;
use claystack_keys::keystore::Randomness;
use claystack_keys::{Kdf, KeyDir, Keystore, KeystoreError, Password};
use claystack_primitives::hex;
use serde_json::Value;

struct Vector {
    password: Password,
    encoded_password: Vec<u8>,
    secret: [u8; 32],
    keystore_json: String,
}

fn vector(name: &str) -> Vector {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    Vector {
        password: Password::new(v["password"].as_str().unwrap()),
        encoded_password: hex::decode(v["encoded_password"].as_str().unwrap()).unwrap(),
        secret: hex::decode_fixed(v["secret"].as_str().unwrap()).unwrap(),
        keystore_json: serde_json::to_string_pretty(&v["keystore"]).unwrap(),
    }
}

/// Decrypts the published keystore, then encrypts the secret again with the published
/// salt, IV and UUID and expects the published ciphertext and checksum.
fn known_answer(name: &str, kdf: Kdf) {
    let v = vector(name);
    assert_eq!(&*v.password.kdf_bytes(), &v.encoded_password[..]);
    let ks = Keystore::from_json(&v.keystore_json).unwrap();
    assert_eq!(ks.kdf().unwrap(), kdf);
    let secret = ks.decrypt(&v.password).unwrap();
    assert_eq!(&secret[..], &v.secret[..]);
    // The published pubkey is the secret's public key in blst's encoding.
    let sk = bls::secret_key(&v.secret).unwrap();
    assert_eq!(ks.pubkey_bytes().unwrap().unwrap(), bls::public_key(&sk).to_vec());

    let random = Randomness {
        salt: hex::decode_fixed(&format!("0x{}", ks.crypto.kdf.params["salt"].as_str().unwrap())).unwrap(),
        iv: hex::decode_fixed(&format!("0x{}", ks.crypto.cipher.params["iv"].as_str().unwrap())).unwrap(),
        uuid: *uuid::Uuid::parse_str(&ks.uuid).unwrap().as_bytes(),
    };
    let mut again = Keystore::encrypt_with(&v.secret, &v.password, kdf, &random).unwrap();
    again.description = ks.description.clone();
    again.pubkey = ks.pubkey.clone();
    again.path = ks.path.clone();
    assert_eq!(again, ks);
}

#[test]
fn scrypt_vector() {
    known_answer("eip2335-scrypt.json", Kdf::Scrypt { n: 262144, r: 8, p: 1 });
    assert_eq!(Kdf::PRODUCTION, Kdf::Scrypt { n: 262144, r: 8, p: 1 });
}

#[test]
fn pbkdf2_vector() {
    known_answer("eip2335-pbkdf2.json", Kdf::Pbkdf2 { c: 262144 });
}

#[test]
fn wrong_password_is_an_error_not_a_panic() {
    let v = vector("eip2335-pbkdf2.json");
    let ks = Keystore::from_json(&v.keystore_json).unwrap();
    assert_eq!(ks.decrypt(&Password::new("testpassword")), Err(KeystoreError::WrongPassword));
    // NFKD makes the Fraktur and the ASCII spelling the same password.
    assert_eq!(&ks.decrypt(&Password::new("testpassword🔑")).unwrap()[..], &v.secret[..]);
}

#[test]
fn import_the_published_keystore() {
    let v = vector("eip2335-pbkdf2.json");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("published.json");
    std::fs::write(&file, &v.keystore_json).unwrap();
    let dir = tmp.path().join("member");
    let member = KeyDir::import(&dir, &file, &v.password).unwrap();
    let sk = bls::secret_key(&v.secret).unwrap();
    assert_eq!(member.bls_pubkey, bls::public_key(&sk));
    assert!(bls::pop_verify(&member.bls_pubkey, &member.pop));
    // Copied byte for byte.
    assert_eq!(std::fs::read(KeyDir::keystore_path(&dir)).unwrap(), v.keystore_json.as_bytes());
    assert_eq!(KeyDir::load_public(&dir).unwrap(), member);
    let err = KeyDir::import(&tmp.path().join("other"), &file, &Password::new("nope")).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "wrong password for keystore {} (checksum mismatch); give the password it was encrypted with",
            file.display()
        )
    );
}
