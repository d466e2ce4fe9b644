//! The HTTP API of real `claystack-oracle run` processes on the devnet's chains (`devnet
//! --hold` with one member: anvil with the contracts, the beacon simulator): the committee
//! member and an observer (no committee keys, nothing to submit) measure the same chains and
//! serve the same notification list, running frame and reports, byte for byte; and
//! schemathesis, run against the member's served OpenAPI document, finds no 5xx and no answer
//! outside the schema.

use crate::support::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Waits until the API at `addr` answers `/v1/status` with `pred` true; returns the status.
fn wait_status(addr: &str, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = serde_json::Value::Null;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            let (code, body) = http_get(addr, "/v1/status");
            if code == 200 {
                last = serde_json::from_str(&body).unwrap();
                if pred(&last) {
                    return last;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("the API at {addr} never reached the expected state; last status {last}");
}

fn schemathesis() -> std::path::PathBuf {
    let st = std::env::var_os("CLAYSTACK_SCHEMATHESIS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var("HOME").unwrap()).join(".cache/claystack-schemathesis/bin/st"));
    assert!(st.exists(), "schemathesis is not installed at {}; run scripts/setup.sh", st.display());
    st
}

#[test]
fn member_and_observer_serve_the_same_bytes_and_the_api_keeps_to_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let net = HeldDevnet::start(dir.path(), 1, 1);
    let member_api = format!("127.0.0.1:{}", free_port());
    let mut member_args = net.run_args(0);
    member_args.extend(["--api-listen".into(), member_api.clone()]);
    let observer_api = format!("127.0.0.1:{}", free_port());
    let mut observer_args = run_args(&dir.path().join("observer"), &net.str("beacon_url"), "0-63", u64::MAX);
    observer_args.truncate(observer_args.len() - 2); // no --until-epoch: it keeps serving
    observer_args.extend([
        "--start-epoch".into(),
        "16".into(), // the devnet's first frame, as the member's node.toml says
        "--genesis".into(),
        net.genesis_path().display().to_string(),
        "--rpc-url".into(),
        net.str("rpc_url"),
        "--api-listen".into(),
        observer_api.clone(),
    ]);
    let (_member, _member_lines) = spawn_with_lines(&member_args, &[]);
    let (_observer, _observer_lines) = spawn_with_lines(&observer_args, &[]);

    // Both account the simulator's finalized chain and close the reports it covers.
    let done = |s: &serde_json::Value| s["latest_report"].as_u64() >= Some(1);
    let a = wait_status(&member_api, done);
    let b =
        wait_status(&observer_api, |s| s["next_epoch"] == a["next_epoch"] && s["latest_report"] == a["latest_report"]);
    let a = wait_status(&member_api, |s| s["next_epoch"] == b["next_epoch"]);
    assert_eq!(a["latest_report"], b["latest_report"]);
    for path in [
        "/v1/notifications",
        "/v1/running",
        "/v1/reports",
        "/v1/reports/1",
        "/v1/reports/1/log",
        "/v1/operators/0x70997970C51812dc3A010C7d01b50e0d17dc79C8", // alpha, anvil's key 1
    ] {
        let (x, y) = (http_get(&member_api, path), http_get(&observer_api, path));
        assert_eq!(x.0, 200, "{path}: {}", x.1);
        assert!(x == y, "{path} differs between member and observer:\n{}\n{}", x.1, y.1);
    }
    let (_, list) = http_get(&member_api, "/v1/notifications");
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let kinds: Vec<&str> =
        list["notifications"].as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap()).collect();
    // Validators 3-5 offline in the frame; alpha's score below a band; validator 50 slashed in
    // epoch 17 (notified at once, long before its penalty is final); report 1 accepted and
    // claimable.
    for kind in [
        "validator_offline",
        "performance_below_band",
        "slashing",
        "penalty_applied",
        "rewards_claimable",
        "report_accepted",
    ] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    // Bonds held at report 1's reference block: what docs/testnet.md step 3 deposited, ETH
    // into csETH at the stand-in's rate of 1, so csETH and ETH value agree; the same on the
    // observer, which read them at the same block.
    for (operator, bond_wei) in [
        ("0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "8000000000000000000"), // alpha
        ("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "3000000000000000000"), // beta
        ("0x90F79bf6EB2c4f870365E785982E1f101E93b906", "6500000000000000000"), // gamma
        ("0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65", "8000000000000000000"), // delta
    ] {
        let path = format!("/v1/operators/{operator}");
        let (x, y) = (http_get(&member_api, &path), http_get(&observer_api, &path));
        assert!(x == y, "{path} differs between member and observer:\n{}\n{}", x.1, y.1);
        let view: serde_json::Value = serde_json::from_str(&x.1).unwrap();
        assert_eq!(view["bond_wei"].as_str(), Some(bond_wei), "{path}: {}", x.1);
    }
    // The member's committee state is its own (it signs; the observer cannot).
    let (_, metrics) = http_get(&member_api, "/metrics");
    assert!(metrics.contains("claystack_oracle_report_latest "), "{metrics}");
    // The node's readings: the finalized epoch is the simulator's (the devnet holds its chain
    // still); the member counts its p2p peers (a committee of one: none) and the observer,
    // without p2p, shows no such metric; both have an RPC and count its failures.
    let beacon = net.str("beacon_url");
    let beacon = beacon.trim_start_matches("http://").trim_end_matches('/');
    let (_, checkpoints) = http_get(beacon, "/eth/v1/beacon/states/head/finality_checkpoints");
    let checkpoints: serde_json::Value = serde_json::from_str(&checkpoints).unwrap();
    let finalized = checkpoints["data"]["finalized"]["epoch"].as_str().unwrap().to_string();
    let want = format!("claystack_oracle_finalized_epoch{{}} {finalized}\n");
    let sample = |api: &str, name: &str| {
        let (_, text) = http_get(api, "/metrics");
        text.lines().find(|l| l.starts_with(&format!("claystack_oracle_{name}{{}} "))).map(str::to_string)
    };
    for api in [&member_api, &observer_api] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !http_get(api, "/metrics").1.contains(&want) {
            assert!(Instant::now() < deadline, "{api}: no {want:?} in\n{}", http_get(api, "/metrics").1);
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(sample(api, "rpc_errors_total").is_some(), "{api}");
    }
    assert_eq!(sample(&member_api, "p2p_peers").as_deref(), Some("claystack_oracle_p2p_peers{} 0"));
    assert_eq!(sample(&observer_api, "p2p_peers"), None);
    // Both closed their reports since they started, and timed it; only the member counts
    // submissions (the observer sends none).
    for api in [&member_api, &observer_api] {
        assert!(sample(api, "report_close_ms").is_some(), "{api}: {}", http_get(api, "/metrics").1);
    }
    assert!(sample(&member_api, "submissions_total").is_some(), "{}", http_get(&member_api, "/metrics").1);
    assert_eq!(sample(&observer_api, "submissions_total"), None);

    // schemathesis against the served document: no 5xx, every answer in the schema. The event
    // stream is left out: it never ends, by design (its own test is in crates/api).
    let report = dir.path().join("schemathesis");
    let out = Command::new(schemathesis())
        .args(["run", &format!("http://{member_api}/v1/openapi.json")])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection"])
        .args(["--exclude-path", "/v1/notifications/stream"])
        .args(["--max-examples", "40", "--seed", "1", "--workers", "2", "--request-timeout", "10", "--no-color"])
        .arg("--report-dir")
        .arg(&report)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "schemathesis found problems:\n{text}");
    assert!(text.contains("passed"), "{text}");
}
