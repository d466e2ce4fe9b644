//! One running node per key directory.
//!
//! Two processes with one member's keys would each sign what they compute: two roots for a
//! report whenever their inputs differ, an equivocation every peer records. A node takes an
//! exclusive lock on `<dir>/node.lock` for as long as it runs (an advisory `flock`, released
//! by the kernel when the process exits, even by `kill -9`), and a second node on the same
//! machine stops at start. Nodes on two machines sharing copied keys are not caught here;
//! see docs/keys.md.

use crate::{KeyDir, KeysError};
use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// File name of the lock in a key directory.
pub const LOCK_FILE: &str = "node.lock";

/// Held while the node runs; dropping it releases the lock.
#[derive(Debug)]
pub struct KeyDirLock {
    _file: File,
}

impl KeyDir {
    /// Locks `dir` for this process, or fails if another process holds it.
    pub fn lock(dir: &Path) -> Result<KeyDirLock, KeysError> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(KeysError::io("open the lock file", &path))?;
        match file.try_lock() {
            Ok(()) => Ok(KeyDirLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(KeysError::InUse { dir: dir.to_path_buf() }),
            Err(TryLockError::Error(e)) => Err(KeysError::io("lock", &path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = KeyDir::lock(dir.path()).unwrap();
        let err = KeyDir::lock(dir.path()).unwrap_err().to_string();
        assert!(err.contains("in use by another claystack-oracle process"), "{err}");
        drop(first);
        KeyDir::lock(dir.path()).unwrap();
    }
}
