//! The vault: the facade commands (and later the service) call. It owns the store, the index and the lock.
//!
//! Files in the clawkeep dir: `vault.json` (which backend), `index.json`, `lock`, and for the file backend
//! `identity.json` (the wrapped identity) and `secrets/*.age`.

pub mod host;
pub mod identity;
pub mod index;
pub mod store;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use index::{EntryKind, Index, IndexEntry, now_ms};
pub use store::{Backend, SecretStore, SharedIdentity};

use crate::error::{Error, Result};
use crate::fs::VaultLock;
use crate::paths::Paths;
use crate::secret::{SecretId, SecretString};
use identity::WrappedIdentity;
use store::{FileStore, KeychainStore};

/// `vault.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultConfig {
    /// Format version (1).
    pub version: u32,
    /// Where secrets live.
    pub backend: Backend,
    /// ms since the epoch.
    pub created: i64,
    /// The vault's id (32 lowercase hex digits, random at `init`). Keychain items are named by it, so two vaults of
    /// one user never share one. Absent in vaults created before ids existed; their items keep the old names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl VaultConfig {
    /// A new vault's config, with a fresh random id.
    pub fn new(backend: Backend) -> Result<VaultConfig> {
        Ok(VaultConfig { version: 1, backend, created: now_ms(), id: Some(new_vault_id()?) })
    }

    fn check_id(&self, path: &std::path::Path) -> Result<()> {
        match &self.id {
            Some(id) if !valid_vault_id(id) => Err(Error::InvalidField {
                path: path.into(),
                field: "id".into(),
                message: "must be 32 lowercase hex digits (the vault id chosen at `init`)".into(),
            }),
            _ => Ok(()),
        }
    }
}

/// 16 random bytes, hex.
pub fn new_vault_id() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::Internal(format!("no randomness for the vault id: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Whether `id` is a vault id: 32 lowercase hex digits.
pub fn valid_vault_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// Files of the clawkeep dir.
#[derive(Debug, Clone)]
pub struct VaultFiles {
    /// The clawkeep dir.
    pub dir: PathBuf,
    /// `vault.json`.
    pub config: PathBuf,
    /// `index.json`.
    pub index: PathBuf,
    /// `identity.json` (file backend).
    pub identity: PathBuf,
    /// `secrets/` (file backend).
    pub secrets: PathBuf,
    /// `lock`.
    pub lock: PathBuf,
}

impl VaultFiles {
    /// The layout under `paths.clawkeep_dir`.
    pub fn new(paths: &Paths) -> Self {
        let dir = paths.clawkeep_dir.clone();
        VaultFiles {
            config: dir.join("vault.json"),
            index: dir.join("index.json"),
            identity: dir.join("identity.json"),
            secrets: dir.join("secrets"),
            lock: dir.join("lock"),
            dir,
        }
    }
}

/// What opening a vault reads from its files, checked and parsed.
#[derive(Clone)]
struct Parts {
    files: VaultFiles,
    config: VaultConfig,
    index: Index,
    /// The file store's wrapped identity.
    wrapped: Option<WrappedIdentity>,
    /// The other hosts' recipients of a shared file store.
    shared: Option<Vec<age::x25519::Recipient>>,
}

/// What says a file is unchanged: everything `lstat` tells that a rewrite, chmod, chown or swap would change.
type Stamp = (u64, u64, u64, u32, u32, u64, i64, i64, i64, i64);

fn stamp(path: &std::path::Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).ok()?;
    Some((
        m.dev(),
        m.ino(),
        m.size(),
        m.mode(),
        m.uid(),
        m.nlink(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    ))
}

impl Parts {
    fn stamps(files: &VaultFiles) -> Vec<Option<Stamp>> {
        let recipients = crate::transfer::recipients::path(files);
        [&files.dir, &files.config, &files.index, &files.identity, &files.secrets, &recipients]
            .into_iter()
            .map(|p| stamp(p))
            .collect()
    }

    fn read(files: VaultFiles) -> Result<Parts> {
        crate::fs::check_dir(&files.dir)?;
        crate::fs::check_file(&files.config, true)?;
        let Some(raw) = crate::fs::read_optional(&files.config)? else {
            return Err(Error::NotInitialized(files.dir));
        };
        let config: VaultConfig = parse_json(&files.config, &raw)?;
        if config.version != 1 {
            return Err(Error::UnknownVersion {
                path: files.config,
                field: "version",
                found: config.version.to_string(),
                expected: "1",
            });
        }
        config.check_id(&files.config)?;
        let index = Index::load(&files.index)?.ok_or_else(|| Error::Corrupt {
            path: files.index.clone(),
            what: "the index (it is missing; `clawkeep doctor --fix` rebuilds it)".into(),
        })?;
        let (mut wrapped, mut shared) = (None, None);
        if config.backend == Backend::File {
            crate::fs::check_file(&files.identity, true)?;
            let raw = crate::fs::read_optional(&files.identity)?.ok_or_else(|| Error::Corrupt {
                path: files.identity.clone(),
                what: "the wrapped identity (it is missing)".into(),
            })?;
            wrapped = Some(parse_json::<WrappedIdentity>(&files.identity, &raw)?);
            shared = crate::transfer::recipients::Recipients::load(&files)?.map(|r| r.parsed());
        }
        Ok(Parts { files, config, index, wrapped, shared })
    }
}

enum Store {
    File(Box<FileStore>),
    Keychain(KeychainStore),
}

impl Store {
    fn as_dyn(&self) -> &dyn SecretStore {
        match self {
            Store::File(s) => &**s,
            Store::Keychain(s) => s,
        }
    }
}

/// Supplies a passphrase on demand (the CLI reads `CLAWKEEP_PASSPHRASE_FILE` or prompts).
pub type PassphraseFn = store::PassphraseFn;

/// An opened vault.
pub struct Vault {
    /// Its files.
    pub files: VaultFiles,
    /// `vault.json`.
    pub config: VaultConfig,
    /// The index as last read.
    pub index: Index,
    store: Store,
}

impl Vault {
    /// Whether a vault exists in the clawkeep dir.
    pub fn exists(paths: &Paths) -> bool {
        VaultFiles::new(paths).config.exists()
    }

    /// What in the clawkeep dir belongs to a vault other than `vault.json`: `identity.json`, an `index.json` that
    /// records a secret (or cannot be read), a non-empty `secrets/`. Empty when nothing would be lost by creating a
    /// vault there.
    pub fn remnants(paths: &Paths) -> Vec<&'static str> {
        let files = VaultFiles::new(paths);
        let mut found = Vec::new();
        if std::fs::symlink_metadata(&files.identity).is_ok() {
            found.push("identity.json");
        }
        if std::fs::symlink_metadata(&files.index).is_ok()
            && Index::load(&files.index).map_or(true, |i| i.is_none_or(|i| !i.secrets.is_empty()))
        {
            found.push("index.json");
        }
        if std::fs::read_dir(&files.secrets).is_ok_and(|mut rd| rd.next().is_some()) {
            found.push("secrets/");
        }
        found
    }

    /// Refuse to create a vault where one exists, whole ([`Error::AlreadyInitialized`]) or without its
    /// `vault.json` ([`Error::VaultWithoutConfig`]): a new identity would make every stored secret undecryptable.
    pub fn check_can_create(paths: &Paths) -> Result<()> {
        let files = VaultFiles::new(paths);
        if std::fs::symlink_metadata(&files.config).is_ok() {
            return Err(Error::AlreadyInitialized(files.dir));
        }
        let found = Vault::remnants(paths);
        if !found.is_empty() {
            return Err(Error::VaultWithoutConfig { dir: files.dir, found: found.join(", ") });
        }
        Ok(())
    }

    /// The backend a vault whose `vault.json` is missing used, inferred from its files: `identity.json` means the
    /// file store; otherwise the one store every index entry names. `None` when the files do not say.
    pub fn infer_backend(paths: &Paths) -> Option<Backend> {
        let files = VaultFiles::new(paths);
        if std::fs::symlink_metadata(&files.identity).is_ok() {
            return Some(Backend::File);
        }
        if std::fs::read_dir(&files.secrets).is_ok_and(|mut rd| rd.next().is_some()) {
            return None;
        }
        let index = Index::load(&files.index).ok()??;
        let mut stores = index.secrets.values().map(|e| e.store);
        let first = stores.next()?;
        stores.all(|b| b == first).then_some(first)
    }

    /// Write a missing `vault.json` again for the backend [`Vault::infer_backend`] found (`doctor --fix`). Never
    /// touches the identity, the index or a secret.
    pub fn rebuild_config(paths: &Paths) -> Result<Backend> {
        let files = VaultFiles::new(paths);
        crate::fs::check_dir(&files.dir)?;
        let _lock = VaultLock::acquire(&files.lock)?;
        if std::fs::symlink_metadata(&files.config).is_ok() {
            return Err(Error::AlreadyInitialized(files.dir));
        }
        let backend = Vault::infer_backend(paths).ok_or_else(|| {
            Error::InvalidInput(format!(
                "{}: vault.json is missing and the files there do not show which store the vault used",
                files.dir.display()
            ))
        })?;
        // The vault id names the keychain items: it comes back from the index's copy. Without one, a keychain vault
        // predates ids (its items have the old names); a file store may take a new one (nothing is named by it).
        let recorded = Index::load(&files.index).ok().flatten().and_then(|i| i.vault_id().map(String::from));
        let id = match (recorded, backend) {
            (Some(id), _) if valid_vault_id(&id) => Some(id),
            (_, Backend::File) => Some(new_vault_id()?),
            _ => None,
        };
        crate::fs::write_json(&files.config, &VaultConfig { version: 1, backend, created: now_ms(), id })?;
        Ok(backend)
    }

    /// Create a vault. `passphrase` is required for the file backend. Refuses where a vault (or what is left of
    /// one) exists.
    pub fn init(paths: &Paths, backend: Backend, passphrase: Option<&SecretString>) -> Result<()> {
        let files = VaultFiles::new(paths);
        crate::fs::ensure_private_dir(&files.dir)?;
        let _lock = VaultLock::acquire(&files.lock)?;
        Vault::check_can_create(paths)?;
        if backend == Backend::File {
            let pass = passphrase.ok_or_else(|| Error::Internal("file backend needs a passphrase".into()))?;
            let (wrapped, _identity) = WrappedIdentity::generate(pass)?;
            crate::fs::write_json(&files.identity, &wrapped)?;
            crate::fs::ensure_private_dir(&files.secrets)?;
        }
        let config = VaultConfig::new(backend)?;
        if !files.index.exists() {
            let mut index = Index::default();
            index.extra.insert(index::VAULT_ID.into(), config.id.clone().into());
            index.save(&files.index)?;
        }
        crate::fs::write_json(&files.config, &config)
    }

    /// Open the vault. The passphrase function is only called if a secret must be decrypted.
    pub fn open(paths: &Paths, passphrase: PassphraseFn) -> Result<Vault> {
        Vault::assemble(Parts::read(VaultFiles::new(paths))?, passphrase)
    }

    /// [`open`](Self::open) for a long-running process (the service): what the last open read is used again while
    /// none of the files it read (`vault.json`, `index.json`, `identity.json`, `recipients.json`, and the directory
    /// itself) changed inode, size, mode, owner, link count, mtime or ctime since. Each file is looked at before it
    /// is read, so a change during a read is seen by the next open. Checks and errors are those of `open`.
    pub fn open_cached(paths: &Paths, passphrase: PassphraseFn) -> Result<Vault> {
        static CACHE: std::sync::Mutex<Option<(Vec<Option<Stamp>>, Parts)>> = std::sync::Mutex::new(None);
        let files = VaultFiles::new(paths);
        let stamps = Parts::stamps(&files);
        {
            let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((s, parts)) = cache.as_ref()
                && *s == stamps
                && parts.files.dir == files.dir
            {
                let parts = parts.clone();
                drop(cache);
                return Vault::assemble(parts, passphrase);
            }
        }
        let parts = Parts::read(files)?;
        *CACHE.lock().unwrap_or_else(|e| e.into_inner()) = Some((stamps, parts.clone()));
        Vault::assemble(parts, passphrase)
    }

    fn assemble(parts: Parts, passphrase: PassphraseFn) -> Result<Vault> {
        let Parts { files, config, index, wrapped, shared } = parts;
        let store = match (config.backend, wrapped) {
            (Backend::File, Some(wrapped)) => {
                let mut f = FileStore::open(files.secrets.clone(), files.identity.clone(), wrapped, passphrase)?;
                f.set_shared(shared);
                Store::File(Box::new(f))
            }
            (Backend::File, None) => return Err(Error::Internal("the file store's identity was not read".into())),
            (b, _) => Store::Keychain(KeychainStore::new(b, config.id.as_deref())?),
        };
        Ok(Vault { files, config, index, store })
    }

    /// Open the vault for the service: file-store reads use `identity` when given, and fail with
    /// [`Error::VaultLocked`] otherwise (the service never prompts).
    pub fn open_unlocked(paths: &Paths, identity: Option<SharedIdentity>) -> Result<Vault> {
        let vault = Vault::open_cached(paths, Box::new(|| Err(Error::VaultLocked)))?;
        if let (Store::File(f), Some(id)) = (&vault.store, identity) {
            f.set_identity(id);
        }
        Ok(vault)
    }

    /// Unwrap the file store's identity (asking for the passphrase as the vault was opened to) and return it for
    /// keeping; `None` for keychain backends, which need no unlock.
    pub fn unlocked_identity(&self) -> Result<Option<SharedIdentity>> {
        match &self.store {
            Store::File(f) => f.unlock().map(|id| Some(id.clone())),
            Store::Keychain(_) => Ok(None),
        }
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.config.backend
    }

    /// Take the vault lock and re-read the index, so changes start from what is on disk now.
    pub fn lock(&mut self) -> Result<VaultLock> {
        let lock = VaultLock::acquire(&self.files.lock)?;
        if let Some(index) = Index::load(&self.files.index)? {
            self.index = index;
        }
        Ok(lock)
    }

    /// Save the index (caller holds the lock). It carries a copy of the vault id (`vaultId`), so that a lost
    /// `vault.json` of a keychain vault can be rebuilt with the names its items have.
    pub fn save_index(&self) -> Result<()> {
        match &self.config.id {
            Some(id) if !self.index.extra.contains_key(index::VAULT_ID) => {
                let mut index = self.index.clone();
                index.extra.insert(index::VAULT_ID.into(), id.clone().into());
                index.save(&self.files.index)
            }
            _ => self.index.save(&self.files.index),
        }
    }

    /// Store a secret and record it in the index (caller holds the lock and saves the index).
    pub fn put(&mut self, id: &SecretId, secret: &SecretString, mut entry: IndexEntry) -> Result<()> {
        self.store.as_dyn().put(id, secret)?;
        // A shared file store records whom the file is encrypted to (see crate::transfer::recipients).
        if let Some(to) = self.sealed_to() {
            entry.extra.insert(crate::transfer::recipients::SEALED_TO.into(), serde_json::json!(to));
        }
        let now = now_ms();
        entry.store = self.config.backend;
        entry.updated = now;
        entry.created = self.index.secrets.get(id.as_str()).map(|e| e.created).unwrap_or(now);
        self.index.secrets.insert(id.to_string(), entry);
        Ok(())
    }

    /// Fetch a secret (may ask for the passphrase).
    pub fn get(&self, id: &SecretId) -> Result<SecretString> {
        // A shared store's secret that is not encrypted to this host yet: say what to do, not "corrupt".
        if let Store::File(f) = &self.store
            && let Some(to) = self.index.secrets.get(id.as_str()).and_then(crate::transfer::recipients::sealed_to)
            && !to.contains(&f.recipient().to_string())
        {
            return Err(Error::NotFound(format!(
                "`{id}` is not encrypted to this host yet: a member runs `clawkeep recipients add {} --name <this \
                 host> && clawkeep sync`, then `clawkeep sync` here",
                f.recipient()
            )));
        }
        self.get_raw(id)
    }

    /// Fetch a secret from the store as it is, without the shared-store check of [`Vault::get`].
    pub fn get_raw(&self, id: &SecretId) -> Result<SecretString> {
        self.store.as_dyn().get(id)?.ok_or_else(|| Error::SecretMissing(id.to_string()))
    }

    /// Write a secret's file again (re-encrypting it to the current recipients); the index is not touched.
    pub fn put_raw(&self, id: &SecretId, secret: &SecretString) -> Result<()> {
        self.store.as_dyn().put(id, secret)
    }

    /// A shared file store's recipients (this host's and `recipients.json`'s, sorted); `None` when not shared.
    pub fn sealed_to(&self) -> Option<Vec<String>> {
        match &self.store {
            Store::File(f) => f.sealed_to(),
            Store::Keychain(_) => None,
        }
    }

    /// The file store's own recipient (`None` for keychains), without creating anything.
    pub fn own_recipient(&self) -> Option<age::x25519::Recipient> {
        match &self.store {
            Store::File(f) => Some(f.recipient().clone()),
            Store::Keychain(_) => None,
        }
    }

    /// Read the index again (caller holds the lock; e.g. after git changed it).
    pub fn reload_index(&mut self) -> Result<()> {
        if let Some(index) = Index::load(&self.files.index)? {
            self.index = index;
        }
        Ok(())
    }

    /// Read `recipients.json` again (after it changed).
    pub fn reload_recipients(&mut self) -> Result<()> {
        if let Store::File(f) = &mut self.store {
            f.set_shared(crate::transfer::recipients::Recipients::load(&self.files)?.map(|r| r.parsed()));
        }
        Ok(())
    }

    /// Remove a secret and its index entry (caller holds the lock and saves the index).
    pub fn remove(&mut self, id: &SecretId) -> Result<bool> {
        let existed = self.store.as_dyn().delete(id)?;
        Ok(self.index.secrets.remove(id.as_str()).is_some() || existed)
    }

    /// Whether a secret is present, without a passphrase or a keychain round trip: the index says so and, for the
    /// file store, its file exists.
    pub fn has(&self, id: &SecretId) -> bool {
        self.index.secrets.contains_key(id.as_str())
            && match &self.store {
                Store::File(f) => f.contains(id),
                Store::Keychain(_) => true,
            }
    }

    /// [`has`](Self::has) for many ids at once: the file store's directory is listed once instead of one `stat`
    /// per id (10,000 profiles: one `getdents` loop rather than 10,000 lookups).
    /// Names in `secrets/` that are not regular files count as present here (reading them fails, and says why); a
    /// directory that cannot be listed falls back to one `has` per id.
    pub fn has_many(&self) -> impl Fn(&SecretId) -> bool + '_ {
        let present = self.present_many();
        move |id: &SecretId| match &self.store {
            Store::File(_) => self.index.secrets.contains_key(id.as_str()) && present(id).unwrap_or(false),
            Store::Keychain(_) => self.has(id),
        }
    }

    /// [`present_in_store`](Self::present_in_store) for many ids at once: the file store's directory is listed once
    /// (names in `secrets/` that are not regular files count as present, as in [`has_many`](Self::has_many)); a
    /// keychain is asked per id.
    pub fn present_many(&self) -> impl Fn(&SecretId) -> Result<bool> + '_ {
        let files: Option<std::collections::HashSet<SecretId>> = match &self.store {
            Store::File(f) => f.list().ok().map(|ids| ids.into_iter().collect()),
            Store::Keychain(_) => None,
        };
        move |id: &SecretId| match &files {
            Some(set) => Ok(set.contains(id)),
            None => self.present_in_store(id),
        }
    }

    /// Whether the store holds an item for `id` under this vault's name that the index does not list (left by an
    /// interrupted `add`, a lost index, or, for a vault without an id, another vault of the same user).
    pub fn holds_unindexed(&self, id: &SecretId) -> Result<bool> {
        Ok(!self.index.secrets.contains_key(id.as_str()) && self.present_in_store(id)?)
    }

    /// Check the store for real (keychain round trip; file store metadata).
    pub fn probe(&self) -> Result<()> {
        self.store.as_dyn().probe()
    }

    /// Whether the secret is really in the store (keychain lookup; file existence for the file store).
    pub fn present_in_store(&self, id: &SecretId) -> Result<bool> {
        match &self.store {
            Store::File(f) => Ok(f.contains(id)),
            Store::Keychain(k) => Ok(k.get(id)?.is_some()),
        }
    }

    /// Ids of secret files in the file store (empty for keychains, which cannot be listed portably).
    pub fn listed_in_store(&self) -> Result<Vec<SecretId>> {
        match &self.store {
            Store::File(f) => f.list(),
            Store::Keychain(_) => Ok(Vec::new()),
        }
    }

    /// Unwrap the file-store identity now (checks the passphrase). No-op for keychains.
    pub fn unlock(&self) -> Result<()> {
        match &self.store {
            Store::File(f) => f.unlock().map(|_| ()),
            Store::Keychain(_) => Ok(()),
        }
    }

    /// Change the file store's passphrase: unwrap with the old one, re-wrap under the new one. Only
    /// `identity.json` changes.
    pub fn change_passphrase(&mut self, new: &SecretString) -> Result<()> {
        let Store::File(f) = &self.store else {
            return Err(Error::InvalidInput(format!(
                "the {} backend has no clawkeep passphrase; change it in your keychain",
                self.config.backend
            )));
        };
        let _lock = VaultLock::acquire(&self.files.lock)?;
        let identity = f.unlock()?;
        let wrapped = identity::wrap(identity, new)?;
        crate::fs::write_json(&self.files.identity, &wrapped)
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(path: &std::path::Path, raw: &[u8]) -> Result<T> {
    let v: serde_json::Value = serde_json::from_slice(raw).map_err(|e| Error::json(path, &e))?;
    serde_json::from_value(v).map_err(|e| Error::Corrupt { path: path.into(), what: format!("its content ({e})") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_ids_are_random_32_hex_digits_and_others_are_refused() {
        let (a, b) = (new_vault_id().unwrap(), new_vault_id().unwrap());
        assert!(valid_vault_id(&a) && valid_vault_id(&b), "{a} {b}");
        assert_ne!(a, b);
        for bad in ["", "0123", "0123456789ABCDEF0123456789abcdef", "0123456789abcdef0123456789abcdeg", "../x"] {
            assert!(!valid_vault_id(bad), "{bad}");
        }
        let cfg = VaultConfig { version: 1, backend: Backend::Keyutils, created: 0, id: Some("x@y".into()) };
        let err = cfg.check_id(std::path::Path::new("/v/vault.json")).unwrap_err();
        assert!(err.to_string().contains("id") && err.exit_code() == 65, "{err}");
        // A vault from before ids existed has none, and keeps working.
        let old: VaultConfig = serde_json::from_str(r#"{"version":1,"backend":"keychain","created":1}"#).unwrap();
        assert!(old.id.is_none() && old.check_id(std::path::Path::new("/v")).is_ok());
    }
}
