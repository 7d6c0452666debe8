//! `openclaw wire`: register clawkeep as OpenClaw's exec SecretRef provider in `openclaw.json`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::openclaw::OpenClawConfig;

/// Environment variables `clawkeep resolve` may need to find its socket, its dir and the keychain.
pub const PASS_ENV: &[&str] =
    &["HOME", "XDG_RUNTIME_DIR", "CLAWKEEP_SOCKET", "CLAWKEEP_DIR", "OPENCLAW_STATE_DIR", "DBUS_SESSION_BUS_ADDRESS"];

/// What `wire` did (or would do).
pub struct Wired {
    /// The config file.
    pub config: PathBuf,
    /// The provider entry.
    pub entry: Value,
    /// Whether the file changed (or would).
    pub changed: bool,
    /// The backup of the original, when written.
    pub backup: Option<PathBuf>,
    /// The original used JSON5 syntax that the rewrite turns into plain JSON.
    pub json5_rewritten: bool,
}

/// Check `command` against OpenClaw's exec rules: absolute, a regular file (no symlink), not group/world-writable,
/// owned by the current user.
pub fn check_exec_command(command: &Path) -> Result<()> {
    let insecure = |problem: String, fix: String| Error::Insecure { path: command.into(), problem, fix };
    if !command.is_absolute() {
        return Err(insecure("is not an absolute path".into(), "give the absolute path of the clawkeep binary".into()));
    }
    let meta = std::fs::symlink_metadata(command).map_err(|e| Error::io(command, "inspecting", e))?;
    if meta.file_type().is_symlink() {
        return Err(insecure(
            "is a symlink, which OpenClaw refuses for exec providers".into(),
            format!(
                "point OpenClaw at the real file: {}",
                std::fs::canonicalize(command).unwrap_or_default().display()
            ),
        ));
    }
    if !meta.is_file() {
        return Err(insecure("is not a regular file".into(), "install clawkeep as a regular file".into()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(insecure(
            format!("is group- or world-writable (mode {:o}), which OpenClaw refuses", meta.mode() & 0o7777),
            format!("chmod go-w {}", command.display()),
        ));
    }
    if meta.uid() != crate::fs::euid() {
        return Err(insecure(
            format!("is owned by uid {}, not by you (uid {}), which OpenClaw refuses", meta.uid(), crate::fs::euid()),
            format!(
                "install your own copy (e.g. `cargo install --path . --locked`, or `install -m 755 {} ~/.local/bin/`) and wire that",
                command.display()
            ),
        ));
    }
    Ok(())
}

/// Add (or update) `secrets.providers.clawkeep` in `config_path`, keeping every other setting.
pub fn wire(config_path: &Path, command: &Path, extra_env: &[String], dry_run: bool) -> Result<Wired> {
    check_exec_command(command)?;
    let command = command
        .to_str()
        .ok_or_else(|| Error::InvalidInput(format!("{}: the binary path is not valid UTF-8", command.display())))?;
    let mut pass_env: Vec<String> = PASS_ENV.iter().map(|s| s.to_string()).collect();
    for e in extra_env {
        if !crate::openclaw::dotenv::valid_env_name(e) {
            return Err(Error::InvalidInput(format!("--pass-env: invalid variable name `{e}`")));
        }
        if !pass_env.contains(e) {
            pass_env.push(e.clone());
        }
    }
    let mut config = OpenClawConfig::load(config_path)?;
    let mut entry = json!({
        "source": "exec",
        "command": command,
        "args": ["resolve"],
        "jsonOnly": true,
        "passEnv": pass_env,
    });
    // Keep what the user tuned on an existing entry (timeouts, env, trustedDirs…).
    if let (Some(Value::Object(old)), Some(new)) = (config.exec_provider(crate::PROVIDER_ALIAS), entry.as_object_mut())
    {
        for (k, v) in old {
            if !new.contains_key(k) {
                new.insert(k.clone(), v.clone());
            }
        }
        if let Some(Value::Array(old_env)) = old.get("passEnv")
            && let Some(Value::Array(env)) = new.get_mut("passEnv")
        {
            for v in old_env {
                if !env.contains(v) {
                    env.push(v.clone());
                }
            }
        }
    }
    let changed = config.set_exec_provider(crate::PROVIDER_ALIAS, entry.clone())? || config.original.is_none();
    let json5_rewritten = changed && config.is_json5_only();
    let backup = if changed && !dry_run { config.save()? } else { None };
    Ok(Wired { config: config_path.into(), entry, changed, backup, json5_rewritten })
}
