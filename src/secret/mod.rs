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
    if cleaned.len() > MAX_SECRET_LEN {
        return Err(crate::Error::InvalidInput(format!("secret longer than {MAX_SECRET_LEN} bytes")));
    }
    Ok(SecretString::from(cleaned.as_str().to_owned()))
}

/// Compare two secrets without early exit.
pub fn same(a: &SecretString, b: &SecretString) -> bool {
    let (a, b) = (a.expose_secret().as_bytes(), b.expose_secret().as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
