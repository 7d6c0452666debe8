//! Secret ids: `<agent>/<profileId>` escaped into OpenClaw's exec id grammar
//! `^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,255}$` (no `.` or `..` segments).

use std::fmt;

use crate::error::{Error, Result};

/// A validated secret id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretId(String);

fn allowed(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'/' | b'-')
}

/// Longest secret id clawkeep stores: its hex file name plus `.age` must fit in 255 bytes.
pub const MAX_STORED_ID: usize = 125;

impl SecretId {
    /// The id for an agent's profile. Characters outside the grammar (and `#`) are escaped as `#xx`.
    pub fn for_profile(agent: &str, profile_id: &str) -> Result<SecretId> {
        crate::paths::check_agent_id(agent)?;
        check_profile_id(profile_id)?;
        let mut s = String::with_capacity(agent.len() + profile_id.len() + 1);
        s.push_str(agent);
        s.push('/');
        for &b in profile_id.as_bytes() {
            if allowed(b) && b != b'/' {
                s.push(b as char);
            } else {
                s.push_str(&format!("#{b:02x}"));
            }
        }
        // The file store names files by the id in hex (plus `.age`), within the 255-byte file-name limit.
        if s.len() > MAX_STORED_ID {
            return Err(Error::InvalidInput(format!(
                "profile id too long: its secret id would be {} bytes (at most {MAX_STORED_ID}, after #xx escapes)",
                s.len()
            )));
        }
        SecretId::parse(&s)
    }

    /// Parse and validate an id as OpenClaw would.
    pub fn parse(s: &str) -> Result<SecretId> {
        if valid_exec_id(s) {
            Ok(SecretId(s.to_string()))
        } else {
            Err(Error::InvalidInput(format!(
                "invalid secret id `{}`: it must match ^[A-Za-z0-9][A-Za-z0-9._:/#-]{{0,255}}$ without `.`/`..` segments",
                s.escape_debug()
            )))
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Inverse of [`for_profile`](Self::for_profile): the agent and the profile id, `#xx` escapes undone.
    pub fn profile_parts(&self) -> Option<(String, String)> {
        let (agent, escaped) = self.0.split_once('/')?;
        let b = escaped.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'#'
                && let Some(v) = escaped.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        Some((agent.to_string(), String::from_utf8(out).ok()?))
    }

    /// A file name for the id (hex, so any id maps to a safe, unique name).
    pub fn file_stem(&self) -> String {
        self.0.bytes().map(|b| format!("{b:02x}")).collect()
    }

    /// Inverse of [`file_stem`](Self::file_stem).
    pub fn from_file_stem(stem: &str) -> Option<SecretId> {
        if !stem.len().is_multiple_of(2) {
            return None;
        }
        let bytes: Option<Vec<u8>> =
            (0..stem.len()).step_by(2).map(|i| u8::from_str_radix(stem.get(i..i + 2)?, 16).ok()).collect();
        SecretId::parse(&String::from_utf8(bytes?).ok()?).ok()
    }
}

impl fmt::Display for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// OpenClaw's exec SecretRef id grammar.
pub fn valid_exec_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 256
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|&c| allowed(c) || c == b'#')
        && s.split('/').all(|seg| seg != "." && seg != "..")
}

/// Profile ids are `provider:name`, printable, no control characters, at most 200 bytes.
pub fn check_profile_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && id.split_once(':').is_some_and(|(p, n)| !p.is_empty() && !n.is_empty())
        && !id.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "invalid profile id `{}`: expected `<provider>:<name>` without spaces",
            id.escape_debug()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_ids_map_into_the_grammar() {
        let id = SecretId::for_profile("main", "anthropic:default").unwrap();
        assert_eq!(id.as_str(), "main/anthropic:default");
        let id = SecretId::for_profile("work", "anthropic:me@x.com").unwrap();
        assert_eq!(id.as_str(), "work/anthropic:me#40x.com");
        assert!(valid_exec_id(id.as_str()));
        let id = SecretId::for_profile("main", "a:b/../c").unwrap();
        assert!(valid_exec_id(id.as_str()), "{id}");
        assert_ne!(
            SecretId::for_profile("main", "a:b#40").unwrap(),
            SecretId::for_profile("main", "a:b@").unwrap(),
            "escaping must stay unique"
        );
    }

    #[test]
    fn grammar_rejects_what_openclaw_rejects() {
        for bad in ["", "/x", ".a", "a/../b", "a/./b", "a b", "a\"b", &"a".repeat(257)] {
            assert!(!valid_exec_id(bad), "{bad:?} accepted");
        }
        for good in ["a", "main/anthropic:default", "A-1_.:#/x", &"a".repeat(256)] {
            assert!(valid_exec_id(good), "{good:?} rejected");
        }
    }

    #[test]
    fn profile_parts_invert_for_profile() {
        for (agent, pid) in [("main", "anthropic:default"), ("work", "openai:me@x.com"), ("a", "p:x#40/y")] {
            let id = SecretId::for_profile(agent, pid).unwrap();
            assert_eq!(id.profile_parts(), Some((agent.to_string(), pid.to_string())), "{id}");
        }
    }

    #[test]
    fn file_stems_round_trip() {
        let id = SecretId::for_profile("main", "openai:me@x.com").unwrap();
        assert_eq!(SecretId::from_file_stem(&id.file_stem()), Some(id));
        assert_eq!(SecretId::from_file_stem("zz"), None);
    }

    #[test]
    fn bad_agent_and_profile_ids_are_refused() {
        assert!(SecretId::for_profile("Main", "a:b").is_err());
        assert!(SecretId::for_profile("main", "nocolon").is_err());
        assert!(SecretId::for_profile("main", "a:b c").is_err());
    }
}
