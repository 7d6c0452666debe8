//! Everything of OpenClaw's, in one place, beside [`crate::vault`] that owns clawkeep's own files:
//!
//! - its JSON files: `auth-profiles.json` and `auth-state.json` (round-tripping every field clawkeep does not own),
//!   `openclaw.json` (JSON5), and the legacy plaintext forms `migrate` reads (`auth.json`, flat maps, `.env`);
//! - [`sqlite`]: its SQLite auth stores (2026.7+ per agent, 2026.9+ shared), read-only;
//! - [`surface`]: every credential location on the SecretRef surface across all of those;
//! - [`wire`]: the exec provider entry clawkeep registers in `openclaw.json`.

pub mod apply;
pub mod auth_profiles;
pub mod auth_state;
pub mod dotenv;
pub mod lite;
pub mod openclaw_config;
pub mod sqlite;
pub mod surface;
pub mod wire;

pub use auth_profiles::{AuthProfiles, CredType, SecretRef};
pub use auth_state::AuthState;
pub use openclaw_config::OpenClawConfig;

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Take OpenClaw's locks on an agent's credential files (sorted by path, as `openclaw doctor --fix` does), so an
/// import cannot run between clawkeep's read and write. Nothing to lock when the agent dir does not exist yet.
pub fn lock_openclaw_files(paths: &crate::paths::Paths, agent: &str) -> Result<Vec<crate::fs::OpenClawLock>> {
    if !paths.agent_dir(agent).is_dir() {
        return Ok(Vec::new());
    }
    let mut targets = [paths.auth_profiles(agent), paths.auth_state(agent), paths.legacy_auth(agent)];
    targets.sort();
    targets.iter().map(|t| crate::fs::OpenClawLock::acquire(t)).collect()
}

/// A JSON object as read from a file.
pub type Object = Map<String, Value>;

/// Deepest nesting of objects and arrays accepted in OpenClaw's files (JSON and JSON5).
pub const MAX_NESTING: usize = 128;

/// Refuse a document nested deeper than [`MAX_NESTING`] before a parser recurses into it (a recursive-descent parser
/// overflows the stack on `{a:{a:…` a few thousand levels deep). A cheap scan: `{` and `[` are counted outside
/// strings (`"…"`, and JSON5's `'…'`) and comments (`//`, `/* */`).
pub fn check_nesting(path: &Path, bytes: &[u8]) -> Result<()> {
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            // A line comment ends where JSON5 ends it: at \n, \r, U+2028 or U+2029 (E2 80 A8/A9). Ending it later
            // would hide brackets from this count that the parser then recurses into.
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len()
                    && bytes[i] != b'\n'
                    && bytes[i] != b'\r'
                    && !(bytes[i] == 0xE2
                        && bytes.get(i + 1) == Some(&0x80)
                        && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9)))
                {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 1;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Error::InvalidField {
                        path: path.into(),
                        field: "(file)".into(),
                        message: format!(
                            "objects and arrays nested more than {MAX_NESTING} levels deep; not read (no OpenClaw file \
                             needs that many: check the file)"
                        ),
                    });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Read a JSON object file with a clear error naming the file, line and column. Missing → `None`.
pub(crate) fn read_object(path: &Path) -> Result<Option<(Object, Vec<u8>)>> {
    let Some(bytes) = read_json_bytes(path)? else { return Ok(None) };
    let m = parse_object(path, &bytes)?;
    Ok(Some((m, bytes.to_vec())))
}

/// The bytes of a JSON file OpenClaw keeps (a regular file, bounded, nesting checked). Missing → `None`.
pub(crate) fn read_json_bytes(path: &Path) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
    crate::fs::check_file(path, true)?;
    let Some(bytes) = crate::fs::read_optional(path)? else { return Ok(None) };
    check_nesting(path, &bytes)?;
    Ok(Some(bytes))
}

/// Parse bytes read from `path` as a JSON object, with a clear error naming the file, line and column.
pub(crate) fn parse_object(path: &Path, bytes: &[u8]) -> Result<Object> {
    match serde_json::from_slice(bytes).map_err(|e| Error::json(path, &e))? {
        Value::Object(m) => Ok(m),
        _ => Err(Error::InvalidField {
            path: path.into(),
            field: "(top level)".into(),
            message: "expected a JSON object".into(),
        }),
    }
}

/// Check `version` is 1 (absent is accepted only when `allow_missing`).
pub(crate) fn check_version(path: &Path, doc: &Map<String, Value>, allow_missing: bool) -> Result<()> {
    match doc.get("version") {
        None if allow_missing => Ok(()),
        found => Error::check_version_1(path, found),
    }
}

/// Serialize with OpenClaw's layout (2-space indent, trailing newline) and write atomically.
pub(crate) fn write_object(path: &Path, doc: &Map<String, Value>) -> Result<()> {
    if let Some(dir) = path.parent() {
        crate::fs::ensure_private_dir(dir)?;
    }
    crate::fs::write_json(path, doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep(prefix: &str, n: usize) -> Vec<u8> {
        let mut s = String::from(prefix);
        s.push_str(&"a:{".repeat(n));
        s.push_str(&"}".repeat(n + 1));
        s.into_bytes()
    }

    #[test]
    fn nesting_hidden_behind_any_json5_line_terminator_is_counted() {
        let p = Path::new("openclaw.json");
        for end in ["\n", "\r", "\u{2028}", "\u{2029}"] {
            let doc = deep(&format!("{{ //x{end}"), 3000);
            assert!(check_nesting(p, &doc).is_err(), "a comment ended by {end:?} hid the nesting");
            // And the parser agrees the comment ends there (so what is counted is what is parsed).
            let shallow = format!("{{ //x{end} a: 1 }}");
            assert!(json5::from_str::<serde_json::Value>(&shallow).is_ok(), "{end:?}");
        }
        assert!(check_nesting(p, &deep("{ ", 100)).is_ok());
        // Brackets inside strings and block comments do not count.
        assert!(
            check_nesting(
                p,
                format!("{{ a: '{}', /* {} */ b: \"{}\" }}", "{".repeat(500), "[".repeat(500), "\\\"[".repeat(500))
                    .as_bytes()
            )
            .is_ok()
        );
    }
}
