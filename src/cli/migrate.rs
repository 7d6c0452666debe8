//! `migrate`.

use clawkeep::Result;
use clawkeep::error::exit;
use clawkeep::ops::migrate;
use clawkeep::paths::{DEFAULT_AGENT, Paths};

use super::output;

/// `migrate`'s switches.
pub struct Flags {
    pub dry_run: bool,
    pub undo: bool,
    pub force: bool,
    /// Move through `openclaw secrets apply` although `--undo` cannot put those credentials back.
    pub accept_no_undo: bool,
}

pub fn run(paths: &Paths, agent: Option<String>, all: bool, flags: Flags, json: bool) -> Result<i32> {
    let Flags { dry_run, undo, force, accept_no_undo } = flags;
    let mut vault = super::open_vault(paths)?;
    if undo {
        let done = migrate::undo(&mut vault, force)?;
        if json {
            output::json(&done);
        } else {
            for p in &done.restored {
                println!("restored {}", p.display());
            }
            println!(
                "removed {} migrated secret(s) from the vault; backup {} used and deleted",
                done.removed_secrets.len(),
                done.backup
            );
            for s in &done.kept_secrets {
                println!(
                    "kept `{s}` in the vault: it changed after the migration (the restored file no longer refers to it)"
                );
            }
        }
        if paths.sqlite_layout(DEFAULT_AGENT) {
            eprintln!(
                "note: credentials migrate moved through `openclaw secrets apply` (OpenClaw's SQLite auth stores, \
                 openclaw.json's models.providers.*.apiKey; moved only with --accept-no-undo) are not restored by \
                 --undo: OpenClaw's apply writes only references. They stay references to the vault, which keeps \
                 their values (see docs/custody.md)"
            );
        }
        return Ok(exit::OK);
    }
    let agents = if all {
        super::agents_or_all(paths, None)?
    } else {
        super::agents_or_all(paths, Some(agent.unwrap_or_else(|| DEFAULT_AGENT.into())))?
    };
    clawkeep::ops::custody::preflight(paths, &agents)?;
    // What `--undo` cannot put back is said, and refused, before anything moves.
    let no_undo = clawkeep::ops::custody::apply_moves(paths, &agents);
    if !dry_run && !accept_no_undo && !no_undo.is_empty() {
        return Err(clawkeep::Error::InvalidInput(format!(
            "`clawkeep migrate --undo` could not put these back in plaintext: {}. They move through `openclaw \
             secrets apply`, which writes only references (OpenClaw's plan contract accepts a SecretRef, never a \
             value, as a target's `ref`), and clawkeep does not write plaintext into OpenClaw's stores; after an \
             undo they would stay references to the vault (values kept there; the file migration of \
             auth-profiles.json, auth.json and .env is undone as before). Nothing was changed. Run again with \
             --accept-no-undo to move them anyway (`clawkeep migrate --dry-run` shows the plan)",
            no_undo.iter().map(|(f, p)| format!("{} {p}", f.display())).collect::<Vec<_>>().join(", ")
        )));
    }
    let report = migrate::migrate(&mut vault, paths, &agents, dry_run)?;
    // OpenClaw's SQLite auth stores and openclaw.json: through `openclaw secrets apply`.
    let surface = clawkeep::ops::custody::migrate_surface(&mut vault, paths, &agents, dry_run)?;
    if json {
        let mut v = serde_json::to_value(&report).map_err(|e| clawkeep::Error::Internal(e.to_string()))?;
        v["openclawApply"] = serde_json::to_value(&surface).map_err(|e| clawkeep::Error::Internal(e.to_string()))?;
        output::json(&v);
        return Ok(exit::OK);
    }
    for i in &surface.items {
        println!(
            "{:<12} {} {} -> exec:clawkeep/{}{}",
            i.action,
            i.file.display(),
            i.json_path,
            i.id,
            i.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()
        );
    }
    if dry_run && let Some(plan) = &surface.plan {
        println!(
            "# plan for `openclaw secrets apply --from <plan> --allow-exec` (refs only):\n{}",
            serde_json::to_string_pretty(plan).unwrap_or_default()
        );
    }
    for p in &surface.backups_removed {
        println!("removed {} (OpenClaw's plaintext copy of the old config; kept encrypted in the vault)", p.display());
    }
    for p in &surface.shared_store_cleared {
        println!("cleared the plaintext of {p} that OpenClaw's apply left in its shared store (state/openclaw.sqlite)");
    }
    if report.items.is_empty() && surface.items.is_empty() {
        println!("nothing to migrate: no plaintext credentials found for {}", agents.join(", "));
        return Ok(exit::OK);
    }
    output::table(
        &["ACTION", "AGENT", "PROFILE", "TYPE", "FROM", "NOTE"],
        report
            .items
            .iter()
            .map(|i| {
                vec![
                    i.action.clone(),
                    i.agent.clone(),
                    i.profile_id.clone(),
                    i.cred_type.clone(),
                    i.source.display().to_string(),
                    i.note.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    );
    if let Some(b) = &report.backup {
        println!(
            "the previous files are kept encrypted in the vault as `{b}`; `clawkeep migrate --undo` restores them"
        );
        if agents.iter().any(|a| paths.sqlite_layout(a)) {
            super::import_hint(&agents[0]);
        }
    }
    Ok(exit::OK)
}
