//! The rewards engine's exit facts of one frame, from the compliance of each exit.
//!
//! The rules are those of `claystack_report::beacon_facts` today (the property test
//! `tests/facts_match_beacon_facts.rs` checks they give the same facts), built on
//! [`classify`] so one definition says what an exit's outcome is. With the frame's last epoch
//! as the reference epoch:
//!
//! - **forced** (slashed, or an exit nobody asked for) is listed in the frame of its exit epoch;
//! - a **voluntary** exit made (not slashed) is listed in the frame of its exit epoch;
//! - a **requested** exit (not slashed) is listed while it is charged: in the frame of its exit
//!   epoch, and in every frame whose last epoch is past its deadline until the frame in which it
//!   exits (timely, late and never alike: the engine counts the late epochs and caps them);
//! - a **slashing** in the frame of its withdrawable epoch (its outcome is final then), once.

use crate::compliance::{classify_all, ExitAsked, Outcome};
use crate::report::ExitKind;
use claystack_primitives::{Epoch, ValidatorInfo};
use claystack_rewards::{ExitEvent, Facts, RequestedExit, Slashing};
use std::collections::BTreeSet;

/// The facts of `frame` (first and last epoch) from the exits asked for and the protocol
/// validators' records at the frame's last state. Lists are sorted by validator.
pub fn frame_facts(frame: (Epoch, Epoch), asked: &[ExitAsked], records: &[ValidatorInfo]) -> Facts {
    let in_frame = |e: Epoch| (frame.0..=frame.1).contains(&e);
    let mut facts = Facts::default();
    let mut seen = BTreeSet::new();
    for r in records.iter().filter(|r| seen.insert(r.index)) {
        if r.slashed && in_frame(r.withdrawable_epoch) {
            facts.slashings.push(Slashing { validator: r.index, epoch: r.withdrawable_epoch });
        }
    }
    // The grace does not change what is listed (late and never are both charged per epoch).
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
