//! Voluntary exits: operators' requests get an exit slot in the exits report.
//!
//! Requests are served in request order (their position on the execution chain: block,
//! then log index), fast-track requests before all others, up to the report's capacity;
//! the rest carry, in the same order, to the next exits report. A served request's
//! **exit slot** is the epoch by which its validator must have exited (its exit-by epoch):
//! `reference_epoch + exit_within_epochs`, or `+ fast_track_exit_within_epochs` when
//! fast-tracked. Until its exit is confirmed on the beacon chain, the operator keeps the
//! validator's nodes running.

use crate::error::ExitsError;
use claystack_primitives::{Epoch, ValidatorIndex};
use claystack_rewards::Address;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One operator's request to exit a validator, as the registry's event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoluntaryRequest {
    pub validator: ValidatorIndex,
    pub operator: Address,
    /// Where the request was made: the block of its event and the event's log index.
    pub block: u64,
    pub log_index: u64,
    pub fast_track: bool,
}

impl VoluntaryRequest {
    /// Serving order: fast track first, then by position on the execution chain.
    pub(crate) fn queue_key(&self) -> (bool, u64, u64) {
        (!self.fast_track, self.block, self.log_index)
    }
}

/// The genesis rules of voluntary exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoluntaryRules {
    /// The most voluntary exits one exits report serves.
    pub capacity_per_report: u32,
    /// Epochs from the report's reference epoch to a request's exit slot.
    pub exit_within_epochs: u64,
    /// The same for a fast-tracked request; at most `exit_within_epochs`.
    pub fast_track_exit_within_epochs: u64,
}

/// A request served by this report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitSlot {
    pub request: VoluntaryRequest,
    /// The epoch by which the validator must have exited.
    pub exit_by_epoch: Epoch,
}

/// What one report does with the open requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slots {
    /// Served, in serving order.
    pub assigned: Vec<ExitSlot>,
    /// Left for the next exits report, in serving order.
    pub carried: Vec<VoluntaryRequest>,
}

/// Gives exit slots to the open `requests` (any order) of the report at `reference_epoch`.
pub fn assign_slots(
    requests: &[VoluntaryRequest],
    rules: VoluntaryRules,
    reference_epoch: Epoch,
) -> Result<Slots, ExitsError> {
    if rules.fast_track_exit_within_epochs > rules.exit_within_epochs {
        return Err(ExitsError::InvalidRule {
            field: "fast_track_exit_within_epochs",
            reason: format!(
                "{} epochs is longer than exit_within_epochs {}: the fast track must not be slower",
                rules.fast_track_exit_within_epochs, rules.exit_within_epochs
            ),
        });
    }
    check(requests)?;
    let mut queue = requests.to_vec();
    // Positions are unique (checked), so this order is total.
    queue.sort_by_key(VoluntaryRequest::queue_key);
    let capacity = (rules.capacity_per_report as usize).min(queue.len());
    let carried = queue.split_off(capacity);
    let assigned = queue
        .into_iter()
        .map(|request| {
            let within =
                if request.fast_track { rules.fast_track_exit_within_epochs } else { rules.exit_within_epochs };
            let exit_by_epoch = reference_epoch.checked_add(within).ok_or(ExitsError::Overflow("exit slot epoch"))?;
            Ok(ExitSlot { request, exit_by_epoch })
        })
        .collect::<Result<_, ExitsError>>()?;
    Ok(Slots { assigned, carried })
}

/// One request per validator, one per position on the execution chain.
pub(crate) fn check(requests: &[VoluntaryRequest]) -> Result<(), ExitsError> {
    let mut by_validator = BTreeMap::new();
    let mut by_position = BTreeMap::new();
    for r in requests {
        if by_validator.insert(r.validator, ()).is_some() {
            return Err(ExitsError::DuplicateValidator { list: "the voluntary exit requests", validator: r.validator });
        }
        if let Some(first) = by_position.insert((r.block, r.log_index), r.validator) {
            return Err(ExitsError::DuplicateLogPosition {
                block: r.block,
                log_index: r.log_index,
                first: first.min(r.validator),
                second: first.max(r.validator),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: VoluntaryRules =
        VoluntaryRules { capacity_per_report: 3, exit_within_epochs: 225, fast_track_exit_within_epochs: 12 };

    fn request(validator: u64, block: u64, log_index: u64, fast_track: bool) -> VoluntaryRequest {
        VoluntaryRequest { validator, operator: Address([validator as u8; 20]), block, log_index, fast_track }
    }

    fn served(s: &Slots) -> Vec<(u64, Epoch)> {
        s.assigned.iter().map(|a| (a.request.validator, a.exit_by_epoch)).collect()
    }

    #[test]
    fn requests_are_served_fast_track_first_then_in_request_order_and_the_rest_carry() {
        let requests = [
            request(1, 100, 0, false),
            request(2, 100, 1, false),
            request(3, 101, 0, true),
            request(4, 99, 5, false),
            request(5, 102, 0, false),
        ];
        let s = assign_slots(&requests, RULES, 1000).unwrap();
        assert_eq!(served(&s), vec![(3, 1012), (4, 1225), (1, 1225)]);
        assert_eq!(s.carried.iter().map(|r| r.validator).collect::<Vec<_>>(), vec![2, 5]);
        // Next report: the carried ones go first, unless a new fast-track request overtakes them.
        let next = [s.carried.clone(), vec![request(6, 300, 0, true), request(7, 300, 1, false)]].concat();
        let s2 = assign_slots(&next, RULES, 1100).unwrap();
        assert_eq!(served(&s2), vec![(6, 1112), (2, 1325), (5, 1325)]);
        assert_eq!(s2.carried, vec![request(7, 300, 1, false)]);
    }

    #[test]
    fn the_order_of_the_input_does_not_matter() {
        let mut requests: Vec<_> = (0..20).map(|i| request(i, 50 - i / 3, i % 3, i % 7 == 0)).collect();
        let a = assign_slots(&requests, RULES, 10).unwrap();
        requests.reverse();
        requests.swap(3, 11);
        assert_eq!(assign_slots(&requests, RULES, 10).unwrap(), a);
    }

    #[test]
    fn a_zero_capacity_carries_everything() {
        let rules = VoluntaryRules { capacity_per_report: 0, ..RULES };
        let s = assign_slots(&[request(1, 1, 0, true)], rules, 10).unwrap();
        assert!(s.assigned.is_empty());
        assert_eq!(s.carried.len(), 1);
    }

    #[test]
    fn bad_requests_and_rules_are_one_line_errors() {
        assert_eq!(
            assign_slots(&[request(1, 1, 0, false), request(1, 2, 0, false)], RULES, 0).unwrap_err().to_string(),
            "validator 1 is listed twice in the voluntary exit requests"
        );
        assert_eq!(
            assign_slots(&[request(2, 7, 3, false), request(1, 7, 3, false)], RULES, 0).unwrap_err().to_string(),
            "two voluntary exit requests (validators 1 and 2) have the same position: block 7, log index 3"
        );
        let slow = VoluntaryRules { fast_track_exit_within_epochs: 300, ..RULES };
        assert!(assign_slots(&[], slow, 0).unwrap_err().to_string().contains("the fast track must not be slower"));
        assert_eq!(
            assign_slots(&[request(1, 1, 0, false)], RULES, u64::MAX).unwrap_err(),
            ExitsError::Overflow("exit slot epoch")
        );
    }
}
