//! `doctor`: permissions, symlinks, the vault and its store, dangling and unreferenced secrets, plaintext left in
//! OpenClaw's files, expiring tokens. `--fix` repairs what is safe (permissions, a missing index) and names the
//! command for the rest.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::openclaw::AuthProfiles;
use crate::openclaw::auth_profiles::{plaintext_fields, profile_provider, profile_ref, profile_type};
use crate::openclaw::dotenv;
use crate::paths::Paths;
use crate::secret::SecretId;
use crate::vault::{EntryKind, Index, IndexEntry, Vault, VaultFiles};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something is broken or unsafe.
    Error,
    /// Needs attention soon.
    Warning,
    /// Worth knowing; does not fail the run.
    Info,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable code (docs/cli.md).
    pub code: &'static str,
    /// Severity.
    pub severity: Severity,
    /// The file or dir concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// What is wrong (never a secret).
    pub message: String,
    /// How to fix it, when `--fix` cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Whether `--fix` repaired it.
    pub fixed: bool,
}

/// All findings.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    /// Findings in check order.
    pub findings: Vec<Finding>,
}

impl Report {
    fn add(
        &mut self,
        code: &'static str,
        severity: Severity,
        path: Option<&Path>,
        message: String,
        fix: Option<String>,
    ) {
        self.findings.push(Finding { code, severity, path: path.map(Path::to_path_buf), message, fix, fixed: false });
    }

    /// Whether anything is still wrong (errors or warnings not fixed).
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| !f.fixed && f.severity != Severity::Info)
    }
}

fn no_passphrase() -> crate::vault::PassphraseFn {
    Box::new(|| Err(Error::Internal("doctor never unlocks the vault".into())))
}

/// Run every check; with `fix`, repair what is safe.
pub fn run(paths: &Paths, agents: &[String], fix: bool, now: i64) -> Report {
    let mut r = Report::default();
    let files = VaultFiles::new(paths);

    // 1. Permissions and symlinks.
    let mut dirs = vec![paths.state_dir.clone(), files.dir.clone(), files.secrets.clone()];
    let mut plain_files = vec![
        paths.dotenv(),
        paths.openclaw_config(),
        files.config.clone(),
        files.index.clone(),
        files.identity.clone(),
        paths.sessions(),
        paths.monitor_state(),
    ];
    // The passphrase file, when one is named: it must be as private as the vault.
    plain_files.extend(std::env::var_os("CLAWKEEP_PASSPHRASE_FILE").filter(|v| !v.is_empty()).map(PathBuf::from));
    for a in agents {
        dirs.push(paths.agent_dir(a));
        plain_files.extend([paths.auth_profiles(a), paths.auth_state(a), paths.legacy_auth(a)]);
    }
    if let Ok(rd) = std::fs::read_dir(&files.secrets) {
        plain_files.extend(rd.flatten().map(|e| e.path()));
    }
    for (path, dir) in dirs.iter().map(|d| (d, true)).chain(plain_files.iter().map(|f| (f, false))) {
        check_perms(&mut r, path, dir, fix, !dir || owned_dir(paths, path));
    }

    // 2. The vault and its store. A vault that lost vault.json is repaired, never replaced: `init` there would
    // make every stored secret undecryptable.
    if std::fs::symlink_metadata(&files.config).is_err() {
        let found = Vault::remnants(paths);
        if !found.is_empty() {
            let inferred = Vault::infer_backend(paths);
            let message = format!("vault.json is missing, but the vault is there ({})", found.join(", "));
            let (what, hint, fixed) = match (fix, inferred) {
                (true, Some(_)) => match Vault::rebuild_config(paths) {
                    Ok(b) => (format!("rebuilt it for the {b} store"), None, true),
                    Err(e) => (format!("it could not be rebuilt: {e}"), None, false),
                },
                (false, Some(b)) => (
                    format!("its files show the {b} store"),
                    Some("clawkeep doctor --fix (rebuilds vault.json; never run `clawkeep init` over a vault)".into()),
                    false,
                ),
                (_, None) => (
                    "its files do not show which store it used".into(),
                    Some(format!(
                        "restore vault.json from a backup, or write {} as {{\"version\": 1, \"backend\": \"keychain\" (or \"keyutils\"), \"created\": 0, \"id\": <the \"vaultId\" in index.json, if it has one>}}; never run `clawkeep init` over a vault",
                        files.config.display()
                    )),
                    false,
                ),
            };
            r.add("VAULT_CONFIG_MISSING", Severity::Error, Some(&files.config), format!("{message}; {what}"), hint);
            r.findings.last_mut().expect("pushed").fixed = fixed;
        }
    }
    let index_missing = files.config.exists() && !files.index.exists();
    if index_missing {
        if fix {
            match rebuild_index(paths, agents) {
                Ok(n) => {
                    r.add(
                        "INDEX_MISSING",
                        Severity::Error,
                        Some(&files.index),
                        format!("index was missing; rebuilt with {n} entries"),
                        None,
                    );
                    r.findings.last_mut().expect("pushed").fixed = true;
                }
                Err(e) => r.add(
                    "INDEX_MISSING",
                    Severity::Error,
                    Some(&files.index),
                    format!("index is missing and could not be rebuilt: {e}"),
                    None,
                ),
            }
        } else {
            r.add(
                "INDEX_MISSING",
                Severity::Error,
                Some(&files.index),
                "the vault's index is missing".into(),
                Some("clawkeep doctor --fix".into()),
            );
        }
    }
    // Why the vault could not be opened, when it exists: references cannot be checked then.
    let mut unopened: Option<String> = None;
    let vault = if !files.config.exists() {
        if r.findings.iter().any(|f| f.code == "VAULT_CONFIG_MISSING") {
            None
        } else {
            r.add(
                "VAULT_MISSING",
                Severity::Error,
                Some(&files.dir),
                "no clawkeep vault here".into(),
                Some("clawkeep init".into()),
            );
            None
        }
    } else {
        match Vault::open(paths, no_passphrase()) {
            Ok(v) => {
                if let Err(e) = v.probe() {
                    r.add(
                        "STORE_UNAVAILABLE",
                        Severity::Error,
                        Some(&files.dir),
                        format!("the {} store does not work: {e}", v.backend()),
                        e.hint(),
                    );
                }
                Some(v)
            }
            Err(e) => {
                if !index_missing || fix {
                    r.add("VAULT_UNREADABLE", Severity::Error, Some(&files.dir), e.to_string(), e.hint());
                }
                unopened = Some(e.to_string());
                None
            }
        }
    };

    // 3. References, unreferenced secrets, plaintext, expiry — per agent.
    let mut referenced: std::collections::HashSet<String> = std::collections::HashSet::new();
    // Whether each referenced secret is in the store: the file store's directory listed once, not one stat per ref.
    let present_in_store = vault.as_ref().map(|v| v.present_many());
    for a in agents {
        let ap_path = paths.auth_profiles(a);
        let file = match AuthProfiles::load(&ap_path) {
            Ok(f) => f,
            Err(e) => {
                r.add("PROFILES_UNREADABLE", Severity::Error, Some(&ap_path), e.to_string(), e.hint());
                continue;
            }
        };
        let mut unchecked: Vec<String> = Vec::new();
        for (pid, p) in file.profiles() {
            let provider = profile_provider(p).unwrap_or_default();
            let ptype = profile_type(p).unwrap_or_default();
            if let Some(rf) = profile_ref(p).filter(|x| x.is_clawkeep()) {
                referenced.insert(rf.id.clone());
                let present = match (&present_in_store, SecretId::parse(&rf.id)) {
                    (Some(present), Ok(id)) => present(&id).ok(),
                    // The vault exists but could not be opened: the reference cannot be checked (reported once).
                    (None, _) if unopened.is_some() => {
                        unchecked.push(pid.clone());
                        None
                    }
                    _ => Some(false),
                };
                if present == Some(false) {
                    let cmd = if ptype == "token" { "paste-token" } else { "add" };
                    r.add(
                        "REF_MISSING",
                        Severity::Error,
                        Some(&ap_path),
                        format!("profile `{pid}` refers to `{}`, which is not in the vault", rf.id),
                        Some(format!("clawkeep models auth {cmd} --agent {a} --provider {provider} --profile-id {pid} --force (or `clawkeep models auth remove {pid}`)")),
                    );
                }
            }
            let plain = plaintext_fields(p);
            if !plain.is_empty() {
                if ptype == "oauth" || plain.contains(&"access") {
                    r.add("OAUTH_PLAINTEXT", Severity::Info, Some(&ap_path), format!("OAuth profile `{pid}` keeps its tokens in plaintext (OpenClaw cannot use references for OAuth)"), None);
                } else {
                    r.add(
                        "PLAINTEXT",
                        Severity::Error,
                        Some(&ap_path),
                        format!("profile `{pid}` holds a plaintext secret ({})", plain.join(", ")),
                        Some(format!("clawkeep migrate --agent {a}")),
                    );
                }
            }
            if let Some(exp) = crate::openclaw::auth_profiles::profile_expires(p) {
                match super::status::health_of(Some(exp), now) {
                    super::status::Health::Expired => r.add(
                        "EXPIRED",
                        Severity::Error,
                        Some(&ap_path),
                        format!("profile `{pid}` expired"),
                        Some(renew_hint(provider, ptype, pid, a)),
                    ),
                    super::status::Health::Expiring => r.add(
                        "EXPIRING",
                        Severity::Warning,
                        Some(&ap_path),
                        format!("profile `{pid}` expires within 24 h"),
                        Some(renew_hint(provider, ptype, pid, a)),
                    ),
                    _ => {}
                }
            }
        }
        if !unchecked.is_empty() {
            r.add(
                "REFS_UNCHECKED",
                Severity::Warning,
                Some(&ap_path),
                format!(
                    "references of {} could not be checked: the vault could not be opened ({})",
                    unchecked.join(", "),
                    unopened.as_deref().unwrap_or("?")
                ),
                Some("fix the vault problem reported above, then run `clawkeep doctor` again".into()),
            );
        }
        // OpenClaw 2026.9+ reads profiles from SQLite: a present auth-profiles.json has not been imported yet, and
        // until `openclaw doctor --fix` imports it, OpenClaw refuses the affected providers.
        if file.original.is_some() && paths.sqlite_layout(a) {
            let ids: Vec<&str> = file.profiles().map(|(pid, _)| pid.as_str()).collect();
            if !ids.is_empty() {
                r.add(
                    "NOT_IMPORTED",
                    Severity::Warning,
                    Some(&ap_path),
                    format!("OpenClaw has not imported these profiles into its SQLite store yet: {}", ids.join(", ")),
                    Some("openclaw doctor --fix --non-interactive --yes (or `clawkeep openclaw wire --import`)".into()),
                );
            }
        }
        check_archives(&mut r, &paths.agent_dir(a), fix);
        let legacy = paths.legacy_auth(a);
        if legacy.exists() {
            r.add(
                "LEGACY_AUTH_JSON",
                Severity::Error,
                Some(&legacy),
                "legacy auth.json may hold plaintext credentials".into(),
                Some(format!("clawkeep migrate --agent {a}")),
            );
        }
        // Unreferenced secrets: only when the reference file is there to compare with (after OpenClaw 2026.9 imports
        // and renames it, the references live in its SQLite store).
        let sqlite = paths.sqlite_layout(a);
        if let Some(v) = &vault
            && file.original.is_none()
            && sqlite
            && v.index.profiles_of(a).next().is_some()
        {
            r.add(
                "SQLITE_REFS_UNCHECKED",
                Severity::Info,
                Some(&paths.agent_dir(a)),
                "OpenClaw keeps this agent's references in its SQLite store: doctor checks it for plaintext, not for stored secrets nothing refers to".into(),
                Some("clawkeep audit (reports them as ORPHAN_SECRET)".into()),
            );
        }
        if let Some(v) = &vault
            && (file.original.is_some() || !sqlite)
        {
            for (sid, e) in v.index.profiles_of(a) {
                if !referenced.contains(sid.as_str()) {
                    r.add(
                        "UNREFERENCED",
                        Severity::Warning,
                        Some(&ap_path),
                        format!(
                            "stored secret `{sid}` (profile `{}`) is not referenced by any profile",
                            e.profile_id.as_deref().unwrap_or("?")
                        ),
                        Some(format!(
                            "clawkeep models auth sync --agent {a} (or `clawkeep models auth remove {} --agent {a}`)",
                            e.profile_id.as_deref().unwrap_or("?")
                        )),
                    );
                }
            }
        }
    }
    if let Some(v) = &vault
        && let Ok(listed) = v.listed_in_store()
    {
        let orphans: Vec<SecretId> =
            listed.into_iter().filter(|id| !v.index.secrets.contains_key(id.as_str())).collect();
        // The file is the only copy of that secret: --fix puts it back in the index, never deletes it.
        let reindexed = fix && !orphans.is_empty() && reindex_listed(paths, &orphans).is_ok();
        for id in orphans {
            r.add(
                "ORPHAN_SECRET",
                Severity::Warning,
                Some(&files.secrets),
                format!("encrypted secret `{id}` is not in the index"),
                Some(
                    "clawkeep doctor --fix (adds it back to the index; the file may be the only copy of that secret)"
                        .into(),
                ),
            );
            r.findings.last_mut().expect("pushed").fixed = reindexed;
        }
    }

    if let Some(v) = &vault {
        check_keychain_entries(&mut r, paths, agents, v, fix);
    }

    // 4. Plaintext in the other OpenClaw files.
    if let Ok(Some(bytes)) = crate::fs::read_optional(&paths.dotenv())
        && let Ok(text) = std::str::from_utf8(&bytes)
    {
        let found = dotenv::read(text);
        for u in &found.unsure {
            r.add(
                "ENV_PLAINTEXT",
                Severity::Error,
                Some(&paths.dotenv()),
                format!("{} may be set in plaintext (line {}; {})", u.name, u.line + 1, u.why),
                Some(format!(
                    "store the key with `clawkeep models auth add`, then delete the {} line(s) from .env by hand",
                    u.name
                )),
            );
        }
        for k in found.keys {
            let held = vault.as_ref().is_some_and(|v| {
                v.index.secrets.contains_key(&format!("{}/{}:default", crate::paths::DEFAULT_AGENT, k.provider))
            });
            let fix = if held {
                format!(
                    "the vault already holds {p}:default (migrate moves this line only if it is the same key): check \
                     which key is current, then delete line {} from .env by hand",
                    k.line + 1,
                    p = k.provider
                )
            } else {
                format!(
                    "clawkeep migrate (if profile {}:default already exists, delete the line from .env by hand)",
                    k.provider
                )
            };
            r.add(
                "ENV_PLAINTEXT",
                Severity::Error,
                Some(&paths.dotenv()),
                format!("{} is set in plaintext (line {})", k.name, k.line + 1),
                Some(fix),
            );
        }
    }
    // A backup clawkeep wrote before it left literal keys out of them may still hold one.
    let bak =
        crate::openclaw::OpenClawConfig { path: paths.openclaw_config(), doc: Default::default(), original: None }
            .backup_path();
    if let Ok(Some(bytes)) = crate::fs::read_optional(&bak)
        && let Ok(text) = std::str::from_utf8(&bytes)
        && let Ok(cfg) = json5::from_str::<Value>(text)
    {
        for (field, _) in crate::openclaw::openclaw_config::literal_keys(&cfg) {
            r.add(
                "BACKUP_PLAINTEXT",
                Severity::Error,
                Some(&bak),
                format!("clawkeep's backup of openclaw.json holds a plaintext key ({field})"),
                Some(format!(
                    "delete {} (a copy clawkeep made of an earlier openclaw.json; openclaw.json itself is not affected)",
                    bak.display()
                )),
            );
        }
    }
    let config = match crate::fs::read_optional(&paths.openclaw_config()) {
        Ok(Some(bytes)) => crate::openclaw::openclaw_config::parse(&paths.openclaw_config(), &bytes)
            .inspect_err(|e| {
                r.add("CONFIG_UNREADABLE", Severity::Error, Some(&paths.openclaw_config()), e.to_string(), None)
            })
            .ok(),
        _ => None,
    };
    if let Some(cfg) = config
        && let Some(providers) = cfg.pointer("/models/providers").and_then(Value::as_object)
    {
        for (name, p) in providers {
            if p.get("apiKey").and_then(Value::as_str).is_some_and(|s| !s.is_empty() && !s.starts_with("${")) {
                r.add(
                    "CONFIG_PLAINTEXT",
                    Severity::Error,
                    Some(&paths.openclaw_config()),
                    format!("models.providers.{name}.apiKey is a plaintext key"),
                    Some(format!("store it with `clawkeep models auth add --provider {name}` and replace the value with {{\"source\":\"exec\",\"provider\":\"clawkeep\",\"id\":\"main/{name}:default\"}}")),
                );
            }
        }
    }
    check_surface(&mut r, paths, agents);
    r
}

/// OpenClaw's SQLite auth stores and the rest of `openclaw.json`'s SecretRef surface: plaintext there is an error
/// (`.env`, `auth-profiles.json` and `models.providers.*.apiKey` are checked above), and a store that cannot be read
/// is one too, since what it holds is then unknown.
fn check_surface(r: &mut Report, paths: &Paths, agents: &[String]) {
    use crate::openclaw::surface::Held;
    let scan = crate::openclaw::surface::scan(paths, agents);
    for (file, e) in &scan.errors {
        if file.file_name().is_some_and(|n| n == "auth-profiles.json" || n == "openclaw.json" || n == ".env") {
            continue; // reported by the checks above
        }
        r.add(
            "STORE_UNREADABLE",
            Severity::Error,
            Some(file),
            format!("OpenClaw's store could not be read, so the credentials in it are unchecked: {e}"),
            e.hint(),
        );
    }
    for l in &scan.locations {
        let sqlite = l.store == "shared-sqlite" || l.store == "agent-sqlite";
        let config_other = l.store == "openclaw.json"
            && !(l.json_path.starts_with("models.providers.")
                && l.json_path.ends_with(".apiKey")
                && l.json_path.matches('.').count() == 3);
        match &l.held {
            Held::Plaintext(_) if sqlite || config_other => {
                let place = match &l.row {
                    Some(row) => format!("{row} {}", l.json_path),
                    None => l.json_path.clone(),
                };
                r.add(
                    "PLAINTEXT_FOUND",
                    Severity::Error,
                    Some(&l.file),
                    format!("{place} holds a plaintext credential"),
                    Some("clawkeep migrate (or see `clawkeep audit`)".into()),
                );
            }
            Held::OAuth if sqlite => r.add(
                "OAUTH_PLAINTEXT",
                Severity::Info,
                Some(&l.file),
                format!(
                    "OAuth profile `{}` keeps its tokens in plaintext (OpenClaw cannot use references for OAuth)",
                    l.profile_id.as_deref().unwrap_or("?")
                ),
                None,
            ),
            _ => {}
        }
    }
}

/// Keychain-specific checks. REF_UNINDEXED: a reference whose secret the store holds but the index does not list
/// (an `add` interrupted between storing the secret and saving the index; keychains cannot be listed, so nothing
/// else shows it); `--fix` lists it again from the reference. KEYUTILS_ONLY_COPY: the kernel keyring is the only
/// place clawkeep keeps these secrets, and it forgets them.
fn check_keychain_entries(r: &mut Report, paths: &Paths, agents: &[String], v: &Vault, fix: bool) {
    for a in agents {
        let ap_path = paths.auth_profiles(a);
        let Ok(file) = AuthProfiles::load(&ap_path) else { continue };
        for (pid, p) in file.profiles() {
            let Some(rf) = profile_ref(p).filter(|x| x.is_clawkeep()) else { continue };
            let Ok(id) = SecretId::parse(&rf.id) else { continue };
            if !v.holds_unindexed(&id).unwrap_or(false) {
                continue;
            }
            r.add(
                "REF_UNINDEXED",
                Severity::Error,
                Some(&v.files.index),
                format!("profile `{pid}` refers to `{id}`, which the {} store holds but the index does not list (an interrupted add?)", v.backend()),
                Some("clawkeep doctor --fix (lists it again)".into()),
            );
            if fix && reindex(paths, a, pid, p, &id).is_ok() {
                r.findings.last_mut().expect("pushed").fixed = true;
            }
        }
    }
    if v.backend() == crate::vault::Backend::Keyutils {
        let ids: Vec<&str> = v.index.secrets.keys().map(String::as_str).collect();
        if !ids.is_empty() {
            r.add(
                "KEYUTILS_ONLY_COPY",
                Severity::Warning,
                Some(&v.files.dir),
                format!(
                    "the kernel keyring holds the only copy of {} secret(s) ({}): {}",
                    ids.len(),
                    ids.join(", "),
                    crate::vault::store::keyutils_lifetime_note()
                ),
                Some("keep each key elsewhere too (your provider's console, a password manager), or store them in a lasting vault (`clawkeep init --backend keychain` or `--backend file` in a new state dir)".into()),
            );
        }
    }
}

/// Add the index entry of a referenced secret the store holds (what an interrupted `add` did not save).
fn reindex(
    paths: &Paths,
    agent: &str,
    pid: &str,
    p: &serde_json::Map<String, Value>,
    id: &SecretId,
) -> crate::Result<()> {
    let mut vault = Vault::open(paths, no_passphrase())?;
    let _lock = vault.lock()?;
    if !vault.holds_unindexed(id)? {
        return Ok(());
    }
    let now = crate::vault::now_ms();
    vault.index.secrets.insert(
        id.to_string(),
        IndexEntry {
            expires: crate::openclaw::auth_profiles::profile_expires(p),
            email: p.get("email").and_then(Value::as_str).map(String::from),
            created: now,
            updated: now,
            ..IndexEntry::profile(vault.backend(), agent, pid, profile_provider(p), profile_type(p))
        },
    );
    vault.save_index()
}

/// `auth-profiles.json.migrated-*`: what OpenClaw 2026.9+ leaves after importing the file. Its audit reports them as
/// LEGACY_RESIDUE ("may contain plaintext credentials"). An archive holding nothing but clawkeep references is
/// safe to delete (`--fix` does); one holding plaintext is reported for the user to inspect.
fn check_archives(r: &mut Report, agent_dir: &Path, fix: bool) {
    let Ok(rd) = std::fs::read_dir(agent_dir) else { return };
    let mut archives: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("auth-profiles.json.migrated-"))
        })
        .collect();
    archives.sort();
    for path in archives {
        let refs_only = AuthProfiles::load(&path).is_ok_and(|f| {
            f.profiles().all(|(_, p)| plaintext_fields(p).is_empty() && profile_ref(p).is_some_and(|x| x.is_clawkeep()))
        });
        if refs_only {
            r.add(
                "ARCHIVE_REFS_ONLY",
                Severity::Warning,
                Some(&path),
                "OpenClaw's archive of an imported auth-profiles.json holds only clawkeep references; `openclaw secrets audit` keeps reporting it as LEGACY_RESIDUE".into(),
                Some("clawkeep doctor --fix (removes it)".into()),
            );
            if fix && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) && std::fs::remove_file(&path).is_ok()
            {
                r.findings.last_mut().expect("pushed").fixed = true;
            }
        } else {
            r.add(
                "ARCHIVE_PLAINTEXT",
                Severity::Error,
                Some(&path),
                "OpenClaw's archive of an imported auth-profiles.json may hold plaintext credentials".into(),
                Some(format!(
                    "check that its secrets are in the vault (`clawkeep models auth list`), then delete {}",
                    path.display()
                )),
            );
        }
    }
}

fn renew_hint(provider: &str, ptype: &str, pid: &str, agent: &str) -> String {
    if ptype == "oauth" {
        format!(
            "log in again with OpenClaw: `openclaw models auth login --provider {provider}` (OAuth stays with OpenClaw)"
        )
    } else if provider == "anthropic" {
        format!(
            "clawkeep models auth setup-token --provider anthropic --profile-id {pid} --agent {agent} (or paste-token --force)"
        )
    } else {
        format!("clawkeep models auth paste-token --provider {provider} --profile-id {pid} --agent {agent} --force")
    }
}

/// Whether `doctor --fix` may chmod this directory: one clawkeep or OpenClaw made (the clawkeep dir, `secrets/`,
/// an agent dir, or a state dir holding OpenClaw's or clawkeep's files), and never a shared or system directory
/// (sticky, `/`, the temp dir, `$HOME`). For the others doctor prints the finding and the command.
fn owned_dir(paths: &Paths, dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(md) = std::fs::symlink_metadata(dir) else { return false };
    if md.mode() & 0o1000 != 0 {
        return false;
    }
    let canon = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut protected = vec![PathBuf::from("/"), std::env::temp_dir()];
    protected.extend(std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from));
    if protected.iter().any(|p| *p == canon || std::fs::canonicalize(p).is_ok_and(|c| c == canon)) {
        return false;
    }
    if dir == paths.state_dir {
        return ["openclaw.json", "agents", "clawkeep", "state"].iter().any(|n| paths.state_dir.join(n).exists());
    }
    true
}

/// Report permission problems of `path`; with `fix`, chmod them when `ours` (see [`owned_dir`]).
fn check_perms(r: &mut Report, path: &Path, dir: bool, fix: bool, ours: bool) {
    let problems = match crate::fs::inspect(path, dir) {
        Ok(Some(p)) if !p.is_empty() => p,
        Ok(_) => return,
        Err(e) => {
            r.add("UNREADABLE", Severity::Error, Some(path), e.to_string(), None);
            return;
        }
    };
    let fixable = problems.iter().all(|p| p.chmod_fixable());
    let message =
        format!("{} {}", path.display(), problems.iter().map(|p| p.describe()).collect::<Vec<_>>().join(", "));
    let code = if problems.contains(&crate::fs::Problem::Symlink) { "SYMLINK" } else { "PERMISSIONS" };
    let hint = if ours {
        crate::fs::fix_for(path, &problems, dir)
    } else {
        format!(
            "{} is a shared or system directory (or not OpenClaw's), which clawkeep does not change: point \
             OPENCLAW_STATE_DIR (or CLAWKEEP_DIR) at a private directory, e.g. `mkdir -m 700 ~/.openclaw`",
            path.display()
        )
    };
    r.add(code, Severity::Error, Some(path), message, Some(hint));
    if fix && ours && fixable && crate::fs::repair(path, dir).unwrap_or(false) {
        r.findings.last_mut().expect("pushed").fixed = true;
    }
}

/// Rebuild a missing index from the references in `auth-profiles.json` and the file store's listing.
/// Index entry for a secret found only as a store file (its metadata recovered from its id).
fn listed_entry(id: &SecretId, backend: crate::vault::Backend, now: i64) -> IndexEntry {
    let s = id.as_str();
    let kind = if s.starts_with("backup#") { EntryKind::Backup } else { EntryKind::Profile };
    let (agent, pid) = match kind {
        EntryKind::Profile => id.profile_parts().map_or((None, None), |(a, p)| (Some(a), Some(p))),
        EntryKind::Backup => (None, None),
    };
    let provider = pid.as_ref().and_then(|p| p.split_once(':')).map(|(p, _)| p.to_string());
    IndexEntry {
        store: backend,
        kind,
        agent,
        profile_id: pid,
        provider,
        cred_type: None,
        expires: None,
        email: None,
        created: now,
        updated: now,
        extra: Default::default(),
    }
}

/// Add store files the index lost back into it.
fn reindex_listed(paths: &Paths, ids: &[SecretId]) -> crate::Result<()> {
    let mut vault = Vault::open(paths, no_passphrase())?;
    let _lock = vault.lock()?;
    let now = crate::vault::now_ms();
    let backend = vault.backend();
    for id in ids {
        if !vault.index.secrets.contains_key(id.as_str()) && vault.present_in_store(id)? {
            vault.index.secrets.insert(id.to_string(), listed_entry(id, backend, now));
        }
    }
    vault.save_index()
}

fn rebuild_index(paths: &Paths, agents: &[String]) -> crate::Result<usize> {
    let files = VaultFiles::new(paths);
    Index::default().save(&files.index)?;
    let mut vault = Vault::open(paths, no_passphrase())?;
    let _lock = vault.lock()?;
    let now = crate::vault::now_ms();
    let backend = vault.backend();
    let entry = |agent: Option<String>, pid: Option<String>, provider: Option<String>, t: Option<String>, exp, kind| {
        IndexEntry {
            store: backend,
            kind,
            agent,
            profile_id: pid,
            provider,
            cred_type: t,
            expires: exp,
            email: None,
            created: now,
            updated: now,
            extra: Default::default(),
        }
    };
    let mut new = Index::default();
    for a in agents {
        let Ok(file) = AuthProfiles::load(&paths.auth_profiles(a)) else { continue };
        for (pid, p) in file.profiles() {
            if let Some(rf) = profile_ref(p).filter(|x| x.is_clawkeep())
                && let Ok(id) = SecretId::parse(&rf.id)
                && vault.present_in_store(&id).unwrap_or(false)
            {
                new.secrets.insert(
                    rf.id.clone(),
                    entry(
                        Some(a.clone()),
                        Some(pid.clone()),
                        profile_provider(p).map(String::from),
                        profile_type(p).map(String::from),
                        crate::openclaw::auth_profiles::profile_expires(p),
                        EntryKind::Profile,
                    ),
                );
            }
        }
    }
    for id in vault.listed_in_store()? {
        let s = id.as_str();
        if new.secrets.contains_key(s) {
            continue;
        }
        new.secrets.insert(s.to_string(), listed_entry(&id, backend, now));
    }
    vault.index = new;
    vault.save_index()?;
    Ok(vault.index.secrets.len())
}
