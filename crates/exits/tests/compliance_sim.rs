//! Compliance of each exit kind from the simulated beacon chain's validator records: the
//! same records `/eth/v1/beacon/states/{slot}/validators` serves, at several reference epochs.

use claystack_beacon_sim::{BeaconModel, Scenario, EXIT_DELAY};
use claystack_exits::{classify_all, Compliance, ExitAsked, ExitKind, Outcome};
use claystack_primitives::ValidatorInfo;

/// Minimal preset (8 slots an epoch). Exits (`[[exit]]`, the operator signs at `epoch`) get
/// exit epoch `epoch + 5`; a slashing at `epoch` exits the validator at `epoch + 5` too.
const SCENARIO: &str = r#"
seed = 11
preset = "minimal"
validators = 64
head_epoch = 60
[[exit]]
validator = 1
epoch = 10
[[exit]]
validator = 2
epoch = 20
[[exit]]
validator = 3
epoch = 30
[[slashing]]
validator = 5
epoch = 12
[[exit]]
validator = 6
epoch = 8
[[exit]]
validator = 7
epoch = 22
"#;

const GRACE: u64 = 10;
const PROTOCOL: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

fn records(chain: &BeaconModel, epoch: u64) -> Vec<ValidatorInfo> {
    let slot = epoch * 8 + 7;
    PROTOCOL
        .iter()
        .map(|&v| {
            let s = chain.validator_at(v, slot);
            ValidatorInfo {
                index: s.index,
                status: s.status.to_string(),
                pubkey: String::new(),
                balance_gwei: s.balance,
                effective_balance_gwei: s.effective_balance,
                slashed: s.slashed,
                activation_epoch: s.activation_epoch,
                exit_epoch: s.exit_epoch,
                withdrawable_epoch: s.withdrawable_epoch,
            }
        })
        .collect()
}

fn asked() -> Vec<ExitAsked> {
    let requested = |validator| ExitAsked { validator, kind: ExitKind::Requested, exit_by_epoch: 20 };
    vec![
        requested(1),
        requested(2),
        requested(3),
        requested(4),
        requested(5),
        ExitAsked { validator: 7, kind: ExitKind::Voluntary, exit_by_epoch: 30 },
    ]
}

fn outcomes(epoch: u64) -> Vec<(u64, Outcome)> {
    let chain = BeaconModel::new(Scenario::from_toml(SCENARIO).unwrap()).unwrap();
    classify_all(&asked(), &records(&chain, epoch), epoch, GRACE)
        .iter()
        .map(|c: &Compliance| (c.validator, c.outcome))
        .collect()
}

#[test]
fn each_exit_kind_and_outcome_from_the_simulators_records() {
    assert_eq!(EXIT_DELAY, 5, "the scenario's epochs below assume the spec's exit delay");
    let at_40 = outcomes(40);
    assert_eq!(
        at_40,
        vec![
            // Signed at 10, exit epoch 15: by the deadline 20.
            (1, Outcome::Timely { exit_epoch: 15 }),
            // Signed at 20, exit epoch 25: 5 epochs late, within the grace.
            (2, Outcome::Late { exit_epoch: Some(25), late_epochs: 5 }),
            // Signed at 30, exit epoch 35: past the grace (30).
            (3, Outcome::Never { exit_epoch: Some(35), late_epochs: 15 }),
            // Never signed: past the grace.
            (4, Outcome::Never { exit_epoch: None, late_epochs: 20 }),
            // Slashed at 12: the beacon chain exits it, whatever was asked.
            (5, Outcome::Forced { exit_epoch: Some(17), slashed: true }),
            // Exited at 13 and nobody asked: forced.
            (6, Outcome::Forced { exit_epoch: Some(13), slashed: false }),
            // A voluntary exit with slot 30, signed at 22, exit epoch 27.
            (7, Outcome::Timely { exit_epoch: 27 }),
        ]
    );
}

#[test]
fn outcomes_follow_the_reference_epoch_until_the_exit_epoch_decides_them() {
    // Before the deadline nothing but the exits already made is decided.
    let at_14 = outcomes(14);
    assert_eq!(
        at_14[0],
        (1, Outcome::Timely { exit_epoch: 15 }),
        "exit epoch known at signing (10), before it is reached"
    );
    assert_eq!(at_14[1], (2, Outcome::Pending));
    assert_eq!(at_14[3], (4, Outcome::Pending));
    // Between the deadline and the grace's end an open exit is late, counted up to the reference.
    let at_25 = outcomes(25);
    assert_eq!(at_25[2], (3, Outcome::Late { exit_epoch: None, late_epochs: 5 }));
    assert_eq!(at_25[3], (4, Outcome::Late { exit_epoch: None, late_epochs: 5 }));
    // Once 3 signs (at 30, exit epoch 35 > 20 + 10) it is never, at once.
    assert_eq!(outcomes(30)[2], (3, Outcome::Never { exit_epoch: Some(35), late_epochs: 10 }));
    assert_eq!(outcomes(31)[3], (4, Outcome::Never { exit_epoch: None, late_epochs: 11 }));
}

#[test]
fn an_exit_is_confirmed_at_its_exit_epoch_and_withdrawable_256_epochs_later() {
    let chain = BeaconModel::new(Scenario::from_toml(SCENARIO).unwrap()).unwrap();
    let state = |epoch| {
        let c = classify_all(&asked(), &records(&chain, epoch), epoch, GRACE);
        let one = c.iter().find(|c| c.validator == 1).unwrap();
        (one.exited, one.withdrawable)
    };
    assert_eq!(
        [state(14), state(15), state(270), state(271)],
        [(false, false), (true, false), (true, false), (true, true)]
    );
}
