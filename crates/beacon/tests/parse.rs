//! Every fixture decodes to the values it holds; every way of breaking one gives its own error.

use claystack_beacon::{parse, DecodeError};
use claystack_primitives::{hex, hex::HexError, BitsError};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `fixture` with `from` replaced by `to` exactly `n` times (so a stale fixture fails loudly).
fn variant(name: &str, from: &str, to: &str, n: usize) -> Vec<u8> {
    let text = fixture(name);
    assert_eq!(text.matches(from).count(), n, "{name} should hold {from:?} {n} times");
    text.replace(from, to).into_bytes()
}

fn root(s: &str) -> [u8; 32] {
    hex::decode_fixed(s).unwrap()
}

#[test]
fn genesis_and_node() {
    let g = parse::genesis(fixture("genesis.json").as_bytes()).unwrap();
    assert_eq!(g.genesis_time, 1606824023);
    assert_eq!(g.genesis_validators_root, root("0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95"));
    assert_eq!(g.genesis_fork_version, [0, 0, 0, 0]);
    assert_eq!(
        parse::node_version(fixture("node_version.json").as_bytes()).unwrap(),
        "Lighthouse/v5.3.0-d6ba8c3/x86_64-linux"
    );
    let s = parse::syncing(fixture("syncing.json").as_bytes()).unwrap();
    assert_eq!((s.head_slot, s.sync_distance, s.is_syncing), (11200000, 0, false));
}

#[test]
fn spec() {
    let s = parse::spec(fixture("spec.json").as_bytes()).unwrap();
    assert_eq!(
        s,
        claystack_primitives::BeaconSpec { electra_fork_epoch: 364032, ..claystack_primitives::BeaconSpec::mainnet() }
    );
    // Unscheduled: the far-future epoch, or no key at all.
    let far =
        variant("spec.json", r#""ELECTRA_FORK_EPOCH": "364032""#, r#""ELECTRA_FORK_EPOCH": "18446744073709551615""#, 1);
    assert_eq!(parse::spec(&far).unwrap().electra_fork_epoch, u64::MAX);
    let absent = variant("spec.json", r#""ELECTRA_FORK_EPOCH": "364032","#, "", 1);
    assert_eq!(parse::spec(&absent).unwrap().electra_fork_epoch, u64::MAX);
    // Clients differ here, so a bare number is accepted (and only here).
    let bare = variant("spec.json", r#""SLOTS_PER_EPOCH": "32""#, r#""SLOTS_PER_EPOCH": 32"#, 1);
    assert_eq!(parse::spec(&bare).unwrap().slots_per_epoch, 32);
    let missing = variant("spec.json", r#""MAX_COMMITTEES_PER_SLOT": "64","#, "", 1);
    assert!(parse::spec(&missing).unwrap_err().to_string().contains("missing field `MAX_COMMITTEES_PER_SLOT`"));
}

#[test]
fn checkpoints_header_committees() {
    let f = parse::finality_checkpoints(fixture("finality_checkpoints.json").as_bytes()).unwrap();
    assert_eq!((f.previous_justified.epoch, f.current_justified.epoch, f.finalized.epoch), (364100, 364101, 364100));
    assert_eq!(f.finalized.root, f.previous_justified.root);
    assert_ne!(f.finalized.root, f.current_justified.root);

    let h = parse::header(fixture("header.json").as_bytes()).unwrap();
    assert_eq!((h.slot, h.proposer_index), (11651232, 1234567));
    assert_ne!(h.root, [0; 32]);
    assert!(fixture("header.json").contains(&hex::encode(&h.body_root)));

    let c = parse::committees(fixture("committees.json").as_bytes()).unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!((c[0].index, c[0].slot, c[0].validators.clone()), (0, 11651232, vec![17, 4, 1_000_000]));
    assert_eq!(c[1].validators, vec![2, 99]);
}

#[test]
fn duties() {
    let d = parse::attester_duties(fixture("duties.json").as_bytes()).unwrap();
    assert_eq!(d.duties.len(), 2);
    let a = d.duties[0];
    assert_eq!(
        (
            a.validator_index,
            a.slot,
            a.committee_index,
            a.committee_length,
            a.committees_at_slot,
            a.validator_committee_index
        ),
        (1, 11651233, 3, 488, 64, 17)
    );
    assert_eq!(d.duties[1].validator_committee_index, 486);
    // A position outside the committee is impossible.
    let bad =
        variant("duties.json", r#""validator_committee_index": "486""#, r#""validator_committee_index": "487""#, 1);
    let e = parse::attester_duties(&bad).unwrap_err();
    assert!(matches!(e, DecodeError::Invalid(_)) && e.to_string().contains("data[1]"), "{e}");
}

#[test]
fn validators() {
    let v = parse::validators(fixture("validators.json").as_bytes()).unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!((v[0].index, v[0].balance_gwei, v[0].effective_balance_gwei), (1, 32001234567, 32_000_000_000));
    assert_eq!((v[0].status.as_str(), v[0].slashed, v[0].exit_epoch), ("active_ongoing", false, u64::MAX));
    // Upper-case hex from a node comes out lower-case.
    assert!(
        v[0].pubkey.starts_with("0x") && v[0].pubkey == v[0].pubkey.to_ascii_lowercase() && v[0].pubkey.len() == 98
    );
    assert_eq!(
        (v[1].status.as_str(), v[1].slashed, v[1].activation_epoch, v[1].withdrawable_epoch),
        ("withdrawal_done", true, 10, 208192)
    );
    let bad = variant("validators.json", r#""status": "withdrawal_done""#, r#""status": "gone""#, 1);
    assert!(parse::validators(&bad).unwrap_err().to_string().contains("data[1].status `gone`"));
}

#[test]
fn deneb_block() {
    let b = parse::block(fixture("block_deneb.json").as_bytes(), None, 64).unwrap();
    assert_eq!((b.slot, b.proposer_index, b.fork.as_str()), (9000000, 424242, "deneb"));
    assert_eq!(b.execution.block_number, 19500000);
    assert!(fixture("block_deneb.json").contains(&hex::encode(&b.execution.block_hash)));
    assert!(fixture("block_deneb.json").contains(&hex::encode(&b.execution.parent_hash)));
    assert_eq!(b.attestations.len(), 2);
    let a = &b.attestations[0];
    assert_eq!((a.slot, a.index, a.committee_bits.is_none()), (8999999, 5, true));
    assert_eq!(a.aggregation_bits.len(), 3);
    assert!(a.aggregation_bits.get(0) && !a.aggregation_bits.get(1) && a.aggregation_bits.get(2));
    let a = &b.attestations[1];
    assert_eq!((a.index, a.aggregation_bits.len(), a.aggregation_bits.count_ones()), (63, 8, 8));
}

#[test]
fn electra_block() {
    let b = parse::block(fixture("block_electra.json").as_bytes(), None, 64).unwrap();
    assert_eq!((b.slot, b.fork.as_str(), b.execution.block_number), (11651233, "electra", 22430000));
    assert_eq!(b.attestations.len(), 2);
    let a = &b.attestations[0];
    assert_eq!((a.slot, a.index), (11651232, 0));
    let cb = a.committee_bits.as_ref().unwrap();
    assert_eq!((cb.len(), cb.ones().collect::<Vec<_>>()), (64, vec![0, 2]));
    // 0x4b03: committees 0 and 2 concatenated, 9 bits, set 0,1,3,6,8.
    let set: Vec<usize> = (0..a.aggregation_bits.len()).filter(|&i| a.aggregation_bits.get(i)).collect();
    assert_eq!((a.aggregation_bits.len(), set), (9, vec![0, 1, 3, 6, 8]));
    assert_eq!(b.attestations[1].committee_bits.as_ref().unwrap().ones().collect::<Vec<_>>(), vec![63]);
    // Fulu reads the same way.
    let fulu = variant("block_electra.json", r#""version": "electra""#, r#""version": "fulu""#, 1);
    assert_eq!(parse::block(&fulu, None, 64).unwrap().fork, "fulu");
    // A chain with fewer committees per slot has shorter committee_bits.
    let e = parse::block(fixture("block_electra.json").as_bytes(), None, 4).unwrap_err();
    assert!(
        matches!(&e, DecodeError::Bits { field, error: BitsError::VectorLength { bits: 4, expected: 1, got: 8 } } if field == "attestations[0].committee_bits"),
        "{e}"
    );
}

#[test]
fn block_version_from_header_when_body_lacks_it() {
    let no_version = variant("block_electra.json", r#""version": "electra","#, "", 1);
    assert_eq!(parse::block(&no_version, Some("electra"), 64).unwrap().fork, "electra");
    assert!(matches!(parse::block(&no_version, None, 64), Err(DecodeError::MissingVersion)));
    // The body wins over the header.
    assert_eq!(parse::block(fixture("block_deneb.json").as_bytes(), Some("electra"), 64).unwrap().fork, "deneb");
}

#[test]
fn malformed_blocks_give_specific_errors() {
    let err = |body: Vec<u8>| parse::block(&body, None, 64).unwrap_err();

    // An integer as a bare JSON number.
    let e = err(variant("block_deneb.json", r#""slot": "9000000""#, r#""slot": 9000000"#, 1));
    assert!(matches!(e, DecodeError::Json(_)));
    let msg = e.to_string();
    assert!(msg.contains("invalid type: integer `9000000`, expected an integer as a quoted decimal string"), "{msg}");
    assert!(msg.contains("line "), "serde position missing: {msg}");

    // Bad hex and wrong byte length.
    let e = err(variant("block_deneb.json", r#""aggregation_bits": "0x0d""#, r#""aggregation_bits": "0x0z""#, 1));
    assert!(
        matches!(&e, DecodeError::Bits { field, error: BitsError::Hex(HexError::BadDigit(3)) } if field == "attestations[0].aggregation_bits"),
        "{e}"
    );
    let parent = &fixture("block_deneb.json")[..];
    let parent_hash = parent.split(r#""parent_hash": ""#).nth(1).unwrap().split('"').next().unwrap().to_string();
    let e = err(variant("block_deneb.json", &parent_hash, &parent_hash[..65], 1));
    assert!(
        matches!(&e, DecodeError::Hex { field, error: HexError::OddLength(_) } if field == "execution_payload.parent_hash"),
        "{e}"
    );
    let e = err(variant("block_deneb.json", &parent_hash, &parent_hash[..62], 1));
    assert!(matches!(&e, DecodeError::Hex { error: HexError::WrongLength { expected: 32, got: 30 }, .. }), "{e}");
    assert!(e.to_string().starts_with("execution_payload.parent_hash: expected 32 bytes"), "{e}");

    // Bitlist without its sentinel bit.
    let e = err(variant("block_deneb.json", r#""aggregation_bits": "0xff01""#, r#""aggregation_bits": "0xff00""#, 1));
    assert!(
        matches!(&e, DecodeError::Bits { field, error: BitsError::NoSentinel } if field == "attestations[1].aggregation_bits"),
        "{e}"
    );

    // Electra without committee_bits, and deneb with them.
    let text = fixture("block_electra.json");
    let stripped = text.replace(r#""committee_bits": "0x0500000000000000""#, r#""x": "0""#);
    assert_ne!(stripped, text);
    let e = err(stripped.into_bytes());
    assert!(matches!(&e, DecodeError::MissingCommitteeBits { index: 0, fork } if fork == "electra"), "{e}");
    let e = err(variant("block_electra.json", r#""version": "electra""#, r#""version": "deneb""#, 1));
    assert!(matches!(&e, DecodeError::UnexpectedCommitteeBits { index: 0, .. }), "{e}");

    // Unknown and pre-merge forks.
    let e = err(variant("block_electra.json", r#""version": "electra""#, r#""version": "gloas""#, 1));
    assert!(matches!(&e, DecodeError::UnknownFork(f) if f == "gloas") && !e.is_retryable(), "{e}");
    for fork in ["phase0", "altair"] {
        let e = err(variant("block_deneb.json", r#""version": "deneb""#, &format!(r#""version": "{fork}""#), 1));
        assert!(matches!(&e, DecodeError::UnsupportedFork(f) if f == fork) && !e.is_retryable(), "{e}");
        assert!(e.to_string().contains(&format!("fork `{fork}`")) && e.to_string().contains("bellatrix"), "{e}");
    }

    // Bellatrix+ without a payload.
    let text = fixture("block_deneb.json");
    let stripped = text.replace(r#""execution_payload": {"#, r#""execution_payload_gone": {"#);
    let e = err(stripped.into_bytes());
    assert!(matches!(&e, DecodeError::MissingPayload { fork } if fork == "deneb"), "{e}");

    // Not JSON at all, and a JSON error body.
    assert!(matches!(err(b"<html>502</html>".to_vec()), DecodeError::Json(_)));
    let e = err(fixture("error_404.json").into_bytes());
    assert!(e.to_string().contains("missing field `data`"), "{e}");
}

#[test]
fn malformed_others() {
    let e = parse::genesis(&variant(
        "genesis.json",
        r#""genesis_fork_version": "0x00000000""#,
        r#""genesis_fork_version": "0x000000""#,
        1,
    ))
    .unwrap_err();
    assert!(
        matches!(&e, DecodeError::Hex { field, error: HexError::WrongLength { expected: 4, got: 3 } } if field == "genesis_fork_version")
    );
    let e =
        parse::genesis(&variant("genesis.json", r#""genesis_time": "1606824023""#, r#""genesis_time": 1606824023"#, 1))
            .unwrap_err();
    assert!(e.to_string().contains("quoted decimal string"), "{e}");
    let e =
        parse::attester_duties(&variant("duties.json", r#""slot": "11651233""#, r#""slot": 11651233"#, 1)).unwrap_err();
    assert!(e.to_string().contains("invalid type: integer `11651233`"), "{e}");
    let e = parse::committees(&variant("committees.json", r#""99""#, "99", 1)).unwrap_err();
    assert!(e.to_string().contains("invalid type: integer `99`"), "{e}");
    let e = parse::finality_checkpoints(&variant(
        "finality_checkpoints.json",
        r#""epoch": "364101""#,
        r#""epoch": "36410x""#,
        1,
    ))
    .unwrap_err();
    assert!(e.to_string().contains("`36410x` is not a decimal integer"), "{e}");
    let body = fixture("validators.json");
    let pk = body.split(r#""pubkey": ""#).nth(2).unwrap().split('"').next().unwrap().to_string();
    let e = parse::validators(&variant("validators.json", &pk, &pk[..66], 1)).unwrap_err();
    assert!(e.to_string().starts_with("data[1].validator.pubkey: expected 48 bytes"), "{e}");
    assert_eq!(parse::error_message(fixture("error_400.json").as_bytes()).unwrap(), "Invalid validator ID: abc");
}
