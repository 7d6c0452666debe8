//! `auth-profiles.json` (version 1). Kept as a JSON map so every field clawkeep does not own survives a rewrite.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::lite::{Fields, Lite, LiteObject};
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
pub fn profile_type<P: Fields + ?Sized>(p: &P) -> Option<&str> {
    if p.has("type") { p.str_of("type") } else { p.str_of("mode") }
}

/// The profile's provider.
pub fn profile_provider<P: Fields + ?Sized>(p: &P) -> Option<&str> {
    p.str_of("provider")
}

/// The profile's `keyRef`/`tokenRef`, if any.
pub fn profile_ref<P: Fields + ?Sized>(p: &P) -> Option<SecretRef> {
    if p.has("keyRef") { p.ref_of("keyRef") } else { p.ref_of("tokenRef") }
}

/// The profile's expiry in ms.
pub fn profile_expires<P: Fields + ?Sized>(p: &P) -> Option<i64> {
    p.i64_of("expires").filter(|v| *v > 0)
}

/// Plaintext secret fields present in the profile.
pub fn plaintext_fields<P: Fields + ?Sized>(p: &P) -> Vec<&'static str> {
    PLAINTEXT_FIELDS.iter().copied().filter(|f| p.str_of(f).is_some_and(|s| !s.is_empty())).collect()
}

/// Every profile of the `auth-profiles.json` read from `path` as `bytes`, as [`AuthProfiles::profiles`] yields them
/// (in file order, objects with a string provider), after the same checks as [`AuthProfiles::load`]: the audit's
/// quick read. A document that is not plainly well-formed (a parse error, another version, a repeated profile id, a
/// malformed ref or expiry, a legacy flat map) is read again the full way, so its error (or its profiles) are
/// exactly what `load` gives.
pub fn each_profile(path: &Path, bytes: &[u8], mut f: impl FnMut(&str, &dyn Fields)) -> Result<()> {
    if let Ok(Lite::Object(doc)) = Lite::parse(bytes)
        && let Some(profiles) = plain_profiles(&doc)
    {
        for (id, p) in profiles.iter().flat_map(|p| p.0.iter()) {
            if let Lite::Object(p) = p
                && p.str_of("provider").is_some()
            {
                f(id, p);
            }
        }
        return Ok(());
    }
    let full = AuthProfiles::from_read(path, super::parse_object(path, bytes)?, Vec::new())?;
    for (id, p) in full.profiles() {
        f(id, p);
    }
    Ok(())
}

/// The profiles of a document [`AuthProfiles::from_read`] would accept as it is (`Some(None)` when it has none);
/// `None` for anything else.
fn plain_profiles<'d, 'a>(doc: &'d LiteObject<'a>) -> Option<Option<&'d LiteObject<'a>>> {
    if doc.get("version")?.as_u64() != Some(1) {
        return None;
    }
    let profiles = match doc.get("profiles") {
        None => return Some(None),
        Some(p) => p.as_object()?,
    };
    if profiles.has_repeats() {
        return None;
    }
    let well_formed = profiles.0.iter().all(|(_, p)| {
        p.as_object().is_some_and(|p| {
            ["keyRef", "tokenRef"].iter().all(|r| !p.has(r) || p.ref_of(r).is_some())
                && (!p.has("expires") || p.is_null("expires") || p.i64_of("expires").is_some())
        })
    });
    well_formed.then_some(Some(profiles))
}

fn parse_ref(v: &Value) -> Option<SecretRef> {
    v.as_object().and_then(super::lite::secret_ref)
}

#[cfg(test)]
mod quick_read_tests {
    use super::*;

    fn quick(doc: &str) -> bool {
        matches!(Lite::parse(doc.as_bytes()), Ok(Lite::Object(o)) if plain_profiles(&o).is_some())
    }

    #[test]
    fn the_audits_quick_read_gives_what_the_full_read_gives_and_falls_back_on_anything_unusual() {
        // Read the quick way: every field the audit looks at, in every shape OpenClaw's files take.
        let plain = r#"{"version":1,"profiles":{
            "a:1":{"type":"api_key","provider":"a","key":"sk-1"},
            "b:2":{"type":"token","provider":"b","tokenRef":{"source":"exec","provider":"clawkeep","id":"main/b:2"},"expires":99},
            "c":{"mode":"token","provider":"c","token":"t"},
            "d":{"provider":1,"key":"not loaded: provider is not a string"},
            "e":{"type":"oauth","provider":"e","access":"x","refresh":"y"},
            "f":{"type":"api_key","provider":"f","apiKey":"y"},
            "g":{"type":"api_key","provider":"g","key":null,"apiKey":"z"},
            "h\u0041":{"type":5,"mode":"token","provider":"h\n","token":"\u00e9\"q"},
            "i":{"provider":"i","key":"first","key":"second","keyRef":{"source":"env","provider":"default","id":"K"}},
            "j":{"provider":"j","expires":null},
            "k":{"provider":"k","expires":-5,"tokenRef":{"source":"exec","provider":"clawkeep","id":"x","extra":1}}
        },"usageStats":{"a:1":{"lastUsed":1}},"profiles2":[1,2.5,-3,true,null]}"#;
        assert!(quick(plain));
        let got = crate::fuzzing::quick_read_agrees(plain.as_bytes()).unwrap();
        assert_eq!(got.len(), 10, "every profile with a string provider");
        let i = got.iter().find(|f| f.0 == "i").unwrap();
        assert_eq!(i.6[0].as_deref(), Some("second"), "a repeated field: the last counts, as in the full read");
        let h = got.iter().find(|f| f.0 == "hA").unwrap();
        assert_eq!((h.1.as_deref(), h.2.as_deref(), h.6[2].as_deref()), (None, Some("h\n"), Some("é\"q")));
        assert!(quick(r#"{"version":1}"#));
        assert_eq!(crate::fuzzing::quick_read_agrees(br#"{"version":1}"#).unwrap().len(), 0);
        assert!(quick(r#"{"profiles":{"x":{}},"version":1,"profiles":{}}"#), "a repeated member: the last counts");
        assert_eq!(
            crate::fuzzing::quick_read_agrees(br#"{"profiles":{"x":{"provider":"p"}},"version":1,"profiles":{}}"#)
                .unwrap()
                .len(),
            0
        );

        // Anything else is read the full way: the same error, or (a repeated profile id) the same profiles.
        for (doc, ok) in [
            (r#"{"version":2,"profiles":{}}"#, false),
            (r#"{"version":"1","profiles":{}}"#, false),
            (r#"{"version":1.0,"profiles":{}}"#, false),
            (r#"{"profiles":{}}"#, false),
            (r#"{"anthropic":{"apiKey":"sk-legacy"}}"#, false),
            (r#"{"version":1,"profiles":[]}"#, false),
            (r#"{"version":1,"profiles":{"a":"sk-string"}}"#, false),
            (
                r#"{"version":1,"profiles":{"a":{"provider":"p","key":"1"},"b":{"provider":"q"},"a":{"provider":"r","key":"2"}}}"#,
                true,
            ),
            (r#"{"version":1,"profiles":{"a":{"provider":"p","keyRef":{"source":"exec","id":"x"}}}}"#, false),
            (r#"{"version":1,"profiles":{"a":{"provider":"p","keyRef":null}}}"#, false),
            (r#"{"version":1,"profiles":{"a":{"provider":"p","expires":"soon"}}}"#, false),
            (r#"{"version":1,"profiles":{"a":{"provider":"p","expires":1.5}}}"#, false),
            (r#"{"version":1,"profiles":{"a":{"provider":"p","expires":18446744073709551615}}}"#, false),
            (r#"{"version":1,"profiles":{"a":{"provider":"p","key":"sk-unterminated}}}"#, false),
            (r#"[1,2]"#, false),
        ] {
            assert!(!quick(doc), "{doc} was read the quick way");
            let r = crate::fuzzing::quick_read_agrees(doc.as_bytes());
            assert_eq!(r.is_ok(), ok, "{doc}: {r:?}");
        }
        // The repeated id keeps its first place and its last value, as the full read does.
        let r = crate::fuzzing::quick_read_agrees(
            br#"{"version":1,"profiles":{"a":{"provider":"p","key":"1"},"b":{"provider":"q"},"a":{"provider":"r","key":"2"}}}"#,
        )
        .unwrap();
        assert_eq!(
            r.iter().map(|f| (f.0.as_str(), f.2.as_deref())).collect::<Vec<_>>(),
            [("a", Some("r")), ("b", Some("q"))]
        );
    }
}
