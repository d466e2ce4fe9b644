//! A client for the standard Beacon REST API (ethereum/beacon-APIs), the one
//! Lighthouse, Prysm, Teku, Nimbus and Lodestar serve.
//!
//! It turns the few endpoints the oracle reads (genesis, spec, finality,
//! headers, blocks, attester duties, committees, validators) into the checked
//! values of `claystack-primitives`, over several nodes with retries and
//! failover. Bodies are decoded strictly as the standard writes them
//! ([`parse`]); a node that answers something else gets an error naming it.
//!
//! This crate must never log or print a secret: endpoint URLs are shown with
//! their credentials, path and query redacted.

mod client;
mod endpoint;
mod error;
pub mod parse;
mod types;

pub use client::{BeaconClient, ClientConfig, MAX_BACKOFF, MAX_IDS_PER_GET, MAX_IDS_PER_POST};
pub use error::{BeaconError, DecodeError};
pub use parse::Fork;
pub use types::{
    AttesterDuties, BeaconCommittee, BeaconGenesis, BlockHeader, Checkpoint, FinalityCheckpoints, SyncStatus,
};
