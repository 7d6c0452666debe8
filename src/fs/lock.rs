//! One exclusive lock per vault, held by every clawkeep process while it changes the index, the store or
//! OpenClaw's files, so two processes never lose each other's writes.

use std::fs::File;
use std::path::Path;
use std::time::Duration;

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
        Self::acquire_within(path, WAIT)
    }

    /// Take the exclusive lock on `path`, waiting up to `wait`. The wait is a blocking `flock` (on a helper thread,
    /// so it can end at the deadline): the kernel wakes a waiter the moment the lock is released. Polling instead
    /// (`try_lock` every few ms) starves under contention: with 20 writers a poller kept missing the gaps between
    /// other processes' holds until its deadline (tests/faults.rs::twenty_processes_times_fifty_writes_on_one_agent_lose_nothing).
    /// A waiter that gets the lock after the deadline releases it at once.
    pub fn acquire_within(path: &Path, wait: Duration) -> Result<VaultLock> {
        let file = Self::open(path)?;
        match file.try_lock() {
            Ok(()) => return Ok(VaultLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, "locking", e)),
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("clawkeep-lock-wait".into())
            .spawn(move || {
                let got = file.lock().map(|()| file);
                // When the waiter gave up, the receiver is gone: the file (and with it the lock) is dropped here.
                let _ = tx.send(got);
            })
            .map_err(|e| Error::io(path, "locking", e))?;
        match rx.recv_timeout(wait) {
            Ok(Ok(file)) => Ok(VaultLock { _file: file }),
            Ok(Err(e)) => Err(Error::io(path, "locking", e)),
            Err(_) => Err(Error::io(
                path,
                "locking",
                std::io::Error::new(std::io::ErrorKind::TimedOut, "another clawkeep process holds the lock"),
            )),
        }
    }
}

use std::os::unix::fs::OpenOptionsExt;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_waiter_that_timed_out_does_not_keep_the_lock_once_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let held = VaultLock::acquire(&path).unwrap();
        let start = Instant::now();
        let e = VaultLock::acquire_within(&path, Duration::from_millis(150)).unwrap_err();
        assert!(e.to_string().contains("another clawkeep process holds the lock"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(2));
        drop(held);
        // The abandoned waiter gets the lock on release and drops it at once.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(l) = VaultLock::try_acquire(&path).unwrap() {
                drop(l);
                break;
            }
            assert!(Instant::now() < deadline, "the timed-out waiter kept the lock");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_waiter_gets_the_lock_when_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let held = VaultLock::acquire(&path).unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(held);
        });
        let start = Instant::now();
        let l = VaultLock::acquire_within(&path, Duration::from_secs(5)).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(90));
        drop(l);
        t.join().unwrap();
    }
}
