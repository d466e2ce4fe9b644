//! `claystack_exits::frame_facts` gives the facts `claystack_report::beacon_facts` gives today,
//! on random records, exits asked for and frames: so `beacon_facts` can call it (one
//! definition of an exit's outcome) without changing a report.

use claystack_exits::{frame_facts, ExitAsked, ExitKind};
use claystack_primitives::{ValidatorInfo, FAR_FUTURE_EPOCH};
use claystack_report::{beacon_facts, ExitRequest};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Raw {
    slashed: bool,
    exit: Option<u64>,
    withdrawable_delay: u64,
    ask: Option<(bool, u64)>,
}

fn raw() -> impl Strategy<Value = Raw> {
    (prop::bool::weighted(0.2), prop::option::of(0u64..80), 0u64..40, prop::option::of((any::<bool>(), 0u64..80)))
        .prop_map(|(slashed, exit, withdrawable_delay, ask)| Raw {
            slashed: slashed && exit.is_some(),
            exit,
            withdrawable_delay,
            ask,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn frame_facts_are_beacon_facts(validators in prop::collection::vec(raw(), 0..12), first in 0u64..60, len in 1u64..20) {
        let frame = (first, first + len - 1);
        let mut records = Vec::new();
        let (mut asked, mut requests) = (Vec::new(), Vec::new());
        for (i, v) in validators.iter().enumerate() {
            let index = i as u64;
            records.push(ValidatorInfo {
                index,
                status: String::new(),
                pubkey: String::new(),
                balance_gwei: 0,
                effective_balance_gwei: 0,
                slashed: v.slashed,
                activation_epoch: 0,
                exit_epoch: v.exit.unwrap_or(FAR_FUTURE_EPOCH),
                withdrawable_epoch: v.exit.map_or(FAR_FUTURE_EPOCH, |e| e + v.withdrawable_delay),
            });
            if let Some((voluntary, epoch)) = v.ask {
                let kind = if voluntary { ExitKind::Voluntary } else { ExitKind::Requested };
                asked.push(ExitAsked { validator: index, kind, exit_by_epoch: epoch });
                requests.push(if voluntary {
                    ExitRequest::Voluntary { validator: index, exit_epoch: epoch }
                } else {
                    ExitRequest::Requested { validator: index, deadline_epoch: epoch }
                });
            }
        }
        prop_assert_eq!(frame_facts(frame, &asked, &records), beacon_facts(frame, &records, &requests));
    }
}
