use std::time::Duration;

use libp2p::identity::KeyType;
use libp2p::{Multiaddr, PeerId};

/// Everything that can go wrong when starting or using the network.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("node key is {0:?}, expected an ed25519 key")]
    KeyType(KeyType),
    #[error("{role} address {addr} is not /ip4|ip6/<ip>/tcp/<port>")]
    Address { role: &'static str, addr: Multiaddr },
    #[error("peer {0} is this node itself; remove it from the peer list")]
    SelfInPeers(PeerId),
    #[error("peer {0} is listed twice")]
    DuplicatePeer(PeerId),
    #[error("max_message_bytes {value} is out of range 1..={max}")]
    MessageBound { value: usize, max: usize },
    #[error("duplicate window {0:?} is shorter than 1 s")]
    DuplicateWindow(Duration),
    #[error("reconnect backoff min {min:?} must be non-zero and at most max {max:?}")]
    Backoff { min: Duration, max: Duration },
    #[error("gossipsub rejected its configuration: {0}")]
    Gossipsub(String),
    #[error("cannot build the libp2p transport: {0}")]
    Transport(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: Multiaddr, reason: String },
    #[error("message of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("publish queue is full: {capacity} messages are waiting for a subscribed peer")]
    QueueFull { capacity: usize },
    #[error("publishing failed: {0}")]
    Publish(String),
    #[error("the network task has stopped")]
    Stopped,
}
