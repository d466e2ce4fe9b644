//! The HTTP client: one method per endpoint, retries with backoff, failover.
//!
//! Each call starts at the endpoint that last answered. On that endpoint it
//! retries transport errors, timeouts, 5xx, 429 and unreadable bodies up to
//! `retries` attempts with doubling backoff; then it moves to the next endpoint.
//! A 404 moves on at once (another node may hold the state), except where 404
//! is an answer (an empty slot). Other 4xx and pre-merge blocks are final.

use crate::endpoint::Endpoint;
use crate::error::{BeaconError, DecodeError};
use crate::parse;
use crate::types::{AttesterDuties, BeaconCommittee, BeaconGenesis, BlockHeader, FinalityCheckpoints, SyncStatus};
use claystack_primitives::{hex, BeaconSpec, BlockSummary, ValidatorInfo};
use reqwest::{Method, StatusCode};
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// Most validator indices sent in one request body; larger lists are split, in order.
pub const MAX_IDS_PER_POST: usize = 10_000;
/// Most validator indices in one `GET ...?id=` query, to keep URLs short for proxies.
pub const MAX_IDS_PER_GET: usize = 256;
/// Public keys (0x + 96 hex digits) per `GET .../validators?id=...` request.
pub const MAX_PUBKEYS_PER_GET: usize = 64;
/// Longest wait between two attempts, however many retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How hard to try each endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// Whole-request deadline (connect, headers and body). Default 10 s.
    pub timeout: Duration,
    /// Attempts per endpoint before failing over (0 counts as 1). Default 3.
    pub retries: u32,
    /// Wait before the second attempt; doubles each attempt, at most [`MAX_BACKOFF`]. Default 200 ms.
    pub backoff: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig { timeout: Duration::from_secs(10), retries: 3, backoff: Duration::from_millis(200) }
    }
}

impl ClientConfig {
    /// The wait before attempt `attempt` (0-based) on one endpoint.
    pub fn backoff_before(&self, attempt: u32) -> Duration {
        if attempt == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX);
        self.backoff.saturating_mul(factor).min(MAX_BACKOFF)
    }
}

/// A Beacon API client over one or more nodes. Cheap to clone; clones share
/// connections, the preferred endpoint and the cached [`BeaconSpec`].
#[derive(Clone)]
pub struct BeaconClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoints: Vec<Endpoint>,
    cfg: ClientConfig,
    /// Index of the endpoint that answered last.
    preferred: AtomicUsize,
    /// Set once a node refused the POST form of the validators endpoint.
    validators_get_only: AtomicBool,
    /// The spec blocks are decoded with: pinned, or fetched on first need.
    spec: OnceCell<BeaconSpec>,
}

impl std::fmt::Debug for BeaconClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: Vec<&str> = self.inner.endpoints.iter().map(|e| e.shown.as_str()).collect();
        f.debug_struct("BeaconClient").field("endpoints", &shown).field("cfg", &self.inner.cfg).finish()
    }
}

/// One request, independent of the endpoint it goes to.
struct Request {
    method: Method,
    /// `/eth/...` with our query; shown in messages as is (it holds no secrets).
    path: String,
    body: Option<Vec<u8>>,
    /// A 404 is an answer (`Ok(None)`), not a failure.
    not_found_is_none: bool,
}

impl Request {
    fn get(path: String) -> Self {
        Request { method: Method::GET, path, body: None, not_found_is_none: false }
    }

    fn post(path: String, body: Vec<u8>) -> Self {
        Request { method: Method::POST, path, body: Some(body), not_found_is_none: false }
    }

    fn none_on_404(mut self) -> Self {
        self.not_found_is_none = true;
        self
    }
}

/// A successful (2xx) answer.
struct Reply {
    body: Vec<u8>,
    consensus_version: Option<String>,
}

/// What to do after a failed attempt.
enum Next {
    RetrySame,
    Failover,
    GiveUp,
}

impl BeaconClient {
    /// A client over `urls`, tried in order. Fails if the list is empty or a URL
    /// is not an absolute http(s) URL.
    pub fn new(urls: &[String], cfg: ClientConfig) -> Result<Self, BeaconError> {
        if urls.is_empty() {
            return Err(BeaconError::NoEndpoints);
        }
        let endpoints = urls.iter().map(|u| Endpoint::parse(u)).collect::<Result<Vec<_>, _>>()?;
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .user_agent(concat!("claystack-oracle/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BeaconError::InvalidUrl { url: String::new(), reason: format!("HTTP client setup: {e}") })?;
        Ok(BeaconClient {
            inner: Arc::new(Inner {
                http,
                endpoints,
                cfg,
                preferred: AtomicUsize::new(0),
                validators_get_only: AtomicBool::new(false),
                spec: OnceCell::new(),
            }),
        })
    }

    /// Decode blocks with `spec` instead of fetching `/eth/v1/config/spec` on the
    /// first [`BeaconClient::block`] call. Must be called before any block is read.
    pub fn with_spec(self, spec: BeaconSpec) -> Self {
        let _ = self.inner.spec.set(spec);
        self
    }

    /// The endpoints as shown in messages (credentials redacted).
    pub fn endpoints(&self) -> Vec<String> {
        self.inner.endpoints.iter().map(|e| e.shown.clone()).collect()
    }

    /// `GET /eth/v1/beacon/genesis`.
    pub async fn genesis(&self) -> Result<BeaconGenesis, BeaconError> {
        self.fetch(Request::get("/eth/v1/beacon/genesis".into()), |r| parse::genesis(&r.body)).await
    }

    /// `GET /eth/v1/config/spec`. The first answer is kept for decoding blocks
    /// unless [`BeaconClient::with_spec`] pinned one.
    pub async fn spec(&self) -> Result<BeaconSpec, BeaconError> {
        let spec = self.fetch(Request::get("/eth/v1/config/spec".into()), |r| parse::spec(&r.body)).await?;
        let _ = self.inner.spec.set(spec);
        Ok(spec)
    }

    /// `GET /eth/v1/config/spec`'s `SHARD_COMMITTEE_PERIOD` (not cached: an exits round reads it
    /// once).
    pub async fn shard_committee_period(&self) -> Result<u64, BeaconError> {
        self.fetch(Request::get("/eth/v1/config/spec".into()), |r| parse::shard_committee_period(&r.body)).await
    }

    /// `GET /eth/v1/node/version`: e.g. `Lighthouse/v5.3.0/x86_64-linux`.
    pub async fn node_version(&self) -> Result<String, BeaconError> {
        self.fetch(Request::get("/eth/v1/node/version".into()), |r| parse::node_version(&r.body)).await
    }

    /// `GET /eth/v1/node/syncing`.
    pub async fn syncing(&self) -> Result<SyncStatus, BeaconError> {
        self.fetch(Request::get("/eth/v1/node/syncing".into()), |r| parse::syncing(&r.body)).await
    }

    /// `GET /eth/v1/beacon/states/{state_id}/finality_checkpoints`.
    pub async fn finality_checkpoints(&self, state_id: &str) -> Result<FinalityCheckpoints, BeaconError> {
        check_id("state id", state_id)?;
        let path = format!("/eth/v1/beacon/states/{state_id}/finality_checkpoints");
        self.fetch(Request::get(path), |r| parse::finality_checkpoints(&r.body)).await
    }

    /// `GET /eth/v1/beacon/headers/{block_id}`; `None` when the node has no such
    /// block (an empty slot: the caller checks the chain links up).
    pub async fn header(&self, block_id: &str) -> Result<Option<BlockHeader>, BeaconError> {
        check_id("block id", block_id)?;
        let req = Request::get(format!("/eth/v1/beacon/headers/{block_id}")).none_on_404();
        self.fetch_opt(req, |r| parse::header(&r.body)).await
    }

    /// `GET /eth/v2/beacon/blocks/{slot}`; `None` when the slot is empty (404).
    ///
    /// Electra `committee_bits` are read with the spec pinned by
    /// [`BeaconClient::with_spec`], or fetched once from the node.
    pub async fn block(&self, slot: u64) -> Result<Option<BlockSummary>, BeaconError> {
        let spec = *self.inner.spec.get_or_try_init(|| self.spec()).await?;
        let max_committees = spec.max_committees_per_slot as usize;
        let req = Request::get(format!("/eth/v2/beacon/blocks/{slot}")).none_on_404();
        self.fetch_opt(req, |r| {
            let b = parse::block(&r.body, r.consensus_version.as_deref(), max_committees)?;
            if b.slot != slot {
                return Err(DecodeError::Invalid(format!("asked for the block at slot {slot}, got slot {}", b.slot)));
            }
            Ok(b)
        })
        .await
    }

    /// `POST /eth/v1/validator/duties/attester/{epoch}`, at most
    /// [`MAX_IDS_PER_POST`] indices a request, duties concatenated in request
    /// order. An empty `validators` still asks the node (for the dependent root).
    pub async fn attester_duties(&self, epoch: u64, validators: &[u64]) -> Result<AttesterDuties, BeaconError> {
        let path = format!("/eth/v1/validator/duties/attester/{epoch}");
        let mut out: Option<AttesterDuties> = None;
        let chunks: Vec<&[u64]> =
            if validators.is_empty() { vec![&[]] } else { validators.chunks(MAX_IDS_PER_POST).collect() };
        for chunk in chunks {
            let req = Request::post(path.clone(), json_ids(chunk, "", ""));
            let part = self.fetch(req, |r| parse::attester_duties(&r.body)).await?;
            match &mut out {
                None => out = Some(part),
                Some(acc) if acc.dependent_root == part.dependent_root => acc.duties.extend(part.duties),
                Some(_) => {
                    let endpoint = self.inner.endpoints[self.inner.preferred.load(Ordering::Relaxed)].shown.clone();
                    return Err(BeaconError::DependentRootChanged { endpoint, epoch });
                }
            }
        }
        Ok(out.expect("at least one chunk"))
    }

    /// `GET /eth/v1/beacon/states/{state_id}/committees?epoch={epoch}[&slot={slot}]`.
    pub async fn committees(
        &self,
        state_id: &str,
        epoch: u64,
        slot: Option<u64>,
    ) -> Result<Vec<BeaconCommittee>, BeaconError> {
        check_id("state id", state_id)?;
        let mut path = format!("/eth/v1/beacon/states/{state_id}/committees?epoch={epoch}");
        if let Some(slot) = slot {
            let _ = write!(path, "&slot={slot}");
        }
        self.fetch(Request::get(path), |r| parse::committees(&r.body)).await
    }

    /// `GET /eth/v1/beacon/states/{state_id}/pending_deposits`: deposits queued in the state
    /// and not yet credited (Electra on; a state before Electra has none, and is not asked).
    pub async fn pending_deposits(&self, state_id: &str) -> Result<Vec<claystack_primitives::Deposit>, BeaconError> {
        check_id("state id", state_id)?;
        let path = format!("/eth/v1/beacon/states/{state_id}/pending_deposits");
        self.fetch(Request::get(path), |r| parse::pending_deposits(&r.body)).await
    }

    /// The records of validators `ids` at `state_id`, in the node's order.
    ///
    /// Uses `POST .../validators` with `{"ids":[..]}`; if a node answers 404 or
    /// 405 to the POST (older clients), it falls back to `GET ...?id=a,b,c` for
    /// this and every later call. An empty `ids` returns nothing without asking
    /// (the API would return every validator of the state).
    pub async fn validators(&self, state_id: &str, ids: &[u64]) -> Result<Vec<ValidatorInfo>, BeaconError> {
        self.validators_by(state_id, ids, MAX_IDS_PER_GET).await
    }

    /// The records of the validators with these public keys at `state_id`, in the node's
    /// order; a key the state does not hold (not deposited yet) is simply absent.
    pub async fn validators_by_pubkey(
        &self,
        state_id: &str,
        pubkeys: &[[u8; 48]],
    ) -> Result<Vec<ValidatorInfo>, BeaconError> {
        let ids: Vec<String> = pubkeys.iter().map(|k| hex::encode(k)).collect();
        // 98 characters a key: keep a GET's URL under about 8 KB.
        self.validators_by(state_id, &ids, MAX_PUBKEYS_PER_GET).await
    }

    async fn validators_by<T: std::fmt::Display>(
        &self,
        state_id: &str,
        ids: &[T],
        per_get: usize,
    ) -> Result<Vec<ValidatorInfo>, BeaconError> {
        check_id("state id", state_id)?;
        let path = format!("/eth/v1/beacon/states/{state_id}/validators");
        let mut out = Vec::with_capacity(ids.len());
        let mut rest = ids;
        while !rest.is_empty() {
            if !self.inner.validators_get_only.load(Ordering::Relaxed) {
                let (chunk, tail) = rest.split_at(rest.len().min(MAX_IDS_PER_POST));
                let req = Request::post(path.clone(), json_ids(chunk, "{\"ids\":", "}"));
                match self.fetch(req, |r| parse::validators(&r.body)).await {
                    Ok(v) => {
                        out.extend(v);
                        rest = tail;
                        continue;
                    }
                    Err(e) if matches!(e.status(), Some(404 | 405)) => {
                        tracing::debug!(error = %e, "POST validators refused; using GET");
                        self.inner.validators_get_only.store(true, Ordering::Relaxed);
                    }
                    Err(e) => return Err(e),
                }
            }
            let (chunk, tail) = rest.split_at(rest.len().min(per_get));
            let mut query = String::with_capacity(chunk.len() * 8);
            for (i, id) in chunk.iter().enumerate() {
                let _ = write!(query, "{}{id}", if i == 0 { "?id=" } else { "," });
            }
            let req = Request::get(format!("{path}{query}"));
            out.extend(self.fetch(req, |r| parse::validators(&r.body)).await?);
            rest = tail;
        }
        Ok(out)
    }

    // -----------------------------------------------------------------------

    async fn fetch<T>(
        &self,
        req: Request,
        decode: impl Fn(&Reply) -> Result<T, DecodeError>,
    ) -> Result<T, BeaconError> {
        debug_assert!(!req.not_found_is_none);
        Ok(self.fetch_opt(req, decode).await?.expect("404 is an error unless none_on_404"))
    }

    /// Runs `req` with retries and failover; `Ok(None)` only for a 404 on a
    /// `none_on_404` request.
    async fn fetch_opt<T>(
        &self,
        req: Request,
        decode: impl Fn(&Reply) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, BeaconError> {
        let inner = &*self.inner;
        let n = inner.endpoints.len();
        let start = inner.preferred.load(Ordering::Relaxed) % n;
        let per_endpoint = inner.cfg.retries.max(1);
        let mut attempts = 0u32;
        let mut last = None;
        for k in 0..n {
            let i = (start + k) % n;
            let ep = &inner.endpoints[i];
            for attempt in 0..per_endpoint {
                let wait = inner.cfg.backoff_before(attempt);
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                attempts += 1;
                let err = match self.attempt(ep, &req).await {
                    Ok(Some(reply)) => match decode(&reply) {
                        Ok(v) => {
                            inner.preferred.store(i, Ordering::Relaxed);
                            return Ok(Some(v));
                        }
                        Err(error) if error.is_retryable() => {
                            BeaconError::Malformed { endpoint: ep.shown.clone(), path: req.path.clone(), error }
                        }
                        Err(error) => {
                            return Err(BeaconError::Unsupported {
                                endpoint: ep.shown.clone(),
                                path: req.path.clone(),
                                error,
                            })
                        }
                    },
                    Ok(None) => {
                        inner.preferred.store(i, Ordering::Relaxed);
                        return Ok(None);
                    }
                    Err(e) => e,
                };
                let next = match &err {
                    BeaconError::Status { status: 404, .. } => Next::Failover,
                    BeaconError::Status { status: 429 | 500..=599, .. } => Next::RetrySame,
                    BeaconError::Status { .. } => Next::GiveUp,
                    _ => Next::RetrySame,
                };
                match next {
                    Next::GiveUp => return Err(err),
                    Next::RetrySame if attempt + 1 < per_endpoint => {
                        tracing::debug!(
                            endpoint = %ep.shown, path = %req.path, attempt = attempt + 1, error = %err,
                            "beacon request failed; retrying"
                        );
                        last = Some(err);
                    }
                    _ => {
                        last = Some(err);
                        break;
                    }
                }
            }
            if k + 1 < n {
                tracing::warn!(
                    from = %ep.shown, to = %inner.endpoints[(i + 1) % n].shown, path = %req.path,
                    error = %last.as_ref().expect("an attempt failed"),
                    "beacon endpoint failing; trying the next one"
                );
            }
        }
        Err(BeaconError::Exhausted { endpoints: n, attempts, last: Box::new(last.expect("an attempt failed")) })
    }

    /// One HTTP exchange. `Ok(None)`: a 404 that the request takes as an answer.
    async fn attempt(&self, ep: &Endpoint, req: &Request) -> Result<Option<Reply>, BeaconError> {
        let endpoint = || ep.shown.clone();
        let path = || req.path.clone();
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                BeaconError::Timeout { endpoint: endpoint(), path: path(), timeout: self.inner.cfg.timeout }
            } else {
                BeaconError::Unreachable { endpoint: endpoint(), path: path(), reason: root_cause(&e) }
            }
        };
        let mut builder =
            self.inner.http.request(req.method.clone(), ep.url(&req.path)).header("accept", "application/json");
        if let Some(body) = &req.body {
            builder = builder.header("content-type", "application/json").body(body.clone());
        }
        let resp = builder.send().await.map_err(transport)?;
        let status = resp.status();
        let consensus_version =
            resp.headers().get("eth-consensus-version").and_then(|v| v.to_str().ok()).map(str::to_ascii_lowercase);
        let body = resp.bytes().await.map_err(transport)?;
        if status.is_success() {
            return Ok(Some(Reply { body: Vec::from(body), consensus_version }));
        }
        if status == StatusCode::NOT_FOUND && req.not_found_is_none {
            return Ok(None);
        }
        let message = parse::error_message(&body).unwrap_or_else(|| snippet(&body, status));
        Err(BeaconError::Status { endpoint: endpoint(), path: path(), status: status.as_u16(), message })
    }
}

/// `prefix["1","2"]suffix`: the API's JSON list of quoted indices.
fn json_ids<T: std::fmt::Display>(ids: &[T], prefix: &str, suffix: &str) -> Vec<u8> {
    let mut s = String::with_capacity(prefix.len() + ids.len() * 10 + suffix.len() + 2);
    s.push_str(prefix);
    s.push('[');
    for (i, id) in ids.iter().enumerate() {
        let _ = write!(s, "{}\"{id}\"", if i == 0 { "" } else { "," });
    }
    s.push(']');
    s.push_str(suffix);
    s.into_bytes()
}

/// State and block ids go into the path: only the API's forms, nothing to escape.
fn check_id(what: &'static str, id: &str) -> Result<(), BeaconError> {
    let ok = match id {
        "head" | "genesis" | "finalized" | "justified" => true,
        _ if id.starts_with("0x") => id.len() == 66 && id[2..].bytes().all(|b| b.is_ascii_hexdigit()),
        _ => !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()),
    };
    if ok {
        Ok(())
    } else {
        Err(BeaconError::InvalidId { what, value: id.chars().take(80).collect() })
    }
}

/// The deepest cause of a transport error (`Connection refused (os error 111)`),
/// without the URL reqwest would print.
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    if std::ptr::eq(cause as *const _ as *const u8, e as *const _ as *const u8) {
        // No deeper cause: reqwest's own text names the URL; say what kind of failure instead.
        return if e.is_connect() { "connection failed".into() } else { "transport error".into() };
    }
    text
}

/// A non-JSON error body, shortened to one line.
fn snippet(body: &[u8], status: StatusCode) -> String {
    let text: String =
        String::from_utf8_lossy(body).chars().take(200).map(|c| if c.is_control() { ' ' } else { c }).collect();
    let text = text.trim();
    if text.is_empty() {
        status.canonical_reason().unwrap_or("no message").to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let c = ClientConfig::default();
        let ms = |a| c.backoff_before(a).as_millis();
        assert_eq!((ms(0), ms(1), ms(2), ms(3), ms(5)), (0, 200, 400, 800, 3200));
        assert_eq!(c.backoff_before(6), MAX_BACKOFF);
        assert_eq!(c.backoff_before(40), MAX_BACKOFF);
    }

    #[test]
    fn ids() {
        assert_eq!(json_ids(&[1, 22], "{\"ids\":", "}"), br#"{"ids":["1","22"]}"#);
        assert_eq!(json_ids::<u64>(&[], "", ""), b"[]");
        for ok in ["head", "finalized", "123", &format!("0x{}", "ab".repeat(32))] {
            assert!(check_id("state id", ok).is_ok(), "{ok}");
        }
        for bad in ["", "Head", "1/2", "0x12", "-1", "1?x=y"] {
            assert!(check_id("state id", bad).is_err(), "{bad}");
        }
    }
}
