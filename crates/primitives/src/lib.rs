//! Plain beacon-chain types and consensus-spec arithmetic shared by every crate.
//!
//! This crate is pure: no I/O, no clock, no randomness. It holds the few facts of
//! the consensus spec that both the accounting and the beacon simulator rely on
//! (presets, committee layout, SSZ bitfields) so there is exactly one place that
//! says how a committee is sliced or how an aggregation bit is read.

pub mod beacon_committee;
pub mod bits;
pub mod hex;
pub mod ranges;
pub mod redact;
pub mod report;
pub mod sections;
pub mod spec;
pub mod types;

pub use bits::{Bitlist, BitsError, Bitvector};
pub use report::{ReportId, ReportKind};
pub use spec::BeaconSpec;
pub use types::*;
