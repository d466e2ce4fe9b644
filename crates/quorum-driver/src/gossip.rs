//! What the driver needs of the gossip network, so a committee can run in one process.

use claystack_p2p::{MessageId, NetworkError, NetworkHandle, PeerId, Published, Verdict};
use futures::future::BoxFuture;

/// The two things the driver asks of the network: send an own signature message to the
/// committee, and pass on its verdict on a received one (gossipsub forwards a message
/// only once it is accepted). Received messages come in as `NetworkEvent`s on a channel.
///
/// Implemented for the libp2p [`NetworkHandle`]; tests use an in-memory hub.
pub trait Gossip: Send + Sync {
    /// Publishes `data` on the committee topic.
    fn publish(&self, data: Vec<u8>) -> BoxFuture<'_, Result<Published, NetworkError>>;

    /// Reports the verdict on the delivery `id` that `source` handed over.
    fn validate(&self, id: MessageId, source: PeerId, verdict: Verdict) -> BoxFuture<'_, Result<(), NetworkError>>;
}

impl Gossip for NetworkHandle {
    fn publish(&self, data: Vec<u8>) -> BoxFuture<'_, Result<Published, NetworkError>> {
        Box::pin(NetworkHandle::publish(self, data))
    }

    fn validate(&self, id: MessageId, source: PeerId, verdict: Verdict) -> BoxFuture<'_, Result<(), NetworkError>> {
        Box::pin(NetworkHandle::validate(self, id, source, verdict))
    }
}
