//! Moving credentials between hosts without plaintext on the wire or on disk: `export` seals profiles to another
//! host's recipient ([`bundle`]), `import` opens such a bundle once and stores its profiles as `models auth add`
//! does. Which bundles were imported is kept in `<ck>/imported.json` (ids and expiry only).

pub mod bundle;
pub mod recipients;
pub mod sync;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::ops::profile::{self, NewCredential};
use crate::paths::Paths;
use crate::profiles::{AuthProfiles, CredType};
use crate::secret::{ExposeSecret, SecretId, SecretString};
use crate::vault::{EntryKind, Vault, now_ms};
use bundle::{Bundle, BundleProfile};

/// Longest lifetime a bundle may be given.
pub const MAX_LIFETIME_MS: i64 = 30 * 24 * 3600 * 1000;

/// What `export` wrote.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exported {
    /// Bundle id.
    pub id: String,
    /// Profiles sealed.
    pub profiles: Vec<String>,
    /// Expiry (ms).
    pub expires: i64,
    /// The recipient it was sealed to.
    pub to: String,
}

/// Seal `profile_ids` of `agent` (every profile clawkeep holds for it when empty) to `to`. Returns the armored
/// bundle and a summary. Needs the secrets: the file store's passphrase is asked as the vault was opened to.
pub fn export(
    vault: &mut Vault,
    paths: &Paths,
    agent: &str,
    profile_ids: &[String],
    to: &str,
    lifetime_ms: i64,
) -> Result<(Zeroizing<String>, Exported)> {
    let recipient = bundle::parse_recipient(to)?;
    if !(1..=MAX_LIFETIME_MS).contains(&lifetime_ms) {
        return Err(Error::InvalidInput("--expires-in must be between 1 ms and 30 days".into()));
    }
    let ids: Vec<String> = if profile_ids.is_empty() {
        vault.index.profiles_of(agent).filter_map(|(_, e)| e.profile_id.clone()).collect()
    } else {
        profile_ids.to_vec()
    };
    if ids.is_empty() {
        return Err(Error::NotFound(format!("agent `{agent}` has no profiles in clawkeep to export")));
    }
    let file = AuthProfiles::load(&paths.auth_profiles(agent))?;
    let mut profiles = Vec::new();
    for pid in &ids {
        let secret = profile::secret_of(vault, paths, agent, pid)?;
        let sid = SecretId::for_profile(agent, pid)?;
        let entry = vault.index.secrets.get(sid.as_str());
        let from_file = file.get(pid);
        let provider = entry
            .and_then(|e| e.provider.clone())
            .or_else(|| from_file.and_then(crate::profiles::auth_profiles::profile_provider).map(String::from))
            .ok_or_else(|| Error::NotFound(format!("profile `{pid}` has no provider recorded")))?;
        let cred_type = entry
            .and_then(|e| e.cred_type.clone())
            .or_else(|| from_file.and_then(crate::profiles::auth_profiles::profile_type).map(String::from))
            .filter(|t| CredType::parse(t).is_some())
            .ok_or_else(|| Error::NotFound(format!("profile `{pid}` has no type recorded (api_key or token)")))?;
        profiles.push(BundleProfile {
            profile_id: pid.clone(),
            provider,
            cred_type,
            expires: entry.and_then(|e| e.expires),
            email: entry.and_then(|e| e.email.clone()),
            secret: Zeroizing::new(secret.expose_secret().to_owned()),
        });
    }
    let now = now_ms();
    let b = Bundle {
        clawkeep: bundle::KIND.into(),
        version: bundle::VERSION,
        id: bundle::new_id()?,
        created: now,
        expires: now + lifetime_ms,
        from: vault.host_recipient()?.to_string(),
        to: recipient.to_string(),
        agent: agent.into(),
        profiles,
    };
    let armored = Zeroizing::new(bundle::seal(&b, &recipient)?);
    let summary = Exported { id: b.id.clone(), profiles: ids, expires: b.expires, to: b.to.clone() };
    Ok((armored, summary))
}

/// One profile of an import plan.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Planned {
    /// Profile id on the sending host.
    pub from_profile: String,
    /// Profile id here (after `--rename`).
    pub profile_id: String,
    /// Provider.
    pub provider: String,
    /// `api_key` or `token`.
    #[serde(rename = "type")]
    pub cred_type: String,
    /// `add` or `replace`.
    pub action: &'static str,
    /// Length and SHA-256 prefix of the secret (never the secret).
    pub secret: String,
}

/// An opened bundle and what importing it would do.
pub struct ImportPlan {
    bundle: Bundle,
    /// Bundle id.
    pub id: String,
    /// The sender's recipient as the bundle states it (not authenticated).
    pub from: String,
    /// Its fingerprint.
    pub from_fingerprint: String,
    /// Expiry (ms).
    pub expires: i64,
    /// Agent here.
    pub agent: String,
    /// Per profile.
    pub items: Vec<Planned>,
}

/// `imported.json`: bundle id → its expiry. Entries are dropped once expired (an expired bundle is refused anyway).
#[derive(Serialize, Deserialize, Default)]
pub(crate) struct Imported {
    pub(crate) version: u32,
    pub(crate) bundles: BTreeMap<String, i64>,
}

fn imported_path(vault: &Vault) -> std::path::PathBuf {
    vault.files.dir.join("imported.json")
}

fn load_imported(vault: &Vault) -> Result<Imported> {
    let path = imported_path(vault);
    let Some(bytes) = crate::fs::read_private(&path)? else {
        return Ok(Imported { version: 1, bundles: BTreeMap::new() });
    };
    parse_imported(&path, &bytes)
}

/// Parse `imported.json` (the ids of bundles already imported here), errors naming `path`.
pub(crate) fn parse_imported(path: &std::path::Path, bytes: &[u8]) -> Result<Imported> {
    let v: Imported = serde_json::from_slice(bytes).map_err(|e| Error::json(path, &e))?;
    if v.version != 1 {
        return Err(Error::UnknownVersion {
            path: path.into(),
            field: "version",
            found: v.version.to_string(),
            expected: "1",
        });
    }
    Ok(v)
}

/// Open a bundle with this host's identity and plan its import: refuses bundles for other hosts, damaged, expired
/// or already imported ones, and id conflicts without `force` (all before anything is written).
pub fn plan_import(
    vault: &mut Vault,
    paths: &Paths,
    armored: &[u8],
    source: &str,
    agent: Option<&str>,
    renames: &BTreeMap<String, String>,
    force: bool,
) -> Result<ImportPlan> {
    let identity = vault.host_identity()?;
    let b = bundle::open(armored, identity.as_age(), source)?;
    let me = identity.recipient().to_string();
    drop(identity);
    if b.to != me {
        return Err(Error::InvalidInput(format!("{source}: sealed to {}, not to this host ({me})", b.to)));
    }
    let now = now_ms();
    if now > b.expires {
        return Err(Error::InvalidInput(format!(
            "{source}: bundle {} expired {} ago; ask the sender for a new one",
            b.id,
            humantime::format_duration(std::time::Duration::from_secs(((now - b.expires) / 1000) as u64))
        )));
    }
    if load_imported(vault)?.bundles.contains_key(&b.id) {
        return Err(Error::InvalidInput(format!(
            "{source}: bundle {} was imported here before; a bundle is used once (ask the sender for a new one)",
            b.id
        )));
    }
    let agent = agent.unwrap_or(&b.agent).to_string();
    crate::paths::check_agent_id(&agent)?;
    for from in renames.keys() {
        if !b.profiles.iter().any(|p| &p.profile_id == from) {
            return Err(Error::InvalidInput(format!("--rename {from}=…: the bundle has no profile `{from}`")));
        }
    }
    let file = AuthProfiles::load(&paths.auth_profiles(&agent))?;
    let mut items = Vec::new();
    let mut conflicts = Vec::new();
    for p in &b.profiles {
        let kind = CredType::parse(&p.cred_type)
            .ok_or_else(|| Error::InvalidInput(format!("{source}: profile `{}` has an unknown type", p.profile_id)))?;
        profile::check_provider(&p.provider)?;
        let target = renames.get(&p.profile_id).cloned().unwrap_or_else(|| p.profile_id.clone());
        let sid = SecretId::for_profile(&agent, &target)?;
        if items.iter().any(|i: &Planned| i.profile_id == target) {
            return Err(Error::InvalidInput(format!("two profiles of the bundle would both become `{target}`")));
        }
        let secret = SecretString::from(p.secret.as_str().to_owned());
        crate::secret::check_characters(secret.expose_secret())?;
        profile::check_secret(&p.provider, kind, &secret)?;
        let exists = file.get(&target).is_some()
            || vault.index.secrets.get(sid.as_str()).is_some_and(|e| e.kind == EntryKind::Profile);
        if exists && !force {
            conflicts.push(target.clone());
        }
        items.push(Planned {
            from_profile: p.profile_id.clone(),
            profile_id: target,
            provider: p.provider.clone(),
            cred_type: p.cred_type.clone(),
            action: if exists { "replace" } else { "add" },
            secret: crate::secret::describe(&secret),
        });
    }
    if !conflicts.is_empty() {
        return Err(Error::DuplicateProfile { agent: agent.clone(), profile: conflicts.join("`, `") });
    }
    let from_fingerprint = bundle::parse_recipient(&b.from)
        .map(|r| crate::vault::host::fingerprint(&r))
        .unwrap_or_else(|_| "(not a recipient)".into());
    Ok(ImportPlan {
        id: b.id.clone(),
        from: b.from.clone(),
        from_fingerprint,
        expires: b.expires,
        agent,
        items,
        bundle: b,
    })
}

/// Carry out a plan: mark the bundle used (first, so it can never be imported twice), then store each profile and
/// write its reference as `models auth add` does.
pub fn import(vault: &mut Vault, paths: &Paths, plan: ImportPlan) -> Result<Vec<profile::Added>> {
    {
        let _lock = vault.lock()?;
        let mut imported = load_imported(vault)?;
        if imported.bundles.contains_key(&plan.id) {
            return Err(Error::InvalidInput(format!("bundle {} was imported here before", plan.id)));
        }
        let now = now_ms();
        imported.bundles.retain(|_, exp| *exp >= now);
        imported.bundles.insert(plan.id.clone(), plan.expires);
        imported.version = 1;
        crate::fs::write_json(&imported_path(vault), &imported)?;
    }
    let mut added = Vec::new();
    for (p, item) in plan.bundle.profiles.iter().zip(&plan.items) {
        added.push(profile::add(
            vault,
            paths,
            NewCredential {
                agent: plan.agent.clone(),
                provider: p.provider.clone(),
                profile_id: item.profile_id.clone(),
                kind: CredType::parse(&p.cred_type).expect("checked in the plan"),
                secret: SecretString::from(p.secret.as_str().to_owned()),
                expires: p.expires,
                email: p.email.clone(),
                force: item.action == "replace",
            },
        )?);
    }
    Ok(added)
}
