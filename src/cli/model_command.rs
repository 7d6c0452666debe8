//! `model-command`: the chat `/model` command for a session — show, list, status, and pin
//! `/model <alias-or-id>@<profileId>` (the service's `select` honours the pin).

use clawkeep::error::exit;
use clawkeep::openclaw::OpenClawConfig;
use clawkeep::ops::profile::list;
use clawkeep::ops::select::plan;
use clawkeep::ops::session::{Pin, pin_of, set_pin};
use clawkeep::ops::status::{Health, health_of};
use clawkeep::paths::Paths;
use clawkeep::vault::now_ms;
use clawkeep::{Error, Result};

use super::output::human_ms;

fn default_endpoint(provider: &str) -> &'static str {
    match provider {
        "anthropic" => "https://api.anthropic.com",
        "openai" => "https://api.openai.com/v1",
        "openrouter" => "https://openrouter.ai/api/v1",
        _ => "(provider default)",
    }
}

pub fn run(paths: &Paths, session: &str, agent: &str, text: &str) -> Result<i32> {
    let arg = text
        .trim()
        .strip_prefix("/model")
        .filter(|r| r.is_empty() || r.starts_with(char::is_whitespace))
        .ok_or_else(|| Error::InvalidInput("not a /model command (try `/model status`)".into()))?
        .trim();
    let pin = pin_of(paths, session)?;
    match arg {
        "" => {
            match &pin {
                Some(p) => println!(
                    "session {session}: model {}{}",
                    p.model.as_deref().unwrap_or("(default)"),
                    p.profile.as_deref().map(|x| format!(", pinned to profile {x}")).unwrap_or_default()
                ),
                None => println!("session {session}: default model, profiles in the agent's order (no pin)"),
            }
            println!("use `/model <alias>@<profileId>` to pin, `/model status` for details, `/model reset` to clear");
        }
        "list" => {
            let vault = super::open_vault(paths).ok();
            let now = now_ms();
            // The same STATUS as `models status`: `missing` when the secret is gone.
            let rows = clawkeep::ops::status::status(vault.as_ref(), paths, agent, now)?;
            if rows.is_empty() {
                println!("no profiles for agent {agent}");
            }
            for r in rows {
                let health = r.status;
                let pinned = pin.as_ref().and_then(|p| p.profile.as_deref()) == Some(r.profile_id.as_str());
                println!(
                    "{:<12} {:<28} {:<8} {:<9} {}{}",
                    r.provider,
                    r.profile_id,
                    r.cred_type,
                    health.as_str(),
                    r.store,
                    if pinned { "  [pinned]" } else { "" }
                );
            }
        }
        "status" => status(paths, session, agent, pin.as_ref())?,
        "reset" | "default" | "clear" => {
            set_pin(paths, session, None)?;
            println!("session {session}: pin cleared; profiles follow the agent's order again");
        }
        spec => {
            let (model, profile) = match spec.split_once('@') {
                Some((m, p)) => (m.trim(), Some(p.trim())),
                None => (spec, None),
            };
            if model.is_empty() || model.chars().any(char::is_whitespace) {
                return Err(Error::InvalidInput(format!(
                    "invalid model `{model}` (expected `/model <alias-or-id>@<profileId>`)"
                )));
            }
            let provider = match profile {
                Some(pid) => {
                    let vault = super::open_vault(paths).ok();
                    let row = list(vault.as_ref(), paths, agent, None)?
                        .into_iter()
                        .find(|r| r.profile_id == pid)
                        .ok_or_else(|| Error::UnknownProfile { agent: agent.into(), profile: pid.into() })?;
                    if health_of(row.expires, now_ms()) == Health::Expired {
                        eprintln!("warning: profile {pid} has expired; it will be skipped until renewed");
                    }
                    Some(row.provider)
                }
                None => None,
            };
            let new = Pin {
                agent: agent.into(),
                model: Some(model.into()),
                profile: profile.map(String::from),
                provider,
                updated: 0,
            };
            set_pin(paths, session, Some(new))?;
            match profile {
                Some(p) => println!("session {session}: model {model}, pinned to profile {p} while it is usable"),
                None => println!("session {session}: model {model}, profiles in the agent's order"),
            }
        }
    }
    Ok(exit::OK)
}

fn status(paths: &Paths, session: &str, agent: &str, pin: Option<&Pin>) -> Result<()> {
    let vault = super::open_vault(paths)?;
    let config = OpenClawConfig::load(&paths.openclaw_config())?;
    let now = now_ms();
    let mut providers: Vec<String> = list(Some(&vault), paths, agent, None)?.into_iter().map(|r| r.provider).collect();
    providers.sort();
    providers.dedup();
    // The pinned provider first.
    if let Some(p) = pin.and_then(|p| p.provider.clone()) {
        providers.retain(|x| *x != p);
        providers.insert(0, p);
    }
    println!(
        "session {session} (agent {agent}): {}",
        match pin {
            Some(p) => format!(
                "model {}{}",
                p.model.as_deref().unwrap_or("(default)"),
                p.profile.as_deref().map(|x| format!(", pin {x}")).unwrap_or_default()
            ),
            None => "no pin".into(),
        }
    );
    println!("store: clawkeep:{}", vault.backend());
    for provider in providers {
        let pinned =
            pin.filter(|p| p.provider.as_deref() == Some(provider.as_str())).and_then(|p| p.profile.as_deref());
        let plan = plan(&vault, paths, agent, &provider, pinned)?;
        let endpoint = config.base_url(&provider).unwrap_or_else(|| default_endpoint(&provider).into());
        println!("{provider}: order {}, endpoint {endpoint}", plan.order_source);
        match plan.candidates.iter().find(|c| c.usable) {
            Some(c) => println!("  next: {}", c.profile),
            None => println!("  next: none usable"),
        }
        for (i, c) in plan.candidates.iter().enumerate() {
            let mut notes = Vec::new();
            if c.pinned {
                notes.push("pinned".to_string());
            }
            if let Some(u) = c.until {
                notes.push(format!("cooldown {} ({})", human_ms(u - now), c.reason.as_deref().unwrap_or("unknown")));
            }
            if let Some(l) = c.last_used {
                notes.push(format!("last used {} ago", human_ms(now - l)));
            }
            println!(
                "  {}. {} ({}){}",
                i + 1,
                c.profile,
                c.cred_type,
                if notes.is_empty() { String::new() } else { format!(" — {}", notes.join(", ")) }
            );
        }
        for (id, why) in &plan.dropped {
            println!("  skipped {id}: {why}");
        }
    }
    Ok(())
}
