//! The index (`<clawkeep dir>/index.json`): every stored secret's id, store, times and the profile's
//! non-secret metadata. It never holds a secret. It lets clawkeep keep working after OpenClaw 2026.9+ imports
//! `auth-profiles.json` into SQLite and renames it, and lets `models auth sync` write the references again.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::store::Backend;
use crate::error::{Error, Result};

/// Top-level field of `index.json` holding a copy of the vault id of `vault.json`.
pub const VAULT_ID: &str = "vaultId";

/// What a stored secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A credential behind an OpenClaw profile.
    #[default]
    Profile,
    /// An encrypted backup (e.g. the files before `migrate`).
    Backup,
}

/// One stored secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IndexEntry {
    /// Which store holds it.
    pub store: Backend,
    /// Profile or backup.
    #[serde(default)]
    pub kind: EntryKind,
    /// Agent id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// OpenClaw profile id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    /// Provider id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// `api_key` or `token`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub cred_type: Option<String>,
    /// Expiry in ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// Account e-mail, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// ms since the epoch.
    pub created: i64,
    /// ms since the epoch.
    pub updated: i64,
    /// Fields added by later versions, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The whole index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Index {
    /// Format version (1).
    pub version: u32,
    /// Secret id → entry.
    pub secrets: BTreeMap<String, IndexEntry>,
    /// Fields added by later versions.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for Index {
    fn default() -> Self {
        Index { version: 1, secrets: BTreeMap::new(), extra: Map::new() }
    }
}

impl Index {
    /// Read and validate. Missing → `None`.
    pub fn load(path: &Path) -> Result<Option<Index>> {
        crate::fs::check_file(path, true)?;
        let Some(bytes) = crate::fs::read_optional(path)? else { return Ok(None) };
        // The version first (skipping everything else, which costs little), so an index of another version is
        // named as such rather than as a shape error; then the index itself, straight from the bytes.
        #[derive(Deserialize)]
        struct Version {
            version: Option<Value>,
        }
        let probe: Version = serde_json::from_slice(&bytes).map_err(|e| Error::json(path, &e))?;
        Error::check_version_1(path, probe.version.as_ref())?;
        // The index holds no secret, so serde's messages (which may quote values) are safe here.
        serde_json::from_slice(&bytes).map(Some).map_err(|e| Error::InvalidField {
            path: path.into(),
            field: "secrets".into(),
            message: e.to_string(),
        })
    }

    /// Write atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::fs::write_json(path, self)
    }

    /// The copy of the vault id (`vaultId`), if the index has one.
    pub fn vault_id(&self) -> Option<&str> {
        self.extra.get(VAULT_ID).and_then(Value::as_str)
    }

    /// Profile entries of one agent.
    pub fn profiles_of<'a>(&'a self, agent: &'a str) -> impl Iterator<Item = (&'a String, &'a IndexEntry)> + 'a {
        self.secrets.iter().filter(move |(_, e)| e.kind == EntryKind::Profile && e.agent.as_deref() == Some(agent))
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
