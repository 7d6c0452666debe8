//! `openclaw.json` (JSON5): read for `auth.order` and provider endpoints; edited by `clawkeep openclaw wire`
//! (the exec provider entry) and by paste-token/add (`auth.profiles.<id>` metadata, as OpenClaw's paste-token
//! does). Every other setting is kept; the file is rewritten atomically after a backup of the original bytes.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// The parsed config.
pub struct OpenClawConfig {
    /// Where it lives.
    pub path: PathBuf,
    /// The document.
    pub doc: Map<String, Value>,
    /// The bytes read, `None` when the file did not exist.
    pub original: Option<Vec<u8>>,
}

impl OpenClawConfig {
    /// Load (missing → empty document).
    pub fn load(path: &Path) -> Result<OpenClawConfig> {
        crate::fs::check_file(path, false)?;
        let Some(bytes) = crate::fs::read_optional(path)? else {
            return Ok(OpenClawConfig { path: path.into(), doc: Map::new(), original: None });
        };
        let Value::Object(doc) = parse(path, &bytes)? else {
            return Err(Error::InvalidField {
                path: path.into(),
                field: "(top level)".into(),
                message: "expected an object".into(),
            });
        };
        Ok(OpenClawConfig { path: path.into(), doc, original: Some(bytes.to_vec()) })
    }

    /// Load only if the file exists (a broken one is still an error).
    pub fn load_existing(path: &Path) -> Result<Option<OpenClawConfig>> {
        if path.exists() { OpenClawConfig::load(path).map(Some) } else { Ok(None) }
    }

    /// Whether the original used JSON5 syntax (comments, unquoted keys…) that a rewrite turns into plain JSON.
    pub fn is_json5_only(&self) -> bool {
        self.original.as_ref().is_some_and(|b| serde_json::from_slice::<Value>(b).is_err())
    }

    /// `auth.order.<provider>`.
    pub fn auth_order(&self, provider: &str) -> Option<Vec<String>> {
        let a = self.doc.get("auth")?.get("order")?.get(provider)?.as_array()?;
        Some(a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
    }

    /// `models.providers.<provider>.baseUrl`.
    pub fn base_url(&self, provider: &str) -> Option<String> {
        Some(self.doc.get("models")?.get("providers")?.get(provider)?.get("baseUrl")?.as_str()?.to_string())
    }

    /// `secrets.providers.<alias>`.
    pub fn exec_provider(&self, alias: &str) -> Option<&Value> {
        self.doc.get("secrets")?.get("providers")?.get(alias)
    }

    /// Set `secrets.providers.<alias>`; whether it changed.
    pub fn set_exec_provider(&mut self, alias: &str, entry: Value) -> Result<bool> {
        let slot = object_at(&self.path, &mut self.doc, &["secrets", "providers"])?;
        if slot.get(alias) == Some(&entry) {
            return Ok(false);
        }
        slot.insert(alias.into(), entry);
        Ok(true)
    }

    /// Record `auth.profiles.<id> = {provider, mode}` (other fields of an existing entry kept); whether it changed.
    pub fn set_profile_meta(&mut self, profile_id: &str, provider: &str, mode: &str) -> Result<bool> {
        let slot = object_at(&self.path, &mut self.doc, &["auth", "profiles"])?;
        let entry = slot.entry(profile_id.to_string()).or_insert_with(|| json!({}));
        let Some(e) = entry.as_object_mut() else {
            return Err(Error::InvalidField {
                path: self.path.clone(),
                field: format!("auth.profiles.{profile_id}"),
                message: "expected an object".into(),
            });
        };
        let before = e.clone();
        e.insert("provider".into(), json!(provider));
        e.insert("mode".into(), json!(mode));
        Ok(*e != before)
    }

    /// Remove `auth.profiles.<id>`; whether it was there.
    pub fn remove_profile_meta(&mut self, profile_id: &str) -> bool {
        self.doc
            .get_mut("auth")
            .and_then(|a| a.get_mut("profiles"))
            .and_then(Value::as_object_mut)
            .is_some_and(|p| p.remove(profile_id).is_some())
    }

    /// Where the backup of the original goes.
    pub fn backup_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".clawkeep.bak");
        self.path.with_file_name(name)
    }

    /// Back up the original bytes (0600, beside the file) with every literal key left out (see [`redacted`]),
    /// then write atomically (2-space JSON, trailing newline). Returns the backup path.
    pub fn save(&self) -> Result<Option<PathBuf>> {
        let backup = match &self.original {
            Some(orig) => {
                let b = self.backup_path();
                crate::fs::write_atomic(&b, &redacted(orig)?)?;
                Some(b)
            }
            None => None,
        };
        if let Some(dir) = self.path.parent() {
            crate::fs::ensure_private_dir(dir)?;
        }
        crate::fs::write_json(&self.path, &self.doc)?;
        Ok(backup)
    }
}

/// Parse `openclaw.json`'s bytes (JSON5), nesting bounded first, errors naming `path`.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Value> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::InvalidField {
        path: path.into(),
        field: "(file)".into(),
        message: "not UTF-8".into(),
    })?;
    super::check_nesting(path, bytes)?;
    json5::from_str(text).map_err(|e| json5_error(path, &e))
}

/// The object at `keys`, created as needed; an error naming the field when something else is in the way.
fn object_at<'a>(path: &Path, doc: &'a mut Map<String, Value>, keys: &[&str]) -> Result<&'a mut Map<String, Value>> {
    let mut cur = doc;
    for (i, k) in keys.iter().enumerate() {
        let v = cur.entry(k.to_string()).or_insert_with(|| json!({}));
        cur = v.as_object_mut().ok_or_else(|| Error::InvalidField {
            path: path.into(),
            field: keys[..=i].join("."),
            message: "expected an object".into(),
        })?;
    }
    Ok(cur)
}

fn json5_error(path: &Path, e: &json5::Error) -> Error {
    match e {
        json5::Error::Message { msg, location: Some(loc) } => Error::MalformedJson {
            path: path.into(),
            line: loc.line,
            column: loc.column,
            // pest quotes the offending source line (which may hold a plaintext key); keep only its verdict.
            message: msg
                .lines()
                .rev()
                .find_map(|l| l.trim_start().strip_prefix('=').map(|v| v.trim().to_string()))
                .unwrap_or_else(|| "syntax error".into()),
        },
        json5::Error::Message { location: None, .. } => {
            Error::InvalidField { path: path.into(), field: "(file)".into(), message: "not valid JSON5".into() }
        }
    }
}

/// What a backup holds in place of a literal key.
pub const REDACTED: &str = "<literal key left out of this backup by clawkeep; it is still in openclaw.json>";

/// Literal (plaintext) keys of an `openclaw.json` document: string values on the SecretRef surface (OpenClaw's
/// matrix when found, else clawkeep's built-in subset, always with `models.providers.*.apiKey`) that are not
/// `${ENV}` templates. Returns (json path, value).
pub fn literal_keys(doc: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pattern in super::surface::config_patterns() {
        for (path, v) in super::surface::expand(doc, &pattern) {
            let Some(k) = v.as_str() else { continue };
            if !k.is_empty() && !k.starts_with("${") && k != REDACTED && !out.iter().any(|(p, _)| *p == path) {
                out.push((path, k.to_string()));
            }
        }
    }
    out
}

/// The original bytes of `openclaw.json` with every literal key replaced by [`REDACTED`], so no backup clawkeep
/// writes holds a plaintext key. Comments and layout are kept when each key appears verbatim in the text; otherwise
/// the backup is the document as plain JSON.
pub(crate) fn redacted(original: &[u8]) -> Result<Vec<u8>> {
    let Ok(text) = std::str::from_utf8(original) else { return Ok(original.to_vec()) };
    let Ok(doc) = json5::from_str::<Value>(text) else { return Ok(original.to_vec()) };
    let keys = literal_keys(&doc);
    if keys.is_empty() {
        return Ok(original.to_vec());
    }
    let mut out = text.to_string();
    let verbatim = keys.iter().all(|(_, k)| {
        let quoted = serde_json::to_string(k).unwrap_or_default();
        out.contains(&quoted[1..quoted.len() - 1])
    });
    if verbatim {
        for (_, k) in &keys {
            let quoted = serde_json::to_string(k).unwrap_or_default();
            out = out.replace(&quoted[1..quoted.len() - 1], REDACTED);
        }
        if json5::from_str::<Value>(&out).is_ok_and(|d| literal_keys(&d).is_empty()) {
            return Ok(out.into_bytes());
        }
    }
    let mut doc = doc;
    for (path, _) in &keys {
        let pointer: String =
            path.split('.').map(|seg| format!("/{}", seg.replace('~', "~0").replace('/', "~1"))).collect();
        if let Some(v) = doc.pointer_mut(&pointer).filter(|v| v.is_string()) {
            *v = json!(REDACTED);
        }
    }
    let mut bytes = serde_json::to_vec_pretty(&doc).map_err(|e| Error::Internal(e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}
