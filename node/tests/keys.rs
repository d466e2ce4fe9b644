//! `keys new|import|list` through the real binary: a key directory whose proof of
//! possession verifies, imported elsewhere, listed, and a wrong password refused in one
//! line — with no secret and no password ever on stdout or stderr.

use crate::support::*;
use claystack_genesis::bls;
use claystack_keys::{KeyDir, Password};
use claystack_primitives::hex;
use std::path::Path;

const PASSWORD: &str = "correct horse battery staple";
const PASSWORD_VAR: &str = "CLAYSTACK_TEST_KEYSTORE_PASSWORD";

fn list_json(dir: &Path, seen: &mut String) -> Vec<serde_json::Value> {
    let (ok, stdout, stderr) = oracle(&["keys", "list", "--dir", s(dir), "--format", "json"], &[], seen);
    assert!(ok, "{stderr}");
    serde_json::from_str::<serde_json::Value>(&stdout).unwrap().as_array().unwrap().clone()
}

#[test]
fn new_list_import_and_wrong_password() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    let m0 = keys.join("member-0");
    let m1 = keys.join("member-1");
    let pw_file = tmp.path().join("password.txt");
    std::fs::write(&pw_file, format!("{PASSWORD}\n")).unwrap();
    let mut seen = String::new();
    // A password file must be its owner's alone, as any secret file.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pw_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, _, stderr) =
        oracle(&["keys", "new", "--dir", s(&m0), "--password-file", s(&pw_file), "--fast-kdf"], &[], &mut seen);
    assert!(!ok && stderr.contains("can be read by other users") && stderr.contains("chmod 600"), "{stderr}");
    assert!(!m0.exists(), "nothing written for a refused password file");
    std::fs::set_permissions(&pw_file, std::fs::Permissions::from_mode(0o600)).unwrap();

    // new
    let (ok, stdout, stderr) =
        oracle(&["keys", "new", "--dir", s(&m0), "--password-file", s(&pw_file), "--fast-kdf"], &[], &mut seen);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("bls_pubkey  0x") && stdout.contains("peer_id     12D3KooW"), "{stdout}");

    // list one directory: the proof of possession verifies
    let listed = list_json(&m0, &mut seen);
    assert_eq!(listed.len(), 1);
    let pubkey: [u8; 48] = hex::decode_fixed(listed[0]["bls_pubkey"].as_str().unwrap()).unwrap();
    let pop: [u8; 96] = hex::decode_fixed(listed[0]["pop"].as_str().unwrap()).unwrap();
    assert!(bls::pop_verify(&pubkey, &pop), "the listed proof of possession must verify");
    let peer0 = listed[0]["peer_id"].as_str().unwrap().to_string();

    // import the created keystore into another directory, password from the environment
    let keystore = KeyDir::keystore_path(&m0);
    let (ok, _, stderr) = oracle(
        &["keys", "import", "--keystore", s(&keystore), "--dir", s(&m1), "--password-env", PASSWORD_VAR],
        &[(PASSWORD_VAR, PASSWORD)],
        &mut seen,
    );
    assert!(ok, "{stderr}");

    // list the parent: both, same BLS key, each its own peer id
    let listed = list_json(&keys, &mut seen);
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1]["dir"].as_str().unwrap(), s(&m1));
    assert_eq!(listed[1]["bls_pubkey"], listed[0]["bls_pubkey"]);
    assert_ne!(listed[1]["peer_id"].as_str().unwrap(), peer0);
    let (ok, table, _) = oracle(&["keys", "list", "--dir", s(&keys)], &[], &mut seen);
    assert!(ok && table.contains(s(&m0)) && table.contains(s(&m1)) && table.contains(&peer0), "{table}");

    // a wrong password: one line naming the keystore, and nothing written
    let m2 = keys.join("member-2");
    let (ok, stdout, stderr) = oracle(
        &["keys", "import", "--keystore", s(&keystore), "--dir", s(&m2), "--password-env", PASSWORD_VAR],
        &[(PASSWORD_VAR, "not the password")],
        &mut seen,
    );
    assert!(!ok && stdout.is_empty());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with(&format!("error: wrong password for keystore {}", s(&keystore))), "{stderr}");
    assert!(!m2.exists());

    // a file that is not a keystore: said once, on one line
    let (ok, _, stderr) = oracle(
        &["keys", "import", "--keystore", s(&pw_file), "--dir", s(&m2), "--password-file", s(&pw_file)],
        &[],
        &mut seen,
    );
    assert!(!ok && stderr.trim().lines().count() == 1, "{stderr}");
    assert_eq!(stderr.matches("not an EIP-2335 keystore").count(), 1, "{stderr}");

    // keys are never overwritten; a missing variable is named
    let (ok, _, stderr) =
        oracle(&["keys", "new", "--dir", s(&m0), "--password-file", s(&pw_file), "--fast-kdf"], &[], &mut seen);
    assert!(!ok && stderr.trim().lines().count() == 1 && stderr.contains("already holds keys"), "{stderr}");
    let (ok, _, stderr) =
        oracle(&["keys", "new", "--dir", s(&m2), "--password-env", "CLAYSTACK_TEST_UNSET_VARIABLE"], &[], &mut seen);
    assert!(!ok && stderr.contains("CLAYSTACK_TEST_UNSET_VARIABLE is not set"), "{stderr}");

    // nothing secret was printed: not the BLS secret, not the p2p key, not the password
    let unlocked = KeyDir::unlock(&m0, &Password::new(PASSWORD)).unwrap();
    let secret = hex::encode(&unlocked.secret_key.to_bytes());
    let p2p = hex::encode(unlocked.p2p.clone().try_into_ed25519().unwrap().secret().as_ref());
    for needle in [&secret[2..], &p2p[2..], PASSWORD, "not the password"] {
        assert!(!seen.contains(needle), "`{needle}` appeared in the output:\n{seen}");
    }
}
