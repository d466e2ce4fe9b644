//! The committee's signatures, from the bytes a member signs to the aggregate a submitter
//! sends on chain:
//!
//! - [`signing`]: the 32-byte signing root of a report (`docs/signing.md`);
//! - [`bls`]: sign, verify, aggregate, batch-verify, and the EIP-2537 encodings the
//!   contract's precompiles take;
//! - [`message`]: the gossip message carrying one member's signature;
//! - [`roster`]: the committee (keys, threshold, signing domain) and the signer bitmap;
//! - [`validate`]: the report window and why a gossip message is refused;
//! - [`collector`]: the signature-collection state machine, `(state, input) -> actions`.
//!
//! Pure: no I/O, no clock (time comes in as `now_ms`), no randomness (batch verification
//! derives its scalars from its inputs; see [`bls`]), no async runtime. The driver in the
//! node owns sockets, timers and the store and carries out the collector's actions.
//!
//! ```
//! use claystack_quorum::{Action, Collector, Config, Input, Persisted, Roster};
//! use claystack_primitives::{ReportId, ReportKind};
//! use claystack_quorum::{SecretKeySigner, Signer, SigningDomain};
//! use std::sync::Arc;
//!
//! // A committee of one (threshold 1), so this node's own signature is a quorum.
//! let me = SecretKeySigner::from_bytes(&[7; 32]).unwrap();
//! let domain = SigningDomain { chain_id: 31337, node_manager: [0x5f; 20] };
//! let roster = Arc::new(Roster::new(domain, 1, &[me.public_key()])?);
//! let (mut collector, _) = Collector::new(Config::default(), roster, me, 0, Persisted::default())?;
//!
//! let id = ReportId::new(ReportKind::Rewards, 1);
//! let actions = collector.handle(Input::Own { id, merkle_root: [1; 32], report_hash: [2; 32] })?;
//! // Store the signature, then send it; the quorum is this node's turn to submit (1 mod 1 = 0).
//! assert!(matches!(
//!     &actions[..],
//!     [Action::Persist(_), Action::Broadcast(_), Action::QuorumReached(_), Action::Submit { attempt: 0, .. }]
//! ));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bls;
pub mod collector;
pub mod digest;
pub mod message;
pub mod roster;
pub mod schedule;
pub mod signing;
pub mod validate;

pub use bls::{SecretKeySigner, Signer};
pub use collector::{Action, Certificate, Collector, CollectorError, Config, Evidence, Input, Persisted, Standing};
pub use digest::{SectionDigest, DIGEST_LEN, DIGEST_VERSION};
pub use message::{DecodeError, SignatureMessage, MAX_MESSAGE_SIZE, MESSAGE_LEN, MESSAGE_VERSION};
pub use roster::{Roster, RosterError, SignerBitmap, MAX_MEMBERS};
pub use schedule::{CommitteeSchedule, CommitteeVersion, ScheduleError};
pub use signing::{SigningDomain, SigningRoot, REPORT_DOMAIN, REPORT_DOMAIN_TAG};
pub use validate::{RejectReason, Window};
