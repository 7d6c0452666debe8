//! `auth-state.json` (version 1): per-agent routing state. clawkeep edits `order` and removes a deleted
//! profile's traces; every other field is kept as it is.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// The parsed file.
#[derive(Debug, Clone)]
pub struct AuthState {
    /// Where it lives.
    pub path: PathBuf,
    /// The whole document.
    pub doc: Map<String, Value>,
    /// Whether it existed.
    pub existed: bool,
}

impl AuthState {
    /// Load (missing → empty version-1 document).
    pub fn load(path: &Path) -> Result<AuthState> {
        let Some((doc, _)) = super::read_object(path)? else {
            let mut doc = Map::new();
            doc.insert("version".into(), json!(1));
            return Ok(AuthState { path: path.into(), doc, existed: false });
        };
        AuthState::from_read(path, doc)
    }

    /// Check a document already read from `path` (version, the shapes of `order`, `lastGood`, `usageStats`).
    pub fn from_read(path: &Path, doc: Map<String, Value>) -> Result<AuthState> {
        super::check_version(path, &doc, false)?;
        for f in ["order", "lastGood", "usageStats"] {
            if let Some(v) = doc.get(f)
                && !v.is_object()
            {
                return Err(Error::InvalidField {
                    path: path.into(),
                    field: f.into(),
                    message: "expected an object".into(),
                });
            }
        }
        if let Some(order) = doc.get("order").and_then(Value::as_object) {
            for (p, v) in order {
                if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                    return Err(Error::InvalidField {
                        path: path.into(),
                        field: format!("order.{p}"),
                        message: "expected a list of profile ids".into(),
                    });
                }
            }
        }
        Ok(AuthState { path: path.into(), doc, existed: true })
    }

    /// The order override for a provider.
    pub fn order(&self, provider: &str) -> Option<Vec<String>> {
        let a = self.doc.get("order")?.as_object()?.get(provider)?.as_array()?;
        Some(a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
    }

    /// Set the order override.
    pub fn set_order(&mut self, provider: &str, ids: &[String]) {
        let order = self.doc.entry("order").or_insert_with(|| json!({}));
        if let Some(o) = order.as_object_mut() {
            o.insert(provider.to_string(), json!(ids));
        }
    }

    /// Clear the order override; whether there was one.
    pub fn clear_order(&mut self, provider: &str) -> bool {
        self.doc.get_mut("order").and_then(Value::as_object_mut).is_some_and(|o| o.remove(provider).is_some())
    }

    /// Remove every trace of a profile (order lists, lastGood, usageStats); whether anything changed.
    pub fn forget_profile(&mut self, profile_id: &str) -> bool {
        let mut changed = false;
        if let Some(order) = self.doc.get_mut("order").and_then(Value::as_object_mut) {
            for list in order.values_mut() {
                if let Some(a) = list.as_array_mut() {
                    let before = a.len();
                    a.retain(|v| v.as_str() != Some(profile_id));
                    changed |= a.len() != before;
                }
            }
        }
        if let Some(lg) = self.doc.get_mut("lastGood").and_then(Value::as_object_mut) {
            let before = lg.len();
            lg.retain(|_, v| v.as_str() != Some(profile_id));
            changed |= lg.len() != before;
        }
        if let Some(us) = self.doc.get_mut("usageStats").and_then(Value::as_object_mut) {
            changed |= us.remove(profile_id).is_some();
        }
        changed
    }

    /// A profile's usage stats (empty when none are recorded).
    pub fn usage(&self, profile_id: &str) -> Map<String, Value> {
        self.doc
            .get("usageStats")
            .and_then(Value::as_object)
            .and_then(|u| u.get(profile_id))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// Replace a profile's usage stats.
    pub fn set_usage(&mut self, profile_id: &str, stats: Map<String, Value>) {
        let us = self.doc.entry("usageStats").or_insert_with(|| json!({}));
        if let Some(u) = us.as_object_mut() {
            u.insert(profile_id.to_string(), Value::Object(stats));
        }
    }

    /// Clear cooldowns and disabled windows that have passed (step 1 of OpenClaw's selection); whether anything
    /// changed.
    pub fn clear_expired(&mut self, now: i64) -> bool {
        let mut changed = false;
        let Some(us) = self.doc.get_mut("usageStats").and_then(Value::as_object_mut) else { return false };
        for stats in us.values_mut().filter_map(Value::as_object_mut) {
            for (until, reason) in [("cooldownUntil", "cooldownReason"), ("disabledUntil", "disabledReason")] {
                if stats.get(until).and_then(Value::as_i64).is_some_and(|t| t <= now) {
                    stats.remove(until);
                    stats.remove(reason);
                    changed = true;
                }
            }
        }
        changed
    }

    /// Write atomically.
    pub fn save(&self) -> Result<()> {
        super::write_object(&self.path, &self.doc)
    }
}
