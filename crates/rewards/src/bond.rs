//! Bond requirement of an operator: by node type, number of nodes and score.
//!
//! ```text
//! requirement = sum over node types with n > 0 nodes of
//!     first_node_bond + floor((n - 1) * per_node_bond * (10000 - discount(score)) / 10000)
//! ```
//! `discount(score)` is the band of `Economics::bond_discount_bands` with the highest
//! `min_score_bps` not above the score (0 when none): a good score lets an operator
//! add nodes for little or no extra bond. The first node of each type always needs
//! its full bond (SSV: 1 ETH).

use crate::economics::{Economics, BPS};
use crate::error::RewardsError;
use std::collections::BTreeMap;

/// `nodes_by_type` maps a node type name to how many of the operator's nodes have it.
pub fn bond_requirement(
    economics: &Economics,
    nodes_by_type: &BTreeMap<String, u64>,
    score_bps: u32,
) -> Result<u128, RewardsError> {
    let keep = (BPS - economics.bond_discount_bps(score_bps).min(BPS)) as u128;
    let ovf = || RewardsError::Overflow("bond requirement");
    let mut total = 0u128;
    for (name, &n) in nodes_by_type {
        if n == 0 {
            continue;
        }
        let t = economics
            .node_type(name)
            .ok_or_else(|| RewardsError::UnknownNodeType { node: 0, node_type: name.clone() })?;
        let extra =
            ((n - 1) as u128).checked_mul(t.per_node_bond_wei).and_then(|x| x.checked_mul(keep)).ok_or_else(ovf)?
                / BPS as u128;
        total = total.checked_add(t.first_node_bond_wei).and_then(|x| x.checked_add(extra)).ok_or_else(ovf)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETH: u128 = 1_000_000_000_000_000_000;

    #[test]
    fn ssv_first_node_is_one_eth_and_good_scores_add_nodes_cheaply() {
        let e = Economics::mainnet_default();
        let one = BTreeMap::from([("ssv".to_string(), 1)]);
        let three = BTreeMap::from([("ssv".to_string(), 3)]);
        assert_eq!(bond_requirement(&e, &one, 0).unwrap(), ETH);
        assert_eq!(bond_requirement(&e, &three, 5000).unwrap(), 3 * ETH);
        assert_eq!(bond_requirement(&e, &three, 7000).unwrap(), 2 * ETH);
        assert_eq!(bond_requirement(&e, &three, 9500).unwrap(), ETH);
        assert_eq!(bond_requirement(&e, &BTreeMap::new(), 9500).unwrap(), 0);
    }
}
