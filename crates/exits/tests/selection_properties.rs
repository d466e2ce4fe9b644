//! The selection on random skewed registries: deterministic, order-independent, never an
//! ineligible validator, the largest load never rises, and every pick is the one the rule
//! (most loaded group, lowest score, lowest index) names, checked against a from-scratch
//! recount after each pick.

use claystack_exits::{loads, select, Candidate, Group, Load, Status, Targets};
use claystack_rewards::Address;
use proptest::prelude::*;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

const TYPES: [&str; 4] = ["ssv", "obol", "direct", "unlisted-type"];
const LOCATIONS: [&str; 4] = ["eu", "us", "asia", "unlisted-place"];

/// Index 0 most of the time (the skew), any of the four otherwise.
fn skewed(max: u8) -> impl Strategy<Value = u8> {
    prop_oneof![3 => Just(0u8), 2 => 0..max]
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![6 => Just(Status::Active), 1 => Just(Status::Exiting), 1 => Just(Status::Slashed), 1 => Just(Status::Pending)]
}

/// Scores from a few values (ties) or anywhere in range.
fn score() -> impl Strategy<Value = u32> {
    prop_oneof![(0u32..=4).prop_map(|s| s * 2500), 0u32..=10_000]
}

fn candidates() -> impl Strategy<Value = Vec<Candidate>> {
    prop::collection::btree_set(0u64..5_000, 0..70)
        .prop_flat_map(|indices| {
            let n = indices.len();
            (Just(indices), prop::collection::vec((skewed(8), skewed(4), skewed(4), score(), status()), n))
        })
        .prop_map(|(indices, attrs)| {
            indices
                .into_iter()
                .zip(attrs)
                .map(|(validator, (op, ty, loc, score_bps, status))| Candidate {
                    validator,
                    operator: Address([op; 20]),
                    node_type: TYPES[ty as usize].into(),
                    location: LOCATIONS[loc as usize].into(),
                    score_bps,
                    status,
                    balance_gwei: 32_000_000_000,
                })
                .collect()
        })
}

/// Three shares adding up to 10000 from two cut points (some may be 0), or no targets.
fn shares(names: [&'static str; 4]) -> impl Strategy<Value = BTreeMap<String, u32>> {
    prop_oneof![
        1 => Just(BTreeMap::new()),
        4 => (0u32..=10_000, 0u32..=10_000).prop_map(move |(a, b)| {
            let (lo, hi) = (a.min(b), a.max(b));
            [(names[0], lo), (names[1], hi - lo), (names[2], 10_000 - hi)].into_iter().map(|(n, s)| (n.to_string(), s)).collect()
        }),
    ]
}

fn targets() -> impl Strategy<Value = Targets> {
    (shares(TYPES), shares(LOCATIONS), 1u32..=10_000, prop::collection::btree_map(0u8..8, 0u32..=10_000, 0..3))
        .prop_map(|(node_types, locations, operator_cap_bps, named)| Targets {
            node_types,
            locations,
            operators: named.into_iter().map(|(o, s)| (Address([o; 20]), s)).collect(),
            operator_cap_bps,
        })
}

/// The groups a candidate counts in, as docs/exits.md states the rule.
fn groups_of(c: &Candidate, t: &Targets) -> Vec<Group> {
    let mut g = Vec::new();
    if !t.node_types.is_empty() {
        g.push(Group::NodeType(c.node_type.clone()));
    }
    if !t.locations.is_empty() {
        g.push(Group::Location(c.location.clone()));
    }
    g.push(Group::Operator(c.operator));
    g
}

fn max_load<'a>(it: impl Iterator<Item = &'a Load>) -> Option<Load> {
    it.copied().max_by(|a, b| a.compare(b))
}

/// (largest load among groups with an eligible validator left, how many groups have it).
fn eligible_peak(c: &[Candidate], t: &Targets, gone: &BTreeSet<u64>) -> Option<(Load, usize)> {
    let l = loads(c, t, gone).unwrap();
    let with_eligible: BTreeSet<Group> = c
        .iter()
        .filter(|x| x.status == Status::Active && !gone.contains(&x.validator))
        .flat_map(|x| groups_of(x, t))
        .collect();
    let peak = max_load(with_eligible.iter().map(|g| &l[g]))?;
    Some((peak, with_eligible.iter().filter(|g| l[*g].compare(&peak) == Ordering::Equal).count()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_same_inputs_in_any_order_give_the_same_selection(
        (c, shuffled) in candidates().prop_flat_map(|c| (Just(c.clone()), Just(c).prop_shuffle())),
        t in targets(),
        count in 0u64..80,
    ) {
        let a = select(&c, &t, count).unwrap();
        prop_assert_eq!(&a, &select(&c, &t, count).unwrap());
        let b = select(&shuffled, &t, count).unwrap();
        prop_assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
    }

    #[test]
    fn only_active_validators_are_picked_each_once_and_the_shortfall_is_the_rest(
        c in candidates(), t in targets(), count in 0u64..80,
    ) {
        let s = select(&c, &t, count).unwrap();
        let status: BTreeMap<u64, Status> = c.iter().map(|x| (x.validator, x.status)).collect();
        let picked: BTreeSet<u64> = s.picks.iter().map(|p| p.validator).collect();
        prop_assert_eq!(picked.len(), s.picks.len(), "a validator picked twice");
        for p in &s.picks {
            prop_assert_eq!(status[&p.validator], Status::Active, "picked {} in status {:?}", p.validator, status[&p.validator]);
        }
        let active = c.iter().filter(|x| x.status == Status::Active).count() as u64;
        prop_assert_eq!(s.picks.len() as u64, count.min(active));
        prop_assert_eq!(s.shortfall, count - s.picks.len() as u64);
    }

    #[test]
    fn every_pick_lowers_the_peak_load_and_never_raises_the_largest_load(
        c in candidates(), t in targets(), count in 0u64..80,
    ) {
        let s = select(&c, &t, count).unwrap();
        let mut gone = BTreeSet::new();
        for p in &s.picks {
            let all_before = max_load(loads(&c, &t, &gone).unwrap().values());
            let (peak, at_peak) = eligible_peak(&c, &t, &gone).expect("a pick implies an eligible validator");
            gone.insert(p.validator);
            let all_after = max_load(loads(&c, &t, &gone).unwrap().values());
            // The largest load over every group never rises.
            if let (Some(b), Some(a)) = (all_before, all_after) {
                prop_assert_ne!(a.compare(&b), Ordering::Greater, "largest load rose: {:?} -> {:?}", b, a);
            }
            // The peak among groups that can still give a validator falls, or fewer groups hold it.
            if let Some((peak_after, at_peak_after)) = eligible_peak(&c, &t, &gone) {
                let lower = peak_after.compare(&peak) == Ordering::Less;
                let same_fewer = peak_after.compare(&peak) == Ordering::Equal && at_peak_after < at_peak;
                prop_assert!(lower || same_fewer, "peak {:?} x{} -> {:?} x{}", peak, at_peak, peak_after, at_peak_after);
            }
        }
    }

    #[test]
    fn every_pick_is_the_lowest_score_then_index_among_the_most_loaded_groups(
        c in candidates(), t in targets(), count in 0u64..80,
    ) {
        let s = select(&c, &t, count).unwrap();
        let mut gone = BTreeSet::new();
        for p in &s.picks {
            let l = loads(&c, &t, &gone).unwrap();
            let (peak, _) = eligible_peak(&c, &t, &gone).unwrap();
            // From scratch: the eligible validators in a group at the peak, best (score, index) first.
            let expected = c
                .iter()
                .filter(|x| x.status == Status::Active && !gone.contains(&x.validator))
                .filter(|x| groups_of(x, &t).iter().any(|g| l[g].compare(&peak) == Ordering::Equal))
                .map(|x| (x.score_bps, x.validator))
                .min()
                .unwrap();
            prop_assert_eq!((p.score_bps, p.validator), expected);
            prop_assert_eq!(l[&p.group], p.load, "the pick names its group's load before the pick");
            prop_assert_eq!(p.load.compare(&peak), Ordering::Equal);
            gone.insert(p.validator);
        }
    }

    #[test]
    fn load_comparison_is_a_total_order(a in (0u64..50, 0u32..20), b in (0u64..50, 0u32..20), c in (0u64..50, 0u32..20)) {
        let [a, b, c] = [a, b, c].map(|(validators, target_bps)| Load { validators, target_bps });
        prop_assert_eq!(a.compare(&b), b.compare(&a).reverse());
        if a.compare(&b) != Ordering::Greater && b.compare(&c) != Ordering::Greater {
            prop_assert_ne!(a.compare(&c), Ordering::Greater);
        }
        // Against the exact fraction, where both are finite and positive.
        if a.validators > 0 && b.validators > 0 && a.target_bps > 0 && b.target_bps > 0 {
            let lhs = u128::from(a.validators) * u128::from(b.target_bps);
            let rhs = u128::from(b.validators) * u128::from(a.target_bps);
            prop_assert_eq!(a.compare(&b), lhs.cmp(&rhs));
        }
    }
}
