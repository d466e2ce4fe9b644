//! Shared by the tests and the bench: listen addresses on 127.0.0.1.

use claystack_p2p::Multiaddr;

/// A free TCP address on 127.0.0.1 (see `claystack_testkit::free_port`: below the kernel's
/// ephemeral range, so no dialling node takes it before its owner binds it).
pub fn free_addr() -> Multiaddr {
    format!("/ip4/127.0.0.1/tcp/{}", claystack_testkit::free_port()).parse().unwrap()
}
