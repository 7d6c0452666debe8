//! OS keychain stores through keyring-core: Secret Service (Linux), kernel keyutils (Linux), macOS Keychain,
//! Windows Credential Manager. Every call runs on a helper thread with a deadline (≤ 3 s), so a keychain that
//! waits for an invisible prompt becomes a clear error instead of a hang.

use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use keyring_core::{CredentialStore, Entry};
use secrecy::{ExposeSecret, SecretString};

use super::{Backend, SecretStore};
use crate::error::{Error, KeychainProblem, Result};
use crate::secret::SecretId;

/// Service name under which clawkeep stores its items.
pub const SERVICE: &str = "clawkeep";
/// The longest any keychain call may take.
pub const MAX_TIMEOUT_MS: u64 = 3000;

/// The keychain deadline: `CLAWKEEP_KEYCHAIN_TIMEOUT_MS` (capped at 3000), default 3000 (also when empty); a value
/// that is not a whole number of milliseconds is refused.
pub fn keychain_timeout() -> Result<Duration> {
    let ms = match std::env::var_os("CLAWKEEP_KEYCHAIN_TIMEOUT_MS").filter(|v| !v.is_empty()) {
        None => MAX_TIMEOUT_MS,
        Some(v) => v.to_str().and_then(|v| v.trim().parse::<u64>().ok()).ok_or_else(|| {
            Error::InvalidInput(format!(
                "CLAWKEEP_KEYCHAIN_TIMEOUT_MS is `{}`, not a number of milliseconds (1-{MAX_TIMEOUT_MS})",
                v.to_string_lossy().chars().take(32).collect::<String>().escape_debug()
            ))
        })?,
    };
    Ok(Duration::from_millis(ms.clamp(1, MAX_TIMEOUT_MS)))
}

type StoreFactory = Arc<dyn Fn() -> keyring_core::Result<Arc<CredentialStore>> + Send + Sync>;

/// A keyring-core backed store.
pub struct KeychainStore {
    backend: Backend,
    factory: StoreFactory,
    store: OnceLock<Arc<CredentialStore>>,
    timeout: Duration,
    /// Check for a D-Bus session before connecting (the real Secret Service store).
    needs_bus: bool,
    /// Once a call has timed out, later calls of this store fail at once: a hung keychain must not cost the deadline
    /// once per id (OpenClaw kills `resolve` after 5 s).
    timed_out: std::sync::atomic::AtomicBool,
}

impl KeychainStore {
    /// The platform store for `backend` (`Keychain` or `Keyutils`).
    pub fn new(backend: Backend) -> Result<Self> {
        let factory: StoreFactory = match backend {
            Backend::Keychain => platform_keychain()?,
            Backend::Keyutils => platform_keyutils()?,
            Backend::File => return Err(Error::Internal("file backend is not a keychain".into())),
        };
        let needs_bus = backend == Backend::Keychain && cfg!(target_os = "linux");
        Ok(KeychainStore {
            backend,
            factory,
            store: OnceLock::new(),
            timeout: keychain_timeout()?,
            needs_bus,
            timed_out: Default::default(),
        })
    }

    /// A store over an existing keyring-core store (unit tests use `keyring_core::mock::Store`).
    pub fn with_store(backend: Backend, store: Arc<CredentialStore>, timeout: Duration) -> Self {
        let s = store.clone();
        KeychainStore {
            backend,
            factory: Arc::new(move || Ok(s.clone())),
            store: OnceLock::new(),
            timeout,
            needs_bus: false,
            timed_out: Default::default(),
        }
    }

    fn store(&self) -> Result<Arc<CredentialStore>> {
        if let Some(s) = self.store.get() {
            return Ok(s.clone());
        }
        if self.needs_bus && !session_bus_present() {
            return Err(Error::Keychain(KeychainProblem::NoDbus));
        }
        let factory = self.factory.clone();
        let s = self.deadline(move || factory())?;
        Ok(self.store.get_or_init(|| s).clone())
    }

    /// Run `f` on a helper thread, giving up after the deadline.
    fn deadline<T: Send + 'static>(&self, f: impl FnOnce() -> keyring_core::Result<T> + Send + 'static) -> Result<T> {
        let timed_out = || Error::Keychain(KeychainProblem::Timeout(self.timeout.as_millis() as u64));
        if self.timed_out.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(timed_out());
        }
        let (tx, rx) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("clawkeep-keychain".into())
            .spawn(move || {
                let _ = tx.send(f());
            })
            .map_err(|e| Error::Internal(format!("spawning keychain thread: {e}")))?;
        match rx.recv_timeout(self.timeout) {
            Ok(r) => r.map_err(|e| {
                match (classify(e), self.backend) {
                (Error::Keychain(KeychainProblem::Locked), Backend::Keyutils) => Error::Keychain(KeychainProblem::Other(
                    "the kernel keyring refused access (no usable session keyring? run under `keyctl session -` or a \
                     login session)"
                        .into(),
                )),
                (e, _) => e,
            }
            }),
            Err(_) => {
                self.timed_out.store(true, std::sync::atomic::Ordering::Relaxed);
                Err(timed_out())
            }
        }
    }

    fn entry_call<T: Send + 'static>(
        &self,
        id: &SecretId,
        f: impl FnOnce(Entry) -> keyring_core::Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.store()?;
        let user = id.as_str().to_string();
        self.deadline(move || f(Entry::new_in_store(&store, SERVICE, &user)?))
    }
}

/// Whether a D-Bus session bus address is known.
fn session_bus_present() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty()) {
        return true;
    }
    std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).join("bus").exists())
}

/// Turn keyring-core errors into clawkeep's keychain problems. Platform messages never contain secrets;
/// variants that can carry data (`BadEncoding`, `BadDataFormat`) get fixed wording.
fn classify(e: keyring_core::Error) -> Error {
    use keyring_core::Error as K;
    let p = match e {
        K::NoStorageAccess(_) => KeychainProblem::Locked,
        K::PlatformFailure(inner) => {
            let m = inner.to_string();
            if m.contains("org.freedesktop.secrets")
                || m.contains("ServiceUnknown")
                || m.contains("not provided by any")
            {
                KeychainProblem::NoSecretService
            } else if m.contains("DBUS_SESSION_BUS_ADDRESS")
                || m.contains("Connection refused")
                || m.contains("No such file or directory")
                || m.contains("Address")
            {
                KeychainProblem::NoDbus
            } else if m.to_ascii_lowercase().contains("locked") {
                KeychainProblem::Locked
            } else {
                KeychainProblem::Other(m)
            }
        }
        K::BadEncoding(_) | K::BadDataFormat(..) => KeychainProblem::Other("an item is not valid UTF-8".into()),
        K::NoEntry => KeychainProblem::Other("no such item".into()),
        other => KeychainProblem::Other(other.to_string()),
    };
    Error::Keychain(p)
}

impl SecretStore for KeychainStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    fn put(&self, id: &SecretId, secret: &SecretString) -> Result<()> {
        let secret = secret.clone();
        self.entry_call(id, move |e| e.set_password(secret.expose_secret()))
    }

    fn get(&self, id: &SecretId) -> Result<Option<SecretString>> {
        self.entry_call(id, |e| match e.get_password() {
            Ok(p) => Ok(Some(SecretString::from(p))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        })
    }

    fn delete(&self, id: &SecretId) -> Result<bool> {
        self.entry_call(id, |e| match e.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(e),
        })
    }

    fn probe(&self) -> Result<()> {
        let id = SecretId::parse(&format!("clawkeep-probe/{}", std::process::id()))?;
        let token = SecretString::from(format!("probe-{}", std::process::id()));
        self.put(&id, &token)?;
        let back = self.get(&id)?;
        self.delete(&id)?;
        match back {
            Some(b) if crate::secret::same(&b, &token) => Ok(()),
            _ => Err(Error::Keychain(KeychainProblem::Other("wrote a probe item but could not read it back".into()))),
        }
    }
}

#[cfg(target_os = "linux")]
fn platform_keychain() -> Result<StoreFactory> {
    Ok(Arc::new(|| zbus_secret_service_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>)))
}

#[cfg(target_os = "linux")]
fn platform_keyutils() -> Result<StoreFactory> {
    Ok(Arc::new(|| linux_keyutils_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>)))
}

#[cfg(target_os = "macos")]
fn platform_keychain() -> Result<StoreFactory> {
    Ok(Arc::new(|| apple_native_keyring_store::keychain::Store::new().map(|s| s as Arc<CredentialStore>)))
}

#[cfg(target_os = "windows")]
fn platform_keychain() -> Result<StoreFactory> {
    Ok(Arc::new(|| windows_native_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>)))
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn platform_keychain() -> Result<StoreFactory> {
    Err(Error::Keychain(KeychainProblem::Other("no OS keychain support on this platform".into())))
}

#[cfg(not(target_os = "linux"))]
fn platform_keyutils() -> Result<StoreFactory> {
    Err(Error::Keychain(KeychainProblem::Other("the kernel keyring (keyutils) exists only on Linux".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock() -> KeychainStore {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
        KeychainStore::with_store(Backend::Keychain, store, Duration::from_secs(1))
    }

    #[test]
    fn round_trip_and_delete_on_mock_store() {
        let s = mock();
        let id = SecretId::parse("main/anthropic:default").unwrap();
        assert!(s.get(&id).unwrap().is_none());
        s.put(&id, &SecretString::from("v1".to_string())).unwrap();
        assert_eq!(s.get(&id).unwrap().unwrap().expose_secret(), "v1");
        s.put(&id, &SecretString::from("v2".to_string())).unwrap();
        assert_eq!(s.get(&id).unwrap().unwrap().expose_secret(), "v2");
        assert!(s.delete(&id).unwrap());
        assert!(!s.delete(&id).unwrap());
        s.probe().unwrap();
    }

    #[test]
    fn a_hanging_keychain_times_out() {
        let factory: StoreFactory = Arc::new(|| {
            std::thread::sleep(Duration::from_secs(5));
            Err(keyring_core::Error::NoDefaultStore)
        });
        let s = KeychainStore {
            backend: Backend::Keyutils,
            factory,
            store: OnceLock::new(),
            timeout: Duration::from_millis(100),
            needs_bus: false,
            timed_out: Default::default(),
        };
        let t = std::time::Instant::now();
        let err = s.get(&SecretId::parse("a").unwrap()).unwrap_err();
        assert!(matches!(err, Error::Keychain(KeychainProblem::Timeout(100))), "{err:?}");
        assert!(t.elapsed() < Duration::from_secs(2));
        // Later calls fail at once instead of waiting out the deadline again.
        let t = std::time::Instant::now();
        for _ in 0..20 {
            assert!(matches!(s.get(&SecretId::parse("b").unwrap()), Err(Error::Keychain(KeychainProblem::Timeout(_)))));
        }
        assert!(t.elapsed() < Duration::from_millis(100), "{:?}", t.elapsed());
    }

    #[test]
    fn errors_are_classified() {
        let locked = classify(keyring_core::Error::NoStorageAccess("x".into()));
        assert!(matches!(locked, Error::Keychain(KeychainProblem::Locked)));
        let nss = classify(keyring_core::Error::PlatformFailure(
            "org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not provided".into(),
        ));
        assert!(matches!(nss, Error::Keychain(KeychainProblem::NoSecretService)));
        assert_ne!(locked.exit_code(), nss.exit_code());
    }
}
