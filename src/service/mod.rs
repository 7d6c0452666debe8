//! The vault service (`clawkeep serve`): a Unix-socket server that hands secrets to the gateway on demand.
//!
//! Reading top-down: [`run`] builds the runtime, binds the socket ([`socket`]), optionally unlocks, then accepts
//! connections; each is checked ([`peer`]) and served frame by frame ([`connection`]); requests are answered by
//! [`handler`] against the shared [`state::State`] (the unlocked identity and its timers).

pub mod connection;
pub mod handler;
pub mod peer;
pub mod socket;
pub mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::error::{Error, Result};
use crate::paths::Paths;
use state::State;

/// Default `--max-clients`: each connection locks two 64 KiB frame buffers, so 48 of them (6 MiB) leave room for the
/// identity page, the reserved `status`/`lock` slots and the rest within the common 8 MiB `RLIMIT_MEMLOCK`.
pub const DEFAULT_MAX_CLIENTS: usize = 48;

/// How the service runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The socket path.
    pub socket: PathBuf,
    /// Longest an unlock lasts (`--ttl`, default 8 h).
    pub ttl: Duration,
    /// An unlock ends after this long without use (`--idle-timeout`, default 1 h).
    pub idle: Duration,
    /// A client must send each frame within this (`--client-timeout`, default 10 s).
    pub client_timeout: Duration,
    /// Serve root as well as the service's own uid.
    pub allow_root: bool,
    /// Connections served at once; more get `BUSY`.
    pub max_clients: usize,
}

/// How long a connection may stay silent before its first byte (and between requests).
pub const IDLE_CLIENT: Duration = Duration::from_secs(2);

impl Config {
    /// [`IDLE_CLIENT`], or the client timeout if that is shorter.
    pub fn idle_client(&self) -> Duration {
        self.client_timeout.min(IDLE_CLIENT)
    }

    /// Defaults for `paths`.
    pub fn new(paths: &Paths) -> Config {
        Config {
            socket: paths.socket(),
            ttl: Duration::from_secs(8 * 3600),
            idle: Duration::from_secs(3600),
            client_timeout: Duration::from_secs(10),
            allow_root: false,
            max_clients: DEFAULT_MAX_CLIENTS,
        }
    }
}

/// Log a line to stderr (the journal under systemd). Never given secret material.
pub fn log(msg: std::fmt::Arguments<'_>) {
    eprintln!("clawkeep serve: {msg}");
}

/// Threads that make answers (vault reads, decryption hand-offs, the access log, keychain calls). More only add
/// context switches and memory on small machines: each keychain call has its own deadline, and `lock`/`status` never
/// wait for these threads.
const BLOCKING_THREADS: usize = 8;

/// Run the service in the foreground until SIGINT/SIGTERM. With `unlock`, unwrap the file store's identity first.
pub fn run(paths: Paths, config: Config, unlock: Option<SecretString>) -> Result<()> {
    // The service never starts another program: no core dumps, not even by raising the soft limit again.
    crate::memory::forbid_core_dumps();
    // Room for every slot, the silent connections and the files each request opens: the soft fd limit goes up to the
    // hard one (often 1024 → 524288).
    let nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit { current: nofile.maximum, maximum: nofile.maximum },
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("starting the runtime: {e}")))?;
    rt.block_on(serve(paths, config, unlock))
}

async fn serve(paths: Paths, config: Config, unlock: Option<SecretString>) -> Result<()> {
    let claim = socket::claim(&config.socket)?;
    let state = Arc::new(State::new(paths, config.clone()));
    // Unlock before binding, so a client never finds a socket whose service is not ready.
    if let Some(pass) = unlock {
        let st = state.clone();
        tokio::task::spawn_blocking(move || handler::unlock(&st, pass, None))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
    }
    let mut bound = claim.bind()?;
    let st = state.status();
    log(format_args!(
        "listening on {} (pid {}, backend {}, {}, serving uid {}{})",
        config.socket.display(),
        std::process::id(),
        st.backend,
        if st.unlocked { "unlocked" } else { "locked" },
        state.own_uid(),
        if config.allow_root { " and root" } else { "" }
    ));
    let slots = Arc::new(connection::Slots::new(config.max_clients));
    let waiting = Arc::new(tokio::sync::Semaphore::new(connection::MAX_WAITING));
    let flooded = Arc::new(tokio::sync::Semaphore::new(connection::MAX_WAITING));
    let mut sweep = tokio::time::interval(Duration::from_millis(250));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::Internal(format!("installing the SIGTERM handler: {e}")))?;
    loop {
        tokio::select! {
            accepted = bound.listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let admitted = match waiting.clone().try_acquire_owned() {
                        Ok(w) => Some((w, config.idle_client())),
                        Err(_) => flooded.clone().try_acquire_owned().ok().map(|w| (w, connection::FLOOD_GRACE)),
                    };
                    match admitted {
                        Some((w, within)) => {
                            tokio::spawn(connection::serve(state.clone(), stream, slots.clone(), w, within));
                        }
                        // Far too many silent connections: this one is closed at once.
                        None => drop(stream),
                    }
                }
                Err(e) => {
                    log(format_args!("accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = sweep.tick() => {
                if let Some(why) = state.expire() {
                    log(format_args!("locked the file store ({why}); its identity was wiped"));
                }
                // A deleted socket file leaves the service unreachable: nobody could `lock` it. Lock, then bind again.
                if !bound.present() {
                    state.lock();
                    log(format_args!("the socket {} was removed; locked the file store, identity wiped", config.socket.display()));
                    if let Err(e) = bound.rebind() {
                        log(format_args!("stopping: {e}"));
                        return Err(e);
                    }
                    log(format_args!("listening on {} again", config.socket.display()));
                }
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    state.lock();
    bound.remove();
    log(format_args!("stopped; socket removed, identity wiped"));
    Ok(())
}
