//! OpenClaw's exec SecretRef provider protocol, version 1.
//!
//! stdin: `{"protocolVersion":1,"provider":"clawkeep","ids":["main/anthropic:default"]}`
//! stdout: `{"protocolVersion":1,"values":{"<id>":"<secret>"},"errors":{"<id>":{"code":"NOT_FOUND"}}}`

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The only protocol version.
pub const PROTOCOL_VERSION: u64 = 1;
/// Largest request accepted.
pub const MAX_REQUEST: usize = 64 * 1024;
/// Most ids in one request.
pub const MAX_IDS: usize = 256;

/// Error codes clawkeep answers with (OpenClaw displays `NOT_FOUND`; others surface as provider errors).
pub mod code {
    /// No secret under that id.
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// The id does not satisfy OpenClaw's grammar.
    pub const INVALID_ID: &str = "INVALID_ID";
    /// The file store needs its passphrase and none was available.
    pub const LOCKED: &str = "LOCKED";
    /// The keychain could not be reached or the store failed.
    pub const UNAVAILABLE: &str = "UNAVAILABLE";
}

/// A request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// Must be 1.
    pub protocol_version: u64,
    /// The provider alias OpenClaw used.
    #[serde(default)]
    pub provider: Option<String>,
    /// Secret ids.
    pub ids: Vec<String>,
}

/// One error entry.
#[derive(Debug, Serialize)]
pub struct ErrorEntry {
    /// The code.
    pub code: &'static str,
}

/// A response. `values` holds secrets: it is written to stdout only, and dropped right after. No `Debug`, so it
/// cannot be logged by accident.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// Always 1.
    pub protocol_version: u64,
    /// id → secret.
    pub values: BTreeMap<String, zeroize::Zeroizing<String>>,
    /// id → error.
    pub errors: BTreeMap<String, ErrorEntry>,
}

/// Parse and check a request.
pub fn parse_request(bytes: &[u8]) -> Result<Request> {
    if bytes.len() > MAX_REQUEST {
        return Err(Error::InvalidInput(format!("exec request larger than {MAX_REQUEST} bytes")));
    }
    let req: Request = serde_json::from_slice(bytes).map_err(|e| {
        Error::InvalidInput(format!("malformed exec request at line {}, column {}", e.line(), e.column()))
    })?;
    if req.protocol_version != PROTOCOL_VERSION {
        return Err(Error::InvalidInput(format!(
            "unsupported exec protocolVersion {} (clawkeep speaks {PROTOCOL_VERSION})",
            req.protocol_version
        )));
    }
    if req.ids.len() > MAX_IDS {
        return Err(Error::InvalidInput(format!("more than {MAX_IDS} ids in one exec request")));
    }
    Ok(req)
}
