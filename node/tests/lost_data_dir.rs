//! A member that loses its data dir never equivocates (issue 15, item 8): four
//! `claystack-oracle run` processes on 127.0.0.1 on the devnet's chains (`devnet --hold`),
//! with anvil's mining off, so report 1's submission stays pending and every member keeps
//! re-gossiping what it holds.
//!
//! All four sign report 1. Member 3 is killed; its signing record is exported and imported
//! into a new data dir, where it refuses a different root at once. Then it is started on an
//! empty data dir against a beacon node that answers one balance wrong, so it computes
//! another root: it waits, hears its own earlier signature back from the peers, and refuses
//! to sign (one error line). Then it is started on another empty data dir against the honest
//! beacon node: it adopts its earlier signature, and a second process started with the same
//! keys stops at once. No peer ever logs an equivocation.

use crate::support::*;
use claystack_genesis::Genesis;
use claystack_primitives::ReportKind;
use std::path::Path;
use std::time::Duration;

/// Validator 12's balance 1000 gwei too high from slot 140 (inside report 1's frame, after its
/// start): another consensus-layer reward, so another root.
const WRONG_BALANCE: &str = "[faults.wrong_balance]\nvalidator = 12\nfrom_slot = 140\ngwei = 1000";

#[test]
fn a_member_on_an_empty_data_dir_never_equivocates() {
    let dir = tempfile::tempdir().unwrap();
    let net = HeldDevnet::start(dir.path(), 4, 1);
    // Submissions stay pending: report 1 is never settled during the test.
    net.rpc("evm_setAutomine", serde_json::json!([false]));
    let genesis_path = net.genesis_path();
    let (genesis, _) = Genesis::load(&genesis_path).unwrap();
    let members: Vec<Member> = (0..4)
        .map(|i| Member {
            dir: net.member(i).join("keys"),
            port: net.p2p_port(i),
            peer_id: genesis.committee.members[i].peer_id.clone(),
        })
        .collect();
    let original = net.str("beacon_url");
    let (_liar_beacon, different) = net.faulty_beacon("wrong-balance", WRONG_BALANCE);
    let env = [("CLAYSTACK_LOG", "info")];
    let data = |name: &str| dir.path().join(name);
    let start = |i: usize, data: &Path, beacon: &str| {
        let mut args = net.run_args(i);
        args.extend(["--data-dir".into(), data.display().to_string(), "--beacon-url".into(), beacon.into()]);
        spawn_with_lines(&args, &env)
    };

    // All four sign report 1; the peers hold member 3's signature.
    let mut peers: Vec<_> = (0..3).map(|i| start(i, &data(&format!("data-{i}")), &original)).collect();
    let (mut m3, lines3) = start(3, &data("data-3"), &original);
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
    let cli = |verb: &str, data_dir: &str, keys: &Path| {
        let out = std::process::Command::new(bin())
            .args(["signing-record", verb, "--data-dir"])
            .arg(data(data_dir))
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
    // Against the lying beacon node there, it refuses at once: no wait, the record says what it signed.
    let (mut m3, lines3) = start(3, &data("data-3-moved"), &different);
    let mut log3 = Vec::new();
    let refused = wait_for(&lines3, &["ERROR", "refusing to sign merkle root"], Duration::from_secs(120), &mut log3);
    assert!(refused.contains(&root), "{refused}");
    m3.kill();
    assert!(!log3.iter().any(|l| l.contains("signing waits") || l.contains("signed kind=")), "{}", log3.join("\n"));

    // An empty data dir and the lying beacon node: another root, which it must not sign.
    let (mut m3, lines3) = start(3, &data("data-3-lost"), &different);
    let mut log3 = Vec::new();
    wait_for(&lines3, &["signing waits"], Duration::from_secs(30), &mut log3);
    let closed = wait_for(&lines3, &["report closed", "report=1"], Duration::from_secs(120), &mut log3);
    let other_root = field(&closed, "merkle_root").to_string();
    assert_ne!(other_root, root, "the wrong balance must give another root");
    let refused = wait_for(&lines3, &["ERROR", "refusing to sign merkle root"], Duration::from_secs(60), &mut log3);
    assert!(refused.contains(&other_root) && refused.contains(&root), "{refused}");
    // A few more re-gossip windows: nothing is signed, nothing contradicts.
    std::thread::sleep(Duration::from_secs(4));
    log3.extend(lines3.try_iter());
    m3.kill();
    assert!(!log3.iter().any(|l| l.contains("signed kind=")), "{}", log3.join("\n"));
    let store = claystack_store::Store::open(&data("data-3-lost")).unwrap();
    assert_eq!(store.own_signature(ReportKind::Rewards, 1).unwrap(), None, "no own signature stored");
    drop(store);

    // An empty data dir and the honest beacon node: it adopts what its key signed before.
    let (mut m3, lines3) = start(3, &data("data-3-again"), &original);
    let mut log3 = Vec::new();
    let adopted = wait_for(&lines3, &["signed", "kind=rewards report=1"], Duration::from_secs(120), &mut log3);
    assert_eq!(field(&adopted, "merkle_root"), root);
    // A second process with member 3's keys (another data dir and port) stops at start.
    let twin = Member { dir: members[3].dir.clone(), port: free_port(), peer_id: members[3].peer_id.clone() };
    let mut twin_args = net.run_args(3);
    twin_args.extend([
        "--data-dir".into(),
        data("data-3-twin").display().to_string(),
        "--p2p-listen".into(),
        format!("/ip4/127.0.0.1/tcp/{}", twin.port),
    ]);
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
