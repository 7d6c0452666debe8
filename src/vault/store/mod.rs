//! Secret stores. Only this module touches a keychain or ciphertext.

mod file;
mod keychain;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use file::{FileStore, PassphraseFn, SharedIdentity};
pub use keychain::{KeychainStore, keychain_timeout, keyutils_expiry, keyutils_lifetime_note, service_name};

use crate::error::Result;
use crate::secret::{SecretId, SecretString};

/// Where secrets live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The OS keychain (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows).
    Keychain,
    /// The Linux kernel keyring (in memory: lost at reboot, and dropped some days after last use once no session
    /// holds it).
    Keyutils,
    /// age-encrypted files, one per secret, under a passphrase-wrapped identity.
    File,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Keychain => "keychain",
            Backend::Keyutils => "keyutils",
            Backend::File => "file",
        })
    }
}

/// What every store does. Implementations never log or print, and never put a secret in an error.
pub trait SecretStore {
    /// Which backend this is.
    fn backend(&self) -> Backend;
    /// Store (or replace) a secret.
    fn put(&self, id: &SecretId, secret: &SecretString) -> Result<()>;
    /// Fetch a secret; `None` when absent.
    fn get(&self, id: &SecretId) -> Result<Option<SecretString>>;
    /// Remove a secret; whether it existed.
    fn delete(&self, id: &SecretId) -> Result<bool>;
    /// Check that the store works (round trip for keychains, readable metadata for files).
    fn probe(&self) -> Result<()>;
}
