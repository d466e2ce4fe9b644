//! Beacon API response bodies, written by hand into a `String`.
//!
//! The hot answers (blocks, duties, validators, committees) are written directly
//! rather than through `serde_json` value trees: at mainnet shape an epoch is a
//! megabyte or two of JSON and the simulator must stay far cheaper than the
//! client it feeds. Every function here is pure: it takes the head slot as an
//! argument, so a moving head is the server's business.

use crate::derive::{self, tag};
use crate::inclusion::Item;
use crate::ledger::Deposit;
use crate::model::BeaconModel;
use crate::plan::MISSED;
use crate::validators::{Duty, ValidatorState};
use claystack_primitives::hex;

/// An error answer: HTTP status and the `message` of `{"code":..,"message":..}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: u16,
    pub message: String,
}

impl ApiError {
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into() }
    }

    /// The standard error body.
    pub fn body(&self) -> String {
        serde_json::json!({"code": self.code, "message": self.message}).to_string()
    }
}

fn not_found(what: impl std::fmt::Display) -> ApiError {
    ApiError::new(404, format!("NOT_FOUND: {what}"))
}

/// `"123"`.
pub(crate) fn num(out: &mut String, v: u64) {
    out.push('"');
    out.push_str(itoa::Buffer::new().format(v));
    out.push('"');
}

/// `"0x…"`.
pub(crate) fn hexs(out: &mut String, bytes: &[u8]) {
    out.push_str("\"0x");
    hex::encode_into(bytes, out);
    out.push('"');
}

/// `"key":"123"` (with a leading comma unless `first`).
fn kv_num(out: &mut String, key: &str, v: u64) {
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
    num(out, v);
}

fn kv_hex(out: &mut String, key: &str, bytes: &[u8]) {
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
    hexs(out, bytes);
}

/// Sets bits `[from, to)` of a little-endian bit string.
fn set_range(bytes: &mut [u8], from: usize, to: usize) {
    if from >= to {
        return;
    }
    let (fb, tb) = (from / 8, to / 8);
    if fb == tb {
        bytes[fb] |= ((1u16 << (to % 8)) - (1u16 << (from % 8))) as u8;
        return;
    }
    bytes[fb] |= 0xffu8 << (from % 8);
    bytes[fb + 1..tb].fill(0xff);
    if !to.is_multiple_of(8) {
        bytes[tb] |= (1u8 << (to % 8)) - 1;
    }
}

fn put_bit(bytes: &mut [u8], i: usize, value: bool) {
    if value {
        bytes[i / 8] |= 1 << (i % 8);
    } else {
        bytes[i / 8] &= !(1 << (i % 8));
    }
}

/// A block identifier or state identifier, resolved to a slot.
impl BeaconModel {
    fn head_epoch_of(&self, head: u64) -> u64 {
        self.spec().epoch_of(head)
    }

    /// Slot of the finalized checkpoint block when the head is at `head`.
    fn finalized_slot(&self, head: u64) -> u64 {
        self.spec().first_slot(self.finalized_epoch(self.head_epoch_of(head)))
    }

    fn is_finalized(&self, slot: u64, head: u64) -> bool {
        slot <= self.finalized_slot(head)
    }

    /// Resolves `head|genesis|finalized|justified|<slot>|0x<root>` to a slot with a block.
    pub fn resolve_block(&self, id: &str, head: u64) -> Result<u64, ApiError> {
        let spec = self.spec();
        let slot = match id {
            "head" => head,
            "genesis" => 0,
            "finalized" => self.finalized_slot(head),
            "justified" => spec.first_slot(self.justified_epoch(self.head_epoch_of(head))),
            _ if id.starts_with("0x") => {
                let root = hex::decode(id).map_err(|e| ApiError::new(400, format!("Invalid block ID {id}: {e}")))?;
                match self.slot_of_block_root(&root) {
                    Some(slot) if slot <= head && self.has_block(slot) => return Ok(slot),
                    _ => return Err(not_found(format!("beacon block with root {id}"))),
                }
            }
            _ => {
                let slot: u64 = id.parse().map_err(|_| ApiError::new(400, format!("Invalid block ID: {id}")))?;
                if slot > head || !self.has_block(slot) {
                    return Err(not_found(format!("beacon block at slot {slot}")));
                }
                return Ok(slot);
            }
        };
        Ok(self.block_at_or_before(slot))
    }

    /// Resolves a state identifier to the slot of that state.
    pub fn resolve_state(&self, id: &str, head: u64) -> Result<u64, ApiError> {
        let spec = self.spec();
        match id {
            "head" => Ok(head),
            "genesis" => Ok(0),
            "finalized" => Ok(self.finalized_slot(head)),
            "justified" => Ok(spec.first_slot(self.justified_epoch(self.head_epoch_of(head)))),
            _ if id.starts_with("0x") => {
                let root = hex::decode(id).map_err(|e| ApiError::new(400, format!("Invalid state ID {id}: {e}")))?;
                match self.slot_of_state_root(&root).or_else(|| self.slot_of_block_root(&root)) {
                    Some(slot) if slot <= head => Ok(slot),
                    _ => Err(not_found(format!("state with root {id}"))),
                }
            }
            _ => {
                let slot: u64 = id.parse().map_err(|_| ApiError::new(400, format!("Invalid state ID: {id}")))?;
                if slot > head {
                    return Err(not_found(format!("state at slot {slot}")));
                }
                Ok(slot)
            }
        }
    }

    fn filler96(&self, x: u64) -> [u8; 96] {
        let mut out = [0u8; 96];
        for (i, chunk) in out.chunks_exact_mut(32).enumerate() {
            chunk.copy_from_slice(&derive::bytes32(self.seed, tag::FILLER, x * 3 + i as u64));
        }
        out[0] = 0xa0 | (out[0] & 0x1f);
        out
    }

    fn parent_slot(&self, slot: u64) -> Option<u64> {
        (slot > 0).then(|| self.block_at_or_before(slot - 1))
    }

    fn el_block_hash(&self, slot: u64) -> [u8; 32] {
        derive::bytes32(self.seed, tag::EL_BLOCK_HASH, slot)
    }

    /// The proposer of `slot`: an active validator picked by hash.
    pub fn proposer(&self, slot: u64) -> u64 {
        let shape = self.shape(self.spec().epoch_of(slot));
        if shape.n == 0 {
            return 0;
        }
        shape.validator_at(derive::h(self.seed, tag::PROPOSER, slot, 0) % shape.n)
    }

    /// The fork name of blocks at `slot`.
    pub fn fork_at(&self, slot: u64) -> &'static str {
        let spec = self.spec();
        if spec.is_electra(spec.epoch_of(slot)) {
            "electra"
        } else {
            "deneb"
        }
    }

    pub(crate) fn write_meta(&self, out: &mut String, slot: u64, head: u64) {
        out.push_str("\"execution_optimistic\":false,\"finalized\":");
        out.push_str(if self.is_finalized(slot, head) { "true" } else { "false" });
    }

    /// `GET /eth/v1/beacon/headers/{block_id}` for a resolved slot.
    pub fn header_json(&self, slot: u64, head: u64) -> String {
        let mut o = String::with_capacity(800);
        o.push('{');
        self.write_meta(&mut o, slot, head);
        o.push_str(",\"data\":{");
        kv_hex(&mut o, "root", &self.block_root(slot));
        o.push_str(",\"canonical\":true,\"header\":{\"message\":{");
        self.write_header_fields(&mut o, slot);
        o.push_str(",\"body_root\":");
        hexs(&mut o, &derive::slot_root(self.seed, tag::BODY_ROOT, slot));
        o.push_str("},\"signature\":");
        hexs(&mut o, &self.filler96(slot));
        o.push_str("}}}");
        o
    }

    fn write_header_fields(&self, o: &mut String, slot: u64) {
        kv_num(o, "slot", slot);
        o.push(',');
        kv_num(o, "proposer_index", self.proposer(slot));
        o.push(',');
        kv_hex(o, "parent_root", &self.parent_slot(slot).map_or([0; 32], |p| self.block_root(p)));
        o.push(',');
        kv_hex(o, "state_root", &self.state_root(slot));
    }

    /// `GET /eth/v1/beacon/blocks/{block_id}/root` for a resolved slot.
    pub fn root_json(&self, slot: u64, head: u64) -> String {
        let mut o = String::with_capacity(160);
        o.push('{');
        self.write_meta(&mut o, slot, head);
        o.push_str(",\"data\":{");
        kv_hex(&mut o, "root", &self.block_root(slot));
        o.push_str("}}");
        o
    }

    /// The attestations the block at `slot` carries, the scenario's duplicate included.
    fn block_attestations(&self, slot: u64) -> Vec<Item> {
        let mut items = self.block_items(slot).to_vec();
        let every = self.scenario.duplicate_every;
        if every == 0 || slot == 0 || !self.block_number(slot).is_multiple_of(every) {
            return items;
        }
        let cap = if self.fork_at(slot) == "electra" { 8 } else { 128 };
        let Some(prev) = self.parent_slot(slot) else { return items };
        if let Some(first) = self.block_items(prev).first() {
            if items.len() < cap && slot <= self.spec().inclusion_deadline(first.slot) {
                items.push(first.clone());
            }
        }
        items
    }

    /// `GET /eth/v2/beacon/blocks/{block_id}` for a resolved slot: the fork name
    /// (for `Eth-Consensus-Version`) and the body.
    pub fn block_json(&self, slot: u64, head: u64) -> (&'static str, String) {
        let spec = self.spec();
        let fork = self.fork_at(slot);
        let electra = fork == "electra";
        let items = self.block_attestations(slot);
        let mut o = String::with_capacity(16_384);
        o.push_str("{\"version\":\"");
        o.push_str(fork);
        o.push_str("\",");
        self.write_meta(&mut o, slot, head);
        o.push_str(",\"data\":{\"message\":{");
        self.write_header_fields(&mut o, slot);
        o.push_str(",\"body\":{");
        kv_hex(&mut o, "randao_reveal", &self.filler96(slot + 1));
        o.push_str(",\"eth1_data\":{");
        kv_hex(&mut o, "deposit_root", &derive::bytes32(self.seed, tag::GENESIS, 1));
        o.push(',');
        kv_num(&mut o, "deposit_count", self.validator_count() + self.eth1_deposits_through(slot));
        o.push(',');
        kv_hex(&mut o, "block_hash", &derive::bytes32(self.seed, tag::GENESIS, 2));
        o.push_str("},");
        kv_hex(&mut o, "graffiti", b"claystack-beacon-sim\0\0\0\0\0\0\0\0\0\0\0\0");
        o.push_str(",\"proposer_slashings\":[],\"attester_slashings\":[");
        let epoch = spec.epoch_of(slot);
        let first_block_of_epoch = slot == 0 || self.block_at_or_before(slot - 1) < spec.first_slot(epoch);
        if first_block_of_epoch {
            let slashed = self.scenario.slashing.iter().filter(|s| s.epoch == epoch);
            for (i, s) in slashed.enumerate() {
                if i > 0 {
                    o.push(',');
                }
                self.write_attester_slashing(&mut o, s.validator, slot);
            }
        }
        o.push_str("],\"attestations\":[");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            self.write_attestation(&mut o, item, electra);
        }
        o.push_str("],\"deposits\":[");
        let deposits = self.deposits_at(slot);
        if !electra {
            for (i, d) in deposits.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                self.write_eth1_deposit(&mut o, d);
            }
        }
        o.push_str("],\"voluntary_exits\":[");
        if first_block_of_epoch {
            for (i, e) in self.scenario.exit.iter().filter(|e| e.epoch == epoch).enumerate() {
                if i > 0 {
                    o.push(',');
                }
                o.push_str("{\"message\":{");
                kv_num(&mut o, "epoch", e.epoch);
                o.push(',');
                kv_num(&mut o, "validator_index", e.validator);
                o.push_str("},");
                kv_hex(&mut o, "signature", &self.filler96(e.validator));
                o.push('}');
            }
        }
        o.push_str("],\"sync_aggregate\":{");
        let sync_bytes = if self.scenario.preset == "mainnet" { 64 } else { 4 };
        kv_hex(&mut o, "sync_committee_bits", &vec![0xff; sync_bytes]);
        o.push(',');
        kv_hex(&mut o, "sync_committee_signature", &self.filler96(slot + 2));
        o.push_str("},\"execution_payload\":{");
        let parent_hash = self.parent_slot(slot).map_or([0; 32], |p| self.el_block_hash(p));
        kv_hex(&mut o, "parent_hash", &parent_hash);
        o.push(',');
        kv_hex(&mut o, "fee_recipient", &derive::bytes32(self.seed, tag::WITHDRAWAL, slot)[..20]);
        o.push(',');
        kv_hex(&mut o, "state_root", &derive::bytes32(self.seed, tag::EL_BLOCK_HASH, slot + (1 << 62)));
        o.push(',');
        kv_hex(&mut o, "receipts_root", &derive::bytes32(self.seed, tag::EL_BLOCK_HASH, slot + (2 << 62)));
        o.push(',');
        kv_hex(&mut o, "logs_bloom", &[0u8; 256]);
        o.push(',');
        kv_hex(&mut o, "prev_randao", &derive::bytes32(self.seed, tag::FILLER, slot + (1 << 62)));
        o.push(',');
        kv_num(&mut o, "block_number", self.block_number(slot));
        o.push_str(",\"gas_limit\":\"30000000\",\"gas_used\":\"0\",");
        kv_num(&mut o, "timestamp", self.scenario.genesis_time + slot * spec.seconds_per_slot);
        o.push_str(",\"extra_data\":\"0x\",\"base_fee_per_gas\":\"7\",");
        kv_hex(&mut o, "block_hash", &self.el_block_hash(slot));
        o.push_str(",\"transactions\":[],\"withdrawals\":[");
        for (i, w) in self.withdrawals_at(slot).iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push('{');
            kv_num(&mut o, "index", w.index);
            o.push(',');
            kv_num(&mut o, "validator_index", w.validator);
            o.push(',');
            kv_hex(&mut o, "address", &w.address);
            o.push(',');
            kv_num(&mut o, "amount", w.amount_gwei);
            o.push('}');
        }
        o.push_str("],\"blob_gas_used\":\"0\",\"excess_blob_gas\":\"0\"}");
        o.push_str(",\"bls_to_execution_changes\":[],\"blob_kzg_commitments\":[]");
        if electra {
            o.push_str(",\"execution_requests\":{\"deposits\":[");
            for (i, d) in deposits.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                o.push('{');
                self.write_deposit_data(&mut o, d);
                o.push(',');
                kv_num(&mut o, "index", d.index);
                o.push('}');
            }
            o.push_str("],\"withdrawals\":[],\"consolidations\":[]}");
        }
        o.push_str("}},");
        kv_hex(&mut o, "signature", &self.filler96(slot + 3));
        o.push_str("}}");
        (fork, o)
    }

    /// `pubkey`, `withdrawal_credentials`, `amount`, `signature` of a deposit.
    fn write_deposit_data(&self, o: &mut String, d: &Deposit) {
        kv_hex(o, "pubkey", &d.pubkey);
        o.push(',');
        kv_hex(o, "withdrawal_credentials", &self.withdrawal_credentials(d.validator));
        o.push(',');
        kv_num(o, "amount", d.amount_gwei);
        o.push(',');
        kv_hex(o, "signature", &self.filler96(d.index));
    }

    /// A `body.deposits` entry: a (filler) Merkle proof of 33 roots and the deposit data.
    fn write_eth1_deposit(&self, o: &mut String, d: &Deposit) {
        o.push_str("{\"proof\":[");
        for i in 0..33u64 {
            if i > 0 {
                o.push(',');
            }
            hexs(o, &derive::bytes32(self.seed, tag::FILLER, (d.index << 6) + i + (3 << 60)));
        }
        o.push_str("],\"data\":{");
        self.write_deposit_data(o, d);
        o.push_str("}}");
    }

    fn write_attestation_data(&self, o: &mut String, slot: u64, index: u64) {
        let spec = self.spec();
        let epoch = spec.epoch_of(slot);
        o.push_str("\"data\":{");
        kv_num(o, "slot", slot);
        o.push(',');
        kv_num(o, "index", index);
        o.push(',');
        kv_hex(o, "beacon_block_root", &self.block_root(self.block_at_or_before(slot)));
        o.push_str(",\"source\":{");
        let source = self.justified_epoch(epoch).min(epoch.saturating_sub(1));
        kv_num(o, "epoch", source);
        o.push(',');
        kv_hex(o, "root", &self.checkpoint_root(source));
        o.push_str("},\"target\":{");
        kv_num(o, "epoch", epoch);
        o.push(',');
        kv_hex(o, "root", &self.checkpoint_root(epoch));
        o.push_str("}}");
    }

    fn write_attester_slashing(&self, o: &mut String, validator: u64, slot: u64) {
        o.push('{');
        for (i, name) in ["attestation_1", "attestation_2"].iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push('"');
            o.push_str(name);
            o.push_str("\":{\"attesting_indices\":[");
            num(o, validator);
            o.push_str("],");
            self.write_attestation_data(o, slot.saturating_sub(1), 0);
            o.push(',');
            kv_hex(o, "signature", &self.filler96(validator + i as u64));
            o.push('}');
        }
        o.push('}');
    }

    /// Writes one attestation: the bits of every attester in `item`.
    fn write_attestation(&self, o: &mut String, item: &Item, electra: bool) {
        let spec = self.spec();
        let plan = self.plan(spec.epoch_of(item.slot));
        let off = item.slot % spec.slots_per_epoch;
        let range = |c: u16| {
            let k = plan.global(off, c as u64);
            (plan.starts[k], plan.starts[k + 1])
        };
        let total: u64 = item.parts.iter().map(|&(c, _)| range(c).1 - range(c).0).sum();
        let mut bits = vec![0u8; total as usize / 8 + 1];
        let mut at = 0usize;
        for &(c, lo) in &item.parts {
            let (start, end) = range(c);
            let len = (end - start) as usize;
            // Delay 1 (everyone not listed as an exception) is in (lo, hi] iff lo == 0.
            if lo == 0 {
                set_range(&mut bits, at, at + len);
            }
            for &(p, st) in plan.exceptions_in(start, end) {
                let inside = st != MISSED && lo < st && st <= item.hi;
                put_bit(&mut bits, at + (p as u64 - start) as usize, inside);
            }
            at += len;
        }
        put_bit(&mut bits, at, true);
        o.push('{');
        kv_hex(o, "aggregation_bits", &bits);
        o.push(',');
        let index = if electra { 0 } else { item.parts[0].0 as u64 };
        self.write_attestation_data(o, item.slot, index);
        o.push(',');
        kv_hex(o, "signature", &self.filler96(item.slot * 64 + item.parts[0].0 as u64));
        if electra {
            let mut committee_bits = vec![0u8; (spec.max_committees_per_slot as usize).div_ceil(8)];
            for &(c, _) in &item.parts {
                put_bit(&mut committee_bits, c as usize, true);
            }
            o.push(',');
            kv_hex(o, "committee_bits", &committee_bits);
        }
        o.push('}');
    }

    /// Root of the block that fixes the duties of `epoch` (the spec's dependent root).
    pub fn duties_dependent_root(&self, epoch: u64) -> [u8; 32] {
        let start = self.spec().first_slot(epoch.saturating_sub(1));
        self.block_root(self.block_at_or_before(start.saturating_sub(1)))
    }

    /// `POST /eth/v1/validator/duties/attester/{epoch}`. Validators that are unknown
    /// or not active in `epoch` are left out, as the API says.
    pub fn duties_json(&self, epoch: u64, validators: &[u64], head: u64) -> Result<String, ApiError> {
        let head_epoch = self.spec().epoch_of(head);
        if epoch > head_epoch + 1 {
            return Err(ApiError::new(
                400,
                format!("duties for epoch {epoch} are not known yet: the head is in epoch {head_epoch}, at most the next epoch can be asked"),
            ));
        }
        let duties = self.duties(epoch, validators);
        let mut o = String::with_capacity(120 + duties.len() * 330);
        o.push('{');
        kv_hex(&mut o, "dependent_root", &self.duties_dependent_root(epoch));
        o.push_str(",\"execution_optimistic\":false,\"data\":[");
        for (i, d) in duties.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            write_duty(&mut o, d, &self.pubkey(d.validator));
        }
        o.push_str("]}");
        Ok(o)
    }

    /// `/eth/v1/beacon/states/{state_id}/validators` for explicit `indices` (unknown ones
    /// skipped) at a resolved state slot, keeping those whose status passes `keep`.
    pub fn validators_json(&self, slot: u64, head: u64, indices: &[u64], keep: impl Fn(&str) -> bool) -> String {
        let mut o = String::with_capacity(100 + indices.len() * 480);
        o.push('{');
        self.write_meta(&mut o, slot, head);
        o.push_str(",\"data\":[");
        let mut first = true;
        for &v in indices.iter().filter(|&&v| v < self.validator_count()) {
            let s = self.validator_at(v, slot);
            if keep(s.status) {
                if !first {
                    o.push(',');
                }
                first = false;
                self.write_validator(&mut o, &s, slot);
            }
        }
        o.push_str("]}");
        o
    }

    /// `/eth/v1/beacon/states/{state_id}/validator_balances` for explicit `indices`
    /// (unknown ones skipped) at a resolved state slot.
    pub fn balances_json(&self, slot: u64, head: u64, indices: &[u64]) -> String {
        let mut o = String::with_capacity(100 + indices.len() * 40);
        o.push('{');
        self.write_meta(&mut o, slot, head);
        o.push_str(",\"data\":[");
        for (i, &v) in indices.iter().filter(|&&v| v < self.validator_count()).enumerate() {
            if i > 0 {
                o.push(',');
            }
            self.write_balance(&mut o, v, slot);
        }
        o.push_str("]}");
        o
    }

    /// The balance this node answers for validator `v` at state slot `slot`: the true one,
    /// unless `faults.wrong_balance` makes it lie (the ground truth never does).
    fn served_balance(&self, v: u64, slot: u64, balance: u64) -> u64 {
        match &self.scenario.faults.wrong_balance {
            Some(w) if w.validator == v && slot >= w.from_slot => balance + w.gwei,
            _ => balance,
        }
    }

    /// `{"index":"..","balance":".."}`.
    pub(crate) fn write_balance(&self, o: &mut String, v: u64, slot: u64) {
        o.push('{');
        kv_num(o, "index", v);
        o.push(',');
        kv_num(o, "balance", self.served_balance(v, slot, self.balance(v, slot)));
        o.push('}');
    }

    /// `/eth/v1/beacon/states/{state_id}/pending_deposits`: always empty, since deposits
    /// are credited in the block that carries them.
    pub fn pending_deposits_json(&self, slot: u64, head: u64) -> String {
        let mut o = String::from("{\"version\":\"");
        o.push_str(self.fork_at(slot));
        o.push_str("\",");
        self.write_meta(&mut o, slot, head);
        o.push_str(",\"data\":[]}");
        o
    }

    /// One validator entry of the validators endpoint, at state slot `slot`.
    pub(crate) fn write_validator(&self, o: &mut String, s: &ValidatorState, slot: u64) {
        o.push('{');
        kv_num(o, "index", s.index);
        o.push(',');
        kv_num(o, "balance", self.served_balance(s.index, slot, s.balance));
        o.push_str(",\"status\":\"");
        o.push_str(s.status);
        o.push_str("\",\"validator\":{");
        kv_hex(o, "pubkey", &self.pubkey(s.index));
        o.push(',');
        kv_hex(o, "withdrawal_credentials", &self.withdrawal_credentials(s.index));
        o.push(',');
        kv_num(o, "effective_balance", s.effective_balance);
        o.push_str(",\"slashed\":");
        o.push_str(if s.slashed { "true" } else { "false" });
        o.push_str(",\"activation_eligibility_epoch\":\"0\",");
        kv_num(o, "activation_epoch", s.activation_epoch);
        o.push(',');
        kv_num(o, "exit_epoch", s.exit_epoch);
        o.push(',');
        kv_num(o, "withdrawable_epoch", s.withdrawable_epoch);
        o.push_str("}}");
    }

    /// `GET /eth/v1/beacon/states/{state_id}/finality_checkpoints` for a state slot.
    pub fn finality_json(&self, state_slot: u64, head: u64) -> String {
        let epoch = self.spec().epoch_of(state_slot);
        let fin = self.finalized_epoch(epoch);
        let just = self.justified_epoch(epoch);
        let mut o = String::with_capacity(400);
        o.push('{');
        self.write_meta(&mut o, state_slot, head);
        o.push_str(",\"data\":{");
        for (i, (name, e)) in
            [("previous_justified", fin), ("current_justified", just), ("finalized", fin)].iter().enumerate()
        {
            if i > 0 {
                o.push(',');
            }
            o.push('"');
            o.push_str(name);
            o.push_str("\":{");
            kv_num(&mut o, "epoch", *e);
            o.push(',');
            kv_hex(&mut o, "root", &self.checkpoint_root(*e));
            o.push('}');
        }
        o.push_str("}}");
        o
    }

    /// `GET /eth/v1/beacon/states/{state_id}/committees` for a state slot.
    pub fn committees_json(
        &self,
        state_slot: u64,
        head: u64,
        epoch: Option<u64>,
        index: Option<u64>,
        slot: Option<u64>,
    ) -> Result<String, ApiError> {
        let spec = self.spec();
        let state_epoch = spec.epoch_of(state_slot);
        let epoch = epoch.unwrap_or(state_epoch);
        if epoch > state_epoch + 1 {
            return Err(ApiError::new(
                400,
                format!("epoch {epoch} is more than one epoch after the state's epoch {state_epoch}"),
            ));
        }
        if let Some(s) = slot {
            if spec.epoch_of(s) != epoch {
                return Err(ApiError::new(400, format!("slot {s} is not in epoch {epoch}")));
            }
        }
        let shape = self.shape(epoch);
        let mut o = String::new();
        o.push('{');
        self.write_meta(&mut o, state_slot, head);
        o.push_str(",\"data\":[");
        let mut first = true;
        if let Some(layout) = shape.layout {
            let mut start = 0;
            for off in 0..spec.slots_per_epoch {
                for c in 0..layout.per_slot {
                    let len = layout.length(off, c);
                    let s = spec.first_slot(epoch) + off;
                    if slot.is_none_or(|x| x == s) && index.is_none_or(|x| x == c) {
                        if !first {
                            o.push(',');
                        }
                        first = false;
                        o.push('{');
                        kv_num(&mut o, "index", c);
                        o.push(',');
                        kv_num(&mut o, "slot", s);
                        o.push_str(",\"validators\":[");
                        for p in start..start + len {
                            if p > start {
                                o.push(',');
                            }
                            num(&mut o, shape.validator_at(p));
                        }
                        o.push_str("]}");
                    }
                    start += len;
                }
            }
        }
        o.push_str("]}");
        Ok(o)
    }
}

fn write_duty(o: &mut String, d: &Duty, pubkey: &[u8; 48]) {
    o.push('{');
    kv_hex(o, "pubkey", pubkey);
    o.push(',');
    kv_num(o, "validator_index", d.validator);
    o.push(',');
    kv_num(o, "committee_index", d.committee_index);
    o.push(',');
    kv_num(o, "committee_length", d.committee_length);
    o.push(',');
    kv_num(o, "committees_at_slot", d.committees_at_slot);
    o.push(',');
    kv_num(o, "validator_committee_index", d.validator_committee_index);
    o.push(',');
    kv_num(o, "slot", d.slot);
    o.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use claystack_primitives::Bitlist;

    #[test]
    fn set_range_matches_per_bit() {
        for len in 0..40 {
            for from in 0..=len {
                for to in from..=len {
                    let mut a = vec![0u8; len / 8 + 1];
                    set_range(&mut a, from, to);
                    let mut b = vec![0u8; len / 8 + 1];
                    (from..to).for_each(|i| put_bit(&mut b, i, true));
                    assert_eq!(a, b, "len {len} [{from},{to})");
                }
            }
        }
        let mut bits = vec![0u8; 2];
        set_range(&mut bits, 0, 9);
        put_bit(&mut bits, 9, true);
        assert_eq!(Bitlist::from_ssz(bits).unwrap().count_ones(), 9);
    }
}
