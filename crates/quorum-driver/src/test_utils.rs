//! Test support (feature `test-utils`): an in-memory gossip hub that connects several
//! members' drivers in one process, with no sockets, so a committee runs under tokio's
//! paused time.

use crate::Gossip;
use claystack_p2p::{Keypair, MessageId, NetworkError, NetworkEvent, PeerId, Published, Verdict};
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;

/// Deliveries a member has not taken yet, at most this many (as the p2p layer's buffer).
const EVENT_BUFFER: usize = 1024;

/// A deterministic libp2p peer id for member `index`, for genesis files in tests.
pub fn member_peer_id(index: usize) -> PeerId {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(index as u64 + 1).to_be_bytes());
    Keypair::ed25519_from_bytes(seed).expect("32 bytes").public().to_peer_id()
}

/// A full mesh of members in memory. A publication reaches every other member connected
/// at that moment, at once; a member that joins later gets only what is published after
/// (rebroadcasts), as on the real network. Every publication and verdict is kept, for
/// tests to inspect.
#[derive(Clone, Default)]
pub struct GossipHub {
    state: Arc<Mutex<HubState>>,
}

#[derive(Default)]
struct HubState {
    members: BTreeMap<PeerId, mpsc::Sender<NetworkEvent>>,
    next_id: u64,
    published: Vec<(PeerId, Vec<u8>)>,
    verdicts: Vec<HubVerdict>,
}

/// A verdict a member gave on a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubVerdict {
    /// The member that judged.
    pub by: PeerId,
    /// The member that handed the message over.
    pub source: PeerId,
    pub id: MessageId,
    pub verdict: Verdict,
}

impl GossipHub {
    pub fn new() -> GossipHub {
        GossipHub::default()
    }

    /// Connects `peer` and returns its side of the network. Joining again (a restarted
    /// member) replaces the earlier connection.
    pub fn join(&self, peer: PeerId) -> (HubHandle, mpsc::Receiver<NetworkEvent>) {
        let (tx, rx) = mpsc::channel(EVENT_BUFFER);
        self.lock().members.insert(peer, tx);
        (HubHandle { hub: self.clone(), peer }, rx)
    }

    /// Disconnects `peer`: it neither sends nor receives until it joins again.
    pub fn leave(&self, peer: PeerId) {
        self.lock().members.remove(&peer);
    }

    /// Every publication so far, in order: the publisher and the payload.
    pub fn published(&self) -> Vec<(PeerId, Vec<u8>)> {
        self.lock().published.clone()
    }

    /// Every verdict so far, in order.
    pub fn verdicts(&self) -> Vec<HubVerdict> {
        self.lock().verdicts.clone()
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One member's side of a [`GossipHub`].
#[derive(Clone)]
pub struct HubHandle {
    hub: GossipHub,
    peer: PeerId,
}

impl HubHandle {
    pub fn local_peer_id(&self) -> PeerId {
        self.peer
    }
}

impl Gossip for HubHandle {
    fn publish(&self, data: Vec<u8>) -> BoxFuture<'_, Result<Published, NetworkError>> {
        let mut state = self.hub.lock();
        let result = if state.members.contains_key(&self.peer) {
            state.next_id += 1;
            let id = MessageId::new(&state.next_id.to_be_bytes());
            for (peer, tx) in &state.members {
                if *peer != self.peer {
                    // A member that stopped, or fell this far behind, misses it.
                    let _ =
                        tx.try_send(NetworkEvent::Message { id: id.clone(), source: self.peer, data: data.clone() });
                }
            }
            state.published.push((self.peer, data));
            Ok(Published::Sent(id))
        } else {
            Err(NetworkError::Stopped)
        };
        Box::pin(std::future::ready(result))
    }

    fn validate(&self, id: MessageId, source: PeerId, verdict: Verdict) -> BoxFuture<'_, Result<(), NetworkError>> {
        self.hub.lock().verdicts.push(HubVerdict { by: self.peer, source, id, verdict });
        Box::pin(std::future::ready(Ok(())))
    }
}
