//! How many validators must exit to meet the withdrawal queue's demand.
//!
//! The withdrawal queue holds what users asked to withdraw and has not been paid
//! (`unmet_demand_wei`) and the ETH it already holds to pay it (`buffer_wei`). Validators
//! already on their way out will pay in their balance once withdrawable. What is left must
//! come from new exits, each expected to pay `per_exit_wei`:
//!
//! ```text
//! under_way = 10^9 * sum of expected_gwei over the exits under way
//! net       = max(0, unmet_demand - buffer - under_way)
//! needed    = ceil(net / per_exit)           rounded UP: the exits must cover the demand
//! exits     = min(needed, max_per_report)    the rest is asked for by the next report
//! ```

use crate::error::ExitsError;
use claystack_primitives::ValidatorIndex;
use claystack_rewards::wei;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What the withdrawal queue says at the exits report's reference block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Liquidity {
    /// Withdrawals users asked for and the protocol has not paid yet.
    #[serde(with = "wei::unsigned")]
    pub unmet_demand_wei: u128,
    /// ETH the queue already holds to pay them.
    #[serde(with = "wei::unsigned")]
    pub buffer_wei: u128,
}

/// A validator already on its way out (an exit epoch on the beacon chain, or an exit asked
/// for): its balance will reach the queue without a new exit. Once its full withdrawal is
/// paid its balance is 0, so listing every exiting validator with its balance counts each
/// wei once, before or after the withdrawal (assuming the buffer holds what was withdrawn).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnderWay {
    pub validator: ValidatorIndex,
    /// Its balance at the reference state: what its full withdrawal is still expected to pay.
    pub expected_gwei: u64,
}

/// The genesis rules of the demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandRules {
    /// What one new exit is expected to pay (32 ETH: a 0x01 validator's balance is swept
    /// down to its 32 ETH effective balance, so an exit pays about that).
    #[serde(with = "wei::unsigned")]
    pub per_exit_wei: u128,
    /// The most requested exits one report asks for.
    pub max_per_report: u32,
}

/// The demand of one report and every number it came from (for the report's log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Demand {
    #[serde(with = "wei::unsigned")]
    pub unmet_demand_wei: u128,
    #[serde(with = "wei::unsigned")]
    pub buffer_wei: u128,
    /// What the exits under way are expected to pay.
    #[serde(with = "wei::unsigned")]
    pub under_way_wei: u128,
    /// `max(0, unmet_demand - buffer - under_way)`.
    #[serde(with = "wei::unsigned")]
    pub net_wei: u128,
    /// `ceil(net / per_exit)`.
    pub needed: u64,
    /// `min(needed, max_per_report)`: how many validators this report asks to exit.
    pub exits: u64,
}

/// The number of validators that must exit (see the module comment for the rule).
pub fn exits_needed(liquidity: Liquidity, under_way: &[UnderWay], rules: DemandRules) -> Result<Demand, ExitsError> {
    if rules.per_exit_wei == 0 {
        return Err(ExitsError::InvalidRule { field: "per_exit_wei", reason: "must be above 0".into() });
    }
    let mut seen = BTreeSet::new();
    let mut under_way_gwei: u128 = 0;
    for u in under_way {
        if !seen.insert(u.validator) {
            return Err(ExitsError::DuplicateValidator { list: "the exits under way", validator: u.validator });
        }
        // A u64 of gwei per validator: the sum of 2^64 of them still fits a u128.
        under_way_gwei += u128::from(u.expected_gwei);
    }
    let under_way_wei = under_way_gwei.checked_mul(1_000_000_000).ok_or(ExitsError::Overflow("wei under way"))?;
    let net_wei = liquidity.unmet_demand_wei.saturating_sub(liquidity.buffer_wei).saturating_sub(under_way_wei);
    let needed = net_wei.div_ceil(rules.per_exit_wei);
    let needed = u64::try_from(needed).map_err(|_| ExitsError::Overflow("number of exits needed"))?;
    Ok(Demand {
        unmet_demand_wei: liquidity.unmet_demand_wei,
        buffer_wei: liquidity.buffer_wei,
        under_way_wei,
        net_wei,
        needed,
        exits: needed.min(u64::from(rules.max_per_report)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETH: u128 = 1_000_000_000_000_000_000;
    const RULES: DemandRules = DemandRules { per_exit_wei: 32 * ETH, max_per_report: 10 };

    fn liquidity(demand_eth: u128, buffer_eth: u128) -> Liquidity {
        Liquidity { unmet_demand_wei: demand_eth * ETH, buffer_wei: buffer_eth * ETH }
    }

    #[test]
    fn the_demand_net_of_buffer_and_exits_under_way_is_rounded_up_to_whole_exits() {
        // 100 ETH asked, 10 in the buffer, one validator with 31.5 ETH already exiting:
        // 58.5 ETH left, two exits of 32 ETH cover it (one would leave 26.5 ETH unpaid).
        let d = exits_needed(liquidity(100, 10), &[UnderWay { validator: 7, expected_gwei: 31_500_000_000 }], RULES)
            .unwrap();
        assert_eq!(d.under_way_wei, 31_500_000_000 * 1_000_000_000);
        assert_eq!(d.net_wei, 100 * ETH - 10 * ETH - 31 * ETH - ETH / 2);
        assert_eq!((d.needed, d.exits), (2, 2));
        // One wei more than a whole number of exits needs one more exit; exactly a whole number does not.
        assert_eq!(
            exits_needed(Liquidity { unmet_demand_wei: 64 * ETH, buffer_wei: 0 }, &[], RULES).unwrap().needed,
            2
        );
        assert_eq!(
            exits_needed(Liquidity { unmet_demand_wei: 64 * ETH + 1, buffer_wei: 0 }, &[], RULES).unwrap().needed,
            3
        );
    }

    #[test]
    fn a_buffer_or_exits_under_way_that_cover_the_demand_ask_for_no_exit() {
        assert_eq!(exits_needed(liquidity(100, 100), &[], RULES).unwrap().exits, 0);
        assert_eq!(exits_needed(liquidity(10, 50), &[], RULES).unwrap().net_wei, 0);
        let under_way = [UnderWay { validator: 1, expected_gwei: 32_000_000_000 }];
        assert_eq!(exits_needed(liquidity(32, 0), &under_way, RULES).unwrap().exits, 0);
    }

    #[test]
    fn a_report_asks_for_at_most_its_cap_and_says_how_many_were_needed() {
        let d = exits_needed(liquidity(32 * 25, 0), &[], RULES).unwrap();
        assert_eq!((d.needed, d.exits), (25, 10));
    }

    #[test]
    fn bad_rules_and_duplicate_validators_are_one_line_errors() {
        let zero = DemandRules { per_exit_wei: 0, ..RULES };
        assert_eq!(
            exits_needed(liquidity(1, 0), &[], zero).unwrap_err().to_string(),
            "exit rules: `per_exit_wei` is invalid: must be above 0"
        );
        let twice = [UnderWay { validator: 3, expected_gwei: 1 }, UnderWay { validator: 3, expected_gwei: 2 }];
        assert_eq!(
            exits_needed(liquidity(1, 0), &twice, RULES).unwrap_err().to_string(),
            "validator 3 is listed twice in the exits under way"
        );
        // The largest inputs do not panic.
        let huge = exits_needed(
            Liquidity { unmet_demand_wei: u128::MAX, buffer_wei: 0 },
            &[],
            DemandRules { per_exit_wei: 1, max_per_report: 1 },
        );
        assert_eq!(huge, Err(ExitsError::Overflow("number of exits needed")));
    }
}
