//! Did each exit asked for happen, and in time? Classified from beacon data alone.
//!
//! For an exit asked for with exit-by epoch `d`, from the validator's record at the reference
//! state (epoch `r`), with `grace` epochs of genesis:
//!
//! | outcome | when |
//! |---|---|
//! | **forced** | the validator is slashed (the beacon chain exits it, whatever was asked) |
//! | **timely** | its exit epoch `e <= d` |
//! | **late** | `d < e <= d + grace`, or no exit epoch yet and `d < r <= d + grace` |
//! | **never** | `e > d + grace`, or no exit epoch and `r > d + grace` |
//! | **pending** | no exit epoch and `r <= d`: not due yet |
//!
//! An exit epoch, once the beacon chain assigns it, never moves, so an outcome decided from
//! it is final; only *pending* and an open *late* change as `r` advances. A validator the
//! state does not hold yet counts as not exited. An exit nobody asked for (an exit epoch on a
//! protocol validator without a request) is **forced** too.
//!
//! `late_epochs` counts like the rewards engine's late-exit charge: the epochs in
//! `d < x <= min(e, r)`, so a charge computed from it up to `r` is the engine's.

use crate::report::ExitKind;
use claystack_primitives::{Epoch, ValidatorIndex, ValidatorInfo, FAR_FUTURE_EPOCH};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// An exit the protocol published (a leaf of an accepted exits report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitAsked {
    pub validator: ValidatorIndex,
    pub kind: ExitKind,
    pub exit_by_epoch: Epoch,
}

/// What happened to one exit, as of the reference epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    Pending,
    Timely {
        exit_epoch: Epoch,
    },
    /// `exit_epoch` is `None` while the validator has not exited (it is still late).
    Late {
        exit_epoch: Option<Epoch>,
        late_epochs: u64,
    },
    Never {
        exit_epoch: Option<Epoch>,
        late_epochs: u64,
    },
    Forced {
        exit_epoch: Option<Epoch>,
        slashed: bool,
    },
}

/// One validator's exit and its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compliance {
    pub validator: ValidatorIndex,
    /// The exit asked for; `None` for an exit nobody asked for.
    pub asked: Option<ExitAsked>,
    pub outcome: Outcome,
    /// The reference epoch is at or past its exit epoch: the exit is confirmed on the beacon
    /// chain, and the operator may stop its nodes.
    pub exited: bool,
    /// The reference epoch is at or past its withdrawable epoch: its balance is on its way to
    /// the withdrawal queue (no longer an exit under way).
    pub withdrawable: bool,
}

fn epoch_of(e: Epoch) -> Option<Epoch> {
    (e != FAR_FUTURE_EPOCH).then_some(e)
}

/// The outcome of `asked` from the validator's `record` at `reference_epoch` (see the module
/// comment); `record` is `None` when the state does not hold the validator.
pub fn classify(
    asked: ExitAsked,
    record: Option<&ValidatorInfo>,
    reference_epoch: Epoch,
    grace_epochs: u64,
) -> Compliance {
    let d = asked.exit_by_epoch;
    let r = reference_epoch;
    let grace_end = d.saturating_add(grace_epochs);
    let exit = record.and_then(|v| epoch_of(v.exit_epoch));
    let late_upto = |upto: Epoch| exit.map_or(upto, |e| e.min(upto)).saturating_sub(d);
    let outcome = match exit {
        _ if record.is_some_and(|v| v.slashed) => Outcome::Forced { exit_epoch: exit, slashed: true },
        Some(e) if e <= d => Outcome::Timely { exit_epoch: e },
        Some(e) if e <= grace_end => Outcome::Late { exit_epoch: exit, late_epochs: late_upto(r) },
        Some(_) => Outcome::Never { exit_epoch: exit, late_epochs: late_upto(r) },
        None if r <= d => Outcome::Pending,
        None if r <= grace_end => Outcome::Late { exit_epoch: None, late_epochs: late_upto(r) },
        None => Outcome::Never { exit_epoch: None, late_epochs: late_upto(r) },
    };
    Compliance {
        validator: asked.validator,
        asked: Some(asked),
        outcome,
        exited: exit.is_some_and(|e| r >= e),
        withdrawable: record.is_some_and(|v| epoch_of(v.withdrawable_epoch).is_some_and(|w| r >= w)),
    }
}

/// Every exit asked for, classified, and every protocol validator that exited (or was
/// slashed) without being asked, as forced; sorted by validator. `records` are the protocol
/// validators' records at the reference state (a validator listed twice counts once, the
/// first record); an exit asked for twice keeps the earliest exit-by epoch.
pub fn classify_all(
    asked: &[ExitAsked],
    records: &[ValidatorInfo],
    reference_epoch: Epoch,
    grace_epochs: u64,
) -> Vec<Compliance> {
    let mut by_index: BTreeMap<ValidatorIndex, &ValidatorInfo> = BTreeMap::new();
    for r in records {
        by_index.entry(r.index).or_insert(r);
    }
    let mut first_ask: BTreeMap<ValidatorIndex, ExitAsked> = BTreeMap::new();
    for a in asked {
        let earlier = |x: &ExitAsked| (a.exit_by_epoch, a.kind) < (x.exit_by_epoch, x.kind);
        first_ask
            .entry(a.validator)
            .and_modify(|x| {
                if earlier(x) {
                    *x = *a
                }
            })
            .or_insert(*a);
    }
    let asked_set: BTreeSet<ValidatorIndex> = first_ask.keys().copied().collect();
    let mut out: Vec<Compliance> = first_ask
        .values()
        .map(|a| classify(*a, by_index.get(&a.validator).copied(), reference_epoch, grace_epochs))
        .collect();
    for (&v, r) in &by_index {
        let exit = epoch_of(r.exit_epoch);
        if asked_set.contains(&v) || !(r.slashed || exit.is_some()) {
            continue;
        }
        out.push(Compliance {
            validator: v,
            asked: None,
            outcome: Outcome::Forced { exit_epoch: exit, slashed: r.slashed },
            exited: exit.is_some_and(|e| reference_epoch >= e),
            withdrawable: epoch_of(r.withdrawable_epoch).is_some_and(|w| reference_epoch >= w),
        });
    }
    out.sort_by_key(|c| c.validator);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAR: u64 = FAR_FUTURE_EPOCH;
    const GRACE: u64 = 10;

    fn record(index: u64, slashed: bool, exit_epoch: u64, withdrawable_epoch: u64) -> ValidatorInfo {
        ValidatorInfo {
            index,
            status: String::new(),
            pubkey: String::new(),
            balance_gwei: 32_000_000_000,
            effective_balance_gwei: 32_000_000_000,
            slashed,
            activation_epoch: 0,
            exit_epoch,
            withdrawable_epoch,
        }
    }

    fn asked(validator: u64, exit_by_epoch: u64) -> ExitAsked {
        ExitAsked { validator, kind: ExitKind::Requested, exit_by_epoch }
    }

    fn outcome(exit_epoch: u64, slashed: bool, reference: u64) -> Outcome {
        classify(asked(1, 100), Some(&record(1, slashed, exit_epoch, exit_epoch.saturating_add(256))), reference, GRACE)
            .outcome
    }

    #[test]
    fn an_exit_epoch_by_the_deadline_is_timely_whenever_it_is_seen() {
        assert_eq!(outcome(100, false, 50), Outcome::Timely { exit_epoch: 100 });
        assert_eq!(outcome(60, false, 400), Outcome::Timely { exit_epoch: 60 });
    }

    #[test]
    fn an_exit_after_the_deadline_is_late_up_to_the_grace_and_never_after_it() {
        assert_eq!(outcome(104, false, 120), Outcome::Late { exit_epoch: Some(104), late_epochs: 4 });
        // The exit epoch is ahead of the reference: late epochs so far, as the engine counts them.
        assert_eq!(outcome(110, false, 105), Outcome::Late { exit_epoch: Some(110), late_epochs: 5 });
        assert_eq!(outcome(111, false, 200), Outcome::Never { exit_epoch: Some(111), late_epochs: 11 });
    }

    #[test]
    fn no_exit_is_pending_until_the_deadline_then_late_then_never() {
        assert_eq!(outcome(FAR, false, 99), Outcome::Pending);
        assert_eq!(outcome(FAR, false, 100), Outcome::Pending);
        assert_eq!(outcome(FAR, false, 101), Outcome::Late { exit_epoch: None, late_epochs: 1 });
        assert_eq!(outcome(FAR, false, 110), Outcome::Late { exit_epoch: None, late_epochs: 10 });
        assert_eq!(outcome(FAR, false, 111), Outcome::Never { exit_epoch: None, late_epochs: 11 });
        // Not on the beacon chain at all: the same as not exited.
        assert_eq!(
            classify(asked(1, 100), None, 111, GRACE).outcome,
            Outcome::Never { exit_epoch: None, late_epochs: 11 }
        );
    }

    #[test]
    fn a_slashed_validator_is_forced_whatever_was_asked_and_an_exit_nobody_asked_for_is_forced() {
        assert_eq!(outcome(105, true, 120), Outcome::Forced { exit_epoch: Some(105), slashed: true });
        let records = [
            record(1, false, 90, 346),
            record(2, false, 95, 351),
            record(3, false, FAR, FAR),
            record(4, true, 120, 8312),
        ];
        let all = classify_all(&[asked(1, 100)], &records, 200, GRACE);
        let got: Vec<(u64, Outcome, bool, bool)> =
            all.iter().map(|c| (c.validator, c.outcome, c.exited, c.withdrawable)).collect();
        assert_eq!(
            got,
            vec![
                (1, Outcome::Timely { exit_epoch: 90 }, true, false),
                (2, Outcome::Forced { exit_epoch: Some(95), slashed: false }, true, false),
                (4, Outcome::Forced { exit_epoch: Some(120), slashed: true }, true, false),
            ]
        );
        assert_eq!(all[1].asked, None);
    }

    #[test]
    fn exited_and_withdrawable_follow_the_reference_epoch() {
        let r = record(1, false, 100, 356);
        let at = |e| {
            let c = classify(asked(1, 100), Some(&r), e, GRACE);
            (c.exited, c.withdrawable)
        };
        assert_eq!([at(99), at(100), at(355), at(356)], [(false, false), (true, false), (true, false), (true, true)]);
    }

    #[test]
    fn an_exit_asked_twice_keeps_the_earliest_deadline_and_records_may_repeat() {
        let records = [record(1, false, 105, 361), record(1, false, 105, 361)];
        let all = classify_all(&[asked(1, 110), asked(1, 100)], &records, 200, GRACE);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].outcome, Outcome::Late { exit_epoch: Some(105), late_epochs: 5 });
    }
}
