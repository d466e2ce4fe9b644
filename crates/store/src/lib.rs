//! The node's persistent state in RocksDB: one data directory, written only in
//! atomic batches so a `kill -9` at any point leaves either the old or the new
//! state, never a mix.
//!
//! Keys are namespaced byte strings (`acct/...`), values a small canonical binary
//! encoding (see `codec`), so the on-disk bytes do not depend on serde or field
//! order. Every value starts with a one-byte format version.

mod codec;
mod reports;

use claystack_accounting::{EpochFlows, EpochTally, Tally};
use claystack_primitives::{Epoch, ExecutionLink};
use rocksdb::{Options, WriteBatch, DB};
use std::path::{Path, PathBuf};
use thiserror::Error;

pub use codec::CodecError;
pub use reports::StoredReport;

/// What went wrong reading or writing the data directory.
///
/// Causes are fields named `error`, not `source`, as in `claystack-keys`: the message
/// already prints them, and a `source` would make `anyhow`'s `{:#}` print them twice.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Another process holds the directory's lock (a node, or `tallies`, running on it).
    #[error(
        "the data directory {path} is in use by another process (RocksDB: {error}); stop the other claystack-oracle \
         using it, or give this one its own data directory"
    )]
    Locked { path: PathBuf, error: rocksdb::Error },
    /// The directory's log or tables are damaged (a truncated or bit-flipped write-ahead
    /// log, a bad table checksum). Refused rather than rolled back: RocksDB's default
    /// recovery would drop the damaged tail, losing tallies and own signatures silently.
    #[error(
        "the data directory {path} is corrupt (RocksDB: {error}); the node refuses to start rather than drop the \
         damaged records. Restore the directory from a backup, or move it aside and start with an empty one \
         (accounting starts again from the start epoch)"
    )]
    DbCorrupt { path: PathBuf, error: rocksdb::Error },
    /// RocksDB cannot open the directory for another reason (not writable, not a database).
    #[error("cannot open the data directory {path}: {error} — is it writable, and a claystack-oracle data directory?")]
    Open { path: PathBuf, error: rocksdb::Error },
    /// A read or write failed.
    #[error("database error: {0}")]
    Db(rocksdb::Error),
    /// A stored value does not decode.
    #[error("stored value under {key} is corrupt: {error}")]
    Corrupt { key: String, error: CodecError },
}

impl From<rocksdb::Error> for StoreError {
    fn from(error: rocksdb::Error) -> Self {
        StoreError::Db(error)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Where accounting stands: the next epoch to account, and the last verified
/// block before that epoch, from which the next blocks must continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountingCursor {
    pub next_epoch: Epoch,
    /// Execution link of the last canonical block before `first_slot(next_epoch)`,
    /// with its beacon slot.
    pub anchor: Option<(u64, ExecutionLink)>,
    /// Hash of the tracked validator set the tallies were made for.
    pub tracked_hash: [u8; 32],
}

pub struct Store {
    db: DB,
}

const CURSOR_KEY: &[u8] = b"acct/cursor";
const TALLY_PREFIX: &[u8] = b"acct/tally/";
const TRACKED_PREFIX: &[u8] = b"acct/tracked/";
const FLOWS_PREFIX: &[u8] = b"acct/flows/";

fn flows_key(epoch: Epoch) -> Vec<u8> {
    let mut k = FLOWS_PREFIX.to_vec();
    k.extend_from_slice(&epoch.to_be_bytes());
    k
}

fn tracked_key(epoch: Epoch) -> Vec<u8> {
    let mut k = TRACKED_PREFIX.to_vec();
    k.extend_from_slice(&epoch.to_be_bytes());
    k
}

fn tally_key(epoch: Epoch) -> Vec<u8> {
    let mut k = TALLY_PREFIX.to_vec();
    k.extend_from_slice(&epoch.to_be_bytes());
    k
}

/// Names what went wrong opening `path`: locked, corrupt, or something else.
fn open_error(path: &Path, error: rocksdb::Error) -> StoreError {
    let path = path.to_path_buf();
    match error.kind() {
        rocksdb::ErrorKind::Corruption => StoreError::DbCorrupt { path, error },
        // RocksDB reports a held lock as an IO error naming its LOCK file.
        rocksdb::ErrorKind::IOError if error.as_ref().contains("lock") => StoreError::Locked { path, error },
        _ => StoreError::Open { path, error },
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    ///
    /// Damage is refused, never rolled back: the write-ahead log is replayed with
    /// `AbsoluteConsistency` (any bad or incomplete record fails the open, where the default
    /// `PointInTime` recovery stops at it and drops everything after, without a word) and
    /// paranoid checks are on. A `kill -9` does not damage the log: RocksDB hands each write
    /// batch to the kernel before the write returns (this node's batches are kilobytes,
    /// one `write` call), and the kernel keeps what a killed process wrote. A machine crash
    /// can lose unsynced writes; the records this node must not lose (own signatures,
    /// transactions in flight) are synced, and a torn log is then refused with a clear error.
    pub fn open(dir: &Path) -> Result<Store> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        opts.set_wal_recovery_mode(rocksdb::DBRecoveryMode::AbsoluteConsistency);
        opts.set_paranoid_checks(true);
        let db = DB::open(&opts, dir).map_err(|error| open_error(dir, error))?;
        Ok(Store { db })
    }

    pub fn accounting_cursor(&self) -> Result<Option<AccountingCursor>> {
        self.db
            .get(CURSOR_KEY)?
            .map(|v| codec::decode_cursor(&v).map_err(|error| StoreError::Corrupt { key: "acct/cursor".into(), error }))
            .transpose()
    }

    /// Stores an epoch's tallies and moves the cursor past it, atomically.
    pub fn commit_epoch(&self, tally: &EpochTally, cursor: &AccountingCursor) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.put(tally_key(tally.epoch), codec::encode_tallies(&tally.tallies));
        batch.put(CURSOR_KEY, codec::encode_cursor(cursor));
        self.db.write(batch)?;
        Ok(())
    }

    /// What the follower commits for each epoch, atomically: the tallies, the balance flows,
    /// the cursor past the epoch, and `tracked` (sorted) as the set the tallies are made for
    /// from this epoch on, when it is not the stored cursor's set.
    pub fn commit_epoch_tracked(
        &self,
        tally: &EpochTally,
        flows: &EpochFlows,
        cursor: &AccountingCursor,
        tracked: &[u64],
    ) -> Result<()> {
        debug_assert_eq!(tally.epoch, flows.epoch);
        let mut batch = WriteBatch::default();
        if self.accounting_cursor()?.is_none_or(|c| c.tracked_hash != cursor.tracked_hash) {
            batch.put(tracked_key(tally.epoch), codec::encode_indices(tracked));
        }
        batch.put(flows_key(flows.epoch), codec::encode_flows(flows));
        batch.put(tally_key(tally.epoch), codec::encode_tallies(&tally.tallies));
        batch.put(CURSOR_KEY, codec::encode_cursor(cursor));
        self.db.write(batch)?;
        Ok(())
    }

    /// The tracked sets in effect over `from..=to`: `(first epoch, sorted indices)` for the
    /// set in effect at `from` and each one recorded after it up to `to`. Empty if the
    /// store predates this record (or nothing was accounted).
    pub fn tracked_sets(&self, from: Epoch, to: Epoch) -> Result<Vec<(Epoch, Vec<u64>)>> {
        let mut out: Vec<(Epoch, Vec<u64>)> = Vec::new();
        for item in self.db.prefix_iterator(TRACKED_PREFIX) {
            let (k, v) = item?;
            if !k.starts_with(TRACKED_PREFIX) {
                break;
            }
            let epoch = Epoch::from_be_bytes(k[TRACKED_PREFIX.len()..].try_into().expect("tracked keys hold 8 bytes"));
            if epoch > to {
                break;
            }
            let set = codec::decode_indices(&v)
                .map_err(|error| StoreError::Corrupt { key: format!("acct/tracked/{epoch}"), error })?;
            if epoch <= from {
                out.clear(); // an earlier set, replaced by this one before `from`
            }
            out.push((epoch, set));
        }
        Ok(out)
    }

    pub fn epoch_tally(&self, epoch: Epoch) -> Result<Option<EpochTally>> {
        let key = tally_key(epoch);
        self.db
            .get(&key)?
            .map(|v| {
                codec::decode_tallies(&v)
                    .map(|tallies| EpochTally { epoch, tallies })
                    .map_err(|error| StoreError::Corrupt { key: format!("acct/tally/{epoch}"), error })
            })
            .transpose()
    }

    /// Every stored epoch tally in `from..=to`, ascending.
    pub fn epoch_tallies(&self, from: Epoch, to: Epoch) -> Result<Vec<EpochTally>> {
        let mut out = Vec::new();
        let iter = self.db.iterator(rocksdb::IteratorMode::From(&tally_key(from), rocksdb::Direction::Forward));
        for item in iter {
            let (k, v) = item?;
            if !k.starts_with(TALLY_PREFIX) {
                break;
            }
            let epoch = Epoch::from_be_bytes(k[TALLY_PREFIX.len()..].try_into().expect("tally keys hold 8 bytes"));
            if epoch > to {
                break;
            }
            let tallies = codec::decode_tallies(&v)
                .map_err(|error| StoreError::Corrupt { key: format!("acct/tally/{epoch}"), error })?;
            out.push(EpochTally { epoch, tallies });
        }
        Ok(out)
    }

    /// The stored balance flows of the epochs in `from..=to`, ascending. An epoch accounted by
    /// a build before flows were recorded (or by [`commit_epoch`](Store::commit_epoch)) has none:
    /// callers that measure rewards check that every epoch is there.
    pub fn epoch_flows(&self, from: Epoch, to: Epoch) -> Result<Vec<EpochFlows>> {
        let mut out = Vec::new();
        let iter = self.db.iterator(rocksdb::IteratorMode::From(&flows_key(from), rocksdb::Direction::Forward));
        for item in iter {
            let (k, v) = item?;
            if !k.starts_with(FLOWS_PREFIX) {
                break;
            }
            let epoch = Epoch::from_be_bytes(k[FLOWS_PREFIX.len()..].try_into().expect("flows keys hold 8 bytes"));
            if epoch > to {
                break;
            }
            let flows = codec::decode_flows(epoch, &v)
                .map_err(|error| StoreError::Corrupt { key: format!("acct/flows/{epoch}"), error })?;
            out.push(flows);
        }
        Ok(out)
    }

    /// The first epoch with a stored tally (where this node's accounting started), if any.
    /// One key read, where `epoch_tallies(0, to).first()` would decode every tally up to `to`.
    pub fn first_tally_epoch(&self) -> Result<Option<Epoch>> {
        let mut iter = self.db.iterator(rocksdb::IteratorMode::From(TALLY_PREFIX, rocksdb::Direction::Forward));
        match iter.next() {
            Some(item) => {
                let (k, _) = item?;
                Ok(k.starts_with(TALLY_PREFIX).then(|| {
                    Epoch::from_be_bytes(k[TALLY_PREFIX.len()..].try_into().expect("tally keys hold 8 bytes"))
                }))
            }
            None => Ok(None),
        }
    }

    /// Per-validator sums over `from..=to`, sorted by validator.
    ///
    /// Streams: one epoch's tallies are decoded at a time and merged into the running sums, so
    /// a mainnet frame (1,575 epochs of 10,000 tallies, 378 MB as `Vec<Tally>`) needs the sums
    /// and one epoch in memory, not the whole frame.
    pub fn sum_tallies(&self, from: Epoch, to: Epoch) -> Result<Vec<Tally>> {
        let mut sums: Vec<Tally> = Vec::new();
        let iter = self.db.iterator(rocksdb::IteratorMode::From(&tally_key(from), rocksdb::Direction::Forward));
        for item in iter {
            let (k, v) = item?;
            if !k.starts_with(TALLY_PREFIX) {
                break;
            }
            let epoch = Epoch::from_be_bytes(k[TALLY_PREFIX.len()..].try_into().expect("tally keys hold 8 bytes"));
            if epoch > to {
                break;
            }
            let tallies = codec::decode_tallies(&v)
                .map_err(|error| StoreError::Corrupt { key: format!("acct/tally/{epoch}"), error })?;
            sums = add_tallies(sums, tallies);
        }
        Ok(sums)
    }
}

/// `sums` (sorted by validator, one entry each) plus one epoch's `tallies`, sorted by validator
/// with each validator's entries added together. The common case, the same validators in the
/// same order as the sums, adds in place.
fn add_tallies(mut sums: Vec<Tally>, mut tallies: Vec<Tally>) -> Vec<Tally> {
    if sums.len() == tallies.len() && sums.iter().zip(&tallies).all(|(s, t)| s.validator == t.validator) {
        for (s, t) in sums.iter_mut().zip(&tallies) {
            s.add(t);
        }
        return sums;
    }
    tallies.sort_by_key(|t| t.validator);
    let mut out: Vec<Tally> = Vec::with_capacity(sums.len().max(tallies.len()));
    let (mut a, mut b) = (sums.into_iter().peekable(), tallies.into_iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.validator <= y.validator => a.next(),
            (Some(_), Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, _) => b.next(),
        };
        let Some(next) = next else { break };
        match out.last_mut() {
            Some(last) if last.validator == next.validator => last.add(&next),
            _ => out.push(next),
        }
    }
    out
}
