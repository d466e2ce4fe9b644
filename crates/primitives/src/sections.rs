//! The named sections of a rewards report's frame log that committee members gossip beside
//! their signatures, so a member whose root differs from the others' can say which input
//! disagreed (a wrong balance from its beacon node, a registry read at another block).
//!
//! Slot `i` of [`Sections`] is [`SECTION_NAMES`]`[i]`. The first [`SCALAR_SECTIONS`] carry a
//! value (a signed integer, 32 bytes big-endian two's complement) so the log can print both
//! sides; the others carry the keccak256 of that part of the frame log.

/// One 32-byte entry per section, in [`SECTION_NAMES`] order.
pub type Sections = [[u8; 32]; SECTION_COUNT];

pub const SECTION_COUNT: usize = 9;

pub const SECTION_NAMES: [&str; SECTION_COUNT] = [
    "consensus_rewards_wei",
    "execution_fees_wei",
    "agreed_wei_per_ssv",
    "observed_wei_per_ssv",
    "registry",
    "tallies",
    "balances",
    "facts",
    "adjustments",
];

/// How many leading sections are values rather than hashes.
pub const SCALAR_SECTIONS: usize = 4;

/// `value` as a section entry: sign-extended, big-endian.
pub fn scalar(value: i128) -> [u8; 32] {
    let mut out = if value < 0 { [0xff; 32] } else { [0; 32] };
    out[16..].copy_from_slice(&value.to_be_bytes());
    out
}

/// A scalar section's value, if the entry is a sign-extended i128.
pub fn scalar_value(entry: &[u8; 32]) -> Option<i128> {
    let value = i128::from_be_bytes(entry[16..].try_into().expect("16 bytes"));
    (entry[..16] == scalar(value)[..16]).then_some(value)
}

/// The names of the sections that differ between `ours` and `theirs`, each with both sides
/// as text (values in decimal, hashes shortened to their first 4 bytes).
pub fn differing(ours: &Sections, theirs: &Sections) -> Vec<String> {
    let show = |i: usize, e: &[u8; 32]| match (i < SCALAR_SECTIONS).then(|| scalar_value(e)).flatten() {
        Some(v) => v.to_string(),
        None => format!("{}…", crate::hex::encode(&e[..4])),
    };
    (0..SECTION_COUNT)
        .filter(|&i| ours[i] != theirs[i])
        .map(|i| format!("{} (ours {}, theirs {})", SECTION_NAMES[i], show(i, &ours[i]), show(i, &theirs[i])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_round_trip_and_hashes_are_not_scalars() {
        for v in [0, 1, -1, i128::MAX, i128::MIN, -4_418_500_000_000_000] {
            assert_eq!(scalar_value(&scalar(v)), Some(v));
        }
        assert_eq!(scalar_value(&[0x12; 32]), None);
    }

    #[test]
    fn differing_names_each_section_that_differs_with_both_sides() {
        let ours: Sections = [[0; 32]; SECTION_COUNT];
        let mut theirs = ours;
        theirs[0] = scalar(-5);
        theirs[6] = [0xab; 32];
        assert_eq!(
            differing(&ours, &theirs),
            vec![
                "consensus_rewards_wei (ours 0, theirs -5)".to_string(),
                "balances (ours 0x00000000…, theirs 0xabababab…)".to_string()
            ]
        );
        assert!(differing(&ours, &ours).is_empty());
    }
}
