//! Files written whole or not at all, and files only their owner can read.
//!
//! Every file the oracle writes for someone else to read (keys, the genesis, exported
//! reports, the simulator's ground truth, devnet's passwords) goes through
//! [`write_atomic`], [`write_private`] or [`write_new_private`]: a temporary file in the
//! same directory, created with its final mode, written, synced, renamed (or linked) into
//! place, and the directory synced. A reader sees the old file or the new one, never half
//! of one, and a crash leaves no torn file behind. Readers of secrets call
//! [`read_private`], which refuses a file that other users can read.
//!
//! This crate uses only the standard library; it must never log, print or put into an
//! error a file's content (callers write secrets with it).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Mode of files holding secrets (keystores, p2p keys, passwords, submitter keys).
pub const PRIVATE_MODE: u32 = 0o600;
/// Mode of files anyone may read (before the umask).
pub const PUBLIC_MODE: u32 = 0o644;

/// A file operation that failed: what was done to which path, and the operating system's
/// reason as the source (not repeated in the message).
#[derive(Debug, Error)]
#[error("cannot {action} {}", path.display())]
pub struct FsError {
    /// What was being done: `create`, `write`, `sync`, `read`, ….
    pub action: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl FsError {
    /// A `map_err` adapter naming the action and the path.
    pub fn at(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> FsError {
        let path = path.to_path_buf();
        move |source| FsError { action, path, source }
    }
}

/// Why a secret file was refused.
#[derive(Debug, Error)]
pub enum SecretFileError {
    /// It could not be read.
    #[error(transparent)]
    Io(#[from] FsError),
    /// Other users can read it (or write it): the secret may already be out.
    #[error("{path} can be read by other users (mode {mode:o}); run `chmod 600 {path}`", path = path.display())]
    OpenToOthers { path: PathBuf, mode: u32 },
}

/// Writes `bytes` to `path` atomically, readable by anyone (mode 0644 before the umask);
/// replaces an existing file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    write(path, bytes, PUBLIC_MODE, Existing::Replace)
}

/// Writes `bytes` to `path` atomically, readable by its owner only (mode 0600 from the
/// first byte); replaces an existing file.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    write(path, bytes, PRIVATE_MODE, Existing::Replace)
}

/// [`write_private`], but fails (with [`std::io::ErrorKind::AlreadyExists`] as the
/// source) instead of replacing a file already at `path`: for a secret that others
/// depend on, such as the password of keystores written beside it.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    write(path, bytes, PRIVATE_MODE, Existing::Refuse)
}

/// Reads a whole file.
pub fn read(path: &Path) -> Result<Vec<u8>, FsError> {
    std::fs::read(path).map_err(FsError::at("read", path))
}

/// Reads a secret file, refusing it if anyone but its owner can read or write it.
pub fn read_private(path: &Path) -> Result<Vec<u8>, SecretFileError> {
    check_private(path)?;
    Ok(read(path)?)
}

/// Fails unless `path` is accessible to its owner only (no group or other bits).
pub fn check_private(path: &Path) -> Result<(), SecretFileError> {
    let mode = std::fs::metadata(path).map_err(FsError::at("read", path))?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretFileError::OpenToOthers { path: path.to_path_buf(), mode });
    }
    Ok(())
}

/// Creates `dir` (and missing parents) accessible to its owner only (mode 0700).
pub fn create_private_dir(dir: &Path) -> Result<(), FsError> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(FsError::at("create directory", dir))
}

/// What to do when the target already exists.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Existing {
    Replace,
    Refuse,
}

fn write(path: &Path, bytes: &[u8], mode: u32, existing: Existing) -> Result<(), FsError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    // A leftover of an interrupted write: ours, and incomplete. Created anew below, so the
    // temporary file has `mode` from its first byte (an old one may have had another).
    let _ = std::fs::remove_file(&tmp);
    let result = write_then_place(&tmp, path, bytes, mode, existing);
    // After a rename nothing is left; after a link or a failure the temporary file is.
    let _ = std::fs::remove_file(&tmp);
    result?;
    // Make the rename (or link) itself durable.
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(FsError::at("sync directory", dir))
}

fn write_then_place(tmp: &Path, path: &Path, bytes: &[u8], mode: u32, existing: Existing) -> Result<(), FsError> {
    // Errors name the file the caller asked for; the temporary file is a detail.
    let mut file =
        OpenOptions::new().write(true).create_new(true).mode(mode).open(tmp).map_err(FsError::at("write", path))?;
    file.write_all(bytes).map_err(FsError::at("write", path))?;
    file.sync_all().map_err(FsError::at("write", path))?;
    match existing {
        Existing::Replace => std::fs::rename(tmp, path).map_err(FsError::at("write", path)),
        // link(2) never replaces its target: the check and the placing are one step.
        Existing::Refuse => std::fs::hard_link(tmp, path).map_err(FsError::at("create", path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn write_atomic_replaces_the_whole_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        write_atomic(&path, b"a much longer first version").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(files(dir.path()), ["report.json"]);
    }

    #[test]
    fn private_files_are_owner_only_and_a_leftover_temporary_file_does_not_widen_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        // An interrupted earlier write left a world-readable temporary file.
        std::fs::write(dir.path().join(".key.tmp"), b"junk").unwrap();
        std::fs::set_permissions(dir.path().join(".key.tmp"), std::fs::Permissions::from_mode(0o666)).unwrap();
        write_private(&path, b"secret").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(read_private(&path).unwrap(), b"secret");
        assert_eq!(files(dir.path()), ["key"]);
    }

    #[test]
    fn write_new_private_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("password");
        write_new_private(&path, b"first").unwrap();
        let err = write_new_private(&path, b"second").unwrap_err();
        assert_eq!(err.source.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(files(dir.path()), ["password"]);
    }

    #[test]
    fn a_file_others_can_read_is_refused_naming_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("submitter.key");
        write_atomic(&path, b"0x01").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = read_private(&path).unwrap_err();
        assert!(matches!(err, SecretFileError::OpenToOthers { mode: 0o640, .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("{0} can be read by other users (mode 640); run `chmod 600 {0}`", path.display())
        );
    }

    #[test]
    fn an_error_names_the_action_and_path_and_keeps_the_cause_as_its_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/genesis.json");
        let err = write_atomic(&path, b"{}").unwrap_err();
        assert_eq!(err.to_string(), format!("cannot write {}", path.display()));
        assert_eq!(
            err.source().and_then(|e| e.downcast_ref::<std::io::Error>()).map(|e| e.kind()),
            Some(std::io::ErrorKind::NotFound)
        );
    }
}
