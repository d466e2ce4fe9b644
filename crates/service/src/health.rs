//! The node's health: `Ok`, or `Degraded` since when and why, as a `watch` channel that an
//! HTTP layer (or a test) reads ([`crate::Node::health`]).
//!
//! Parts of the node (accounting, closing reports) report their own trouble by name; the
//! node is degraded while any part is. Each change is logged once — a warn line when a part
//! gets into trouble, an info line when it is out of it — never once per poll: a beacon node
//! that is down for an hour is one warn line and one info line, not thousands.

use claystack_quorum_driver::Clock;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tracing::{info, warn};

/// The node's health as a later HTTP `/health` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Every part works.
    Ok,
    /// A part keeps failing and retries; the node still runs (gossip, signing, submission).
    Degraded {
        /// When the node became degraded, in the node clock's milliseconds (Unix time for a
        /// running node).
        since_ms: u64,
        /// `part: problem` of each part in trouble, in name order, joined by `; `.
        reason: String,
    },
}

/// The one writer of the node's [`Health`]; parts call [`HealthReporter::set`].
pub(crate) struct HealthReporter {
    tx: watch::Sender<Health>,
    clock: Arc<dyn Clock>,
    /// Each part in trouble, with its problem.
    troubled: Mutex<BTreeMap<&'static str, String>>,
}

impl HealthReporter {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> HealthReporter {
        HealthReporter { tx: watch::Sender::new(Health::Ok), clock, troubled: Mutex::new(BTreeMap::new()) }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Health> {
        self.tx.subscribe()
    }

    /// `part` is in trouble (`Some(problem)`) or fine (`None`). Logs and publishes only
    /// when that changes whether the part is in trouble (a new problem text of a part
    /// already in trouble updates the reason without a log line).
    pub(crate) fn set(&self, part: &'static str, problem: Option<String>) {
        let mut troubled = self.troubled.lock().expect("the health lock is never held across a panic");
        match problem {
            Some(problem) => match troubled.insert(part, problem.clone()) {
                None => warn!(part, "node degraded: {problem}; it keeps running and retries"),
                Some(old) if old == problem => return,
                Some(_) => {}
            },
            None => {
                if troubled.remove(part).is_none() {
                    return;
                }
                if troubled.is_empty() {
                    info!(part, "recovered; node healthy again");
                } else {
                    info!(part, "recovered");
                }
            }
        }
        let health = if troubled.is_empty() {
            Health::Ok
        } else {
            let since_ms = match &*self.tx.borrow() {
                Health::Degraded { since_ms, .. } => *since_ms,
                Health::Ok => self.clock.now_ms(),
            };
            let reason = troubled.iter().map(|(part, problem)| format!("{part}: {problem}")).collect::<Vec<_>>();
            Health::Degraded { since_ms, reason: reason.join("; ") }
        };
        self.tx.send_replace(health);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use claystack_quorum_driver::TokioClock;

    #[tokio::test(start_paused = true)]
    async fn degraded_while_any_part_is_in_trouble_since_the_first_of_them() {
        let clock = Arc::new(TokioClock::new(1_000_000));
        let health = HealthReporter::new(clock.clone());
        let mut rx = health.subscribe();
        assert_eq!(*rx.borrow_and_update(), Health::Ok);

        tokio::time::advance(std::time::Duration::from_secs(5)).await;
        let start = clock.now_ms();
        health.set("accounting", Some("beacon node unreachable".into()));
        assert!(rx.has_changed().unwrap());
        assert_eq!(
            *rx.borrow_and_update(),
            Health::Degraded { since_ms: start, reason: "accounting: beacon node unreachable".into() }
        );
        // The same problem again (every poll of an outage) changes nothing.
        health.set("accounting", Some("beacon node unreachable".into()));
        assert!(!rx.has_changed().unwrap());

        tokio::time::advance(std::time::Duration::from_secs(3)).await;
        health.set("closing reports", Some("registry read failed".into()));
        let reason = "accounting: beacon node unreachable; closing reports: registry read failed".to_string();
        assert_eq!(*rx.borrow_and_update(), Health::Degraded { since_ms: start, reason });

        health.set("accounting", None);
        assert_eq!(
            *rx.borrow_and_update(),
            Health::Degraded { since_ms: start, reason: "closing reports: registry read failed".into() }
        );
        health.set("closing reports", None);
        assert_eq!(*rx.borrow_and_update(), Health::Ok);
        // A part that was fine reporting fine again changes nothing.
        health.set("closing reports", None);
        assert!(!rx.has_changed().unwrap());
    }
}
