//! Secret values and secret ids.
//!
//! A secret is a [`SecretString`]: its `Debug` prints `[REDACTED]` and its memory is zeroized on drop.
//! A [`SecretId`] names a stored secret uniquely across agents (`<agent>/<profileId>`) and satisfies
//! OpenClaw's exec SecretRef id grammar, so it can be used verbatim in `keyRef`/`tokenRef`.

mod id;

pub use id::{MAX_STORED_ID, SecretId};
pub use secrecy::{ExposeSecret, SecretString};

/// Largest secret accepted (API keys and tokens are a few hundred bytes).
pub const MAX_SECRET_LEN: usize = 16 * 1024;

/// Strip all whitespace (pasted tokens often carry line breaks) and refuse empty or oversized input.
pub fn normalize(raw: &str) -> crate::Result<SecretString> {
    let mut cleaned = zeroize::Zeroizing::new(String::with_capacity(raw.len()));
    cleaned.extend(raw.chars().filter(|c| !c.is_whitespace()));
    if cleaned.is_empty() {
        return Err(crate::Error::InvalidInput("empty input: no secret was given".into()));
    }
    check_characters(&cleaned)?;
    if cleaned.len() > MAX_SECRET_LEN {
        return Err(crate::Error::InvalidInput(format!("secret longer than {MAX_SECRET_LEN} bytes")));
    }
    Ok(SecretString::from(cleaned.as_str().to_owned()))
}

/// Characters no API key or token contains, which a paste can bring along unseen: zero-width spaces and joiners,
/// bidi controls, the byte-order mark, soft hyphens.
fn invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Refuse control characters (NUL, ESC, …) and invisible Unicode in a secret. The message gives the position and
/// the kind of character, never the secret.
pub fn check_characters(s: &str) -> crate::Result<()> {
    for (i, c) in s.chars().enumerate() {
        let what = if c == '\0' {
            "a NUL byte"
        } else if c.is_control() {
            "a control character (such as ESC from a terminal escape sequence)"
        } else if invisible(c) {
            "an invisible character (zero-width space, bidi control or similar)"
        } else {
            continue;
        };
        return Err(crate::Error::InvalidInput(format!(
            "the secret contains {what} at character {} (U+{:04X}); copy the key again from its source",
            i + 1,
            c as u32
        )));
    }
    Ok(())
}

/// What a user may see of a stored secret to recognise it: its length and the first 8 hex digits of its SHA-256
/// (`52 characters, sha256 1a2b3c4d…`). Never the secret or any of its characters.
pub fn describe(secret: &SecretString) -> String {
    use sha2::Digest;
    let s = secret.expose_secret();
    let d = sha2::Sha256::digest(s.as_bytes());
    format!("{} characters, sha256 {:02x}{:02x}{:02x}{:02x}…", s.chars().count(), d[0], d[1], d[2], d[3])
}

/// Compare two secrets without early exit.
pub fn same(a: &SecretString, b: &SecretString) -> bool {
    let (a, b) = (a.expose_secret().as_bytes(), b.expose_secret().as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_invisible_characters_are_refused_and_not_quoted() {
        for bad in ["sk-abc\0def", "sk-abc\u{1b}[31mdef", "sk-abc\u{200B}def", "sk-\u{FEFF}abc", "sk-\u{202E}abc"] {
            let e = normalize(bad).unwrap_err().to_string();
            assert!(e.contains("U+"), "{e}");
            assert!(!e.contains("abc"), "the message quotes the secret: {e}");
        }
        // Whitespace (line breaks of a wrapped paste) is still stripped, not refused.
        assert_eq!(normalize("sk-abc\n def\t").unwrap().expose_secret(), "sk-abcdef");
    }
}
