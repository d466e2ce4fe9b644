//! Load on the operator endpoint, `GET /v1/operators/{address}`, measured with `wrk`
//! (Debian's package) over 127.0.0.1 while the node keeps accounting.
//!
//! A real RocksDB store is filled the way a node fills it: a registry of 2,000 operators
//! (each a direct node of 5 validators and an SSV node in a cluster of 5 operators sharing 8
//! validators: 13,200 validators), epoch tallies committed one by one, and reports closed by
//! the report engine (`claystack_report::build`), four of them before the load starts so
//! every operator has a history. The API is served by `claystack_api::serve` on a tokio
//! runtime with the node's two worker threads. During the load a thread keeps accounting: it
//! commits one epoch a second (every validator's tally) and closes a report at each frame end
//! (four-epoch local frames), so the API rebuilds its view every second — a node catching up,
//! far busier than one following the chain (an epoch each 6.4 minutes). wrk spreads its
//! requests over all the operators with a Lua script and reports requests/s and p50/p90/p99.
//!
//! `cargo bench -p claystack-api --bench api_load` measures (env: `API_LOAD_OPERATORS`, default
//! 2000; `API_LOAD_SECONDS`, 30; `API_LOAD_CONNECTIONS`, 4; `API_LOAD_THREADS`, 1;
//! `API_LOAD_EPOCH_MS`, 1000, the accounting pace, 0 for none). Under
//! `cargo test` it runs without wrk on 20 operators: each one's answer is checked once,
//! while accounting moves on, to prove the set-up still works. Figures: docs/benchmarks.md.

use claystack_accounting::{EpochTally, Tally};
use claystack_api::{serve, ApiConfig, Sources};
use claystack_genesis::Genesis;
use claystack_primitives::ReportKind;
use claystack_report::{build, frame_of, report_bytes, report_hash, ExternalInputs};
use claystack_rewards::RewardsReport;
use claystack_store::{AccountingCursor, Store, StoredReport};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FRAMES: &str = include_str!("../../frame-close/tests/data/frames.json");
/// Reports closed before the load: the notification rules' history.
const REPORTS_BEFORE: u64 = 4;

fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a number")))
}

fn address(operator: u64) -> String {
    format!("0x{operator:040x}")
}

/// Operator `o` (from 1) runs direct node `2o - 1` with validators `5(o-1)..5o`, and SSV node
/// `2o` of the cluster of operators `5k+1..=5k+5` (SSV clusters are 5 nodes), which shares 8
/// validators after the direct ones.
struct Registry {
    json: Value,
    validators: Vec<u64>,
}

impl Registry {
    fn new(operators: u64) -> Registry {
        assert!(operators.is_multiple_of(5), "operators come in SSV clusters of 5");
        let direct = operators * 5;
        let mut ops = Vec::new();
        let mut nodes = Vec::new();
        let mut validators = Vec::new();
        for o in 1..=operators {
            ops.push(json!({"id": o, "address": address(o)}));
            nodes.push(json!({"id": 2 * o - 1, "operator": o, "node_type": "direct", "registered_epoch": 0}));
            nodes.push(json!({"id": 2 * o, "operator": o, "node_type": "ssv", "registered_epoch": 0}));
            for v in 5 * (o - 1)..5 * o {
                validators.push(json!({"index": v, "nodes": [2 * o - 1]}));
            }
        }
        for cluster in 0..operators / 5 {
            let members: Vec<u64> = (1..=5).map(|i| 2 * (5 * cluster + i)).collect();
            for v in direct + 8 * cluster..direct + 8 * (cluster + 1) {
                validators.push(json!({"index": v, "nodes": members}));
            }
        }
        let indices = validators.iter().map(|v| v["index"].as_u64().unwrap()).collect();
        Registry { json: json!({"operators": ops, "nodes": nodes, "validators": validators}), validators: indices }
    }
}

/// Everyone attests, except one validator in 7 that misses one epoch in 3, so the rates,
/// bands and penalties differ between operators.
fn commit(store: &Store, registry: &Registry, epoch: u64) {
    let tallies = registry
        .validators
        .iter()
        .map(|&v| {
            let included = u32::from(!(v.is_multiple_of(7) && (epoch + v).is_multiple_of(3)));
            Tally { validator: v, duties: 1, included, timely: included }
        })
        .collect();
    let cursor = AccountingCursor { next_epoch: epoch + 1, anchor: None, tracked_hash: [0; 32] };
    store.commit_epoch(&EpochTally { epoch, tallies }, &cursor).unwrap();
}

/// Closes report `number` the way frame-close does, from the stored tallies.
fn close(store: &Store, g: &Genesis, registry: &Registry, number: u64) {
    let mut file: Value = serde_json::from_str(FRAMES).unwrap();
    file["registry"] = registry.json.clone();
    file["facts"] = json!({});
    let mut file: ExternalInputs = serde_json::from_value(file).unwrap();
    if number > 1 {
        let previous = store.report(ReportKind::Rewards, number - 1).unwrap().unwrap();
        let previous: RewardsReport = serde_json::from_slice(&previous.report).unwrap();
        file.previous = Some(previous.carry());
    }
    let frame = frame_of(&g.economics, g.first_epoch, number).unwrap();
    let built = build(&g.economics, file, number, frame, store.sum_tallies(frame.0, frame.1).unwrap()).unwrap();
    let bytes = report_bytes(&built.report);
    let stored = StoredReport {
        merkle_root: built.tree.root(),
        report_hash: report_hash(&bytes),
        report: bytes,
        tree: serde_json::to_vec(&built.tree.dump()).unwrap(),
        log: built.log,
    };
    store.put_report(ReportKind::Rewards, number, &stored).unwrap();
}

/// Accounts `epoch`, and closes the report whose frame it ends.
fn account(store: &Store, g: &Genesis, registry: &Registry, epoch: u64) {
    commit(store, registry, epoch);
    let frame = g.economics.frame_epochs;
    if (epoch + 1 - g.first_epoch).is_multiple_of(frame) {
        close(store, g, registry, (epoch + 1 - g.first_epoch) / frame);
    }
}

/// `GET path` over HTTP/1.1; (status, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head.split_whitespace().nth(1).unwrap().parse().unwrap(), body.to_string())
}

/// The wrk script: request `i` asks for operator `i mod n` (each thread from its own offset);
/// `done` prints one JSON line of the figures.
fn wrk_script(operators: u64) -> String {
    let list: Vec<String> = (1..=operators).map(|o| format!("\"{}\"", address(o))).collect();
    format!(
        r#"local operators = {{ {} }}
local threads = 0
function setup(thread)
  thread:set("first", threads * 997)
  threads = threads + 1
end
function init(args)
  i = first or 0
end
function request()
  i = i + 1
  return wrk.format("GET", "/v1/operators/" .. operators[(i % #operators) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{{"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"#,
        list.join(", ")
    )
}

fn main() {
    let measure = measuring();
    let operators = if measure { env_or("API_LOAD_OPERATORS", 2000) } else { 20 };
    let dir = tempfile::tempdir().unwrap();
    let g = claystack_genesis::generate_local(1, 1, [7; 32], 31337).0;
    let registry = Arc::new(Registry::new(operators));
    let store = Arc::new(Store::open(&dir.path().join("store")).unwrap());
    let seeded = Instant::now();
    let first = g.first_epoch;
    let mut next = first;
    while next < first + REPORTS_BEFORE * g.economics.frame_epochs + 2 {
        account(&store, &g, &registry, next);
        next += 1;
    }
    eprintln!(
        "api_load: {operators} operators, {} validators; epochs {first}..{} accounted and {REPORTS_BEFORE} reports closed in {:.1} s",
        registry.validators.len(),
        next - 1,
        seeded.elapsed().as_secs_f64()
    );

    // What one refresh of the API's view costs at this size (it runs at each accounted epoch).
    let mut builder = claystack_api::view::Builder::new(store.clone(), Some(g.clone()), Default::default());
    let marks = builder.marks(0, 0).unwrap();
    let started = Instant::now();
    let view = builder.build(marks).unwrap();
    let first = started.elapsed();
    // A rebuild, as at each accounted epoch: the reports are parsed and the claims computed.
    let started = Instant::now();
    builder.build(marks).unwrap();
    eprintln!(
        "api_load: the view of {} operators and {} notifications built in {:.1} ms, rebuilt in {:.1} ms",
        view.operators.len(),
        view.notifications.len(),
        first.as_secs_f64() * 1000.0,
        started.elapsed().as_secs_f64() * 1000.0
    );

    // The API on the node's runtime: a worker per core.
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let sources = Sources {
        store: store.clone(),
        genesis: Some(g.clone()),
        health: Arc::new(|| None),
        chain: None,
        webhooks: None,
        probe: None,
    };
    let server = rt.spawn(serve(listener, sources, ApiConfig::default(), async move {
        let _ = stopped.await;
    }));
    let expected_next = next;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if std::net::TcpStream::connect(&addr).is_ok() {
            let (code, body) = get(&addr, "/v1/status");
            if code == 200 && serde_json::from_str::<Value>(&body).unwrap()["next_epoch"] == expected_next {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the API never showed the seeded store");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Accounting goes on: an epoch a second (`API_LOAD_EPOCH_MS`; 0: none), a report at each frame end.
    let pace = if measure { env_or("API_LOAD_EPOCH_MS", 1000) } else { 1000 };
    let running = Arc::new(AtomicBool::new(pace > 0));
    let accounted = Arc::new(AtomicU64::new(0));
    let accounting = {
        let (store, registry, g, running, accounted) =
            (store.clone(), registry.clone(), g.clone(), running.clone(), accounted.clone());
        std::thread::spawn(move || {
            let mut epoch = next;
            while running.load(Ordering::Relaxed) {
                let started = Instant::now();
                account(&store, &g, &registry, epoch);
                epoch += 1;
                accounted.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(pace).saturating_sub(started.elapsed()));
            }
        })
    };

    if measure {
        let seconds = env_or("API_LOAD_SECONDS", 30);
        let connections = env_or("API_LOAD_CONNECTIONS", 4);
        let threads = env_or("API_LOAD_THREADS", 1);
        let script = dir.path().join("operators.lua");
        std::fs::write(&script, wrk_script(operators)).unwrap();
        let out = Command::new("wrk")
            .args(["-t", &threads.to_string(), "-c", &connections.to_string(), "-d", &format!("{seconds}s")])
            .arg("-s")
            .arg(&script)
            .arg(format!("http://{addr}"))
            .output()
            .unwrap_or_else(|e| panic!("cannot run wrk ({e}): run scripts/setup.sh (it installs Debian's wrk)"));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
        let line = text.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no figures from wrk: {text}"));
        let f: Value = serde_json::from_str(line).unwrap();
        let n = |k: &str| f[k].as_u64().unwrap();
        let rps = n("requests") as f64 / (n("duration_us") as f64 / 1e6);
        let ms = |k: &str| n(k) as f64 / 1000.0;
        println!(
            "api_load: {operators} operators, {connections} connections, {threads} wrk thread(s), {seconds} s, {} epochs \
             accounted meanwhile: {rps:.0} requests/s, latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
             {} non-2xx, {} socket errors",
            accounted.load(Ordering::Relaxed),
            ms("p50_us"),
            ms("p90_us"),
            ms("p99_us"),
            ms("max_us"),
            n("non_2xx"),
            n("socket_errors"),
        );
        let met = rps >= 5000.0 && ms("p99_us") < 10.0 && n("non_2xx") == 0;
        println!("api_load: goal (>= 5000 requests/s, p99 < 10 ms, no errors) {}", if met { "met" } else { "MISSED" });
    } else {
        // Smoke run: every operator's answer, while accounting moves on.
        for o in 1..=operators {
            let (code, body) = get(&addr, &format!("/v1/operators/{}", address(o)));
            assert_eq!(code, 200, "{body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["address"], address(o));
            assert_eq!(v["history"].as_array().unwrap().len() as u64, REPORTS_BEFORE, "{body}");
            assert!(!v["claim"].is_null(), "{body}");
        }
        std::thread::sleep(Duration::from_millis(1500));
    }
    running.store(false, Ordering::Relaxed);
    accounting.join().unwrap();
    assert!(pace == 0 || accounted.load(Ordering::Relaxed) >= 1, "accounting did not move on during the load");
    let _ = stop.send(());
    rt.block_on(server).unwrap().unwrap();
}
