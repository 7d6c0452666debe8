//! `serve`, `unlock`, `lock`, `status`: the vault service and talking to it.

use std::time::Duration;

use clawkeep::error::exit;
use clawkeep::ops::status::parse_duration_ms;
use clawkeep::paths::Paths;
use clawkeep::protocol::client::Client;
use clawkeep::protocol::wire::{Request, Response, ServiceStatus, WireError, WireSecret, code};
use clawkeep::service::Config;
use clawkeep::{Error, Result};

use super::input;
use super::output;

/// How long a CLI command waits for the service (resolve must stay inside OpenClaw's 5 s).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(4);

fn duration(flag: &str, raw: &str) -> Result<Duration> {
    let ms = parse_duration_ms(raw).map_err(|e| Error::InvalidInput(format!("--{flag}: {e}")))?;
    if ms <= 0 {
        return Err(Error::InvalidInput(format!("--{flag}: must be greater than zero")));
    }
    Ok(Duration::from_millis(ms as u64))
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Unlock the file store at start with the passphrase in CLAWKEEP_PASSPHRASE_FILE (systemd `LoadCredential=`).
    #[arg(long)]
    unlock: bool,
    /// Longest an unlock lasts.
    #[arg(long, default_value = "8h")]
    ttl: String,
    /// An unlock ends after this long without a `get`, `select`, `report` or `store` request (whatever its outcome;
    /// `status`, `lock` and `unlock` do not count).
    #[arg(long, default_value = "1h")]
    idle_timeout: String,
    /// A client must send each request within this.
    #[arg(long, default_value = "10s")]
    client_timeout: String,
    /// Also serve root (by default only the service's own uid is served).
    #[arg(long)]
    allow_root: bool,
    /// Connections served at once (1-4096); more are answered BUSY, except `status` and `lock`.
    #[arg(long, default_value_t = clawkeep::service::DEFAULT_MAX_CLIENTS)]
    max_clients: usize,
}

/// Most connections one service serves at once (each holds 128 KiB of locked buffers while busy).
const MAX_CLIENTS_CAP: usize = 4096;

pub fn serve(paths: &Paths, a: ServeArgs) -> Result<i32> {
    let mut config = Config::new(paths);
    config.ttl = duration("ttl", &a.ttl)?;
    config.idle = duration("idle-timeout", &a.idle_timeout)?;
    config.client_timeout = duration("client-timeout", &a.client_timeout)?;
    config.allow_root = a.allow_root;
    if !(1..=MAX_CLIENTS_CAP).contains(&a.max_clients) {
        return Err(Error::InvalidInput(format!("--max-clients: must be between 1 and {MAX_CLIENTS_CAP}")));
    }
    config.max_clients = a.max_clients;
    // A bad keychain deadline is refused at start, not on the first request.
    clawkeep::vault::store::keychain_timeout()?;
    let pass = if a.unlock {
        match std::env::var_os(input::PASSPHRASE_FILE) {
            None => {
                return Err(Error::InvalidInput(format!(
                    "--unlock reads the passphrase from {} (e.g. systemd's LoadCredential=); it is not set",
                    input::PASSPHRASE_FILE
                )));
            }
            Some(v) if v.is_empty() => {
                return Err(Error::InvalidInput(format!(
                    "--unlock reads the passphrase from {}, which is set but empty; name the passphrase file",
                    input::PASSPHRASE_FILE
                )));
            }
            Some(_) => {}
        }
        Some(input::passphrase()?)
    } else {
        None
    };
    clawkeep::service::run(paths.clone(), config, pass)?;
    Ok(exit::OK)
}

/// Connect to the running service, if there is one.
pub fn connect(paths: &Paths) -> Result<Option<Client>> {
    Client::connect(&paths.socket(), CLIENT_TIMEOUT)
}

fn required(paths: &Paths) -> Result<Client> {
    connect(paths)?.ok_or_else(|| {
        Error::Service(format!(
            "no vault service is running on {} (start it with `clawkeep serve`)",
            paths.socket().display()
        ))
    })
}

/// A failed response as an error.
pub fn failure(resp: Response) -> Error {
    wire_error(resp.error.unwrap_or_else(|| WireError::new(code::INTERNAL, "no error given")))
}

/// A service error code (of a request or of one id) as an error.
pub fn wire_error(e: WireError) -> Error {
    let msg = e.message.unwrap_or_default();
    match e.code.as_str() {
        code::WRONG_PASSPHRASE => Error::WrongPassphrase,
        code::LOCKED => Error::VaultLocked,
        code::NOT_FOUND | code::NO_PROFILE => Error::NotFound(msg),
        code::INVALID => Error::InvalidInput(msg),
        c => Error::Service(format!("the vault service answered {c}: {msg}")),
    }
}

fn call(paths: &Paths, req: &Request) -> Result<Response> {
    let resp = required(paths)?.call(req)?;
    if resp.ok { Ok(resp) } else { Err(failure(resp)) }
}

fn show(s: &ServiceStatus, json: bool) {
    if json {
        output::json(s);
        return;
    }
    let now = clawkeep::vault::now_ms();
    println!("service: running (pid {}, clawkeep {})", s.pid, s.version);
    println!("backend: {}", s.backend);
    match (s.unlocked, s.unlocked_until) {
        _ if s.backend == "none" => println!("vault: none yet (`clawkeep init`)"),
        (true, Some(until)) => println!(
            "file store: unlocked for {} more (idle timeout in {})",
            output::human_ms(until - now),
            output::human_ms(s.idle_until.unwrap_or(until) - now)
        ),
        (true, None) => println!("secrets: readable (keychain backends need no unlock)"),
        (false, _) => println!("file store: locked (`clawkeep unlock`)"),
    }
    let limit = match s.locked_memory_limit {
        Some(l) => format!("{l} bytes"),
        None => "unlimited".into(),
    };
    println!(
        "locked memory: {} bytes (limit {limit}, RLIMIT_MEMLOCK); secrets handed out: {}",
        s.locked_memory, s.handed_out
    );
}

pub fn unlock(paths: &Paths, ttl: Option<String>) -> Result<i32> {
    let ttl_ms = ttl.map(|t| duration("ttl", &t)).transpose()?.map(|d| d.as_millis() as u64);
    // Keychain backends need no unlock: do not ask for a passphrase that would not be used. This first connection
    // is closed before the prompt: typing may take longer than the service waits for a request.
    let state = call(paths, &Request::new("status"))?.status.unwrap_or_default();
    if state.backend == "none" {
        return Err(Error::NotInitialized(paths.clawkeep_dir.clone()));
    }
    if state.backend != "file" {
        println!("the {} backend needs no unlock; the service reads it directly", state.backend);
        return Ok(exit::OK);
    }
    let mut req = Request::new("unlock");
    req.passphrase = Some(WireSecret(input::passphrase()?));
    req.ttl_ms = ttl_ms;
    let resp = required(paths)?.call(&req)?;
    if !resp.ok {
        return Err(failure(resp));
    }
    if let Some(s) = resp.status {
        show(&s, false);
    }
    Ok(exit::OK)
}

pub fn lock(paths: &Paths) -> Result<i32> {
    let resp = call(paths, &Request::new("lock"))?;
    if let Some(s) = resp.status {
        show(&s, false);
    }
    Ok(exit::OK)
}

pub fn status(paths: &Paths, json: bool) -> Result<i32> {
    let resp = call(paths, &Request::new("status"))?;
    if let Some(s) = resp.status {
        show(&s, json);
    }
    Ok(exit::OK)
}
