//! Entry points for the fuzz targets in `fuzz/` (`cargo +nightly fuzz run <target>`; see docs/fuzzing.md). Each
//! takes arbitrary bytes, runs one parser the way clawkeep runs it on untrusted input (a file, a request, a bundle),
//! and then exercises what callers do with its result. None touches the file system. Not an API: hidden from the
//! docs and may change at any time.

use std::path::Path;

use serde_json::Value;

use crate::profiles::auth_profiles::{
    is_flat_legacy, plaintext_fields, profile_expires, profile_provider, profile_ref, profile_type,
};
use crate::profiles::{AuthProfiles, AuthState, CredType};

const FILE: &str = "/fuzz/input";

/// A JSON object file as `read_object` reads it (nesting bounded first), without the file.
fn object(bytes: &[u8]) -> Option<serde_json::Map<String, Value>> {
    crate::profiles::check_nesting(Path::new(FILE), bytes).ok()?;
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// OpenClaw's exec SecretRef provider request (stdin of `clawkeep resolve`).
pub fn exec_request(data: &[u8]) {
    if let Ok(req) = crate::protocol::exec::parse_request(data) {
        assert!(req.ids.len() <= crate::protocol::exec::MAX_IDS);
        for id in &req.ids {
            let _ = crate::secret::SecretId::parse(id);
        }
    }
}

/// The service's wire protocol: frames split at newlines, each parsed as a request.
pub fn wire_frames(data: &[u8]) {
    let mut rest = data;
    while let Some(end) = crate::protocol::wire::frame_end(rest) {
        assert_eq!(rest[end], b'\n');
        if let Ok(req) = crate::protocol::wire::parse_request(&rest[..end]) {
            assert!(req.ids.len() <= crate::protocol::wire::MAX_IDS);
        }
        rest = &rest[end + 1..];
    }
    let _ = crate::protocol::wire::parse_request(rest);
}

/// What the audit learns of one profile (its id and every field it reads), to compare the quick and full reads.
pub type ProfileFacts = (
    String,
    Option<String>,
    Option<String>,
    Option<crate::profiles::SecretRef>,
    Option<i64>,
    [bool; 2],
    [Option<String>; 3],
);

fn facts(id: &str, p: &dyn crate::openclaw::lite::Fields) -> ProfileFacts {
    let s = |k: &str| p.str_of(k).map(String::from);
    (
        id.to_string(),
        profile_type(p).map(String::from),
        profile_provider(p).map(String::from),
        profile_ref(p),
        profile_expires(p),
        [p.has("key"), p.has("apiKey")],
        [s("key"), s("apiKey"), s("token")],
    )
}

/// The audit's quick read of an `auth-profiles.json` (`each_profile`) and of a SQLite store document
/// (`sqlite::each_profile_in`), each against the full read of the same bytes: the same profiles with the same
/// fields, in the same order, or the same error. Returns the profiles of the file read (for tests).
pub fn quick_read_agrees(data: &[u8]) -> std::result::Result<Vec<ProfileFacts>, String> {
    use crate::openclaw::sqlite::{self, StoreKind};
    let path = Path::new(FILE);
    let full_file = crate::profiles::parse_object(path, data)
        .and_then(|doc| AuthProfiles::from_read(path, doc, Vec::new()))
        .map(|ap| ap.profiles().map(|(id, p)| facts(id, p)).collect::<Vec<_>>())
        .map_err(|e| e.to_string());
    let mut quick = Vec::new();
    let quick_file = crate::profiles::auth_profiles::each_profile(path, data, |id, p| quick.push(facts(id, p)))
        .map(|()| quick)
        .map_err(|e| e.to_string());
    assert_eq!(quick_file, full_file, "auth-profiles.json: the quick read disagrees with the full one");
    if let Ok(text) = std::str::from_utf8(data) {
        let full = sqlite::parse(StoreKind::Shared, path, "t[r]".into(), text)
            .map(|st| st.profiles().map(|(id, p)| facts(id, p)).collect::<Vec<_>>())
            .map_err(|e| e.to_string());
        let mut quick = Vec::new();
        let got = sqlite::each_profile_in(StoreKind::Shared, path, "t[r]".into(), text, |row, id, p| {
            assert_eq!(row, "t[r]");
            quick.push(facts(id, p))
        })
        .map(|()| quick)
        .map_err(|e| e.to_string());
        assert_eq!(got, full, "store document: the quick read disagrees with the full one");
    }
    full_file
}

/// `auth-profiles.json`, including the legacy flat map `migrate` converts, and the audit's quick read of it.
pub fn auth_profiles(data: &[u8]) {
    if crate::profiles::check_nesting(Path::new(FILE), data).is_ok() {
        let _ = quick_read_agrees(data);
    }
    let Some(doc) = object(data) else { return };
    if is_flat_legacy(&doc) {
        let converted = crate::ops::migrate::convert_flat(doc.clone());
        let _ = AuthProfiles::from_read(Path::new(FILE), converted, data.to_vec());
    }
    if let Ok(ap) = AuthProfiles::from_read(Path::new(FILE), doc, data.to_vec()) {
        for (_, p) in ap.profiles() {
            let _ = (profile_type(p), profile_provider(p), profile_ref(p), profile_expires(p), plaintext_fields(p));
            let _ = crate::ops::migrate::inline_secret(p);
            if let Some(t) = profile_type(p) {
                let _ = CredType::parse(t);
            }
        }
        let _ = serde_json::to_vec_pretty(&ap.doc);
    }
}

/// `auth-state.json`: order overrides, last-good and usage stats.
pub fn auth_state(data: &[u8]) {
    let Some(doc) = object(data) else { return };
    if let Ok(mut st) = AuthState::from_read(Path::new(FILE), doc) {
        let providers: Vec<String> =
            st.doc.get("order").and_then(Value::as_object).map(|m| m.keys().cloned().collect()).unwrap_or_default();
        for p in &providers {
            let order = st.order(p).unwrap_or_default();
            if let Some(first) = order.first() {
                let _ = st.usage(first);
                st.forget_profile(first);
            }
        }
        st.clear_expired(i64::MAX / 2);
        let _ = serde_json::to_vec_pretty(&st.doc);
    }
}

/// The legacy `auth.json` (`{ "<provider>": { key|apiKey|token… } }`) as `migrate` reads it.
pub fn legacy_auth(data: &[u8]) {
    let Some(doc) = object(data) else { return };
    for (provider, v) in &doc {
        if let Some(p) = v.as_object() {
            let _ = crate::ops::migrate::inline_secret(p);
            let _ = profile_expires(p);
            let _ = crate::ops::profile::check_provider(provider);
        }
    }
}

/// `<state>/.env` (dotenv 17's rules).
pub fn dotenv(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = crate::profiles::dotenv::parse(text);
    let _ = crate::profiles::dotenv::read(text);
    let keys = crate::profiles::dotenv::find_keys(text);
    let lines: Vec<usize> = keys.iter().map(|k| k.line).collect();
    let _ = crate::profiles::dotenv::without_lines(text, &lines);
}

/// `openclaw.json` (JSON5), with the nesting pre-check that guards the recursive parsers: whatever passes it must
/// parse without overflowing the stack, as JSON5 and as JSON.
pub fn openclaw_config(data: &[u8]) {
    let path = Path::new(FILE);
    if crate::profiles::check_nesting(path, data).is_ok() {
        let _ = serde_json::from_slice::<Value>(data);
    }
    if let Ok(doc) = crate::profiles::openclaw_config::parse(path, data) {
        let _ = crate::profiles::openclaw_config::literal_keys(&doc);
        let _ = crate::profiles::openclaw_config::redacted(data);
    }
}

/// Durations (`--expires-in`, `models status --expiring`): never a panic or an overflow.
pub fn duration(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(ms) = crate::ops::status::parse_duration_ms(text) {
        assert!(ms >= 0);
    }
}

/// A fixed identity for the bundle targets (a fuzz target must be deterministic).
fn identity() -> &'static age::x25519::Identity {
    static ID: std::sync::OnceLock<age::x25519::Identity> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
            .parse()
            .expect("a valid age identity")
    })
}

/// An export bundle as `import` receives it: armored age ciphertext, opened with this host's identity.
pub fn bundle_armored(data: &[u8]) {
    if let Ok(b) = crate::transfer::bundle::open(data, identity(), FILE) {
        plan_checks(&b);
    }
}

/// The JSON inside a bundle: the input is sealed to the fixed identity (so it authenticates), then opened and
/// checked as `import`'s plan checks it.
pub fn bundle_content(data: &[u8]) {
    use std::io::Write;
    let recipient = identity().to_public();
    let enc =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient)).expect("one recipient");
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).expect("armor");
    let mut w = enc.wrap_output(armor).expect("encrypt");
    w.write_all(data).expect("encrypt");
    w.finish().and_then(|a| a.finish()).expect("encrypt");
    if let Ok(b) = crate::transfer::bundle::open(&out, identity(), FILE) {
        plan_checks(&b);
    }
    let _ = crate::transfer::parse_imported(Path::new(FILE), data);
}

/// What `plan_import` checks of each profile before anything is written.
fn plan_checks(b: &crate::transfer::bundle::Bundle) {
    let _ = crate::paths::check_agent_id(&b.agent);
    let _ = crate::transfer::bundle::parse_recipient(&b.from).map(|r| crate::vault::host::fingerprint(&r));
    for p in &b.profiles {
        let Some(kind) = CredType::parse(&p.cred_type) else { continue };
        let _ = crate::ops::profile::check_provider(&p.provider);
        let _ = crate::secret::SecretId::for_profile(&b.agent, &p.profile_id);
        let secret = secrecy::SecretString::from(p.secret.as_str().to_owned());
        let _ = crate::secret::check_characters(p.secret.as_str());
        let _ = crate::ops::profile::check_secret(&p.provider, kind, &secret);
    }
}
