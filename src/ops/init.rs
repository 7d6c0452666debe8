//! Choosing a backend for `init`: `auto` probes the keychain (with its deadline) and falls back to `file`.

use crate::error::{Error, Result};
use crate::vault::store::KeychainStore;
use crate::vault::{Backend, SecretStore};

/// What `init --backend` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    /// Keychain if it works, else the file store.
    Auto,
    /// The OS keychain.
    Keychain,
    /// The Linux kernel keyring: lost at reboot, and dropped by the kernel some days after last use
    /// (/proc/sys/kernel/keys/persistent_keyring_expiry) once no session holds it.
    Keyutils,
    /// The age-encrypted file store.
    File,
}

/// The backend to use, and the reason when `auto` fell back to `file`.
pub fn resolve(choice: BackendChoice) -> Result<(Backend, Option<Error>)> {
    match choice {
        BackendChoice::File => Ok((Backend::File, None)),
        BackendChoice::Keychain => probe(Backend::Keychain).map(|()| (Backend::Keychain, None)),
        BackendChoice::Keyutils => probe(Backend::Keyutils).map(|()| (Backend::Keyutils, None)),
        BackendChoice::Auto => match probe(Backend::Keychain) {
            Ok(()) => Ok((Backend::Keychain, None)),
            Err(e) => Ok((Backend::File, Some(e))),
        },
    }
}

/// Check that a keychain backend works, with a real write/read/delete round trip.
pub fn probe(b: Backend) -> Result<()> {
    KeychainStore::new(b, None)?.probe()
}
