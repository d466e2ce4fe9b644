//! Voluntary slots and compliance over random inputs: slots are served in the stated order
//! whatever the input order; an outcome decided from an exit epoch never changes as the
//! reference epoch advances, and an open exit only moves forward (pending, late, never).

use claystack_exits::{assign_slots, classify, ExitAsked, ExitKind, Outcome, VoluntaryRequest, VoluntaryRules};
use claystack_primitives::{ValidatorInfo, FAR_FUTURE_EPOCH};
use claystack_rewards::Address;
use proptest::prelude::*;

fn requests() -> impl Strategy<Value = Vec<VoluntaryRequest>> {
    prop::collection::btree_map((0u64..40, 0u64..4), (0u64..10_000, any::<bool>()), 0..30).prop_map(|m| {
        let mut seen = std::collections::BTreeSet::new();
        m.into_iter()
            .filter(|(_, (validator, _))| seen.insert(*validator))
            .map(|((block, log_index), (validator, fast_track))| VoluntaryRequest {
                validator,
                operator: Address([validator as u8; 20]),
                block,
                log_index,
                fast_track,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn slots_go_fast_track_first_then_by_position_within_capacity_in_any_input_order(
        (r, shuffled) in requests().prop_flat_map(|r| (Just(r.clone()), Just(r).prop_shuffle())),
        capacity in 0u32..12,
        within in 0u64..300,
        fast in 0u64..300,
        reference in 0u64..1_000_000,
    ) {
        let rules = VoluntaryRules { capacity_per_report: capacity, exit_within_epochs: within.max(fast), fast_track_exit_within_epochs: within.min(fast) };
        let a = assign_slots(&r, rules, reference).unwrap();
        prop_assert_eq!(&a, &assign_slots(&shuffled, rules, reference).unwrap());
        prop_assert_eq!(a.assigned.len(), r.len().min(capacity as usize));
        prop_assert_eq!(a.assigned.len() + a.carried.len(), r.len());
        let order: Vec<(bool, u64, u64)> = a
            .assigned
            .iter()
            .map(|s| s.request)
            .chain(a.carried.iter().copied())
            .map(|q| (!q.fast_track, q.block, q.log_index))
            .collect();
        prop_assert!(order.windows(2).all(|w| w[0] < w[1]), "not in serving order: {:?}", order);
        for s in &a.assigned {
            let within = if s.request.fast_track { rules.fast_track_exit_within_epochs } else { rules.exit_within_epochs };
            prop_assert_eq!(s.exit_by_epoch, reference + within);
        }
    }

    #[test]
    fn an_outcome_only_moves_forward_as_the_reference_epoch_advances(
        deadline in 20u64..200,
        grace in 0u64..8,
        exit_offset in prop::option::of(-8i64..16),
        slashed in prop::bool::weighted(0.2),
        r1_offset in -10i64..18,
        step in 0u64..12,
    ) {
        // Epochs near the deadline and the grace's end, where the boundaries are.
        let exit = exit_offset.map(|o| deadline.checked_add_signed(o).unwrap());
        let r1 = deadline.checked_add_signed(r1_offset).unwrap();
        // The record at each reference epoch: the exit epoch appears once initiated (5 epochs
        // before it, as the beacon chain sets it) and never moves.
        let record = |r: u64| ValidatorInfo {
            index: 1,
            status: String::new(),
            pubkey: String::new(),
            balance_gwei: 0,
            effective_balance_gwei: 0,
            slashed: slashed && exit.is_some_and(|e| r + 5 >= e),
            activation_epoch: 0,
            exit_epoch: exit.filter(|&e| r + 5 >= e).unwrap_or(FAR_FUTURE_EPOCH),
            withdrawable_epoch: FAR_FUTURE_EPOCH,
        };
        let asked = ExitAsked { validator: 1, kind: ExitKind::Requested, exit_by_epoch: deadline };
        let at = |r| classify(asked, Some(&record(r)), r, grace).outcome;
        // What an outcome says, without its running count of late epochs.
        let decided = |o: &Outcome| match *o {
            Outcome::Pending | Outcome::Late { exit_epoch: None, .. } | Outcome::Never { exit_epoch: None, .. } => None,
            Outcome::Timely { exit_epoch } => Some(("timely", Some(exit_epoch))),
            Outcome::Late { exit_epoch, .. } => Some(("late", exit_epoch)),
            Outcome::Never { exit_epoch, .. } => Some(("never", exit_epoch)),
            Outcome::Forced { exit_epoch, .. } => Some(("forced", exit_epoch)),
        };
        let (r2, o1) = (r1 + step, at(r1));
        let o2 = at(r2);
        if let Some(d1) = decided(&o1) {
            prop_assert_eq!(Some(d1), decided(&o2), "a decided outcome changed: {:?} -> {:?}", o1, o2);
        }
        match o1 {
            Outcome::Late { exit_epoch: None, .. } => prop_assert!(
                matches!(o2, Outcome::Late { .. } | Outcome::Never { .. } | Outcome::Forced { .. }),
                "an open late exit went back to {:?}", o2
            ),
            Outcome::Never { exit_epoch: None, .. } => prop_assert!(
                matches!(o2, Outcome::Never { .. } | Outcome::Forced { .. }),
                "never went back to {:?}", o2
            ),
            _ => {}
        }
        // Each outcome's own bounds, and late epochs counted as the engine counts them.
        match o2 {
            Outcome::Pending => prop_assert!(r2 <= deadline),
            Outcome::Timely { exit_epoch } => prop_assert!(exit_epoch <= deadline),
            Outcome::Late { exit_epoch: None, late_epochs } => {
                prop_assert!(late_epochs >= 1 && late_epochs <= grace);
                prop_assert_eq!(late_epochs, r2 - deadline);
            }
            Outcome::Late { exit_epoch: Some(e), late_epochs } => {
                prop_assert!(e > deadline && e - deadline <= grace);
                prop_assert_eq!(late_epochs, e.min(r2).saturating_sub(deadline));
            }
            Outcome::Never { exit_epoch, late_epochs } => {
                prop_assert!(exit_epoch.map_or(r2, |e| e) > deadline + grace);
                prop_assert_eq!(late_epochs, exit_epoch.map_or(r2, |e| e.min(r2)).saturating_sub(deadline));
            }
            Outcome::Forced { slashed: s, .. } => prop_assert!(s && slashed),
        }
    }
}
