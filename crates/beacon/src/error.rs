//! What can go wrong talking to a beacon node, said so an operator knows what to do.
//!
//! [`DecodeError`] is the pure part: a response body that does not have the shape
//! the Beacon API standard gives it. [`BeaconError`] adds which node (its URL with
//! credentials, path and query redacted) and which request, and says what to try.

use claystack_primitives::{hex::HexError, BitsError};
use std::time::Duration;
use thiserror::Error;

/// A response body that is not what the standard says it is.
///
/// Causes are fields named `error`, not `source`, as in `claystack-keys`: the message
/// already prints them, and a `source` would make `anyhow`'s `{:#}` print them twice.
#[derive(Debug, Error)]
pub enum DecodeError {
    /// Not JSON, or JSON of the wrong shape (missing field, integer not quoted, ...).
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A field that is not the 0x-hex the standard gives it.
    #[error("{field}: {error}")]
    Hex { field: String, error: HexError },
    /// A field that is not a valid SSZ bitfield.
    #[error("{field}: {error}")]
    Bits { field: String, error: BitsError },
    /// A block whose fork cannot be told.
    #[error("block has no fork `version`, neither in the body nor in the Eth-Consensus-Version header")]
    MissingVersion,
    /// A block of a fork newer than this oracle knows.
    #[error("block of unknown fork `{0}` (this oracle knows phase0 to fulu) — upgrade claystack-oracle")]
    UnknownFork(String),
    /// A block of a fork before the merge, which the oracle cannot account.
    #[error(
        "block of fork `{0}`, which carries no execution payload; the oracle needs bellatrix or later \
         — start accounting at a post-merge epoch"
    )]
    UnsupportedFork(String),
    /// A post-merge block without its execution payload.
    #[error("{fork} block has no execution_payload")]
    MissingPayload { fork: String },
    /// A block without a field its fork always has.
    #[error("{fork} block has no {field}")]
    MissingField { field: &'static str, fork: String },
    /// An Electra attestation without `committee_bits`.
    #[error(
        "attestations[{index}] of a {fork} block has no committee_bits, which every attestation has from electra on"
    )]
    MissingCommitteeBits { index: usize, fork: String },
    /// A pre-Electra attestation with `committee_bits`.
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

/// Any failure of a [`crate::BeaconClient`] call. Every message is one line; it names
/// the node and the request, not the binary's flags (the binary adds those).
#[derive(Debug, Error)]
pub enum BeaconError {
    /// The client was given no endpoint.
    #[error("no beacon node URL given")]
    NoEndpoints,
    /// An endpoint URL does not parse or has no host.
    #[error("beacon node URL `{url}` is invalid: {reason} — give a full URL such as http://127.0.0.1:5052")]
    InvalidUrl { url: String, reason: String },
    /// A state or block id that the Beacon API does not accept.
    #[error("invalid {what} `{value}`: expected head, genesis, finalized, justified, a slot number or a 0x root")]
    InvalidId { what: &'static str, value: String },
    /// No connection to the node (refused, reset, DNS, TLS).
    #[error("beacon node {endpoint} unreachable for {path}: {reason} — check its URL and that the node is running")]
    Unreachable { endpoint: String, path: String, reason: String },
    /// The node did not answer in time.
    #[error(
        "beacon node {endpoint} did not answer {path} within {timeout:?} — the node may be overloaded \
         or syncing; raise the timeout or add another endpoint"
    )]
    Timeout { endpoint: String, path: String, timeout: Duration },
    /// The node answered with an HTTP error status.
    #[error("beacon node {endpoint} answered {path} with HTTP {status}: {message} — {}", status_hint(*.status))]
    Status { endpoint: String, path: String, status: u16, message: String },
    /// The node answered 200 with a body that does not decode.
    #[error("beacon node {endpoint} answered {path} with {}: {error} — {}", .error.what(), .error.hint())]
    Malformed { endpoint: String, path: String, error: DecodeError },
    /// The node answered correctly with something this oracle cannot use (a pre-merge block).
    #[error("beacon node {endpoint} answered {path} with a {error}")]
    Unsupported { endpoint: String, path: String, error: DecodeError },
    /// Duties for one epoch came from two different shufflings.
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
            BeaconError::Malformed { error, .. } | BeaconError::Unsupported { error, .. } => Some(error),
            BeaconError::Exhausted { last, .. } => last.decode_error(),
            _ => None,
        }
    }

    /// Whether asking again, later or elsewhere, could help: the node was unreachable, slow,
    /// busy, not synced or garbled its answer. A bad URL or id, a refused request, or data
    /// this oracle cannot use stay as they are until someone changes something.
    pub fn is_retryable(&self) -> bool {
        match self {
            BeaconError::NoEndpoints | BeaconError::InvalidUrl { .. } | BeaconError::InvalidId { .. } => false,
            BeaconError::Unreachable { .. } | BeaconError::Timeout { .. } => true,
            // 404: not synced yet, or another node has it; 408/429/5xx: busy or failing for now.
            BeaconError::Status { status, .. } => matches!(status, 404 | 408 | 429 | 500..=599),
            BeaconError::Malformed { error, .. } | BeaconError::Unsupported { error, .. } => error.is_retryable(),
            BeaconError::DependentRootChanged { .. } => true,
            BeaconError::Exhausted { last, .. } => last.is_retryable(),
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
        401 | 403 => "the node refused access; check the credentials in its URL",
        404 => "the node does not have this data (not synced, or a pruned state: use an archive node)",
        405 => "the node does not serve this endpoint",
        429 => "the node is rate limiting us; add another endpoint or raise its limit",
        503 => "the node is syncing or not ready; wait or add another endpoint",
        500..=599 => "the node failed; check its logs",
        _ => "unexpected answer from a Beacon API endpoint",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> BeaconError {
        BeaconError::Status { endpoint: "http://n".into(), path: "/p".into(), status, message: String::new() }
    }

    #[test]
    fn only_what_time_or_another_node_can_fix_is_retryable() {
        for s in [404, 408, 429, 500, 503] {
            assert!(status(s).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 405] {
            assert!(!status(s).is_retryable(), "{s}");
        }
        assert!(!BeaconError::NoEndpoints.is_retryable());
        assert!(!BeaconError::InvalidId { what: "state id", value: "x".into() }.is_retryable());
        let pre_merge = DecodeError::UnsupportedFork("phase0".into());
        assert!(!BeaconError::Unsupported { endpoint: "n".into(), path: "/p".into(), error: pre_merge }.is_retryable());
        let exhausted = |last| BeaconError::Exhausted { endpoints: 1, attempts: 3, last: Box::new(last) };
        assert!(exhausted(status(503)).is_retryable());
        assert!(!exhausted(status(400)).is_retryable());
    }
}
