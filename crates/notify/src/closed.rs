//! A closed report as the store holds it, parsed: the report and its frame log.
//!
//! The registry a report was computed with is not stored on its own, but the report (its
//! operators and their nodes) and the frame log (every registry validator and its cluster)
//! hold all of it but each node's registration epoch, which the engine only checks against
//! the frame's end. [`registry_of`] rebuilds it, so the running frame needs no other input.

use claystack_exits::ExitsReport;
use claystack_report::FrameLog;
use claystack_rewards::{Node, Operator, Registry, RewardsReport, Validator};
use thiserror::Error;

/// A stored report whose bytes do not parse.
#[derive(Debug, Error)]
pub enum ClosedError {
    /// `report.json` of a stored report is not a rewards report.
    #[error("stored report {number}: report.json does not parse: {error}")]
    Report { number: u64, error: serde_json::Error },
    /// The frame log of a stored report is missing or does not parse (a report stored
    /// before frame logs existed has none).
    #[error("stored report {number}: frame-log.json does not parse: {error}")]
    Log { number: u64, error: serde_json::Error },
    /// A stored exits report's bytes are not an exits report.
    #[error("stored exits report {number}: report.json does not parse: {error}")]
    Exits { number: u64, error: serde_json::Error },
    /// A stored exits report says another number than the one it is stored under.
    #[error("stored exits report {number}: its report.json is report {found}")]
    ExitsNumber { number: u64, found: u64 },
}

/// A stored exits report (`StoredReport.report` is `claystack_exits::ExitsReport::bytes()`),
/// parsed: its leaves are the exits it publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitsClosed {
    pub report: ExitsReport,
}

impl ExitsClosed {
    /// Parses stored exits report `number`'s bytes.
    pub fn parse(number: u64, report: &[u8]) -> Result<ExitsClosed, ClosedError> {
        let report: ExitsReport =
            serde_json::from_slice(report).map_err(|error| ClosedError::Exits { number, error })?;
        if report.number != number {
            return Err(ClosedError::ExitsNumber { number, found: report.number });
        }
        Ok(ExitsClosed { report })
    }

    pub fn number(&self) -> u64 {
        self.report.number
    }
}

/// One closed report: what the committee signed, and why its numbers are what they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub report: RewardsReport,
    pub log: FrameLog,
}

impl Closed {
    /// Parses a stored report's `report.json` and `frame-log.json` bytes.
    pub fn parse(number: u64, report: &[u8], log: &[u8]) -> Result<Closed, ClosedError> {
        let report = serde_json::from_slice(report).map_err(|error| ClosedError::Report { number, error })?;
        let log = serde_json::from_slice(log).map_err(|error| ClosedError::Log { number, error })?;
        Ok(Closed { report, log })
    }

    pub fn number(&self) -> u64 {
        self.report.number
    }
}

/// The registry report `closed` was computed with, each node registered at the frame's
/// first epoch. Operators only carried from an earlier report (no id) are left out: they
/// come back through the carry.
pub fn registry_of(closed: &Closed) -> Registry {
    let mut registry = Registry::default();
    for o in &closed.report.operators {
        let Some(id) = o.id else { continue };
        registry.operators.push(Operator { id, address: o.address });
        for n in &o.nodes {
            registry.nodes.push(Node {
                id: n.id,
                operator: id,
                node_type: n.node_type.clone(),
                registered_epoch: closed.report.frame.0,
            });
        }
    }
    registry.validators =
        closed.log.validators.iter().map(|v| Validator { index: v.index, nodes: v.nodes.clone() }).collect();
    registry
}
