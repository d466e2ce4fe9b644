//! What tests, benches and the local testnet need to run real processes on this machine:
//!
//! - [`ports`]: free loopback ports to hand to processes before they start;
//! - [`process`]: [`ChildProcess`], a child that dies with its parent (`PR_SET_PDEATHSIG`),
//!   is killed when dropped, and can be waited for with a deadline;
//! - [`anvil`]: a private anvil (`--hardfork prague`) built on both.
//!
//! This crate is for tests, benches and `claystack-oracle devnet` only: no library crate
//! may list it under `[dependencies]` (node/tests/architecture.rs checks), so nothing a
//! node runs in production starts an anvil or picks ports this way.

pub mod anvil;
pub mod ports;
// libc has no safe wrapper for prctl(PR_SET_PDEATHSIG) (children die with their parent),
// kill or killpg.
#[allow(unsafe_code)]
pub mod process;

pub use anvil::{Anvil, AnvilBuilder, AnvilError};
pub use ports::{free_port, free_ports};
pub use process::ChildProcess;
