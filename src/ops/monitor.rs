//! The auth monitor (`clawkeep monitor`, run by a systemd timer): the `models status --check` verdict, and which
//! problems are due a notification — each problem at most once per hour, remembered in `monitor.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ops::status::{Health, ProfileStatus};
use crate::paths::Paths;

/// A problem is notified again only after this long.
pub const RENOTIFY_MS: i64 = 3600 * 1000;

#[derive(Default, Serialize, Deserialize)]
struct MonitorState {
    version: u32,
    /// Problem key → when it was last notified (ms).
    #[serde(default)]
    notified: BTreeMap<String, i64>,
}

/// One problem: a stable key (profile and kind of problem) and a line for people.
pub struct Problem {
    /// `<agent>/<profileId>:<status>`.
    pub key: String,
    /// What to tell the user.
    pub text: String,
}

/// The problems among status rows (expired, missing, expiring).
pub fn problems(rows: &[ProfileStatus]) -> Vec<Problem> {
    rows.iter()
        .filter(|r| matches!(r.status, Health::Expired | Health::Missing | Health::Expiring))
        .map(|r| {
            let what = match (r.status, r.expires_in_ms) {
                (Health::Expiring, Some(ms)) => format!("expires in {} h", (ms / 3_600_000).max(0)),
                (Health::Expired, _) => "has expired".into(),
                _ => "has no secret behind it".into(),
            };
            Problem {
                key: format!("{}/{}:{}", r.agent, r.profile_id, r.status.as_str()),
                text: format!("{} ({} {}, agent {}) {what}", r.profile_id, r.provider, r.cred_type, r.agent),
            }
        })
        .collect()
}

fn load(paths: &Paths) -> Result<MonitorState> {
    let path = paths.monitor_state();
    crate::fs::check_file(&path, true)?;
    match crate::fs::read_optional(&path)? {
        None => Ok(MonitorState { version: 1, ..Default::default() }),
        Some(b) => {
            let s: MonitorState = serde_json::from_slice(&b).map_err(|e| Error::json(&path, &e))?;
            if s.version != 1 {
                return Err(Error::UnknownVersion {
                    path,
                    field: "version",
                    found: s.version.to_string(),
                    expected: "1",
                });
            }
            Ok(s)
        }
    }
}

/// The problems not notified within the last hour.
pub fn due(paths: &Paths, problems: Vec<Problem>, now: i64) -> Result<Vec<Problem>> {
    let state = load(paths)?;
    Ok(problems.into_iter().filter(|p| state.notified.get(&p.key).is_none_or(|t| now - t >= RENOTIFY_MS)).collect())
}

/// Remember that these problems were notified at `now` (and forget entries older than a day).
pub fn mark(paths: &Paths, keys: &[String], now: i64) -> Result<()> {
    let _lock = crate::fs::VaultLock::acquire(&crate::vault::VaultFiles::new(paths).lock)?;
    let mut state = load(paths)?;
    state.version = 1;
    state.notified.retain(|_, t| now - *t < 24 * RENOTIFY_MS);
    for k in keys {
        state.notified.insert(k.clone(), now);
    }
    crate::fs::write_json(&paths.monitor_state(), &state)
}
