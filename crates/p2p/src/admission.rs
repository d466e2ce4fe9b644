//! Which received messages reach the application: per peer, a rate and a share of the
//! event buffer.
//!
//! # Why
//!
//! Gossipsub's duplicate filter works on message ids, and our ids include the publisher's
//! nonce (see `publication_id`), so a member can replay a valid signature with a fresh
//! nonce as often as it likes and every copy is a new message to validate. One shared
//! buffer in front of the application then lets that one member crowd out everyone: when
//! the buffer is full, every peer's messages are dropped. So each peer gets
//!
//! - a **rate** (a token bucket: `burst` messages at once, refilled at `rate_per_s`): a
//!   peer over it has its message rejected, which gossipsub scores as an invalid delivery,
//!   so a second offence within minutes graylists it and gossipsub itself drops what it
//!   sends (before it costs us a decode) until the penalty decays;
//! - a **ban** for a peer that keeps going: its [`BAN_AFTER`]th message over the rate
//!   before its bucket has filled up again disconnects it and refuses it for [`BAN`]. That
//!   is the point where gossipsub graylists it (two rejections): from then on its messages
//!   are dropped and it gets no publications, so the connection is worth nothing, while
//!   each message it sends still costs a decryption and a decode. A ban stops the bytes;
//! - a **share** of the buffer (`share` messages handed over and not yet judged): a peer
//!   at its share has its next message ignored (no penalty: a slow application is not the
//!   peer's fault), and the other peers' shares stay free.
//!
//! The buffer holds every peer's share, so no honest member's message is ever dropped for
//! another member's flood.
//!
//! Pure bookkeeping: the swarm driver passes the time in and carries out the decision.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::gossipsub::MessageId;
use libp2p::PeerId;

/// A message handed over and never judged is forgotten after this long: gossipsub keeps a
/// message for validation for `HISTORY_LENGTH` heartbeats (10 s), then can no longer use
/// a verdict.
pub(crate) const JUDGEMENT_WINDOW: Duration = Duration::from_secs(12);

/// How long a flooding peer is disconnected and refused.
pub const BAN: Duration = Duration::from_secs(60);

/// Messages over the rate (without a full refill in between) that ban a peer.
pub const BAN_AFTER: u32 = 2;

/// Per-peer limits; see the module doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerLimits {
    /// Messages a peer may send at once.
    pub burst: u32,
    /// Messages per second a peer may send on average.
    pub rate_per_s: u32,
    /// Messages of one peer handed to the application and not yet judged.
    pub share: usize,
}

impl PeerLimits {
    /// Limits for a committee of `members`: far above what an honest member sends (its own
    /// signature and the first copy of each other member's, per report, plus one re-gossip
    /// of every held signature per rebroadcast window), far below what a replaying member
    /// can.
    pub fn for_committee(members: usize) -> PeerLimits {
        let n = members.max(1) as u32;
        PeerLimits { burst: 64 + 16 * n, rate_per_s: 16 + 4 * n, share: 256 }
    }
}

/// What to do with a received message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Hand it to the application.
    Deliver,
    /// The peer has its share of the buffer waiting: ignore it, no penalty.
    OverShare,
    /// The peer sends faster than its rate: reject it (a penalty).
    OverRate,
    /// The peer kept sending faster than its rate: reject it and ban it for [`BAN`].
    Ban,
}

#[derive(Debug)]
struct Peer {
    /// Thousandths of a message, so refills are exact in integers.
    tokens_milli: u64,
    refilled: Instant,
    waiting: usize,
    /// Messages over the rate since the bucket was last full.
    overruns: u32,
}

#[derive(Debug)]
pub(crate) struct Admission {
    limits: PeerLimits,
    peers: HashMap<PeerId, Peer>,
    /// Messages handed over and not judged yet: who sent them, and when.
    waiting: HashMap<MessageId, (PeerId, Instant)>,
}

impl Admission {
    pub(crate) fn new(limits: PeerLimits) -> Admission {
        Admission { limits, peers: HashMap::new(), waiting: HashMap::new() }
    }

    /// The buffer size that holds every peer's share.
    pub(crate) fn buffer(limits: &PeerLimits, peers: usize) -> usize {
        limits.share.saturating_mul(peers.max(1))
    }

    /// Decides on message `id` from `source`; a delivered message counts against the
    /// peer's share until [`Admission::judged`].
    pub(crate) fn admit(&mut self, source: PeerId, id: &MessageId, now: Instant) -> Admit {
        let full = u64::from(self.limits.burst) * 1000;
        let peer =
            self.peers.entry(source).or_insert(Peer { tokens_milli: full, refilled: now, waiting: 0, overruns: 0 });
        let elapsed_ms = now.saturating_duration_since(peer.refilled).as_millis() as u64;
        // Integer refill: rate_per_s messages per 1000 ms is rate_per_s milli-messages per ms.
        peer.tokens_milli = (peer.tokens_milli + elapsed_ms * u64::from(self.limits.rate_per_s)).min(full);
        peer.refilled = now;
        if peer.tokens_milli == full {
            peer.overruns = 0;
        }
        if peer.tokens_milli < 1000 {
            peer.overruns += 1;
            if peer.overruns >= BAN_AFTER {
                peer.overruns = 0;
                return Admit::Ban;
            }
            return Admit::OverRate;
        }
        peer.tokens_milli -= 1000;
        if peer.waiting >= self.limits.share {
            return Admit::OverShare;
        }
        peer.waiting += 1;
        self.waiting.insert(id.clone(), (source, now));
        Admit::Deliver
    }

    /// The application judged `id` (or it could not be handed over): its place is free.
    pub(crate) fn judged(&mut self, id: &MessageId) {
        if let Some((source, _)) = self.waiting.remove(id) {
            if let Some(peer) = self.peers.get_mut(&source) {
                peer.waiting = peer.waiting.saturating_sub(1);
            }
        }
    }

    /// Frees the places of messages handed over longer than [`JUDGEMENT_WINDOW`] ago.
    pub(crate) fn expire(&mut self, now: Instant) {
        let old: Vec<MessageId> = self
            .waiting
            .iter()
            .filter(|(_, (_, at))| now.saturating_duration_since(*at) > JUDGEMENT_WINDOW)
            .map(|(id, _)| id.clone())
            .collect();
        for id in old {
            self.judged(&id);
        }
    }

    /// Messages of `peer` waiting for a verdict.
    #[cfg(test)]
    fn waiting_of(&self, peer: &PeerId) -> usize {
        self.peers.get(peer).map_or(0, |p| p.waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(i: u32) -> MessageId {
        MessageId::new(&i.to_be_bytes())
    }

    fn peer() -> PeerId {
        libp2p::identity::Keypair::generate_ed25519().public().to_peer_id()
    }

    const LIMITS: PeerLimits = PeerLimits { burst: 10, rate_per_s: 5, share: 4 };

    #[test]
    fn a_peer_over_its_rate_is_refused_and_refilled_with_time() {
        let mut a = Admission::new(PeerLimits { share: 100, ..LIMITS });
        let (p, t0) = (peer(), Instant::now());
        let verdicts: Vec<Admit> = (0..11).map(|i| a.admit(p, &id(i), t0)).collect();
        assert_eq!(verdicts.iter().filter(|v| **v == Admit::Deliver).count(), 10);
        assert_eq!(verdicts[10], Admit::OverRate);
        // 5 per second: one more 200 ms after the start, not before (refused: by now a ban),
        // and not two by 300 ms.
        assert_ne!(a.admit(p, &id(20), t0 + Duration::from_millis(199)), Admit::Deliver);
        assert_eq!(a.admit(p, &id(21), t0 + Duration::from_millis(300)), Admit::Deliver);
        assert_ne!(a.admit(p, &id(22), t0 + Duration::from_millis(300)), Admit::Deliver);
        // Never more than the burst, however long the peer was quiet.
        let later = t0 + Duration::from_secs(3600);
        let delivered = (100..120).filter(|i| a.admit(p, &id(*i), later) == Admit::Deliver).count();
        assert_eq!(delivered, 10);
    }

    #[test]
    fn a_peer_that_keeps_flooding_is_banned_and_one_that_pauses_is_not() {
        let mut a = Admission::new(PeerLimits { share: 1000, ..LIMITS });
        let (flooder, t0) = (peer(), Instant::now());
        let verdicts: Vec<Admit> = (0..12).map(|i| a.admit(flooder, &id(i), t0)).collect();
        // 10 delivered, one over the rate, the second overrun is a ban.
        assert_eq!(verdicts[10..], [Admit::OverRate, Admit::Ban]);
        // A peer that overruns once, then lets its bucket fill (2 s at 5/s), starts afresh.
        let (bursty, mut t) = (peer(), t0);
        for round in 0..5 {
            let verdicts: Vec<Admit> = (0..11).map(|i| a.admit(bursty, &id(1000 + round * 100 + i), t)).collect();
            assert_eq!(verdicts[10], Admit::OverRate, "round {round}");
            t += Duration::from_secs(2);
        }
    }

    #[test]
    fn one_peer_at_its_share_leaves_the_others_room() {
        let mut a = Admission::new(LIMITS);
        let (flooder, honest, t0) = (peer(), peer(), Instant::now());
        for i in 0..4 {
            assert_eq!(a.admit(flooder, &id(i), t0), Admit::Deliver);
        }
        assert_eq!(a.admit(flooder, &id(4), t0), Admit::OverShare);
        assert_eq!(a.admit(honest, &id(100), t0), Admit::Deliver);
        // A verdict frees a place.
        a.judged(&id(0));
        a.judged(&id(0));
        assert_eq!(a.waiting_of(&flooder), 3);
        assert_eq!(a.admit(flooder, &id(5), t0), Admit::Deliver);
        assert_eq!(a.waiting_of(&honest), 1);
    }

    #[test]
    fn messages_never_judged_free_their_place_after_the_window() {
        let mut a = Admission::new(LIMITS);
        let (p, t0) = (peer(), Instant::now());
        for i in 0..4 {
            a.admit(p, &id(i), t0);
        }
        a.expire(t0 + JUDGEMENT_WINDOW);
        assert_eq!(a.waiting_of(&p), 4);
        a.expire(t0 + JUDGEMENT_WINDOW + Duration::from_millis(1));
        assert_eq!(a.waiting_of(&p), 0);
        assert!(a.waiting.is_empty());
    }

    #[test]
    fn committee_limits_hold_an_honest_round_with_room_to_spare() {
        for n in [4usize, 16, 64] {
            let l = PeerLimits::for_committee(n);
            // An honest member hands over, per report, at most one copy of each signature
            // and one re-gossip of each held one: 2n, twice over for two open reports.
            assert!(l.burst as usize >= 4 * n, "{n}");
            assert!(l.share >= 4 * n, "{n}");
        }
    }
}
