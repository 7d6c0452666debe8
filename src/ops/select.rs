//! Profile selection and failure reports, as OpenClaw's gateway does them (`../shared/reference/openclaw.md`):
//!
//! 1. Clear cooldowns that have passed.
//! 2. Candidates: the stored order override, else `auth.order` from `openclaw.json`, else every profile of the
//!    provider.
//! 3. Drop ineligible ones (no secret, wrong provider, expired).
//! 4. Explicit order kept with cooldown profiles moved to the end (soonest recovery first); otherwise round robin
//!    by type (oauth, token, api_key) then `lastUsed` oldest first, cooldown last.
//! 5. A pin goes first while usable.
//!
//! Failures: cooldown 30 s, 60 s, then 5 min; billing disables for 5 h doubling to 24 h; counters reset after
//! 24 h without failure. State lives in `auth-state.json` (`usageStats`).

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::openclaw::{AuthState, OpenClawConfig};
use crate::ops::profile::{ListedProfile, list};
use crate::paths::Paths;
use crate::protocol::wire::{Candidate, Usage};
use crate::secret::{SecretId, SecretString};
use crate::vault::{Vault, now_ms};

/// OpenClaw's failure reasons.
pub const REASONS: &[&str] = &[
    "auth",
    "auth_permanent",
    "format",
    "overloaded",
    "rate_limit",
    "billing",
    "timeout",
    "model_not_found",
    "session_expired",
    "unknown",
];

const SECOND: i64 = 1000;
const HOUR: i64 = 3600 * SECOND;
/// Cooldown steps after the 1st, 2nd and later failures.
const COOLDOWNS: [i64; 3] = [30 * SECOND, 60 * SECOND, 5 * 60 * SECOND];
/// Billing: first disable window, and the cap.
const BILLING_BASE: i64 = 5 * HOUR;
const BILLING_CAP: i64 = 24 * HOUR;
/// Counters reset after this long without a failure.
const FAILURE_WINDOW: i64 = 24 * HOUR;

/// The ranked candidates of a provider and where the order came from.
pub struct Plan {
    /// Candidates, first = next to use.
    pub candidates: Vec<Candidate>,
    /// `auth-state` (order override), `config` (`auth.order`), or `round-robin`.
    pub order_source: &'static str,
    /// Profiles dropped, with why.
    pub dropped: Vec<(String, &'static str)>,
    /// Profile id → secret id, for the candidates.
    pub secret_ids: std::collections::BTreeMap<String, String>,
}

/// A chosen profile and its secret.
pub struct Selected {
    /// Profile id.
    pub profile: String,
    /// Its secret id.
    pub secret_id: SecretId,
    /// Its type.
    pub cred_type: String,
    /// The secret.
    pub secret: SecretString,
    /// The plan it came from.
    pub plan: Plan,
}

fn type_rank(t: &str) -> u8 {
    match t {
        "oauth" => 0,
        "token" => 1,
        "api_key" => 2,
        _ => 3,
    }
}

fn blocked_until(stats: &Map<String, Value>, now: i64) -> Option<(i64, String)> {
    let get = |k: &str| stats.get(k).and_then(Value::as_i64).filter(|t| *t > now);
    let reason = |k: &str| stats.get(k).and_then(Value::as_str).unwrap_or("unknown").to_string();
    match (get("cooldownUntil"), get("disabledUntil")) {
        (Some(c), Some(d)) if d >= c => Some((d, reason("disabledReason"))),
        (Some(c), _) => Some((c, reason("cooldownReason"))),
        (None, Some(d)) => Some((d, reason("disabledReason"))),
        (None, None) => None,
    }
}

/// Rank the eligible profiles (pure: the rules above, given the state).
fn rank(
    eligible: Vec<&ListedProfile>,
    state: &AuthState,
    explicit: Option<&[String]>,
    pin: Option<&str>,
    now: i64,
) -> Vec<Candidate> {
    let mut c: Vec<Candidate> = eligible
        .iter()
        .map(|p| {
            let stats = state.usage(&p.profile_id);
            let blocked = blocked_until(&stats, now);
            Candidate {
                profile: p.profile_id.clone(),
                cred_type: p.cred_type.clone(),
                usable: blocked.is_none(),
                pinned: pin == Some(p.profile_id.as_str()),
                until: blocked.as_ref().map(|b| b.0),
                reason: blocked.map(|b| b.1),
                last_used: stats.get("lastUsed").and_then(Value::as_i64).filter(|t| *t > 0),
            }
        })
        .collect();
    match explicit {
        Some(order) => {
            let pos = |id: &str| order.iter().position(|o| o == id).unwrap_or(usize::MAX);
            c.sort_by_key(|x| pos(&x.profile));
        }
        None => c.sort_by(|a, b| {
            (type_rank(&a.cred_type), a.last_used.unwrap_or(0), &a.profile).cmp(&(
                type_rank(&b.cred_type),
                b.last_used.unwrap_or(0),
                &b.profile,
            ))
        }),
    }
    // Stable: usable ones keep their order; blocked ones go last, soonest recovery first.
    c.sort_by_key(|x| if x.usable { (0, 0) } else { (1, x.until.unwrap_or(i64::MAX)) });
    if let Some(i) = c.iter().position(|x| x.pinned && x.usable) {
        let p = c.remove(i);
        c.insert(0, p);
    }
    c
}

/// Rank a provider's profiles without handing anything out (for `/model status`).
pub fn plan(vault: &Vault, paths: &Paths, agent: &str, provider: &str, pin: Option<&str>) -> Result<Plan> {
    let now = now_ms();
    let mut state = AuthState::load(&paths.auth_state(agent))?;
    state.clear_expired(now);
    plan_with(vault, paths, &state, Want { agent, provider, pin, cred_type: None }, now)
}

/// What a selection is for.
#[derive(Clone, Copy)]
pub struct Want<'a> {
    /// Agent id.
    pub agent: &'a str,
    /// Provider id.
    pub provider: &'a str,
    /// A pinned profile (session or request).
    pub pin: Option<&'a str>,
    /// Only profiles of this type (`api_key`, `token`), e.g. for an API-key environment variable.
    pub cred_type: Option<&'a str>,
}

fn plan_with(vault: &Vault, paths: &Paths, state: &AuthState, want: Want<'_>, now: i64) -> Result<Plan> {
    let Want { agent, provider, pin, cred_type } = want;
    let profiles = list(Some(vault), paths, agent, None)?;
    let config = OpenClawConfig::load(&paths.openclaw_config())?;
    let (explicit, order_source) = match state.order(provider).filter(|o| !o.is_empty()) {
        Some(o) => (Some(o), "auth-state"),
        None => match config.auth_order(provider).filter(|o| !o.is_empty()) {
            Some(o) => (Some(o), "config"),
            None => (None, "round-robin"),
        },
    };
    let wanted: Vec<&ListedProfile> = match &explicit {
        Some(order) => order.iter().filter_map(|id| profiles.iter().find(|p| &p.profile_id == id)).collect(),
        None => profiles.iter().filter(|p| p.provider == provider).collect(),
    };
    let mut dropped = Vec::new();
    if let Some(order) = &explicit {
        for id in order.iter().filter(|id| !profiles.iter().any(|p| &p.profile_id == *id)) {
            dropped.push((id.clone(), "unknown profile"));
        }
    }
    let mut eligible = Vec::new();
    for p in wanted {
        let why = if p.provider != provider {
            Some("wrong provider")
        } else if cred_type.is_some_and(|t| t != p.cred_type) {
            Some("wrong type")
        } else if p.expires.is_some_and(|e| e <= now) {
            Some("expired")
        } else if !p.secret_id.as_deref().and_then(|s| SecretId::parse(s).ok()).is_some_and(|id| vault.has(&id)) {
            Some("no secret in clawkeep")
        } else {
            None
        };
        match why {
            Some(w) => dropped.push((p.profile_id.clone(), w)),
            None => eligible.push(p),
        }
    }
    let secret_ids = eligible.iter().map(|p| (p.profile_id.clone(), p.secret_id.clone().unwrap_or_default())).collect();
    let candidates = rank(eligible, state, explicit.as_deref(), pin, now);
    Ok(Plan { candidates, order_source, dropped, secret_ids })
}

/// Choose the profile to use for `provider`, read its secret and record `lastUsed`.
pub fn select(vault: &Vault, paths: &Paths, want: Want<'_>) -> Result<Selected> {
    select_with(vault, paths, want, &|id| vault.get(id))
}

/// [`select`], with the secret read by `read`, called once OpenClaw's locks are held and the profile is chosen (the
/// service checks there that no `lock` came while it waited, and only then takes the identity).
pub fn select_with(
    vault: &Vault,
    paths: &Paths,
    want: Want<'_>,
    read: &dyn Fn(&SecretId) -> Result<SecretString>,
) -> Result<Selected> {
    let Want { agent, provider, .. } = want;
    let now = now_ms();
    crate::fs::ensure_private_dir(&paths.agent_dir(agent))?;
    let _oc = crate::openclaw::lock_openclaw_files(paths, agent)?;
    let mut state = AuthState::load(&paths.auth_state(agent))?;
    let cleared = state.clear_expired(now);
    let plan = plan_with(vault, paths, &state, want, now)?;
    let Some(first) = plan.candidates.first().filter(|c| c.usable) else {
        let msg = match plan.candidates.first() {
            Some(c) => format!(
                "every profile of `{provider}` is cooling down or disabled; `{}` is back in {} s",
                c.profile,
                ((c.until.unwrap_or(now) - now).max(0) + 999) / 1000
            ),
            None => format!("no usable profile for provider `{provider}` (agent `{agent}`)"),
        };
        if cleared {
            state.save()?;
        }
        return Err(Error::NotFound(msg));
    };
    let profile = first.profile.clone();
    let cred_type = first.cred_type.clone();
    let secret_id = SecretId::parse(plan.secret_ids.get(&profile).map(String::as_str).unwrap_or_default())?;
    let secret = read(&secret_id)?;
    let mut stats = state.usage(&profile);
    stats.insert("lastUsed".into(), json!(now));
    state.set_usage(&profile, stats);
    state.save()?;
    Ok(Selected { profile, secret_id, cred_type, secret, plan })
}

/// Record a failure of `profile` and set its cooldown or disabled window.
pub fn report(vault: &Vault, paths: &Paths, agent: &str, profile: &str, reason: &str) -> Result<Usage> {
    if !REASONS.contains(&reason) {
        return Err(Error::InvalidInput(format!("unknown failure reason `{reason}` (one of: {})", REASONS.join(", "))));
    }
    if !list(Some(vault), paths, agent, None)?.iter().any(|p| p.profile_id == profile) {
        return Err(Error::UnknownProfile { agent: agent.into(), profile: profile.into() });
    }
    let now = now_ms();
    crate::fs::ensure_private_dir(&paths.agent_dir(agent))?;
    let _oc = crate::openclaw::lock_openclaw_files(paths, agent)?;
    let mut state = AuthState::load(&paths.auth_state(agent))?;
    state.clear_expired(now);
    let mut stats = state.usage(profile);
    let stale = stats.get("lastFailureAt").and_then(Value::as_i64).is_none_or(|t| now - t > FAILURE_WINDOW);
    if stale {
        stats.insert("errorCount".into(), json!(0));
        stats.remove("failureCounts");
    }
    let count = stats.get("errorCount").and_then(Value::as_u64).unwrap_or(0) + 1;
    stats.insert("errorCount".into(), json!(count));
    let counts = stats.entry("failureCounts").or_insert_with(|| json!({}));
    let of_reason = counts.get(reason).and_then(Value::as_u64).unwrap_or(0) + 1;
    if let Some(m) = counts.as_object_mut() {
        m.insert(reason.into(), json!(of_reason));
    }
    stats.insert("lastFailureAt".into(), json!(now));
    if reason == "billing" {
        let window = BILLING_BASE.saturating_mul(1i64 << (of_reason - 1).min(8)).min(BILLING_CAP);
        stats.insert("disabledUntil".into(), json!(now + window));
        stats.insert("disabledReason".into(), json!(reason));
    } else {
        let step = COOLDOWNS[(count as usize - 1).min(COOLDOWNS.len() - 1)];
        stats.insert("cooldownUntil".into(), json!(now + step));
        stats.insert("cooldownReason".into(), json!(reason));
    }
    let usage = Usage {
        error_count: count,
        cooldown_until: stats.get("cooldownUntil").and_then(Value::as_i64),
        disabled_until: stats.get("disabledUntil").and_then(Value::as_i64),
    };
    state.set_usage(profile, stats);
    state.save()?;
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prof(id: &str, t: &str) -> ListedProfile {
        ListedProfile {
            agent: "main".into(),
            profile_id: id.into(),
            provider: "anthropic".into(),
            cred_type: t.into(),
            store: "clawkeep:file".into(),
            secret_id: Some(format!("main/{id}")),
            expires: None,
            email: None,
            in_auth_profiles: true,
            openclaw_store: None,
        }
    }

    fn state(json: Value) -> AuthState {
        AuthState { path: "/nonexistent".into(), doc: json.as_object().unwrap().clone(), existed: true }
    }

    fn ids(c: &[Candidate]) -> Vec<&str> {
        c.iter().map(|c| c.profile.as_str()).collect()
    }

    #[test]
    fn round_robin_by_type_then_last_used_with_cooldown_last() {
        let now = 1_000_000;
        let (a, b, t, k) =
            (prof("p:a", "api_key"), prof("p:b", "api_key"), prof("p:t", "token"), prof("p:k", "api_key"));
        let s = state(json!({"version":1,"usageStats":{
            "p:a":{"lastUsed":500},"p:b":{"lastUsed":100},"p:t":{"lastUsed":900},
            "p:k":{"cooldownUntil": now + 10, "cooldownReason":"rate_limit"}}}));
        let c = rank(vec![&a, &b, &t, &k], &s, None, None, now);
        assert_eq!(ids(&c), ["p:t", "p:b", "p:a", "p:k"]);
        assert!(!c[3].usable);
        assert_eq!(c[3].reason.as_deref(), Some("rate_limit"));
    }

    #[test]
    fn explicit_order_kept_cooldowns_moved_soonest_first_pin_first_while_usable() {
        let now = 1_000_000;
        let (a, b, c_, d) =
            (prof("p:a", "api_key"), prof("p:b", "token"), prof("p:c", "api_key"), prof("p:d", "api_key"));
        let s = state(json!({"version":1,"usageStats":{
            "p:a":{"cooldownUntil": now + 500},"p:b":{"disabledUntil": now + 100, "disabledReason":"billing"}}}));
        let order: Vec<String> = ["p:a", "p:b", "p:c", "p:d"].iter().map(|s| s.to_string()).collect();
        let c = rank(vec![&a, &b, &c_, &d], &s, Some(&order), None, now);
        assert_eq!(ids(&c), ["p:c", "p:d", "p:b", "p:a"]);
        let c = rank(vec![&a, &b, &c_, &d], &s, Some(&order), Some("p:d"), now);
        assert_eq!(ids(&c), ["p:d", "p:c", "p:b", "p:a"]);
        // A pin in cooldown does not jump the queue but stays marked.
        let c = rank(vec![&a, &b, &c_, &d], &s, Some(&order), Some("p:a"), now);
        assert_eq!(ids(&c), ["p:c", "p:d", "p:b", "p:a"]);
        assert!(c[3].pinned);
    }
}
