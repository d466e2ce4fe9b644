//! `genesis new` writes a valid local genesis; `genesis verify` names each problem.

use crate::support::*;
use std::process::Command;

fn oracle(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn new_then_verify_and_corruptions_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g");
    let seed = format!("0x{}", "07".repeat(32));
    let (ok, stdout, err) = oracle(&[
        "genesis",
        "new",
        "--members",
        "4",
        "--threshold",
        "3",
        "--seed",
        &seed,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let path = out.join("genesis.json");
    let password = std::fs::read_to_string(out.join("password")).unwrap();
    assert!(!stdout.contains(password.trim()), "the password was printed");
    use std::os::unix::fs::PermissionsExt;
    for f in ["password", "member-0/bls.keystore.json", "member-0/p2p.key"] {
        assert_eq!(std::fs::metadata(out.join(f)).unwrap().permissions().mode() & 0o777, 0o600, "{f}");
    }
    // The member key dirs open with the password and are the genesis members.
    let g: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for i in 0..4 {
        let keys = claystack_keys::KeyDir::unlock(
            &out.join(format!("member-{i}")),
            &claystack_keys::Password::new(password.trim()),
        )
        .unwrap();
        assert_eq!(g["committee"]["members"][i]["peer_id"], keys.member.peer_id.as_str());
        assert_eq!(
            g["committee"]["members"][i]["bls_pubkey"],
            claystack_primitives::hex::encode(&keys.member.bls_pubkey)
        );
    }

    let (ok, stdout, err) = oracle(&["genesis", "verify", "--genesis", path.to_str().unwrap()]);
    assert!(ok && stdout.contains("is valid; hash 0x"), "{stdout}{err}");
    // The same seed gives the same BLS keys and addresses (libp2p identities are fresh).
    let again = dir.path().join("g2");
    assert!(oracle(&["genesis", "new", "--seed", &seed, "--out", again.to_str().unwrap()]).0);
    let mut a = g.clone();
    let mut b: serde_json::Value = serde_json::from_slice(&std::fs::read(again.join("genesis.json")).unwrap()).unwrap();
    for v in [&mut a, &mut b] {
        for m in v["committee"]["members"].as_array_mut().unwrap() {
            m["peer_id"] = "".into();
        }
    }
    assert_eq!(a, b);

    // Member 1's proof of possession corrupted, and a threshold that is no majority.
    let mut g = g;
    let pop = g["committee"]["members"][1]["pop"].as_str().unwrap().to_string();
    let flipped = format!("{}{}", &pop[..pop.len() - 1], if pop.ends_with('0') { '1' } else { '0' });
    g["committee"]["members"][1]["pop"] = flipped.into();
    g["committee"]["threshold"] = 2.into();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_vec_pretty(&g).unwrap()).unwrap();
    let (ok, _, err) = oracle(&["genesis", "verify", "--genesis", bad.to_str().unwrap()]);
    assert!(!ok);
    let problems: Vec<&str> = err.lines().filter(|l| l.starts_with(bad.to_str().unwrap())).collect();
    assert_eq!(problems.len(), 2, "{err}");
    assert!(err.contains("member 1") || err.contains("members[1]"), "{err}");

    // Malformed JSON: one line.
    std::fs::write(&bad, "{ not json").unwrap();
    let (ok, _, err) = oracle(&["genesis", "verify", "--genesis", bad.to_str().unwrap()]);
    assert!(!ok && err.trim().lines().count() == 1, "{err}");
}

#[test]
fn a_missing_genesis_is_one_line_naming_the_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.json");
    let (ok, _, err) = oracle(&["genesis", "verify", "--genesis", path.to_str().unwrap()]);
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("nope.json") && err.contains("cannot read"), "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}
