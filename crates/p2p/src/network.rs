//! The network task and its handle.
//!
//! [`Network::spawn`] builds the swarm, binds the listen address, and moves
//! the swarm into a tokio task (the driver). The application talks to the
//! driver through a cloneable [`NetworkHandle`] and hears from it on a
//! channel of [`NetworkEvent`]s. The driver owns every socket and timer; the
//! decisions about when to redial and what to retry live in [`Redialer`] and
//! [`Outbox`], which do no I/O.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageId, PublishError};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{DialError, SwarmEvent};
use libp2p::{identify, ping, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn, Instrument};

use crate::admission::{Admission, Admit, BAN};
use crate::behaviour::{
    build_swarm, first_nonce, message_id, stamp, unstamp, Behaviour, BehaviourEvent, PROTOCOL_VERSION,
};
use crate::config::P2pConfig;
use crate::error::NetworkError;
use crate::outbox::{Outbox, Queued, OUTBOX_CAPACITY};
use crate::redial::Redialer;

/// Room in the event buffer besides the peers' message shares: connection
/// events. The buffer holds every peer's share of messages waiting for a
/// verdict ([`crate::PeerLimits::share`]) plus this.
pub const PEER_EVENT_ROOM: usize = 64;

/// How often messages never judged give their peer's place back.
const ADMISSION_EXPIRY: Duration = Duration::from_secs(1);

/// Commands (publish, validate, status) waiting for the driver.
const COMMAND_BUFFER: usize = 1024;

/// How often messages waiting for a subscribed peer are retried, besides on
/// every new subscription.
const OUTBOX_RETRY: Duration = Duration::from_secs(1);

/// How long binding the listen address may take.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(5);

/// The application's judgement of a received message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: deliver it to our mesh peers.
    Accept,
    /// Provably invalid (bad signature, not from a member): drop it and
    /// penalise the peer that sent it. Do not use for "cannot judge yet".
    Reject,
    /// Not useful (stale, already have it, cannot judge): drop it without
    /// penalty.
    Ignore,
}

impl From<Verdict> for MessageAcceptance {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Accept => MessageAcceptance::Accept,
            Verdict::Reject => MessageAcceptance::Reject,
            Verdict::Ignore => MessageAcceptance::Ignore,
        }
    }
}

/// What the network tells the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkEvent {
    /// A message to validate: answer with [`NetworkHandle::validate`] within
    /// ten seconds, or it can no longer be forwarded.
    Message {
        /// Id of this publication (its payload and the publisher's nonce; see `publication_id`).
        id: MessageId,
        /// The peer that handed us the message (not necessarily its author: envelopes
        /// are anonymous, so who wrote it is for the payload to prove).
        source: PeerId,
        /// The payload, as published.
        data: Vec<u8>,
    },
    /// The first connection to a member is up.
    PeerConnected(PeerId),
    /// The last connection to a member closed.
    PeerDisconnected(PeerId),
}

/// What happened to a published message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Published {
    /// Handed to at least one subscribed member.
    Sent(MessageId),
    /// No member is subscribed yet: it waits and is sent when one is.
    Queued(MessageId),
    /// gossipsub already holds a message with this id (ids are per publication, so
    /// this is rare: a nonce collision): nothing was sent.
    Duplicate(MessageId),
}

impl Published {
    pub fn id(&self) -> &MessageId {
        match self {
            Published::Sent(id) | Published::Queued(id) | Published::Duplicate(id) => id,
        }
    }
}

/// A snapshot of the node's view of the committee, for health checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkStatus {
    /// Members with at least one open connection.
    pub connected: Vec<PeerId>,
    /// Members subscribed to our topic.
    pub subscribed: Vec<PeerId>,
    /// Members in our gossipsub mesh for the topic.
    pub mesh: Vec<PeerId>,
    /// Messages waiting for a subscribed member.
    pub queued: usize,
}

enum Command {
    Publish { data: Vec<u8>, reply: oneshot::Sender<Result<Published, NetworkError>> },
    Validate { id: MessageId, source: PeerId, verdict: Verdict },
    Status(oneshot::Sender<NetworkStatus>),
    Admit(PeerId),
    Shutdown(oneshot::Sender<()>),
}

/// Starts the network of one node.
pub struct Network;

impl Network {
    /// Builds the swarm, binds `config.listen`, subscribes to the committee
    /// topic, and runs the swarm in a tokio task that dials the members.
    /// Returns once the listen address is bound.
    pub async fn spawn(config: P2pConfig) -> Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>), NetworkError> {
        config.validate()?;
        let local_peer_id = config.local_peer_id();
        let topic = IdentTopic::new(config.scope.topic_name());
        refuse_shared_port(&config.listen)?;
        let mut swarm = build_swarm(&config, &topic)?;
        swarm.behaviour_mut().gossipsub.subscribe(&topic).map_err(|e| NetworkError::Gossipsub(e.to_string()))?;
        swarm
            .listen_on(config.listen.clone())
            .map_err(|e| NetworkError::Listen { addr: config.listen.clone(), reason: e.to_string() })?;
        let listen_addr = tokio::time::timeout(LISTEN_TIMEOUT, bound_address(&mut swarm))
            .await
            .map_err(|_| NetworkError::Listen { addr: config.listen.clone(), reason: "timed out".into() })?
            .map_err(|reason| NetworkError::Listen { addr: config.listen.clone(), reason })?;

        let span = tracing::info_span!("p2p", local = %local_peer_id);
        span.in_scope(|| {
            info!(address = %listen_addr, topic = %topic, members = config.peers.len(), "p2p listening");
        });

        let (command_tx, command_rx) = mpsc::channel(COMMAND_BUFFER);
        let buffer = Admission::buffer(&config.peer_limits, config.peers.len()) + PEER_EVENT_ROOM;
        let (event_tx, event_rx) = mpsc::channel(buffer);
        let driver = SwarmDriver {
            redialer: Redialer::new(
                local_peer_id,
                config.peers.iter().map(|(peer, _)| *peer),
                config.backoff_min,
                config.backoff_max,
                Instant::now(),
            ),
            addresses: config.peers.iter().cloned().collect(),
            swarm,
            topic,
            max_message_bytes: config.max_message_bytes,
            outbox: Outbox::default(),
            next_nonce: first_nonce(&local_peer_id),
            admission: Admission::new(config.peer_limits),
            over_rate: std::collections::HashSet::new(),
            banned: HashMap::new(),
            events: event_tx,
            commands: command_rx,
        };
        tokio::spawn(driver.run().instrument(span));
        Ok((NetworkHandle { commands: command_tx, local_peer_id, listen_addr }, event_rx))
    }
}

/// libp2p's TCP listener sets `SO_REUSEPORT`, so a second node started on
/// the same port by mistake would bind too and silently take half of the
/// first one's connections. A plain bind (without that option) first turns
/// the mistake into an error. Port 0 needs no check.
fn refuse_shared_port(listen: &Multiaddr) -> Result<(), NetworkError> {
    let mut parts = listen.iter();
    let ip: IpAddr = match parts.next() {
        Some(Protocol::Ip4(ip)) => ip.into(),
        Some(Protocol::Ip6(ip)) => ip.into(),
        _ => return Ok(()),
    };
    let Some(Protocol::Tcp(port)) = parts.next() else { return Ok(()) };
    if port == 0 {
        return Ok(());
    }
    std::net::TcpListener::bind(SocketAddr::new(ip, port))
        .map(drop)
        .map_err(|e| NetworkError::Listen { addr: listen.clone(), reason: e.to_string() })
}

/// Waits for the first address the listener is bound to.
async fn bound_address(swarm: &mut Swarm<Behaviour>) -> Result<Multiaddr, String> {
    loop {
        match swarm.select_next_some().await {
            SwarmEvent::NewListenAddr { address, .. } => return Ok(address),
            SwarmEvent::ListenerClosed { reason: Err(e), .. } | SwarmEvent::ListenerError { error: e, .. } => {
                return Err(e.to_string())
            }
            SwarmEvent::ListenerClosed { .. } => return Err("listener closed".into()),
            _ => {}
        }
    }
}

/// The application's side of a running network. Cheap to clone.
#[derive(Clone, Debug)]
pub struct NetworkHandle {
    commands: mpsc::Sender<Command>,
    local_peer_id: PeerId,
    listen_addr: Multiaddr,
}

impl NetworkHandle {
    /// Lets `peer` connect from now on: a member a committee change added (its peer id is on
    /// chain, not in genesis). It dials us; we do not know its address.
    pub async fn admit(&self, peer: PeerId) -> Result<(), NetworkError> {
        self.send(Command::Admit(peer)).await
    }

    /// Publishes `data` on the committee topic. When no member is subscribed
    /// yet (at start-up, or cut off) the message is queued and sent as soon as
    /// one is: see [`Published`].
    pub async fn publish(&self, data: Vec<u8>) -> Result<Published, NetworkError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Publish { data, reply }).await?;
        answer.await.map_err(|_| NetworkError::Stopped)?
    }

    /// Reports the application's verdict on a received message; only an
    /// accepted message is forwarded. Call it once per [`NetworkEvent::Message`].
    /// It returns once the verdict is queued; the driver applies commands in
    /// the order they were sent, so an answer to a later `status` or `publish`
    /// means the verdict is in force.
    pub async fn validate(&self, id: MessageId, source: PeerId, verdict: Verdict) -> Result<(), NetworkError> {
        self.send(Command::Validate { id, source, verdict }).await
    }

    /// The node's current view of the committee.
    pub async fn status(&self) -> Result<NetworkStatus, NetworkError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Status(reply)).await?;
        answer.await.map_err(|_| NetworkError::Stopped)
    }

    /// Stops the network. Returns once the swarm is dropped: the listener is
    /// closed (the port can be bound again) and the connections are closing.
    /// Stopping twice is fine; every other call then fails with `Stopped`.
    pub async fn shutdown(&self) -> Result<(), NetworkError> {
        let (reply, answer) = oneshot::channel();
        if self.commands.send(Command::Shutdown(reply)).await.is_ok() {
            let _ = answer.await;
        }
        Ok(())
    }

    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// The address the listener is bound to (the real port when 0 was asked).
    pub fn listen_addr(&self) -> &Multiaddr {
        &self.listen_addr
    }

    async fn send(&self, command: Command) -> Result<(), NetworkError> {
        self.commands.send(command).await.map_err(|_| NetworkError::Stopped)
    }
}

struct SwarmDriver {
    swarm: Swarm<Behaviour>,
    topic: IdentTopic,
    max_message_bytes: usize,
    redialer: Redialer,
    addresses: HashMap<PeerId, Multiaddr>,
    outbox: Outbox,
    /// Appended to the next publication's payload (see `publication_id`).
    next_nonce: u64,
    /// Each peer's rate and share of the event buffer.
    admission: Admission,
    /// Peers over their rate since their last delivered message (logged once per episode).
    over_rate: std::collections::HashSet<PeerId>,
    /// Members disconnected and refused for flooding, until when.
    banned: HashMap<PeerId, Instant>,
    events: mpsc::Sender<NetworkEvent>,
    commands: mpsc::Receiver<Command>,
}

impl SwarmDriver {
    async fn run(mut self) {
        let mut retry = tokio::time::interval(OUTBOX_RETRY);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut expiry = tokio::time::interval(ADMISSION_EXPIRY);
        expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let redial_timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(redial_timer);
        let stopped_by = loop {
            self.dial_due();
            let redial_at = self.redialer.next_deadline().map(tokio::time::Instant::from_std);
            if let Some(at) = redial_at.filter(|at| *at != redial_timer.deadline() || redial_timer.is_elapsed()) {
                redial_timer.as_mut().reset(at);
            }
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown(reply)) => break Some(reply),
                    Some(command) => self.on_command(command),
                    None => break None,
                },
                () = &mut redial_timer, if redial_at.is_some() => {}
                _ = retry.tick(), if !self.outbox.is_empty() => self.flush_outbox(),
                _ = expiry.tick() => self.expire(Instant::now()),
            }
        };
        // Dropping the swarm closes the listener and every connection.
        drop(self.swarm);
        info!("p2p stopped");
        if let Some(reply) = stopped_by {
            let _ = reply.send(());
        }
    }

    fn dial_due(&mut self) {
        for peer in self.redialer.due(Instant::now()) {
            let Some(addr) = self.addresses.get(&peer).cloned() else { continue };
            debug!(%peer, %addr, "dialling");
            let opts = DialOpts::peer_id(peer)
                .addresses(vec![addr])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                // A fresh source port: reusing the listen port makes two
                // members dialling each other at once collide on one 4-tuple.
                .allocate_new_port()
                .build();
            if let Err(error) = self.swarm.dial(opts) {
                debug!(%peer, %error, "dial not started");
                self.redialer.dial_failed(&peer, Instant::now());
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossip(event),
            // A peer without ping is odd but alive; any other failure means
            // the connection is dead or stuck.
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer, connection, result: Err(failure) }))
                if !matches!(failure, ping::Failure::Unsupported) =>
            {
                debug!(%peer, %failure, "ping failed, closing the connection");
                self.swarm.close_connection(connection);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                if info.protocol_version != PROTOCOL_VERSION {
                    warn!(peer = %peer_id, theirs = %info.protocol_version, ours = PROTOCOL_VERSION, "protocol version differs");
                }
                debug!(peer = %peer_id, agent = %info.agent_version, "identified");
            }
            SwarmEvent::ConnectionEstablished { peer_id, num_established, endpoint, .. }
                if num_established.get() == 1 =>
            {
                info!(peer = %peer_id, address = %endpoint.get_remote_address(), "peer connected");
                self.redialer.connected(&peer_id);
                self.emit(NetworkEvent::PeerConnected(peer_id));
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, cause, .. } => {
                let cause = cause.map_or_else(|| "closed".to_owned(), |c| c.to_string());
                if self.redialer.disconnected(&peer_id, Instant::now()) {
                    info!(peer = %peer_id, %cause, "peer disconnected");
                } else {
                    // The usual reason: the peer's member list does not have us.
                    warn!(peer = %peer_id, %cause, "peer closed the connection before subscribing; is this node in its member list?");
                }
                self.emit(NetworkEvent::PeerDisconnected(peer_id));
            }
            SwarmEvent::OutgoingConnectionError { peer_id: Some(peer), error, .. } => {
                if matches!(error, DialError::WrongPeerId { .. }) {
                    warn!(%peer, %error, "configured address belongs to another peer");
                } else {
                    debug!(%peer, %error, "dial failed");
                }
                self.redialer.dial_failed(&peer, Instant::now());
            }
            SwarmEvent::IncomingConnectionError { send_back_addr, error, .. } => {
                debug!(address = %send_back_addr, %error, "inbound connection refused or failed");
            }
            SwarmEvent::ListenerError { error, .. } => warn!(%error, "listener error"),
            SwarmEvent::ListenerClosed { addresses, reason, .. } => {
                warn!(?addresses, ?reason, "listener closed");
            }
            _ => {}
        }
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message { propagation_source, message_id, message } => {
                let size = message.data.len();
                let payload = Some(message.data)
                    .filter(|_| message.topic == self.topic.hash())
                    .and_then(unstamp)
                    .filter(|payload| payload.len() <= self.max_message_bytes);
                let Some(data) = payload else {
                    debug!(id = %message_id, source = %propagation_source, size, "message refused");
                    self.report(&message_id, &propagation_source, Verdict::Reject);
                    return;
                };
                match self.admission.admit(propagation_source, &message_id, Instant::now()) {
                    Admit::Deliver => {}
                    Admit::OverShare => {
                        debug!(id = %message_id, source = %propagation_source, "peer's share of the buffer is full, message ignored");
                        self.report(&message_id, &propagation_source, Verdict::Ignore);
                        return;
                    }
                    Admit::OverRate => {
                        if self.over_rate.insert(propagation_source) {
                            warn!(peer = %propagation_source, "peer sends faster than any member should; its messages are refused and it is penalised");
                        }
                        self.report(&message_id, &propagation_source, Verdict::Reject);
                        return;
                    }
                    Admit::Ban => {
                        warn!(peer = %propagation_source, ban_s = BAN.as_secs(), "peer keeps flooding; disconnected and refused for a while");
                        self.report(&message_id, &propagation_source, Verdict::Reject);
                        self.swarm.behaviour_mut().allow.disallow_peer(propagation_source);
                        self.banned.insert(propagation_source, Instant::now() + BAN);
                        return;
                    }
                }
                self.over_rate.remove(&propagation_source);
                debug!(id = %message_id, source = %propagation_source, size, "message received");
                let event = NetworkEvent::Message { id: message_id.clone(), source: propagation_source, data };
                if let Err(error) = self.events.try_send(event) {
                    warn!(id = %message_id, %error, "application is not reading events, message dropped");
                    self.report(&message_id, &propagation_source, Verdict::Ignore);
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic } if topic == self.topic.hash() => {
                debug!(peer = %peer_id, "peer subscribed");
                self.redialer.healthy(&peer_id);
                self.flush_outbox();
            }
            gossipsub::Event::Subscribed { peer_id, topic } | gossipsub::Event::Unsubscribed { peer_id, topic } => {
                debug!(peer = %peer_id, %topic, "subscription change");
            }
            gossipsub::Event::GossipsubNotSupported { peer_id } => {
                warn!(peer = %peer_id, "peer does not speak gossipsub");
            }
            // Messages to this peer waited too long in its queue and were
            // dropped; the mesh or a rebroadcast has to make up for them.
            gossipsub::Event::SlowPeer { peer_id, failed_messages } => {
                warn!(peer = %peer_id, ?failed_messages, "peer is too slow, messages to it were dropped");
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { data, reply } => {
                let _ = reply.send(self.publish(data));
            }
            Command::Validate { id, source, verdict } => self.report(&id, &source, verdict),
            Command::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Command::Admit(peer) => {
                if self.swarm.behaviour_mut().allow.allow_peer(peer) {
                    info!(%peer, "admitted a member added by a committee change");
                }
            }
            Command::Shutdown(_) => unreachable!("handled by the run loop"),
        }
    }

    fn publish(&mut self, data: Vec<u8>) -> Result<Published, NetworkError> {
        if data.len() > self.max_message_bytes {
            return Err(NetworkError::TooLarge { size: data.len(), max: self.max_message_bytes });
        }
        let id = message_id(&data);
        // Messages leave in the order they were published.
        if !self.outbox.is_empty() {
            return self.queue(id, data);
        }
        let stamped = stamp(&data, self.next_nonce);
        match self.swarm.behaviour_mut().gossipsub.publish(self.topic.clone(), stamped) {
            Ok(id) => {
                self.next_nonce = self.next_nonce.wrapping_add(1);
                debug!(%id, size = data.len(), "published");
                Ok(Published::Sent(id))
            }
            Err(PublishError::Duplicate) => Ok(Published::Duplicate(id)),
            Err(PublishError::NoPeersSubscribedToTopic) => self.queue(id, data),
            Err(PublishError::MessageTooLarge) => {
                Err(NetworkError::TooLarge { size: data.len(), max: self.max_message_bytes })
            }
            Err(error) => Err(NetworkError::Publish(error.to_string())),
        }
    }

    fn queue(&mut self, id: MessageId, data: Vec<u8>) -> Result<Published, NetworkError> {
        match self.outbox.push(id.clone(), data) {
            Queued::Added => {
                debug!(%id, queued = self.outbox.len(), "no subscribed peer yet, message queued");
                Ok(Published::Queued(id))
            }
            Queued::AlreadyWaiting => Ok(Published::Queued(id)),
            Queued::Full => Err(NetworkError::QueueFull { capacity: OUTBOX_CAPACITY }),
        }
    }

    fn flush_outbox(&mut self) {
        let topic = self.topic.clone();
        let gossipsub = &mut self.swarm.behaviour_mut().gossipsub;
        let nonce = &mut self.next_nonce;
        self.outbox.flush(|id, data| match gossipsub.publish(topic.clone(), stamp(data, *nonce)) {
            Ok(_) => {
                *nonce = nonce.wrapping_add(1);
                debug!(%id, "queued message published");
                true
            }
            Err(PublishError::NoPeersSubscribedToTopic) => false,
            Err(PublishError::Duplicate) => {
                debug!(%id, "queued message already on the network");
                true
            }
            Err(error) => {
                warn!(%id, %error, "queued message dropped");
                true
            }
        });
    }

    /// Frees the buffer places of messages never judged, and lets banned members back in
    /// (the redialer dials them again).
    fn expire(&mut self, now: Instant) {
        self.admission.expire(now);
        let over: Vec<PeerId> = self.banned.iter().filter(|(_, until)| now >= **until).map(|(p, _)| *p).collect();
        for peer in over {
            self.banned.remove(&peer);
            self.swarm.behaviour_mut().allow.allow_peer(peer);
            info!(%peer, "ban over; the member may connect again");
        }
    }

    fn report(&mut self, id: &MessageId, source: &PeerId, verdict: Verdict) {
        self.admission.judged(id);
        let found = self.swarm.behaviour_mut().gossipsub.report_message_validation_result(id, source, verdict.into());
        if !found {
            debug!(%id, ?verdict, "verdict for a message no longer cached");
        }
    }

    fn status(&self) -> NetworkStatus {
        let gossipsub = &self.swarm.behaviour().gossipsub;
        let hash = self.topic.hash();
        NetworkStatus {
            connected: self.swarm.connected_peers().copied().collect(),
            subscribed: gossipsub
                .all_peers()
                .filter(|(_, topics)| topics.contains(&&hash))
                .map(|(peer, _)| *peer)
                .collect(),
            mesh: gossipsub.mesh_peers(&hash).copied().collect(),
            queued: self.outbox.len(),
        }
    }

    fn emit(&self, event: NetworkEvent) {
        if let Err(error) = self.events.try_send(event) {
            warn!(%error, "application is not reading events, peer event dropped");
        }
    }
}
