//! Reports: a numbered result the committee signs, of one kind. Shared by every crate
//! that stores, signs, gossips or submits one, so the kind has exactly one definition.

use std::fmt;

/// What a report is about; its byte is part of the signed bytes and of the gossip message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ReportKind {
    Rewards = 0,
    Exits = 1,
}

impl ReportKind {
    pub const ALL: [ReportKind; 2] = [ReportKind::Rewards, ReportKind::Exits];

    /// The kind with this byte, if any.
    pub fn from_byte(b: u8) -> Option<ReportKind> {
        match b {
            0 => Some(ReportKind::Rewards),
            1 => Some(ReportKind::Exits),
            _ => None,
        }
    }

    pub fn byte(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for ReportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReportKind::Rewards => "rewards",
            ReportKind::Exits => "exits",
        })
    }
}

/// One report: numbers count per kind, from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReportId {
    pub kind: ReportKind,
    pub number: u64,
}

impl ReportId {
    pub fn new(kind: ReportKind, number: u64) -> ReportId {
        ReportId { kind, number }
    }
}

impl fmt::Display for ReportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} report {}", self.kind, self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_bytes_round_trip() {
        for k in ReportKind::ALL {
            assert_eq!(ReportKind::from_byte(k.byte()), Some(k));
        }
        assert_eq!(ReportKind::from_byte(2), None);
    }
}
