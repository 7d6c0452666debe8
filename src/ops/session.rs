//! Per-session pins (`/model <alias>@<profileId>`), kept in `<clawkeep dir>/sessions.json`:
//! `{"version":1,"sessions":{"<id>":{"agent":"main","model":"opus","profile":"anthropic:work","provider":"anthropic","updated":<ms>}}}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fs::VaultLock;
use crate::paths::Paths;
use crate::vault::{VaultFiles, now_ms};

/// One session's pin.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Pin {
    /// Agent id.
    pub agent: String,
    /// Model alias or id, as typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Pinned profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The pinned profile's provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// ms since the epoch.
    #[serde(default)]
    pub updated: i64,
}

#[derive(Default, Serialize, Deserialize)]
struct Sessions {
    version: u32,
    #[serde(default)]
    sessions: BTreeMap<String, Pin>,
}

/// Session ids: what chat front-ends use, kept to a safe alphabet.
pub fn check_session_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-' | '@' | '+'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "invalid session id `{}` (1-128 of A-Z a-z 0-9 . _ : - @ +)",
            id.chars().take(64).collect::<String>()
        )))
    }
}

fn load(paths: &Paths) -> Result<Sessions> {
    let path = paths.sessions();
    crate::fs::check_file(&path, true)?;
    let Some(bytes) = crate::fs::read_optional(&path)? else {
        return Ok(Sessions { version: 1, sessions: BTreeMap::new() });
    };
    let s: Sessions = serde_json::from_slice(&bytes).map_err(|e| Error::json(&path, &e))?;
    if s.version != 1 {
        return Err(Error::UnknownVersion { path, field: "version", found: s.version.to_string(), expected: "1" });
    }
    Ok(s)
}

/// The pin of a session, if any.
pub fn pin_of(paths: &Paths, session: &str) -> Result<Option<Pin>> {
    check_session_id(session)?;
    Ok(load(paths)?.sessions.remove(session))
}

/// Set (`Some`) or clear (`None`) a session's pin.
pub fn set_pin(paths: &Paths, session: &str, pin: Option<Pin>) -> Result<()> {
    check_session_id(session)?;
    let _lock = VaultLock::acquire(&VaultFiles::new(paths).lock)?;
    let mut all = load(paths)?;
    match pin {
        Some(mut p) => {
            p.updated = now_ms();
            all.sessions.insert(session.into(), p);
        }
        None => {
            all.sessions.remove(session);
        }
    }
    crate::fs::write_json(&paths.sessions(), &all)
}
