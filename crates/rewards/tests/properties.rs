//! Invariants of the engine over random frames: wei accounting, order independence,
//! no negative claims, score range, monotonic bases, and no panics on bad input.

use claystack_rewards::*;
use proptest::prelude::*;

const FRAME: u64 = 10;

fn economics() -> Economics {
    let mut e = Economics::mainnet_default();
    e.frame_epochs = FRAME;
    for t in &mut e.node_types {
        if t.name == "obol" {
            t.cluster_size = 2;
        }
        if t.name == "ssv" {
            t.cluster_size = 3;
        }
    }
    e.slashing.fixed_wei = 1_000;
    e.exits.late_per_epoch_wei = 100;
    e.exits.late_cap_wei = 550;
    e.exits.forced_fixed_wei = 700;
    e.exits.forced_base_bps = 2500;
    e
}

#[derive(Debug, Clone)]
struct Raw {
    operators: u8,
    nodes: Vec<(u8, u8)>,
    validators: Vec<(u8, u8, u8, u16, u16)>,
    slashed: Vec<u8>,
    late: Vec<(u8, u8, Option<u8>)>,
    forced: Vec<(u8, u8)>,
    adjustments: Vec<(u8, i64)>,
    cl: i64,
    el: u64,
    agreed: u64,
    observed: u64,
    previous: Option<Vec<(u32, u16, u8)>>,
}

fn raw() -> impl Strategy<Value = Raw> {
    (
        (1u8..5, prop::collection::vec((any::<u8>(), any::<u8>()), 1..14)),
        prop::collection::vec((any::<u8>(), any::<u8>(), 0u8..=FRAME as u8, 0u16..=1000, 0u16..=1000), 0..24),
        (
            prop::collection::vec(any::<u8>(), 0..3),
            prop::collection::vec((any::<u8>(), 95u8..115, prop::option::of(95u8..115)), 0..4),
            prop::collection::vec((any::<u8>(), 100u8..110), 0..3),
        ),
        prop::collection::vec((any::<u8>(), -2_000_000i64..2_000_000), 0..4),
        (-1_000_000_000i64..1_000_000_000_000, 0u64..1_000_000_000_000),
        (1u64..10_000_000, 0u64..20_000_000),
        prop::option::of(prop::collection::vec((any::<u32>(), 0u16..=10_000, 0u8..60), 0..6)),
    )
        .prop_map(
            |(
                (operators, nodes),
                validators,
                (slashed, late, forced),
                adjustments,
                (cl, el),
                (agreed, observed),
                previous,
            )| {
                Raw {
                    operators,
                    nodes,
                    validators,
                    slashed,
                    late,
                    forced,
                    adjustments,
                    cl,
                    el,
                    agreed,
                    observed,
                    previous,
                }
            },
        )
}

const TYPES: [&str; 3] = ["ssv", "obol", "direct"];

fn address(i: u64) -> Address {
    let mut a = [0u8; 20];
    // Not monotonic in `i`, so address order differs from id order.
    a[0] = (i as u8).wrapping_mul(97);
    a[19] = i as u8;
    Address(a)
}

/// Builds valid inputs from the raw numbers.
fn build(r: &Raw) -> FrameInputs {
    let e = economics();
    let operators: Vec<Operator> =
        (0..r.operators as u64).map(|i| Operator { id: 10 + i, address: address(i) }).collect();
    let nodes: Vec<Node> = r
        .nodes
        .iter()
        .enumerate()
        .map(|(i, &(op, ty))| Node {
            id: 1000 - i as u64,
            operator: 10 + (op % r.operators) as u64,
            node_type: TYPES[ty as usize % 3].to_string(),
            registered_epoch: 5,
        })
        .collect();
    let mut validators = Vec::new();
    let mut tallies = Vec::new();
    for (i, &(ty, start, duties, inc, tim)) in r.validators.iter().enumerate() {
        let t = &e.node_types[ty as usize % 3];
        let of_type: Vec<u64> = nodes.iter().filter(|n| n.node_type == t.name).map(|n| n.id).collect();
        if of_type.len() < t.cluster_size as usize {
            continue;
        }
        let cluster =
            (0..t.cluster_size as usize).map(|k| of_type[(start as usize + k) % of_type.len()]).collect::<Vec<_>>();
        let index = 5000 + 7 * i as u64;
        validators.push(Validator { index, nodes: cluster });
        let included = duties as u32 * inc as u32 / 1000;
        let timely = included * tim as u32 / 1000;
        // Split the tally in two entries to exercise summing.
        let (d1, i1, t1) = (duties as u32 / 2, included / 2, timely / 2);
        tallies.push(Tally { validator: index, duties: d1, included: i1.min(d1), timely: t1.min(i1.min(d1)) });
        let (i0, t0) = (i1.min(d1), t1.min(i1.min(d1)));
        tallies.push(Tally {
            validator: index,
            duties: duties as u32 - d1,
            included: included - i0,
            timely: timely - t0,
        });
    }
    let pick = |sel: u8| validators.get(sel as usize % validators.len().max(1)).map(|v| v.index);
    let mut facts = Facts::default();
    for &s in &r.slashed {
        if let Some(v) = pick(s) {
            if !facts.slashings.iter().any(|x| x.validator == v) {
                facts.slashings.push(Slashing { validator: v, epoch: 104 });
            }
        }
    }
    for &(s, deadline, exit) in &r.late {
        if let Some(v) = pick(s) {
            if !facts.requested_exits.iter().any(|x| x.validator == v) {
                facts.requested_exits.push(RequestedExit {
                    validator: v,
                    deadline_epoch: deadline as u64,
                    exit_epoch: exit.map(u64::from),
                    grace_end_epoch: None,
                });
            }
        }
    }
    for &(s, epoch) in &r.forced {
        if let Some(v) = pick(s) {
            if !facts.forced_exits.iter().any(|x| x.validator == v) {
                facts.forced_exits.push(ExitEvent { validator: v, epoch: epoch as u64 });
            }
        }
    }
    let adjustments = r
        .adjustments
        .iter()
        .map(|&(n, amount)| Adjustment {
            node: nodes[n as usize % nodes.len()].id,
            amount_wei: amount as i128,
            reason: format!("test {amount}"),
        })
        .collect();
    let previous = r.previous.as_ref().map(|ops| Carry {
        number: 6,
        last_epoch: 99,
        operators: ops
            .iter()
            .enumerate()
            .map(|(i, &(cum, score, frames))| OperatorCarry {
                // Some previous operators are still registered, some are gone.
                address: address(i as u64 * 2),
                cumulative_wei: cum as u128,
                cumulative_bond_penalty_wei: cum as u128 / 3,
                score_bps: score as u32,
                frames_run: frames as u64,
            })
            .collect(),
    });
    FrameInputs {
        number: 7,
        frame: (100, 100 + FRAME - 1),
        registry: Registry { operators, nodes, validators },
        tallies,
        facts,
        source: RewardsSource { validator_rewards_wei: r.cl as i128, execution_fees_wei: r.el as u128 },
        ssv_price: SsvPrice { agreed_wei_per_ssv: r.agreed as u128, observed_wei_per_ssv: r.observed as u128 },
        adjustments,
        previous,
        frame_log_hash: None,
    }
}

/// Fisher-Yates with a xorshift stream: a reproducible shuffle from a seed.
fn shuffle<T>(v: &mut [T], seed: &mut u64) {
    for i in (1..v.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        v.swap(i, (*seed % (i as u64 + 1)) as usize);
    }
}

fn shuffled(input: &FrameInputs, economics: &Economics, seed: u64) -> (FrameInputs, Economics) {
    let mut s = seed | 1;
    let mut i = input.clone();
    shuffle(&mut i.registry.operators, &mut s);
    shuffle(&mut i.registry.nodes, &mut s);
    shuffle(&mut i.registry.validators, &mut s);
    for v in &mut i.registry.validators {
        shuffle(&mut v.nodes, &mut s);
    }
    shuffle(&mut i.tallies, &mut s);
    shuffle(&mut i.facts.slashings, &mut s);
    shuffle(&mut i.facts.requested_exits, &mut s);
    shuffle(&mut i.facts.forced_exits, &mut s);
    shuffle(&mut i.adjustments, &mut s);
    if let Some(p) = &mut i.previous {
        shuffle(&mut p.operators, &mut s);
    }
    let mut e = economics.clone();
    shuffle(&mut e.node_types, &mut s);
    shuffle(&mut e.performance_bands, &mut s);
    shuffle(&mut e.bond_discount_bands, &mut s);
    (i, e)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn every_wei_is_accounted(r in raw()) {
        let e = economics();
        let input = build(&r);
        let report = compute_report(&e, &input).unwrap();
        let t = &report.totals;
        prop_assert!(report.check().is_ok());
        prop_assert!(t.paid_wei <= t.t_wei + t.positive_adjustments_wei);
        prop_assert_eq!(t.paid_wei + t.undistributed_wei + t.retained_wei, t.t_wei + t.positive_adjustments_wei);
        prop_assert_eq!(t.retained_wei + t.bond_penalties_wei, t.penalties_wei + t.negative_adjustments_wei);
        prop_assert_eq!(t.bases_wei + t.undistributed_wei, t.t_wei);
        // Flooring loses less than one wei per node.
        if t.weighted_attestations > 0 {
            prop_assert!(t.undistributed_wei < input.registry.nodes.len() as u128);
        }
    }

    #[test]
    fn input_order_does_not_matter(r in raw(), seed in any::<u64>()) {
        let e = economics();
        let input = build(&r);
        let a = compute_report(&e, &input).unwrap();
        let (input2, e2) = shuffled(&input, &e, seed);
        let b = compute_report(&e2, &input2).unwrap();
        prop_assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
    }

    #[test]
    fn no_negative_claim_and_score_in_range(r in raw()) {
        let e = economics();
        let input = build(&r);
        let report = compute_report(&e, &input).unwrap();
        let leaves = report.operator_leaves();
        prop_assert!(leaves.windows(2).all(|w| w[0].operator < w[1].operator));
        prop_assert!(report.operators.windows(2).all(|w| w[0].address < w[1].address));
        for o in &report.operators {
            prop_assert!(o.nodes.windows(2).all(|w| w[0].id < w[1].id));
            prop_assert!(o.score.score_bps <= 10_000);
            prop_assert_eq!(o.epoch_amount_wei as i128 - o.bond_penalty_wei as i128, o.rewards_wei);
            prop_assert!(o.epoch_amount_wei == 0 || o.bond_penalty_wei == 0);
            let prev = input.previous.as_ref()
                .and_then(|p| p.operators.iter().find(|p| p.address == o.address))
                .map_or(0, |p| p.cumulative_wei);
            prop_assert_eq!(o.cumulative_wei, prev + o.epoch_amount_wei);
        }
        // Every previous operator keeps its leaf.
        if let Some(p) = &input.previous {
            for po in &p.operators {
                prop_assert!(leaves.iter().any(|l| l.operator == po.address.0));
            }
        }
    }

    #[test]
    fn more_included_attestations_never_lower_a_base(r in raw(), pick in any::<u8>()) {
        let e = economics();
        let input = build(&r);
        let mut more = input.clone();
        let Some(t) = more.tallies.iter_mut().filter(|t| t.included < t.duties).nth(pick as usize % 4) else {
            return Ok(());
        };
        t.included += 1;
        let v = t.validator;
        let before = compute_report(&e, &input).unwrap();
        let after = compute_report(&e, &more).unwrap();
        let cluster = &input.registry.validators.iter().find(|x| x.index == v).unwrap().nodes;
        let base = |rep: &RewardsReport, id: u64| {
            rep.operators.iter().flat_map(|o| &o.nodes).find(|n| n.id == id).unwrap().base_wei
        };
        for &id in cluster {
            prop_assert!(base(&after, id) >= base(&before, id), "node {}", id);
        }
    }
}

/// Inputs with arbitrary (often dangling) references and extreme amounts: the engine
/// answers `Ok` or `Err`, never panics.
#[derive(Debug, Clone)]
struct Wild {
    nodes: Vec<(u8, u8, u8)>,
    validators: Vec<(u8, Vec<u8>)>,
    tallies: Vec<(u8, u32, u32, u32)>,
    facts: Vec<(u8, u8, u64, Option<u64>)>,
    amounts: (i128, u128, u128, u128, i128),
    frame: (u64, u64),
}

fn wild() -> impl Strategy<Value = Wild> {
    (
        prop::collection::vec((0u8..6, 0u8..4, 0u8..4), 0..8),
        prop::collection::vec((0u8..8, prop::collection::vec(0u8..8, 0..6)), 0..8),
        prop::collection::vec((0u8..9, any::<u32>(), any::<u32>(), any::<u32>()), 0..8),
        prop::collection::vec((0u8..4, 0u8..9, any::<u64>(), prop::option::of(any::<u64>())), 0..6),
        (any::<i128>(), any::<u128>(), any::<u128>(), any::<u128>(), any::<i128>()),
        (prop_oneof![Just(0u64), Just(100), any::<u64>()], prop_oneof![Just(9u64), Just(109), any::<u64>()]),
    )
        .prop_map(|(nodes, validators, tallies, facts, amounts, frame)| Wild {
            nodes,
            validators,
            tallies,
            facts,
            amounts,
            frame,
        })
}

proptest! {
    #[test]
    fn never_panics(w in wild(), big in any::<bool>()) {
        let mut e = economics();
        if big {
            e.slashing.fixed_wei = u128::MAX;
            e.node_types[0].per_node_bond_wei = u128::MAX;
            e.node_types[2].factor_bps = u32::MAX;
        }
        let types = ["ssv", "obol", "direct", "lido"];
        let input = FrameInputs {
            number: 1,
            frame: w.frame,
            registry: Registry {
                operators: (0..4u64).map(|i| Operator { id: i, address: address(i) }).collect(),
                nodes: w.nodes.iter().enumerate().map(|(i, &(op, ty, _))| Node {
                    id: i as u64,
                    operator: op as u64,
                    node_type: types[ty as usize].into(),
                    registered_epoch: 0,
                }).collect(),
                validators: w.validators.iter().map(|(i, ns)| Validator {
                    index: *i as u64,
                    nodes: ns.iter().map(|&n| n as u64).collect(),
                }).collect(),
            },
            tallies: w.tallies.iter().map(|&(v, d, i, t)| Tally { validator: v as u64, duties: d, included: i, timely: t }).collect(),
            facts: Facts {
                slashings: w.facts.iter().filter(|f| f.0 == 0).map(|f| Slashing { validator: f.1 as u64, epoch: f.2 }).collect(),
                requested_exits: w.facts.iter().filter(|f| f.0 == 1)
                    .map(|f| RequestedExit { validator: f.1 as u64, deadline_epoch: f.2, exit_epoch: f.3, grace_end_epoch: None }).collect(),
                voluntary_exits: Vec::new(),
                forced_exits: w.facts.iter().filter(|f| f.0 == 2).map(|f| ExitEvent { validator: f.1 as u64, epoch: f.2 }).collect(),
            },
            source: RewardsSource { validator_rewards_wei: w.amounts.0, execution_fees_wei: w.amounts.1 },
            ssv_price: SsvPrice { agreed_wei_per_ssv: w.amounts.2, observed_wei_per_ssv: w.amounts.3 },
            adjustments: vec![Adjustment { node: 0, amount_wei: w.amounts.4, reason: "wild".into() }],
            previous: None,
            frame_log_hash: Some([7; 32]),
        };
        if let Ok(report) = compute_report(&e, &input) {
            prop_assert_eq!(report.frame_log_hash, Some([7; 32]));
            prop_assert!(report.check().is_ok());
        }
    }
}
