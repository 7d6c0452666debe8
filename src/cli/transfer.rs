//! `recipient`, `export`, `import`: moving credentials to another host, sealed to its recipient.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};

use clap::Args;

use clawkeep::error::exit;
use clawkeep::ops::status::parse_duration_ms;
use clawkeep::paths::Paths;
use clawkeep::transfer::{self, bundle::MAX_ARMORED};
use clawkeep::vault::host::fingerprint;
use clawkeep::{Error, Result};

use super::{AgentArg, input, output};

#[derive(Args)]
pub struct ExportArgs {
    /// The receiving host's recipient (`age1…`, from `clawkeep recipient` there).
    #[arg(long)]
    to: String,
    /// A profile to send (repeatable); default: every profile clawkeep holds for the agent.
    #[arg(long = "profile")]
    profiles: Vec<String>,
    /// How long the bundle can be imported: `1h`, `30m`, `2d` (at most 30 days).
    #[arg(long, default_value = "1h")]
    expires_in: String,
    #[command(flatten)]
    agent: AgentArg,
}

#[derive(Args)]
pub struct ImportArgs {
    /// The bundle: a file, or `-` (the default) for stdin.
    #[arg(default_value = "-")]
    file: String,
    /// Do not ask; needed when stdin is not a terminal (or carries the bundle).
    #[arg(long)]
    yes: bool,
    /// Store profile FROM of the bundle as TO here (repeatable).
    #[arg(long = "rename", value_name = "FROM=TO")]
    renames: Vec<String>,
    /// Replace profiles that exist here.
    #[arg(long)]
    force: bool,
    /// Agent to store into (default: the agent the bundle came from).
    #[arg(long)]
    agent: Option<String>,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

pub fn recipient(paths: &Paths, json: bool) -> Result<i32> {
    let mut vault = super::open_vault(paths)?;
    let r = vault.host_recipient()?;
    let fp = fingerprint(&r);
    if json {
        output::json(&serde_json::json!({ "recipient": r.to_string(), "fingerprint": fp }));
    } else {
        // stdout carries only the recipient, for `--to "$(ssh host clawkeep recipient)"`.
        println!("{r}");
        eprintln!("fingerprint: {fp}  (compare it with the other side before you import)");
    }
    Ok(exit::OK)
}

pub fn export(paths: &Paths, a: ExportArgs) -> Result<i32> {
    let agent = a.agent.id()?;
    let lifetime = parse_duration_ms(&a.expires_in)?;
    let mut vault = super::open_vault(paths)?;
    let (armored, summary) = transfer::export(&mut vault, paths, &agent, &a.profiles, &a.to, lifetime)?;
    // The bundle is sealed to another host: its lines name the profiles, not a fingerprint of each value.
    let lines: Vec<_> =
        summary.profiles.iter().map(|p| clawkeep::audit::entry("export", Some(&agent), Some(p), "ok", None)).collect();
    clawkeep::audit::record_cli(paths, &lines)?;
    let mut out = std::io::stdout().lock();
    out.write_all(armored.as_bytes()).and_then(|()| out.flush()).map_err(|e| Error::io("<stdout>", "writing", e))?;
    eprintln!(
        "sealed {} to {} (fingerprint {}); bundle {} can be imported once, until {}",
        summary.profiles.join(", "),
        summary.to,
        clawkeep::transfer::bundle::parse_recipient(&summary.to).map(|r| fingerprint(&r)).unwrap_or_default(),
        summary.id,
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(summary.expires.max(0) as u64)
        )
    );
    Ok(exit::OK)
}

impl ImportArgs {
    /// The agent named with `--agent`, for the access log.
    pub fn agent_id(&self) -> Option<String> {
        self.agent.as_ref().map(|a| a.trim().to_ascii_lowercase())
    }
}

fn parse_renames(raw: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for r in raw {
        let (from, to) = r.split_once('=').filter(|(f, t)| !f.is_empty() && !t.is_empty()).ok_or_else(|| {
            Error::InvalidInput(format!("--rename `{r}`: use FROM=TO, e.g. anthropic:work=anthropic:gw"))
        })?;
        if out.insert(from.to_string(), to.to_string()).is_some() {
            return Err(Error::InvalidInput(format!("--rename names `{from}` twice")));
        }
    }
    Ok(out)
}

pub fn import(paths: &Paths, a: ImportArgs) -> Result<i32> {
    let renames = parse_renames(&a.renames)?;
    let agent = match &a.agent {
        Some(x) => Some(AgentArg { agent: x.clone() }.id()?),
        None => None,
    };
    let from_stdin = a.file == "-";
    // Asking needs a terminal that is not also carrying the bundle.
    let can_ask = !from_stdin && input::interactive();
    if !a.yes && !can_ask {
        return Err(Error::NeedsTty("confirming an import (pass --yes to import without asking)".into()));
    }
    let (armored, source) = if from_stdin {
        if std::io::stdin().is_terminal() {
            return Err(Error::InvalidInput(
                "no bundle: pipe it in (`… | clawkeep import - --yes`) or give its file".into(),
            ));
        }
        let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(16 * 1024));
        std::io::stdin()
            .take(MAX_ARMORED as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::io("<stdin>", "reading", e))?;
        (buf, "<stdin>".to_string())
    } else {
        let path = std::path::PathBuf::from(&a.file);
        let bytes = clawkeep::fs::read_optional(&path)?
            .ok_or_else(|| Error::NotFound(format!("{}: no such bundle file", path.display())))?;
        (bytes, path.display().to_string())
    };
    let mut vault = super::open_vault(paths)?;
    let plan = transfer::plan_import(&mut vault, paths, &armored, &source, agent.as_deref(), &renames, a.force)?;
    if !a.json || !a.yes {
        eprintln!(
            "bundle {} from {} (fingerprint {}), for agent {}:",
            plan.id, plan.from, plan.from_fingerprint, plan.agent
        );
        for i in &plan.items {
            let renamed =
                if i.from_profile != i.profile_id { format!(" (from {})", i.from_profile) } else { String::new() };
            eprintln!("  {} {}{renamed}: {} {} ({})", i.action, i.profile_id, i.provider, i.cred_type, i.secret);
        }
    }
    if !a.yes {
        let go = dialoguer::Confirm::new()
            .with_prompt("Import these profiles? (check the fingerprint with the sender)")
            .default(false)
            .wait_for_newline(true)
            .interact()
            .map_err(|e| Error::io("/dev/tty", "prompting on", std::io::Error::other(e.to_string())))?;
        if !go {
            eprintln!("nothing imported");
            return Ok(exit::CHECK_FAILED);
        }
    }
    let items = serde_json::to_value(&plan.items).map_err(|e| Error::Internal(e.to_string()))?;
    let id = plan.id.clone();
    let added = transfer::import(&mut vault, paths, plan)?;
    if a.json {
        output::json(&serde_json::json!({ "bundle": id, "profiles": items }));
    } else {
        for x in &added {
            println!(
                "{} {} for agent {} in the {} store; auth-profiles.json refers to `{}`",
                if x.replaced { "Replaced" } else { "Stored" },
                x.profile_id,
                x.agent,
                x.store,
                x.secret_id
            );
        }
    }
    if added.iter().any(|x| x.needs_import) {
        super::import_hint(&added[0].agent);
    }
    Ok(exit::OK)
}
