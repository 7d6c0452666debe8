//! OpenClaw's own lock on its legacy JSON files (`<file>.lock`, a regular file created with O_EXCL holding
//! `{pid, createdAt, starttime}` and an ownership token). `openclaw doctor --fix` takes it while it imports
//! `auth-profiles.json`; clawkeep takes it too while it rewrites that file, so neither loses the other's write.
//! A lock whose owner process is gone (or whose start time differs: a reused pid) is stale and removed.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
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
        let reclaim = path.with_extension("lock.reclaim");
        let content = payload();
        let start = Instant::now();
        loop {
            if !reclaim.exists() {
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                    .open(&path)
                {
                    Ok(mut f) => {
                        f.write_all(&content)
                            .and_then(|()| f.sync_all())
                            .map_err(|e| Error::io(&path, "writing lock", e))?;
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
                        if is_stale(&path) {
                            let _ = std::fs::remove_file(&path);
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

fn is_stale(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else { return false };
    let json_part = text.rsplitn(3, '\n').last().unwrap_or(&text);
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
    fn lock_is_exclusive_released_and_stale_locks_are_reclaimed() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("auth-profiles.json");
        let lock = OpenClawLock::acquire(&target).unwrap();
        let lp = d.path().join("auth-profiles.json.lock");
        let text = std::fs::read_to_string(&lp).unwrap();
        assert!(text.contains(&format!("\"pid\": {}", std::process::id())), "{text}");
        assert!(!is_stale(&lp), "our own live lock is not stale");
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
        assert!(!is_stale(&lp));
        std::fs::write(&lp, format!("{{\"pid\": {me}, \"createdAt\": \"x\", \"starttime\": {}}}\ntoken\n", st + 1))
            .unwrap();
        assert!(is_stale(&lp), "a reused pid (different start time) is stale");
    }
}
