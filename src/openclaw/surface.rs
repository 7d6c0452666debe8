//! Every credential location OpenClaw keeps, on its SecretRef surface: the auth-profile stores (JSON file, per-agent
//! and shared SQLite), `openclaw.json`'s credential paths and `<state>/.env`. Read-only; no passphrase needed.
//!
//! The `openclaw.json` paths come from OpenClaw's own matrix (`docs/reference/secretref-user-supplied-credentials-
//! matrix.json` in the installed npm package, found beside the `openclaw` on `PATH`, or `$CLAWKEEP_OPENCLAW_MATRIX`).
//! Without it, a built-in subset is checked and the scan says so ([`Scan::skipped`]).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::auth_profiles::{SecretRef, profile_expires, profile_provider, profile_ref, profile_type};
use super::lite::{Fields, secret_ref};
use super::sqlite::{self, StoreKind};
use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::secret::SecretString;

/// The `openclaw.json` paths checked when OpenClaw's matrix cannot be found.
pub const BUILTIN_CONFIG_PATHS: &[&str] = &[
    "models.providers.*.apiKey",
    "skills.entries.*.apiKey",
    "channels.discord.token",
    "channels.telegram.botToken",
    "channels.slack.botToken",
    "channels.slack.appToken",
    "gateway.auth.token",
    "gateway.auth.password",
    "tts.providers.*.apiKey",
    "talk.providers.*.apiKey",
];

/// Where a credential's value lives.
pub enum Held {
    /// In plaintext at the location (the value, never printed).
    Plaintext(SecretString),
    /// A SecretRef (to clawkeep or another provider).
    Ref(SecretRef),
    /// An `${ENV}` template: the value comes from the environment.
    EnvTemplate(String),
    /// OAuth material: OpenClaw cannot use refs for it (out of the SecretRef surface).
    OAuth,
}

/// One credential location.
pub struct Location {
    /// `auth-profiles.json`, `agent-sqlite`, `shared-sqlite`, `auth.json`, `openclaw.json`, `.env`.
    pub store: &'static str,
    /// The file.
    pub file: PathBuf,
    /// Table and row in a SQLite store.
    pub row: Option<String>,
    /// Path inside the document, in OpenClaw's audit syntax (`profiles.<id>.token`, `models.providers.x.apiKey`,
    /// `$env.NAME`).
    pub json_path: String,
    /// The agent whose store it is (auth stores; `.env` and `openclaw.json` are the gateway's).
    pub agent: Option<String>,
    /// Auth profile id.
    pub profile_id: Option<String>,
    /// Provider.
    pub provider: Option<String>,
    /// `api_key`, `token`, `oauth`, `config`, `env`.
    pub kind: String,
    /// The plan target type of `openclaw secrets apply` (the matrix id), when the location is on the surface.
    pub target_type: Option<String>,
    /// The value, or what stands for it.
    pub held: Held,
    /// The profile's `expires` (ms since the epoch), for auth profiles that carry one.
    pub expires: Option<i64>,
}

/// The result of a scan.
#[derive(Default)]
pub struct Scan {
    /// Every location found.
    pub locations: Vec<Location>,
    /// Parts not checked, and why (a scan with any is never `clean`).
    pub skipped: Vec<String>,
    /// Files that could not be read (locked, corrupt, unknown schema, malformed): the file and the error.
    pub errors: Vec<(PathBuf, Error)>,
    /// The matrix used for `openclaw.json`, when found.
    pub matrix: Option<PathBuf>,
}

/// Find OpenClaw's credential matrix: `$CLAWKEEP_OPENCLAW_MATRIX`, else beside the `openclaw` on `PATH`.
pub fn find_matrix() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CLAWKEEP_OPENCLAW_MATRIX").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let bin = which::which("openclaw").ok()?;
    let real = std::fs::canonicalize(bin).ok()?;
    let rel = Path::new("docs/reference/secretref-user-supplied-credentials-matrix.json");
    real.ancestors().skip(1).take(4).map(|d| d.join(rel)).find(|p| p.is_file())
}

/// The `openclaw.json` entries of the matrix: (plan target type, path pattern).
pub fn load_matrix(path: &Path) -> Result<Vec<(String, String)>> {
    let bytes = crate::fs::read_optional(path)?.ok_or_else(|| Error::NotFound(format!("{}", path.display())))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| Error::json(path, &e))?;
    let entries = v.get("entries").and_then(Value::as_array).ok_or_else(|| Error::InvalidField {
        path: path.into(),
        field: "entries".into(),
        message: "expected an array".into(),
    })?;
    Ok(entries
        .iter()
        .filter(|e| e.get("configFile").and_then(Value::as_str) == Some("openclaw.json"))
        .filter_map(|e| Some((e.get("id")?.as_str()?.to_string(), e.get("path")?.as_str()?.to_string())))
        .collect())
}

/// Scan everything for `agents`.
pub fn scan(paths: &Paths, agents: &[String]) -> Scan {
    let mut s = Scan::default();
    // Auth-profile stores, per agent: the JSON file (2026.5), the per-agent SQLite store (2026.7+).
    for a in agents {
        let json = paths.auth_profiles(a);
        let read = super::read_json_bytes(&json).and_then(|bytes| match bytes {
            Some(b) => super::auth_profiles::each_profile(&json, &b, |pid, p| {
                profile_locations(&mut s.locations, "auth-profiles.json", &json, None, Some(a), pid, p)
            }),
            None => Ok(()),
        });
        if let Err(e) = read {
            s.errors.push((json, e));
        }
        let db = sqlite::agent_path(&paths.agent_dir(a));
        let read = sqlite::each_profile(StoreKind::Agent, &db, |row, pid, p| {
            profile_locations(&mut s.locations, StoreKind::Agent.as_str(), &db, Some(row), Some(a), pid, p)
        });
        if let Err(e) = read {
            s.errors.push((db, e));
        }
    }
    // The shared store (2026.9+): profiles every agent falls back to.
    let db = sqlite::shared_path(&paths.state_dir);
    let read = sqlite::each_profile(StoreKind::Shared, &db, |row, pid, p| {
        profile_locations(&mut s.locations, StoreKind::Shared.as_str(), &db, Some(row), None, pid, p)
    });
    if let Err(e) = read {
        s.errors.push((db, e));
    }
    config_locations(&mut s, paths);
    env_locations(&mut s, paths);
    s
}

fn profile_locations(
    out: &mut Vec<Location>,
    store: &'static str,
    file: &Path,
    row: Option<&str>,
    agent: Option<&str>,
    pid: &str,
    p: &dyn Fields,
) {
    let ptype = profile_type(p).unwrap_or("api_key");
    let provider = profile_provider(p);
    let expires = profile_expires(p);
    let mut push = |json_path: String, kind: &str, target_type: Option<&str>, held: Held| {
        out.push(Location {
            store,
            file: file.into(),
            row: row.map(String::from),
            json_path,
            agent: agent.map(String::from),
            profile_id: Some(pid.into()),
            provider: provider.map(String::from),
            kind: kind.into(),
            target_type: target_type.map(String::from),
            held,
            expires,
        })
    };
    if ptype == "oauth" {
        push(format!("profiles.{pid}"), "oauth", None, Held::OAuth);
        return;
    }
    let (field, target) = if ptype == "token" {
        ("token", "auth-profiles.token.token")
    } else {
        (if p.has("key") || !p.has("apiKey") { "key" } else { "apiKey" }, "auth-profiles.api_key.key")
    };
    let kind = if ptype == "token" { "token" } else { "api_key" };
    let plain = p.str_of(field).filter(|v| !v.is_empty());
    if let Some(v) = plain {
        push(format!("profiles.{pid}.{field}"), kind, Some(target), Held::Plaintext(SecretString::from(v.to_string())));
    }
    if let Some(r) = profile_ref(p) {
        push(
            format!("profiles.{pid}.{}", if ptype == "token" { "tokenRef" } else { "keyRef" }),
            kind,
            Some(target),
            Held::Ref(r),
        );
    }
}

/// Every concrete path in `doc` matching `pattern` (`*` matches any one key), with its value.
pub fn expand<'a>(doc: &'a Value, pattern: &str) -> Vec<(String, &'a Value)> {
    let mut out = vec![(String::new(), doc)];
    for seg in pattern.split('.') {
        let mut next = Vec::new();
        for (prefix, v) in out {
            let Some(o) = v.as_object() else { continue };
            let join = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
            if seg == "*" {
                next.extend(o.iter().map(|(k, v)| (join(k), v)));
            } else if let Some(v) = o.get(seg) {
                next.push((join(seg), v));
            }
        }
        out = next;
    }
    out
}

fn config_locations(s: &mut Scan, paths: &Paths) {
    let file = paths.openclaw_config();
    let cfg = match super::OpenClawConfig::load_existing(&file) {
        Ok(Some(c)) => c,
        Ok(None) => return,
        Err(e) => {
            s.errors.push((file, e));
            return;
        }
    };
    let patterns: Vec<(String, String)> = match find_matrix() {
        Some(m) => match load_matrix(&m) {
            Ok(p) => {
                s.matrix = Some(m);
                p
            }
            Err(e) => {
                s.skipped.push(format!(
                    "openclaw.json: OpenClaw's credential matrix {} could not be read ({e}); only clawkeep's built-in subset of credential paths was checked",
                    m.display()
                ));
                builtin()
            }
        },
        None => {
            s.skipped.push(
                "openclaw.json: OpenClaw's credential matrix (docs/reference/secretref-user-supplied-credentials-matrix.json) was not found (no `openclaw` on PATH, no CLAWKEEP_OPENCLAW_MATRIX); only clawkeep's built-in subset of credential paths was checked".into(),
            );
            builtin()
        }
    };
    let doc = Value::Object(cfg.doc);
    let mut seen = std::collections::BTreeSet::new();
    for (id, pattern) in &patterns {
        for (path, v) in expand(&doc, pattern) {
            if !seen.insert(path.clone()) {
                continue;
            }
            let provider = path.strip_prefix("models.providers.").and_then(|r| r.split('.').next()).map(String::from);
            let held = match v {
                Value::String(t) if t.is_empty() || t == super::openclaw_config::REDACTED => continue,
                Value::String(t) if t.starts_with("${") && t.ends_with('}') => Held::EnvTemplate(t.clone()),
                Value::String(t) => Held::Plaintext(SecretString::from(t.clone())),
                v => match v.as_object().and_then(secret_ref) {
                    Some(r) => Held::Ref(r),
                    None => continue,
                },
            };
            s.locations.push(Location {
                store: "openclaw.json",
                file: file.clone(),
                row: None,
                json_path: path,
                agent: None,
                profile_id: None,
                provider,
                kind: "config".into(),
                target_type: Some(id.clone()),
                held,
                expires: None,
            });
        }
    }
}

/// The `openclaw.json` credential path patterns: OpenClaw's matrix when found and readable, else the built-in
/// subset; `models.providers.*.apiKey` always.
pub fn config_patterns() -> Vec<String> {
    let mut out: Vec<String> = match find_matrix().map(|m| load_matrix(&m)) {
        Some(Ok(p)) => p.into_iter().map(|(_, p)| p).collect(),
        _ => BUILTIN_CONFIG_PATHS.iter().map(|p| p.to_string()).collect(),
    };
    if !out.iter().any(|p| p == "models.providers.*.apiKey") {
        out.push("models.providers.*.apiKey".into());
    }
    out
}

fn builtin() -> Vec<(String, String)> {
    BUILTIN_CONFIG_PATHS.iter().map(|p| (p.replace(".*", ""), p.to_string())).collect()
}

fn env_locations(s: &mut Scan, paths: &Paths) {
    let file = paths.dotenv();
    let bytes = match crate::fs::read_optional(&file) {
        Ok(Some(b)) => b,
        Ok(None) => return,
        Err(e) => {
            s.errors.push((file, e));
            return;
        }
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        s.errors.push((
            file.clone(),
            Error::InvalidField { path: file, field: "(file)".into(), message: "not UTF-8".into() },
        ));
        return;
    };
    for k in super::dotenv::find_keys(text) {
        s.locations.push(Location {
            store: ".env",
            file: file.clone(),
            row: None,
            json_path: format!("$env.{}", k.name),
            agent: None,
            profile_id: None,
            provider: Some(k.provider.to_string()),
            kind: "env".into(),
            target_type: None,
            held: Held::Plaintext(SecretString::from(k.value.to_string())),
            expires: None,
        });
    }
}
