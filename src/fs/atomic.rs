//! Atomic writes (temp file in the same directory, fsync, rename, fsync the directory).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Write `data` to `path` atomically with mode 0600. The previous content stays intact on any failure.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().ok_or_else(|| Error::Internal(format!("{} has no parent", path.display())))?;
    super::check_dir(dir)?;
    super::check_file(path, false)?;
    super::fault::before_change(path)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".clawkeep-")
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, "creating a temporary file in", e))?;
    tmp.write_all(data).map_err(|e| Error::io(path, "writing", e))?;
    let sync = !super::fault::fsync_skipped();
    if sync {
        tmp.as_file().sync_all().map_err(|e| Error::io(path, "syncing", e))?;
    }
    tmp.persist(path).map_err(|e| Error::io(path, "replacing", e.error))?;
    #[allow(clippy::disallowed_methods)] // a directory handle, opened only to fsync it
    if sync && let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Remove a file; whether it existed. Every removal of a file that can hold a secret or a reference goes
/// through here (the crash hook in [`super::fault`] sees it).
pub fn remove_file(path: &Path) -> Result<bool> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(false);
    }
    super::fault::before_change(path)?;
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, "removing", e)),
    }
}

/// Serialize as 2-space JSON with a trailing newline (OpenClaw's layout) and write atomically.
pub fn write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Internal(e.to_string()))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}
