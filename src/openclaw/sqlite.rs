//! OpenClaw's SQLite auth stores, read-only.
//!
//! - Shared (2026.9+): `<state>/state/openclaw.sqlite`, table `config_machine_state (state_key, value_json,
//!   updated_at_ms)`, row `state_key = 'authProfiles.store'` (and `auth.sharedStore` = `{"location":"state-db"}`).
//! - Per agent (2026.7+): `<state>/agents/<id>/agent/openclaw-agent.sqlite`, table `auth_profile_store (store_key,
//!   store_json, updated_at)`, row `store_key = 'primary'`.
//!
//! Both hold the same document as `auth-profiles.json`: `{"version":1,"profiles":{…}}`. The layout is seen from
//! what is on disk, never from a version number. Every database is opened with `SQLITE_OPEN_READ_ONLY` and a
//! bounded busy timeout, so clawkeep never takes a write lock, and a locked, corrupt or unknown-schema file is an
//! error naming the file that changes nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::lite::{Fields, Lite};
use crate::error::{Error, Result};

/// How long a read waits for a writer's lock before giving up (OpenClaw holds write transactions briefly).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Largest auth-store document read (OpenClaw's stores hold a few KiB).
pub const MAX_DOC: usize = 16 << 20;

/// Shared store: table and row.
pub const SHARED_TABLE: &str = "config_machine_state";
/// Shared store's key column.
pub const SHARED_KEY_COL: &str = "state_key";
/// Shared store's value column.
pub const SHARED_VALUE_COL: &str = "value_json";
/// The shared store's row holding the profiles.
pub const SHARED_ROW: &str = "authProfiles.store";
/// Per-agent store: table.
pub const AGENT_TABLE: &str = "auth_profile_store";
/// Per-agent store's key column.
pub const AGENT_KEY_COL: &str = "store_key";
/// Per-agent store's value column.
pub const AGENT_VALUE_COL: &str = "store_json";
/// The per-agent store's row holding the profiles.
pub const AGENT_ROW: &str = "primary";

/// Which store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// `state/openclaw.sqlite` (2026.9+).
    Shared,
    /// `agents/<id>/agent/openclaw-agent.sqlite` (2026.7+).
    Agent,
}

impl StoreKind {
    /// Name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Shared => "shared-sqlite",
            StoreKind::Agent => "agent-sqlite",
        }
    }
    pub(crate) fn table(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            StoreKind::Shared => (SHARED_TABLE, SHARED_KEY_COL, SHARED_VALUE_COL, SHARED_ROW),
            StoreKind::Agent => (AGENT_TABLE, AGENT_KEY_COL, AGENT_VALUE_COL, AGENT_ROW),
        }
    }
}

/// One auth store's document as read.
pub struct AuthStore {
    /// Which store.
    pub kind: StoreKind,
    /// The database file.
    pub path: PathBuf,
    /// Where in it: `table[key]`.
    pub location: String,
    /// The document (`{"version":1,"profiles":{…}}`); it may hold plaintext secrets, so it is never printed.
    pub doc: Map<String, Value>,
}

impl AuthStore {
    /// The profiles, by id.
    pub fn profiles(&self) -> impl Iterator<Item = (&String, &Map<String, Value>)> {
        self.doc
            .get("profiles")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k, v.as_object()?)))
    }
}

/// `<state>/state/openclaw.sqlite`.
pub fn shared_path(state_dir: &Path) -> PathBuf {
    state_dir.join("state").join("openclaw.sqlite")
}

/// `<agent dir>/openclaw-agent.sqlite`.
pub fn agent_path(agent_dir: &Path) -> PathBuf {
    agent_dir.join("openclaw-agent.sqlite")
}

/// Whether this state dir uses OpenClaw's SQLite layout for `agent_dir` (either store present).
pub fn layout(state_dir: &Path, agent_dir: &Path) -> bool {
    shared_path(state_dir).exists() || agent_path(agent_dir).exists()
}

fn sql_error(path: &Path, e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::Io {
            path: path.into(),
            action: "reading (the database stayed locked by another process, e.g. a running OpenClaw writing to it; try again)",
            source: std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                format!("busy for more than {} s", BUSY_TIMEOUT.as_secs()),
            ),
        },
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            Error::Corrupt { path: path.into(), what: "the SQLite database".into() }
        }
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => Error::Io {
            path: path.into(),
            action: "opening read-only",
            source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "SQLite could not open it"),
        },
        // Other SQLite messages name tables and columns only, never row values.
        _ => Error::Corrupt { path: path.into(), what: format!("the SQLite database ({e})") },
    }
}

/// Open read-only with the busy timeout (WAL files are read, never checkpointed: read-only connections cannot).
fn open(path: &Path) -> Result<Connection> {
    crate::fs::check_file(path, false)?;
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| sql_error(path, e))?;
    c.busy_timeout(BUSY_TIMEOUT).map_err(|e| sql_error(path, e))?;
    Ok(c)
}

/// Read one store. `Ok(None)`: the file does not exist, has no such table (an older release's database), or has no
/// auth row yet. A table of that name without the expected columns is refused (`InvalidField`): it is not a store
/// this clawkeep understands.
pub fn read(kind: StoreKind, path: &Path) -> Result<Option<AuthStore>> {
    let Some((location, raw)) = read_raw(kind, path)? else { return Ok(None) };
    parse(kind, path, location, &raw).map(Some)
}

/// Every profile of one store, as [`AuthStore::profiles`] yields them after [`read`]'s checks, without building the
/// document as a `serde_json::Value`: the audit's quick read. A document that is not plainly well-formed (a parse
/// error, another version, `profiles` not an object, a repeated profile id) is read again the full way, so its
/// error (or its profiles) are exactly [`read`]'s. `f` is given the location (`table[key]`), the profile id and the
/// profile. `Ok(false)`: no store, as [`read`]'s `Ok(None)`.
pub fn each_profile(kind: StoreKind, path: &Path, f: impl FnMut(&str, &str, &dyn Fields)) -> Result<bool> {
    let Some((location, raw)) = read_raw(kind, path)? else { return Ok(false) };
    each_profile_in(kind, path, location, &raw, f)?;
    Ok(true)
}

/// [`each_profile`] over a store document already read (`raw`, from `location` in `path`).
pub(crate) fn each_profile_in(
    kind: StoreKind,
    path: &Path,
    location: String,
    raw: &str,
    mut f: impl FnMut(&str, &str, &dyn Fields),
) -> Result<()> {
    if let Ok(Lite::Object(doc)) = Lite::parse(raw.as_bytes())
        && doc.get("version").and_then(Lite::as_u64) == Some(1)
    {
        let profiles = match doc.get("profiles") {
            None => Some(None),
            Some(Lite::Object(p)) if !p.has_repeats() => Some(Some(p)),
            Some(_) => None,
        };
        if let Some(profiles) = profiles {
            for (id, p) in profiles.iter().flat_map(|p| p.0.iter()) {
                if let Lite::Object(p) = p {
                    f(&location, id, p);
                }
            }
            return Ok(());
        }
    }
    let st = parse(kind, path, location, raw)?;
    for (id, p) in st.profiles() {
        f(&st.location, id, p);
    }
    Ok(())
}

/// The store's row as text, and where it is (`table[key]`).
fn read_raw(kind: StoreKind, path: &Path) -> Result<Option<(String, Zeroizing<String>)>> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(None);
    }
    let c = open(path)?;
    let (table, key_col, value_col, row) = kind.table();
    let cols: Vec<String> = {
        let mut st = c.prepare(&format!("PRAGMA table_info({table})")).map_err(|e| sql_error(path, e))?;
        let rows = st.query_map([], |r| r.get::<_, String>(1)).map_err(|e| sql_error(path, e))?;
        rows.collect::<std::result::Result<_, _>>().map_err(|e| sql_error(path, e))?
    };
    if cols.is_empty() {
        // No such table: this database holds no auth store of this kind (2026.7's `state/openclaw.sqlite` has no
        // `config_machine_state`; 2026.9 creates it). Only a table of that name in another shape is refused.
        return Ok(None);
    }
    if !cols.iter().any(|c| c == key_col) || !cols.iter().any(|c| c == value_col) {
        return Err(Error::InvalidField {
            path: path.into(),
            field: format!("table {table}"),
            message: format!(
                "has columns ({}) but not `{key_col}` and `{value_col}`: an OpenClaw schema this clawkeep does not understand (refused; nothing was changed)",
                cols.join(", ")
            ),
        });
    }
    let raw: Option<Zeroizing<String>> = c
        .query_row(
            &format!(
                "SELECT CAST({value_col} AS TEXT), length(CAST({value_col} AS BLOB)) FROM {table} WHERE {key_col} = ?1"
            ),
            [row],
            |r| {
                let len: i64 = r.get(1)?;
                if len as usize > MAX_DOC {
                    return Ok(None);
                }
                Ok(Some(Zeroizing::new(r.get::<_, String>(0)?)))
            },
        )
        .optional()
        .map_err(|e| sql_error(path, e))?
        .map(|v| v.ok_or(()))
        .transpose()
        .map_err(|()| Error::TooLarge { path: path.into(), limit: MAX_DOC as u64 })?;
    Ok(raw.map(|raw| (format!("{table}[{row}]"), raw)))
}

/// The store document of [`read_raw`], checked.
pub(crate) fn parse(kind: StoreKind, path: &Path, location: String, raw: &str) -> Result<AuthStore> {
    let value_col = kind.table().2;
    let field = || format!("{location}.{value_col}");
    let value: Value = serde_json::from_str(raw).map_err(|e| Error::InvalidField {
        path: path.into(),
        field: field(),
        message: format!("not valid JSON (line {}, column {})", e.line(), e.column()),
    })?;
    let Value::Object(doc) = value else {
        return Err(Error::InvalidField {
            path: path.into(),
            field: field(),
            message: "expected a JSON object".into(),
        });
    };
    Error::check_version_1(path, doc.get("version"))?;
    if doc.get("profiles").is_some_and(|p| !p.is_object()) {
        return Err(Error::InvalidField {
            path: path.into(),
            field: format!("{}.profiles", field()),
            message: "expected an object".into(),
        });
    }
    Ok(AuthStore { kind, path: path.into(), location, doc })
}
