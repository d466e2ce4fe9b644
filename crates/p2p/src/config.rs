//! What a node needs to join its committee's gossip: who it is, where it
//! listens, which members it dials (and accepts), and the topic they share.

use std::fmt;
use std::time::Duration;

use libp2p::identity::{KeyType, Keypair};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use crate::admission::PeerLimits;
use crate::error::NetworkError;

/// Default bound on one message's payload: a committee signature message (a
/// 96-byte BLS signature, a 32-byte root, a report hash and a few numbers) is
/// a few hundred bytes; 4 KiB leaves room for growth and nothing for abuse.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4096;

/// The largest payload bound we accept in a configuration. Gossipsub keeps
/// every message for a few heartbeats, so the bound is also a memory bound.
pub const MAX_MAX_MESSAGE_BYTES: usize = 1 << 20;

/// How long a message id is remembered: the same bytes again within this
/// window are dropped by receivers and refused ([`crate::Published::Duplicate`])
/// to the publisher. It must outlast a message's time in flight (a second on a
/// LAN or WAN, at most the 10 s validation window) and stay below the
/// application's rebroadcast interval (15 s in `claystack-quorum`), or the
/// rebroadcasts that let a restarted member catch up would never leave.
pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(12);

/// First redial delay after a failed dial.
pub const DEFAULT_BACKOFF_MIN: Duration = Duration::from_secs(1);

/// Longest redial delay: a member that was down for an hour is dialled at
/// least once a minute (it also dials us itself when it comes back).
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// The chain and committee a gossip topic belongs to, so that two committees
/// (or a testnet and mainnet) never exchange messages even if wired together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicScope {
    /// EIP-155 chain id of the chain the reports are submitted to.
    pub chain_id: u64,
    /// A hash that pins the committee, e.g. the genesis hash.
    pub committee_hash: [u8; 32],
}

impl TopicScope {
    /// The gossipsub topic name: `claystack/<chain_id>/<first 8 bytes of the
    /// committee hash in hex>/signatures/2`. The trailing number is the wire
    /// version of the messages carried on it.
    pub fn topic_name(&self) -> String {
        format!("claystack/{}/{}/signatures/2", self.chain_id, hex::encode(&self.committee_hash[..8]))
    }
}

/// Configuration of one node's network.
#[derive(Clone)]
pub struct P2pConfig {
    /// Address to listen on, `/ip4/<ip>/tcp/<port>`; port 0 picks a free port
    /// (the bound address is returned by [`crate::NetworkHandle::listen_addr`]).
    pub listen: Multiaddr,
    /// The node's libp2p identity (ed25519). Never printed or logged.
    pub keypair: Keypair,
    /// The committee members this node dials, with their addresses. Their peer
    /// ids are also the allowlist: a connection with any other peer is refused.
    pub peers: Vec<(PeerId, Multiaddr)>,
    /// Execution chain id and committee the topic is scoped to.
    pub scope: TopicScope,
    /// Largest payload accepted, published or forwarded, in bytes.
    pub max_message_bytes: usize,
    /// How long the same bytes count as a duplicate (see [`DEFAULT_DUPLICATE_WINDOW`]).
    pub duplicate_window: Duration,
    /// First delay before redialling a member after a failed dial.
    pub backoff_min: Duration,
    /// Largest delay between redials; the delay doubles from `backoff_min`.
    pub backoff_max: Duration,
    /// Each peer's rate and share of the messages waiting for a verdict.
    pub peer_limits: PeerLimits,
}

impl P2pConfig {
    /// A configuration with the default size bound and backoff.
    pub fn new(listen: Multiaddr, keypair: Keypair, peers: Vec<(PeerId, Multiaddr)>, scope: TopicScope) -> Self {
        let peer_limits = PeerLimits::for_committee(peers.len() + 1);
        Self {
            listen,
            keypair,
            peers,
            scope,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            duplicate_window: DEFAULT_DUPLICATE_WINDOW,
            backoff_min: DEFAULT_BACKOFF_MIN,
            backoff_max: DEFAULT_BACKOFF_MAX,
            peer_limits,
        }
    }

    /// The peer id derived from the keypair.
    pub fn local_peer_id(&self) -> PeerId {
        self.keypair.public().to_peer_id()
    }

    /// Checks what the swarm would otherwise reject late or silently.
    pub fn validate(&self) -> Result<(), NetworkError> {
        if self.keypair.key_type() != KeyType::Ed25519 {
            return Err(NetworkError::KeyType(self.keypair.key_type()));
        }
        check_tcp_addr(&self.listen, "listen")?;
        let local = self.local_peer_id();
        let mut seen = std::collections::BTreeSet::new();
        for (peer, addr) in &self.peers {
            if *peer == local {
                return Err(NetworkError::SelfInPeers(*peer));
            }
            if !seen.insert(*peer) {
                return Err(NetworkError::DuplicatePeer(*peer));
            }
            check_tcp_addr(addr, "peer")?;
        }
        if self.max_message_bytes == 0 || self.max_message_bytes > MAX_MAX_MESSAGE_BYTES {
            return Err(NetworkError::MessageBound { value: self.max_message_bytes, max: MAX_MAX_MESSAGE_BYTES });
        }
        if self.duplicate_window < Duration::from_secs(1) {
            return Err(NetworkError::DuplicateWindow(self.duplicate_window));
        }
        if self.backoff_min.is_zero() || self.backoff_min > self.backoff_max {
            return Err(NetworkError::Backoff { min: self.backoff_min, max: self.backoff_max });
        }
        let l = self.peer_limits;
        if l.burst == 0 || l.rate_per_s == 0 || l.share == 0 {
            return Err(NetworkError::PeerLimits(l));
        }
        Ok(())
    }
}

/// Only the peer id is shown: the keypair stays out of logs and panics.
impl fmt::Debug for P2pConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("P2pConfig")
            .field("listen", &self.listen)
            .field("local_peer_id", &self.local_peer_id())
            .field("peers", &self.peers)
            .field("scope", &self.scope)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("duplicate_window", &self.duplicate_window)
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .field("peer_limits", &self.peer_limits)
            .finish()
    }
}

/// `/ip4|ip6/<ip>/tcp/<port>[/p2p/<id>]` and nothing else: the transport is
/// plain TCP and there is no DNS resolver (committee addresses are pinned).
fn check_tcp_addr(addr: &Multiaddr, role: &'static str) -> Result<(), NetworkError> {
    let mut parts = addr.iter();
    let host_ok = matches!(parts.next(), Some(Protocol::Ip4(_) | Protocol::Ip6(_)));
    let tcp_ok = matches!(parts.next(), Some(Protocol::Tcp(_)));
    let rest_ok = matches!(parts.next(), None | Some(Protocol::P2p(_))) && parts.next().is_none();
    if host_ok && tcp_ok && rest_ok {
        Ok(())
    } else {
        Err(NetworkError::Address { role, addr: addr.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> TopicScope {
        let mut committee_hash = [0u8; 32];
        committee_hash[..8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03]);
        TopicScope { chain_id: 17000, committee_hash }
    }

    fn config() -> P2pConfig {
        let peer = Keypair::generate_ed25519().public().to_peer_id();
        P2pConfig::new(
            "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
            Keypair::generate_ed25519(),
            vec![(peer, "/ip4/127.0.0.1/tcp/9000".parse().unwrap())],
            scope(),
        )
    }

    #[test]
    fn topic_name_is_scoped_to_chain_and_committee() {
        assert_eq!(scope().topic_name(), "claystack/17000/deadbeef00010203/signatures/2");
    }

    #[test]
    fn default_config_is_valid() {
        config().validate().unwrap();
    }

    #[test]
    fn rejects_self_duplicates_bad_addresses_and_bounds() {
        let mut c = config();
        c.peers.push((c.local_peer_id(), "/ip4/127.0.0.1/tcp/1".parse().unwrap()));
        assert!(matches!(c.validate(), Err(NetworkError::SelfInPeers(_))));

        let mut c = config();
        c.peers.push(c.peers[0].clone());
        assert!(matches!(c.validate(), Err(NetworkError::DuplicatePeer(_))));

        let mut c = config();
        c.listen = "/ip4/127.0.0.1/udp/9000/quic-v1".parse().unwrap();
        assert!(matches!(c.validate(), Err(NetworkError::Address { role: "listen", .. })));

        let mut c = config();
        c.max_message_bytes = 0;
        assert!(matches!(c.validate(), Err(NetworkError::MessageBound { .. })));

        let mut c = config();
        c.duplicate_window = Duration::from_millis(100);
        assert!(matches!(c.validate(), Err(NetworkError::DuplicateWindow(_))));

        let mut c = config();
        c.backoff_min = Duration::from_secs(10);
        c.backoff_max = Duration::from_secs(1);
        assert!(matches!(c.validate(), Err(NetworkError::Backoff { .. })));
    }

    #[test]
    fn debug_never_shows_the_secret_key() {
        let c = config();
        let secret = c.keypair.clone().try_into_ed25519().unwrap().to_bytes();
        let shown = format!("{c:?}");
        assert!(shown.contains(&c.local_peer_id().to_string()));
        assert!(!shown.contains(&hex::encode(&secret[..32])));
        assert!(!shown.contains("Keypair"));
    }
}
