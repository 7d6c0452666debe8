//! `migrate`: every plaintext source, dry run, OAuth left alone, undo, and refusal when files changed since.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;
use common::*;
use serde_json::json;

fn plaintext_state(env: &Env) {
    write_private(
        &env.auth_profiles(),
        &json!({"version":1,"profiles":{
            "anthropic:default":{"type":"api_key","provider":"anthropic","key":"sk-ant-api03-inline","email":"me@x.com"},
            "anthropic:manual":{"type":"token","provider":"anthropic","token":setup_token("inline"),"expires":4102444800000u64},
            "openai:me@x.com":{"type":"oauth","provider":"openai","access":"oauth-access","refresh":"oauth-refresh","expires":4102444800000u64},
            "openrouter:default":{"mode":"api_key","provider":"openrouter","apiKey":"sk-or-legacyfield"}
        }})
        .to_string(),
    );
    write_private(
        &env.agent_dir("main").join("auth.json"),
        r#"{"groq":{"type":"api_key","key":"gsk-legacy"},"google":{"access":"g-access","refresh":"g-refresh"}}"#,
    );
    write_private(
        &env.state.join(".env"),
        "# gateway env\nexport OPENAI_API_KEY=\"sk-proj-env\"\nPORT=18789\nMISTRAL_API_KEY=mist-1\n",
    );
}

#[test]
fn dry_run_changes_nothing_and_lists_every_source() {
    let env = Env::new();
    env.init_file();
    plaintext_state(&env);
    let before = env.snapshot();
    let o = env.run(&["migrate", "--dry-run", "--json"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(env.snapshot(), before);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let moving: Vec<_> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["action"] == "would-move")
        .map(|i| i["profileId"].as_str().unwrap().to_string())
        .collect();
    for p in [
        "anthropic:default",
        "anthropic:manual",
        "openrouter:default",
        "groq:default",
        "openai:default",
        "mistral:default",
    ] {
        assert!(moving.contains(&p.to_string()), "{p} missing from {moving:?}");
    }
    let skipped: Vec<_> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["action"] == "skipped")
        .map(|i| i["profileId"].as_str().unwrap().to_string())
        .collect();
    assert!(
        skipped.contains(&"openai:me@x.com".to_string()) && skipped.contains(&"google:default".to_string()),
        "{skipped:?}"
    );
}

#[test]
fn migrate_moves_plaintext_into_the_vault_and_undo_restores_it() {
    let env = Env::new();
    env.init_file();
    plaintext_state(&env);
    let before = env.snapshot();
    let o = env.run(&["migrate"], "");
    assert_eq!(o.code, 0, "{o:?}");
    // No plaintext API key or token is left in OpenClaw's files.
    for (path, bytes) in env.all_files() {
        if path.starts_with(env.ck()) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for s in
            ["sk-ant-api03-inline", "sk-or-legacyfield", "gsk-legacy", "sk-proj-env", "mist-1", &setup_token("inline")]
        {
            assert!(!text.contains(s), "{s} left in {}", path.display());
        }
    }
    let ap = json(&env.auth_profiles());
    assert_eq!(ap["profiles"]["anthropic:default"]["keyRef"]["id"], "main/anthropic:default");
    assert_eq!(ap["profiles"]["anthropic:default"]["email"], "me@x.com");
    assert_eq!(ap["profiles"]["anthropic:manual"]["tokenRef"]["id"], "main/anthropic:manual");
    assert_eq!(ap["profiles"]["anthropic:manual"]["expires"], 4102444800000u64);
    assert_eq!(ap["profiles"]["openrouter:default"]["type"], "api_key");
    assert_eq!(ap["profiles"]["groq:default"]["keyRef"]["id"], "main/groq:default");
    assert_eq!(ap["profiles"]["openai:me@x.com"]["access"], "oauth-access", "OAuth untouched");
    assert_eq!(
        json(&env.agent_dir("main").join("auth.json")),
        json!({"google":{"access":"g-access","refresh":"g-refresh"}})
    );
    assert_eq!(std::fs::read_to_string(env.state.join(".env")).unwrap(), "# gateway env\nPORT=18789\n");
    for (pid, want) in [
        ("anthropic:default", "sk-ant-api03-inline"),
        ("groq:default", "gsk-legacy"),
        ("openai:default", "sk-proj-env"),
        ("mistral:default", "mist-1"),
    ] {
        assert_eq!(env.run(&["get", pid], "").stdout, format!("{want}\n"), "{pid}");
    }
    // The backup exists only encrypted.
    let idx = std::fs::read_to_string(env.ck().join("index.json")).unwrap();
    assert!(idx.contains("backup#migrate-"));
    // Undo restores every file byte for byte and drops the migrated secrets.
    let u = env.run(&["migrate", "--undo"], "");
    assert_eq!(u.code, 0, "{u:?}");
    let after = env.snapshot();
    for (p, b) in &before {
        if !p.starts_with(env.ck()) {
            assert_eq!(after.get(p), Some(b), "{} not restored", p.display());
        }
    }
    assert_eq!(env.run(&["get", "groq:default"], "").code, 66);
    assert_eq!(env.run(&["migrate", "--undo"], "").code, 66, "nothing left to undo");
}

#[test]
fn undo_refuses_when_files_changed_since_unless_forced() {
    let env = Env::new();
    env.init_file();
    write_private(
        &env.auth_profiles(),
        r#"{"version":1,"profiles":{"openai:default":{"type":"api_key","provider":"openai","key":"sk-1"}}}"#,
    );
    assert_eq!(env.run(&["migrate"], "").code, 0);
    assert_eq!(env.run(&["models", "auth", "add", "--provider", "groq"], "gsk-2").code, 0);
    let before = env.snapshot();
    let u = env.run(&["migrate", "--undo"], "");
    assert_eq!(u.code, 65, "{u:?}");
    assert!(u.stderr.contains("changed after the migration"), "{u:?}");
    assert_eq!(env.snapshot(), before);
    let u = env.run(&["migrate", "--undo", "--force"], "");
    assert_eq!(u.code, 0, "{u:?}");
    assert_eq!(json(&env.auth_profiles())["profiles"]["openai:default"]["key"], "sk-1");
}

#[test]
fn flat_legacy_map_becomes_version_1() {
    let env = Env::new();
    env.init_file();
    write_private(&env.auth_profiles(), r#"{"anthropic":{"apiKey":"sk-ant-api03-flat"}}"#);
    // Normal commands refuse the flat map and point at migrate.
    let l = env.run(&["models", "auth", "list"], "");
    assert_eq!(l.code, 65);
    assert!(l.stderr.contains("clawkeep migrate"), "{l:?}");
    assert_eq!(env.run(&["migrate"], "").code, 0);
    let ap = json(&env.auth_profiles());
    assert_eq!(ap["version"], 1);
    assert_eq!(ap["profiles"]["anthropic:default"]["keyRef"]["id"], "main/anthropic:default");
    assert_eq!(env.run(&["get", "anthropic:default"], "").stdout, "sk-ant-api03-flat\n");
}

#[test]
fn all_agents_covers_every_agent_dir() {
    let env = Env::new();
    env.init_file();
    for a in ["main", "work"] {
        write_private(
            &env.agent_dir(a).join("auth-profiles.json"),
            &json!({"version":1,"profiles":{"openai:default":{"type":"api_key","provider":"openai","key":format!("sk-{a}")}}}).to_string(),
        );
    }
    assert_eq!(env.run(&["migrate", "--all-agents"], "").code, 0);
    assert_eq!(env.run(&["get", "openai:default", "--agent", "work"], "").stdout, "sk-work\n");
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-main\n");
}

#[test]
fn a_flat_map_with_only_oauth_is_still_converted() {
    let env = Env::new();
    env.init_file();
    write_private(&env.auth_profiles(), r#"{"openai":{"access":"a","refresh":"r","expires":4102444800000}}"#);
    let o = env.run(&["migrate"], "");
    assert_eq!(o.code, 0, "{o:?}");
    let ap = json(&env.auth_profiles());
    assert_eq!(ap["version"], 1);
    assert_eq!(ap["profiles"]["openai:default"]["access"], "a");
    assert_eq!(env.run(&["models", "auth", "list"], "").code, 0);
}
