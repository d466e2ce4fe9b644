//! The routes, their limits, and their answers. Every error is [`ApiError`]'s JSON.

use crate::error::{parse_address, parse_number, shorten, ApiError};
use crate::{ApiConfig, AppState, MAX_URI};
use axum::error_handling::HandleErrorLayer;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{BoxError, Json, Router};
use claystack_notify::{Kind, Notification};
use claystack_primitives::ReportKind;
use claystack_store::StoredReport;
use futures::Stream;
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use tokio::sync::broadcast;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;

/// The OpenAPI document, written by hand beside this file.
pub const OPENAPI: &str = include_str!("../openapi.json");

pub(crate) fn router(state: AppState, config: &ApiConfig) -> Router {
    let limited = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/status", get(status))
        .route("/v1/reports", get(reports))
        .route("/v1/reports/{number}", get(report))
        .route("/v1/reports/{number}/tree", get(tree))
        .route("/v1/reports/{number}/log", get(log))
        .route("/v1/running", get(running))
        .route("/v1/operators/{address}", get(operator))
        .route("/v1/notifications", get(notifications))
        .merge(crate::page::routes())
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(overloaded))
                .load_shed()
                // One semaphore for every route (a plain concurrency limit is per route).
                .layer(GlobalConcurrencyLimitLayer::new(config.max_concurrent))
                .timeout(config.request_timeout),
        );
    // The stream is long-lived by design: outside the timeout, limited by its own semaphore.
    let streams = Router::new().route("/v1/notifications/stream", get(stream));
    limited
        .merge(streams)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Refuses over-long URIs before routing, and counts every answer by status.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = if request.uri().to_string().len() > MAX_URI {
        ApiError {
            status: StatusCode::URI_TOO_LONG,
            message: format!("the request URI is longer than {MAX_URI} bytes"),
        }
        .into_response()
    } else {
        next.run(request).await
    };
    state.metrics.request(response.status().as_u16());
    response
}

async fn overloaded(error: BoxError) -> ApiError {
    if error.is::<tower::timeout::error::Elapsed>() {
        ApiError::unavailable("the request took too long; retry later")
    } else {
        ApiError::unavailable("the node is answering too many requests; retry later")
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; the endpoints are listed in /v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: "the API is read-only: only GET is served; see /v1/openapi.json".into(),
    }
}

/// A query string parsed into `T`, or a 400 naming what is wrong.
fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t).map_err(|e| ApiError::bad_request(format!("bad query: {}", shorten(&e.body_text()))))
}

/// No query parameter is accepted here.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoQuery {}

async fn health(
    State(state): State<AppState>,
    q: Result<Query<NoQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    query(q)?;
    Ok(match (state.health)() {
        None => Json(json!({"status": "ok"})).into_response(),
        Some(reason) => Json(json!({"status": "degraded", "reason": reason})).into_response(),
    })
}

async fn ready(State(state): State<AppState>, q: Result<Query<NoQuery>, QueryRejection>) -> Result<Response, ApiError> {
    query(q)?;
    if let Some(reason) = (state.health)() {
        return Err(ApiError::unavailable(format!("not ready: the node is degraded ({reason})")));
    }
    let snap = state.snapshot.borrow().clone();
    match snap.next_epoch {
        None => Err(ApiError::unavailable("not ready: accounting has not accounted an epoch yet")),
        Some(next_epoch) => Ok(Json(json!({"ready": true, "next_epoch": next_epoch})).into_response()),
    }
}

async fn metrics(
    State(state): State<AppState>,
    q: Result<Query<NoQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    query(q)?;
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.metrics.render())
        .into_response())
}

async fn openapi(q: Result<Query<NoQuery>, QueryRejection>) -> Result<Response, ApiError> {
    query(q)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response())
}

async fn status(
    State(state): State<AppState>,
    q: Result<Query<NoQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    query(q)?;
    let snap = state.snapshot.borrow().clone();
    let active = snap.notifications.iter().filter(|n| n.resolved_at.is_none()).count();
    Ok(Json(json!({
        "next_epoch": snap.next_epoch,
        "latest_report": snap.latest_report,
        "accepted_report": snap.accepted,
        "running_report": snap.running.as_ref().map(|r| r.span.number),
        "notifications_active": active,
        "committee": snap.committee,
    }))
    .into_response())
}

async fn reports(
    State(state): State<AppState>,
    q: Result<Query<NoQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    query(q)?;
    let snap = state.snapshot.borrow().clone();
    Ok(Json(json!({ "latest": snap.latest_report, "reports": snap.reports })).into_response())
}

/// Stored report `number`, or a 404 that says which reports exist.
fn stored(state: &AppState, number: &str) -> Result<StoredReport, ApiError> {
    let number = parse_number(number)?;
    match state.store.report(ReportKind::Rewards, number) {
        Ok(Some(r)) => Ok(r),
        Ok(None) => {
            let latest = state.snapshot.borrow().latest_report;
            Err(ApiError::not_found(match latest {
                0 => format!("report {number} is not stored; this node has closed no report yet"),
                l => format!("report {number} is not stored; reports 1 to {l} are"),
            }))
        }
        Err(e) => Err(ApiError::unavailable(format!("cannot read the store: {e}"))),
    }
}

fn raw_json(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

async fn report(
    State(state): State<AppState>,
    Path(number): Path<String>,
    q: Result<Query<NoQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    query(q)?;
    Ok(raw_json(stored(&state, &number)?.report))
}

async fn tree(
    State(state): State<AppState>,
    Path(number): Path<String>,
    q: Result<Query<NoQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    query(q)?;
    Ok(raw_json(stored(&state, &number)?.tree))
}

async fn log(
    State(state): State<AppState>,
    Path(number): Path<String>,
    q: Result<Query<NoQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    query(q)?;
    let stored = stored(&state, &number)?;
    if stored.log.is_empty() {
        return Err(ApiError::not_found("this report was stored before frame logs existed; it has none"));
    }
    Ok(raw_json(stored.log))
}

async fn running(
    State(state): State<AppState>,
    q: Result<Query<NoQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    query(q)?;
    let snap = state.snapshot.borrow().clone();
    match &snap.running {
        Some(r) => Ok(Json(r).into_response()),
        None => Err(ApiError::not_found(snap.running_note.clone().unwrap_or_else(|| "no running frame yet".into()))),
    }
}

async fn operator(
    State(state): State<AppState>,
    Path(address): Path<String>,
    q: Result<Query<NoQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    query(q)?;
    let address = parse_address(&address)?;
    let snap = state.snapshot.borrow().clone();
    match snap.operator_json.get(&address) {
        Some(json) => Ok(([(header::CONTENT_TYPE, "application/json")], json.clone()).into_response()),
        None => Err(ApiError::not_found(format!(
            "operator {address} is in none of the latest reports nor in the running frame; check the address"
        ))),
    }
}

/// Filters of the notification list and stream.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Filter {
    operator: Option<String>,
    node: Option<String>,
    validator: Option<String>,
    kind: Option<String>,
    active: Option<String>,
}

/// A parsed [`Filter`].
struct Matcher {
    operator: Option<claystack_rewards::Address>,
    node: Option<u64>,
    validator: Option<u64>,
    kind: Option<Kind>,
    active: Option<bool>,
}

fn integer(name: &str, text: &Option<String>) -> Result<Option<u64>, ApiError> {
    text.as_deref()
        .map(|t| {
            t.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("{name} `{}` is not a decimal integer", shorten(t))))
        })
        .transpose()
}

impl Matcher {
    fn of(f: Filter) -> Result<Matcher, ApiError> {
        let kind = f
            .kind
            .as_deref()
            .map(|k| {
                Kind::parse(k).ok_or_else(|| {
                    let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                    ApiError::bad_request(format!("kind `{}` is unknown; use one of {}", shorten(k), names.join(", ")))
                })
            })
            .transpose()?;
        let active = match f.active.as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => {
                return Err(ApiError::bad_request(format!("active `{}` must be true or false", shorten(other))))
            }
        };
        Ok(Matcher {
            operator: f.operator.as_deref().map(parse_address).transpose()?,
            node: integer("node", &f.node)?,
            validator: integer("validator", &f.validator)?,
            kind,
            active,
        })
    }

    fn matches(&self, n: &Notification) -> bool {
        self.operator.is_none_or(|o| n.operator == Some(o))
            && self.node.is_none_or(|x| n.node == Some(x))
            && self.validator.is_none_or(|x| n.validator == Some(x))
            && self.kind.is_none_or(|k| n.kind == k)
            && self.active.is_none_or(|a| a == n.resolved_at.is_none())
    }
}

async fn notifications(
    State(state): State<AppState>,
    q: Result<Query<Filter>, QueryRejection>,
) -> Result<Response, ApiError> {
    let m = Matcher::of(query(q)?)?;
    let snap = state.snapshot.borrow().clone();
    let list: Vec<&Notification> = snap.notifications.iter().filter(|n| m.matches(n)).collect();
    Ok(Json(json!({ "notifications": list })).into_response())
}

async fn stream(
    State(state): State<AppState>,
    q: Result<Query<Filter>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let m = Matcher::of(query(q)?)?;
    let permit = state
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::unavailable("too many open notification streams; retry later"))?;
    let rx = state.events.subscribe();
    let stop = state.stop.clone();
    let events = futures::stream::unfold((rx, stop, m, permit), |(mut rx, mut stop, m, permit)| async move {
        loop {
            let next = tokio::select! {
                next = rx.recv() => next,
                _ = stop.changed() => return None,
            };
            match next {
                Ok(n) if m.matches(&n) => {
                    let data = serde_json::to_string(&*n).expect("a notification always serializes");
                    let event = Event::default().event("notification").id(n.id.clone()).data(data);
                    return Some((Ok(event), (rx, stop, m, permit)));
                }
                Ok(_) => continue,
                // A slow reader missed some: say so, the client reloads the list.
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let event = Event::default().event("lagged").data(missed.to_string());
                    return Some((Ok(event), (rx, stop, m, permit)));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
