//! The one checked open every file read goes through. `std::fs::read`, `read_to_string`, `File::open` and
//! `OpenOptions::open` are forbidden elsewhere (`clippy.toml`), so no read can skip these checks.
//!
//! The file is opened with `O_NOFOLLOW | O_NONBLOCK` (a symlink fails, a FIFO does not block), and the checks run
//! on the open descriptor (`fstat`), so what is checked is what is read: a regular file, owned by us, not
//! group/world-writable, one hard link, and for private files no group/other access at all.
#![allow(clippy::disallowed_methods)]

use std::io::Read;
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use zeroize::Zeroizing;

use super::safe::{Problem, refuse};
use crate::error::{Error, Result};

/// Largest file clawkeep reads (OpenClaw's files and its own are far smaller).
pub const MAX_FILE: u64 = 16 * 1024 * 1024;

/// Open `path` for reading after the checks above; `None` when it does not exist. `private` also refuses any
/// group/other permission bit.
pub fn open_checked(path: &Path, private: bool) -> Result<Option<(std::fs::File, std::fs::Metadata)>> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(rustix::io::Errno::LOOP) => return Err(refuse(path, &[Problem::Symlink], false)),
        Err(e) => return Err(Error::io(path, "opening", e.into())),
    };
    let file = std::fs::File::from(fd);
    let md = file.metadata().map_err(|e| Error::io(path, "inspecting", e))?;
    let problems = super::safe::problems_of(&md, false, private);
    if !problems.is_empty() {
        return Err(refuse(path, &problems, false));
    }
    Ok(Some((file, md)))
}

fn read_bounded(path: &Path, private: bool) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let Some((file, md)) = open_checked(path, private)? else { return Ok(None) };
    if md.len() > MAX_FILE {
        return Err(Error::TooLarge { path: path.into(), limit: MAX_FILE });
    }
    // Sized from the file's length so reading does not grow (and free unzeroed copies of) the buffer.
    let mut buf = Zeroizing::new(Vec::with_capacity(md.len() as usize + 1));
    file.take(MAX_FILE + 1).read_to_end(&mut buf).map_err(|e| Error::io(path, "reading", e))?;
    if buf.len() as u64 > MAX_FILE {
        return Err(Error::TooLarge { path: path.into(), limit: MAX_FILE });
    }
    Ok(Some(buf))
}

/// Read a whole file (bounded, checked), `None` when it does not exist. Group/world-readable is allowed (for
/// OpenClaw's `openclaw.json`); everything else of [`open_checked`] applies. The buffer is zeroized on drop.
pub fn read_optional(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>> {
    read_bounded(path, false)
}

/// As [`read_optional`], for files that hold or lead to secrets: no group/other permission bit at all.
pub fn read_private(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>> {
    read_bounded(path, true)
}

/// The UTF-8 names of the entries of `dir`; empty when `dir` does not exist. Names that are not UTF-8 are left out
/// (nothing clawkeep or OpenClaw writes has one).
pub fn list_names(dir: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, "listing", e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| Error::io(dir, "listing", e))?;
        if let Ok(name) = e.file_name().into_string() {
            out.push(name);
        }
    }
    Ok(out)
}

/// A small text file of the kernel's (`/proc/…`), read without any of the checks (not a secret, not ours).
pub fn read_proc(path: &Path) -> Option<String> {
    let mut s = String::new();
    std::fs::File::open(path).ok()?.take(1024 * 1024).read_to_string(&mut s).ok()?;
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn private_file(dir: &Path, name: &str, mode: u32) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, b"x").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("fifo");
        rustix::fs::mknodat(rustix::fs::CWD, &p, rustix::fs::FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        let t = std::time::Instant::now();
        let e = read_optional(&p).unwrap_err();
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
        assert!(matches!(e, Error::Insecure { .. }), "{e:?}");
        assert!(e.to_string().contains("FIFO"), "{e}");
    }

    #[test]
    fn symlinks_hard_links_and_modes_are_refused_on_the_open_file() {
        let d = tempfile::tempdir().unwrap();
        let real = private_file(d.path(), "real", 0o600);
        assert_eq!(read_private(&real).unwrap().unwrap().as_slice(), b"x");
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(read_optional(&link).unwrap_err().to_string().contains("symbolic link"));
        let hard = d.path().join("hard");
        std::fs::hard_link(&real, &hard).unwrap();
        assert!(read_optional(&hard).unwrap_err().to_string().contains("hard links"));
        std::fs::remove_file(&hard).unwrap();
        for mode in [0o610, 0o601, 0o640, 0o604] {
            let p = private_file(d.path(), &format!("m{mode:o}"), mode);
            assert!(read_private(&p).is_err(), "{mode:o}");
        }
        let shared = private_file(d.path(), "shared", 0o644);
        assert!(read_optional(&shared).unwrap().is_some());
        let writable = private_file(d.path(), "writable", 0o666);
        assert!(read_optional(&writable).is_err());
        assert!(read_optional(d.path()).unwrap_err().to_string().contains("directory"));
        assert!(read_optional(&d.path().join("missing")).unwrap().is_none());
    }
}
