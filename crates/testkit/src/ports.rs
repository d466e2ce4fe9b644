//! Free TCP ports on 127.0.0.1 for processes that must know each other's addresses
//! before they start (committee members, the beacon simulator, anvil).
//!
//! A port is chosen, released, and bound later by another process. Port 0 would return
//! one from the kernel's ephemeral range, which another process's outgoing connection can
//! take as its source port in between (libp2p members dialling each other do exactly
//! that). Ports below that range are never taken so; they are handed out in sequence from
//! a random start (so two test processes rarely try the same ones, and one process never
//! hands out a port twice), and each is checked free by binding it.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// A free TCP port on 127.0.0.1, below the kernel's ephemeral range.
pub fn free_port() -> u16 {
    static NEXT: OnceLock<AtomicU32> = OnceLock::new();
    let (low, span) = range();
    let next = NEXT.get_or_init(|| AtomicU32::new(RandomState::new().hash_one(std::process::id()) as u32 % span));
    loop {
        let port = (low + next.fetch_add(1, Ordering::Relaxed) % span) as u16;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

/// `n` distinct free ports (see [`free_port`]).
pub fn free_ports(n: usize) -> Vec<u16> {
    (0..n).map(|_| free_port()).collect()
}

/// The first port and the number of ports to choose from: from 10,000 (or half the
/// ephemeral start, on a machine where that is lower) up to the ephemeral range.
fn range() -> (u32, u32) {
    let ephemeral_start: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let low = 10_000.min(ephemeral_start / 2);
    (low, ephemeral_start - low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_free_and_below_the_ephemeral_range() {
        let (low, span) = range();
        // Each port is bound the moment it is handed out and held, so the check does not
        // depend on what else on the machine takes ports later.
        let mut held = Vec::new();
        for _ in 0..50 {
            let p = free_port();
            assert!((low..low + span).contains(&(p as u32)), "{p}");
            held.push((p, TcpListener::bind((Ipv4Addr::LOCALHOST, p)).unwrap()));
        }
        let mut unique: Vec<u16> = held.iter().map(|(p, _)| *p).collect();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 50);
    }
}
