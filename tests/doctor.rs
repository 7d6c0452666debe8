//! `doctor`: what it finds, what `--fix` repairs, and its exit code.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;
use std::os::unix::fs::PermissionsExt;

use common::*;
use serde_json::json;

fn codes(o: &Out) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {o:?}"));
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["fixed"] == false)
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_healthy_vault_passes() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "openai"], "sk-1");
    let o = env.run(&["doctor"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("all good"));
}

#[test]
fn no_vault_is_reported_with_the_command_to_run() {
    let env = Env::new();
    let o = env.run(&["doctor"], "");
    assert_eq!(o.code, 1);
    assert!(o.stdout.contains("VAULT_MISSING") && o.stdout.contains("clawkeep init"), "{o:?}");
}

#[test]
fn fix_repairs_permissions_and_reports_what_it_cannot() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "openai"], "sk-1");
    std::fs::set_permissions(env.auth_profiles(), std::fs::Permissions::from_mode(0o664)).unwrap();
    std::fs::set_permissions(env.ck(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = env.run(&["doctor", "--json"], "");
    assert_eq!(o.code, 1);
    assert_eq!(codes(&o).iter().filter(|c| *c == "PERMISSIONS").count(), 2, "{o:?}");
    let o = env.run(&["doctor", "--fix"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(std::fs::metadata(env.auth_profiles()).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(env.ck()).unwrap().permissions().mode() & 0o777, 0o700);
    // A symlink cannot be fixed by chmod: reported with the fix, and the exit stays non-zero.
    let real = env.dir.path().join("real.json");
    std::fs::rename(env.auth_profiles(), &real).unwrap();
    std::os::unix::fs::symlink(&real, env.auth_profiles()).unwrap();
    let o = env.run(&["doctor", "--fix"], "");
    assert_eq!(o.code, 1);
    assert!(o.stdout.contains("SYMLINK") && o.stdout.contains("replace the symlink"), "{o:?}");
}

#[test]
fn dangling_unreferenced_plaintext_and_expiring_are_found() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "openai"], "sk-1");
    env.run(&["models", "auth", "add", "--provider", "groq"], "gsk-1");
    env.run(&["models", "auth", "paste-token", "--provider", "anthropic", "--expires-in", "3h"], &setup_token("d"));
    let mut ap = json(&env.auth_profiles());
    let profiles = ap["profiles"].as_object_mut().unwrap();
    profiles.remove("groq:default"); // unreferenced secret
    profiles.insert("mistral:default".into(), json!({"type":"api_key","provider":"mistral","keyRef":{"source":"exec","provider":"clawkeep","id":"main/mistral:default"}})); // dangling
    profiles.insert("xai:default".into(), json!({"type":"api_key","provider":"xai","key":"xai-plain"})); // plaintext
    write_private(&env.auth_profiles(), &ap.to_string());
    write_private(&env.state.join(".env"), "OPENAI_API_KEY=sk-plain\n");
    write_private(
        &env.state.join("openclaw.json"),
        "{ // json5\n models: { providers: { anthropic: { apiKey: 'sk-ant-plain' } } } }",
    );
    let o = env.run(&["doctor", "--json"], "");
    assert_eq!(o.code, 1);
    let c = codes(&o);
    for want in ["UNREFERENCED", "REF_MISSING", "PLAINTEXT", "EXPIRING", "ENV_PLAINTEXT", "CONFIG_PLAINTEXT"] {
        assert!(c.contains(&want.to_string()), "{want} not in {c:?}");
    }
    assert!(!o.stdout.contains("xai-plain") && !o.stdout.contains("sk-plain") && !o.stdout.contains("sk-ant-plain"));
}

#[test]
fn fix_rebuilds_a_missing_index() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "openai"], "sk-1");
    env.run(&["models", "auth", "paste-token", "--provider", "anthropic", "--expires-in", "30d"], &setup_token("i"));
    std::fs::remove_file(env.ck().join("index.json")).unwrap();
    let o = env.run(&["doctor"], "");
    assert_eq!(o.code, 1);
    assert!(o.stdout.contains("INDEX_MISSING"), "{o:?}");
    let o = env.run(&["doctor", "--fix"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-1\n");
    let idx = json(&env.ck().join("index.json"));
    assert_eq!(idx["secrets"]["main/anthropic:manual"]["type"], "token");
    assert_eq!(idx["secrets"]["main/openai:default"]["provider"], "openai");
}

#[test]
fn fix_removes_openclaw_archives_that_hold_only_references() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "openai"], "sk-1");
    let dir = env.agent_dir("main");
    let refs_only = dir.join("auth-profiles.json.migrated-2026-11-25T19-22-51.652Z-aaaa");
    std::fs::rename(env.auth_profiles(), &refs_only).unwrap();
    let plain = dir.join("auth-profiles.json.migrated-2026-11-20T10-00-00.000Z-bbbb");
    write_private(
        &plain,
        r#"{"version":1,"profiles":{"xai:default":{"type":"api_key","provider":"xai","key":"xai-plain"}}}"#,
    );
    let o = env.run(&["doctor", "--json"], "");
    let c = codes(&o);
    assert!(c.contains(&"ARCHIVE_REFS_ONLY".to_string()) && c.contains(&"ARCHIVE_PLAINTEXT".to_string()), "{c:?}");
    assert!(!o.stdout.contains("xai-plain"));
    let o = env.run(&["doctor", "--fix"], "");
    assert_eq!(o.code, 1, "the plaintext archive still needs the user: {o:?}");
    assert!(!refs_only.exists(), "the references-only archive is removed");
    assert!(plain.exists(), "an archive with plaintext is never deleted by clawkeep");
}

fn mode_of(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn fix_never_chmods_a_shared_sticky_or_home_directory() {
    // A sticky, world-writable state dir (like /tmp) with no vault: reported, never changed.
    let mut env = Env::new();
    let shared = env.dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    env.state = shared.clone();
    let o = env.run(&["doctor", "--fix", "--json"], "");
    assert_eq!(mode_of(&shared), 0o1777, "doctor --fix changed a sticky shared dir: {o:?}");
    assert_ne!(o.code, 0);
    assert!(o.stdout.contains("shared or system directory"), "{o:?}");
    // The state dir is $HOME, group-writable: reported, never changed.
    let mut env = Env::new();
    std::fs::set_permissions(&env.home, std::fs::Permissions::from_mode(0o775)).unwrap();
    env.state = env.home.clone();
    let o = env.run(&["doctor", "--fix", "--json"], "");
    assert_eq!(mode_of(&env.home), 0o775, "doctor --fix changed $HOME: {o:?}");
    // A state dir with OpenClaw's files is OpenClaw's: repaired.
    let env = Env::new();
    write_private(&env.state.join("openclaw.json"), "{}\n");
    std::fs::set_permissions(&env.state, std::fs::Permissions::from_mode(0o775)).unwrap();
    let o = env.run(&["doctor", "--fix", "--json"], "");
    assert_eq!(mode_of(&env.state), 0o700, "{o:?}");
}

#[test]
fn sessions_and_monitor_state_are_checked_and_fixed() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "openai"], "sk-1");
    for name in ["sessions.json", "monitor.json"] {
        let p = env.ck().join(name);
        std::fs::write(&p, "{\"version\":1}\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let o = env.run(&["doctor", "--json"], "");
    assert_eq!(o.code, 1, "{o:?}");
    for name in ["sessions.json", "monitor.json"] {
        assert!(o.stdout.contains(name), "{name} not reported: {o:?}");
    }
    let o = env.run(&["doctor", "--fix"], "");
    assert_eq!(o.code, 0, "{o:?}");
    for name in ["sessions.json", "monitor.json"] {
        assert_eq!(mode_of(&env.ck().join(name)), 0o600);
    }
}

#[test]
fn an_unopenable_vault_reports_unchecked_references_not_missing_ones() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "openai"], "sk-1");
    env.run(&["models", "auth", "add", "--provider", "anthropic"], "sk-ant-api03-x");
    std::fs::set_permissions(env.ck().join("index.json"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = env.run(&["doctor", "--json"], "");
    let c = codes(&o);
    assert!(!c.contains(&"REF_MISSING".to_string()), "intact keys reported missing: {o:?}");
    assert!(c.contains(&"REFS_UNCHECKED".to_string()), "{o:?}");
    assert!(o.stdout.contains("openai:default") && o.stdout.contains("anthropic:default"), "{o:?}");
}
