//! The genesis ceremony of a real committee through the real binary (docs/genesis.md): four
//! members each `keys new --new-submitter-key` in their own directory, `genesis assemble`
//! from the documented example template gives the same bytes whatever the order of the
//! entries, every member `genesis approve`s, and `genesis verify --approvals` passes only
//! when every member approved this very genesis — with no secret on stdout or stderr. Then
//! a member's node starts from the ceremony's files.

use crate::support::*;
use claystack_keys::{KeyDir, Password};
use claystack_primitives::hex;
use std::path::{Path, PathBuf};

const PASSWORD: &str = "ceremony test passphrase";

fn example_template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../genesis/example/template.json")
}

fn password_file(dir: &Path) -> PathBuf {
    let path = write_file(dir, "password", &format!("{PASSWORD}\n"));
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    path
}

/// `keys new --new-submitter-key` in `dir`; returns the member.json entry.
fn new_member(dir: &Path, pw: &Path, seen: &mut String) -> serde_json::Value {
    let (ok, stdout, stderr) = oracle_in(
        &["keys", "new", "--dir", s(dir), "--password-file", s(pw), "--fast-kdf", "--new-submitter-key"],
        seen,
    );
    assert!(ok, "{stderr}");
    let entry: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("member.json")).unwrap()).unwrap();
    let address = entry["submitter"].as_str().unwrap();
    assert!(stdout.contains(&format!("submitter   {address}")), "{stdout}");
    assert!(stdout.contains(s(&dir.join("member.json"))) && stdout.contains(s(&dir.join("submitter.key"))), "{stdout}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("submitter.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    entry
}

/// The hash `genesis assemble` / `verify` printed.
fn printed_hash(stdout: &str) -> String {
    let at = stdout.find("hash 0x").unwrap_or_else(|| panic!("{stdout}")) + 5;
    stdout[at..at + 66].to_string()
}

/// Member index and key prefix of a key dir in an assembled genesis, as messages name them.
fn member_label(genesis: &Path, keys: &Path) -> String {
    let g: serde_json::Value = serde_json::from_slice(&std::fs::read(genesis).unwrap()).unwrap();
    let key = hex::encode(&KeyDir::load_public(keys).unwrap().bls_pubkey);
    let i = g["committee"]["members"].as_array().unwrap().iter().position(|m| m["bls_pubkey"] == key.as_str()).unwrap();
    format!("member {i} ({}…)", &key[..14])
}

#[test]
fn four_members_assemble_approve_and_verify_without_sharing_a_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let pw = password_file(root);
    let mut seen = String::new();
    let dirs: Vec<PathBuf> = (0..4).map(|i| root.join(format!("member-{i}"))).collect();
    let entries: Vec<serde_json::Value> = dirs.iter().map(|d| new_member(d, &pw, &mut seen)).collect();
    let template = example_template();

    // Assembled twice: --member flags in one order, and a directory whose names sort the other way.
    let g1 = root.join("genesis.json");
    let mut args = vec!["genesis", "assemble", "--template", s(&template), "--out", s(&g1)];
    let members: Vec<PathBuf> = dirs.iter().map(|d| d.join("member.json")).collect();
    for m in &members {
        args.extend(["--member", s(m)]);
    }
    let (ok, out1, err) = oracle_in(&args, &mut seen);
    assert!(ok, "{err}");
    let inbox = root.join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    for (i, m) in members.iter().enumerate() {
        std::fs::copy(m, inbox.join(format!("{}.json", char::from(b'z' - i as u8)))).unwrap();
    }
    let g2 = root.join("genesis-2.json");
    let (ok, out2, err) = oracle_in(
        &["genesis", "assemble", "--template", s(&template), "--members-dir", s(&inbox), "--out", s(&g2)],
        &mut seen,
    );
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(&g1).unwrap(), std::fs::read(&g2).unwrap());
    let hash = printed_hash(&out1);
    assert_eq!(printed_hash(&out2), hash);
    let assembled: serde_json::Value = serde_json::from_slice(&std::fs::read(&g1).unwrap()).unwrap();
    let submitters: Vec<&str> = entries.iter().map(|e| e["submitter"].as_str().unwrap()).collect();
    for m in assembled["committee"]["members"].as_array().unwrap() {
        assert!(submitters.contains(&m["submitter"].as_str().unwrap()), "{m}");
    }

    // The same command again is fine; other content at --out is refused and left alone.
    let (ok, out, _) = oracle_in(&args, &mut seen);
    assert!(ok && out.contains("identical"), "{out}");
    let three: Vec<&str> =
        ["genesis", "assemble", "--template", s(&template), "--members-dir", s(&inbox), "--member", s(&members[0])]
            .into_iter()
            .chain(["--out", s(&g1)])
            .collect();
    let (ok, _, err) = oracle_in(&three, &mut seen);
    // The fifth entry repeats member 0's: named by both files, nothing written.
    assert!(
        !ok && err.contains(&format!("{}: same bls_pubkey as {}", s(&inbox.join("z.json")), s(&members[0]))),
        "{err}"
    );
    let (ok, _, err) = oracle_in(
        &[
            "genesis",
            "assemble",
            "--template",
            s(&template),
            "--member",
            s(&members[0]),
            "--member",
            s(&members[1]),
            "--member",
            s(&members[2]),
            "--out",
            s(&g1),
        ],
        &mut seen,
    );
    assert!(!ok && err.contains("exists with other content"), "{err}");
    assert_eq!(std::fs::read(&g1).unwrap(), std::fs::read(&g2).unwrap());

    // An entry made without a submitter is named; a given --submitter is recorded.
    let bare = root.join("bare");
    let (ok, _, err) =
        oracle_in(&["keys", "new", "--dir", s(&bare), "--password-file", s(&pw), "--fast-kdf"], &mut seen);
    assert!(ok, "{err}");
    let bare_entry = bare.join("member.json");
    let (ok, _, err) = oracle_in(
        &[
            "genesis",
            "assemble",
            "--template",
            s(&template),
            "--members-dir",
            s(&inbox),
            "--member",
            s(&bare_entry),
            "--out",
            s(&root.join("g3.json")),
        ],
        &mut seen,
    );
    assert!(!ok && err.contains(&format!("{}: has no submitter address", s(&bare_entry))), "{err}");
    assert!(!root.join("g3.json").exists());
    let given = root.join("given");
    let address = "0x00000000000000000000000000000000c0ffee01";
    let (ok, stdout, err) = oracle_in(
        &["keys", "new", "--dir", s(&given), "--password-file", s(&pw), "--fast-kdf", "--submitter", address],
        &mut seen,
    );
    assert!(ok && stdout.contains(&format!("submitter   {address}")), "{stdout}{err}");
    let entry: serde_json::Value = serde_json::from_slice(&std::fs::read(given.join("member.json")).unwrap()).unwrap();
    assert_eq!(entry["submitter"], address);
    assert!(!given.join("submitter.key").exists());

    // Every member approves; verify --approvals passes.
    let approvals = root.join("approvals");
    std::fs::create_dir(&approvals).unwrap();
    for (i, d) in dirs.iter().enumerate() {
        let out = approvals.join(format!("member-{i}.json"));
        let (ok, stdout, err) = oracle_in(
            &[
                "genesis",
                "approve",
                "--genesis",
                s(&g1),
                "--keys-dir",
                s(d),
                "--password-file",
                s(&pw),
                "--out",
                s(&out),
            ],
            &mut seen,
        );
        assert!(ok && stdout.contains(&hash) && stdout.contains(&member_label(&g1, d)), "{stdout}{err}");
    }
    let verify = ["genesis", "verify", "--genesis", s(&g1), "--approvals", s(&approvals)];
    let (ok, stdout, err) = oracle_in(&verify, &mut seen);
    assert!(ok && stdout.contains("every member approved it: 4 approvals"), "{stdout}{err}");

    // One approval missing: the member is named, and verify fails.
    let a2 = approvals.join("member-2.json");
    let kept = std::fs::read(&a2).unwrap();
    std::fs::remove_file(&a2).unwrap();
    let (ok, _, err) = oracle_in(&verify, &mut seen);
    let label = member_label(&g1, &dirs[2]);
    assert!(!ok && err.contains(&format!("{label}: no approval")), "{err}");
    assert_eq!(err.lines().filter(|l| l.contains("no approval")).count(), 1, "{err}");

    // Member 2 approved a modified genesis instead: the two hashes are named.
    let mut modified = assembled.clone();
    modified["first_epoch"] = (modified["first_epoch"].as_u64().unwrap() + 1).into();
    let g_mod = write_file(root, "modified.json", &serde_json::to_string_pretty(&modified).unwrap());
    let (ok, stdout, err) = oracle_in(
        &[
            "genesis",
            "approve",
            "--genesis",
            s(&g_mod),
            "--keys-dir",
            s(&dirs[2]),
            "--password-file",
            s(&pw),
            "--out",
            s(&a2),
        ],
        &mut seen,
    );
    assert!(ok, "{err}");
    let other = printed_hash(&stdout);
    assert_ne!(other, hash);
    let (ok, _, err) = oracle_in(&verify, &mut seen);
    assert!(!ok && err.contains(&format!("{}: {label} approves {other}, this genesis is {hash}", s(&a2))), "{err}");
    std::fs::write(&a2, &kept).unwrap();
    assert!(oracle_in(&verify, &mut seen).0);

    // A key dir outside the committee cannot approve (and is refused before any password).
    let outsider = root.join("outsider");
    new_member(&outsider, &pw, &mut seen);
    let (ok, _, err) = oracle_in(
        &[
            "genesis",
            "approve",
            "--genesis",
            s(&g1),
            "--keys-dir",
            s(&outsider),
            "--password-env",
            "CLAYSTACK_TEST_UNSET",
            "--out",
            s(&root.join("x.json")),
        ],
        &mut seen,
    );
    assert!(!ok && err.contains("is not a member of the committee") && err.trim().lines().count() == 1, "{err}");

    // No secret was ever printed: BLS and p2p secrets, submitter keys, the password.
    let mut secrets = vec![PASSWORD.to_string()];
    for d in dirs.iter().chain([&outsider, &bare, &given]) {
        let keys = KeyDir::unlock(d, &Password::new(PASSWORD)).unwrap();
        secrets.push(hex::encode(&keys.secret_key.to_bytes())[2..].to_string());
        secrets.push(hex::encode(keys.p2p.clone().try_into_ed25519().unwrap().secret().as_ref())[2..].to_string());
        if let Ok(submitter) = std::fs::read_to_string(d.join("submitter.key")) {
            secrets.push(submitter.trim().trim_start_matches("0x").to_string());
        }
    }
    assert_eq!(secrets.len(), 1 + 7 * 2 + 5, "four members and the outsider have submitter keys");
    for secret in &secrets {
        assert!(!secret.is_empty());
        assert!(!seen.contains(secret.as_str()), "a secret appeared in the output:\n{seen}");
    }
}

#[test]
fn a_ceremony_member_runs_with_its_key_dir_and_new_submitter_key() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let pw = password_file(root);
    let mut seen = String::new();
    let keys = root.join("keys");
    new_member(&keys, &pw, &mut seen);
    // The example template for anvil's chain, one member, and no beacon network pinned (the
    // simulator is not mainnet).
    let mut template: serde_json::Value = serde_json::from_slice(&std::fs::read(example_template()).unwrap()).unwrap();
    template["chain_id"] = 31337.into();
    template["committee"]["threshold"] = 1.into();
    template.as_object_mut().unwrap().remove("beacon_genesis_validators_root");
    let template = write_file(root, "template.json", &template.to_string());
    let genesis = root.join("genesis.json");
    let (ok, _, err) = oracle_in(
        &[
            "genesis",
            "assemble",
            "--template",
            s(&template),
            "--member",
            s(&keys.join("member.json")),
            "--out",
            s(&genesis),
        ],
        &mut seen,
    );
    assert!(ok, "{err}");

    let (_sim, url) = start_sim(&data_file("committee.toml"), None);
    let anvil = claystack_testkit::Anvil::builder().start().unwrap();
    let mut args = run_args(&root.join("data"), &url, "0-24", 4);
    let listen = format!("/ip4/127.0.0.1/tcp/{}", free_port());
    let submitter_key = keys.join("submitter.key");
    for (flag, value) in [
        ("--genesis", s(&genesis)),
        ("--rpc-url", &anvil.endpoint()),
        ("--keys-dir", s(&keys)),
        ("--password-file", s(&pw)),
        ("--p2p-listen", &listen),
        ("--submitter-key-file", s(&submitter_key)),
    ] {
        args.extend([flag.to_string(), value.to_string()]);
    }
    let (ok, stderr) = run_to_end(&args, &[]);
    // The node unlocked the keys as genesis member 0, listened, read the submitter key and only
    // then stopped: the template's NodeManager is a placeholder with no code on anvil.
    assert!(!ok, "{stderr}");
    assert!(stderr.lines().any(|l| l.contains("p2p listening") && l.contains("member=0")), "{stderr}");
    let node_manager = template_node_manager();
    let lower = stderr.to_lowercase();
    assert!(lower.lines().any(|l| l.contains("no nodemanager code at") && l.contains(&node_manager)), "{stderr}");
    assert!(!stderr.contains("submitter key file"), "{stderr}");
    let secret = std::fs::read_to_string(&submitter_key).unwrap();
    assert!(!stderr.contains(secret.trim().trim_start_matches("0x")), "{stderr}");
}

fn template_node_manager() -> String {
    let t: serde_json::Value = serde_json::from_slice(&std::fs::read(example_template()).unwrap()).unwrap();
    t["contracts"]["node_manager"].as_str().unwrap().to_lowercase()
}
