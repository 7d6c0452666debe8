//! Appending lines to a log (the access log): opened `O_APPEND | O_NOFOLLOW`, checked on the open descriptor as
//! [`open_checked`](super::open_checked) checks reads, then one `write` per line. Callers serialise writers with a
//! lock; `O_APPEND` keeps each line whole even without one.
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use super::safe::{Problem, refuse};
use crate::error::{Error, Result};

/// A log file open for appending.
#[derive(Debug)]
pub struct AppendFile {
    file: std::fs::File,
    len: u64,
}

impl AppendFile {
    /// Open (creating it 0600) `path` for appending. Its directory must pass [`check_dir`](super::check_dir); the
    /// file must be a regular file of ours with one link and no group/other access.
    pub fn open(path: &Path) -> Result<AppendFile> {
        if let Some(dir) = path.parent() {
            super::check_dir(dir)?;
        }
        let flags =
            OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = match rustix::fs::open(path, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::LOOP) => return Err(refuse(path, &[Problem::Symlink], false)),
            Err(e) => return Err(Error::io(path, "opening for appending", e.into())),
        };
        let file = std::fs::File::from(fd);
        let md = file.metadata().map_err(|e| Error::io(path, "inspecting", e))?;
        let problems = super::safe::problems_of(&md, false, true);
        if !problems.is_empty() {
            return Err(refuse(path, &problems, false));
        }
        Ok(AppendFile { file, len: md.len() })
    }

    /// The file's length when opened plus what was appended since.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append `line` (which ends with a newline) in one write.
    pub fn append(&mut self, path: &Path, line: &[u8]) -> Result<()> {
        self.file.write_all(line).map_err(|e| Error::io(path, "appending to", e))?;
        self.len += line.len() as u64;
        Ok(())
    }

    /// Flush the appended lines to the disk.
    pub fn sync(&self, path: &Path) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(path, "syncing", e))
    }
}

/// The last `max` bytes of `path` (checked as [`open_checked`](super::open_checked) with `private`), `None` when
/// it does not exist.
pub fn read_tail(path: &Path, max: u64) -> Result<Option<Vec<u8>>> {
    let Some((mut file, md)) = super::open_checked(path, true)? else { return Ok(None) };
    let start = md.len().saturating_sub(max);
    file.seek(SeekFrom::Start(start)).map_err(|e| Error::io(path, "reading", e))?;
    let mut buf = Vec::with_capacity((md.len() - start) as usize);
    file.take(max).read_to_end(&mut buf).map_err(|e| Error::io(path, "reading", e))?;
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn appends_refuse_links_and_shared_files_and_read_back_the_tail() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("log");
        let mut f = AppendFile::open(&p).unwrap();
        f.append(&p, b"one\n").unwrap();
        f.append(&p, b"two\n").unwrap();
        assert_eq!(f.len(), 8);
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(read_tail(&p, 4).unwrap().unwrap(), b"two\n");
        assert_eq!(read_tail(&p, 100).unwrap().unwrap(), b"one\ntwo\n");
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert!(AppendFile::open(&link).unwrap_err().to_string().contains("symbolic link"));
        let hard = d.path().join("hard");
        std::fs::hard_link(&p, &hard).unwrap();
        assert!(AppendFile::open(&p).unwrap_err().to_string().contains("hard links"));
        std::fs::remove_file(&hard).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(AppendFile::open(&p).is_err());
        assert!(AppendFile::open(d.path()).is_err());
        assert!(read_tail(&d.path().join("missing"), 10).unwrap().is_none());
    }
}
