use claystack_accounting::{EpochFlows, EpochTally, PubkeyGwei, Tally, ValidatorGwei};
use claystack_primitives::ExecutionLink;
use claystack_store::{AccountingCursor, Store};

fn t(validator: u64, duties: u32, included: u32) -> Tally {
    Tally { validator, duties, included, timely: included }
}

#[test]
fn epochs_persist_across_reopen_and_sum() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.accounting_cursor().unwrap(), None);
        for e in 0..5u64 {
            let tally = EpochTally { epoch: e, tallies: vec![t(1, 1, (e % 2) as u32), t(9, 1, 1)] };
            let cursor = AccountingCursor {
                next_epoch: e + 1,
                tracked_hash: [3; 32],
                anchor: Some((
                    e * 8 + 7,
                    ExecutionLink { block_number: e, block_hash: [e as u8; 32], parent_hash: [0; 32] },
                )),
            };
            store.commit_epoch(&tally, &cursor).unwrap();
        }
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.accounting_cursor().unwrap().unwrap().next_epoch, 5);
    assert_eq!(store.epoch_tally(3).unwrap().unwrap().tallies, vec![t(1, 1, 1), t(9, 1, 1)]);
    assert_eq!(store.epoch_tally(7).unwrap(), None);
    assert_eq!(store.epoch_tallies(1, 3).unwrap().len(), 3);
    assert_eq!(store.sum_tallies(0, 4).unwrap(), vec![t(1, 5, 2), t(9, 5, 5)]);
}

#[test]
fn a_second_opener_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path()).unwrap();
    let err = Store::open(dir.path()).err().expect("the lock must refuse a second opener").to_string();
    assert!(err.contains("in use by another process") && err.contains("claystack-oracle"), "{err}");
}

#[test]
fn tracked_sets_are_recorded_when_they_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(store.tracked_sets(0, 10).unwrap().is_empty());
    // Epochs 0-3 with set A, 4-5 with set B, 6-7 with A again.
    let (a, b) = (vec![1, 2, 3], vec![1, 2, 3, 9]);
    for e in 0..8u64 {
        let (set, hash) = match e {
            0..=3 | 6..=7 => (&a, [1; 32]),
            _ => (&b, [2; 32]),
        };
        let cursor = AccountingCursor { next_epoch: e + 1, tracked_hash: hash, anchor: None };
        let flows = EpochFlows {
            epoch: e,
            withdrawals: vec![ValidatorGwei { validator: 1, gwei: e }],
            deposits: vec![PubkeyGwei { pubkey: [e as u8; 48], gwei: 32 }],
        };
        store.commit_epoch_tracked(&EpochTally { epoch: e, tallies: vec![t(1, 1, 1)] }, &flows, &cursor, set).unwrap();
    }
    assert_eq!(store.tracked_sets(0, 3).unwrap(), vec![(0, a.clone())]);
    assert_eq!(store.tracked_sets(2, 4).unwrap(), vec![(0, a.clone()), (4, b.clone())]);
    assert_eq!(store.tracked_sets(4, 5).unwrap(), vec![(4, b.clone())]);
    assert_eq!(store.tracked_sets(5, 9).unwrap(), vec![(4, b.clone()), (6, a.clone())]);
    assert_eq!(store.tracked_sets(7, 7).unwrap(), vec![(6, a.clone())]);
    assert_eq!(store.epoch_tallies(0, 7).unwrap().len(), 8);
    let flows = store.epoch_flows(2, 4).unwrap();
    assert_eq!(flows.iter().map(|f| f.epoch).collect::<Vec<_>>(), vec![2, 3, 4]);
    assert_eq!(flows[1].withdrawals, vec![ValidatorGwei { validator: 1, gwei: 3 }]);
    assert_eq!(flows[2].deposits, vec![PubkeyGwei { pubkey: [4; 48], gwei: 32 }]);
}

/// `sum_tallies` streams epoch by epoch; whatever the epochs hold (validators missing, out of
/// order or repeated within an epoch), the sums are those of a per-validator map over the
/// epochs in range, the way it was computed before.
mod sums {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn equal_a_per_validator_map(
            epochs in proptest::collection::vec(proptest::collection::vec((0u64..12, 0u32..3, 0u32..3), 0..10), 1..6),
            from in 0u64..3,
            span in 0u64..6,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path()).unwrap();
            for (e, tallies) in epochs.iter().enumerate() {
                let tallies: Vec<Tally> = tallies.iter().map(|&(v, d, i)| t(v, d, i.min(d))).collect();
                let cursor = AccountingCursor { next_epoch: e as u64 + 1, tracked_hash: [0; 32], anchor: None };
                store.commit_epoch(&EpochTally { epoch: e as u64, tallies }, &cursor).unwrap();
            }
            let to = from + span;
            let mut expected: BTreeMap<u64, Tally> = BTreeMap::new();
            for (e, tallies) in epochs.iter().enumerate() {
                if (from..=to).contains(&(e as u64)) {
                    for &(v, d, i) in tallies {
                        let tally = t(v, d, i.min(d));
                        expected.entry(v).and_modify(|s| s.add(&tally)).or_insert(tally);
                    }
                }
            }
            prop_assert_eq!(store.sum_tallies(from, to).unwrap(), expected.into_values().collect::<Vec<_>>());
        }
    }
}

#[test]
fn the_first_tally_epoch_is_one_key_away() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.first_tally_epoch().unwrap(), None);
    let flows = EpochFlows { epoch: 3, withdrawals: vec![], deposits: vec![] };
    for e in [3u64, 4, 9] {
        let cursor = AccountingCursor { next_epoch: e + 1, tracked_hash: [1; 32], anchor: None };
        store
            .commit_epoch_tracked(
                &EpochTally { epoch: e, tallies: vec![t(1, 1, 1)] },
                &EpochFlows { epoch: e, ..flows.clone() },
                &cursor,
                &[1],
            )
            .unwrap();
    }
    assert_eq!(store.first_tally_epoch().unwrap(), Some(3));
}
