//! Which validators the protocol asks to exit: a deterministic, balanced selection.
//!
//! # The measure
//!
//! Genesis gives target shares (bps) in three *dimensions*: node types, locations and
//! operators (a share per named operator, a cap for every other one). Every validator that
//! stays in the network (active or pending; not exiting, not slashed) counts once in its
//! *group* of each dimension. A group `g` with `c_g` validators and target `t_g` bps has the
//! **load** `c_g / t_g`, compared exactly as `c_a * t_b` against `c_b * t_a`:
//!
//! - at one network size `n` it orders groups like `share / target = (c_g / n) / (t_g / 10000)`,
//!   so the largest load is the **most over-represented group**, across all dimensions at once;
//! - `c_g * 10000 / t_g` is the network size at which `g` would be exactly on target: the
//!   same unit in every dimension, so loads of node types, locations and operators compare;
//! - a group with target 0 (a node type or location genesis does not list) and members is
//!   more loaded than any group with a target; among those, more members is more loaded.
//!
//! # The rule
//!
//! Each pick takes, among the groups that still hold an eligible (active) validator, those
//! with the largest load; among their eligible validators, the **lowest score** (the
//! operator's performance score); then the **lowest validator index** (the longest-serving
//! validator: a fixed rule that needs no other data). The picked validator leaves every
//! group it counts in, and the next pick starts over. Exiting, slashed and pending
//! validators are never picked.
//!
//! # Why this measure
//!
//! A pick removes one validator from each of its groups and changes no other group's load
//! (a load does not depend on the network size), so **the largest load never rises**, and
//! the pair (largest load among groups with an eligible validator, how many groups have it)
//! falls with every pick. Measures that compare shares (`share - target`, or
//! `share / target`) cannot promise this: the network shrinks with each exit, so every other
//! group's share rises, and from a network exactly on target any exit moves a group above
//! its target (`tests::share_based_deviations_can_rise_on_the_best_pick` shows it).

use crate::error::ExitsError;
use claystack_primitives::{Epoch, ValidatorIndex, ValidatorInfo, FAR_FUTURE_EPOCH};
use claystack_rewards::{Address, BPS};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// A validator's state for the selection, at the exits report's reference point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Active on the beacon chain, no exit epoch, not slashed, no exit asked for.
    Active,
    /// Has an exit epoch, or an exit asked for (voluntary or requested) and not yet made.
    Exiting,
    Slashed,
    /// Registered and not yet active on the beacon chain, or active for less than the
    /// beacon chain's minimum before an exit (see [`status_of`]).
    Pending,
}

impl Status {
    /// Counts in the network the selection balances (it will still be there).
    fn stays(self) -> bool {
        matches!(self, Status::Active | Status::Pending)
    }
}

/// A protocol validator's status from its beacon record at the reference state (`None`:
/// the state does not hold it yet) and whether an earlier exits report published an exit
/// for it (a served voluntary request or a requested exit). An open voluntary request is not
/// such an exit: [`crate::exits_report`] serves it (the validator must be active for that).
///
/// `shard_committee_period` is the spec's `SHARD_COMMITTEE_PERIOD` (256 epochs on mainnet,
/// 64 on minimal): the beacon chain refuses a voluntary exit before `activation_epoch +`
/// that, so a validator that young cannot comply with an exit request yet and counts as
/// pending.
pub fn status_of(
    record: Option<&ValidatorInfo>,
    exit_asked: bool,
    reference_epoch: Epoch,
    shard_committee_period: u64,
) -> Status {
    match record {
        None => Status::Pending,
        Some(r) if r.slashed => Status::Slashed,
        Some(r) if r.exit_epoch != FAR_FUTURE_EPOCH || exit_asked => Status::Exiting,
        Some(r) if r.activation_epoch.saturating_add(shard_committee_period) > reference_epoch => Status::Pending,
        Some(_) => Status::Active,
    }
}

/// A protocol validator the selection may consider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    pub validator: ValidatorIndex,
    /// The operator that answers for its exit.
    pub operator: Address,
    pub node_type: String,
    pub location: String,
    /// The operator's performance score (0..=10000 bps).
    pub score_bps: u32,
    pub status: Status,
    /// Its balance at the reference state: what its exit is expected to pay.
    pub balance_gwei: u64,
}

/// The network's target shares, from genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// Share per node type, bps, adding up to 10000; empty: node types are not balanced.
    #[serde(default)]
    pub node_types: BTreeMap<String, u32>,
    /// Share per location, bps, adding up to 10000; empty: locations are not balanced.
    #[serde(default)]
    pub locations: BTreeMap<String, u32>,
    /// Share of named operators, bps each.
    #[serde(default)]
    pub operators: BTreeMap<Address, u32>,
    /// Share of every operator not named (10000: no cap, the largest operator goes first).
    #[serde(default = "no_cap")]
    pub operator_cap_bps: u32,
}

fn no_cap() -> u32 {
    BPS
}

impl Default for Targets {
    fn default() -> Self {
        Targets {
            node_types: BTreeMap::new(),
            locations: BTreeMap::new(),
            operators: BTreeMap::new(),
            operator_cap_bps: BPS,
        }
    }
}

impl Targets {
    /// Every share at most 10000 bps; node-type and location shares add up to 10000 when
    /// given; the operator cap above 0.
    pub fn check(&self) -> Result<(), ExitsError> {
        for (dimension, shares) in [("node types", &self.node_types), ("locations", &self.locations)] {
            if shares.is_empty() {
                continue;
            }
            let sum: u64 = shares.values().map(|&b| u64::from(b)).sum();
            if sum != u64::from(BPS) {
                return Err(ExitsError::InvalidTarget {
                    dimension,
                    reason: format!("shares add up to {sum} bps, not 10000"),
                });
            }
        }
        if let Some((op, bps)) = self.operators.iter().find(|(_, &b)| b > BPS) {
            return Err(ExitsError::InvalidTarget {
                dimension: "operators",
                reason: format!("operator {op} has a share of {bps} bps, above 10000"),
            });
        }
        if self.operator_cap_bps == 0 || self.operator_cap_bps > BPS {
            return Err(ExitsError::InvalidTarget {
                dimension: "operators",
                reason: format!("cap {} bps is not in 1..=10000", self.operator_cap_bps),
            });
        }
        Ok(())
    }

    /// The groups of a candidate, one per balanced dimension.
    fn groups_of(&self, c: &Candidate) -> Vec<Group> {
        let mut out = Vec::with_capacity(3);
        if !self.node_types.is_empty() {
            out.push(Group::NodeType(c.node_type.clone()));
        }
        if !self.locations.is_empty() {
            out.push(Group::Location(c.location.clone()));
        }
        out.push(Group::Operator(c.operator));
        out
    }

    /// The target share of a group (0 for a node type or location genesis does not list).
    pub fn target_bps(&self, group: &Group) -> u32 {
        match group {
            Group::NodeType(t) => self.node_types.get(t).copied().unwrap_or(0),
            Group::Location(l) => self.locations.get(l).copied().unwrap_or(0),
            Group::Operator(o) => self.operators.get(o).copied().unwrap_or(self.operator_cap_bps),
        }
    }
}

/// A group of one dimension; ordered by dimension, then name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    NodeType(String),
    Location(String),
    Operator(Address),
}

/// A group's validators and target share; see the module comment for how loads compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    pub validators: u64,
    pub target_bps: u32,
}

impl Load {
    /// 0: no validators; 1: validators and a target; 2: validators and no target.
    fn class(&self) -> u8 {
        match (self.validators, self.target_bps) {
            (0, _) => 0,
            (_, 0) => 2,
            _ => 1,
        }
    }

    /// Compares `validators / target_bps` exactly (a total order; `Greater` is more loaded).
    pub fn compare(&self, other: &Load) -> Ordering {
        self.class().cmp(&other.class()).then_with(|| match self.class() {
            1 => (u128::from(self.validators) * u128::from(other.target_bps))
                .cmp(&(u128::from(other.validators) * u128::from(self.target_bps))),
            2 => self.validators.cmp(&other.validators),
            _ => Ordering::Equal,
        })
    }
}

/// One validator the selection asks to exit, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pick {
    pub validator: ValidatorIndex,
    pub operator: Address,
    pub score_bps: u32,
    /// The most loaded group it was taken from (the first in group order if several).
    pub group: Group,
    /// That group's load just before the pick.
    pub load: Load,
}

/// The selection, in pick order (the most needed exit first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    pub picks: Vec<Pick>,
    /// Exits asked for that no eligible validator was left to make.
    pub shortfall: u64,
}

/// Candidates sorted by validator, each once, scores in range.
pub(crate) fn checked(candidates: &[Candidate]) -> Result<Vec<&Candidate>, ExitsError> {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by_key(|c| c.validator);
    for w in sorted.windows(2) {
        if w[0].validator == w[1].validator {
            return Err(ExitsError::DuplicateValidator { list: "the exit candidates", validator: w[0].validator });
        }
    }
    if let Some(c) = sorted.iter().find(|c| c.score_bps > BPS) {
        return Err(ExitsError::InvalidScore { validator: c.validator, score_bps: c.score_bps });
    }
    Ok(sorted)
}

/// Every group's load over the validators that stay (active or pending), leaving out
/// `gone` (validators already picked).
pub fn loads(
    candidates: &[Candidate],
    targets: &Targets,
    gone: &BTreeSet<ValidatorIndex>,
) -> Result<BTreeMap<Group, Load>, ExitsError> {
    targets.check()?;
    let mut out: BTreeMap<Group, Load> = BTreeMap::new();
    for c in checked(candidates)? {
        if !c.status.stays() || gone.contains(&c.validator) {
            continue;
        }
        for g in targets.groups_of(c) {
            let target_bps = targets.target_bps(&g);
            out.entry(g).or_insert(Load { validators: 0, target_bps }).validators += 1;
        }
    }
    Ok(out)
}

struct GroupState {
    key: Group,
    load: Load,
    /// Its active validators by (score, index, position in `stay`): the first not yet
    /// picked, from `next` on, is the group's next pick.
    queue: Vec<(u32, ValidatorIndex, usize)>,
    next: usize,
}

impl GroupState {
    /// Its next pick, skipping the validators other groups gave up already.
    fn head(&mut self, picked: &[bool]) -> Option<(u32, ValidatorIndex, usize)> {
        while self.queue.get(self.next).is_some_and(|q| picked[q.2]) {
            self.next += 1;
        }
        self.queue.get(self.next).copied()
    }
}

/// Picks `count` validators to exit (fewer, with a shortfall, when not enough are active).
/// Inputs may come in any order; the result depends only on their content.
pub fn select(candidates: &[Candidate], targets: &Targets, count: u64) -> Result<Selection, ExitsError> {
    targets.check()?;
    let stay: Vec<&Candidate> = checked(candidates)?.into_iter().filter(|c| c.status.stays()).collect();
    let (by_type, by_location) = (!targets.node_types.is_empty(), !targets.locations.is_empty());

    // The groups of `Targets::groups_of`, interned (a million validators would otherwise
    // clone a million names); ids in group order (node types, locations, operators, each by
    // name), so that scanning the groups by id meets them in `Group` order.
    let mut types: BTreeMap<&str, usize> = BTreeMap::new();
    let mut locations: BTreeMap<&str, usize> = BTreeMap::new();
    let mut operators: BTreeMap<Address, usize> = BTreeMap::new();
    for c in &stay {
        if by_type {
            types.insert(&c.node_type, 0);
        }
        if by_location {
            locations.insert(&c.location, 0);
        }
        operators.insert(c.operator, 0);
    }
    let mut keys = Vec::with_capacity(types.len() + locations.len() + operators.len());
    for (name, id) in &mut types {
        *id = keys.len();
        keys.push(Group::NodeType(name.to_string()));
    }
    for (name, id) in &mut locations {
        *id = keys.len();
        keys.push(Group::Location(name.to_string()));
    }
    for (address, id) in &mut operators {
        *id = keys.len();
        keys.push(Group::Operator(*address));
    }
    let mut groups: Vec<GroupState> = keys
        .into_iter()
        .map(|key| {
            let load = Load { validators: 0, target_bps: targets.target_bps(&key) };
            GroupState { key, load, queue: Vec::new(), next: 0 }
        })
        .collect();

    // Each validator's groups, one per balanced dimension.
    let positions: Vec<Vec<usize>> = stay
        .iter()
        .map(|c| {
            let mut pos = Vec::with_capacity(3);
            if by_type {
                pos.push(types[c.node_type.as_str()]);
            }
            if by_location {
                pos.push(locations[c.location.as_str()]);
            }
            pos.push(operators[&c.operator]);
            pos
        })
        .collect();
    for (i, (c, pos)) in stay.iter().zip(&positions).enumerate() {
        for &p in pos {
            groups[p].load.validators += 1;
            if c.status == Status::Active {
                groups[p].queue.push((c.score_bps, c.validator, i));
            }
        }
    }
    for g in &mut groups {
        g.queue.sort_unstable();
    }

    let mut picked = vec![false; stay.len()];
    let mut picks = Vec::new();
    while (picks.len() as u64) < count {
        // The most loaded groups that still hold an eligible validator, and the best
        // (score, index) among their next picks; ties keep the first group in order.
        let mut best: Option<(usize, (u32, ValidatorIndex, usize))> = None;
        for i in 0..groups.len() {
            let Some(head) = groups[i].head(&picked) else { continue };
            let better = match best {
                None => true,
                Some((b, bh)) => match groups[i].load.compare(&groups[b].load) {
                    Ordering::Greater => true,
                    Ordering::Equal => head < bh,
                    Ordering::Less => false,
                },
            };
            if better {
                best = Some((i, head));
            }
        }
        let Some((from, (score_bps, validator, at))) = best else { break };
        picks.push(Pick {
            validator,
            operator: stay[at].operator,
            score_bps,
            group: groups[from].key.clone(),
            load: groups[from].load,
        });
        picked[at] = true;
        for &p in &positions[at] {
            groups[p].load.validators -= 1;
        }
    }
    let shortfall = count - picks.len() as u64;
    Ok(Selection { picks, shortfall })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(n: u8) -> Address {
        Address([n; 20])
    }

    fn candidate(validator: u64, operator: u8, node_type: &str, location: &str, score_bps: u32) -> Candidate {
        Candidate {
            validator,
            operator: op(operator),
            node_type: node_type.into(),
            location: location.into(),
            score_bps,
            status: Status::Active,
            balance_gwei: 32_000_000_000,
        }
    }

    fn types(shares: &[(&str, u32)]) -> Targets {
        Targets { node_types: shares.iter().map(|&(t, b)| (t.to_string(), b)).collect(), ..Targets::default() }
    }

    #[test]
    fn status_comes_from_the_beacon_record_and_the_exits_asked_for() {
        let record = |slashed, activation_epoch, exit_epoch| ValidatorInfo {
            index: 1,
            status: String::new(),
            pubkey: String::new(),
            balance_gwei: 0,
            effective_balance_gwei: 0,
            slashed,
            activation_epoch,
            exit_epoch,
            withdrawable_epoch: FAR_FUTURE_EPOCH,
        };
        let far = FAR_FUTURE_EPOCH;
        let at_1000 = |r: Option<&ValidatorInfo>, asked| status_of(r, asked, 1000, 256);
        assert_eq!(at_1000(None, false), Status::Pending, "deposit not processed yet");
        assert_eq!(at_1000(Some(&record(false, far, far)), false), Status::Pending, "queued for activation");
        assert_eq!(at_1000(Some(&record(false, 745, far)), false), Status::Pending, "active, too young to exit");
        assert_eq!(at_1000(Some(&record(false, 744, far)), false), Status::Active);
        assert_eq!(at_1000(Some(&record(false, 0, far)), true), Status::Exiting, "an exit asked for");
        assert_eq!(at_1000(Some(&record(false, 0, 1200)), false), Status::Exiting, "an exit epoch");
        assert_eq!(at_1000(Some(&record(true, 0, 1200)), true), Status::Slashed);
    }

    #[test]
    fn loads_compare_as_exact_fractions_and_targetless_groups_are_the_most_loaded() {
        let l = |validators, target_bps| Load { validators, target_bps };
        assert_eq!(l(1, 2).compare(&l(2, 4)), Ordering::Equal);
        assert_eq!(l(40, 2500).compare(&l(40, 5000)), Ordering::Greater);
        assert_eq!(l(3, 10_000).compare(&l(1, 3333)), Ordering::Less, "3/10000 < 1/3333");
        assert_eq!(l(1, 0).compare(&l(1_000_000, 1)), Ordering::Greater);
        assert_eq!(l(2, 0).compare(&l(1, 0)), Ordering::Greater);
        assert_eq!(l(0, 0).compare(&l(1, 10_000)), Ordering::Less);
        assert_eq!(l(0, 0).compare(&l(0, 7)), Ordering::Equal);
    }

    #[test]
    fn the_most_over_represented_group_goes_first_then_the_lowest_score_then_the_lowest_index() {
        // Targets ssv 50%, direct 50%; network 3 ssv, 1 direct: ssv is over its target.
        let c = [
            candidate(10, 1, "ssv", "eu", 9000),
            candidate(11, 2, "ssv", "eu", 7000),
            candidate(12, 3, "ssv", "eu", 7000),
            candidate(13, 4, "direct", "eu", 100),
        ];
        let t = types(&[("ssv", 5000), ("direct", 5000)]);
        let s = select(&c, &t, 3).unwrap();
        let picked: Vec<u64> = s.picks.iter().map(|p| p.validator).collect();
        // ssv 3/5000 > direct 1/5000: 11 (score 7000, lower index than 12); then ssv 2/5000 >
        // 1/5000: 12; then ssv and direct tie at 1/5000: the direct one has the lower score.
        assert_eq!(picked, vec![11, 12, 13]);
        assert_eq!(s.picks[0].group, Group::NodeType("ssv".into()));
        assert_eq!(s.picks[0].load, Load { validators: 3, target_bps: 5000 });
        assert_eq!(s.shortfall, 0);
    }

    #[test]
    fn dimensions_combine_by_the_largest_load_in_any_of_them() {
        // Node types on target (2 ssv, 2 direct at 50/50), but operator 1 holds 3 of 4
        // validators under a 50% cap: its load 3/5000 is the largest.
        let c = [
            candidate(1, 1, "ssv", "eu", 9000),
            candidate(2, 1, "ssv", "eu", 9500),
            candidate(3, 1, "direct", "eu", 9900),
            candidate(4, 2, "direct", "eu", 1000),
        ];
        let t = Targets { operator_cap_bps: 5000, ..types(&[("ssv", 5000), ("direct", 5000)]) };
        let s = select(&c, &t, 1).unwrap();
        assert_eq!(
            s.picks[0].validator, 1,
            "operator 1's lowest score; operator 2's 1000 is not in the most loaded group"
        );
        assert_eq!(s.picks[0].group, Group::Operator(op(1)));
    }

    #[test]
    fn exiting_slashed_and_pending_validators_are_never_picked_and_the_shortfall_is_reported() {
        let mut c =
            vec![candidate(1, 1, "ssv", "eu", 0), candidate(2, 1, "ssv", "eu", 0), candidate(3, 1, "ssv", "eu", 0)];
        c.push(candidate(4, 1, "ssv", "eu", 5000));
        c[0].status = Status::Exiting;
        c[1].status = Status::Slashed;
        c[2].status = Status::Pending;
        let s = select(&c, &Targets::default(), 3).unwrap();
        assert_eq!(s.picks.iter().map(|p| p.validator).collect::<Vec<_>>(), vec![4]);
        assert_eq!(s.shortfall, 2);
        // The pending validator still counts in its groups: it will be part of the network.
        let l = loads(&c, &Targets::default(), &BTreeSet::new()).unwrap();
        assert_eq!(l[&Group::Operator(op(1))], Load { validators: 2, target_bps: 10_000 });
    }

    #[test]
    fn bad_targets_and_candidates_are_one_line_errors() {
        let t = types(&[("ssv", 5000), ("direct", 4000)]);
        assert_eq!(
            select(&[], &t, 1).unwrap_err().to_string(),
            "exit targets: node types shares add up to 9000 bps, not 10000"
        );
        let t = Targets { operator_cap_bps: 0, ..Targets::default() };
        assert_eq!(
            select(&[], &t, 1).unwrap_err().to_string(),
            "exit targets: operators cap 0 bps is not in 1..=10000"
        );
        let c = [candidate(5, 1, "ssv", "eu", 1), candidate(5, 2, "ssv", "eu", 1)];
        assert_eq!(
            select(&c, &Targets::default(), 1).unwrap_err().to_string(),
            "validator 5 is listed twice in the exit candidates"
        );
        let c = [candidate(5, 1, "ssv", "eu", 10_001)];
        assert_eq!(
            select(&c, &Targets::default(), 1).unwrap_err().to_string(),
            "validator 5 has score 10001 bps, above the 10000 maximum"
        );
    }

    /// Why the module does not use a share-based deviation: from a network exactly on its
    /// targets, the best possible pick still raises `max |share - target|` and `max share / target`.
    #[test]
    fn share_based_deviations_can_rise_on_the_best_pick() {
        let c = [
            candidate(1, 1, "ssv", "eu", 0),
            candidate(2, 2, "ssv", "eu", 0),
            candidate(3, 3, "direct", "eu", 0),
            candidate(4, 4, "direct", "eu", 0),
        ];
        let t = types(&[("ssv", 5000), ("direct", 5000)]);
        let share_dev = |gone: &BTreeSet<u64>| {
            let l = loads(&c, &t, gone).unwrap();
            let n: u64 = l.iter().filter(|(g, _)| matches!(g, Group::NodeType(_))).map(|(_, l)| l.validators).sum();
            // |share - target| in bps, as an exact fraction over n.
            l.iter()
                .filter(|(g, _)| matches!(g, Group::NodeType(_)))
                .map(|(_, l)| (i128::from(l.validators) * 10_000 - i128::from(l.target_bps) * i128::from(n)).abs())
                .max()
                .map(|m| (m, n))
                .unwrap()
        };
        let before = share_dev(&BTreeSet::new());
        let pick = select(&c, &t, 1).unwrap().picks[0].validator;
        let after = share_dev(&BTreeSet::from([pick]));
        assert_eq!(before.0, 0, "on target before");
        assert!(after.0 > 0, "any exit moves a group off its target");
        // The load measure does not rise: the largest load goes from 2/5000 to 2/5000 (the
        // other group) with one group fewer at it.
        let max_load = |gone: &BTreeSet<u64>| {
            let l = loads(&c, &t, gone).unwrap();
            let m = l.values().copied().max_by(|a, b| a.compare(b)).unwrap();
            (m, l.values().filter(|x| x.compare(&m) == Ordering::Equal).count())
        };
        let (m0, k0) = max_load(&BTreeSet::new());
        let (m1, k1) = max_load(&BTreeSet::from([pick]));
        assert_ne!(m1.compare(&m0), Ordering::Greater);
        assert!(m1.compare(&m0) == Ordering::Less || k1 < k0);
    }
}
