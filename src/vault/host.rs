//! This host's age X25519 identity, which other hosts seal bundles to (`clawkeep recipient`, `export`, `import`).
//!
//! The file store's host identity is the vault identity itself (its recipient is public in `identity.json`, its
//! secret half unwrapped with the passphrase). A keychain or keyutils vault has no identity of its own: one is made
//! on first use and kept in that store as the secret `host#identity`, never on disk.

use std::str::FromStr;

use age::x25519;
use secrecy::ExposeSecret;

use super::{Store, Vault};
use crate::error::{Error, Result};
use crate::secret::{SecretId, SecretString};

/// Secret id of a keychain vault's host identity (`#` keeps it apart from agent ids).
pub const HOST_IDENTITY_ID: &str = "host#identity";

/// Decrypts what was sealed to this host.
pub enum HostIdentity {
    /// The file store's unwrapped identity (locked memory).
    File(super::SharedIdentity),
    /// A keychain vault's identity, parsed from the store.
    Keychain(Box<x25519::Identity>),
}

impl HostIdentity {
    /// As an age identity.
    pub fn as_age(&self) -> &dyn age::Identity {
        match self {
            HostIdentity::File(id) => &***id,
            HostIdentity::Keychain(id) => &**id,
        }
    }

    /// The public recipient.
    pub fn recipient(&self) -> x25519::Recipient {
        match self {
            HostIdentity::File(id) => id.to_public(),
            HostIdentity::Keychain(id) => id.to_public(),
        }
    }
}

impl Vault {
    /// This host's public recipient. A keychain vault makes its host identity on first use (under the vault lock).
    pub fn host_recipient(&mut self) -> Result<x25519::Recipient> {
        match &self.store {
            Store::File(f) => Ok(f.recipient().clone()),
            Store::Keychain(_) => Ok(self.keychain_host_identity(true)?.to_public()),
        }
    }

    /// This host's identity, to open a bundle (asks for the file store's passphrase as the vault was opened to).
    pub fn host_identity(&mut self) -> Result<HostIdentity> {
        match &self.store {
            Store::File(f) => Ok(HostIdentity::File(f.unlock()?.clone())),
            Store::Keychain(_) => Ok(HostIdentity::Keychain(Box::new(self.keychain_host_identity(false)?))),
        }
    }

    /// Read (or, when `create`, make and store) a keychain vault's host identity.
    fn keychain_host_identity(&mut self, create: bool) -> Result<x25519::Identity> {
        let id = SecretId::parse(HOST_IDENTITY_ID)?;
        let parse = |s: &SecretString| {
            x25519::Identity::from_str(s.expose_secret().trim()).map_err(|_| Error::Corrupt {
                path: self.files.dir.clone(),
                what: format!("the host identity `{HOST_IDENTITY_ID}` in the {} store", self.config.backend),
            })
        };
        let store = self.store.as_dyn();
        if let Some(s) = store.get(&id)? {
            return parse(&s);
        }
        if !create {
            return Err(Error::NotFound(format!(
                "this host has no identity yet, so nothing can have been sealed to it; run `clawkeep recipient` and \
                 send that to the other host (in the {} store)",
                self.config.backend
            )));
        }
        let _lock = crate::fs::VaultLock::acquire(&self.files.lock)?;
        // Another process may have made it while we waited for the lock: never replace an identity.
        if let Some(s) = store.get(&id)? {
            return parse(&s);
        }
        let identity = x25519::Identity::generate();
        let text = SecretString::from(identity.to_string().expose_secret().to_owned());
        store.put(&id, &text)?;
        let back = store.get(&id)?.ok_or_else(|| Error::Internal("the host identity was not stored".into()))?;
        if !crate::secret::same(&back, &text) {
            return Err(Error::Internal("the host identity read back differs from what was stored".into()));
        }
        Ok(identity)
    }
}

/// A short fingerprint of a recipient that people can compare by reading it aloud: the first 8 bytes of its
/// SHA-256 as four groups of four hex digits (`3f2a 91bc 07de 55aa`).
pub fn fingerprint(recipient: &x25519::Recipient) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(recipient.to_string().as_bytes());
    d[..8].chunks(2).map(|c| format!("{:02x}{:02x}", c[0], c[1])).collect::<Vec<_>>().join(" ")
}
