use super::*;
use crate::bls::SecretKeySigner;
use crate::signing::SigningDomain;
use claystack_primitives::ReportKind;

const A: Content = ([0xaa; 32], [0x01; 32]);
const B: Content = ([0xbb; 32], [0x02; 32]);

fn signer(i: usize) -> SecretKeySigner {
    let mut ikm = [7u8; 32];
    ikm[0] = i as u8;
    SecretKeySigner::new(blst::min_pk::SecretKey::key_gen(&ikm, &[]).unwrap())
}

fn roster(n: usize, threshold: u32) -> Arc<Roster> {
    let keys: Vec<[u8; 48]> = (0..n).map(|i| signer(i).public_key()).collect();
    Arc::new(Roster::new(SigningDomain { chain_id: 31337, node_manager: [0x5f; 20] }, threshold, &keys).unwrap())
}

fn id(number: u64) -> ReportId {
    ReportId::new(ReportKind::Rewards, number)
}

fn message(roster: &Roster, member: usize, id: ReportId, c: Content) -> SignatureMessage {
    let root = roster.signing_root(id, &c.0, &c.1);
    SignatureMessage {
        kind: id.kind,
        number: id.number,
        merkle_root: c.0,
        report_hash: c.1,
        signer: member as u16,
        signature: signer(member).sign(root.as_bytes()),
    }
}

const CONFIG: Config = Config {
    window_behind: 2,
    window_ahead: 2,
    rebroadcast_ms: 1_000,
    fallback_ms: 10_000,
    late_verify_ms: 0,
    fresh_wait_ms: 0,
};

/// A fresh store waits 2.5 rebroadcast windows before it signs.
const FRESH: Config = Config { fresh_wait_ms: 2_500, ..CONFIG };

fn no_regossip(actions: Vec<Action>) -> Vec<Action> {
    actions.into_iter().filter(|a| !matches!(a, Action::Regossip(_))).collect()
}

fn collector(roster: &Arc<Roster>, me: usize, persisted: Persisted) -> (Collector<SecretKeySigner>, Vec<Action>) {
    Collector::new(CONFIG, roster.clone(), signer(me), 0, persisted).unwrap()
}

fn own(c: Content, number: u64) -> Input {
    Input::Own { id: id(number), merkle_root: c.0, report_hash: c.1 }
}

fn peer(m: SignatureMessage) -> Input {
    Input::Peer { member: m.signer, message: m }
}

fn quorums(actions: &[Action]) -> Vec<&Certificate> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::QuorumReached(c) | Action::AggregateUpdated(c) => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn signs_once_and_persists_before_broadcast() {
    let r = roster(4, 3);
    let (mut c, start) = collector(&r, 1, Persisted::default());
    assert!(start.is_empty());
    let actions = c.handle(own(A, 1)).unwrap();
    let m = message(&r, 1, id(1), A);
    assert_eq!(actions, vec![Action::Persist(m), Action::Broadcast(m)]);
    assert_eq!(c.own_signature(id(1)), Some(&m));
    // The same report again: nothing to do. Another root: refused, nothing signed.
    assert_eq!(c.handle(own(A, 1)).unwrap(), vec![]);
    let err = c.handle(own(B, 1)).unwrap_err();
    assert!(matches!(err, CollectorError::WouldEquivocate { .. }), "{err}");
    assert!(err.to_string().starts_with("rewards report 1: refusing to sign merkle root 0xbbbb"), "{err}");
    assert_eq!(c.own_signature(id(1)), Some(&m));
}

#[test]
fn restart_rebroadcasts_and_still_refuses_a_second_root() {
    let r = roster(4, 3);
    let (mut first, _) = collector(&r, 2, Persisted::default());
    let persisted_own: Vec<SignatureMessage> = first
        .handle(own(A, 1))
        .unwrap()
        .into_iter()
        .filter_map(|a| match a {
            Action::Persist(m) => Some(m),
            _ => None,
        })
        .collect();
    drop(first);

    let persisted = Persisted { own: persisted_own.clone(), ..Persisted::default() };
    let (mut again, actions) = collector(&r, 2, persisted);
    assert_eq!(actions, vec![Action::Broadcast(persisted_own[0])]);
    assert!(matches!(again.handle(own(B, 1)), Err(CollectorError::WouldEquivocate { .. })));
    assert_eq!(again.handle(own(A, 1)).unwrap(), vec![]);
    assert!(again.handle(own(B, 2)).is_ok(), "another report is signed normally");
}

#[test]
fn restart_restores_peers_and_the_quorum() {
    let r = roster(4, 3);
    let persisted = Persisted {
        current: [1, 0],
        own: vec![message(&r, 0, id(1), A)],
        peers: vec![message(&r, 1, id(1), A), message(&r, 3, id(1), A)],
        settled: vec![],
    };
    let (c, actions) = collector(&r, 0, persisted);
    let cert = c.certificate(id(1)).unwrap();
    assert_eq!(cert.signers.members().collect::<Vec<_>>(), vec![0, 1, 3]);
    assert!(actions.contains(&Action::QuorumReached(cert.clone())));
    assert_eq!(actions[0], Action::Broadcast(message(&r, 0, id(1), A)));
}

#[test]
fn restart_refuses_a_damaged_store() {
    let r = roster(4, 3);
    let not_mine = Persisted { own: vec![message(&r, 1, id(1), A)], ..Persisted::default() };
    assert!(matches!(
        Collector::new(CONFIG, r.clone(), signer(0), 0, not_mine),
        Err(CollectorError::BadPersistedOwn { .. })
    ));
    let two_roots = Persisted { own: vec![message(&r, 0, id(1), A), message(&r, 0, id(1), B)], ..Persisted::default() };
    assert!(matches!(
        Collector::new(CONFIG, r.clone(), signer(0), 0, two_roots),
        Err(CollectorError::BadPersistedOwn { .. })
    ));
    let mut forged = message(&r, 0, id(1), A);
    forged.signature = message(&r, 0, id(1), B).signature;
    let bad_sig = Persisted { own: vec![forged], ..Persisted::default() };
    assert!(matches!(
        Collector::new(CONFIG, r.clone(), signer(0), 0, bad_sig),
        Err(CollectorError::BadPersistedOwn { .. })
    ));
}

#[test]
fn own_key_seen_on_the_network_blocks_another_root() {
    // The store was lost, but a peer still relays what this node signed before.
    let r = roster(4, 3);
    let (mut c, _) = collector(&r, 0, Persisted::default());
    let earlier = message(&r, 0, id(1), A);
    assert!(c.handle(peer(earlier)).unwrap().is_empty());
    assert!(matches!(c.handle(own(B, 1)), Err(CollectorError::WouldEquivocate { .. })));
    // The same root is adopted (persisted and broadcast), not signed twice.
    let actions = c.handle(own(A, 1)).unwrap();
    assert!(actions.ends_with(&[Action::Persist(earlier), Action::Broadcast(earlier)]), "{actions:?}");
}

#[test]
fn own_key_equivocating_on_the_network_signs_nothing() {
    let r = roster(4, 3);
    let (mut c, _) = collector(&r, 0, Persisted::default());
    c.handle(peer(message(&r, 0, id(1), A))).unwrap();
    let actions = c.handle(peer(message(&r, 0, id(1), B))).unwrap();
    assert!(matches!(actions.last(), Some(Action::Equivocation(Evidence { member: 0, .. }))), "{actions:?}");
    for root in [A, B] {
        assert!(matches!(c.handle(own(root, 1)), Err(CollectorError::WouldEquivocate { .. })));
    }
    assert_eq!(c.own_signature(id(1)), None);
}

#[test]
fn quorum_then_rotation_with_fallback() {
    let r = roster(4, 3);
    // Report 1: attempt k belongs to member (1 + k) mod 4; this node is member 2, so attempt 1.
    let (mut c, _) = collector(&r, 2, Persisted::default());
    c.handle(Input::Tick { now_ms: 5_000 }).unwrap();
    c.handle(own(A, 1)).unwrap();
    assert!(quorums(&c.handle(peer(message(&r, 0, id(1), A))).unwrap()).is_empty());
    let actions = c.handle(peer(message(&r, 3, id(1), A))).unwrap();
    let cert = quorums(&actions)[0].clone();
    assert_eq!(cert.signers.members().collect::<Vec<_>>(), vec![0, 2, 3]);
    assert!(!actions.iter().any(|a| matches!(a, Action::Submit { .. })), "attempt 0 is member 1's");

    let submits = |actions: Vec<Action>| -> Vec<u64> {
        actions
            .into_iter()
            .filter_map(|a| match a {
                Action::Submit { attempt, .. } => Some(attempt),
                _ => None,
            })
            .collect()
    };
    assert_eq!(submits(c.handle(Input::Tick { now_ms: 14_999 }).unwrap()), Vec::<u64>::new());
    assert_eq!(submits(c.handle(Input::Tick { now_ms: 15_000 }).unwrap()), vec![1]);
    assert_eq!(submits(c.handle(Input::Tick { now_ms: 16_000 }).unwrap()), Vec::<u64>::new());
    // A late signature updates, at the next tick, the certificate that later attempts submit.
    assert!(c.handle(peer(message(&r, 1, id(1), A))).unwrap().is_empty());
    let actions = no_regossip(c.handle(Input::Tick { now_ms: 16_500 }).unwrap());
    assert_eq!(quorums(&actions)[0].signers.len(), 4);
    assert!(matches!(&actions[..], [Action::Record(_), Action::AggregateUpdated(_)]), "{actions:?}");
    // Attempts 2..4 are the others'; attempt 5 wraps round to this node again.
    assert_eq!(submits(c.handle(Input::Tick { now_ms: 54_999 }).unwrap()), Vec::<u64>::new());
    let actions = c.handle(Input::Tick { now_ms: 55_000 }).unwrap();
    match actions.iter().find(|a| matches!(a, Action::Submit { .. })) {
        Some(Action::Submit { certificate, attempt }) => {
            assert_eq!(*attempt, 5);
            assert_eq!(certificate.signers.len(), 4);
        }
        other => panic!("expected a submit, got {other:?}"),
    }
    c.handle(Input::Settled { id: id(1) }).unwrap();
    assert!(c.handle(Input::Tick { now_ms: 1_000_000 }).unwrap().is_empty());
}

#[test]
fn first_submitter_submits_at_quorum() {
    let r = roster(4, 3);
    let (mut c, _) = collector(&r, 1, Persisted::default());
    c.handle(peer(message(&r, 0, id(1), A))).unwrap();
    c.handle(peer(message(&r, 2, id(1), A))).unwrap();
    let actions = c.handle(own(A, 1)).unwrap();
    assert!(matches!(&actions[..2], [Action::Persist(_), Action::Broadcast(_)]));
    assert!(matches!(actions.last(), Some(Action::Submit { attempt: 0, .. })), "{actions:?}");
}

#[test]
fn rebroadcasts_on_a_timer_until_settled() {
    let r = roster(4, 3);
    let (mut c, _) = collector(&r, 0, Persisted::default());
    let m = message(&r, 0, id(1), A);
    c.handle(own(A, 1)).unwrap();
    assert!(c.handle(Input::Tick { now_ms: 999 }).unwrap().is_empty());
    assert_eq!(c.handle(Input::Tick { now_ms: 1_000 }).unwrap(), vec![Action::Rebroadcast(m)]);
    assert!(c.handle(Input::Tick { now_ms: 1_500 }).unwrap().is_empty());
    assert_eq!(c.handle(Input::Tick { now_ms: 2_000 }).unwrap(), vec![Action::Rebroadcast(m)]);
    // A clock that goes back changes nothing.
    assert!(c.handle(Input::Tick { now_ms: 10 }).unwrap().is_empty());
    c.handle(Input::Settled { id: id(1) }).unwrap();
    assert!(c.handle(Input::Tick { now_ms: 9_000 }).unwrap().is_empty());
}

#[test]
fn equivocation_is_evidence_and_can_lose_the_quorum() {
    let r = roster(4, 3);
    let (mut c, _) = collector(&r, 0, Persisted::default());
    c.handle(own(A, 1)).unwrap();
    c.handle(peer(message(&r, 1, id(1), A))).unwrap();
    assert!(!quorums(&c.handle(peer(message(&r, 2, id(1), A))).unwrap()).is_empty());
    let actions = c.handle(peer(message(&r, 2, id(1), B))).unwrap();
    let evidence = Evidence { member: 2, first: message(&r, 2, id(1), A), second: message(&r, 2, id(1), B) };
    assert_eq!(actions, vec![Action::Equivocation(evidence.clone()), Action::QuorumLost { id: id(1) }]);
    assert_eq!(c.certificate(id(1)), None);
    assert_eq!(c.equivocations(id(1)), vec![&evidence]);
    // The equivocator's messages change nothing any more.
    assert!(c.handle(peer(message(&r, 2, id(1), A))).unwrap().is_empty());
    let actions = c.handle(peer(message(&r, 3, id(1), A))).unwrap();
    assert_eq!(quorums(&actions)[0].signers.members().collect::<Vec<_>>(), vec![0, 1, 3]);
    assert!(matches!(actions.last(), Some(Action::QuorumReached(_))));
}

#[test]
fn rejects_what_no_honest_member_sends() {
    let r = roster(4, 3);
    let (mut c, _) = collector(&r, 0, Persisted::default());
    let good = message(&r, 1, id(1), A);
    let reject = |actions: Vec<Action>| match &actions[..] {
        [Action::Reject { member, reason, .. }] => (*member, *reason),
        other => panic!("expected one reject, got {other:?}"),
    };
    assert_eq!(
        reject(c.handle(Input::Peer { member: 2, message: good }).unwrap()),
        (2, RejectReason::SignerMismatch { claimed: 2, signer: 1 })
    );
    let mut stranger = good;
    stranger.signer = 9;
    assert_eq!(reject(c.handle(peer(stranger)).unwrap()), (9, RejectReason::UnknownMember(9)));
    assert_eq!(
        reject(c.handle(peer(message(&r, 1, id(4), A))).unwrap()),
        (1, RejectReason::OutOfWindow { id: id(4), low: 1, high: 2 })
    );
    let mut garbage = good;
    garbage.signature = [0xab; 96];
    assert!(matches!(reject(c.handle(peer(garbage)).unwrap()), (1, RejectReason::BadSignature(_))));
    // A valid point that is not member 1's signature: found invalid at the next tick.
    let mut forged = good;
    forged.signature = message(&r, 3, id(1), A).signature;
    assert!(c.handle(peer(forged)).unwrap().is_empty());
    assert_eq!(c.standing(&forged), Standing::Pending);
    assert_eq!(
        c.handle(Input::Tick { now_ms: 1 }).unwrap(),
        vec![Action::Reject { member: 1, message: forged, reason: RejectReason::InvalidSignature }]
    );
    assert_eq!(c.standing(&forged), Standing::Unknown);
    // Its slot is free again for the real one.
    c.handle(peer(good)).unwrap();
    assert_eq!(c.standing(&good), Standing::Pending);
    assert_eq!(c.handle(Input::Tick { now_ms: 2 }).unwrap(), vec![Action::Record(good)]);
    assert_eq!(c.standing(&good), Standing::Valid);
    assert_eq!(c.standing(&forged), Standing::Unknown);
}

#[test]
fn window_follows_own_and_settled_reports() {
    let r = roster(4, 3);
    let (mut c, _) = collector(&r, 0, Persisted { current: [3, 0], ..Persisted::default() });
    assert_eq!(c.window().bounds(ReportKind::Rewards), (1, 5));
    c.handle(peer(message(&r, 1, id(1), A))).unwrap();
    c.handle(own(A, 6)).unwrap();
    assert_eq!(c.window().bounds(ReportKind::Rewards), (4, 8));
    assert!(c.rounds.keys().all(|i| i.number >= 4), "old rounds are forgotten");
    assert!(matches!(c.handle(own(A, 3)), Err(CollectorError::Stale { low: 4, high: 8, .. })));
    assert!(matches!(c.handle(own(A, 0)), Err(CollectorError::ZeroNumber { .. })));
    c.handle(Input::Settled { id: ReportId::new(ReportKind::Exits, 9) }).unwrap();
    assert_eq!(c.window().bounds(ReportKind::Exits), (7, 11));
    assert_eq!(c.window().bounds(ReportKind::Rewards), (4, 8));
}

#[test]
fn construction_errors() {
    let r = roster(4, 3);
    let stranger = signer(9);
    assert!(matches!(
        Collector::new(CONFIG, r.clone(), stranger, 0, Persisted::default()),
        Err(CollectorError::NotAMember(_))
    ));
    let zero = Config { fallback_ms: 0, ..CONFIG };
    assert_eq!(
        Collector::new(zero, r, signer(0), 0, Persisted::default()).err(),
        Some(CollectorError::Config("fallback_ms"))
    );
}

#[test]
fn a_pending_forgery_displaced_by_the_real_message_is_the_one_rejected() {
    let r = roster(4, 3);
    let (mut c, _) = collector(&r, 0, Persisted::default());
    let good = message(&r, 1, id(1), A);
    let mut forged = good;
    forged.signature = message(&r, 3, id(1), A).signature;
    assert!(c.handle(peer(forged)).unwrap().is_empty());
    assert_eq!(
        c.handle(peer(good)).unwrap(),
        vec![Action::Reject { member: 1, message: forged, reason: RejectReason::InvalidSignature }]
    );
    assert_eq!(c.standing(&good), Standing::Pending);
    assert_eq!(c.handle(Input::Tick { now_ms: 1 }).unwrap(), vec![Action::Record(good)]);
}

#[test]
fn late_signatures_of_a_certified_root_wait_for_one_batch() {
    let r = roster(5, 3);
    let config = Config { late_verify_ms: 1_000, ..CONFIG };
    let (mut c, _) = Collector::new(config, r.clone(), signer(0), 0, Persisted::default()).unwrap();
    c.handle(own(A, 1)).unwrap();
    c.handle(peer(message(&r, 1, id(1), A))).unwrap();
    assert_eq!(quorums(&c.handle(peer(message(&r, 2, id(1), A))).unwrap()).len(), 1);
    // Certified: a late signature waits (pending) until the oldest late one is 1 s old.
    c.handle(Input::Tick { now_ms: 100 }).unwrap();
    let late = [message(&r, 3, id(1), A), message(&r, 4, id(1), A)];
    c.handle(peer(late[0])).unwrap();
    c.handle(Input::Tick { now_ms: 600 }).unwrap();
    c.handle(peer(late[1])).unwrap();
    let actions = no_regossip(c.handle(Input::Tick { now_ms: 1_000 }).unwrap());
    assert!(matches!(&actions[..], [Action::Rebroadcast(_)]), "{actions:?}");
    assert_eq!(c.standing(&late[0]), Standing::Pending);
    let actions = c.handle(Input::Tick { now_ms: 1_100 }).unwrap();
    assert_eq!(&actions[..2], &[Action::Record(late[0]), Action::Record(late[1])]);
    assert_eq!(quorums(&actions)[0].signers.members().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
    // A root short of a quorum is still checked at the next tick.
    let other = message(&r, 3, id(2), B);
    c.handle(peer(other)).unwrap();
    assert_eq!(c.handle(Input::Tick { now_ms: 1_200 }).unwrap(), vec![Action::Record(other)]);
}

#[test]
fn a_fresh_store_holds_its_report_back_for_the_wait_then_signs() {
    let r = roster(4, 3);
    let (mut c, _) = Collector::new(FRESH, r.clone(), signer(0), 0, Persisted::default()).unwrap();
    assert_eq!(c.quiet_until_ms(), Some(2_500));
    assert_eq!(c.handle(own(A, 1)).unwrap(), vec![Action::Deferred { id: id(1), until_ms: 2_500 }]);
    // Offered again while waiting (a restarted frame-close): announced once.
    assert_eq!(c.handle(own(A, 1)).unwrap(), vec![]);
    assert!(no_regossip(c.handle(Input::Tick { now_ms: 2_499 }).unwrap()).is_empty());
    assert_eq!(c.own_signature(id(1)), None);
    let m = message(&r, 0, id(1), A);
    assert_eq!(
        no_regossip(c.handle(Input::Tick { now_ms: 2_500 }).unwrap()),
        vec![Action::Persist(m), Action::Broadcast(m)]
    );
    assert_eq!(c.quiet_until_ms(), None);
    // From now on it signs at once.
    assert!(matches!(&c.handle(own(B, 2)).unwrap()[..], [Action::Persist(_), Action::Broadcast(_)]));
}

#[test]
fn a_store_with_a_signing_record_or_a_committee_of_one_does_not_wait() {
    let r = roster(4, 3);
    let persisted = Persisted { own: vec![message(&r, 0, id(1), A)], ..Persisted::default() };
    let (mut c, _) = Collector::new(FRESH, r.clone(), signer(0), 0, persisted).unwrap();
    assert_eq!(c.quiet_until_ms(), None);
    assert!(matches!(&c.handle(own(B, 2)).unwrap()[..], [Action::Persist(_), Action::Broadcast(_)]));
    let alone = roster(1, 1);
    let (c, _) = Collector::new(FRESH, alone, signer(0), 0, Persisted::default()).unwrap();
    assert_eq!(c.quiet_until_ms(), None);
}

/// Every order of the fresh node's own report, its key's earlier signature coming back
/// (re-gossiped by a peer), a peer's signature and a tick inside the wait: the fresh node
/// never signs the other root, and it says so when the wait ends.
#[test]
fn a_fresh_store_never_signs_a_root_other_than_its_key_signed_in_any_order() {
    let r = roster(4, 3);
    let earlier = message(&r, 0, id(1), A);
    let inputs = [own(B, 1), peer(earlier), peer(message(&r, 1, id(1), A)), Input::Tick { now_ms: 1_000 }, own(B, 1)];
    let mut orders = 0;
    for order in permutations(inputs.len()) {
        let (mut c, _) = Collector::new(FRESH, r.clone(), signer(0), 0, Persisted::default()).unwrap();
        let mut actions = Vec::new();
        for &i in &order {
            actions.extend(c.handle(inputs[i].clone()).unwrap());
        }
        actions.extend(c.handle(Input::Tick { now_ms: 2_500 }).unwrap());
        let signed_b = |a: &Action| matches!(a, Action::Persist(m) | Action::Broadcast(m) if m.merkle_root == B.0);
        assert!(!actions.iter().any(signed_b), "{order:?}: {actions:?}");
        let refused: Vec<_> = actions.iter().filter(|a| matches!(a, Action::SignRefused(_))).collect();
        assert!(!refused.is_empty(), "{order:?}: {actions:?}");
        assert!(matches!(refused[0], Action::SignRefused(CollectorError::WouldEquivocate { .. })));
        assert_eq!(c.own_signature(id(1)), None);
        // And after the wait, still refused.
        assert!(matches!(c.handle(own(B, 1)), Err(CollectorError::WouldEquivocate { .. })));
        orders += 1;
    }
    assert_eq!(orders, 120);
}

/// Its key's earlier signature of the very root it computed is adopted: stored as its own
/// and gossiped, not signed anew, in either order.
#[test]
fn a_fresh_store_adopts_its_earlier_signature_of_the_same_root() {
    let r = roster(4, 3);
    let earlier = message(&r, 0, id(1), A);
    for report_first in [true, false] {
        let (mut c, _) = Collector::new(FRESH, r.clone(), signer(0), 0, Persisted::default()).unwrap();
        if report_first {
            c.handle(own(A, 1)).unwrap();
            c.handle(peer(earlier)).unwrap();
        } else {
            c.handle(peer(earlier)).unwrap();
            c.handle(own(A, 1)).unwrap();
        }
        let actions = no_regossip(c.handle(Input::Tick { now_ms: 2_500 }).unwrap());
        assert_eq!(actions, vec![Action::Record(earlier), Action::Persist(earlier), Action::Broadcast(earlier)]);
        assert_eq!(c.own_signature(id(1)), Some(&earlier));
    }
}

#[test]
fn a_report_settled_on_chain_is_not_signed_by_a_member_that_has_not_signed_it() {
    let r = roster(4, 3);
    let (mut c, _) = Collector::new(FRESH, r.clone(), signer(0), 0, Persisted::default()).unwrap();
    c.handle(own(A, 1)).unwrap();
    c.handle(Input::Settled { id: id(1) }).unwrap();
    assert!(c.handle(Input::Tick { now_ms: 2_500 }).unwrap().is_empty());
    assert_eq!(c.own_signature(id(1)), None);
    // One that signed it before keeps its signature and does nothing more.
    let (mut d, _) = collector(&r, 1, Persisted::default());
    d.handle(own(A, 1)).unwrap();
    d.handle(Input::Settled { id: id(1) }).unwrap();
    assert_eq!(d.handle(own(A, 1)).unwrap(), vec![]);
    assert!(d.own_signature(id(1)).is_some());
}

#[test]
fn held_peer_signatures_and_evidence_are_regossiped_each_window_until_settled() {
    let r = roster(4, 3);
    let (mut c, _) = collector(&r, 0, Persisted::default());
    let (m1, m2a, m2b) = (message(&r, 1, id(1), A), message(&r, 2, id(1), A), message(&r, 2, id(1), B));
    c.handle(own(A, 1)).unwrap();
    for m in [m1, m2a, m2b] {
        c.handle(peer(m)).unwrap();
    }
    c.handle(Input::Tick { now_ms: 1 }).unwrap();
    assert!(c.handle(Input::Tick { now_ms: 999 }).unwrap().is_empty());
    let regossiped = |actions: Vec<Action>| -> Vec<SignatureMessage> {
        actions
            .into_iter()
            .filter_map(|a| match a {
                Action::Regossip(m) => Some(m),
                _ => None,
            })
            .collect()
    };
    // Own signature is rebroadcast, not regossiped; the evidence goes out with the rest.
    assert_eq!(regossiped(c.handle(Input::Tick { now_ms: 1_000 }).unwrap()), vec![m1, m2a, m2b]);
    assert!(regossiped(c.handle(Input::Tick { now_ms: 1_999 }).unwrap()).is_empty());
    assert_eq!(regossiped(c.handle(Input::Tick { now_ms: 2_000 }).unwrap()).len(), 3);
    c.handle(Input::Settled { id: id(1) }).unwrap();
    assert!(c.handle(Input::Tick { now_ms: 9_000 }).unwrap().is_empty());
}

#[test]
fn an_equivocator_gets_no_more_signature_checks_and_copies_are_free() {
    let r = roster(4, 3);
    let (mut c, _) = collector(&r, 0, Persisted::default());
    let (a, b) = (message(&r, 2, id(1), A), message(&r, 2, id(1), B));
    c.handle(peer(a)).unwrap();
    c.handle(Input::Tick { now_ms: 1 }).unwrap();
    assert!(matches!(&c.handle(peer(b)).unwrap()[..], [Action::Equivocation(_)]));
    // A third root with bytes that are not even a curve point: refused by who sent it, not
    // parsed (a parse would say BadSignature), and never a penalty for the relaying peer.
    let mut third = message(&r, 2, id(1), ([0xcc; 32], [3; 32]));
    third.signature = [0xab; 96];
    let actions = c.handle(peer(third)).unwrap();
    assert_eq!(
        actions,
        vec![Action::Reject { member: 2, message: third, reason: RejectReason::Equivocator { member: 2 } }]
    );
    assert!(!RejectReason::Equivocator { member: 2 }.penalises());
    // Copies of held messages: nothing to do, whatever their state.
    for m in [a, b] {
        assert!(c.handle(peer(m)).unwrap().is_empty());
    }
    let pending = message(&r, 3, id(2), A);
    assert!(c.handle(peer(pending)).unwrap().is_empty());
    assert!(c.handle(peer(pending)).unwrap().is_empty());
    assert_eq!(c.standing(&pending), Standing::Pending);
}

/// Every order of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, n - 1);
            out.push(q);
        }
    }
    out
}

/// Genesis (keys 0-3, threshold 3), then version 1 from rewards report 3 (and exits round 3):
/// member 1's key is key 4's, the threshold 4.
fn changed_schedule() -> CommitteeSchedule {
    let mut s = CommitteeSchedule::new((*roster(4, 3)).clone());
    let keys: Vec<[u8; 48]> = [0, 4, 2, 3].iter().map(|&k| signer(k).public_key()).collect();
    s.push(1, 3, 3, 4, &keys).unwrap();
    s
}

/// Member `member`'s message signed with key `key` (a replaced member's new key, or its old one).
fn message_with_key(roster: &Roster, key: usize, member: u16, id: ReportId, c: Content) -> SignatureMessage {
    let root = roster.signing_root(id, &c.0, &c.1);
    SignatureMessage {
        kind: id.kind,
        number: id.number,
        merkle_root: c.0,
        report_hash: c.1,
        signer: member,
        signature: signer(key).sign(root.as_bytes()),
    }
}

fn scheduled(s: &CommitteeSchedule, key: usize) -> Collector<SecretKeySigner> {
    Collector::with_schedule(CONFIG, s.clone(), signer(key), 0, Persisted::default()).unwrap().0
}

#[test]
fn each_report_is_collected_by_its_committee_version() {
    let s = changed_schedule();
    let (r0, r1) = (s.for_report(id(2)).roster.clone(), s.for_report(id(3)).roster.clone());
    let mut c = scheduled(&s, 0);
    // Report 2 (before N = 3): genesis' committee, member 1 with key 1, three of four.
    c.handle(own(A, 2)).unwrap();
    c.handle(peer(message(&r0, 1, id(2), A))).unwrap();
    c.handle(peer(message(&r0, 2, id(2), A))).unwrap();
    assert_eq!(c.certificate(id(2)).unwrap().signers.members().collect::<Vec<_>>(), vec![0, 1, 2]);
    // Report 3: the removed key's signature is refused, three are no longer a quorum...
    c.handle(own(A, 3)).unwrap();
    let removed = message_with_key(&r1, 1, 1, id(3), A);
    let mut actions = c.handle(peer(removed)).unwrap();
    actions.extend(c.handle(peer(message(&r1, 2, id(3), A))).unwrap());
    actions.extend(c.handle(peer(message(&r1, 3, id(3), A))).unwrap());
    assert!(
        actions.contains(&Action::Reject { member: 1, message: removed, reason: RejectReason::InvalidSignature }),
        "{actions:?}"
    );
    assert!(c.certificate(id(3)).is_none(), "three valid signatures, threshold 4");
    // ... and the new member's signature completes it.
    c.handle(peer(message_with_key(&r1, 4, 1, id(3), A))).unwrap();
    let cert = c.certificate(id(3)).unwrap();
    assert_eq!(cert.signers.members().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    let keys: Vec<_> = (0..4).map(|m| r1.key(m).unwrap()).collect();
    let signature = bls::parse_signature(&cert.signature).unwrap();
    assert!(bls::verify_aggregate(&keys, cert.signing_root.as_bytes(), &signature), "verifies against version 1");
}

#[test]
fn a_removed_member_stops_and_a_new_member_starts_signing_at_n() {
    let s = changed_schedule();
    let mut removed = scheduled(&s, 1);
    assert!(matches!(removed.handle(own(A, 2)).unwrap()[0], Action::Persist(m) if m.signer == 1));
    let err = removed.handle(own(A, 3)).unwrap_err();
    assert_eq!(err, CollectorError::NotAMemberFor { id: id(3), version: 1 });
    assert_eq!(removed.member(), None);

    let mut joining = scheduled(&s, 4);
    assert_eq!(joining.handle(own(A, 2)).unwrap_err(), CollectorError::NotAMemberFor { id: id(2), version: 0 });
    let actions = joining.handle(own(A, 3)).unwrap();
    assert_eq!(actions[0], Action::Persist(message_with_key(s.for_report(id(3)).roster.as_ref(), 4, 1, id(3), A)));
    assert_eq!(joining.member(), Some(1));

    // A key in no version is refused at start, as before.
    assert!(matches!(
        Collector::with_schedule(CONFIG, s.clone(), signer(5), 0, Persisted::default()),
        Err(CollectorError::NotAMember(_))
    ));
}

#[test]
fn the_submitter_rotates_over_the_reports_committee() {
    let s = changed_schedule();
    let r1 = s.for_report(id(3)).roster.clone();
    // Report 3's first submitter is member (3 + 0) mod 4 = 3; the removed key never submits it.
    let mut removed = scheduled(&s, 1);
    let mut member3 = scheduled(&s, 3);
    let mut submits = Vec::new();
    for (c, me) in [(&mut removed, None), (&mut member3, Some(3))] {
        let mut actions = Vec::new();
        match me {
            Some(_) => actions.extend(c.handle(own(A, 3)).unwrap()),
            // Not signed, but the report is in this node's window from now on.
            None => assert!(matches!(c.handle(own(A, 3)), Err(CollectorError::NotAMemberFor { .. }))),
        }
        for m in [0u16, 2, 3].into_iter().filter(|&m| Some(m) != me) {
            actions.extend(c.handle(peer(message(&r1, m as usize, id(3), A))).unwrap());
        }
        actions.extend(c.handle(peer(message_with_key(&r1, 4, 1, id(3), A))).unwrap());
        actions.extend(c.handle(Input::Tick { now_ms: 10 * CONFIG.fallback_ms }).unwrap());
        assert!(c.certificate(id(3)).is_some());
        let attempts: Vec<u64> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Submit { attempt, .. } => Some(*attempt),
                _ => None,
            })
            .collect();
        submits.push(attempts);
    }
    assert_eq!(submits[0], Vec::<u64>::new(), "the removed key never submits report 3");
    assert_eq!(submits[1], vec![0, 8], "member 3: attempt 0, then the latest of its turns (4, 8) due by then");
}

#[test]
fn a_longer_schedule_forgets_what_was_judged_by_another_committee() {
    let r0 = roster(4, 3);
    let mut c = Collector::new(CONFIG, r0.clone(), signer(0), 0, Persisted::default()).unwrap().0;
    c.handle(own(A, 3)).unwrap();
    c.handle(peer(message(&r0, 1, id(3), A))).unwrap();
    c.handle(peer(message(&r0, 2, id(3), A))).unwrap();
    c.handle(own(A, 2)).unwrap();
    c.handle(peer(message(&r0, 1, id(2), A))).unwrap();
    c.handle(peer(message(&r0, 2, id(2), A))).unwrap();
    assert!(c.certificate(id(3)).is_some() && c.certificate(id(2)).is_some(), "genesis quorums");

    let s = changed_schedule();
    c.update_schedule(s.clone());
    assert!(c.certificate(id(3)).is_none(), "report 3 is now version 1's: judged again");
    assert!(c.own_signature(id(3)).is_some(), "the own signature is kept");
    assert!(c.certificate(id(2)).is_some(), "report 2 keeps genesis' committee");
    let r1 = s.for_report(id(3)).roster.clone();
    c.handle(peer(message(&r1, 2, id(3), A))).unwrap();
    c.handle(peer(message(&r1, 3, id(3), A))).unwrap();
    c.handle(peer(message_with_key(&r1, 4, 1, id(3), A))).unwrap();
    assert_eq!(c.certificate(id(3)).unwrap().signers.members().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    // A schedule that is not longer changes nothing.
    c.update_schedule(CommitteeSchedule::new((*r0).clone()));
    assert_eq!(c.schedule().latest().version, 1);
}
