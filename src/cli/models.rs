//! `models status` and `models auth …`.

use std::process::Command;

use clawkeep::error::exit;
use clawkeep::openclaw::{AuthState, CredType};
use clawkeep::ops::profile::{self, NewCredential};
use clawkeep::ops::status::{self, parse_duration_ms};
use clawkeep::paths::Paths;
use clawkeep::secret::SecretString;
use clawkeep::vault::now_ms;
use clawkeep::{Error, Result};

use super::{StoreArgs, input, output};

pub fn store(paths: &Paths, a: StoreArgs, kind: CredType, default_name: &str) -> Result<i32> {
    let what = if kind == CredType::Token { "token" } else { "API key" };
    let provider = a.provider.clone();
    store_with(paths, a, kind, default_name, |profile_id| {
        input::read_secret(&format!("Paste {provider} {what} for {profile_id}: "))
    })
}

/// Check the flags, open the vault, then get the secret from `read` (given the profile id), store it and report.
/// Everything that can be refused is refused before `read` runs.
fn store_with(
    paths: &Paths,
    a: StoreArgs,
    kind: CredType,
    default_name: &str,
    read: impl FnOnce(&str) -> Result<SecretString>,
) -> Result<i32> {
    let agent = a.agent.id()?;
    profile::check_provider(&a.provider)?;
    let profile_id = a.profile_id.clone().unwrap_or_else(|| format!("{}:{default_name}", a.provider));
    clawkeep::secret::SecretId::for_profile(&agent, &profile_id)?;
    let expires = a.expires_in.as_deref().map(parse_duration_ms).transpose()?.map(|ms| now_ms() + ms);
    let mut vault = super::open_vault(paths)?;
    let secret = read(&profile_id)?;
    if !a.allow_any_format {
        profile::check_shape(&a.provider, kind, &secret)?;
    }
    let summary = clawkeep::secret::describe(&secret);
    let added = profile::store(
        &mut vault,
        paths,
        NewCredential { agent, provider: a.provider, profile_id, kind, secret, expires, email: None, force: a.force },
    )?;
    if a.json {
        output::json(&added);
    } else if added.written_through != "auth-profiles.json" {
        println!(
            "{} {} for agent {} in the {} store; OpenClaw's store ({}) refers to `{}`, written through `openclaw \
             secrets apply` ({} {summary})",
            if added.replaced { "Replaced" } else { "Stored" },
            added.profile_id,
            added.agent,
            added.store,
            paths.agent_sqlite(&added.agent).display(),
            added.secret_id,
            kind.as_str(),
        );
    } else {
        println!(
            "{} {} for agent {} in the {} store; auth-profiles.json refers to `{}` ({} {summary})",
            if added.replaced { "Replaced" } else { "Stored" },
            added.profile_id,
            added.agent,
            added.store,
            added.secret_id,
            kind.as_str(),
        );
    }
    if let Some(why) = &added.fallback {
        eprintln!("note: OpenClaw keeps profiles in SQLite here, but {why}");
    }
    if added.needs_import {
        super::import_hint(&added.agent);
    }
    Ok(exit::OK)
}

pub fn setup_token(paths: &Paths, a: StoreArgs) -> Result<i32> {
    if a.provider != "anthropic" {
        return Err(Error::InvalidInput(format!(
            "setup-token supports --provider anthropic only, not `{}`",
            a.provider
        )));
    }
    if !input::interactive() {
        return Err(Error::NeedsTty(
            "`setup-token` (it runs `claude setup-token`); elsewhere use `clawkeep models auth paste-token --provider anthropic < token.txt`".into(),
        ));
    }
    store_with(paths, a, CredType::Token, "manual", |_| {
        let claude = which::which("claude").map_err(|_| {
            Error::External(
                "the Claude Code CLI (`claude`) is not on PATH; install it (npm install -g @anthropic-ai/claude-code) or paste a token with `clawkeep models auth paste-token --provider anthropic`".into(),
            )
        })?;
        let status = Command::new(&claude)
            .arg("setup-token")
            .status()
            .map_err(|e| Error::External(format!("could not run {}: {e}", claude.display())))?;
        if !status.success() {
            return Err(Error::External(format!("`claude setup-token` failed ({status}); nothing was stored")));
        }
        input::read_secret("Paste the token printed above (sk-ant-oat01-…): ")
    })
}

pub fn list(paths: &Paths, agent: &str, provider: Option<&str>, json: bool) -> Result<i32> {
    let vault = super::open_optional(paths)?;
    let rows = profile::list(vault.as_ref(), paths, agent, provider)?;
    if json {
        output::json(&rows);
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        println!("no profiles for agent {agent}");
        return Ok(exit::OK);
    }
    output::table(
        &["PROFILE", "PROVIDER", "TYPE", "STORE", "SECRET ID", "EXPIRES"],
        rows.into_iter()
            .map(|r| {
                vec![
                    match (&r.openclaw_store, r.in_auth_profiles) {
                        (_, true) => r.profile_id,
                        (Some(st), false) => format!("{} (OpenClaw {st})", r.profile_id),
                        (None, false) => format!("{} (index only)", r.profile_id),
                    },
                    r.provider,
                    r.cred_type,
                    r.store,
                    r.secret_id.unwrap_or_else(|| "-".into()),
                    r.expires.map(|e| output::human_ms(e - now_ms())).unwrap_or_else(|| "-".into()),
                ]
            })
            .collect(),
    );
    Ok(exit::OK)
}

pub fn status(paths: &Paths, agent: &str, check: bool, json: bool) -> Result<i32> {
    let vault = super::open_optional(paths)?;
    let now = now_ms();
    let rows = status::status(vault.as_ref(), paths, agent, now)?;
    let code = status::check_code(&rows);
    // A shared store's secrets that a removed host could read and that were not rotated since.
    let exposed = match vault.as_ref() {
        Some(v) => clawkeep::transfer::recipients::exposed(v)?
            .into_iter()
            .filter(|e| e.agent.as_deref().is_none_or(|a| a == agent))
            .collect(),
        None => Vec::new(),
    };
    // Last hand-out of each profile, from the access log (nothing when it cannot be read: status never fails on it).
    let last = super::audit::last_used(paths, true).unwrap_or_default();
    let last_of = |p: &str| last.get(&(agent.to_string(), p.to_string())).map(|l| &l.line);
    if json {
        let used: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .filter_map(|r| last_of(&r.profile_id).map(|l| (r.profile_id.clone(), super::audit::used_json(l))))
            .collect();
        /// `models status --json`, written straight from the rows (10,000 profiles need no JSON value first).
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Doc<'a, R: serde::Serialize> {
            agent: &'a str,
            profiles: &'a [status::ProfileStatus],
            last_used: serde_json::Map<String, serde_json::Value>,
            exit_code: i32,
            to_rotate: R,
        }
        output::json(&Doc { agent, profiles: &rows, last_used: used, exit_code: code, to_rotate: &exposed });
    } else if rows.is_empty() {
        println!("no profiles for agent {agent}");
    } else {
        output::table(
            &["PROVIDER", "PROFILE", "TYPE", "STORE", "STATUS", "EXPIRES IN", "LAST USED"],
            rows.iter()
                .map(|r| {
                    vec![
                        r.provider.clone(),
                        r.profile_id.clone(),
                        r.cred_type.clone(),
                        r.store.clone(),
                        r.status.as_str().into(),
                        r.expires_in_ms.map(output::human_ms).unwrap_or_else(|| "-".into()),
                        last_of(&r.profile_id)
                            .map(|l| format!("{} by {}", l.time, l.who.short()))
                            .unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect(),
        );
    }
    if !json {
        for e in &exposed {
            println!(
                "rotate: {} (agent {}) — removed host {} could read it; store it again, then `clawkeep sync`",
                e.profile_id.as_deref().unwrap_or(&e.secret_id),
                e.agent.as_deref().unwrap_or("-"),
                e.host
            );
        }
    }
    Ok(if check { code } else { exit::OK })
}

pub fn remove(paths: &Paths, agent: &str, profile_id: &str) -> Result<i32> {
    use clawkeep::ops::profile::OpenClawCopy;
    let mut vault = super::open_vault(paths)?;
    if !profile::is_known(&vault, paths, agent, profile_id)? {
        return Err(Error::UnknownProfile { agent: agent.into(), profile: profile_id.into() });
    }
    // OpenClaw's copy (its reference) goes first, then the vault's secret: never a reference without its secret.
    let copy = profile::remove_openclaw_copy(paths, agent, profile_id)?;
    profile::remove(&mut vault, paths, agent, profile_id)?;
    println!("Removed {profile_id} (secret, reference and order entries) for agent {agent}");
    match copy {
        OpenClawCopy::LoggedOut => {
            println!("Removed OpenClaw's copy too (openclaw models auth logout {profile_id} --agent {agent} --yes)")
        }
        OpenClawCopy::Removed(dbs) => {
            for db in dbs {
                println!("Removed OpenClaw's copy (clawkeep's reference) from {}", db.display());
            }
        }
        OpenClawCopy::NotOurs => eprintln!(
            "note: OpenClaw's SQLite store also has a profile {profile_id} that is not clawkeep's reference; it was \
             left there (remove it with OpenClaw if you no longer need it)"
        ),
        OpenClawCopy::NoBinary(why) => eprintln!(
            "note: OpenClaw's SQLite store still refers to {profile_id}, and its copy could not be removed: {why}; \
             remove it with `openclaw models auth logout {profile_id} --agent {agent} --yes`"
        ),
        OpenClawCopy::None if paths.sqlite_layout(agent) && clawkeep::openclaw::apply::openclaw_bin().is_err() => {
            // clawkeep's reference may sit in an auth-profiles.json OpenClaw imports later.
            eprintln!(
                "note: `openclaw` is not on PATH: if OpenClaw (2026.9+) imports this profile later, remove its copy \
                 there too: openclaw models auth logout {profile_id} --agent {agent} --yes"
            );
        }
        OpenClawCopy::None => {}
    }
    Ok(exit::OK)
}

pub fn sync(paths: &Paths, agent: &str) -> Result<i32> {
    let mut vault = super::open_vault(paths)?;
    let (written, skipped) = profile::sync(&mut vault, paths, agent)?;
    for (sid, why) in &skipped {
        eprintln!("skipped `{sid}`: {why}");
    }
    if written.is_empty() && skipped.is_empty() {
        println!("auth-profiles.json already refers to every stored secret of agent {agent}");
    } else if !written.is_empty() {
        println!("Wrote references for {} into {}", written.join(", "), paths.auth_profiles(agent).display());
        if paths.sqlite_layout(agent) {
            super::import_hint(agent);
        }
    }
    Ok(if skipped.is_empty() { exit::OK } else { exit::CHECK_FAILED })
}

pub fn order_get(paths: &Paths, agent: &str, provider: &str, json: bool) -> Result<i32> {
    let state = AuthState::load(&paths.auth_state(agent))?;
    let order = state.order(provider);
    if json {
        output::json(&serde_json::json!({ "agent": agent, "provider": provider, "order": order }));
    } else {
        match order {
            Some(o) => println!("{}", o.join(" ")),
            None => println!("no order override for {provider} (agent {agent})"),
        }
    }
    Ok(exit::OK)
}

pub fn order_set(paths: &Paths, agent: &str, provider: &str, ids: &[String]) -> Result<i32> {
    let mut vault = super::open_optional(paths)?;
    profile::set_order(vault.as_mut(), paths, agent, provider, ids)?;
    println!("Order for {provider} (agent {agent}): {}", ids.join(" "));
    if paths.sqlite_layout(agent) {
        super::import_hint(agent);
    }
    Ok(exit::OK)
}

pub fn order_clear(paths: &Paths, agent: &str, provider: &str) -> Result<i32> {
    let mut vault = super::open_optional(paths)?;
    if profile::clear_order(vault.as_mut(), paths, agent, provider)? {
        println!("Cleared the order override for {provider} (agent {agent})");
    } else {
        println!("no order override for {provider} (agent {agent})");
    }
    Ok(exit::OK)
}
