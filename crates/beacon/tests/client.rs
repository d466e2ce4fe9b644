//! Retries, backoff, failover and error text against tiny in-test HTTP servers.

use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use claystack_beacon::{BeaconClient, BeaconError, ClientConfig, DecodeError};
use claystack_primitives::BeaconSpec;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[derive(Debug, Clone)]
struct Hit {
    at: Instant,
    method: Method,
    uri: String,
    body: String,
}

type Handler = dyn Fn(&Hit, usize) -> Response + Send + Sync;

/// A server that answers hit number `n` (0-based) with `handler(hit, n)` and records every hit.
struct Server {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Server {
    async fn start(handler: impl Fn(&Hit, usize) -> Response + Send + Sync + 'static) -> Server {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (h2, hits2) = (handler.clone(), hits.clone());
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
            let (handler, hits) = (h2.clone(), hits2.clone());
            async move {
                let hit = Hit {
                    at: Instant::now(),
                    method,
                    uri: uri.to_string(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                let n = {
                    let mut hits = hits.lock().unwrap();
                    hits.push(hit.clone());
                    hits.len() - 1
                };
                handler(&hit, n)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { url, hits }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.hits.lock().unwrap().len()
    }
}

fn json(body: impl Into<String>) -> Response {
    ([("content-type", "application/json")], body.into()).into_response()
}

fn status(code: u16, message: &str) -> Response {
    let s = StatusCode::from_u16(code).unwrap();
    (s, [("content-type", "application/json")], format!(r#"{{"code":{code},"message":"{message}"}}"#)).into_response()
}

/// A URL nothing listens on.
fn closed_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    url
}

fn cfg(retries: u32, backoff_ms: u64) -> ClientConfig {
    ClientConfig { timeout: Duration::from_secs(5), retries, backoff: Duration::from_millis(backoff_ms) }
}

fn client(urls: &[&str], cfg: ClientConfig) -> BeaconClient {
    BeaconClient::new(&urls.iter().map(|s| s.to_string()).collect::<Vec<_>>(), cfg).unwrap()
}

#[tokio::test]
async fn retries_with_doubling_backoff_then_succeeds() {
    let s =
        Server::start(|_, n| if n < 2 { status(500, "Internal error") } else { json(fixture("genesis.json")) }).await;
    let c = client(&[&s.url], cfg(3, 60));
    let g = c.genesis().await.unwrap();
    assert_eq!(g.genesis_time, 1606824023);
    let hits = s.hits();
    assert_eq!(hits.len(), 3);
    assert!(hits.iter().all(|h| h.method == Method::GET && h.uri == "/eth/v1/beacon/genesis"));
    let gap1 = hits[1].at - hits[0].at;
    let gap2 = hits[2].at - hits[1].at;
    assert!(gap1 >= Duration::from_millis(60), "first backoff {gap1:?}");
    assert!(gap2 >= Duration::from_millis(120), "second backoff {gap2:?} should double");
    assert!(gap2 < Duration::from_millis(1000), "second backoff {gap2:?}");
}

#[tokio::test]
async fn gives_up_after_retries_with_the_nodes_message() {
    let s = Server::start(|_, _| status(500, "Internal error: database locked")).await;
    let c = client(&[&s.url], cfg(3, 1));
    let e = c.genesis().await.unwrap_err();
    assert_eq!(s.count(), 3);
    assert!(matches!(e, BeaconError::Exhausted { endpoints: 1, attempts: 3, .. }), "{e:?}");
    assert_eq!(e.status(), Some(500));
    assert_eq!(
        e.to_string(),
        format!(
            "beacon node {} answered /eth/v1/beacon/genesis with HTTP 500: Internal error: database locked \
             — the node failed; check its logs (gave up after 3 attempts on 1 endpoint)",
            s.url
        )
    );
}

#[tokio::test]
async fn zero_retries_still_tries_once() {
    let s = Server::start(|_, _| status(503, "syncing")).await;
    let e = client(&[&s.url], cfg(0, 1)).genesis().await.unwrap_err();
    assert_eq!(s.count(), 1);
    assert!(e.to_string().contains("HTTP 503: syncing — the node is syncing"), "{e}");
}

#[tokio::test]
async fn garbage_is_retried_and_then_reported() {
    let s = Server::start(|_, n| if n == 0 { json("<html>bad gateway") } else { json(fixture("genesis.json")) }).await;
    assert!(client(&[&s.url], cfg(3, 1)).genesis().await.is_ok());
    assert_eq!(s.count(), 2);

    let s = Server::start(|_, _| json(r#"{"data":{"genesis_time":"1"}}"#)).await;
    let e = client(&[&s.url], cfg(2, 1)).genesis().await.unwrap_err();
    assert_eq!(s.count(), 2);
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "beacon node {} answered /eth/v1/beacon/genesis with malformed JSON: missing field `genesis_validators_root` at line 1 column",
            s.url
        )),
        "{text}"
    );
    assert!(text.contains("— is this a Beacon API endpoint? (gave up after 2 attempts on 1 endpoint)"), "{text}");
    assert!(matches!(e.decode_error(), Some(DecodeError::Json(_))));
}

#[tokio::test]
async fn a_slow_node_times_out() {
    let slow = SlowServer::start(Duration::from_secs(3)).await;
    let c = BeaconClient::new(
        std::slice::from_ref(&slow.url),
        ClientConfig { timeout: Duration::from_millis(200), retries: 2, backoff: Duration::from_millis(10) },
    )
    .unwrap();
    let t = Instant::now();
    let e = c.genesis().await.unwrap_err();
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(400) && took < Duration::from_millis(2000), "took {took:?}");
    assert_eq!(*slow.hits.lock().unwrap(), 2);
    assert!(matches!(e.last(), BeaconError::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("did not answer /eth/v1/beacon/genesis within 200ms"), "{e}");
}

/// Answers every request after `delay`.
struct SlowServer {
    url: String,
    hits: Arc<Mutex<usize>>,
}

impl SlowServer {
    async fn start(delay: Duration) -> SlowServer {
        let hits = Arc::new(Mutex::new(0));
        let h = hits.clone();
        let app = axum::Router::new().fallback(move || {
            let h = h.clone();
            async move {
                *h.lock().unwrap() += 1;
                tokio::time::sleep(delay).await;
                json(fixture("genesis.json"))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        SlowServer { url, hits }
    }
}

#[tokio::test]
async fn closed_port_is_unreachable_and_fails_over() {
    let dead = closed_url();
    let e = client(&[&dead], cfg(2, 1)).genesis().await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e.last(), BeaconError::Unreachable { .. }), "{e:?}");
    assert!(text.starts_with(&format!("beacon node {dead} unreachable for /eth/v1/beacon/genesis: ")), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(
        text.contains("— check its URL and that the node is running (gave up after 2 attempts on 1 endpoint)"),
        "{text}"
    );

    let good = Server::start(|_, _| json(fixture("genesis.json"))).await;
    let c = client(&[&dead, &good.url], cfg(2, 1));
    assert!(c.genesis().await.is_ok());
    assert_eq!(good.count(), 1);
}

#[tokio::test]
async fn fails_over_and_then_prefers_the_endpoint_that_worked() {
    let bad = Server::start(|_, _| status(502, "bad gateway")).await;
    let good = Server::start(|_, _| json(fixture("node_version.json"))).await;
    let c = client(&[&bad.url, &good.url], cfg(3, 1));
    assert_eq!(c.node_version().await.unwrap(), "Lighthouse/v5.3.0-d6ba8c3/x86_64-linux");
    assert_eq!((bad.count(), good.count()), (3, 1));
    // Clones share the preference.
    assert!(c.clone().node_version().await.is_ok());
    assert_eq!((bad.count(), good.count()), (3, 2));
}

#[tokio::test]
async fn all_endpoints_failing_names_the_last_and_counts_them() {
    let a = Server::start(|_, _| status(500, "first")).await;
    let b = Server::start(|_, _| status(503, "second")).await;
    let e = client(&[&a.url, &b.url], cfg(2, 1)).genesis().await.unwrap_err();
    assert_eq!((a.count(), b.count()), (2, 2));
    assert!(matches!(e, BeaconError::Exhausted { endpoints: 2, attempts: 4, .. }));
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("beacon node {} answered", b.url)) && text.contains("HTTP 503: second"),
        "{text}"
    );
    assert!(text.ends_with("(gave up after 4 attempts on 2 endpoints)"), "{text}");
}

#[tokio::test]
async fn bad_request_is_final() {
    let a = Server::start(|_, _| status(400, "Invalid epoch: 99999999")).await;
    let b = Server::start(|_, _| json(fixture("duties.json"))).await;
    let e = client(&[&a.url, &b.url], cfg(3, 1)).attester_duties(99999999, &[1]).await.unwrap_err();
    assert_eq!((a.count(), b.count()), (1, 0));
    assert!(matches!(e, BeaconError::Status { status: 400, .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "beacon node {} answered /eth/v1/validator/duties/attester/99999999 with HTTP 400: Invalid epoch: 99999999 \
             — the node rejected the request; this is a bug in the oracle or the node, please report it",
            a.url
        )
    );
}

#[tokio::test]
async fn rate_limit_is_retried() {
    let s = Server::start(|_, n| if n == 0 { status(429, "slow down") } else { json(fixture("genesis.json")) }).await;
    assert!(client(&[&s.url], cfg(3, 1)).genesis().await.is_ok());
    assert_eq!(s.count(), 2);
}

#[tokio::test]
async fn empty_slot_is_none_without_retry() {
    let s = Server::start(|_, _| status(404, "NOT_FOUND: beacon block at slot 5")).await;
    let other = Server::start(|_, _| json(fixture("header.json"))).await;
    let c = client(&[&s.url, &other.url], cfg(3, 1)).with_spec(BeaconSpec::mainnet());
    assert_eq!(c.block(5).await.unwrap(), None);
    assert_eq!(c.header("5").await.unwrap(), None);
    assert_eq!(s.count(), 2);
    assert_eq!(other.count(), 0);
    let uris: Vec<String> = s.hits().into_iter().map(|h| h.uri).collect();
    assert_eq!(uris, ["/eth/v2/beacon/blocks/5", "/eth/v1/beacon/headers/5"]);
}

#[tokio::test]
async fn missing_state_fails_over_at_once() {
    let pruned = Server::start(|_, _| status(404, "NOT_FOUND: beacon state")).await;
    let archive = Server::start(|_, _| json(fixture("finality_checkpoints.json"))).await;
    let c = client(&[&pruned.url, &archive.url], cfg(3, 1));
    let f = c.finality_checkpoints("finalized").await.unwrap();
    assert_eq!(f.finalized.epoch, 364100);
    assert_eq!((pruned.count(), archive.count()), (1, 1));
    assert_eq!(archive.hits()[0].uri, "/eth/v1/beacon/states/finalized/finality_checkpoints");
}

#[tokio::test]
async fn blocks_use_the_spec_fetched_once() {
    let s = Server::start(|hit, _| match hit.uri.as_str() {
        "/eth/v1/config/spec" => json(fixture("spec.json")),
        "/eth/v2/beacon/blocks/11651233" => json(fixture("block_electra.json")),
        _ => status(404, "NOT_FOUND"),
    })
    .await;
    let c = client(&[&s.url], cfg(3, 1));
    let b = c.block(11651233).await.unwrap().unwrap();
    assert_eq!(b.attestations[0].committee_bits.as_ref().unwrap().len(), 64);
    assert!(c.block(11651233).await.unwrap().is_some());
    let spec_hits = s.hits().iter().filter(|h| h.uri == "/eth/v1/config/spec").count();
    assert_eq!((spec_hits, s.count()), (1, 3));

    // A pinned spec is used as is: 4 committees a slot cannot read mainnet committee_bits.
    let c = client(&[&s.url], cfg(1, 1)).with_spec(BeaconSpec::minimal());
    let e = c.block(11651233).await.unwrap_err();
    assert!(matches!(e.decode_error(), Some(DecodeError::Bits { .. })), "{e}");
    assert!(
        e.to_string()
            .contains("answered /eth/v2/beacon/blocks/11651233 with invalid data: attestations[0].committee_bits"),
        "{e}"
    );
}

#[tokio::test]
async fn block_of_another_slot_is_refused() {
    let s = Server::start(|_, _| json(fixture("block_electra.json"))).await;
    let e = client(&[&s.url], cfg(2, 1)).with_spec(BeaconSpec::mainnet()).block(7).await.unwrap_err();
    assert_eq!(s.count(), 2);
    assert!(e.to_string().contains("asked for the block at slot 7, got slot 11651233"), "{e}");
}

#[tokio::test]
async fn pre_merge_block_is_unsupported_and_not_retried() {
    let body = fixture("block_deneb.json").replace(r#""version": "deneb""#, r#""version": "altair""#);
    let s = Server::start(move |_, _| json(body.clone())).await;
    let b = Server::start(|_, _| json(fixture("block_deneb.json"))).await;
    let e = client(&[&s.url, &b.url], cfg(3, 1)).with_spec(BeaconSpec::mainnet()).block(9000000).await.unwrap_err();
    assert_eq!((s.count(), b.count()), (1, 0));
    assert!(matches!(e, BeaconError::Unsupported { .. }), "{e:?}");
    assert!(e.to_string().contains("block of fork `altair`, which carries no execution payload"), "{e}");
}

#[tokio::test]
async fn fork_from_response_header() {
    let body = fixture("block_deneb.json").replace(r#""version": "deneb","#, "");
    let s = Server::start(move |_, _| ([("eth-consensus-version", "deneb")], json(body.clone())).into_response()).await;
    let b = client(&[&s.url], cfg(1, 1)).with_spec(BeaconSpec::mainnet()).block(9000000).await.unwrap().unwrap();
    assert_eq!(b.fork, "deneb");
}

#[tokio::test]
async fn validators_fall_back_from_post_to_get() {
    let s = Server::start(|hit, _| {
        if hit.method == Method::POST {
            status(405, "Method Not Allowed")
        } else {
            json(fixture("validators.json"))
        }
    })
    .await;
    let c = client(&[&s.url], cfg(3, 1));
    let v = c.validators("head", &[1, 2]).await.unwrap();
    assert_eq!(v.len(), 2);
    assert!(c.validators("finalized", &[1, 2]).await.is_ok());
    let hits: Vec<(Method, String)> = s.hits().into_iter().map(|h| (h.method, h.uri)).collect();
    assert_eq!(
        hits,
        [
            (Method::POST, "/eth/v1/beacon/states/head/validators".to_string()),
            (Method::GET, "/eth/v1/beacon/states/head/validators?id=1,2".to_string()),
            (Method::GET, "/eth/v1/beacon/states/finalized/validators?id=1,2".to_string()),
        ]
    );
    assert_eq!(s.hits()[0].body, r#"{"ids":["1","2"]}"#);
    // Nothing asked for, nothing fetched.
    assert!(c.validators("head", &[]).await.unwrap().is_empty());
    assert_eq!(s.count(), 3);
}

#[tokio::test]
async fn validators_post_when_supported() {
    let s = Server::start(|_, _| json(fixture("validators.json"))).await;
    let c = client(&[&s.url], cfg(3, 1));
    let state_root = format!("0x{}", "ab".repeat(32));
    assert_eq!(c.validators(&state_root, &[7]).await.unwrap().len(), 2);
    let h = &s.hits()[0];
    assert_eq!((h.method.clone(), h.body.as_str()), (Method::POST, r#"{"ids":["7"]}"#));
    let e = c.validators("head/../x", &[7]).await.unwrap_err();
    assert!(matches!(e, BeaconError::InvalidId { .. }));
    assert_eq!(s.count(), 1);
}

#[tokio::test]
async fn duties_are_chunked_in_order() {
    let s = Server::start(|_, _| json(fixture("duties.json"))).await;
    let c = client(&[&s.url], cfg(3, 1));
    let ids: Vec<u64> = (0..10_001).collect();
    let d = c.attester_duties(364101, &ids).await.unwrap();
    assert_eq!(d.duties.len(), 4);
    let hits = s.hits();
    assert_eq!(hits.len(), 2);
    let first: Vec<String> = serde_json::from_str(&hits[0].body).unwrap();
    let second: Vec<String> = serde_json::from_str(&hits[1].body).unwrap();
    assert_eq!((first.len(), first[0].as_str(), first[9999].as_str()), (10_000, "0", "9999"));
    assert_eq!(second, ["10000"]);
    assert!(hits.iter().all(|h| h.method == Method::POST && h.uri == "/eth/v1/validator/duties/attester/364101"));
}

#[tokio::test]
async fn duties_dependent_root_change_is_reported() {
    let s = Server::start(|_, n| {
        let body = fixture("duties.json");
        if n == 0 {
            json(body)
        } else {
            let dep = body.split(r#""dependent_root": ""#).nth(1).unwrap().split('"').next().unwrap().to_string();
            json(body.replace(&dep, &format!("0x{}", "11".repeat(32))))
        }
    })
    .await;
    let ids: Vec<u64> = (0..10_001).collect();
    let e = client(&[&s.url], cfg(3, 1)).attester_duties(5, &ids).await.unwrap_err();
    assert!(matches!(e, BeaconError::DependentRootChanged { epoch: 5, .. }), "{e:?}");
}

#[tokio::test]
async fn committees_query() {
    let s = Server::start(|_, _| json(fixture("committees.json"))).await;
    let c = client(&[&s.url], cfg(3, 1));
    assert_eq!(c.committees("head", 364101, None).await.unwrap().len(), 2);
    assert_eq!(c.committees("12345", 364101, Some(11651232)).await.unwrap()[0].validators, [17, 4, 1_000_000]);
    let uris: Vec<String> = s.hits().into_iter().map(|h| h.uri).collect();
    assert_eq!(
        uris,
        [
            "/eth/v1/beacon/states/head/committees?epoch=364101",
            "/eth/v1/beacon/states/12345/committees?epoch=364101&slot=11651232"
        ]
    );
}

#[tokio::test]
async fn secrets_never_reach_messages_but_reach_the_node() {
    let s = Server::start(|_, _| status(500, "boom")).await;
    let with_secrets = s.url.replace("http://", "http://alice:hunter2@") + "/tok3n?apikey=s3cret";
    let e = client(&[&with_secrets], cfg(1, 1)).genesis().await.unwrap_err().to_string();
    for secret in ["alice", "hunter2", "tok3n", "s3cret"] {
        assert!(!e.contains(secret), "{secret} leaked: {e}");
    }
    assert!(e.contains(&s.url.replace("http://", "http://***@")), "{e}");
    assert_eq!(s.hits()[0].uri, "/tok3n/eth/v1/beacon/genesis?apikey=s3cret");

    let dead = closed_url().replace("http://", "http://bob:pw9@") + "/t0ken";
    let e = client(&[&dead], cfg(1, 1)).genesis().await.unwrap_err().to_string();
    assert!(!e.contains("pw9") && !e.contains("t0ken") && !e.contains("bob"), "{e}");
}

#[tokio::test]
async fn construction_errors() {
    assert!(matches!(BeaconClient::new(&[], ClientConfig::default()), Err(BeaconError::NoEndpoints)));
    let e = BeaconClient::new(&["localhost:5052".to_string()], ClientConfig::default()).unwrap_err();
    assert!(matches!(e, BeaconError::InvalidUrl { .. }), "{e:?}");
    assert!(e.to_string().contains("give a full URL such as http://127.0.0.1:5052"), "{e}");
    let c = BeaconClient::new(&["http://u:p@a:1/x".into(), "https://b".into()], ClientConfig::default()).unwrap();
    assert_eq!(c.endpoints(), ["http://***@a:1/***", "https://b"]);
}

#[tokio::test]
async fn validators_by_pubkey_send_0x_keys() {
    let s = Server::start(|hit, _| {
        if hit.method == Method::POST {
            status(405, "Method Not Allowed")
        } else {
            json(fixture("validators.json"))
        }
    })
    .await;
    let c = client(&[&s.url], cfg(3, 1));
    let keys = [[0xaa; 48], [0x01; 48]];
    assert_eq!(c.validators_by_pubkey("1234", &keys).await.unwrap().len(), 2);
    let hits = s.hits();
    let (a, b) = (format!("0x{}", "aa".repeat(48)), format!("0x{}", "01".repeat(48)));
    assert_eq!(hits[0].body, format!(r#"{{"ids":["{a}","{b}"]}}"#));
    assert_eq!(hits[1].uri, format!("/eth/v1/beacon/states/1234/validators?id={a},{b}"));
}
