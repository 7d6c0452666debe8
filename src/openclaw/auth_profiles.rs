//! `auth-profiles.json` (version 1). Kept as a JSON map so every field clawkeep does not own survives a rewrite.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::secret::SecretId;

/// Credential types clawkeep stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CredType {
    /// `api_key` → `keyRef`.
    #[value(name = "api_key")]
    ApiKey,
    /// `token` → `tokenRef`.
    Token,
}

impl CredType {
    /// OpenClaw's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CredType::ApiKey => "api_key",
            CredType::Token => "token",
        }
    }
    /// The reference field.
    pub fn ref_field(self) -> &'static str {
        match self {
            CredType::ApiKey => "keyRef",
            CredType::Token => "tokenRef",
        }
    }
    /// Parse OpenClaw's spelling.
    pub fn parse(s: &str) -> Option<CredType> {
        match s {
            "api_key" => Some(CredType::ApiKey),
            "token" => Some(CredType::Token),
            _ => None,
        }
    }
}

/// A SecretRef as it appears in a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// `exec`, `env`, `file`.
    pub source: String,
    /// Provider alias (`clawkeep` for ours).
    pub provider: String,
    /// The id.
    pub id: String,
}

impl SecretRef {
    /// Whether clawkeep resolves it.
    pub fn is_clawkeep(&self) -> bool {
        self.source == "exec" && self.provider == crate::PROVIDER_ALIAS
    }
}

/// Fields that carry plaintext secrets in a profile.
pub const PLAINTEXT_FIELDS: [&str; 5] = ["key", "apiKey", "token", "access", "refresh"];

/// The parsed file.
#[derive(Debug, Clone)]
pub struct AuthProfiles {
    /// Where it lives.
    pub path: PathBuf,
    /// The whole document.
    pub doc: Map<String, Value>,
    /// Bytes as read (None when the file did not exist).
    pub original: Option<Vec<u8>>,
}

impl AuthProfiles {
    /// Load (missing → empty version-1 document). Refuses unknown versions and malformed files.
    pub fn load(path: &Path) -> Result<AuthProfiles> {
        match super::read_object(path)? {
            Some((doc, bytes)) => AuthProfiles::from_read(path, doc, bytes),
            None => Ok(AuthProfiles::empty(path)),
        }
    }

    /// An empty version-1 document for `path`.
    pub fn empty(path: &Path) -> AuthProfiles {
        let mut doc = Map::new();
        doc.insert("version".into(), json!(1));
        doc.insert("profiles".into(), json!({}));
        AuthProfiles { path: path.into(), doc, original: None }
    }

    /// Check a document already read from `path` (version, refs, expiry) and keep its bytes.
    pub fn from_read(path: &Path, doc: Map<String, Value>, bytes: Vec<u8>) -> Result<AuthProfiles> {
        if is_flat_legacy(&doc) {
            return Err(Error::InvalidField {
                path: path.into(),
                field: "version".into(),
                message: "this is a legacy flat credential map; run `clawkeep migrate` to convert it".into(),
            });
        }
        super::check_version(path, &doc, false)?;
        let me = AuthProfiles { path: path.into(), doc, original: Some(bytes) };
        me.validate()?;
        Ok(me)
    }

    fn validate(&self) -> Result<()> {
        let bad = |field: String, message: &str| Error::InvalidField {
            path: self.path.clone(),
            field,
            message: message.into(),
        };
        match self.doc.get("profiles") {
            None | Some(Value::Object(_)) => {}
            Some(_) => return Err(bad("profiles".into(), "expected an object")),
        }
        for (id, p) in self.raw_profiles() {
            let Value::Object(p) = p else { return Err(bad(format!("profiles.{id}"), "expected an object")) };
            for f in ["keyRef", "tokenRef"] {
                if let Some(r) = p.get(f)
                    && parse_ref(r).is_none()
                {
                    return Err(bad(format!("profiles.{id}.{f}"), "expected {\"source\",\"provider\",\"id\"} strings"));
                }
            }
            if let Some(e) = p.get("expires")
                && !e.is_null()
                && e.as_i64().is_none()
            {
                return Err(bad(format!("profiles.{id}.expires"), "expected milliseconds since the epoch"));
            }
        }
        Ok(())
    }

    fn raw_profiles(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.doc.get("profiles").and_then(Value::as_object).into_iter().flat_map(|m| m.iter())
    }

    /// Profiles that OpenClaw would load (objects with a provider), in file order.
    pub fn profiles(&self) -> impl Iterator<Item = (&String, &Map<String, Value>)> {
        self.raw_profiles().filter_map(|(k, v)| {
            v.as_object().filter(|p| p.get("provider").is_some_and(Value::is_string)).map(|p| (k, p))
        })
    }

    /// One profile.
    pub fn get(&self, id: &str) -> Option<&Map<String, Value>> {
        self.doc.get("profiles")?.as_object()?.get(id)?.as_object()
    }

    fn profiles_mut(&mut self) -> &mut Map<String, Value> {
        if !self.doc.get("profiles").is_some_and(Value::is_object) {
            self.doc.insert("profiles".into(), json!({}));
        }
        self.doc.get_mut("profiles").and_then(Value::as_object_mut).expect("profiles is an object")
    }

    /// Insert or update a reference profile, keeping every other field of an existing one.
    pub fn upsert_ref(
        &mut self,
        profile_id: &str,
        provider: &str,
        kind: CredType,
        id: &SecretId,
        expires: Option<i64>,
    ) {
        let profiles = self.profiles_mut();
        let entry = profiles.entry(profile_id.to_string()).or_insert_with(|| json!({}));
        if !entry.is_object() {
            *entry = json!({});
        }
        let p = entry.as_object_mut().expect("object");
        for f in PLAINTEXT_FIELDS.iter().chain(["keyRef", "tokenRef", "mode"].iter()) {
            p.remove(*f);
        }
        p.insert("type".into(), json!(kind.as_str()));
        p.insert("provider".into(), json!(provider));
        p.insert(
            kind.ref_field().into(),
            json!({"source": "exec", "provider": crate::PROVIDER_ALIAS, "id": id.as_str()}),
        );
        match expires {
            Some(ms) => {
                p.insert("expires".into(), json!(ms));
            }
            None => {
                p.remove("expires");
            }
        }
    }

    /// Remove a profile; whether it was there.
    pub fn remove(&mut self, profile_id: &str) -> bool {
        self.profiles_mut().remove(profile_id).is_some()
    }

    /// Write atomically (0600, dir 0700).
    pub fn save(&self) -> Result<()> {
        super::write_object(&self.path, &self.doc)
    }
}

/// A legacy flat credential map (`{ "<provider>": { "apiKey": … } }`) rather than a version-1 document.
pub fn is_flat_legacy(doc: &Map<String, Value>) -> bool {
    !doc.contains_key("version") && !doc.contains_key("profiles")
}

/// The profile's type (`type`, or the legacy `mode`).
pub fn profile_type(p: &Map<String, Value>) -> Option<&str> {
    p.get("type").or_else(|| p.get("mode")).and_then(Value::as_str)
}

/// The profile's provider.
pub fn profile_provider(p: &Map<String, Value>) -> Option<&str> {
    p.get("provider").and_then(Value::as_str)
}

/// The profile's `keyRef`/`tokenRef`, if any.
pub fn profile_ref(p: &Map<String, Value>) -> Option<SecretRef> {
    p.get("keyRef").or_else(|| p.get("tokenRef")).and_then(parse_ref)
}

/// The profile's expiry in ms.
pub fn profile_expires(p: &Map<String, Value>) -> Option<i64> {
    p.get("expires").and_then(Value::as_i64).filter(|v| *v > 0)
}

/// Plaintext secret fields present in the profile.
pub fn plaintext_fields(p: &Map<String, Value>) -> Vec<&'static str> {
    PLAINTEXT_FIELDS
        .iter()
        .copied()
        .filter(|f| p.get(*f).is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty())))
        .collect()
}

fn parse_ref(v: &Value) -> Option<SecretRef> {
    let o = v.as_object()?;
    Some(SecretRef {
        source: o.get("source")?.as_str()?.to_string(),
        provider: o.get("provider")?.as_str()?.to_string(),
        id: o.get("id")?.as_str()?.to_string(),
    })
}
