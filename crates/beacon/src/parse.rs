//! Pure decoders for Beacon API response bodies: bytes in, checked values out.
//!
//! Each decoder reads the body with `serde_json::from_slice` into structs that
//! borrow their hex strings from the body and skip every field the oracle does
//! not read (transactions, signatures, proofs, ...), then decodes the hex
//! with `claystack-primitives`. Blocks and duties are on the oracle's hot path.
//!
//! Strictness follows the standard: integers are quoted decimal strings and a
//! bare JSON number is rejected, byte strings are `0x`-hex of exactly their
//! length. The one exception is `/eth/v1/config/spec`, whose values real clients
//! have served both quoted and bare (ethereum/beacon-APIs#510, nimbus-eth2#5371):
//! there both forms are accepted.

use crate::error::DecodeError;
use crate::types::{
    AttesterDuties, BeaconCommittee, BeaconGenesis, BlockHeader, Checkpoint, FinalityCheckpoints, SyncStatus,
};
use claystack_primitives::{
    hex, Attestation, AttesterDuty, BeaconSpec, Bitlist, Bitvector, BlockSummary, Deposit, ExecutionLink, Root,
    ValidatorInfo, Withdrawal,
};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

// ---------------------------------------------------------------------------
// Integers

/// A `u64` the API writes as a quoted decimal string (`"32"`).
#[derive(Debug, Clone, Copy)]
struct Quoted(u64);

impl<'de> Deserialize<'de> for Quoted {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(QuotedVisitor { lenient: false })
    }
}

/// A spec value: quoted or, since clients differ, a bare JSON number.
#[derive(Debug, Clone, Copy)]
struct Lenient(u64);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(QuotedVisitor { lenient: true }).map(|Quoted(v)| Lenient(v))
    }
}

struct QuotedVisitor {
    lenient: bool,
}

impl Visitor<'_> for QuotedVisitor {
    type Value = Quoted;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer as a quoted decimal string such as \"32\" (the Beacon API quotes integers)")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Quoted, E> {
        decimal(s).map(Quoted).ok_or_else(|| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                E::custom(format_args!("`{s}` does not fit in 64 bits"))
            } else {
                E::custom(format_args!("`{s}` is not a decimal integer"))
            }
        })
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quoted, E> {
        if self.lenient {
            Ok(Quoted(v))
        } else {
            Err(E::invalid_type(de::Unexpected::Unsigned(v), &self))
        }
    }
}

/// Digits only, no sign, fits in a `u64`; one pass, since duties hold 60k of them.
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |v, c| {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v.checked_mul(10)?.checked_add(d as u64)
    })
}

// ---------------------------------------------------------------------------
// Hex

fn root(s: &str, field: impl FnOnce() -> String) -> Result<Root, DecodeError> {
    fixed::<32>(s, field)
}

fn fixed<const N: usize>(s: &str, field: impl FnOnce() -> String) -> Result<[u8; N], DecodeError> {
    hex::decode_fixed::<N>(s).map_err(|error| DecodeError::Hex { field: field(), error })
}

fn name(s: &'static str) -> impl FnOnce() -> String {
    move || s.to_string()
}

// ---------------------------------------------------------------------------
// Envelopes

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

/// The `{"code":..,"message":".."}` body of an error answer, if it is one.
pub fn error_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: String,
    }
    serde_json::from_slice::<ErrorBody>(body).ok().map(|e| e.message)
}

// ---------------------------------------------------------------------------
// Node and config

/// `/eth/v1/node/version`.
pub fn node_version(body: &[u8]) -> Result<String, DecodeError> {
    #[derive(Deserialize)]
    struct Version {
        version: String,
    }
    Ok(serde_json::from_slice::<Data<Version>>(body)?.data.version)
}

/// `/eth/v1/node/syncing`.
pub fn syncing(body: &[u8]) -> Result<SyncStatus, DecodeError> {
    #[derive(Deserialize)]
    struct Syncing {
        head_slot: Quoted,
        sync_distance: Quoted,
        is_syncing: bool,
        #[serde(default)]
        is_optimistic: bool,
        #[serde(default)]
        el_offline: bool,
    }
    let s = serde_json::from_slice::<Data<Syncing>>(body)?.data;
    Ok(SyncStatus {
        head_slot: s.head_slot.0,
        sync_distance: s.sync_distance.0,
        is_syncing: s.is_syncing,
        is_optimistic: s.is_optimistic,
        el_offline: s.el_offline,
    })
}

/// `/eth/v1/beacon/genesis`.
pub fn genesis(body: &[u8]) -> Result<BeaconGenesis, DecodeError> {
    #[derive(Deserialize)]
    struct G<'a> {
        genesis_time: Quoted,
        genesis_validators_root: &'a str,
        genesis_fork_version: &'a str,
    }
    let g: Data<G> = serde_json::from_slice(body)?;
    Ok(BeaconGenesis {
        genesis_time: g.data.genesis_time.0,
        genesis_validators_root: root(g.data.genesis_validators_root, name("genesis_validators_root"))?,
        genesis_fork_version: fixed::<4>(g.data.genesis_fork_version, name("genesis_fork_version"))?,
    })
}

/// `/eth/v1/config/spec`: the constants the oracle needs; all other keys are ignored.
pub fn spec(body: &[u8]) -> Result<BeaconSpec, DecodeError> {
    #[derive(Deserialize)]
    #[allow(non_snake_case)]
    struct S {
        SLOTS_PER_EPOCH: Lenient,
        SECONDS_PER_SLOT: Lenient,
        TARGET_COMMITTEE_SIZE: Lenient,
        MAX_COMMITTEES_PER_SLOT: Lenient,
        ELECTRA_FORK_EPOCH: Option<Lenient>,
    }
    let s = serde_json::from_slice::<Data<S>>(body)?.data;
    let spec = BeaconSpec {
        slots_per_epoch: s.SLOTS_PER_EPOCH.0,
        seconds_per_slot: s.SECONDS_PER_SLOT.0,
        target_committee_size: s.TARGET_COMMITTEE_SIZE.0,
        max_committees_per_slot: s.MAX_COMMITTEES_PER_SLOT.0,
        electra_fork_epoch: s.ELECTRA_FORK_EPOCH.map_or(u64::MAX, |e| e.0),
    };
    for (key, v) in [
        ("SLOTS_PER_EPOCH", spec.slots_per_epoch),
        ("SECONDS_PER_SLOT", spec.seconds_per_slot),
        ("TARGET_COMMITTEE_SIZE", spec.target_committee_size),
        ("MAX_COMMITTEES_PER_SLOT", spec.max_committees_per_slot),
    ] {
        if v == 0 {
            return Err(DecodeError::Invalid(format!("{key} is 0")));
        }
    }
    // Bitvector lengths are taken from it; a wild value would make every block unreadable.
    if spec.max_committees_per_slot > 1 << 16 {
        return Err(DecodeError::Invalid(format!(
            "MAX_COMMITTEES_PER_SLOT {} is implausible",
            spec.max_committees_per_slot
        )));
    }
    Ok(spec)
}

/// `/eth/v1/config/spec`'s `SHARD_COMMITTEE_PERIOD`: epochs a validator must have been active
/// before the beacon chain accepts its voluntary exit (256 on mainnet, 64 on minimal).
pub fn shard_committee_period(body: &[u8]) -> Result<u64, DecodeError> {
    #[derive(Deserialize)]
    #[allow(non_snake_case)]
    struct S {
        SHARD_COMMITTEE_PERIOD: Lenient,
    }
    Ok(serde_json::from_slice::<Data<S>>(body)?.data.SHARD_COMMITTEE_PERIOD.0)
}

// ---------------------------------------------------------------------------
// Beacon state and headers

#[derive(Deserialize)]
struct CheckpointJson<'a> {
    epoch: Quoted,
    root: &'a str,
}

impl CheckpointJson<'_> {
    fn decode(&self, field: &'static str) -> Result<Checkpoint, DecodeError> {
        Ok(Checkpoint { epoch: self.epoch.0, root: root(self.root, || format!("{field}.root"))? })
    }
}

/// `/eth/v1/beacon/states/{state_id}/finality_checkpoints`.
pub fn finality_checkpoints(body: &[u8]) -> Result<FinalityCheckpoints, DecodeError> {
    #[derive(Deserialize)]
    struct F<'a> {
        #[serde(borrow)]
        previous_justified: CheckpointJson<'a>,
        #[serde(borrow)]
        current_justified: CheckpointJson<'a>,
        #[serde(borrow)]
        finalized: CheckpointJson<'a>,
    }
    let f = serde_json::from_slice::<Data<F>>(body)?.data;
    Ok(FinalityCheckpoints {
        previous_justified: f.previous_justified.decode("previous_justified")?,
        current_justified: f.current_justified.decode("current_justified")?,
        finalized: f.finalized.decode("finalized")?,
    })
}

/// `/eth/v1/beacon/headers/{block_id}`.
pub fn header(body: &[u8]) -> Result<BlockHeader, DecodeError> {
    #[derive(Deserialize)]
    struct H<'a> {
        root: &'a str,
        #[serde(borrow)]
        header: Signed<Msg<'a>>,
    }
    #[derive(Deserialize)]
    struct Signed<T> {
        message: T,
    }
    #[derive(Deserialize)]
    struct Msg<'a> {
        slot: Quoted,
        proposer_index: Quoted,
        parent_root: &'a str,
        state_root: &'a str,
        body_root: &'a str,
    }
    let h = serde_json::from_slice::<Data<H>>(body)?.data;
    let m = h.header.message;
    Ok(BlockHeader {
        root: root(h.root, name("root"))?,
        slot: m.slot.0,
        proposer_index: m.proposer_index.0,
        parent_root: root(m.parent_root, name("header.message.parent_root"))?,
        state_root: root(m.state_root, name("header.message.state_root"))?,
        body_root: root(m.body_root, name("header.message.body_root"))?,
    })
}

/// `/eth/v1/beacon/states/{state_id}/committees`.
pub fn committees(body: &[u8]) -> Result<Vec<BeaconCommittee>, DecodeError> {
    #[derive(Deserialize)]
    struct C {
        index: Quoted,
        slot: Quoted,
        validators: Vec<Quoted>,
    }
    let cs = serde_json::from_slice::<Data<Vec<C>>>(body)?.data;
    Ok(cs
        .into_iter()
        .map(|c| BeaconCommittee {
            index: c.index.0,
            slot: c.slot.0,
            validators: c.validators.into_iter().map(|v| v.0).collect(),
        })
        .collect())
}

/// The statuses `/eth/v1/beacon/states/{state_id}/validators` may give.
pub const VALIDATOR_STATUSES: [&str; 9] = [
    "pending_initialized",
    "pending_queued",
    "active_ongoing",
    "active_exiting",
    "active_slashed",
    "exited_unslashed",
    "exited_slashed",
    "withdrawal_possible",
    "withdrawal_done",
];

/// `/eth/v1/beacon/states/{state_id}/validators` (GET or POST).
/// `/eth/v1/beacon/states/{state_id}/pending_deposits` (Electra on): each queued deposit's
/// key and amount, in queue order.
pub fn pending_deposits(body: &[u8]) -> Result<Vec<Deposit>, DecodeError> {
    #[derive(Deserialize)]
    struct Entry<'a> {
        pubkey: &'a str,
        amount: Quoted,
    }
    let entries = serde_json::from_slice::<Data<Vec<Entry>>>(body)?.data;
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            Ok(Deposit { pubkey: fixed::<48>(e.pubkey, || format!("data[{i}].pubkey"))?, amount_gwei: e.amount.0 })
        })
        .collect()
}

pub fn validators(body: &[u8]) -> Result<Vec<ValidatorInfo>, DecodeError> {
    #[derive(Deserialize)]
    struct Entry<'a> {
        index: Quoted,
        balance: Quoted,
        status: &'a str,
        #[serde(borrow)]
        validator: V<'a>,
    }
    #[derive(Deserialize)]
    struct V<'a> {
        pubkey: &'a str,
        effective_balance: Quoted,
        slashed: bool,
        activation_epoch: Quoted,
        exit_epoch: Quoted,
        withdrawable_epoch: Quoted,
    }
    let entries = serde_json::from_slice::<Data<Vec<Entry>>>(body)?.data;
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            fixed::<48>(e.validator.pubkey, || format!("data[{i}].validator.pubkey"))?;
            if !VALIDATOR_STATUSES.contains(&e.status) {
                return Err(DecodeError::Invalid(format!("data[{i}].status `{}` is not a validator status", e.status)));
            }
            Ok(ValidatorInfo {
                index: e.index.0,
                status: e.status.to_string(),
                pubkey: e.validator.pubkey.to_ascii_lowercase(),
                balance_gwei: e.balance.0,
                effective_balance_gwei: e.validator.effective_balance.0,
                slashed: e.validator.slashed,
                activation_epoch: e.validator.activation_epoch.0,
                exit_epoch: e.validator.exit_epoch.0,
                withdrawable_epoch: e.validator.withdrawable_epoch.0,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Duties

/// `/eth/v1/validator/duties/attester/{epoch}`.
pub fn attester_duties(body: &[u8]) -> Result<AttesterDuties, DecodeError> {
    #[derive(Deserialize)]
    struct R<'a> {
        dependent_root: &'a str,
        data: Vec<D>,
    }
    #[derive(Deserialize)]
    struct D {
        validator_index: Quoted,
        committee_index: Quoted,
        committee_length: Quoted,
        committees_at_slot: Quoted,
        validator_committee_index: Quoted,
        slot: Quoted,
    }
    let r: R = serde_json::from_slice(body)?;
    let duties = r
        .data
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let duty = AttesterDuty {
                validator_index: d.validator_index.0,
                slot: d.slot.0,
                committee_index: d.committee_index.0,
                committee_length: d.committee_length.0,
                committees_at_slot: d.committees_at_slot.0,
                validator_committee_index: d.validator_committee_index.0,
            };
            if duty.validator_committee_index >= duty.committee_length
                || duty.committee_index >= duty.committees_at_slot
            {
                return Err(DecodeError::Invalid(format!(
                    "data[{i}]: validator {} sits at {} in committee {} of length {} (of {} at slot {})",
                    duty.validator_index,
                    duty.validator_committee_index,
                    duty.committee_index,
                    duty.committee_length,
                    duty.committees_at_slot,
                    duty.slot
                )));
            }
            Ok(duty)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AttesterDuties { dependent_root: root(r.dependent_root, name("dependent_root"))?, duties })
}

// ---------------------------------------------------------------------------
// Blocks

/// The forks a `version` field may name, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fork {
    Phase0,
    Altair,
    Bellatrix,
    Capella,
    Deneb,
    Electra,
    Fulu,
}

impl Fork {
    pub fn from_name(name: &str) -> Option<Fork> {
        Some(match name {
            "phase0" => Fork::Phase0,
            "altair" => Fork::Altair,
            "bellatrix" => Fork::Bellatrix,
            "capella" => Fork::Capella,
            "deneb" => Fork::Deneb,
            "electra" => Fork::Electra,
            "fulu" => Fork::Fulu,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Fork::Phase0 => "phase0",
            Fork::Altair => "altair",
            Fork::Bellatrix => "bellatrix",
            Fork::Capella => "capella",
            Fork::Deneb => "deneb",
            Fork::Electra => "electra",
            Fork::Fulu => "fulu",
        }
    }

    /// Blocks carry an execution payload from bellatrix (the merge) on.
    pub fn has_execution_payload(self) -> bool {
        self >= Fork::Bellatrix
    }

    /// Attestations carry `committee_bits` (EIP-7549) from electra on.
    pub fn has_committee_bits(self) -> bool {
        self >= Fork::Electra
    }
}

#[derive(Deserialize)]
struct BlockResponse<'a> {
    #[serde(default, borrow)]
    version: Option<&'a str>,
    #[serde(borrow)]
    data: SignedBlock<'a>,
}

#[derive(Deserialize)]
struct SignedBlock<'a> {
    #[serde(borrow)]
    message: BlockJson<'a>,
}

#[derive(Deserialize)]
struct BlockJson<'a> {
    slot: Quoted,
    proposer_index: Quoted,
    parent_root: &'a str,
    #[serde(borrow)]
    body: BodyJson<'a>,
}

#[derive(Deserialize)]
struct BodyJson<'a> {
    #[serde(borrow)]
    attestations: Vec<AttestationJson<'a>>,
    #[serde(borrow)]
    deposits: Vec<BridgeDepositJson<'a>>,
    #[serde(default, borrow)]
    execution_payload: Option<PayloadJson<'a>>,
    #[serde(default, borrow)]
    execution_requests: Option<ExecutionRequestsJson<'a>>,
}

/// `body.deposits[i]`: a deposit from the deposit contract bridge (its Merkle proof is not read).
#[derive(Deserialize)]
struct BridgeDepositJson<'a> {
    #[serde(borrow)]
    data: DepositDataJson<'a>,
}

/// The fields of a deposit the oracle reads (`DepositData`, and Electra's `DepositRequest`).
#[derive(Deserialize)]
struct DepositDataJson<'a> {
    pubkey: &'a str,
    amount: Quoted,
}

#[derive(Deserialize)]
struct ExecutionRequestsJson<'a> {
    #[serde(borrow)]
    deposits: Vec<DepositDataJson<'a>>,
}

#[derive(Deserialize)]
struct WithdrawalJson {
    index: Quoted,
    validator_index: Quoted,
    amount: Quoted,
}

#[derive(Deserialize)]
struct AttestationJson<'a> {
    aggregation_bits: &'a str,
    data: AttestationData,
    #[serde(default, borrow)]
    committee_bits: Option<&'a str>,
}

#[derive(Deserialize)]
struct AttestationData {
    slot: Quoted,
    index: Quoted,
}

#[derive(Deserialize)]
struct PayloadJson<'a> {
    block_number: Quoted,
    block_hash: &'a str,
    parent_hash: &'a str,
    /// From Capella on.
    #[serde(default)]
    withdrawals: Option<Vec<WithdrawalJson>>,
}

/// `/eth/v2/beacon/blocks/{block_id}`.
///
/// The fork is the body's `version`, else `header_version` (the
/// `Eth-Consensus-Version` response header). Electra and later attestations'
/// `committee_bits` are read as `Bitvector[max_committees_per_slot]`. Withdrawals must be
/// present from Capella on and `execution_requests` from Electra on: a node that leaves them
/// out would make the rewards measured from this block silently wrong.
pub fn block(
    body: &[u8],
    header_version: Option<&str>,
    max_committees_per_slot: usize,
) -> Result<BlockSummary, DecodeError> {
    let r: BlockResponse = serde_json::from_slice(body)?;
    let version = r.version.or(header_version).ok_or(DecodeError::MissingVersion)?;
    let fork = Fork::from_name(version).ok_or_else(|| DecodeError::UnknownFork(version.to_string()))?;
    if !fork.has_execution_payload() {
        return Err(DecodeError::UnsupportedFork(fork.name().to_string()));
    }
    let m = r.data.message;
    let payload = m.body.execution_payload.ok_or_else(|| DecodeError::MissingPayload { fork: fork.name().into() })?;
    let execution = ExecutionLink {
        block_number: payload.block_number.0,
        block_hash: root(payload.block_hash, name("execution_payload.block_hash"))?,
        parent_hash: root(payload.parent_hash, name("execution_payload.parent_hash"))?,
    };
    let attestations = m
        .body
        .attestations
        .iter()
        .enumerate()
        .map(|(i, a)| attestation(i, a, fork, max_committees_per_slot))
        .collect::<Result<Vec<_>, _>>()?;
    let withdrawals = match payload.withdrawals {
        Some(list) => list
            .iter()
            .map(|w| Withdrawal { index: w.index.0, validator: w.validator_index.0, amount_gwei: w.amount.0 })
            .collect(),
        None if fork >= Fork::Capella => {
            return Err(DecodeError::MissingField { field: "execution_payload.withdrawals", fork: fork.name().into() })
        }
        None => Vec::new(),
    };
    let mut deposits = Vec::with_capacity(m.body.deposits.len());
    for (i, d) in m.body.deposits.iter().enumerate() {
        deposits.push(deposit(&d.data, || format!("deposits[{i}].data.pubkey"))?);
    }
    match (&m.body.execution_requests, fork >= Fork::Electra) {
        (Some(requests), true) => {
            for (i, d) in requests.deposits.iter().enumerate() {
                deposits.push(deposit(d, || format!("execution_requests.deposits[{i}].pubkey"))?);
            }
        }
        (None, true) => {
            return Err(DecodeError::MissingField { field: "execution_requests", fork: fork.name().into() })
        }
        (_, false) => {}
    }
    Ok(BlockSummary {
        slot: m.slot.0,
        proposer_index: m.proposer_index.0,
        parent_root: root(m.parent_root, name("parent_root"))?,
        fork: fork.name().to_string(),
        execution,
        attestations,
        withdrawals,
        deposits,
    })
}

fn deposit(d: &DepositDataJson, field: impl FnOnce() -> String) -> Result<Deposit, DecodeError> {
    Ok(Deposit { pubkey: fixed::<48>(d.pubkey, field)?, amount_gwei: d.amount.0 })
}

fn attestation(i: usize, a: &AttestationJson, fork: Fork, max_committees: usize) -> Result<Attestation, DecodeError> {
    let committee_bits = match (fork.has_committee_bits(), a.committee_bits) {
        (true, Some(bits)) => Some(
            Bitvector::from_hex(bits, max_committees)
                .map_err(|error| DecodeError::Bits { field: format!("attestations[{i}].committee_bits"), error })?,
        ),
        (true, None) => return Err(DecodeError::MissingCommitteeBits { index: i, fork: fork.name().into() }),
        (false, Some(_)) => return Err(DecodeError::UnexpectedCommitteeBits { index: i, fork: fork.name().into() }),
        (false, None) => None,
    };
    let aggregation_bits = Bitlist::from_hex(a.aggregation_bits)
        .map_err(|error| DecodeError::Bits { field: format!("attestations[{i}].aggregation_bits"), error })?;
    Ok(Attestation { slot: a.data.slot.0, index: a.data.index.0, committee_bits, aggregation_bits })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_integers_are_strict_outside_spec() {
        let body = br#"{"data":{"version":"x","head_slot":5}}"#;
        assert!(node_version(body).is_ok());
        let body = br#"{"data":{"head_slot":5,"sync_distance":"0","is_syncing":false}}"#;
        let e = syncing(body).unwrap_err().to_string();
        assert!(e.contains("invalid type: integer `5`, expected an integer as a quoted decimal string"), "{e}");
        for bad in ["\"\"", "\"+5\"", "\"-1\"", "\"0x10\"", "\"18446744073709551616\""] {
            let body = format!(r#"{{"data":{{"head_slot":{bad},"sync_distance":"0","is_syncing":false}}}}"#);
            assert!(syncing(body.as_bytes()).is_err(), "{bad}");
        }
        let body = br#"{"data":{"head_slot":"18446744073709551615","sync_distance":"0","is_syncing":true}}"#;
        assert_eq!(syncing(body).unwrap().head_slot, u64::MAX);
    }

    #[test]
    fn spec_accepts_bare_numbers_and_defaults_electra() {
        let body = br#"{"data":{"SLOTS_PER_EPOCH":8,"SECONDS_PER_SLOT":"6","TARGET_COMMITTEE_SIZE":"4","MAX_COMMITTEES_PER_SLOT":"4","BLOB_SCHEDULE":[{"EPOCH":"1"}]}}"#;
        let s = spec(body).unwrap();
        assert_eq!((s.slots_per_epoch, s.max_committees_per_slot, s.electra_fork_epoch), (8, 4, u64::MAX));
        let with_period = br#"{"data":{"SHARD_COMMITTEE_PERIOD":"256","SLOTS_PER_EPOCH":"32"}}"#;
        assert_eq!(shard_committee_period(with_period).unwrap(), 256);
        assert!(shard_committee_period(br#"{"data":{"SLOTS_PER_EPOCH":"32"}}"#).is_err());
        let body = br#"{"data":{"SLOTS_PER_EPOCH":"0","SECONDS_PER_SLOT":"6","TARGET_COMMITTEE_SIZE":"4","MAX_COMMITTEES_PER_SLOT":"4"}}"#;
        assert!(spec(body).unwrap_err().to_string().contains("SLOTS_PER_EPOCH is 0"));
    }

    #[test]
    fn fork_order() {
        assert!(!Fork::Altair.has_execution_payload() && Fork::Bellatrix.has_execution_payload());
        assert!(!Fork::Deneb.has_committee_bits() && Fork::Fulu.has_committee_bits());
        for f in ["phase0", "altair", "bellatrix", "capella", "deneb", "electra", "fulu"] {
            assert_eq!(Fork::from_name(f).unwrap().name(), f);
        }
        assert_eq!(Fork::from_name("Electra"), None);
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_message(br#"{"code":404,"message":"NOT_FOUND: beacon block at slot 5"}"#).unwrap(),
            "NOT_FOUND: beacon block at slot 5"
        );
        assert_eq!(error_message(b"<html>"), None);
    }
}
