//! The genesis file: one versioned JSON document, identified by its content hash, that
//! fixes everything every oracle node must agree on — chain id, contract addresses, the
//! committee (BLS keys with proofs of possession, peer ids, submitter addresses) and its
//! threshold, the SSV price source and the protocol's [`Economics`].
//!
//! [`Genesis::load`] parses a file and returns its [`Genesis::hash`]; [`Genesis::verify`]
//! lists every problem, one line each; [`generate_local`] writes a valid genesis for a local
//! committee from a seed. The canonical encoding behind the hash is in `README.md`.
//! [`ceremony`] assembles a genesis from members' public entries and checks their approvals,
//! for a committee whose members each keep their own keys (docs/genesis.md).

pub mod bls;
pub mod ceremony;
pub mod hexbytes;

pub use ceremony::{assemble, check_approvals, Approval, ApprovalProblem, AssemblyProblem, MemberEntry};

pub use claystack_rewards::{Address, Economics};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use thiserror::Error;

/// The only genesis format version this crate reads.
pub const VERSION: u32 = 2;

/// Prefix of the hashed bytes: binds the hash to this format.
pub const HASH_DOMAIN: &[u8] = b"claystack-genesis-v2\0";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    pub version: u32,
    pub chain_id: u64,
    pub contracts: Contracts,
    pub committee: Committee,
    /// Beacon epoch where the frame of report 1 starts; report `n` covers
    /// `first_epoch + (n - 1) * economics.frame_epochs` for `frame_epochs` epochs.
    pub first_epoch: u64,
    pub economics: Economics,
    pub ssv_price_source: SsvPriceSource,
    /// The beacon chain's `genesis_validators_root` (`GET /eth/v1/beacon/genesis`): a node
    /// refuses a beacon node of another network. Optional, and absent from the file (and
    /// from the hash) when not set, so genesis files written before it keep their hash.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hexbytes::option")]
    pub beacon_genesis_validators_root: Option<[u8; 32]>,
    /// The exits reports: their cadence, the withdrawal queue they read and the exit rules.
    /// Optional, and absent from the file (and from the hash) when not set: a committee
    /// without it publishes rewards reports only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exits: Option<Exits>,
}

/// The exits reports (docs/exits.md). Exits report `n` is read at the last non-empty slot of
/// epoch `first_epoch + n * cadence_epochs - 1`, its **reference epoch**.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exits {
    /// Beacon epochs between two exits reports (225 is about a day).
    pub cadence_epochs: u64,
    /// The `WithdrawalQueue`: `liquidity()` is the unmet withdrawal demand and the buffer.
    pub withdrawal_queue: Address,
    pub rules: claystack_exits::ExitRules,
}

impl Exits {
    /// The reference epoch of exits report `number` (from 1), or `None` on overflow.
    pub fn reference_epoch(&self, first_epoch: u64, number: u64) -> Option<u64> {
        number.checked_mul(self.cadence_epochs)?.checked_add(first_epoch)?.checked_sub(1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contracts {
    pub node_manager: Address,
    pub operator_registry: Address,
    /// The protocol validators' fee recipient (`RewardsVault`): the execution-layer part of `T`
    /// is what it received between two reference blocks.
    pub rewards_vault: Address,
    /// `RewardsGovernance`: the agreed SSV price with its history, and explicit adjustments.
    pub rewards_governance: Address,
    /// A Chainlink `AggregatorV3Interface` feed of the SSV price in ETH: the observed price.
    pub ssv_price_feed: Address,
    /// A block at or before the contracts' deployment: the node reads their events
    /// (committee changes, voluntary exit requests, accepted reports) from here, not from
    /// block 0, which on mainnet would be thousands of `eth_getLogs` ranges per read. Absent
    /// from the file (and from the hash) when 0, so genesis files written before it keep
    /// their hash; 0 is right for a local chain. Reports do not depend on it: no event is
    /// older than the contracts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deployed_at_block: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Committee {
    /// Signatures needed for a report; must be a strict majority of `members`.
    pub threshold: u32,
    /// Member `i` is bit `i` of a report's signer bitmap. May be absent (empty) in a template
    /// for [`assemble`]; [`Genesis::verify`] refuses an empty committee.
    #[serde(default)]
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Compressed G1 public key (48 bytes, `0x` hex).
    #[serde(with = "hexbytes")]
    pub bls_pubkey: [u8; 48],
    /// Proof of possession of `bls_pubkey` (96-byte G2 signature, `0x` hex).
    #[serde(with = "hexbytes")]
    pub pop: [u8; 96],
    /// The member's libp2p peer id.
    pub peer_id: String,
    /// The execution-layer address that submits the member's reports.
    pub submitter: Address,
}

/// How the SSV prices of the `O` settlement are read: the agreed price from
/// `contracts.rewards_governance`, the observed price from `contracts.ssv_price_feed`, both at
/// the frame's reference block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsvPriceSource {
    /// The feed's latest round must have been updated at most this many seconds before the
    /// reference block's timestamp; an older round is stale and the node does not sign.
    pub max_age_secs: u64,
}

/// One thing wrong with a genesis; `Display` is one line naming the field and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Problem {
    /// A genesis version this build does not read.
    #[error("version: {0} is not supported; this build reads version {VERSION}")]
    UnsupportedVersion(u32),
    /// `chain_id` is 0.
    #[error("chain_id: is 0; set the chain id of the execution chain the contracts live on")]
    ZeroChainId,
    /// A contract address is zero.
    #[error("contracts.{0}: is the zero address; set the deployed contract's address")]
    ZeroContract(&'static str),
    /// The committee has no member.
    #[error("committee.members: is empty; add at least one member")]
    EmptyCommittee,
    /// The threshold is 0.
    #[error("committee.threshold: is 0; set it to a strict majority of the {members} members (at least {min})")]
    ThresholdZero { members: usize, min: usize },
    /// The threshold exceeds the members.
    #[error("committee.threshold: {threshold} is more than the {members} members; no report could ever be signed")]
    ThresholdAboveMembers { threshold: u32, members: usize },
    /// The threshold is not a strict majority.
    #[error("committee.threshold: {threshold} of {members} is not a strict majority; set it to at least {min}, or two disjoint quorums could sign two different roots")]
    ThresholdNotMajority { threshold: u32, members: usize, min: usize },
    /// A member's BLS public key does not decode.
    #[error("committee.members[{member}].bls_pubkey: invalid public key ({reason}); replace it with the member's key")]
    InvalidPubkey { member: usize, reason: String },
    /// A member's proof of possession does not verify.
    #[error("committee.members[{member}].pop: not a valid proof of possession of its bls_pubkey; regenerate it with the member's secret key")]
    BadPop { member: usize },
    /// Two members share a BLS public key.
    #[error("committee.members[{second}].bls_pubkey: same key as member {first}; each member needs its own key")]
    DuplicatePubkey { first: usize, second: usize },
    /// A member has no peer id.
    #[error("committee.members[{member}].peer_id: is empty; set the member's libp2p peer id")]
    EmptyPeerId { member: usize },
    /// Two members share a peer id.
    #[error(
        "committee.members[{second}].peer_id: `{peer_id}` is also member {first}'s; each member needs its own peer id"
    )]
    DuplicatePeerId { first: usize, second: usize, peer_id: String },
    /// A member's submitter is the zero address.
    #[error("committee.members[{member}].submitter: is the zero address; set the member's submitting address")]
    ZeroSubmitter { member: usize },
    /// Two members share a submitter.
    #[error("committee.members[{second}].submitter: {address} is also member {first}'s; each member needs its own submitter")]
    DuplicateSubmitter { first: usize, second: usize, address: Address },
    /// The feed's staleness bound is 0: every round would be stale.
    #[error(
        "ssv_price_source.max_age_secs: is 0; set how old the feed's latest round may be (its heartbeat plus a margin)"
    )]
    ZeroFeedMaxAge,
    /// `Economics::validate` failed; its message names the field.
    #[error("{0}")]
    Economics(claystack_rewards::RewardsError),
    /// The exits section is unusable.
    #[error("exits.{field}: {reason}")]
    Exits { field: &'static str, reason: String },
}

#[derive(Debug, Error)]
pub enum GenesisError {
    // The I/O error is part of the message, not a `source`: anyhow's `{:#}` would print it twice.
    /// The file cannot be read.
    #[error("genesis {path}: cannot read: {error}")]
    Read { path: String, error: std::io::Error },
    /// The file is not a genesis file.
    #[error("genesis {path}: not a valid genesis file: {message}")]
    Parse { path: String, message: String },
    /// The file cannot be written.
    #[error("genesis {path}: cannot write: {error}")]
    Write { path: String, error: std::io::Error },
}

impl Genesis {
    /// The content hash: SHA-256 of [`HASH_DOMAIN`] followed by the compact JSON encoding of
    /// this value (see README.md). Independent of whitespace, key order and hex case in the file.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(HASH_DOMAIN);
        h.update(self.canonical_json());
        h.finalize().into()
    }

    /// The bytes the hash covers (after the domain tag).
    pub fn canonical_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("genesis serializes")
    }

    /// The file form: pretty JSON with a trailing newline, fields in declaration order.
    pub fn to_pretty_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("genesis serializes");
        s.push('\n');
        s
    }

    /// Parses a genesis from JSON text (no semantic checks; see [`Genesis::verify`]).
    pub fn from_json(text: &str) -> Result<Genesis, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Reads and parses `path`, returning the genesis and its content hash. Does not
    /// [`verify`](Genesis::verify) it.
    pub fn load(path: &Path) -> Result<(Genesis, [u8; 32]), GenesisError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| GenesisError::Read { path: shown.clone(), error: source })?;
        let g = Genesis::from_json(&text).map_err(|e| GenesisError::Parse { path: shown, message: e.to_string() })?;
        let hash = g.hash();
        Ok((g, hash))
    }

    /// Writes the pretty form to `path`, atomically (see `claystack_fs_util::write_atomic`).
    pub fn save(&self, path: &Path) -> Result<(), GenesisError> {
        claystack_fs_util::write_atomic(path, self.to_pretty_json().as_bytes())
            .map_err(|e| GenesisError::Write { path: path.display().to_string(), error: e.source })
    }

    /// Every problem found, in field order; empty means valid.
    pub fn verify(&self) -> Vec<Problem> {
        let mut p = Vec::new();
        if self.version != VERSION {
            p.push(Problem::UnsupportedVersion(self.version));
        }
        if self.chain_id == 0 {
            p.push(Problem::ZeroChainId);
        }
        if self.contracts.node_manager == Address::default() {
            p.push(Problem::ZeroContract("node_manager"));
        }
        for (field, address) in [
            ("operator_registry", self.contracts.operator_registry),
            ("rewards_vault", self.contracts.rewards_vault),
            ("rewards_governance", self.contracts.rewards_governance),
            ("ssv_price_feed", self.contracts.ssv_price_feed),
        ] {
            if address == Address::default() {
                p.push(Problem::ZeroContract(field));
            }
        }
        self.verify_committee(&mut p);
        if let Err(e) = self.economics.validate() {
            p.push(Problem::Economics(e));
        }
        if self.ssv_price_source.max_age_secs == 0 {
            p.push(Problem::ZeroFeedMaxAge);
        }
        if let Some(exits) = &self.exits {
            verify_exits(exits, &mut p);
        }
        p
    }

    fn verify_committee(&self, p: &mut Vec<Problem>) {
        let c = &self.committee;
        let n = c.members.len();
        let min = n / 2 + 1;
        if n == 0 {
            p.push(Problem::EmptyCommittee);
        } else if c.threshold == 0 {
            p.push(Problem::ThresholdZero { members: n, min });
        } else if c.threshold as usize > n {
            p.push(Problem::ThresholdAboveMembers { threshold: c.threshold, members: n });
        } else if (c.threshold as usize) < min {
            p.push(Problem::ThresholdNotMajority { threshold: c.threshold, members: n, min });
        }
        let mut keys = BTreeMap::new();
        let mut peers = BTreeMap::new();
        let mut submitters = BTreeMap::new();
        for (i, m) in c.members.iter().enumerate() {
            match bls::pubkey_check(&m.bls_pubkey) {
                Err(reason) => p.push(Problem::InvalidPubkey { member: i, reason }),
                Ok(()) if !bls::pop_verify(&m.bls_pubkey, &m.pop) => p.push(Problem::BadPop { member: i }),
                Ok(()) => {}
            }
            if let Some(&first) = keys.get(&m.bls_pubkey) {
                p.push(Problem::DuplicatePubkey { first, second: i });
            } else {
                keys.insert(m.bls_pubkey, i);
            }
            if m.peer_id.is_empty() {
                p.push(Problem::EmptyPeerId { member: i });
            } else if let Some(&first) = peers.get(m.peer_id.as_str()) {
                p.push(Problem::DuplicatePeerId { first, second: i, peer_id: m.peer_id.clone() });
            } else {
                peers.insert(m.peer_id.as_str(), i);
            }
            if m.submitter == Address::default() {
                p.push(Problem::ZeroSubmitter { member: i });
            } else if let Some(&first) = submitters.get(&m.submitter) {
                p.push(Problem::DuplicateSubmitter { first, second: i, address: m.submitter });
            } else {
                submitters.insert(m.submitter, i);
            }
        }
    }
}

fn verify_exits(e: &Exits, p: &mut Vec<Problem>) {
    let mut problem = |field: &'static str, reason: String| p.push(Problem::Exits { field, reason });
    if e.cadence_epochs == 0 {
        problem("cadence_epochs", "is 0; set the beacon epochs between two exits reports (225 is about a day)".into());
    }
    if e.withdrawal_queue == Address::default() {
        problem("withdrawal_queue", "is the zero address; set the deployed WithdrawalQueue's address".into());
    }
    let r = &e.rules;
    if r.demand.per_exit_wei == 0 {
        problem("rules.demand.per_exit_wei", "is 0; set what one exit pays (32 ETH is 32000000000000000000)".into());
    }
    if r.voluntary.fast_track_exit_within_epochs > r.voluntary.exit_within_epochs {
        problem(
            "rules.voluntary.fast_track_exit_within_epochs",
            format!(
                "{} is longer than exit_within_epochs ({}); the fast track must be the shorter window",
                r.voluntary.fast_track_exit_within_epochs, r.voluntary.exit_within_epochs
            ),
        );
    }
    if let Err(error) = r.targets.check() {
        problem("rules.targets", format!("{error}; fix the shares"));
    }
}

/// Frame length of a local testnet genesis, in beacon epochs.
pub const LOCAL_FRAME_EPOCHS: u64 = 4;

/// How old the SSV feed's round may be in a local genesis: a day and an hour (Chainlink's
/// ETH-pair feeds have a 24 h heartbeat).
pub const LOCAL_FEED_MAX_AGE_SECS: u64 = 90_000;

fn derive(label: &[u8], seed: &[u8; 32], index: Option<u32>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"claystack-genesis-local\0");
    h.update(label);
    h.update([0]);
    h.update(seed);
    if let Some(i) = index {
        h.update(i.to_be_bytes());
    }
    h.finalize().into()
}

fn derive_address(label: &[u8], seed: &[u8; 32], index: Option<u32>) -> Address {
    let d = derive(label, seed, index);
    let mut a = [0u8; 20];
    a.copy_from_slice(&d[12..]);
    Address(a)
}

/// A genesis for a local committee of `members`, deterministic from `seed`, and the
/// members' 32-byte secret keys (member `i`'s at index `i`). The caller owns the secrets:
/// nothing here writes or logs them.
///
/// Member `i`'s key is blst `key_gen` (EIP-2333 KeyGen) of
/// `SHA-256("claystack-genesis-local\0" || "ikm\0" || seed || i as u32 big-endian)`.
/// Economics are [`Economics::mainnet_default`] with `frame_epochs` = [`LOCAL_FRAME_EPOCHS`].
///
/// Placeholders until the committee, keys and contract work replaces them: peer ids are
/// `"local-<i>"` (not libp2p ids), submitter and contract addresses are the last 20 bytes of
/// seed-derived SHA-256 values (nobody holds their keys), and the feed's staleness bound is
/// [`LOCAL_FEED_MAX_AGE_SECS`]. `threshold` is taken as given; [`Genesis::verify`] judges it.
pub fn generate_local(members: usize, threshold: u32, seed: [u8; 32], chain_id: u64) -> (Genesis, Vec<[u8; 32]>) {
    let mut secrets = Vec::with_capacity(members);
    let mut list = Vec::with_capacity(members);
    for i in 0..members {
        let i32_ = u32::try_from(i).expect("fewer than 2^32 members");
        let ikm = derive(b"ikm", &seed, Some(i32_));
        let sk = blst::min_pk::SecretKey::key_gen(&ikm, &[]).expect("ikm is 32 bytes");
        list.push(Member {
            bls_pubkey: bls::public_key(&sk),
            pop: bls::pop_sign(&sk),
            peer_id: format!("local-{i}"),
            submitter: derive_address(b"submitter", &seed, Some(i32_)),
        });
        secrets.push(sk.to_bytes());
    }
    let mut economics = Economics::mainnet_default();
    economics.frame_epochs = LOCAL_FRAME_EPOCHS;
    let genesis = Genesis {
        version: VERSION,
        chain_id,
        contracts: Contracts {
            node_manager: derive_address(b"node_manager", &seed, None),
            operator_registry: derive_address(b"operator_registry", &seed, None),
            rewards_vault: derive_address(b"rewards_vault", &seed, None),
            rewards_governance: derive_address(b"rewards_governance", &seed, None),
            ssv_price_feed: derive_address(b"ssv_price_feed", &seed, None),
            deployed_at_block: 0,
        },
        committee: Committee { threshold, members: list },
        first_epoch: 0,
        economics,
        ssv_price_source: SsvPriceSource { max_age_secs: LOCAL_FEED_MAX_AGE_SECS },
        beacon_genesis_validators_root: None,
        exits: None,
    };
    (genesis, secrets)
}

#[cfg(test)]
mod tests;
