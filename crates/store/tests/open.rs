//! Opening a data directory: a damaged write-ahead log is refused with its own error
//! (not rolled back to an earlier state), and a directory in use says so differently.

use claystack_accounting::{EpochTally, Tally};
use claystack_store::{AccountingCursor, Store, StoreError};
use std::path::{Path, PathBuf};

/// A store with epochs `0..n` committed (still in the write-ahead log: nothing is flushed
/// to a table file by so little data).
fn store_with_epochs(dir: &Path, n: u64) {
    let store = Store::open(dir).unwrap();
    for epoch in 0..n {
        let tallies = (0..64u64).map(|v| Tally { validator: v, duties: 1, included: 1, timely: 1 }).collect();
        let cursor = AccountingCursor { next_epoch: epoch + 1, anchor: None, tracked_hash: [0; 32] };
        store.commit_epoch(&EpochTally { epoch, tallies }, &cursor).unwrap();
    }
}

/// The directory's write-ahead log file (the newest `*.log`).
fn wal(dir: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log") && p.metadata().unwrap().len() > 0)
        .collect();
    logs.sort();
    logs.pop().expect("a non-empty write-ahead log")
}

#[test]
fn a_truncated_write_ahead_log_is_refused_not_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    store_with_epochs(dir.path(), 40);
    let log = wal(dir.path());
    let len = log.metadata().unwrap().len();
    // Cut the last record in half.
    std::fs::OpenOptions::new().write(true).open(&log).unwrap().set_len(len - 300).unwrap();

    let err = Store::open(dir.path()).err().expect("a truncated log must not open");
    assert!(matches!(err, StoreError::DbCorrupt { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("is corrupt") && text.contains("backup") && !text.contains("in use"), "{text}");
}

#[test]
fn a_bit_flip_in_the_write_ahead_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    store_with_epochs(dir.path(), 40);
    let log = wal(dir.path());
    let mut bytes = std::fs::read(&log).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&log, bytes).unwrap();

    let err = Store::open(dir.path()).err().expect("a damaged log must not open");
    assert!(matches!(err, StoreError::DbCorrupt { .. }), "{err:?}");
}

#[test]
fn an_intact_store_reopens_with_everything() {
    let dir = tempfile::tempdir().unwrap();
    store_with_epochs(dir.path(), 40);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.accounting_cursor().unwrap().map(|c| c.next_epoch), Some(40));
    assert_eq!(store.epoch_tallies(0, 39).unwrap().len(), 40);
}

#[test]
fn a_directory_in_use_says_so_not_that_it_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path()).unwrap();
    let err = Store::open(dir.path()).err().expect("the lock is held");
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("in use by another process") && !text.contains("corrupt"), "{text}");
}
