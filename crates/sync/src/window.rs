//! A run of consecutive slots whose blocks are proven to be one unbroken chain.
//!
//! A beacon node answers 404 both for an empty slot and for a block it lacks,
//! so "no block" alone cannot be trusted. Every post-merge beacon block carries
//! an execution payload whose `block_number` is its parent's plus one and whose
//! `parent_hash` is its parent's `block_hash`. A slot reported empty that in
//! truth had a block therefore shows as a gap in the next block we do get.
//! Only blocks followed by a later verified block are final for accounting:
//! the last one could still be followed by a gap.

use claystack_primitives::{BlockSummary, ExecutionLink, Slot};
use std::collections::VecDeque;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum LinkError {
    /// Execution block numbers skip: a block was answered as missing.
    #[error("block at slot {slot} has execution block number {got}, expected {expected} after slot {prev_slot}: the beacon node answered a slot in between as empty though it holds a block (missing or pruned data)")]
    NumberGap { slot: Slot, prev_slot: Slot, expected: u64, got: u64 },
    /// A block does not build on the previous one.
    #[error("block at slot {slot} does not build on the block at slot {prev_slot} (execution parent hash differs): the beacon node served blocks from different chains")]
    HashMismatch { slot: Slot, prev_slot: Slot },
    /// Slots arrived out of order.
    #[error("slot {got} arrived where slot {expected} was expected")]
    OutOfOrder { expected: Slot, got: Slot },
}

/// Verified slots `[start, next)`, each with its block or `None` for empty.
pub struct BlockWindow {
    start: Slot,
    slots: VecDeque<Option<BlockSummary>>,
    /// The last block before or in the window, with its slot.
    tip: Option<(Slot, ExecutionLink)>,
    /// The last block before `start`, kept to resume from after trimming.
    base: Option<(Slot, ExecutionLink)>,
}

impl BlockWindow {
    /// An empty window starting at `start`, continuing from the block `anchor` (if known).
    pub fn new(start: Slot, anchor: Option<(Slot, ExecutionLink)>) -> Self {
        BlockWindow { start, slots: VecDeque::new(), tip: anchor, base: anchor }
    }

    /// The next slot this window expects.
    pub fn next_slot(&self) -> Slot {
        self.start + self.slots.len() as u64
    }

    /// Slot of the last block verified so far.
    pub fn tip_slot(&self) -> Option<Slot> {
        self.tip.map(|(s, _)| s)
    }

    /// Appends the answer for the next slot after checking it continues the chain.
    pub fn push(&mut self, slot: Slot, block: Option<BlockSummary>) -> Result<(), LinkError> {
        if slot != self.next_slot() {
            return Err(LinkError::OutOfOrder { expected: self.next_slot(), got: slot });
        }
        if let Some(b) = &block {
            if let Some((prev_slot, prev)) = self.tip {
                if b.execution.block_number != prev.block_number + 1 {
                    return Err(LinkError::NumberGap {
                        slot,
                        prev_slot,
                        expected: prev.block_number + 1,
                        got: b.execution.block_number,
                    });
                }
                if b.execution.parent_hash != prev.block_hash {
                    return Err(LinkError::HashMismatch { slot, prev_slot });
                }
            }
            self.tip = Some((slot, b.execution));
        }
        self.slots.push_back(block);
        Ok(())
    }

    /// Whether every block in `..=slot` is final: a later block has been verified.
    pub fn settled_through(&self, slot: Slot) -> bool {
        self.tip_slot().is_some_and(|t| t > slot)
    }

    /// The blocks with slots in `from..=to` (both inside the window), ascending.
    pub fn blocks(&self, from: Slot, to: Slot) -> Vec<&BlockSummary> {
        let lo = from.saturating_sub(self.start) as usize;
        let hi = ((to + 1).saturating_sub(self.start) as usize).min(self.slots.len());
        self.slots.range(lo.min(hi)..hi).flatten().collect()
    }

    /// The last block before `slot` (which must be within or just past the window).
    pub fn last_block_before(&self, slot: Slot) -> Option<(Slot, ExecutionLink)> {
        let upto = (slot.saturating_sub(self.start) as usize).min(self.slots.len());
        (0..upto).rev().find_map(|i| self.slots[i].as_ref().map(|b| (self.start + i as u64, b.execution))).or(self.base)
    }

    /// Forgets slots before `slot`.
    pub fn trim_before(&mut self, slot: Slot) {
        self.base = self.last_block_before(slot);
        while self.start < slot && !self.slots.is_empty() {
            self.slots.pop_front();
            self.start += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(slot: Slot, number: u64) -> BlockSummary {
        BlockSummary {
            slot,
            proposer_index: 0,
            parent_root: [0; 32],
            fork: "electra".into(),
            execution: ExecutionLink {
                block_number: number,
                block_hash: [number as u8; 32],
                parent_hash: [(number as u8).wrapping_sub(1); 32],
            },
            attestations: vec![],
            withdrawals: vec![],
            deposits: vec![],
        }
    }

    #[test]
    fn empty_slots_are_fine_hidden_blocks_are_not() {
        let mut w = BlockWindow::new(10, Some((9, block(9, 100).execution)));
        w.push(10, Some(block(10, 101))).unwrap();
        w.push(11, None).unwrap();
        w.push(12, Some(block(12, 102))).unwrap();
        assert!(w.settled_through(11) && !w.settled_through(12));
        // Slot 13 answered empty, but 14 shows a block was skipped.
        w.push(13, None).unwrap();
        assert_eq!(
            w.push(14, Some(block(14, 104))),
            Err(LinkError::NumberGap { slot: 14, prev_slot: 12, expected: 103, got: 104 })
        );
        let mut wrong = block(14, 103);
        wrong.execution.parent_hash = [0; 32];
        assert!(matches!(w.push(14, Some(wrong)), Err(LinkError::HashMismatch { .. })));
        assert!(matches!(w.push(20, None), Err(LinkError::OutOfOrder { .. })));
    }

    #[test]
    fn trimming_keeps_the_anchor() {
        let mut w = BlockWindow::new(0, None);
        let mut n = 0;
        for s in 0..8 {
            let b = (s % 3 != 2).then(|| {
                n += 1;
                block(s, n)
            });
            w.push(s, b).unwrap();
        }
        assert_eq!(w.blocks(2, 5).iter().map(|b| b.slot).collect::<Vec<_>>(), vec![3, 4]);
        w.trim_before(6);
        assert_eq!(w.last_block_before(6).map(|(s, _)| s), Some(4));
        assert_eq!(w.blocks(0, 7).iter().map(|b| b.slot).collect::<Vec<_>>(), vec![6, 7]);
    }
}
