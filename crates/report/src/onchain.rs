//! The report inputs read from the protocol's own contracts, and the rules that turn those
//! readings into the engine's numbers:
//!
//! - the **execution-layer fees**: what the RewardsVault received between the previous frame's
//!   reference block and this frame's, i.e. `received(end) - received(start)` where
//!   `received(b)` is the vault's balance plus everything it ever paid out, at block `b`;
//! - the **observed SSV price**: the Chainlink feed's latest round at the reference block,
//!   usable only if it is complete, positive and at most `max_age_secs` older than the
//!   reference block ([`observed_wei_per_ssv`]);
//! - the **agreed SSV price** and the explicit adjustments are taken as governance entered
//!   them (the engine enforces the adjustment cap).
//!
//! Pure: `claystack-frame-close` does the reading and passes the values in; every rule is
//! written in `docs/rewards.md`.

use claystack_rewards::wei;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One round of the SSV price feed (Chainlink `latestRoundData()` and `decimals()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedRound {
    #[serde(with = "wei::unsigned")]
    pub round_id: u128,
    /// In `10^-decimals` ETH per SSV.
    #[serde(with = "wei::signed")]
    pub answer: i128,
    /// Seconds since the Unix epoch.
    pub updated_at: u64,
    #[serde(with = "wei::unsigned")]
    pub answered_in_round: u128,
    pub decimals: u8,
}

/// What a frame's report read from the protocol's contracts, as the frame log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainReadings {
    /// The previous frame's reference block (the fees are counted after it)...
    pub start_block: u64,
    /// ...and this frame's (up to and including it).
    pub end_block: u64,
    /// The vault's `totalReceived()` at `start_block` and at `end_block`.
    #[serde(with = "wei::unsigned")]
    pub vault_received_start_wei: u128,
    #[serde(with = "wei::unsigned")]
    pub vault_received_end_wei: u128,
    /// The report the agreed price was published from (RewardsGovernance's history).
    pub agreed_price_from_report: u64,
    /// The feed's latest round at `end_block`, and that block's timestamp.
    pub feed: FeedRound,
    pub end_block_timestamp: u64,
}

/// Why a feed round gives no price: the node waits rather than sign a guessed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceProblem {
    /// The answer is zero or negative.
    NotPositive { answer: i128 },
    /// The round never got an answer (`updatedAt` 0), or its answer comes from an older round.
    Incomplete { round_id: u128, answered_in_round: u128, updated_at: u64 },
    /// The round is older than the genesis allows.
    Stale { age_secs: u64, max_age_secs: u64 },
    /// The round claims to be newer than the block it was read at.
    FromTheFuture { updated_at: u64, block_timestamp: u64 },
    /// The answer does not fit 128 bits in wei, or rounds to 0 wei.
    OutOfRange { answer: i128, decimals: u8 },
}

impl fmt::Display for PriceProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PriceProblem::NotPositive { answer } => write!(f, "its answer {answer} is not a positive price"),
            PriceProblem::Incomplete { round_id, answered_in_round, updated_at } => write!(
                f,
                "round {round_id} is incomplete (answered in round {answered_in_round}, updated at {updated_at})"
            ),
            PriceProblem::Stale { age_secs, max_age_secs } => write!(
                f,
                "its latest round is {age_secs} s older than the reference block, more than genesis \
                 ssv_price_source.max_age_secs {max_age_secs}"
            ),
            PriceProblem::FromTheFuture { updated_at, block_timestamp } => {
                write!(f, "its round is updated at {updated_at}, after the reference block's time {block_timestamp}")
            }
            PriceProblem::OutOfRange { answer, decimals } => {
                write!(f, "its answer {answer} with {decimals} decimals is not a usable wei amount")
            }
        }
    }
}

/// The observed SSV price in wei per SSV from the feed's round read at a block whose timestamp
/// is `block_timestamp`: the answer scaled from `decimals` to 18 (rounded down), if the round
/// is complete, positive and at most `max_age_secs` old.
pub fn observed_wei_per_ssv(round: &FeedRound, block_timestamp: u64, max_age_secs: u64) -> Result<u128, PriceProblem> {
    if round.answer <= 0 {
        return Err(PriceProblem::NotPositive { answer: round.answer });
    }
    if round.updated_at == 0 || round.answered_in_round < round.round_id {
        return Err(PriceProblem::Incomplete {
            round_id: round.round_id,
            answered_in_round: round.answered_in_round,
            updated_at: round.updated_at,
        });
    }
    if round.updated_at > block_timestamp {
        return Err(PriceProblem::FromTheFuture { updated_at: round.updated_at, block_timestamp });
    }
    let age_secs = block_timestamp - round.updated_at;
    if age_secs > max_age_secs {
        return Err(PriceProblem::Stale { age_secs, max_age_secs });
    }
    let out_of_range = PriceProblem::OutOfRange { answer: round.answer, decimals: round.decimals };
    let answer = round.answer.unsigned_abs();
    let wei = if round.decimals <= 18 {
        10u128.checked_pow(u32::from(18 - round.decimals)).and_then(|scale| answer.checked_mul(scale))
    } else {
        Some(10u128.checked_pow(u32::from(round.decimals - 18)).map_or(0, |scale| answer / scale))
    };
    match wei {
        Some(w) if w > 0 => Ok(w),
        _ => Err(out_of_range),
    }
}

/// The execution-layer fees between two readings of the vault's running total. The total
/// only grows; a smaller end means the address is not the RewardsVault (or the chain
/// reorganised under the reader), and no fee is guessed.
pub fn execution_fees_wei(received_start_wei: u128, received_end_wei: u128) -> Option<u128> {
    received_end_wei.checked_sub(received_start_wei)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(answer: i128, updated_at: u64, decimals: u8) -> FeedRound {
        FeedRound { round_id: 7, answer, updated_at, answered_in_round: 7, decimals }
    }

    #[test]
    fn scales_answers_to_wei() {
        assert_eq!(observed_wei_per_ssv(&round(4_500_000_000_000_000, 100, 18), 100, 60), Ok(4_500_000_000_000_000));
        // 8 decimals (Chainlink's USD pairs): 0.0045 -> 450000 -> 4.5e15 wei.
        assert_eq!(observed_wei_per_ssv(&round(450_000, 100, 8), 160, 60), Ok(4_500_000_000_000_000));
        // More than 18 decimals round down.
        assert_eq!(
            observed_wei_per_ssv(&round(4_500_000_000_000_000_999, 100, 21), 100, 60),
            Ok(4_500_000_000_000_000)
        );
        assert_eq!(
            observed_wei_per_ssv(&round(5, 100, 60), 100, 60),
            Err(PriceProblem::OutOfRange { answer: 5, decimals: 60 })
        );
        assert_eq!(
            observed_wei_per_ssv(&round(i128::MAX, 100, 0), 100, 60),
            Err(PriceProblem::OutOfRange { answer: i128::MAX, decimals: 0 })
        );
    }

    #[test]
    fn refuses_stale_incomplete_negative_and_future_rounds() {
        assert_eq!(
            observed_wei_per_ssv(&round(1, 100, 18), 161, 60),
            Err(PriceProblem::Stale { age_secs: 61, max_age_secs: 60 })
        );
        assert_eq!(observed_wei_per_ssv(&round(1, 100, 18), 160, 60), Ok(1), "exactly max_age old is fresh");
        assert_eq!(observed_wei_per_ssv(&round(0, 100, 18), 100, 60), Err(PriceProblem::NotPositive { answer: 0 }));
        assert_eq!(observed_wei_per_ssv(&round(-3, 100, 18), 100, 60), Err(PriceProblem::NotPositive { answer: -3 }));
        let mut r = round(1, 100, 18);
        r.answered_in_round = 6;
        assert!(matches!(observed_wei_per_ssv(&r, 100, 60), Err(PriceProblem::Incomplete { .. })));
        assert!(matches!(observed_wei_per_ssv(&round(1, 0, 18), 100, 60), Err(PriceProblem::Incomplete { .. })));
        assert_eq!(
            observed_wei_per_ssv(&round(1, 101, 18), 100, 60),
            Err(PriceProblem::FromTheFuture { updated_at: 101, block_timestamp: 100 })
        );
        let line = PriceProblem::Stale { age_secs: 61, max_age_secs: 60 }.to_string();
        assert!(line.contains("max_age_secs 60") && !line.contains('\n'), "{line}");
    }

    #[test]
    fn fees_are_the_growth_of_the_running_total() {
        assert_eq!(execution_fees_wei(5, 12), Some(7));
        assert_eq!(execution_fees_wei(5, 5), Some(0));
        assert_eq!(execution_fees_wei(6, 5), None);
    }
}
