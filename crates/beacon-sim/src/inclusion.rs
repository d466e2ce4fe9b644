//! Which block includes whose attestation: the inclusion plan.
//!
//! The plan works on groups, not validators. In a slot, the attesters of one
//! committee fall into a few delay classes (1 for almost everyone, plus whatever
//! delays `[[late]]` rules give). A block `b` may include, for slot `s`, every
//! class with delay `d <= b - s` not included yet; those form one aggregate per
//! slot (Electra) or one per committee of the slot (Deneb). Blocks hold at most
//! 8 (Electra) or 128 (Deneb) attestations; candidates are taken oldest slot
//! first, lowest committee first, and the overflow waits for the next block. A
//! class still waiting after the end of the epoch after its slot is never
//! included. The state carried between epochs is, per slot and committee, the
//! largest delay included so far, so blocks are planned one epoch at a time
//! from genesis and remembered.

use crate::plan::{EpochPlan, Status};
use claystack_primitives::BeaconSpec;
use std::sync::Arc;

/// One attestation in a block: for slot `slot`, the attesters of each listed
/// committee whose delay lies in `(lo, hi]`, where `hi` is the block's slot minus
/// `slot`. `parts` holds `(committee index, lo)`, ascending by committee; Deneb
/// items have exactly one part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub slot: u64,
    pub hi: Status,
    pub parts: Vec<(u16, Status)>,
}

/// The attestations planned for every block so far, by slot.
#[derive(Debug, Default)]
pub(crate) struct Inclusion {
    /// Blocks of epochs `0..next_epoch` are planned.
    next_epoch: u64,
    /// Attestations of the block at each slot (empty for missed slots and genesis).
    blocks: Vec<Arc<[Item]>>,
    /// Per slot of epoch `next_epoch - 1` and committee: the largest delay included.
    carry: Vec<Vec<Status>>,
}

/// For one epoch's attestation slots, which blocks included which classes.
pub(crate) struct InclusionIndex {
    first_slot: u64,
    by_slot: Vec<Vec<(u64, Item)>>,
}

impl InclusionIndex {
    /// The block that included the attester of `(slot, committee)` with delay `status`.
    pub fn block_for(&self, slot: u64, committee: u64, status: Status) -> Option<u64> {
        let items = self.by_slot.get(slot.checked_sub(self.first_slot)? as usize)?;
        items.iter().find_map(|(block, item)| {
            let i = item.parts.binary_search_by_key(&(committee as u16), |p| p.0).ok()?;
            (item.parts[i].1 < status && status <= item.hi).then_some(*block)
        })
    }
}

/// Smallest delay in committee `k` above what was already included.
fn next_delay(plan: &EpochPlan, k: usize, included: Status) -> Status {
    plan.delays_of(k).iter().copied().find(|&d| d > included).unwrap_or(Status::MAX)
}

impl Inclusion {
    /// The first epoch whose blocks are not planned yet.
    pub fn next_epoch(&self) -> u64 {
        self.next_epoch
    }

    /// Plans the blocks of epoch `x` (the next one), from its plan `cur`, the previous
    /// epoch's `prev` (none for epoch 0) and which slots have no block.
    pub fn plan_epoch(
        &mut self,
        spec: BeaconSpec,
        x: u64,
        cur: &EpochPlan,
        prev: Option<&EpochPlan>,
        is_missed_slot: impl Fn(u64) -> bool,
    ) {
        debug_assert_eq!(x, self.next_epoch);
        let spe = spec.slots_per_epoch;
        let window_lo = if x > 0 { spec.first_slot(x - 1) } else { 0 };
        let mut last = std::mem::take(&mut self.carry);
        debug_assert_eq!(last.len() as u64, if x > 0 { spe } else { 0 });
        last.extend((0..spe).map(|_| vec![0; cur.per_slot() as usize]));
        let plan_of = |s: u64| if spec.epoch_of(s) == x { cur } else { prev.expect("slot of epoch x-1") };
        let slot_next = |s: u64, lasts: &[Status]| {
            let plan = plan_of(s);
            let off = s % spe;
            (0..plan.per_slot())
                .map(|c| next_delay(plan, plan.global(off, c), lasts[c as usize]))
                .min()
                .unwrap_or(Status::MAX)
        };
        let mut next_ready: Vec<Status> =
            (window_lo..=spec.last_slot(x)).map(|s| slot_next(s, &last[(s - window_lo) as usize])).collect();

        for b in spec.first_slot(x)..=spec.last_slot(x) {
            let mut items: Vec<Item> = Vec::new();
            if b == 0 || is_missed_slot(b) {
                self.blocks.push(Arc::from(items));
                continue;
            }
            let electra = spec.is_electra(spec.epoch_of(b));
            let cap = if electra { 8 } else { 128 };
            for s in window_lo..b {
                if items.len() >= cap {
                    break;
                }
                let rel = (s - window_lo) as usize;
                let age = (b - s) as Status;
                if next_ready[rel] > age {
                    continue;
                }
                let plan = plan_of(s);
                let off = s % spe;
                let lasts = &mut last[rel];
                let ready = |c: u64, lasts: &[Status]| {
                    let d = next_delay(plan, plan.global(off, c), lasts[c as usize]);
                    d <= age
                };
                if electra {
                    let parts: Vec<(u16, Status)> = (0..plan.per_slot())
                        .filter(|&c| ready(c, lasts))
                        .map(|c| (c as u16, lasts[c as usize]))
                        .collect();
                    for &(c, _) in &parts {
                        lasts[c as usize] = age;
                    }
                    items.push(Item { slot: s, hi: age, parts });
                } else {
                    for c in 0..plan.per_slot() {
                        if items.len() >= cap {
                            break;
                        }
                        if ready(c, lasts) {
                            items.push(Item { slot: s, hi: age, parts: vec![(c as u16, lasts[c as usize])] });
                            lasts[c as usize] = age;
                        }
                    }
                }
                next_ready[rel] = slot_next(s, lasts);
            }
            self.blocks.push(Arc::from(items));
        }
        self.carry = last.split_off(last.len() - spe as usize);
        self.next_epoch = x + 1;
    }
}

impl Inclusion {
    /// The attestations the block at `slot` carries; its epoch must be planned.
    pub fn block(&self, slot: u64) -> Arc<[Item]> {
        self.blocks[slot as usize].clone()
    }

    /// Where the attestations of `epoch`'s slots went; `epoch + 1` must be planned.
    pub fn index(&self, spec: BeaconSpec, epoch: u64) -> InclusionIndex {
        let first_slot = spec.first_slot(epoch);
        let mut by_slot = vec![Vec::new(); spec.slots_per_epoch as usize];
        for b in first_slot + 1..=spec.last_slot(epoch + 1) {
            for item in self.blocks[b as usize].iter() {
                if spec.epoch_of(item.slot) == epoch {
                    by_slot[(item.slot - first_slot) as usize].push((b, item.clone()));
                }
            }
        }
        InclusionIndex { first_slot, by_slot }
    }
}
