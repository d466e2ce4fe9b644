//! The simulated chain: who is active, who sits in which committee, who attests
//! with which delay. Pure: no I/O, no clock.
//!
//! Per-validator facts are never stored per validator. The few validators a
//! scenario names live in small maps; everyone else is "active from epoch 0,
//! attests, included with delay 1". An epoch's committees come from a cheap
//! linear permutation `position p -> active index (a*p + b) mod n` (see
//! [`Shape`]), sliced by [`BeaconCommitteeLayout`], so a duty or a committee member is
//! O(1) to compute. What deviates from the default in an epoch is listed, by
//! shuffled position, in an [`EpochPlan`] that is built on demand and cached.

use crate::derive::{self, tag};
use crate::inclusion::Inclusion;
use crate::scenario::{Scenario, ScenarioError, ValidatorSet};
use claystack_primitives::beacon_committee::BeaconCommitteeLayout;
use claystack_primitives::{BeaconSpec, FAR_FUTURE_EPOCH};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `MAX_SEED_LOOKAHEAD + 1`: epochs between an exit's initiation and its exit epoch.
pub const EXIT_DELAY: u64 = 5;
/// `MIN_VALIDATOR_WITHDRAWABILITY_DELAY` (both presets).
pub const WITHDRAWABILITY_DELAY: u64 = 256;
/// Gwei every validator holds.
pub const BALANCE_GWEI: u64 = 32_000_000_000;
/// Gwei a slashed validator has lost (deterministic stand-in for the penalties).
pub const SLASHING_PENALTY_GWEI: u64 = 1_000_000_000;

/// Attestation status of one duty: `MISSED`, a delay `1..`, or `NEVER` (attested,
/// but with a delay no block can honour).
pub(crate) type Status = u16;
pub(crate) const MISSED: Status = 0;
pub(crate) const NEVER: Status = u16::MAX;

/// The truth about tracked validators, epoch by epoch.
#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
pub struct Truth {
    pub epochs: Vec<EpochTruth>,
}

/// One epoch of truth: a tally for every tracked validator that had a duty.
#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
pub struct EpochTruth {
    pub epoch: u64,
    pub tallies: Vec<TallyTruth>,
}

/// One validator's duty in one epoch: 1 duty; included if its bit is in a block
/// within the inclusion window; timely if that block is within `timely_delay` slots.
#[derive(Serialize, Deserialize, PartialEq, Debug, Clone, Copy)]
pub struct TallyTruth {
    pub validator: u64,
    pub duties: u32,
    pub included: u32,
    pub timely: u32,
}

/// One validator's attester duty, as the duties endpoint reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duty {
    pub validator: u64,
    pub slot: u64,
    pub committee_index: u64,
    pub committee_length: u64,
    pub committees_at_slot: u64,
    pub validator_committee_index: u64,
    /// Shuffled position inside the epoch (for plan look-ups).
    pub(crate) position: u64,
}

/// A validator's record at some epoch, as the validators endpoint reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidatorState {
    pub index: u64,
    pub status: &'static str,
    pub balance: u64,
    pub effective_balance: u64,
    pub slashed: bool,
    pub activation_epoch: u64,
    pub exit_epoch: u64,
    pub withdrawable_epoch: u64,
}

/// The active set and committee shape of one epoch.
///
/// The shuffled order is `shuffled[p] = active[(a*p + b) mod n]` with `a` coprime
/// to `n`; `a` and `b` come from hash(seed, epoch). This is NOT the consensus
/// spec's swap-or-not shuffle (which is too slow at a million validators), so the
/// committees differ from what a real chain with the same validators would have.
/// Nothing depends on that: the oracle reads duties from the API.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    pub n: u64,
    pub layout: Option<BeaconCommitteeLayout>,
    a: u64,
    b: u64,
    a_inv: u64,
    /// Validators not active in this epoch, ascending.
    inactive: Vec<u64>,
    /// `inactive[j] - j`: maps an active index to a validator by one binary search.
    shifted: Vec<u64>,
}

impl Shape {
    /// Validator at shuffled position `p` (< n).
    pub fn validator_at(&self, p: u64) -> u64 {
        let i = (self.a * p + self.b) % self.n;
        i + self.shifted.partition_point(|&y| y <= i) as u64
    }

    /// Shuffled position of validator `v`, which must be active.
    fn position_of(&self, v: u64) -> u64 {
        self.position_of_rank(v - self.inactive.partition_point(|&x| x < v) as u64)
    }

    /// Shuffled position of the active validator with active index `rank`.
    fn position_of_rank(&self, rank: u64) -> u64 {
        self.a_inv * ((rank + self.n - self.b) % self.n) % self.n
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Inverse of `a` modulo `n` (`a` coprime to `n`).
fn mod_inverse(a: u64, n: u64) -> u64 {
    let (mut t, mut new_t, mut r, mut new_r) = (0i128, 1i128, n as i128, a as i128);
    while new_r != 0 {
        let q = r / new_r;
        (t, new_t) = (new_t, t - q * new_t);
        (r, new_r) = (new_r, r - q * new_r);
    }
    t.rem_euclid(n as i128) as u64
}

/// What deviates from "attests, delay 1" in one epoch, by shuffled position, and
/// the committees' start positions.
#[derive(Debug)]
pub(crate) struct EpochPlan {
    pub epoch: u64,
    pub shape: Shape,
    /// Start position of every global committee, plus `n` at the end.
    pub starts: Vec<u64>,
    /// `(position, status)` of every duty whose status is not 1, ascending by position.
    pub exceptions: Vec<(u32, Status)>,
    /// The distinct statuses (delays, never MISSED) present in each global committee:
    /// `delays[offsets[k]..offsets[k+1]]`, ascending.
    pub offsets: Vec<u32>,
    pub delays: Vec<Status>,
}

impl EpochPlan {
    pub fn per_slot(&self) -> u64 {
        self.shape.layout.map_or(0, |l| l.per_slot)
    }

    /// Global committee number of `(slot offset, index)`.
    pub fn global(&self, slot_offset: u64, index: u64) -> usize {
        (slot_offset * self.per_slot() + index) as usize
    }

    /// Exceptions in positions `[start, end)`.
    pub fn exceptions_in(&self, start: u64, end: u64) -> &[(u32, Status)] {
        let lo = self.exceptions.partition_point(|e| (e.0 as u64) < start);
        let hi = self.exceptions.partition_point(|e| (e.0 as u64) < end);
        &self.exceptions[lo..hi]
    }

    /// Delays present in global committee `k`, ascending.
    pub fn delays_of(&self, k: usize) -> &[Status] {
        &self.delays[self.offsets[k] as usize..self.offsets[k + 1] as usize]
    }

    /// Status of the duty at position `p`.
    pub fn status_at(&self, p: u64) -> Status {
        match self.exceptions.binary_search_by_key(&(p as u32), |e| e.0) {
            Ok(i) => self.exceptions[i].1,
            Err(_) => 1,
        }
    }
}

/// A bitset over validator indices.
#[derive(Debug, Default)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(len: u64) -> Self {
        Bits(vec![0; len.div_ceil(64) as usize])
    }
    fn set(&mut self, i: u64) {
        self.0[(i / 64) as usize] |= 1 << (i % 64);
    }
    fn get(&self, i: u64) -> bool {
        self.0[(i / 64) as usize] >> (i % 64) & 1 == 1
    }
}

#[derive(Debug)]
struct Rules {
    offline: Vec<(ValidatorSet, u64, u64)>,
    miss: Vec<(ValidatorSet, u64)>,
    late: Vec<(ValidatorSet, u64, u64, u64)>,
    slashed_at: HashMap<u64, u64>,
    exit_requested_at: HashMap<u64, u64>,
    activation: HashMap<u64, u64>,
}

/// How many epoch plans stay cached; the oracle walks epochs in order, and a
/// block needs the plans of its own and the previous epoch.
const PLAN_CACHE: usize = 8;

/// The deterministic chain a scenario describes.
pub struct Chain {
    pub(crate) scenario: Scenario,
    spec: BeaconSpec,
    pub(crate) seed: u64,
    tracked: Vec<u64>,
    tracked_bits: Bits,
    /// Validators any attestation rule names, ascending; and as a bitset.
    special: Vec<u64>,
    special_bits: Bits,
    rules: Rules,
    /// Validators whose activation or exit differs from the default, ascending.
    lifecycle: Vec<u64>,
    missed_slots: Vec<u64>,
    plans: Mutex<Vec<Arc<EpochPlan>>>,
    pub(crate) inclusion: Mutex<Inclusion>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("seed", &self.seed)
            .field("preset", &self.scenario.preset)
            .field("validators", &self.scenario.validators)
            .field("head_epoch", &self.scenario.head_epoch)
            .finish_non_exhaustive()
    }
}

impl Chain {
    /// Builds the chain; validates the scenario again (cheap) so a hand-built
    /// `Scenario` gets the same errors as a parsed one.
    pub fn new(s: Scenario) -> Result<Chain, ScenarioError> {
        s.validate()?;
        let n = s.validators;
        let spec = BeaconSpec {
            electra_fork_epoch: s.electra_fork_epoch,
            ..if s.preset == "mainnet" { BeaconSpec::mainnet() } else { BeaconSpec::minimal() }
        };
        let set = |key: String, specs| ValidatorSet::parse(&key, specs, n);
        let tracked_set = s.tracked_set()?;
        let mut tracked_bits = Bits::new(n);
        let tracked: Vec<u64> = tracked_set.iter().inspect(|&v| tracked_bits.set(v)).collect();
        let mut rules = Rules {
            offline: Vec::new(),
            miss: Vec::new(),
            late: Vec::new(),
            slashed_at: s.slashing.iter().map(|e| (e.validator, e.epoch)).collect(),
            exit_requested_at: s.exit.iter().map(|e| (e.validator, e.epoch)).collect(),
            activation: s.activation.iter().map(|e| (e.validator, e.epoch)).collect(),
        };
        let mut special: Vec<u64> = rules.slashed_at.keys().copied().collect();
        for (i, r) in s.offline.iter().enumerate() {
            let vs = set(format!("offline[{i}].validators"), &r.validators)?;
            special.extend(vs.iter());
            rules.offline.push((vs, r.from_epoch, r.to_epoch));
        }
        for (i, r) in s.miss.iter().enumerate() {
            let vs = set(format!("miss[{i}].validators"), &r.validators)?;
            special.extend(vs.iter());
            rules.miss.push((vs, r.rate_bps));
        }
        for (i, r) in s.late.iter().enumerate() {
            let vs = set(format!("late[{i}].validators"), &r.validators)?;
            special.extend(vs.iter());
            rules.late.push((vs, r.delay, r.from_epoch, r.to_epoch));
        }
        special.sort_unstable();
        special.dedup();
        let mut special_bits = Bits::new(n);
        special.iter().for_each(|&v| special_bits.set(v));
        let mut lifecycle: Vec<u64> = rules
            .activation
            .keys()
            .chain(rules.slashed_at.keys())
            .chain(rules.exit_requested_at.keys())
            .copied()
            .collect();
        lifecycle.sort_unstable();
        lifecycle.dedup();
        let mut missed_slots = s.missed_slots.clone();
        missed_slots.sort_unstable();
        missed_slots.dedup();
        Ok(Chain {
            seed: s.seed,
            spec,
            tracked,
            tracked_bits,
            special,
            special_bits,
            rules,
            lifecycle,
            missed_slots,
            plans: Mutex::new(Vec::new()),
            inclusion: Mutex::new(Inclusion::default()),
            scenario: s,
        })
    }

    /// The chain's constants (preset with the scenario's Electra epoch).
    pub fn spec(&self) -> BeaconSpec {
        self.spec
    }

    /// The scenario this chain was built from.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Number of validators.
    pub fn validator_count(&self) -> u64 {
        self.scenario.validators
    }

    /// Tracked validator indices, ascending.
    pub fn tracked(&self) -> &[u64] {
        &self.tracked
    }

    /// Head slot when serving starts: the last slot of `head_epoch`.
    pub fn initial_head_slot(&self) -> u64 {
        self.spec.last_slot(self.scenario.head_epoch)
    }

    /// Head slot after `elapsed` of serving: advances one slot per `slot_ms` if set.
    pub fn head_slot_after(&self, elapsed: Duration) -> u64 {
        let ms = self.scenario.slot_ms;
        let advanced = if ms == 0 { 0 } else { (elapsed.as_millis() / ms as u128) as u64 };
        self.initial_head_slot() + advanced
    }

    /// Finalized checkpoint epoch when the head is in `head_epoch`.
    pub fn finalized_epoch(&self, head_epoch: u64) -> u64 {
        head_epoch.saturating_sub(self.scenario.finality_lag)
    }

    /// Current justified checkpoint epoch when the head is in `head_epoch`.
    pub fn justified_epoch(&self, head_epoch: u64) -> u64 {
        let fin = self.finalized_epoch(head_epoch);
        if self.scenario.finality_lag == 0 {
            fin
        } else {
            (fin + 1).min(head_epoch)
        }
    }

    pub fn is_missed_slot(&self, slot: u64) -> bool {
        self.missed_slots.binary_search(&slot).is_ok()
    }

    /// Whether a block exists at `slot` (ignoring the head).
    pub fn has_block(&self, slot: u64) -> bool {
        !self.is_missed_slot(slot)
    }

    /// The latest slot at or before `slot` that has a block (slot 0 always has one).
    pub fn block_at_or_before(&self, slot: u64) -> u64 {
        let mut s = slot;
        while self.is_missed_slot(s) {
            s -= 1;
        }
        s
    }

    /// Execution block number of the block at `slot`: one per non-empty beacon block.
    pub fn block_number(&self, slot: u64) -> u64 {
        slot - self.missed_slots.partition_point(|&m| m <= slot) as u64
    }

    pub fn block_root(&self, slot: u64) -> [u8; 32] {
        derive::slot_root(self.seed, tag::BLOCK_ROOT, slot)
    }

    pub fn state_root(&self, slot: u64) -> [u8; 32] {
        derive::slot_root(self.seed, tag::STATE_ROOT, slot)
    }

    pub(crate) fn slot_of_block_root(&self, root: &[u8]) -> Option<u64> {
        derive::slot_of_root(self.seed, tag::BLOCK_ROOT, root)
    }

    pub(crate) fn slot_of_state_root(&self, root: &[u8]) -> Option<u64> {
        derive::slot_of_root(self.seed, tag::STATE_ROOT, root)
    }

    /// Root of the checkpoint block of `epoch`: the latest block at or before its first slot.
    pub fn checkpoint_root(&self, epoch: u64) -> [u8; 32] {
        self.block_root(self.block_at_or_before(self.spec.first_slot(epoch)))
    }

    pub fn genesis_validators_root(&self) -> [u8; 32] {
        derive::bytes32(self.seed, tag::GENESIS, 0)
    }

    pub fn pubkey(&self, v: u64) -> [u8; 48] {
        derive::pubkey(self.seed, v)
    }

    pub(crate) fn index_of_pubkey(&self, key: &[u8]) -> Option<u64> {
        derive::index_of_pubkey(self.seed, key).filter(|&v| v < self.validator_count())
    }

    pub fn is_tracked(&self, v: u64) -> bool {
        self.tracked_bits.get(v)
    }

    pub fn activation_epoch(&self, v: u64) -> u64 {
        self.rules.activation.get(&v).copied().unwrap_or(0)
    }

    /// The exit epoch the validator will eventually have (`FAR_FUTURE_EPOCH` if none).
    pub fn exit_epoch(&self, v: u64) -> u64 {
        match (self.rules.slashed_at.get(&v), self.rules.exit_requested_at.get(&v)) {
            (Some(&e), _) | (None, Some(&e)) => e + EXIT_DELAY,
            (None, None) => FAR_FUTURE_EPOCH,
        }
    }

    pub fn is_active(&self, v: u64, epoch: u64) -> bool {
        self.activation_epoch(v) <= epoch && epoch < self.exit_epoch(v)
    }

    /// The validator's record as a state at `epoch` shows it.
    pub fn validator_state(&self, v: u64, epoch: u64) -> ValidatorState {
        let activation = self.activation_epoch(v);
        let slashing = self.rules.slashed_at.get(&v).copied().filter(|&e| e <= epoch);
        let exit_request = self.rules.exit_requested_at.get(&v).copied().filter(|&e| e <= epoch);
        let (exit, withdrawable) = match (slashing, exit_request) {
            (Some(e), _) => {
                let slashings_vector = if self.scenario.preset == "mainnet" { 8192 } else { 64 };
                (e + EXIT_DELAY, e + EXIT_DELAY + slashings_vector)
            }
            (None, Some(e)) => (e + EXIT_DELAY, e + EXIT_DELAY + WITHDRAWABILITY_DELAY),
            (None, None) => (FAR_FUTURE_EPOCH, FAR_FUTURE_EPOCH),
        };
        let slashed = slashing.is_some();
        let status = if epoch < activation {
            "pending_queued"
        } else if epoch < exit {
            match (exit == FAR_FUTURE_EPOCH, slashed) {
                (true, _) => "active_ongoing",
                (false, true) => "active_slashed",
                (false, false) => "active_exiting",
            }
        } else if epoch < withdrawable {
            if slashed {
                "exited_slashed"
            } else {
                "exited_unslashed"
            }
        } else {
            "withdrawal_possible"
        };
        let balance = if slashed { BALANCE_GWEI - SLASHING_PENALTY_GWEI } else { BALANCE_GWEI };
        ValidatorState {
            index: v,
            status,
            balance,
            effective_balance: balance,
            slashed,
            activation_epoch: activation,
            exit_epoch: exit,
            withdrawable_epoch: withdrawable,
        }
    }

    /// Whether (and with what delay) validator `v`, active in `epoch`, attests.
    pub(crate) fn status(&self, v: u64, epoch: u64) -> Status {
        let untracked_missed = || !self.is_tracked(v) && self.untracked_misses(self.untracked_base(epoch), v);
        if !self.special_bits.get(v) {
            return if untracked_missed() { MISSED } else { 1 };
        }
        let r = &self.rules;
        if r.offline.iter().any(|(set, from, to)| (*from..=*to).contains(&epoch) && set.contains(v))
            || r.slashed_at.get(&v).is_some_and(|&e| e <= epoch)
            || r.miss.iter().any(|(set, rate)| set.contains(v) && derive::chance(self.seed, tag::MISS, v, epoch, *rate))
            || untracked_missed()
        {
            return MISSED;
        }
        let delay = r
            .late
            .iter()
            .find(|(set, _, from, to)| (*from..=*to).contains(&epoch) && set.contains(v))
            .map_or(1, |l| l.1);
        // Past two epochs no block may include it.
        if delay > 2 * self.spec.slots_per_epoch {
            NEVER
        } else {
            delay as Status
        }
    }

    /// Per-epoch part of the untracked-miss draw, hoisted out of per-validator loops.
    fn untracked_base(&self, epoch: u64) -> u64 {
        derive::h(self.seed, tag::UNTRACKED, epoch, 0)
    }

    /// Whether an untracked validator misses, given [`Self::untracked_base`]: one mix per validator.
    fn untracked_misses(&self, base: u64, v: u64) -> bool {
        let rate = self.scenario.untracked_miss_rate_bps;
        rate > 0 && derive::mix(base ^ v) % 10_000 < rate
    }

    /// The active set and permutation of `epoch`.
    pub(crate) fn shape(&self, epoch: u64) -> Shape {
        let inactive: Vec<u64> = self.lifecycle.iter().copied().filter(|&v| !self.is_active(v, epoch)).collect();
        let n = self.validator_count() - inactive.len() as u64;
        let shifted = inactive.iter().enumerate().map(|(j, &x)| x - j as u64).collect();
        if n == 0 {
            return Shape { n, layout: None, a: 0, b: 0, a_inv: 0, inactive, shifted };
        }
        let mut a = derive::h(self.seed, tag::PERMUTATION, epoch, 0) % n;
        while gcd(a, n) != 1 {
            a = (a + 1) % n;
        }
        let b = derive::h(self.seed, tag::PERMUTATION, epoch, 1) % n;
        let a_inv = mod_inverse(a, n);
        Shape { n, layout: Some(BeaconCommitteeLayout::new(&self.spec, n)), a, b, a_inv, inactive, shifted }
    }

    /// Duties of `validators` in `epoch`, skipping unknown or inactive ones.
    pub fn duties(&self, epoch: u64, validators: &[u64]) -> Vec<Duty> {
        let shape = self.shape(epoch);
        validators.iter().filter_map(|&v| self.duty_in(&shape, epoch, v)).collect()
    }

    pub(crate) fn duty_in(&self, shape: &Shape, epoch: u64, v: u64) -> Option<Duty> {
        let layout = shape.layout?;
        if v >= self.validator_count() || !self.is_active(v, epoch) {
            return None;
        }
        let p = shape.position_of(v);
        let (k, pos) = layout.locate(p);
        let (offset, index) = layout.slot_and_index(k);
        Some(Duty {
            validator: v,
            slot: self.spec.first_slot(epoch) + offset,
            committee_index: index,
            committee_length: layout.length(offset, index),
            committees_at_slot: layout.per_slot,
            validator_committee_index: pos,
            position: p,
        })
    }

    /// The (cached) plan of `epoch`.
    pub(crate) fn plan(&self, epoch: u64) -> Arc<EpochPlan> {
        if let Some(p) = self.plans.lock().unwrap().iter().find(|p| p.epoch == epoch) {
            return p.clone();
        }
        // Built outside the lock: two requests may build the same plan, which is harmless.
        let plan = Arc::new(self.build_plan(epoch));
        let mut plans = self.plans.lock().unwrap();
        if !plans.iter().any(|p| p.epoch == epoch) {
            if plans.len() >= PLAN_CACHE {
                plans.remove(0);
            }
            plans.push(plan.clone());
        }
        plan
    }

    fn build_plan(&self, epoch: u64) -> EpochPlan {
        let shape = self.shape(epoch);
        let mut exceptions: Vec<(u32, Status)> = Vec::new();
        if shape.n > 0 && self.scenario.untracked_miss_rate_bps > 0 {
            // Anyone untracked may miss: walk every active validator in index order
            // (rank = active index), placing only the misses.
            let base = self.untracked_base(epoch);
            let mut inactive = shape.inactive.iter().peekable();
            let mut rank = 0u64;
            for v in 0..self.validator_count() {
                if inactive.next_if_eq(&&v).is_some() {
                    continue;
                }
                let st = if self.special_bits.get(v) {
                    self.status(v, epoch)
                } else if !self.tracked_bits.get(v) && self.untracked_misses(base, v) {
                    MISSED
                } else {
                    1
                };
                if st != 1 {
                    exceptions.push((shape.position_of_rank(rank) as u32, st));
                }
                rank += 1;
            }
            exceptions.sort_unstable();
        } else if shape.n > 0 {
            for &v in &self.special {
                if self.is_active(v, epoch) {
                    let st = self.status(v, epoch);
                    if st != 1 {
                        exceptions.push((shape.position_of(v) as u32, st));
                    }
                }
            }
            exceptions.sort_unstable();
        }
        let mut starts = Vec::new();
        let (mut offsets, mut delays) = (vec![0u32], Vec::new());
        if let Some(layout) = shape.layout {
            starts.reserve((layout.per_slot * layout.slots_per_epoch + 1) as usize);
            let mut at = 0;
            for offset in 0..layout.slots_per_epoch {
                for index in 0..layout.per_slot {
                    starts.push(at);
                    at += layout.length(offset, index);
                }
            }
            starts.push(at);
            debug_assert_eq!(at, shape.n);
            let mut ex = &exceptions[..];
            for k in 0..starts.len() - 1 {
                let end = starts[k + 1];
                let split = ex.partition_point(|e| (e.0 as u64) < end);
                let (inside, rest) = ex.split_at(split);
                ex = rest;
                let first = delays.len();
                if (inside.len() as u64) < end - starts[k] {
                    delays.push(1);
                }
                delays.extend(inside.iter().map(|e| e.1).filter(|&st| st != MISSED && st != NEVER));
                delays[first..].sort_unstable();
                let mut w = first;
                for r in first..delays.len() {
                    if r == first || delays[r] != delays[w - 1] {
                        delays[w] = delays[r];
                        w += 1;
                    }
                }
                delays.truncate(w);
                offsets.push(delays.len() as u32);
            }
        }
        EpochPlan { epoch, shape, starts, exceptions, offsets, delays }
    }

    /// The truth for epochs `0..=through_epoch`, clipped so that every epoch's
    /// inclusion window (which ends with the next epoch) lies at or before the
    /// initial head: epochs above `head_epoch - 1` are left out.
    pub fn truth(&self, through_epoch: u64) -> Truth {
        let head_epoch = self.scenario.head_epoch;
        if head_epoch == 0 {
            return Truth { epochs: Vec::new() };
        }
        let through = through_epoch.min(head_epoch - 1);
        let timely = self.spec.timely_delay();
        let epochs = (0..=through)
            .map(|epoch| {
                let plan = self.plan(epoch);
                let inclusion = self.inclusion_index(epoch);
                let tallies = self
                    .tracked
                    .iter()
                    .filter_map(|&v| {
                        let duty = self.duty_in(&plan.shape, epoch, v)?;
                        let st = plan.status_at(duty.position);
                        let block = if st == MISSED || st == NEVER {
                            None
                        } else {
                            inclusion.block_for(duty.slot, duty.committee_index, st)
                        };
                        let included = block.is_some();
                        let timely = block.is_some_and(|b| b - duty.slot <= timely);
                        Some(TallyTruth { validator: v, duties: 1, included: included as u32, timely: timely as u32 })
                    })
                    .collect();
                EpochTruth { epoch, tallies }
            })
            .collect();
        Truth { epochs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(extra: &str) -> Chain {
        let s = Scenario::from_toml(&format!("seed = 5\nvalidators = 100\nhead_epoch = 4\n{extra}")).unwrap();
        Chain::new(s).unwrap()
    }

    #[test]
    fn permutation_is_a_bijection_and_duties_invert_it() {
        let c = chain("[[activation]]\nvalidator = 3\nepoch = 2\n[[exit]]\nvalidator = 50\nepoch = 0\n");
        for epoch in 0..8 {
            let shape = c.shape(epoch);
            let mut seen: Vec<u64> = (0..shape.n).map(|p| shape.validator_at(p)).collect();
            for (p, &v) in seen.iter().enumerate() {
                assert!(c.is_active(v, epoch));
                assert_eq!(shape.position_of(v), p as u64);
            }
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len() as u64, shape.n);
        }
        assert_eq!(c.shape(0).n, 99);
        assert_eq!(c.shape(2).n, 100);
        assert_eq!(c.shape(5).n, 99);
    }

    #[test]
    fn committees_cover_the_active_set_once() {
        let c = chain("");
        let plan = c.plan(1);
        assert_eq!(*plan.starts.last().unwrap(), 100);
        let duties = c.duties(1, &(0..100).collect::<Vec<_>>());
        assert_eq!(duties.len(), 100);
        let mut seats: Vec<(u64, u64, u64)> =
            duties.iter().map(|d| (d.slot, d.committee_index, d.validator_committee_index)).collect();
        seats.sort_unstable();
        seats.dedup();
        assert_eq!(seats.len(), 100);
        for d in &duties {
            assert!(d.validator_committee_index < d.committee_length);
            assert_eq!(d.committees_at_slot, 3, "100 validators / 8 slots / 4 = 3 committees a slot");
            assert_eq!(d.slot / 8, 1);
        }
    }

    #[test]
    fn lifecycle_statuses() {
        let c = chain(
            "[[slashing]]\nvalidator = 9\nepoch = 3\n[[exit]]\nvalidator = 10\nepoch = 4\n[[activation]]\nvalidator = 11\nepoch = 2\n",
        );
        assert_eq!(c.validator_state(9, 2).status, "active_ongoing");
        let s = c.validator_state(9, 3);
        assert_eq!((s.status, s.slashed, s.exit_epoch, s.withdrawable_epoch), ("active_slashed", true, 8, 72));
        assert_eq!(c.validator_state(9, 8).status, "exited_slashed");
        assert_eq!(c.validator_state(10, 3).exit_epoch, FAR_FUTURE_EPOCH);
        assert_eq!(c.validator_state(10, 4).status, "active_exiting");
        assert_eq!(c.validator_state(10, 9).status, "exited_unslashed");
        assert_eq!(c.validator_state(10, 9 + 256).status, "withdrawal_possible");
        assert_eq!(c.validator_state(11, 1).status, "pending_queued");
        assert_eq!(c.validator_state(11, 2).status, "active_ongoing");
    }
}
