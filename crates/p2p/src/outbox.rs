//! Messages published while no member is subscribed to the topic yet.
//!
//! At start-up, or when every member is unreachable, gossipsub has nobody to
//! send to and refuses the message. Dropping it would lose a signature
//! silently, so it waits here, in publish order, and is published again when a
//! member subscribes (and on a one-second retry tick). The queue is bounded: a
//! node cut off for long gets [`crate::NetworkError::QueueFull`] instead of
//! growing without limit.

use std::collections::VecDeque;

use libp2p::gossipsub::MessageId;

/// Messages waiting for a subscribed peer, at most this many.
pub const OUTBOX_CAPACITY: usize = 256;

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    waiting: VecDeque<(MessageId, Vec<u8>)>,
}

/// What happened to a message offered to the outbox.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Queued {
    Added,
    /// The same bytes were already waiting.
    AlreadyWaiting,
    Full,
}

impl Outbox {
    pub(crate) fn push(&mut self, id: MessageId, data: Vec<u8>) -> Queued {
        if self.waiting.iter().any(|(waiting, _)| *waiting == id) {
            Queued::AlreadyWaiting
        } else if self.waiting.len() >= OUTBOX_CAPACITY {
            Queued::Full
        } else {
            self.waiting.push_back((id, data));
            Queued::Added
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Offers the waiting messages, oldest first, to `send`, which returns
    /// `false` when there is still nobody to send to: that message and all
    /// after it stay, in order.
    pub(crate) fn flush(&mut self, mut send: impl FnMut(&MessageId, &[u8]) -> bool) {
        while let Some((id, data)) = self.waiting.front() {
            if !send(id, data) {
                return;
            }
            self.waiting.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> MessageId {
        MessageId::new(&[n])
    }

    #[test]
    fn keeps_order_dedups_and_bounds() {
        let mut outbox = Outbox::default();
        assert_eq!(outbox.push(id(1), vec![1]), Queued::Added);
        assert_eq!(outbox.push(id(1), vec![1]), Queued::AlreadyWaiting);
        for n in 2..=OUTBOX_CAPACITY {
            assert_eq!(outbox.push(MessageId::new(&n.to_be_bytes()), vec![]), Queued::Added);
        }
        assert_eq!(outbox.push(id(0), vec![0]), Queued::Full);
        assert_eq!(outbox.len(), OUTBOX_CAPACITY);
    }

    #[test]
    fn flush_stops_at_the_first_refusal_and_keeps_the_rest() {
        let mut outbox = Outbox::default();
        for n in 1..=3 {
            outbox.push(id(n), vec![n]);
        }
        let mut sent = Vec::new();
        outbox.flush(|_, data| {
            if data[0] == 2 {
                return false;
            }
            sent.push(data[0]);
            true
        });
        assert_eq!(sent, [1]);
        assert_eq!(outbox.len(), 2);

        outbox.flush(|_, data| {
            sent.push(data[0]);
            true
        });
        assert_eq!(sent, [1, 2, 3]);
        assert!(outbox.is_empty());
    }
}
