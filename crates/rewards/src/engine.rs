//! `compute_report`: one frame's inputs in, one report out.
//!
//! The steps, in order: check the inputs; count `N` and `E` per node; compute `T`,
//! `A` and each base; apply penalties and adjustments; net each operator's `R`
//! into a claim or a bond penalty; score; bond. Every map is a `BTreeMap` keyed by
//! id so iteration order is fixed, and every division floors.

use crate::bond::bond_requirement;
use crate::economics::{Economics, NodeType, BPS};
use crate::error::RewardsError;
use crate::inputs::{FrameInputs, NodeId, OperatorId};
use crate::report::{
    AdjustmentKind, AdjustmentLine, NodeReport, OperatorReport, Penalty, PenaltyKind, RewardsReport, Totals,
};
use crate::score::{score, ScoreEvents};
use crate::wei::Address;
use claystack_primitives::{Epoch, ValidatorIndex};
use std::collections::{BTreeMap, BTreeSet};

type Result<T> = std::result::Result<T, RewardsError>;

/// A registry node, checked.
struct NodeInfo<'a> {
    operator: OperatorId,
    ty: &'a NodeType,
    validators: u64,
    duties: u64,
    included: u64,
    timely: u64,
}

/// Per node, what the frame's facts did to it.
#[derive(Default)]
struct NodeEffects {
    penalties: Vec<Penalty>,
    adjustments: Vec<AdjustmentLine>,
}

/// Per operator, the distinct validators of each score event.
#[derive(Default)]
struct OperatorEvents {
    timely: BTreeSet<ValidatorIndex>,
    late: BTreeSet<ValidatorIndex>,
    slashed: BTreeSet<ValidatorIndex>,
    forced: BTreeSet<ValidatorIndex>,
}

fn ovf(what: &'static str) -> RewardsError {
    RewardsError::Overflow(what)
}

/// `floor(a * b / c)`, checked; `c` must not be zero.
fn mul_div(a: u128, b: u128, c: u128, what: &'static str) -> Result<u128> {
    Ok(a.checked_mul(b).ok_or(ovf(what))? / c)
}

/// `floor(amount * bps / 10000)`.
fn bps_of(amount: u128, bps: u32, what: &'static str) -> Result<u128> {
    mul_div(amount, bps as u128, BPS as u128, what)
}

/// `T = floor(max(0, cl + el) * share / 10000)`.
pub fn operator_rewards(economics: &Economics, cl_wei: i128, el_wei: u128) -> Result<u128> {
    let gross = if cl_wei >= 0 {
        (cl_wei as u128).checked_add(el_wei).ok_or(ovf("frame rewards"))?
    } else {
        el_wei.saturating_sub(cl_wei.unsigned_abs())
    };
    bps_of(gross, economics.operator_share_bps, "T")
}

/// Epochs a requested exit is late up to and including epoch `upto`.
fn late_epochs(deadline: Epoch, exit: Option<Epoch>, upto: Epoch) -> u64 {
    exit.map_or(upto, |e| e.min(upto)).saturating_sub(deadline)
}

/// The capped late-exit charge accumulated up to epoch `upto`.
fn late_charge(economics: &Economics, deadline: Epoch, exit: Option<Epoch>, upto: Epoch) -> Result<u128> {
    let raw = (late_epochs(deadline, exit, upto) as u128)
        .checked_mul(economics.exits.late_per_epoch_wei)
        .ok_or(ovf("late exit penalty"))?;
    Ok(raw.min(economics.exits.late_cap_wei))
}

fn check_unique<T>(items: &[T], kind: &'static str, key: impl Fn(&T) -> ValidatorIndex) -> Result<()> {
    let mut seen = BTreeSet::new();
    for it in items {
        if !seen.insert(key(it)) {
            return Err(RewardsError::DuplicateFact { kind, validator: key(it) });
        }
    }
    Ok(())
}

/// The registry, checked, with each node's counts over the frame.
struct Checked<'a> {
    operators: BTreeMap<OperatorId, Address>,
    addresses: BTreeSet<Address>,
    nodes: BTreeMap<NodeId, NodeInfo<'a>>,
    /// Each validator's nodes, sorted.
    clusters: BTreeMap<ValidatorIndex, Vec<NodeId>>,
}

/// Checks the frame's length and that it follows the previous report.
fn check_frame(economics: &Economics, input: &FrameInputs) -> Result<()> {
    let (first, last) = input.frame;
    if last < first || last - first + 1 != economics.frame_epochs {
        return Err(RewardsError::FrameLength { first, last, expected: economics.frame_epochs });
    }
    if let Some(prev) = &input.previous {
        if prev.number.checked_add(1) != Some(input.number) || prev.last_epoch.checked_add(1) != Some(first) {
            return Err(RewardsError::PreviousNotContiguous {
                prev_number: prev.number,
                prev_last: prev.last_epoch,
                number: input.number,
                expected_first: prev.last_epoch.saturating_add(1),
                first,
            });
        }
    }
    Ok(())
}

/// Checks the registry against the economics and sums the tallies into `N` and `E` per node.
fn check_registry<'a>(economics: &'a Economics, input: &FrameInputs) -> Result<Checked<'a>> {
    let last = input.frame.1;
    // Registry.
    let reg = &input.registry;
    let mut operators: BTreeMap<OperatorId, Address> = BTreeMap::new();
    let mut addresses = BTreeSet::new();
    for o in &reg.operators {
        if operators.insert(o.id, o.address).is_some() {
            return Err(RewardsError::DuplicateOperator(o.id));
        }
        if !addresses.insert(o.address) {
            return Err(RewardsError::DuplicateAddress(o.address));
        }
    }
    let mut nodes: BTreeMap<NodeId, NodeInfo> = BTreeMap::new();
    for n in &reg.nodes {
        let ty = economics
            .node_type(&n.node_type)
            .ok_or_else(|| RewardsError::UnknownNodeType { node: n.id, node_type: n.node_type.clone() })?;
        if !operators.contains_key(&n.operator) {
            return Err(RewardsError::UnknownOperator { node: n.id, operator: n.operator });
        }
        if n.registered_epoch > last {
            return Err(RewardsError::NodeFromFuture { node: n.id, registered: n.registered_epoch, last });
        }
        let info = NodeInfo { operator: n.operator, ty, validators: 0, duties: 0, included: 0, timely: 0 };
        if nodes.insert(n.id, info).is_some() {
            return Err(RewardsError::DuplicateNode(n.id));
        }
    }
    let mut clusters: BTreeMap<ValidatorIndex, Vec<NodeId>> = BTreeMap::new();
    for v in &reg.validators {
        let mut cluster = v.nodes.clone();
        cluster.sort_unstable();
        for w in cluster.windows(2) {
            if w[0] == w[1] {
                return Err(RewardsError::NodeTwiceInCluster { validator: v.index, node: w[0] });
            }
        }
        let mut ty: Option<&NodeType> = None;
        for id in &cluster {
            let node = nodes.get(id).ok_or(RewardsError::ValidatorOfUnknownNode { validator: v.index, node: *id })?;
            match ty {
                Some(t) if t.name != node.ty.name => {
                    return Err(RewardsError::MixedCluster {
                        validator: v.index,
                        a: t.name.clone(),
                        b: node.ty.name.clone(),
                    })
                }
                _ => ty = Some(node.ty),
            }
        }
        let Some(ty) = ty else {
            return Err(RewardsError::ClusterSize { validator: v.index, node_type: "?".into(), expected: 1, got: 0 });
        };
        if cluster.len() != ty.cluster_size as usize {
            return Err(RewardsError::ClusterSize {
                validator: v.index,
                node_type: ty.name.clone(),
                expected: ty.cluster_size,
                got: cluster.len(),
            });
        }
        if clusters.insert(v.index, cluster).is_some() {
            return Err(RewardsError::DuplicateValidator(v.index));
        }
    }

    // Tallies: N and E per node.
    let mut sums: BTreeMap<ValidatorIndex, [u64; 3]> = BTreeMap::new();
    for t in &input.tallies {
        if !clusters.contains_key(&t.validator) {
            return Err(RewardsError::TallyForUnknownValidator(t.validator));
        }
        let s = sums.entry(t.validator).or_default();
        // u32 summands into u64: cannot overflow for any realistic list, but stay checked.
        for (acc, x) in s.iter_mut().zip([t.duties, t.included, t.timely]) {
            *acc = acc.checked_add(x as u64).ok_or(ovf("tally sums"))?;
        }
    }
    for (&validator, &[duties, included, timely]) in &sums {
        if duties > economics.frame_epochs || included > duties || timely > included {
            return Err(RewardsError::BadTally {
                validator,
                duties,
                included,
                timely,
                frame_epochs: economics.frame_epochs,
            });
        }
    }
    for (validator, cluster) in &clusters {
        let [duties, included, timely] = sums.get(validator).copied().unwrap_or_default();
        for id in cluster {
            // Present: clusters were checked against `nodes` above.
            if let Some(n) = nodes.get_mut(id) {
                n.validators += 1;
                n.duties += duties;
                n.included += included;
                n.timely += timely;
            }
        }
    }

    Ok(Checked { operators, addresses, nodes, clusters })
}

/// `T`, and each node's weight `F * N`, their sum `A` and its base `T * F * N / A`.
struct Shares {
    t_wei: u128,
    a: u128,
    weights: BTreeMap<NodeId, u128>,
    bases: BTreeMap<NodeId, u128>,
}

impl Shares {
    fn base_of(&self, id: &NodeId) -> u128 {
        self.bases.get(id).copied().unwrap_or(0)
    }
}

/// Computes `T`, `A` and the bases.
fn shares(economics: &Economics, input: &FrameInputs, nodes: &BTreeMap<NodeId, NodeInfo>) -> Result<Shares> {
    let t_wei = operator_rewards(economics, input.source.validator_rewards_wei, input.source.execution_fees_wei)?;
    let mut weights: BTreeMap<NodeId, u128> = BTreeMap::new();
    let mut a = 0u128;
    for (&id, n) in nodes {
        let w = (n.ty.factor_bps as u128).checked_mul(n.included as u128).ok_or(ovf("F * N"))?;
        a = a.checked_add(w).ok_or(ovf("A"))?;
        weights.insert(id, w);
    }
    let mut bases: BTreeMap<NodeId, u128> = BTreeMap::new();
    for (&id, &w) in &weights {
        let base = if a == 0 { 0 } else { mul_div(t_wei, w, a, "T * F * N")? };
        bases.insert(id, base);
    }
    Ok(Shares { t_wei, a, weights, bases })
}

/// What the frame's facts do, as they are applied: each node's penalties and adjustments,
/// and each operator's score events.
struct Effects<'n, 'a> {
    nodes: &'n BTreeMap<NodeId, NodeInfo<'a>>,
    per_node: BTreeMap<NodeId, NodeEffects>,
    events: BTreeMap<OperatorId, OperatorEvents>,
}

impl<'n, 'a> Effects<'n, 'a> {
    fn new(nodes: &'n BTreeMap<NodeId, NodeInfo<'a>>) -> Self {
        let per_node = nodes.keys().map(|&id| (id, NodeEffects::default())).collect();
        Effects { nodes, per_node, events: BTreeMap::new() }
    }

    fn penalize(&mut self, node: NodeId, penalty: Penalty) {
        self.per_node.get_mut(&node).expect("every node has effects").penalties.push(penalty);
    }

    /// Counts `validator` in the event set `set` picks of `node`'s operator.
    fn record(&mut self, node: NodeId, set: fn(&mut OperatorEvents) -> &mut BTreeSet<ValidatorIndex>, validator: u64) {
        if let Some(n) = self.nodes.get(&node) {
            set(self.events.entry(n.operator).or_default()).insert(validator);
        }
    }
}

/// The nodes a fact's validator runs on, or the error naming the fact.
fn cluster_of<'c>(
    clusters: &'c BTreeMap<ValidatorIndex, Vec<NodeId>>,
    kind: &'static str,
    validator: ValidatorIndex,
) -> Result<&'c Vec<NodeId>> {
    clusters.get(&validator).ok_or(RewardsError::FactForUnknownValidator { kind, validator })
}

/// A performance penalty on each node whose attestation rate falls in a penalized band.
fn performance_penalties(economics: &Economics, shares: &Shares, effects: &mut Effects) -> Result<()> {
    for (&id, n) in effects.nodes {
        let rate_bps = rate_bps(n.included, n.duties);
        if let Some(band) = economics.performance_band(rate_bps) {
            let base = shares.base_of(&id);
            if band.penalty_bps > 0 && base > 0 {
                effects.penalize(
                    id,
                    Penalty {
                        kind: PenaltyKind::Performance,
                        validator: None,
                        amount_wei: bps_of(base, band.penalty_bps, "performance penalty")?,
                        reason: format!(
                            "attestation rate {rate_bps} bps is in the band from {} bps: {} bps of base",
                            band.min_rate_bps, band.penalty_bps
                        ),
                    },
                );
            }
        }
    }
    Ok(())
}

/// A fixed fine plus a share of each node's base, charged to every node of a validator's
/// cluster: the rule slashings and forced exits share.
struct Fine {
    kind: PenaltyKind,
    fixed_wei: u128,
    base_bps: u32,
    /// Names the amount in an overflow error.
    what: &'static str,
}

impl Fine {
    fn charge(
        &self,
        cluster: &[NodeId],
        validator: ValidatorIndex,
        reason: &str,
        shares: &Shares,
        effects: &mut Effects,
        event: fn(&mut OperatorEvents) -> &mut BTreeSet<ValidatorIndex>,
    ) -> Result<()> {
        for id in cluster {
            let share = bps_of(shares.base_of(id), self.base_bps, self.what)?;
            let amount_wei = self.fixed_wei.checked_add(share).ok_or(ovf(self.what))?;
            effects.penalize(
                *id,
                Penalty { kind: self.kind, validator: Some(validator), amount_wei, reason: reason.to_string() },
            );
            effects.record(*id, event, validator);
        }
        Ok(())
    }
}

/// A slashing penalty on every node of each slashed validator.
fn slashing_penalties(
    economics: &Economics,
    input: &FrameInputs,
    clusters: &BTreeMap<ValidatorIndex, Vec<NodeId>>,
    shares: &Shares,
    effects: &mut Effects,
) -> Result<()> {
    let (first, last) = input.frame;
    for s in &input.facts.slashings {
        let cluster = cluster_of(clusters, "slashing", s.validator)?;
        if s.epoch > last {
            return Err(RewardsError::FactOutsideFrame {
                kind: "slashing",
                validator: s.validator,
                epoch: s.epoch,
                first,
                last,
            });
        }
        let reason = format!(
            "validator {} slashed, final at epoch {}: {} wei + {} bps of base",
            s.validator, s.epoch, economics.slashing.fixed_wei, economics.slashing.base_bps
        );
        let fine = Fine {
            kind: PenaltyKind::Slashing,
            fixed_wei: economics.slashing.fixed_wei,
            base_bps: economics.slashing.base_bps,
            what: "slashing penalty",
        };
        fine.charge(cluster, s.validator, &reason, shares, effects, |e| &mut e.slashed)?;
    }
    Ok(())
}

/// For each requested exit: the part of its late charge that falls in this frame, on
/// every node of the validator; an exit made by its deadline in this frame counts as timely.
/// With a grace end `g`, late epochs are charged up to `g` only, and an exit not made by `g`
/// (no exit epoch, or one after `g`) pays the rest of the cap, `cap - charge(g)`, from the
/// bond in the frame holding `g + 1`: over its whole life the exit pays the cap exactly.
fn late_exit_penalties(
    economics: &Economics,
    input: &FrameInputs,
    clusters: &BTreeMap<ValidatorIndex, Vec<NodeId>>,
    effects: &mut Effects,
) -> Result<()> {
    let (first, last) = input.frame;
    for r in &input.facts.requested_exits {
        let cluster = cluster_of(clusters, "requested exit", r.validator)?;
        // Charged epochs stop at the grace end; the frame's late epochs (for the score and the
        // reason) do not.
        let charged_upto = |x: Epoch| r.grace_end_epoch.map_or(x, |g| x.min(g));
        let charge = |x: Epoch| late_charge(economics, r.deadline_epoch, r.exit_epoch, charged_upto(x));
        let before = if first == 0 { 0 } else { charge(first - 1)? };
        let upto = charge(last)?;
        let late_in_frame = late_epochs(r.deadline_epoch, r.exit_epoch, last)
            - if first == 0 { 0 } else { late_epochs(r.deadline_epoch, r.exit_epoch, first - 1) };
        let timely = matches!(r.exit_epoch, Some(e) if e <= r.deadline_epoch && (first..=last).contains(&e));
        let never = match r.grace_end_epoch {
            Some(g) => {
                let becomes_never = g.checked_add(1).is_some_and(|n| (first..=last).contains(&n));
                becomes_never && r.exit_epoch.is_none_or(|e| e > g)
            }
            None => false,
        };
        let rest_of_cap = if never { economics.exits.late_cap_wei - charge(last)? } else { 0 };
        let exit = r.exit_epoch.map_or("no exit yet".to_string(), |e| format!("exit epoch {e}"));
        for id in cluster {
            if late_in_frame > 0 {
                effects.penalize(
                    *id,
                    Penalty {
                        kind: PenaltyKind::LateExit,
                        validator: Some(r.validator),
                        amount_wei: upto - before,
                        reason: format!(
                            "validator {} exit requested by epoch {}, {exit}: {late_in_frame} epochs late in this frame at {} wei each, {} wei cap per exit",
                            r.validator, r.deadline_epoch, economics.exits.late_per_epoch_wei, economics.exits.late_cap_wei
                        ),
                    },
                );
                effects.record(*id, |e| &mut e.late, r.validator);
            }
            if never {
                let g = r.grace_end_epoch.unwrap_or_default();
                effects.penalize(
                    *id,
                    Penalty {
                        kind: PenaltyKind::NeverExit,
                        validator: Some(r.validator),
                        amount_wei: rest_of_cap,
                        reason: format!(
                            "validator {} exit requested by epoch {}, {exit}: not exited by the end of its grace at epoch {g}; the rest of the {} wei cap is taken from the bond",
                            r.validator, r.deadline_epoch, economics.exits.late_cap_wei
                        ),
                    },
                );
                effects.record(*id, |e| &mut e.late, r.validator);
            }
            if timely {
                effects.record(*id, |e| &mut e.timely, r.validator);
            }
        }
    }
    Ok(())
}

/// A forced exit penalty on every node of each validator forced out in this frame.
fn forced_exit_penalties(
    economics: &Economics,
    input: &FrameInputs,
    clusters: &BTreeMap<ValidatorIndex, Vec<NodeId>>,
    shares: &Shares,
    effects: &mut Effects,
) -> Result<()> {
    let (first, last) = input.frame;
    for f in &input.facts.forced_exits {
        let cluster = cluster_of(clusters, "forced exit", f.validator)?;
        if !(first..=last).contains(&f.epoch) {
            return Err(RewardsError::FactOutsideFrame {
                kind: "forced exit",
                validator: f.validator,
                epoch: f.epoch,
                first,
                last,
            });
        }
        let reason = format!(
            "validator {} forced to exit at epoch {}: {} wei + {} bps of base",
            f.validator, f.epoch, economics.exits.forced_fixed_wei, economics.exits.forced_base_bps
        );
        let fine = Fine {
            kind: PenaltyKind::ForcedExit,
            fixed_wei: economics.exits.forced_fixed_wei,
            base_bps: economics.exits.forced_base_bps,
            what: "forced exit penalty",
        };
        fine.charge(cluster, f.validator, &reason, shares, effects, |e| &mut e.forced)?;
    }
    Ok(())
}

/// Applies the frame's facts, in a fixed order: performance, slashings, late exits,
/// (voluntary exits only checked), forced exits.
fn penalties(
    economics: &Economics,
    input: &FrameInputs,
    clusters: &BTreeMap<ValidatorIndex, Vec<NodeId>>,
    shares: &Shares,
    effects: &mut Effects,
) -> Result<()> {
    performance_penalties(economics, shares, effects)?;
    let facts = &input.facts;
    check_unique(&facts.slashings, "slashing", |s| s.validator)?;
    check_unique(&facts.requested_exits, "requested exit", |s| s.validator)?;
    check_unique(&facts.voluntary_exits, "voluntary exit", |s| s.validator)?;
    check_unique(&facts.forced_exits, "forced exit", |s| s.validator)?;
    slashing_penalties(economics, input, clusters, shares, effects)?;
    late_exit_penalties(economics, input, clusters, effects)?;
    for v in &facts.voluntary_exits {
        cluster_of(clusters, "voluntary exit", v.validator)?;
    }
    forced_exit_penalties(economics, input, clusters, shares, effects)
}

/// SSV price settlement: O = S * (agreed - observed) / agreed, rounded toward zero.
fn ssv_settlement(input: &FrameInputs, shares: &Shares, effects: &mut Effects) -> Result<()> {
    let price = input.ssv_price;
    if price.agreed_wei_per_ssv == 0 && effects.nodes.values().any(|n| n.ty.ssv_portion_bps > 0) {
        return Err(RewardsError::ZeroSsvPrice);
    }
    for (&id, n) in effects.nodes {
        let base = shares.base_of(&id);
        if n.ty.ssv_portion_bps == 0 || base == 0 || price.agreed_wei_per_ssv == price.observed_wei_per_ssv {
            continue;
        }
        let portion = bps_of(base, n.ty.ssv_portion_bps, "SSV portion")?;
        let diff = price.agreed_wei_per_ssv.abs_diff(price.observed_wei_per_ssv);
        let magnitude = mul_div(portion, diff, price.agreed_wei_per_ssv, "SSV settlement")?;
        let magnitude = i128::try_from(magnitude).map_err(|_| ovf("SSV settlement"))?;
        let amount = if price.observed_wei_per_ssv < price.agreed_wei_per_ssv { magnitude } else { -magnitude };
        if amount != 0 {
            effects.per_node.get_mut(&id).expect("every node has effects").adjustments.push(AdjustmentLine {
                kind: AdjustmentKind::SsvPrice,
                amount_wei: amount,
                reason: format!(
                    "{portion} wei paid in SSV at the agreed {} wei/SSV, observed {} wei/SSV",
                    price.agreed_wei_per_ssv, price.observed_wei_per_ssv
                ),
            });
        }
    }
    Ok(())
}

/// The adjustments the inputs list explicitly.
fn explicit_adjustments(economics: &Economics, input: &FrameInputs, effects: &mut Effects) -> Result<()> {
    let mut moved: u128 = 0;
    for adj in &input.adjustments {
        moved = moved.saturating_add(adj.amount_wei.unsigned_abs());
    }
    if moved > economics.adjustment_cap_wei {
        return Err(RewardsError::AdjustmentsAboveCap { total_wei: moved, cap_wei: economics.adjustment_cap_wei });
    }
    for adj in &input.adjustments {
        let e = effects.per_node.get_mut(&adj.node).ok_or(RewardsError::AdjustmentForUnknownNode(adj.node))?;
        e.adjustments.push(AdjustmentLine {
            kind: AdjustmentKind::Explicit,
            amount_wei: adj.amount_wei,
            reason: adj.reason.clone(),
        });
    }
    Ok(())
}

/// Each node's report (base, sorted penalties and adjustments, `R`), grouped by operator.
fn node_reports(
    operators: &BTreeMap<OperatorId, Address>,
    nodes: &BTreeMap<NodeId, NodeInfo>,
    shares: &Shares,
    mut effects: BTreeMap<NodeId, NodeEffects>,
) -> Result<BTreeMap<OperatorId, Vec<NodeReport>>> {
    let mut by_operator: BTreeMap<OperatorId, Vec<NodeReport>> = operators.keys().map(|&id| (id, Vec::new())).collect();
    for (&id, n) in nodes {
        let mut e = effects.remove(&id).unwrap_or_default();
        e.penalties.sort();
        e.adjustments.sort();
        let base = shares.base_of(&id);
        let mut r = i128::try_from(base).map_err(|_| ovf("node reward"))?;
        // A line charged to the bond is not netted into R: it reaches the bond penalty as is.
        for p in e.penalties.iter().filter(|p| !p.kind.charged_to_bond()) {
            r = i128::try_from(p.amount_wei).ok().and_then(|p| r.checked_sub(p)).ok_or(ovf("node reward"))?;
        }
        for adj in &e.adjustments {
            r = r.checked_add(adj.amount_wei).ok_or(ovf("node reward"))?;
        }
        by_operator.entry(n.operator).or_default().push(NodeReport {
            id,
            node_type: n.ty.name.clone(),
            validators: n.validators,
            duties: n.duties,
            included: n.included,
            timely: n.timely,
            rate_bps: rate_bps(n.included, n.duties),
            weight: shares.weights.get(&id).copied().unwrap_or(0),
            base_wei: base,
            penalties: e.penalties,
            adjustments: e.adjustments,
            reward_wei: r,
        });
    }
    Ok(by_operator)
}

/// Computes the report of one frame. Pure and deterministic: the same inputs, in
/// any order, give the same report.
pub fn compute_report(economics: &Economics, input: &FrameInputs) -> Result<RewardsReport> {
    economics.validate()?;
    check_frame(economics, input)?;
    let Checked { operators, addresses, nodes, clusters } = check_registry(economics, input)?;
    let shares = shares(economics, input, &nodes)?;
    let mut effects = Effects::new(&nodes);
    penalties(economics, input, &clusters, &shares, &mut effects)?;
    ssv_settlement(input, &shares, &mut effects)?;
    explicit_adjustments(economics, input, &mut effects)?;
    let Effects { per_node, events, .. } = effects;
    let by_operator = node_reports(&operators, &nodes, &shares, per_node)?;
    let reports = operator_reports(economics, input, &operators, &addresses, by_operator, events)?;
    let totals = totals(shares.t_wei, shares.a, &reports)?;
    let report = RewardsReport {
        number: input.number,
        frame: input.frame,
        totals,
        operators: reports,
        frame_log_hash: input.frame_log_hash,
    };
    report.check().map_err(RewardsError::Internal)?;
    Ok(report)
}

/// Nets each operator's node rewards into a claim or a bond penalty and scores it.
/// Operators of the previous report that left the registry are carried so they can still claim.
fn operator_reports(
    economics: &Economics,
    input: &FrameInputs,
    operators: &BTreeMap<OperatorId, Address>,
    addresses: &BTreeSet<Address>,
    by_operator: BTreeMap<OperatorId, Vec<NodeReport>>,
    mut events: BTreeMap<OperatorId, OperatorEvents>,
) -> Result<Vec<OperatorReport>> {
    let previous: BTreeMap<Address, _> = match &input.previous {
        Some(p) => {
            let mut m = BTreeMap::new();
            for o in &p.operators {
                if m.insert(o.address, o).is_some() {
                    return Err(RewardsError::DuplicateAddress(o.address));
                }
            }
            m
        }
        None => BTreeMap::new(),
    };
    let mut reports: Vec<OperatorReport> = Vec::new();
    for (id, node_reports) in by_operator {
        let address = operators[&id];
        let prev = previous.get(&address);
        let mut rewards = 0i128;
        let mut taken = 0u128;
        let (mut duties, mut included) = (0u64, 0u64);
        let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
        for n in &node_reports {
            rewards = rewards.checked_add(n.reward_wei).ok_or(ovf("operator rewards"))?;
            for p in &n.penalties {
                taken = taken.checked_add(p.amount_wei).ok_or(ovf("operator penalties"))?;
            }
            for a in n.adjustments.iter().filter(|a| a.amount_wei < 0) {
                taken = taken.checked_add(a.amount_wei.unsigned_abs()).ok_or(ovf("operator penalties"))?;
            }
            duties = duties.checked_add(n.duties).ok_or(ovf("operator duties"))?;
            included = included.checked_add(n.included).ok_or(ovf("operator duties"))?;
            *by_type.entry(n.node_type.clone()).or_default() += 1;
        }
        let to_bond = node_reports
            .iter()
            .flat_map(|n| &n.penalties)
            .filter(|p| p.kind.charged_to_bond())
            .try_fold(0u128, |sum, p| sum.checked_add(p.amount_wei))
            .ok_or(ovf("bond penalty"))?;
        let epoch_amount = rewards.max(0) as u128;
        // What the netted rewards do not cover, plus what is charged to the bond directly.
        let bond_penalty = rewards.min(0).unsigned_abs().checked_add(to_bond).ok_or(ovf("bond penalty"))?;
        let ev = events.remove(&id).unwrap_or_default();
        let sc = score(
            &economics.score,
            prev.map_or(economics.score.initial_bps, |p| p.score_bps),
            prev.map_or(0, |p| p.frames_run),
            duties,
            included,
            ScoreEvents {
                timely_exits: ev.timely.len() as u64,
                late_exits: ev.late.len() as u64,
                slashings: ev.slashed.len() as u64,
                forced_exits: ev.forced.len() as u64,
            },
        );
        let bond = bond_requirement(economics, &by_type, sc.score_bps)?;
        reports.push(OperatorReport {
            address,
            id: Some(id),
            nodes: node_reports,
            rewards_wei: rewards,
            epoch_amount_wei: epoch_amount,
            bond_penalty_wei: bond_penalty,
            // taken >= bond_penalty: a negative sum needs at least that much taken.
            retained_wei: taken - bond_penalty,
            cumulative_wei: prev.map_or(0, |p| p.cumulative_wei).checked_add(epoch_amount).ok_or(ovf("cumulative"))?,
            cumulative_bond_penalty_wei: prev
                .map_or(0, |p| p.cumulative_bond_penalty_wei)
                .checked_add(bond_penalty)
                .ok_or(ovf("cumulative bond penalty"))?,
            score: sc,
            bond_requirement_wei: bond,
        });
    }
    for (address, p) in &previous {
        if addresses.contains(address) {
            continue;
        }
        let sc = score(&economics.score, p.score_bps, p.frames_run, 0, 0, ScoreEvents::default());
        reports.push(OperatorReport {
            address: *address,
            id: None,
            nodes: Vec::new(),
            rewards_wei: 0,
            epoch_amount_wei: 0,
            bond_penalty_wei: 0,
            retained_wei: 0,
            cumulative_wei: p.cumulative_wei,
            cumulative_bond_penalty_wei: p.cumulative_bond_penalty_wei,
            score: sc,
            bond_requirement_wei: 0,
        });
    }
    reports.sort_by_key(|o| o.address);

    Ok(reports)
}

/// `floor(included * 10000 / duties)`; a node without duties missed nothing.
fn rate_bps(included: u64, duties: u64) -> u32 {
    if duties == 0 {
        BPS
    } else {
        (included.min(duties) as u128 * BPS as u128 / duties as u128) as u32
    }
}

fn totals(t_wei: u128, a: u128, operators: &[OperatorReport]) -> Result<Totals> {
    let add = |x: &mut u128, y: u128| -> Result<()> {
        *x = x.checked_add(y).ok_or(ovf("totals"))?;
        Ok(())
    };
    let mut t = Totals {
        t_wei,
        weighted_attestations: a,
        bases_wei: 0,
        penalties_wei: 0,
        positive_adjustments_wei: 0,
        negative_adjustments_wei: 0,
        paid_wei: 0,
        retained_wei: 0,
        bond_penalties_wei: 0,
        undistributed_wei: 0,
    };
    for o in operators {
        for n in &o.nodes {
            add(&mut t.bases_wei, n.base_wei)?;
            for p in &n.penalties {
                add(&mut t.penalties_wei, p.amount_wei)?;
            }
            for adj in &n.adjustments {
                if adj.amount_wei >= 0 {
                    add(&mut t.positive_adjustments_wei, adj.amount_wei as u128)?;
                } else {
                    add(&mut t.negative_adjustments_wei, adj.amount_wei.unsigned_abs())?;
                }
            }
        }
        add(&mut t.paid_wei, o.epoch_amount_wei)?;
        add(&mut t.retained_wei, o.retained_wei)?;
        add(&mut t.bond_penalties_wei, o.bond_penalty_wei)?;
    }
    // Each base is floor(T * w / A) and the weights sum to A, so the bases never exceed T.
    t.undistributed_wei = t_wei.checked_sub(t.bases_wei).ok_or(ovf("undistributed"))?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_exit_charge_is_capped_across_frames() {
        let mut e = Economics::mainnet_default();
        e.exits.late_per_epoch_wei = 10;
        e.exits.late_cap_wei = 35;
        assert_eq!(late_epochs(100, None, 99), 0);
        assert_eq!(late_epochs(100, None, 103), 3);
        assert_eq!(late_epochs(100, Some(102), 200), 2);
        assert_eq!(late_charge(&e, 100, None, 103).unwrap(), 30);
        assert_eq!(late_charge(&e, 100, None, 110).unwrap(), 35);
        assert_eq!(late_charge(&e, 100, Some(90), 110).unwrap(), 0);
    }

    #[test]
    fn t_floors_and_ignores_negative_growth() {
        let e = Economics::mainnet_default();
        assert_eq!(operator_rewards(&e, 999, 0).unwrap(), 99);
        assert_eq!(operator_rewards(&e, -500, 300).unwrap(), 0);
        assert_eq!(operator_rewards(&e, -500, 1500).unwrap(), 100);
        assert!(operator_rewards(&e, i128::MAX, u128::MAX).is_err());
    }
}
