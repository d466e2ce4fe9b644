//! What can go wrong talking to a beacon node, said so an operator knows what to do.
//!
//! [`DecodeError`] is the pure part: a response body that does not have the shape
//! the Beacon API standard gives it. [`BeaconError`] adds which node (its URL with
//! credentials, path and query redacted) and which request, and says what to try.

use claystack_primitives::{hex::HexError, BitsError};
use std::time::Duration;
use thiserror::Error;

/// A response body that is not what the standard says it is.
#[derive(Debug, Error)]
pub enum DecodeError {
    /// Not JSON, or JSON of the wrong shape (missing field, integer not quoted, ...).
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("{field}: {source}")]
    Hex { field: String, source: HexError },
    #[error("{field}: {source}")]
    Bits { field: String, source: BitsError },
    #[error("block has no fork `version`, neither in the body nor in the Eth-Consensus-Version header")]
    MissingVersion,
    #[error("block of unknown fork `{0}` (this oracle knows phase0 to fulu) — upgrade claystack-oracle")]
    UnknownFork(String),
    #[error(
        "block of fork `{0}`, which carries no execution payload; the oracle needs bellatrix or later \
         — start accounting at a post-merge epoch"
    )]
    UnsupportedFork(String),
    #[error("{fork} block has no execution_payload")]
    MissingPayload { fork: String },
    #[error(
        "attestations[{index}] of a {fork} block has no committee_bits, which every attestation has from electra on"
    )]
    MissingCommitteeBits { index: usize, fork: String },
    #[error("attestations[{index}] of a {fork} block has committee_bits, which only exist from electra on")]
    UnexpectedCommitteeBits { index: usize, fork: String },
    /// Well-formed but impossible values (a duty outside its committee, a zero spec constant, ...).
    #[error("{0}")]
    Invalid(String),
}

impl DecodeError {
    /// Whether asking again could help. A fork we cannot read stays unreadable;
    /// a garbled body may be a flaky node or proxy.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, DecodeError::UnknownFork(_) | DecodeError::UnsupportedFork(_))
    }

    fn what(&self) -> &'static str {
        match self {
            DecodeError::Json(_) => "malformed JSON",
            _ => "invalid data",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            DecodeError::Json(_) => "is this a Beacon API endpoint?",
            _ => "is the node on the expected network and up to date?",
        }
    }
}

/// Any failure of a [`crate::BeaconClient`] call. Every message is one line.
#[derive(Debug, Error)]
pub enum BeaconError {
    #[error("no beacon node URL given — pass at least one --beacon-url")]
    NoEndpoints,
    #[error("beacon node URL `{url}` is invalid: {reason} — give a full URL such as http://127.0.0.1:5052")]
    InvalidUrl { url: String, reason: String },
    #[error("invalid {what} `{value}`: expected head, genesis, finalized, justified, a slot number or a 0x root")]
    InvalidId { what: &'static str, value: String },
    #[error(
        "beacon node {endpoint} unreachable for {path}: {reason} — check --beacon-url and that the node is running"
    )]
    Unreachable { endpoint: String, path: String, reason: String },
    #[error(
        "beacon node {endpoint} did not answer {path} within {timeout:?} — the node may be overloaded \
         or syncing; raise the timeout or add another endpoint"
    )]
    Timeout { endpoint: String, path: String, timeout: Duration },
    #[error("beacon node {endpoint} answered {path} with HTTP {status}: {message} — {}", status_hint(*.status))]
    Status { endpoint: String, path: String, status: u16, message: String },
    #[error("beacon node {endpoint} answered {path} with {}: {source} — {}", .source.what(), .source.hint())]
    Malformed { endpoint: String, path: String, source: DecodeError },
    /// The node answered correctly with something this oracle cannot use (a pre-merge block).
    #[error("beacon node {endpoint} answered {path} with a {source}")]
    Unsupported { endpoint: String, path: String, source: DecodeError },
    #[error(
        "beacon node {endpoint} changed dependent_root between duty requests for epoch {epoch} (a reorg?) \
         — retry once the epoch is finalized"
    )]
    DependentRootChanged { endpoint: String, epoch: u64 },
    /// Every endpoint failed; `last` is the last failure seen.
    #[error("{last} (gave up after {attempts} attempt{} on {endpoints} endpoint{})", plural(*.attempts as usize), plural(*.endpoints))]
    Exhausted { endpoints: usize, attempts: u32, last: Box<BeaconError> },
}

impl BeaconError {
    /// The HTTP status the node answered, if that is what failed (looks through [`BeaconError::Exhausted`]).
    pub fn status(&self) -> Option<u16> {
        match self {
            BeaconError::Status { status, .. } => Some(*status),
            BeaconError::Exhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    /// The body decoding failure, if that is what failed (looks through [`BeaconError::Exhausted`]).
    pub fn decode_error(&self) -> Option<&DecodeError> {
        match self {
            BeaconError::Malformed { source, .. } | BeaconError::Unsupported { source, .. } => Some(source),
            BeaconError::Exhausted { last, .. } => last.decode_error(),
            _ => None,
        }
    }

    /// The innermost failure (the error itself unless it is [`BeaconError::Exhausted`]).
    pub fn last(&self) -> &BeaconError {
        match self {
            BeaconError::Exhausted { last, .. } => last.last(),
            e => e,
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn status_hint(status: u16) -> &'static str {
    match status {
        400 => "the node rejected the request; this is a bug in the oracle or the node, please report it",
        401 | 403 => "the node refused access; check the credentials in --beacon-url",
        404 => "the node does not have this data (not synced, or a pruned state: use an archive node)",
        405 => "the node does not serve this endpoint",
        429 => "the node is rate limiting us; add another endpoint or raise its limit",
        503 => "the node is syncing or not ready; wait or add another endpoint",
        500..=599 => "the node failed; check its logs",
        _ => "unexpected answer from a Beacon API endpoint",
    }
}
