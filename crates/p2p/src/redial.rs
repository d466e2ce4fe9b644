//! When to dial which committee member: a state machine without I/O.
//!
//! The driver tells it what happened (connected, subscribed, disconnected,
//! dial failed) and asks it which peers are due and when the next one will
//! be. Delays grow exponentially from `min` to `max` per peer. They reset only
//! when the peer proves useful by subscribing to our topic, not on a bare
//! connection: a member that accepts the TCP/noise handshake and then drops
//! us (because we are not on its allowlist) is backed off like a failed dial,
//! instead of being redialled in a tight loop.
//!
//! Both ends of a pair know each other, so both would dial at once and open
//! two connections. To avoid that the peer with the smaller id dials first and
//! the other waits one `min` before its first attempt: by then the inbound
//! connection has usually arrived and its dial is skipped. If the other side
//! does not list us (or is down), the wait costs one `min`, nothing more.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use libp2p::PeerId;

#[derive(Debug)]
struct PeerState {
    connected: bool,
    dialing: bool,
    /// The current connection has seen the peer subscribe.
    healthy: bool,
    /// Failed dials and useless connections since the last healthy one.
    failures: u32,
    /// When to dial next, if disconnected and not dialing.
    next: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct Redialer {
    local: PeerId,
    min: Duration,
    max: Duration,
    peers: BTreeMap<PeerId, PeerState>,
}

impl Redialer {
    pub(crate) fn new(
        local: PeerId,
        peers: impl IntoIterator<Item = PeerId>,
        min: Duration,
        max: Duration,
        now: Instant,
    ) -> Self {
        let mut redialer = Self { local, min, max, peers: BTreeMap::new() };
        for peer in peers {
            let next = Some(now + redialer.polite_wait(&peer));
            redialer
                .peers
                .insert(peer, PeerState { connected: false, dialing: false, healthy: false, failures: 0, next });
        }
        redialer
    }

    /// The delay before the next attempt after `failures` failed dials:
    /// 0, min, 2·min, 4·min, … capped at max.
    pub(crate) fn backoff(&self, failures: u32) -> Duration {
        match failures {
            0 => Duration::ZERO,
            n => self.min.saturating_mul(1u32 << (n - 1).min(30)).min(self.max),
        }
    }

    fn polite_wait(&self, peer: &PeerId) -> Duration {
        if self.local < *peer {
            Duration::ZERO
        } else {
            self.min
        }
    }

    /// Peers whose dial is due at `now`; they are marked as being dialled.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<PeerId> {
        let mut due = Vec::new();
        for (peer, state) in &mut self.peers {
            if !state.connected && !state.dialing && state.next.is_some_and(|t| t <= now) {
                state.dialing = true;
                state.next = None;
                due.push(*peer);
            }
        }
        due
    }

    /// When the next dial is due, if any member is disconnected.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.peers.values().filter(|s| !s.connected && !s.dialing).filter_map(|s| s.next).min()
    }

    /// The first connection to `peer` is up.
    pub(crate) fn connected(&mut self, peer: &PeerId) {
        if let Some(state) = self.peers.get_mut(peer) {
            state.connected = true;
            state.dialing = false;
            state.healthy = false;
            state.next = None;
        }
    }

    /// `peer` subscribed to our topic: the connection works.
    pub(crate) fn healthy(&mut self, peer: &PeerId) {
        if let Some(state) = self.peers.get_mut(peer) {
            state.healthy = true;
            state.failures = 0;
        }
    }

    /// The last connection to `peer` closed. After a healthy connection the
    /// first redial is immediate; after a useless one it backs off. Returns
    /// whether the connection had been healthy.
    pub(crate) fn disconnected(&mut self, peer: &PeerId, now: Instant) -> bool {
        let Some(state) = self.peers.get(peer) else { return false };
        let was_healthy = state.healthy;
        let failures = if state.healthy { 0 } else { state.failures.saturating_add(1) };
        let next = now + self.backoff(failures) + self.polite_wait(peer);
        let state = self.peers.get_mut(peer).expect("checked above");
        state.connected = false;
        state.healthy = false;
        state.failures = failures;
        if !state.dialing {
            state.next = Some(next);
        }
        was_healthy
    }

    /// A dial to `peer` failed (or could not start).
    pub(crate) fn dial_failed(&mut self, peer: &PeerId, now: Instant) {
        let Some(failures) = self.peers.get(peer).map(|s| s.failures.saturating_add(1)) else { return };
        let delay = self.backoff(failures) + self.polite_wait(peer);
        let state = self.peers.get_mut(peer).expect("checked above");
        state.dialing = false;
        if !state.connected {
            state.failures = failures;
            state.next = Some(now + delay);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::identity::Keypair;

    const MIN: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_millis(1000);

    fn peer() -> PeerId {
        Keypair::generate_ed25519().public().to_peer_id()
    }

    /// A local id and a remote one that sorts after it (we dial first).
    fn ordered_pair() -> (PeerId, PeerId) {
        let (a, b) = (peer(), peer());
        if a < b {
            (a, b)
        } else {
            (b, a)
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let r = Redialer::new(peer(), [], MIN, MAX, Instant::now());
        let delays: Vec<u64> = (0..7).map(|f| r.backoff(f).as_millis() as u64).collect();
        assert_eq!(delays, [0, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(r.backoff(u32::MAX), MAX);
    }

    #[test]
    fn smaller_id_dials_at_once_the_other_waits_one_min() {
        let (small, large) = ordered_pair();
        let start = Instant::now();
        let mut r = Redialer::new(small, [large], MIN, MAX, start);
        assert_eq!(r.due(start), vec![large]);

        let mut r = Redialer::new(large, [small], MIN, MAX, start);
        assert!(r.due(start).is_empty());
        assert_eq!(r.next_deadline(), Some(start + MIN));
        assert_eq!(r.due(start + MIN), vec![small]);
    }

    #[test]
    fn failures_back_off_then_connection_resets() {
        let (local, remote) = ordered_pair();
        let t0 = Instant::now();
        let mut r = Redialer::new(local, [remote], MIN, MAX, t0);
        assert_eq!(r.due(t0), vec![remote]);
        assert!(r.due(t0).is_empty(), "a peer being dialled is not due again");
        assert_eq!(r.next_deadline(), None);

        r.dial_failed(&remote, t0);
        assert_eq!(r.next_deadline(), Some(t0 + MIN));
        assert!(r.due(t0 + MIN / 2).is_empty());
        assert_eq!(r.due(t0 + MIN), vec![remote]);
        r.dial_failed(&remote, t0 + MIN);
        assert_eq!(r.next_deadline(), Some(t0 + 3 * MIN));

        r.connected(&remote);
        r.healthy(&remote);
        assert_eq!(r.next_deadline(), None);
        let t1 = t0 + Duration::from_secs(10);
        assert!(r.disconnected(&remote, t1));
        assert_eq!(r.due(t1), vec![remote], "after a healthy connection the first redial is immediate");
        r.dial_failed(&remote, t1);
        assert_eq!(r.next_deadline(), Some(t1 + MIN), "failures were reset by the healthy connection");
    }

    #[test]
    fn a_connection_that_never_subscribes_counts_as_a_failure() {
        let (local, remote) = ordered_pair();
        let t0 = Instant::now();
        let mut r = Redialer::new(local, [remote], MIN, MAX, t0);
        let mut now = t0;
        let mut waits = Vec::new();
        for _ in 0..5 {
            assert_eq!(r.due(now), vec![remote]);
            r.connected(&remote);
            assert!(!r.disconnected(&remote, now));
            let next = r.next_deadline().unwrap();
            waits.push((next - now).as_millis() as u64);
            now = next;
        }
        assert_eq!(waits, [100, 200, 400, 800, 1000]);
    }

    #[test]
    fn a_failed_dial_while_connected_inbound_changes_nothing() {
        let (local, remote) = ordered_pair();
        let now = Instant::now();
        let mut r = Redialer::new(local, [remote], MIN, MAX, now);
        r.due(now);
        r.connected(&remote);
        r.dial_failed(&remote, now);
        assert_eq!(r.next_deadline(), None);
        assert!(r.due(now + MAX).is_empty());
    }

    #[test]
    fn unknown_peers_are_ignored() {
        let mut r = Redialer::new(peer(), [], MIN, MAX, Instant::now());
        let stranger = peer();
        r.connected(&stranger);
        r.disconnected(&stranger, Instant::now());
        r.dial_failed(&stranger, Instant::now());
        assert_eq!(r.next_deadline(), None);
    }
}
