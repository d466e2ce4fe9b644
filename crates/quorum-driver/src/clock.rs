//! The collector's clock, passed in so tests can run a committee under tokio's paused time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Milliseconds since the Unix epoch, as the collector reads them (rebroadcasts, submitter
/// fallback, late verification). Report content never depends on it.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
}

/// The system's wall clock: what a node runs with.
#[derive(Debug, Clone, Copy, Default)]
pub struct WallClock;

impl Clock for WallClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }
}

/// A clock that moves with `tokio::time`: `start_ms` at the instant it was made, plus the
/// tokio time elapsed since. Under paused time (`tokio::time::pause`, `advance`, or a
/// runtime with `start_paused`) it advances exactly as timers do, so a test decides when
/// a rebroadcast or a submitter's fallback is due.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start_ms: u64,
    start: Instant,
}

impl TokioClock {
    /// A clock that reads `start_ms` now.
    pub fn new(start_ms: u64) -> TokioClock {
        TokioClock { start_ms, start: Instant::now() }
    }
}

impl Clock for TokioClock {
    fn now_ms(&self) -> u64 {
        let elapsed: Duration = self.start.elapsed();
        self.start_ms + elapsed.as_millis() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_advances_with_paused_time_only() {
        let clock = TokioClock::new(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        tokio::time::advance(Duration::from_millis(250)).await;
        assert_eq!(clock.now_ms(), 1_250);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(clock.now_ms(), 61_250);
    }

    #[test]
    fn the_wall_clock_is_past_2024() {
        assert!(WallClock.now_ms() > 1_704_067_200_000);
    }
}
