//! The server over real HTTP: shapes of every endpoint, bits that agree with the
//! truth, faults at their rates, 404s for empty slots.

use claystack_beacon_sim::{serve, BeaconModel, Scenario};
use claystack_primitives::{Bitlist, Bitvector};
use serde_json::Value;
use std::sync::Arc;

const MINIMAL: &str = include_str!("data/minimal.toml");

struct Sim {
    base: String,
    http: reqwest::Client,
    chain: Arc<BeaconModel>,
    _task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(scenario: &str) -> Sim {
    let chain = Arc::new(BeaconModel::new(Scenario::from_toml(scenario).unwrap()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(serve(chain.clone(), listener));
    Sim { base, http: reqwest::Client::new(), chain, _task: task }
}

impl Sim {
    async fn get_raw(&self, path: &str) -> (u16, String) {
        let r = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.get_raw(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, serde_json::from_str(&r.text().await.unwrap()).unwrap())
    }
}

/// A JSON string of decimal digits.
fn int(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("expected an integer string, got {v}"));
    s.parse().unwrap_or_else(|_| panic!("not decimal: {s}"))
}

/// A 0x hex string of `bytes` bytes.
fn hex(v: &Value, bytes: usize) -> Vec<u8> {
    let s = v.as_str().unwrap_or_else(|| panic!("expected a hex string, got {v}"));
    assert!(s.starts_with("0x") && s[2..].chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)), "{s}");
    let b = claystack_primitives::hex::decode(s).unwrap();
    assert_eq!(b.len(), bytes, "{s}");
    b
}

#[tokio::test]
async fn node_genesis_spec_and_finality() {
    let sim = start(MINIMAL).await;
    let v = sim.get("/eth/v1/node/version").await;
    assert!(v["data"]["version"].as_str().unwrap().starts_with("ClaystackBeaconSim/"));
    let v = sim.get("/eth/v1/node/syncing").await;
    assert_eq!(int(&v["data"]["head_slot"]), 55);
    assert_eq!(v["data"]["is_syncing"], false);
    assert_eq!(sim.get_raw("/eth/v1/node/health").await.0, 200);
    let v = sim.get("/eth/v1/beacon/genesis").await;
    assert_eq!(int(&v["data"]["genesis_time"]), 1_700_000_000);
    hex(&v["data"]["genesis_validators_root"], 32);
    hex(&v["data"]["genesis_fork_version"], 4);
    let v = sim.get("/eth/v1/config/spec").await;
    for (k, want) in [
        ("SLOTS_PER_EPOCH", 8),
        ("TARGET_COMMITTEE_SIZE", 4),
        ("MAX_COMMITTEES_PER_SLOT", 4),
        ("ELECTRA_FORK_EPOCH", 0),
    ] {
        assert_eq!(int(&v["data"][k]), want, "{k}");
    }
    assert_eq!(v["data"]["PRESET_BASE"], "minimal");
    assert!(v["data"].as_object().unwrap().values().all(Value::is_string));
    let v = sim.get("/eth/v1/beacon/states/head/finality_checkpoints").await;
    assert_eq!(int(&v["data"]["finalized"]["epoch"]), 4);
    assert_eq!(int(&v["data"]["current_justified"]["epoch"]), 5);
    assert_eq!(int(&v["data"]["previous_justified"]["epoch"]), 4);
    let root = hex(&v["data"]["finalized"]["root"], 32);
    let r = sim.get("/eth/v1/beacon/blocks/finalized/root").await;
    assert_eq!(hex(&r["data"]["root"], 32), root);
    assert_eq!(r["finalized"], true);
    // A root names its block.
    let h = sim.get(&format!("/eth/v1/beacon/headers/{}", claystack_primitives::hex::encode(&root))).await;
    assert_eq!(int(&h["data"]["header"]["message"]["slot"]), 32);
}

#[tokio::test]
async fn headers_blocks_and_missing_slots() {
    let sim = start(MINIMAL).await;
    let h = sim.get("/eth/v1/beacon/headers/head").await;
    assert_eq!(h["data"]["canonical"], true);
    let m = &h["data"]["header"]["message"];
    assert_eq!(int(&m["slot"]), 55);
    int(&m["proposer_index"]);
    for k in ["parent_root", "state_root", "body_root"] {
        hex(&m[k], 32);
    }
    hex(&h["data"]["header"]["signature"], 96);
    // Parent links skip the empty slot 17.
    let b18 = sim.get("/eth/v1/beacon/headers/18").await;
    let r16 = sim.get("/eth/v1/beacon/blocks/16/root").await;
    assert_eq!(b18["data"]["header"]["message"]["parent_root"], r16["data"]["root"]);

    for path in [
        "/eth/v2/beacon/blocks/17",
        "/eth/v1/beacon/headers/33",
        "/eth/v1/beacon/blocks/56/root",
        "/eth/v2/beacon/blocks/99",
    ] {
        let (status, body) = sim.get_raw(path).await;
        assert_eq!(status, 404, "{path}");
        let e: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(e["code"], 404);
        assert!(e["message"].as_str().unwrap().starts_with("NOT_FOUND"));
    }
    assert_eq!(sim.get_raw("/eth/v2/beacon/blocks/nonsense").await.0, 400);

    let r = sim.http.get(format!("{}/eth/v2/beacon/blocks/18", sim.base)).send().await.unwrap();
    assert_eq!(r.headers()["eth-consensus-version"], "electra");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["version"], "electra");
    let body = &v["data"]["message"]["body"];
    let p = &body["execution_payload"];
    assert_eq!(int(&p["block_number"]), 17, "slot 18 is the 17th block after genesis: slot 17 is empty");
    hex(&p["logs_bloom"], 256);
    hex(&p["fee_recipient"], 20);
    assert_eq!(p["transactions"], serde_json::json!([]));
    let b16 = sim.get("/eth/v2/beacon/blocks/16").await;
    assert_eq!(p["parent_hash"], b16["data"]["message"]["body"]["execution_payload"]["block_hash"]);
    assert!(body["execution_requests"].is_object());
    hex(&body["randao_reveal"], 96);
    for a in body["attestations"].as_array().unwrap() {
        let cb = hex(&a["committee_bits"], 1);
        let committees = Bitvector::from_ssz_hex(&a["committee_bits"]);
        assert!(cb[0] != 0);
        let bits = Bitlist::from_hex(a["aggregation_bits"].as_str().unwrap()).unwrap();
        let s = int(&a["data"]["slot"]);
        let lengths: u64 = committees.iter().map(|&c| committee_len(&sim, s, c)).sum::<u64>();
        assert_eq!(bits.len() as u64, lengths);
        assert_eq!(int(&a["data"]["index"]), 0);
        assert_eq!(int(&a["data"]["target"]["epoch"]), s / 8);
        hex(&a["signature"], 96);
    }
    // Slashing and exit records ride in the first block of their epoch.
    let b = sim.get("/eth/v2/beacon/blocks/24").await;
    let sl = &b["data"]["message"]["body"]["attester_slashings"];
    assert_eq!(sl[0]["attestation_1"]["attesting_indices"], serde_json::json!(["9"]));
    let b = sim.get("/eth/v2/beacon/blocks/16").await;
    assert_eq!(b["data"]["message"]["body"]["voluntary_exits"][0]["message"]["validator_index"], "10");
    // Genesis has a block without attestations.
    let g = sim.get("/eth/v2/beacon/blocks/genesis").await;
    assert_eq!(g["data"]["message"]["body"]["attestations"], serde_json::json!([]));
}

trait FromSszHex {
    fn from_ssz_hex(v: &Value) -> Vec<u64>;
}

impl FromSszHex for Bitvector {
    fn from_ssz_hex(v: &Value) -> Vec<u64> {
        let s = v.as_str().unwrap();
        let len = (s.len() - 2) / 2 * 8;
        Bitvector::from_hex(s, len).unwrap().ones().map(|i| i as u64).collect()
    }
}

fn committee_len(sim: &Sim, slot: u64, committee: u64) -> u64 {
    let all: Vec<u64> = (0..sim.chain.validator_count()).collect();
    let d = sim.chain.duties(slot / sim.chain.spec().slots_per_epoch, &all);
    d.iter().find(|d| d.slot == slot && d.committee_index == committee).unwrap().committee_length
}

#[tokio::test]
async fn duties_and_bits_agree_with_the_truth() {
    let sim = start(MINIMAL).await;
    let truth = sim.chain.truth(100);
    let ids: Vec<String> = (0..64).map(|i| i.to_string()).collect();
    let mut checked = 0;
    for epoch in 0..=4u64 {
        let (status, v) = sim.post(&format!("/eth/v1/validator/duties/attester/{epoch}"), serde_json::json!(ids)).await;
        assert_eq!(status, 200, "{v}");
        hex(&v["dependent_root"], 32);
        assert_eq!(v["execution_optimistic"], false);
        let duties = v["data"].as_array().unwrap();
        let expected = truth.epochs[epoch as usize].tallies.len();
        assert_eq!(duties.len(), expected, "epoch {epoch}: one duty per tracked active validator");
        for d in duties {
            let validator = int(&d["validator_index"]);
            hex(&d["pubkey"], 48);
            let slot = int(&d["slot"]);
            let committee = int(&d["committee_index"]);
            let pos = int(&d["validator_committee_index"]);
            assert!(pos < int(&d["committee_length"]));
            assert!(committee < int(&d["committees_at_slot"]));
            // Look for the bit in the blocks of the inclusion window.
            let mut included_at = None;
            for b in slot + 1..=sim.chain.spec().inclusion_deadline(slot) {
                let (st, body) = sim.get_raw(&format!("/eth/v2/beacon/blocks/{b}")).await;
                if st == 404 {
                    continue;
                }
                let blk: Value = serde_json::from_str(&body).unwrap();
                for a in blk["data"]["message"]["body"]["attestations"].as_array().unwrap() {
                    if int(&a["data"]["slot"]) != slot {
                        continue;
                    }
                    let committees = Bitvector::from_ssz_hex(&a["committee_bits"]);
                    let Some(i) = committees.iter().position(|&c| c == committee) else { continue };
                    let offset: u64 = committees[..i].iter().map(|&c| committee_len(&sim, slot, c)).sum();
                    let bits = Bitlist::from_hex(a["aggregation_bits"].as_str().unwrap()).unwrap();
                    if bits.get((offset + pos) as usize) {
                        included_at = included_at.or(Some(b));
                    }
                }
                if included_at.is_some() {
                    break;
                }
            }
            let t = truth.epochs[epoch as usize].tallies.iter().find(|t| t.validator == validator).unwrap();
            assert_eq!(included_at.is_some() as u32, t.included, "validator {validator} epoch {epoch}");
            assert_eq!(
                included_at.is_some_and(|b| b - slot <= 2) as u32,
                t.timely,
                "validator {validator} epoch {epoch}"
            );
            checked += 1;
        }
    }
    assert!(checked > 250);
    // Far future epochs are refused, inactive validators left out.
    let (status, v) = sim.post("/eth/v1/validator/duties/attester/8", serde_json::json!(["1"])).await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = sim.post("/eth/v1/validator/duties/attester/7", serde_json::json!(["1"])).await;
    assert_eq!(status, 200, "{v}");
    let (_, v) = sim.post("/eth/v1/validator/duties/attester/1", serde_json::json!(["11", "12"])).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "validator 11 activates at epoch 2");
}

#[tokio::test]
async fn validators_and_committees() {
    let sim = start(MINIMAL).await;
    let v = sim.get("/eth/v1/beacon/states/head/validators?id=9&id=10,11").await;
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[0]["status"], "active_slashed");
    assert_eq!(data[0]["validator"]["slashed"], true);
    assert!(int(&data[0]["balance"]) < 32_000_000_000);
    assert_eq!(data[1]["status"], "active_exiting");
    assert_eq!(int(&data[1]["validator"]["exit_epoch"]), 7);
    assert_eq!(data[2]["status"], "active_ongoing");
    let key = data[2]["validator"]["pubkey"].as_str().unwrap().to_string();
    hex(&data[2]["validator"]["pubkey"], 48);
    hex(&data[2]["validator"]["withdrawal_credentials"], 32);
    assert_eq!(int(&data[2]["validator"]["withdrawable_epoch"]), u64::MAX);

    let v = sim.get(&format!("/eth/v1/beacon/states/genesis/validators?id={key}")).await;
    assert_eq!(v["data"][0]["index"], "11");
    assert_eq!(v["data"][0]["status"], "pending_queued");

    let (status, v) = sim
        .post(
            "/eth/v1/beacon/states/head/validators",
            serde_json::json!({"ids": ["1", "9", "10", "300"], "statuses": ["active_ongoing", "active_slashed"]}),
        )
        .await;
    assert_eq!(status, 200);
    let idx: Vec<u64> = v["data"].as_array().unwrap().iter().map(|x| int(&x["index"])).collect();
    assert_eq!(idx, vec![1, 9], "300 does not exist, 10 is active_exiting");
    let v = sim.get("/eth/v1/beacon/states/finalized/validators?id=10&status=active").await;
    assert_eq!(v["data"][0]["status"], "active_exiting", "\"active\" matches every active_* status");
    let v = sim.get("/eth/v1/beacon/states/head/validators?id=10&status=exited").await;
    assert_eq!(v["data"], serde_json::json!([]));
    // All validators at once (streamed).
    let v = sim.get("/eth/v1/beacon/states/24/validators").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 256);
    assert_eq!(v["data"][9]["status"], "active_slashed");
    let v = sim.get("/eth/v1/beacon/states/head/validators?status=active_ongoing").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 254);
    assert_eq!(sim.get_raw("/eth/v1/beacon/states/999/validators").await.0, 404);

    let v = sim.get("/eth/v1/beacon/states/head/committees?epoch=3&slot=25").await;
    let cs = v["data"].as_array().unwrap();
    assert_eq!(cs.len(), 4);
    for (i, c) in cs.iter().enumerate() {
        assert_eq!(int(&c["index"]), i as u64);
        assert_eq!(int(&c["slot"]), 25);
        for val in c["validators"].as_array().unwrap() {
            let vi = int(val);
            let d = sim.chain.duties(3, &[vi])[0];
            assert_eq!((d.slot, d.committee_index), (25, i as u64));
        }
    }
    let v = sim.get("/eth/v1/beacon/states/head/committees?epoch=7").await;
    let total: usize = v["data"].as_array().unwrap().iter().map(|c| c["validators"].as_array().unwrap().len()).sum();
    assert_eq!(total, 255, "epoch 7: validator 10 has exited, 9 exits at 8");
}

#[tokio::test]
async fn mainnet_committee_bits_are_eight_bytes() {
    let sim = start("seed = 9\npreset = \"mainnet\"\nvalidators = 10000\ntracked = [\"0-99\"]\nhead_epoch = 2\n").await;
    let v = sim.get("/eth/v2/beacon/blocks/40").await;
    let atts = v["data"]["message"]["body"]["attestations"].as_array().unwrap();
    assert_eq!(atts.len(), 1);
    hex(&atts[0]["committee_bits"], 8);
    let committees = Bitvector::from_ssz_hex(&atts[0]["committee_bits"]);
    assert_eq!(committees, vec![0, 1], "10000 validators: 2 committees a slot");
    let bits = Bitlist::from_hex(atts[0]["aggregation_bits"].as_str().unwrap()).unwrap();
    let expect: u64 = committees.iter().map(|&c| committee_len(&sim, 39, c)).sum();
    assert_eq!(bits.len() as u64, expect);
    assert_eq!(bits.count_ones() as u64, expect, "a quiet chain: everyone attests");
}

#[tokio::test]
async fn deneb_blocks_have_one_attestation_per_committee() {
    let sim = start("seed = 9\npreset = \"minimal\"\nvalidators = 256\nhead_epoch = 3\nelectra_fork_epoch = 2\n").await;
    let r = sim.http.get(format!("{}/eth/v2/beacon/blocks/9", sim.base)).send().await.unwrap();
    assert_eq!(r.headers()["eth-consensus-version"], "deneb");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["version"], "deneb");
    let body = &v["data"]["message"]["body"];
    assert!(body.get("execution_requests").is_none());
    let atts = body["attestations"].as_array().unwrap();
    assert_eq!(atts.len(), 4);
    for (i, a) in atts.iter().enumerate() {
        assert!(a.get("committee_bits").is_none());
        assert_eq!(int(&a["data"]["index"]), i as u64);
        let bits = Bitlist::from_hex(a["aggregation_bits"].as_str().unwrap()).unwrap();
        assert_eq!(bits.len() as u64, committee_len(&sim, 8, i as u64));
    }
    let v = sim.get("/eth/v2/beacon/blocks/17").await;
    assert_eq!(v["version"], "electra");
}

#[tokio::test]
async fn faults_appear_at_their_rates() {
    let sim = start(
        "seed = 1\nvalidators = 64\nhead_epoch = 3\n[faults]\nseed = 7\nerror_rate_bps = 2000\nmalformed_rate_bps = 1000\nhide_block_rate_bps = 1500\n",
    )
    .await;
    let (mut errors, mut malformed, mut hidden, mut ok) = (0i32, 0i32, 0i32, 0i32);
    let n = 2000i32;
    for i in 0..n {
        let slot = 1 + i % 30;
        let (status, body) = sim.get_raw(&format!("/eth/v2/beacon/blocks/{slot}")).await;
        match status {
            500 | 503 => {
                let e: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(e["code"].as_u64(), Some(status as u64));
                errors += 1;
            }
            404 => hidden += 1,
            200 => match serde_json::from_str::<Value>(&body) {
                Ok(v) if v["data"]["message"]["slot"].is_string() => ok += 1,
                _ => malformed += 1,
            },
            other => panic!("unexpected status {other}"),
        }
    }
    // Errors come first (20%), then hidden blocks (15% of the rest), then
    // malformed bodies (10% of the 200s left): 400, 240 and 136 of 2000.
    let near = |count: i32, want: i32| (count - want).abs() <= 60;
    assert!(near(errors, 400), "errors {errors} of {n}");
    assert!(near(hidden, 240), "hidden {hidden} of {n}");
    assert!(near(malformed, 136), "malformed {malformed} of {n}");
    assert_eq!(errors + hidden + malformed + ok, n);
    // Node endpoints never get faults.
    let sim = start(
        "seed = 1\nvalidators = 64\nhead_epoch = 3\n[faults]\nerror_rate_bps = 10000\nmalformed_rate_bps = 10000\n",
    )
    .await;
    for path in ["/eth/v1/node/version", "/eth/v1/node/syncing", "/eth/v1/node/health", "/eth/v1/beacon/genesis"] {
        for _ in 0..5 {
            assert_eq!(sim.get_raw(path).await.0, 200, "{path}");
        }
    }
    assert!(matches!(sim.get_raw("/eth/v1/beacon/headers/head").await.0, 500 | 503));
}

#[tokio::test]
async fn head_advances_with_slot_ms() {
    let sim = start("seed = 1\nvalidators = 64\nhead_epoch = 3\nslot_ms = 50\n").await;
    let first = int(&sim.get("/eth/v1/node/syncing").await["data"]["head_slot"]);
    assert!((31..=35).contains(&first), "{first}");
    assert_eq!(sim.get_raw("/eth/v1/beacon/headers/40").await.0, 404);
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let later = int(&sim.get("/eth/v1/node/syncing").await["data"]["head_slot"]);
    assert!(later >= first + 8, "{first} -> {later}");
    assert_eq!(sim.get_raw("/eth/v1/beacon/headers/40").await.0, 200);
}

/// `T_CL` measured over HTTP as the oracle does: balances from the validators endpoint at
/// two states, withdrawals and deposits (matched by pubkey) from the blocks between.
#[tokio::test]
async fn served_balances_withdrawals_and_deposits_carry_the_model_numbers() {
    let sim = start(include_str!("data/money.toml")).await;
    let c = sim.chain.clone();
    let ids: Vec<String> = ["3", "9", "10", "12", "13", "20", "40"].iter().map(|s| s.to_string()).collect();
    let vs: Vec<u64> = ids.iter().map(|s| s.parse().unwrap()).collect();
    let keys: Vec<Vec<u8>> = vs.iter().map(|&v| c.pubkey(v).to_vec()).collect();
    // Deneb deposit (slot 24), the Electra fork, a slashing's correlation, the leak.
    for (after, through) in [(0u64, 200u64), (190, 520)] {
        let mut t: i128 = 0;
        for (slot, sign) in [(after, -1i128), (through, 1)] {
            let (status, v) =
                sim.post(&format!("/eth/v1/beacon/states/{slot}/validators"), serde_json::json!({"ids": ids})).await;
            assert_eq!(status, 200, "{v}");
            let data = v["data"].as_array().unwrap();
            assert_eq!(data.len(), vs.len());
            for (entry, &validator) in data.iter().zip(&vs) {
                let balance = int(&entry["balance"]);
                assert_eq!(balance, c.balance(validator, slot), "validator {validator} at {slot}");
                let effective = int(&entry["validator"]["effective_balance"]);
                assert_eq!(effective, claystack_beacon_sim::effective_balance(balance));
                t += sign * balance as i128;
            }
            let q: String = ids.iter().map(|i| format!("id={i}&")).collect();
            let b = sim.get(&format!("/eth/v1/beacon/states/{slot}/validator_balances?{q}")).await;
            let served: Vec<(u64, u64)> =
                b["data"].as_array().unwrap().iter().map(|x| (int(&x["index"]), int(&x["balance"]))).collect();
            assert_eq!(served, vs.iter().map(|&v| (v, c.balance(v, slot))).collect::<Vec<_>>());
        }
        let (mut withdrawn, mut deposited, mut eth1_deposits) = (0u64, 0u64, 0);
        for slot in after + 1..=through {
            let (status, body) = sim.get_raw(&format!("/eth/v2/beacon/blocks/{slot}")).await;
            if status == 404 {
                assert!(!c.has_block(slot));
                continue;
            }
            let blk: Value = serde_json::from_str(&body).unwrap();
            let body = &blk["data"]["message"]["body"];
            let served: Vec<(u64, u64, u64, Vec<u8>)> = body["execution_payload"]["withdrawals"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| (int(&w["index"]), int(&w["validator_index"]), int(&w["amount"]), hex(&w["address"], 20)))
                .collect();
            let model: Vec<(u64, u64, u64, Vec<u8>)> = c
                .withdrawals_at(slot)
                .iter()
                .map(|w| (w.index, w.validator, w.amount_gwei, w.address.to_vec()))
                .collect();
            assert_eq!(served, model, "withdrawals at {slot}");
            withdrawn += served.iter().filter(|w| vs.contains(&w.1)).map(|w| w.2).sum::<u64>();
            let electra = blk["version"] == "electra";
            let deposits = if electra {
                assert_eq!(body["deposits"], serde_json::json!([]));
                body["execution_requests"]["deposits"].as_array().unwrap().clone()
            } else {
                let ds = body["deposits"].as_array().unwrap();
                for d in ds {
                    assert_eq!(d["proof"].as_array().unwrap().len(), 33);
                    d["proof"].as_array().unwrap().iter().for_each(|r| drop(hex(r, 32)));
                }
                eth1_deposits += ds.len();
                ds.iter().map(|d| d["data"].clone()).collect()
            };
            let model = c.deposits_at(slot);
            assert_eq!(deposits.len(), model.len(), "deposits at {slot}");
            for (d, m) in deposits.iter().zip(&model) {
                assert_eq!(hex(&d["pubkey"], 48), m.pubkey.to_vec());
                assert_eq!(int(&d["amount"]), m.amount_gwei);
                hex(&d["signature"], 96);
                assert_eq!(hex(&d["withdrawal_credentials"], 32)[12..], c.withdrawal_address(m.validator));
                if electra {
                    assert_eq!(int(&d["index"]), m.index);
                }
                if keys.contains(&hex(&d["pubkey"], 48)) {
                    deposited += int(&d["amount"]);
                }
            }
        }
        t += withdrawn as i128 - deposited as i128;
        assert_eq!(t, c.consensus_rewards(&vs, after, through), "slots ({after}, {through}]");
        assert!(withdrawn > 0 && deposited > 0, "({after}, {through}]: {withdrawn} withdrawn, {deposited} deposited");
        if after == 0 {
            assert_eq!(eth1_deposits, 1, "validator 12's deposit rides in body.deposits before Electra");
        }
    }
    let r = sim.http.get(format!("{}/eth/v1/beacon/states/head/pending_deposits", sim.base)).send().await.unwrap();
    assert_eq!(r.headers()["eth-consensus-version"], "electra");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["version"], "electra");
    assert_eq!(v["execution_optimistic"], false);
    assert!(v["finalized"].is_boolean());
    assert_eq!(v["data"], serde_json::json!([]));
    // Every validator's balance at once (streamed) matches too.
    let all = sim.get("/eth/v1/beacon/states/520/validator_balances").await;
    let data = all["data"].as_array().unwrap();
    assert_eq!(data.len(), 64);
    assert!(data.iter().enumerate().all(|(i, x)| int(&x["balance"]) == c.balance(i as u64, 520)));
}
