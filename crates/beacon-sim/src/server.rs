//! The HTTP face of the simulator: axum routes for the standard Beacon API,
//! a moving head when `slot_ms > 0`, and injected faults.
//!
//! Faults are decided per request from `faults.seed` and a request counter that
//! starts at 0 when [`serve`] starts: the n-th request that may get a fault gets
//! the same one every run. The node endpoints and genesis never get faults.

use crate::api::{hexs, num, ApiError};
use crate::derive::{self, tag};
use crate::model::BeaconModel;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Validators rendered per chunk of a streamed validators answer.
const VALIDATOR_CHUNK: u64 = 2048;
/// Bodies larger than this are not buffered to be corrupted; a malformed fault
/// on them sends a truncated prefix instead.
const MALFORM_BUFFER_LIMIT: usize = 64 << 20;

struct Server {
    chain: Arc<BeaconModel>,
    started: Instant,
    requests: AtomicU64,
}

impl Server {
    fn head(&self) -> u64 {
        self.chain.head_slot_after(self.started.elapsed())
    }
}

type St = State<Arc<Server>>;

/// The request number a fault decision used, for handlers that decide more.
#[derive(Clone, Copy)]
struct RequestNo(u64);

/// Serves the Beacon API for `chain` on `listener` until the task is dropped.
pub async fn serve(chain: Arc<BeaconModel>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(chain)).await
}

/// The routes, for embedding the simulator in another axum app or a test.
pub fn router(chain: Arc<BeaconModel>) -> Router {
    let server = Arc::new(Server { chain, started: Instant::now(), requests: AtomicU64::new(0) });
    let faulty = Router::new()
        .route("/eth/v1/config/spec", get(config_spec))
        .route("/eth/v1/beacon/states/{state_id}/finality_checkpoints", get(finality))
        .route("/eth/v1/beacon/states/{state_id}/fork", get(fork))
        .route("/eth/v1/beacon/states/{state_id}/validators", get(validators_get).post(validators_post))
        .route("/eth/v1/beacon/states/{state_id}/validator_balances", get(balances_get).post(balances_post))
        .route("/eth/v1/beacon/states/{state_id}/pending_deposits", get(pending_deposits))
        .route("/eth/v1/beacon/states/{state_id}/committees", get(committees))
        .route("/eth/v1/beacon/headers/{block_id}", get(header))
        .route("/eth/v1/beacon/blocks/{block_id}/root", get(block_root))
        .route("/eth/v2/beacon/blocks/{block_id}", get(block))
        .route("/eth/v1/validator/duties/attester/{epoch}", post(duties))
        .layer(middleware::from_fn_with_state(server.clone(), faults));
    Router::new()
        .route("/eth/v1/node/version", get(version))
        .route("/eth/v1/node/syncing", get(syncing))
        .route("/eth/v1/node/health", get(health))
        .route("/eth/v1/beacon/genesis", get(genesis))
        .merge(faulty)
        .fallback(|| async { error(ApiError::new(404, "NOT_FOUND: no such route in the beacon simulator")) })
        .with_state(server)
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

fn error(e: ApiError) -> Response {
    let status = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], e.body()).into_response()
}

fn respond(r: Result<String, ApiError>) -> Response {
    r.map_or_else(error, json)
}

/// Applies slow, error and malformed faults around a handler.
async fn faults(State(srv): St, mut req: Request, next: Next) -> Response {
    let f = &srv.chain.scenario.faults;
    let n = srv.requests.fetch_add(1, Ordering::Relaxed);
    let seed = f.seed;
    let roll = |kind: u64, rate: u64| derive::chance(seed, tag::FAULT, n, kind, rate);
    if roll(0, f.slow_rate_bps) && f.slow_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(f.slow_ms)).await;
    }
    if roll(1, f.error_rate_bps) {
        let code = if derive::h(seed, tag::FAULT, n, 9).is_multiple_of(2) { 500 } else { 503 };
        // One line each, so a test can tell its node was actually answered with errors.
        tracing::info!(request = n, code, path = %req.uri().path(), "injected fault: an error answer");
        return error(ApiError::new(code, format!("injected fault: internal error on request #{n}")));
    }
    req.extensions_mut().insert(RequestNo(n));
    let malformed = roll(2, f.malformed_rate_bps);
    let resp = next.run(req).await;
    if !malformed || resp.status() != StatusCode::OK {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let broken = match axum::body::to_bytes(body, MALFORM_BUFFER_LIMIT).await {
        Ok(bytes) => malform(&bytes, derive::h(seed, tag::FAULT, n, 10)),
        Err(_) => Bytes::from_static(b"{\"data\":[{\"index\":\"0\""),
    };
    let mut resp = Response::from_parts(parts, Body::from(broken));
    resp.headers_mut().remove(header::CONTENT_LENGTH);
    resp
}

/// A broken version of a JSON body: truncated, or with the first string-encoded
/// integer turned into an object (a field of the wrong type).
fn malform(body: &[u8], coin: u64) -> Bytes {
    let text = String::from_utf8_lossy(body);
    if coin % 2 == 1 {
        let mut numbers = text.match_indices(":\"").map(|(i, _)| i);
        if let Some(at) = numbers.find(|&i| text[i + 2..].starts_with(|c: char| c.is_ascii_digit())) {
            let end = at + 2 + text[at + 2..].find('"').unwrap_or(0);
            let value = &text[at + 2..end];
            return Bytes::from(format!("{}:{{\"wrong_type\":\"{value}\"}}{}", &text[..at], &text[end + 1..]));
        }
        // No integer field at the first string: fall through to truncation.
    }
    Bytes::copy_from_slice(&body[..body.len() / 2])
}

async fn version() -> Response {
    json(format!(
        "{{\"data\":{{\"version\":\"ClaystackBeaconSim/v{}/{}-{}\"}}}}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    ))
}

async fn syncing(State(srv): St) -> Response {
    let mut o = String::from("{\"data\":{\"head_slot\":");
    num(&mut o, srv.head());
    o.push_str(",\"sync_distance\":\"0\",\"is_syncing\":false,\"is_optimistic\":false,\"el_offline\":false}}");
    json(o)
}

async fn health() -> StatusCode {
    StatusCode::OK
}

async fn genesis(State(srv): St) -> Response {
    let c = &srv.chain;
    let mut o = String::from("{\"data\":{\"genesis_time\":");
    num(&mut o, c.scenario().genesis_time);
    o.push_str(",\"genesis_validators_root\":");
    hexs(&mut o, &c.genesis_validators_root());
    o.push_str(",\"genesis_fork_version\":");
    hexs(&mut o, &fork_version(c, 0));
    o.push_str("}}");
    json(o)
}

/// Fork versions as the presets' configs give them (fork number in byte 0, the
/// minimal config's `01` in byte 3).
fn fork_version(c: &BeaconModel, fork: u8) -> [u8; 4] {
    [fork, 0, 0, if c.scenario().preset == "mainnet" { 0 } else { 1 }]
}

async fn config_spec(State(srv): St) -> Response {
    let c = &srv.chain;
    let s = c.spec();
    let mainnet = c.scenario().preset == "mainnet";
    let n = |v: u64| serde_json::Value::String(v.to_string());
    let fv = |f: u8| serde_json::Value::String(claystack_primitives::hex::encode(&fork_version(c, f)));
    let body = serde_json::json!({"data": {
        "CONFIG_NAME": c.scenario().preset,
        "PRESET_BASE": c.scenario().preset,
        "SLOTS_PER_EPOCH": n(s.slots_per_epoch),
        "SECONDS_PER_SLOT": n(s.seconds_per_slot),
        "TARGET_COMMITTEE_SIZE": n(s.target_committee_size),
        "MAX_COMMITTEES_PER_SLOT": n(s.max_committees_per_slot),
        "MAX_VALIDATORS_PER_COMMITTEE": n(2048),
        "SHUFFLE_ROUND_COUNT": n(if mainnet { 90 } else { 10 }),
        "MIN_SEED_LOOKAHEAD": n(1),
        "MAX_SEED_LOOKAHEAD": n(4),
        "MIN_ATTESTATION_INCLUSION_DELAY": n(1),
        "MAX_ATTESTATIONS": n(128),
        "MAX_ATTESTATIONS_ELECTRA": n(8),
        "EPOCHS_PER_SLASHINGS_VECTOR": n(if mainnet { 8192 } else { 64 }),
        "SHARD_COMMITTEE_PERIOD": n(c.scenario().shard_committee_period.unwrap_or(if mainnet { 256 } else { 64 })),
        "MIN_VALIDATOR_WITHDRAWABILITY_DELAY": n(crate::validators::WITHDRAWABILITY_DELAY),
        "SYNC_COMMITTEE_SIZE": n(if mainnet { 512 } else { 32 }),
        "MAX_EFFECTIVE_BALANCE": n(crate::ledger::BALANCE_GWEI),
        "EFFECTIVE_BALANCE_INCREMENT": n(1_000_000_000),
        "MIN_DEPOSIT_AMOUNT": n(1_000_000_000),
        "MAX_WITHDRAWALS_PER_PAYLOAD": n(crate::ledger::max_withdrawals_per_payload(mainnet)),
        "PROPORTIONAL_SLASHING_MULTIPLIER_BELLATRIX": n(3),
        "MIN_SLASHING_PENALTY_QUOTIENT_BELLATRIX": n(32),
        "MIN_SLASHING_PENALTY_QUOTIENT_ELECTRA": n(4096),
        "GENESIS_FORK_VERSION": fv(0),
        "ALTAIR_FORK_VERSION": fv(1),
        "ALTAIR_FORK_EPOCH": n(0),
        "BELLATRIX_FORK_VERSION": fv(2),
        "BELLATRIX_FORK_EPOCH": n(0),
        "CAPELLA_FORK_VERSION": fv(3),
        "CAPELLA_FORK_EPOCH": n(0),
        "DENEB_FORK_VERSION": fv(4),
        "DENEB_FORK_EPOCH": n(0),
        "ELECTRA_FORK_VERSION": fv(5),
        "ELECTRA_FORK_EPOCH": n(s.electra_fork_epoch),
        "MIN_GENESIS_TIME": n(c.scenario().genesis_time),
        "DEPOSIT_CHAIN_ID": n(if mainnet { 1 } else { 5 }),
    }});
    json(body.to_string())
}

async fn fork(State(srv): St, Path(state_id): Path<String>) -> Response {
    let c = &srv.chain;
    let r = c.resolve_state(&state_id, srv.head()).map(|slot| {
        let electra = c.fork_at(slot) == "electra";
        let (prev, cur, epoch) = if electra { (4, 5, c.spec().electra_fork_epoch) } else { (3, 4, 0) };
        let mut o = String::from("{\"execution_optimistic\":false,\"finalized\":false,\"data\":{\"previous_version\":");
        hexs(&mut o, &fork_version(c, if epoch == 0 { cur } else { prev }));
        o.push_str(",\"current_version\":");
        hexs(&mut o, &fork_version(c, cur));
        o.push_str(",\"epoch\":");
        num(&mut o, epoch);
        o.push_str("}}");
        o
    });
    respond(r)
}

async fn finality(State(srv): St, Path(state_id): Path<String>) -> Response {
    let head = srv.head();
    respond(srv.chain.resolve_state(&state_id, head).map(|slot| srv.chain.finality_json(slot, head)))
}

async fn header(State(srv): St, Path(block_id): Path<String>) -> Response {
    let head = srv.head();
    respond(srv.chain.resolve_block(&block_id, head).map(|slot| srv.chain.header_json(slot, head)))
}

async fn block_root(State(srv): St, Path(block_id): Path<String>) -> Response {
    let head = srv.head();
    respond(srv.chain.resolve_block(&block_id, head).map(|slot| srv.chain.root_json(slot, head)))
}

async fn block(State(srv): St, Path(block_id): Path<String>, req: Request) -> Response {
    let head = srv.head();
    let chain = &srv.chain;
    let slot = match chain.resolve_block(&block_id, head) {
        Ok(slot) => slot,
        Err(e) => return error(e),
    };
    if let Some(RequestNo(n)) = req.extensions().get::<RequestNo>().copied() {
        if derive::chance(chain.scenario.faults.seed, tag::FAULT, n, 3, chain.scenario.faults.hide_block_rate_bps) {
            return error(ApiError::new(404, format!("NOT_FOUND: beacon block at slot {slot}")));
        }
    }
    // Rendering a block may plan a new epoch: keep it off the async workers.
    let chain2 = chain.clone();
    let (fork, body) = match tokio::task::spawn_blocking(move || chain2.block_json(slot, head)).await {
        Ok(r) => r,
        Err(e) => return error(ApiError::new(500, format!("block rendering failed: {e}"))),
    };
    let mut resp = json(body);
    resp.headers_mut().insert("Eth-Consensus-Version", HeaderValue::from_static(fork));
    resp
}

/// An id or index as the API sends it: a string, or a bare number from lenient clients.
#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Number(u64),
}

impl Id {
    fn text(self) -> String {
        match self {
            Id::Text(s) => s,
            Id::Number(n) => n.to_string(),
        }
    }
}

async fn duties(State(srv): St, Path(epoch): Path<String>, body: Bytes) -> Response {
    let epoch: u64 = match epoch.parse() {
        Ok(e) => e,
        Err(_) => return error(ApiError::new(400, format!("Invalid epoch: {epoch}"))),
    };
    let ids: Vec<Id> = match serde_json::from_slice(&body) {
        Ok(ids) => ids,
        Err(e) => {
            return error(ApiError::new(400, format!("request body must be a JSON array of validator indices: {e}")))
        }
    };
    let mut indices = Vec::with_capacity(ids.len());
    for id in ids {
        let t = id.text();
        match t.parse::<u64>() {
            Ok(v) => indices.push(v),
            Err(_) => return error(ApiError::new(400, format!("Invalid validator index: {t}"))),
        }
    }
    let head = srv.head();
    let chain = srv.chain.clone();
    match tokio::task::spawn_blocking(move || chain.duties_json(epoch, &indices, head)).await {
        Ok(r) => respond(r),
        Err(e) => error(ApiError::new(500, format!("duties rendering failed: {e}"))),
    }
}

#[derive(Deserialize)]
struct CommitteeQuery {
    epoch: Option<u64>,
    index: Option<u64>,
    slot: Option<u64>,
}

async fn committees(
    State(srv): St,
    Path(state_id): Path<String>,
    q: Result<axum::extract::Query<CommitteeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = match q {
        Ok(q) => q.0,
        Err(e) => return error(ApiError::new(400, format!("Invalid query: {e}"))),
    };
    let head = srv.head();
    let chain = srv.chain.clone();
    let r = match chain.resolve_state(&state_id, head) {
        Ok(slot) => tokio::task::spawn_blocking(move || chain.committees_json(slot, head, q.epoch, q.index, q.slot))
            .await
            .unwrap_or_else(|e| Err(ApiError::new(500, format!("committee rendering failed: {e}")))),
        Err(e) => Err(e),
    };
    respond(r)
}

/// A validators query: ids (indices or pubkeys) and statuses, both optional.
#[derive(Deserialize, Default)]
struct ValidatorsQuery {
    #[serde(default)]
    ids: Option<Vec<Id>>,
    #[serde(default)]
    statuses: Option<Vec<String>>,
}

async fn validators_get(State(srv): St, Path(state_id): Path<String>, RawQuery(q): RawQuery) -> Response {
    let mut ids = Vec::new();
    let mut statuses = Vec::new();
    for pair in q.as_deref().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let values = v.split(',').filter(|s| !s.is_empty()).map(str::to_string);
        match k {
            "id" => ids.extend(values),
            "status" => statuses.extend(values),
            _ => return error(ApiError::new(400, format!("Invalid query parameter: {k}"))),
        }
    }
    validators(srv, state_id, (!ids.is_empty()).then_some(ids), statuses)
}

async fn validators_post(State(srv): St, Path(state_id): Path<String>, body: Bytes) -> Response {
    let q: ValidatorsQuery = if body.iter().all(u8::is_ascii_whitespace) {
        ValidatorsQuery::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(q) => q,
            Err(e) => {
                return error(ApiError::new(
                    400,
                    format!("request body must be {{\"ids\":[..],\"statuses\":[..]}}: {e}"),
                ))
            }
        }
    };
    let ids = q.ids.map(|ids| ids.into_iter().map(Id::text).collect());
    validators(srv, state_id, ids, q.statuses.unwrap_or_default())
}

async fn balances_get(State(srv): St, Path(state_id): Path<String>, RawQuery(q): RawQuery) -> Response {
    let mut ids = Vec::new();
    for pair in q.as_deref().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("id", v)) => ids.extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_string)),
            _ => return error(ApiError::new(400, format!("Invalid query parameter: {pair}"))),
        }
    }
    balances(srv, state_id, (!ids.is_empty()).then_some(ids))
}

async fn balances_post(State(srv): St, Path(state_id): Path<String>, body: Bytes) -> Response {
    if body.iter().all(u8::is_ascii_whitespace) {
        return balances(srv, state_id, None);
    }
    match serde_json::from_slice::<Vec<Id>>(&body) {
        Ok(ids) => balances(srv, state_id, Some(ids.into_iter().map(Id::text).collect())),
        Err(e) => error(ApiError::new(400, format!("request body must be a JSON array of validator ids: {e}"))),
    }
}

/// Balances of `ids`, or of every validator (streamed) without ids.
fn balances(srv: Arc<Server>, state_id: String, ids: Option<Vec<String>>) -> Response {
    let head = srv.head();
    let chain = srv.chain.clone();
    let slot = match chain.resolve_state(&state_id, head) {
        Ok(s) => s,
        Err(e) => return error(e),
    };
    if let Some(ids) = ids {
        return respond(indices_of(&chain, &ids).map(|indices| chain.balances_json(slot, head, &indices)));
    }
    let mut head_text = String::from("{");
    chain.write_meta(&mut head_text, slot, head);
    head_text.push_str(",\"data\":[");
    let total = chain.validator_count();
    let mut next = 0u64;
    let chunks = std::iter::once(Ok::<Bytes, std::convert::Infallible>(Bytes::from(head_text))).chain(
        std::iter::from_fn(move || {
            if next == total {
                return None;
            }
            let end = (next + VALIDATOR_CHUNK).min(total);
            let mut o = String::with_capacity(VALIDATOR_CHUNK as usize * 40);
            for v in next..end {
                if v > 0 {
                    o.push(',');
                }
                chain.write_balance(&mut o, v, slot);
            }
            next = end;
            if next == total {
                o.push_str("]}");
            }
            Some(Ok(Bytes::from(o)))
        }),
    );
    let mut resp = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

async fn pending_deposits(State(srv): St, Path(state_id): Path<String>) -> Response {
    let head = srv.head();
    let chain = &srv.chain;
    match chain.resolve_state(&state_id, head) {
        Ok(slot) => {
            let mut resp = json(chain.pending_deposits_json(slot, head));
            resp.headers_mut().insert("Eth-Consensus-Version", HeaderValue::from_static(chain.fork_at(slot)));
            resp
        }
        Err(e) => error(e),
    }
}

fn status_matches(status: &str, filters: &[String]) -> bool {
    filters.is_empty()
        || filters.iter().any(|f| status == f || (status.starts_with(f.as_str()) && status[f.len()..].starts_with('_')))
}

/// Validator ids (indices or `0x` pubkeys) as indices; unknown ones are dropped.
fn indices_of(chain: &BeaconModel, ids: &[String]) -> Result<Vec<u64>, ApiError> {
    let mut indices = Vec::with_capacity(ids.len());
    for id in ids {
        let v = if id.starts_with("0x") {
            match claystack_primitives::hex::decode(id) {
                Ok(key) => chain.index_of_pubkey(&key),
                Err(e) => return Err(ApiError::new(400, format!("Invalid validator ID {id}: {e}"))),
            }
        } else {
            match id.parse::<u64>() {
                Ok(v) => Some(v).filter(|&v| v < chain.validator_count()),
                Err(_) => return Err(ApiError::new(400, format!("Invalid validator ID: {id}"))),
            }
        };
        indices.extend(v);
    }
    Ok(indices)
}

fn validators(srv: Arc<Server>, state_id: String, ids: Option<Vec<String>>, statuses: Vec<String>) -> Response {
    let head = srv.head();
    let chain = srv.chain.clone();
    let slot = match chain.resolve_state(&state_id, head) {
        Ok(s) => s,
        Err(e) => return error(e),
    };
    if let Some(ids) = ids {
        return respond(
            indices_of(&chain, &ids)
                .map(|indices| chain.validators_json(slot, head, &indices, |s| status_matches(s, &statuses))),
        );
    }
    let mut head_text = String::from("{");
    chain.write_meta(&mut head_text, slot, head);
    head_text.push_str(",\"data\":[");
    // All validators: stream in chunks so a million never sit in memory at once.
    let total = chain.validator_count();
    let mut next = 0u64;
    let mut first = true;
    let mut done = false;
    let chunks = std::iter::once(Ok::<Bytes, std::convert::Infallible>(Bytes::from(head_text))).chain(
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            let mut o = String::with_capacity(VALIDATOR_CHUNK as usize * 480);
            let end = (next + VALIDATOR_CHUNK).min(total);
            for v in next..end {
                let s = chain.validator_at(v, slot);
                if status_matches(s.status, &statuses) {
                    if !first {
                        o.push(',');
                    }
                    first = false;
                    chain.write_validator(&mut o, &s, slot);
                }
            }
            next = end;
            if next == total {
                o.push_str("]}");
                done = true;
            }
            Some(Ok(Bytes::from(o)))
        }),
    );
    let mut resp = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
