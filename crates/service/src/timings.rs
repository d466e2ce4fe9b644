//! What the node's tasks measure about themselves, for `/metrics` only: how long closing a
//! report took, how long after this member had its own report a quorum certificate existed,
//! and what its accepted submissions cost. Times are `tokio::time` instants, so a test under
//! paused time reads exact durations; nothing here feeds a report or a notification.

use claystack_primitives::ReportId;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Own reports waiting for their certificate: a bound, so reports that never reach a quorum
/// (a member out of step) cannot grow the map.
const PENDING: usize = 64;

/// The latest of each measurement (`None` until first measured).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimingsReading {
    /// Wall time of the last report close (inputs measured, report computed, stored), ms.
    pub report_close_ms: Option<u64>,
    /// From this member handing its report to the driver to the first quorum certificate of
    /// it, ms (the last report that reached one; a quorum formed by the others before this
    /// member had its report is not timed).
    pub time_to_quorum_ms: Option<u64>,
    /// Reports this member's transactions got accepted, a running total.
    pub submissions: u64,
    /// Gas of this member's last accepted submission.
    pub submission_gas_used: Option<u64>,
}

/// Shared by the node's tasks; read by the API through the binary's probe.
#[derive(Debug, Default)]
pub struct Timings {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    sent: BTreeMap<ReportId, Instant>,
    reading: TimingsReading,
}

impl Timings {
    pub fn reading(&self) -> TimingsReading {
        self.lock().reading
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn closed(&self, took: Duration) {
        self.lock().reading.report_close_ms = Some(millis(took));
    }

    /// This member handed report `id` to the driver (its first time only counts).
    pub(crate) fn own_report(&self, id: ReportId) {
        let mut inner = self.lock();
        inner.sent.entry(id).or_insert_with(Instant::now);
        while inner.sent.len() > PENDING {
            inner.sent.pop_first();
        }
    }

    /// A certificate of report `id` exists: its time to quorum, if this member sent it.
    pub(crate) fn certificate(&self, id: ReportId) {
        let mut inner = self.lock();
        if let Some(sent) = inner.sent.remove(&id) {
            inner.reading.time_to_quorum_ms = Some(millis(sent.elapsed()));
        }
    }

    pub(crate) fn accepted(&self, gas_used: u64) {
        let mut inner = self.lock();
        inner.reading.submissions += 1;
        inner.reading.submission_gas_used = Some(gas_used);
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
