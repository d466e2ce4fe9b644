use super::*;
use proptest::prelude::*;

const SEED: [u8; 32] = [7; 32];

fn local(n: usize, t: u32) -> Genesis {
    generate_local(n, t, SEED, 31337).0
}

fn lines(g: &Genesis) -> Vec<String> {
    g.verify().iter().map(|p| p.to_string()).collect()
}

#[test]
fn generated_genesis_verifies_clean_and_is_deterministic() {
    for (n, t) in [(1, 1), (3, 2), (4, 3), (5, 3), (7, 5)] {
        let (g, secrets) = generate_local(n, t, SEED, 31337);
        assert_eq!(lines(&g), Vec::<String>::new(), "{n} members, threshold {t}");
        assert_eq!(secrets.len(), n);
        for (m, sk) in g.committee.members.iter().zip(&secrets) {
            assert_eq!(bls::public_key(&bls::secret_key(sk).unwrap()), m.bls_pubkey);
        }
        assert_eq!(g.economics.frame_epochs, LOCAL_FRAME_EPOCHS);
    }
    let (a, sa) = generate_local(4, 3, SEED, 1);
    let (b, sb) = generate_local(4, 3, SEED, 1);
    assert_eq!((a.hash(), sa), (b.hash(), sb));
    let (c, _) = generate_local(4, 3, [8; 32], 1);
    assert_ne!(a.committee.members[0].bls_pubkey, c.committee.members[0].bls_pubkey);
    assert_ne!(a.hash(), c.hash());
}

#[test]
fn bad_pop_names_the_member() {
    let mut g = local(4, 3);
    g.committee.members[2].pop[5] ^= 1;
    assert_eq!(
        lines(&g),
        ["committee.members[2].pop: not a valid proof of possession of its bls_pubkey; regenerate it with the member's secret key"]
    );
}

#[test]
fn swapped_pops_fail_for_both_members() {
    let mut g = local(4, 3);
    let p0 = g.committee.members[0].pop;
    g.committee.members[0].pop = g.committee.members[1].pop;
    g.committee.members[1].pop = p0;
    assert_eq!(g.verify(), [Problem::BadPop { member: 0 }, Problem::BadPop { member: 1 }]);
}

#[test]
fn threshold_rules() {
    let mut g = local(4, 3);
    g.committee.threshold = 5;
    assert_eq!(lines(&g), ["committee.threshold: 5 is more than the 4 members; no report could ever be signed"]);
    g.committee.threshold = 2;
    assert_eq!(
        lines(&g),
        ["committee.threshold: 2 of 4 is not a strict majority; set it to at least 3, or two disjoint quorums could sign two different roots"]
    );
    g.committee.threshold = 0;
    assert_eq!(lines(&g), ["committee.threshold: is 0; set it to a strict majority of the 4 members (at least 3)"]);
    g.committee.threshold = 4;
    assert!(g.verify().is_empty());
    g.committee.members.clear();
    assert_eq!(lines(&g), ["committee.members: is empty; add at least one member"]);
}

#[test]
fn duplicates_are_named() {
    let mut g = local(4, 3);
    // Member 3 reuses member 0's key with its valid proof: only the duplicate is wrong.
    g.committee.members[3].bls_pubkey = g.committee.members[0].bls_pubkey;
    g.committee.members[3].pop = g.committee.members[0].pop;
    assert_eq!(lines(&g), ["committee.members[3].bls_pubkey: same key as member 0; each member needs its own key"]);

    let mut g = local(4, 3);
    g.committee.members[2].peer_id = "local-1".into();
    assert_eq!(
        lines(&g),
        ["committee.members[2].peer_id: `local-1` is also member 1's; each member needs its own peer id"]
    );

    let mut g = local(4, 3);
    g.committee.members[1].submitter = g.committee.members[0].submitter;
    assert_eq!(
        g.verify(),
        [Problem::DuplicateSubmitter { first: 0, second: 1, address: g.committee.members[0].submitter }]
    );
}

#[test]
fn zero_addresses_and_chain() {
    let mut g = local(3, 2);
    g.contracts.node_manager = Address::default();
    assert_eq!(lines(&g), ["contracts.node_manager: is the zero address; set the deployed contract's address"]);
    g.contracts.operator_registry = Address::default();
    g.contracts.ssv_price_feed = Address::default();
    g.chain_id = 0;
    g.version = 1;
    g.committee.members[1].submitter = Address::default();
    g.committee.members[0].peer_id.clear();
    assert_eq!(
        g.verify(),
        [
            Problem::UnsupportedVersion(1),
            Problem::ZeroChainId,
            Problem::ZeroContract("node_manager"),
            Problem::ZeroContract("operator_registry"),
            Problem::ZeroContract("ssv_price_feed"),
            Problem::EmptyPeerId { member: 0 },
            Problem::ZeroSubmitter { member: 1 },
        ]
    );
}

#[test]
fn invalid_pubkey_is_named_not_a_bad_pop() {
    let mut g = local(3, 2);
    g.committee.members[1].bls_pubkey = [0; 48];
    g.committee.members[1].bls_pubkey[0] = 0xc0; // compressed infinity
    assert_eq!(
        lines(&g),
        ["committee.members[1].bls_pubkey: invalid public key (the point at infinity); replace it with the member's key"]
    );
}

#[test]
fn economics_and_price_source_problems() {
    let mut g = local(3, 2);
    g.economics.operator_share_bps = 10_001;
    g.ssv_price_source.max_age_secs = 0;
    assert_eq!(
        lines(&g),
        [
            "economics: `operator_share_bps` is invalid: 10001 is above 10000 bps",
            "ssv_price_source.max_age_secs: is 0; set how old the feed's latest round may be (its heartbeat plus a margin)",
        ]
    );
    let mut g = local(3, 2);
    g.economics.frame_epochs = 0;
    assert_eq!(lines(&g), ["economics: `frame_epochs` is invalid: must be at least 1"]);
}

#[test]
fn every_problem_is_one_line() {
    let mut g = local(3, 2);
    g.version = 9;
    g.chain_id = 0;
    g.committee.threshold = 9;
    g.committee.members[0].pop = [0; 96];
    g.economics.node_types.clear();
    g.economics.score.experience_cap_frames = 0;
    let problems = g.verify();
    assert!(problems.len() >= 4);
    for p in problems {
        assert!(!p.to_string().contains('\n'), "{p}");
    }
}

#[test]
fn save_load_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("genesis.json");
    let g = local(4, 3);
    g.save(&path).unwrap();
    let (back, hash) = Genesis::load(&path).unwrap();
    assert_eq!(back, g);
    assert_eq!(hash, g.hash());
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, g.to_pretty_json());
    assert!(text.starts_with("{\n  \"version\": 2,\n  \"chain_id\": 31337,\n  \"contracts\""));
    assert!(!dir.path().join("genesis.json.tmp").exists());
}

#[test]
fn load_errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let e = Genesis::load(&missing).unwrap_err().to_string();
    assert!(e.starts_with(&format!("genesis {}: cannot read: ", missing.display())), "{e}");

    let path = dir.path().join("g.json");
    std::fs::write(&path, "{ not json").unwrap();
    let e = Genesis::load(&path).unwrap_err().to_string();
    assert!(e.contains("not a valid genesis file: key must be a string at line 1"), "{e}");
    assert!(!e.contains('\n'));

    // Unknown fields are rejected, with serde's message.
    let mut v: serde_json::Value = serde_json::from_str(&local(3, 2).to_pretty_json()).unwrap();
    v["contracts"]["extra"] = 1.into();
    std::fs::write(&path, v.to_string()).unwrap();
    let e = Genesis::load(&path).unwrap_err().to_string();
    assert!(e.contains("unknown field `extra`"), "{e}");

    // Wrong-length key.
    let mut v: serde_json::Value = serde_json::from_str(&local(3, 2).to_pretty_json()).unwrap();
    v["committee"]["members"][0]["bls_pubkey"] = "0x1234".into();
    std::fs::write(&path, v.to_string()).unwrap();
    let e = Genesis::load(&path).unwrap_err().to_string();
    assert!(e.contains("expected 48 bytes of hex, got 2"), "{e}");
}

#[test]
fn hash_ignores_formatting_key_order_and_hex_case() {
    let g = local(3, 2);
    let h = g.hash();
    let pretty = g.to_pretty_json();
    let compact = String::from_utf8(g.canonical_json()).unwrap();
    assert_eq!(Genesis::from_json(&compact).unwrap().hash(), h);
    assert_eq!(Genesis::from_json(&pretty).unwrap().hash(), h);
    // Shuffled whitespace.
    let spaced = compact.replace(',', " ,\n\t").replace(':', " :  ").replace('{', "{\r\n ");
    assert_eq!(Genesis::from_json(&spaced).unwrap().hash(), h);
    // Keys in another order (serde_json::Value sorts object keys alphabetically).
    let v: serde_json::Value = serde_json::from_str(&pretty).unwrap();
    let sorted = serde_json::to_string(&v).unwrap();
    assert_ne!(sorted, compact);
    assert_eq!(Genesis::from_json(&sorted).unwrap().hash(), h);
    // Upper-case hex and integer wei amounts parse to the same value.
    let upper = pretty.replace(
        &hex_of(&g.committee.members[0].pop),
        &hex_of(&g.committee.members[0].pop).to_uppercase().replacen("0X", "0x", 1),
    );
    assert_ne!(upper, pretty);
    assert_eq!(Genesis::from_json(&upper).unwrap().hash(), h);
    let int_wei = pretty.replace("\"1000000000000000000\"", "1000000000000000000");
    assert_ne!(int_wei, pretty);
    assert_eq!(Genesis::from_json(&int_wei).unwrap().hash(), h);
}

#[test]
fn deployed_at_block_is_absent_at_0_and_hashed_when_set() {
    // A genesis written before the field: no `deployed_at_block` in the file, same hash.
    let g = local(3, 2);
    let json = g.to_pretty_json();
    assert!(!json.contains("deployed_at_block"), "{json}");
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["contracts"]["deployed_at_block"] = 0.into();
    assert_eq!(serde_json::from_value::<Genesis>(v.clone()).unwrap().hash(), g.hash());
    // Set, it is written, read back and part of the hash.
    v["contracts"]["deployed_at_block"] = 23_500_000.into();
    let set: Genesis = serde_json::from_value(v).unwrap();
    assert_eq!(set.contracts.deployed_at_block, 23_500_000);
    assert_ne!(set.hash(), g.hash());
    assert_eq!(Genesis::from_json(&set.to_pretty_json()).unwrap(), set);
}

fn hex_of(b: &[u8]) -> String {
    claystack_primitives::hex::encode(b)
}

#[test]
fn hash_known_prefix_and_domain() {
    let g = local(1, 1);
    let mut h = Sha256::new();
    h.update(b"claystack-genesis-v2\0");
    h.update(serde_json::to_vec(&g).unwrap());
    let expect: [u8; 32] = h.finalize().into();
    assert_eq!(g.hash(), expect);
}

fn numeric_paths(v: &serde_json::Value, path: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| numeric_paths(x, format!("{path}/{k}"), out)),
        serde_json::Value::Array(a) => {
            a.iter().enumerate().for_each(|(i, x)| numeric_paths(x, format!("{path}/{i}"), out))
        }
        serde_json::Value::Number(_) => out.push(path),
        serde_json::Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => out.push(path),
        _ => {}
    }
}

#[test]
fn changing_any_number_changes_the_hash() {
    let g = local(3, 2);
    let h = g.hash();
    let v: serde_json::Value = serde_json::to_value(&g).unwrap();
    let mut paths = Vec::new();
    numeric_paths(&v, String::new(), &mut paths);
    assert!(paths.len() > 40, "{}", paths.len());
    for p in paths {
        let mut w = v.clone();
        let x = w.pointer_mut(&p).unwrap();
        *x = match x {
            serde_json::Value::Number(n) => (n.as_u64().unwrap() + 1).into(),
            serde_json::Value::String(s) => (s.parse::<u128>().unwrap() + 1).to_string().into(),
            _ => unreachable!(),
        };
        let changed: Genesis = serde_json::from_value(w).unwrap();
        assert_ne!(changed.hash(), h, "{p}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn hash_changes_with_chain_threshold_and_frame(chain in 1u64.., t in 0u32..10, frame in 0u64..) {
        let g = local(3, 2);
        let mut a = g.clone();
        a.chain_id = chain;
        a.committee.threshold = t;
        a.economics.frame_epochs = frame;
        let round: Genesis = serde_json::from_str(&a.to_pretty_json()).unwrap();
        prop_assert_eq!(round.hash(), a.hash());
        prop_assert_eq!(a.hash() == g.hash(), a == g);
    }
}
