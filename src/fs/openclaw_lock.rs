//! OpenClaw's own lock on its legacy JSON files (`<file>.lock`, a regular file created with O_EXCL holding
//! `{pid, createdAt, starttime}` and an ownership token). `openclaw doctor --fix` takes it while it imports
//! `auth-profiles.json`; clawkeep takes it too while it rewrites that file, so neither loses the other's write.
//! A lock whose owner process is gone (or whose start time differs: a reused pid) is stale and removed.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long to wait for OpenClaw to release its lock.
const WAIT: Duration = Duration::from_secs(10);

/// A held OpenClaw file lock; removed on drop if it is still ours.
#[derive(Debug)]
pub struct OpenClawLock {
    path: PathBuf,
    content: Vec<u8>,
}

impl OpenClawLock {
    /// Lock `target` (e.g. `auth-profiles.json`) the way OpenClaw does.
    pub fn acquire(target: &Path) -> Result<OpenClawLock> {
        let mut name = target.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let path = target.with_file_name(name);
        let guard = path.with_extension("lock.reclaim");
        let content = payload();
        let start = Instant::now();
        loop {
            // A guard left by a process that died between taking and dropping it would block everyone for ever.
            clear_abandoned_guard(&guard);
            if !guard.exists() {
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                    .open(&path)
                {
                    Ok(mut f) => {
                        if let Err(e) = f.write_all(&content).and_then(|()| f.sync_all()) {
                            // Disk full or a write limit: the lock file just created (empty or cut short) would
                            // otherwise stay behind and block OpenClaw and clawkeep until someone removed it
                            // (tests/faults.rs::a_write_limit_gives_a_clear_error_and_keeps_the_originals).
                            drop(f);
                            let _ = std::fs::remove_file(&path);
                            return Err(Error::io(&path, "writing lock", e));
                        }
                        return Ok(OpenClawLock { path, content });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
                            return Err(Error::Insecure {
                                path: path.clone(),
                                problem: "is not a regular lock file".into(),
                                fix: format!(
                                    "make sure no OpenClaw process is running, then remove {}",
                                    path.display()
                                ),
                            });
                        }
                        if let Some(seen) = Seen::of(&path)
                            && is_stale(&path, &seen.content)
                            && reclaim(&path, &guard, &seen)
                        {
                            continue;
                        }
                    }
                    Err(e) => return Err(Error::io(&path, "creating lock", e)),
                }
            }
            if start.elapsed() > WAIT {
                return Err(Error::io(
                    &path,
                    "locking",
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "an OpenClaw process holds this lock"),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for OpenClawLock {
    fn drop(&mut self) {
        if std::fs::read(&self.path).is_ok_and(|c| c == self.content) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn payload() -> Vec<u8> {
    let pid = std::process::id();
    let created = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let mut token = [0u8; 16];
    let _ = getrandom::fill(&mut token);
    let token: String = token.iter().map(|b| format!("{b:02x}")).collect();
    let mut v = serde_json::json!({ "pid": pid, "createdAt": created });
    if let Some(st) = starttime(pid) {
        v["starttime"] = serde_json::json!(st);
    }
    format!("{}\n{token}\n", serde_json::to_string_pretty(&v).unwrap_or_default()).into_bytes()
}

/// Field 22 of `/proc/<pid>/stat`.
fn starttime(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

/// How long a `<lock>.reclaim` guard may stand before it counts as left behind by a crashed process.
const RECLAIM_STALE: Duration = Duration::from_secs(30);

/// A lock file as it was read: its content and identity (device, inode).
#[derive(PartialEq)]
struct Seen {
    content: Vec<u8>,
    dev: u64,
    ino: u64,
}

impl Seen {
    /// Read a lock file without following a symlink or blocking on a FIFO; `None` if it is gone or not a regular
    /// file.
    fn of(path: &Path) -> Option<Seen> {
        use std::io::Read;
        use std::os::unix::fs::MetadataExt;
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
            .open(path)
            .ok()?;
        let m = f.metadata().ok().filter(|m| m.is_file())?;
        let mut content = Vec::new();
        Read::by_ref(&mut f).take(64 * 1024).read_to_end(&mut content).ok()?;
        Some(Seen { content, dev: m.dev(), ino: m.ino() })
    }
}

/// Remove the stale lock `seen` as OpenClaw's fs-safe does: take the `<lock>.reclaim` guard with `mkdir` (only one
/// process gets it), read the lock again under it and remove it only if it is still the same file with the same
/// content, then drop the guard. `false` when another process holds the guard or the lock changed meanwhile (it may
/// be a fresh lock OpenClaw just took).
fn reclaim(path: &Path, guard: &Path, seen: &Seen) -> bool {
    if std::fs::DirBuilder::new().mode(0o700).create(guard).is_err() {
        clear_abandoned_guard(guard);
        return false;
    }
    let removed = Seen::of(path).is_some_and(|now| now == *seen) && std::fs::remove_file(path).is_ok();
    let _ = std::fs::remove_dir(guard);
    removed
}

/// Remove a `<lock>.reclaim` guard older than [`RECLAIM_STALE`] (its owner died holding it). It is checked twice,
/// with its inode, so a guard another process just made in its place is left alone.
fn clear_abandoned_guard(guard: &Path) {
    use std::os::unix::fs::MetadataExt;
    let old =
        |m: &std::fs::Metadata| m.is_dir() && m.modified().is_ok_and(|t| t.elapsed().is_ok_and(|d| d > RECLAIM_STALE));
    let Ok(first) = std::fs::symlink_metadata(guard) else { return };
    if !old(&first) {
        return;
    }
    if std::fs::symlink_metadata(guard).is_ok_and(|m| old(&m) && m.ino() == first.ino() && m.dev() == first.dev()) {
        let _ = std::fs::remove_dir(guard);
    }
}

fn is_stale(path: &Path, content: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(content) else { return false };
    let json_part = text.rsplitn(3, '\n').last().unwrap_or(text);
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json_part) else {
        // No readable payload: stale once old enough (OpenClaw's 30 s rule for lock files without a pid).
        return std::fs::metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|d| d > Duration::from_secs(30)));
    };
    let Some(pid) = v.get("pid").and_then(|p| p.as_u64()).and_then(|p| i32::try_from(p).ok()) else { return false };
    let alive = rustix::process::Pid::from_raw(pid)
        .is_some_and(|p| !matches!(rustix::process::test_kill_process(p), Err(rustix::io::Errno::SRCH)));
    if !alive {
        return true;
    }
    match (v.get("starttime").and_then(|s| s.as_u64()), starttime(pid as u32)) {
        (Some(recorded), Some(now)) => recorded != now,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guard_left_by_a_dead_process_does_not_block_the_lock_for_ever() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("auth-profiles.json");
        let guard = d.path().join("auth-profiles.json.lock.reclaim");
        std::fs::create_dir(&guard).unwrap();
        let old = std::time::SystemTime::now() - Duration::from_secs(120);
        std::fs::File::open(&guard).unwrap().set_modified(old).unwrap();
        let t = Instant::now();
        let lock = OpenClawLock::acquire(&target).unwrap();
        assert!(t.elapsed() < Duration::from_secs(2), "waited {:?}", t.elapsed());
        drop(lock);
        // A fresh guard (another process reclaiming right now) is respected.
        std::fs::create_dir(&guard).unwrap();
        clear_abandoned_guard(&guard);
        assert!(guard.exists());
    }

    fn stale(path: &Path) -> bool {
        is_stale(path, &std::fs::read(path).unwrap())
    }

    fn live_payload() -> String {
        let me = std::process::id();
        format!("{{\"pid\": {me}, \"createdAt\": \"x\", \"starttime\": {}}}\nstandin\n", starttime(me).unwrap())
    }

    /// A stand-in for OpenClaw's fs-safe reclaim, with its window widened: take the guard with mkdir, find the lock
    /// stale, wait, replace it with its own fresh lock (O_EXCL), drop the guard.
    fn fs_safe_reclaim(lock: PathBuf, guard: PathBuf, window: Duration, in_window: std::sync::mpsc::Sender<()>) {
        std::fs::create_dir(&guard).unwrap();
        assert!(stale(&lock));
        in_window.send(()).unwrap();
        std::thread::sleep(window);
        std::fs::remove_file(&lock).unwrap();
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&lock).unwrap();
        f.write_all(live_payload().as_bytes()).unwrap();
        std::fs::remove_dir(&guard).unwrap();
    }

    #[test]
    fn a_stale_lock_is_removed_only_under_the_reclaim_guard_and_only_if_unchanged() {
        let d = tempfile::tempdir().unwrap();
        let lock = d.path().join("auth-profiles.json.lock");
        let guard = d.path().join("auth-profiles.json.lock.reclaim");
        std::fs::write(&lock, "{\"pid\": 999999999, \"createdAt\": \"x\"}\ntoken\n").unwrap();
        // clawkeep reads the stale lock; then OpenClaw reclaims it first.
        let seen = Seen::of(&lock).unwrap();
        assert!(is_stale(&lock, &seen.content));
        let (tx, rx) = std::sync::mpsc::channel();
        let standin = {
            let (l, g) = (lock.clone(), guard.clone());
            std::thread::spawn(move || fs_safe_reclaim(l, g, Duration::from_millis(400), tx))
        };
        rx.recv().unwrap();
        // Inside OpenClaw's window: the guard is taken, clawkeep leaves the lock alone.
        assert!(!reclaim(&lock, &guard, &seen));
        assert!(guard.is_dir(), "clawkeep must not remove another process's guard");
        standin.join().unwrap();
        // After it: the lock at the path is OpenClaw's fresh one, not the stale one clawkeep read.
        assert!(!reclaim(&lock, &guard, &seen));
        assert_eq!(std::fs::read_to_string(&lock).unwrap(), live_payload());
        assert!(!guard.exists());
        // The same content under a new inode is another lock too.
        std::fs::write(&lock, &seen.content).unwrap();
        let seen = Seen::of(&lock).unwrap();
        let other = d.path().join("other");
        std::fs::write(&other, &seen.content).unwrap();
        std::fs::rename(&other, &lock).unwrap();
        assert!(!reclaim(&lock, &guard, &seen));
        // Unchanged: removed, and the guard released.
        let seen = Seen::of(&lock).unwrap();
        assert!(reclaim(&lock, &guard, &seen));
        assert!(!lock.exists() && !guard.exists());
    }

    #[test]
    fn lock_is_exclusive_released_and_stale_locks_are_reclaimed() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("auth-profiles.json");
        let lock = OpenClawLock::acquire(&target).unwrap();
        let lp = d.path().join("auth-profiles.json.lock");
        let text = std::fs::read_to_string(&lp).unwrap();
        assert!(text.contains(&format!("\"pid\": {}", std::process::id())), "{text}");
        assert!(!stale(&lp), "our own live lock is not stale");
        drop(lock);
        assert!(!lp.exists());
        // A lock left by a dead process is reclaimed.
        std::fs::write(&lp, "{\"pid\": 999999999, \"createdAt\": \"x\"}\ntoken\n").unwrap();
        let lock = OpenClawLock::acquire(&target).unwrap();
        drop(lock);
        // A lock held by a live process with the right start time is respected.
        let me = std::process::id();
        let st = starttime(me).unwrap();
        std::fs::write(&lp, format!("{{\"pid\": {me}, \"createdAt\": \"x\", \"starttime\": {st}}}\ntoken\n")).unwrap();
        assert!(!stale(&lp));
        std::fs::write(&lp, format!("{{\"pid\": {me}, \"createdAt\": \"x\", \"starttime\": {}}}\ntoken\n", st + 1))
            .unwrap();
        assert!(stale(&lp), "a reused pid (different start time) is stale");
    }
}
