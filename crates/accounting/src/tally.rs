//! Turning one epoch's duties and blocks into per-validator tallies.

use crate::layout::Layout;
use claystack_primitives::{Attestation, AttesterDuty, BeaconSpec, BlockSummary, Epoch, ValidatorIndex};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// One validator's attestation record over some epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Tally {
    pub validator: ValidatorIndex,
    /// Attestation duties assigned (one per epoch while active).
    pub duties: u32,
    /// Duties whose attestation was included within the inclusion window.
    pub included: u32,
    /// Included duties whose first inclusion delay was within the timely-source limit.
    pub timely: u32,
}

impl Tally {
    /// Adds another record of the same validator.
    pub fn add(&mut self, other: &Tally) {
        debug_assert_eq!(self.validator, other.validator);
        self.duties += other.duties;
        self.included += other.included;
        self.timely += other.timely;
    }
}

/// The tallies of one epoch, sorted by validator index, one entry per validator with a duty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochTally {
    pub epoch: Epoch,
    pub tallies: Vec<Tally>,
}

/// The beacon data contradicts itself; the caller should fetch it again.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AccountingError {
    /// A duty whose slot is not in the epoch being accounted.
    #[error("duty of validator {validator} is at slot {slot}, outside epoch {epoch}")]
    DutyOutsideEpoch { validator: u64, slot: u64, epoch: u64 },
    /// A duty whose committee position or index is impossible.
    #[error("duty of validator {validator} at slot {slot} has position {position} in committee {committee} of length {length}, or committee index >= committees_at_slot {per_slot}")]
    BadDuty { validator: u64, slot: u64, committee: u64, position: u64, length: u64, per_slot: u64 },
    /// Two duties give one beacon committee two lengths.
    #[error("duties disagree on committee {committee} at slot {slot}: lengths {a} and {b}")]
    DutiesDisagree { slot: u64, committee: u64, a: u64, b: u64 },
    /// A block includes an attestation for its own slot or a later one.
    #[error("block {block_slot} has an attestation for slot {att_slot} that a block at that slot could not include (inclusion delay below 1)")]
    AttestationFromFuture { block_slot: u64, att_slot: u64 },
    /// A pre-Electra attestation whose bits do not match its beacon committee.
    #[error("block {block_slot}: attestation for slot {att_slot} committee {committee} has {got} aggregation bits, the committee has {expected}")]
    BitsLength { block_slot: u64, att_slot: u64, committee: u64, expected: u64, got: u64 },
    /// An Electra attestation with a non-zero `data.index`.
    #[error("block {block_slot} ({fork}): attestation for slot {att_slot} has data.index {index}, which must be 0 from Electra on")]
    BadIndex { block_slot: u64, att_slot: u64, index: u64, fork: String },
    /// An Electra attestation whose bits do not match its beacon committees.
    #[error("block {block_slot}: attestation for slot {att_slot} has {got} aggregation bits, its committees hold {expected}")]
    AggregateLength { block_slot: u64, att_slot: u64, expected: u64, got: u64 },
    /// Blocks out of order, or outside the epochs that can include the epoch's attestations.
    #[error("blocks are not in ascending slot order or outside epochs {epoch}..={next} (block at slot {slot})")]
    BlockOutOfRange { epoch: u64, next: u64, slot: u64 },
    /// The beacon committee layout is needed to read Electra bits but was not given.
    #[error("committee layout of epoch {epoch} is needed but was not given")]
    LayoutMissing { epoch: u64 },
}

/// A tracked validator's place: who sits at `position` of a committee.
struct Seat {
    validator: ValidatorIndex,
    position: u64,
    /// Earliest inclusion delay seen, if included.
    best_delay: Option<u64>,
}

/// A committee holding at least one tracked validator.
struct BeaconCommittee {
    length: u64,
    seats: Vec<Seat>,
}

/// Committees with tracked validators, by `(slot, committee index)`, in a flat
/// table: every slot of the epoch has `MAX_COMMITTEES_PER_SLOT` places, so a
/// lookup on the hot path is an index, not a search.
struct Committees {
    first_slot: u64,
    slots: u64,
    width: u64,
    table: Vec<Option<BeaconCommittee>>,
    occupied: usize,
}

impl Committees {
    fn new(spec: &BeaconSpec, epoch: Epoch) -> Self {
        let (slots, width) = (spec.slots_per_epoch, spec.max_committees_per_slot);
        Committees {
            first_slot: spec.first_slot(epoch),
            slots,
            width,
            table: (0..slots * width).map(|_| None).collect(),
            occupied: 0,
        }
    }

    fn place(&self, slot: u64, index: u64) -> Option<usize> {
        let offset = slot.checked_sub(self.first_slot)?;
        (offset < self.slots && index < self.width).then(|| (offset * self.width + index) as usize)
    }

    fn get_mut(&mut self, slot: u64, index: u64) -> Option<&mut BeaconCommittee> {
        let i = self.place(slot, index)?;
        self.table[i].as_mut()
    }

    fn contains(&self, slot: u64, index: u64) -> bool {
        self.place(slot, index).is_some_and(|i| self.table[i].is_some())
    }

    fn is_empty(&self) -> bool {
        self.occupied == 0
    }

    fn seats(&self) -> impl Iterator<Item = &Seat> {
        self.table.iter().flatten().flat_map(|c| &c.seats)
    }
}

/// Accounts one epoch.
///
/// `blocks` are the canonical blocks with slots in `first_slot(epoch)+1 ..= last_slot(epoch+1)`
/// in ascending slot order (empty slots simply absent). `layout` gives committee lengths
/// when an Electra attestation spans committees without a tracked duty; it may be `None`
/// when no such attestation touches a tracked duty (then `LayoutMissing` says it is needed).
pub fn account_epoch(
    spec: &BeaconSpec,
    epoch: Epoch,
    duties: &[AttesterDuty],
    blocks: &[&BlockSummary],
    layout: Option<&Layout>,
) -> Result<EpochTally, AccountingError> {
    let mut committees = seat_duties(spec, epoch, duties)?;
    let first = spec.first_slot(epoch) + 1;
    let last = spec.last_slot(epoch + 1);
    let mut prev_slot = 0;
    for block in blocks {
        if block.slot < first || block.slot > last || block.slot < prev_slot {
            return Err(AccountingError::BlockOutOfRange { epoch, next: epoch + 1, slot: block.slot });
        }
        prev_slot = block.slot;
        if committees.is_empty() {
            continue;
        }
        for att in &block.attestations {
            if spec.epoch_of(att.slot) != epoch {
                continue;
            }
            if att.slot >= block.slot {
                return Err(AccountingError::AttestationFromFuture { block_slot: block.slot, att_slot: att.slot });
            }
            apply_attestation(epoch, block, att, &mut committees, layout)?;
        }
    }
    let timely_delay = spec.timely_delay();
    let mut by_validator: BTreeMap<ValidatorIndex, Tally> = BTreeMap::new();
    for seat in committees.seats() {
        let t = by_validator.entry(seat.validator).or_insert(Tally {
            validator: seat.validator,
            duties: 0,
            included: 0,
            timely: 0,
        });
        t.duties += 1;
        if let Some(d) = seat.best_delay {
            t.included += 1;
            if d <= timely_delay {
                t.timely += 1;
            }
        }
    }
    Ok(EpochTally { epoch, tallies: by_validator.into_values().collect() })
}

fn seat_duties(spec: &BeaconSpec, epoch: Epoch, duties: &[AttesterDuty]) -> Result<Committees, AccountingError> {
    let mut committees = Committees::new(spec, epoch);
    for d in duties {
        if spec.epoch_of(d.slot) != epoch {
            return Err(AccountingError::DutyOutsideEpoch { validator: d.validator_index, slot: d.slot, epoch });
        }
        let bad = || AccountingError::BadDuty {
            validator: d.validator_index,
            slot: d.slot,
            committee: d.committee_index,
            position: d.validator_committee_index,
            length: d.committee_length,
            per_slot: d.committees_at_slot,
        };
        if d.validator_committee_index >= d.committee_length || d.committee_index >= d.committees_at_slot {
            return Err(bad());
        }
        let place = committees.place(d.slot, d.committee_index).ok_or_else(bad)?;
        if committees.table[place].is_none() {
            committees.occupied += 1;
        }
        let c =
            committees.table[place].get_or_insert(BeaconCommittee { length: d.committee_length, seats: Vec::new() });
        if c.length != d.committee_length {
            return Err(AccountingError::DutiesDisagree {
                slot: d.slot,
                committee: d.committee_index,
                a: c.length,
                b: d.committee_length,
            });
        }
        c.seats.push(Seat { validator: d.validator_index, position: d.validator_committee_index, best_delay: None });
    }
    Ok(committees)
}

/// Marks the seats an attestation covers. `bits_offset` is where committee `index`'s
/// bits start inside the aggregation bits.
fn mark(committee: &mut BeaconCommittee, att: &Attestation, bits_offset: u64, delay: u64) {
    for seat in &mut committee.seats {
        if att.aggregation_bits.get((bits_offset + seat.position) as usize) {
            seat.best_delay = Some(seat.best_delay.map_or(delay, |d| d.min(delay)));
        }
    }
}

fn apply_attestation(
    epoch: Epoch,
    block: &BlockSummary,
    att: &Attestation,
    committees: &mut Committees,
    layout: Option<&Layout>,
) -> Result<(), AccountingError> {
    let delay = block.slot - att.slot;
    let bits_len = att.aggregation_bits.len() as u64;
    let Some(committee_bits) = &att.committee_bits else {
        // Before Electra: one committee per attestation, named by data.index.
        if let Some(c) = committees.get_mut(att.slot, att.index) {
            if bits_len != c.length {
                return Err(AccountingError::BitsLength {
                    block_slot: block.slot,
                    att_slot: att.slot,
                    committee: att.index,
                    expected: c.length,
                    got: bits_len,
                });
            }
            mark(c, att, 0, delay);
        }
        return Ok(());
    };
    if att.index != 0 {
        return Err(AccountingError::BadIndex {
            block_slot: block.slot,
            att_slot: att.slot,
            index: att.index,
            fork: block.fork.clone(),
        });
    }
    // Electra: the bits of every committee set in committee_bits, concatenated in index order.
    let touches_tracked = committee_bits.ones().any(|i| committees.contains(att.slot, i as u64));
    if !touches_tracked {
        return Ok(());
    }
    let mut offset = 0u64;
    for i in committee_bits.ones() {
        let i = i as u64;
        let length = match committees.get_mut(att.slot, i) {
            Some(c) => {
                if let Some(expected) = layout.and_then(|l| l.length(att.slot, i)) {
                    if expected != c.length {
                        return Err(AccountingError::BitsLength {
                            block_slot: block.slot,
                            att_slot: att.slot,
                            committee: i,
                            expected: c.length,
                            got: expected,
                        });
                    }
                }
                if offset + c.length > bits_len {
                    return Err(AccountingError::BitsLength {
                        block_slot: block.slot,
                        att_slot: att.slot,
                        committee: i,
                        expected: offset + c.length,
                        got: bits_len,
                    });
                }
                mark(c, att, offset, delay);
                c.length
            }
            None => layout.and_then(|l| l.length(att.slot, i)).ok_or(AccountingError::LayoutMissing { epoch })?,
        };
        offset += length;
    }
    if offset != bits_len {
        return Err(AccountingError::AggregateLength {
            block_slot: block.slot,
            att_slot: att.slot,
            expected: offset,
            got: bits_len,
        });
    }
    Ok(())
}
