//! Adding, removing, listing, reading and ordering credential profiles.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::openclaw::OpenClawConfig;
use crate::openclaw::auth_profiles::{profile_provider, profile_ref, profile_type};
use crate::openclaw::lite::Fields;
use crate::openclaw::{AuthProfiles, AuthState, CredType};
use crate::paths::Paths;
use crate::secret::{ExposeSecret, SecretId, SecretString};
use crate::vault::{IndexEntry, Vault};

/// Anthropic setup-token prefix.
pub const ANTHROPIC_TOKEN_PREFIX: &str = "sk-ant-oat01-";
/// Anthropic API key prefix.
pub const ANTHROPIC_KEY_PREFIX: &str = "sk-ant-api";
/// Minimum setup-token length.
pub const ANTHROPIC_TOKEN_MIN: usize = 80;

/// A credential to store.
pub struct NewCredential {
    /// Agent id.
    pub agent: String,
    /// Provider id.
    pub provider: String,
    /// Profile id.
    pub profile_id: String,
    /// api_key or token.
    pub kind: CredType,
    /// The secret.
    pub secret: SecretString,
    /// Expiry (ms since the epoch).
    pub expires: Option<i64>,
    /// Email (metadata).
    pub email: Option<String>,
    /// Replace an existing profile.
    pub force: bool,
}

/// Provider-specific checks; messages never quote the secret.
pub fn check_secret(provider: &str, kind: CredType, secret: &SecretString) -> Result<()> {
    let s = secret.expose_secret();
    if provider == "anthropic" {
        match kind {
            CredType::Token if s.starts_with(ANTHROPIC_KEY_PREFIX) => {
                return Err(Error::InvalidInput(
                    "this looks like an Anthropic API key (sk-ant-api…), not a setup-token; store it as a key: \
                     `clawkeep models auth add --provider anthropic`"
                        .into(),
                ));
            }
            CredType::Token if !s.starts_with(ANTHROPIC_TOKEN_PREFIX) => {
                return Err(Error::InvalidInput(format!(
                    "not an Anthropic setup-token: it must start with `{ANTHROPIC_TOKEN_PREFIX}` (get one with `claude setup-token`)"
                )));
            }
            CredType::Token if s.len() < ANTHROPIC_TOKEN_MIN => {
                return Err(Error::InvalidInput(format!(
                    "Anthropic setup-token too short ({} characters, at least {ANTHROPIC_TOKEN_MIN}); was it cut off when pasted?",
                    s.len()
                )));
            }
            CredType::ApiKey if s.starts_with(ANTHROPIC_TOKEN_PREFIX) => {
                return Err(Error::InvalidInput(
                    "this is an Anthropic setup-token (sk-ant-oat01-…), not an API key; store it with \
                     `clawkeep models auth paste-token --provider anthropic`"
                        .into(),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The documented shapes of well-known providers' API keys: a key that does not start like this was most likely
/// pasted wrong (cut off, or another provider's). `--allow-any-format` skips this check.
pub const KEY_SHAPES: &[(&str, &str, &str)] = &[
    ("anthropic", ANTHROPIC_KEY_PREFIX, "an Anthropic API key starts with `sk-ant-api` (e.g. sk-ant-api03-…)"),
    ("openrouter", "sk-or-v1-", "an OpenRouter key starts with `sk-or-v1-`"),
    ("openai", "sk-", "an OpenAI API key starts with `sk-` (sk-proj-…, sk-svcacct-… or sk-…)"),
];

/// Refuse an API key whose shape does not match its provider's (see [`KEY_SHAPES`]); never quotes the key.
pub fn check_shape(provider: &str, kind: CredType, secret: &SecretString) -> Result<()> {
    // The more specific refusals first (a setup-token given as a key, …).
    check_secret(provider, kind, secret)?;
    if kind != CredType::ApiKey {
        return Ok(());
    }
    let s = secret.expose_secret();
    for (p, prefix, what) in KEY_SHAPES {
        let wrong_provider = *p == "openai" && (s.starts_with("sk-ant-") || s.starts_with("sk-or-"));
        if provider == *p && (!s.starts_with(prefix) || wrong_provider) {
            return Err(Error::InvalidInput(format!(
                "this does not look like an API key of provider `{provider}`: {what}; check what was pasted, or pass \
                 --allow-any-format to store it anyway"
            )));
        }
    }
    Ok(())
}

/// Check a provider id (OpenClaw's provider ids are lowercase slugs).
pub fn check_provider(p: &str) -> Result<()> {
    let ok = !p.is_empty()
        && p.len() <= 64
        && p.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "invalid provider `{}`: use a lowercase id such as `anthropic`",
            p.escape_debug()
        )))
    }
}

/// Result of storing a credential.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Added {
    /// Agent id.
    pub agent: String,
    /// Profile id.
    pub profile_id: String,
    /// Secret id used in the reference.
    pub secret_id: String,
    /// Store.
    pub store: String,
    /// Whether an existing profile was replaced.
    pub replaced: bool,
    /// OpenClaw 2026.9+ keeps profiles in SQLite: `openclaw doctor --fix` must import the file.
    pub needs_import: bool,
    /// Where the reference went: `auth-profiles.json`, or `openclaw secrets apply` (OpenClaw's SQLite store).
    pub written_through: String,
    /// On the SQLite layout, why the reference went to `auth-profiles.json` instead of through OpenClaw's apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// The `openclaw --version` whose apply wrote the reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openclaw: Option<String>,
}

/// Without `--force`, refuse a profile that exists: in OpenClaw's store (`in_openclaw`), in the index, or in the
/// vault's store although the index lost it (a crash, a lost `index.json`: the secret is still the user's). An item
/// the index does not know (an interrupted add; a vault without an id shares its keychain names with the user's
/// other such vaults) is not replaced without `--force` either. Whether the profile is replaced (with `--force`).
fn refuse_to_replace(vault: &Vault, c: &NewCredential, id: &SecretId, in_openclaw: bool) -> Result<bool> {
    let listed = in_openclaw || vault.index.secrets.contains_key(id.as_str());
    if c.force {
        return Ok(listed);
    }
    if listed || vault.present_in_store(id)? {
        return Err(Error::DuplicateProfile { agent: c.agent.clone(), profile: c.profile_id.clone() });
    }
    if vault.holds_unindexed(id)? {
        return Err(Error::UnindexedSecret { backend: vault.backend().to_string(), id: id.to_string() });
    }
    Ok(false)
}

/// Store a profile's secret, the index entry first: the entry, then the secret, then (by the caller) the reference. A
/// stop at any point leaves the old reference or plaintext, never a reference without its secret, and never a stored
/// secret the index does not list (a keychain cannot be listed, so doctor could not find it): after a stop between
/// the store write and the reference, doctor reports the entry UNREFERENCED and `models auth sync` writes its
/// reference. A failed store write puts the index back as it was. Returns the entry it replaced.
fn store_listed(
    vault: &mut Vault,
    id: &SecretId,
    secret: &SecretString,
    entry: IndexEntry,
) -> Result<Option<IndexEntry>> {
    let previous = vault.index.secrets.insert(id.to_string(), entry.clone());
    vault.save_index()?;
    crate::fs::crash_point("add-after-index");
    if let Err(e) = vault.put(id, secret, entry) {
        match &previous {
            Some(p) => vault.index.secrets.insert(id.to_string(), p.clone()),
            None => vault.index.secrets.remove(id.as_str()),
        };
        vault.save_index()?;
        return Err(e);
    }
    crate::fs::crash_point("add-after-put");
    vault.save_index()?;
    Ok(previous)
}

/// The index entry of a new profile credential (`created`/`updated` are set when it is stored).
fn profile_entry(vault: &Vault, c: &NewCredential, email: Option<String>) -> IndexEntry {
    IndexEntry {
        expires: c.expires,
        email,
        ..IndexEntry::profile(vault.backend(), &c.agent, &c.profile_id, Some(&c.provider), Some(c.kind.as_str()))
    }
}

/// Store a credential and write its reference into `auth-profiles.json`.
pub fn add(vault: &mut Vault, paths: &Paths, c: NewCredential) -> Result<Added> {
    check_provider(&c.provider)?;
    check_secret(&c.provider, c.kind, &c.secret)?;
    let id = SecretId::for_profile(&c.agent, &c.profile_id)?;
    crate::fs::ensure_private_dir(&paths.state_dir)?;
    crate::fs::ensure_private_dir(&paths.agent_dir(&c.agent))?;
    let _lock = vault.lock()?;
    let _oc = crate::openclaw::lock_openclaw_files(paths, &c.agent)?;
    let mut file = AuthProfiles::load(&paths.auth_profiles(&c.agent))?;
    // openclaw.json is read (and a broken one refused) before anything is written.
    let mut config = OpenClawConfig::load_existing(&paths.openclaw_config())?;
    // A secret in the store that the index lost (crash, lost index.json) is still the user's: only --force
    // replaces it.
    let exists = refuse_to_replace(vault, &c, &id, file.get(&c.profile_id).is_some())?;
    let email =
        c.email.clone().or_else(|| file.get(&c.profile_id).and_then(|p| p.get("email")?.as_str().map(String::from)));
    let entry = profile_entry(vault, &c, email);
    // openclaw.json's change is made in memory before anything is written, so a shape it cannot take (e.g.
    // `auth.profiles` an array) is refused while nothing has changed.
    let meta_changed = match config.as_mut() {
        Some(cfg) => cfg.set_profile_meta(&c.profile_id, &c.provider, c.kind.as_str())?,
        None => false,
    };
    // The files the reference goes to were checked above (read, permissions, openclaw.json's shape), so a refusal
    // comes before anything is written.
    crate::fs::check_file(&file.path, true)?;
    file.upsert_ref(&c.profile_id, &c.provider, c.kind, &id, c.expires);
    store_listed(vault, &id, &c.secret, entry)?;
    file.save()?;
    // As OpenClaw's paste-token does: `auth.profiles.<id> = {provider, mode}` in openclaw.json, when it exists.
    if let Some(cfg) = config.as_ref()
        && meta_changed
    {
        cfg.save()?;
    }
    Ok(Added {
        needs_import: paths.sqlite_layout(&c.agent),
        agent: c.agent,
        profile_id: c.profile_id,
        secret_id: id.to_string(),
        store: vault.backend().to_string(),
        replaced: exists,
        written_through: "auth-profiles.json".into(),
        fallback: None,
        openclaw: None,
    })
}

/// How [`store`] writes a new profile's reference on this state dir: through `openclaw secrets apply` (the binary
/// and clawkeep's provider entry), or into `auth-profiles.json` (with, on the SQLite layout, the reason).
pub fn ref_route(
    paths: &Paths,
    agent: &str,
) -> Result<std::result::Result<(std::path::PathBuf, serde_json::Value), Option<String>>> {
    if !paths.sqlite_layout(agent) {
        return Ok(Err(None));
    }
    if paths.auth_profiles(agent).exists() {
        return Ok(Err(Some(format!(
            "{} is there (not yet imported by OpenClaw), so the reference was added to it",
            paths.auth_profiles(agent).display()
        ))));
    }
    let bin = match crate::openclaw::apply::openclaw_bin() {
        Ok(b) => b,
        Err(_) => {
            return Ok(Err(Some(
                "`openclaw` is not on PATH (nor $CLAWKEEP_OPENCLAW_BIN), so the reference could not be written through \
                 `openclaw secrets apply`"
                    .into(),
            )));
        }
    };
    let entry = OpenClawConfig::load_existing(&paths.openclaw_config())?
        .and_then(|c| c.exec_provider(crate::PROVIDER_ALIAS).cloned());
    match entry {
        Some(e) => Ok(Ok((bin, e))),
        None => Ok(Err(Some(format!(
            "{} has no secrets.providers.clawkeep (run `clawkeep openclaw wire`), so OpenClaw could not resolve a \
             reference written through `openclaw secrets apply`",
            paths.openclaw_config().display()
        )))),
    }
}

/// Store a credential: through `openclaw secrets apply` on OpenClaw's SQLite layout when `openclaw` is there and
/// clawkeep is wired ([`add_through_apply`]), else into `auth-profiles.json` ([`add`]; `fallback` says why).
pub fn store(vault: &mut Vault, paths: &Paths, c: NewCredential) -> Result<Added> {
    match ref_route(paths, &c.agent)? {
        Ok((bin, entry)) => add_through_apply(vault, paths, c, &bin, &entry),
        Err(why) => {
            let mut a = add(vault, paths, c)?;
            a.fallback = why;
            Ok(a)
        }
    }
}

/// A profile as one of OpenClaw's SQLite stores holds it: the store, its file, the profile.
pub type StoredProfile =
    (crate::openclaw::sqlite::StoreKind, std::path::PathBuf, serde_json::Map<String, serde_json::Value>);

/// The profile `profile_id` in OpenClaw's SQLite stores for `agent` (per agent first, then the shared store): the
/// store and the profile. A store that cannot be read is an error (nothing is written over what cannot be read).
pub fn sqlite_profile(paths: &Paths, agent: &str, profile_id: &str) -> Result<Vec<StoredProfile>> {
    use crate::openclaw::sqlite::{self, StoreKind};
    let mut out = Vec::new();
    for (kind, db) in [(StoreKind::Agent, paths.agent_sqlite(agent)), (StoreKind::Shared, paths.shared_sqlite())] {
        if let Some(st) = sqlite::read(kind, &db)?
            && let Some((_, p)) = st.profiles().find(|(p, _)| *p == profile_id)
        {
            out.push((kind, db.clone(), p.clone()));
        }
    }
    Ok(out)
}

/// [`add`] on OpenClaw's SQLite layout: the secret goes into the vault first (index entry, secret, read back), then
/// its reference into OpenClaw's store through `openclaw secrets apply` (a plan of one target with `agentId` and
/// `authProfileProvider`, refs only; `--dry-run` first, then the write, both with `--allow-exec`, so OpenClaw
/// resolves the new ref through `clawkeep resolve` before it writes). If the apply fails, a secret this call
/// added is removed again (no secret without its ref); a secret it replaced (`--force`) stays, and the error says so.
pub fn add_through_apply(
    vault: &mut Vault,
    paths: &Paths,
    c: NewCredential,
    bin: &std::path::Path,
    provider_entry: &serde_json::Value,
) -> Result<Added> {
    use crate::openclaw::apply;
    check_provider(&c.provider)?;
    check_secret(&c.provider, c.kind, &c.secret)?;
    let id = SecretId::for_profile(&c.agent, &c.profile_id)?;
    let in_openclaw = sqlite_profile(paths, &c.agent, &c.profile_id)?;
    let mut config = OpenClawConfig::load_existing(&paths.openclaw_config())?;
    let _lock = vault.lock()?;
    let exists = refuse_to_replace(vault, &c, &id, !in_openclaw.is_empty())?;
    let meta_changed = match config.as_mut() {
        Some(cfg) => cfg.set_profile_meta(&c.profile_id, &c.provider, c.kind.as_str())?,
        None => false,
    };
    let entry = profile_entry(vault, &c, c.email.clone());
    // 1. The vault: index entry, secret ([`store_listed`]), read back.
    let had_secret = store_listed(vault, &id, &c.secret, entry)?.is_some();
    let undo = |vault: &mut Vault| -> Result<()> {
        if had_secret {
            return Ok(());
        }
        vault.remove(&id)?;
        vault.save_index()
    };
    if !vault.get(&id).is_ok_and(|b| crate::secret::same(&b, &c.secret)) {
        undo(vault)?;
        return Err(Error::Internal(format!("read-back of `{id}` did not match what was stored; nothing was written")));
    }
    // 2. The reference, through OpenClaw's apply.
    let (field, target_type) = match c.kind {
        CredType::Token => ("token", "auth-profiles.token.token"),
        _ => ("key", "auth-profiles.api_key.key"),
    };
    let target = apply::Target {
        target_type: target_type.into(),
        path: format!("profiles.{}.{field}", c.profile_id),
        segments: vec!["profiles".into(), c.profile_id.clone(), field.into()],
        agent: Some(c.agent.clone()),
        auth_profile_provider: Some(c.provider.clone()),
        id: id.to_string(),
    };
    let plan = apply::plan(provider_entry, &[target]);
    let plan_file = paths.clawkeep_dir.join("openclaw-apply-plan.json");
    let written = serde_json::to_vec_pretty(&plan)
        .map_err(|e| Error::Internal(e.to_string()))
        .and_then(|b| crate::fs::write_atomic(&plan_file, &b));
    let version = apply::version(bin);
    let applied = written.and_then(|()| {
        apply::run(bin, &plan_file, true)?;
        apply::run(bin, &plan_file, false)
    });
    // 3. Verify by reading OpenClaw's per-agent store back.
    let has_ref = |paths: &Paths| -> bool {
        sqlite_profile(paths, &c.agent, &c.profile_id).is_ok_and(|v| {
            v.iter().any(|(k, _, p)| {
                *k == crate::openclaw::sqlite::StoreKind::Agent
                    && profile_ref(p).is_some_and(|r| r.is_clawkeep() && r.id == id.as_str())
            })
        })
    };
    let failure = match applied {
        Err(e) => Some(e.to_string()),
        Ok(_) if !has_ref(paths) => Some(format!(
            "`openclaw secrets apply` reported success, but {} does not hold the reference",
            paths.agent_sqlite(&c.agent).display()
        )),
        Ok(_) => None,
    };
    if let Some(why) = failure {
        let found = version.as_deref().unwrap_or("an OpenClaw whose --version could not be read");
        undo(vault)?;
        return Err(Error::External(if had_secret {
            format!(
                "{why} (with {found} at {}); the vault holds the new secret under `{id}` (it replaced the old one, to \
                 which OpenClaw's existing reference still points)",
                bin.display()
            )
        } else {
            format!(
                "{why} (with {found} at {}); the secret was removed from the vault again: nothing was stored",
                bin.display()
            )
        }));
    }
    if let Some(cfg) = config.as_ref()
        && meta_changed
    {
        cfg.save()?;
    }
    Ok(Added {
        needs_import: false,
        agent: c.agent,
        profile_id: c.profile_id,
        secret_id: id.to_string(),
        store: vault.backend().to_string(),
        replaced: exists,
        written_through: "openclaw secrets apply".into(),
        fallback: None,
        openclaw: version,
    })
}

/// What [`remove_openclaw_copy`] did with OpenClaw's copy of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenClawCopy {
    /// OpenClaw's SQLite stores hold no such profile.
    None,
    /// Removed by `openclaw models auth logout`.
    LoggedOut,
    /// Removed by clawkeep's one-row transaction (this OpenClaw has no `models auth logout`): the stores changed.
    Removed(Vec<std::path::PathBuf>),
    /// Left: OpenClaw's copy is not clawkeep's reference (plaintext or another provider's ref).
    NotOurs,
    /// Left: no `openclaw` binary (the reason).
    NoBinary(String),
}

/// Remove OpenClaw's copy of `agent`'s profile `profile_id` when it is clawkeep's exec reference (so no reference is
/// left without its secret): `openclaw models auth logout … --yes` when this OpenClaw has it, else one narrowly
/// scoped transaction per store on the auth row ([`crate::openclaw::apply::remove_clawkeep_profile`]: only while
/// the profile is exactly clawkeep's ref). Verified by re-reading the stores. Runs before the vault's copy goes.
pub fn remove_openclaw_copy(paths: &Paths, agent: &str, profile_id: &str) -> Result<OpenClawCopy> {
    use crate::openclaw::apply;
    let copies = sqlite_profile(paths, agent, profile_id)?;
    if copies.is_empty() {
        return Ok(OpenClawCopy::None);
    }
    let ours: Vec<_> = copies
        .iter()
        .filter_map(|(k, db, p)| {
            let r = profile_ref(p).filter(|r| r.is_clawkeep())?;
            crate::openclaw::auth_profiles::plaintext_fields(p).is_empty().then(|| (*k, db.clone(), r.id))
        })
        .collect();
    if ours.len() != copies.len() {
        return Ok(OpenClawCopy::NotOurs);
    }
    let bin = match apply::openclaw_bin() {
        Ok(b) => b,
        Err(e) => return Ok(OpenClawCopy::NoBinary(e.to_string())),
    };
    let done = if apply::has_logout(&bin) {
        apply::logout(&bin, agent, profile_id)?;
        OpenClawCopy::LoggedOut
    } else {
        let mut changed = Vec::new();
        for (k, db, id) in &ours {
            if apply::remove_clawkeep_profile(*k, db, profile_id, id)? {
                changed.push(db.clone());
            }
        }
        OpenClawCopy::Removed(changed)
    };
    if !sqlite_profile(paths, agent, profile_id)?.is_empty() {
        return Err(Error::External(format!(
            "OpenClaw's store still holds profile `{profile_id}` of agent {agent} after removing it; the vault's secret \
             was kept (so its reference still resolves)"
        )));
    }
    Ok(done)
}

/// Whether clawkeep holds `agent`'s profile `profile_id` (in `auth-profiles.json` or its index): what
/// [`remove`] accepts.
pub fn is_known(vault: &Vault, paths: &Paths, agent: &str, profile_id: &str) -> Result<bool> {
    let own = SecretId::for_profile(agent, profile_id)?;
    Ok(vault.index.secrets.contains_key(own.as_str())
        || AuthProfiles::load(&paths.auth_profiles(agent))?.get(profile_id).is_some())
}

/// Remove a profile: its secret, its reference and its order/state entries together.
pub fn remove(vault: &mut Vault, paths: &Paths, agent: &str, profile_id: &str) -> Result<()> {
    let _lock = vault.lock()?;
    let _oc = crate::openclaw::lock_openclaw_files(paths, agent)?;
    let mut file = AuthProfiles::load(&paths.auth_profiles(agent))?;
    let mut state = AuthState::load(&paths.auth_state(agent))?;
    // Every file is read (and a broken one refused) before anything is removed.
    let mut config = OpenClawConfig::load_existing(&paths.openclaw_config())?;
    let own = SecretId::for_profile(agent, profile_id)?;
    let referenced = file
        .get(profile_id)
        .and_then(profile_ref)
        .filter(|r| r.is_clawkeep())
        .and_then(|r| SecretId::parse(&r.id).ok());
    if file.get(profile_id).is_none() && !vault.index.secrets.contains_key(own.as_str()) {
        return Err(Error::UnknownProfile { agent: agent.into(), profile: profile_id.into() });
    }
    for id in [Some(own), referenced].into_iter().flatten() {
        vault.remove(&id)?;
    }
    vault.save_index()?;
    if file.remove(profile_id) {
        file.save()?;
    }
    if state.forget_profile(profile_id) {
        state.save()?;
    }
    if let Some(cfg) = config.as_mut()
        && cfg.remove_profile_meta(profile_id)
    {
        cfg.save()?;
    }
    Ok(())
}

/// The secret behind a profile (for `clawkeep get`).
pub fn secret_of(vault: &Vault, paths: &Paths, agent: &str, profile_id: &str) -> Result<SecretString> {
    let file = AuthProfiles::load(&paths.auth_profiles(agent))?;
    let id = match file.get(profile_id) {
        Some(p) => match profile_ref(p) {
            Some(r) if r.is_clawkeep() => SecretId::parse(&r.id)?,
            Some(r) => {
                return Err(Error::NotFound(format!(
                    "profile `{profile_id}` refers to {}:{} `{}`, which clawkeep does not hold",
                    r.source, r.provider, r.id
                )));
            }
            None => {
                return Err(Error::NotFound(format!(
                    "profile `{profile_id}` is not stored in clawkeep (it has no reference; `clawkeep migrate` moves plaintext in)"
                )));
            }
        },
        None => {
            let id = SecretId::for_profile(agent, profile_id)?;
            if !vault.index.secrets.contains_key(id.as_str()) {
                return Err(Error::UnknownProfile { agent: agent.into(), profile: profile_id.into() });
            }
            id
        }
    };
    vault.get(&id)
}

/// A profile as `models auth list` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedProfile {
    /// Agent id.
    pub agent: String,
    /// Profile id.
    pub profile_id: String,
    /// Provider.
    pub provider: String,
    /// Type.
    #[serde(rename = "type")]
    pub cred_type: String,
    /// Where the secret is: `clawkeep:<backend>`, `exec:<provider>`, `plaintext`, …
    pub store: String,
    /// Secret id when clawkeep holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_id: Option<String>,
    /// Expiry (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// Email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether `auth-profiles.json` has it (false: known only from OpenClaw's SQLite store or clawkeep's index).
    pub in_auth_profiles: bool,
    /// OpenClaw's SQLite store it was read from (`agent-sqlite`, `shared-sqlite`) when `auth-profiles.json` does not
    /// have it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openclaw_store: Option<String>,
}

/// Every profile of an agent: those in `auth-profiles.json` and those only in clawkeep's index.
pub fn list(vault: Option<&Vault>, paths: &Paths, agent: &str, provider: Option<&str>) -> Result<Vec<ListedProfile>> {
    let backend = vault.map(|v| v.backend().to_string()).unwrap_or_else(|| "missing".into());
    let mut out = Vec::new();
    // Profile ids listed so far: a profile found in several places is listed once, from the first.
    let mut seen = std::collections::HashSet::new();
    let mut listed = |pid: &str, p: &dyn Fields, openclaw_store: Option<&str>| {
        if !seen.insert(pid.to_string()) {
            return;
        }
        let r = profile_ref(p);
        let plaintext = !crate::openclaw::auth_profiles::plaintext_fields(p).is_empty();
        out.push(ListedProfile {
            agent: agent.into(),
            profile_id: pid.into(),
            provider: profile_provider(p).unwrap_or_default().into(),
            cred_type: profile_type(p).unwrap_or("unknown").into(),
            store: match &r {
                Some(r) if r.is_clawkeep() => format!("clawkeep:{backend}"),
                Some(r) => format!("{}:{}", r.source, r.provider),
                None if plaintext => "plaintext".into(),
                None => "none".into(),
            },
            secret_id: r.filter(|r| r.is_clawkeep()).map(|r| r.id),
            expires: crate::openclaw::auth_profiles::profile_expires(p),
            email: p.str_of("email").map(String::from),
            in_auth_profiles: openclaw_store.is_none(),
            openclaw_store: openclaw_store.map(String::from),
        });
    };
    // `auth-profiles.json` (a file that cannot be read is an error), read the quick way ([`crate::openclaw::lite`]).
    let json = paths.auth_profiles(agent);
    if let Some(bytes) = crate::openclaw::read_json_bytes(&json)? {
        crate::openclaw::auth_profiles::each_profile(&json, &bytes, |pid, p| listed(pid, p, None))?;
    }
    // OpenClaw 2026.7+/2026.9+ keep profiles in SQLite (per agent, then the shared store). A store that cannot be
    // read is left out here; `doctor` and `audit` report it.
    use crate::openclaw::sqlite::{self, StoreKind};
    for (kind, db) in [
        (StoreKind::Agent, sqlite::agent_path(&paths.agent_dir(agent))),
        (StoreKind::Shared, sqlite::shared_path(&paths.state_dir)),
    ] {
        let _ = sqlite::each_profile(kind, &db, |_, pid, p| listed(pid, p, Some(kind.as_str())));
    }
    if let Some(v) = vault {
        for (sid, e) in v.index.profiles_of(agent) {
            let pid = e.profile_id.clone().unwrap_or_default();
            if !seen.insert(pid.clone()) {
                continue;
            }
            out.push(ListedProfile {
                agent: agent.into(),
                profile_id: pid,
                provider: e.provider.clone().unwrap_or_default(),
                cred_type: e.cred_type.clone().unwrap_or_default(),
                store: format!("clawkeep:{}", e.store),
                secret_id: Some(sid.clone()),
                expires: e.expires,
                email: e.email.clone(),
                in_auth_profiles: false,
                openclaw_store: None,
            });
        }
    }
    out.retain(|p| provider.is_none_or(|want| p.provider == want));
    Ok(out)
}

/// What `sync` wrote (profile ids) and skipped (secret id, reason).
pub type Synced = (Vec<String>, Vec<(String, &'static str)>);

/// Write every indexed reference of an agent into `auth-profiles.json` again (after OpenClaw imported and
/// renamed it, or to repair it). Returns the profile ids written and the secret ids skipped (with the reason).
pub fn sync(vault: &mut Vault, paths: &Paths, agent: &str) -> Result<Synced> {
    sync_where(vault, paths, agent, &|_| true)
}

/// [`sync`] for the index entries `keep` accepts (a shared store's host writes references only for the secrets
/// encrypted to it).
pub fn sync_where(vault: &mut Vault, paths: &Paths, agent: &str, keep: &dyn Fn(&IndexEntry) -> bool) -> Result<Synced> {
    let _lock = vault.lock()?;
    let _oc = crate::openclaw::lock_openclaw_files(paths, agent)?;
    let mut file = AuthProfiles::load(&paths.auth_profiles(agent))?;
    let mut written = Vec::new();
    let mut skipped = Vec::new();
    for (sid, e) in vault.index.profiles_of(agent).filter(|(_, e)| keep(e)) {
        let (Some(pid), Some(provider), Some(kind)) =
            (e.profile_id.as_deref(), e.provider.as_deref(), e.cred_type.as_deref().and_then(CredType::parse))
        else {
            skipped.push((sid.clone(), "its type is unknown (store it again with `models auth add --type … --force`)"));
            continue;
        };
        let id = SecretId::parse(sid)?;
        let current = file.get(pid).and_then(profile_ref);
        if current.as_ref().is_some_and(|r| r.is_clawkeep() && r.id == sid.as_str()) {
            continue;
        }
        if file.get(pid).is_some() && current.is_none_or(|r| !r.is_clawkeep()) {
            // The profile exists with other content (plaintext or another provider's ref): leave it to the user.
            skipped.push((sid.clone(), "auth-profiles.json has a different credential under that profile id"));
            continue;
        }
        file.upsert_ref(pid, provider, kind, &id, e.expires);
        if let Some(email) = &e.email
            && let Some(p) = file.doc.get_mut("profiles").and_then(|p| p.get_mut(pid)).and_then(|p| p.as_object_mut())
        {
            p.entry("email").or_insert_with(|| serde_json::json!(email));
        }
        written.push(pid.to_string());
    }
    if !written.is_empty() {
        crate::fs::ensure_private_dir(&paths.agent_dir(agent))?;
        file.save()?;
    }
    Ok((written, skipped))
}

/// Set a provider's order override after checking every id exists and belongs to the provider.
pub fn set_order(
    mut vault: Option<&mut Vault>,
    paths: &Paths,
    agent: &str,
    provider: &str,
    ids: &[String],
) -> Result<()> {
    let _lock = match vault.as_mut() {
        Some(v) => Some(v.lock()?),
        None => None,
    };
    let _oc = crate::openclaw::lock_openclaw_files(paths, agent)?;
    let file = AuthProfiles::load(&paths.auth_profiles(agent))?;
    if ids.is_empty() {
        return Err(Error::InvalidInput(
            "give at least one profile id (use `order clear` to remove the override)".into(),
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            return Err(Error::InvalidInput(format!("profile `{id}` is listed twice")));
        }
        // Known from auth-profiles.json, or (after OpenClaw imported and renamed it) from clawkeep's index.
        let indexed = vault.as_ref().and_then(|v| {
            let sid = SecretId::for_profile(agent, id).ok()?;
            v.index.secrets.get(sid.as_str())?.provider.clone()
        });
        let owner = match file.get(id) {
            Some(p) => profile_provider(p).unwrap_or_default().to_string(),
            None => indexed.ok_or_else(|| Error::UnknownProfile { agent: agent.into(), profile: id.clone() })?,
        };
        if owner != provider {
            return Err(Error::InvalidInput(format!("profile `{id}` belongs to provider `{owner}`, not `{provider}`")));
        }
    }
    let mut state = AuthState::load(&paths.auth_state(agent))?;
    state.set_order(provider, ids);
    crate::fs::ensure_private_dir(&paths.agent_dir(agent))?;
    state.save()
}

/// Clear a provider's order override; whether there was one.
pub fn clear_order(vault: Option<&mut Vault>, paths: &Paths, agent: &str, provider: &str) -> Result<bool> {
    let _lock = match vault {
        Some(v) => Some(v.lock()?),
        None => None,
    };
    let _oc = crate::openclaw::lock_openclaw_files(paths, agent)?;
    let mut state = AuthState::load(&paths.auth_state(agent))?;
    let had = state.clear_order(provider);
    if had {
        state.save()?;
    }
    Ok(had)
}
