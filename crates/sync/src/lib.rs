//! Follows the finalized beacon chain and keeps the attestation tallies of the
//! tracked validators up to date in the store, one epoch at a time.
//!
//! This is the I/O shell around `claystack-accounting`: it fetches duties and
//! blocks (many requests in flight), checks that the blocks form one unbroken
//! chain, hands each finished epoch to the pure accounting, and commits the
//! tally together with the new cursor in one atomic write. After a crash it
//! resumes from the cursor: no epoch is counted twice or skipped.
//!
//! A beacon node that is down, overloaded or answering nonsense does not stop it: errors
//! that waiting can fix are retried with backoff for as long as it takes, and the
//! follower's [`FollowerStatus`] (a `watch` channel) says so once, for the node's health.
//! Only what waiting cannot fix (the store fails, a request the node refuses as invalid)
//! ends [`Follower::run`].

mod follower;
mod window;

pub use follower::{tracked_hash, Follower, FollowerProbe, FollowerStatus, SyncConfig, SyncError};
pub use window::{BlockWindow, LinkError};
