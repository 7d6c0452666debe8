//! Live probes: does a stored credential still work? One minimal request per credential to its provider's API, with
//! a short timeout, classified as valid, rejected, Claude-Code-only, rate limited, unreachable or unexpected.
//!
//! - Anthropic: an API key lists models (`GET /v1/models?limit=1`, `x-api-key`); a token (setup-token / OAuth)
//!   asks for one token (`POST /v1/messages`, `max_tokens: 1`, bearer), since that is where Anthropic answers that a
//!   credential "is only authorized for use with Claude Code".
//! - OpenAI: `GET /models` (bearer). OpenRouter: `GET /key` (bearer; its model list needs no key).
//!
//! Base URLs: `ANTHROPIC_BASE_URL` / `OPENAI_BASE_URL` / `OPENROUTER_BASE_URL`, else `models.providers.<id>.baseUrl`
//! in `openclaw.json`, else the provider's. A plain `http://` base is refused unless its host is loopback (a
//! credential never crosses a network in clear). Redirects are not followed; one to another host is reported as
//! refused. The secret goes only into the request header, built in a zeroized buffer (the HTTP client's own copy
//! of the header cannot be wiped).

use std::time::Duration;

use serde::Serialize;
use zeroize::Zeroizing;

use crate::secret::{ExposeSecret, SecretString};

/// Providers that can be probed.
pub const PROVIDERS: [&str; 3] = ["anthropic", "openai", "openrouter"];

/// Largest answer body read.
const MAX_BODY: u64 = 64 * 1024;

/// How a probe came out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "class", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum Class {
    /// The provider accepted the credential.
    Valid,
    /// 401 or 403.
    Rejected {
        /// HTTP status.
        status: u16,
    },
    /// An Anthropic setup-token that only Claude Code may use.
    ClaudeCodeOnly,
    /// 429.
    RateLimited {
        /// `retry-after` (seconds or a date), when the provider sent one.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after: Option<String>,
    },
    /// No answer: DNS, connection, TLS, timeout.
    Unreachable {
        /// Why.
        why: String,
    },
    /// Anything else: another status, a body that is not the provider's JSON, a redirect.
    Unexpected {
        /// HTTP status (0 when there was none).
        status: u16,
        /// What was wrong.
        why: String,
    },
}

impl Class {
    /// A short word for tables and the access log.
    pub fn word(&self) -> &'static str {
        match self {
            Class::Valid => "valid",
            Class::Rejected { .. } => "rejected",
            Class::ClaudeCodeOnly => "claude_code_only",
            Class::RateLimited { .. } => "rate_limited",
            Class::Unreachable { .. } => "unreachable",
            Class::Unexpected { .. } => "unexpected",
        }
    }

    /// Details and advice for people.
    pub fn detail(&self) -> String {
        match self {
            Class::Valid => "the provider accepted it".into(),
            Class::Rejected { status } => {
                format!("HTTP {status}: the provider refused it; store a new one with `models auth add --force`")
            }
            Class::ClaudeCodeOnly => "this setup-token is only authorized for use with Claude Code; use an Anthropic \
                                      API key (sk-ant-api…) for the gateway"
                .into(),
            Class::RateLimited { retry_after: Some(r) } => format!("HTTP 429: rate limited; retry after {r}"),
            Class::RateLimited { retry_after: None } => "HTTP 429: rate limited".into(),
            Class::Unreachable { why } => format!("unreachable: {why}"),
            Class::Unexpected { status: 0, why } => format!("unexpected: {why}"),
            Class::Unexpected { status, why } => format!("unexpected HTTP {status}: {why}"),
        }
    }
}

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct Target {
    /// Provider id.
    pub provider: String,
    /// Base URL, without a trailing slash.
    pub base: String,
}

/// The default base URL of a provider (Anthropic's without `/v1`, as `ANTHROPIC_BASE_URL` is; the others with it).
pub fn default_base(provider: &str) -> Option<&'static str> {
    match provider {
        "anthropic" => Some("https://api.anthropic.com"),
        "openai" => Some("https://api.openai.com/v1"),
        "openrouter" => Some("https://openrouter.ai/api/v1"),
        _ => None,
    }
}

/// The environment variable that overrides a provider's base URL.
pub fn base_env(provider: &str) -> Option<&'static str> {
    match provider {
        "anthropic" => Some("ANTHROPIC_BASE_URL"),
        "openai" => Some("OPENAI_BASE_URL"),
        "openrouter" => Some("OPENROUTER_BASE_URL"),
        _ => None,
    }
}

/// The target for `provider`: the environment, else `config_base` (from `openclaw.json`), else the default.
/// `None` for providers without a probe.
pub fn target(provider: &str, config_base: Option<String>) -> Option<Target> {
    let default = default_base(provider)?;
    let env = base_env(provider).and_then(|v| std::env::var(v).ok()).filter(|v| !v.trim().is_empty());
    let base = env.or(config_base).unwrap_or_else(|| default.to_string());
    Some(Target { provider: provider.into(), base: base.trim().trim_end_matches('/').to_string() })
}

fn host_of(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host =
        if host.starts_with('[') { host.split(']').next()?.trim_start_matches('[') } else { host.split(':').next()? };
    Some((scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}

fn loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Probe one credential. `token` says whether it is a token (bearer, OAuth) rather than an API key. Whatever the
/// provider quotes back of the credential is left out of the answer (see [`without_secret`]).
pub fn probe(t: &Target, secret: &SecretString, token: bool, timeout: Duration) -> Class {
    without_secret(ask(t, secret, token, timeout), secret.expose_secret())
}

/// Whether `text` holds `secret` or a piece of it of 12 characters or more (a provider may echo a key, or cut it).
fn quotes_secret(text: &str, secret: &str) -> bool {
    let s = secret.as_bytes();
    !s.is_empty() && s.windows(12.min(s.len())).any(|w| text.as_bytes().windows(w.len()).any(|t| t == w))
}

/// `class` with every text that came from the provider and quotes the credential replaced by a note.
fn without_secret(class: Class, secret: &str) -> Class {
    const QUOTED: &str = "an answer that quotes the credential (not shown)";
    match class {
        Class::Unexpected { status, why } if quotes_secret(&why, secret) => {
            Class::Unexpected { status, why: QUOTED.into() }
        }
        Class::Unreachable { why } if quotes_secret(&why, secret) => Class::Unreachable { why: QUOTED.into() },
        Class::RateLimited { retry_after: Some(r) } if quotes_secret(&r, secret) => {
            Class::RateLimited { retry_after: None }
        }
        c => c,
    }
}

fn ask(t: &Target, secret: &SecretString, token: bool, timeout: Duration) -> Class {
    let Some((scheme, host)) = host_of(&t.base) else {
        return Class::Unexpected { status: 0, why: format!("base URL `{}` is not a URL", t.base) };
    };
    match scheme.as_str() {
        "https" => {}
        "http" if loopback(&host) => {}
        _ => {
            return Class::Unexpected {
                status: 0,
                why: format!("base URL `{}` refused: only https (or http to a loopback address)", t.base),
            };
        }
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(concat!("clawkeep/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let s = secret.expose_secret();
    let sent = match (t.provider.as_str(), token) {
        ("anthropic", false) => agent
            .get(format!("{}/v1/models?limit=1", t.base))
            .header("x-api-key", s)
            .header("anthropic-version", "2023-06-01")
            .call(),
        ("anthropic", true) => {
            let auth = Zeroizing::new(format!("Bearer {s}"));
            agent
                .post(format!("{}/v1/messages", t.base))
                .header("authorization", auth.as_str())
                .header("anthropic-version", "2023-06-01")
                .header("anthropic-beta", "oauth-2025-04-20")
                .header("content-type", "application/json")
                .send(
                    r#"{"model":"claude-3-5-haiku-latest","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}"#,
                )
        }
        (p, _) => {
            let path = if p == "openrouter" { "key" } else { "models" };
            let auth = Zeroizing::new(format!("Bearer {s}"));
            agent.get(format!("{}/{path}", t.base)).header("authorization", auth.as_str()).call()
        }
    };
    let mut resp = match sent {
        Ok(r) => r,
        Err(e) => return unreachable(e, scheme == "https"),
    };
    let status = resp.status().as_u16();
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if (300..400).contains(&status) {
        let location = header("location").unwrap_or_default();
        let other_host = host_of(&location).is_some_and(|(_, h)| h != host);
        let why = if other_host {
            "a redirect to another host, refused (the credential was not sent there)".to_string()
        } else {
            "a redirect, not followed".to_string()
        };
        return Class::Unexpected { status, why };
    }
    let retry_after = header("retry-after");
    let json_answer = header("content-type").is_some_and(|c| c.contains("json"));
    let body = match resp.body_mut().with_config().limit(MAX_BODY).read_to_string() {
        Ok(b) => b,
        Err(ureq::Error::Timeout(_)) => return Class::Unreachable { why: "the answer did not finish in time".into() },
        Err(e) => return Class::Unexpected { status, why: format!("unreadable answer ({e})") },
    };
    classify(status, retry_after, json_answer, &body)
}

fn unreachable(e: ureq::Error, https: bool) -> Class {
    let why = match e {
        ureq::Error::Timeout(_) => "timed out".to_string(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Tls(m) => format!("TLS error: {m}"),
        ureq::Error::Rustls(e) => format!("TLS error: {e}"),
        // Over https, a connection that drops before any answer is a failed handshake (e.g. not a TLS server).
        ureq::Error::Io(e) if https => format!("TLS handshake failed: {e}"),
        e => e.to_string(),
    };
    Class::Unreachable { why }
}

/// Classify an answer (status, `retry-after`, whether it said JSON, body).
pub fn classify(status: u16, retry_after: Option<String>, json: bool, body: &str) -> Class {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(|e| e.get("message").and_then(|m| m.as_str()).or_else(|| e.as_str()))
        .unwrap_or_default();
    if (400..500).contains(&status) && message.contains("only authorized for use with Claude Code") {
        return Class::ClaudeCodeOnly;
    }
    match status {
        200..=299 if parsed.is_some() => Class::Valid,
        200..=299 => Class::Unexpected {
            status,
            why: if json { "the JSON answer does not parse".into() } else { "the answer is not JSON".into() },
        },
        401 | 403 => Class::Rejected { status },
        429 => Class::RateLimited {
            retry_after: retry_after.map(|r| r.chars().filter(|c| !c.is_control()).take(64).collect()),
        },
        _ => Class::Unexpected {
            status,
            why: if parsed.is_some() {
                let m: String = message.chars().filter(|c| !c.is_control()).take(160).collect();
                if m.is_empty() { "an error answer".into() } else { m }
            } else {
                "the answer is not JSON".into()
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        let cc = r#"{"type":"error","error":{"type":"invalid_request_error","message":"This credential is only authorized for use with Claude Code and cannot be used for other API requests."}}"#;
        assert_eq!(classify(400, None, true, cc), Class::ClaudeCodeOnly);
        assert_eq!(classify(200, None, true, r#"{"data":[]}"#), Class::Valid);
        assert_eq!(
            classify(401, None, true, r#"{"error":{"message":"invalid x-api-key"}}"#),
            Class::Rejected { status: 401 }
        );
        assert_eq!(classify(429, Some("17".into()), true, "{}"), Class::RateLimited { retry_after: Some("17".into()) });
        assert!(matches!(classify(200, None, false, "<html>"), Class::Unexpected { status: 200, .. }));
        assert!(matches!(classify(500, None, false, "oops"), Class::Unexpected { status: 500, .. }));
    }

    #[test]
    fn quoted_credentials_are_left_out() {
        let key = "sk-proj-abcdefghijklmnop";
        let c = without_secret(Class::Unexpected { status: 400, why: format!("bad key {key}") }, key);
        assert_eq!(
            c,
            Class::Unexpected { status: 400, why: "an answer that quotes the credential (not shown)".into() }
        );
        let c = without_secret(Class::RateLimited { retry_after: Some("sk-proj-abcd".into()) }, key);
        assert_eq!(c, Class::RateLimited { retry_after: None });
        let c = without_secret(Class::Unexpected { status: 500, why: "sk-proj-****mnop".into() }, key);
        assert_eq!(c, Class::Unexpected { status: 500, why: "sk-proj-****mnop".into() });
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let t = Target { provider: "openai".into(), base: "http://example.com/v1".into() };
        let c = probe(&t, &SecretString::from("sk-x".to_string()), false, Duration::from_secs(1));
        assert!(matches!(&c, Class::Unexpected { why, .. } if why.contains("only https")), "{c:?}");
        assert_eq!(host_of("http://[::1]:8080/v1"), Some(("http".into(), "::1".into())));
        assert!(loopback("127.0.0.1") && loopback("::1") && !loopback("10.0.0.1"));
    }
}
