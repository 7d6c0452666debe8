//! Resolving exec SecretRef ids for OpenClaw, straight from the store (no vault service yet).

use crate::error::Error;
use crate::protocol::exec::{ErrorEntry, PROTOCOL_VERSION, Request, Response, code};
use crate::secret::{ExposeSecret, SecretId};
use crate::vault::Vault;

/// Answer every id of `req`: a value, or an error code. Never fails as a whole.
pub fn resolve(vault: Option<&Vault>, req: &Request) -> Response {
    let mut resp = Response { protocol_version: PROTOCOL_VERSION, ..Default::default() };
    for raw in &req.ids {
        let entry = |c| ErrorEntry { code: c };
        let Ok(id) = SecretId::parse(raw) else {
            resp.errors.insert(raw.clone(), entry(code::INVALID_ID));
            continue;
        };
        let Some(v) = vault else {
            resp.errors.insert(raw.clone(), entry(code::NOT_FOUND));
            continue;
        };
        match v.get(&id) {
            Ok(s) => {
                resp.values.insert(raw.clone(), zeroize::Zeroizing::new(s.expose_secret().to_owned()));
            }
            Err(Error::SecretMissing(_)) => {
                resp.errors.insert(raw.clone(), entry(code::NOT_FOUND));
            }
            Err(
                Error::WrongPassphrase | Error::NeedsTty(_) | Error::Keychain(crate::error::KeychainProblem::Locked),
            ) => {
                resp.errors.insert(raw.clone(), entry(code::LOCKED));
            }
            Err(_) => {
                resp.errors.insert(raw.clone(), entry(code::UNAVAILABLE));
            }
        }
    }
    resp
}
