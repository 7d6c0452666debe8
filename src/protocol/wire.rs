//! The vault service's wire protocol, version 1, shared by the service and every client (see `docs/protocol.md`).
//!
//! One request per line, one response per line, both JSON objects (newline-delimited JSON over a Unix socket).
//! Every frame carries `"v":1`. Frames are at most [`MAX_FRAME`] bytes including the newline. Secrets travel only
//! in `values`, `secret` (responses) and `secret`, `passphrase` (requests); the types holding them zeroize on drop
//! and have no `Debug`.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::memory::SecretBuf;

/// The protocol version this build speaks.
pub const VERSION: u64 = 1;
/// Largest frame (request or response), newline included.
pub const MAX_FRAME: usize = 64 * 1024;
/// Most ids in one `get`.
pub const MAX_IDS: usize = 256;

/// Error codes of failed requests (`error.code`) and of single ids (`errors.<id>.code`).
pub mod code {
    /// Not JSON, or a field of the wrong type.
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    /// The frame exceeded `MAX_FRAME`.
    pub const TOO_LARGE: &str = "TOO_LARGE";
    /// `v` is missing or not 1.
    pub const UNSUPPORTED_VERSION: &str = "UNSUPPORTED_VERSION";
    /// `op` is not one of the operations.
    pub const UNKNOWN_OP: &str = "UNKNOWN_OP";
    /// The file store is locked (`clawkeep unlock`).
    pub const LOCKED: &str = "LOCKED";
    /// `unlock` with the wrong passphrase.
    pub const WRONG_PASSPHRASE: &str = "WRONG_PASSPHRASE";
    /// No such secret or profile.
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// An id that does not satisfy the exec id grammar.
    pub const INVALID_ID: &str = "INVALID_ID";
    /// The keychain or a file could not be used.
    pub const UNAVAILABLE: &str = "UNAVAILABLE";
    /// `select` found no usable profile.
    pub const NO_PROFILE: &str = "NO_PROFILE";
    /// Too many clients at once; try again.
    pub const BUSY: &str = "BUSY";
    /// The request was understood but its content is invalid (bad reason, bad secret format…).
    pub const INVALID: &str = "INVALID";
    /// The access log could not be written, so nothing was handed out.
    pub const AUDIT: &str = "AUDIT";
    /// A bug.
    pub const INTERNAL: &str = "INTERNAL";
}

/// A secret in a request (`store`'s `secret`, `unlock`'s `passphrase`).
pub struct WireSecret(pub SecretString);

impl Serialize for WireSecret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.expose_secret())
    }
}

impl<'de> Deserialize<'de> for WireSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Zeroizing::<String>::deserialize(d)?;
        Ok(WireSecret(SecretString::from(s.as_str().to_owned())))
    }
}

/// A request. Fields an operation does not use are ignored.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// Protocol version (1).
    pub v: u64,
    /// `get`, `select`, `report`, `store`, `status`, `lock`, `unlock`.
    pub op: String,
    /// `get`: secret ids (`<agent>/<profileId>`, as in `keyRef.id`) or bare profile ids (agent `main`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// `select`: the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Agent id (default `main`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// `select`: the chat session, whose `/model …@profile` pin is honoured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// `select`: a pinned profile; `report`/`store`: the profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// `select`: only profiles of this type (`api_key`, `token`, `oauth`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub cred_type: Option<String>,
    /// `report`: the failure reason (OpenClaw's list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `store`: the new secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<WireSecret>,
    /// `unlock`: the file store's passphrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<WireSecret>,
    /// `unlock`: how long to stay unlocked (ms); the service's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
}

impl Request {
    /// A request for `op` with everything else empty.
    pub fn new(op: &str) -> Request {
        Request { v: VERSION, op: op.into(), ..Default::default() }
    }
}

/// An error, for a whole request or for one id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WireError {
    /// One of [`code`].
    pub code: String,
    /// For people; never holds secret material.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl WireError {
    /// An error with a message.
    pub fn new(code: &str, message: impl Into<String>) -> WireError {
        WireError { code: code.into(), message: Some(message.into()) }
    }
}

/// A profile as `select` ranked it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// Profile id.
    pub profile: String,
    /// `api_key`, `token`, `oauth`.
    #[serde(rename = "type")]
    pub cred_type: String,
    /// Not in cooldown or disabled.
    pub usable: bool,
    /// Set when pinned by the session or the request.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
    /// When it may be used again (ms), if in cooldown or disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    /// Why it is in cooldown or disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Last hand-out (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<i64>,
}

/// A profile's failure state after `report`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Failures counted in the current 24 h window.
    pub error_count: u64,
    /// Cooldown end (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_until: Option<i64>,
    /// Disabled until (ms), for billing failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_until: Option<i64>,
}

/// The service's state (`status`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// clawkeep version.
    pub version: String,
    /// Process id.
    pub pid: u32,
    /// The vault's backend (`file`, `keychain`, `keyutils`), or `none` without a vault.
    pub backend: String,
    /// Whether the file store's identity is held (always true for keychain backends).
    pub unlocked: bool,
    /// When the unlock ends (ms), at the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlocked_until: Option<i64>,
    /// When the unlock ends if nothing uses it (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_until: Option<i64>,
    /// Bytes of secret memory locked into RAM.
    pub locked_memory: u64,
    /// The service's `RLIMIT_MEMLOCK` (soft) in bytes; absent when unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_memory_limit: Option<u64>,
    /// Secrets handed out since start.
    pub handed_out: u64,
}

/// A response. Only the fields of the operation are present.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// Protocol version (1).
    pub v: u64,
    /// Whether the request succeeded (for `get`: the request; each id may still have an error).
    pub ok: bool,
    /// Why the request failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WireError>,
    /// `get`: id → secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<BTreeMap<String, Zeroizing<String>>>,
    /// `get`: id → error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, WireError>>,
    /// `select`: the profile chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// `select`: its secret id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `select`: its type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub cred_type: Option<String>,
    /// `select`: its secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Zeroizing<String>>,
    /// `select`: every candidate in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<Candidate>>,
    /// `report`: the profile's new state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// `status`, `lock`, `unlock`: the service's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ServiceStatus>,
}

impl Response {
    /// A success with nothing else set.
    pub fn ok() -> Response {
        Response { v: VERSION, ok: true, ..Default::default() }
    }

    /// A failure.
    pub fn fail(code: &str, message: impl Into<String>) -> Response {
        Response { v: VERSION, ok: false, error: Some(WireError::new(code, message)), ..Default::default() }
    }
}

/// Parse one request frame (without its newline). Errors come back as the response to send.
pub fn parse_request(frame: &[u8]) -> Result<Request, Box<Response>> {
    #[derive(Deserialize)]
    struct Probe {
        v: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_slice(frame).map_err(|e| {
        Box::new(Response::fail(
            code::BAD_REQUEST,
            format!("malformed frame at line {}, column {}", e.line(), e.column()),
        ))
    })?;
    match probe.v.as_ref().and_then(serde_json::Value::as_u64) {
        Some(VERSION) => {}
        Some(other) => {
            return Err(Box::new(Response::fail(
                code::UNSUPPORTED_VERSION,
                format!("protocol version {other} is not supported (this service speaks {VERSION})"),
            )));
        }
        None => {
            return Err(Box::new(Response::fail(
                code::UNSUPPORTED_VERSION,
                "missing or non-numeric protocol version `v` (this service speaks 1)",
            )));
        }
    }
    let req: Request = serde_json::from_slice(frame).map_err(|e| {
        let msg = e.to_string();
        let msg = msg.rsplit_once(" at line ").map(|(m, _)| m.to_string()).unwrap_or(msg);
        Box::new(Response::fail(code::BAD_REQUEST, format!("invalid request: {}", without_quoted(&msg))))
    })?;
    if req.ids.len() > MAX_IDS {
        return Err(Box::new(Response::fail(code::BAD_REQUEST, format!("more than {MAX_IDS} ids in one request"))));
    }
    Ok(req)
}

/// Request field names, which serde's messages may quote in backticks (``missing field `op` ``).
const FIELDS: &[&str] =
    &["v", "op", "ids", "provider", "agent", "session", "profile", "type", "reason", "secret", "passphrase", "ttlMs"];

/// serde quotes offending values in its messages: strings in double quotes (`invalid type: string "…"`), numbers in
/// backticks (``invalid type: integer `31415926535` ``). A secret sent in the wrong field must not come back in an
/// error or a log, so quoted parts are elided, except backticked field names.
fn without_quoted(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let (mut quoted, mut escaped) = (false, false);
    let mut rest = msg;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        if quoted && escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            if !quoted {
                out.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted && c == '`' {
            let (inner, after) = rest.split_once('`').unwrap_or((rest, ""));
            if FIELDS.contains(&inner) {
                out.push_str(&format!("`{inner}`"));
            } else {
                out.push_str("`…`");
            }
            rest = after;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

/// Serialize a frame (JSON + newline) into a locked buffer that never reallocates.
pub fn encode<T: Serialize>(frame: &T, buf: &mut SecretBuf) -> std::io::Result<()> {
    use std::io::Write;
    buf.clear();
    serde_json::to_writer(&mut *buf, frame).map_err(std::io::Error::other)?;
    buf.write_all(b"\n")
}

/// Find the end of the first frame in `buf`: the index of its newline.
pub fn frame_end(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_checked_before_fields() {
        let e = parse_request(br#"{"v":2,"op":7}"#).err().unwrap();
        assert_eq!(e.error.unwrap().code, code::UNSUPPORTED_VERSION);
        let e = parse_request(br#"{"op":"get"}"#).err().unwrap();
        assert_eq!(e.error.unwrap().code, code::UNSUPPORTED_VERSION);
        let e = parse_request(br#"{"v":1,"op":7}"#).err().unwrap().error.unwrap();
        assert_eq!(e.code, code::BAD_REQUEST);
        let e = parse_request(br#"{"v":1}"#).err().unwrap().error.unwrap();
        assert!(e.message.unwrap().contains("missing field `op`"), "field names are kept");
        let e = parse_request(b"{not json").err().unwrap();
        assert_eq!(e.error.unwrap().code, code::BAD_REQUEST);
    }

    #[test]
    fn secrets_round_trip_and_are_not_in_errors() {
        let mut r = Request::new("unlock");
        r.passphrase = Some(WireSecret(SecretString::from("hunter2-canary".to_string())));
        let mut buf = SecretBuf::new(MAX_FRAME);
        encode(&r, &mut buf).unwrap();
        let line = &buf.as_slice()[..frame_end(buf.as_slice()).unwrap()];
        let back = parse_request(line).ok().unwrap();
        assert_eq!(back.passphrase.unwrap().0.expose_secret(), "hunter2-canary");
        for bad in [
            &br#"{"v":1,"op":"store","secret":["hunter2-canary"]}"#[..],
            br#"{"v":1,"op":"get","ids":"hunter2-canary"}"#,
            br#"{"v":1,"op":"unlock","ttlMs":"x\"hunter2-canary"}"#,
            br#"{"v":1,"op":"unlock","passphrase":31415926535}"#,
            br#"{"v":1,"op":"store","secret":-31415926535.5}"#,
            br#"{"v":1,"op":"store","secret":31415926535e3}"#,
        ] {
            let e = parse_request(bad).err().unwrap().error.unwrap();
            assert_eq!(e.code, code::BAD_REQUEST);
            let m = e.message.unwrap();
            assert!(!m.contains("hunter2") && !m.contains("31415926535") && !m.contains("3141592653"), "{m}");
        }
    }
}
