//! Prometheus metrics, `claystack_oracle_*`, in the OpenMetrics text format at `/metrics`.
//!
//! The gauges are set from each snapshot (what the store says), the counters by the API
//! itself. What the node cannot measure yet is listed in docs/api.md.

use crate::view::Snapshot;
use crate::NodeReadings;
use claystack_notify::Kind;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Mutex;

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
    // The node's readings: families without labels, so each is absent until first measured.
    finalized_epoch: Family<Labels, Gauge>,
    finality_lag: Family<Labels, Gauge>,
    beacon_errors: Family<Labels, Counter>,
    rpc_errors: Family<Labels, Counter>,
    peers: Family<Labels, Gauge>,
    report_close_ms: Family<Labels, Gauge>,
    time_to_quorum_ms: Family<Labels, Gauge>,
    submissions: Family<Labels, Counter>,
    submission_gas: Family<Labels, Gauge>,
    /// The running totals last read, so the counters grow by the difference.
    totals: Mutex<(u64, u64, u64)>,
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
            finalized_epoch: Family::default(),
            finality_lag: Family::default(),
            beacon_errors: Family::default(),
            rpc_errors: Family::default(),
            peers: Family::default(),
            report_close_ms: Family::default(),
            time_to_quorum_ms: Family::default(),
            submissions: Family::default(),
            submission_gas: Family::default(),
            totals: Mutex::new((0, 0, 0)),
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
        registry.register(
            "finalized_epoch",
            "The finalized epoch the beacon node last reported to the follower",
            m.finalized_epoch.clone(),
        );
        registry.register(
            "finality_lag_epochs",
            "Epochs final enough to account and not accounted yet (0: caught up)",
            m.finality_lag.clone(),
        );
        registry.register(
            "beacon_errors",
            "Follower rounds failed by the beacon node (after the client's retries and failover)",
            m.beacon_errors.clone(),
        );
        registry.register(
            "rpc_errors",
            "Execution RPC calls that failed (transport errors, error answers, reverted calls)",
            m.rpc_errors.clone(),
        );
        registry.register("p2p_peers", "Committee peers connected over p2p", m.peers.clone());
        registry.register(
            "report_close_ms",
            "Wall time of the last report close: inputs measured, report computed and stored (ms)",
            m.report_close_ms.clone(),
        );
        registry.register(
            "time_to_quorum_ms",
            "From this member's own report to its first quorum certificate, for the last report that reached one (ms)",
            m.time_to_quorum_ms.clone(),
        );
        registry.register(
            "submissions",
            "Reports this member's transactions got accepted by the NodeManager",
            m.submissions.clone(),
        );
        registry.register(
            "submission_gas_used",
            "Gas of this member's last accepted submission",
            m.submission_gas.clone(),
        );
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

    /// Sets the node's metrics from its readings; `next_epoch` is the next epoch to account.
    pub fn observe_node(&self, r: &NodeReadings, next_epoch: Option<u64>) {
        let none: Labels = Vec::new();
        if let Some(f) = r.finalized_epoch {
            self.finalized_epoch.get_or_create(&none).set(f as i64);
            if let Some(next) = next_epoch {
                self.finality_lag.get_or_create(&none).set(finality_lag(f, next) as i64);
            }
        }
        if let Some(p) = r.peers {
            self.peers.get_or_create(&none).set(p as i64);
        }
        for (family, value) in [
            (&self.report_close_ms, r.report_close_ms),
            (&self.time_to_quorum_ms, r.time_to_quorum_ms),
            (&self.submission_gas, r.submission_gas_used),
        ] {
            if let Some(v) = value {
                family.get_or_create(&none).set(i64::try_from(v).unwrap_or(i64::MAX));
            }
        }
        let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        // A running total only grows; one that went down (a restarted part) starts over.
        let grow = |counter: &Counter, last: &mut u64, now: u64| {
            counter.inc_by(now.checked_sub(*last).unwrap_or(now));
            *last = now;
        };
        grow(&self.beacon_errors.get_or_create(&none), &mut totals.0, r.beacon_errors);
        if let Some(rpc) = r.rpc_errors {
            grow(&self.rpc_errors.get_or_create(&none), &mut totals.1, rpc);
        }
        if let Some(submitted) = r.submissions {
            grow(&self.submissions.get_or_create(&none), &mut totals.2, submitted);
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

/// Epochs final enough to account and not accounted yet: accounting epoch `e` needs `e + 1`'s
/// blocks and one after them final, so with `finalized` it can reach `finalized - 2`; with
/// `next` the next epoch to account, `finalized - 1 - next` of them wait (never below 0).
pub fn finality_lag(finalized: u64, next: u64) -> u64 {
    finalized.saturating_sub(next.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_zero_when_caught_up_and_counts_the_final_epochs_left() {
        // The follower waits while next + 2 > finalized: caught up at next = finalized - 1.
        assert_eq!(finality_lag(10, 9), 0);
        assert_eq!(finality_lag(10, 10), 0, "finality behind the accounted epochs is no lag");
        assert_eq!(finality_lag(10, 8), 1, "epoch 8 can be accounted");
        assert_eq!(finality_lag(10, 0), 9, "epochs 0..=8");
        assert_eq!(finality_lag(0, u64::MAX), 0);
    }

    /// The sample line of metric `name`, written without the empty label set (`name{} 3`,
    /// as prometheus-client writes a family's unlabelled member, reads `name 3`).
    fn line(text: &str, name: &str) -> Option<String> {
        text.lines()
            .map(|l| l.replacen("{} ", " ", 1))
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
    }

    #[test]
    fn node_readings_appear_once_measured_and_counters_grow_by_the_difference() {
        let m = Metrics::new();
        let text = m.render();
        let timed = ["report_close_ms", "time_to_quorum_ms", "submissions_total", "submission_gas_used"];
        let names = ["finalized_epoch", "finality_lag_epochs", "beacon_errors_total", "rpc_errors_total", "p2p_peers"];
        for name in names.iter().chain(&timed) {
            assert!(line(&text, &format!("claystack_oracle_{name}")).is_none(), "{name} before any reading:\n{text}");
        }
        let r = NodeReadings {
            finalized_epoch: Some(20),
            beacon_errors: 3,
            rpc_errors: Some(5),
            peers: Some(2),
            report_close_ms: Some(840),
            time_to_quorum_ms: Some(1250),
            submissions: Some(1),
            submission_gas_used: Some(253_264),
        };
        m.observe_node(&r, Some(15));
        m.observe_node(&NodeReadings { beacon_errors: 7, rpc_errors: Some(5), submissions: Some(3), ..r }, Some(16));
        let text = m.render();
        for (name, value) in [
            ("finalized_epoch", "20"),
            ("finality_lag_epochs", "3"),
            ("beacon_errors_total", "7"),
            ("rpc_errors_total", "5"),
            ("p2p_peers", "2"),
            ("report_close_ms", "840"),
            ("time_to_quorum_ms", "1250"),
            ("submissions_total", "3"),
            ("submission_gas_used", "253264"),
        ] {
            let want = format!("claystack_oracle_{name} {value}");
            assert_eq!(line(&text, &format!("claystack_oracle_{name}")), Some(want), "{text}");
        }
        // An observer: no peers, no RPC; a part that restarted its count.
        let m = Metrics::new();
        m.observe_node(&NodeReadings { finalized_epoch: Some(4), beacon_errors: 5, ..NodeReadings::default() }, None);
        m.observe_node(&NodeReadings { finalized_epoch: Some(4), beacon_errors: 2, ..NodeReadings::default() }, None);
        let text = m.render();
        assert_eq!(
            line(&text, "claystack_oracle_beacon_errors_total").as_deref(),
            Some("claystack_oracle_beacon_errors_total 7")
        );
        for name in ["finality_lag_epochs", "rpc_errors_total", "p2p_peers"].iter().chain(&timed) {
            assert!(line(&text, &format!("claystack_oracle_{name}")).is_none(), "{name}:\n{text}");
        }
    }
}
