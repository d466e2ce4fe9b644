//! How the consensus spec slices an epoch's shuffled active validators into committees.
//!
//! `compute_committee` gives committee `k` of `C = committees_per_slot * SLOTS_PER_EPOCH`
//! the shuffled positions `[n*k/C, n*(k+1)/C)` of the `n` active validators. So
//! every committee's length, and where it starts inside an Electra aggregate that
//! concatenates several committees of one slot, follows from `n` alone.

use crate::BeaconSpec;

/// `get_committee_count_per_slot` for `active` validators.
pub fn committees_per_slot(spec: &BeaconSpec, active: u64) -> u64 {
    (active / spec.slots_per_epoch / spec.target_committee_size).clamp(1, spec.max_committees_per_slot)
}

/// Shape of one epoch's committees, fixed by the number of active validators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeaconCommitteeLayout {
    pub active: u64,
    pub per_slot: u64,
    pub slots_per_epoch: u64,
}

impl BeaconCommitteeLayout {
    pub fn new(spec: &BeaconSpec, active: u64) -> Self {
        BeaconCommitteeLayout {
            active,
            per_slot: committees_per_slot(spec, active),
            slots_per_epoch: spec.slots_per_epoch,
        }
    }

    pub fn total(&self) -> u64 {
        self.per_slot * self.slots_per_epoch
    }

    /// Global committee number of `(slot, index)` within the epoch.
    pub fn global(&self, slot: u64, index: u64) -> u64 {
        (slot % self.slots_per_epoch) * self.per_slot + index
    }

    /// First shuffled position of global committee `k`.
    pub fn start(&self, k: u64) -> u64 {
        (self.active as u128 * k as u128 / self.total() as u128) as u64
    }

    /// Number of validators in committee `index` at `slot`.
    pub fn length(&self, slot: u64, index: u64) -> u64 {
        let k = self.global(slot, index);
        self.start(k + 1) - self.start(k)
    }

    /// The global committee that holds shuffled position `p`, and `p`'s place in it.
    pub fn locate(&self, p: u64) -> (u64, u64) {
        debug_assert!(p < self.active);
        // start(k) = floor(n*k/C) <= p  <=>  k <= ((p+1)*C - 1) / n
        let k = (((p as u128 + 1) * self.total() as u128 - 1) / self.active as u128) as u64;
        let k = k.min(self.total() - 1);
        (k, p - self.start(k))
    }

    /// `(slot offset in epoch, committee index)` of global committee `k`.
    pub fn slot_and_index(&self, k: u64) -> (u64, u64) {
        (k / self.per_slot, k % self.per_slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mainnet_shape() {
        let spec = BeaconSpec::mainnet();
        assert_eq!(committees_per_slot(&spec, 1_000_000), 64);
        assert_eq!(committees_per_slot(&spec, 100), 1);
        assert_eq!(committees_per_slot(&spec, 32 * 128 * 3 + 5), 3);
        let l = BeaconCommitteeLayout::new(&spec, 1_000_000);
        let total: u64 = (0..32).flat_map(|s| (0..64).map(move |i| (s, i))).map(|(s, i)| l.length(s, i)).sum();
        assert_eq!(total, 1_000_000);
    }

    proptest! {
        #[test]
        fn locate_inverts_start(active in 1u64..200_000, p_frac in 0.0f64..1.0) {
            let l = BeaconCommitteeLayout::new(&BeaconSpec::mainnet(), active);
            let p = ((active as f64 * p_frac) as u64).min(active - 1);
            let (k, pos) = l.locate(p);
            let (s, i) = l.slot_and_index(k);
            prop_assert!(pos < l.length(s, i));
            prop_assert_eq!(l.start(k) + pos, p);
        }
    }
}
