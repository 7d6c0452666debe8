//! `resolve`: the exec SecretRef provider OpenClaw runs. Only the response JSON goes to stdout; the passphrase
//! comes only from `CLAWKEEP_PASSPHRASE_FILE` (stdin is the request), else file-store ids answer `LOCKED`.

use std::io::{Read, Write};

use clawkeep::error::exit;
use clawkeep::ops::resolve::resolve;
use clawkeep::paths::Paths;
use clawkeep::protocol::exec::{MAX_REQUEST, parse_request};
use clawkeep::vault::Vault;
use clawkeep::{Error, Result};

pub fn run(paths: &Paths) -> Result<i32> {
    let mut buf = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin()
        .take(MAX_REQUEST as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io("<stdin>", "reading", e))?;
    let req = parse_request(&buf)?;
    let vault = if Vault::exists(paths) { Some(super::open_vault(paths)?) } else { None };
    let resp = resolve(vault.as_ref(), &req);
    let out = zeroize::Zeroizing::new(serde_json::to_vec(&resp).map_err(|e| Error::Internal(e.to_string()))?);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&out)
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::io("<stdout>", "writing", e))?;
    Ok(exit::OK)
}
