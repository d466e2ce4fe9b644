//! Real swarms on 127.0.0.1 in one process: forwarding after validation,
//! duplicate suppression, the member allowlist, restarts, size bounds and the
//! start-up queue.

use std::time::Duration;

use claystack_p2p::{
    Keypair, MessageId, Multiaddr, Network, NetworkError, NetworkEvent, NetworkHandle, NetworkStatus, P2pConfig,
    PeerId, Published, TopicScope, Verdict,
};
use tokio::sync::mpsc::Receiver;
use tokio::time::{sleep, timeout, Instant};

mod support;

/// Long enough for anything on loopback; a test that waits this long failed.
const PATIENCE: Duration = Duration::from_secs(15);
/// How long we watch for a message that must not arrive.
const QUIET: Duration = Duration::from_millis(1500);

struct Node {
    handle: NetworkHandle,
    events: Receiver<NetworkEvent>,
}

#[derive(Debug)]
struct Received {
    id: MessageId,
    source: PeerId,
    data: Vec<u8>,
}

/// A member: its key and the address it will listen on.
struct Member {
    keypair: Keypair,
    addr: Multiaddr,
}

impl Member {
    fn new() -> Self {
        // `RUST_LOG=claystack_p2p=debug cargo test -p claystack-p2p -- --nocapture` to watch.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        Self { keypair: Keypair::generate_ed25519(), addr: support::free_addr() }
    }

    fn id(&self) -> PeerId {
        self.keypair.public().to_peer_id()
    }

    fn config(&self, peers: &[&Member]) -> P2pConfig {
        let mut config = P2pConfig::new(
            self.addr.clone(),
            self.keypair.clone(),
            peers.iter().map(|m| (m.id(), m.addr.clone())).collect(),
            TopicScope { chain_id: 31337, committee_hash: [7; 32] },
        );
        config.backoff_min = Duration::from_millis(100);
        config.backoff_max = Duration::from_secs(1);
        config
    }

    async fn start(&self, peers: &[&Member]) -> Node {
        self.start_with(self.config(peers)).await
    }

    async fn start_with(&self, config: P2pConfig) -> Node {
        let (handle, events) = Network::spawn(config).await.unwrap();
        assert_eq!(handle.listen_addr(), &self.addr);
        Node { handle, events }
    }
}

impl Node {
    /// The next message, skipping peer events; `None` after `wait`.
    async fn message_within(&mut self, wait: Duration) -> Option<Received> {
        let deadline = Instant::now() + wait;
        loop {
            match timeout(deadline.saturating_duration_since(Instant::now()), self.events.recv()).await {
                Ok(Some(NetworkEvent::Message { id, source, data })) => return Some(Received { id, source, data }),
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return None,
            }
        }
    }

    async fn message(&mut self) -> Received {
        self.message_within(PATIENCE).await.expect("no message arrived")
    }

    async fn accept(&self, m: &Received) {
        self.handle.validate(m.id.clone(), m.source, Verdict::Accept).await.unwrap();
    }

    /// Waits until the node's status satisfies `ready`.
    async fn until(&self, what: &str, ready: impl Fn(&NetworkStatus) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let status = self.handle.status().await.unwrap();
            if ready(&status) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {status:?}");
            sleep(Duration::from_millis(20)).await;
        }
    }

    async fn until_subscribed(&self, peers: &[&Member]) {
        self.until("subscriptions", |s| peers.iter().all(|m| s.subscribed.contains(&m.id()))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_forwards_only_what_the_middle_accepts() {
    let (a, b, c) = (Member::new(), Member::new(), Member::new());
    let mut na = a.start(&[&b]).await;
    let mut nb = b.start(&[&a, &c]).await;
    let mut nc = c.start(&[&b]).await;
    na.until_subscribed(&[&b]).await;
    nb.until_subscribed(&[&a, &c]).await;
    nc.until_subscribed(&[&b]).await;
    nb.until("a mesh with A and C", |s| s.mesh.len() == 2).await;

    // Accepted: A → B → C, and C learns that B passed it on (who wrote it is the
    // payload's business: envelopes are anonymous).
    let sent = na.handle.publish(b"accepted by B".to_vec()).await.unwrap();
    assert!(matches!(sent, Published::Sent(_)), "{sent:?}");
    let at_b = nb.message().await;
    assert_eq!((at_b.source, &at_b.data[..]), (a.id(), &b"accepted by B"[..]));
    assert_eq!(&at_b.id, sent.id());
    assert!(nc.message_within(QUIET).await.is_none(), "B forwarded before validating");
    nb.accept(&at_b).await;
    let at_c = nc.message().await;
    assert_eq!((at_c.source, &at_c.data[..]), (b.id(), &b"accepted by B"[..]));
    nc.accept(&at_c).await;

    // Rejected (or ignored) by B: C never sees it.
    for (text, verdict) in [(&b"rejected by B"[..], Verdict::Reject), (&b"ignored by B"[..], Verdict::Ignore)] {
        na.handle.publish(text.to_vec()).await.unwrap();
        let at_b = nb.message().await;
        assert_eq!(at_b.data, text);
        nb.handle.validate(at_b.id, at_b.source, verdict).await.unwrap();
        if let Some(m) = nc.message_within(QUIET).await {
            panic!("C received {:?} that B judged {verdict:?}", String::from_utf8_lossy(&m.data));
        }
    }
    assert!(na.message_within(Duration::ZERO).await.is_none(), "A hears nothing back");

    for node in [&na, &nb, &nc] {
        node.handle.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignoring_costs_nothing_but_two_rejections_silence_the_sender() {
    let (a, b) = (Member::new(), Member::new());
    let na = a.start(&[&b]).await;
    let mut nb = b.start(&[&a]).await;
    nb.until_subscribed(&[&a]).await;

    /// A publishes, B receives and judges.
    async fn judge(na: &Node, nb: &mut Node, verdict: Verdict) {
        let text = format!("judged {verdict:?} at {:?}", Instant::now());
        na.handle.publish(text.clone().into_bytes()).await.unwrap();
        let m = nb.message().await;
        assert_eq!(m.data, text.as_bytes());
        nb.handle.validate(m.id, m.source, verdict).await.unwrap();
    }
    for _ in 0..3 {
        judge(&na, &mut nb, Verdict::Ignore).await;
    }
    judge(&na, &mut nb, Verdict::Accept).await;
    judge(&na, &mut nb, Verdict::Reject).await;
    judge(&na, &mut nb, Verdict::Reject).await;
    // Commands run in order: once status answers, the verdicts are applied.
    nb.handle.status().await.unwrap();

    na.handle.publish(b"after two rejections".to_vec()).await.unwrap();
    assert!(nb.message_within(QUIET).await.is_none(), "a twice-rejected sender is graylisted");

    for node in [&na, &nb] {
        node.handle.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_publication_arrives_once() {
    let (a, b, c) = (Member::new(), Member::new(), Member::new());
    let na = a.start(&[&b, &c]).await;
    let mut nb = b.start(&[&a, &c]).await;
    let mut nc = c.start(&[&a, &b]).await;
    for (node, others) in [(&na, [&b, &c]), (&nb, [&a, &c]), (&nc, [&a, &b])] {
        node.until_subscribed(&others).await;
    }

    // One author, the same bytes twice (a rebroadcast): two publications, two ids.
    let first = na.handle.publish(b"twice".to_vec()).await.unwrap();
    assert!(matches!(first, Published::Sent(_)));
    let again = na.handle.publish(b"twice".to_vec()).await.unwrap();
    assert!(matches!(again, Published::Sent(_)));
    assert_ne!(first.id(), again.id());
    // Two authors, the same bytes at once: two publications too.
    let (from_a, from_c) = tokio::join!(na.handle.publish(b"both".to_vec()), nc.handle.publish(b"both".to_vec()));
    assert_ne!(from_a.unwrap().id(), from_c.unwrap().id());

    // Every publication reaches B exactly once, although A's are also relayed by C.
    let mut seen = Vec::new();
    while let Some(m) = nb.message_within(QUIET).await {
        nb.accept(&m).await;
        seen.push(m.data);
    }
    seen.sort();
    assert_eq!(seen, [b"both".to_vec(), b"both".to_vec(), b"twice".to_vec(), b"twice".to_vec()]);
    let mut at_c = Vec::new();
    while let Some(m) = nc.message_within(QUIET).await {
        nc.accept(&m).await;
        at_c.push(m.data);
    }
    assert_eq!(at_c.iter().filter(|d| d.as_slice() == b"twice").count(), 2);

    for node in [&na, &nb, &nc] {
        node.handle.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_can_neither_connect_nor_deliver() {
    let (a, b, stranger) = (Member::new(), Member::new(), Member::new());
    let mut na = a.start(&[&b]).await;
    let mut nb = b.start(&[&a]).await;
    // The stranger knows both members and dials them; they do not list it.
    let mut ns = stranger.start(&[&a, &b]).await;
    na.until_subscribed(&[&b]).await;

    let published = ns.handle.publish(b"from outside".to_vec()).await.unwrap();
    assert!(matches!(published, Published::Queued(_)), "nobody may subscribe for a stranger: {published:?}");
    sleep(QUIET).await;
    for node in [&mut na, &mut nb] {
        let status = node.handle.status().await.unwrap();
        assert!(!status.connected.contains(&stranger.id()), "{status:?}");
        while let Ok(event) = node.events.try_recv() {
            match event {
                NetworkEvent::PeerConnected(p) | NetworkEvent::PeerDisconnected(p) => assert_ne!(p, stranger.id()),
                NetworkEvent::Message { data, .. } => panic!("received {:?}", String::from_utf8_lossy(&data)),
            }
        }
    }
    let status = ns.handle.status().await.unwrap();
    assert!(status.subscribed.is_empty() && status.queued == 1, "{status:?}");

    // The members still talk to each other.
    na.handle.publish(b"inside".to_vec()).await.unwrap();
    assert_eq!(nb.message().await.data, b"inside");
    assert!(ns.message_within(Duration::ZERO).await.is_none());

    for node in [&na, &nb, &ns] {
        node.handle.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_member_is_reconnected_and_hears_later_messages() {
    let (a, b, c) = (Member::new(), Member::new(), Member::new());
    let mut na = a.start(&[&b, &c]).await;
    let nb = b.start(&[&a, &c]).await;
    let nc = c.start(&[&a, &b]).await;
    na.until_subscribed(&[&b, &c]).await;

    nb.handle.shutdown().await.unwrap();
    nb.handle.shutdown().await.unwrap();
    assert!(matches!(nb.handle.publish(vec![1]).await, Err(NetworkError::Stopped)));
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, na.events.recv()).await.expect("A never saw B leave") {
            Some(NetworkEvent::PeerDisconnected(p)) if p == b.id() => break,
            Some(_) => {}
            None => panic!("A stopped"),
        }
    }
    // Let A's redial back off a few times against the closed port.
    sleep(Duration::from_millis(800)).await;

    // Same key, same port.
    let mut nb = b.start(&[&a, &c]).await;
    na.until_subscribed(&[&b, &c]).await;
    nb.until_subscribed(&[&a, &c]).await;
    na.handle.publish(b"after the restart".to_vec()).await.unwrap();
    let m = nb.message().await;
    assert_eq!(m.data.as_slice(), &b"after the restart"[..]);

    for node in [&na, &nb, &nc] {
        node.handle.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_over_the_bound_are_refused() {
    let (a, b, loud) = (Member::new(), Member::new(), Member::new());
    let mut na = a.start(&[&b, &loud]).await;
    let mut nb = b.start(&[&a]).await;
    // A member misconfigured with a larger bound.
    let mut config = loud.config(&[&a]);
    config.max_message_bytes = 16 * 1024;
    let nl = loud.start_with(config).await;
    na.until_subscribed(&[&b, &loud]).await;
    nl.until_subscribed(&[&a]).await;

    // Our own bound is enforced when publishing…
    let limit = claystack_p2p::DEFAULT_MAX_MESSAGE_BYTES;
    match na.handle.publish(vec![1; limit + 1]).await {
        Err(NetworkError::TooLarge { size, max }) => assert_eq!((size, max), (limit + 1, limit)),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    na.handle.publish(vec![2; limit]).await.unwrap();
    assert_eq!(nb.message().await.data.len(), limit);

    // …and when receiving: just over the bound (our check) and far over it
    // (gossipsub's frame limit) never reach the application.
    for size in [limit + 1, 3 * limit] {
        let published = nl.handle.publish(vec![3; size]).await.unwrap();
        assert!(matches!(published, Published::Sent(_)), "{published:?}");
        if let Some(m) = na.message_within(QUIET).await {
            panic!("A received {} bytes over a {limit}-byte bound", m.data.len());
        }
    }

    for node in [&na, &nb, &nl] {
        node.handle.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_published_before_anyone_listens_is_queued_then_delivered() {
    let (a, b) = (Member::new(), Member::new());
    let na = a.start(&[&b]).await;
    let first = na.handle.publish(b"early".to_vec()).await.unwrap();
    assert!(matches!(first, Published::Queued(_)), "{first:?}");
    assert_eq!(na.handle.publish(b"early".to_vec()).await.unwrap(), first, "queued once");
    let second = na.handle.publish(b"later".to_vec()).await.unwrap();
    assert!(matches!(second, Published::Queued(_)), "{second:?}");
    assert_eq!(na.handle.status().await.unwrap().queued, 2);

    // Both arrive, each once. The outbox sends them oldest first (its unit test
    // `flush_stops_at_the_first_refusal_and_keeps_the_rest`), but gossipsub promises no order
    // on the wire: when both members dial each other at once there are two connections, and
    // CI saw "later" arrive first. Nothing above the network depends on the order.
    let mut nb = b.start(&[&a]).await;
    let m1 = nb.message().await;
    let m2 = nb.message().await;
    let mut got = [m1.data, m2.data];
    got.sort();
    assert_eq!(got, [b"early".to_vec(), b"later".to_vec()], "each queued message once");
    assert!(nb.message_within(QUIET).await.is_none(), "nothing twice");
    na.until("an empty queue", |s| s.queued == 0).await;

    for node in [&na, &nb] {
        node.handle.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_zero_binds_a_free_port_and_a_taken_port_is_refused() {
    let a = Member::new();
    let mut config = a.config(&[]);
    config.listen = "/ip4/127.0.0.1/tcp/0".parse().unwrap();
    let (handle, _events) = Network::spawn(config.clone()).await.unwrap();
    let bound = handle.listen_addr().clone();
    assert_ne!(bound, config.listen);
    assert!(bound.to_string().starts_with("/ip4/127.0.0.1/tcp/"), "{bound}");

    config.listen = bound.clone();
    config.keypair = Keypair::generate_ed25519();
    match Network::spawn(config).await {
        Err(NetworkError::Listen { addr, .. }) => assert_eq!(addr, bound),
        Err(other) => panic!("expected a Listen error, got {other}"),
        Ok(_) => panic!("two nodes bound one port"),
    }
    handle.shutdown().await.unwrap();
}

/// A member replaying payloads as fast as it can gets its burst through, then its
/// messages refused, then its connections closed (a ban); another member's messages keep
/// arriving all along, because each member has its own rate and its own share of the
/// buffer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_member_is_cut_off_and_the_others_still_get_through() {
    let (a, flooder, honest) = (Member::new(), Member::new(), Member::new());
    let mut config = a.config(&[&flooder, &honest]);
    config.peer_limits = claystack_p2p::PeerLimits { burst: 20, rate_per_s: 5, share: 1000 };
    let mut na = a.start_with(config).await;
    let nf = flooder.start(&[&a, &honest]).await;
    let nh = honest.start(&[&a, &flooder]).await;
    na.until_subscribed(&[&flooder, &honest]).await;
    nf.until_subscribed(&[&a]).await;
    nh.until_subscribed(&[&a]).await;

    // The same payload with a fresh nonce each time: a new message id every publication.
    for _ in 0..400 {
        nf.handle.publish(b"replayed signature".to_vec()).await.unwrap();
    }
    nh.handle.publish(b"honest signature".to_vec()).await.unwrap();
    let (mut from_flooder, mut honest_seen) = (0, false);
    while let Some(m) = na.message_within(QUIET).await {
        if m.source == flooder.id() {
            from_flooder += 1;
        } else if m.data == b"honest signature" {
            honest_seen = true;
        }
        na.handle.validate(m.id, m.source, Verdict::Ignore).await.unwrap();
    }
    assert!(honest_seen, "the honest member's message was crowded out");
    // The burst and what the rate refilled meanwhile; never the flood.
    assert!((1..=40).contains(&from_flooder), "{from_flooder} of 400 replays reached the application");
    na.until("the flooder cut off", |s| !s.connected.contains(&flooder.id())).await;
    // Still connected to the honest member, which still gets through.
    nh.handle.publish(b"honest again".to_vec()).await.unwrap();
    let again = na.message().await;
    assert_eq!((again.source, &again.data[..]), (honest.id(), &b"honest again"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_a_committee_change_adds_is_admitted_and_then_delivers() {
    let (a, b, added) = (Member::new(), Member::new(), Member::new());
    let mut na = a.start(&[&b]).await;
    let nb = b.start(&[&a]).await;
    // The added member knows both; they do not list it yet: refused, as a stranger is.
    let mut nadded = added.start(&[&a, &b]).await;
    na.until_subscribed(&[&b]).await;
    sleep(QUIET).await;
    assert!(!na.handle.status().await.unwrap().connected.contains(&added.id()));

    // The change is mined: both admit its peer id; it redials and its messages arrive.
    na.handle.admit(added.id()).await.unwrap();
    nb.handle.admit(added.id()).await.unwrap();
    na.until_subscribed(&[&b, &added]).await;
    nadded.handle.publish(b"from the new member".to_vec()).await.unwrap();
    let m = na.message().await;
    assert_eq!((m.data.as_slice(), m.source), (b"from the new member".as_slice(), added.id()));
    na.handle.publish(b"welcome".to_vec()).await.unwrap();
    assert_eq!(nadded.message().await.data, b"welcome");

    for node in [&na, &nb, &nadded] {
        node.handle.shutdown().await.unwrap();
    }
}
