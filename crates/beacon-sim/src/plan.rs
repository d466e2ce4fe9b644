//! One epoch of the simulated beacon chain, planned: its active set in shuffled order
//! ([`Shape`]) and what deviates from "attests, included with delay 1" ([`EpochPlan`]).
//!
//! Plain data and arithmetic: the model builds plans, the inclusion planner and the API
//! read them, and nothing here refers back to either.

use crate::derive::{self, tag};
use claystack_primitives::beacon_committee::BeaconCommitteeLayout;
use claystack_primitives::BeaconSpec;

/// Attestation status of one duty: `MISSED`, a delay `1..`, or `NEVER` (attested,
/// but with a delay no block can honour).
pub(crate) type Status = u16;
pub(crate) const MISSED: Status = 0;
pub(crate) const NEVER: Status = u16::MAX;

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
    pub inactive: Vec<u64>,
    /// `inactive[j] - j`: maps an active index to a validator by one binary search.
    shifted: Vec<u64>,
}

impl Shape {
    /// The permutation of `epoch` over `validators` minus `inactive` (ascending): `a` and
    /// `b` drawn from the seed, `a` moved up to the next value coprime to `n`.
    pub fn new(seed: u64, spec: &BeaconSpec, epoch: u64, validators: u64, inactive: Vec<u64>) -> Shape {
        let n = validators - inactive.len() as u64;
        let shifted = inactive.iter().enumerate().map(|(j, &x)| x - j as u64).collect();
        if n == 0 {
            return Shape { n, layout: None, a: 0, b: 0, a_inv: 0, inactive, shifted };
        }
        let mut a = derive::h(seed, tag::PERMUTATION, epoch, 0) % n;
        while gcd(a, n) != 1 {
            a = (a + 1) % n;
        }
        let b = derive::h(seed, tag::PERMUTATION, epoch, 1) % n;
        let a_inv = mod_inverse(a, n);
        Shape { n, layout: Some(BeaconCommitteeLayout::new(spec, n)), a, b, a_inv, inactive, shifted }
    }

    /// Validator at shuffled position `p` (< n).
    pub fn validator_at(&self, p: u64) -> u64 {
        let i = (self.a * p + self.b) % self.n;
        i + self.shifted.partition_point(|&y| y <= i) as u64
    }

    /// Shuffled position of validator `v`, which must be active.
    pub fn position_of(&self, v: u64) -> u64 {
        self.position_of_rank(v - self.inactive.partition_point(|&x| x < v) as u64)
    }

    /// Shuffled position of the active validator with active index `rank`.
    pub fn position_of_rank(&self, rank: u64) -> u64 {
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
