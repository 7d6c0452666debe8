//! Storing, listing, reading, removing and ordering profiles through the real binary (file store).
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;
use common::*;
use serde_json::json;

#[test]
fn paste_token_over_stdin_writes_only_a_reference() {
    let env = Env::new();
    env.init_file();
    let tok = setup_token("paste");
    let o = env.run(
        &["models", "auth", "paste-token", "--provider", "anthropic", "--expires-in", "365d"],
        &format!("  {tok}\n\n"),
    );
    assert_eq!(o.code, 0, "{o:?}");
    let ap = json(&env.auth_profiles());
    let p = &ap["profiles"]["anthropic:manual"];
    assert_eq!(p["type"], "token");
    assert_eq!(p["provider"], "anthropic");
    assert_eq!(p["tokenRef"], json!({"source":"exec","provider":"clawkeep","id":"main/anthropic:manual"}));
    assert!(p.get("token").is_none());
    let exp = p["expires"].as_i64().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert!((exp - now - 365 * 86_400_000).abs() < 60_000, "expires {exp}");
    // The secret comes back exactly, whitespace stripped.
    let g = env.run(&["get", "anthropic:manual"], "");
    assert_eq!(g.code, 0, "{g:?}");
    assert_eq!(g.stdout, format!("{tok}\n"));
    // Index has metadata and no secret.
    let idx = std::fs::read_to_string(env.ck().join("index.json")).unwrap();
    assert!(idx.contains("main/anthropic:manual") && !idx.contains(&tok));
}

#[test]
fn add_defaults_to_api_key_and_provider_default_id() {
    let env = Env::new();
    env.init_file();
    let o = env.run(&["models", "auth", "add", "--provider", "openai", "--json"], "sk-proj-abc\n");
    assert_eq!(o.code, 0, "{o:?}");
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["profileId"], "openai:default");
    assert_eq!(v["secretId"], "main/openai:default");
    let ap = json(&env.auth_profiles());
    assert_eq!(ap["profiles"]["openai:default"]["type"], "api_key");
    assert_eq!(ap["profiles"]["openai:default"]["keyRef"]["id"], "main/openai:default");
}

#[test]
fn two_agents_may_share_a_profile_id() {
    let env = Env::new();
    env.init_file();
    assert_eq!(env.run(&["models", "auth", "add", "--provider", "openai"], "sk-main").code, 0);
    assert_eq!(env.run(&["models", "auth", "add", "--provider", "openai", "--agent", "work"], "sk-work").code, 0);
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-main\n");
    assert_eq!(env.run(&["get", "openai:default", "--agent", "work"], "").stdout, "sk-work\n");
    let work = json(&env.agent_dir("work").join("auth-profiles.json"));
    assert_eq!(work["profiles"]["openai:default"]["keyRef"]["id"], "work/openai:default");
}

#[test]
fn rewrites_keep_fields_clawkeep_does_not_own() {
    let env = Env::new();
    env.init_file();
    write_private(
        &env.auth_profiles(),
        r#"{"version":1,"future":{"x":1},"profiles":{
            "anthropic:manual":{"type":"token","provider":"anthropic","token":"old","email":"me@x.com","displayName":"Me","metadata":{"k":"v"},"custom":true},
            "openai:me@x.com":{"type":"oauth","provider":"openai","access":"a","refresh":"r","expires":1}}}"#,
    );
    let o = env.run(&["models", "auth", "paste-token", "--provider", "anthropic", "--force"], &setup_token("keep"));
    assert_eq!(o.code, 0, "{o:?}");
    let ap = json(&env.auth_profiles());
    assert_eq!(ap["future"], json!({"x":1}));
    let p = &ap["profiles"]["anthropic:manual"];
    assert_eq!(p["email"], "me@x.com");
    assert_eq!(p["displayName"], "Me");
    assert_eq!(p["metadata"], json!({"k":"v"}));
    assert_eq!(p["custom"], true);
    assert!(p.get("token").is_none(), "plaintext token must be gone");
    assert_eq!(ap["profiles"]["openai:me@x.com"]["access"], "a", "other profiles untouched");
}

#[test]
fn remove_takes_secret_reference_and_order_together() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "openai"], "sk-1");
    env.run(&["models", "auth", "add", "--provider", "openai", "--profile-id", "openai:work"], "sk-2");
    let o = env.run(&["models", "auth", "order", "set", "--provider", "openai", "openai:work", "openai:default"], "");
    assert_eq!(o.code, 0, "{o:?}");
    let st = env.agent_dir("main").join("auth-state.json");
    assert_eq!(json(&st)["order"]["openai"], json!(["openai:work", "openai:default"]));
    let o = env.run(&["models", "auth", "remove", "openai:work"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(json(&env.auth_profiles())["profiles"].get("openai:work").is_none());
    assert_eq!(json(&st)["order"]["openai"], json!(["openai:default"]));
    assert!(!std::fs::read_to_string(env.ck().join("index.json")).unwrap().contains("openai:work"));
    let g = env.run(&["get", "openai:work"], "");
    assert_eq!(g.code, 66, "{g:?}");
    let secrets = std::fs::read_dir(env.ck().join("secrets")).unwrap().count();
    assert_eq!(secrets, 1);
}

#[test]
fn order_set_checks_ids_and_providers() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "openai"], "sk-1");
    env.run(&["models", "auth", "add", "--provider", "anthropic"], "sk-ant-api03-x");
    let o = env.run(&["models", "auth", "order", "set", "--provider", "openai", "openai:nope"], "");
    assert_eq!(o.code, 66, "{o:?}");
    let o = env.run(&["models", "auth", "order", "set", "--provider", "openai", "anthropic:default"], "");
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("belongs to provider `anthropic`"), "{o:?}");
    assert!(!env.agent_dir("main").join("auth-state.json").exists());
    let o = env.run(&["models", "auth", "order", "set", "--provider", "openai", "openai:default"], "");
    assert_eq!(o.code, 0);
    let g = env.run(&["models", "auth", "order", "get", "--provider", "openai", "--json"], "");
    let v: serde_json::Value = serde_json::from_str(&g.stdout).unwrap();
    assert_eq!(v["order"], json!(["openai:default"]));
    assert_eq!(env.run(&["models", "auth", "order", "clear", "--provider", "openai"], "").code, 0);
    let g = env.run(&["models", "auth", "order", "get", "--provider", "openai", "--json"], "");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&g.stdout).unwrap()["order"], json!(null));
}

#[test]
fn status_check_exit_codes_follow_openclaw() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "openai"], "sk-1");
    assert_eq!(env.run(&["models", "status", "--check"], "").code, 0);
    env.run(&["models", "auth", "paste-token", "--provider", "anthropic", "--expires-in", "2h"], &setup_token("soon"));
    let o = env.run(&["models", "status", "--check", "--json"], "");
    assert_eq!(o.code, 2, "{o:?}");
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let rows = v["profiles"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["profileId"] == "anthropic:manual" && r["status"] == "expiring"));
    assert!(rows.iter().any(|r| r["profileId"] == "openai:default" && r["status"] == "static"));
    // Expired: rewrite expires into the past.
    let mut ap = json(&env.auth_profiles());
    ap["profiles"]["anthropic:manual"]["expires"] = json!(1000);
    write_private(&env.auth_profiles(), &ap.to_string());
    assert_eq!(env.run(&["models", "status", "--check"], "").code, 1);
    // Without --check the exit is 0 whatever the state.
    assert_eq!(env.run(&["models", "status"], "").code, 0);
}

#[test]
fn status_reports_missing_secret_and_never_needs_the_passphrase() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "openai"], "sk-1");
    for e in std::fs::read_dir(env.ck().join("secrets")).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    let mut c = env.cmd(&["models", "status", "--check", "--json"]);
    c.env_remove("CLAWKEEP_PASSPHRASE_FILE");
    let o = run_cmd(&mut c, "");
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stdout.contains("\"missing\""), "{o:?}");
}

#[test]
fn the_index_keeps_profiles_after_openclaw_renames_the_file_and_sync_writes_them_back() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "openai"], "sk-1");
    env.run(&["models", "auth", "paste-token", "--provider", "anthropic", "--expires-in", "30d"], &setup_token("s"));
    // What `openclaw doctor --fix` does on 2026.9+.
    let archived = env.agent_dir("main").join("auth-profiles.json.migrated-2026-11-25T19-22-51.652Z-x");
    std::fs::rename(env.auth_profiles(), &archived).unwrap();
    std::fs::write(env.agent_dir("main").join("openclaw-agent.sqlite"), b"").unwrap();
    let l = env.run(&["models", "auth", "list", "--json"], "");
    let v: serde_json::Value = serde_json::from_str(&l.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "{l:?}");
    assert!(v.as_array().unwrap().iter().all(|p| p["inAuthProfiles"] == false));
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-1\n");
    assert_eq!(env.run(&["models", "status", "--check"], "").code, 0);
    let s = env.run(&["models", "auth", "sync"], "");
    assert_eq!(s.code, 0, "{s:?}");
    assert!(s.stderr.contains("openclaw doctor --fix"), "SQLite layout must be pointed out: {s:?}");
    let ap = json(&env.auth_profiles());
    assert_eq!(ap["profiles"]["openai:default"]["keyRef"]["id"], "main/openai:default");
    assert_eq!(ap["profiles"]["anthropic:manual"]["tokenRef"]["id"], "main/anthropic:manual");
    assert!(ap["profiles"]["anthropic:manual"]["expires"].as_i64().unwrap() > 0);
}

#[test]
fn passwd_rewraps_only_the_identity() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "openai"], "sk-1");
    let before = env.snapshot();
    let newpass = env.dir.path().join("newpass");
    write_private(&newpass, "another long passphrase\n");
    let mut c = env.cmd(&["passwd"]);
    c.env("CLAWKEEP_NEW_PASSPHRASE_FILE", &newpass);
    let o = run_cmd(&mut c, "");
    assert_eq!(o.code, 0, "{o:?}");
    let after = env.snapshot();
    let changed: Vec<_> = after.iter().filter(|(p, b)| before.get(*p) != Some(b)).map(|(p, _)| p.clone()).collect();
    assert_eq!(changed, vec![env.ck().join("identity.json")]);
    // Old passphrase no longer works; the new one does.
    assert_eq!(env.run(&["get", "openai:default"], "").code, 79);
    let mut c = env.cmd(&["get", "openai:default"]);
    c.env("CLAWKEEP_PASSPHRASE_FILE", &newpass);
    assert_eq!(run_cmd(&mut c, "").stdout, "sk-1\n");
}

#[test]
fn concurrent_writers_do_not_lose_each_others_profiles() {
    let env = Env::new();
    env.init_file();
    let children: Vec<_> = (0..8)
        .map(|i| {
            let mut c =
                env.cmd(&["models", "auth", "add", "--provider", "openai", "--profile-id", &format!("openai:p{i}")]);
            c.stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            let mut ch = c.spawn().unwrap();
            use std::io::Write;
            ch.stdin.take().unwrap().write_all(format!("sk-{i}").as_bytes()).unwrap();
            ch
        })
        .collect();
    for ch in children {
        let o = ch.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let ap = json(&env.auth_profiles());
    assert_eq!(ap["profiles"].as_object().unwrap().len(), 8);
    let idx = json(&env.ck().join("index.json"));
    assert_eq!(idx["secrets"].as_object().unwrap().len(), 8);
}

#[test]
fn onboard_runs_non_interactively() {
    let env = Env::new();
    write_private(&env.state.join(".env"), "OPENAI_API_KEY=sk-from-env\nOTHER=1\n");
    let o = env.run(
        &["onboard", "--non-interactive", "--backend", "file", "--provider", "anthropic", "--migrate"],
        "sk-ant-api03-onboard",
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(env.run(&["get", "anthropic:default"], "").stdout, "sk-ant-api03-onboard\n");
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-from-env\n");
    assert_eq!(std::fs::read_to_string(env.state.join(".env")).unwrap(), "OTHER=1\n");
}

#[test]
fn usage_errors_exit_64_and_help_exits_0() {
    let env = Env::new();
    assert_eq!(env.run(&["models", "auth", "add"], "").code, 64);
    assert_eq!(env.run(&["--help"], "").code, 0);
    assert_eq!(env.run(&["nonsense"], "").code, 64);
}

#[test]
fn writes_wait_for_openclaws_own_file_lock() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "openai"], "sk-1");
    // OpenClaw (here: this live test process) holds auth-profiles.json.lock, as `openclaw doctor --fix` does.
    let me = std::process::id();
    let stat = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
    let starttime: u64 = stat.rsplit_once(')').unwrap().1.split_whitespace().nth(19).unwrap().parse().unwrap();
    let lock = env.agent_dir("main").join("auth-profiles.json.lock");
    std::fs::write(
        &lock,
        format!("{{\"pid\": {me}, \"createdAt\": \"2026-11-25T00:00:00.000Z\", \"starttime\": {starttime}}}\nowner\n"),
    )
    .unwrap();
    let mut c = env.cmd(&["models", "auth", "add", "--provider", "groq"]);
    c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"gsk-1").unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(child.try_wait().unwrap().is_none(), "clawkeep must wait while OpenClaw holds the lock");
    assert!(json(&env.auth_profiles())["profiles"].get("groq:default").is_none());
    std::fs::remove_file(&lock).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(json(&env.auth_profiles())["profiles"].get("groq:default").is_some());
    assert!(!lock.exists(), "clawkeep removes its own lock");
}

#[test]
fn order_set_accepts_profiles_known_only_from_the_index() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "openai"], "sk-1");
    env.run(&["models", "auth", "add", "--provider", "openai", "--profile-id", "openai:b"], "sk-2");
    std::fs::remove_file(env.auth_profiles()).unwrap(); // imported and renamed by OpenClaw 2026.9+
    let o = env.run(&["models", "auth", "order", "set", "--provider", "openai", "openai:b", "openai:default"], "");
    assert_eq!(o.code, 0, "{o:?}");
    let o = env.run(&["models", "auth", "order", "set", "--provider", "anthropic", "openai:b"], "");
    assert_eq!(o.code, 65, "{o:?}");
}
