//! Commands that need a terminal, driven through a real pseudo-terminal (`script` from util-linux).
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::*;

/// Run `clawkeep <args>` on a pty; `input` is typed after `delay_ms` (once prompts have disabled echo).
fn on_tty(env: &Env, args: &str, input: &str, delay_ms: u64) -> Option<Out> {
    if !have("script") {
        eprintln!("SKIPPED tty test: `script` (util-linux) is not installed");
        return None;
    }
    let bin = env!("CARGO_BIN_EXE_clawkeep");
    let script =
        std::env::split_paths(&std::env::var_os("PATH").unwrap()).map(|d| d.join("script")).find(|p| p.is_file())?;
    // The environment clawkeep would get from `env.cmd`, handed to `script` (and so to clawkeep under it).
    let template = env.cmd(&[]);
    let mut s = Command::new(script);
    s.args(["-qec", &format!("{bin} {args}"), "/dev/null"]).env_clear();
    for (k, v) in template.get_envs() {
        if let Some(v) = v {
            s.env(k, v);
        }
    }
    let mut child = s.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = stdin.write_all(input.as_bytes());
        std::thread::sleep(std::time::Duration::from_millis(500));
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Some(Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    })
}

fn fake_claude(env: &mut Env, exit: i32) {
    let bin = env.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let claude = bin.join("claude");
    std::fs::write(&claude, format!("#!/bin/sh\n[ \"$1\" = setup-token ] || exit 9\necho 'fake claude: your token is printed here'\nexit {exit}\n")).unwrap();
    std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.extra_env.push(("PATH".into(), format!("{}:/usr/bin:/bin", bin.display())));
}

#[test]
fn setup_token_runs_claude_then_stores_the_pasted_token() {
    let mut env = Env::new();
    env.init_file();
    fake_claude(&mut env, 0);
    let tok = setup_token("TTY");
    let Some(o) =
        on_tty(&env, "models auth setup-token --provider anthropic --expires-in 365d", &format!("{tok}\r"), 1500)
    else {
        return;
    };
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("fake claude: your token is printed here"), "claude ran on the terminal: {o:?}");
    assert!(!o.stdout.contains(&tok), "the token must not be echoed: {o:?}");
    assert_eq!(env.run(&["get", "anthropic:manual"], "").stdout, format!("{tok}\n"));
    assert_eq!(json(&env.auth_profiles())["profiles"]["anthropic:manual"]["tokenRef"]["id"], "main/anthropic:manual");
}

#[test]
fn setup_token_without_claude_or_with_a_failing_claude_stores_nothing() {
    let mut env = Env::new();
    env.init_file();
    env.extra_env.push(("PATH".into(), "/nonexistent".into()));
    let before = env.snapshot();
    let Some(o) = on_tty(&env, "models auth setup-token --provider anthropic", "", 0) else { return };
    assert_eq!(o.code, 80, "{o:?}");
    assert!(o.stdout.contains("Claude Code CLI (`claude`) is not on PATH"), "{o:?}");
    assert_eq!(env.snapshot(), before);
    env.extra_env.clear();
    fake_claude(&mut env, 3);
    let Some(o) = on_tty(&env, "models auth setup-token --provider anthropic", "", 0) else { return };
    assert_eq!(o.code, 80, "{o:?}");
    assert!(o.stdout.contains("`claude setup-token` failed"), "{o:?}");
    assert_eq!(env.snapshot(), before);
}

#[test]
fn onboard_asks_then_reads_each_key_so_a_quick_paste_is_stored_whole() {
    let env = Env::new();
    env.init_file();
    let key = "sk-ant-api03-ONBOARD-0123456789abcdefABCDEF";
    // "y", the key at once, then "n" to the three other providers: all typed before any prompt is drawn.
    let Some(o) = on_tty(&env, "onboard", &format!("y\r{key}\rn\rn\rn\r"), 1500) else { return };
    assert_eq!(o.code, 0, "{o:?}");
    assert!(!o.stdout.contains(key), "the key must not be echoed: {o:?}");
    assert!(o.stdout.contains("stored anthropic:default") && o.stdout.contains("characters, sha256"), "{o:?}");
    assert_eq!(env.run(&["get", "anthropic:default"], "").stdout, format!("{key}\n"));
}

#[test]
fn onboard_non_interactive_never_prompts_on_a_terminal() {
    let mut env = Env::new();
    env.extra_env.push(("CLAWKEEP_PASSPHRASE_FILE".into(), String::new()));
    let Some(o) = on_tty(&env, "onboard --non-interactive --backend file --provider openai", "", 0) else { return };
    assert_eq!(o.code, 78, "{o:?}");
    assert!(!o.stdout.contains("passphrase:") && !o.stdout.contains("Paste"), "it prompted: {o:?}");
    // With the passphrase from its file, the key is still not read from the terminal.
    env.extra_env.clear();
    let Some(o) = on_tty(&env, "onboard --non-interactive --backend file --provider openai", "sk-typed\r", 500) else {
        return;
    };
    assert_eq!(o.code, 78, "{o:?}");
    assert!(o.stdout.contains("pipe it in"), "{o:?}");
    assert_ne!(env.run(&["get", "openai:default"], "").code, 0);
}

#[test]
fn resolve_never_prompts_even_on_a_terminal() {
    let mut env = Env::new();
    env.init_file();
    let o = env.run(&["models", "auth", "add", "--provider", "anthropic"], "sk-ant-api03-TTY-resolve-0123456789abcdef");
    assert_eq!(o.code, 0, "{o:?}");
    // No passphrase file and no service: on a terminal, resolve still must not ask.
    env.extra_env.push(("CLAWKEEP_PASSPHRASE_FILE".into(), String::new()));
    env.extra_env.push(("CLAWKEEP_SOCKET".into(), env.dir.path().join("no.sock").display().to_string()));
    let req = r#"{"protocolVersion":1,"provider":"clawkeep","ids":["main/anthropic:default"]}"#;
    // The request, end of input (^D), then a passphrase for a prompt that must not come.
    let Some(o) = on_tty(&env, "resolve", &format!("{req}\n\x04{PASSPHRASE}\r"), 1000) else { return };
    assert!(!o.stdout.contains("passphrase:"), "resolve prompted: {o:?}");
    assert!(o.stdout.contains(r#""code":"LOCKED""#), "{o:?}");
    assert!(!o.stdout.contains("sk-ant-api03-TTY"), "{o:?}");
}
