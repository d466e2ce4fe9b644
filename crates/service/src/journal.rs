//! The submitter's journal in the node's store: the transaction in flight for each report
//! (`claystack_execution::InFlight`), synced before it is sent, so a node killed with a
//! submission in flight tracks or replaces that transaction on restart.

use claystack_execution::{InFlight, SubmissionJournal};
use claystack_primitives::ReportId;
use claystack_store::Store;
use std::sync::Arc;

/// A [`SubmissionJournal`] over the store's in-flight records.
pub struct StoreJournal {
    store: Arc<Store>,
}

impl StoreJournal {
    pub fn new(store: Arc<Store>) -> StoreJournal {
        StoreJournal { store }
    }
}

impl SubmissionJournal for StoreJournal {
    fn load(&self, id: ReportId) -> Result<Option<InFlight>, String> {
        let Some(bytes) = self.store.in_flight(id.kind, id.number).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        InFlight::decode(&bytes)
            .map(Some)
            .ok_or_else(|| format!("the stored record of {id} does not decode ({} bytes)", bytes.len()))
    }

    fn save(&self, id: ReportId, record: &InFlight) -> Result<(), String> {
        self.store.put_in_flight(id.kind, id.number, &record.encode()).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use claystack_execution::alloy::primitives::B256;
    use claystack_execution::Fees;
    use claystack_primitives::ReportKind;

    #[test]
    fn a_record_survives_a_reopen_of_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let id = ReportId { kind: ReportKind::Rewards, number: 3 };
        let record = InFlight {
            nonce: 4,
            gas_limit: 300_000,
            fees: Fees { max_fee_per_gas: 30, max_priority_fee_per_gas: 2 },
            hashes: vec![B256::repeat_byte(9)],
            attempt: 0,
            sent_at_ms: 1,
        };
        {
            let journal = StoreJournal::new(Arc::new(Store::open(dir.path()).unwrap()));
            assert_eq!(journal.load(id).unwrap(), None);
            journal.save(id, &record).unwrap();
        }
        let journal = StoreJournal::new(Arc::new(Store::open(dir.path()).unwrap()));
        assert_eq!(journal.load(id).unwrap(), Some(record));
        assert_eq!(journal.load(ReportId { kind: ReportKind::Exits, number: 3 }).unwrap(), None);
    }
}
