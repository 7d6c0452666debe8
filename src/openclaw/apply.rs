//! `openclaw secrets apply`: the plan clawkeep writes (docs/gateway/secrets-plan-contract.md in OpenClaw's
//! package), running it, and the one repair OpenClaw's apply leaves to do: the plaintext row it leaves in the shared
//! store (OpenClaw issues #143262 / #133296).

use std::path::{Path, PathBuf};
use std::process::Command;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use serde_json::{Map, Value, json};

use super::sqlite::BUSY_TIMEOUT;
use crate::error::{Error, Result};

/// One target of a plan.
pub struct Target {
    /// The matrix id (`auth-profiles.token.token`, `models.providers.apiKey`, …).
    pub target_type: String,
    /// Dotted path (`profiles.anthropic:manual.token`, `models.providers.openai.apiKey`).
    pub path: String,
    /// The path's segments (ids may hold dots or colons).
    pub segments: Vec<String>,
    /// The agent, for auth-profile targets.
    pub agent: Option<String>,
    /// The provider, for auth-profile targets.
    pub auth_profile_provider: Option<String>,
    /// The clawkeep id the ref names.
    pub id: String,
}

/// The plan document: `providerUpserts.clawkeep` = the wired entry, one target per credential. It holds no value.
pub fn plan(provider_entry: &Value, targets: &[Target]) -> Value {
    let targets: Vec<Value> = targets
        .iter()
        .map(|t| {
            let mut o = json!({
                "type": t.target_type,
                "path": t.path,
                "pathSegments": t.segments,
                "ref": {"source": "exec", "provider": crate::PROVIDER_ALIAS, "id": t.id},
            });
            if let Some(a) = &t.agent {
                o["agentId"] = json!(a);
            }
            if let Some(p) = &t.auth_profile_provider {
                o["authProfileProvider"] = json!(p);
            }
            // `models.providers.<id>.apiKey`: the contract's `providerId`, which must match the path.
            if t.target_type == "models.providers.apiKey"
                && let Some(id) = t.segments.get(2)
            {
                o["providerId"] = json!(id);
            }
            o
        })
        .collect();
    json!({
        "version": 1,
        "protocolVersion": 1,
        "providerUpserts": {crate::PROVIDER_ALIAS: provider_entry},
        "targets": targets,
    })
}

/// The `openclaw` binary: `$CLAWKEEP_OPENCLAW_BIN`, else the one on `PATH`.
pub fn openclaw_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("CLAWKEEP_OPENCLAW_BIN").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    which::which("openclaw").map_err(|_| {
        Error::External(
            "`openclaw` is not on PATH: credentials in OpenClaw's SQLite stores and openclaw.json are moved through \
             `openclaw secrets apply`; install OpenClaw (2026.7 or later) or put it on PATH"
                .into(),
        )
    })
}

/// `openclaw --version`, first line.
pub fn version(bin: &Path) -> Option<String> {
    let o = Command::new(bin).arg("--version").output().ok()?;
    String::from_utf8(o.stdout).ok()?.lines().next().map(|l| l.trim().to_string())
}

/// Run `openclaw secrets apply --from <plan> --allow-exec --json [--dry-run]`; the parsed result. OpenClaw's
/// output names files and counts, never values; on failure only its last stderr line is shown.
pub fn run(bin: &Path, plan_file: &Path, dry_run: bool) -> Result<Value> {
    let mut c = Command::new(bin);
    c.args(["secrets", "apply", "--from"]).arg(plan_file).args(["--allow-exec", "--json"]);
    if dry_run {
        c.arg("--dry-run");
    }
    let o = c.output().map_err(|e| Error::External(format!("could not run {}: {e}", bin.display())))?;
    let text = String::from_utf8_lossy(&o.stdout);
    let parsed = text.find('{').and_then(|i| serde_json::from_str::<Value>(text[i..].trim()).ok());
    match (o.status.success(), parsed) {
        (true, Some(v)) => Ok(v),
        (ok, _) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
            Err(Error::External(format!(
                "`openclaw secrets apply{}` {} ({}): {}",
                if dry_run { " --dry-run" } else { "" },
                if ok { "printed no JSON result" } else { "failed" },
                o.status,
                if last.len() > 300 { &last[..300] } else { &last }
            )))
        }
    }
}

/// Finish what OpenClaw's apply leaves in the shared store: for each `(profile id, field, ref field, ref)` whose
/// plaintext `field` is still in `config_machine_state['authProfiles.store']` and equals `expected(profile id)`,
/// replace it with the ref — one `BEGIN IMMEDIATE` transaction (SQLite's own write lock, which OpenClaw's writers
/// take too, waited on for at most [`BUSY_TIMEOUT`]), `secure_delete` on so the freed bytes are zeroed, then a WAL
/// checkpoint. Every other row and field is left as it is. Returns the profile ids changed.
pub fn clear_shared_plaintext(
    db: &Path,
    items: &[(String, &'static str, &'static str, Value)],
    expected: &dyn Fn(&str) -> Option<crate::secret::SecretString>,
) -> Result<Vec<String>> {
    let mut changed = Vec::new();
    change_store(super::sqlite::StoreKind::Shared, db, &mut |doc| {
        changed.clear();
        let Some(profiles) = doc.get_mut("profiles").and_then(Value::as_object_mut) else { return false };
        for (pid, field, ref_field, r) in items {
            let Some(p) = profiles.get_mut(pid).and_then(Value::as_object_mut) else { continue };
            let Some(v) = p.get(*field).and_then(Value::as_str) else { continue };
            // Only the value clawkeep now holds: anything else was changed since and is not clawkeep's to drop.
            if !expected(pid)
                .is_some_and(|e| crate::secret::same(&e, &crate::secret::SecretString::from(v.to_string())))
            {
                continue;
            }
            p.remove(*field);
            p.insert((*ref_field).to_string(), r.clone());
            changed.push(pid.clone());
        }
        !changed.is_empty()
    })?;
    Ok(changed)
}

/// Whether this `openclaw` has `models auth logout` (2026.9.6 has it; 2026.7.33 does not): read from its own
/// `models auth --help`, never from a version number.
pub fn has_logout(bin: &Path) -> bool {
    Command::new(bin)
        .args(["models", "auth", "--help"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim_start().starts_with("logout ")))
}

/// `openclaw models auth logout <profile> --agent <agent> --yes`: OpenClaw's own command that removes a saved
/// profile from its stores (per-agent and shared). Only its last stderr line is shown on failure.
pub fn logout(bin: &Path, agent: &str, profile_id: &str) -> Result<()> {
    let o = Command::new(bin)
        .args(["models", "auth", "logout", profile_id, "--agent", agent, "--yes"])
        .output()
        .map_err(|e| Error::External(format!("could not run {}: {e}", bin.display())))?;
    if o.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&o.stderr);
    let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
    Err(Error::External(format!(
        "`openclaw models auth logout {profile_id} --agent {agent} --yes` failed ({}): {}",
        o.status,
        if last.len() > 300 { &last[..300] } else { &last }
    )))
}

/// The write transaction both repairs use: the store's one auth row, read and changed by `change` (which returns
/// whether it changed anything) inside `BEGIN IMMEDIATE` (SQLite's write lock, which OpenClaw's writers take too,
/// waited on for at most [`BUSY_TIMEOUT`]), `secure_delete` on so freed bytes are zeroed, then a WAL checkpoint so
/// old pages do not linger there. Every other row is left as it is.
fn change_store(
    kind: super::sqlite::StoreKind,
    db: &Path,
    change: &mut dyn FnMut(&mut Map<String, Value>) -> bool,
) -> Result<bool> {
    let (table, key_col, value_col, row) = kind.table();
    let ts_col = match kind {
        super::sqlite::StoreKind::Shared => "updated_at_ms",
        super::sqlite::StoreKind::Agent => "updated_at",
    };
    let err = |e: rusqlite::Error| Error::Io {
        path: db.into(),
        action: "updating OpenClaw's auth store",
        source: std::io::Error::other(e.to_string()),
    };
    crate::fs::check_file(db, false)?;
    let mut c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(err)?;
    c.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    c.pragma_update(None, "secure_delete", "ON").map_err(err)?;
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
    let raw: String = tx
        .query_row(&format!("SELECT {value_col} FROM {table} WHERE {key_col} = ?1"), [row], |r| r.get(0))
        .map_err(err)?;
    let raw = zeroize::Zeroizing::new(raw);
    let mut doc: Map<String, Value> = serde_json::from_str(&raw).map_err(|_| Error::InvalidField {
        path: db.into(),
        field: format!("{table}[{row}]"),
        message: "not a JSON object; left unchanged".into(),
    })?;
    if !change(&mut doc) {
        tx.rollback().map_err(err)?;
        return Ok(false);
    }
    let new = zeroize::Zeroizing::new(serde_json::to_string(&doc).map_err(|e| Error::Internal(e.to_string()))?);
    tx.execute(
        &format!("UPDATE {table} SET {value_col} = ?1, {ts_col} = ?2 WHERE {key_col} = ?3"),
        rusqlite::params![new.as_str(), crate::vault::now_ms(), row],
    )
    .map_err(err)?;
    tx.commit().map_err(err)?;
    // Best effort: a running OpenClaw reader may hold the WAL; `clawkeep audit --residue` reports what is left.
    let _ = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    Ok(true)
}

/// Remove profile `profile_id` from one SQLite auth store, only while it is exactly clawkeep's exec ref to `id`
/// (and holds no plaintext): the repair `models auth remove` uses where OpenClaw has no `models auth logout`
/// (2026.7). One transaction on the one auth row ([`change_store`]). Returns whether it was removed.
pub fn remove_clawkeep_profile(kind: super::sqlite::StoreKind, db: &Path, profile_id: &str, id: &str) -> Result<bool> {
    change_store(kind, db, &mut |doc| {
        let Some(profiles) = doc.get_mut("profiles").and_then(Value::as_object_mut) else { return false };
        let ours = profiles.get(profile_id).and_then(Value::as_object).is_some_and(|p| {
            super::auth_profiles::plaintext_fields(p).is_empty()
                && super::auth_profiles::profile_ref(p).is_some_and(|r| r.is_clawkeep() && r.id == id)
        });
        ours && profiles.shift_remove(profile_id).is_some()
    })
}
