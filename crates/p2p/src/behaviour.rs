//! The libp2p stack of a committee node and the numbers that tune it.
//!
//! A committee is small (4–64 members), fully known in advance, and quiet:
//! a burst of one signature per member per report, then nothing for hours.
//! The defaults of gossipsub are tuned for large, open, busy networks
//! (Ethereum's beacon gossip); the choices below follow from the difference.

use std::time::Duration;

use libp2p::gossipsub::{
    self, IdentTopic, MessageAuthenticity, MessageId, PeerScoreParams, PeerScoreThresholds, TopicScoreParams,
    ValidationMode,
};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{allow_block_list, connection_limits, identify, noise, ping, tcp, yamux, Swarm, SwarmBuilder};
use sha2::{Digest, Sha256};

use crate::config::P2pConfig;
use crate::error::NetworkError;

/// Identify's protocol version: bump it when the wire format changes.
pub const PROTOCOL_VERSION: &str = "/claystack-oracle/2";

/// Heartbeat: mesh repair and IHAVE gossip run this often. Half a second
/// (Ethereum uses 0.7 s) repairs a committee mesh quickly; with at most 63
/// peers a heartbeat costs microseconds.
const HEARTBEAT: Duration = Duration::from_millis(500);

/// Mesh degree D and its bounds. Every member is also sent every message
/// directly by its author (flood publishing, below), so the mesh is the
/// second path: it relays around broken links (members that cannot reach each
/// other, as behind a NAT). Each accepted message is pushed to all D mesh
/// peers, nearly all of whom already have it from its author, so D is what a
/// round costs: 64 members with D = 8 received each signature about 8 times
/// (32,000 copies a round, each decrypted, signature-checked and decoded).
/// D = 4 halves that and still keeps a 64-member mesh a few hops wide and
/// connected with a third of the members down; committees of up to 5 are a
/// full mesh. D_out = 2 keeps some mesh links dialled by us.
const MESH_N: usize = 4;
const MESH_N_LOW: usize = 3;
const MESH_N_HIGH: usize = 8;
const MESH_OUTBOUND_MIN: usize = 2;

/// IHAVE gossip (the repair path) goes to this many non-mesh peers per
/// heartbeat, not to gossipsub's quarter of them: with flood publishing every
/// member already has the message, so each IHAVE list only costs the receiver
/// a lookup per id (64 ids × 15 peers × 6 heartbeats per member per round
/// with the defaults).
const GOSSIP_LAZY: usize = 3;
const GOSSIP_FACTOR: f64 = 0.0;

/// Messages stay in the cache for `HISTORY_LENGTH` heartbeats (10 s): this is
/// the application's time to validate a message before it can no longer be
/// forwarded. IHAVE gossip advertises the last `HISTORY_GOSSIP` (3 s).
const HISTORY_LENGTH: usize = 20;
const HISTORY_GOSSIP: usize = 6;

/// A committee never has hundreds of messages in flight: longer IHAVE lists
/// are a peer misbehaving.
const MAX_IHAVE_LENGTH: usize = 500;

/// Outgoing messages queued per peer (half for publications and control, half
/// for forwards and gossip). Gossipsub's default, 5000, is sized for beacon
/// traffic and its queue is allocated up front: the 64-node bench peaked at
/// 3.0 GB with it and 1.1 GB with 1024. A committee round puts at most N
/// messages in one peer's queue, and a full outbox still fits in the
/// publication half.
const PEER_QUEUE_LEN: usize = 1024;
const _: () = assert!(crate::outbox::OUTBOX_CAPACITY <= PEER_QUEUE_LEN / 2);

/// Room for the envelope around the payload of a message: the publication
/// nonce, the topic and protobuf tags (anonymous envelopes carry no author,
/// sequence number or signature).
const ENVELOPE_BYTES: usize = 512;

/// Every publication's data is the payload followed by this many bytes of
/// nonce (big-endian, one more for each publication of the node), so that
/// publishing the same payload again is a new message: see [`publication_id`].
pub(crate) const NONCE_BYTES: usize = 8;

/// Ping every 15 s, and a connection whose ping gets no answer in 20 s is
/// closed (by the driver) so that the redialer can replace it.
pub(crate) const PING_INTERVAL: Duration = Duration::from_secs(15);
const PING_TIMEOUT: Duration = Duration::from_secs(20);

/// A pair of members normally holds one connection; two when both dialled at
/// once. Half-open handshakes are bounded so that strangers cannot pile them up.
const MAX_CONNECTIONS_PER_PEER: u32 = 2;
const MAX_PENDING_INCOMING: u32 = 128;

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// First, so a stranger's connection is refused before anything else sees it.
    pub(crate) allow: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
}

/// The SHA-256 of a payload: the handle of a message still waiting in the outbox.
pub fn message_id(data: &[u8]) -> MessageId {
    MessageId::new(&Sha256::digest(data))
}

/// A gossiped message's id: SHA-256 of its data, which is the payload followed by the
/// publisher's nonce. Relayed copies of one publication are suppressed network-wide, but
/// publishing the same payload again is a new message (a new nonce): the committee's
/// timed rebroadcast must reach a member that joined (or restarted) after the first one,
/// which a content-only id would refuse as a duplicate for as long as gossipsub remembers
/// it. The application ignores payloads it already has.
pub(crate) fn publication_id(message: &libp2p::gossipsub::Message) -> MessageId {
    message_id(&message.data)
}

/// The first nonce of a node's publications: its peer id and the start time hashed, so
/// that a restarted node (or another member publishing the same bytes) does not repeat
/// the nonces of a publication gossipsub may still remember.
pub(crate) fn first_nonce(local: &libp2p::PeerId) -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut h = Sha256::new();
    h.update(local.to_bytes());
    h.update(nanos.to_be_bytes());
    u64::from_be_bytes(h.finalize()[..8].try_into().expect("8 of 32 bytes"))
}

/// `payload` with `nonce` appended: the data of one publication.
pub(crate) fn stamp(payload: &[u8], nonce: u64) -> Vec<u8> {
    let mut data = Vec::with_capacity(payload.len() + NONCE_BYTES);
    data.extend_from_slice(payload);
    data.extend_from_slice(&nonce.to_be_bytes());
    data
}

/// The payload of a publication's data (the nonce removed), or `None` when the data is
/// too short to hold a nonce.
pub(crate) fn unstamp(mut data: Vec<u8>) -> Option<Vec<u8>> {
    let len = data.len().checked_sub(NONCE_BYTES)?;
    data.truncate(len);
    Some(data)
}

/// The TCP + noise + yamux swarm with the committee behaviour.
pub(crate) fn build_swarm(config: &P2pConfig, topic: &IdentTopic) -> Result<Swarm<Behaviour>, NetworkError> {
    let behaviour = Behaviour {
        allow: allowlist(config),
        limits: connection_limits::Behaviour::new(
            connection_limits::ConnectionLimits::default()
                .with_max_established_per_peer(Some(MAX_CONNECTIONS_PER_PEER))
                .with_max_pending_incoming(Some(MAX_PENDING_INCOMING)),
        ),
        gossipsub: gossipsub(config, topic)?,
        identify: identify::Behaviour::new(
            identify::Config::new(PROTOCOL_VERSION.to_owned(), config.keypair.public())
                .with_agent_version(format!("claystack-oracle/{}", env!("CARGO_PKG_VERSION"))),
        ),
        ping: ping::Behaviour::new(ping::Config::new().with_interval(PING_INTERVAL).with_timeout(PING_TIMEOUT)),
    };
    let swarm = SwarmBuilder::with_existing_identity(config.keypair.clone())
        .with_tokio()
        .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)
        .map_err(|e| NetworkError::Transport(e.to_string()))?
        .with_behaviour(|_| behaviour)
        .map_err(|e| NetworkError::Transport(e.to_string()))?
        // Gossipsub keeps only mesh connections alive; a committee wants every
        // member connected (flood publishing uses them), and ping finds the
        // dead ones.
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(u64::MAX)))
        .build();
    Ok(swarm)
}

fn allowlist(config: &P2pConfig) -> allow_block_list::Behaviour<allow_block_list::AllowedPeers> {
    let mut allow = allow_block_list::Behaviour::default();
    for (peer, _) in &config.peers {
        allow.allow_peer(*peer);
    }
    allow
}

fn gossipsub(config: &P2pConfig, topic: &IdentTopic) -> Result<gossipsub::Behaviour, NetworkError> {
    let message_bound = config.max_message_bytes + NONCE_BYTES + ENVELOPE_BYTES;
    let gossip_config = gossipsub::ConfigBuilder::default()
        // Nothing is forwarded until the application says Accept.
        .validate_messages()
        // Envelopes carry no author, sequence number or signature (and one that
        // does is invalid): the payload is signed by its author's BLS key, which the
        // application checks, and only members can connect. This saves an ed25519
        // verification on every received copy.
        .validation_mode(ValidationMode::Anonymous)
        .message_id_fn(publication_id)
        // The author sends to every subscribed member at once: one hop for
        // everyone reachable, at (N-1) small sends per message.
        .flood_publish(true)
        .heartbeat_interval(HEARTBEAT)
        .heartbeat_initial_delay(Duration::from_millis(100))
        .mesh_n(MESH_N)
        .mesh_n_low(MESH_N_LOW)
        .mesh_n_high(MESH_N_HIGH)
        .mesh_outbound_min(MESH_OUTBOUND_MIN)
        .gossip_lazy(GOSSIP_LAZY)
        .gossip_factor(GOSSIP_FACTOR)
        .history_length(HISTORY_LENGTH)
        .history_gossip(HISTORY_GOSSIP)
        .duplicate_cache_time(config.duplicate_window)
        .max_ihave_length(MAX_IHAVE_LENGTH)
        .connection_handler_queue_len(PEER_QUEUE_LEN)
        // Peer exchange stays off (the default): members are fixed by genesis
        // and never learnt from other peers.
        // A message frame on our topic is bounded by the payload bound plus the
        // envelope; other frames (control messages) by gossipsub's default.
        .max_transmit_size_for_topic(message_bound, topic.hash())
        .build()
        .map_err(|e| NetworkError::Gossipsub(e.to_string()))?;
    let mut behaviour = gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, gossip_config)
        .map_err(|e| NetworkError::Gossipsub(e.to_owned()))?;
    let (params, thresholds) = peer_score(topic);
    behaviour.with_peer_score(params, thresholds).map_err(NetworkError::Gossipsub)?;
    Ok(behaviour)
}

/// Peer scoring exists here for one purpose: a member whose messages the
/// application rejects loses its say. Everything that rewards activity or
/// punishes silence is off, because honest members are silent for hours.
///
/// One rejected message scores −40: we stop sending it IHAVE gossip. A second
/// within minutes scores −160, below the graylist (−80): everything it sends
/// is ignored until the penalty decays (to a tenth in ten minutes, so the
/// graylist lasts about a minute and a half after the last offence). IP
/// colocation is off: a testnet runs every member on one address, and only
/// allowlisted members can connect at all.
const BEHAVIOUR_PENALTY_WEIGHT: f64 = -1.0;
const BEHAVIOUR_PENALTY_THRESHOLD: f64 = 3.0;
const GOSSIP_THRESHOLD: f64 = -10.0;
const GRAYLIST_THRESHOLD: f64 = -80.0;

fn peer_score(topic: &IdentTopic) -> (PeerScoreParams, PeerScoreThresholds) {
    let topic_params = TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.0,
        first_message_deliveries_weight: 0.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -40.0,
        invalid_message_deliveries_decay: gossipsub::score_parameter_decay(Duration::from_secs(600)),
        ..TopicScoreParams::default()
    };
    let params = PeerScoreParams {
        topics: [(topic.hash(), topic_params)].into_iter().collect(),
        app_specific_weight: 0.0,
        ip_colocation_factor_weight: 0.0,
        // Honest members do GRAFT inside a PRUNE backoff now and then (heartbeats race;
        // the mesh bench logs it). gossipsub's default (-10 × excess², no threshold) puts
        // a member below the graylist after three such races: its signatures are then
        // ignored and it gets no more publications until the penalty decays. Members are
        // allowlisted, so the penalty only needs to stop a member that floods GRAFTs.
        behaviour_penalty_weight: BEHAVIOUR_PENALTY_WEIGHT,
        behaviour_penalty_threshold: BEHAVIOUR_PENALTY_THRESHOLD,
        ..PeerScoreParams::default()
    };
    let thresholds = PeerScoreThresholds {
        gossip_threshold: GOSSIP_THRESHOLD,
        publish_threshold: -50.0,
        graylist_threshold: GRAYLIST_THRESHOLD,
        accept_px_threshold: 100.0,
        opportunistic_graft_threshold: 0.0,
    };
    (params, thresholds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_is_the_content_hash() {
        assert_eq!(message_id(b"a"), message_id(b"a"));
        assert_ne!(message_id(b"a"), message_id(b"b"));
        assert_eq!(message_id(b"").to_string(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn a_publication_is_its_payload_and_a_nonce() {
        let data = stamp(b"payload", 0x0102030405060708);
        assert_eq!(data, b"payload\x01\x02\x03\x04\x05\x06\x07\x08");
        assert_eq!(unstamp(data).as_deref(), Some(&b"payload"[..]));
        assert_eq!(unstamp(stamp(b"", 1)).as_deref(), Some(&b""[..]));
        assert_eq!(unstamp(vec![0; NONCE_BYTES - 1]), None);
        assert_ne!(message_id(&stamp(b"same", 1)), message_id(&stamp(b"same", 2)));
    }

    #[test]
    fn nonces_differ_between_nodes() {
        let a = libp2p::identity::Keypair::generate_ed25519().public().to_peer_id();
        let b = libp2p::identity::Keypair::generate_ed25519().public().to_peer_id();
        assert_ne!(first_nonce(&a), first_nonce(&b));
    }

    #[test]
    fn racing_grafts_do_not_silence_a_member_but_a_graft_flood_does() {
        let penalty = |early_grafts: f64| {
            BEHAVIOUR_PENALTY_WEIGHT * (early_grafts - BEHAVIOUR_PENALTY_THRESHOLD).max(0.0).powi(2)
        };
        // A handful of heartbeat races: still gossiped with, published to, listened to.
        assert!(penalty(6.0) > GOSSIP_THRESHOLD);
        // A member grafting in a loop is graylisted (its messages ignored).
        assert!(penalty(13.0) < GRAYLIST_THRESHOLD);
    }

    #[test]
    fn score_parameters_are_accepted() {
        let (params, thresholds) = peer_score(&IdentTopic::new("t"));
        params.validate().unwrap();
        thresholds.validate().unwrap();
    }
}
