//! The index (`<clawkeep dir>/index.json`): every stored secret's id, store, times and the profile's
//! non-secret metadata. It never holds a secret. It lets clawkeep keep working after OpenClaw 2026.9+ imports
//! `auth-profiles.json` into SQLite and renames it, and lets `models auth sync` write the references again.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
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

/// One stored secret. Read by hand ([`IndexEntry::deserialize`]) rather than by serde's `flatten`, which buffers
/// every entry's fields before sorting them out: an index of 10,000 entries read twice as fast.
#[derive(Debug, Clone, Serialize, PartialEq)]
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

impl IndexEntry {
    /// A profile credential's entry: `created`/`updated` 0 (set when it is stored, [`crate::vault::Vault::put`]), no
    /// expiry, e-mail or extra fields (set them with struct update syntax).
    pub fn profile(
        store: Backend,
        agent: &str,
        profile_id: &str,
        provider: Option<&str>,
        cred_type: Option<&str>,
    ) -> IndexEntry {
        IndexEntry {
            store,
            kind: EntryKind::Profile,
            agent: Some(agent.into()),
            profile_id: Some(profile_id.into()),
            provider: provider.map(String::from),
            cred_type: cred_type.map(String::from),
            expires: None,
            email: None,
            created: 0,
            updated: 0,
            extra: Map::new(),
        }
    }
}

/// The whole index (read by hand too, for the same reason).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Index {
    /// Format version (1).
    pub version: u32,
    /// Secret id → entry.
    pub secrets: BTreeMap<String, IndexEntry>,
    /// Fields added by later versions.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Take a field's value, refusing a second occurrence as serde's derive does.
fn once<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    slot: &mut Option<T>,
    m: &mut A,
    name: &'static str,
) -> std::result::Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(m.next_value()?);
    Ok(())
}

/// A key read without allocating when it is one of the known fields (`visit_str` borrows).
enum Key<F> {
    Known(F),
    Other(String),
}

struct KeyVisitor<F>(fn(&str) -> Option<F>);

impl<'de, F> Visitor<'de> for KeyVisitor<F> {
    type Value = Key<F>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Key<F>, E> {
        Ok(match (self.0)(v) {
            Some(k) => Key::Known(k),
            None => Key::Other(v.to_string()),
        })
    }
}

fn next_key<'de, A: MapAccess<'de>, F>(
    m: &mut A,
    known: fn(&str) -> Option<F>,
) -> std::result::Result<Option<Key<F>>, A::Error> {
    struct Seed<F>(fn(&str) -> Option<F>);
    impl<'de, F> de::DeserializeSeed<'de> for Seed<F> {
        type Value = Key<F>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Key<F>, D::Error> {
            d.deserialize_str(KeyVisitor(self.0))
        }
    }
    m.next_key_seed(Seed(known))
}

#[derive(Clone, Copy)]
enum EntryField {
    Store,
    Kind,
    Agent,
    ProfileId,
    Provider,
    Type,
    Expires,
    Email,
    Created,
    Updated,
}

impl EntryField {
    fn known(k: &str) -> Option<EntryField> {
        Some(match k {
            "store" => EntryField::Store,
            "kind" => EntryField::Kind,
            "agent" => EntryField::Agent,
            "profileId" => EntryField::ProfileId,
            "provider" => EntryField::Provider,
            "type" => EntryField::Type,
            "expires" => EntryField::Expires,
            "email" => EntryField::Email,
            "created" => EntryField::Created,
            "updated" => EntryField::Updated,
            _ => return None,
        })
    }
}

impl<'de> Deserialize<'de> for IndexEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IndexEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an index entry (an object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<IndexEntry, A::Error> {
                let (mut store, mut kind, mut created, mut updated) = (None, None, None, None);
                let (mut agent, mut profile_id, mut provider, mut cred_type, mut expires, mut email) =
                    (None, None, None, None, None, None);
                let mut extra = Map::new();
                while let Some(k) = next_key(&mut m, EntryField::known)? {
                    match k {
                        Key::Known(EntryField::Store) => once(&mut store, &mut m, "store")?,
                        Key::Known(EntryField::Kind) => once(&mut kind, &mut m, "kind")?,
                        Key::Known(EntryField::Agent) => once(&mut agent, &mut m, "agent")?,
                        Key::Known(EntryField::ProfileId) => once(&mut profile_id, &mut m, "profileId")?,
                        Key::Known(EntryField::Provider) => once(&mut provider, &mut m, "provider")?,
                        Key::Known(EntryField::Type) => once(&mut cred_type, &mut m, "type")?,
                        Key::Known(EntryField::Expires) => once(&mut expires, &mut m, "expires")?,
                        Key::Known(EntryField::Email) => once(&mut email, &mut m, "email")?,
                        Key::Known(EntryField::Created) => once(&mut created, &mut m, "created")?,
                        Key::Known(EntryField::Updated) => once(&mut updated, &mut m, "updated")?,
                        Key::Other(k) => {
                            extra.insert(k, m.next_value()?);
                        }
                    }
                }
                Ok(IndexEntry {
                    store: store.ok_or_else(|| de::Error::missing_field("store"))?,
                    kind: kind.unwrap_or_default(),
                    agent: agent.flatten(),
                    profile_id: profile_id.flatten(),
                    provider: provider.flatten(),
                    cred_type: cred_type.flatten(),
                    expires: expires.flatten(),
                    email: email.flatten(),
                    created: created.ok_or_else(|| de::Error::missing_field("created"))?,
                    updated: updated.ok_or_else(|| de::Error::missing_field("updated"))?,
                    extra,
                })
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Index {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Index;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an index (an object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Index, A::Error> {
                let (mut version, mut secrets) = (None, None);
                let mut extra = Map::new();
                let known = |k: &str| match k {
                    "version" => Some(true),
                    "secrets" => Some(false),
                    _ => None,
                };
                while let Some(k) = next_key(&mut m, known)? {
                    match k {
                        Key::Known(true) => once(&mut version, &mut m, "version")?,
                        Key::Known(false) => once(&mut secrets, &mut m, "secrets")?,
                        Key::Other(k) => {
                            extra.insert(k, m.next_value()?);
                        }
                    }
                }
                Ok(Index {
                    version: version.ok_or_else(|| de::Error::missing_field("version"))?,
                    secrets: secrets.ok_or_else(|| de::Error::missing_field("secrets"))?,
                    extra,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// How an index [`Index::save`] wrote begins.
const WRITTEN_HEAD: &[u8] = b"{\n  \"version\": 1,\n";

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
        // An index clawkeep wrote starts with its version (pretty-printed, `version` first): no probe then (a second
        // `version` further on is refused as a repeated field).
        if !bytes.starts_with(WRITTEN_HEAD) {
            let probe: Version = serde_json::from_slice(&bytes).map_err(|e| Error::json(path, &e))?;
            Error::check_version_1(path, probe.version.as_ref())?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_reads_back_what_it_wrote_with_unknown_fields_kept_and_bad_entries_named() {
        let text = r#"{"version":1,"vaultId":"v-1","later":{"x":[1,2]},"secrets":{
            "main/a:b":{"store":"file","kind":"profile","agent":"main","profileId":"a:b","provider":"a",
                        "type":"token","expires":5,"email":null,"created":1,"updated":2,"sealedTo":["k"]},
            "backup/x":{"store":"file","kind":"backup","created":3,"updated":4}}}"#;
        let i: Index = serde_json::from_str(text).unwrap();
        assert_eq!(i.vault_id(), Some("v-1"));
        assert_eq!(i.extra["later"], serde_json::json!({"x": [1, 2]}));
        let e = &i.secrets["main/a:b"];
        assert_eq!(
            (e.agent.as_deref(), e.profile_id.as_deref(), e.cred_type.as_deref()),
            (Some("main"), Some("a:b"), Some("token"))
        );
        assert_eq!((e.expires, e.email.as_deref(), e.created, e.updated), (Some(5), None, 1, 2));
        assert_eq!(e.extra["sealedTo"], serde_json::json!(["k"]));
        let b = &i.secrets["backup/x"];
        assert_eq!((b.kind, b.agent.as_deref(), b.extra.len()), (EntryKind::Backup, None, 0));
        // What it writes, it reads back equal (unknown fields included).
        let again: Index = serde_json::from_str(&serde_json::to_string(&i).unwrap()).unwrap();
        assert_eq!(again, i);
        // An entry without `kind` is a profile.
        let i: Index =
            serde_json::from_str(r#"{"version":1,"secrets":{"m/p":{"store":"file","created":1,"updated":1}}}"#)
                .unwrap();
        assert_eq!(i.secrets["m/p"].kind, EntryKind::Profile);
        // Missing, repeated and mistyped fields are refused, naming the field.
        for (doc, needle) in [
            (r#"{"version":1,"secrets":{"m/p":{"store":"file","updated":1}}}"#, "missing field `created`"),
            (r#"{"version":1,"secrets":{"m/p":{"created":1,"updated":1}}}"#, "missing field `store`"),
            (
                r#"{"version":1,"secrets":{"m/p":{"store":"file","created":1,"created":2,"updated":1}}}"#,
                "duplicate field `created`",
            ),
            (r#"{"version":1,"secrets":{"m/p":{"store":"file","created":"x","updated":1}}}"#, "invalid type"),
            (r#"{"version":1}"#, "missing field `secrets`"),
            (r#"{"version":1,"secrets":[]}"#, "invalid type"),
        ] {
            let e = serde_json::from_str::<Index>(doc).unwrap_err().to_string();
            assert!(e.contains(needle), "{doc}: {e}");
        }
    }

    #[test]
    fn an_index_clawkeep_wrote_is_read_without_the_version_probe_and_other_versions_are_still_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("index.json");
        Index::default().save(&p).unwrap();
        let written = crate::fs::read_optional(&p).unwrap().unwrap();
        assert!(written.starts_with(WRITTEN_HEAD), "the head the quick path looks for");
        assert_eq!(Index::load(&p).unwrap().unwrap(), Index::default());
        let write = |text: &str| {
            std::fs::write(&p, text).unwrap();
            Index::load(&p).map(|_| ()).unwrap_err().to_string()
        };
        // Another version, wherever it stands, is named as such.
        let e = write("{\"secrets\": {}, \"version\": 2}");
        assert!(e.contains("version") && e.contains('2'), "{e}");
        let e = write("{\n  \"version\": 2,\n  \"secrets\": {}\n}\n");
        assert!(e.contains("version") && e.contains('2'), "{e}");
        // The head read as version 1, then a second version: refused.
        let e = write("{\n  \"version\": 1,\n  \"secrets\": {},\n  \"version\": 2\n}\n");
        assert!(e.contains("duplicate field `version`"), "{e}");
    }
}
