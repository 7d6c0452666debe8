//! Looking up secrets by id, for OpenClaw's exec provider (`clawkeep resolve`) and the service's `get`.

use zeroize::Zeroizing;

use crate::error::{Error, KeychainProblem};
use crate::protocol::exec::{ErrorEntry, PROTOCOL_VERSION, Request, Response, code};
use crate::secret::{ExposeSecret, SecretId};
use crate::vault::Vault;

/// One id: `<agent>/<profileId>` (as in `keyRef.id`), or a bare profile id of agent `main`.
pub fn parse_id(raw: &str) -> Option<SecretId> {
    if raw.contains('/') {
        SecretId::parse(raw).ok()
    } else {
        SecretId::for_profile(crate::paths::DEFAULT_AGENT, raw).ok()
    }
}

/// The secret behind one id, or the error code to answer with (the same codes in both protocols).
pub fn lookup(vault: Option<&Vault>, id: &SecretId) -> Result<Zeroizing<String>, &'static str> {
    let v = vault.ok_or(code::NOT_FOUND)?;
    match v.get(id) {
        Ok(s) => Ok(Zeroizing::new(s.expose_secret().to_owned())),
        Err(e) => Err(code_for(&e)),
    }
}

/// The per-id code for a store error.
pub fn code_for(e: &Error) -> &'static str {
    match e {
        Error::SecretMissing(_) | Error::UnknownProfile { .. } | Error::NotFound(_) | Error::NotInitialized(_) => {
            code::NOT_FOUND
        }
        Error::WrongPassphrase | Error::NeedsTty(_) | Error::VaultLocked | Error::Keychain(KeychainProblem::Locked) => {
            code::LOCKED
        }
        _ => code::UNAVAILABLE,
    }
}

/// Answer every id of an exec request: a value, or an error code. Never fails as a whole.
pub fn resolve(vault: Option<&Vault>, req: &Request) -> Response {
    resolve_explained(vault, req).0
}

/// As [`resolve`], plus the causes behind the error codes (each once, in words, never a secret): OpenClaw shows
/// only the codes, so `clawkeep resolve` prints these on stderr. A secret that is simply not stored has no cause.
pub fn resolve_explained(vault: Option<&Vault>, req: &Request) -> (Response, Vec<String>) {
    let mut resp = Response { protocol_version: PROTOCOL_VERSION, ..Default::default() };
    let mut causes: Vec<String> = Vec::new();
    for raw in &req.ids {
        let found = match (SecretId::parse(raw), vault) {
            (Err(_), _) => Err(code::INVALID_ID),
            (Ok(_), None) => Err(code::NOT_FOUND),
            // A bare profile id means agent `main`, as in the service's `get` (one answer either way).
            (Ok(_), Some(v)) => match parse_id(raw) {
                None => Err(code::NOT_FOUND),
                Some(id) => v.get(&id).map(|s| Zeroizing::new(s.expose_secret().to_owned())).map_err(|e| {
                    if !matches!(e, Error::SecretMissing(_)) {
                        let mut why = e.to_string();
                        if let Some(h) = e.hint() {
                            why.push_str(&format!(" ({h})"));
                        }
                        if !causes.contains(&why) {
                            causes.push(why);
                        }
                    }
                    code_for(&e)
                }),
            },
        };
        match found {
            Ok(v) => {
                resp.values.insert(raw.clone(), v);
            }
            Err(c) => {
                resp.errors.insert(raw.clone(), ErrorEntry { code: c });
            }
        }
    }
    (resp, causes)
}
