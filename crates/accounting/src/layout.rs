//! BeaconCommittee lengths of an epoch, needed to find a committee's bits inside an
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

use claystack_primitives::beacon_committee::{committees_per_slot, BeaconCommitteeLayout};
use claystack_primitives::{AttesterDuty, BeaconSpec, BlockSummary, Epoch};
use std::collections::BTreeMap;

/// Where committee lengths come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Derived from the active validator count.
    Active(BeaconCommitteeLayout),
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

/// An Electra aggregate's committees as runs of consecutive global committee
/// numbers `[begin, end)`, and its total bit count.
struct AggregateSpan {
    runs: Vec<(u64, u64)>,
    bits: u64,
}

impl AggregateSpan {
    /// Whether the committees' lengths under `layout` add up to the bit count.
    /// A run's total is `start(end) - start(begin)`, so this is O(runs), not O(committees).
    fn fits(&self, layout: &BeaconCommitteeLayout) -> bool {
        self.runs.iter().map(|&(b, e)| layout.start(e) - layout.start(b)).sum::<u64>() == self.bits
    }
}

/// Finds the active validator count of `epoch` from its duties and the Electra
/// aggregates for its slots in `blocks`.
pub fn solve_active_count(
    spec: &BeaconSpec,
    epoch: Epoch,
    duties: &[AttesterDuty],
    blocks: &[&BlockSummary],
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
    let global = |slot: u64, index: u64| (slot % spec.slots_per_epoch) * per_slot + index;
    let mut spans = Vec::new();
    // A duty's committee is a span of one committee.
    let mut seen = std::collections::BTreeSet::new();
    for d in duties {
        if seen.insert((d.slot, d.committee_index)) {
            let k = global(d.slot, d.committee_index);
            spans.push(AggregateSpan { runs: vec![(k, k + 1)], bits: d.committee_length });
        }
    }
    for block in blocks {
        for att in &block.attestations {
            let Some(bits) = &att.committee_bits else { continue };
            if spec.epoch_of(att.slot) != epoch {
                continue;
            }
            let mut runs: Vec<(u64, u64)> = Vec::new();
            for i in bits.ones().map(|i| i as u64) {
                if i >= per_slot {
                    return ActiveCount::NoFit;
                }
                let k = global(att.slot, i);
                match runs.last_mut() {
                    Some(run) if run.1 == k => run.1 = k + 1,
                    _ => runs.push((k, k + 1)),
                }
            }
            if runs.is_empty() {
                return ActiveCount::NoFit;
            }
            spans.push(AggregateSpan { runs, bits: att.aggregation_bits.len() as u64 });
        }
    }
    // A run of m committees holds n*m/C validators give or take less than one, so
    // a span of m committees in r runs with L bits has n*m/C in (L - r, L + r).
    for span in &spans {
        let m: u64 = span.runs.iter().map(|(b, e)| e - b).sum();
        let r = span.runs.len() as u64;
        let scaled = |x: u64| (x as u128 * total as u128 / m as u128).min(u64::MAX as u128) as u64;
        lo = lo.max(scaled(span.bits.saturating_sub(r)));
        hi = hi.min(scaled(span.bits + r).saturating_add(1));
    }
    if lo > hi {
        return ActiveCount::NoFit;
    }
    if hi - lo >= MAX_CANDIDATES {
        return ActiveCount::Ambiguous;
    }
    let mut found = None;
    for n in lo..=hi {
        if n == 0 || committees_per_slot(spec, n) != per_slot {
            continue;
        }
        let layout = BeaconCommitteeLayout::new(spec, n);
        if spans.iter().all(|s| s.fits(&layout)) {
            if found.is_some() {
                return ActiveCount::Ambiguous;
            }
            found = Some(n);
        }
    }
    found.map_or(ActiveCount::NoFit, ActiveCount::Exact)
}
