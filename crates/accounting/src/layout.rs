//! Committee lengths of an epoch, needed to find a committee's bits inside an
//! Electra aggregate that also spans committees without a tracked validator.
//!
//! Attester duties give the length of the committees that hold a tracked
//! validator only. Every committee's length follows from the number `n` of
//! active validators (see `claystack_primitives::committee`), and `n` is pinned
//! down by what the epoch's data already says: each duty's committee length and
//! each Electra aggregate's total bit count. [`solve_active_count`] finds the
//! one `n` that fits all of them, or says it is ambiguous, in which case the
//! caller fetches the epoch's committees from the beacon node instead. It never
//! guesses: an ambiguous answer costs a request, a wrong one would cost a tally.

use claystack_primitives::committee::{committees_per_slot, CommitteeLayout};
use claystack_primitives::{AttesterDuty, BlockSummary, ChainSpec, Epoch};
use std::collections::BTreeMap;

/// Where committee lengths come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Derived from the active validator count.
    Active(CommitteeLayout),
    /// Read from the beacon node's committees: `(slot, index) -> length`.
    Lengths(BTreeMap<(u64, u64), u64>),
}

impl Layout {
    pub fn length(&self, slot: u64, index: u64) -> Option<u64> {
        match self {
            Layout::Active(l) => (index < l.per_slot).then(|| l.length(slot, index)),
            Layout::Lengths(m) => m.get(&(slot, index)).copied(),
        }
    }
}

/// What the epoch's own data says about its active validator count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveCount {
    /// Exactly one count fits every duty and every aggregate.
    Exact(u64),
    /// Several counts fit; fetch the committees.
    Ambiguous,
    /// No count fits: the data contradicts itself.
    NoFit,
}

/// Most candidate counts examined before answering `Ambiguous`.
const MAX_CANDIDATES: u64 = 1 << 16;

struct AggregateSpan {
    slot: u64,
    committees: Vec<u64>,
    bits: u64,
}

/// Finds the active validator count of `epoch` from its duties and the Electra
/// aggregates for its slots in `blocks`.
pub fn solve_active_count(
    spec: &ChainSpec,
    epoch: Epoch,
    duties: &[AttesterDuty],
    blocks: &[BlockSummary],
) -> ActiveCount {
    let Some(first) = duties.first() else {
        return ActiveCount::Ambiguous;
    };
    let per_slot = first.committees_at_slot;
    if duties.iter().any(|d| d.committees_at_slot != per_slot) || per_slot == 0 {
        return ActiveCount::NoFit;
    }
    let total = per_slot * spec.slots_per_epoch;
    let unit = spec.slots_per_epoch * spec.target_committee_size;
    // committees_per_slot = clamp(n / unit, 1, max) bounds n.
    let mut lo = if per_slot == 1 { 1 } else { per_slot * unit };
    let mut hi = if per_slot >= spec.max_committees_per_slot { u64::MAX } else { (per_slot + 1) * unit - 1 };
    // Every committee holds floor(n/C) or floor(n/C)+1 validators.
    let mut lengths: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    for d in duties {
        lengths.insert((d.slot, d.committee_index), d.committee_length);
        lo = lo.max(total * d.committee_length.saturating_sub(1));
        hi = hi.min(total * (d.committee_length + 1) - 1);
    }
    let mut spans = Vec::new();
    for block in blocks {
        for att in &block.attestations {
            let Some(bits) = &att.committee_bits else {
                continue;
            };
            if spec.epoch_of(att.slot) != epoch {
                continue;
            }
            let committees: Vec<u64> = bits.ones().map(|i| i as u64).collect();
            let k = committees.len() as u64;
            if k == 0 || committees.iter().any(|&i| i >= per_slot) {
                return ActiveCount::NoFit;
            }
            let len = att.aggregation_bits.len() as u64;
            // k*q <= len <= k*(q+1)
            let q_hi = len / k;
            let q_lo = len.div_ceil(k).saturating_sub(1);
            lo = lo.max(total * q_lo);
            hi = hi.min(total * (q_hi + 1) - 1);
            spans.push(AggregateSpan { slot: att.slot, committees, bits: len });
        }
    }
    if lo > hi {
        return ActiveCount::NoFit;
    }
    if hi - lo >= MAX_CANDIDATES {
        return ActiveCount::Ambiguous;
    }
    let mut found = None;
    for n in lo..=hi {
        if committees_per_slot(spec, n) != per_slot {
            continue;
        }
        let layout = CommitteeLayout::new(spec, n);
        let fits_spans =
            spans.iter().all(|s| s.committees.iter().map(|&i| layout.length(s.slot, i)).sum::<u64>() == s.bits);
        if fits_spans && lengths.iter().all(|(&(slot, i), &len)| layout.length(slot, i) == len) {
            if found.is_some() {
                return ActiveCount::Ambiguous;
            }
            found = Some(n);
        }
    }
    found.map_or(ActiveCount::NoFit, ActiveCount::Exact)
}
