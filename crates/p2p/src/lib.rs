//! Committee-only gossip for the oracle: a libp2p node that moves the
//! committee's signature messages between its members.
//!
//! The crate is payload-agnostic. It carries opaque bytes, at most
//! `max_message_bytes` of them, on one gossipsub topic scoped to the chain and
//! the committee; it never interprets them. Each received message is handed
//! to the application, which answers [`Verdict::Accept`], `Reject` or
//! `Ignore`; nothing is forwarded before it is accepted. Only the members
//! listed in [`P2pConfig::peers`] may connect: a connection from any other
//! peer id is refused after the noise handshake, before any protocol runs.
//! Members that are not connected are redialled with exponential backoff.
//! Each member has its own rate and its own share of the buffer of messages
//! waiting for a verdict (see `admission`), so one member's flood neither
//! crowds out the others nor costs more than a map lookup per message.
//!
//! It must never log or print the node's keypair, and never learn peers from
//! the network: the committee is fixed by genesis.
//!
//! See `docs/p2p.md` for the topology, the gossipsub parameters and why.

mod admission;
mod behaviour;
mod config;
mod error;
mod network;
mod outbox;
mod redial;

pub use admission::{PeerLimits, BAN, BAN_AFTER};
pub use behaviour::{message_id, PROTOCOL_VERSION};
pub use config::{
    P2pConfig, TopicScope, DEFAULT_BACKOFF_MAX, DEFAULT_BACKOFF_MIN, DEFAULT_DUPLICATE_WINDOW,
    DEFAULT_MAX_MESSAGE_BYTES, MAX_MAX_MESSAGE_BYTES,
};
pub use error::NetworkError;
pub use network::{Network, NetworkEvent, NetworkHandle, NetworkStatus, Published, Verdict, PEER_EVENT_ROOM};
pub use outbox::OUTBOX_CAPACITY;

// The libp2p types of the API, so that users need not depend on libp2p.
pub use libp2p::gossipsub::MessageId;
pub use libp2p::identity::Keypair;
pub use libp2p::{Multiaddr, PeerId};
