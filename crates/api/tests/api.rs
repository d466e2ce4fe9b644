//! The API in process, over real HTTP on 127.0.0.1, on a real RocksDB store filled the way a
//! node fills it: epoch tallies committed one by one and reports built by the report engine.
//! Three operators (frame-close's test registry), four-epoch frames (a local genesis).

use claystack_accounting::{EpochTally, Tally};
use claystack_api::{serve, signature, ApiConfig, HealthFn, Sources, WebhookConfig};
use claystack_genesis::Genesis;
use claystack_primitives::{hex, ReportKind};
use claystack_report::{build, frame_of, report_bytes, report_hash, ExternalInputs};
use claystack_rewards::RewardsReport;
use claystack_store::{AccountingCursor, Store, StoredReport};
use serde_json::Value;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

const FRAMES: &str = include_str!("../../frame-close/tests/data/frames.json");
const VALIDATORS: [u64; 10] = [0, 1, 2, 3, 9, 10, 11, 12, 13, 14];

fn genesis() -> Genesis {
    claystack_genesis::generate_local(1, 1, [7; 32], 31337).0
}

/// Commits epoch `epoch`'s tallies: every registry validator attests, but those in `offline`.
fn commit(store: &Store, epoch: u64, offline: &[u64]) {
    let tallies = VALIDATORS
        .iter()
        .map(|&v| {
            let included = u32::from(!offline.contains(&v));
            Tally { validator: v, duties: 1, included, timely: included }
        })
        .collect();
    let cursor = AccountingCursor { next_epoch: epoch + 1, anchor: None, tracked_hash: [0; 32] };
    store.commit_epoch(&EpochTally { epoch, tallies }, &cursor).unwrap();
}

/// Closes report `number` the way frame-close does, from the stored tallies.
fn close(store: &Store, g: &Genesis, number: u64) {
    let mut file: ExternalInputs = serde_json::from_str(FRAMES).unwrap();
    file.facts = Default::default();
    if number > 1 {
        let previous = store.report(ReportKind::Rewards, number - 1).unwrap().unwrap();
        let previous: RewardsReport = serde_json::from_slice(&previous.report).unwrap();
        file.previous = Some(previous.carry());
    }
    let frame = frame_of(&g.economics, g.first_epoch, number).unwrap();
    let built = build(&g.economics, file, number, frame, store.sum_tallies(frame.0, frame.1).unwrap()).unwrap();
    let bytes = report_bytes(&built.report);
    let mut tree = serde_json::to_vec_pretty(&built.tree.dump()).unwrap();
    tree.push(b'\n');
    let stored = StoredReport {
        merkle_root: built.tree.root(),
        report_hash: report_hash(&bytes),
        report: bytes,
        tree,
        log: built.log,
    };
    store.put_report(ReportKind::Rewards, number, &stored).unwrap();
}

/// A store with epochs 0..=9 accounted (validator 3 offline from epoch 7 on) and reports 1
/// and 2 closed: the running frame is report 3's, epochs 8 and 9 of it accounted.
fn filled(dir: &std::path::Path) -> Arc<Store> {
    let g = genesis();
    let store = Arc::new(Store::open(dir).unwrap());
    for epoch in 0..=9 {
        commit(&store, epoch, if epoch >= 7 { &[3] } else { &[] });
        if epoch == 3 || epoch == 7 {
            close(&store, &g, epoch / 4 + 1);
        }
    }
    store
}

struct Api {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(store: Arc<Store>, health: HealthFn) -> Api {
    start_with(store, health, None).await
}

async fn start_with(store: Arc<Store>, health: HealthFn, webhooks: Option<WebhookConfig>) -> Api {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = ApiConfig { refresh: Duration::from_millis(50), max_streams: 2, ..ApiConfig::default() };
    let sources = Sources { store, genesis: Some(genesis()), health, chain: None, webhooks, probe: None };
    let task = tokio::spawn(serve(listener, sources, config, async move {
        let _ = stopped.await;
    }));
    let api = Api { base, stop: Some(stop), task };
    // Wait for the first view.
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(format!("{}/v1/status", api.base)).await {
            let v: Value = r.json().await.unwrap();
            if v["next_epoch"].as_u64().is_some() {
                return api;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the API never showed the store");
}

impl Api {
    async fn get(&self, path: &str) -> (u16, String, String) {
        let r = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
        let status = r.status().as_u16();
        let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        (status, ct, r.text().await.unwrap())
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task).await.expect("the API stops").unwrap().unwrap();
    }
}

fn healthy() -> HealthFn {
    Arc::new(|| None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_operators_running_frame_and_notifications_are_served_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let api = start(store.clone(), healthy()).await;

    let (code, _, body) = api.get("/v1/status").await;
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(code, 200);
    assert_eq!((status["next_epoch"].as_u64(), status["latest_report"].as_u64()), (Some(10), Some(2)));
    assert_eq!(status["running_report"].as_u64(), Some(3));

    // Stored files, byte for byte.
    let stored = store.report(ReportKind::Rewards, 2).unwrap().unwrap();
    for (path, bytes) in [("", &stored.report), ("/tree", &stored.tree), ("/log", &stored.log)] {
        let (code, ct, body) = api.get(&format!("/v1/reports/2{path}")).await;
        assert_eq!((code, ct.as_str()), (200, "application/json"), "{path}");
        assert_eq!(body.as_bytes(), &bytes[..], "{path}");
    }
    let (_, _, body) = api.get("/v1/reports").await;
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["reports"][1]["merkle_root"], hex::encode(&stored.merkle_root));
    assert_eq!(
        (list["reports"][1]["first_epoch"].as_u64(), list["reports"][1]["last_epoch"].as_u64()),
        (Some(4), Some(7))
    );

    // Operator 1 (node 1 runs validators 0..=3): its claim verifies against report 2's root.
    let (code, _, body) = api.get("/v1/operators/0x1111111111111111111111111111111111111111").await;
    assert_eq!(code, 200, "{body}");
    let op: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(op["history"].as_array().unwrap().len(), 2);
    let claim = &op["claim"];
    assert_eq!(claim["merkle_root"], hex::encode(&stored.merkle_root));
    let leaf = claystack_merkle::LeafEncoding::new(&claystack_report::REWARDS_LEAF_ENCODING)
        .unwrap()
        .leaf_hash(&[
            claystack_merkle::Value::Address([0x11; 20]),
            claystack_merkle::Value::uint(claim["cumulative_wei"].as_str().unwrap().parse().unwrap()),
            claystack_merkle::Value::uint(claim["cumulative_bond_penalty_wei"].as_str().unwrap().parse().unwrap()),
            claystack_merkle::Value::uint(claim["bond_requirement_wei"].as_str().unwrap().parse().unwrap()),
        ])
        .unwrap();
    let proof: Vec<[u8; 32]> =
        claim["proof"].as_array().unwrap().iter().map(|h| hex::decode_fixed(h.as_str().unwrap()).unwrap()).collect();
    assert!(claystack_merkle::verify(&stored.merkle_root, &leaf, &proof));
    // In the running frame node 1 has 8 duties and 6 included (validator 3 out): 75%.
    let node1 = op["running"]["nodes"].as_array().unwrap().iter().find(|n| n["id"] == 1).unwrap();
    assert_eq!(
        (node1["duties"].as_u64(), node1["included"].as_u64(), node1["rate_bps"].as_u64()),
        (Some(8), Some(6), Some(7500))
    );

    // Validator 3 is offline since epoch 7 (three epochs); node 1 projected below its band.
    let (_, _, body) =
        api.get("/v1/notifications?operator=0x1111111111111111111111111111111111111111&active=true").await;
    let list: Value = serde_json::from_str(&body).unwrap();
    let kinds: Vec<&str> =
        list["notifications"].as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"validator_offline") && kinds.contains(&"performance_below_band"), "{kinds:?}");
    assert!(kinds.contains(&"rewards_claimable"), "{kinds:?}");
    let offline = list["notifications"].as_array().unwrap().iter().find(|n| n["kind"] == "validator_offline").unwrap();
    assert_eq!((offline["validator"].as_u64(), offline["raised_at"]["epoch"].as_u64()), (Some(3), Some(7)));
    // Another operator does not see operator 1's notifications.
    let (_, _, body) = api.get("/v1/notifications?operator=0x2222222222222222222222222222222222222222").await;
    assert!(!body.contains("validator_offline"), "{body}");

    let (code, ct, body) = api.get("/metrics").await;
    assert_eq!(code, 200);
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    assert!(body.contains("claystack_oracle_accounting_next_epoch 10"), "{body}");
    assert!(body.contains("claystack_oracle_report_latest 2"), "{body}");
    assert!(body.contains("claystack_oracle_notifications_active{kind=\"validator_offline\"} 1"), "{body}");
    let (code, _, body) = api.get("/health").await;
    assert_eq!((code, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (code, _, _) = api.get("/ready").await;
    assert_eq!(code, 200);
    let (code, _, body) = api.get("/v1/openapi.json").await;
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((code, doc["openapi"].as_str()), (200, Some("3.0.3")));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_clear_json_4xx_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let before = (store.accounting_cursor().unwrap(), store.report(ReportKind::Rewards, 2).unwrap());
    let api = start(store.clone(), healthy()).await;
    let long = "a".repeat(5000);
    let cases: Vec<(String, u16, &str)> = vec![
        ("/v1/operators/0x1234".into(), 400, "not an operator address"),
        ("/v1/operators/not-an-address".into(), 400, "0x followed by 40 hex digits"),
        ("/v1/operators/0x9999999999999999999999999999999999999999".into(), 404, "check the address"),
        ("/v1/reports/7".into(), 404, "reports 1 to 2 are"),
        ("/v1/reports/0".into(), 400, "report numbers are decimal integers from 1"),
        ("/v1/reports/-1/tree".into(), 400, "not a report number"),
        ("/v1/reports/99999999999999999999999".into(), 400, "not a report number"),
        ("/v1/notifications?kind=nope".into(), 400, "kind `nope` is unknown"),
        ("/v1/notifications?node=x".into(), 400, "node `x` is not a decimal integer"),
        ("/v1/notifications?active=maybe".into(), 400, "must be true or false"),
        ("/v1/notifications?operator=0x12".into(), 400, "not an operator address"),
        ("/v1/notifications?limit=5".into(), 400, "unknown field `limit`"),
        ("/v1/notifications?node=1&node=2".into(), 400, "bad query"),
        ("/v1/reports?x=1".into(), 400, "bad query"),
        (format!("/v1/notifications?operator={long}"), 414, "longer than 2048 bytes"),
        (format!("/v1/{long}"), 414, "longer than 2048 bytes"),
        ("/v2/anything".into(), 404, "/v1/openapi.json"),
    ];
    for (path, code, needle) in &cases {
        let (got, ct, body) = api.get(path).await;
        assert_eq!(got, *code, "{path}: {body}");
        assert_eq!(ct, "application/json", "{path}");
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: not JSON: {body}"));
        let error = v["error"].as_str().unwrap();
        assert!(error.contains(needle), "{path}: {error}");
        assert!(error.len() < 300, "{path}: the error repeats the hostile input: {error}");
    }
    // Writes are refused: the API is read-only.
    let client = reqwest::Client::new();
    for method in [reqwest::Method::POST, reqwest::Method::PUT, reqwest::Method::DELETE] {
        let r = client.request(method.clone(), format!("{}/v1/reports/2", api.base)).body("{}").send().await.unwrap();
        assert_eq!(r.status().as_u16(), 405, "{method}");
        let v: Value = r.json().await.unwrap();
        assert!(v["error"].as_str().unwrap().contains("read-only"));
    }
    let after = (store.accounting_cursor().unwrap(), store.report(ReportKind::Rewards, 2).unwrap());
    assert_eq!(before, after);
    api.stop().await;
}

/// The operator page is three files from the binary that load nothing from elsewhere; its
/// behaviour in a browser is node/tests/web.rs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_page_is_served_whole_from_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let api = start(filled(dir.path()), healthy()).await;
    let client = reqwest::Client::new();
    for (path, content_type, needle) in [
        ("/", "text/html; charset=utf-8", "<script src=\"/assets/app.js\""),
        ("/?operator=0x2222222222222222222222222222222222222222", "text/html; charset=utf-8", "name=\"viewport\""),
        ("/assets/app.js", "text/javascript; charset=utf-8", "/v1/operators/"),
        ("/assets/app.css", "text/css; charset=utf-8", "@media"),
    ] {
        let r = client.get(format!("{}{path}", api.base)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let header = |name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(header("content-type").as_deref(), Some(content_type), "{path}");
        let policy = header("content-security-policy").unwrap_or_default();
        assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"), "{path}: {policy}");
        let body = r.text().await.unwrap();
        assert!(body.contains(needle), "{path}");
        // Nothing from another origin: the node may have no internet, and a CDN is a third party.
        assert!(!body.contains("http://") && !body.contains("https://") && !body.contains("//cdn"), "{path}");
    }
    let (code, _, body) = api.get("/assets/nope.js").await;
    assert_eq!(code, 404, "{body}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_do_not_hold_up_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let api = start(store, healthy()).await;
    let addr = api.base.trim_start_matches("http://").to_string();
    // Fifty connections that send half a request line and stop, and fifty that send nothing.
    let mut held = Vec::new();
    for i in 0..100 {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        if i % 2 == 0 {
            s.write_all(b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
        }
        held.push(s);
    }
    // Meanwhile every other client is answered.
    for _ in 0..20 {
        let (code, _, _) = tokio::time::timeout(Duration::from_secs(5), api.get("/v1/status")).await.expect("answered");
        assert_eq!(code, 200);
    }
    // A client that sends a huge header is refused, not read for ever.
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let huge = format!("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(1 << 20));
    let _ = s.write_all(huge.as_bytes());
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let head = String::from_utf8_lossy(&answer);
    assert!(head.starts_with("HTTP/1.1 431"), "{head}");
    drop(held);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_sends_each_new_notification_and_ends_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let api = start(store.clone(), healthy()).await;
    let mut stream = reqwest::get(format!(
        "{}/v1/notifications/stream?operator=0x3333333333333333333333333333333333333333",
        api.base
    ))
    .await
    .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    // Two streams are the limit here: a third is refused with a 503, not queued.
    let second = reqwest::get(format!("{}/v1/notifications/stream", api.base)).await.unwrap();
    let third = reqwest::get(format!("{}/v1/notifications/stream", api.base)).await.unwrap();
    assert_eq!(third.status().as_u16(), 503);
    drop(second);
    // Validator 12 (the SSV cluster, nodes of operators 2 and 3) goes offline for three epochs.
    for epoch in 10..=12 {
        commit(&store, epoch, &[3, 12]);
    }
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !text.contains("\"validator\":12") {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk()).await.expect("an event in time").unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk.expect("the stream stays open")));
    }
    assert!(text.contains("event: notification") && text.contains("validator_offline"), "{text}");
    assert!(text.contains("0x3333333333333333333333333333333333333333"));
    assert!(!text.contains("0x2222222222222222222222222222222222222222"), "filtered by operator: {text}");
    // Shutdown ends the open stream, and the server stops.
    api.stop().await;
    let end =
        tokio::time::timeout(Duration::from_secs(5), async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    assert!(end.is_ok(), "the stream ended at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_the_same_data_serve_the_same_bytes_and_health_shows_degraded() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let api_a = start(filled(a.path()), healthy()).await;
    let degraded: HealthFn = Arc::new(|| Some("accounting: beacon node unreachable".into()));
    let api_b = start(filled(b.path()), degraded).await;
    for path in
        ["/v1/notifications", "/v1/running", "/v1/operators/0x3333333333333333333333333333333333333333", "/v1/reports"]
    {
        let (x, y) = (api_a.get(path).await, api_b.get(path).await);
        assert_eq!(x.0, 200, "{path}");
        assert!(x == y, "{path} differs between the two nodes");
    }
    let (code, _, body) = api_b.get("/health").await;
    assert_eq!(code, 200);
    assert!(body.contains("degraded") && body.contains("beacon node unreachable"), "{body}");
    let (code, _, body) = api_b.get("/ready").await;
    assert_eq!(code, 503, "{body}");
    let (_, _, metrics) = api_b.get("/metrics").await;
    assert!(metrics.contains("claystack_oracle_degraded 1"), "{metrics}");
    api_a.stop().await;
    api_b.stop().await;
}

/// A webhook receiver on 127.0.0.1 that refuses its first `fail` requests with a 500 and
/// keeps the notification id of each request it accepts whose signature checks.
#[derive(Clone, Default)]
struct Receiver {
    accepted: Arc<std::sync::Mutex<Vec<String>>>,
    refused: Arc<std::sync::atomic::AtomicUsize>,
    bad_signatures: Arc<std::sync::atomic::AtomicUsize>,
    fail: usize,
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Receiver>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    use std::sync::atomic::Ordering;
    if r.refused.load(Ordering::SeqCst) < r.fail {
        r.refused.fetch_add(1, Ordering::SeqCst);
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
    }
    let sig = headers.get("x-claystack-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if sig != signature(SECRET, &body) {
        r.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return axum::http::StatusCode::UNAUTHORIZED;
    }
    let n: Value = serde_json::from_slice(&body).unwrap();
    let id = headers.get("x-claystack-notification-id").unwrap().to_str().unwrap().to_string();
    assert_eq!(n["id"], id.as_str());
    r.accepted.lock().unwrap().push(id);
    axum::http::StatusCode::OK
}

const SECRET: &[u8] = b"webhook secret of the test";

/// The ids of the API's current notification list.
async fn ids(api: &Api) -> Vec<String> {
    let (_, _, body) = api.get("/v1/notifications").await;
    let v: Value = serde_json::from_str(&body).unwrap();
    v["notifications"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_string()).collect()
}

/// Waits until the receiver accepted every id of `want`.
async fn until_received(r: &Receiver, want: &[String]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = r.accepted.lock().unwrap().clone();
        if want.iter().all(|id| got.contains(id)) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "not delivered: {} of {} in {got:?}", want.len(), got.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_deliver_each_notification_once_signed_through_failures_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let receiver = Receiver { fail: 3, ..Receiver::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(receiver.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let config = WebhookConfig {
        urls: vec![url],
        secret: SECRET.to_vec(),
        dir: state.path().to_path_buf(),
        backoff: Duration::from_millis(20),
    };

    // The receiver refuses the first three posts: they are retried until accepted.
    let api = start_with(store.clone(), healthy(), Some(config.clone())).await;
    let first = ids(&api).await;
    assert!(!first.is_empty());
    until_received(&receiver, &first).await;
    assert_eq!(receiver.refused.load(std::sync::atomic::Ordering::SeqCst), 3);
    api.stop().await;

    // While the node is down, validator 12 goes offline; after the restart the new
    // notifications arrive and none of the old ones comes again.
    for epoch in 10..=12 {
        commit(&store, epoch, &[3, 12]);
    }
    let api = start_with(store.clone(), healthy(), Some(config)).await;
    let second = ids(&api).await;
    assert!(second.iter().any(|id| !first.contains(id)), "the restart raised new notifications");
    until_received(&receiver, &second).await;
    api.stop().await;
    let got = receiver.accepted.lock().unwrap().clone();
    let unique: std::collections::BTreeSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "an id was delivered twice: {got:?}");
    assert_eq!(receiver.bad_signatures.load(std::sync::atomic::Ordering::SeqCst), 0);
    server.abort();
}

/// The bonds stored beside the latest report (read at its reference block) are each
/// operator's `bond_wei`, and one below the report's requirement raises
/// `bond_below_requirement` with the shortfall; an operator without a stored bond shows null.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bonds_stored_with_the_latest_report_are_served_and_checked_against_its_requirement() {
    use claystack_report::BondHeld;
    use claystack_rewards::Address;
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let stored = store.report(ReportKind::Rewards, 2).unwrap().unwrap();
    let report: RewardsReport = serde_json::from_slice(&stored.report).unwrap();
    let requirement =
        |a: u8| report.operators.iter().find(|o| o.address == Address([a; 20])).unwrap().bond_requirement_wei;
    let (need1, need2) = (requirement(0x11), requirement(0x22));
    assert!(need1 > 1_000 && need2 > 0, "the test registry's operators have requirements");
    let bond = |a: u8, wei: u128| BondHeld { operator: Address([a; 20]), cs_eth: wei / 2, wei };
    // Report 1's bonds say otherwise: only the latest report's count.
    store.put_report_bonds(ReportKind::Rewards, 1, &BondHeld::list_bytes(&[bond(0x11, need1 * 3)])).unwrap();
    let latest = [bond(0x22, need2), bond(0x11, need1 - 1_000)];
    store.put_report_bonds(ReportKind::Rewards, 2, &BondHeld::list_bytes(&latest)).unwrap();
    let api = start(store.clone(), healthy()).await;

    let op = |a: u8| format!("/v1/operators/{}", hex::encode(&[a; 20]));
    let bond_of = |body: String| serde_json::from_str::<Value>(&body).unwrap()["bond_wei"].clone();
    assert_eq!(bond_of(api.get(&op(0x11)).await.2), Value::String((need1 - 1_000).to_string()));
    assert_eq!(bond_of(api.get(&op(0x22)).await.2), Value::String(need2.to_string()));
    assert_eq!(bond_of(api.get(&op(0x33)).await.2), Value::Null, "no bond stored for operator 3");

    let (_, _, body) = api.get("/v1/notifications?kind=bond_below_requirement").await;
    let list: Value = serde_json::from_str(&body).unwrap();
    let raised: Vec<(String, String, u64)> = list["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["operator"].as_str().unwrap().to_string(),
                n["amount_wei"].as_str().unwrap().to_string(),
                n["raised_at"]["report"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(raised, vec![(hex::encode(&[0x11; 20]), "1000".to_string(), 2)], "only operator 1 is short, by 1000");
    let (_, _, metrics) = api.get("/metrics").await;
    assert!(metrics.contains("claystack_oracle_notifications_active{kind=\"bond_below_requirement\"} 1"), "{metrics}");
    api.stop().await;
}
