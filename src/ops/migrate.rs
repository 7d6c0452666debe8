//! `migrate`: move plaintext credentials out of OpenClaw's files into the vault, rewrite them as references,
//! keep the pre-migration files only encrypted (in the vault), and undo on request.
//!
//! Sources: inline `key`/`apiKey`/`token` in `auth-profiles.json` (also a legacy flat map in its place), the
//! legacy `auth.json`, and provider keys in `<state>/.env` (into agent `main`). OAuth profiles cannot be
//! references in OpenClaw: they are reported and left untouched.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::openclaw::auth_profiles::{is_flat_legacy, profile_expires, profile_provider, profile_ref, profile_type};
use crate::openclaw::{AuthProfiles, CredType, dotenv};
use crate::paths::{DEFAULT_AGENT, Paths};
use crate::secret::{ExposeSecret, SecretId, SecretString};
use crate::vault::{EntryKind, IndexEntry, Vault, now_ms};

/// Prefix of backup secret ids (`#` keeps them apart from agent ids).
pub const BACKUP_PREFIX: &str = "backup#migrate-";

/// The largest value a kernel keyring (`user` key) holds.
const KEYUTILS_MAX_VALUE: usize = 32_767;

/// What happened (or would happen) to one credential.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    /// Agent.
    pub agent: String,
    /// Profile id.
    pub profile_id: String,
    /// Provider.
    pub provider: String,
    /// Type.
    #[serde(rename = "type")]
    pub cred_type: String,
    /// File it came from.
    pub source: PathBuf,
    /// `moved`, `would-move`, `skipped`.
    pub action: String,
    /// Why, for skips.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The outcome.
#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Per credential.
    pub items: Vec<Item>,
    /// Files rewritten (or that would be).
    pub files: Vec<PathBuf>,
    /// The encrypted backup's id, when something was migrated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

struct Move {
    agent: String,
    profile_id: String,
    provider: String,
    kind: CredType,
    secret: SecretString,
    expires: Option<i64>,
    email: Option<String>,
    /// The vault holds exactly this secret already: nothing is stored, only the plaintext is replaced.
    held: bool,
}

/// A file's planned new content (`None` = delete).
struct Rewrite {
    path: PathBuf,
    original: Option<Zeroizing<Vec<u8>>>,
    new: Option<Vec<u8>>,
}

#[derive(Serialize, Deserialize)]
struct BackupFile {
    path: PathBuf,
    /// base64 of the original bytes; absent when the file did not exist.
    original: Option<String>,
    /// sha256 (hex) of what migrate wrote; absent when it removed the file.
    written: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Bundle {
    version: u32,
    created: i64,
    files: Vec<BackupFile>,
    /// Secrets migrate stored (undo may delete them).
    secrets: Vec<String>,
    /// sha256 (hex) of each stored secret, by id (version 2): undo deletes a secret only while it is still this
    /// one. The bundle lives only encrypted in the vault.
    #[serde(default)]
    hashes: std::collections::BTreeMap<String, String>,
}

/// A provider key in `.env` that migrate leaves where it is (profile `<provider>:default` of `agent`), and why.
fn env_skip(agent: &str, provider: &str, env_path: &Path, note: String) -> Item {
    Item {
        agent: agent.into(),
        profile_id: format!("{provider}:default"),
        provider: provider.into(),
        cred_type: "api_key".into(),
        source: env_path.into(),
        action: "skipped".into(),
        note: Some(note),
    }
}

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

fn obj_str(p: &Map<String, Value>, k: &str) -> Option<String> {
    p.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(String::from)
}

/// Inline secret of a profile and its type: `key`/`apiKey` → api_key, `token` → token.
pub(crate) fn inline_secret(p: &Map<String, Value>) -> Option<(CredType, String)> {
    if let Some(k) = obj_str(p, "key").or_else(|| obj_str(p, "apiKey")) {
        return Some((CredType::ApiKey, k));
    }
    obj_str(p, "token").map(|t| (CredType::Token, t))
}

/// `{ "<provider>": {…} }` → `{ "version": 1, "profiles": { "<provider>:default": {…, provider, type} } }`.
pub(crate) fn convert_flat(m: Map<String, Value>) -> Map<String, Value> {
    let mut profiles = Map::new();
    for (provider, v) in m {
        let mut p = v.as_object().cloned().unwrap_or_default();
        p.entry("provider").or_insert_with(|| json!(provider.clone()));
        if !p.contains_key("type") && !p.contains_key("mode") {
            let t = if p.contains_key("access") {
                "oauth"
            } else if p.contains_key("token") {
                "token"
            } else {
                "api_key"
            };
            p.insert("type".into(), json!(t));
        }
        profiles.insert(format!("{provider}:default"), Value::Object(p));
    }
    let mut d = Map::new();
    d.insert("version".into(), json!(1));
    d.insert("profiles".into(), Value::Object(profiles));
    d
}

fn serialize(doc: &Map<String, Value>) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(doc).unwrap_or_default();
    b.push(b'\n');
    b
}

/// What `plan` found: the report, the secrets to store, the files to rewrite.
struct Plan {
    report: Report,
    moves: Vec<Move>,
    rewrites: Vec<Rewrite>,
    /// An id the vault already holds was found in plaintext: comparing them needs the vault unlocked.
    needs_compare: bool,
}

/// How `plan` treats a plaintext secret whose profile id the vault already holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// Read the stored secret (the vault is unlocked): the same key is moved (its plaintext removed, nothing
    /// stored), a different one is left where it is.
    Read,
    /// Do not read it (dry run, or before the unlock): left where it is, with a note.
    Skip,
}

/// Whether the vault holds `id` already, and if so whether it holds exactly `secret`.
enum Held {
    No,
    Same,
    Different,
    Unknown,
}

fn held(vault: &Vault, id: &SecretId, secret: &SecretString, compare: Compare) -> Result<Held> {
    // The store counts too: a secret whose index entry was lost (crash, lost index.json) is still the user's.
    if !vault.index.secrets.contains_key(id.as_str()) && !vault.present_in_store(id)? {
        return Ok(Held::No);
    }
    if compare == Compare::Skip {
        return Ok(Held::Unknown);
    }
    Ok(match vault.get(id) {
        Ok(stored) if crate::secret::same(&stored, secret) => Held::Same,
        Ok(_) => Held::Different,
        Err(Error::SecretMissing(_)) => Held::Different,
        Err(e) => return Err(e),
    })
}

/// Whether a plaintext secret for `pid` moves (`Ok(held)`) or stays where it is (`Err(note)`).
fn classify(
    vault: &Vault,
    agent: &str,
    pid: &str,
    secret: &SecretString,
    compare: Compare,
    needs_compare: &mut bool,
) -> Result<std::result::Result<bool, &'static str>> {
    let id = SecretId::for_profile(agent, pid)?;
    Ok(match held(vault, &id, secret, compare)? {
        Held::No => Ok(false),
        Held::Same => Ok(true),
        Held::Different => Err(HELD_NOTE),
        Held::Unknown => {
            *needs_compare = true;
            Err(HELD_UNKNOWN_NOTE)
        }
    })
}

const HELD_NOTE: &str = "the vault already holds a different secret for this profile (the newer one is kept); the plaintext was left where it is: delete it by hand once you no longer need it";
const SAME_NOTE: &str = "the vault already held this exact secret; only the plaintext was replaced";
const HELD_UNKNOWN_NOTE: &str =
    "the vault already holds a secret for this profile; migrate moves this plaintext only if it is the same key";

/// Plan and (unless `dry_run`) carry out the migration for `agents`.
///
/// Order, so that a stop at any point loses nothing: the passphrase is checked before any lock; every target is
/// checked before the first write; the backup and the secrets are stored and read back; then references are
/// written (`auth-profiles.json`); plaintext (`.env` lines, legacy `auth.json`) is removed last. A profile id the
/// vault already holds is never overwritten.
pub fn migrate(vault: &mut Vault, paths: &Paths, agents: &[String], dry_run: bool) -> Result<Report> {
    if !dry_run {
        // Ask for the passphrase before taking any lock (OpenClaw's gateway waits on its locks), and only when
        // something is to move.
        let preview = plan(vault, paths, agents, Compare::Skip)?;
        if !preview.moves.is_empty() || preview.needs_compare {
            vault.unlock()?;
        }
    }
    let _lock = vault.lock()?;
    let mut _oc = Vec::new();
    for agent in agents {
        _oc.extend(crate::openclaw::lock_openclaw_files(paths, agent)?);
    }
    let Plan { mut report, moves, mut rewrites, .. } =
        plan(vault, paths, agents, if dry_run { Compare::Skip } else { Compare::Read })?;
    report.dry_run = dry_run;
    if dry_run {
        return Ok(report);
    }
    if rewrites.is_empty() {
        return Ok(report);
    }
    // References first, plaintext removed last.
    rewrites.sort_by_key(|r| r.path.file_name().is_none_or(|n| n != "auth-profiles.json"));
    report.files = rewrites.iter().map(|r| r.path.clone()).collect();
    check_targets(vault, &rewrites)?;
    for r in &rewrites {
        if let Some(dir) = r.path.parent()
            && r.new.is_some()
        {
            crate::fs::ensure_private_dir(dir)?;
        }
    }

    // 1. Keep the pre-migration files, encrypted, in the vault, with a hash of each secret migrate stores (undo
    // deletes only a secret that is still exactly that one).
    let created = now_ms();
    let backup_id = SecretId::parse(&format!("{BACKUP_PREFIX}{created}"))?;
    let mut secret_ids = Vec::new();
    let mut hashes = std::collections::BTreeMap::new();
    for m in moves.iter().filter(|m| !m.held) {
        let id = SecretId::for_profile(&m.agent, &m.profile_id)?.to_string();
        hashes.insert(id.clone(), sha256_hex(m.secret.expose_secret().as_bytes()));
        secret_ids.push(id);
    }
    let bundle = Bundle {
        version: 2,
        created,
        files: rewrites
            .iter()
            .map(|r| BackupFile {
                path: r.path.clone(),
                original: r.original.as_ref().map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
                written: r.new.as_ref().map(|b| sha256_hex(b)),
            })
            .collect(),
        secrets: secret_ids,
        hashes,
    };
    let bundle_json = Zeroizing::new(serde_json::to_string(&bundle).map_err(|e| Error::Internal(e.to_string()))?);
    let backup_entry = IndexEntry {
        store: vault.backend(),
        kind: EntryKind::Backup,
        agent: None,
        profile_id: None,
        provider: None,
        cred_type: None,
        expires: None,
        email: None,
        created: 0,
        updated: 0,
        extra: Default::default(),
    };
    // A kernel key holds at most 32,767 bytes: say so before anything is stored, rather than relay the kernel's
    // refusal halfway.
    if vault.backend() == crate::vault::Backend::Keyutils && bundle_json.len() > KEYUTILS_MAX_VALUE {
        return Err(Error::InvalidInput(format!(
            "the pre-migration backup of these files is {} bytes, and a kernel keyring key holds at most {} bytes; \
             nothing was changed: migrate one agent at a time (`--agent`), or use a store without that limit \
             (Secret Service or the file store)",
            bundle_json.len(),
            KEYUTILS_MAX_VALUE
        )));
    }
    vault.put(&backup_id, &SecretString::from(bundle_json.as_str().to_owned()), backup_entry)?;
    vault.save_index()?;

    // 2. Store every secret and read it back before any file changes.
    for m in moves.iter().filter(|m| !m.held) {
        let id = SecretId::for_profile(&m.agent, &m.profile_id)?;
        let entry = IndexEntry {
            expires: m.expires,
            email: m.email.clone(),
            ..IndexEntry::profile(vault.backend(), &m.agent, &m.profile_id, Some(&m.provider), Some(m.kind.as_str()))
        };
        vault.put(&id, &m.secret, entry)?;
        let back = vault.get(&id)?;
        if !crate::secret::same(&back, &m.secret) {
            vault.save_index()?;
            return Err(Error::Internal(format!(
                "read-back of `{id}` did not match what was stored; no file was changed (backup kept as `{backup_id}`)"
            )));
        }
    }
    vault.save_index()?;

    // 3. Rewrite the files: references first, plaintext removed last.
    write_rewrites(&rewrites)?;
    report.backup = Some(backup_id.to_string());
    Ok(report)
}

/// Refuse before the first write when any file migrate would write (or its directory) is unsafe, so a refusal
/// changes nothing.
fn check_targets(vault: &Vault, rewrites: &[Rewrite]) -> Result<()> {
    crate::fs::check_dir(&vault.files.dir)?;
    crate::fs::check_file(&vault.files.index, true)?;
    if vault.backend() == crate::vault::Backend::File {
        crate::fs::check_dir(&vault.files.secrets)?;
    }
    for r in rewrites {
        if let Some(dir) = r.path.parent() {
            let mut d = Some(dir);
            // The nearest existing directory must be safe (missing ones are created private).
            while let Some(x) = d {
                if std::fs::symlink_metadata(x).is_ok() {
                    crate::fs::check_dir(x)?;
                    break;
                }
                d = x.parent();
            }
        }
        crate::fs::check_file(&r.path, false)?;
    }
    Ok(())
}

/// Read every source and work out what moves, without writing anything.
fn plan(vault: &Vault, paths: &Paths, agents: &[String], compare: Compare) -> Result<Plan> {
    let dry_run = compare == Compare::Skip;
    let mut report = Report { dry_run, ..Default::default() };
    let mut needs_compare = false;
    let mut moves: Vec<Move> = Vec::new();
    let mut rewrites: Vec<Rewrite> = Vec::new();
    let item = |m: &Move, source: &Path, action: &str, note: Option<String>| Item {
        agent: m.agent.clone(),
        profile_id: m.profile_id.clone(),
        provider: m.provider.clone(),
        cred_type: m.kind.as_str().into(),
        source: source.into(),
        action: action.into(),
        note,
    };

    for agent in agents {
        let ap_path = paths.auth_profiles(agent);
        // A flat legacy map in place of auth-profiles.json becomes version 1.
        let (mut ap, original, flat) = match crate::openclaw::read_object(&ap_path)? {
            Some((m, bytes)) if is_flat_legacy(&m) => {
                let ap = AuthProfiles { path: ap_path.clone(), doc: convert_flat(m), original: None };
                (ap, Some(Zeroizing::new(bytes)), true)
            }
            Some((m, bytes)) => {
                let original = Zeroizing::new(bytes.clone());
                (AuthProfiles::from_read(&ap_path, m, bytes)?, Some(original), false)
            }
            None => (AuthProfiles::empty(&ap_path), None, false),
        };
        // A flat map is rewritten as version 1 even when nothing in it can move (OAuth only).
        let mut changed = flat;

        // Legacy auth.json: { "<provider>": { type?, key|apiKey|token|access… } }.
        let legacy_path = paths.legacy_auth(agent);
        let legacy_original = crate::fs::read_optional(&legacy_path)?;
        let mut legacy_rest: Option<Map<String, Value>> = None;
        let mut legacy_moved = false;
        if legacy_original.is_some() {
            let (m, _) = crate::openclaw::read_object(&legacy_path)?.expect("read above");
            let mut rest = Map::new();
            for (provider, v) in m {
                let Some(p) = v.as_object() else {
                    rest.insert(provider, v);
                    continue;
                };
                let pid = format!("{provider}:default");
                let found = inline_secret(p).map(|(k, s)| (k, SecretString::from(s)));
                let verdict = match &found {
                    Some((_, s)) if ap.get(&pid).is_none() => {
                        Some(classify(vault, agent, &pid, s, compare, &mut needs_compare)?)
                    }
                    _ => None,
                };
                match found {
                    Some((kind, secret)) if matches!(verdict, Some(Ok(_))) => {
                        let held = matches!(verdict, Some(Ok(true)));
                        let m = Move {
                            agent: agent.clone(),
                            profile_id: pid,
                            provider: provider.clone(),
                            kind,
                            secret,
                            expires: profile_expires(p),
                            email: obj_str(p, "email"),
                            held,
                        };
                        report.items.push(item(
                            &m,
                            &legacy_path,
                            if dry_run { "would-move" } else { "moved" },
                            held.then(|| SAME_NOTE.into()),
                        ));
                        moves.push(m);
                        legacy_moved = true;
                    }
                    Some((kind, _)) if matches!(verdict, Some(Err(_))) => {
                        report.items.push(Item {
                            agent: agent.clone(),
                            profile_id: pid,
                            provider: provider.clone(),
                            cred_type: kind.as_str().into(),
                            source: legacy_path.clone(),
                            action: "skipped".into(),
                            note: verdict.and_then(|v| v.err()).map(|n| format!("{n} (auth.json)")),
                        });
                        rest.insert(provider, v);
                    }
                    Some((kind, _)) => {
                        report.items.push(Item {
                            agent: agent.clone(),
                            profile_id: pid,
                            provider: provider.clone(),
                            cred_type: kind.as_str().into(),
                            source: legacy_path.clone(),
                            action: "skipped".into(),
                            note: Some(
                                "a profile with this id already exists in auth-profiles.json; left in auth.json".into(),
                            ),
                        });
                        rest.insert(provider, v);
                    }
                    None => {
                        if p.contains_key("access") || p.contains_key("refresh") {
                            report.items.push(Item {
                                agent: agent.clone(),
                                profile_id: pid,
                                provider: provider.clone(),
                                cred_type: "oauth".into(),
                                source: legacy_path.clone(),
                                action: "skipped".into(),
                                note: Some("OAuth credentials cannot be references in OpenClaw; left untouched".into()),
                            });
                        }
                        rest.insert(provider, v);
                    }
                }
            }
            legacy_rest = Some(rest);
        }

        // Inline secrets in auth-profiles.json.
        let ids: Vec<String> = ap.profiles().map(|(k, _)| k.clone()).collect();
        for pid in ids {
            let p = ap.get(&pid).expect("listed").clone();
            let provider = profile_provider(&p).unwrap_or_default().to_string();
            let ptype = profile_type(&p).unwrap_or_default().to_string();
            if ptype == "oauth" || p.contains_key("access") {
                if !crate::openclaw::auth_profiles::plaintext_fields(&p).is_empty() {
                    report.items.push(Item {
                        agent: agent.clone(),
                        profile_id: pid.clone(),
                        provider,
                        cred_type: "oauth".into(),
                        source: ap_path.clone(),
                        action: "skipped".into(),
                        note: Some(if flat {
                            "OAuth credentials cannot be references in OpenClaw; kept as they are while the file is \
                             converted to version 1 (the old file is kept encrypted in the vault)"
                                .into()
                        } else {
                            "OAuth credentials cannot be references in OpenClaw; left untouched".into()
                        }),
                    });
                }
                continue;
            }
            if profile_ref(&p).is_some() {
                continue;
            }
            let Some((inline_kind, s)) = inline_secret(&p) else { continue };
            let kind = CredType::parse(&ptype).unwrap_or(inline_kind);
            let secret = SecretString::from(s);
            let held = match classify(vault, agent, &pid, &secret, compare, &mut needs_compare)? {
                Ok(held) => held,
                Err(note) => {
                    report.items.push(Item {
                        agent: agent.clone(),
                        profile_id: pid.clone(),
                        provider,
                        cred_type: kind.as_str().into(),
                        source: ap_path.clone(),
                        action: "skipped".into(),
                        note: Some(format!("{note} (auth-profiles.json)")),
                    });
                    continue;
                }
            };
            let m = Move {
                agent: agent.clone(),
                profile_id: pid.clone(),
                provider,
                kind,
                secret,
                expires: profile_expires(&p),
                email: obj_str(&p, "email"),
                held,
            };
            report.items.push(item(
                &m,
                &ap_path,
                if dry_run { "would-move" } else { "moved" },
                held.then(|| SAME_NOTE.into()),
            ));
            moves.push(m);
        }

        // .env keys go to the default agent.
        if agent == DEFAULT_AGENT {
            let env_path = paths.dotenv();
            crate::fs::check_file(&env_path, true)?;
            if let Some(bytes) = crate::fs::read_optional(&env_path)? {
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| Error::InvalidInput(format!("{}: not UTF-8 text", env_path.display())))?;
                let mut drop = Vec::new();
                let found = dotenv::read(text);
                for u in &found.unsure {
                    if let Some(provider) = dotenv::provider_for_env(&u.name) {
                        report.items.push(env_skip(
                            agent,
                            provider,
                            &env_path,
                            format!(
                                "{} on line {} left in .env: {} (move it by hand with `clawkeep models auth add`)",
                                u.name,
                                u.line + 1,
                                u.why
                            ),
                        ));
                    }
                }
                for k in found.keys {
                    let pid = format!("{}:default", k.provider);
                    let taken =
                        ap.get(&pid).is_some() || moves.iter().any(|m| m.agent == *agent && m.profile_id == pid);
                    if taken {
                        report.items.push(env_skip(
                            agent,
                            k.provider,
                            &env_path,
                            format!("profile exists already; {} left in .env", k.name),
                        ));
                        continue;
                    }
                    let secret = SecretString::from(k.value.as_str().to_owned());
                    let held = match classify(vault, agent, &pid, &secret, compare, &mut needs_compare)? {
                        Ok(held) => held,
                        Err(note) => {
                            report.items.push(env_skip(
                                agent,
                                k.provider,
                                &env_path,
                                format!("{note} ({} in .env)", k.name),
                            ));
                            continue;
                        }
                    };
                    let m = Move {
                        agent: agent.clone(),
                        profile_id: pid,
                        provider: k.provider.into(),
                        kind: CredType::ApiKey,
                        secret,
                        expires: None,
                        email: None,
                        held,
                    };
                    report.items.push(item(
                        &m,
                        &env_path,
                        if dry_run { "would-move" } else { "moved" },
                        held.then(|| SAME_NOTE.into()),
                    ));
                    moves.push(m);
                    drop.push(k.line);
                }
                if !drop.is_empty() {
                    rewrites.push(Rewrite {
                        path: env_path.clone(),
                        new: Some(dotenv::without_lines(text, &drop).into_bytes()),
                        original: Some(bytes),
                    });
                }
            }
        }

        // References for everything moved from this agent.
        for m in moves.iter().filter(|m| m.agent == *agent) {
            let id = SecretId::for_profile(&m.agent, &m.profile_id)?;
            let had = ap.get(&m.profile_id).is_some();
            ap.upsert_ref(&m.profile_id, &m.provider, m.kind, &id, m.expires);
            if !had
                && let Some(e) = &m.email
                && let Some(p) =
                    ap.doc.get_mut("profiles").and_then(|p| p.get_mut(&m.profile_id)).and_then(Value::as_object_mut)
            {
                p.insert("email".into(), json!(e));
            }
            changed = true;
        }
        if changed {
            rewrites.push(Rewrite { path: ap_path.clone(), original, new: Some(serialize(&ap.doc)) });
        }
        if let Some(rest) = legacy_rest
            && legacy_moved
        {
            let new = if rest.is_empty() { None } else { Some(serialize(&rest)) };
            rewrites.push(Rewrite { path: legacy_path.clone(), original: legacy_original, new });
        }
    }

    report.files = rewrites.iter().map(|r| r.path.clone()).collect();
    Ok(Plan { report, moves, rewrites, needs_compare })
}

fn write_rewrites(rewrites: &[Rewrite]) -> Result<()> {
    for r in rewrites {
        match &r.new {
            Some(b) => {
                if let Some(dir) = r.path.parent() {
                    crate::fs::ensure_private_dir(dir)?;
                }
                crate::fs::write_atomic(&r.path, b)?
            }
            None => {
                crate::fs::remove_file(&r.path)?;
            }
        }
    }
    Ok(())
}

/// What `--undo` did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Undone {
    /// The backup restored.
    pub backup: String,
    /// Files restored.
    pub restored: Vec<PathBuf>,
    /// Secrets removed from the vault (their plaintext is back in the files).
    pub removed_secrets: Vec<String>,
    /// Secrets changed since the migration, kept in the vault (`--force`).
    pub kept_secrets: Vec<String>,
}

/// The newest migration backup: its id and content.
fn newest_bundle(vault: &Vault) -> Result<(String, Bundle)> {
    let bid = newest_bundle_id(vault).ok_or_else(|| Error::NotFound("no migration backup to undo".into()))?;
    let json = vault.get(&SecretId::parse(&bid)?)?;
    let bundle: Bundle = serde_json::from_str(json.expose_secret())
        .map_err(|_| Error::Corrupt { path: vault.files.index.clone(), what: format!("the backup `{bid}`") })?;
    if !matches!(bundle.version, 1 | 2) {
        return Err(Error::UnknownVersion {
            path: vault.files.index.clone(),
            field: "backup version",
            found: bundle.version.to_string(),
            expected: "1 or 2",
        });
    }
    Ok((bid, bundle))
}

/// Restore the files from the newest migration backup. Refuses when a file changed since the migration, or a
/// secret migrate stored was replaced since, unless `force`. Even then it loses nothing: a changed file is merged
/// (the migrated entries get their plaintext back, everything added since stays), a replaced secret is kept and
/// its profile keeps referring to it, and a secret is deleted only once its plaintext is back in a file.
pub fn undo(vault: &mut Vault, force: bool) -> Result<Undone> {
    // Read (and decrypt) the backup before taking any lock: it may ask for the passphrase.
    let (bid, bundle) = newest_bundle(vault)?;
    let _lock = vault.lock()?;
    if newest_bundle_id(vault).as_deref() != Some(bid.as_str()) {
        return Err(Error::InvalidInput(format!(
            "the migration backup `{bid}` changed while undo was starting (another clawkeep ran); run it again"
        )));
    }
    let backup_id = SecretId::parse(&bid)?;
    let mut currents = Vec::new();
    for f in &bundle.files {
        crate::fs::check_file(&f.path, false)?;
        let now = crate::fs::read_optional(&f.path)?;
        let changed = now.as_ref().map(|b| sha256_hex(b)) != f.written;
        if changed && !force {
            return Err(Error::InvalidInput(format!(
                "{} changed after the migration; undo would lose those changes (pass --force to merge: the \
                 migrated entries get their plaintext back, the changes stay)",
                f.path.display()
            )));
        }
        currents.push((now, changed));
    }
    // A secret replaced since the migration (`add --force`, the service's `store`) is never deleted.
    let mut deletable = std::collections::BTreeSet::new();
    let mut kept = Vec::new();
    for s in &bundle.secrets {
        let id = SecretId::parse(s)?;
        if !vault.index.secrets.contains_key(id.as_str()) && !vault.present_in_store(&id)? {
            continue;
        }
        let unchanged = match (vault.get(&id), bundle.hashes.get(s)) {
            (Ok(now), Some(h)) => sha256_hex(now.expose_secret().as_bytes()) == *h,
            (Err(Error::SecretMissing(_)), _) => true,
            (Err(e), _) => return Err(e),
            // A version-1 backup recorded no hash: what is stored now cannot be told from what migrate stored.
            (Ok(_), None) => false,
        };
        if unchanged {
            deletable.insert(s.clone());
        } else {
            kept.push(s.clone());
        }
    }
    if !kept.is_empty() && !force {
        return Err(Error::InvalidInput(format!(
            "changed since the migration (or not recorded by it): {}; undo would delete the current secret \
             (pass --force to restore the rest: those secrets then stay in the vault and their profiles keep \
             referring to them)",
            kept.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
        )));
    }
    // Every new content is worked out before the first write.
    let mut writes: Vec<(PathBuf, Option<Zeroizing<Vec<u8>>>)> = Vec::new();
    let mut restored_ids = std::collections::BTreeSet::new();
    for (f, (now, changed)) in bundle.files.iter().zip(currents) {
        let original = match &f.original {
            Some(b64) => Some(Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| Error::Corrupt { path: f.path.clone(), what: format!("the backup `{bid}`") })?,
            )),
            None => None,
        };
        let ids = original.as_ref().map(|o| plaintext_ids(&f.path, o)).unwrap_or_default();
        if !changed && kept.is_empty() {
            // Byte for byte, as before the migration.
            restored_ids.extend(ids);
            writes.push((f.path.clone(), original));
        } else {
            let o = original.as_ref().map_or(&b"{}"[..], |o| &o[..]);
            let (merged, back) = merge(&f.path, o, now.as_deref().map(|v| &v[..]), &deletable)?;
            restored_ids.extend(back);
            writes.push((f.path.clone(), Some(Zeroizing::new(merged))));
        }
    }
    let mut restored = Vec::new();
    let mut _oc = Vec::new();
    for (path, _) in &writes {
        if path.file_name().is_some_and(|n| n != ".env") && path.parent().is_some_and(Path::is_dir) {
            _oc.push(crate::fs::OpenClawLock::acquire(path)?);
        }
    }
    // Plaintext back first; the vault copies go only after.
    for (path, content) in &writes {
        match content {
            Some(bytes) => crate::fs::write_atomic(path, bytes)?,
            None => {
                crate::fs::remove_file(path)?;
            }
        }
        restored.push(path.clone());
    }
    let mut removed = Vec::new();
    for s in &deletable {
        if !restored_ids.contains(s) {
            kept.push(s.clone());
            continue;
        }
        if vault.remove(&SecretId::parse(s)?)? {
            removed.push(s.clone());
        }
    }
    vault.save_index()?;
    vault.remove(&backup_id)?;
    vault.save_index()?;
    Ok(Undone { backup: bid, restored, removed_secrets: removed, kept_secrets: kept })
}

/// The agent a file in `<state>/agents/<agent>/agent/` belongs to (`.env`: the default agent).
fn agent_of(path: &Path) -> String {
    path.parent()
        .and_then(Path::parent)
        .filter(|_| path.file_name().is_some_and(|n| n != ".env"))
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or(DEFAULT_AGENT)
        .to_string()
}

fn is_env(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == ".env")
}

fn is_legacy(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "auth.json")
}

/// The profiles of an auth-profiles.json document (a flat legacy map read as version 1).
fn profiles_of(doc: Map<String, Value>) -> Map<String, Value> {
    let doc = if is_flat_legacy(&doc) { convert_flat(doc) } else { doc };
    doc.get("profiles").and_then(Value::as_object).cloned().unwrap_or_default()
}

fn parse_object(path: &Path, bytes: &[u8]) -> Result<Map<String, Value>> {
    match serde_json::from_slice(bytes).map_err(|e| Error::json(path, &e))? {
        Value::Object(m) => Ok(m),
        _ => Err(Error::InvalidField {
            path: path.into(),
            field: "(top level)".into(),
            message: "expected a JSON object".into(),
        }),
    }
}

/// Secret ids whose plaintext a (pre-migration) file holds.
fn plaintext_ids(path: &Path, bytes: &[u8]) -> Vec<String> {
    let agent = agent_of(path);
    let id = |pid: &str| SecretId::for_profile(&agent, pid).ok().map(|i| i.to_string());
    if is_env(path) {
        let text = std::str::from_utf8(bytes).unwrap_or_default();
        return dotenv::find_keys(text).iter().filter_map(|k| id(&format!("{}:default", k.provider))).collect();
    }
    let Ok(doc) = parse_object(path, bytes) else { return Vec::new() };
    let entries = if is_legacy(path) {
        doc.into_iter().map(|(p, v)| (format!("{p}:default"), v)).collect::<Vec<_>>()
    } else {
        profiles_of(doc).into_iter().collect()
    };
    entries
        .iter()
        .filter(|(_, v)| v.as_object().and_then(inline_secret).is_some())
        .filter_map(|(pid, _)| id(pid))
        .collect()
}

/// A file changed since the migration (or holding a reference to a secret that is kept): the current content
/// with the plaintext of each `deletable` secret put back. Returns the content and the ids put back.
fn merge(
    path: &Path,
    original: &[u8],
    current: Option<&[u8]>,
    deletable: &std::collections::BTreeSet<String>,
) -> Result<(Vec<u8>, Vec<String>)> {
    let agent = agent_of(path);
    let id_of = |pid: &str| SecretId::for_profile(&agent, pid).map(|i| i.to_string());
    let mut back = Vec::new();
    if is_env(path) {
        let orig = std::str::from_utf8(original).unwrap_or_default();
        let mut text = current.map(|c| String::from_utf8_lossy(c).into_owned()).unwrap_or_default();
        let lines: Vec<&str> = orig.lines().collect();
        for k in dotenv::find_keys(orig) {
            let id = id_of(&format!("{}:default", k.provider))?;
            if deletable.contains(&id) && !back.contains(&id) {
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(lines[k.line]);
                text.push('\n');
                back.push(id);
            }
        }
        return Ok((text.into_bytes(), back));
    }
    let orig = parse_object(path, original)?;
    let mut doc = match current {
        Some(c) => parse_object(path, c)?,
        None if is_legacy(path) => Map::new(),
        None => {
            let mut d = Map::new();
            d.insert("version".into(), json!(1));
            d.insert("profiles".into(), json!({}));
            d
        }
    };
    if is_legacy(path) {
        for (provider, v) in orig {
            let id = id_of(&format!("{provider}:default"))?;
            if deletable.contains(&id) && v.as_object().and_then(inline_secret).is_some() {
                doc.insert(provider, v);
                back.push(id);
            }
        }
        return Ok((serialize(&doc), back));
    }
    if is_flat_legacy(&doc) {
        return Err(Error::InvalidInput(format!(
            "{}: changed since the migration into a format undo cannot merge; restore it by hand",
            path.display()
        )));
    }
    let orig_profiles = profiles_of(orig);
    let profiles = doc.entry("profiles").or_insert_with(|| json!({}));
    let Some(profiles) = profiles.as_object_mut() else {
        return Err(Error::InvalidField {
            path: path.into(),
            field: "profiles".into(),
            message: "expected an object".into(),
        });
    };
    // Each profile still referring to a secret migrate stored gets its plaintext entry back (or goes, when
    // migrate created it from .env or auth.json, whose lines come back there).
    let pids: Vec<String> = profiles.keys().cloned().collect();
    for pid in pids {
        let Some(r) = profiles.get(&pid).and_then(Value::as_object).and_then(profile_ref) else { continue };
        if !r.is_clawkeep() || !deletable.contains(&r.id) {
            continue;
        }
        match orig_profiles.get(&pid) {
            Some(o) if o.as_object().and_then(inline_secret).is_some() => {
                profiles.insert(pid.clone(), o.clone());
                back.push(r.id.clone());
            }
            Some(o) => {
                profiles.insert(pid.clone(), o.clone());
            }
            None => {
                profiles.shift_remove(&pid);
            }
        }
    }
    Ok((serialize(&doc), back))
}

fn newest_bundle_id(vault: &Vault) -> Option<String> {
    vault
        .index
        .secrets
        .iter()
        .filter(|(id, e)| e.kind == EntryKind::Backup && id.starts_with(BACKUP_PREFIX))
        // A shared store lists other hosts' backups too; their files stay on those hosts.
        .filter(|(id, _)| SecretId::parse(id).is_ok_and(|s| vault.present_in_store(&s).unwrap_or(true)))
        .max_by_key(|(_, e)| e.created)
        .map(|(id, _)| id.clone())
}
