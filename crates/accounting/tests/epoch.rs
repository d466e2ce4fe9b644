//! Accounting against small hand-built epochs: shuffling is the identity here
//! (validator i sits at shuffled position i), which keeps expectations readable.

use claystack_accounting::{account_epoch, solve_active_count, ActiveCount, Layout, Tally};
use claystack_primitives::beacon_committee::BeaconCommitteeLayout;
use claystack_primitives::{Attestation, AttesterDuty, BeaconSpec, Bitlist, Bitvector, BlockSummary, ExecutionLink};
use proptest::prelude::*;

const EPOCH: u64 = 3;

fn spec() -> BeaconSpec {
    BeaconSpec::minimal()
}

/// Duties of validators `0..n` in `EPOCH` with identity shuffling.
fn duties(n: u64, tracked: &[u64]) -> Vec<AttesterDuty> {
    let spec = spec();
    let l = BeaconCommitteeLayout::new(&spec, n);
    tracked
        .iter()
        .map(|&v| {
            let (k, pos) = l.locate(v);
            let (slot_off, index) = l.slot_and_index(k);
            let slot = spec.first_slot(EPOCH) + slot_off;
            AttesterDuty {
                validator_index: v,
                slot,
                committee_index: index,
                committee_length: l.length(slot, index),
                committees_at_slot: l.per_slot,
                validator_committee_index: pos,
            }
        })
        .collect()
}

/// Validators in committee `(slot, index)` in order, for identity shuffling.
fn members(n: u64, slot: u64, index: u64) -> Vec<u64> {
    let spec = spec();
    let l = BeaconCommitteeLayout::new(&spec, n);
    (0..n)
        .filter(|&v| {
            let (k, _) = l.locate(v);
            let (s, i) = l.slot_and_index(k);
            spec.first_slot(EPOCH) + s == slot && i == index
        })
        .collect()
}

/// An Electra aggregate for `slot` over all its committees with bits set for `voters`.
fn electra_att(n: u64, slot: u64, voters: &[u64]) -> Attestation {
    let l = BeaconCommitteeLayout::new(&spec(), n);
    let mut cb = Bitvector::zeros(spec().max_committees_per_slot as usize);
    let mut all = Vec::new();
    for i in 0..l.per_slot {
        cb.set(i as usize, true);
        all.extend(members(n, slot, i));
    }
    let mut bits = Bitlist::zeros(all.len());
    for (pos, v) in all.iter().enumerate() {
        bits.set(pos, voters.contains(v));
    }
    Attestation { slot, index: 0, committee_bits: Some(cb), aggregation_bits: bits }
}

/// A Deneb attestation for one committee.
fn deneb_att(n: u64, slot: u64, index: u64, voters: &[u64]) -> Attestation {
    let m = members(n, slot, index);
    let mut bits = Bitlist::zeros(m.len());
    for (pos, v) in m.iter().enumerate() {
        bits.set(pos, voters.contains(v));
    }
    Attestation { slot, index, committee_bits: None, aggregation_bits: bits }
}

fn block(slot: u64, attestations: Vec<Attestation>) -> BlockSummary {
    BlockSummary {
        slot,
        proposer_index: 0,
        parent_root: [0; 32],
        fork: "electra".into(),
        execution: ExecutionLink { block_number: slot, block_hash: [0; 32], parent_hash: [0; 32] },
        attestations,
        withdrawals: vec![],
        deposits: vec![],
    }
}

fn refs(blocks: &[BlockSummary]) -> Vec<&BlockSummary> {
    blocks.iter().collect()
}

fn t(validator: u64, duties: u32, included: u32, timely: u32) -> Tally {
    Tally { validator, duties, included, timely }
}

const N: u64 = 100;

#[test]
fn electra_inclusion_late_and_missing() {
    let spec = spec();
    let tracked = [1, 20, 40, 77];
    let d = duties(N, &tracked);
    let everyone: Vec<u64> = (0..N).filter(|v| *v != 40).collect();
    let mut blocks = Vec::new();
    for slot in spec.first_slot(EPOCH)..=spec.last_slot(EPOCH) {
        // 77 attests three slots late (not timely on minimal: limit 2); 40 never.
        let on_time: Vec<u64> = everyone.iter().copied().filter(|v| *v != 77).collect();
        blocks.push((slot + 1, electra_att(N, slot, &on_time)));
        blocks.push((slot + 3, electra_att(N, slot, &[77])));
    }
    let mut by_slot: std::collections::BTreeMap<u64, Vec<Attestation>> = Default::default();
    for (s, a) in blocks {
        by_slot.entry(s).or_default().push(a);
    }
    let blocks: Vec<_> = by_slot.into_iter().map(|(s, a)| block(s, a)).collect();
    let layout = Layout::Active(BeaconCommitteeLayout::new(&spec, N));
    let got = account_epoch(&spec, EPOCH, &d, &refs(&blocks), Some(&layout)).unwrap();
    assert_eq!(got.tallies, vec![t(1, 1, 1, 1), t(20, 1, 1, 1), t(40, 1, 0, 0), t(77, 1, 1, 0)]);
    // Without a layout, aggregates that span untracked committees cannot be read.
    assert!(
        account_epoch(&spec, EPOCH, &d, &refs(&blocks), None).is_err()
            || BeaconCommitteeLayout::new(&spec, N).per_slot == 1
    );
    assert_eq!(solve_active_count(&spec, EPOCH, &d, &refs(&blocks)), ActiveCount::Exact(N));
}

#[test]
fn outside_window_and_duplicates() {
    let spec = spec();
    let d = duties(N, &[5]);
    let slot = d[0].slot;
    let layout = Layout::Active(BeaconCommitteeLayout::new(&spec, N));
    // Included in the last slot of the window: counted, not timely.
    let last = vec![block(spec.last_slot(EPOCH + 1), vec![electra_att(N, slot, &[5])])];
    let got = account_epoch(&spec, EPOCH, &d, &refs(&last), Some(&layout)).unwrap();
    assert_eq!(got.tallies, vec![t(5, 1, 1, 0)]);
    // A block past the window is not the caller's to give.
    let past = vec![block(spec.last_slot(EPOCH + 1) + 1, vec![electra_att(N, slot, &[5])])];
    assert!(account_epoch(&spec, EPOCH, &d, &refs(&past), Some(&layout)).is_err());
    // No block at all: the duty stands, uncounted.
    let got = account_epoch(&spec, EPOCH, &d, &[], Some(&layout)).unwrap();
    assert_eq!(got.tallies, vec![t(5, 1, 0, 0)]);
    // The same aggregate twice counts once, with the earlier delay.
    let dup =
        vec![block(slot + 1, vec![electra_att(N, slot, &[5])]), block(slot + 4, vec![electra_att(N, slot, &[5])])];
    let got = account_epoch(&spec, EPOCH, &d, &refs(&dup), Some(&layout)).unwrap();
    assert_eq!(got.tallies, vec![t(5, 1, 1, 1)]);
}

#[test]
fn deneb_format() {
    let spec = spec();
    let d = duties(N, &[2, 3]);
    // One attestation per committee with a tracked validator, in the next slot's block.
    let mut by_slot: std::collections::BTreeMap<u64, Vec<Attestation>> = Default::default();
    for x in &d {
        let att = deneb_att(N, x.slot, x.committee_index, &[2]);
        let list = by_slot.entry(x.slot + 1).or_default();
        if !list.contains(&att) {
            list.push(att);
        }
    }
    let blocks: Vec<_> = by_slot.into_iter().map(|(s, a)| block(s, a)).collect();
    let got = account_epoch(&spec, EPOCH, &d, &refs(&blocks), None).unwrap();
    assert_eq!(got.tallies, vec![t(2, 1, 1, 1), t(3, 1, 0, 0)]);
}

#[test]
fn contradictions_are_errors() {
    let spec = spec();
    let d = duties(N, &[2]);
    let slot = d[0].slot;
    let mut att = deneb_att(N, slot, d[0].committee_index, &[2]);
    att.aggregation_bits = Bitlist::zeros(att.aggregation_bits.len() + 1);
    assert!(account_epoch(&spec, EPOCH, &d, &[&block(slot + 1, vec![att])], None).is_err());
    // An attestation cannot be included at its own slot.
    let att = deneb_att(N, slot, d[0].committee_index, &[2]);
    assert!(account_epoch(&spec, EPOCH, &d, &[&block(slot, vec![att])], None).is_err());
    // A duty outside the epoch.
    let mut bad = d.clone();
    bad[0].slot = spec.first_slot(EPOCH + 1);
    assert!(account_epoch(&spec, EPOCH, &bad, &[], None).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever order duties and attestations come in, the tally is the same.
    #[test]
    fn order_does_not_matter(n in 40u64..300, seed in any::<u64>()) {
        let spec = spec();
        let tracked: Vec<u64> = (0..n).filter(|v| (v ^ seed) % 7 == 0).collect();
        prop_assume!(!tracked.is_empty());
        let mut d = duties(n, &tracked);
        let voters: Vec<u64> = (0..n).filter(|v| (v.wrapping_mul(seed | 1)) % 5 != 0).collect();
        let mut blocks: Vec<BlockSummary> = (spec.first_slot(EPOCH)..=spec.last_slot(EPOCH))
            .map(|s| block(s + 1, vec![electra_att(n, s, &voters), electra_att(n, s, &tracked)]))
            .collect();
        let layout = Layout::Active(BeaconCommitteeLayout::new(&spec, n));
        let a = account_epoch(&spec, EPOCH, &d, &refs(&blocks), Some(&layout)).unwrap();
        d.reverse();
        for b in &mut blocks { b.attestations.reverse(); }
        let b = account_epoch(&spec, EPOCH, &d, &refs(&blocks), Some(&layout)).unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert!(a.tallies.iter().all(|t| t.included == 1 && t.timely == 1));
    }

    /// The solver never returns a wrong count: exact means exactly right.
    #[test]
    fn solver_is_never_wrong(n in 1u64..300_000, seed in any::<u64>(), mainnet in any::<bool>()) {
        let spec = if mainnet { BeaconSpec::mainnet() } else { BeaconSpec::minimal() };
        let l = BeaconCommitteeLayout::new(&spec, n);
        let step = 1 + seed % 97;
        let tracked: Vec<u64> = (0..n).step_by(step as usize).collect();
        let d: Vec<AttesterDuty> = tracked.iter().map(|&v| {
            let (k, pos) = l.locate(v);
            let (so, i) = l.slot_and_index(k);
            let slot = spec.first_slot(EPOCH) + so;
            AttesterDuty { validator_index: v, slot, committee_index: i, committee_length: l.length(slot, i), committees_at_slot: l.per_slot, validator_committee_index: pos }
        }).collect();
        // Aggregates over a seed-chosen subset of slots, all committees.
        let blocks: Vec<BlockSummary> = (0..spec.slots_per_epoch).filter(|s| (seed >> s) & 1 == 1).map(|so| {
            let slot = spec.first_slot(EPOCH) + so;
            let mut cb = Bitvector::zeros(spec.max_committees_per_slot as usize);
            let mut len = 0;
            // Some aggregates span every committee, others a seed-chosen subset (several runs).
            let all = seed % 3 == 0;
            for i in 0..l.per_slot {
                if all || i == 0 || seed.rotate_left((so + i) as u32) & 1 == 1 {
                    cb.set(i as usize, true);
                    len += l.length(slot, i);
                }
            }
            block(slot + 1, vec![Attestation { slot, index: 0, committee_bits: Some(cb), aggregation_bits: Bitlist::zeros(len as usize) }])
        }).collect();
        match solve_active_count(&spec, EPOCH, &d, &refs(&blocks)) {
            ActiveCount::Exact(m) => prop_assert_eq!(m, n),
            ActiveCount::Ambiguous => {}
            ActiveCount::NoFit => prop_assert!(false, "true count {} was rejected", n),
        }
    }
}

/// At mainnet size, full-slot aggregates pin the count down exactly; duties alone
/// (few tracked validators) may not, and then the answer is Ambiguous, never wrong.
#[test]
fn solver_pins_mainnet_count() {
    let spec = BeaconSpec::mainnet();
    for n in [1_000_000u64, 999_999, 524_288, 300_001] {
        let l = BeaconCommitteeLayout::new(&spec, n);
        let d: Vec<AttesterDuty> = [0u64, n / 3, n - 1]
            .iter()
            .map(|&v| {
                let (k, pos) = l.locate(v);
                let (so, i) = l.slot_and_index(k);
                let slot = spec.first_slot(EPOCH) + so;
                AttesterDuty {
                    validator_index: v,
                    slot,
                    committee_index: i,
                    committee_length: l.length(slot, i),
                    committees_at_slot: l.per_slot,
                    validator_committee_index: pos,
                }
            })
            .collect();
        let blocks: Vec<BlockSummary> = (0..spec.slots_per_epoch)
            .map(|so| {
                let slot = spec.first_slot(EPOCH) + so;
                let mut cb = Bitvector::zeros(64);
                let mut len = 0;
                for i in 0..l.per_slot {
                    cb.set(i as usize, true);
                    len += l.length(slot, i);
                }
                block(
                    slot + 1,
                    vec![Attestation {
                        slot,
                        index: 0,
                        committee_bits: Some(cb),
                        aggregation_bits: Bitlist::zeros(len as usize),
                    }],
                )
            })
            .collect();
        assert_eq!(solve_active_count(&spec, EPOCH, &d, &refs(&blocks)), ActiveCount::Exact(n), "n={n}");
        assert_ne!(solve_active_count(&spec, EPOCH, &d, &[]), ActiveCount::NoFit, "n={n}");
    }
}
