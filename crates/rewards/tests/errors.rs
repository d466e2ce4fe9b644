//! Bad inputs give one typed error naming the thing that is wrong.

use claystack_rewards::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    economics: Economics,
    inputs: FrameInputs,
}

fn fixture() -> (Economics, FrameInputs) {
    let f: Fixture = serde_json::from_str(include_str!("fixtures/worked_example.json")).unwrap();
    (f.economics, f.inputs)
}

fn err(e: &Economics, i: &FrameInputs) -> RewardsError {
    compute_report(e, i).expect_err("input must be rejected")
}

#[test]
fn registry_errors() {
    let (e, base) = fixture();

    let mut i = base.clone();
    i.registry.nodes[0].node_type = "lido".into();
    assert_eq!(err(&e, &i), RewardsError::UnknownNodeType { node: 1, node_type: "lido".into() });
    assert_eq!(err(&e, &i).to_string(), "node 1 has unknown node type `lido` (not in economics.node_types)");

    let mut i = base.clone();
    i.registry.validators[2].nodes = vec![99];
    assert_eq!(err(&e, &i), RewardsError::ValidatorOfUnknownNode { validator: 200, node: 99 });

    let mut i = base.clone();
    i.tallies.push(Tally { validator: 999, duties: 1, included: 1, timely: 1 });
    assert_eq!(err(&e, &i), RewardsError::TallyForUnknownValidator(999));

    let mut i = base.clone();
    i.tallies.push(Tally { validator: 100, duties: 1, included: 1, timely: 1 });
    assert!(matches!(err(&e, &i), RewardsError::BadTally { validator: 100, duties: 11, .. }));

    let mut i = base.clone();
    i.registry.validators[0].nodes.pop();
    assert_eq!(err(&e, &i), RewardsError::ClusterSize { validator: 100, node_type: "ssv".into(), expected: 5, got: 4 });

    let mut i = base.clone();
    i.registry.validators[0].nodes[4] = 6;
    assert!(matches!(err(&e, &i), RewardsError::MixedCluster { validator: 100, .. }));

    let mut i = base.clone();
    i.registry.validators[0].nodes[4] = 1;
    assert_eq!(err(&e, &i), RewardsError::NodeTwiceInCluster { validator: 100, node: 1 });

    let mut i = base.clone();
    i.registry.nodes[0].operator = 42;
    assert_eq!(err(&e, &i), RewardsError::UnknownOperator { node: 1, operator: 42 });

    let mut i = base.clone();
    i.registry.operators[1].address = i.registry.operators[0].address;
    assert!(matches!(err(&e, &i), RewardsError::DuplicateAddress(_)));

    let mut i = base.clone();
    let dup = i.registry.validators[0].clone();
    i.registry.validators.push(dup);
    assert_eq!(err(&e, &i), RewardsError::DuplicateValidator(100));
}

#[test]
fn fact_and_frame_errors() {
    let (e, base) = fixture();

    let mut i = base.clone();
    i.facts.slashings.push(Slashing { validator: 301, epoch: 106 });
    assert_eq!(err(&e, &i), RewardsError::DuplicateFact { kind: "slashing", validator: 301 });

    let mut i = base.clone();
    i.facts.forced_exits.push(ExitEvent { validator: 7, epoch: 105 });
    assert_eq!(err(&e, &i), RewardsError::FactForUnknownValidator { kind: "forced exit", validator: 7 });

    let mut i = base.clone();
    i.facts.forced_exits.push(ExitEvent { validator: 301, epoch: 120 });
    assert!(matches!(err(&e, &i), RewardsError::FactOutsideFrame { kind: "forced exit", .. }));

    let mut i = base.clone();
    i.adjustments.push(Adjustment { node: 77, amount_wei: 1, reason: "x".into() });
    assert_eq!(err(&e, &i), RewardsError::AdjustmentForUnknownNode(77));

    // The cap bounds the sum of absolute amounts: one wei over it is refused, at it is fine.
    let moved: u128 = base.adjustments.iter().map(|a| a.amount_wei.unsigned_abs()).sum();
    let mut tight = e.clone();
    tight.adjustment_cap_wei = moved;
    compute_report(&tight, &base).expect("adjustments exactly at the cap are accepted");
    let mut i = base.clone();
    i.adjustments.push(Adjustment { node: base.adjustments[0].node, amount_wei: -1, reason: "one wei more".into() });
    assert_eq!(err(&tight, &i), RewardsError::AdjustmentsAboveCap { total_wei: moved + 1, cap_wei: moved });

    let mut i = base.clone();
    i.frame = (100, 110);
    assert_eq!(err(&e, &i), RewardsError::FrameLength { first: 100, last: 110, expected: 10 });

    let mut i = base.clone();
    i.number = 9;
    assert!(matches!(err(&e, &i), RewardsError::PreviousNotContiguous { prev_number: 4, number: 9, .. }));

    let mut i = base.clone();
    i.ssv_price.agreed_wei_per_ssv = 0;
    assert_eq!(err(&e, &i), RewardsError::ZeroSsvPrice);

    let mut i = base.clone();
    i.source.execution_fees_wei = u128::MAX;
    assert_eq!(err(&e, &i), RewardsError::Overflow("frame rewards"));
}

#[test]
fn economics_errors() {
    let (base, i) = fixture();
    let mut e = base.clone();
    e.performance_bands[1].penalty_bps = 10_001;
    assert!(matches!(err(&e, &i), RewardsError::InvalidEconomics { .. }));
    let mut e = base.clone();
    e.node_types.push(e.node_types[0].clone());
    assert_eq!(err(&e, &i).to_string(), "economics: `node_types` is invalid: type `ssv` is listed twice");
    let mut e = base;
    e.score.experience_cap_frames = 0;
    assert!(matches!(err(&e, &i), RewardsError::InvalidEconomics { .. }));
}

#[test]
fn unknown_fields_are_rejected() {
    let json = include_str!("fixtures/worked_example.json").replace("\"frame_epochs\"", "\"frame_epoch\"");
    assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok());
    let e = serde_json::from_str::<Fixture>(&json).err().expect("typo must be rejected");
    assert!(e.to_string().contains("frame_epoch"), "{e}");
}

#[test]
fn operators_leaving_the_registry_keep_their_claim() {
    let (e, mut i) = fixture();
    // Operator C and its nodes leave; its previous cumulative stays claimable.
    i.registry.operators.retain(|o| o.id != 3);
    i.registry.nodes.retain(|n| n.operator != 3);
    i.registry.validators.retain(|v| v.index < 300);
    for v in &mut i.registry.validators {
        if v.index < 200 {
            // SSV clusters need five nodes: give node 5's seat to a new SSV node of operator B.
            for n in &mut v.nodes {
                if *n == 5 {
                    *n = 8;
                }
            }
        }
    }
    i.registry.nodes.push(Node { id: 8, operator: 2, node_type: "ssv".into(), registered_epoch: 100 });
    i.tallies.retain(|t| t.validator < 300);
    i.facts.slashings.clear();
    let r = compute_report(&e, &i).unwrap();
    let c = r.operators.iter().find(|o| o.address.0 == [0xcc; 20]).unwrap();
    assert_eq!((c.id, c.cumulative_wei, c.epoch_amount_wei, c.score.score_bps), (None, 500_000, 0, 8_000));
    assert!(r.operator_leaves().iter().any(|l| l.operator == [0xcc; 20] && l.cumulative_wei == 500_000));
}
