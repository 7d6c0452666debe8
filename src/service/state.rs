//! What the service keeps between requests: the unwrapped file-store identity (on locked memory) and the
//! timers that wipe it (TTL, idle timeout, `lock`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::Config;
use crate::paths::Paths;
use crate::protocol::wire::ServiceStatus;
use crate::vault::{SharedIdentity, Vault, VaultConfig, now_ms};

struct Unlocked {
    identity: SharedIdentity,
    until: Instant,
    until_ms: i64,
    last_used: Instant,
}

/// Shared by every connection.
pub struct State {
    /// Where the vault is.
    pub paths: Paths,
    /// How the service runs.
    pub config: Config,
    own_uid: u32,
    unlocked: Mutex<Option<Unlocked>>,
    handed_out: AtomicU64,
}

impl State {
    /// Fresh, locked.
    pub fn new(paths: Paths, config: Config) -> State {
        State { paths, config, own_uid: crate::fs::euid(), unlocked: Mutex::new(None), handed_out: AtomicU64::new(0) }
    }

    /// The uid this service serves.
    pub fn own_uid(&self) -> u32 {
        self.own_uid
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Unlocked>> {
        self.unlocked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The vault's backend as configured (`none` without a vault).
    pub fn backend(&self) -> String {
        let cfg = self.paths.clawkeep_dir.join("vault.json");
        crate::fs::read_optional(&cfg)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice::<VaultConfig>(&b).ok())
            .map(|c| c.backend.to_string())
            .unwrap_or_else(|| "none".into())
    }

    /// Whether secrets can be read without a passphrase (identity held, or a keychain backend).
    pub fn is_unlocked(&self) -> bool {
        self.slot().is_some() || !matches!(self.backend().as_str(), "file" | "none")
    }

    /// The identity for a request, if unlocked and not expired; counts as use for the idle timer.
    pub fn identity(&self) -> Option<SharedIdentity> {
        let mut slot = self.slot();
        let now = Instant::now();
        let u = slot.as_mut()?;
        if now >= u.until || now.duration_since(u.last_used) >= self.config.idle {
            *slot = None;
            return None;
        }
        u.last_used = now;
        Some(u.identity.clone())
    }

    /// Keep `identity` for `ttl` (`None` = the configured TTL, which also caps any requested one).
    pub fn set_unlocked(&self, identity: SharedIdentity, ttl: Option<Duration>) {
        let ttl = ttl.map_or(self.config.ttl, |t| t.min(self.config.ttl));
        let now = Instant::now();
        *self.slot() = Some(Unlocked {
            identity,
            until: now + ttl,
            until_ms: now_ms().saturating_add(ttl.as_millis().min(i64::MAX as u128) as i64),
            last_used: now,
        });
    }

    /// Wipe the identity; whether it was held.
    pub fn lock(&self) -> bool {
        self.slot().take().is_some()
    }

    /// Wipe the identity if its TTL or idle timeout has passed; why, if it did.
    pub fn expire(&self) -> Option<&'static str> {
        let mut slot = self.slot();
        let u = slot.as_ref()?;
        let now = Instant::now();
        let why = if now >= u.until {
            "TTL reached"
        } else if now.duration_since(u.last_used) >= self.config.idle {
            "idle timeout"
        } else {
            return None;
        };
        *slot = None;
        Some(why)
    }

    /// Count secrets handed out.
    pub fn count_handed_out(&self, n: u64) {
        self.handed_out.fetch_add(n, Ordering::Relaxed);
    }

    /// Open the vault for one request, with the identity if unlocked.
    pub fn vault(&self) -> crate::Result<Option<Vault>> {
        if !Vault::exists(&self.paths) {
            return Ok(None);
        }
        Vault::open_unlocked(&self.paths, self.identity()).map(Some)
    }

    /// The `status` answer.
    pub fn status(&self) -> ServiceStatus {
        let backend = self.backend();
        let slot = self.slot();
        let idle_until = slot.as_ref().map(|u| {
            let left = self.config.idle.saturating_sub(u.last_used.elapsed());
            now_ms().saturating_add(left.as_millis() as i64).min(u.until_ms)
        });
        ServiceStatus {
            version: env!("CARGO_PKG_VERSION").into(),
            pid: std::process::id(),
            unlocked: slot.is_some() || !matches!(backend.as_str(), "file" | "none"),
            unlocked_until: slot.as_ref().map(|u| u.until_ms),
            idle_until,
            backend,
            locked_memory: crate::memory::locked_bytes() as u64,
            handed_out: self.handed_out.load(Ordering::Relaxed),
        }
    }
}
