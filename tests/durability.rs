//! The durability promise (SECURITY.md): no command loses the secret a user last stored. One test per finding of
//! issue 13 here; the model-based test that checks every command against a model is in `tests/model.rs`.

mod common;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

fn plaintext_profile(env: &Env, provider: &str, key: &str) {
    write_private(
        &env.auth_profiles(),
        &json!({"version":1,"profiles":{format!("{provider}:default"):{"type":"api_key","provider":provider,"key":key}}})
            .to_string(),
    );
}

fn add(env: &Env, provider: &str, key: &str, force: bool) -> Out {
    let mut args = vec!["models", "auth", "add", "--provider", provider];
    if force {
        args.push("--force");
    }
    env.run(&args, key)
}

#[test]
fn init_refuses_over_a_vault_that_lost_vault_json_and_doctor_fix_rebuilds_it() {
    let env = Env::new();
    env.init_file();
    assert_eq!(add(&env, "openai", "sk-keep-1", false).code, 0);
    std::fs::remove_file(env.ck().join("vault.json")).unwrap();
    let before = env.snapshot();

    // doctor names the repair, never `init`.
    let d = env.run(&["doctor"], "");
    assert_ne!(d.code, 0, "{d:?}");
    assert!(d.stdout.contains("VAULT_CONFIG_MISSING"), "{d:?}");
    assert!(!d.stdout.contains("fix: clawkeep init") && !d.stdout.contains("VAULT_MISSING"), "{d:?}");

    for args in [&["init", "--backend", "file"][..], &["onboard", "--non-interactive", "--backend", "file"][..]] {
        let o = env.run(args, "");
        assert_eq!(o.code, 67, "{args:?}: {o:?}");
        assert!(o.stderr.contains("vault.json is missing") && o.stderr.contains("doctor --fix"), "{o:?}");
        assert!(env.snapshot() == before, "{args:?} changed files");
    }

    let f = env.run(&["doctor", "--fix"], "");
    assert!(f.stdout.contains("rebuilt it for the file store"), "{f:?}");
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-keep-1\n");
    assert_eq!(env.run(&["init", "--backend", "file"], "").code, 67);
}

#[test]
fn init_refuses_over_an_index_or_secrets_without_vault_json() {
    let env = Env::new();
    env.init_file();
    assert_eq!(add(&env, "openai", "sk-keep-2", false).code, 0);
    std::fs::remove_file(env.ck().join("vault.json")).unwrap();
    std::fs::rename(env.ck().join("identity.json"), env.dir.path().join("identity.saved")).unwrap();
    let o = env.run(&["init", "--backend", "file"], "");
    assert_eq!(o.code, 67, "{o:?}");
    assert!(o.stderr.contains("index.json") && o.stderr.contains("secrets/"), "{o:?}");
    // Without identity.json the files do not say which store: doctor asks the user instead of guessing.
    let d = env.run(&["doctor", "--fix"], "");
    assert!(d.stdout.contains("do not show which store"), "{d:?}");
    assert!(!env.ck().join("vault.json").exists());
}

#[test]
fn undo_never_deletes_a_secret_rotated_after_migrate() {
    let env = Env::new();
    env.init_file();
    plaintext_profile(&env, "openai", "sk-OLD");
    assert_eq!(env.run(&["migrate"], "").code, 0);
    let a = add(&env, "openai", "sk-NEW", true);
    assert_eq!(a.code, 0, "{a:?}");
    let before = env.snapshot();

    let u = env.run(&["migrate", "--undo"], "");
    assert_eq!(u.code, 65, "{u:?}");
    assert!(u.stderr.contains("main/openai:default"), "names the profile: {u:?}");
    assert!(env.snapshot() == before, "a refused undo changes nothing");
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-NEW\n");

    // --force restores the files, and keeps the newer secret in the vault.
    let u = env.run(&["migrate", "--undo", "--force"], "");
    assert_eq!(u.code, 0, "{u:?}");
    assert!(u.stdout.contains("kept `main/openai:default`"), "{u:?}");
    assert_eq!(json(&env.auth_profiles())["profiles"]["openai:default"]["key"], "sk-OLD");
    write_private(&env.auth_profiles(), r#"{"version":1,"profiles":{}}"#);
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-NEW\n", "sk-NEW survived");
}

#[test]
fn undo_deletes_an_unchanged_secret() {
    let env = Env::new();
    env.init_file();
    plaintext_profile(&env, "openai", "sk-SAME");
    assert_eq!(env.run(&["migrate"], "").code, 0);
    let u = env.run(&["migrate", "--undo"], "");
    assert_eq!(u.code, 0, "{u:?}");
    assert_eq!(json(&env.auth_profiles())["profiles"]["openai:default"]["key"], "sk-SAME");
    assert_eq!(env.run(&["get", "openai:default"], "").code, 66);
}

/// OpenClaw 2026.9: the current key is in clawkeep, OpenClaw imported and renamed auth-profiles.json, and an
/// old key is still in `.env` (and in a legacy auth.json).
#[test]
fn migrate_never_overwrites_a_secret_the_vault_holds() {
    let env = Env::new();
    env.init_file();
    assert_eq!(add(&env, "openai", "sk-CURRENT", false).code, 0);
    assert_eq!(add(&env, "groq", "gsk-CURRENT", false).code, 0);
    std::fs::rename(env.auth_profiles(), env.agent_dir("main").join("auth-profiles.json.migrated-1")).unwrap();
    write_private(&env.state.join(".env"), "OPENAI_API_KEY=sk-STALE\n");
    write_private(&env.agent_dir("main").join("auth.json"), r#"{"groq":{"type":"api_key","key":"gsk-STALE"}}"#);

    let d = env.run(&["doctor"], "");
    assert!(!d.stdout.contains("fix: clawkeep migrate (if"), "doctor must not send the user to a migrate: {d:?}");
    let o = env.run(&["migrate", "--json"], "");
    assert_eq!(o.code, 0, "{o:?}");
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    for pid in ["openai:default", "groq:default"] {
        let it = v["items"].as_array().unwrap().iter().find(|i| i["profileId"] == pid).unwrap();
        assert_eq!(it["action"], "skipped", "{it}");
        assert!(it["note"].as_str().unwrap().contains("already holds a different secret"), "{it}");
    }
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-CURRENT\n");
    assert_eq!(env.run(&["get", "groq:default"], "").stdout, "gsk-CURRENT\n");
    assert_eq!(std::fs::read_to_string(env.state.join(".env")).unwrap(), "OPENAI_API_KEY=sk-STALE\n");
    assert_eq!(env.run(&["migrate", "--undo"], "").code, 66, "nothing was migrated");
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-CURRENT\n");
}

#[test]
fn migrate_of_a_key_the_vault_already_holds_removes_only_the_plaintext() {
    let env = Env::new();
    env.init_file();
    assert_eq!(add(&env, "openai", "sk-BOTH", false).code, 0);
    std::fs::remove_file(env.auth_profiles()).unwrap();
    write_private(&env.state.join(".env"), "OPENAI_API_KEY=sk-BOTH\nPORT=1\n");
    let o = env.run(&["migrate"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(std::fs::read_to_string(env.state.join(".env")).unwrap(), "PORT=1\n");
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-BOTH\n");
    // Undo puts the line back and keeps the secret migrate did not store.
    assert_eq!(env.run(&["migrate", "--undo"], "").code, 0);
    assert_eq!(std::fs::read_to_string(env.state.join(".env")).unwrap(), "OPENAI_API_KEY=sk-BOTH\nPORT=1\n");
    write_private(&env.auth_profiles(), r#"{"version":1,"profiles":{}}"#);
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-BOTH\n");
}

#[test]
fn migrate_checks_every_target_before_the_first_write() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.init_file();
    std::fs::create_dir_all(env.agent_dir("main")).unwrap();
    std::fs::set_permissions(env.agent_dir("main"), std::fs::Permissions::from_mode(0o775)).unwrap();
    write_private(&env.state.join(".env"), "OPENAI_API_KEY=sk-STRANDED\n");
    let before = env.snapshot();
    let o = env.run(&["migrate"], "");
    assert_eq!(o.code, 77, "{o:?}");
    assert!(env.snapshot() == before, "a refused migrate changes nothing");
    std::fs::set_permissions(env.agent_dir("main"), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(env.run(&["migrate"], "").code, 0);
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-STRANDED\n");
    assert_eq!(json(&env.auth_profiles())["profiles"]["openai:default"]["keyRef"]["id"], "main/openai:default");
}

#[test]
fn doctor_reports_a_vault_entry_no_openclaw_store_refers_to() {
    let env = Env::new();
    env.init_file();
    assert_eq!(add(&env, "openai", "sk-LONELY", false).code, 0);
    std::fs::remove_file(env.auth_profiles()).unwrap();
    let d = env.run(&["doctor"], "");
    assert_ne!(d.code, 0, "{d:?}");
    assert!(d.stdout.contains("UNREFERENCED") && d.stdout.contains("main/openai:default"), "{d:?}");
    // With OpenClaw's SQLite layout the references live there: not a false alarm.
    std::fs::write(env.agent_dir("main").join("openclaw-agent.sqlite"), b"").unwrap();
    let d = env.run(&["doctor"], "");
    assert!(!d.stdout.contains("UNREFERENCED"), "{d:?}");
    assert!(d.stdout.contains("SQLITE_REFS_UNCHECKED"), "{d:?}");
}

/// The passphrase is asked (and checked) before clawkeep or OpenClaw locks are taken: a held lock does not
/// delay a wrong-passphrase answer, and the gateway never waits on a prompt.
#[test]
fn migrate_and_undo_unlock_before_taking_any_lock() {
    let env = Env::new();
    env.init_file();
    plaintext_profile(&env, "openai", "sk-LOCKS");
    assert_eq!(env.run(&["migrate"], "").code, 0);
    plaintext_profile(&env, "groq", "gsk-LOCKS");
    let wrong = env.dir.path().join("wrong");
    std::fs::write(&wrong, "not the passphrase\n").unwrap();
    std::fs::set_permissions(&wrong, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let lock = std::fs::OpenOptions::new().write(true).open(env.ck().join("lock")).unwrap();
    lock.lock().unwrap();
    for args in [&["migrate"][..], &["migrate", "--undo", "--force"][..]] {
        let mut c = env.cmd(args);
        c.env("CLAWKEEP_PASSPHRASE_FILE", &wrong);
        let t = Instant::now();
        let o = run_cmd(&mut c, "");
        assert_eq!(o.code, 79, "{args:?}: {o:?}");
        assert!(t.elapsed() < Duration::from_secs(5), "{args:?} waited for the lock first");
    }
    drop(lock);
}

#[test]
fn a_flat_oauth_only_file_is_converted_with_a_backup_undo_restores() {
    let env = Env::new();
    env.init_file();
    let flat = r#"{"openai":{"access":"a","refresh":"r","expires":4102444800000}}"#;
    write_private(&env.auth_profiles(), flat);
    let o = env.run(&["migrate"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(!o.stdout.contains("left untouched"), "{o:?}");
    assert!(o.stdout.contains("converted to version 1"), "{o:?}");
    assert_eq!(json(&env.auth_profiles())["version"], 1);
    let u = env.run(&["migrate", "--undo"], "");
    assert_eq!(u.code, 0, "{u:?}");
    assert_eq!(std::fs::read_to_string(env.auth_profiles()).unwrap(), flat);
}

#[test]
fn add_validates_openclaw_json_before_the_first_write() {
    let env = Env::new();
    env.init_file();
    write_private(&env.state.join("openclaw.json"), r#"{"auth":{"profiles":[]}}"#);
    let before = env.snapshot();
    let o = add(&env, "openai", "sk-ARRAY", false);
    assert_eq!(o.code, 65, "{o:?}");
    assert!(env.snapshot() == before, "nothing written");
    assert_eq!(add(&env, "openai", "sk-ARRAY", false).code, 65, "the rerun gets the same answer, not 67");
}
