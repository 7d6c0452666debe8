//! `clawkeep resolve`: OpenClaw's exec SecretRef provider protocol v1, straight from the store.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;
use common::*;
use serde_json::{Value, json};

fn resolve(env: &Env, req: &str) -> (Out, Option<Value>) {
    let o = env.run(&["resolve"], req);
    let v = serde_json::from_str(&o.stdout).ok();
    (o, v)
}

#[test]
fn values_and_not_found_and_invalid_ids() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "anthropic"], "sk-ant-api03-resolve");
    let (o, v) = resolve(
        &env,
        r#"{"protocolVersion":1,"provider":"clawkeep","ids":["main/anthropic:default","main/openai:default","../x"]}"#,
    );
    assert_eq!(o.code, 0, "{o:?}");
    let v = v.unwrap();
    assert_eq!(v["protocolVersion"], 1);
    assert_eq!(v["values"], json!({"main/anthropic:default": "sk-ant-api03-resolve"}));
    assert_eq!(v["errors"]["main/openai:default"]["code"], "NOT_FOUND");
    assert_eq!(v["errors"]["../x"]["code"], "INVALID_ID");
    assert!(o.stderr.is_empty(), "{o:?}");
    assert_eq!(o.stdout.lines().count(), 1, "only the JSON line on stdout");
    // A bare profile id means agent `main`, as through the service.
    let (_, v) = resolve(&env, r#"{"protocolVersion":1,"provider":"clawkeep","ids":["anthropic:default","nocolon"]}"#);
    let v = v.unwrap();
    assert_eq!(v["values"], json!({"anthropic:default": "sk-ant-api03-resolve"}));
    assert_eq!(v["errors"]["nocolon"]["code"], "NOT_FOUND");
}

#[test]
fn file_store_without_passphrase_answers_locked_distinctly() {
    let env = Env::new();
    env.init_file();
    env.run(&["models", "auth", "add", "--provider", "anthropic"], "sk-ant-api03-x");
    let mut c = env.cmd(&["resolve"]);
    c.env_remove("CLAWKEEP_PASSPHRASE_FILE");
    let o = run_cmd(&mut c, r#"{"protocolVersion":1,"provider":"clawkeep","ids":["main/anthropic:default"]}"#);
    assert_eq!(o.code, 0, "{o:?}");
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["errors"]["main/anthropic:default"]["code"], "LOCKED");
    assert!(v["values"].as_object().unwrap().is_empty());
}

#[test]
fn bad_requests_are_refused_with_nothing_on_stdout() {
    let env = Env::new();
    env.init_file();
    let big = format!(r#"{{"protocolVersion":1,"ids":["{}"]}}"#, "a".repeat(70 * 1024));
    for (req, msg) in [
        ("not json", "malformed exec request"),
        (r#"{"protocolVersion":2,"ids":[]}"#, "unsupported exec protocolVersion 2"),
        (big.as_str(), "larger than"),
    ] {
        let (o, _) = resolve(&env, req);
        assert_eq!(o.code, 65, "{req:.40}: {o:?}");
        assert!(o.stderr.contains(msg), "{o:?}");
        assert!(o.stdout.is_empty());
    }
}
