//! The file store's `.age` files: each is bound to its secret id (a swapped, renamed or copied file is refused),
//! files written before ids were bound are still read and are rewritten bound on the next write, and the
//! directories are checked on reads as on writes.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine;
use common::{Env, PASSPHRASE};
use serde_json::Value;

const KEY_A: &str = "sk-ant-api03-FIRST-profile-key-0123456789abcdefghijklmnop";
const KEY_B: &str = "sk-ant-api03-SECOND-profile-key-9876543210zyxwvutsrqponm";

fn age_file(env: &Env, id: &str) -> PathBuf {
    let stem: String = id.bytes().map(|b| format!("{b:02x}")).collect();
    env.ck().join("secrets").join(format!("{stem}.age"))
}

/// An env with the file store and two Anthropic API keys.
fn two_profiles() -> Env {
    let env = Env::new();
    env.init_file();
    let o = env.run(&["models", "auth", "add", "--provider", "anthropic"], KEY_A);
    assert_eq!(o.code, 0, "{o:?}");
    let o = env.run(&["models", "auth", "add", "--provider", "anthropic", "--profile-id", "anthropic:second"], KEY_B);
    assert_eq!(o.code, 0, "{o:?}");
    env
}

/// The vault identity, recomputed from the passphrase and identity.json (independently of clawkeep's code).
fn identity(env: &Env) -> age::x25519::Identity {
    let id: Value = common::json(&env.ck().join("identity.json"));
    let kdf = &id["kdf"];
    let salt = base64::engine::general_purpose::STANDARD.decode(kdf["salt"].as_str().unwrap()).unwrap();
    let params = argon2::Params::new(
        kdf["memoryKib"].as_u64().unwrap() as u32,
        kdf["iterations"].as_u64().unwrap() as u32,
        kdf["parallelism"].as_u64().unwrap() as u32,
        Some(32),
    )
    .unwrap();
    let mut key = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(PASSPHRASE.as_bytes(), &salt, &mut key)
        .unwrap();
    let hrp = bech32::Hrp::parse("age-secret-key-").unwrap();
    let wrap =
        age::x25519::Identity::from_str(&bech32::encode::<bech32::Bech32>(hrp, &key).unwrap().to_uppercase()).unwrap();
    let reader = age::armor::ArmoredReader::new(id["wrapped"].as_str().unwrap().as_bytes());
    let mut r = age::Decryptor::new(reader).unwrap().decrypt(std::iter::once(&wrap as &dyn age::Identity)).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut r, &mut text).unwrap();
    age::x25519::Identity::from_str(text.trim()).unwrap()
}

fn decrypt(env: &Env, path: &Path) -> Vec<u8> {
    let id = identity(env);
    let ct = std::fs::read(path).unwrap();
    let mut r = age::Decryptor::new(&ct[..]).unwrap().decrypt(std::iter::once(&id as &dyn age::Identity)).unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut out).unwrap();
    out
}

/// Write `plaintext` as `path`, encrypted to the vault's recipient, as an older clawkeep (or anyone) could.
fn encrypt_to_vault(env: &Env, path: &Path, plaintext: &[u8]) {
    let id: Value = common::json(&env.ck().join("identity.json"));
    let recipient = age::x25519::Recipient::from_str(id["recipient"].as_str().unwrap()).unwrap();
    let enc = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    std::io::Write::write_all(&mut w, plaintext).unwrap();
    w.finish().unwrap();
    std::fs::write(path, out).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn payloads_name_their_secret_id() {
    let env = two_profiles();
    let pt = decrypt(&env, &age_file(&env, "main/anthropic:default"));
    assert_eq!(pt, format!("clawkeep-secret v2 main/anthropic:default\n{KEY_A}").as_bytes());
}

#[test]
fn a_swapped_age_file_is_refused_naming_the_file() {
    let env = two_profiles();
    let (a, b) = (age_file(&env, "main/anthropic:default"), age_file(&env, "main/anthropic:second"));
    // Another profile's file copied over this one's, permissions intact (as a rename by someone who could write).
    std::fs::copy(&b, &a).unwrap();
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = env.run(&["get", "anthropic:default"], "");
    assert_eq!(o.code, 76, "{o:?}");
    assert!(!o.stdout.contains(KEY_B) && !o.stderr.contains(KEY_B), "the other key must not be handed out: {o:?}");
    assert!(o.stderr.contains(&a.display().to_string()), "the message names the file: {o:?}");
    assert!(o.stderr.contains("main/anthropic:second") && o.stderr.contains("swapped"), "{o:?}");
    // The exec provider answers the id with an error, not the other key.
    let req = serde_json::json!({"protocolVersion":1,"provider":"clawkeep","ids":["main/anthropic:default"]});
    let o = env.run(&["resolve"], &req.to_string());
    assert_eq!(o.code, 0, "{o:?}");
    assert!(!o.stdout.contains(KEY_B), "{o:?}");
    let r: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(r["errors"]["main/anthropic:default"]["code"], "UNAVAILABLE", "{r}");
    // The untouched profile still reads.
    assert_eq!(env.run(&["get", "anthropic:second"], "").stdout, format!("{KEY_B}\n"));
}

#[test]
fn an_unknown_payload_version_is_refused() {
    let env = two_profiles();
    let a = age_file(&env, "main/anthropic:default");
    encrypt_to_vault(&env, &a, format!("clawkeep-secret v3 main/anthropic:default\n{KEY_A}").as_bytes());
    let o = env.run(&["get", "anthropic:default"], "");
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains(&a.display().to_string()) && o.stderr.contains('3'), "{o:?}");
}

#[test]
fn old_unbound_files_are_read_and_rewritten_bound_on_the_next_write() {
    let env = two_profiles();
    let a = age_file(&env, "main/anthropic:default");
    // What clawkeep wrote before ids were bound: the bare secret.
    encrypt_to_vault(&env, &a, KEY_A.as_bytes());
    let o = env.run(&["get", "anthropic:default"], "");
    assert_eq!((o.code, o.stdout.as_str()), (0, format!("{KEY_A}\n").as_str()), "{o:?}");
    // The next write of that secret binds it.
    let o = env.run(&["models", "auth", "add", "--provider", "anthropic", "--force"], KEY_A);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(decrypt(&env, &a), format!("clawkeep-secret v2 main/anthropic:default\n{KEY_A}").as_bytes());
    assert_eq!(env.run(&["get", "anthropic:default"], "").stdout, format!("{KEY_A}\n"));
}

#[test]
fn reads_check_the_secrets_directory() {
    let env = two_profiles();
    let secrets = env.ck().join("secrets");
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = env.run(&["get", "anthropic:default"], "");
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(o.code, 77, "{o:?}");
    assert!(!o.stdout.contains(KEY_A), "{o:?}");
    assert!(o.stderr.contains(&secrets.display().to_string()), "the message names the directory: {o:?}");
    assert_eq!(env.run(&["get", "anthropic:default"], "").stdout, format!("{KEY_A}\n"));
}

#[test]
fn old_unbound_files_with_newlines_are_still_read() {
    // `migrate` stored its backup bundle (pretty JSON, with newlines and spaces) as a secret before ids were bound.
    let env = two_profiles();
    let a = age_file(&env, "main/anthropic:default");
    let bundle = "{\n  \"version\": 1,\n  \"note\": \"a b\"\n}";
    encrypt_to_vault(&env, &a, bundle.as_bytes());
    let o = env.run(&["get", "anthropic:default"], "");
    assert_eq!((o.code, o.stdout.as_str()), (0, format!("{bundle}\n").as_str()), "{o:?}");
}
