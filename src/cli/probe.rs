//! `models status --probe`: check stored credentials against their provider's API (see `clawkeep::probe`). The
//! secrets come from the vault service when it runs (it logs the hand-out), else from the store (logged here as
//! `probe`); either way each hand-out is in the access log before the request is sent.

use std::time::Duration;

use clawkeep::error::exit;
use clawkeep::openclaw::OpenClawConfig;
use clawkeep::ops::profile;
use clawkeep::paths::Paths;
use clawkeep::probe::{self, Class};
use clawkeep::protocol::wire::Request;
use clawkeep::secret::{SecretId, SecretString};
use clawkeep::{Error, Result};

use super::output;

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    profile: String,
    provider: String,
    #[serde(flatten)]
    class: Option<Class>,
    detail: String,
}

fn secret_via_service(client: &mut clawkeep::protocol::client::Client, id: &SecretId) -> Result<SecretString> {
    let mut req = Request::new("get");
    req.ids = vec![id.to_string()];
    let mut resp = client.call(&req)?;
    if !resp.ok {
        return Err(super::service::failure(resp));
    }
    match resp.values.as_mut().and_then(|v| v.remove(id.as_str())) {
        Some(v) => Ok(SecretString::from(v.as_str().to_owned())),
        None => {
            let code = resp.errors.and_then(|mut e| e.remove(id.as_str())).map(|e| e.code).unwrap_or_default();
            Err(super::service::wire_error(clawkeep::protocol::wire::WireError::new(
                &code,
                format!("no secret for `{}`", id.as_str()),
            )))
        }
    }
}

/// Probe the agent's stored credentials (or only `only`); exit 0 when every probed one is valid, 2 when the worst
/// is a rate limit, 1 otherwise.
pub fn run(paths: &Paths, agent: &str, only: &[String], timeout: Duration, json: bool) -> Result<i32> {
    let vault = super::open_optional(paths)?;
    let rows = profile::list(vault.as_ref(), paths, agent, None)?;
    for p in only {
        if !rows.iter().any(|r| &r.profile_id == p) {
            return Err(Error::UnknownProfile { agent: agent.into(), profile: p.clone() });
        }
    }
    let config = OpenClawConfig::load_existing(&paths.openclaw_config())?;
    let mut client = super::service::connect(paths)?;
    let mut out = Vec::new();
    for r in rows.iter().filter(|r| only.is_empty() || only.contains(&r.profile_id)) {
        let row = |class: Option<Class>, detail: String| Row {
            profile: r.profile_id.clone(),
            provider: r.provider.clone(),
            class,
            detail,
        };
        let Some(target) = probe::target(&r.provider, config.as_ref().and_then(|c| c.base_url(&r.provider))) else {
            out.push(row(None, format!("skipped: no probe for provider `{}`", r.provider)));
            continue;
        };
        let Some(sid) = r.secret_id.as_deref() else {
            out.push(row(None, "skipped: not stored in clawkeep".into()));
            continue;
        };
        let secret = match client.as_mut() {
            Some(c) => SecretId::parse(sid).and_then(|id| secret_via_service(c, &id)),
            None => {
                let vault = vault.as_ref().ok_or_else(|| Error::NotInitialized(paths.clawkeep_dir.clone()))?;
                let s = profile::secret_of(vault, paths, agent, &r.profile_id);
                super::audit::handout(paths, "probe", agent, &r.profile_id, &s)?;
                s
            }
        };
        let class = match secret {
            Ok(s) => probe::probe(&target, &s, r.cred_type != "api_key", timeout),
            Err(e @ Error::Audit(_)) => return Err(e),
            Err(e) => Class::Unexpected { status: 0, why: format!("the secret could not be read: {e}") },
        };
        out.push(row(Some(class.clone()), class.detail()));
    }
    // 1 (a failure) outranks 2 (a rate limit).
    let classes: Vec<&Class> = out.iter().filter_map(|r| r.class.as_ref()).collect();
    let code = if classes.iter().any(|c| !matches!(c, Class::Valid | Class::RateLimited { .. })) {
        exit::CHECK_FAILED
    } else if classes.iter().any(|c| matches!(c, Class::RateLimited { .. })) {
        exit::CHECK_EXPIRING
    } else {
        exit::OK
    };
    if json {
        output::json(&serde_json::json!({ "agent": agent, "probes": out, "exitCode": code }));
    } else if out.is_empty() {
        println!("no profiles for agent {agent}");
    } else {
        output::table(
            &["PROFILE", "PROVIDER", "PROBE", "DETAIL"],
            out.iter()
                .map(|r| {
                    vec![
                        r.profile.clone(),
                        r.provider.clone(),
                        r.class.as_ref().map_or("skipped", Class::word).into(),
                        r.detail.clone(),
                    ]
                })
                .collect(),
        );
    }
    Ok(code)
}
