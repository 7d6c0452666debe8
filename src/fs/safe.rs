//! Permission, ownership, symlink and hard-link checks for files that hold or lead to secrets.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::error::{Error, Result};

/// Something wrong with a path's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The path is a symbolic link.
    Symlink,
    /// A regular file with more than one hard link.
    HardLinked(u64),
    /// Group- or world-writable (mode given).
    Writable(u32),
    /// Any group/other permission bit (mode given); only reported for private files.
    Readable(u32),
    /// Owned by another uid.
    Owner(u32),
    /// Not the expected kind: a directory where a file belongs, a FIFO, socket or device (what it is).
    WrongKind(&'static str),
}

impl Problem {
    /// Words for the message.
    pub fn describe(&self) -> String {
        match self {
            Problem::Symlink => "is a symbolic link".into(),
            Problem::HardLinked(n) => format!("has {n} hard links"),
            Problem::Writable(m) => format!("is group/world-writable (mode {:o})", m & 0o7777),
            Problem::Readable(m) if m & 0o044 != 0 => format!("is readable by group/others (mode {:o})", m & 0o7777),
            Problem::Readable(m) => format!("gives group/others access (mode {:o})", m & 0o7777),
            Problem::Owner(uid) => format!("is owned by uid {uid}, not by you (uid {})", euid()),
            Problem::WrongKind(what) => format!("is {what}"),
        }
    }
    /// Whether `doctor --fix` can repair it by chmod alone.
    pub fn chmod_fixable(&self) -> bool {
        matches!(self, Problem::Writable(_) | Problem::Readable(_))
    }
}

/// The effective uid of this process.
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Inspect `path` without following symlinks. `None` if it does not exist. `dir` says which kind is expected.
pub fn inspect(path: &Path, dir: bool) -> Result<Option<Vec<Problem>>> {
    let md = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, "inspecting", e)),
    };
    if md.file_type().is_symlink() {
        return Ok(Some(vec![Problem::Symlink]));
    }
    Ok(Some(problems_of(&md, dir, true)))
}

/// What is wrong with a file or directory's metadata. `private` files may have no group/other bit at all;
/// others may be group/world-readable.
pub(super) fn problems_of(md: &std::fs::Metadata, dir: bool, private: bool) -> Vec<Problem> {
    let mut out = Vec::new();
    let ft = md.file_type();
    if (dir && !ft.is_dir()) || (!dir && !ft.is_file()) {
        out.push(Problem::WrongKind(kind_of(ft)));
    }
    if md.uid() != euid() {
        out.push(Problem::Owner(md.uid()));
    }
    let mode = md.mode();
    if mode & 0o022 != 0 {
        out.push(Problem::Writable(mode));
    } else if !dir && private && mode & 0o077 != 0 {
        out.push(Problem::Readable(mode));
    }
    // A directory's link count is its subdirectories, not hard links.
    if ft.is_file() && md.nlink() > 1 {
        out.push(Problem::HardLinked(md.nlink()));
    }
    out
}

fn kind_of(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "a directory, not a regular file"
    } else if ft.is_fifo() {
        "a FIFO (named pipe), not a regular file"
    } else if ft.is_socket() {
        "a socket, not a regular file"
    } else if ft.is_char_device() || ft.is_block_device() {
        "a device, not a regular file"
    } else if ft.is_file() {
        "a regular file, not a directory"
    } else {
        "not a regular file"
    }
}

/// How to repair `problems` on `path`, in words a user can act on.
pub fn fix_for(path: &Path, problems: &[Problem], dir: bool) -> String {
    let p = path.display();
    if problems.contains(&Problem::Symlink) {
        format!("replace the symlink {p} with the real {}", if dir { "directory" } else { "file" })
    } else if problems.iter().any(|x| matches!(x, Problem::WrongKind(_))) {
        format!(
            "{p} must be a {}: point clawkeep at the right path, or move what is there aside",
            if dir { "directory" } else { "regular file" }
        )
    } else if problems.iter().any(|x| matches!(x, Problem::Owner(_))) {
        format!("make it yours: `chown $(id -u) {p}` (as root), or point OPENCLAW_STATE_DIR/CLAWKEEP_DIR elsewhere")
    } else if problems.iter().any(|x| matches!(x, Problem::HardLinked(_))) {
        format!("remove the other hard links to {p} (or copy it: `cp {p} {p}.new && mv {p}.new {p}`)")
    } else {
        format!("`chmod {} {p}` (or `clawkeep doctor --fix`)", if dir { "700" } else { "600" })
    }
}

pub(super) fn refuse(path: &Path, problems: &[Problem], dir: bool) -> Error {
    let problem = problems.iter().map(Problem::describe).collect::<Vec<_>>().join(", ");
    Error::Insecure { path: path.to_path_buf(), problem, fix: fix_for(path, problems, dir) }
}

/// Refuse a file that is a symlink, not a regular file, hard-linked, group/world-writable or foreign-owned. Missing
/// is fine. Any group/other permission bit is refused too when `private` (files that hold secret-related data).
pub fn check_file(path: &Path, private: bool) -> Result<()> {
    if let Some(problems) = inspect(path, false)? {
        let bad: Vec<_> = problems.into_iter().filter(|p| private || !matches!(p, Problem::Readable(_))).collect();
        if !bad.is_empty() {
            return Err(refuse(path, &bad, false));
        }
    }
    Ok(())
}

/// Refuse a directory that is a symlink, group/world-writable or foreign-owned. Missing is fine.
pub fn check_dir(path: &Path) -> Result<()> {
    if let Some(problems) = inspect(path, true)?
        && !problems.is_empty()
    {
        return Err(refuse(path, &problems, true));
    }
    Ok(())
}

/// Create `path` (and missing parents) with mode 0700 if absent, then check it.
pub fn ensure_private_dir(path: &Path) -> Result<()> {
    if std::fs::symlink_metadata(path).is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|e| Error::io(path, "creating directory", e))?;
    }
    check_dir(path)
}

/// Repair what chmod can repair: dirs to 0700, files to 0600. Returns whether anything changed.
pub fn repair(path: &Path, dir: bool) -> Result<bool> {
    let Some(problems) = inspect(path, dir)? else { return Ok(false) };
    if problems.is_empty() || !problems.iter().all(Problem::chmod_fixable) {
        return Ok(false);
    }
    let mode = if dir { 0o700 } else { 0o600 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| Error::io(path, "chmod", e))?;
    Ok(true)
}

use std::os::unix::fs::DirBuilderExt;
