//! The simulated beacon chain a scenario describes, as a pure model: no I/O, no clock.
//!
//! Per-validator facts are never stored per validator. The few validators a
//! scenario names live in small maps; everyone else is "active from epoch 0,
//! attests, included with delay 1". An epoch's committees come from a cheap
//! linear permutation `position p -> active index (a*p + b) mod n` (see
//! [`Shape`]), sliced by [`BeaconCommitteeLayout`], so a duty or a committee member is
//! O(1) to compute. What deviates from the default in an epoch is listed, by
//! shuffled position, in an [`EpochPlan`] that is built on demand and cached.
//!
//! # Layout
//!
//! This module holds the [`BeaconModel`] itself: the scenario's rules, slots, blocks and roots,
//! and the caches of epoch plans and planned blocks. [`crate::validators`] adds what each
//! validator is and does at an epoch, [`crate::truth`] what an oracle must find,
//! [`crate::money`] its balances, withdrawals and deposits;
//! [`crate::plan`], [`crate::inclusion`] and [`crate::ledger`] are the data they share.
//!
//! [`BeaconCommitteeLayout`]: claystack_primitives::beacon_committee::BeaconCommitteeLayout

use crate::derive::{self, tag};
use crate::inclusion::{Inclusion, InclusionIndex, Item};
use crate::ledger::Money;
use crate::plan::{EpochPlan, Shape, Status, MISSED, NEVER};
use crate::scenario::{Scenario, ScenarioError, ValidatorSet};
use claystack_primitives::BeaconSpec;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A bitset over validator indices.
#[derive(Debug, Default)]
pub(crate) struct Bits(Vec<u64>);

impl Bits {
    fn new(len: u64) -> Self {
        Bits(vec![0; len.div_ceil(64) as usize])
    }
    fn set(&mut self, i: u64) {
        self.0[(i / 64) as usize] |= 1 << (i % 64);
    }
    pub fn get(&self, i: u64) -> bool {
        self.0[(i / 64) as usize] >> (i % 64) & 1 == 1
    }
}

/// The scenario's attestation and lifecycle rules, by validator set or validator.
#[derive(Debug)]
pub(crate) struct Rules {
    pub offline: Vec<(ValidatorSet, u64, u64)>,
    pub miss: Vec<(ValidatorSet, u64)>,
    pub late: Vec<(ValidatorSet, u64, u64, u64)>,
    pub slashed_at: HashMap<u64, u64>,
    pub exit_requested_at: HashMap<u64, u64>,
    pub activation: HashMap<u64, u64>,
}

/// How many epoch plans stay cached; the oracle walks epochs in order, and a
/// block needs the plans of its own and the previous epoch.
const PLAN_CACHE: usize = 8;

/// The deterministic chain a scenario describes.
pub struct BeaconModel {
    pub(crate) scenario: Scenario,
    spec: BeaconSpec,
    pub(crate) seed: u64,
    tracked: Vec<u64>,
    pub(crate) tracked_bits: Bits,
    /// Validators any attestation rule names, ascending; and as a bitset.
    special: Vec<u64>,
    pub(crate) special_bits: Bits,
    pub(crate) rules: Rules,
    /// Validators whose activation or exit differs from the default, ascending.
    lifecycle: Vec<u64>,
    missed_slots: Vec<u64>,
    /// Validators whose balance is walked epoch by epoch (a rule or a deposit names them).
    pub(crate) walked_bits: Bits,
    pub(crate) money: Money,
    plans: Mutex<Vec<Arc<EpochPlan>>>,
    inclusion: Mutex<Inclusion>,
}

impl std::fmt::Debug for BeaconModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BeaconModel")
            .field("seed", &self.seed)
            .field("preset", &self.scenario.preset)
            .field("validators", &self.scenario.validators)
            .field("head_epoch", &self.scenario.head_epoch)
            .finish_non_exhaustive()
    }
}

impl BeaconModel {
    /// Builds the chain; validates the scenario again (cheap) so a hand-built
    /// `Scenario` gets the same errors as a parsed one.
    pub fn new(s: Scenario) -> Result<BeaconModel, ScenarioError> {
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
        let mut walked_bits = Bits::new(n);
        special
            .iter()
            .chain(&lifecycle)
            .chain(s.deposit.iter().map(|d| &d.validator))
            .for_each(|&v| walked_bits.set(v));
        let first_block_from = |slot: u64| {
            let mut b = slot;
            while missed_slots.binary_search(&b).is_ok() {
                b += 1;
            }
            b
        };
        let money = Money::new(&s, &spec, first_block_from);
        Ok(BeaconModel {
            seed: s.seed,
            spec,
            tracked,
            tracked_bits,
            special,
            special_bits,
            rules,
            lifecycle,
            missed_slots,
            walked_bits,
            money,
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

    /// The first slot at or after `slot` that has a block.
    pub fn block_at_or_after(&self, slot: u64) -> u64 {
        let mut s = slot;
        while self.is_missed_slot(s) {
            s += 1;
        }
        s
    }

    /// Number of validators active in `epoch`.
    pub fn active_count(&self, epoch: u64) -> u64 {
        self.validator_count() - self.lifecycle.iter().filter(|&&v| !self.is_active(v, epoch)).count() as u64
    }

    /// `0x01` withdrawal credentials: the prefix, 11 zero bytes, the execution address.
    pub fn withdrawal_credentials(&self, v: u64) -> [u8; 32] {
        let mut creds = [0u8; 32];
        creds[0] = 1;
        creds[12..].copy_from_slice(&self.withdrawal_address(v));
        creds
    }

    /// The execution address validator `v` withdraws to.
    pub fn withdrawal_address(&self, v: u64) -> [u8; 20] {
        let mut a = [0u8; 20];
        a.copy_from_slice(&derive::bytes32(self.seed, tag::WITHDRAWAL, v)[..20]);
        a
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

    /// The active set and permutation of `epoch`.
    pub(crate) fn shape(&self, epoch: u64) -> Shape {
        let inactive: Vec<u64> = self.lifecycle.iter().copied().filter(|&v| !self.is_active(v, epoch)).collect();
        Shape::new(self.seed, &self.spec, epoch, self.validator_count(), inactive)
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

    /// Plans blocks through `epoch` (once; later calls are a lock and a compare).
    fn plan_blocks_through(&self, epoch: u64) {
        let mut inc = self.inclusion.lock().unwrap();
        while inc.next_epoch() <= epoch {
            let x = inc.next_epoch();
            let cur = self.plan(x);
            let prev = if x > 0 { Some(self.plan(x - 1)) } else { None };
            inc.plan_epoch(self.spec, x, &cur, prev.as_deref(), |s| self.is_missed_slot(s));
        }
    }

    /// The attestations the block at `slot` carries (not counting duplicates).
    pub(crate) fn block_items(&self, slot: u64) -> Arc<[Item]> {
        self.plan_blocks_through(self.spec().epoch_of(slot));
        self.inclusion.lock().unwrap().block(slot)
    }

    /// Where the attestations of `epoch`'s slots went.
    pub(crate) fn inclusion_index(&self, epoch: u64) -> InclusionIndex {
        self.plan_blocks_through(epoch + 1);
        self.inclusion.lock().unwrap().index(self.spec, epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(extra: &str) -> BeaconModel {
        let s = Scenario::from_toml(&format!("seed = 5\nvalidators = 100\nhead_epoch = 4\n{extra}")).unwrap();
        BeaconModel::new(s).unwrap()
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
}
