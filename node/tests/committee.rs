//! A committee of four on 127.0.0.1: three `claystack-oracle run` processes and one liar
//! (this test, holding member 2's libp2p and BLS keys), on the devnet's chains (`devnet
//! --hold`: anvil with the contracts, the beacon simulator), every input measured.
//!
//! Members 0 and 1 start, close report 1 and sign it; the liar gossips a validly signed
//! wrong root and then a bad signature for the right root; member 1 is killed (`kill -9`)
//! and restarted; no quorum exists while member 3 is down; member 3 starts, and members
//! 0, 1 and 3 reach the quorum (3 of 4) with the same certificate, whose aggregate
//! signature verifies against the members' keys from genesis.

use crate::support::*;
use claystack_genesis::Genesis;
use claystack_keys::{KeyDir, Password};
use claystack_p2p::{Multiaddr, Network, P2pConfig, PeerId, TopicScope};
use claystack_primitives::hex;
use claystack_primitives::{ReportId, ReportKind};
use claystack_quorum::{bls, Roster, SecretKeySigner, SignatureMessage, Signer};
use std::time::{Duration, Instant};

#[test]
fn three_of_four_reach_quorum_despite_a_down_member_and_a_liar() {
    let dir = tempfile::tempdir().unwrap();
    let net = HeldDevnet::start(dir.path(), 4, 1);
    let (genesis, _) = Genesis::load(&net.genesis_path()).unwrap();
    let members: Vec<Member> = (0..4)
        .map(|i| Member {
            dir: net.member(i).join("keys"),
            port: net.p2p_port(i),
            peer_id: genesis.committee.members[i].peer_id.clone(),
        })
        .collect();
    let env = [("CLAYSTACK_LOG", "info")];
    let args = |i: usize| net.run_args(i);

    // The liar: member 2's own keys, on its own port, in this process.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let liar_keys = KeyDir::unlock(&members[2].dir, &Password::new(net.password())).unwrap();
    let liar_signer = SecretKeySigner::new(liar_keys.secret_key);
    let peers: Vec<(PeerId, Multiaddr)> = [0, 1, 3]
        .iter()
        .map(|&i| {
            let m = &members[i];
            (m.peer_id.parse().unwrap(), format!("/ip4/127.0.0.1/tcp/{}", m.port).parse().unwrap())
        })
        .collect();
    let scope = TopicScope { chain_id: genesis.chain_id, committee_hash: genesis.hash() };
    let listen: Multiaddr = format!("/ip4/127.0.0.1/tcp/{}", members[2].port).parse().unwrap();
    let (liar, _liar_events) =
        rt.block_on(Network::spawn(P2pConfig::new(listen, liar_keys.p2p, peers, scope))).unwrap();

    // Members 0 and 1 close report 1 and sign it.
    let (mut logs0, mut logs1) = (Vec::new(), Vec::new());
    let (_n0, lines0) = spawn_with_lines(&args(0), &env);
    let (mut n1, lines1) = spawn_with_lines(&args(1), &env);
    let closed = wait_for(&lines0, &["report closed", "report=1"], Duration::from_secs(90), &mut logs0);
    let root = hex::decode_fixed::<32>(field(&closed, "merkle_root")).unwrap();
    let report_hash = hex::decode_fixed::<32>(field(&closed, "report_hash")).unwrap();
    // New data dirs: each member first waits two re-gossip windows (2 x 15 s) before it signs.
    wait_for(&lines0, &["signed", "kind=rewards report=1"], Duration::from_secs(90), &mut logs0);
    wait_for(&lines1, &["signed", "kind=rewards report=1"], Duration::from_secs(90), &mut logs1);

    // The liar signs a wrong root (a valid signature, but of another report content) ...
    let roster = Roster::from_genesis(&genesis).unwrap();
    let id = ReportId { kind: ReportKind::Rewards, number: 1 };
    let wrong = [0xee; 32];
    let signature = liar_signer.sign(roster.signing_root(id, &wrong, &wrong).as_bytes());
    let lie =
        SignatureMessage { kind: id.kind, number: 1, merkle_root: wrong, report_hash: wrong, signer: 2, signature };
    // ... and then the right root with a signature that does not verify.
    let forged = SignatureMessage { merkle_root: root, report_hash, ..lie };
    rt.block_on(async {
        // Both running members hear it (a message published to nobody would wait in a queue).
        let deadline = Instant::now() + Duration::from_secs(30);
        while liar.status().await.unwrap().subscribed.len() < 2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        liar.publish(lie.encode().to_vec()).await.unwrap();
        liar.publish(forged.encode().to_vec()).await.unwrap();
    });
    wait_for(&lines0, &["refused", "member=2"], Duration::from_secs(30), &mut logs0);

    // Member 1 crashes after signing and comes back: it rejoins and gossips again.
    n1.kill();
    let (_n1, lines1) = spawn_with_lines(&args(1), &env);
    let mut logs1 = Vec::new();
    wait_for(&lines1, &["committee member started"], Duration::from_secs(30), &mut logs1);
    // Two honest signatures are not a quorum.
    std::thread::sleep(Duration::from_secs(2));
    logs0.extend(lines0.try_iter());
    assert!(!logs0.iter().any(|l| l.contains("quorum certificate")), "quorum without member 3:\n{}", logs0.join("\n"));

    // Member 3 starts: 0, 1 and 3 reach the quorum.
    let (_n3, lines3) = spawn_with_lines(&args(3), &env);
    let mut logs3 = Vec::new();
    let mut certificates = Vec::new();
    for (lines, log) in [(&lines0, &mut logs0), (&lines3, &mut logs3), (&lines1, &mut logs1)] {
        let line = wait_for(
            lines,
            &["quorum certificate", "kind=rewards report=1", "signers=[0, 1, 3]"],
            Duration::from_secs(90),
            log,
        );
        certificates.push(field(&line, "merkle_root").to_string());
    }
    assert!(certificates.iter().all(|c| *c == hex::encode(&root)), "{certificates:?}");
    // The devnet's chains, measured by each member alone: the devnet's pinned report 1.
    assert_eq!(hex::encode(&root), crate::devnet::DEVNET_REPORT_1_ROOT);
    assert!(!logs0
        .iter()
        .chain(&logs1)
        .chain(&logs3)
        .any(|l| l.contains(&hex::encode(&wrong)) && l.contains("quorum")));
    drop((_n0, _n1, _n3));
    rt.block_on(liar.shutdown()).ok();

    // The stored certificate's aggregate verifies against the signers' keys from genesis.
    let store = claystack_store::Store::open(&net.member(0).join("data")).unwrap();
    let cert = claystack_quorum_driver::decode_certificate(&store.aggregate(ReportKind::Rewards, 1).unwrap().unwrap())
        .unwrap();
    assert_eq!(cert.merkle_root, root);
    assert_eq!(cert.signers.members().collect::<Vec<_>>(), vec![0, 1, 3]);
    let keys: Vec<_> = cert
        .signers
        .members()
        .map(|m| bls::parse_public_key(&genesis.committee.members[m as usize].bls_pubkey).unwrap())
        .collect();
    let sig = bls::parse_signature(&cert.signature).unwrap();
    assert!(bls::verify_aggregate(&keys.iter().collect::<Vec<_>>(), cert.signing_root.as_bytes(), &sig));
    assert_eq!(cert.signing_root, roster.signing_root(id, &root, &report_hash));
}
