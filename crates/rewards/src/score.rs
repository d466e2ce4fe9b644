//! The account-level performance score: 0..=10000, from public data only.
//!
//! ```text
//! effectiveness = floor(sum N * 10000 / sum E)            over all the operator's nodes
//! experience    = floor(min(frames_run, cap) * 10000 / cap)
//! frame         = floor((effectiveness * w + experience * (10000 - w)) / 10000)
//!                 (the previous score when the operator had no duties)
//! smoothed      = floor((previous * s + frame * (10000 - s)) / 10000)
//! score         = clamp(smoothed + timely * bonus - late * m_late - slashed * m_slash - forced * m_forced, 0, 10000)
//! ```
//! Exit and slashing events act after smoothing so a slashing is felt at once and in full.

use crate::economics::{ScoreParams, BPS};
use crate::report::ScoreReport;

/// An operator's score events of one frame (distinct validators each).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScoreEvents {
    pub timely_exits: u64,
    pub late_exits: u64,
    pub slashings: u64,
    pub forced_exits: u64,
}

/// One operator's new score. `duties`/`included` are summed over all its nodes.
pub fn score(
    p: &ScoreParams,
    previous_bps: u32,
    previous_frames_run: u64,
    duties: u64,
    included: u64,
    events: ScoreEvents,
) -> ScoreReport {
    let bps = BPS as u128;
    let previous_bps = previous_bps.min(BPS);
    let frames_run = previous_frames_run.saturating_add(u64::from(duties > 0));
    let effectiveness_bps = (duties > 0).then(|| (included.min(duties) as u128 * bps / duties as u128) as u32);
    let cap = p.experience_cap_frames.max(1);
    let experience_bps = (frames_run.min(cap) as u128 * bps / cap as u128) as u32;
    let frame_bps = match effectiveness_bps {
        Some(e) => {
            let w = p.effectiveness_weight_bps as u128;
            ((e as u128 * w + experience_bps as u128 * (bps - w)) / bps) as u32
        }
        None => previous_bps,
    };
    let s = p.smoothing_bps as u128;
    let smoothed_bps = ((previous_bps as u128 * s + frame_bps as u128 * (bps - s)) / bps) as u32;
    // Counts are u64 and rates at most 10000, so every product fits in i128.
    let delta = events.timely_exits as i128 * p.timely_exit_bonus_bps as i128
        - events.late_exits as i128 * p.late_exit_malus_bps as i128
        - events.slashings as i128 * p.slashing_malus_bps as i128
        - events.forced_exits as i128 * p.forced_exit_malus_bps as i128;
    let score_bps = (smoothed_bps as i128 + delta).clamp(0, BPS as i128) as u32;
    ScoreReport {
        previous_bps,
        effectiveness_bps,
        frames_run,
        experience_bps,
        frame_bps,
        smoothed_bps,
        timely_exits: events.timely_exits,
        late_exits: events.late_exits,
        slashings: events.slashings,
        forced_exits: events.forced_exits,
        score_bps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Economics;
    use proptest::prelude::*;

    #[test]
    fn perfect_veteran_stays_perfect() {
        let p = Economics::mainnet_default().score;
        let s = score(&p, 10_000, 100, 1575, 1575, ScoreEvents::default());
        assert_eq!(s.score_bps, 10_000);
        let s = score(&p, 10_000, 100, 1575, 1575, ScoreEvents { slashings: 1, ..Default::default() });
        assert_eq!(s.score_bps, 8000);
    }

    #[test]
    fn idle_operator_keeps_its_score() {
        let p = Economics::mainnet_default().score;
        let s = score(&p, 6123, 3, 0, 0, ScoreEvents::default());
        assert_eq!((s.score_bps, s.frames_run, s.effectiveness_bps), (6123, 3, None));
    }

    proptest! {
        #[test]
        fn score_in_range(prev in 0u32..=20_000, frames in 0u64..1000, duties in 0u64..10_000, inc in 0u64..20_000,
                          t in 0u64..1000, l in 0u64..1000, sl in 0u64..1000, f in 0u64..1000) {
            let p = Economics::mainnet_default().score;
            let s = score(&p, prev, frames, duties, inc,
                ScoreEvents { timely_exits: t, late_exits: l, slashings: sl, forced_exits: f });
            prop_assert!(s.score_bps <= 10_000);
        }
    }
}
