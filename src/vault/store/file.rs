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
    /// The other hosts' recipients of a shared store (`recipients.json`); `None` when the store is not shared.
    shared: Option<Vec<x25519::Recipient>>,
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
            shared: None,
            identity: OnceCell::new(),
            passphrase,
            wrong_passphrase: Default::default(),
        })
    }

    /// The vault's public recipient (what every secret file is encrypted to).
    pub fn recipient(&self) -> &x25519::Recipient {
        &self.recipient
    }

    /// Encrypt to these recipients too (a shared store's `recipients.json`; `None`: this host's recipient only).
    pub fn set_shared(&mut self, others: Option<Vec<x25519::Recipient>>) {
        self.shared = others;
    }

    /// Every recipient a secret written now is encrypted to, as sorted unique `age1…` strings, when the store is
    /// shared (`None` otherwise).
    pub fn sealed_to(&self) -> Option<Vec<String>> {
        let others = self.shared.as_ref()?;
        let mut all: Vec<String> = std::iter::once(&self.recipient).chain(others).map(|r| r.to_string()).collect();
        all.sort();
        all.dedup();
        Some(all)
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
        let mut out: Vec<SecretId> = crate::fs::list_names(&self.dir)?
            .iter()
            .filter_map(|name| name.strip_suffix(".age").and_then(SecretId::from_file_stem))
            .collect();
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
        let id = self.wrapped.unwrap_identity(pass, &self.identity_path).inspect_err(|e| {
            if matches!(e, Error::WrongPassphrase) {
                self.wrong_passphrase.set(true);
            }
        })?;
        Ok(self.identity.get_or_init(|| id))
    }

    /// Encrypt `plaintext` to the vault recipient and, in a shared store, every listed recipient (binary age), on
    /// the crypto worker.
    pub fn encrypt(&self, plaintext: Zeroizing<Vec<u8>>) -> Result<Vec<u8>> {
        let mut recipients = vec![self.recipient.clone()];
        recipients
            .extend(self.shared.iter().flatten().filter(|r| r.to_string() != self.recipient.to_string()).cloned());
        crate::memory::on_worker(move || encrypt_to(&recipients, &plaintext))?
    }

    /// Decrypt an age file's bytes with the vault identity, on the crypto worker. `path` is only for messages.
    pub fn decrypt(&self, ciphertext: Vec<u8>, path: &Path) -> Result<Zeroizing<Vec<u8>>> {
        let identity = self.unlock()?.clone();
        let corrupt = || Error::Corrupt { path: path.to_path_buf(), what: "the encrypted secret".into() };
        crate::memory::on_worker(move || decrypt_with(&identity, &ciphertext))?.ok_or_else(corrupt)
    }
}

/// age-decrypt with `identity` (on the crypto worker); `None` when the file is not a valid age file for it.
fn decrypt_with(identity: &x25519::Identity, ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let dec = age::Decryptor::new_buffered(ciphertext).ok()?;
    let mut r = dec.decrypt(std::iter::once(identity as &dyn age::Identity)).ok()?;
    // Sized up front (the plaintext is shorter than the ciphertext) so the buffer never grows.
    let mut out = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    r.read_to_end(&mut out).ok()?;
    Some(out)
}

/// age-encrypt to `recipients` (each can decrypt on its own).
fn encrypt_to(recipients: &[x25519::Recipient], plaintext: &[u8]) -> Result<Vec<u8>> {
    let enc = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .map_err(|e| Error::Internal(format!("age: {e}")))?;
    let mut out = Vec::with_capacity(plaintext.len() + 256);
    let mut w = enc.wrap_output(&mut out).map_err(|e| Error::Internal(format!("age: {e}")))?;
    w.write_all(plaintext).map_err(|e| Error::Internal(format!("age: {e}")))?;
    w.finish().map_err(|e| Error::Internal(format!("age: {e}")))?;
    Ok(out)
}

/// The first line of a version-2 payload, followed by the secret id and a newline, then the secret.
const PAYLOAD_V2: &[u8] = b"clawkeep-secret v2 ";
/// Any versioned payload starts so.
const PAYLOAD_PREFIX: &[u8] = b"clawkeep-secret v";

/// The plaintext stored for `id`: `clawkeep-secret v2 <id>\n<secret>`, binding the ciphertext to its id.
fn payload(id: &SecretId, secret: &SecretString) -> Zeroizing<Vec<u8>> {
    let secret = secret.expose_secret().as_bytes();
    let mut p = Zeroizing::new(Vec::with_capacity(PAYLOAD_V2.len() + id.as_str().len() + 1 + secret.len()));
    p.extend_from_slice(PAYLOAD_V2);
    p.extend_from_slice(id.as_str().as_bytes());
    p.push(b'\n');
    p.extend_from_slice(secret);
    p
}

/// The secret inside a decrypted payload of `path`, which must be `id`'s. A version-1 payload (the bare secret, as
/// written before ids were bound: an API key, a token or `migrate`'s JSON backup bundle, none of which starts with
/// `clawkeep-secret v`) is accepted as is.
fn open_payload<'a>(pt: &'a [u8], id: &SecretId, path: &Path) -> Result<&'a [u8]> {
    let corrupt = |what: String| Error::Corrupt { path: path.to_path_buf(), what };
    if !pt.starts_with(PAYLOAD_PREFIX) {
        return Ok(pt);
    }
    let Some(rest) = pt.strip_prefix(PAYLOAD_V2) else {
        let version = pt.strip_prefix(PAYLOAD_PREFIX).and_then(|r| r.split(|b| *b == b' ' || *b == b'\n').next());
        let version = version.and_then(|v| std::str::from_utf8(v).ok()).filter(|v| v.len() <= 8);
        return Err(match version {
            Some(v) if v.bytes().all(|b| b.is_ascii_digit()) => Error::UnknownVersion {
                path: path.to_path_buf(),
                field: "secret payload version",
                found: v.to_string(),
                expected: "2, or an unversioned secret",
            },
            _ => corrupt("the encrypted secret (its payload header is malformed)".into()),
        });
    };
    let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
        return Err(corrupt("the encrypted secret (its payload header is malformed)".into()));
    };
    let (stored, secret) = (&rest[..nl], &rest[nl + 1..]);
    if stored != id.as_str().as_bytes() {
        // Name the other id only when it is one (a forged file could hold anything).
        let other = std::str::from_utf8(stored)
            .ok()
            .and_then(|s| SecretId::parse(s).ok())
            .map(|s| format!("`{}`", s.as_str()))
            .unwrap_or_else(|| "another id".into());
        return Err(Error::WrongSecretFile { path: path.to_path_buf(), expected: id.to_string(), found: other });
    }
    Ok(secret)
}

impl SecretStore for FileStore {
    fn backend(&self) -> Backend {
        Backend::File
    }

    fn put(&self, id: &SecretId, secret: &SecretString) -> Result<()> {
        crate::fs::ensure_private_dir(&self.dir)?;
        let ct = self.encrypt(payload(id, secret))?;
        crate::fs::write_atomic(&self.path_of(id), &ct)
    }

    fn get(&self, id: &SecretId) -> Result<Option<SecretString>> {
        // Longer ids (valid exec ids reach 256 bytes) cannot have a file here.
        if id.as_str().len() > crate::secret::MAX_STORED_ID {
            return Ok(None);
        }
        let path = self.path_of(id);
        // The directories are checked on reads as on writes: a writable `secrets/` would let others swap files.
        crate::fs::check_dir(&self.dir)?;
        let Some((f, _)) = crate::fs::open_checked(&path, true)? else { return Ok(None) };
        let mut ct = Vec::new();
        f.take(MAX_AGE_FILE).read_to_end(&mut ct).map_err(|e| Error::io(&path, "reading", e))?;
        let pt = self.decrypt(ct, &path)?;
        if pt.len() as u64 > MAX_AGE_FILE {
            return Err(Error::Corrupt { path, what: "the encrypted secret (too large)".into() });
        }
        let secret = open_payload(&pt, id, &path)?;
        let s = std::str::from_utf8(secret)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_bind_their_id_and_old_ones_still_open() {
        let id = SecretId::parse("main/anthropic:default").unwrap();
        let other = SecretId::parse("main/anthropic:second").unwrap();
        let p = Path::new("x.age");
        let bound = payload(&id, &SecretString::from("sk-1".to_string()));
        assert_eq!(bound.as_slice(), b"clawkeep-secret v2 main/anthropic:default\nsk-1");
        assert_eq!(open_payload(&bound, &id, p).unwrap(), b"sk-1");
        assert!(matches!(open_payload(&bound, &other, p), Err(Error::WrongSecretFile { .. })));
        // Version 1: the bare secret, newlines and all (migrate's bundles).
        assert_eq!(open_payload(b"{\n \"a\": 1\n}", &id, p).unwrap(), b"{\n \"a\": 1\n}");
        assert!(matches!(open_payload(b"clawkeep-secret v3 x\ny", &id, p), Err(Error::UnknownVersion { .. })));
        assert!(matches!(open_payload(b"clawkeep-secret v2 no-newline", &id, p), Err(Error::Corrupt { .. })));
        assert!(matches!(open_payload(b"clawkeep-secret vX", &id, p), Err(Error::Corrupt { .. })));
    }
}
