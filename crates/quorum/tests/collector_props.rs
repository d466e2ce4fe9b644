//! Property tests of the collector: for random committees with honest, silent, dissenting
//! and equivocating members, plus duplicates, forgeries and strangers, delivered in any
//! order with ticks in between, the outcome (certificate, equivocators) is the same and is
//! the one the rules give.

use blst::min_pk::{PublicKey, SecretKey};
use claystack_primitives::{ReportId, ReportKind};
use claystack_quorum::bls::{self, SecretKeySigner, Signer};
use claystack_quorum::{
    Action, Certificate, Collector, Config, Evidence, Input, Persisted, Roster, SignatureMessage, SigningDomain,
    Standing,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

const MAX_MEMBERS: usize = 16;
const OUTSIDER: usize = MAX_MEMBERS;
const ID: ReportId = ReportId { kind: ReportKind::Rewards, number: 7 };
const DOMAIN: SigningDomain = SigningDomain { chain_id: 17000, node_manager: [0x42; 20] };
/// Three candidate (merkle_root, report_hash) pairs; the node itself signs `ROOTS[0]`.
const ROOTS: [([u8; 32], [u8; 32]); 3] = [([0xa0; 32], [1; 32]), ([0xb0; 32], [2; 32]), ([0xc0; 32], [3; 32])];
const CONFIG: Config = Config {
    window_behind: 2,
    window_ahead: 2,
    rebroadcast_ms: 500,
    fallback_ms: 1_000,
    late_verify_ms: 600,
    fresh_wait_ms: 0,
};

fn secret(i: usize) -> SecretKey {
    let mut ikm = [0x33u8; 32];
    ikm[..8].copy_from_slice(&(i as u64).to_be_bytes());
    SecretKey::key_gen(&ikm, &[]).unwrap()
}

/// Every key's signature of every root: signing is the slow part, so it is done once.
struct Fixture {
    pubkeys: Vec<[u8; 48]>,
    keys: Vec<PublicKey>,
    sigs: Vec<[[u8; 96]; 3]>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let sks: Vec<SecretKey> = (0..=OUTSIDER).map(secret).collect();
        let pubkeys: Vec<[u8; 48]> = sks.iter().map(|sk| sk.sk_to_pk().to_bytes()).collect();
        let keys = sks.iter().map(|sk| sk.sk_to_pk()).collect();
        let sigs = sks
            .iter()
            .map(|sk| ROOTS.map(|(m, h)| bls::sign(sk, DOMAIN.signing_root(ID, &m, &h).as_bytes())))
            .collect();
        Fixture { pubkeys, keys, sigs }
    })
}

/// `key`'s signature of root `by_root`, in a message that says it is `signer`'s of root `says_root`.
fn msg(signer: usize, says_root: usize, key: usize, by_root: usize) -> SignatureMessage {
    SignatureMessage {
        kind: ID.kind,
        number: ID.number,
        merkle_root: ROOTS[says_root].0,
        report_hash: ROOTS[says_root].1,
        signer: signer as u16,
        signature: fixture().sigs[key][by_root],
    }
}

fn honest(member: usize, root: usize) -> SignatureMessage {
    msg(member, root, member, root)
}

#[derive(Debug, Clone, Copy)]
enum Behaviour {
    Signs(usize),
    Silent,
    /// Signs every root in the mask (two or three of them).
    Equivocates(u8),
}

#[derive(Debug, Clone, Copy)]
enum Junk {
    /// An honest message delivered again.
    Duplicate(usize),
    /// A message in member `claimed`'s name, signed by the outsider's key.
    Outsider { claimed: usize, root: usize },
    /// Member `claimed`'s real signature of one root, presented as its signature of another.
    WrongRoot { claimed: usize, real: usize },
    /// A message naming a member index beyond the committee.
    NonMember { index: usize },
    /// Bytes that are no curve point.
    Garbage { claimed: usize },
}

#[derive(Debug, Clone)]
struct Scenario {
    n: usize,
    threshold: usize,
    /// Members 1..n (member 0 is the node under test, which signs root 0).
    behaviour: Vec<Behaviour>,
    junk: Vec<Junk>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Own,
    Peer(SignatureMessage),
    Tick(u64),
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        6 => Just(Behaviour::Signs(0)),
        2 => (1usize..3).prop_map(Behaviour::Signs),
        2 => Just(Behaviour::Silent),
        2 => prop_oneof![Just(0b011u8), Just(0b101), Just(0b110), Just(0b111)].prop_map(Behaviour::Equivocates),
    ]
}

fn junk(n: usize) -> impl Strategy<Value = Junk> {
    prop_oneof![
        (0..n).prop_map(Junk::Duplicate),
        (0..n, 0usize..3).prop_map(|(claimed, root)| Junk::Outsider { claimed, root }),
        (0..n, 0usize..3).prop_map(|(claimed, real)| Junk::WrongRoot { claimed, real }),
        (n..n + 4).prop_map(|index| Junk::NonMember { index }),
        (0..n).prop_map(|claimed| Junk::Garbage { claimed }),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (4usize..=MAX_MEMBERS).prop_flat_map(|n| {
        (n / 2 + 1..=n, proptest::collection::vec(behaviour(), n - 1), proptest::collection::vec(junk(n), 0..6))
            .prop_map(move |(threshold, behaviour, junk)| Scenario { n, threshold, behaviour, junk })
    })
}

impl Scenario {
    fn roster(&self) -> Arc<Roster> {
        Arc::new(Roster::new(DOMAIN, self.threshold as u32, &fixture().pubkeys[..self.n]).unwrap())
    }

    fn behaviour_of(&self, member: usize) -> Behaviour {
        if member == 0 {
            Behaviour::Signs(0)
        } else {
            self.behaviour[member - 1]
        }
    }

    /// The messages peers send (duplicates included), and those of them no honest member sends.
    fn messages(&self) -> (Vec<SignatureMessage>, Vec<SignatureMessage>) {
        let mut good = Vec::new();
        for member in 1..self.n {
            match self.behaviour_of(member) {
                Behaviour::Signs(root) => good.push(honest(member, root)),
                Behaviour::Silent => {}
                Behaviour::Equivocates(mask) => {
                    good.extend((0..3).filter(|r| mask & (1 << r) != 0).map(|r| honest(member, r)))
                }
            }
        }
        let mut bad = Vec::new();
        let mut dup = Vec::new();
        for j in &self.junk {
            match *j {
                Junk::Duplicate(member) => {
                    if let Some(m) = good.iter().find(|m| m.signer as usize == member) {
                        dup.push(*m)
                    }
                }
                Junk::Outsider { claimed, root } => bad.push(msg(claimed, root, OUTSIDER, root)),
                Junk::WrongRoot { claimed, real } => bad.push(msg(claimed, (real + 1) % 3, claimed, real)),
                Junk::NonMember { index } => bad.push(msg(index, 0, OUTSIDER, 0)),
                Junk::Garbage { claimed } => {
                    let mut m = honest(claimed, 0);
                    m.signature = [0xab; 96];
                    bad.push(m)
                }
            }
        }
        (good.into_iter().chain(dup).chain(bad.iter().copied()).collect(), bad)
    }

    /// The outcome the rules give: the root (if any) whose non-equivocating signers reach
    /// the threshold, those signers, and the equivocators.
    fn expected(&self) -> (Option<(usize, BTreeSet<u16>)>, BTreeSet<u16>) {
        let mut by_root: BTreeMap<usize, BTreeSet<u16>> = BTreeMap::new();
        let mut equivocators = BTreeSet::new();
        for member in 0..self.n {
            match self.behaviour_of(member) {
                Behaviour::Signs(root) => {
                    by_root.entry(root).or_default().insert(member as u16);
                }
                Behaviour::Silent => {}
                Behaviour::Equivocates(_) => {
                    equivocators.insert(member as u16);
                }
            }
        }
        let quorum = by_root.into_iter().find(|(_, signers)| signers.len() >= self.threshold);
        (quorum, equivocators)
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    certificate: Option<Certificate>,
    evidence: Vec<Evidence>,
}

/// True if `m` is its signer's signature of the root it names (and the signer is a member).
fn is_valid(s: &Scenario, m: &SignatureMessage) -> bool {
    let key = fixture().keys.get(m.signer as usize).filter(|_| (m.signer as usize) < s.n);
    let root = DOMAIN.signing_root(ID, &m.merkle_root, &m.report_hash);
    key.is_some_and(|k| bls::verify_bytes(&k.to_bytes(), root.as_bytes(), &m.signature))
}

/// Runs the node (member 0) through `events`, checking every action on the way.
fn run(s: &Scenario, events: &[Event]) -> (Outcome, Vec<Action>) {
    let roster = s.roster();
    let me = SecretKeySigner::new(secret(0));
    let (mut c, _) =
        Collector::new(CONFIG, roster.clone(), me, 0, Persisted { current: [ID.number, 0], ..Default::default() })
            .unwrap();
    let mut actions = Vec::new();
    let mut valid_so_far: BTreeSet<(u16, [u8; 32])> = BTreeSet::new();
    for e in events.iter().chain([&Event::Tick(u64::MAX / 2)]) {
        let input = match e {
            Event::Own => {
                valid_so_far.insert((0, ROOTS[0].0));
                Input::Own { id: ID, merkle_root: ROOTS[0].0, report_hash: ROOTS[0].1 }
            }
            Event::Peer(m) => {
                if is_valid(s, m) {
                    valid_so_far.insert((m.signer, m.merkle_root));
                }
                Input::Peer { member: m.signer, message: *m }
            }
            Event::Tick(now_ms) => Input::Tick { now_ms: *now_ms },
        };
        for a in c.handle(input).unwrap() {
            // Whatever is announced or submitted has a quorum of members that really signed
            // that root (an equivocator may be among them until its second message arrives),
            // and an aggregate that verifies against exactly the bitmap's keys.
            if let Action::QuorumReached(cert)
            | Action::AggregateUpdated(cert)
            | Action::Submit { certificate: cert, .. } = &a
            {
                assert!(cert.signers.len() >= s.threshold);
                assert!(cert.signers.members().all(|m| valid_so_far.contains(&(m, cert.merkle_root))));
                let keys: Vec<&PublicKey> = cert.signers.members().map(|m| &fixture().keys[m as usize]).collect();
                let sig = bls::parse_signature(&cert.signature).unwrap();
                assert!(bls::verify_aggregate(&keys, cert.signing_root.as_bytes(), &sig));
            }
            // A recorded peer signature (the p2p layer's Accept) really is its member's.
            if let Action::Record(m) = &a {
                assert!(valid_so_far.contains(&(m.signer, m.merkle_root)), "recorded a forgery {m:?}");
            }
            actions.push(a);
        }
    }
    // After the last tick nothing waits, and only valid messages stand to be forwarded.
    for e in events {
        if let Event::Peer(m) = e {
            match c.standing(m) {
                Standing::Valid => assert!(valid_so_far.contains(&(m.signer, m.merkle_root)) && is_valid(s, m)),
                Standing::Pending => panic!("{m:?} still unchecked after the last tick"),
                Standing::Unknown => {}
            }
        }
    }
    let outcome = Outcome {
        certificate: c.certificate(ID).cloned(),
        evidence: c.equivocations(ID).into_iter().cloned().collect(),
    };
    (outcome, actions)
}

fn events(s: &Scenario) -> Vec<Event> {
    let (messages, _) = s.messages();
    let mut events: Vec<Event> = messages.into_iter().map(Event::Peer).collect();
    events.push(Event::Own);
    events.extend((1..=3).map(|i| Event::Tick(i * 700)));
    events
}

fn orders() -> impl Strategy<Value = (Scenario, Vec<Vec<Event>>)> {
    scenario().prop_flat_map(|s| {
        let e = events(&s);
        (Just(s), proptest::collection::vec(Just(e).prop_shuffle(), 3))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn outcome_is_the_rules_and_independent_of_order((s, orders) in orders()) {
        let (quorum, equivocators) = s.expected();
        let (_, bad) = s.messages();
        let mut outcomes = Vec::new();
        for events in &orders {
            let (outcome, actions) = run(&s, events);
            match (&outcome.certificate, &quorum) {
                (None, None) => {}
                (Some(cert), Some((root, signers))) => {
                    prop_assert_eq!((cert.merkle_root, cert.report_hash), ROOTS[*root]);
                    prop_assert_eq!(&cert.signers.members().collect::<BTreeSet<_>>(), signers);
                    prop_assert_eq!(cert.id, ID);
                    prop_assert_eq!(cert.signing_root, DOMAIN.signing_root(ID, &ROOTS[*root].0, &ROOTS[*root].1));
                }
                (got, want) => prop_assert!(false, "certificate {got:?}, expected {want:?}"),
            }
            prop_assert_eq!(&outcome.evidence.iter().map(|e| e.member).collect::<BTreeSet<_>>(), &equivocators);
            for e in &outcome.evidence {
                // Evidence is two valid signatures of two of the roots the member signed, in
                // order. Which two depends on arrival: once a member is caught, its further
                // roots are not checked (that would be a pairing per message it cares to send).
                prop_assert!((e.first.merkle_root, e.first.report_hash) < (e.second.merkle_root, e.second.report_hash));
                let mask = match s.behaviour_of(e.member as usize) { Behaviour::Equivocates(m) => m, _ => unreachable!() };
                let signed: Vec<SignatureMessage> =
                    (0..3).filter(|r| mask & (1 << r) != 0).map(|r| honest(e.member as usize, r)).collect();
                prop_assert!(signed.contains(&e.first) && signed.contains(&e.second), "{e:?}");
            }
            // Every message no honest member sends is turned away, by name (by the final tick
            // at the latest): the p2p layer turns that into its Reject and never forwards it.
            let rejected: BTreeSet<SignatureMessage> = actions.iter().filter_map(|a| match a {
                Action::Reject { message, .. } => Some(*message),
                _ => None,
            }).collect();
            for m in &bad {
                prop_assert!(rejected.contains(m), "no reject for {m:?}");
            }
            // Own signature: persisted, then broadcast, exactly once.
            let own: Vec<&Action> = actions.iter().filter(|a| matches!(a, Action::Persist(_) | Action::Broadcast(_))).collect();
            prop_assert_eq!(own.len(), 2);
            prop_assert!(matches!(own[0], Action::Persist(_)));
            outcomes.push(outcome);
        }
        // The certificate and who equivocated do not depend on the order.
        for o in &outcomes[1..] {
            prop_assert_eq!(&o.certificate, &outcomes[0].certificate);
            let members = |o: &Outcome| o.evidence.iter().map(|e| e.member).collect::<Vec<_>>();
            prop_assert_eq!(members(o), members(&outcomes[0]));
        }
    }
}

#[test]
fn signers_of_the_fixture_are_members() {
    let s = SecretKeySigner::new(secret(3));
    assert_eq!(s.public_key(), fixture().pubkeys[3]);
}
