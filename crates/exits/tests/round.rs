//! The worked example of docs/exits.md, end to end: voluntary slots, demand, selection,
//! leaves and tree; and the whole round does not depend on the order of its inputs.

use claystack_exits::*;
use claystack_rewards::Address;
use proptest::prelude::*;

const ETH: u128 = 1_000_000_000_000_000_000;
const GWEI_32_ETH: u64 = 32_000_000_000;

fn op(name: char) -> Address {
    Address([name as u8; 20])
}

fn rules() -> ExitRules {
    ExitRules {
        demand: DemandRules { per_exit_wei: 32 * ETH, max_per_report: 10 },
        voluntary: VoluntaryRules {
            capacity_per_report: 2,
            exit_within_epochs: 225,
            fast_track_exit_within_epochs: 12,
        },
        targets: Targets {
            node_types: [("ssv", 5000), ("obol", 2500), ("direct", 2500)].map(|(t, b)| (t.to_string(), b)).into(),
            locations: [("eu", 5000), ("us", 5000)].map(|(l, b)| (l.to_string(), b)).into(),
            operators: Default::default(),
            operator_cap_bps: 4000,
        },
        requested_exit_within_epochs: 450,
        grace_epochs: 225,
    }
}

fn candidate(
    validator: u64,
    operator: char,
    node_type: &str,
    location: &str,
    score_bps: u32,
    status: Status,
) -> Candidate {
    Candidate {
        validator,
        operator: op(operator),
        node_type: node_type.into(),
        location: location.into(),
        score_bps,
        status,
        balance_gwei: GWEI_32_ETH,
    }
}

fn inputs() -> ExitsInputs {
    use Status::*;
    ExitsInputs {
        number: 3,
        reference_epoch: 1000,
        liquidity: Liquidity { unmet_demand_wei: 200 * ETH, buffer_wei: 20 * ETH },
        candidates: vec![
            candidate(1, 'A', "ssv", "eu", 9000, Active),
            candidate(2, 'A', "ssv", "eu", 8000, Active),
            candidate(3, 'A', "ssv", "us", 9500, Active),
            candidate(4, 'B', "ssv", "eu", 7000, Active),
            candidate(5, 'B', "direct", "eu", 6000, Active),
            candidate(6, 'B', "direct", "us", 6000, Pending),
            candidate(7, 'C', "obol", "us", 9000, Active),
            candidate(8, 'C', "direct", "eu", 5000, Exiting),
            Candidate { balance_gwei: 0, ..candidate(9, 'C', "ssv", "eu", 5000, Slashed) },
            candidate(10, 'D', "direct", "us", 9900, Active),
        ],
        voluntary_requests: vec![
            VoluntaryRequest { validator: 3, operator: op('A'), block: 100, log_index: 0, fast_track: false },
            VoluntaryRequest { validator: 7, operator: op('C'), block: 101, log_index: 2, fast_track: true },
            VoluntaryRequest { validator: 10, operator: op('D'), block: 99, log_index: 0, fast_track: false },
        ],
    }
}

#[test]
fn the_worked_example_gives_the_numbers_of_the_docs() {
    let r = exits_report(&rules(), &inputs()).unwrap();
    // Voluntary: 7 (fast track) and 10 (earliest block) fit the capacity of 2; 3 carries.
    let served: Vec<(u64, u64)> = r.voluntary.assigned.iter().map(|s| (s.request.validator, s.exit_by_epoch)).collect();
    assert_eq!(served, vec![(7, 1012), (10, 1225)]);
    assert_eq!(r.voluntary.carried.iter().map(|q| q.validator).collect::<Vec<_>>(), vec![3]);
    // Demand: 200 - 20 - (8, 7, 10: 3 x 32; 9 withdrawn: 0) = 84 ETH -> ceil(84 / 32) = 3 exits.
    assert_eq!(r.demand.under_way_wei, 96 * ETH);
    assert_eq!(r.demand.net_wei, 84 * ETH);
    assert_eq!((r.demand.needed, r.demand.exits), (3, 3));
    // Selection: direct (2/2500) ties eu (4/5000): lowest score 5; then ssv and eu tie at
    // 3/5000: 4; then operator A (2/4000) leads: its lower score, 2.
    let picks: Vec<(u64, Group, Load)> =
        r.selection.picks.iter().map(|p| (p.validator, p.group.clone(), p.load)).collect();
    assert_eq!(
        picks,
        vec![
            (5, Group::NodeType("direct".into()), Load { validators: 2, target_bps: 2500 }),
            (4, Group::NodeType("ssv".into()), Load { validators: 3, target_bps: 5000 }),
            (2, Group::Operator(op('A')), Load { validators: 2, target_bps: 4000 }),
        ]
    );
    assert_eq!(r.selection.shortfall, 0);
    let leaves: Vec<(u64, Address, ExitKind, u64)> =
        r.leaves.iter().map(|l| (l.validator, l.operator, l.kind, l.exit_by_epoch)).collect();
    assert_eq!(
        leaves,
        vec![
            (2, op('A'), ExitKind::Requested, 1450),
            (4, op('B'), ExitKind::Requested, 1450),
            (5, op('B'), ExitKind::Requested, 1450),
            (7, op('C'), ExitKind::Voluntary, 1012),
            (10, op('D'), ExitKind::Voluntary, 1225),
        ]
    );
    assert!(r.dropped.is_empty());
}

#[test]
fn requests_of_pending_validators_wait_and_those_of_leaving_validators_are_dropped() {
    let mut i = inputs();
    i.voluntary_requests.push(VoluntaryRequest {
        validator: 6,
        operator: op('B'),
        block: 1,
        log_index: 0,
        fast_track: true,
    });
    i.voluntary_requests.push(VoluntaryRequest {
        validator: 9,
        operator: op('C'),
        block: 2,
        log_index: 0,
        fast_track: false,
    });
    let r = exits_report(&rules(), &i).unwrap();
    assert_eq!(r.voluntary.carried.iter().map(|q| q.validator).collect::<Vec<_>>(), vec![6, 3], "fast track first");
    assert_eq!(r.dropped.iter().map(|q| q.validator).collect::<Vec<_>>(), vec![9]);
    assert!(r.leaves.iter().all(|l| l.validator != 6 && l.validator != 9));
    i.voluntary_requests.push(VoluntaryRequest {
        validator: 99,
        operator: op('Z'),
        block: 3,
        log_index: 0,
        fast_track: false,
    });
    assert_eq!(
        exits_report(&rules(), &i).unwrap_err().to_string(),
        "validator 99 in the voluntary exit requests is not among the protocol's validators"
    );
}

#[test]
fn the_report_bytes_and_tree_are_canonical() {
    let r = exits_report(&rules(), &inputs()).unwrap();
    let tree = tree_of(&r.leaves).unwrap().unwrap();
    assert_eq!(tree.len(), 5);
    let again: ExitsReport = serde_json::from_slice(&r.bytes()).unwrap();
    assert_eq!(again, r, "the bytes read back as the same report");
    assert!(r.bytes().ends_with(b"}\n"));
}

#[test]
fn the_rules_read_from_genesis_json_and_unknown_fields_are_refused() {
    let json = r#"{
        "demand": {"per_exit_wei": "32000000000000000000", "max_per_report": 10},
        "voluntary": {"capacity_per_report": 2, "exit_within_epochs": 225, "fast_track_exit_within_epochs": 12},
        "targets": {
            "node_types": {"ssv": 5000, "obol": 2500, "direct": 2500},
            "locations": {"eu": 5000, "us": 5000},
            "operator_cap_bps": 4000
        },
        "requested_exit_within_epochs": 450,
        "grace_epochs": 225
    }"#;
    let read: ExitRules = serde_json::from_str(json).unwrap();
    assert_eq!(read, rules());
    let mut named = rules();
    named.targets.operators.insert(op('A'), 2500);
    let again: ExitRules = serde_json::from_str(&serde_json::to_string(&named).unwrap()).unwrap();
    assert_eq!(again, named, "operator shares keyed by address survive a round trip");
    let unknown = json.replace("\"grace_epochs\"", "\"grace\": 1, \"grace_epochs\"");
    let err = serde_json::from_str::<ExitRules>(&unknown).unwrap_err().to_string();
    assert!(err.contains("unknown field `grace`"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_round_does_not_depend_on_the_order_of_its_inputs(
        candidates in Just(inputs().candidates).prop_shuffle(),
        requests in Just(inputs().voluntary_requests).prop_shuffle(),
    ) {
        let a = exits_report(&rules(), &inputs()).unwrap();
        let b = exits_report(&rules(), &ExitsInputs { candidates, voluntary_requests: requests, ..inputs() }).unwrap();
        prop_assert_eq!(a.bytes(), b.bytes());
    }
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![Just(Status::Active), Just(Status::Exiting), Just(Status::Slashed), Just(Status::Pending)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_round_publishes_only_active_validators_and_as_many_exits_as_it_can(
        statuses in prop::collection::vec(status(), 10),
        balances in prop::collection::vec(0u64..=GWEI_32_ETH, 10),
        demand_eth in 0u128..600,
        buffer_eth in 0u128..100,
    ) {
        let mut i = inputs();
        for ((c, s), b) in i.candidates.iter_mut().zip(statuses).zip(balances) {
            c.status = s;
            c.balance_gwei = b;
        }
        i.liquidity = Liquidity { unmet_demand_wei: demand_eth * ETH, buffer_wei: buffer_eth * ETH };
        let r = exits_report(&rules(), &i).unwrap();
        let status_of = |v: u64| i.candidates.iter().find(|c| c.validator == v).unwrap().status;
        let asked_voluntarily = |v: u64| i.voluntary_requests.iter().any(|q| q.validator == v);
        for l in &r.leaves {
            prop_assert_eq!(status_of(l.validator), Status::Active, "leaf for {} ({:?})", l.validator, l.kind);
            prop_assert_eq!(l.kind == ExitKind::Voluntary, asked_voluntarily(l.validator));
        }
        let active_requesters = i.voluntary_requests.iter().filter(|q| status_of(q.validator) == Status::Active).count();
        prop_assert_eq!(r.voluntary.assigned.len(), active_requesters.min(2));
        let eligible = i.candidates.iter().filter(|c| c.status == Status::Active && !asked_voluntarily(c.validator)).count() as u64;
        prop_assert_eq!(r.selection.picks.len() as u64, r.demand.exits.min(eligible));
        prop_assert_eq!(r.leaves.len(), r.voluntary.assigned.len() + r.selection.picks.len());
        // Every exiting or slashed candidate and every served voluntary exit counts as under way.
        let under_way: u128 = i
            .candidates
            .iter()
            .filter(|c| matches!(c.status, Status::Exiting | Status::Slashed) || r.voluntary.assigned.iter().any(|s| s.request.validator == c.validator))
            .map(|c| u128::from(c.balance_gwei) * 1_000_000_000)
            .sum();
        prop_assert_eq!(r.demand.under_way_wei, under_way);
    }
}
