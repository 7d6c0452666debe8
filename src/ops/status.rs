//! `models status`: per profile, where its secret is and whether it is usable. Never needs the passphrase and
//! never calls the keychain: presence comes from the index (and, for the file store, the file's existence).

use serde::Serialize;

use crate::error::{Result, exit};
use crate::paths::Paths;
use crate::secret::SecretId;
use crate::vault::Vault;

/// Tokens expiring within this window are `expiring` (OpenClaw's 24 h).
pub const EXPIRING_WITHIN_MS: i64 = 24 * 60 * 60 * 1000;

/// A profile's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Usable, expiry known and more than 24 h away.
    Ok,
    /// Expires within 24 h.
    Expiring,
    /// Past its expiry.
    Expired,
    /// No secret behind it.
    Missing,
    /// No expiry (api keys, tokens without `expires`).
    Static,
}

impl Health {
    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Expiring => "expiring",
            Health::Expired => "expired",
            Health::Missing => "missing",
            Health::Static => "static",
        }
    }
}

/// One row.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileStatus {
    /// Agent.
    pub agent: String,
    /// Provider.
    pub provider: String,
    /// Profile id.
    pub profile_id: String,
    /// Type.
    #[serde(rename = "type")]
    pub cred_type: String,
    /// Where the secret is.
    pub store: String,
    /// Health.
    pub status: Health,
    /// Expiry (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// ms until expiry (negative when past).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_ms: Option<i64>,
}

/// Health for an expiry.
pub fn health_of(expires: Option<i64>, now: i64) -> Health {
    match expires {
        None => Health::Static,
        Some(e) if e <= now => Health::Expired,
        Some(e) if e - now <= EXPIRING_WITHIN_MS => Health::Expiring,
        Some(_) => Health::Ok,
    }
}

/// A duration for people: `3d 4h`, `5h 12m`, `12m`, `40s` (of its absolute value).
pub fn human_duration(ms: i64) -> String {
    let m = ms.unsigned_abs() / 60_000;
    let (d, h, mi) = (m / 1440, (m % 1440) / 60, m % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {mi}m")
    } else if mi > 0 {
        format!("{mi}m")
    } else {
        format!("{}s", ms.unsigned_abs() / 1000)
    }
}

/// Status of every profile of `agent`.
pub fn status(vault: Option<&Vault>, paths: &Paths, agent: &str, now: i64) -> Result<Vec<ProfileStatus>> {
    let listed = super::profile::list(vault, paths, agent, None)?;
    let has = vault.map(Vault::has_many);
    Ok(listed
        .into_iter()
        .map(|p| {
            let present = match (&p.secret_id, p.store.as_str()) {
                (Some(sid), _) => has.as_ref().is_some_and(|has| SecretId::parse(sid).is_ok_and(|id| has(&id))),
                (None, "none") => false,
                (None, _) => true,
            };
            let oauth = p.cred_type == "oauth";
            let status = if !present {
                Health::Missing
            } else if p.cred_type == "api_key" {
                Health::Static
            } else if oauth && p.expires.is_none() {
                Health::Missing
            } else {
                health_of(p.expires, now)
            };
            ProfileStatus {
                agent: p.agent,
                provider: p.provider,
                profile_id: p.profile_id,
                cred_type: p.cred_type,
                store: p.store,
                status,
                expires_at: p.expires,
                expires_in_ms: p.expires.map(|e| e - now),
            }
        })
        .collect())
}

/// `--check`'s exit code: 1 if anything is expired or missing, else 2 if anything expires within 24 h, else 0.
pub fn check_code(rows: &[ProfileStatus]) -> i32 {
    if rows.iter().any(|r| matches!(r.status, Health::Expired | Health::Missing)) {
        exit::CHECK_FAILED
    } else if rows.iter().any(|r| r.status == Health::Expiring) {
        exit::CHECK_EXPIRING
    } else {
        exit::OK
    }
}

/// Parse a duration as OpenClaw does: `^(\d+(\.\d+)?)(ms|s|m|h|d)?$` pieces, composable (`1h30m`), a bare
/// number meaning days. Returns milliseconds.
pub fn parse_duration_ms(raw: &str) -> Result<i64> {
    let bad = || {
        crate::Error::InvalidInput(format!(
            "invalid duration `{}`: use e.g. 12h, 365d, 90m or a number of days",
            raw.escape_debug()
        ))
    };
    let s = raw.trim().to_ascii_lowercase();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = s.as_str();
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3600e3,
            "d" | "" => 86400e3,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += n * factor;
    }
    if !(1.0..1e15).contains(&total) {
        return Err(bad());
    }
    Ok(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_openclaw() {
        assert_eq!(parse_duration_ms("12h").unwrap(), 12 * 3_600_000);
        assert_eq!(parse_duration_ms("365d").unwrap(), 365 * 86_400_000);
        assert_eq!(parse_duration_ms("30").unwrap(), 30 * 86_400_000);
        assert_eq!(parse_duration_ms("1h30m").unwrap(), 90 * 60_000);
        for bad in ["", "abc", "12x", "-1d", "0", "h"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn health_windows() {
        let now = 1_000_000_000_000;
        assert_eq!(health_of(None, now), Health::Static);
        assert_eq!(health_of(Some(now - 1), now), Health::Expired);
        assert_eq!(health_of(Some(now + EXPIRING_WITHIN_MS), now), Health::Expiring);
        assert_eq!(health_of(Some(now + EXPIRING_WITHIN_MS + 1), now), Health::Ok);
    }

    #[test]
    fn check_codes() {
        let row = |status| ProfileStatus {
            agent: "main".into(),
            provider: "p".into(),
            profile_id: "p:x".into(),
            cred_type: "token".into(),
            store: "s".into(),
            status,
            expires_at: None,
            expires_in_ms: None,
        };
        assert_eq!(check_code(&[row(Health::Ok), row(Health::Static)]), 0);
        assert_eq!(check_code(&[row(Health::Ok), row(Health::Expiring)]), 2);
        assert_eq!(check_code(&[row(Health::Expiring), row(Health::Missing)]), 1);
        assert_eq!(check_code(&[row(Health::Expired)]), 1);
    }
}
