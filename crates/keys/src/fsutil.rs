//! Writing key files: whole or not at all, and with the right mode from the first byte.

use crate::KeysError;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Mode of files holding secrets (the keystore, the p2p key): the owner reads and writes.
pub const SECRET_MODE: u32 = 0o600;
/// Mode of public files (member.json).
pub const PUBLIC_MODE: u32 = 0o644;

/// Writes `bytes` to `path` through a temporary file in the same directory, created with
/// `mode` (so a secret is never readable by others, not even for a moment), synced, then
/// renamed over `path`. A crash leaves either no file or the whole file, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeysError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    // A leftover from an interrupted write: ours, and incomplete.
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(KeysError::io("create", &tmp))?;
        f.write_all(bytes).map_err(KeysError::io("write", &tmp))?;
        f.sync_all().map_err(KeysError::io("sync", &tmp))?;
        std::fs::rename(&tmp, path).map_err(KeysError::io("write", path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    // Make the rename itself durable.
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        File::open(dir).and_then(|d| d.sync_all()).map_err(KeysError::io("sync", dir))?;
    }
    Ok(())
}

/// Creates `dir` (and missing parents) readable by the owner only.
pub fn create_private_dir(dir: &Path) -> Result<(), KeysError> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(KeysError::io("create directory", dir))
}

/// Reads a whole file.
pub fn read(path: &Path) -> Result<Vec<u8>, KeysError> {
    std::fs::read(path).map_err(KeysError::io("read", path))
}
