//! Where things live: OpenClaw's state dir, agent dirs, clawkeep's own dir. Resolved here and nowhere else.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Default agent id, as in OpenClaw.
pub const DEFAULT_AGENT: &str = "main";

/// Resolved locations for one invocation.
#[derive(Debug, Clone)]
pub struct Paths {
    /// OpenClaw's state dir (`$OPENCLAW_STATE_DIR`, else `~/.openclaw`).
    pub state_dir: PathBuf,
    /// clawkeep's own data (`$CLAWKEEP_DIR`, else `<state>/clawkeep`).
    pub clawkeep_dir: PathBuf,
}

impl Paths {
    /// Resolve from the environment.
    pub fn from_env() -> Result<Paths> {
        let state_dir = match std::env::var_os("OPENCLAW_STATE_DIR").filter(|v| !v.is_empty()) {
            Some(v) => PathBuf::from(v),
            None => home_dir()?.join(".openclaw"),
        };
        let clawkeep_dir = match std::env::var_os("CLAWKEEP_DIR").filter(|v| !v.is_empty()) {
            Some(v) => PathBuf::from(v),
            None => state_dir.join("clawkeep"),
        };
        Ok(Paths { state_dir: absolute(state_dir)?, clawkeep_dir: absolute(clawkeep_dir)? })
    }

    /// The vault service's socket: `$CLAWKEEP_SOCKET`, else `$XDG_RUNTIME_DIR/clawkeep/agent.sock`, else
    /// `<clawkeep dir>/agent.sock`.
    pub fn socket(&self) -> PathBuf {
        if let Some(v) = std::env::var_os("CLAWKEEP_SOCKET").filter(|v| !v.is_empty()) {
            return PathBuf::from(v);
        }
        match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
            Some(d) => PathBuf::from(d).join("clawkeep").join("agent.sock"),
            None => self.clawkeep_dir.join("agent.sock"),
        }
    }

    /// `<clawkeep dir>/sessions.json`: per-session model and profile pins.
    pub fn sessions(&self) -> PathBuf {
        self.clawkeep_dir.join("sessions.json")
    }

    /// `<clawkeep dir>/monitor.json`: when the auth monitor last notified about each problem.
    pub fn monitor_state(&self) -> PathBuf {
        self.clawkeep_dir.join("monitor.json")
    }

    /// `<state>/agents/<agent>/agent`.
    pub fn agent_dir(&self, agent: &str) -> PathBuf {
        self.state_dir.join("agents").join(agent).join("agent")
    }
    /// `<agent dir>/auth-profiles.json`.
    pub fn auth_profiles(&self, agent: &str) -> PathBuf {
        self.agent_dir(agent).join("auth-profiles.json")
    }
    /// `<agent dir>/auth-state.json`.
    pub fn auth_state(&self, agent: &str) -> PathBuf {
        self.agent_dir(agent).join("auth-state.json")
    }
    /// Legacy `<agent dir>/auth.json`.
    pub fn legacy_auth(&self, agent: &str) -> PathBuf {
        self.agent_dir(agent).join("auth.json")
    }
    /// `<state>/.env`.
    pub fn dotenv(&self) -> PathBuf {
        self.state_dir.join(".env")
    }
    /// `<state>/openclaw.json`.
    pub fn openclaw_config(&self) -> PathBuf {
        self.state_dir.join("openclaw.json")
    }
    /// OpenClaw's SQLite store for an agent (2026.9 and later).
    pub fn agent_sqlite(&self, agent: &str) -> PathBuf {
        crate::openclaw::sqlite::agent_path(&self.agent_dir(agent))
    }
    /// OpenClaw's shared SQLite store (2026.9 and later).
    pub fn shared_sqlite(&self) -> PathBuf {
        crate::openclaw::sqlite::shared_path(&self.state_dir)
    }

    /// Whether OpenClaw 2026.9+ keeps this agent's profiles in SQLite (then `auth-profiles.json` must be imported
    /// with `openclaw doctor --fix`, and until then OpenClaw refuses the affected providers).
    pub fn sqlite_layout(&self, agent: &str) -> bool {
        crate::openclaw::sqlite::layout(&self.state_dir, &self.agent_dir(agent))
    }

    /// Agent ids that have a directory under `<state>/agents`, sorted.
    pub fn existing_agents(&self) -> Result<Vec<String>> {
        let dir = self.state_dir.join("agents");
        let mut out = Vec::new();
        match std::fs::read_dir(&dir) {
            Ok(rd) => {
                for e in rd {
                    let e = e.map_err(|e| Error::io(&dir, "listing", e))?;
                    if let Some(name) = e.file_name().to_str()
                        && valid_agent_id(name)
                        && e.path().join("agent").is_dir()
                    {
                        out.push(name.to_string());
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&dir, "listing", e)),
        }
        out.sort();
        Ok(out)
    }
}

/// OpenClaw agent ids: lowercase letters, digits, `_` and `-`, starting with a letter or digit, at most 64.
pub fn valid_agent_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// Check an agent id from the command line.
pub fn check_agent_id(s: &str) -> Result<()> {
    if valid_agent_id(s) {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "invalid agent id `{s}`: use lowercase letters, digits, `_` and `-` (at most 64 characters)"
        )))
    }
}

fn home_dir() -> Result<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| Error::InvalidInput("HOME is not set; set HOME or OPENCLAW_STATE_DIR".into()))
}

fn absolute(p: PathBuf) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p);
    }
    std::path::absolute(&p).map_err(|e| Error::io(Path::new(&p), "resolving", e))
}
