//! One exclusive lock per vault, held by every clawkeep process while it changes the index, the store or
//! OpenClaw's files, so two processes never lose each other's writes.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long to wait for another clawkeep process before giving up.
const WAIT: Duration = Duration::from_secs(10);

/// A held lock; released on drop.
#[derive(Debug)]
pub struct VaultLock {
    _file: File,
}

impl VaultLock {
    fn open(path: &Path) -> Result<File> {
        if let Some(dir) = path.parent() {
            super::ensure_private_dir(dir)?;
        }
        super::check_file(path, false)?;
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(path, "opening lock file", e))
    }

    /// Take the exclusive lock on `path` now, or `None` if another process holds it.
    pub fn try_acquire(path: &Path) -> Result<Option<VaultLock>> {
        let file = Self::open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(VaultLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(path, "locking", e)),
        }
    }

    /// Take the exclusive lock on `path`, waiting as long as it takes (for locks held a few microseconds, like the
    /// access log's, where polling would cost more than the wait).
    pub fn acquire_blocking(path: &Path) -> Result<VaultLock> {
        let file = Self::open(path)?;
        file.lock().map_err(|e| Error::io(path, "locking", e))?;
        Ok(VaultLock { _file: file })
    }

    /// Take the exclusive lock on `path` (created 0600 when missing), waiting up to 10 s.
    pub fn acquire(path: &Path) -> Result<VaultLock> {
        let file = Self::open(path)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(VaultLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < WAIT => {
                    std::thread::sleep(Duration::from_millis(25))
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::io(
                        path,
                        "locking",
                        std::io::Error::new(std::io::ErrorKind::TimedOut, "another clawkeep process holds the lock"),
                    ));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, "locking", e)),
            }
        }
    }
}

use std::os::unix::fs::OpenOptionsExt;
