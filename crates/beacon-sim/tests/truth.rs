//! The truth follows the scenario's intent, and the blocks the simulator renders
//! say the same thing as the truth it writes.

use claystack_beacon_sim::{BeaconModel, Scenario, TallyTruth, Truth};
use claystack_primitives::{Bitlist, Bitvector};
use std::collections::HashMap;

/// The chain every test here adds its rules to (top-level keys only, so rules can follow).
const BASE: &str = include_str!("data/base.toml");

fn chain(extra: &str) -> BeaconModel {
    BeaconModel::new(Scenario::from_toml(&format!("{BASE}{extra}")).unwrap()).unwrap()
}

/// `validator`'s tally in each epoch (None when it had no duty).
fn history(truth: &Truth, validator: u64) -> Vec<Option<TallyTruth>> {
    truth.epochs.iter().map(|e| e.tallies.iter().find(|t| t.validator == validator).copied()).collect()
}

fn tally(v: u64, included: u32, timely: u32) -> Option<TallyTruth> {
    Some(TallyTruth { validator: v, duties: 1, included, timely })
}

#[test]
fn a_quiet_chain_includes_everyone_in_time() {
    let truth = chain("").truth(100);
    assert_eq!(truth.epochs.len(), 10, "clipped to head_epoch - 1 = 9");
    for e in &truth.epochs {
        assert_eq!(e.tallies.len(), 64);
        assert!(e.tallies.windows(2).all(|w| w[0].validator < w[1].validator));
        assert!(e.tallies.iter().all(|t| (t.duties, t.included, t.timely) == (1, 1, 1)), "epoch {}", e.epoch);
    }
}

#[test]
fn offline_validator_is_not_included_in_its_window() {
    let t = chain("[[offline]]\nvalidators = [\"3-5\"]\nfrom_epoch = 2\nto_epoch = 4\n").truth(9);
    for v in 3..=5 {
        let h = history(&t, v);
        for (e, got) in h.iter().enumerate() {
            let want = if (2..=4).contains(&e) { tally(v, 0, 0) } else { tally(v, 1, 1) };
            assert_eq!(*got, want, "validator {v} epoch {e}");
        }
    }
    assert!(history(&t, 6).iter().all(|x| *x == tally(6, 1, 1)));
}

#[test]
fn late_beyond_the_deadline_is_never_included() {
    // Minimal: an attestation of slot s may be included until the last slot of the
    // next epoch, at most 15 slots later; a delay of 16 never makes it.
    let t = chain("[[late]]\nvalidators = [\"8\"]\ndelay = 16\nfrom_epoch = 1\nto_epoch = 2\n").truth(9);
    let h = history(&t, 8);
    assert_eq!(h[0], tally(8, 1, 1));
    assert_eq!(h[1], tally(8, 0, 0));
    assert_eq!(h[2], tally(8, 0, 0));
    assert_eq!(h[3], tally(8, 1, 1));
}

#[test]
fn late_by_three_is_included_but_not_timely_on_minimal() {
    let t = chain("[[late]]\nvalidators = [\"8\"]\ndelay = 3\nfrom_epoch = 0\nto_epoch = 100\n").truth(9);
    assert!(history(&t, 8).iter().all(|x| *x == tally(8, 1, 0)));
    let t = chain("[[late]]\nvalidators = [\"8\"]\ndelay = 2\n").truth(9);
    assert!(history(&t, 8).iter().all(|x| *x == tally(8, 1, 1)), "delay 2 is still timely on minimal");
}

#[test]
fn missed_slots_shift_inclusion() {
    let duty = chain("").duties(3, &[20])[0];
    let s = duty.slot;
    // One empty slot after the duty: included at s+2, still timely (sqrt(8) = 2).
    let t = chain(&format!("missed_slots = [{}]\n", s + 1)).truth(9);
    assert_eq!(history(&t, 20)[3], tally(20, 1, 1));
    // Two empty slots: included at s+3, late.
    let t = chain(&format!("missed_slots = [{}, {}]\n", s + 1, s + 2)).truth(9);
    assert_eq!(history(&t, 20)[3], tally(20, 1, 0));
    // Everyone of slot s is late; slots s+1 and s+2 are included at s+3 with
    // delays 2 and 1, still timely; every other slot is unaffected.
    let truth = &t.epochs[3].tallies;
    for d in chain("").duties(3, &(0..64).collect::<Vec<_>>()) {
        let got = truth.iter().find(|x| x.validator == d.validator).unwrap();
        let want = if d.slot == s { (1, 0) } else { (1, 1) };
        assert_eq!((got.included, got.timely), want, "{d:?}");
    }
}

#[test]
fn slashed_validator_keeps_duties_until_exit_but_is_never_included() {
    let t = chain("[[slashing]]\nvalidator = 9\nepoch = 3\n").truth(9);
    let h = history(&t, 9);
    for (e, got) in h.iter().enumerate() {
        let want = match e {
            0..=2 => tally(9, 1, 1),
            3..=7 => tally(9, 0, 0),
            _ => None,
        };
        assert_eq!(*got, want, "epoch {e}");
    }
}

#[test]
fn exited_validator_has_no_duties_from_its_exit_epoch() {
    let t = chain("[[exit]]\nvalidator = 10\nepoch = 2\n").truth(9);
    let h = history(&t, 10);
    for (e, got) in h.iter().enumerate() {
        assert_eq!(*got, if e < 7 { tally(10, 1, 1) } else { None }, "epoch {e}");
    }
}

#[test]
fn activation_is_respected() {
    let t = chain("[[activation]]\nvalidator = 11\nepoch = 4\n").truth(9);
    let h = history(&t, 11);
    for (e, got) in h.iter().enumerate() {
        assert_eq!(*got, if e < 4 { None } else { tally(11, 1, 1) }, "epoch {e}");
    }
}

#[test]
fn miss_rule_misses_about_its_share() {
    let c = BeaconModel::new(
        Scenario::from_toml(
            "seed = 3\nvalidators = 2000\ntracked = [\"0-999\"]\nhead_epoch = 6\n[[miss]]\nvalidators = [\"0-999\"]\nrate_bps = 2500\n",
        )
        .unwrap(),
    )
    .unwrap();
    let t = c.truth(5);
    let (duties, included): (u32, u32) =
        t.epochs.iter().flat_map(|e| &e.tallies).fold((0, 0), |(d, i), x| (d + x.duties, i + x.included));
    assert_eq!(duties, 6000);
    let missed = duties - included;
    assert!((1300..1700).contains(&missed), "missed {missed} of 6000 at 25%");
}

/// Rebuilds the truth from rendered blocks alone, as an oracle would.
fn truth_from_blocks(c: &BeaconModel) -> Truth {
    let spec = c.spec();
    let head = c.initial_head_slot();
    let last_epoch = spec.epoch_of(head) - 1;
    let all: Vec<u64> = (0..c.validator_count()).collect();
    // (epoch) -> (slot, committee, position) -> validator
    let mut seats: HashMap<(u64, u64, u64), u64> = HashMap::new();
    let mut lengths: HashMap<(u64, u64), u64> = HashMap::new();
    for epoch in 0..=last_epoch + 1 {
        for d in c.duties(epoch, &all) {
            seats.insert((d.slot, d.committee_index, d.validator_committee_index), d.validator);
            lengths.insert((d.slot, d.committee_index), d.committee_length);
        }
    }
    let mut included_at: HashMap<(u64, u64), u64> = HashMap::new(); // (validator, epoch) -> first block
    let mut seen_duplicate = false;
    let mut previous = std::collections::HashSet::new();
    for b in 1..=head {
        if !c.has_block(b) {
            continue;
        }
        let (fork, body) = c.block_json(b, head);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["version"], fork);
        let atts = v["data"]["message"]["body"]["attestations"].as_array().unwrap();
        let mut keys = std::collections::HashSet::new();
        for a in atts {
            seen_duplicate |= previous.contains(&a.to_string());
            keys.insert(a.to_string());
            let s: u64 = a["data"]["slot"].as_str().unwrap().parse().unwrap();
            let bits = Bitlist::from_hex(a["aggregation_bits"].as_str().unwrap()).unwrap();
            let committees: Vec<u64> = if fork == "electra" {
                assert_eq!(a["data"]["index"], "0");
                let cb =
                    Bitvector::from_hex(a["committee_bits"].as_str().unwrap(), spec.max_committees_per_slot as usize)
                        .unwrap();
                cb.ones().map(|i| i as u64).collect()
            } else {
                assert!(a.get("committee_bits").is_none());
                vec![a["data"]["index"].as_str().unwrap().parse().unwrap()]
            };
            assert!(!committees.is_empty());
            let total: u64 = committees.iter().map(|&ci| lengths[&(s, ci)]).sum();
            assert_eq!(bits.len() as u64, total, "aggregation_bits length at block {b}");
            assert!(bits.count_ones() > 0, "an aggregate with no attester at block {b}");
            let mut at = 0;
            for ci in committees {
                for pos in 0..lengths[&(s, ci)] {
                    if bits.get((at + pos) as usize) && s < b && b <= spec.inclusion_deadline(s) {
                        let key = (seats[&(s, ci, pos)], spec.epoch_of(s));
                        let e = included_at.entry(key).or_insert(b);
                        *e = (*e).min(b);
                    }
                }
                at += lengths[&(s, ci)];
            }
        }
        assert!(atts.len() <= if fork == "electra" { 8 } else { 128 });
        previous = keys;
    }
    if c.scenario().duplicate_every > 0 {
        assert!(seen_duplicate, "duplicate_every set but no block repeats an attestation");
    }
    let epochs = (0..=last_epoch)
        .map(|epoch| {
            let duties = c.duties(epoch, c.tracked());
            let tallies = duties
                .iter()
                .map(|d| {
                    let b = included_at.get(&(d.validator, epoch));
                    TallyTruth {
                        validator: d.validator,
                        duties: 1,
                        included: b.is_some() as u32,
                        timely: b.is_some_and(|b| b - d.slot <= spec.timely_delay()) as u32,
                    }
                })
                .collect();
            claystack_beacon_sim::EpochTruth { epoch, tallies }
        })
        .collect();
    Truth { epochs }
}

#[test]
fn rendered_blocks_agree_with_the_truth() {
    let scenarios = [
        // Deneb then Electra, every rule at once.
        include_str!("data/every-rule.toml"),
        // Deneb only, with a quiet chain.
        "electra_fork_epoch = 1000\n",
    ];
    for extra in scenarios {
        let c = chain(extra);
        let truth = c.truth(100);
        assert_eq!(truth_from_blocks(&c), truth, "scenario:\n{extra}");
        let included: u32 = truth.epochs.iter().flat_map(|e| &e.tallies).map(|t| t.included).sum();
        assert!(included > 500);
    }
}

#[test]
fn electra_blocks_overflow_after_eight_attestations() {
    // Tracked validators spread over delays 1..=9 give many slot groups per block;
    // with several empty slots in a row a block would need more than 8 aggregates.
    let mut extra = String::from("missed_slots = [41, 42, 43, 44, 45, 46, 47, 48, 49, 50]\n");
    for d in 2..=9 {
        extra.push_str(&format!("[[late]]\nvalidators = [\"{}\"]\ndelay = {d}\n", 100 + d));
    }
    let c = chain(&extra);
    let (_, body) = c.block_json(51, c.initial_head_slot());
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"]["message"]["body"]["attestations"].as_array().unwrap().len(), 8);
    let (_, body) = c.block_json(52, c.initial_head_slot());
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let slots: Vec<u64> = v["data"]["message"]["body"]["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["data"]["slot"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(slots.contains(&50) && slots.contains(&51), "overflow waits for the next block: {slots:?}");
    assert_eq!(truth_from_blocks(&c), c.truth(100));
}

#[test]
fn mainnet_shape_is_cheap_to_build() {
    let s = Scenario::from_toml(
        "seed = 1\npreset = \"mainnet\"\nvalidators = 1000000\ntracked = [\"0-9999\"]\nhead_epoch = 3\n[[late]]\nvalidators = [\"5\"]\ndelay = 3\n",
    )
    .unwrap();
    let c = BeaconModel::new(s).unwrap();
    let t = c.truth(1);
    assert_eq!(t.epochs.len(), 2);
    assert_eq!(t.epochs[1].tallies.len(), 10_000);
    assert!(t.epochs[1].tallies.iter().all(|x| x.included == 1));
    assert_eq!(t.epochs[1].tallies[5].timely, 1, "delay 3 is timely on mainnet (sqrt(32) = 5)");
    let d = c.duties(2, &[0, 999_999]);
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].committees_at_slot, 64);
}
