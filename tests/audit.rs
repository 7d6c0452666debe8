//! The access log from the outside: real `resolve`/`get`/`exec` runs and a real service write it; `audit log
//! --verify` finds each kind of tampering; rotation, fail-closed and concurrent writers.
#![allow(clippy::disallowed_methods)] // tests read and tamper with their fixtures directly

mod common;

use std::path::{Path, PathBuf};

use common::Env;
use common::service::Service;
use serde_json::{Value, json};

const KEY: &str = "sk-ant-api03-AUDIT-canary-key-0123456789abcdef";

fn file_env() -> Env {
    let env = Env::new();
    env.init_file();
    let o = env.run(&["models", "auth", "add", "--provider", "anthropic"], KEY);
    assert_eq!(o.code, 0, "{o:?}");
    env
}

fn audit_dir(env: &Env) -> PathBuf {
    env.ck().join("audit")
}

fn log_file(env: &Env, n: u32) -> PathBuf {
    audit_dir(env).join(format!("access-{n:06}.log"))
}

fn lines(env: &Env) -> Vec<Value> {
    let mut out = Vec::new();
    for n in 1.. {
        let Ok(text) = std::fs::read_to_string(log_file(env, n)) else { break };
        out.extend(text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()));
    }
    out
}

fn resolve_req(ids: &[&str]) -> String {
    json!({"protocolVersion":1,"provider":"clawkeep","ids":ids}).to_string()
}

fn verify(env: &Env) -> common::Out {
    env.run(&["audit", "log", "--verify"], "")
}

#[test]
fn tampering_of_each_kind_is_detected_naming_the_first_bad_line() {
    let env = file_env();
    // A copy of the vault (same key) that goes its own way: its third line is well formed and chained to the same
    // second line, but is not the line this log holds.
    let copy = env.dir.path().join("copy");
    assert!(std::process::Command::new("cp").arg("-a").arg(env.ck()).arg(&copy).status().unwrap().success());
    let mut c = env.cmd(&["get", "other:profile"]);
    c.env("CLAWKEEP_DIR", &copy);
    assert_eq!(common::run_cmd(&mut c, "").code, 66);
    let foreign = std::fs::read_to_string(copy.join("audit").join("access-000001.log")).unwrap();
    let foreign_third = foreign.lines().nth(2).unwrap().to_string();
    for _ in 0..3 {
        assert_eq!(env.run(&["get", "anthropic:default"], "").code, 0);
    }
    // init, add, 3 gets.
    let path = log_file(&env, 1);
    let original = std::fs::read_to_string(&path).unwrap();
    assert_eq!(original.lines().count(), 5, "{original}");
    let o = verify(&env);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("intact: 5 lines"), "{o:?}");
    let name = path.display().to_string();
    let ls: Vec<&str> = original.lines().collect();
    let join = |v: Vec<&str>| v.iter().map(|l| format!("{l}\n")).collect::<String>();
    let edited = ls[2].replace("\"outcome\":\"ok\"", "\"outcome\":\"NOT_FOUND\"");
    assert_ne!(edited, ls[2]);
    let cases: Vec<(&str, String, String)> = vec![
        ("edited", join(vec![ls[0], ls[1], &edited, ls[3], ls[4]]), format!("{name}:3:")),
        ("removed", join(vec![ls[0], ls[1], ls[3], ls[4]]), format!("{name}:3:")),
        ("inserted", join(vec![ls[0], ls[1], ls[2], ls[2], ls[3], ls[4]]), format!("{name}:4:")),
        ("reordered", join(vec![ls[0], ls[2], ls[1], ls[3], ls[4]]), format!("{name}:2:")),
        ("truncated", format!("{}{}", join(vec![ls[0], ls[1], ls[2], ls[3]]), &ls[4][..40]), format!("{name}:5:")),
        ("first removed", join(vec![ls[1], ls[2], ls[3], ls[4]]), format!("{name}:1:")),
        // Same seq, valid MAC, right `prev`: only the next line's `prev` shows the splice.
        ("spliced from a copy", join(vec![ls[0], ls[1], &foreign_third, ls[3], ls[4]]), format!("{name}:4:")),
    ];
    for (kind, content, first_bad) in cases {
        std::fs::write(&path, content).unwrap();
        let o = verify(&env);
        assert_eq!(o.code, 1, "{kind}: {o:?}");
        assert!(o.stdout.contains(&first_bad), "{kind}: expected {first_bad} in {o:?}");
        // Showing the log stops at the same line.
        let shown = env.run(&["audit", "log"], "");
        assert_eq!(shown.code, 1, "{kind}: {shown:?}");
    }
    // A log removed whole, its key left behind.
    std::fs::remove_file(&path).unwrap();
    let o = verify(&env);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stdout.contains("access-000001.log: is missing"), "{o:?}");
}

#[test]
fn rotation_keeps_the_chain_across_files_and_a_missing_file_is_named() {
    let env = file_env();
    std::fs::write(env.ck().join("audit.json"), r#"{"maxFileBytes": 4096}"#).unwrap();
    // Refusals are logged too, and need no passphrase: quick lines (about 500 bytes each), until a third file starts.
    let mut gets = 0;
    for _ in 0..40 {
        assert_eq!(env.run(&["get", "nothing:here"], "").code, 66);
        gets += 1;
        if log_file(&env, 3).exists() {
            break;
        }
    }
    assert!(log_file(&env, 3).exists(), "{:?}", std::fs::read_dir(audit_dir(&env)).unwrap().collect::<Vec<_>>());
    for n in 1..=3 {
        assert!(std::fs::metadata(log_file(&env, n)).unwrap().len() <= 4096);
    }
    let o = verify(&env);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains(&format!("intact: {} lines in 3 files", gets + 2)), "{o:?}");
    // The first line of a new file names the last MAC of the previous one.
    let first_of_2: Value =
        serde_json::from_str(std::fs::read_to_string(log_file(&env, 2)).unwrap().lines().next().unwrap()).unwrap();
    let last_of_1: Value =
        serde_json::from_str(std::fs::read_to_string(log_file(&env, 1)).unwrap().lines().last().unwrap()).unwrap();
    assert_eq!(first_of_2["prev"], last_of_1["mac"]);
    // Filters: by profile, agent and age; a bad duration is refused.
    let o = env.run(&["audit", "log", "--profile", "nothing:here", "--since", "1h", "--json"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stdout.lines().count(), gets, "{o:?}");
    assert!(o.stdout.lines().all(|l| serde_json::from_str::<Value>(l).unwrap()["outcome"] == "NOT_FOUND"));
    let o = env.run(&["audit", "log", "--agent", "main", "--profile", "anthropic:default"], "");
    assert_eq!(o.stdout.lines().count(), 1, "only the add: {o:?}");
    assert!(o.stdout.contains(" add ") && o.stdout.contains("main/anthropic:default"), "{o:?}");
    let o = env.run(&["audit", "log", "--agent", "work"], "");
    assert_eq!((o.code, o.stdout.as_str()), (0, ""), "{o:?}");
    let o = env.run(&["audit", "log", "--since", "soon"], "");
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("--since"), "{o:?}");
    assert_eq!(env.run(&["audit", "log", "--verify", "--agent", "main"], "").code, 64);
    // A file missing in the middle of the rotation.
    std::fs::remove_file(log_file(&env, 2)).unwrap();
    let o = verify(&env);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stdout.contains("access-000002.log: is missing (a gap"), "{o:?}");
}

#[test]
fn an_unwritable_log_refuses_the_hand_out_and_the_setting_makes_it_a_warning() {
    let env = file_env();
    // The current log file cannot be opened for appending (as with a full disk or lost permissions; the tests run
    // as root, which permissions do not stop).
    std::fs::create_dir(log_file(&env, 2)).unwrap();
    let o = env.run(&["get", "anthropic:default"], "");
    assert_eq!(o.code, 82, "{o:?}");
    assert!(!o.stdout.contains(KEY) && o.stdout.is_empty(), "{o:?}");
    assert!(o.stderr.contains("access log cannot be written") && o.stderr.contains("onFailure"), "{o:?}");
    let o = env.run(&["resolve"], &resolve_req(&["main/anthropic:default"]));
    assert_eq!(o.code, 0, "{o:?}");
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["errors"]["main/anthropic:default"]["code"], "UNAVAILABLE", "{o:?}");
    assert!(!o.stdout.contains(KEY));
    let o = env.run(&["exec", "--profile", "anthropic:default", "--", "sh", "-c", "echo ${#ANTHROPIC_API_KEY}"], "");
    assert_eq!(o.code, 82, "{o:?}");
    // A change is refused before it is made.
    let before = env.snapshot();
    let o = env.run(&["models", "auth", "remove", "anthropic:default"], "");
    assert_eq!(o.code, 82, "{o:?}");
    assert_eq!(env.snapshot(), before);
    // The documented setting turns the refusal into a warning.
    std::fs::write(env.ck().join("audit.json"), r#"{"onFailure": "warn"}"#).unwrap();
    let o = env.run(&["get", "anthropic:default"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stdout.trim(), KEY);
    assert!(o.stderr.contains("warning: the access log was not written"), "{o:?}");
    // A broken setting refuses, naming the file.
    std::fs::write(env.ck().join("audit.json"), r#"{"onFailure": "maybe"}"#).unwrap();
    let o = env.run(&["get", "anthropic:default"], "");
    assert_eq!(o.code, 82, "{o:?}");
    assert!(o.stderr.contains("audit.json"), "{o:?}");
}

#[test]
fn concurrent_writers_lose_nothing() {
    let env = file_env();
    let procs = 8;
    let each = 50;
    let writing = std::sync::atomic::AtomicBool::new(true);
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..procs)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..each {
                        assert_eq!(env.run(&["get", "nothing:here"], "").code, 66);
                    }
                })
            })
            .collect();
        // Verifying while lines are being written never reads half a line.
        s.spawn(|| {
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                let o = verify(&env);
                assert_eq!(o.code, 0, "verify during writes: {o:?}");
            }
        });
        for w in writers {
            w.join().unwrap();
        }
        writing.store(false, std::sync::atomic::Ordering::Relaxed);
    });
    let o = verify(&env);
    assert_eq!(o.code, 0, "{o:?}");
    let all = lines(&env);
    assert_eq!(all.len(), 2 + procs * each);
    let refused = all.iter().filter(|l| l["outcome"] == "NOT_FOUND" && l["profile"] == "nothing:here").count();
    assert_eq!(refused, procs * each);
    let mut pids: Vec<_> = all.iter().map(|l| l["who"]["pid"].as_i64().unwrap()).collect();
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), all.len(), "one line per process");
}

fn call(socket: &Path, req: Value) -> Value {
    common::service::call_on(socket, req)
}

/// `sh -c '<clawkeep> resolve; true'` (the `; true` keeps the shell from exec'ing clawkeep in its place), as OpenClaw
/// runs its exec provider from a process that is not clawkeep.
fn resolve_from_sh(env: &Env, socket: Option<&Path>) -> common::Out {
    let bin = env!("CARGO_BIN_EXE_clawkeep");
    let c = env.cmd(&[]);
    let mut sh = std::process::Command::new("sh");
    sh.args(["-c", &format!("'{bin}' resolve; true")]);
    sh.env_clear();
    for (k, v) in c.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    if let Some(s) = socket {
        sh.env("CLAWKEEP_SOCKET", s);
    }
    sh.current_dir(env.dir.path());
    common::run_cmd(&mut sh, &resolve_req(&["main/anthropic:default"]))
}

#[test]
fn a_resolve_run_by_a_shell_names_the_shell_directly_and_through_the_service() {
    let env = file_env();
    let sh = std::fs::canonicalize("/bin/sh").unwrap().display().to_string();
    // Without the service: the resolve process writes its own line, naming its parent.
    let o = resolve_from_sh(&env, Some(&env.dir.path().join("no.sock")));
    assert!(o.stdout.contains(KEY), "{o:?}");
    let last = lines(&env).pop().unwrap();
    assert_eq!(
        (last["op"].as_str(), last["via"].as_str(), last["outcome"].as_str()),
        (Some("resolve"), Some("cli"), Some("ok"))
    );
    assert_eq!(last["profile"], "anthropic:default");
    assert_eq!(last["who"]["parent"]["exe"].as_str(), Some(sh.as_str()), "{last}");
    assert_eq!(last["who"]["cmdline"][1], "resolve");
    let fp = last["fp"].as_str().unwrap().to_string();
    assert_eq!(fp.len(), 32);
    // `models status` and `clawkeep audit` show the last use and by whom.
    let o = env.run(&["models", "status", "--json"], "");
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    let used = &v["lastUsed"]["anthropic:default"];
    assert_eq!(
        (used["op"].as_str(), used["by"]["parent"]["exe"].as_str()),
        (Some("resolve"), Some(sh.as_str())),
        "{v}"
    );
    let o = env.run(&["audit", "--json"], "");
    assert_eq!(o.code, 0, "{o:?}");
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["intact"], true);
    assert_eq!(v["profiles"][0]["profile"], "anthropic:default", "{v}");
    let o = env.run(&["models", "status"], "");
    assert!(o.stdout.contains("LAST USED") && o.stdout.contains(&format!("{sh}[")), "{o:?}");
    // Through the service: the service writes the line, naming the resolve peer and its parent, the shell.
    let svc = Service::start(&env, &["--unlock"]);
    let o = resolve_from_sh(&env, Some(&svc.socket));
    assert!(o.stdout.contains(KEY), "{o:?}");
    let last = lines(&env).pop().unwrap();
    assert_eq!((last["op"].as_str(), last["via"].as_str()), (Some("get"), Some("service")), "{last}");
    assert_eq!(last["who"]["cmdline"][1], "resolve", "{last}");
    assert_eq!(last["who"]["parent"]["exe"].as_str(), Some(sh.as_str()), "{last}");
    assert_eq!(last["fp"].as_str(), Some(fp.as_str()), "the same value, the same keyed fingerprint");
    // select is logged with the profile it chose; a refusal with its code.
    let r = call(&svc.socket, json!({"v":1,"op":"select","provider":"anthropic"}));
    assert_eq!(r["ok"], true, "{r}");
    let r = call(&svc.socket, json!({"v":1,"op":"get","ids":["main/openai:none"]}));
    assert_eq!(r["errors"]["main/openai:none"]["code"], "NOT_FOUND", "{r}");
    let all = lines(&env);
    let tail: Vec<(&str, &str)> =
        all[all.len() - 2..].iter().map(|l| (l["op"].as_str().unwrap(), l["outcome"].as_str().unwrap())).collect();
    assert_eq!(tail, [("select", "ok"), ("get", "NOT_FOUND")]);
    // A rotation through the service is a change with the new value's fingerprint; a wrong passphrase a refusal.
    let rotated = "sk-ant-api03-AUDIT-rotated-key-0123456789abcdef";
    let r = call(&svc.socket, json!({"v":1,"op":"store","profile":"anthropic:default","secret":rotated}));
    assert_eq!(r["ok"], true, "{r}");
    let r = call(&svc.socket, json!({"v":1,"op":"unlock","passphrase":"not the passphrase"}));
    assert_eq!(r["error"]["code"], "WRONG_PASSPHRASE", "{r}");
    let all = lines(&env);
    let (rotate, unlock) = (&all[all.len() - 2], &all[all.len() - 1]);
    assert_eq!((rotate["op"].as_str(), rotate["outcome"].as_str()), (Some("rotate"), Some("ok")), "{rotate}");
    assert!(rotate["fp"].as_str().is_some_and(|f| f != fp), "{rotate}");
    assert_eq!((unlock["op"].as_str(), unlock["outcome"].as_str()), (Some("unlock"), Some("WRONG_PASSPHRASE")));
    // The service refuses a hand-out whose line cannot be written.
    let n = (1..).find(|i| !log_file(&env, *i).exists()).unwrap();
    std::fs::create_dir(log_file(&env, n)).unwrap();
    let r = call(&svc.socket, json!({"v":1,"op":"get","ids":["main/anthropic:default"]}));
    assert_eq!(r["error"]["code"], "AUDIT", "{r}");
    assert!(!r.to_string().contains(KEY) && !r.to_string().contains(rotated));
    let served = std::fs::read_to_string(&svc.log).unwrap();
    assert!(served.contains("refused get") && served.contains("AUDIT"), "{served}");
    std::fs::remove_dir(log_file(&env, n)).unwrap();
    drop(svc);
    assert_eq!(verify(&env).code, 0);
    // No value anywhere in the log, and no unkeyed hash of it.
    let text: String = (1..n).filter_map(|i| std::fs::read_to_string(log_file(&env, i)).ok()).collect();
    use sha2::Digest;
    let unkeyed: String = sha2::Sha256::digest(KEY.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert!(!text.contains(KEY) && !text.contains(&unkeyed[..16]) && !text.contains(rotated), "{text}");
}
