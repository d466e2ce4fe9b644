//! Shared by the tests and the bench: listen addresses on 127.0.0.1.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use claystack_p2p::Multiaddr;

/// A free TCP port on 127.0.0.1, below the kernel's ephemeral range.
///
/// Nodes must know each other's addresses before they start, so ports are
/// chosen before they are bound. A port from the ephemeral range (what port 0
/// returns) can be taken in between as the source port of another node's
/// outgoing connection; ports below the range never are. Ports are handed out
/// in sequence from a random start, so tests in one process never collide,
/// and each is checked free.
pub fn free_addr() -> Multiaddr {
    static NEXT: OnceLock<AtomicU32> = OnceLock::new();
    let ephemeral_start: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let low = 10_000.min(ephemeral_start / 2);
    let span = ephemeral_start - low;
    let next = NEXT.get_or_init(|| AtomicU32::new(RandomState::new().hash_one(std::process::id()) as u32 % span));
    loop {
        let port = (low + next.fetch_add(1, Ordering::Relaxed) % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
        }
    }
}
