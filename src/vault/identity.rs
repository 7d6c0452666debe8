//! The file store's age X25519 identity, kept wrapped under the passphrase.
//!
//! Wrapping: argon2id(passphrase, salt) gives 32 bytes, which are used as an age X25519 secret key (the
//! "wrap identity"); the vault identity is age-encrypted to the wrap identity's recipient. age does all the
//! encryption; argon2id only turns the passphrase into a key. `passwd` re-wraps the identity and touches
//! nothing else.
//!
//! Every function here that touches key material runs it on the crypto worker ([`crate::memory::on_worker`]): the
//! unwrapped identity is built there and moved straight onto locked memory, and the worker's stack is burned after.

use std::io::{Read, Write};
use std::str::FromStr;
use std::sync::Arc;

use age::x25519;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::memory::Locked;
use crate::vault::SharedIdentity;

/// argon2id parameters stored next to the wrapped identity.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KdfParams {
    /// Always `argon2id`.
    pub algorithm: String,
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Base64 salt (16 bytes).
    pub salt: String,
}

/// Memory cost for new wraps: 64 MiB.
pub const MEMORY_KIB: u32 = 64 * 1024;
/// Passes for new wraps.
pub const ITERATIONS: u32 = 3;
/// Bounds accepted when reading a wrap (a tampered file cannot make us allocate gigabytes or spin).
const MAX_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_ITERATIONS: u32 = 20;

/// The on-disk form (`identity.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WrappedIdentity {
    /// Format version (1).
    pub version: u32,
    /// Key derivation.
    pub kdf: KdfParams,
    /// The public recipient of the wrapped identity (`age1…`), so adding a secret needs no passphrase.
    pub recipient: String,
    /// ASCII-armored age file holding the identity, encrypted to the passphrase-derived key.
    pub wrapped: String,
}

impl WrappedIdentity {
    /// Generate a new vault identity and wrap it under `passphrase`.
    pub fn generate(passphrase: &SecretString) -> Result<(WrappedIdentity, SharedIdentity)> {
        let passphrase = passphrase.clone();
        crate::memory::on_worker(move || {
            let identity: SharedIdentity = Arc::new(Locked::new(x25519::Identity::generate()));
            let wrapped = wrap_here(&identity, &passphrase)?;
            Ok((wrapped, identity))
        })?
    }

    /// Unwrap with `passphrase` onto locked memory. A wrong passphrase is [`Error::WrongPassphrase`].
    pub fn unwrap_identity(&self, passphrase: SecretString, path: &std::path::Path) -> Result<SharedIdentity> {
        let (this, path) = (self.clone(), path.to_path_buf());
        crate::memory::on_worker(move || {
            let identity = this.unwrap_here(&passphrase, &path)?;
            Ok(Arc::new(Locked::new(identity)))
        })?
    }

    /// The unwrapping itself (on the crypto worker).
    fn unwrap_here(&self, passphrase: &SecretString, path: &std::path::Path) -> Result<x25519::Identity> {
        let corrupt = |what: &str| Error::Corrupt { path: path.to_path_buf(), what: what.to_string() };
        if self.version != 1 {
            return Err(Error::UnknownVersion {
                path: path.to_path_buf(),
                field: "version",
                found: self.version.to_string(),
                expected: "1",
            });
        }
        let wrap_id = derive(passphrase, &self.kdf).map_err(|_| corrupt("the key-derivation parameters"))?;
        let reader = age::armor::ArmoredReader::new(self.wrapped.as_bytes());
        let decryptor = age::Decryptor::new(reader).map_err(|_| corrupt("the wrapped identity"))?;
        let mut r = match decryptor.decrypt(std::iter::once(&wrap_id as &dyn age::Identity)) {
            Ok(r) => r,
            Err(age::DecryptError::NoMatchingKeys) => return Err(Error::WrongPassphrase),
            Err(_) => return Err(corrupt("the wrapped identity")),
        };
        // Sized up front (the armored ciphertext is longer than the key text): growing would free unzeroed copies.
        let mut text = Zeroizing::new(String::with_capacity(self.wrapped.len()));
        r.read_to_string(&mut text).map_err(|_| corrupt("the wrapped identity"))?;
        let identity = x25519::Identity::from_str(text.trim()).map_err(|_| corrupt("the wrapped identity"))?;
        if identity.to_public().to_string() != self.recipient {
            return Err(corrupt("the recipient (it does not match the wrapped identity)"));
        }
        Ok(identity)
    }

    /// The public recipient.
    pub fn recipient(&self, path: &std::path::Path) -> Result<x25519::Recipient> {
        x25519::Recipient::from_str(&self.recipient)
            .map_err(|_| Error::Corrupt { path: path.to_path_buf(), what: "the recipient".into() })
    }
}

/// Wrap `identity` under `passphrase` with fresh salt.
pub fn wrap(identity: &SharedIdentity, passphrase: &SecretString) -> Result<WrappedIdentity> {
    let (identity, passphrase) = (identity.clone(), passphrase.clone());
    crate::memory::on_worker(move || wrap_here(&identity, &passphrase))?
}

/// The wrapping itself (on the crypto worker).
fn wrap_here(identity: &x25519::Identity, passphrase: &SecretString) -> Result<WrappedIdentity> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    let kdf = KdfParams {
        algorithm: "argon2id".into(),
        memory_kib: MEMORY_KIB,
        iterations: ITERATIONS,
        parallelism: 1,
        salt: base64::engine::general_purpose::STANDARD.encode(salt),
    };
    let wrap_id = derive(passphrase, &kdf)?;
    let recipient = wrap_id.to_public();
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
        .map_err(|e| Error::Internal(format!("age: {e}")))?;
    let mut armored = Vec::new();
    {
        let armor = age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)
            .map_err(|e| Error::Internal(format!("age armor: {e}")))?;
        let mut w = encryptor.wrap_output(armor).map_err(|e| Error::Internal(format!("age: {e}")))?;
        w.write_all(identity.to_string().expose_secret().as_bytes())
            .map_err(|e| Error::Internal(format!("age: {e}")))?;
        let armor = w.finish().map_err(|e| Error::Internal(format!("age: {e}")))?;
        armor.finish().map_err(|e| Error::Internal(format!("age armor: {e}")))?;
    }
    Ok(WrappedIdentity {
        version: 1,
        kdf,
        recipient: identity.to_public().to_string(),
        wrapped: String::from_utf8(armored).map_err(|e| Error::Internal(e.to_string()))?,
    })
}

/// argon2id(passphrase, salt) → an age X25519 identity.
fn derive(passphrase: &SecretString, kdf: &KdfParams) -> Result<x25519::Identity> {
    let bad = || Error::InvalidInput("unsupported key-derivation parameters".into());
    if kdf.algorithm != "argon2id"
        || !(MEMORY_KIB..=MAX_MEMORY_KIB).contains(&kdf.memory_kib)
        || !(ITERATIONS..=MAX_ITERATIONS).contains(&kdf.iterations)
        || !(1..=8).contains(&kdf.parallelism)
    {
        return Err(bad());
    }
    let salt = base64::engine::general_purpose::STANDARD.decode(&kdf.salt).map_err(|_| bad())?;
    if salt.len() < 16 {
        return Err(bad());
    }
    let params = argon2::Params::new(kdf.memory_kib, kdf.iterations, kdf.parallelism, Some(32)).map_err(|_| bad())?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.expose_secret().as_bytes(), &salt, key.as_mut())
        .map_err(|e| Error::Internal(format!("argon2: {e}")))?;
    let hrp = bech32::Hrp::parse("age-secret-key-").map_err(|e| Error::Internal(e.to_string()))?;
    let mut encoded =
        bech32::encode::<bech32::Bech32>(hrp, key.as_ref()).map_err(|e| Error::Internal(e.to_string()))?;
    encoded.make_ascii_uppercase();
    let id = x25519::Identity::from_str(&encoded).map_err(|e| Error::Internal(e.to_string()));
    encoded.zeroize();
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_and_unwrap_round_trip_and_wrong_passphrase_is_distinct() {
        let pass = SecretString::from("correct horse".to_string());
        let (w, id) = WrappedIdentity::generate(&pass).unwrap();
        assert_eq!(w.kdf.memory_kib, 64 * 1024);
        assert!(w.kdf.iterations >= 3);
        let p = std::path::Path::new("identity.json");
        let back = w.unwrap_identity(pass.clone(), p).unwrap();
        assert_eq!(back.to_public().to_string(), id.to_public().to_string());
        let wrong = SecretString::from("wrong".to_string());
        assert!(matches!(w.unwrap_identity(wrong, p), Err(Error::WrongPassphrase)));
        let sk = id.to_string();
        assert!(!w.wrapped.contains(sk.expose_secret()));
    }

    #[test]
    fn tampered_parameters_are_bounded() {
        let pass = SecretString::from("pw".to_string());
        let (mut w, _) = WrappedIdentity::generate(&pass).unwrap();
        w.kdf.memory_kib = 64 * 1024 * 1024;
        assert!(matches!(w.unwrap_identity(pass, std::path::Path::new("x")), Err(Error::Corrupt { .. })));
    }
}
