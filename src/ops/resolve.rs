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
    let mut resp = Response { protocol_version: PROTOCOL_VERSION, ..Default::default() };
    for raw in &req.ids {
        let found = SecretId::parse(raw).map_err(|_| code::INVALID_ID).and_then(|id| lookup(vault, &id));
        match found {
            Ok(v) => {
                resp.values.insert(raw.clone(), v);
            }
            Err(c) => {
                resp.errors.insert(raw.clone(), ErrorEntry { code: c });
            }
        }
    }
    resp
}
