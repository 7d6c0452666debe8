//! The listening socket: a private directory (0700), the socket itself 0600, one live service per path.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A bound socket, removed by [`Bound::remove`] if it is still the one bound.
pub struct Bound {
    /// The listener.
    pub listener: tokio::net::UnixListener,
    path: PathBuf,
    ino: u64,
    /// `<socket>.lock`, held for the service's lifetime: two services starting at once cannot both pass the
    /// stale-socket check.
    _lock: crate::fs::VaultLock,
}

impl Bound {
    /// Whether the socket file at the path is still the one bound (it may have been deleted or replaced).
    pub fn present(&self) -> bool {
        std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.ino)
    }

    /// Bind again at the same path after the socket file was deleted (`<socket>.lock` is still held, so no other
    /// service can be there). Refused when something else now sits at the path.
    pub fn rebind(&mut self) -> Result<()> {
        if std::fs::symlink_metadata(&self.path).is_ok() {
            return Err(Error::Service(format!(
                "the socket {} was replaced by another file; not serving on it",
                self.path.display()
            )));
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::fs::ensure_private_dir(dir)?;
        }
        let (listener, ino) = listen(&self.path)?;
        self.listener = listener;
        self.ino = ino;
        Ok(())
    }

    /// Remove the socket file if it is still ours (a newer service may have replaced it).
    pub fn remove(&self) {
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.ino) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The right to bind a socket path: its `<socket>.lock` is held and no live service answers there.
pub struct Claim {
    path: PathBuf,
    lock: crate::fs::VaultLock,
}

/// Claim `path`: create the directory 0700, take `<socket>.lock`, refuse if a live service answers there, remove a
/// stale socket. Done before anything slow (such as `--unlock`), so a second service is refused at once.
pub fn claim(path: &Path) -> Result<Claim> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    crate::fs::ensure_private_dir(dir)?;
    let mut lock_name = path.file_name().unwrap_or_default().to_os_string();
    lock_name.push(".lock");
    let lock_path = path.with_file_name(lock_name);
    let lock = crate::fs::VaultLock::try_acquire(&lock_path)?.ok_or_else(|| {
        Error::Service(format!(
            "another clawkeep service{} is starting or listening on {}",
            flock_holder(&lock_path).map(|p| format!(" (pid {p})")).unwrap_or_default(),
            path.display()
        ))
    })?;
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_socket() => {
            return Err(Error::InvalidInput(format!(
                "{} exists and is not a socket; remove it or set CLAWKEEP_SOCKET to another path",
                path.display()
            )));
        }
        Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
            Ok(s) => {
                let pid = rustix::net::sockopt::socket_peercred(&s).ok().map(|c| c.pid.as_raw_nonzero().get());
                return Err(Error::Service(format!(
                    "another clawkeep service{} is already listening on {}",
                    pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
                    path.display()
                )));
            }
            Err(_) => {
                super::log(format_args!("removing stale socket {}", path.display()));
                std::fs::remove_file(path).map_err(|e| Error::io(path, "removing the stale socket", e))?;
            }
        },
        Err(_) => {}
    }
    Ok(Claim { path: path.into(), lock })
}

impl Claim {
    /// Bind the claimed path (socket 0600).
    pub fn bind(self) -> Result<Bound> {
        bind(&self.path, self.lock)
    }
}

/// The pid holding a `flock` on `path`, from `/proc/locks`.
fn flock_holder(path: &Path) -> Option<u32> {
    let ino = std::fs::metadata(path).ok()?.ino();
    let locks = crate::fs::read_proc(std::path::Path::new("/proc/locks"))?;
    locks.lines().filter(|l| !l.contains("->")).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&"FLOCK") && f.get(5)?.rsplit(':').next()? == ino.to_string())
            .then(|| f.get(4)?.parse().ok())?
    })
}

fn bind(path: &Path, lock: crate::fs::VaultLock) -> Result<Bound> {
    let (listener, ino) = listen(path)?;
    Ok(Bound { listener, path: path.into(), ino, _lock: lock })
}

fn listen(path: &Path) -> Result<(tokio::net::UnixListener, u64)> {
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
    let bound = std::os::unix::net::UnixListener::bind(path);
    rustix::process::umask(old);
    let std_listener = bound.map_err(|e| Error::io(path, "binding the socket", e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io(path, "setting permissions on", e))?;
    let ino = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, "inspecting", e))?.ino();
    std_listener.set_nonblocking(true).map_err(|e| Error::io(path, "configuring", e))?;
    let listener = tokio::net::UnixListener::from_std(std_listener).map_err(|e| Error::io(path, "registering", e))?;
    Ok((listener, ino))
}
