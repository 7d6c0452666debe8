//! clawkeep: a secure credential vault and exec SecretRef provider for OpenClaw gateways.
//!
//! Data flows one way: `cli` (in the binary) → [`ops`] → [`vault`] (index, identity, [`vault::store`]) and
//! [`openclaw`] (OpenClaw's files, stores and commands) → [`fs`] (the only module that writes files).
//!
//! - [`error`]: typed errors, exit codes and user-facing wording.
//! - [`paths`]: state dir, agent dirs, clawkeep dir.
//! - [`secret`]: secret values (`secrecy`) and secret ids.
//! - [`fs`]: permission checks, atomic writes, the vault lock.
//! - [`openclaw`]: everything of OpenClaw's: `auth-profiles.json`, `auth-state.json`, `.env`, `openclaw.json`, its
//!   SQLite auth stores (read-only), the SecretRef surface, `openclaw wire` and `openclaw secrets` plans.
//! - [`vault`]: the vault facade, its index, the wrapped identity and the stores.
//! - [`protocol`]: OpenClaw's exec SecretRef provider protocol v1 and the service's wire protocol.
//! - [`ops`]: add, remove, list, status, doctor, migrate, resolve, select/report, session pins.
//! - [`service`]: the vault service (`clawkeep serve`) on a Unix socket.
//! - [`transfer`]: sealed bundles between hosts (`export`, `import`) to a host's recipient.
//! - [`audit`]: the access log (a keyed hash chain of who used which credential) and who asked.
//! - [`probe`]: live checks of stored credentials against the providers' APIs.
//! - [`memory`]: process hardening and locked, zeroized buffers (the only `unsafe`).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod audit;
pub mod error;
pub mod fs;
#[doc(hidden)]
pub mod fuzzing;
pub mod memory;
pub mod openclaw;
pub mod ops;
pub mod paths;
pub mod probe;
pub mod protocol;
pub mod secret;
pub mod service;
pub mod transfer;
pub mod vault;

pub use error::{Error, Result};

/// The former name of [`openclaw`]'s file readers, kept so code written against it still builds.
pub mod profiles {
    pub use crate::openclaw::*;
}

/// The provider alias clawkeep registers in OpenClaw (`secrets.providers.clawkeep`).
pub const PROVIDER_ALIAS: &str = "clawkeep";
