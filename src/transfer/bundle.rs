//! The sealed bundle: profiles and their secrets, encrypted with age to one host's X25519 recipient and
//! ASCII-armored, so it can be pasted into a terminal or a chat window. Format in docs/formats.md.

use std::io::{Read, Write};
use std::str::FromStr;

use age::x25519;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Format version.
pub const VERSION: u32 = 1;
/// What the `clawkeep` field of a bundle says.
pub const KIND: &str = "clawkeep-bundle";
/// Largest armored bundle read (a few profiles are a few KiB).
pub const MAX_ARMORED: usize = 1024 * 1024;

/// One profile in a bundle.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleProfile {
    /// Profile id on the sending host.
    pub profile_id: String,
    /// Provider id.
    pub provider: String,
    /// `api_key` or `token`.
    #[serde(rename = "type")]
    pub cred_type: String,
    /// Expiry of the credential (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// Account e-mail, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The secret.
    pub secret: Zeroizing<String>,
}

/// The decrypted content.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// Always [`KIND`].
    pub clawkeep: String,
    /// [`VERSION`].
    pub version: u32,
    /// Random id (32 hex digits): a host imports each bundle once.
    pub id: String,
    /// When it was made (ms since the epoch).
    pub created: i64,
    /// After this (ms since the epoch) it is refused.
    pub expires: i64,
    /// The sender's recipient (informational: age does not authenticate senders).
    pub from: String,
    /// The recipient it was sealed to.
    pub to: String,
    /// The agent the profiles came from.
    pub agent: String,
    /// The profiles.
    pub profiles: Vec<BundleProfile>,
}

/// A random bundle id.
pub fn new_id() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Parse a recipient given on the command line (`--to`).
pub fn parse_recipient(s: &str) -> Result<x25519::Recipient> {
    x25519::Recipient::from_str(s.trim()).map_err(|_| {
        Error::InvalidInput(format!(
            "--to `{}` is not an age X25519 recipient (age1…); get it with `clawkeep recipient` on the other host",
            s.trim().chars().take(80).collect::<String>().escape_debug()
        ))
    })
}

/// Encrypt `bundle` to `to`, ASCII-armored.
pub fn seal(bundle: &Bundle, to: &x25519::Recipient) -> Result<String> {
    let age_err = |e: &dyn std::fmt::Display| Error::Internal(format!("age: {e}"));
    let json = Zeroizing::new(serde_json::to_vec(bundle).map_err(|e| Error::Internal(e.to_string()))?);
    let enc = age::Encryptor::with_recipients(std::iter::once(to as &dyn age::Recipient)).map_err(|e| age_err(&e))?;
    let mut out = Vec::with_capacity(json.len() * 2 + 512);
    let armor =
        age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).map_err(|e| age_err(&e))?;
    let mut w = enc.wrap_output(armor).map_err(|e| age_err(&e))?;
    w.write_all(&json).map_err(|e| age_err(&e))?;
    w.finish().and_then(|a| a.finish()).map_err(|e| age_err(&e))?;
    String::from_utf8(out).map_err(|e| Error::Internal(e.to_string()))
}

/// Decrypt and parse an armored bundle with this host's identity. A bundle sealed to another host, changed by even
/// one byte, or not a bundle at all is refused without saying more than that (never quoting its content).
pub fn open(armored: &[u8], identity: &dyn age::Identity, source: &str) -> Result<Bundle> {
    let refused = |why: &str| Error::InvalidInput(format!("{source}: {why}"));
    if armored.len() > MAX_ARMORED {
        return Err(refused("too large to be a clawkeep bundle"));
    }
    let reader = age::armor::ArmoredReader::new(armored);
    let dec = age::Decryptor::new(reader).map_err(|_| refused("not an age bundle, or damaged (changed or cut off)"))?;
    let mut r = match dec.decrypt(std::iter::once(identity)) {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => {
            return Err(refused("sealed to another host (this host's identity cannot open it), or damaged"));
        }
        Err(_) => return Err(refused("damaged (changed or cut off): it does not decrypt")),
    };
    let mut json = Zeroizing::new(Vec::with_capacity(armored.len()));
    r.read_to_end(&mut json).map_err(|_| refused("damaged (changed or cut off): its content does not authenticate"))?;
    let bundle: Bundle = serde_json::from_slice(&json).map_err(|_| refused("not a clawkeep bundle"))?;
    if bundle.clawkeep != KIND {
        return Err(refused("not a clawkeep bundle"));
    }
    if bundle.version != VERSION {
        return Err(Error::UnknownVersion {
            path: source.into(),
            field: "version",
            found: bundle.version.to_string(),
            expected: "1",
        });
    }
    Ok(bundle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(to: &x25519::Recipient) -> Bundle {
        Bundle {
            clawkeep: KIND.into(),
            version: VERSION,
            id: new_id().unwrap(),
            created: 1,
            expires: 2,
            from: "age1from".into(),
            to: to.to_string(),
            agent: "main".into(),
            profiles: vec![BundleProfile {
                profile_id: "openai:default".into(),
                provider: "openai".into(),
                cred_type: "api_key".into(),
                expires: None,
                email: None,
                secret: Zeroizing::new("sk-BUNDLE-CANARY".into()),
            }],
        }
    }

    #[test]
    fn sealed_bundles_open_only_for_their_host_and_only_unchanged() {
        let b = x25519::Identity::generate();
        let c = x25519::Identity::generate();
        let text = seal(&sample(&b.to_public()), &b.to_public()).unwrap();
        assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        assert!(!text.contains("sk-BUNDLE-CANARY"));
        let opened = open(text.as_bytes(), &b, "bundle").unwrap();
        assert_eq!(opened.profiles[0].secret.as_str(), "sk-BUNDLE-CANARY");
        let Err(e) = open(text.as_bytes(), &c, "bundle") else { panic!("another host opened the bundle") };
        assert!(e.to_string().contains("another host"), "{e}");
        // Every single-character change of the armored body is refused.
        let body_start = text.find('\n').unwrap() + 1;
        let body_end = text.rfind("-----END").unwrap() - 1;
        for i in body_start..body_end {
            let mut t = text.clone().into_bytes();
            if t[i] == b'\n' {
                continue;
            }
            t[i] = if t[i] == b'A' { b'B' } else { b'A' };
            assert!(open(&t, &b, "bundle").is_err(), "a change at byte {i} was accepted");
        }
    }
}
