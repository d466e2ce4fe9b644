//! Prometheus metrics, `claystack_oracle_*`, in the OpenMetrics text format at `/metrics`.
//!
//! The gauges are set from each snapshot (what the store says), the counters by the API
//! itself. What the node cannot measure yet is listed in docs/api.md.

use crate::view::Snapshot;
use claystack_notify::Kind;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

pub struct Metrics {
    registry: Registry,
    next_epoch: Gauge,
    latest_report: Gauge,
    accepted_report: Gauge,
    peer_signatures: Gauge,
    own_signature: Gauge,
    certificate: Gauge,
    submission: Gauge,
    degraded: Gauge,
    notifications: Family<Labels, Gauge>,
    refresh_errors: Counter,
    requests: Family<Labels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("claystack_oracle");
        let m = Metrics {
            next_epoch: Gauge::default(),
            latest_report: Gauge::default(),
            accepted_report: Gauge::default(),
            peer_signatures: Gauge::default(),
            own_signature: Gauge::default(),
            certificate: Gauge::default(),
            submission: Gauge::default(),
            degraded: Gauge::default(),
            notifications: Family::default(),
            refresh_errors: Counter::default(),
            requests: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "accounting_next_epoch",
            "The next beacon epoch accounting will account (every epoch before it is accounted)",
            m.next_epoch.clone(),
        );
        registry.register("report_latest", "The latest rewards report this node closed", m.latest_report.clone());
        registry.register(
            "report_accepted",
            "The highest rewards report the NodeManager accepted, as last read (0: none or no RPC)",
            m.accepted_report.clone(),
        );
        registry.register(
            "signatures_seen",
            "Peer signatures stored for the latest rewards report",
            m.peer_signatures.clone(),
        );
        registry.register("signed", "1 when this member signed the latest rewards report", m.own_signature.clone());
        registry.register(
            "certificate",
            "1 when a quorum certificate of the latest rewards report is stored",
            m.certificate.clone(),
        );
        registry.register(
            "submission",
            "1 when this member recorded a submission of the latest rewards report",
            m.submission.clone(),
        );
        registry.register("degraded", "1 while the node is degraded (see /health)", m.degraded.clone());
        registry.register("notifications_active", "Active notifications by kind", m.notifications.clone());
        registry.register(
            "api_refresh_errors",
            "Times the API could not read the store to refresh its view",
            m.refresh_errors.clone(),
        );
        registry.register("api_requests", "API requests answered, by status code", m.requests.clone());
        Metrics { registry, ..m }
    }

    /// Sets the gauges from a snapshot.
    pub fn observe(&self, snap: &Snapshot) {
        self.next_epoch.set(snap.next_epoch.map_or(0, |e| e as i64));
        self.latest_report.set(snap.latest_report as i64);
        self.accepted_report.set(snap.accepted as i64);
        self.peer_signatures.set(snap.committee.peer_signatures as i64);
        self.own_signature.set(i64::from(snap.committee.own_signature));
        self.certificate.set(i64::from(snap.committee.certificate));
        self.submission.set(i64::from(snap.committee.submission));
        for kind in Kind::ALL {
            let active = snap.notifications.iter().filter(|n| n.kind == kind && n.resolved_at.is_none()).count();
            self.notifications.get_or_create(&vec![("kind".into(), kind.name().into())]).set(active as i64);
        }
    }

    pub fn set_degraded(&self, degraded: bool) {
        self.degraded.set(i64::from(degraded));
    }

    pub fn refresh_failed(&self) {
        self.refresh_errors.inc();
    }

    pub fn request(&self, status: u16) {
        self.requests.get_or_create(&vec![("code".into(), status.to_string())]).inc();
    }

    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
