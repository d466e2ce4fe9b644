//! Answers recorded from real beacon nodes, decoded by the oracle's parser.
//!
//! The files under `tests/fixtures/real/` are copied byte for byte from public repositories
//! (`SOURCE.md` beside each names the repository, path, commit and the node that answered).
//! Some recorders kept the answer inside a wrapper of their own (a map of endpoints, or a
//! list of `[data, metadata]` pairs); the tests take the recorded envelope apart with
//! `serde_json::Value` and hand the parser the answer as a node sends it. Every expected value
//! is read from the same file by that second route, never typed here.

use claystack_beacon::parse;
use claystack_primitives::hex;
use serde_json::{json, Value};

fn real(path: &str) -> Value {
    let path = format!("{}/tests/fixtures/real/{path}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// A quoted decimal integer, read the way a person would read it.
fn int(v: &Value) -> u64 {
    v.as_str().unwrap_or_else(|| panic!("{v} is not a string")).parse().unwrap()
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("{v} is not a string"))
}

/// The recorder of lido-oracle keeps each answer as `[data, {version, execution_optimistic,
/// finalized}]`: put the envelope back together the way the node sent it.
fn lido_answer(entry: &Value) -> Value {
    let response = entry["response"].as_array().expect("a lido recording is [data, metadata]");
    let mut answer = response[1].as_object().cloned().unwrap_or_default();
    answer.insert("data".into(), response[0].clone());
    Value::Object(answer)
}

/// Length and set-bit count of an SSZ bitlist, from its hex by hand: the highest set bit of
/// the last byte is the length delimiter.
fn bitlist_by_hand(s: &str) -> (usize, usize) {
    let raw: Vec<u8> = (2..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect();
    let last = *raw.last().unwrap();
    let delimiter = 7 - last.leading_zeros() as usize;
    let len = (raw.len() - 1) * 8 + delimiter;
    let ones: usize = raw.iter().map(|b| b.count_ones() as usize).sum::<usize>() - 1;
    (len, ones)
}

#[test]
fn teku_on_hoodi_spec_genesis_and_version_decode_to_what_the_node_served() {
    let recorded = real("teku-hoodi/static.json");

    let spec_answer = &recorded["/eth/v1/config/spec"];
    let s = parse::spec(&bytes(spec_answer)).unwrap();
    let data = &spec_answer["data"];
    assert_eq!(s.slots_per_epoch, int(&data["SLOTS_PER_EPOCH"]));
    assert_eq!(s.seconds_per_slot, int(&data["SECONDS_PER_SLOT"]));
    assert_eq!(s.target_committee_size, int(&data["TARGET_COMMITTEE_SIZE"]));
    assert_eq!(s.max_committees_per_slot, int(&data["MAX_COMMITTEES_PER_SLOT"]));
    assert_eq!(s.electra_fork_epoch, int(&data["ELECTRA_FORK_EPOCH"]));
    // Hoodi runs the mainnet preset; the parser must not have fallen back to defaults.
    assert_eq!(text(&data["PRESET_BASE"]), "mainnet");

    let genesis_answer = &recorded["/eth/v1/beacon/genesis"];
    let g = parse::genesis(&bytes(genesis_answer)).unwrap();
    assert_eq!(g.genesis_time, int(&genesis_answer["data"]["genesis_time"]));
    assert_eq!(hex::encode(&g.genesis_validators_root), text(&genesis_answer["data"]["genesis_validators_root"]));
    assert_eq!(hex::encode(&g.genesis_fork_version), text(&genesis_answer["data"]["genesis_fork_version"]));

    let version_answer = &recorded["/eth/v1/node/version"];
    let v = parse::node_version(&bytes(version_answer)).unwrap();
    assert_eq!(v, text(&version_answer["data"]["version"]));
    assert!(v.starts_with("teku/"), "{v}");

    // The node's answer to an unknown block is an error body the client can show.
    let missing = &recorded["/eth/v2/beacon/blocks/0"];
    assert_eq!(parse::error_message(&bytes(missing)).unwrap(), text(&missing["message"]));
}

#[test]
fn full_deneb_blocks_from_a_holesky_node_decode_with_every_withdrawal_and_aggregate() {
    let recorded = real("lido-oracle/holesky-deneb-blocks.cl.json");
    let blocks: Vec<&Value> =
        recorded.as_array().unwrap().iter().filter(|e| text(&e["url"]).contains("eth/v2/beacon/blocks/")).collect();
    assert!(blocks.len() >= 2, "the recording holds {} blocks", blocks.len());
    let mut withdrawals_seen = 0;
    for entry in blocks {
        let answer = lido_answer(entry);
        let b = parse::block(&bytes(&answer), None, 64).unwrap_or_else(|e| panic!("{}: {e}", entry["url"]));
        let m = &answer["data"]["message"];
        let payload = &m["body"]["execution_payload"];
        assert_eq!(b.fork, text(&answer["version"]));
        assert_eq!(b.slot, int(&m["slot"]));
        assert_eq!(b.proposer_index, int(&m["proposer_index"]));
        assert_eq!(hex::encode(&b.parent_root), text(&m["parent_root"]));
        assert_eq!(b.execution.block_number, int(&payload["block_number"]));
        assert_eq!(hex::encode(&b.execution.block_hash), text(&payload["block_hash"]));
        assert_eq!(hex::encode(&b.execution.parent_hash), text(&payload["parent_hash"]));

        let recorded_withdrawals = payload["withdrawals"].as_array().unwrap();
        assert_eq!(b.withdrawals.len(), recorded_withdrawals.len());
        for (w, r) in b.withdrawals.iter().zip(recorded_withdrawals) {
            assert_eq!(
                (w.index, w.validator, w.amount_gwei),
                (int(&r["index"]), int(&r["validator_index"]), int(&r["amount"]))
            );
        }
        withdrawals_seen += b.withdrawals.len();
        assert_eq!(b.deposits.len(), m["body"]["deposits"].as_array().unwrap().len());

        let recorded_attestations = m["body"]["attestations"].as_array().unwrap();
        assert_eq!(b.attestations.len(), recorded_attestations.len());
        for (a, r) in b.attestations.iter().zip(recorded_attestations) {
            let bits = text(&r["aggregation_bits"]);
            assert_eq!((a.slot, a.index), (int(&r["data"]["slot"]), int(&r["data"]["index"])));
            assert!(a.committee_bits.is_none());
            assert_eq!((a.aggregation_bits.len(), a.aggregation_bits.count_ones()), bitlist_by_hand(bits));
            assert_eq!(a.aggregation_bits.to_hex(), bits.to_ascii_lowercase());
        }
    }
    assert!(withdrawals_seen > 0, "the recorded blocks carry withdrawals");
}

#[test]
fn beacon_committees_from_an_electra_devnet_node_decode_member_for_member() {
    let recorded = real("lido-oracle/mekong-electra-committees.cl.json");
    let mut committees_seen = 0;
    for entry in recorded.as_array().unwrap().iter().filter(|e| text(&e["url"]).ends_with("/committees")) {
        let answer = lido_answer(entry);
        let parsed = parse::committees(&bytes(&answer)).unwrap();
        let data = answer["data"].as_array().unwrap();
        assert_eq!(parsed.len(), data.len());
        for (c, r) in parsed.iter().zip(data) {
            assert_eq!((c.index, c.slot), (int(&r["index"]), int(&r["slot"])));
            let members: Vec<u64> = r["validators"].as_array().unwrap().iter().map(int).collect();
            assert_eq!(c.validators, members);
            // The recording asked for one slot's committees per request.
            assert_eq!(c.slot, entry["params"]["slot"].as_u64().unwrap());
        }
        committees_seen += parsed.len();
    }
    assert!(committees_seen > 0);
}

#[test]
fn teku_serialized_validators_and_duties_decode_field_for_field() {
    let answer = real("teku-handlers/getStateValidatorsTest.json");
    let parsed = parse::validators(&bytes(&answer)).unwrap();
    let data = answer["data"].as_array().unwrap();
    assert_eq!(parsed.len(), data.len());
    for (v, r) in parsed.iter().zip(data) {
        let rv = &r["validator"];
        assert_eq!(
            (v.index, v.balance_gwei, v.status.as_str()),
            (int(&r["index"]), int(&r["balance"]), text(&r["status"]))
        );
        assert_eq!(v.pubkey, text(&rv["pubkey"]).to_ascii_lowercase());
        assert_eq!(v.effective_balance_gwei, int(&rv["effective_balance"]));
        assert_eq!(v.slashed, rv["slashed"].as_bool().unwrap());
        assert_eq!(
            (v.activation_epoch, v.exit_epoch, v.withdrawable_epoch),
            (int(&rv["activation_epoch"]), int(&rv["exit_epoch"]), int(&rv["withdrawable_epoch"]))
        );
    }

    let answer = real("teku-handlers/postAttesterDuties.json");
    let parsed = parse::attester_duties(&bytes(&answer)).unwrap();
    assert_eq!(hex::encode(&parsed.dependent_root), text(&answer["dependent_root"]));
    let data = answer["data"].as_array().unwrap();
    assert_eq!(parsed.duties.len(), data.len());
    for (d, r) in parsed.duties.iter().zip(data) {
        assert_eq!(
            (
                d.validator_index,
                d.slot,
                d.committee_index,
                d.committee_length,
                d.committees_at_slot,
                d.validator_committee_index
            ),
            (
                int(&r["validator_index"]),
                int(&r["slot"]),
                int(&r["committee_index"]),
                int(&r["committee_length"]),
                int(&r["committees_at_slot"]),
                int(&r["validator_committee_index"])
            )
        );
    }
}

/// The envelope the tests rebuild is the one the Beacon API defines: a recording whose
/// metadata lacks the fork still decodes when the node's `Eth-Consensus-Version` header is
/// given, and fails without it (so the version the test relies on really comes from the file).
#[test]
fn a_recorded_block_without_its_version_needs_the_header() {
    let recorded = real("lido-oracle/holesky-deneb-blocks.cl.json");
    let entry =
        recorded.as_array().unwrap().iter().find(|e| text(&e["url"]).contains("eth/v2/beacon/blocks/")).unwrap();
    let version = text(&entry["response"][1]["version"]).to_string();
    let bare = json!({ "data": entry["response"][0] });
    assert!(parse::block(&bytes(&bare), None, 64).is_err());
    assert_eq!(parse::block(&bytes(&bare), Some(&version), 64).unwrap().fork, version);
}
