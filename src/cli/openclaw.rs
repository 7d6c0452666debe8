//! `openclaw wire` and `monitor`: fitting clawkeep into an OpenClaw host.

use std::io::Write;
use std::path::PathBuf;

use clawkeep::error::exit;
use clawkeep::ops::{monitor, status};
use clawkeep::paths::Paths;
use clawkeep::vault::now_ms;
use clawkeep::{Error, Result};

#[derive(clap::Args)]
pub struct WireArgs {
    /// The config to edit (default: <state>/openclaw.json).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Show the result; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Afterwards run `openclaw doctor --fix --non-interactive --yes` so OpenClaw 2026.9+ imports clawkeep's
    /// auth-profiles.json.
    #[arg(long, conflicts_with = "dry_run")]
    import: bool,
    /// Another environment variable for OpenClaw to pass to `clawkeep resolve`. Repeatable.
    #[arg(long = "pass-env", value_name = "NAME")]
    pass_env: Vec<String>,
    /// The clawkeep binary OpenClaw should run (default: this one).
    #[arg(long)]
    binary: Option<PathBuf>,
}

pub fn wire(paths: &Paths, a: WireArgs) -> Result<i32> {
    let config = a.config.unwrap_or_else(|| paths.openclaw_config());
    let binary = match a.binary {
        Some(b) => b,
        None => std::env::current_exe().map_err(|e| Error::io("<current executable>", "locating", e))?,
    };
    let w = clawkeep::openclaw::wire::wire(&config, &binary, &a.pass_env, a.dry_run)?;
    if a.dry_run {
        // Only clawkeep's entry: the rest of the file may hold plaintext keys.
        let entry = serde_json::to_string_pretty(&w.entry).map_err(|e| Error::Internal(e.to_string()))?;
        match w.changed {
            true => println!("# {} would get secrets.providers.clawkeep =\n{entry}", config.display()),
            false => println!("# {} already has secrets.providers.clawkeep =\n{entry}", config.display()),
        }
        if w.json5_rewritten {
            eprintln!("note: the file uses JSON5 syntax (comments, unquoted keys); the rewrite would be plain JSON");
        }
        return Ok(exit::OK);
    }
    if w.changed {
        println!(
            "wired clawkeep into {} (secrets.providers.clawkeep runs `{} resolve`)",
            config.display(),
            binary.display()
        );
        if let Some(b) = &w.backup {
            println!("the previous file is saved as {}", b.display());
        }
        if w.json5_rewritten {
            eprintln!(
                "note: the file used JSON5 syntax (comments, unquoted keys); it is now plain JSON — the original is in the backup"
            );
        }
    } else {
        println!("{} already has this clawkeep provider entry; nothing changed", config.display());
    }
    println!(
        "refer to secrets as {{\"source\":\"exec\",\"provider\":\"clawkeep\",\"id\":\"main/<profileId>\"}}; check with \
         `openclaw secrets audit --allow-exec`"
    );
    if a.import {
        let Ok(openclaw) = which::which("openclaw") else {
            return Err(Error::External(
                "`openclaw` is not on PATH; run `openclaw doctor --fix --non-interactive --yes` where it is installed"
                    .into(),
            ));
        };
        let st = std::process::Command::new(openclaw)
            .args(["doctor", "--fix", "--non-interactive", "--yes"])
            .status()
            .map_err(|e| Error::External(format!("could not run openclaw: {e}")))?;
        if !st.success() {
            return Err(Error::External(format!("`openclaw doctor --fix` failed ({st})")));
        }
        println!("openclaw doctor --fix imported the profiles");
    }
    Ok(exit::OK)
}

#[derive(clap::Args)]
pub struct MonitorArgs {
    /// Shell command run (via `sh -c`) when a token is expired, missing or expiring; the message is on its stdin
    /// and in CLAWKEEP_NOTIFY_MESSAGE. Default: $CLAWKEEP_NOTIFY_CMD. Each problem is notified at most hourly.
    #[arg(long)]
    notify: Option<String>,
    #[command(flatten)]
    agent: super::AgentArg,
}

pub fn monitor(paths: &Paths, a: MonitorArgs) -> Result<i32> {
    let agent = a.agent.id()?;
    let vault = super::open_optional(paths)?;
    let now = now_ms();
    let rows = status::status(vault.as_ref(), paths, &agent, now)?;
    let code = status::check_code(&rows);
    if code == exit::OK {
        println!("all credentials of agent {agent} are fine");
        return Ok(code);
    }
    let problems = monitor::problems(&rows);
    for p in &problems {
        println!("problem: {}", p.text);
    }
    let due = monitor::due(paths, problems, now)?;
    let notify = a.notify.or_else(|| std::env::var("CLAWKEEP_NOTIFY_CMD").ok()).filter(|c| !c.trim().is_empty());
    if due.is_empty() {
        println!("already notified within the hour; not notifying again");
        return Ok(code);
    }
    let Some(cmd) = notify else {
        eprintln!("clawkeep: no notify command (--notify or CLAWKEEP_NOTIFY_CMD); problems only logged");
        return Ok(code);
    };
    let host = clawkeep::fs::read_proc(std::path::Path::new("/proc/sys/kernel/hostname"))
        .unwrap_or_default()
        .trim()
        .to_string();
    let lines: Vec<String> = due.iter().map(|p| p.text.clone()).collect();
    let message = format!("clawkeep on {}: {}", if host.is_empty() { "this host" } else { &host }, lines.join("; "));
    let mut child = std::process::Command::new("sh")
        .args(["-c", &cmd])
        .env("CLAWKEEP_NOTIFY_MESSAGE", &message)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::External(format!("could not run the notify command: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(message.as_bytes()).and_then(|()| stdin.write_all(b"\n"));
    }
    let st = child.wait().map_err(|e| Error::External(format!("notify command: {e}")))?;
    if !st.success() {
        return Err(Error::External(format!("the notify command failed ({st}); it will be retried next run")));
    }
    let keys: Vec<String> = due.into_iter().map(|p| p.key).collect();
    monitor::mark(paths, &keys, now)?;
    println!("notified: {}", lines.join("; "));
    Ok(code)
}
