use super::*;
use crate::{generate_local, Genesis};
use proptest::prelude::*;

/// A genesis of `n` members from a seed, its template (members removed), the members'
/// entries (named `m<i>.json`) and secret keys.
fn ceremony(n: usize, threshold: u32) -> (Genesis, Genesis, Vec<(String, MemberEntry)>, Vec<SecretKey>) {
    let (genesis, secrets) = generate_local(n, threshold, [9; 32], 1);
    let mut template = genesis.clone();
    template.committee.members.clear();
    let entries = genesis
        .committee
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let entry = MemberEntry {
                bls_pubkey: m.bls_pubkey,
                pop: m.pop,
                peer_id: m.peer_id.clone(),
                submitter: Some(m.submitter),
            };
            (format!("m{i}.json"), entry)
        })
        .collect();
    let secrets = secrets.iter().map(|s| bls::secret_key(s).unwrap()).collect();
    (genesis, template, entries, secrets)
}

fn lines<E: ToString>(problems: &[E]) -> Vec<String> {
    problems.iter().map(|p| p.to_string()).collect()
}

#[test]
fn assembled_genesis_is_valid_and_sorted_by_key() {
    let (generated, template, entries, _) = ceremony(5, 3);
    let g = assemble(&template, &entries).unwrap();
    assert_eq!(g.verify(), []);
    let keys: Vec<[u8; 48]> = g.committee.members.iter().map(|m| m.bls_pubkey).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    // Same members as the generated genesis, and everything else is the template's.
    let mut expect = generated.committee.members.clone();
    expect.sort_by_key(|m| m.bls_pubkey);
    assert_eq!(g.committee.members, expect);
    let mut back = g.clone();
    back.committee.members.clear();
    assert_eq!(back, template);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn any_order_of_the_entries_gives_the_same_bytes(order in Just((0..6usize).collect::<Vec<_>>()).prop_shuffle()) {
        let (_, template, entries, _) = ceremony(6, 4);
        let reference = assemble(&template, &entries).unwrap().to_pretty_json();
        // Renamed as well as reordered: file names play no part in the result.
        let shuffled: Vec<_> = order.iter().map(|&i| (format!("x{i}"), entries[i].1.clone())).collect();
        let g = assemble(&template, &shuffled).unwrap();
        prop_assert_eq!(g.to_pretty_json(), reference);
    }
}

#[test]
fn duplicates_are_refused_naming_both_files() {
    let (_, template, mut entries, _) = ceremony(4, 3);
    // The same entry twice: key, peer id and submitter all repeat.
    entries.push(("again.json".into(), entries[1].1.clone()));
    assert_eq!(
        assemble(&template, &entries).unwrap_err(),
        [
            duplicate("submitter", "m1.json", "again.json"),
            duplicate("bls_pubkey", "m1.json", "again.json"),
            duplicate("peer_id", "m1.json", "again.json"),
        ]
    );
    // Only a peer id, or only a submitter, shared.
    let (_, template, mut entries, _) = ceremony(4, 3);
    entries[3].1.peer_id = entries[0].1.peer_id.clone();
    assert_eq!(
        lines(&assemble(&template, &entries).unwrap_err()),
        ["m3.json: same peer_id as m0.json; each member needs their own (the same entry given twice?)"]
    );
    let (_, template, mut entries, _) = ceremony(4, 3);
    entries[2].1.submitter = entries[1].1.submitter;
    assert_eq!(assemble(&template, &entries).unwrap_err(), [duplicate("submitter", "m1.json", "m2.json")]);
}

#[test]
fn bad_entries_and_templates_are_named() {
    let (_, template, mut entries, _) = ceremony(4, 3);
    entries[0].1.pop[3] ^= 1;
    entries[2].1.submitter = None;
    entries[3].1.submitter = Some(Address::default());
    assert_eq!(
        lines(&assemble(&template, &entries).unwrap_err()),
        [
            "m0.json: pop is not a valid proof of possession of its bls_pubkey; ask the member for the member.json of their key directory",
            "m2.json: has no submitter address; the member adds the address their node submits reports from",
            "m3.json: submitter is the zero address; the member sets the address their node submits reports from",
        ]
    );
    let (genesis, template, entries, _) = ceremony(4, 3);
    assert_eq!(assemble(&genesis, &entries).unwrap_err(), [AssemblyProblem::TemplateHasMembers(4)]);
    assert_eq!(assemble(&template, &[]).unwrap_err()[0], AssemblyProblem::NoEntries);
    // A threshold that suits another committee size: the genesis check says so.
    assert_eq!(
        assemble(&template, &entries[..2]).unwrap_err(),
        [AssemblyProblem::Genesis(Problem::ThresholdAboveMembers { threshold: 3, members: 2 })]
    );
}

#[test]
fn a_template_without_members_parses() {
    let (_, template, _, _) = ceremony(1, 1);
    let mut v: serde_json::Value = serde_json::from_str(&template.to_pretty_json()).unwrap();
    v["committee"].as_object_mut().unwrap().remove("members");
    let parsed: Genesis = serde_json::from_value(v).unwrap();
    assert_eq!(parsed, template);
}

#[test]
fn approvals_round_trip_and_every_member_approving_is_clean() {
    let (_, template, entries, secrets) = ceremony(4, 3);
    let g = assemble(&template, &entries).unwrap();
    let approvals: Vec<(String, Approval)> =
        secrets.iter().enumerate().map(|(i, sk)| (format!("a{i}.json"), Approval::sign(g.hash(), sk))).collect();
    for (_, a) in &approvals {
        assert!(a.signature_valid());
        assert_eq!(Approval::from_json(&a.to_json()).unwrap(), *a);
    }
    assert_eq!(check_approvals(&g, &approvals), []);
    // Missing approvals are listed by member, in member order.
    let problems = check_approvals(&g, &approvals[1..3]);
    let missing: Vec<usize> = problems
        .iter()
        .map(|p| match p {
            ApprovalProblem::Missing { member, .. } => *member,
            other => panic!("{other}"),
        })
        .collect();
    let index = |sk: &SecretKey| g.committee.members.iter().position(|m| m.bls_pubkey == bls::public_key(sk)).unwrap();
    let mut expect = vec![index(&secrets[0]), index(&secrets[3])];
    expect.sort();
    assert_eq!(missing, expect);
    let line = problems[0].to_string();
    let key = key_prefix(&g.committee.members[expect[0]].bls_pubkey);
    assert_eq!(
        line,
        format!("member {} ({key}): no approval of this genesis (hash {})", expect[0], hex::encode(&g.hash()))
    );
}

#[test]
fn approvals_of_another_hash_by_a_non_member_or_in_the_report_domain_are_refused() {
    let (_, template, entries, secrets) = ceremony(3, 2);
    let g = assemble(&template, &entries).unwrap();
    let mut other = g.clone();
    other.first_epoch += 1;
    let me = g.committee.members.iter().position(|m| m.bls_pubkey == bls::public_key(&secrets[0])).unwrap();
    let mut approvals: Vec<(String, Approval)> =
        secrets.iter().enumerate().map(|(i, sk)| (format!("a{i}.json"), Approval::sign(g.hash(), sk))).collect();

    // Member 0 approved a modified genesis.
    approvals[0].1 = Approval::sign(other.hash(), &secrets[0]);
    let problems = check_approvals(&g, &approvals);
    assert_eq!(
        lines(&problems),
        [format!(
            "a0.json: member {me} ({}) approves {}, this genesis is {}; the signer approved another genesis file",
            key_prefix(&bls::public_key(&secrets[0])),
            hex::encode(&other.hash()),
            hex::encode(&g.hash())
        )]
    );

    // A signature of the right hash in the report domain (what a report signature would be).
    let report_domain = secrets[0].sign(&g.hash(), bls::SIG_DST, &[]).to_bytes();
    approvals[0].1 =
        Approval { genesis_hash: g.hash(), bls_pubkey: bls::public_key(&secrets[0]), signature: report_domain };
    assert!(!approvals[0].1.signature_valid());
    assert!(
        matches!(check_approvals(&g, &approvals)[..], [ApprovalProblem::BadSignature { member, .. }] if member == me)
    );
    // And the other way: an approval does not verify as a report signature of the same bytes.
    let approval = Approval::sign(g.hash(), &secrets[0]);
    let sig = Signature::from_bytes(&approval.signature).unwrap();
    let pk = PublicKey::from_bytes(&approval.bls_pubkey).unwrap();
    assert_ne!(sig.verify(true, &g.hash(), bls::SIG_DST, &[], &pk, true), BLST_ERROR::BLST_SUCCESS);
    assert_ne!(sig.verify(true, &approval.bls_pubkey, bls::POP_DST, &[], &pk, true), BLST_ERROR::BLST_SUCCESS);

    // Another member's signature under this member's key.
    approvals[0].1 = Approval { signature: Approval::sign(g.hash(), &secrets[1]).signature, ..approval.clone() };
    assert!(matches!(check_approvals(&g, &approvals)[..], [ApprovalProblem::BadSignature { .. }]));

    // A key outside the committee, with a valid signature.
    let stranger = bls::secret_key(&[5; 32]).unwrap();
    approvals[0].1 = approval;
    approvals.push(("stranger.json".into(), Approval::sign(g.hash(), &stranger)));
    assert_eq!(
        lines(&check_approvals(&g, &approvals)),
        [format!(
            "stranger.json: signed by {}, which is not a committee member of this genesis",
            key_prefix(&bls::public_key(&stranger))
        )]
    );
}

/// `genesis/example/template.json`, the documented template of `genesis/README.md`.
const EXAMPLE_TEMPLATE: &str = include_str!("../../../../genesis/example/template.json");

#[test]
fn the_documented_example_template_assembles_into_a_valid_genesis() {
    let template = Genesis::from_json(EXAMPLE_TEMPLATE).unwrap();
    // Everything but the committee is valid already: the members are all it lacks.
    assert_eq!(template.verify(), [Problem::EmptyCommittee]);
    // Written in the file form (field order, lower-case hex), so the README's walk through
    // it matches what `genesis assemble` writes around the members.
    assert_eq!(template.to_pretty_json(), EXAMPLE_TEMPLATE);
    assert!(template.exits.is_some() && template.beacon_genesis_validators_root.is_some());
    // Its threshold (3) suits the four members the README's ceremony has, and five.
    for n in [4, 5] {
        let (_, _, entries, _) = ceremony(n, 3);
        let g = assemble(&template, &entries).unwrap();
        assert_eq!(g.verify(), [], "{n} members");
        assert_eq!(g.committee.members.len(), n);
    }
    let (_, _, entries, _) = ceremony(6, 3);
    assert_eq!(
        assemble(&template, &entries).unwrap_err(),
        [AssemblyProblem::Genesis(Problem::ThresholdNotMajority { threshold: 3, members: 6, min: 4 })]
    );
}
