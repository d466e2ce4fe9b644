//! The operator web page (`/`) in a real browser: a `claystack-oracle run` process (the
//! one-member committee of `api.rs`, on the devnet's chains with two frames) closes reports 1
//! and 2, gets them accepted on chain and serves the page; `tools/js/operator-page.mjs` drives Debian's Chromium through playwright-core — a
//! malformed address, an unknown one, then an operator, at desktop and at phone width — and
//! prints what the page shows. That is compared here with the API's own JSON, so a page that
//! shows a wrong, missing or stale value fails.
//!
//! The screenshots (a desktop's screen, and a phone's beside it as `<name>-phone.png`) go to
//! the test's temp dir, or to `CLAYSTACK_SCREENSHOT` (relative to the repository root):
//! `CLAYSTACK_SCREENSHOT=docs/operators-page.png cargo test --workspace --test main -- web::`
//! regenerates the ones docs/operators.md shows.

use crate::support::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

fn get_json(addr: &str, path: &str) -> Value {
    let (code, body) = http_get(addr, path);
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Waits until `/v1/status` has closed report 2 and stopped moving (the simulator's chain
/// ends at its head epoch), so the page and the API are read on the same data.
fn wait_settled(addr: &str, node: &Node) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            let (code, body) = http_get(addr, "/v1/status");
            if code == 200 {
                let now: Value = serde_json::from_str(&body).unwrap();
                if now["latest_report"].as_u64() >= Some(2) && now == last {
                    return now;
                }
                last = now;
            }
        }
        std::thread::sleep(Duration::from_millis(1500));
    }
    let log: Vec<String> = node.lines.try_iter().collect();
    panic!("the API at {addr} never settled with report 2 closed; last status {last}; node log:\n{}", log.join("\n"));
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `wei` as the page writes it: ETH cut to 6 decimals.
fn eth(wei: &str) -> String {
    let v: u128 = wei.parse().unwrap();
    let e = 10u128.pow(18);
    format!("{}.{:06} ETH", v / e, (v % e) / 10u128.pow(12))
}

/// A running node with its log lines (kept: a dropped reader would close the node's stderr).
struct Node {
    _process: ChildProcess,
    _net: HeldDevnet,
    lines: std::sync::mpsc::Receiver<String>,
}

/// Starts the one-member committee with the API on the devnet's chains; returns it and the
/// API's address.
fn start_node(dir: &Path) -> (Node, String) {
    let net = HeldDevnet::start(dir, 1, 2);
    let api = format!("127.0.0.1:{}", free_port());
    let mut args = net.run_args(0);
    args.extend(["--api-listen".into(), api.clone()]);
    let (process, lines) = spawn_with_lines(&args, &[]);
    (Node { _process: process, _net: net, lines }, api)
}

#[test]
fn the_operator_page_shows_what_the_api_says_on_a_desktop_and_a_phone() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)"
    );
    let js = repo_root().join("tools/js");
    assert!(
        js.join("node_modules/playwright-core").exists(),
        "playwright-core is missing from tools/js/node_modules: run scripts/setup.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    let (node, api) = start_node(dir.path());
    let status = wait_settled(&api, &node);

    // The operator with a claim and the most notifications, so every section has content.
    let all = get_json(&api, "/v1/notifications");
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for n in all["notifications"].as_array().unwrap() {
        if let Some(o) = n["operator"].as_str() {
            *counts.entry(o.to_string()).or_default() += 1;
        }
    }
    let operator = counts
        .iter()
        .filter(|(o, _)| !get_json(&api, &format!("/v1/operators/{o}"))["claim"].is_null())
        .max_by_key(|(_, n)| **n)
        .map(|(o, _)| o.clone())
        .expect("an operator with notifications and a claim");
    let view = get_json(&api, &format!("/v1/operators/{operator}"));
    let list = get_json(&api, &format!("/v1/notifications?operator={operator}"));

    let shot = match std::env::var_os("CLAYSTACK_SCREENSHOT") {
        Some(p) => repo_root().join(p),
        None => dir.path().join("operators-page.png"),
    };
    let phone_shot = shot.with_file_name(format!("{}-phone.png", shot.file_stem().unwrap().to_string_lossy()));
    // The page is typed in mixed case, as people paste addresses.
    let typed = format!("0x{}", operator[2..].to_uppercase());
    let out = Command::new("node")
        .arg(js.join("operator-page.mjs"))
        .arg(format!("http://{api}"))
        .arg(&typed)
        .arg(&shot)
        .arg(&phone_shot)
        .current_dir(&js)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): run scripts/setup.sh"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "operator-page.mjs failed:\n{stderr}");
    let page: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(page["errors"], serde_json::json!([]), "the page logged errors");
    // The data did not move while the browser read it.
    assert_eq!(get_json(&api, "/v1/status"), status, "the node moved on during the test");
    assert_eq!(get_json(&api, &format!("/v1/operators/{operator}")), view);

    // A malformed address: one clear line, no data; an unknown one: the API's 404 line.
    let malformed = page["malformed"].as_str().unwrap();
    assert!(malformed.contains("is not an operator address") && malformed.contains("40 hex digits"), "{malformed}");
    let zero = format!("0x{}", "0".repeat(40));
    let (code, body) = http_get(&api, &format!("/v1/operators/{zero}"));
    assert_eq!(code, 404, "{body}");
    assert_eq!(page["unknown"].as_str(), serde_json::from_str::<Value>(&body).unwrap()["error"].as_str());

    for width in ["desktop", "phone"] {
        let p = &page[width];
        assert_eq!(p["url"], format!("/?operator={typed}"), "{width}: the deep link");
        assert_eq!(p["address"], view["address"], "{width}");
        assert_eq!(p["score_bps"], view["latest"]["score"]["score_bps"], "{width}");
        assert_eq!(p["running_score_bps"], view["running"]["score"]["score_bps"], "{width}");
        // The bond held at the latest report's reference block, in ETH and wei, flagged when
        // below the requirement.
        let bond = view["bond_wei"].as_str().expect("the devnet's bonds are read");
        let requirement: u128 = view["latest"]["bond_requirement_wei"].as_str().unwrap().parse().unwrap();
        let low = if bond.parse::<u128>().unwrap() < requirement { " below the requirement" } else { "" };
        assert_eq!(p["bond"], format!("{}{bond} wei{low}", eth(bond)), "{width}");
        assert_eq!(p["bond_requirement_wei"], view["latest"]["bond_requirement_wei"], "{width}");

        let claim = &view["claim"];
        assert_eq!(p["claim"]["claimable_wei"], claim["cumulative_wei"], "{width}");
        assert_eq!(p["claim"]["claimable_eth"], eth(claim["cumulative_wei"].as_str().unwrap()), "{width}");
        assert_eq!(p["claim"]["root"], claim["merkle_root"], "{width}");
        assert_eq!(p["claim"]["proof"], claim["proof"], "{width}");

        let active = list["notifications"].as_array().unwrap().iter().filter(|n| n["resolved_at"].is_null()).count();
        assert!(p["active"].as_str().unwrap().starts_with(&format!("{active} active")), "{width}: {}", p["active"]);
        let mut shown: Vec<&str> = p["notifications"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
        let mut want: Vec<&str> =
            list["notifications"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
        assert!(!want.is_empty());
        shown.sort_unstable();
        want.sort_unstable();
        assert_eq!(shown, want, "{width}: notifications");

        let nodes: Vec<Value> = view["running"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let penalties: u128 =
                    n["penalties"].as_array().unwrap().iter().map(|x| x["amount_wei"].as_str().unwrap().parse::<u128>().unwrap()).sum();
                serde_json::json!({"id": n["id"], "rate_bps": n["rate_bps"], "penalties_wei": penalties.to_string(), "reward_wei": n["reward_wei"]})
            })
            .collect();
        assert!(!nodes.is_empty());
        assert_eq!(p["nodes"], Value::Array(nodes), "{width}: nodes of the running frame");

        let history: Vec<Value> = view["history"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .map(|h| serde_json::json!({"report": h["report"], "cumulative_wei": h["cumulative_wei"], "score_bps": h["score_bps"]}))
            .collect();
        assert!(history.len() >= 2);
        assert_eq!(p["history"], Value::Array(history), "{width}: report history");
        assert!(p["status"].as_str().unwrap().contains(&format!("latest report {}", status["latest_report"])), "{p}");
    }

    // The copy button copies the proof, as JSON; the toggle shows amounts in wei.
    assert_eq!(
        page["clipboard"].as_str().map(|c| serde_json::from_str::<Value>(c).unwrap()),
        Some(view["claim"]["proof"].clone())
    );
    let requirement = view["latest"]["bond_requirement_wei"].as_str().unwrap();
    assert_eq!(page["wei_toggle"], serde_json::json!([eth(requirement), format!("{requirement} wei")]));

    // At 390 px nothing sticks out sideways (tables scroll inside their section).
    let layout = &page["phone_layout"];
    assert_eq!(layout["viewport"], 390, "{layout}");
    assert!(layout["page_width"].as_u64().unwrap() <= 390, "the page is wider than the phone: {layout}");
    assert_eq!(layout["overflowing"], serde_json::json!([]), "{layout}");

    for file in [&shot, &phone_shot] {
        let png = std::fs::read(file).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "no screenshot at {}", file.display());
    }
}
