//! Follows the finalized beacon chain and keeps the attestation tallies of the
//! tracked validators up to date in the store, one epoch at a time.
//!
//! This is the I/O shell around `claystack-accounting`: it fetches duties and
//! blocks (many requests in flight), checks that the blocks form one unbroken
//! chain, hands each finished epoch to the pure accounting, and commits the
//! tally together with the new cursor in one atomic write. After a crash it
//! resumes from the cursor: no epoch is counted twice or skipped.

mod follower;
mod window;

pub use follower::{tracked_hash, Follower, SyncConfig, SyncError};
pub use window::{BlockWindow, LinkError};
