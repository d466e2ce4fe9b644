//! The node's HTTP API (axum): reports, operators, the running frame, notifications (a
//! list, and a live stream of server-sent events), `/health`, `/ready`, Prometheus
//! `/metrics`, and the OpenAPI document that describes it all (`/v1/openapi.json`).
//!
//! # Architecture
//!
//! A refresh task reads the store whenever accounting or the reports move on and computes a
//! [`view::Snapshot`] with `claystack-notify` (the notification list, the running frame, each
//! operator's view, already serialized), on a blocking thread so the workers keep answering;
//! requests read the latest snapshot, or the stored report files, and nothing else. The
//! operator web page at `/` (`src/web/`, compiled in) reads the same endpoints from a browser. The same store gives the same bytes on a committee member and on an
//! observer: no answer of the notification or report endpoints depends on the node's keys.
//!
//! # What it must never do
//!
//! Write to the store (the API has no handle that writes), answer a bad request with a 500,
//! hang on a slow or hostile client, or listen anywhere the operator did not configure.
//! Limits: a request handler has [`ApiConfig::request_timeout`]; at most
//! [`ApiConfig::max_concurrent`] requests run at once (more get a 503); at most
//! [`ApiConfig::max_streams`] event streams are open; a URI longer than [`MAX_URI`] is refused.

mod error;
mod metrics;
mod page;
mod routes;
pub mod view;
mod webhooks;

pub use error::ApiError;
pub use metrics::{finality_lag, Metrics};
pub use webhooks::{signature, WebhookConfig};

use claystack_genesis::Genesis;
use claystack_notify::{Notification, Params};
use claystack_store::Store;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch, Semaphore};
use tracing::{error, info, warn};
use view::{Builder, Marks, Snapshot};

/// The longest request URI (path and query) the API reads.
pub const MAX_URI: usize = 2048;

/// The API's limits and pace.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// How often the store is looked at for news.
    pub refresh: Duration,
    pub request_timeout: Duration,
    pub max_concurrent: usize,
    pub max_streams: usize,
    /// The notification rules' parameters (the same on every node).
    pub params: Params,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            refresh: Duration::from_secs(1),
            request_timeout: Duration::from_secs(10),
            max_concurrent: 512,
            max_streams: 64,
            params: Params::default(),
        }
    }
}

/// What the execution chain says, for the notifications that need it.
pub trait ChainView: Send + Sync {
    /// The highest rewards report number the NodeManager accepted (0: none).
    fn last_accepted(&self) -> BoxFuture<'_, Result<u64, String>>;

    /// The highest exits report number the NodeManager accepted (0: none); its stored exits
    /// reports raise `exit_requested` and `exit_slot_assigned`.
    fn last_accepted_exits(&self) -> BoxFuture<'_, Result<u64, String>> {
        Box::pin(async { Ok(0) })
    }
}

/// What the node's running parts have seen, for `/metrics` only: these readings differ
/// between nodes and over time, so no other answer uses them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeReadings {
    /// The finalized epoch the beacon node last reported to the follower.
    pub finalized_epoch: Option<u64>,
    /// Failed follower rounds caused by the beacon node, a running total.
    pub beacon_errors: u64,
    /// Failed execution RPC calls, a running total (`None`: the node has no RPC).
    pub rpc_errors: Option<u64>,
    /// Committee peers connected over p2p (`None`: an observer, without p2p).
    pub peers: Option<u64>,
    /// The last report close's wall time, ms (`None`: none closed since the start).
    pub report_close_ms: Option<u64>,
    /// From the member's own report to its first quorum certificate, ms (the last report).
    pub time_to_quorum_ms: Option<u64>,
    /// Reports this member's transactions got accepted, a running total (`None`: not a member).
    pub submissions: Option<u64>,
    /// Gas of this member's last accepted submission.
    pub submission_gas_used: Option<u64>,
}

/// Reads [`NodeReadings`] from the node's parts.
pub trait NodeProbe: Send + Sync {
    fn readings(&self) -> BoxFuture<'_, NodeReadings>;
}

/// The node's health for `/health` and `/ready`: `None` when healthy, else why it is degraded.
pub type HealthFn = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// Where the API reads from.
pub struct Sources {
    pub store: Arc<Store>,
    /// With a genesis, the node closes reports and the API serves them.
    pub genesis: Option<Genesis>,
    pub health: HealthFn,
    pub chain: Option<Box<dyn ChainView>>,
    /// Where to POST notifications; none when `None`.
    pub webhooks: Option<WebhookConfig>,
    /// The node's running parts, for metrics; without it those metrics are absent.
    pub probe: Option<Box<dyn NodeProbe>>,
}

/// What handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Arc<Store>,
    pub snapshot: watch::Receiver<Arc<Snapshot>>,
    pub health: HealthFn,
    pub metrics: Arc<Metrics>,
    pub events: broadcast::Sender<Arc<Notification>>,
    pub streams: Arc<Semaphore>,
    pub stop: watch::Receiver<bool>,
}

/// Serves the API on `listener` until `shutdown` fires; open event streams end then too.
pub async fn serve(
    listener: TcpListener,
    sources: Sources,
    config: ApiConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let metrics = Arc::new(Metrics::new());
    let (snapshot_tx, snapshot_rx) = watch::channel(Arc::new(Snapshot::default()));
    let (events, _) = broadcast::channel(1024);
    let state = AppState {
        store: sources.store.clone(),
        snapshot: snapshot_rx,
        health: sources.health.clone(),
        metrics: metrics.clone(),
        events: events.clone(),
        streams: Arc::new(Semaphore::new(config.max_streams)),
        stop: stop_rx.clone(),
    };
    if let Some(webhooks) = sources.webhooks {
        tokio::spawn(webhooks::deliver(webhooks, state.snapshot.clone(), stop_rx.clone()));
    }
    let builder = Builder::new(sources.store, sources.genesis, config.params);
    tokio::spawn(refresh(
        builder,
        sources.chain,
        sources.probe,
        sources.health,
        config.refresh,
        snapshot_tx,
        events,
        metrics,
        stop_rx.clone(),
    ));
    let app = routes::router(state, &config);
    info!(listen = %listener.local_addr()?, "HTTP API listening");
    let mut stop = stop_rx;
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
}

/// Recomputes the snapshot when the store's marks change; sends each new or changed
/// notification to the event streams.
#[allow(clippy::too_many_arguments)]
async fn refresh(
    builder: Builder,
    chain: Option<Box<dyn ChainView>>,
    probe: Option<Box<dyn NodeProbe>>,
    health: HealthFn,
    every: Duration,
    snapshot: watch::Sender<Arc<Snapshot>>,
    events: broadcast::Sender<Arc<Notification>>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut state = Some(Refresh { builder, last: None, known: None });
    let (mut accepted, mut accepted_exits) = (0, 0);
    let mut failing = false;
    loop {
        if let Some(chain) = &chain {
            match tokio::time::timeout(every.max(Duration::from_secs(1)), chain.last_accepted()).await {
                Ok(Ok(n)) => accepted = n,
                Ok(Err(e)) => warn!("API: cannot read the accepted reports from the NodeManager: {e}"),
                Err(_) => warn!("API: reading the accepted reports from the NodeManager timed out"),
            }
            match tokio::time::timeout(every.max(Duration::from_secs(1)), chain.last_accepted_exits()).await {
                Ok(Ok(n)) => accepted_exits = n,
                Ok(Err(e)) => warn!("API: cannot read the accepted exits reports from the NodeManager: {e}"),
                Err(_) => warn!("API: reading the accepted exits reports from the NodeManager timed out"),
            }
        }
        // Reading the store and computing the view takes a while with thousands of operators
        // (0.3 s for 2,000 in the dev profile, docs/benchmarks.md): off the runtime's workers,
        // which keep answering requests meanwhile.
        let mut current = state.take().expect("the refresh state is put back after each round");
        let (current, result) = match tokio::task::spawn_blocking(move || {
            let result = current.next(accepted, accepted_exits);
            (current, result)
        })
        .await
        {
            Ok(done) => done,
            Err(e) => {
                error!(
                    "API: computing its view failed ({e}); the API keeps serving the last view and stops refreshing it"
                );
                return;
            }
        };
        state = Some(current);
        match result {
            Ok(Some((snap, changed))) => {
                metrics.observe(&snap);
                for n in changed {
                    let _ = events.send(Arc::new(n));
                }
                snapshot.send_replace(Arc::new(snap));
                failing = false;
            }
            Ok(None) => {}
            Err(e) => {
                metrics.refresh_failed();
                if !failing {
                    warn!("API: cannot refresh its view from the store: {e}; it keeps serving the last view");
                }
                failing = true;
            }
        }
        metrics.set_degraded(health().is_some());
        if let Some(probe) = &probe {
            match tokio::time::timeout(every.max(Duration::from_secs(1)), probe.readings()).await {
                Ok(readings) => metrics.observe_node(&readings, snapshot.borrow().next_epoch),
                Err(_) => warn!("API: reading the node's metrics timed out"),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// What the refresh keeps between rounds.
struct Refresh {
    builder: Builder,
    last: Option<Marks>,
    /// The notifications of the last view, by id (`None` before the first view).
    known: Option<BTreeMap<String, Notification>>,
}

impl Refresh {
    /// A new view when the store moved on, with the notifications that are new or changed
    /// since the last one (none for the first view: the streams start from the list).
    fn next(&mut self, accepted: u64, accepted_exits: u64) -> Result<Option<(Snapshot, Vec<Notification>)>, String> {
        let marks = self.builder.marks(accepted, accepted_exits)?;
        if self.last == Some(marks) {
            return Ok(None);
        }
        let snap = self.builder.build(marks)?;
        let now: BTreeMap<String, Notification> =
            snap.notifications.iter().map(|n| (n.id.clone(), n.clone())).collect();
        let changed = match &self.known {
            Some(before) => now.iter().filter(|(id, n)| before.get(*id) != Some(*n)).map(|(_, n)| n.clone()).collect(),
            None => Vec::new(),
        };
        self.known = Some(now);
        self.last = Some(marks);
        Ok(Some((snap, changed)))
    }
}
