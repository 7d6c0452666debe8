//! A shared file store's recipients: `recipients.json` lists the hosts (name, `age1…` recipient) every secret is
//! encrypted to, besides the writing host's own recipient, and the hosts removed so far with the secrets each could
//! read. `recipients add`/`remove` change the list and re-encrypt every secret file ([`reseal`]), atomically per
//! file and resumably: `reseal.json` (local, never shared) records the target and the files done, so a second run
//! finishes an interrupted job. Formats in docs/formats.md.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::str::FromStr;

use age::x25519;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::secret::SecretId;
use crate::vault::{Vault, VaultFiles, now_ms};

/// `recipients.json` in the clawkeep dir (shared).
pub const FILE: &str = "recipients.json";
/// `reseal.json` in the clawkeep dir (this host only): an unfinished re-encryption.
pub const JOURNAL: &str = "reseal.json";
/// Index entry field: the recipients a secret file was last encrypted to (sorted `age1…` strings).
pub const SEALED_TO: &str = "sealedTo";
/// From this many secrets on, a re-encryption shows a progress bar (on a terminal).
const PROGRESS_FROM: usize = 20;

/// One member host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// A name people recognise (`laptop`, `vps`).
    pub name: String,
    /// Its `age1…` recipient.
    pub recipient: String,
    /// When it was added (ms since the epoch).
    pub added: i64,
}

/// A removed host and what it could read when it was removed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Removed {
    /// Its name.
    pub name: String,
    /// Its recipient.
    pub recipient: String,
    /// When it was removed (ms since the epoch).
    pub removed: i64,
    /// Secret id → that secret's `updated` time when the host was removed. A secret still stored with the same
    /// `updated` time has not been rotated since: the removed host may hold its value.
    #[serde(default)]
    pub could_read: BTreeMap<String, i64>,
}

/// `recipients.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Recipients {
    /// Format version (1).
    pub version: u32,
    /// The member hosts.
    pub recipients: Vec<Member>,
    /// Hosts removed so far.
    #[serde(default)]
    pub removed: Vec<Removed>,
}

impl Default for Recipients {
    fn default() -> Self {
        Recipients { version: 1, recipients: Vec::new(), removed: Vec::new() }
    }
}

/// Path of `recipients.json`.
pub fn path(files: &VaultFiles) -> PathBuf {
    files.dir.join(FILE)
}

/// Parse an `age1…` recipient named in `field` of `source`.
pub fn parse_recipient(s: &str, source: &str) -> Result<x25519::Recipient> {
    x25519::Recipient::from_str(s.trim()).map_err(|_| {
        Error::InvalidInput(format!(
            "{source}: `{}` is not an age X25519 recipient (age1…); get it with `clawkeep recipient` on that host",
            s.trim().chars().take(80).collect::<String>().escape_debug()
        ))
    })
}

/// Check a host name: 1–64 of `A-Za-z0-9._-`, not starting with `-`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "host name `{}`: use 1-64 letters, digits, `.`, `_` or `-` (e.g. laptop, vps-1)",
            name.chars().take(80).collect::<String>().escape_debug()
        )))
    }
}

impl Recipients {
    /// Parse and validate `bytes` read from `path`.
    pub fn parse(bytes: &[u8], path: &std::path::Path) -> Result<Recipients> {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| Error::json(path, &e))?;
        Error::check_version_1(path, v.get("version"))?;
        // No secret in this file: serde's messages may quote it.
        let r: Recipients = serde_json::from_value(v).map_err(|e| Error::InvalidField {
            path: path.into(),
            field: "recipients".into(),
            message: e.to_string(),
        })?;
        for (i, m) in r.recipients.iter().enumerate() {
            let bad =
                |message: String| Error::InvalidField { path: path.into(), field: format!("recipients[{i}]"), message };
            check_name(&m.name).map_err(|e| bad(e.to_string()))?;
            x25519::Recipient::from_str(&m.recipient)
                .map_err(|_| bad("`recipient` is not an age X25519 recipient (age1…)".into()))?;
        }
        Ok(r)
    }

    /// Read `recipients.json`; `None` when the store is not shared.
    pub fn load(files: &VaultFiles) -> Result<Option<Recipients>> {
        let p = path(files);
        crate::fs::check_file(&p, false)?;
        match crate::fs::read_optional(&p)? {
            Some(bytes) => Recipients::parse(&bytes, &p).map(Some),
            None => Ok(None),
        }
    }

    /// Write atomically.
    pub fn save(&self, files: &VaultFiles) -> Result<()> {
        crate::fs::write_json(&path(files), self)
    }

    /// The member recipients, parsed.
    pub fn parsed(&self) -> Vec<x25519::Recipient> {
        self.recipients.iter().filter_map(|m| x25519::Recipient::from_str(&m.recipient).ok()).collect()
    }

    /// The member named `name` or with recipient `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.recipients.iter().position(|m| m.name == name || m.recipient == name.trim())
    }
}

/// A secret a removed host may still hold (it has not been rotated since the host was removed).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exposed {
    /// The removed host's name.
    pub host: String,
    /// When it was removed.
    pub removed: i64,
    /// The secret id.
    pub secret_id: String,
    /// Agent, if a profile.
    pub agent: Option<String>,
    /// Profile id, if a profile.
    pub profile_id: Option<String>,
}

/// Secrets that removed hosts could read and that have not been rotated since (store them again to rotate).
pub fn exposed(vault: &Vault) -> Result<Vec<Exposed>> {
    let Some(r) = Recipients::load(&vault.files)? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for gone in &r.removed {
        // A host added back later reads everything again anyway: its old removal is moot.
        if r.recipients.iter().any(|m| m.recipient == gone.recipient) {
            continue;
        }
        for (id, updated) in &gone.could_read {
            if let Some(e) = vault.index.secrets.get(id)
                && e.updated == *updated
            {
                out.push(Exposed {
                    host: gone.name.clone(),
                    removed: gone.removed,
                    secret_id: id.clone(),
                    agent: e.agent.clone(),
                    profile_id: e.profile_id.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// The recipients an index entry says its file is encrypted to.
pub fn sealed_to(entry: &crate::vault::IndexEntry) -> Option<Vec<String>> {
    let v = entry.extra.get(SEALED_TO)?.as_array()?;
    Some(v.iter().filter_map(|x| x.as_str().map(String::from)).collect())
}

/// `reseal.json`: an unfinished re-encryption.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Journal {
    version: u32,
    /// What started it (`add vps`, `remove vps`, `sync`).
    reason: String,
    /// The recipients every file is being encrypted to (sorted).
    to: Vec<String>,
    /// When it started.
    started: i64,
    /// Secret ids whose file is done.
    done: Vec<String>,
}

fn journal_path(files: &VaultFiles) -> PathBuf {
    files.dir.join(JOURNAL)
}

fn load_journal(files: &VaultFiles) -> Result<Option<Journal>> {
    let p = journal_path(files);
    let Some(bytes) = crate::fs::read_private(&p)? else { return Ok(None) };
    let j: Journal = serde_json::from_slice(&bytes).map_err(|e| Error::json(&p, &e))?;
    if j.version != 1 {
        return Err(Error::UnknownVersion { path: p, field: "version", found: j.version.to_string(), expected: "1" });
    }
    Ok(Some(j))
}

/// Whether a re-encryption was interrupted (a second `recipients add`/`remove`, or `sync`, finishes it).
pub fn pending(files: &VaultFiles) -> Result<Option<String>> {
    Ok(load_journal(files)?.map(|j| j.reason))
}

/// What a re-encryption did.
#[derive(Debug, Default)]
pub struct Resealed {
    /// Files re-encrypted.
    pub files: usize,
    /// Secrets this host cannot read (not encrypted to it), left as they are: another member re-encrypts them.
    pub unreadable: Vec<String>,
    /// Whether an interrupted job was finished.
    pub resumed: bool,
}

/// Re-encrypt secret files to the current recipients (this host's own plus `recipients.json`'s), atomically per
/// file, recording progress in `reseal.json` so a second run finishes an interrupted job. `all`: every file (after
/// the list changed); otherwise only files whose index entry says they are encrypted to another set (after a sync
/// merged secrets written concurrently with a change of the list). The caller holds the vault lock and has re-read
/// the index; the index is saved here.
pub fn reseal(vault: &mut Vault, reason: &str, all: bool) -> Result<Resealed> {
    let me = vault.host_recipient()?.to_string();
    let Some(target) = vault.sealed_to() else {
        return Err(Error::InvalidInput("this store is not shared: it has no recipients.json".into()));
    };
    let mut out = Resealed::default();
    let (mut journal, all) = match load_journal(&vault.files)? {
        Some(j) => {
            out.resumed = true;
            if j.to == target {
                (j, true)
            } else {
                // The list changed since: every file must be encrypted to the new one.
                (Journal { to: target.clone(), done: Vec::new(), ..j }, true)
            }
        }
        None => (
            Journal { version: 1, reason: reason.into(), to: target.clone(), started: now_ms(), done: Vec::new() },
            all,
        ),
    };
    // Every file present, and every indexed secret (a file may be missing: then there is nothing to do for it).
    let mut ids: Vec<SecretId> = vault.listed_in_store()?;
    for id in vault.index.secrets.keys() {
        if let Ok(sid) = SecretId::parse(id)
            && !ids.contains(&sid)
            && vault.present_in_store(&sid)?
        {
            ids.push(sid);
        }
    }
    let todo: Vec<SecretId> = ids
        .into_iter()
        .filter(|id| !journal.done.iter().any(|d| d == id.as_str()))
        .filter(|id| {
            let entry = vault.index.secrets.get(id.as_str());
            match entry.and_then(sealed_to) {
                // This host cannot decrypt it: a member it is encrypted to must re-encrypt it.
                Some(s) if !s.contains(&me) => {
                    out.unreadable.push(id.to_string());
                    false
                }
                Some(s) => all || s != target,
                None => all || entry.is_some(),
            }
        })
        .collect();
    if todo.is_empty() && !out.resumed {
        set_sealed(vault, &target, &journal.done);
        vault.save_index()?;
        return Ok(out);
    }
    // The passphrase first: a job that cannot decrypt must not leave a journal behind.
    vault.unlock()?;
    crate::fs::write_json(&journal_path(&vault.files), &journal)?;
    let bar = (todo.len() >= PROGRESS_FROM && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(todo.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("re-encrypting {bar:40} {pos}/{len} secrets ({eta} left)")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.tick();
        b
    });
    for (n, id) in todo.iter().enumerate() {
        let secret = vault.get_raw(id)?;
        vault.put_raw(id, &secret)?;
        drop(secret);
        journal.done.push(id.to_string());
        out.files += 1;
        crate::fs::crash_point(&format!("reseal-after-{}", n + 1));
        crate::fs::write_json(&journal_path(&vault.files), &journal)?;
        pause_point(&format!("reseal-paused-{}", n + 1));
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let done = journal.done.clone();
    set_sealed(vault, &target, &done);
    vault.save_index()?;
    let p = journal_path(&vault.files);
    std::fs::remove_file(&p).map_err(|e| Error::io(&p, "removing", e))?;
    Ok(out)
}

/// A test hook: with `CLAWKEEP_TEST_PAUSE_AT` equal to `label`, stop here for ever, so a test can `kill -9` the
/// process at a known point (tests/sync.rs). Unset (always, in normal use), it does nothing.
fn pause_point(label: &str) {
    if std::env::var_os("CLAWKEEP_TEST_PAUSE_AT").is_some_and(|v| v == label) {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}

/// Record in the index that `done` (and, when nothing was left to do, the entries already matching) are sealed to
/// `target`.
fn set_sealed(vault: &mut Vault, target: &[String], done: &[String]) {
    let value = serde_json::json!(target);
    for id in done {
        if let Some(e) = vault.index.secrets.get_mut(id) {
            e.extra.insert(SEALED_TO.into(), value.clone());
        }
    }
}

/// What `recipients add` did.
pub struct Changed {
    /// Whether the list changed (false: the recipient was already there / already gone).
    pub changed: bool,
    /// The re-encryption.
    pub resealed: Resealed,
}

/// This host's default name: the kernel's host name, else `host`.
pub fn default_host_name() -> String {
    crate::fs::read_proc(std::path::Path::new("/proc/sys/kernel/hostname"))
        .map(|s| s.trim().chars().filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c)).take(64).collect())
        .filter(|s: &String| !s.is_empty() && !s.starts_with('-'))
        .unwrap_or_else(|| "host".into())
}

/// Make the store shared if it is not yet: `recipients.json` with this host as its first member, and every index
/// entry marked as encrypted to this host alone (what the file store wrote so far). Caller holds the lock.
pub fn ensure_shared(vault: &mut Vault, self_name: Option<&str>) -> Result<Recipients> {
    if let Some(r) = Recipients::load(&vault.files)? {
        return Ok(r);
    }
    if vault.backend() != crate::vault::Backend::File {
        return Err(Error::InvalidInput(format!(
            "only the file store can be shared between hosts (this vault uses the {} store); move single tokens with \
             `clawkeep export --to`",
            vault.backend()
        )));
    }
    let me = vault.host_recipient()?.to_string();
    let name = self_name.map(String::from).unwrap_or_else(default_host_name);
    check_name(&name)?;
    let r = Recipients {
        version: 1,
        recipients: vec![Member { name, recipient: me.clone(), added: now_ms() }],
        removed: Vec::new(),
    };
    let mine = serde_json::json!([me]);
    for e in vault.index.secrets.values_mut() {
        if e.store == crate::vault::Backend::File && !e.extra.contains_key(SEALED_TO) {
            e.extra.insert(SEALED_TO.into(), mine.clone());
        }
    }
    vault.save_index()?;
    r.save(&vault.files)?;
    vault.reload_recipients()?;
    Ok(r)
}

/// `recipients add`: list `recipient` as `name` and re-encrypt every secret to it. Finishes an interrupted job
/// first. Caller holds nothing; the lock is taken here.
pub fn add(vault: &mut Vault, recipient: &str, name: &str) -> Result<Changed> {
    let r = parse_recipient(recipient, "recipients add")?;
    check_name(name)?;
    let _lock = vault.lock()?;
    let was_pending = load_journal(&vault.files)?.is_some();
    let mut list = ensure_shared(vault, None)?;
    let rs = r.to_string();
    let changed = match list.recipients.iter().find(|m| m.recipient == rs || m.name == name) {
        Some(m) if m.recipient == rs && m.name == name => false,
        Some(m) if m.recipient == rs => {
            return Err(Error::InvalidInput(format!(
                "{rs} is already a recipient, named `{}`; remove it first to rename it",
                m.name
            )));
        }
        Some(m) => {
            return Err(Error::InvalidInput(format!(
                "the name `{}` is taken by {}; choose another --name or remove that one first",
                name, m.recipient
            )));
        }
        None => {
            // Journal first, so an interruption after the list changed is finished by the next run.
            write_start(vault, &format!("add {name}"))?;
            list.recipients.push(Member { name: name.into(), recipient: rs.clone(), added: now_ms() });
            list.removed.retain(|g| g.recipient != rs);
            list.save(&vault.files)?;
            vault.reload_recipients()?;
            true
        }
    };
    let mut resealed = reseal(vault, &format!("add {name}"), changed)?;
    resealed.resumed = was_pending;
    Ok(Changed { changed, resealed })
}

/// Start a journal for the list about to be written (its target is fixed by `reseal`).
fn write_start(vault: &Vault, reason: &str) -> Result<()> {
    if load_journal(&vault.files)?.is_some() {
        return Ok(());
    }
    let j = Journal { version: 1, reason: reason.into(), to: Vec::new(), started: now_ms(), done: Vec::new() };
    crate::fs::write_json(&journal_path(&vault.files), &j)
}

/// `recipients remove`: drop a host from the list, record what it could read, and re-encrypt every secret without
/// it. This host's own recipient cannot be removed here (remove it from another member).
pub fn remove(vault: &mut Vault, which: &str) -> Result<(Member, Changed)> {
    let _lock = vault.lock()?;
    let Some(mut list) = Recipients::load(&vault.files)? else {
        return Err(Error::NotFound("this store is not shared: it has no recipients to remove".into()));
    };
    let me = vault.host_recipient()?.to_string();
    let was_pending = load_journal(&vault.files)?.is_some();
    let Some(i) = list.find(which) else {
        // Already removed (a second run after an interruption): finish the job.
        if let Some(g) = list.removed.iter().find(|g| g.name == which || g.recipient == which.trim()).cloned() {
            let resealed = reseal(vault, &format!("remove {}", g.name), false)?;
            let m = Member { name: g.name, recipient: g.recipient, added: 0 };
            return Ok((m, Changed { changed: false, resealed }));
        }
        return Err(Error::NotFound(format!(
            "`{which}` is not a recipient of this store (see `clawkeep recipients list`)"
        )));
    };
    if list.recipients[i].recipient == me {
        return Err(Error::InvalidInput(
            "that is this host's own recipient; remove this host from another member's clawkeep".into(),
        ));
    }
    let gone = list.recipients.remove(i);
    let could_read = vault
        .index
        .secrets
        .iter()
        .filter(|(_, e)| sealed_to(e).is_none_or(|s| s.contains(&gone.recipient)))
        .map(|(id, e)| (id.clone(), e.updated))
        .collect();
    write_start(vault, &format!("remove {}", gone.name))?;
    list.removed.retain(|g| g.recipient != gone.recipient);
    list.removed.push(Removed {
        name: gone.name.clone(),
        recipient: gone.recipient.clone(),
        removed: now_ms(),
        could_read,
    });
    list.save(&vault.files)?;
    vault.reload_recipients()?;
    let mut resealed = reseal(vault, &format!("remove {}", gone.name), true)?;
    resealed.resumed = was_pending;
    Ok((gone, Changed { changed: true, resealed }))
}

/// Finish an interrupted re-encryption, if there is one (takes the lock).
pub fn finish_pending(vault: &mut Vault) -> Result<Option<Resealed>> {
    if load_journal(&vault.files)?.is_none() {
        return Ok(None);
    }
    let _lock = vault.lock()?;
    if load_journal(&vault.files)?.is_none() {
        return Ok(None);
    }
    reseal(vault, "resume", true).map(Some)
}
