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

/// `.env` is read as OpenClaw reads it: clawkeep's reader against dotenv 17.4.2 itself (the version OpenClaw
/// 2026.9.6 bundles), on a table of lines. Needs node and dotenv in `$CLAWKEEP_DOTENV_DIR/node_modules` (default
/// `target/dotenv-cache`; `.ci/run` installs it with `npm install --prefix target/dotenv-cache dotenv@17.4.2`).
/// Skipped with a message when they are missing, except under CI=true.
#[test]
fn dotenv_reading_matches_dotenv_17() {
    use base64::Engine;
    use clawkeep::openclaw::dotenv;
    let dir = std::env::var_os("CLAWKEEP_DOTENV_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dotenv-cache"));
    let module = dir.join("node_modules/dotenv");
    if !have("node") || !module.join("package.json").exists() {
        let why = format!(
            "node or dotenv missing ({}): npm install --prefix {} dotenv@17.4.2",
            module.display(),
            dir.display()
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{why}");
        }
        skip("dotenv_reading_matches_dotenv_17", &why);
        return;
    }
    let version = json(&module.join("package.json"))["version"].as_str().unwrap_or_default().to_string();
    assert_eq!(version, "17.4.2", "the dotenv OpenClaw 2026.9.6 bundles");
    // (content, whether clawkeep must be sure of OPENAI_API_KEY)
    let table: &[(&str, bool)] = &[
        ("OPENAI_API_KEY=sk-plain\n", true),
        ("OPENAI_API_KEY=\"sk-dq\" # work key\n", true),
        ("OPENAI_API_KEY='sk-sq'\n", true),
        ("OPENAI_API_KEY=`sk-bt`\n", true),
        ("export OPENAI_API_KEY=sk-exp\n", true),
        ("export   OPENAI_API_KEY = sk-sp \n", true),
        ("OPENAI_API_KEY=sk-a#b\n", true),
        ("OPENAI_API_KEY=sk-a #comment\n", true),
        ("OPENAI_API_KEY=sk-tab\t# c\n", true),
        ("OPENAI_API_KEY: sk-colon\n", true),
        ("  OPENAI_API_KEY=sk-indented\r\nPORT=1\r\n", true),
        ("OPENAI_API_KEY=\"sk-#notcomment\"\n", true),
        ("OPENAI_API_KEY=sk-crlf\r\n", true),
        ("A=1\n\n\nOPENAI_API_KEY=sk-after-blank\n", true),
        ("GROQ_API_KEY=gsk-1\nOPENAI_API_KEY=sk-2\nexport MISTRAL_API_KEY='m-3' # x\n", true),
        ("OPENAI_API_KEY=sk-first\nOPENAI_API_KEY=sk-last\n", false),
        ("OPENAI_API_KEY=\"line1\\nline2\"\n", false),
        ("OPENAI_API_KEY=\"multi\nline\"\n", false),
        ("FOO=\"open\nOPENAI_API_KEY=sk-swallowed\n\"\n", false),
        ("# OPENAI_API_KEY=sk-commented\n", false),
        ("OPENAI_API_KEY=\"sk-unterminated\n", false),
        ("OPENAI_API_KEY=\"a\\\"b\"\n", false),
        ("OPENAI_API_KEY='sk-x' trailing\n", false),
        ("OPENAI_API_KEY=\n", false),
        ("OPENAI_API_KEY=\"\"\n", false),
        ("OPENAI_API_KEY=${OTHER}\n", false),
        ("OPENAI.API=1\nOPENAI-API=2\nexport=3\n", false),
        ("OPENAI_API_KEY='sk-\\'esc'\n", false),
        ("OPENAI_API_KEY=a\rPORT=2\n", false),
        ("OPENAI_API_KEY=\"sk-q\"x\n", false),
        ("OPENAI_API_KEY = \"  spaced  \"\n", false),
        ("X=`a\nb`\nOPENAI_API_KEY=sk-after-bt\n", true),
    ];
    let inputs: Vec<String> =
        table.iter().map(|(c, _)| base64::engine::general_purpose::STANDARD.encode(c.as_bytes())).collect();
    let script = format!(
        "const d=require({:?});let s='';process.stdin.on('data',c=>s+=c).on('end',()=>{{\
         process.stdout.write(JSON.stringify(JSON.parse(s).map(b=>d.parse(Buffer.from(b,'base64')))))}})",
        module.display().to_string()
    );
    let mut c = std::process::Command::new("node");
    c.args(["-e", &script]);
    let o = run_cmd(&mut c, &serde_json::to_string(&inputs).unwrap());
    assert_eq!(o.code, 0, "{o:?}");
    let theirs: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(&o.stdout).unwrap();
    for ((content, sure), want) in table.iter().zip(theirs) {
        let ours: serde_json::Map<String, serde_json::Value> =
            dotenv::parse(content).into_iter().map(|(k, v)| (k, serde_json::Value::String(v.to_string()))).collect();
        assert_eq!(ours, want, "parse of {content:?}");
        let found = dotenv::read(content);
        for k in &found.keys {
            assert_eq!(want.get(&k.name).and_then(|v| v.as_str()), Some(k.value.as_str()), "{} in {content:?}", k.name);
        }
        let has = found.keys.iter().any(|k| k.name == "OPENAI_API_KEY");
        assert_eq!(has, *sure, "sure of OPENAI_API_KEY in {content:?}");
        if !sure
            && want
                .get("OPENAI_API_KEY")
                .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty() && !s.starts_with("${")))
        {
            assert!(found.unsure.iter().any(|u| u.name == "OPENAI_API_KEY"), "an unsure key is reported: {content:?}");
        }
    }
}

#[test]
fn migrate_moves_what_dotenv_reads_and_leaves_unsure_lines_alone() {
    let env = Env::new();
    env.init_file();
    write_private(
        &env.state.join(".env"),
        "OPENAI_API_KEY=\"sk-proj-quoted\" # work key\nGROQ_API_KEY=gsk-old\nGROQ_API_KEY=gsk-new\nPORT=1\n",
    );
    let o = env.run(&["migrate"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("set more than once"), "{o:?}");
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-proj-quoted\n", "stored without quotes or comment");
    assert_eq!(
        std::fs::read_to_string(env.state.join(".env")).unwrap(),
        "GROQ_API_KEY=gsk-old\nGROQ_API_KEY=gsk-new\nPORT=1\n",
        "the duplicated key is left alone"
    );
    assert_eq!(env.run(&["get", "groq:default"], "").code, 66);
}
