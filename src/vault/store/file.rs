//! The age file store: `<clawkeep dir>/secrets/<hex id>.age`, each encrypted to the vault's X25519 recipient.
//! Writing needs only the recipient; reading unwraps the identity with the passphrase (asked once, lazily).

use std::cell::OnceCell;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use age::x25519;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::{Backend, SecretStore};
use crate::error::{Error, Result};
use crate::secret::SecretId;
use crate::vault::identity::WrappedIdentity;

/// The unwrapped identity, on locked memory, shareable with the vault service's requests.
pub type SharedIdentity = std::sync::Arc<crate::memory::Locked<x25519::Identity>>;

/// Supplies the passphrase when the identity must be unwrapped.
pub type PassphraseFn = Box<dyn Fn() -> Result<SecretString>>;

/// Largest age file read back (a secret plus age's header and framing).
const MAX_AGE_FILE: u64 = 2 * 1024 * 1024;

/// The age file store.
pub struct FileStore {
    dir: PathBuf,
    identity_path: PathBuf,
    wrapped: WrappedIdentity,
    recipient: x25519::Recipient,
    identity: OnceCell<SharedIdentity>,
    passphrase: PassphraseFn,
    /// A wrong passphrase is not tried again (each try costs an argon2id run).
    wrong_passphrase: std::cell::Cell<bool>,
}

impl FileStore {
    /// Open the store in `dir` with the wrapped identity read from `identity_path`.
    pub fn open(
        dir: PathBuf,
        identity_path: PathBuf,
        wrapped: WrappedIdentity,
        passphrase: PassphraseFn,
    ) -> Result<Self> {
        let recipient = wrapped.recipient(&identity_path)?;
        Ok(FileStore {
            dir,
            identity_path,
            wrapped,
            recipient,
            identity: OnceCell::new(),
            passphrase,
            wrong_passphrase: Default::default(),
        })
    }

    /// Path of the age file for `id`.
    pub fn path_of(&self, id: &SecretId) -> PathBuf {
        self.dir.join(format!("{}.age", id.file_stem()))
    }

    /// Whether a secret file exists (no passphrase needed).
    pub fn contains(&self, id: &SecretId) -> bool {
        if id.as_str().len() > crate::secret::MAX_STORED_ID {
            return false;
        }
        self.path_of(id).is_file()
    }

    /// Ids of all secret files present.
    pub fn list(&self) -> Result<Vec<SecretId>> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io(&self.dir, "listing", e)),
        };
        for e in rd {
            let e = e.map_err(|e| Error::io(&self.dir, "listing", e))?;
            let name = e.file_name();
            if let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".age"))
                && let Some(id) = SecretId::from_file_stem(stem)
            {
                out.push(id);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Use an identity unwrapped earlier (by the vault service) instead of asking for the passphrase.
    pub fn set_identity(&self, identity: SharedIdentity) {
        let _ = self.identity.set(identity);
    }

    /// Unwrap the identity now (asks for the passphrase if not done yet).
    pub fn unlock(&self) -> Result<&SharedIdentity> {
        if let Some(id) = self.identity.get() {
            return Ok(id);
        }
        if self.wrong_passphrase.get() {
            return Err(Error::WrongPassphrase);
        }
        let pass = (self.passphrase)()?;
        let id = self.wrapped.unwrap_identity(&pass, &self.identity_path).inspect_err(|e| {
            if matches!(e, Error::WrongPassphrase) {
                self.wrong_passphrase.set(true);
            }
        })?;
        Ok(self.identity.get_or_init(|| std::sync::Arc::new(crate::memory::Locked::new(id))))
    }

    /// Encrypt `plaintext` to the vault recipient (binary age).
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        encrypt_to(&self.recipient, plaintext)
    }

    /// Decrypt an age file's bytes with the vault identity. `path` is only for messages.
    pub fn decrypt(&self, ciphertext: &[u8], path: &Path) -> Result<Zeroizing<Vec<u8>>> {
        let identity: &x25519::Identity = self.unlock()?;
        let corrupt = || Error::Corrupt { path: path.to_path_buf(), what: "the encrypted secret".into() };
        let dec = age::Decryptor::new_buffered(ciphertext).map_err(|_| corrupt())?;
        let mut r = dec.decrypt(std::iter::once(identity as &dyn age::Identity)).map_err(|_| corrupt())?;
        // Sized up front (the plaintext is shorter than the ciphertext) so no grown-out copy is freed unzeroed.
        let mut out = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
        r.read_to_end(&mut out).map_err(|_| corrupt())?;
        Ok(out)
    }
}

/// age-encrypt to one recipient.
fn encrypt_to(recipient: &x25519::Recipient, plaintext: &[u8]) -> Result<Vec<u8>> {
    let enc = age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
        .map_err(|e| Error::Internal(format!("age: {e}")))?;
    let mut out = Vec::with_capacity(plaintext.len() + 256);
    let mut w = enc.wrap_output(&mut out).map_err(|e| Error::Internal(format!("age: {e}")))?;
    w.write_all(plaintext).map_err(|e| Error::Internal(format!("age: {e}")))?;
    w.finish().map_err(|e| Error::Internal(format!("age: {e}")))?;
    Ok(out)
}

impl SecretStore for FileStore {
    fn backend(&self) -> Backend {
        Backend::File
    }

    fn put(&self, id: &SecretId, secret: &SecretString) -> Result<()> {
        crate::fs::ensure_private_dir(&self.dir)?;
        let ct = self.encrypt(secret.expose_secret().as_bytes())?;
        crate::fs::write_atomic(&self.path_of(id), &ct)
    }

    fn get(&self, id: &SecretId) -> Result<Option<SecretString>> {
        // Longer ids (valid exec ids reach 256 bytes) cannot have a file here.
        if id.as_str().len() > crate::secret::MAX_STORED_ID {
            return Ok(None);
        }
        let path = self.path_of(id);
        crate::fs::check_file(&path, true)?;
        let f = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, "reading", e)),
        };
        let mut ct = Vec::new();
        f.take(MAX_AGE_FILE).read_to_end(&mut ct).map_err(|e| Error::io(&path, "reading", e))?;
        let pt = self.decrypt(&ct, &path)?;
        if pt.len() as u64 > MAX_AGE_FILE {
            return Err(Error::Corrupt { path, what: "the encrypted secret (too large)".into() });
        }
        let s = std::str::from_utf8(&pt)
            .map_err(|_| Error::Corrupt { path: path.clone(), what: "the encrypted secret (not UTF-8)".into() })?;
        Ok(Some(SecretString::from(s.to_owned())))
    }

    fn delete(&self, id: &SecretId) -> Result<bool> {
        crate::fs::remove_file(&self.path_of(id))
    }

    fn probe(&self) -> Result<()> {
        crate::fs::check_dir(&self.dir)?;
        crate::fs::check_file(&self.identity_path, true)
    }
}
