//! OS keychain stores through keyring-core: Secret Service (Linux), kernel keyutils (Linux), macOS Keychain,
//! Windows Credential Manager. Every call runs on a helper thread with a deadline (≤ 3 s), so a keychain that
//! waits for an invisible prompt becomes a clear error instead of a hang.
//!
//! Items are named service `clawkeep:<vault id>`, account `<secret id>`, so two vaults of one user never share an
//! item. A vault created before vault ids existed (no `id` in `vault.json`) keeps the old service name `clawkeep`.
//!
//! The connection to the keychain (and what is known about its health) is shared by the whole process, one per
//! backend: the vault service opens the vault once per request, and a hung keychain must cost one helper thread and
//! one deadline, not one per request.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use keyring_core::{CredentialStore, Entry};
use secrecy::{ExposeSecret, SecretString};

use super::{Backend, SecretStore};
use crate::error::{Error, KeychainProblem, Result};
use crate::secret::SecretId;

/// Service name of the items of a vault without an id (created before vault ids existed).
pub const LEGACY_SERVICE: &str = "clawkeep";
/// The longest any keychain call may take.
pub const MAX_TIMEOUT_MS: u64 = 3000;
/// After a call timed out, calls fail at once for this long (and for as long as the timed-out call is still stuck).
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

/// The keychain service name of a vault's items: `clawkeep:<vault id>`, or `clawkeep` for a vault without an id.
pub fn service_name(vault_id: Option<&str>) -> String {
    match vault_id {
        Some(id) => format!("{LEGACY_SERVICE}:{id}"),
        None => LEGACY_SERVICE.to_string(),
    }
}

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

/// How long the kernel keeps the user's persistent keyring (where keyutils items live) after its last use once no
/// session keyring holds them: `/proc/sys/kernel/keys/persistent_keyring_expiry` (the kernel's default is 3 days).
pub fn keyutils_expiry() -> Option<Duration> {
    let raw =
        crate::fs::read_optional(std::path::Path::new("/proc/sys/kernel/keys/persistent_keyring_expiry")).ok()??;
    std::str::from_utf8(&raw).ok()?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The truth about keyutils' lifetime, for `init` and `doctor`.
pub fn keyutils_lifetime_note() -> String {
    let expiry = keyutils_expiry()
        .map(|d| {
            let s = d.as_secs();
            let human = match s {
                s if s >= 86400 && s % 86400 == 0 => format!("{} days", s / 86400),
                s if s >= 3600 && s % 3600 == 0 => format!("{} hours", s / 3600),
                s => format!("{s} seconds"),
            };
            format!("{human} ({s} s in /proc/sys/kernel/keys/persistent_keyring_expiry)")
        })
        .unwrap_or_else(|| "a few days (/proc/sys/kernel/keys/persistent_keyring_expiry)".into());
    format!(
        "the kernel keyring keeps secrets in memory only: they are lost at reboot, and the kernel drops them {expiry} \
         after their last use once no login session of yours holds them; keep another copy of every key stored there"
    )
}

type StoreFactory = Arc<dyn Fn() -> keyring_core::Result<Arc<CredentialStore>> + Send + Sync>;

/// Whether a helper call is still running, and whether its caller gave up on it.
#[derive(Default)]
struct Gate {
    /// A helper thread is running (at most one at a time).
    busy: bool,
    /// The running helper was abandoned by its caller (it timed out): calls fail at once until it ends.
    stuck: bool,
    /// Calls fail at once until then (set when a call timed out).
    retry_after: Option<Instant>,
}

/// One connection to a keychain backend, shared by every vault of the process.
struct Conn {
    backend: Backend,
    factory: StoreFactory,
    store: Mutex<Option<Arc<CredentialStore>>>,
    timeout: Duration,
    /// Check for a D-Bus session before connecting (the real Secret Service store).
    needs_bus: bool,
    gate: Mutex<Gate>,
    freed: Condvar,
}

impl Conn {
    fn new(backend: Backend, factory: StoreFactory, timeout: Duration, needs_bus: bool) -> Conn {
        Conn {
            backend,
            factory,
            store: Mutex::new(None),
            timeout,
            needs_bus,
            gate: Mutex::new(Gate::default()),
            freed: Condvar::new(),
        }
    }

    fn gate(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn timed_out(&self) -> Error {
        Error::Keychain(KeychainProblem::Timeout(self.timeout.as_millis() as u64))
    }

    fn store(self: &Arc<Self>) -> Result<Arc<CredentialStore>> {
        if let Some(s) = self.store.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return Ok(s.clone());
        }
        if self.needs_bus && !session_bus_present() {
            return Err(Error::Keychain(KeychainProblem::NoDbus));
        }
        let factory = self.factory.clone();
        let s = self.deadline(move || factory())?;
        Ok(self.store.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(s).clone())
    }

    /// Run `f` on a helper thread, giving up after the deadline. One helper runs at a time: a call waits (within
    /// its deadline) for the running one; while an abandoned helper is stuck, or until the retry-after time of
    /// the last timeout, calls fail at once.
    fn deadline<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce() -> keyring_core::Result<T> + Send + 'static,
    ) -> Result<T> {
        let start = Instant::now();
        {
            let mut g = self.gate();
            loop {
                if g.stuck || g.retry_after.is_some_and(|t| Instant::now() < t) {
                    return Err(self.timed_out());
                }
                if !g.busy {
                    break;
                }
                let left = self.timeout.saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Err(self.timed_out());
                }
                g = self.freed.wait_timeout(g, left).unwrap_or_else(|p| p.into_inner()).0;
            }
            g.busy = true;
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let conn = self.clone();
        let spawned = std::thread::Builder::new().name("clawkeep-keychain".into()).spawn(move || {
            let r = f();
            let _ = tx.send(r);
            let mut g = conn.gate();
            g.busy = false;
            g.stuck = false;
            drop(g);
            conn.freed.notify_all();
        });
        if let Err(e) = spawned {
            self.gate().busy = false;
            self.freed.notify_all();
            return Err(Error::Internal(format!("spawning keychain thread: {e}")));
        }
        let left = self.timeout.saturating_sub(start.elapsed()).max(Duration::from_millis(1));
        let r = match rx.recv_timeout(left) {
            Ok(r) => r,
            Err(_) => {
                let mut g = self.gate();
                match rx.try_recv() {
                    Ok(r) => r,
                    Err(_) => {
                        // The helper may have ended since; only a helper still running is stuck.
                        g.stuck = g.busy;
                        g.retry_after = Some(Instant::now() + RETRY_AFTER);
                        drop(g);
                        self.freed.notify_all();
                        return Err(self.timed_out());
                    }
                }
            }
        };
        r.map_err(|e| {
            let e = classify(e);
            if matches!(e, Error::Keychain(KeychainProblem::NoDbus | KeychainProblem::NoSecretService)) {
                // Connect again next time: the bus or the Secret Service may come back.
                *self.store.lock().unwrap_or_else(|p| p.into_inner()) = None;
            }
            match (e, self.backend) {
                (Error::Keychain(KeychainProblem::Locked), Backend::Keyutils) => {
                    Error::Keychain(KeychainProblem::Other(
                        "the kernel keyring refused access (no usable session keyring? run under `keyctl session -` \
                         or a login session)"
                            .into(),
                    ))
                }
                (e, _) => e,
            }
        })
    }
}

/// The process-wide connection for `backend`.
fn shared_conn(backend: Backend) -> Result<Arc<Conn>> {
    static CONNS: OnceLock<Mutex<HashMap<Backend, Arc<Conn>>>> = OnceLock::new();
    let mut conns = CONNS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = conns.get(&backend) {
        return Ok(c.clone());
    }
    let factory: StoreFactory = match backend {
        Backend::Keychain => platform_keychain()?,
        Backend::Keyutils => platform_keyutils()?,
        Backend::File => return Err(Error::Internal("file backend is not a keychain".into())),
    };
    let needs_bus = backend == Backend::Keychain && cfg!(target_os = "linux");
    let c = Arc::new(Conn::new(backend, factory, keychain_timeout()?, needs_bus));
    conns.insert(backend, c.clone());
    Ok(c)
}

/// A keyring-core backed store: one vault's items (its service name) over the shared connection.
pub struct KeychainStore {
    conn: Arc<Conn>,
    service: String,
}

impl KeychainStore {
    /// The platform store for `backend` (`Keychain` or `Keyutils`), holding the items of the vault `vault_id`
    /// (`None`: a vault created before vault ids existed).
    pub fn new(backend: Backend, vault_id: Option<&str>) -> Result<Self> {
        Ok(KeychainStore { conn: shared_conn(backend)?, service: service_name(vault_id) })
    }

    /// A store over an existing keyring-core store (unit tests use `keyring_core::mock::Store`).
    pub fn with_store(
        backend: Backend,
        store: Arc<CredentialStore>,
        timeout: Duration,
        vault_id: Option<&str>,
    ) -> Self {
        let factory: StoreFactory = Arc::new(move || Ok(store.clone()));
        KeychainStore { conn: Arc::new(Conn::new(backend, factory, timeout, false)), service: service_name(vault_id) }
    }

    /// The service name of this vault's items.
    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry_call<T: Send + 'static>(
        &self,
        id: &SecretId,
        f: impl FnOnce(Entry) -> keyring_core::Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.conn.store()?;
        let (service, user) = (self.service.clone(), id.as_str().to_string());
        self.conn.deadline(move || f(Entry::new_in_store(&store, &service, &user)?))
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
        self.conn.backend
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
        KeychainStore::with_store(Backend::Keychain, store, Duration::from_secs(1), Some("00ff"))
    }

    #[test]
    fn two_vaults_have_separate_items() {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let a = KeychainStore::with_store(Backend::Keyutils, store.clone(), Duration::from_secs(1), Some("aa"));
        let b = KeychainStore::with_store(Backend::Keyutils, store.clone(), Duration::from_secs(1), Some("bb"));
        let old = KeychainStore::with_store(Backend::Keyutils, store, Duration::from_secs(1), None);
        assert_eq!((a.service(), old.service()), ("clawkeep:aa", "clawkeep"));
        let id = SecretId::parse("main/openai:default").unwrap();
        a.put(&id, &SecretString::from("sk-A".to_string())).unwrap();
        b.put(&id, &SecretString::from("sk-B".to_string())).unwrap();
        assert!(old.get(&id).unwrap().is_none());
        assert!(b.delete(&id).unwrap());
        assert_eq!(a.get(&id).unwrap().unwrap().expose_secret(), "sk-A");
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
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        let factory: StoreFactory = Arc::new(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(Duration::from_secs(5));
            Err(keyring_core::Error::NoDefaultStore)
        });
        let s = KeychainStore {
            conn: Arc::new(Conn::new(Backend::Keyutils, factory, Duration::from_millis(100), false)),
            service: service_name(None),
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
        // Only the first call started a helper thread: the others did not pile up behind the stuck one.
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
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
