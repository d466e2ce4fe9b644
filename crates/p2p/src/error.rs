use std::time::Duration;

use libp2p::identity::KeyType;
use libp2p::{Multiaddr, PeerId};

/// Everything that can go wrong when starting or using the network.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The node key is not ed25519.
    #[error("node key is {0:?}, expected an ed25519 key")]
    KeyType(KeyType),
    /// An address that is not IP and TCP.
    #[error("{role} address {addr} is not /ip4|ip6/<ip>/tcp/<port>")]
    Address { role: &'static str, addr: Multiaddr },
    /// The peer list names this node.
    #[error("peer {0} is this node itself; remove it from the peer list")]
    SelfInPeers(PeerId),
    /// The peer list names a peer twice.
    #[error("peer {0} is listed twice")]
    DuplicatePeer(PeerId),
    /// The message size limit is out of range.
    #[error("max_message_bytes {value} is out of range 1..={max}")]
    MessageBound { value: usize, max: usize },
    /// The duplicate window is below 1 s.
    #[error("duplicate window {0:?} is shorter than 1 s")]
    DuplicateWindow(Duration),
    /// The reconnect backoff bounds are zero or reversed.
    #[error("reconnect backoff min {min:?} must be non-zero and at most max {max:?}")]
    Backoff { min: Duration, max: Duration },
    /// A per-peer limit is zero.
    #[error("per-peer limits {0:?} must all be at least 1")]
    PeerLimits(crate::PeerLimits),
    /// gossipsub refused its configuration.
    #[error("gossipsub rejected its configuration: {0}")]
    Gossipsub(String),
    /// The libp2p transport cannot be built.
    #[error("cannot build the libp2p transport: {0}")]
    Transport(String),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: Multiaddr, reason: String },
    /// A message to publish exceeds the size limit.
    #[error("message of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    /// Too many messages wait for a subscribed peer.
    #[error("publish queue is full: {capacity} messages are waiting for a subscribed peer")]
    QueueFull { capacity: usize },
    /// gossipsub refused to publish.
    #[error("publishing failed: {0}")]
    Publish(String),
    /// The network task is gone.
    #[error("the network task has stopped")]
    Stopped,
}
