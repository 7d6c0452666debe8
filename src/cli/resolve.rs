//! `resolve`: the exec SecretRef provider OpenClaw runs. Only the response JSON goes to stdout. It asks the
//! running vault service first; without one (or for ids the service could not answer because its file store is
//! locked) it reads the store directly, with the passphrase only from `CLAWKEEP_PASSPHRASE_FILE` (stdin is the
//! request), else file-store ids answer `LOCKED`.

use std::io::{Read, Write};

use clawkeep::error::exit;
use clawkeep::ops::resolve::resolve_explained;
use clawkeep::paths::Paths;
use clawkeep::protocol::exec::{self, ErrorEntry, MAX_REQUEST, code, parse_request};
use clawkeep::protocol::wire;
use clawkeep::secret::SecretId;
use clawkeep::{Error, Result};

pub fn run(paths: &Paths) -> Result<i32> {
    // A request holds no secret, and a copy left behind by growing the buffer is zeroed as it is freed (the global
    // allocator zeroes every freed block): start small, as most requests are.
    let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(4096));
    std::io::stdin()
        .take(MAX_REQUEST as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io("<stdin>", "reading", e))?;
    let mut req = parse_request(&buf)?;
    let mut resp = exec::Response { protocol_version: exec::PROTOCOL_VERSION, ..Default::default() };
    // Ids outside OpenClaw's grammar never reach a store.
    req.ids.retain(|id| {
        let ok = SecretId::parse(id).is_ok();
        if !ok {
            resp.errors.insert(id.clone(), ErrorEntry { code: code::INVALID_ID });
        }
        ok
    });
    if !req.ids.is_empty() {
        via_service(paths, &mut req, &mut resp);
    }
    if !req.ids.is_empty() {
        // Never prompts, even on a terminal: the passphrase comes only from CLAWKEEP_PASSPHRASE_FILE.
        let vault = match clawkeep::vault::Vault::exists(paths) {
            true => Some(clawkeep::vault::Vault::open(paths, super::input::passphrase_fn_no_prompt())?),
            false => None,
        };
        let (mut direct, causes) = resolve_explained(vault.as_ref(), &req);
        let refused: Vec<_> = direct.errors.iter().map(|(id, e)| (id.clone(), e.code)).collect();
        let lines = super::audit::resolve_entries(paths, &direct.values, &refused);
        if let Err(e) = clawkeep::audit::record_cli(paths, &lines) {
            // Fail closed: nothing the log does not show is handed out.
            eprintln!("clawkeep: {e}");
            for id in std::mem::take(&mut direct.values).into_keys() {
                direct.errors.insert(id, ErrorEntry { code: code::UNAVAILABLE });
            }
        }
        resp.values.extend(direct.values);
        resp.errors.extend(direct.errors);
        // OpenClaw shows only the codes: the reasons go to stderr, which it logs.
        for why in causes {
            eprintln!("clawkeep: {why}");
        }
    }
    // Room for the worst case (every character of a value escaped as \u00XX), so serializing never reallocates.
    let room = 1024
        + resp.values.iter().map(|(k, v)| 2 * k.len() + 6 * v.len() + 8).sum::<usize>()
        + 64 * resp.errors.len()
        + resp.errors.keys().map(|k| 2 * k.len()).sum::<usize>();
    // On locked memory (zeroed when dropped), written with one write(2) past std's buffered stdout.
    let mut out = clawkeep::memory::SecretBuf::new(room + 1);
    serde_json::to_writer(&mut out, &resp).map_err(|e| Error::Internal(e.to_string()))?;
    drop(resp);
    out.write_all(b"\n")
        .and_then(|()| clawkeep::memory::write_stdout(out.as_slice()))
        .map_err(|e| Error::io("<stdout>", "writing", e))?;
    Ok(exit::OK)
}

/// Ask the service; ids it answered leave `req.ids`. Ids it reports `LOCKED` stay for the direct path when a
/// passphrase file is available. A failing service is reported on stderr and the direct path takes over.
fn via_service(paths: &Paths, req: &mut exec::Request, resp: &mut exec::Response) {
    let mut client = match super::service::connect(paths) {
        Ok(Some(c)) => c,
        Ok(None) => return,
        Err(e) => {
            eprintln!("clawkeep: {e}; reading the store directly");
            return;
        }
    };
    let mut get = wire::Request::new("get");
    get.ids = req.ids.clone();
    let answer = match client.call(&get) {
        Ok(a) if a.ok => a,
        Ok(a) => {
            eprintln!("clawkeep: {}; reading the store directly", super::service::failure(a));
            return;
        }
        Err(e) => {
            eprintln!("clawkeep: {e}; reading the store directly");
            return;
        }
    };
    let retry_locked = std::env::var_os(super::input::PASSPHRASE_FILE).is_some();
    let mut values = answer.values.unwrap_or_default();
    let errors = answer.errors.unwrap_or_default();
    req.ids.retain(|id| {
        if let Some(v) = values.remove(id) {
            resp.values.insert(id.clone(), v);
            return false;
        }
        let c = errors.get(id).map(|e| e.code.as_str()).unwrap_or(code::NOT_FOUND);
        if c == code::LOCKED && retry_locked {
            return true;
        }
        resp.errors.insert(id.clone(), ErrorEntry { code: exec_code(c) });
        false
    });
}

fn exec_code(c: &str) -> &'static str {
    match c {
        code::NOT_FOUND => code::NOT_FOUND,
        code::INVALID_ID => code::INVALID_ID,
        code::LOCKED => code::LOCKED,
        _ => code::UNAVAILABLE,
    }
}
