//! The running frame: the frame after the latest closed report, as if it closed now.
//!
//! # Design decisions
//!
//! The projection is `claystack_report::build`, the function that closes a report, over the
//! tallies accounted so far, so its rates, bands, penalties and rewards follow the report's
//! rules exactly. Only the inputs a frame gets at its close are stood in for:
//! - the registry is the latest report's ([`registry_of`]): the registry at the next
//!   reference block is not read before then;
//! - `T` is the latest frame's consensus rewards and execution fees, each scaled by the
//!   share of the frame accounted so far (`x * accounted / frame_epochs`, integer division
//!   truncating toward zero), since the frame's own money is measured only at its end;
//! - the SSV prices are the latest frame's; no facts (slashings and exits are charged when
//!   the frame closes) and no explicit adjustments;
//! - the carry is the latest report's, as at the close.

use crate::closed::{registry_of, Closed};
use claystack_accounting::Tally;
use claystack_primitives::Epoch;
use claystack_report::{build, frame_of, ExternalInputs, ReportError};
use claystack_rewards::{Economics, RewardsReport, RewardsSource};
use serde::Serialize;
use thiserror::Error;

/// Why the running frame cannot be projected.
#[derive(Debug, Error)]
pub enum RunningError {
    /// The engine refused the projected inputs.
    #[error("running frame of report {number}: {error}")]
    Build { number: u64, error: ReportError },
    /// Scaling the latest frame's money overflowed (not a real chain's amounts).
    #[error("running frame of report {number}: the latest frame's rewards are too large to scale")]
    Overflow { number: u64 },
}

/// Where the running frame is: its report number, its epochs, and the epochs of it that
/// accounting has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RunningSpan {
    pub number: u64,
    pub frame: (Epoch, Epoch),
    /// First and last accounted epoch of the frame; `None` before accounting reaches it.
    pub accounted: Option<(Epoch, Epoch)>,
}

impl RunningSpan {
    /// Report `latest + 1`'s frame, and how much of it accounting (next epoch `next_epoch`)
    /// has passed.
    pub fn of(economics: &Economics, first_epoch: Epoch, latest: u64, next_epoch: Epoch) -> RunningSpan {
        let number = latest + 1;
        let frame = frame_of(economics, first_epoch, number).expect("number is at least 1");
        let accounted = (next_epoch > frame.0).then(|| (frame.0, frame.1.min(next_epoch - 1)));
        RunningSpan { number, frame, accounted }
    }

    /// Epochs of the frame accounted so far.
    pub fn accounted_epochs(&self) -> u64 {
        self.accounted.map_or(0, |(a, b)| b - a + 1)
    }
}

/// The running frame as the API serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunningFrame {
    #[serde(flatten)]
    pub span: RunningSpan,
    pub accounted_epochs: u64,
    /// The `T` components the projection used (see the module docs).
    #[serde(with = "claystack_rewards::wei::signed")]
    pub projected_consensus_rewards_wei: i128,
    #[serde(with = "claystack_rewards::wei::unsigned")]
    pub projected_execution_fees_wei: u128,
    /// The report as if the frame closed now: per operator and node the rate, the penalties
    /// (performance bands), the reward, the score and the bond requirement.
    pub projection: RewardsReport,
}

/// Projects the running frame `span` from the latest closed report and the tallies summed
/// over `span.accounted` (empty when nothing of it is accounted).
pub fn running_frame(
    economics: &Economics,
    span: RunningSpan,
    latest: &Closed,
    tallies: Vec<Tally>,
) -> Result<RunningFrame, RunningError> {
    let number = span.number;
    let accounted = span.accounted_epochs();
    let scale = |x: i128| {
        x.checked_mul(i128::from(accounted))
            .map(|y| y / i128::from(economics.frame_epochs))
            .ok_or(RunningError::Overflow { number })
    };
    let consensus = scale(latest.log.t.consensus_rewards_wei)?;
    let fees = scale(i128::try_from(latest.log.t.execution_fees_wei).map_err(|_| RunningError::Overflow { number })?)?;
    let fees = u128::try_from(fees).expect("scaled from a non-negative amount");
    let inputs = ExternalInputs {
        registry: registry_of(latest),
        facts: Default::default(),
        source: RewardsSource { validator_rewards_wei: consensus, execution_fees_wei: fees },
        ssv_price: latest.log.ssv_price,
        adjustments: Vec::new(),
        previous: Some(latest.report.carry()),
        consensus: None,
        chain: None,
        slashed: Vec::new(),
        bonds: Vec::new(),
        exits: Vec::new(),
    };
    let built =
        build(economics, inputs, number, span.frame, tallies).map_err(|error| RunningError::Build { number, error })?;
    Ok(RunningFrame {
        span,
        accounted_epochs: accounted,
        projected_consensus_rewards_wei: consensus,
        projected_execution_fees_wei: fees,
        projection: built.report,
    })
}
