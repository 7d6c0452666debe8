//! One request in, one response out. Runs on a blocking thread (argon2 and keychain calls block), except `lock` and
//! `status`, which the connection answers itself. Every secret handed out is logged once its answer is encoded (ids
//! and the peer, never values); every refusal is logged with its code and the peer.

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
use crate::secret::SecretId;
use crate::vault::Vault;

/// Secrets in an answer, to be logged and counted once the answer is encoded (an answer too large to send hands
/// nothing out).
pub struct HandOut {
    /// How many secrets.
    pub count: u64,
    /// What to log after `handed out ` (ids and how they were chosen; never values).
    pub what: String,
    /// For file-store secrets: the wipe epoch they were decrypted under. If a `lock` (or expiry) came since, the
    /// answer is not sent: `lock` printing "locked" means nothing more leaves the service.
    pub epoch: Option<u64>,
}

/// A response, what it hands out, and its lines for the access log (written before it is sent).
pub struct Answer {
    /// The response.
    pub resp: Response,
    /// Secrets in it.
    pub handed_out: Option<HandOut>,
    /// Access log entries: one per secret handed out or refused.
    pub audit: Vec<crate::audit::Entry>,
}

impl From<Response> for Answer {
    fn from(resp: Response) -> Answer {
        Answer { resp, handed_out: None, audit: Vec::new() }
    }
}

/// `raw` as the log may show it: only when it has the shape of a profile id (`provider:name`, or
/// `<agent>/<profile id>` within OpenClaw's exec id grammar); anything else may be a secret sent in the wrong field.
pub fn shown(raw: &str) -> String {
    let profile_shaped = SecretId::parse(raw).is_ok()
        && parse_id(raw).and_then(|id| id.profile_parts()).is_some_and(|(agent, p)| {
            SecretId::for_profile(&agent, &p).is_ok()
                && p.split_once(':').is_some_and(|(prov, _)| crate::ops::profile::check_provider(prov).is_ok())
        });
    if profile_shaped { raw.escape_debug().to_string() } else { NOT_SHOWN.into() }
}

/// What the logs show for an id that is not profile-shaped.
pub const NOT_SHOWN: &str = "(id not shown)";

/// Answer a request.
pub fn handle(state: &State, req: Request, peer: &Peer) -> Answer {
    let op = req.op.clone();
    let (req_profile, req_provider) = (req.profile.clone(), req.provider.clone());
    // What the refusal line names besides the op: request fields that are safe to log.
    let about = match (req.provider.as_deref(), req.profile.as_deref()) {
        (_, Some(p)) => format!(" ({})", shown(p)),
        // Provider ids are short names (anthropic, amazon-bedrock): a long or digit-heavy value may be a key.
        (Some(p), None)
            if p.len() <= 24
                && crate::ops::profile::check_provider(p).is_ok()
                && p.bytes().filter(u8::is_ascii_digit).count() < 6 =>
        {
            format!(" (provider {p})")
        }
        _ => String::new(),
    };
    let result = match op.as_str() {
        "get" => get(state, req, peer),
        "select" => select(state, req),
        "report" => report(state, req, peer).map(Answer::from),
        "store" => store(state, req, peer).map(Answer::from),
        "status" => Ok(with_status(state).into()),
        "lock" => {
            if state.lock() {
                log(format_args!("locked by {peer}; identity wiped"));
            }
            Ok(with_status(state).into())
        }
        "unlock" => match req.passphrase {
            Some(p) => unlock(state, p.0, req.ttl_ms.map(Duration::from_millis)).map(|()| {
                log(format_args!("unlocked by {peer}"));
                with_status(state).into()
            }),
            None => Err(Error::InvalidInput("`unlock` needs `passphrase`".into())),
        },
        _ => {
            log(format_args!("refused an unknown op (not shown) to {peer}: {}", code::UNKNOWN_OP));
            return Response::fail(
                code::UNKNOWN_OP,
                "unknown op (get, select, report, store, status, lock, unlock)".to_string(),
            )
            .into();
        }
    };
    result.unwrap_or_else(|e| {
        let c = match &e {
            Error::InvalidInput(_) => code::INVALID,
            Error::WrongPassphrase if op == "unlock" => code::WRONG_PASSPHRASE,
            Error::NotFound(_) if op == "select" => code::NO_PROFILE,
            Error::Audit(_) => code::AUDIT,
            e => code_for(e),
        };
        log(format_args!("refused {op}{about} to {peer}: {c}"));
        let mut answer = Answer::from(Response::fail(c, e.to_string()));
        if matches!(op.as_str(), "get" | "select" | "store" | "unlock") {
            answer.audit.push(refusal_entry(&op, about_profile(&op, &req_profile, &req_provider), c));
        }
        answer
    })
}

/// The profile a refused request named, when it is safe to log.
fn about_profile(op: &str, profile: &Option<String>, provider: &Option<String>) -> Option<String> {
    match (profile, provider) {
        (Some(p), _) if shown(p) != NOT_SHOWN => Some(p.clone()),
        (None, Some(p)) if op == "select" && crate::ops::profile::check_provider(p).is_ok() => Some(format!("{p}:*")),
        _ => None,
    }
}

fn refusal_entry(op: &str, profile: Option<String>, code: &str) -> crate::audit::Entry {
    crate::audit::Entry { op: op.into(), via: "service", agent: None, profile, outcome: code.into(), fp: None }
}

/// Unwrap the file store's identity with `pass` and keep it (no-op for keychain backends).
pub fn unlock(state: &State, pass: SecretString, ttl: Option<Duration>) -> Result<()> {
    if ttl.is_some_and(|t| t.is_zero()) {
        return Err(Error::InvalidInput("`ttlMs` must be greater than 0".into()));
    }
    let epoch = state.lock_epoch();
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

fn get(state: &State, req: Request, peer: &Peer) -> Result<Answer> {
    if req.ids.is_empty() || req.ids.len() > MAX_IDS {
        return Err(Error::InvalidInput(format!("`get` needs 1 to {MAX_IDS} ids")));
    }
    let epoch = state.epoch();
    let vault = state.vault()?;
    let file_store = vault.as_ref().is_some_and(|v| v.backend() == crate::vault::Backend::File);
    let mut values = BTreeMap::new();
    let mut errors = BTreeMap::new();
    let mut audit = Vec::new();
    for raw in req.ids {
        // `INVALID_ID` only outside OpenClaw's exec id grammar, as `resolve` answers without the service; an id inside
        // it that names no profile (`nocolon`) simply has no secret.
        let found = match parse_id(&raw) {
            Some(id) => lookup(vault.as_ref(), &id),
            None if SecretId::parse(&raw).is_ok() => Err(code::NOT_FOUND),
            None => Err(code::INVALID_ID),
        };
        match found {
            Ok(v) => {
                let fp = crate::audit::fingerprint_or_none(&state.paths, v.as_bytes());
                audit.push(crate::audit::id_entry("get", "service", &raw, "ok", fp));
                values.insert(raw, v);
            }
            Err(c) => {
                audit.push(crate::audit::id_entry("get", "service", &raw, c, None));
                errors.insert(raw, WireError { code: c.into(), message: None });
            }
        }
    }
    let handed_out = (!values.is_empty()).then(|| {
        let ids: Vec<String> = values.keys().map(|k| k.escape_debug().to_string()).collect();
        HandOut { count: values.len() as u64, what: format!("[{}]", ids.join(",")), epoch: file_store.then_some(epoch) }
    });
    if !errors.is_empty() {
        // A secret pasted into `ids` by mistake must not reach the log: only profile-shaped ids are named.
        let ids: Vec<String> = errors.iter().map(|(k, e)| format!("{}={}", shown(k), e.code)).collect();
        log(format_args!("refused [{}] to {peer}", ids.join(",")));
    }
    Ok(Answer { resp: Response { values: Some(values), errors: Some(errors), ..Response::ok() }, handed_out, audit })
}

fn select(state: &State, req: Request) -> Result<Answer> {
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
    // The identity is taken only to decrypt, after OpenClaw's locks are held: a `lock` (or expiry) that came while
    // this request waited for them makes it answer LOCKED instead of handing the secret out.
    let epoch = state.epoch();
    if !Vault::exists(&state.paths) {
        return Err(Error::NotInitialized(state.paths.clawkeep_dir.clone()));
    }
    state.touch();
    let vault = Vault::open_unlocked(&state.paths, None)?;
    let read = |id: &SecretId| {
        if vault.backend() != crate::vault::Backend::File {
            return vault.get(id);
        }
        let identity = state.identity_at(epoch).ok_or(Error::VaultLocked)?;
        Vault::open_unlocked(&state.paths, Some(identity))?.get(id)
    };
    let want = crate::ops::select::Want {
        agent: &agent,
        provider: &provider,
        pin: pin.as_deref(),
        cred_type: req.cred_type.as_deref(),
    };
    let s = crate::ops::select::select_with(&vault, &state.paths, want, &read)?;
    let file_store = vault.backend() == crate::vault::Backend::File;
    let what = format!("{} (select {provider}, {})", s.secret_id.as_str(), s.plan.order_source);
    let fp = crate::audit::fingerprint_or_none(&state.paths, s.secret.expose_secret().as_bytes());
    let entry = crate::audit::entry("select", Some(&agent), Some(&s.profile), "ok", fp);
    let audit = vec![crate::audit::Entry { via: "service", ..entry }];
    let resp = Response {
        profile: Some(s.profile),
        id: Some(s.secret_id.to_string()),
        cred_type: Some(s.cred_type),
        secret: Some(Zeroizing::new(s.secret.expose_secret().to_owned())),
        candidates: Some(s.plan.candidates),
        ..Response::ok()
    };
    Ok(Answer { resp, handed_out: Some(HandOut { count: 1, what, epoch: file_store.then_some(epoch) }), audit })
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
    if let (Some(p), Some(t)) = (&entry.provider, entry.cred_type.as_deref().and_then(crate::openclaw::CredType::parse))
    {
        crate::ops::profile::check_secret(p, t, &secret)?;
    }
    // A change is refused before it is made when its line could not be written, and logged once it is made.
    crate::audit::preflight(&state.paths)?;
    let fp = crate::audit::fingerprint_or_none(&state.paths, secret.expose_secret().as_bytes());
    vault.put(&id, &secret, entry)?;
    vault.save_index()?;
    let line =
        crate::audit::Entry { via: "service", ..crate::audit::entry("rotate", Some(&agent), Some(&profile), "ok", fp) };
    if let Err(e) = crate::audit::record(&state.paths, &[line], &peer.who, &|w| log(format_args!("{w}"))) {
        log(format_args!("stored a rotated secret for {}, but {e}", id.as_str()));
    }
    log(format_args!("stored a rotated secret for {} from {peer}", id.as_str()));
    Ok(Response { id: Some(id.to_string()), ..Response::ok() })
}
