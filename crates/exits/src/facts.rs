//! The rewards engine's exit facts of one frame, from the compliance of each exit.
//!
//! Built on [`classify`](crate::classify), so one definition says what an exit's outcome is;
//! the I/O layer (`claystack-frame-close`) calls it for every rewards report. With the
//! frame's last epoch as the reference epoch:
//!
//! - **forced** (slashed, or an exit nobody asked for) is listed in the frame of its exit epoch;
//! - a **voluntary** exit made (not slashed) is listed in the frame of its exit epoch;
//! - a **requested** exit (not slashed) is listed while it is charged: in the frame of its exit
//!   epoch, and in every frame whose last epoch is past its deadline until the frame in which it
//!   exits (timely, late and never alike: the engine counts the late epochs and caps them);
//! - a **slashing** in the frame of its withdrawable epoch (its outcome is final then), once.
//!
//! With a grace (genesis `exits.rules.grace_epochs`) each requested exit carries its grace
//! end `deadline + grace`: the engine charges late epochs up to it and, in the frame holding
//! the epoch after it, the rest of the cap to the bond when the exit is *never* (no exit
//! epoch by then, or one after the grace end). Without a grace nothing is *never*.

use crate::compliance::{classify_all, ExitAsked, Outcome};
use crate::report::ExitKind;
use claystack_primitives::{Epoch, ValidatorInfo};
use claystack_rewards::{ExitEvent, Facts, RequestedExit, Slashing};
use std::collections::BTreeSet;

/// The facts of `frame` (first and last epoch) from the exits asked for and the protocol
/// validators' records at the frame's last state, with `grace_epochs` of genesis (`None`: no
/// exits section, no grace). Lists are sorted by validator.
pub fn frame_facts(
    frame: (Epoch, Epoch),
    asked: &[ExitAsked],
    records: &[ValidatorInfo],
    grace_epochs: Option<u64>,
) -> Facts {
    let in_frame = |e: Epoch| (frame.0..=frame.1).contains(&e);
    let mut facts = Facts::default();
    let mut seen = BTreeSet::new();
    for r in records.iter().filter(|r| seen.insert(r.index)) {
        if r.slashed && in_frame(r.withdrawable_epoch) {
            facts.slashings.push(Slashing { validator: r.index, epoch: r.withdrawable_epoch });
        }
    }
    // What is listed does not depend on the grace (late and never are both listed until the
    // exit is made); the grace end goes with each requested exit for the engine.
    for c in classify_all(asked, records, frame.1, 0) {
        let exit_epoch = match c.outcome {
            Outcome::Pending => None,
            Outcome::Timely { exit_epoch } => Some(exit_epoch),
            Outcome::Late { exit_epoch, .. } | Outcome::Never { exit_epoch, .. } => exit_epoch,
            Outcome::Forced { exit_epoch, .. } => {
                if let Some(e) = exit_epoch.filter(|&e| in_frame(e)) {
                    facts.forced_exits.push(ExitEvent { validator: c.validator, epoch: e });
                }
                continue;
            }
        };
        let Some(asked) = c.asked else { continue };
        match asked.kind {
            ExitKind::Voluntary => {
                if let Some(e) = exit_epoch.filter(|&e| in_frame(e)) {
                    facts.voluntary_exits.push(ExitEvent { validator: c.validator, epoch: e });
                }
            }
            ExitKind::Requested => {
                let done_before = exit_epoch.is_some_and(|e| e < frame.0);
                let exited_here = exit_epoch.is_some_and(in_frame);
                let late_here = asked.exit_by_epoch < frame.1;
                if !done_before && (exited_here || late_here) {
                    facts.requested_exits.push(RequestedExit {
                        validator: c.validator,
                        deadline_epoch: asked.exit_by_epoch,
                        exit_epoch,
                        grace_end_epoch: grace_epochs.map(|g| asked.exit_by_epoch.saturating_add(g)),
                    });
                }
            }
        }
    }
    facts.slashings.sort();
    facts.forced_exits.sort();
    facts.voluntary_exits.sort();
    facts.requested_exits.sort();
    facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use claystack_primitives::FAR_FUTURE_EPOCH;

    const FAR: u64 = FAR_FUTURE_EPOCH;

    fn record(index: u64, slashed: bool, exit_epoch: u64, withdrawable_epoch: u64) -> ValidatorInfo {
        ValidatorInfo {
            index,
            status: String::new(),
            pubkey: String::new(),
            balance_gwei: 0,
            effective_balance_gwei: 0,
            slashed,
            activation_epoch: 0,
            exit_epoch,
            withdrawable_epoch,
        }
    }

    fn requested(validator: u64, exit_by_epoch: u64) -> ExitAsked {
        ExitAsked { validator, kind: ExitKind::Requested, exit_by_epoch }
    }

    #[test]
    fn a_slashing_is_charged_in_the_frame_of_its_withdrawable_epoch_only_and_its_exit_is_forced() {
        let slashed = record(7, true, 25, 90);
        let frames = [(0, 19), (20, 39), (40, 59), (60, 79), (80, 99), (100, 119)];
        let charged: Vec<(Epoch, Epoch)> = frames
            .iter()
            .copied()
            .filter(|&f| !frame_facts(f, &[], std::slice::from_ref(&slashed), None).slashings.is_empty())
            .collect();
        assert_eq!(charged, vec![(80, 99)]);
        assert_eq!(
            frame_facts((80, 99), &[], std::slice::from_ref(&slashed), None).slashings,
            vec![Slashing { validator: 7, epoch: 90 }]
        );
        // Forced in the frame of its exit epoch, even though its operator had asked to exit.
        let asked = [ExitAsked { validator: 7, kind: ExitKind::Voluntary, exit_by_epoch: 30 }];
        let f = frame_facts((20, 39), &asked, &[slashed], None);
        assert_eq!(f.forced_exits, vec![ExitEvent { validator: 7, epoch: 25 }]);
        assert!(f.voluntary_exits.is_empty());
    }

    #[test]
    fn exits_are_forced_voluntary_or_requested_by_what_was_asked() {
        let records = [
            record(1, false, 30, 286),
            record(2, false, 31, 287),
            record(3, false, 32, 288),
            record(4, false, FAR, FAR),
        ];
        let asked = [
            ExitAsked { validator: 2, kind: ExitKind::Voluntary, exit_by_epoch: 31 },
            requested(3, 28),
            requested(4, 35),
        ];
        let f = frame_facts((20, 39), &asked, &records, None);
        assert_eq!(f.forced_exits, vec![ExitEvent { validator: 1, epoch: 30 }]);
        assert_eq!(f.voluntary_exits, vec![ExitEvent { validator: 2, epoch: 31 }]);
        let req = |validator, deadline_epoch, exit_epoch, grace_end_epoch| RequestedExit {
            validator,
            deadline_epoch,
            exit_epoch,
            grace_end_epoch,
        };
        assert_eq!(f.requested_exits, vec![req(3, 28, Some(32), None), req(4, 35, None, None)]);
        assert!(f.slashings.is_empty());
        // The next frame: 3 exited before it (nothing more to charge), 4 is still late.
        let next = frame_facts((40, 59), &asked, &records, None);
        assert_eq!(next.requested_exits, vec![req(4, 35, None, None)]);
        assert!(next.forced_exits.is_empty() && next.voluntary_exits.is_empty());
        // A request whose deadline is still ahead and not done yet is not listed.
        assert!(frame_facts((0, 19), &asked, &records, None).requested_exits.is_empty());
        // With a grace, each requested exit carries its grace end; nothing else changes.
        let graced = frame_facts((20, 39), &asked, &records, Some(10));
        assert_eq!(graced.requested_exits, vec![req(3, 28, Some(32), Some(38)), req(4, 35, None, Some(45))]);
        assert_eq!((graced.forced_exits, graced.voluntary_exits), (f.forced_exits, f.voluntary_exits));
    }
}
