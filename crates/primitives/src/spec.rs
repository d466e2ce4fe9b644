//! Beacon chain constants the oracle needs, with the consensus spec's two presets.

use serde::{Deserialize, Serialize};

/// The consensus-spec constants that shape duties, committees and inclusion.
///
/// Values come from a beacon node's `/eth/v1/config/spec`, or from a preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeaconSpec {
    pub slots_per_epoch: u64,
    pub seconds_per_slot: u64,
    pub target_committee_size: u64,
    pub max_committees_per_slot: u64,
    /// Electra's first epoch; `u64::MAX` when the chain has not scheduled it.
    pub electra_fork_epoch: u64,
}

impl BeaconSpec {
    /// The mainnet preset (32 slots per epoch, committees of 128, up to 64 a slot).
    pub const fn mainnet() -> Self {
        BeaconSpec {
            slots_per_epoch: 32,
            seconds_per_slot: 12,
            target_committee_size: 128,
            max_committees_per_slot: 64,
            electra_fork_epoch: 0,
        }
    }

    /// The minimal preset used by small testnets (8 slots, committees of 4, up to 4 a slot).
    pub const fn minimal() -> Self {
        BeaconSpec {
            slots_per_epoch: 8,
            seconds_per_slot: 6,
            target_committee_size: 4,
            max_committees_per_slot: 4,
            electra_fork_epoch: 0,
        }
    }

    pub const fn epoch_of(&self, slot: u64) -> u64 {
        slot / self.slots_per_epoch
    }

    pub const fn first_slot(&self, epoch: u64) -> u64 {
        epoch * self.slots_per_epoch
    }

    pub const fn last_slot(&self, epoch: u64) -> u64 {
        epoch * self.slots_per_epoch + self.slots_per_epoch - 1
    }

    /// Largest inclusion delay that still earns the timely-source flag:
    /// `integer_squareroot(SLOTS_PER_EPOCH)` (5 on mainnet, 2 on minimal).
    pub fn timely_delay(&self) -> u64 {
        integer_sqrt(self.slots_per_epoch)
    }

    /// Last slot whose block may include an attestation made at `slot`
    /// (EIP-7045, Deneb onward: until the end of the next epoch).
    pub const fn inclusion_deadline(&self, slot: u64) -> u64 {
        self.last_slot(self.epoch_of(slot) + 1)
    }

    /// Whether blocks at this epoch carry Electra-format attestations.
    pub const fn is_electra(&self, epoch: u64) -> bool {
        epoch >= self.electra_fork_epoch
    }
}

/// `integer_squareroot` of the consensus spec.
pub fn integer_sqrt(n: u64) -> u64 {
    let mut x = n;
    let mut y = x.div_ceil(2).max(1).min(x.max(1));
    if n < 2 {
        return n;
    }
    while y < x {
        x = y;
        y = (x + n / x) / 2;
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqrt_matches_spec_values() {
        assert_eq!(integer_sqrt(0), 0);
        assert_eq!(integer_sqrt(1), 1);
        assert_eq!(integer_sqrt(8), 2);
        assert_eq!(integer_sqrt(32), 5);
        assert_eq!(integer_sqrt(1_000_000), 1000);
        for n in 0..5000u64 {
            let r = integer_sqrt(n);
            assert!(r * r <= n && (r + 1) * (r + 1) > n, "n={n}");
        }
    }

    #[test]
    fn inclusion_window_runs_to_end_of_next_epoch() {
        let s = BeaconSpec::mainnet();
        assert_eq!(s.inclusion_deadline(0), 63);
        assert_eq!(s.inclusion_deadline(31), 63);
        assert_eq!(s.inclusion_deadline(32), 95);
        assert_eq!(BeaconSpec::minimal().timely_delay(), 2);
    }
}
