//! Custody of every credential OpenClaw holds: its SQLite auth stores (2026.7 per agent, 2026.9 shared) read
//! read-only, `openclaw.json`'s SecretRef surface and `.env`, reported by `doctor` and inventoried by `audit`; bad
//! SQLite input (locked, corrupt, unknown schema) refused with a clear error and nothing changed.
#![allow(clippy::disallowed_methods)] // tests build their fixtures directly

mod common;

use common::*;
use rusqlite::Connection;
use serde_json::{Value, json};

const OPENAI: &str = "sk-proj-CUSTODYcanaryOPENAI0123456789";
const ROUTER: &str = "sk-or-v1-CUSTODYcanaryROUTER0123456789";

/// The shared store as OpenClaw 2026.9.6 creates it (table and columns as seen on disk), WAL mode, holding `doc`.
fn shared_store(env: &Env, doc: &Value, wal: bool) -> std::path::PathBuf {
    let dir = env.state.join("state");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("openclaw.sqlite");
    let c = Connection::open(&path).unwrap();
    if wal {
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
    }
    c.execute_batch(
        "CREATE TABLE config_machine_state (state_key TEXT NOT NULL PRIMARY KEY, value_json TEXT NOT NULL,
         updated_at_ms INTEGER NOT NULL) STRICT;",
    )
    .unwrap();
    c.execute("INSERT INTO config_machine_state VALUES ('auth.sharedStore', '{\"location\":\"state-db\"}', 1)", [])
        .unwrap();
    c.execute("INSERT INTO config_machine_state VALUES ('authProfiles.store', ?1, 2)", [doc.to_string()]).unwrap();
    path
}

/// The per-agent store as OpenClaw 2026.7+/2026.9.6 creates it (`auth_profile_store`, row `primary`).
fn agent_store(env: &Env, agent: &str, doc: &Value) -> std::path::PathBuf {
    let dir = env.agent_dir(agent);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("openclaw-agent.sqlite");
    let c = Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TABLE auth_profile_store (store_key TEXT NOT NULL PRIMARY KEY, store_json TEXT NOT NULL,
         updated_at INTEGER NOT NULL) STRICT;",
    )
    .unwrap();
    c.execute("INSERT INTO auth_profile_store VALUES ('primary', ?1, 1)", [doc.to_string()]).unwrap();
    path
}

/// A small stand-in for OpenClaw's credential matrix (the real one is read from the installed npm package).
/// A file-store vault whose audit reads the test's credential matrix.
fn vault_env() -> Env {
    let mut env = Env::new();
    matrix(&mut env);
    env.init_file();
    env
}

fn matrix(env: &mut Env) {
    let m = json!({"version": 1, "entries": [
        {"id": "models.providers.apiKey", "configFile": "openclaw.json", "path": "models.providers.*.apiKey"},
        {"id": "channels.discord.token", "configFile": "openclaw.json", "path": "channels.discord.token"},
        {"id": "auth-profiles.token.token", "configFile": "auth-profile-store", "path": "profiles.*.token"}
    ]});
    let p = env.dir.path().join("matrix.json");
    std::fs::write(&p, m.to_string()).unwrap();
    env.extra_env.push(("CLAWKEEP_OPENCLAW_MATRIX".into(), p.display().to_string()));
}

fn token_doc(token: &str) -> Value {
    json!({"version": 1, "profiles": {"anthropic:manual": {"type": "token", "provider": "anthropic", "token": token}}})
}

fn audit_json(env: &Env, extra: &[&str]) -> (Out, Value) {
    let mut args = vec!["audit", "--json", "--check"];
    args.extend_from_slice(extra);
    let o = env.run(&args, "");
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {o:?}"));
    (o, v)
}

fn no_canary(o: &Out, secrets: &[&str]) {
    for s in secrets {
        assert!(!o.stdout.contains(s) && !o.stderr.contains(s), "a secret was printed: {o:?}");
    }
}

#[test]
fn doctor_reports_a_plaintext_token_in_the_shared_sqlite_store() {
    let env = vault_env();
    let token = setup_token("SHARED");
    let db = shared_store(&env, &token_doc(&token), true);
    let before = env.snapshot();
    let o = env.run(&["doctor", "--json"], "");
    assert_eq!(o.code, 1, "doctor must not say all good over a plaintext token: {o:?}");
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    let f = v["findings"].as_array().unwrap().iter().find(|f| f["code"] == "PLAINTEXT_FOUND").expect("PLAINTEXT_FOUND");
    assert_eq!(f["path"].as_str(), Some(db.to_str().unwrap()), "{f}");
    assert!(f["message"].as_str().unwrap().contains("profiles.anthropic:manual.token"), "{f}");
    no_canary(&o, &[&token]);
    let o = env.run(&["doctor"], "");
    assert!(!o.stdout.contains("all good"), "{o:?}");
    no_canary(&o, &[&token]);
    // Read-only: the database and its WAL are byte for byte as they were.
    let after = env.snapshot();
    for (p, b) in &before {
        if p.starts_with(env.state.join("state")) {
            assert_eq!(after.get(p), Some(b), "{} changed", p.display());
        }
    }
}

#[test]
fn audit_inventories_every_store_with_keyed_fingerprints_and_findings() {
    let env = vault_env();
    let token = setup_token("INVENTORY");
    shared_store(&env, &token_doc(&token), true);
    // The per-agent store holds a ref to a clawkeep id the vault does not hold.
    agent_store(
        &env,
        "main",
        &json!({"version": 1, "profiles": {"openai:default": {"type": "api_key", "provider": "openai",
            "keyRef": {"source": "exec", "provider": "clawkeep", "id": "main/openai:default"}}}}),
    );
    std::fs::write(
        env.state.join("openclaw.json"),
        json!({"models": {"providers": {"openai": {"apiKey": OPENAI}, "groq": {"apiKey": "${GROQ_API_KEY}"}}},
               "channels": {"discord": {"token": OPENAI}}})
        .to_string(),
    )
    .unwrap();
    write_private(&env.state.join(".env"), &format!("OPENROUTER_API_KEY={ROUTER}\n"));
    let (o, v) = audit_json(&env, &[]);
    no_canary(&o, &[&token, OPENAI, ROUTER]);
    assert_eq!(o.code, 2, "an unresolved clawkeep ref: exit 2 as OpenClaw's audit: {o:?}");
    assert_eq!(v["version"], 1);
    assert_eq!(v["status"], "unresolved");
    assert_eq!(v["skipped"].as_array().unwrap().len(), 0, "{v}");
    let creds = v["credentials"].as_array().unwrap();
    let find = |path: &str| {
        creds.iter().find(|c| c["jsonPath"] == path).unwrap_or_else(|| panic!("{path} not in {v}")).clone()
    };
    let t = find("profiles.anthropic:manual.token");
    assert_eq!((t["store"].as_str(), t["valueIn"].as_str()), (Some("shared-sqlite"), Some("plaintext")));
    assert_eq!(t["row"], "config_machine_state[authProfiles.store]");
    assert_eq!(t["targetType"], "auth-profiles.token.token");
    assert_eq!(t["fingerprint"].as_str().map(str::len), Some(32), "{t}");
    let r = find("profiles.openai:default.keyRef");
    assert_eq!((r["store"].as_str(), r["valueIn"].as_str()), (Some("agent-sqlite"), Some("clawkeep")));
    assert_eq!(find("models.providers.openai.apiKey")["valueIn"], "plaintext");
    assert_eq!(find("models.providers.groq.apiKey")["valueIn"], "environment");
    assert_eq!(find("$env.OPENROUTER_API_KEY")["valueIn"], "plaintext");
    // The same value in two places: equal keyed fingerprints, and a DUPLICATE_SECRET finding.
    let (a, b) = (find("models.providers.openai.apiKey"), find("channels.discord.token"));
    assert_eq!(a["fingerprint"], b["fingerprint"]);
    assert_ne!(a["fingerprint"], t["fingerprint"]);
    let codes: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert_eq!(codes.iter().filter(|c| **c == "PLAINTEXT_FOUND").count(), 4, "{codes:?}");
    for c in ["REF_UNRESOLVED", "DUPLICATE_SECRET", "REF_SHADOWED"] {
        assert!(codes.contains(&c), "{c} missing: {codes:?}");
    }
    assert_eq!(v["summary"]["plaintextCount"], 4);
    // No unkeyed hash of any value anywhere in the output.
    for s in [&token, OPENAI, ROUTER] {
        let sha: String = {
            use sha2::Digest;
            sha2::Sha256::digest(s.as_bytes()).iter().map(|x| format!("{x:02x}")).collect()
        };
        assert!(!o.stdout.contains(&sha[..16]), "an unkeyed hash was printed");
    }
}

#[test]
fn audit_of_a_clean_state_is_clean_and_a_missing_matrix_is_never_clean() {
    let mut env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "openai"], OPENAI);
    std::fs::write(env.state.join("openclaw.json"), "{}").unwrap();
    env.extra_env.push(("PATH".into(), "/nonexistent".into()));
    let (o, v) = audit_json(&env, &[]);
    assert_eq!(v["status"], "incomplete", "no matrix: a part was skipped, so not clean: {v}");
    assert_eq!(o.code, 1);
    assert!(v["skipped"][0].as_str().unwrap().contains("matrix"), "{v}");
    matrix(&mut env);
    let (o, v) = audit_json(&env, &[]);
    assert_eq!((o.code, v["status"].as_str()), (0, Some("clean")), "{o:?}");
}

#[test]
fn a_locked_sqlite_store_is_a_clear_error_after_a_bounded_wait_and_nothing_changes() {
    let env = vault_env();
    let token = setup_token("LOCKED");
    let db = shared_store(&env, &token_doc(&token), false);
    let before = std::fs::read(&db).unwrap();
    let holder = Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE; UPDATE config_machine_state SET updated_at_ms = 3;").unwrap();
    let started = std::time::Instant::now();
    let o = env.run(&["doctor", "--json"], "");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "the wait is bounded");
    assert_eq!(o.code, 1, "{o:?}");
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    let f = v["findings"].as_array().unwrap().iter().find(|f| f["code"] == "STORE_UNREADABLE").expect("reported");
    assert_eq!(f["path"].as_str(), Some(db.to_str().unwrap()));
    assert!(f["message"].as_str().unwrap().contains("locked"), "{f}");
    let (o, v) = audit_json(&env, &[]);
    assert_ne!(o.code, 0);
    assert_ne!(v["status"], "clean");
    no_canary(&o, &[&token]);
    holder.execute_batch("ROLLBACK").unwrap();
    assert_eq!(std::fs::read(&db).unwrap(), before, "clawkeep changed the locked database");
}

#[test]
fn a_corrupt_sqlite_store_is_refused_naming_the_file() {
    let env = vault_env();
    let dir = env.state.join("state");
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("openclaw.sqlite");
    let mut junk = b"SQLite format 3\0".to_vec();
    junk.extend(std::iter::repeat_n(0xA5u8, 4096));
    std::fs::write(&db, &junk).unwrap();
    let o = env.run(&["doctor", "--json"], "");
    assert_eq!(o.code, 1, "{o:?}");
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    let f = v["findings"].as_array().unwrap().iter().find(|f| f["code"] == "STORE_UNREADABLE").expect("reported");
    assert!(f["message"].as_str().unwrap().contains("corrupt"), "{f}");
    assert_eq!(std::fs::read(&db).unwrap(), junk, "the file was changed");
    let (o, _) = audit_json(&env, &[]);
    assert_eq!(o.code, 1);
    // migrate refuses before it moves anything (the .env key stays where it is).
    write_private(&env.state.join(".env"), &format!("OPENROUTER_API_KEY={ROUTER}\n"));
    let before = env.snapshot();
    let o = env.run(&["migrate"], "");
    assert_eq!(o.code, 76, "{o:?}");
    assert!(o.stderr.contains("openclaw.sqlite"), "{o:?}");
    no_canary(&o, &[ROUTER]);
    assert_eq!(env.snapshot(), before, "migrate changed files before refusing");
}

#[test]
fn an_unknown_sqlite_schema_is_refused_and_nothing_changes() {
    let env = vault_env();
    // A table of that name with other columns (a future OpenClaw), and a version this clawkeep does not know.
    let dir = env.state.join("state");
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("openclaw.sqlite");
    let c = Connection::open(&db).unwrap();
    c.execute_batch("CREATE TABLE config_machine_state (k TEXT PRIMARY KEY, blob_v BLOB);").unwrap();
    drop(c);
    let before = std::fs::read(&db).unwrap();
    let o = env.run(&["doctor"], "");
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stdout.contains("STORE_UNREADABLE") && o.stdout.contains("schema this clawkeep does not understand"),
        "{o:?}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
    let env2 = Env::new();
    env2.init_file();
    agent_store(&env2, "main", &json!({"version": 7, "profiles": {}}));
    let o = env2.run(&["doctor"], "");
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stdout.contains("unsupported version 7"), "{o:?}");
}

#[test]
fn the_residue_scan_reports_file_and_offset_never_the_value() {
    let env = vault_env();
    env.run(&["models", "auth", "add", "--provider", "openai"], OPENAI);
    // Old bytes of the migrated key left in a WAL and in a stale backup.
    let dir = env.state.join("state");
    std::fs::create_dir_all(&dir).unwrap();
    let mut wal = vec![0u8; 1000];
    wal.extend_from_slice(OPENAI.as_bytes());
    write_private(&dir.join("openclaw.sqlite-wal"), "");
    std::fs::write(dir.join("openclaw.sqlite-wal"), &wal).unwrap();
    write_private(&env.state.join("openclaw.json.bak"), &format!("{{\"k\":\"{OPENAI}\"}}"));
    let (o, v) = audit_json(&env, &["--residue"]);
    no_canary(&o, &[OPENAI]);
    assert_eq!(o.code, 1, "{o:?}");
    assert_eq!(v["residueScanned"], true);
    let f: Vec<&Value> = v["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "SQLITE_RESIDUE").collect();
    assert_eq!(f.len(), 1, "{v}");
    assert_eq!(f[0]["jsonPath"], "byte offset 1000");
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "FILE_RESIDUE" && f["file"].as_str().unwrap().ends_with("openclaw.json.bak")),
        "{v}"
    );
    // Without --residue nothing is read from the vault and no residue is reported.
    let (_, v) = audit_json(&env, &[]);
    assert_eq!(v["residueScanned"], false);
    assert!(!v["findings"].as_array().unwrap().iter().any(|f| f["code"] == "SQLITE_RESIDUE"));
}

/// A stand-in for the `openclaw` CLI: `--version`, and `secrets apply` that fails (`fail`), reports success without
/// writing (`noop`), or writes the plan's auth-profile refs into the per-agent store as OpenClaw 2026.9.6 does (`write`).
fn fake_openclaw(env: &mut Env, mode: &str) {
    let script = env.dir.path().join("openclaw");
    let body = format!(
        r#"#!/bin/sh
if [ "$1" = "--version" ]; then echo "OpenClaw 2026.9.6 (fake)"; exit 0; fi
[ "$1 $2" = "secrets apply" ] || exit 64
plan="$4"
echo "$@" >> "{log}"
case "{mode}" in
  fail) echo "Error: simulated apply failure" >&2; exit 1 ;;
  noop) echo '{{"mode":"write","changed":true,"changedFiles":[]}}'; exit 0 ;;
esac
for a in "$@"; do [ "$a" = "--dry-run" ] && {{ echo '{{"mode":"dry-run","changed":false}}'; exit 0; }}; done
python3 - "$plan" "{state}" <<'PY'
import json, sqlite3, sys, os
plan = json.load(open(sys.argv[1])); state = sys.argv[2]
for t in plan["targets"]:
    if not t["type"].startswith("auth-profiles."): continue
    d = os.path.join(state, "agents", t["agentId"], "agent"); os.makedirs(d, exist_ok=True)
    c = sqlite3.connect(os.path.join(d, "openclaw-agent.sqlite"))
    c.execute("CREATE TABLE IF NOT EXISTS auth_profile_store (store_key TEXT NOT NULL PRIMARY KEY, store_json TEXT NOT NULL, updated_at INTEGER NOT NULL) STRICT")
    pid = t["pathSegments"][1]; field = t["pathSegments"][2]
    doc = {{"version": 1, "profiles": {{pid: {{"type": "token" if field == "token" else "api_key", "provider": t["authProfileProvider"], field + "Ref": t["ref"]}}}}}}
    c.execute("INSERT OR REPLACE INTO auth_profile_store VALUES ('primary', ?, 1)", (json.dumps(doc),)); c.commit()
print(json.dumps({{"mode": "write", "changed": True}}))
PY
"#,
        log = env.dir.path().join("openclaw.log").display(),
        mode = mode,
        state = env.state.display()
    );
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    env.extra_env.push(("CLAWKEEP_OPENCLAW_BIN".into(), script.display().to_string()));
}

/// A state dir as OpenClaw 2026.9.6 leaves it after `paste-token`, with clawkeep wired (the entry is not run by the
/// stand-in).
fn seeded(mode: &str) -> (Env, String, std::path::PathBuf) {
    let mut env = Env::new();
    matrix(&mut env);
    fake_openclaw(&mut env, mode);
    env.init_file();
    let token = setup_token("APPLY");
    let db = shared_store(&env, &token_doc(&token), true);
    std::fs::write(
        env.state.join("openclaw.json"),
        json!({"secrets": {"providers": {"clawkeep": {"source": "exec", "command": "/bin/true", "args": ["resolve"]}}}})
            .to_string(),
    )
    .unwrap();
    (env, token, db)
}

fn db_files(db: &std::path::Path) -> Vec<u8> {
    let mut all = std::fs::read(db).unwrap();
    for s in ["-wal", "-journal"] {
        let mut p = db.as_os_str().to_os_string();
        p.push(s);
        all.extend(std::fs::read(std::path::PathBuf::from(p)).unwrap_or_default());
    }
    all
}

#[test]
fn a_failed_apply_leaves_no_secret_in_the_vault_and_the_stores_unchanged() {
    let (env, token, db) = seeded("fail");
    let before = db_files(&db);
    let o = env.run(&["migrate", "--accept-no-undo"], "");
    assert_eq!(o.code, 80, "{o:?}");
    assert!(o.stderr.contains("simulated apply failure"), "{o:?}");
    assert!(o.stderr.contains("OpenClaw 2026.9.6 (fake)") && o.stderr.contains("nothing was moved"), "{o:?}");
    no_canary(&o, &[&token]);
    assert_eq!(db_files(&db), before, "the shared store changed");
    let index = std::fs::read_to_string(env.ck().join("index.json")).unwrap();
    assert!(!index.contains("anthropic:manual"), "a secret whose ref was never written stayed in the vault: {index}");
    let o = env.run(&["get", "anthropic:manual"], "");
    assert_ne!(o.code, 0, "{o:?}");
}

#[test]
fn the_shared_store_is_cleared_only_once_the_per_agent_store_holds_the_ref() {
    // OpenClaw says it changed something but wrote no ref: the plaintext stays, the secret stays in the vault.
    let (env, token, db) = seeded("noop");
    let o = env.run(&["migrate", "--accept-no-undo"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("ref-written-plaintext-left"), "{o:?}");
    assert!(
        db_files(&db).windows(token.len()).any(|w| w == token.as_bytes()),
        "the plaintext was dropped without a ref in place"
    );
    assert_eq!(env.run(&["get", "anthropic:manual"], "").stdout.trim(), token);
    // OpenClaw writes the ref into the per-agent store (as 2026.9.6 does) and leaves the shared plaintext: clawkeep
    // replaces exactly that field with the same ref, and no byte of the token is left in the database or its WAL.
    let (env, token, db) = seeded("write");
    // OpenClaw's config writer's backups: one holding the value about to move, one not.
    write_private(&env.state.join("openclaw.json.bak"), &format!("{{\"old\": \"{token}\"}}"));
    write_private(&env.state.join("openclaw.json.bak.1"), "{}");
    let o = env.run(&["migrate", "--json", "--accept-no-undo"], "");
    assert_eq!(o.code, 0, "{o:?}");
    no_canary(&o, &[&token]);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["openclawApply"]["sharedStoreCleared"], json!(["anthropic:manual"]), "{v}");
    assert_eq!(v["openclawApply"]["items"][0]["action"], "moved", "{v}");
    assert_eq!(
        v["openclawApply"]["backupsRemoved"],
        json!([env.state.join("openclaw.json.bak")]),
        "the plaintext copy is kept only encrypted: {v}"
    );
    assert!(!env.state.join("openclaw.json.bak").exists() && env.state.join("openclaw.json.bak.1").exists());
    let index = std::fs::read_to_string(env.ck().join("index.json")).unwrap();
    assert!(index.contains("backup#openclaw-bak-"), "{index}");
    let plan = &v["openclawApply"]["plan"];
    assert_eq!(plan["providerUpserts"]["clawkeep"]["command"], "/bin/true");
    assert_eq!(plan["targets"][0]["type"], "auth-profiles.token.token");
    assert_eq!(plan["targets"][0]["ref"]["id"], "main/anthropic:manual");
    let c = Connection::open(&db).unwrap();
    let doc: String = c
        .query_row("SELECT value_json FROM config_machine_state WHERE state_key = 'authProfiles.store'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(
        doc["profiles"]["anthropic:manual"],
        json!({"type": "token", "provider": "anthropic",
               "tokenRef": {"source": "exec", "provider": "clawkeep", "id": "main/anthropic:manual"}})
    );
    let other: String = c
        .query_row("SELECT value_json FROM config_machine_state WHERE state_key = 'auth.sharedStore'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(other, "{\"location\":\"state-db\"}", "another row changed");
    drop(c);
    assert!(!db_files(&db).windows(token.len()).any(|w| w == token.as_bytes()), "token bytes left in the db or WAL");
    assert_eq!(env.run(&["get", "anthropic:manual"], "").stdout.trim(), token);
    let log = std::fs::read_to_string(env.dir.path().join("openclaw.log")).unwrap();
    assert!(log.lines().next().unwrap().contains("--dry-run"), "dry run first: {log}");
}

#[test]
fn wire_leaves_no_plaintext_copy_of_any_surface_credential() {
    let env = vault_env();
    let cfg = env.state.join("openclaw.json");
    std::fs::write(
        &cfg,
        json!({"models": {"providers": {"openai": {"apiKey": OPENAI}}}, "channels": {"discord": {"token": ROUTER}}})
            .to_string(),
    )
    .unwrap();
    let o = env.run(&["openclaw", "wire", "--binary", env!("CARGO_BIN_EXE_clawkeep")], "");
    assert_eq!(o.code, 0, "{o:?}");
    no_canary(&o, &[OPENAI, ROUTER]);
    let bak = std::fs::read_to_string(env.state.join("openclaw.json.clawkeep.bak")).unwrap();
    assert!(!bak.contains(OPENAI) && !bak.contains(ROUTER), "the backup holds a plaintext credential: {bak}");
    assert!(bak.contains("channels"), "{bak}");
}

#[test]
fn an_older_releases_state_db_without_the_auth_table_holds_no_shared_store() {
    // OpenClaw 2026.7 has a state/openclaw.sqlite without config_machine_state; its profiles are per agent.
    let env = vault_env();
    let dir = env.state.join("state");
    std::fs::create_dir_all(&dir).unwrap();
    Connection::open(dir.join("openclaw.sqlite")).unwrap().execute_batch("CREATE TABLE kv (k TEXT, v TEXT);").unwrap();
    let token = setup_token("AGENT");
    let db = agent_store(&env, "main", &token_doc(&token));
    let (_, v) = audit_json(&env, &[]);
    assert!(v["findings"].as_array().unwrap().iter().any(|f| f["code"] == "INSECURE_PERMISSIONS"), "{v}");
    std::fs::set_permissions(&db, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let (o, v) = audit_json(&env, &[]);
    no_canary(&o, &[&token]);
    let codes: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["PLAINTEXT_FOUND"], "{v}");
    assert_eq!(v["credentials"][0]["store"], "agent-sqlite");
}

#[test]
fn profiles_openclaw_holds_only_in_sqlite_are_listed_as_such() {
    let env = Env::new();
    env.init_file();
    let token = setup_token("LISTED");
    shared_store(&env, &token_doc(&token), true);
    let o = env.run(&["models", "auth", "list", "--json"], "");
    assert_eq!(o.code, 0, "{o:?}");
    no_canary(&o, &[&token]);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    let p = v.as_array().unwrap().iter().find(|p| p["profileId"] == "anthropic:manual").expect("listed");
    assert_eq!((p["store"].as_str(), p["openclawStore"].as_str()), (Some("plaintext"), Some("shared-sqlite")), "{p}");
    let o = env.run(&["models", "auth", "list"], "");
    assert!(o.stdout.contains("anthropic:manual (OpenClaw shared-sqlite)"), "{o:?}");
    let o = env.run(&["models", "status", "--json"], "");
    no_canary(&o, &[&token]);
    assert!(o.stdout.contains("anthropic:manual") && o.stdout.contains("plaintext"), "{o:?}");
}

fn agent_doc(db: &std::path::Path) -> Value {
    let c = Connection::open(db).unwrap();
    let doc: String =
        c.query_row("SELECT store_json FROM auth_profile_store WHERE store_key = 'primary'", [], |r| r.get(0)).unwrap();
    serde_json::from_str(&doc).unwrap()
}

#[test]
fn add_on_the_sqlite_layout_writes_the_ref_through_apply_and_remove_takes_openclaws_copy_out() {
    let (env, token, _) = seeded("write");
    let o = env.run(&["models", "auth", "add", "--provider", "openai"], OPENAI);
    assert_eq!(o.code, 0, "{o:?}");
    no_canary(&o, &[OPENAI, &token]);
    assert!(o.stdout.contains("written through `openclaw secrets apply`"), "{o:?}");
    assert!(!env.auth_profiles().exists(), "a legacy auth-profiles.json was written for doctor --fix to import");
    let log = std::fs::read_to_string(env.dir.path().join("openclaw.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines[0].contains("--dry-run") && lines[0].contains("--allow-exec"), "dry run first: {log}");
    assert!(!lines[1].contains("--dry-run") && lines[1].contains("--allow-exec"), "{log}");
    let plan: Value =
        serde_json::from_slice(&std::fs::read(env.ck().join("openclaw-apply-plan.json")).unwrap()).unwrap();
    assert_eq!(
        plan["targets"],
        json!([{"type": "auth-profiles.api_key.key", "path": "profiles.openai:default.key",
                "pathSegments": ["profiles", "openai:default", "key"], "agentId": "main", "authProfileProvider": "openai",
                "ref": {"source": "exec", "provider": "clawkeep", "id": "main/openai:default"}}]),
        "{plan}"
    );
    let db = env.agent_dir("main").join("openclaw-agent.sqlite");
    assert_eq!(
        agent_doc(&db)["profiles"]["openai:default"]["keyRef"],
        json!({"source": "exec", "provider": "clawkeep", "id": "main/openai:default"})
    );
    assert_eq!(env.run(&["get", "openai:default"], "").stdout.trim(), OPENAI);
    // The same profile again is refused (OpenClaw's store has it), without a second apply.
    let o = env.run(&["models", "auth", "add", "--provider", "openai"], OPENAI);
    assert_ne!(o.code, 0, "{o:?}");
    // This stand-in has no `models auth logout` (as 2026.7.33): the ref goes in one transaction, then the secret.
    let o = env.run(&["models", "auth", "remove", "openai:default"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("Removed OpenClaw's copy"), "{o:?}");
    assert!(agent_doc(&db)["profiles"].get("openai:default").is_none(), "{}", agent_doc(&db));
    assert_ne!(env.run(&["get", "openai:default"], "").code, 0);
    // The shared store's plaintext token (not clawkeep's) was not touched.
    assert!(db_files(&env.state.join("state/openclaw.sqlite")).windows(token.len()).any(|w| w == token.as_bytes()));
}

#[test]
fn a_failed_apply_on_add_leaves_no_secret_in_the_vault_and_no_legacy_file() {
    let (env, token, db) = seeded("fail");
    let before = db_files(&db);
    let o = env.run(&["models", "auth", "add", "--provider", "openai"], OPENAI);
    assert_eq!(o.code, 80, "{o:?}");
    assert!(o.stderr.contains("simulated apply failure") && o.stderr.contains("nothing was stored"), "{o:?}");
    no_canary(&o, &[OPENAI, &token]);
    let index = std::fs::read_to_string(env.ck().join("index.json")).unwrap();
    assert!(!index.contains("openai:default"), "a secret whose ref was never written stayed in the vault: {index}");
    assert_ne!(env.run(&["get", "openai:default"], "").code, 0);
    assert!(!env.auth_profiles().exists());
    assert_eq!(db_files(&db), before);
}

#[test]
fn add_on_the_sqlite_layout_without_openclaw_writes_auth_profiles_json_and_says_so() {
    let mut env = vault_env();
    shared_store(&env, &token_doc(&setup_token("NOBIN")), true);
    env.extra_env.push(("PATH".into(), "/usr/bin:/bin".into()));
    let o = env.run(&["models", "auth", "add", "--provider", "openai"], OPENAI);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("`openclaw` is not on PATH"), "{o:?}");
    assert!(o.stderr.contains("openclaw doctor --fix"), "{o:?}");
    assert!(std::fs::read_to_string(env.auth_profiles()).unwrap().contains("main/openai:default"));
}

#[test]
fn migrate_refuses_before_moving_what_undo_cannot_restore_unless_accepted() {
    let (env, token, db) = seeded("write");
    let before = db_files(&db);
    let o = env.run(&["migrate"], "");
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("could not put these back in plaintext"), "{o:?}");
    assert!(o.stderr.contains(&format!("{} profiles.anthropic:manual.token", db.display())), "{o:?}");
    assert!(o.stderr.contains("--accept-no-undo") && o.stderr.contains("Nothing was changed"), "{o:?}");
    no_canary(&o, &[&token]);
    assert_eq!(db_files(&db), before, "the store changed although migrate refused");
    assert!(!std::path::Path::new(&env.dir.path().join("openclaw.log")).exists(), "OpenClaw's apply ran");
    assert!(!std::fs::read_to_string(env.ck().join("index.json")).unwrap().contains("anthropic:manual"));
    // A dry run needs no consent; the explicit flag moves it.
    assert_eq!(env.run(&["migrate", "--dry-run"], "").code, 0);
    let o = env.run(&["migrate", "--accept-no-undo"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(env.run(&["get", "anthropic:manual"], "").stdout.trim(), token);
    // --undo says what it does not restore.
    let o = env.run(&["migrate", "--undo"], "");
    assert!(o.stderr.contains("not restored by --undo") || o.stderr.contains("no migration backup"), "{o:?}");
}

#[test]
fn audit_reports_linked_files_where_credentials_are_expected() {
    let env = vault_env();
    std::fs::create_dir_all(env.agent_dir("main")).unwrap();
    let elsewhere = env.dir.path().join("elsewhere.json");
    write_private(&elsewhere, "{\"version\":1,\"profiles\":{}}");
    std::os::unix::fs::symlink(&elsewhere, env.auth_profiles()).unwrap();
    let env_file = env.state.join(".env");
    write_private(&env_file, "# nothing\n");
    std::fs::hard_link(&env_file, env.dir.path().join("env-copy")).unwrap();
    let (o, v) = audit_json(&env, &[]);
    assert_eq!(o.code, 1, "{o:?}");
    let linked: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "LINKED_FILE")
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert!(linked.contains(&env.auth_profiles().to_str().unwrap()), "{v}");
    assert!(linked.contains(&env_file.to_str().unwrap()), "{v}");
    assert_eq!(linked.len(), 2, "{v}");
}

#[test]
fn audit_reports_expired_and_expiring_tokens_in_the_sqlite_stores() {
    let env = vault_env();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let r = |id: &str| json!({"source": "exec", "provider": "clawkeep", "id": id});
    agent_store(
        &env,
        "main",
        &json!({"version": 1, "profiles": {
            "anthropic:old": {"type": "token", "provider": "anthropic", "tokenRef": r("main/anthropic:old"), "expires": now - 3_600_000},
            "anthropic:soon": {"type": "token", "provider": "anthropic", "tokenRef": r("main/anthropic:soon"), "expires": now + 3_600_000},
            "anthropic:later": {"type": "token", "provider": "anthropic", "tokenRef": r("main/anthropic:later"), "expires": now + 30 * 86_400_000i64}}}),
    );
    shared_store(
        &env,
        &json!({"version": 1, "profiles": {"openai:gone": {"type": "token", "provider": "openai", "token": "t0k3n-gone-xxxxxxxx", "expires": 1000}}}),
        true,
    );
    let (o, v) = audit_json(&env, &[]);
    no_canary(&o, &["t0k3n-gone-xxxxxxxx"]);
    let codes: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "EXPIRED" || f["code"] == "EXPIRING")
        .map(|f| (f["code"].as_str().unwrap().into(), f["profileId"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("EXPIRED".into(), "anthropic:old".into()),
            ("EXPIRING".into(), "anthropic:soon".into()),
            ("EXPIRED".into(), "openai:gone".into())
        ],
        "{v}"
    );
    let f = v["findings"].as_array().unwrap().iter().find(|f| f["profileId"] == "anthropic:old").unwrap();
    assert_eq!(f["jsonPath"], "auth_profile_store[primary]:profiles.anthropic:old.expires", "{f}");
    assert_eq!(f["severity"], "error");
}

#[test]
fn audit_reports_secrets_older_than_the_maximum_age() {
    let env = vault_env();
    assert_eq!(env.run(&["models", "auth", "add", "--provider", "openai"], OPENAI).code, 0);
    std::fs::write(env.state.join("openclaw.json"), "{}").unwrap();
    let not_rotated =
        |v: &Value| v["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "NOT_ROTATED").count();
    let (o, v) = audit_json(&env, &[]);
    assert_eq!((o.code, not_rotated(&v)), (0, 0), "a fresh secret: {o:?}");
    // Stored 100 days ago: older than the default 90 days.
    let idx = env.ck().join("index.json");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&idx).unwrap()).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    for (_, e) in doc["secrets"].as_object_mut().unwrap() {
        e["updated"] = json!(now - 100 * 86_400_000i64);
        e["created"] = json!(now - 100 * 86_400_000i64);
    }
    std::fs::write(&idx, doc.to_string()).unwrap();
    let (o, v) = audit_json(&env, &[]);
    assert_eq!((o.code, not_rotated(&v)), (1, 1), "{v}");
    let f = v["findings"].as_array().unwrap().iter().find(|f| f["code"] == "NOT_ROTATED").unwrap();
    assert_eq!(f["jsonPath"], "main/openai:default");
    assert!(f["message"].as_str().unwrap().contains("100d"), "{f}");
    // A larger --max-age, or 0, accepts it.
    let (o, v) = audit_json(&env, &["--max-age", "365d"]);
    assert_eq!((o.code, not_rotated(&v)), (0, 0), "{v}");
    let (o, v) = audit_json(&env, &["--max-age", "0"]);
    assert_eq!((o.code, not_rotated(&v)), (0, 0), "{v}");
    let o = env.run(&["audit", "--max-age", "soon"], "");
    assert_eq!(o.code, 65, "{o:?}");
}

#[test]
fn audit_reports_an_unreachable_keychain_and_the_rest_and_is_never_clean() {
    for p in ["dbus-daemon", "dbus-send", "gnome-keyring-daemon"] {
        if !have(p) {
            skip("audit_reports_an_unreachable_keychain_and_the_rest_and_is_never_clean", &format!("`{p}` missing"));
            return;
        }
    }
    let bus = Bus::start(true);
    let mut env = Env::new();
    matrix(&mut env);
    env.extra_env = bus.env();
    env.extra_env.push(("XDG_DATA_HOME".into(), bus.dir.path().join("data").display().to_string()));
    assert_eq!(env.run(&["init", "--backend", "keychain"], "").code, 0);
    assert_eq!(env.run(&["models", "auth", "add", "--provider", "openai"], OPENAI).code, 0);
    write_private(&env.state.join(".env"), &format!("OPENROUTER_API_KEY={ROUTER}\n"));
    std::fs::write(env.state.join("openclaw.json"), "{}").unwrap();
    // The session bus goes away: the vault's keychain cannot be reached.
    for (k, v) in env.extra_env.iter_mut() {
        if k == "DBUS_SESSION_BUS_ADDRESS" {
            *v = format!("unix:path={}", env.dir.path().join("no-bus").display());
        }
    }
    for extra in [&[][..], &["--residue"][..]] {
        let (o, v) = audit_json(&env, extra);
        no_canary(&o, &[OPENAI, ROUTER]);
        assert_eq!(o.code, 1, "{o:?}");
        let codes: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
        assert!(codes.contains(&"KEYCHAIN_UNAVAILABLE"), "{v}");
        assert!(codes.contains(&"PLAINTEXT_FOUND"), "the rest is still reported: {v}");
        assert!(!codes.contains(&"REF_UNRESOLVED"), "an unreachable store is not an unresolved ref: {v}");
        assert_ne!(v["status"], "clean");
        assert_eq!(v["residueScanned"], false, "{v}");
    }
    drop(bus);
}

/// Item: a known secret never appears in `clawkeep audit`'s output (JSON or text, with the residue scan), whatever
/// it finds: plaintext in every store, the vault's values in residue files, duplicates, expiry.
#[test]
fn audit_output_never_holds_a_secret_value_json_or_text_with_residue() {
    let env = vault_env();
    let token = setup_token("AUDITCANARY");
    let vault_key = "sk-proj-AUDITCANARYvault0123456789abcdef";
    assert_eq!(env.run(&["models", "auth", "add", "--provider", "openai"], vault_key).code, 0);
    shared_store(&env, &token_doc(&token), true);
    agent_store(
        &env,
        "main",
        &json!({"version": 1, "profiles": {"anthropic:dup": {"type": "token", "provider": "anthropic", "token": token, "expires": 1000}}}),
    );
    std::fs::write(
        env.state.join("openclaw.json"),
        json!({"models": {"providers": {"openai": {"apiKey": vault_key}}}, "channels": {"discord": {"token": ROUTER}}})
            .to_string(),
    )
    .unwrap();
    write_private(&env.state.join(".env"), &format!("OPENROUTER_API_KEY={ROUTER}\n"));
    write_private(&env.state.join("openclaw.json.bak"), &format!("{{\"k\":\"{vault_key}\"}}"));
    write_private(&env.state.join("logs/session.jsonl"), &format!("{{\"said\":\"{vault_key} {token}\"}}\n"));
    for args in [
        &["audit", "--json", "--residue"][..],
        &["audit", "--residue"][..],
        &["audit", "--json", "--check", "--residue"][..],
        &["audit"][..],
    ] {
        let o = env.run(args, "");
        assert!(o.stdout.contains("PLAINTEXT_FOUND") && o.stdout.contains("EXPIRED"), "{args:?}: {o:?}");
        assert_eq!(o.stdout.contains("FILE_RESIDUE"), args.contains(&"--residue"), "{args:?}: {o:?}");
        assert!(o.stdout.contains("DUPLICATE_SECRET"), "{args:?}: {o:?}");
        for s in [token.as_str(), vault_key, ROUTER, "AUDITCANARY"] {
            assert!(!o.stdout.contains(s) && !o.stderr.contains(s), "{args:?} printed a secret: {o:?}");
        }
    }
}
