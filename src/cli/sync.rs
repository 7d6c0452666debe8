//! `recipients`, `sync`, `init --join`: one file store shared by several hosts over git.

use clap::{Args, Subcommand};

use clawkeep::error::exit;
use clawkeep::paths::Paths;
use clawkeep::transfer::recipients::{self, Recipients, Resealed};
use clawkeep::transfer::sync::{self, Report};
use clawkeep::vault::host::fingerprint;
use clawkeep::vault::{EntryKind, Vault};
use clawkeep::{Error, Result};

use super::{input, output};

#[derive(Subcommand)]
pub enum RecipientsCommand {
    /// The hosts every secret is encrypted to, removed hosts and the secrets they could read (to rotate).
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Encrypt every secret to another host too (re-encrypts each file; a second run finishes an interrupted one).
    Add {
        /// The host's recipient (`age1…`, from `clawkeep recipient` or `init --join` there).
        recipient: String,
        /// A name for it (laptop, vps).
        #[arg(long)]
        name: String,
    },
    /// Stop encrypting to a host (re-encrypts every file without it; it may still hold what it read before).
    Remove {
        /// Its name or recipient.
        host: String,
    },
}

impl RecipientsCommand {
    /// The access log's name for a command that changes the store (`None` for `list`).
    pub fn change(&self) -> Option<&'static str> {
        match self {
            RecipientsCommand::List { .. } => None,
            RecipientsCommand::Add { .. } => Some("recipients add"),
            RecipientsCommand::Remove { .. } => Some("recipients remove"),
        }
    }
}

#[derive(Args)]
pub struct SyncArgs {
    /// First run on the first host: make the store a git repository with this (empty) remote and push it.
    #[arg(long, value_name = "GIT_URL")]
    remote: Option<String>,
    /// With --remote: this host's name in the recipients list (default: the host name).
    #[arg(long, requires = "remote")]
    name: Option<String>,
    /// Run `openclaw secrets reload` afterwards when a secret changed (where a gateway runs).
    #[arg(long)]
    reload: bool,
}

fn print_resealed(r: &Resealed) {
    if r.resumed {
        eprintln!("finished an interrupted re-encryption");
    }
    if r.files > 0 {
        eprintln!("re-encrypted {} secret file(s)", r.files);
    }
    if !r.unreadable.is_empty() {
        eprintln!(
            "note: {} secret(s) are not encrypted to this host, so it cannot re-encrypt them: {}; run the same \
             command on a host that can read them",
            r.unreadable.len(),
            r.unreadable.join(", ")
        );
    }
}

pub fn recipients(paths: &Paths, cmd: RecipientsCommand) -> Result<i32> {
    let mut vault = super::open_vault(paths)?;
    match cmd {
        RecipientsCommand::List { json } => list(&mut vault, json),
        RecipientsCommand::Add { recipient, name } => {
            let c = recipients::add(&mut vault, &recipient, &name)?;
            print_resealed(&c.resealed);
            if c.changed {
                println!("{name} ({}) added; every secret is now encrypted to it", recipient.trim());
            } else {
                println!("{name} ({}) was already a recipient", recipient.trim());
            }
            if sync::is_shared_repo(&vault.files) {
                eprintln!("run `clawkeep sync` to share the change");
            }
            Ok(exit::OK)
        }
        RecipientsCommand::Remove { host } => {
            let (gone, c) = recipients::remove(&mut vault, &host)?;
            print_resealed(&c.resealed);
            println!(
                "{} ({}) {}; secrets added or rotated from now on are not encrypted to it",
                gone.name,
                gone.recipient,
                if c.changed { "removed" } else { "was already removed" }
            );
            vault.lock()?;
            let exposed = recipients::exposed(&vault)?;
            let mine: Vec<_> = exposed.iter().filter(|e| e.host == gone.name).collect();
            if !mine.is_empty() {
                eprintln!(
                    "{} may still hold what it read before: rotate these {} secret(s) (store each again with \
                     `clawkeep models auth add --force` or `paste-token --force`, then `clawkeep sync`):",
                    gone.name,
                    mine.len()
                );
                for e in mine {
                    eprintln!("  {}", describe(e));
                }
            }
            if sync::is_shared_repo(&vault.files) {
                eprintln!("run `clawkeep sync` to share the change");
            }
            Ok(exit::OK)
        }
    }
}

fn describe(e: &recipients::Exposed) -> String {
    match (&e.agent, &e.profile_id) {
        (Some(a), Some(p)) => format!("{p} (agent {a})"),
        _ => e.secret_id.clone(),
    }
}

fn list(vault: &mut Vault, json: bool) -> Result<i32> {
    let me = vault.own_recipient().map(|r| r.to_string());
    let list = Recipients::load(&vault.files)?;
    let exposed = recipients::exposed(vault)?;
    let pending = recipients::pending(&vault.files)?;
    if json {
        output::json(&serde_json::json!({
            "shared": list.is_some(),
            "recipients": list.as_ref().map(|l| l.recipients.clone()).unwrap_or_default(),
            "removed": list.as_ref().map(|l| l.removed.iter().map(|g| serde_json::json!({
                "name": g.name, "recipient": g.recipient, "removed": g.removed })).collect::<Vec<_>>()).unwrap_or_default(),
            "toRotate": exposed,
            "interrupted": pending,
        }));
        return Ok(exit::OK);
    }
    let Some(list) = list else {
        println!("this store is not shared: every secret is encrypted to this host only");
        println!("share it with `clawkeep recipients add <age1…> --name HOST` or `clawkeep sync --remote <git-url>`");
        return Ok(exit::OK);
    };
    output::table(
        &["NAME", "RECIPIENT", "FINGERPRINT", ""],
        list.recipients
            .iter()
            .map(|m| {
                let fp = recipients::parse_recipient(&m.recipient, "recipients.json")
                    .map(|r| fingerprint(&r))
                    .unwrap_or_default();
                let here = if Some(&m.recipient) == me.as_ref() { "this host" } else { "" };
                vec![m.name.clone(), m.recipient.clone(), fp, here.into()]
            })
            .collect(),
    );
    if me.as_ref().is_some_and(|me| !list.recipients.iter().any(|m| &m.recipient == me)) {
        println!("this host ({}) is not a recipient: it cannot read secrets written elsewhere", me.unwrap_or_default());
    }
    for g in &list.removed {
        println!("removed: {} ({})", g.name, g.recipient);
    }
    if !exposed.is_empty() {
        println!("secrets removed hosts could read, not rotated since (store each again, then sync):");
        for e in &exposed {
            println!("  {}  (readable by removed host {})", describe(e), e.host);
        }
    }
    if let Some(reason) = pending {
        println!(
            "an interrupted re-encryption ({reason}) is unfinished: run the same `recipients` command again, or \
             `clawkeep sync`"
        );
    }
    Ok(exit::OK)
}

pub fn sync(paths: &Paths, a: SyncArgs) -> Result<i32> {
    let mut vault = super::open_vault(paths)?;
    let report = match &a.remote {
        Some(url) => sync::create(&mut vault, url, a.name.as_deref())?,
        None => sync::sync(&mut vault)?,
    };
    drop(vault);
    let mut vault = super::open_vault(paths)?;
    print_report(&vault, &report, a.remote.as_deref());
    // References for the secrets this host can read, into this host's OpenClaw (as `models auth sync` does).
    let me = vault.own_recipient().map(|r| r.to_string()).unwrap_or_default();
    let readable = |e: &clawkeep::vault::IndexEntry| recipients::sealed_to(e).is_none_or(|s| s.contains(&me));
    let mut agents: Vec<String> = vault
        .index
        .secrets
        .values()
        .filter(|e| e.kind == EntryKind::Profile && readable(e))
        .filter_map(|e| e.agent.clone())
        .collect();
    agents.sort();
    agents.dedup();
    let mut code = exit::OK;
    for agent in &agents {
        let (written, skipped) = clawkeep::ops::profile::sync_where(&mut vault, paths, agent, &readable)?;
        for (sid, why) in &skipped {
            eprintln!("skipped `{sid}`: {why}");
            code = exit::CHECK_FAILED;
        }
        if !written.is_empty() {
            println!("Wrote references for {} into {}", written.join(", "), paths.auth_profiles(agent).display());
            if paths.sqlite_layout(agent) {
                super::import_hint(agent);
            }
        }
    }
    let unreadable: Vec<&String> = vault.index.secrets.iter().filter(|(_, e)| !readable(e)).map(|(id, _)| id).collect();
    if !unreadable.is_empty() {
        eprintln!(
            "{} secret(s) are not encrypted to this host yet ({}); a member runs `clawkeep recipients add {me} --name \
             <this host> && clawkeep sync`, then run `clawkeep sync` here",
            unreadable.len(),
            unreadable.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    let changed_profiles = report.changed.iter().any(|id| vault.index.secrets.get(id).is_some_and(readable));
    if changed_profiles {
        if a.reload {
            reload()?;
        } else {
            eprintln!(
                "OpenClaw reads the new values at its next resolve; where a gateway runs, `openclaw secrets reload` \
                 (or `clawkeep sync --reload`) makes it re-resolve now"
            );
        }
    }
    Ok(code)
}

fn reload() -> Result<()> {
    let Ok(bin) = which::which("openclaw") else {
        return Err(Error::External("--reload: `openclaw` is not on PATH".into()));
    };
    let status = std::process::Command::new(bin)
        .args(["secrets", "reload"])
        .status()
        .map_err(|e| Error::External(format!("openclaw secrets reload: {e}")))?;
    if !status.success() {
        return Err(Error::External(format!("`openclaw secrets reload` failed ({status})")));
    }
    eprintln!("ran `openclaw secrets reload`");
    Ok(())
}

fn print_report(vault: &Vault, r: &Report, remote: Option<&str>) {
    if r.created {
        println!(
            "{} is now a git repository with remote {}; pushed the shared part (ciphertext, recipients, index)",
            vault.files.dir.display(),
            sync::redact(remote.unwrap_or_default())
        );
        if let Some(me) = vault.own_recipient() {
            eprintln!(
                "on another host: `clawkeep init --join {}`, then here `clawkeep recipients add <its age1…> --name \
                 HOST && clawkeep sync` (this host is {me}, fingerprint {})",
                sync::redact(remote.unwrap_or("<git-url>")),
                fingerprint(&me)
            );
        }
        return;
    }
    for note in &r.merged {
        eprintln!("merged: {note}");
    }
    if r.reseal_needs_passphrase {
        eprintln!(
            "note: merged secrets need re-encrypting to the current recipients, which needs the passphrase: run \
             `clawkeep sync` again with CLAWKEEP_PASSPHRASE_FILE or on a terminal (or let another member sync)"
        );
    }
    if r.resealed.files > 0 {
        eprintln!("re-encrypted {} merged secret file(s) to the current recipients", r.resealed.files);
    }
    if r.removed_here {
        eprintln!(
            "warning: this host was removed from the shared store: secrets written elsewhere from now on are not \
             encrypted to it"
        );
    }
    for id in &r.removed {
        eprintln!(
            "removed on another host: {id}; a reference to it in this host's OpenClaw no longer resolves (remove the \
             profile here too: `clawkeep models auth remove <profile> --agent <agent>`)"
        );
    }
    println!(
        "synced{}; {} secret(s) changed here",
        if r.committed { " (local changes committed)" } else { "" },
        r.changed.len()
    );
}

/// `init --join URL [--name HOST]`.
pub fn join(paths: &Paths, url: &str, name: Option<&str>) -> Result<i32> {
    if Vault::exists(paths) {
        return Err(Error::AlreadyInitialized(paths.clawkeep_dir.clone()));
    }
    if let Some(n) = name {
        recipients::check_name(n)?;
    }
    let pass = input::new_passphrase(input::PASSPHRASE_FILE)?;
    let j = sync::join(paths, url, name, &pass)?;
    let fp = recipients::parse_recipient(&j.recipient, "identity").map(|r| fingerprint(&r)).unwrap_or_default();
    eprintln!("joined the shared store of {} in {}", sync::redact(url), paths.clawkeep_dir.display());
    eprintln!("this host: {} (fingerprint {fp})", j.recipient);
    eprintln!("it cannot read the shared secrets yet. On a host that is already a member, run:");
    println!("clawkeep recipients add {} --name {} && clawkeep sync", j.recipient, j.name);
    eprintln!("then, here: clawkeep sync");
    Ok(exit::OK)
}
