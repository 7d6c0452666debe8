//! What the service keeps between requests: the unwrapped file-store identity (on locked memory) and the
//! timers that wipe it (TTL, idle timeout, `lock`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::Config;
use crate::paths::Paths;
use crate::protocol::wire::ServiceStatus;
use crate::vault::{SharedIdentity, Vault, VaultConfig, VaultFiles, now_ms};

/// Deadlines are checked on both clocks: the monotonic one (immune to clock changes) and the wall clock (which, unlike
/// the monotonic clock, counts time spent suspended).
struct Unlocked {
    identity: SharedIdentity,
    until: Instant,
    until_ms: i64,
    last_used: Instant,
    last_used_ms: i64,
}

impl Unlocked {
    fn expired(&self, idle: Duration) -> Option<&'static str> {
        let (now, now_wall) = (Instant::now(), now_ms());
        let idle_ms = idle.as_millis().min(i64::MAX as u128) as i64;
        if now >= self.until || now_wall >= self.until_ms {
            Some("TTL reached")
        } else if now.duration_since(self.last_used) >= idle || now_wall - self.last_used_ms >= idle_ms {
            Some("idle timeout")
        } else {
            None
        }
    }
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
    /// Bumped by every lock, expiry and shutdown: a `select` that started before one of them hands nothing out.
    epoch: AtomicU64,
    /// Bumped by `lock` and shutdown only: an unlock that started before one of them does not take effect (an expiry
    /// of the previous unlock does not void it).
    lock_epoch: AtomicU64,
}

impl State {
    /// Fresh, locked.
    pub fn new(paths: Paths, config: Config) -> State {
        State {
            paths,
            config,
            own_uid: crate::fs::euid(),
            unlocked: Mutex::new(None),
            handed_out: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            lock_epoch: AtomicU64::new(0),
        }
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
        crate::fs::read_optional(&VaultFiles::new(&self.paths).config)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice::<VaultConfig>(&b).ok())
            .map(|c| c.backend.to_string())
            .unwrap_or_else(|| "none".into())
    }

    /// The identity for a request, if unlocked and not expired; counts as use for the idle timer.
    pub fn identity(&self) -> Option<SharedIdentity> {
        self.identity_at(self.epoch())
    }

    /// The identity, only if nothing wiped it since `epoch` was read (a request that waited must not hand out a
    /// secret after a `lock`); counts as use.
    pub fn identity_at(&self, epoch: u64) -> Option<SharedIdentity> {
        let mut slot = self.slot();
        if self.epoch() != epoch {
            return None;
        }
        if slot.as_ref()?.expired(self.config.idle).is_some() {
            *slot = None;
            self.epoch.fetch_add(1, Ordering::SeqCst);
            return None;
        }
        let u = slot.as_mut()?;
        u.last_used = Instant::now();
        u.last_used_ms = now_ms();
        Some(u.identity.clone())
    }

    /// The current wipe epoch (locks, expiries, shutdown); pass it to [`identity_at`](Self::identity_at).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Count a request as use for the idle timer, without taking the identity. An unlock whose TTL or idle time
    /// has passed is wiped here (as [`identity_at`](Self::identity_at) does), never revived.
    pub fn touch(&self) {
        let mut slot = self.slot();
        if slot.as_ref().is_some_and(|u| u.expired(self.config.idle).is_some()) {
            *slot = None;
            self.epoch.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if let Some(u) = slot.as_mut() {
            u.last_used = Instant::now();
            u.last_used_ms = now_ms();
        }
    }

    /// The current lock epoch (`lock`, shutdown); pass it to [`set_unlocked`](Self::set_unlocked).
    pub fn lock_epoch(&self) -> u64 {
        self.lock_epoch.load(Ordering::SeqCst)
    }

    /// Keep `identity` for `ttl` (`None` = the configured TTL, which also caps any requested one), unless a lock or
    /// shutdown happened since `lock_epoch` was read; whether it was kept.
    pub fn set_unlocked(&self, identity: SharedIdentity, ttl: Option<Duration>, lock_epoch: u64) -> bool {
        let ttl = ttl.map_or(self.config.ttl, |t| t.min(self.config.ttl));
        let mut slot = self.slot();
        if self.lock_epoch.load(Ordering::SeqCst) != lock_epoch {
            return false;
        }
        let (now, now_wall) = (Instant::now(), now_ms());
        *slot = Some(Unlocked {
            identity,
            until: now + ttl,
            until_ms: now_wall.saturating_add(ttl.as_millis().min(i64::MAX as u128) as i64),
            last_used: now,
            last_used_ms: now_wall,
        });
        true
    }

    /// Wipe the identity (and void unlocks in progress); whether it was held.
    pub fn lock(&self) -> bool {
        let mut slot = self.slot();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.lock_epoch.fetch_add(1, Ordering::SeqCst);
        slot.take().is_some()
    }

    /// Wipe the identity if its TTL or idle timeout has passed; why, if it did.
    pub fn expire(&self) -> Option<&'static str> {
        let mut slot = self.slot();
        let why = slot.as_ref()?.expired(self.config.idle)?;
        *slot = None;
        self.epoch.fetch_add(1, Ordering::SeqCst);
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
        let idle_ms = self.config.idle.as_millis().min(i64::MAX as u128) as i64;
        let idle_until = slot.as_ref().map(|u| u.last_used_ms.saturating_add(idle_ms).min(u.until_ms));
        ServiceStatus {
            version: env!("CARGO_PKG_VERSION").into(),
            pid: std::process::id(),
            unlocked: slot.is_some() || !matches!(backend.as_str(), "file" | "none"),
            unlocked_until: slot.as_ref().map(|u| u.until_ms),
            idle_until,
            backend,
            locked_memory: crate::memory::locked_bytes() as u64,
            locked_memory_limit: rustix::process::getrlimit(rustix::process::Resource::Memlock).current,
            handed_out: self.handed_out.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
impl State {
    /// A state with hour-long deadlines over paths that do not exist, for unit tests.
    pub(crate) fn for_tests() -> State {
        let hour = Duration::from_secs(3600);
        let config = crate::service::Config {
            socket: "/nonexistent".into(),
            ttl: hour,
            idle: hour,
            client_timeout: hour,
            allow_root: false,
            max_clients: 1,
        };
        State::new(Paths { state_dir: "/nonexistent".into(), clawkeep_dir: "/nonexistent/ck".into() }, config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unlocked(until_in: Duration, until_ms_in: i64, idle_wall_ago: i64) -> Unlocked {
        let now = Instant::now();
        Unlocked {
            identity: std::sync::Arc::new(crate::memory::Locked::new(age::x25519::Identity::generate())),
            until: now + until_in,
            until_ms: now_ms() + until_ms_in,
            last_used: now,
            last_used_ms: now_ms() - idle_wall_ago,
        }
    }

    #[test]
    fn deadlines_hold_on_either_clock() {
        let hour = Duration::from_secs(3600);
        assert_eq!(unlocked(hour, 3_600_000, 0).expired(hour), None);
        // The monotonic clock stood still while the machine slept; the wall clock did not.
        assert_eq!(unlocked(hour, -1, 0).expired(hour), Some("TTL reached"));
        assert_eq!(unlocked(hour, 3_600_000, 3_600_001).expired(hour), Some("idle timeout"));
        assert_eq!(unlocked(Duration::ZERO, 3_600_000, 0).expired(hour), Some("TTL reached"));
    }

    #[test]
    fn a_request_after_the_idle_deadline_wipes_instead_of_reviving() {
        let hour = Duration::from_secs(3600);
        let state = State::for_tests();
        // Idle for longer than the idle timeout, and the sweeper has not run yet.
        *state.slot() = Some(unlocked(hour, 3_600_000, 3_600_001));
        let epoch = state.epoch();
        state.touch();
        assert!(state.slot().is_none(), "touch revived an expired unlock");
        assert_ne!(state.epoch(), epoch, "the wipe must end requests that read the old epoch");
        assert!(state.identity().is_none());
    }
}
