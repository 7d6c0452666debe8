//! One request in, one response out. Runs on a blocking thread (argon2 and keychain calls block), except `lock` and
//! `status`, which the connection answers itself. Every secret handed out is logged (ids and the peer, never values).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::log;
use super::peer::Peer;
use super::state::State;
use crate::error::{Error, Result};
use crate::ops::resolve::{code_for, lookup, parse_id};
use crate::paths::{DEFAULT_AGENT, check_agent_id};
use crate::protocol::wire::{MAX_IDS, Request, Response, WireError, code};
use crate::vault::Vault;

/// Answer a request.
pub fn handle(state: &State, req: Request, peer: &Peer) -> Response {
    let op = req.op.clone();
    let result = match op.as_str() {
        "get" => get(state, req, peer),
        "select" => select(state, req, peer),
        "report" => report(state, req, peer),
        "store" => store(state, req, peer),
        "status" => Ok(with_status(state)),
        "lock" => {
            if state.lock() {
                log(format_args!("locked by {peer}; identity wiped"));
            }
            Ok(with_status(state))
        }
        "unlock" => match req.passphrase {
            Some(p) => unlock(state, p.0, req.ttl_ms.map(Duration::from_millis)).map(|()| {
                log(format_args!("unlocked by {peer}"));
                with_status(state)
            }),
            None => Err(Error::InvalidInput("`unlock` needs `passphrase`".into())),
        },
        other => {
            return Response::fail(
                code::UNKNOWN_OP,
                format!(
                    "unknown op `{}` (get, select, report, store, status, lock, unlock)",
                    other.chars().take(32).collect::<String>()
                ),
            );
        }
    };
    result.unwrap_or_else(|e| {
        let c = match &e {
            Error::InvalidInput(_) => code::INVALID,
            Error::WrongPassphrase if op == "unlock" => code::WRONG_PASSPHRASE,
            Error::NotFound(_) if op == "select" => code::NO_PROFILE,
            e => code_for(e),
        };
        Response::fail(c, e.to_string())
    })
}

/// Unwrap the file store's identity with `pass` and keep it (no-op for keychain backends).
pub fn unlock(state: &State, pass: SecretString, ttl: Option<Duration>) -> Result<()> {
    if ttl.is_some_and(|t| t.is_zero()) {
        return Err(Error::InvalidInput("`ttlMs` must be greater than 0".into()));
    }
    let epoch = state.epoch();
    let pass = Arc::new(pass);
    let vault = Vault::open(&state.paths, Box::new(move || Ok(SecretString::from(pass.expose_secret().to_owned()))))?;
    if let Some(identity) = vault.unlocked_identity()?
        && !state.set_unlocked(identity, ttl, epoch)
    {
        // A lock (or expiry, or shutdown) overtook this unlock: it stays locked.
        return Err(Error::VaultLocked);
    }
    Ok(())
}

fn agent_of(req: &Request) -> Result<String> {
    let a = req.agent.as_deref().unwrap_or(DEFAULT_AGENT).to_ascii_lowercase();
    check_agent_id(&a)?;
    Ok(a)
}

fn with_status(state: &State) -> Response {
    Response { status: Some(state.status()), ..Response::ok() }
}

fn get(state: &State, req: Request, peer: &Peer) -> Result<Response> {
    if req.ids.is_empty() || req.ids.len() > MAX_IDS {
        return Err(Error::InvalidInput(format!("`get` needs 1 to {MAX_IDS} ids")));
    }
    let vault = state.vault()?;
    let mut values = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for raw in req.ids {
        let found = parse_id(&raw).ok_or(code::INVALID_ID).and_then(|id| lookup(vault.as_ref(), &id));
        match found {
            Ok(v) => {
                values.insert(raw, v);
            }
            Err(c) => {
                errors.insert(raw, WireError { code: c.into(), message: None });
            }
        }
    }
    if !values.is_empty() {
        let ids: Vec<String> = values.keys().map(|k| k.escape_debug().to_string()).collect();
        log(format_args!("handed out [{}] to {peer}", ids.join(",")));
        state.count_handed_out(values.len() as u64);
    }
    if !errors.is_empty() {
        // A secret pasted into `ids` by mistake must not reach the log: only profile-shaped ids are named.
        let ids: Vec<String> = errors
            .iter()
            .map(|(k, e)| match k.contains(':') && k.len() <= 128 {
                true => format!("{}={}", k.escape_debug(), e.code),
                false => format!("(id not shown)={}", e.code),
            })
            .collect();
        log(format_args!("refused [{}] to {peer}", ids.join(",")));
    }
    Ok(Response { values: Some(values), errors: Some(errors), ..Response::ok() })
}

fn select(state: &State, req: Request, peer: &Peer) -> Result<Response> {
    let agent = agent_of(&req)?;
    let provider = req.provider.clone().ok_or_else(|| Error::InvalidInput("`select` needs `provider`".into()))?;
    crate::ops::profile::check_provider(&provider)?;
    let mut pin = req.profile.clone();
    if pin.is_none()
        && let Some(session) = &req.session
        && let Some(p) = crate::ops::session::pin_of(&state.paths, session)?
        && p.provider.as_deref() == Some(provider.as_str())
        && p.agent == agent
    {
        pin = p.profile;
    }
    let vault = state.vault()?.ok_or_else(|| Error::NotInitialized(state.paths.clawkeep_dir.clone()))?;
    let want = crate::ops::select::Want {
        agent: &agent,
        provider: &provider,
        pin: pin.as_deref(),
        cred_type: req.cred_type.as_deref(),
    };
    let s = crate::ops::select::select(&vault, &state.paths, want)?;
    log(format_args!("handed out {} (select {provider}, {}) to {peer}", s.secret_id.as_str(), s.plan.order_source));
    state.count_handed_out(1);
    Ok(Response {
        profile: Some(s.profile),
        id: Some(s.secret_id.to_string()),
        cred_type: Some(s.cred_type),
        secret: Some(Zeroizing::new(s.secret.expose_secret().to_owned())),
        candidates: Some(s.plan.candidates),
        ..Response::ok()
    })
}

fn report(state: &State, req: Request, peer: &Peer) -> Result<Response> {
    let agent = agent_of(&req)?;
    let profile = req.profile.ok_or_else(|| Error::InvalidInput("`report` needs `profile`".into()))?;
    let reason = req.reason.ok_or_else(|| Error::InvalidInput("`report` needs `reason`".into()))?;
    let vault = state.vault()?.ok_or_else(|| Error::NotInitialized(state.paths.clawkeep_dir.clone()))?;
    let usage = crate::ops::select::report(&vault, &state.paths, &agent, &profile, &reason)?;
    log(format_args!("{profile} reported {reason} by {peer}; failures in window: {}", usage.error_count));
    Ok(Response { usage: Some(usage), ..Response::ok() })
}

fn store(state: &State, req: Request, peer: &Peer) -> Result<Response> {
    let agent = agent_of(&req)?;
    let profile = req.profile.ok_or_else(|| Error::InvalidInput("`store` needs `profile`".into()))?;
    let secret = req.secret.ok_or_else(|| Error::InvalidInput("`store` needs `secret`".into()))?;
    let secret = crate::secret::normalize(secret.0.expose_secret())?;
    let mut vault = state.vault()?.ok_or_else(|| Error::NotInitialized(state.paths.clawkeep_dir.clone()))?;
    let id = crate::secret::SecretId::for_profile(&agent, &profile)?;
    let _lock = vault.lock()?;
    let entry = vault
        .index
        .secrets
        .get(id.as_str())
        .cloned()
        .ok_or_else(|| Error::UnknownProfile { agent: agent.clone(), profile: profile.clone() })?;
    if let (Some(p), Some(t)) = (&entry.provider, entry.cred_type.as_deref().and_then(crate::profiles::CredType::parse))
    {
        crate::ops::profile::check_secret(p, t, &secret)?;
    }
    vault.put(&id, &secret, entry)?;
    vault.save_index()?;
    log(format_args!("stored a rotated secret for {} from {peer}", id.as_str()));
    Ok(Response { id: Some(id.to_string()), ..Response::ok() })
}
