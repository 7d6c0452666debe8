//! The access log: who used which credential, when, and every change to the vault, as a keyed hash chain of JSON
//! lines (see [`log`] for the files and the chain, [`peer`] for who asked, `docs/formats.md` for the format).
//!
//! Every hand-out is recorded *before* the secret leaves: when the line cannot be written, the hand-out is refused
//! ([`Error::Audit`]), unless `audit.json` says `"onFailure": "warn"`.

pub mod log;
pub mod peer;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use log::{Entry, LogFiles};
pub use peer::Who;

use crate::error::{Error, Result};
use crate::paths::Paths;

/// What to do when a line cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Refuse the hand-out or change (the default).
    #[default]
    Refuse,
    /// Go on, with a warning on stderr.
    Warn,
}

/// `<clawkeep dir>/audit.json`; every field optional.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// What to do when the log cannot be written.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Start a new file when the current one would grow past this many bytes (default 8 MiB, at least 4096).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_file_bytes: Option<u64>,
}

impl Settings {
    /// `audit.json`'s path.
    pub fn path(paths: &Paths) -> PathBuf {
        paths.clawkeep_dir.join("audit.json")
    }

    /// Read `audit.json` (defaults when absent).
    pub fn load(paths: &Paths) -> Result<Settings> {
        let path = Settings::path(paths);
        let Some(raw) = crate::fs::read_optional(&path)? else { return Ok(Settings::default()) };
        let s: Settings = serde_json::from_slice(&raw).map_err(|e| match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => Error::json(&path, &e),
            _ => Error::InvalidField { path: path.clone(), field: "audit.json".into(), message: e.to_string() },
        })?;
        if s.max_file_bytes.is_some_and(|n| n < 4096) {
            return Err(Error::InvalidField {
                path,
                field: "maxFileBytes".into(),
                message: "must be at least 4096".into(),
            });
        }
        Ok(s)
    }

    /// The rotation size.
    pub fn max_file(&self) -> u64 {
        self.max_file_bytes.unwrap_or(log::DEFAULT_MAX_FILE)
    }
}

/// The log of the vault in `clawkeep_dir`.
pub fn files(clawkeep_dir: &Path) -> LogFiles {
    LogFiles::new(clawkeep_dir)
}

/// The keyed fingerprint of `value` in this vault (creating the log's key when there is none).
pub fn fingerprint(paths: &Paths, value: &[u8]) -> Result<String> {
    Ok(log::keys(&files(&paths.clawkeep_dir))?.fingerprint(value))
}

/// Fingerprint, or `None` when the key cannot be read (the append that follows fails the same way, and says why).
pub fn fingerprint_or_none(paths: &Paths, value: &[u8]) -> Option<String> {
    fingerprint(paths, value).ok()
}

/// Append `entries` for `who`. When the line cannot be written: [`Error::Audit`] by default; with
/// `"onFailure": "warn"` a warning through `warn` and `Ok`. Nothing is recorded where there is no vault.
pub fn record(paths: &Paths, entries: &[Entry], who: &Who, warn: &dyn Fn(&str)) -> Result<()> {
    if entries.is_empty() || !crate::vault::Vault::exists(paths) {
        return Ok(());
    }
    // A broken `audit.json` cannot say "warn": it refuses, naming the file.
    let settings = Settings::load(paths).map_err(|e| Error::Audit(e.to_string()))?;
    match log::append(&files(&paths.clawkeep_dir), entries, who, settings.max_file()) {
        Ok(()) => Ok(()),
        Err(e) if settings.on_failure == OnFailure::Warn => {
            warn(&format!("warning: the access log was not written ({e}); going on, as audit.json says"));
            Ok(())
        }
        Err(e) => Err(Error::Audit(e.to_string())),
    }
}

/// [`record`] for a CLI command: `who` is this process and its parent, warnings go to stderr.
pub fn record_cli(paths: &Paths, entries: &[Entry]) -> Result<()> {
    record(paths, entries, &Who::this_process(), &|w| eprintln!("clawkeep: {w}"))
}

/// One entry made by the CLI.
pub fn entry(op: &str, agent: Option<&str>, profile: Option<&str>, outcome: &str, fp: Option<String>) -> Entry {
    Entry {
        op: op.into(),
        via: "cli",
        agent: agent.map(str::to_owned),
        profile: profile.map(str::to_owned),
        outcome: outcome.into(),
        fp,
    }
}

/// The outcome word for a result: `ok`, or the error's short code.
pub fn outcome<T>(r: &Result<T>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.code_name().into(),
    }
}

/// An entry about one secret id as a client sent it: agent and profile only when the id has a profile's shape
/// (anything else may be a secret sent in the wrong field, and is not written).
pub fn id_entry(op: &str, via: &'static str, raw: &str, outcome: &str, fp: Option<String>) -> Entry {
    let parts = (crate::service::handler::shown(raw) != crate::service::handler::NOT_SHOWN)
        .then(|| crate::ops::resolve::parse_id(raw).and_then(|id| id.profile_parts()))
        .flatten();
    let (agent, profile) = match parts {
        Some((a, p)) => (Some(a), Some(p)),
        None => (None, Some(crate::service::handler::NOT_SHOWN.to_string())),
    };
    Entry { op: op.into(), via, agent, profile, outcome: outcome.into(), fp }
}

/// Before a change: whether its line could be written (the current file opens for appending and the key reads).
/// `Err` ([`Error::Audit`]) only when it could not and `audit.json` does not say to warn.
pub fn preflight(paths: &Paths) -> Result<()> {
    if !crate::vault::Vault::exists(paths) {
        return Ok(());
    }
    let settings = Settings::load(paths).map_err(|e| Error::Audit(e.to_string()))?;
    let files = files(&paths.clawkeep_dir);
    let ready = crate::fs::ensure_private_dir(&files.dir).and_then(|()| log::keys(&files)).and_then(|_| {
        let n = files.numbers()?.last().copied().unwrap_or(1);
        crate::fs::AppendFile::open(&files.file(n)).map(drop)
    });
    match ready {
        Err(e) if settings.on_failure == OnFailure::Refuse => Err(Error::Audit(e.to_string())),
        _ => Ok(()),
    }
}
