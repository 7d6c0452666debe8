//! Every path a command reads, replaced by a FIFO or a symlink: each command ends within 2 s, with exit 77 (insecure)
//! or, for `doctor`, a finding naming the path. Nothing hangs, nothing is read through a link.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// A vault with one stored key, plus the other files commands read.
fn setup() -> Env {
    let env = Env::new();
    env.init_file();
    let o = env.run(&["models", "auth", "add", "--provider", "openai"], "sk-special-1");
    assert_eq!(o.code, 0, "{o:?}");
    write_private(&env.state.join(".env"), "OTHER=1\n");
    write_private(&env.state.join("openclaw.json"), "{}\n");
    write_private(&env.agent_dir("main").join("auth.json"), "{}\n");
    write_private(&env.agent_dir("main").join("auth-state.json"), "{\"version\":1}\n");
    write_private(&env.ck().join("sessions.json"), "{\"version\":1,\"sessions\":{}}\n");
    env
}

fn paths(env: &Env) -> Vec<PathBuf> {
    let age = std::fs::read_dir(env.ck().join("secrets")).unwrap().next().unwrap().unwrap().path();
    vec![
        env.state.join(".env"),
        env.state.join("openclaw.json"),
        env.auth_profiles(),
        env.agent_dir("main").join("auth.json"),
        env.agent_dir("main").join("auth-state.json"),
        env.ck().join("vault.json"),
        env.ck().join("index.json"),
        env.ck().join("identity.json"),
        env.ck().join("sessions.json"),
        age,
        env.pass_file.clone(),
    ]
}

const COMMANDS: &[&[&str]] = &[
    &["doctor"],
    &["migrate", "--dry-run"],
    &["migrate"],
    &["models", "status"],
    &["models", "auth", "list"],
    &["get", "openai:default"],
    &["resolve"],
];

fn run_bounded(env: &Env, args: &[&str]) -> (Option<i32>, String, Duration) {
    let mut c = env.cmd(args);
    let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    {
        use std::io::Write;
        let mut i = child.stdin.take().unwrap();
        let _ = i.write_all(br#"{"protocolVersion":1,"provider":"clawkeep","ids":["main/openai:default"]}"#);
    }
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(2) {
        if child.try_wait().unwrap().is_some() {
            let o = child.wait_with_output().unwrap();
            let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            return (o.status.code(), text, t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    (None, String::new(), t.elapsed())
}

fn with_replaced(path: &Path, how: &str, f: impl FnOnce()) {
    let aside = path.with_extension("aside");
    std::fs::rename(path, &aside).unwrap();
    match how {
        "fifo" => rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap(),
        _ => {
            let copy = path.with_extension("copy");
            std::fs::copy(&aside, &copy).unwrap();
            std::os::unix::fs::symlink(&copy, path).unwrap();
        }
    }
    f();
    std::fs::remove_file(path).unwrap();
    let _ = std::fs::remove_file(path.with_extension("copy"));
    std::fs::rename(&aside, path).unwrap();
}

fn sweep(how: &str) {
    let env = setup();
    let mut failures = Vec::new();
    for p in paths(&env) {
        with_replaced(&p, how, || {
            for args in COMMANDS {
                let (code, text, took) = run_bounded(&env, args);
                let name = p.file_name().unwrap().to_string_lossy();
                let ok = match code {
                    None => false,
                    Some(77) => true,
                    // doctor reports it as a finding (exit 1) naming the file.
                    Some(1) if args[0] == "doctor" => text.contains(&*name),
                    // Commands that do not read this path may succeed (resolve never reads .env, …).
                    Some(0) => !text.contains("sk-special-1") || args[0] == "get" || args[0] == "resolve",
                    Some(_) => false,
                };
                if !ok {
                    failures.push(format!("{how} at {name}: `{}` → {code:?} after {took:?}: {text}", args.join(" ")));
                }
            }
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_fifo_at_any_path_a_command_reads_never_hangs_it() {
    sweep("fifo");
}

#[test]
fn a_symlink_at_any_path_a_command_reads_is_refused() {
    sweep("symlink");
}
