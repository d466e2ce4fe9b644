//! A member that loses its data dir never equivocates (issue 15, item 8): four
//! `claystack-oracle run` processes on 127.0.0.1 against the beacon simulator, no chain (so
//! report 1 stays unsettled and every member keeps re-gossiping what it holds).
//!
//! All four sign report 1. Member 3 is killed; its signing record is exported and imported
//! into a new data dir, where it refuses a different root at once. Then it is started on an
//! empty data dir with
//! *different* frame inputs, so it computes another root: it waits, hears its own earlier
//! signature back from the peers, and refuses to sign (one error line). Then it is started
//! on another empty data dir with the original inputs: it adopts its earlier signature,
//! and a second process started with the same keys stops at once. No peer ever logs an
//! equivocation.

use crate::support::*;
use claystack_genesis::Genesis;
use claystack_primitives::ReportKind;
use std::time::Duration;

const FRAMES: &str = include_str!("../../crates/frame-close/tests/data/frames.json");

/// Short re-gossip windows, so the fresh-store wait (two windows) is 2 s.
const CONFIG: &str = "[committee]\nrebroadcast_ms = 1000\n";

#[test]
fn a_member_on_an_empty_data_dir_never_equivocates() {
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("genesis");
    let password_file = write_file(dir.path(), "password", "lost-data-dir-password");
    std::fs::set_permissions(&password_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = std::process::Command::new(bin())
        .args(["genesis", "new", "--members", "4", "--threshold", "3", "--out"])
        .arg(&g)
        .arg("--password-file")
        .arg(&password_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let genesis_path = g.join("genesis.json");
    let (genesis, _) = Genesis::load(&genesis_path).unwrap();
    let members: Vec<Member> = (0..4)
        .map(|i| Member {
            dir: g.join(format!("member-{i}")),
            port: free_port(),
            peer_id: genesis.committee.members[i].peer_id.clone(),
        })
        .collect();
    let config = write_file(dir.path(), "node.toml", CONFIG);
    let (_sim, url) = start_sim(&data_file("committee.toml"), None);
    let inputs = |name: &str, frames: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("frames.json"), frames).unwrap();
        d
    };
    let original = inputs("inputs", FRAMES);
    let different = inputs("inputs-different", &FRAMES.replace("\"3000000000000000000\"", "\"3100000000000000000\""));
    let env =
        [("CLAYSTACK_PASSWORD_FILE", password_file.to_str().unwrap()), ("CLAYSTACK_CONFIG", config.to_str().unwrap())];
    let start = |i: usize, data: &str, inputs: &std::path::Path| {
        spawn_with_lines(&node_args(&members[i], &members, &dir.path().join(data), &url, &genesis_path, inputs), &env)
    };

    // All four sign report 1; the peers hold member 3's signature.
    let mut peers: Vec<_> = (0..3).map(|i| start(i, &format!("data-{i}"), &original)).collect();
    let (mut m3, lines3) = start(3, "data-3", &original);
    let mut peer_logs: Vec<Vec<String>> = vec![Vec::new(); 3];
    let mut log3 = Vec::new();
    let signed = wait_for(&lines3, &["signed", "kind=rewards report=1"], Duration::from_secs(120), &mut log3);
    let root = field(&signed, "merkle_root").to_string();
    for (i, (_, lines)) in peers.iter().enumerate() {
        wait_for(lines, &["quorum certificate", "report=1", "3]"], Duration::from_secs(60), &mut peer_logs[i]);
    }
    m3.kill();

    // Moving machines: the signing record goes with the keys into a new data dir.
    let record = dir.path().join("signing-record.json");
    let cli = |verb: &str, data: &str, keys: &std::path::Path| {
        let out = std::process::Command::new(bin())
            .args(["signing-record", verb, "--data-dir"])
            .arg(dir.path().join(data))
            .arg("--genesis")
            .arg(&genesis_path)
            .arg("--keys-dir")
            .arg(keys)
            .arg("--file")
            .arg(&record)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, said) = cli("export", "data-3", &members[3].dir);
    assert!(ok && said.contains("signed reports of member 3"), "{said}");
    let (ok, said) = cli("import", "data-3-moved", &members[2].dir);
    assert!(!ok && said.contains("not this key's"), "another member's record: {said}");
    let (ok, said) = cli("import", "data-3-moved", &members[3].dir);
    assert!(ok && said.contains("already held") && !said.starts_with("0 "), "{said}");
    let (ok, said) = cli("import", "data-3-moved", &members[3].dir);
    assert!(ok && said.starts_with("0 signed reports added"), "never lowers or duplicates: {said}");
    // With other inputs there, it refuses at once: no wait, the record says what it signed.
    let (mut m3, lines3) = start(3, "data-3-moved", &different);
    let mut log3 = Vec::new();
    let refused = wait_for(&lines3, &["ERROR", "refusing to sign merkle root"], Duration::from_secs(120), &mut log3);
    assert!(refused.contains(&root), "{refused}");
    m3.kill();
    assert!(!log3.iter().any(|l| l.contains("signing waits") || l.contains("signed kind=")), "{}", log3.join("\n"));

    // An empty data dir and other inputs: another root, which it must not sign.
    let (mut m3, lines3) = start(3, "data-3-lost", &different);
    let mut log3 = Vec::new();
    wait_for(&lines3, &["signing waits"], Duration::from_secs(30), &mut log3);
    let closed = wait_for(&lines3, &["report closed", "report=1"], Duration::from_secs(120), &mut log3);
    let other_root = field(&closed, "merkle_root").to_string();
    assert_ne!(other_root, root, "the altered inputs must give another root");
    let refused = wait_for(&lines3, &["ERROR", "refusing to sign merkle root"], Duration::from_secs(60), &mut log3);
    assert!(refused.contains(&other_root) && refused.contains(&root), "{refused}");
    // A few more re-gossip windows: nothing is signed, nothing contradicts.
    std::thread::sleep(Duration::from_secs(4));
    log3.extend(lines3.try_iter());
    m3.kill();
    assert!(!log3.iter().any(|l| l.contains("signed kind=")), "{}", log3.join("\n"));
    let store = claystack_store::Store::open(&dir.path().join("data-3-lost")).unwrap();
    assert_eq!(store.own_signature(ReportKind::Rewards, 1).unwrap(), None, "no own signature stored");
    drop(store);

    // An empty data dir and the original inputs: it adopts what its key signed before.
    let (mut m3, lines3) = start(3, "data-3-again", &original);
    let mut log3 = Vec::new();
    let adopted = wait_for(&lines3, &["signed", "kind=rewards report=1"], Duration::from_secs(120), &mut log3);
    assert_eq!(field(&adopted, "merkle_root"), root);
    // A second process with member 3's keys (another data dir and port) stops at start.
    let twin = Member { dir: members[3].dir.clone(), port: free_port(), peer_id: members[3].peer_id.clone() };
    let twin_args = node_args(&twin, &members, &dir.path().join("data-3-twin"), &url, &genesis_path, &original);
    let (ok, stderr) = run_to_end(&twin_args, &env);
    assert!(!ok && stderr.contains("is in use by another claystack-oracle process"), "{stderr}");
    std::thread::sleep(Duration::from_secs(3));
    log3.extend(lines3.try_iter());
    m3.kill();
    assert!(!log3.iter().any(|l| l.contains("refusing")), "{}", log3.join("\n"));

    for (i, (p, lines)) in peers.iter_mut().enumerate() {
        peer_logs[i].extend(lines.try_iter());
        p.kill();
        let equivocations: Vec<&String> = peer_logs[i].iter().filter(|l| l.contains("equivocation")).collect();
        assert!(equivocations.is_empty(), "member {i} saw an equivocation: {equivocations:?}");
    }
}
