//! Issue 7 item 7: every failure says why. `resolve` names the cause on stderr (OpenClaw shows only the codes);
//! hints fit the problem (a device, a directory, an oversized file); `exec` keeps clawkeep's settings from the
//! program it runs.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;
use std::os::unix::fs::PermissionsExt;

use common::*;

const KEY: &str = "sk-ant-api03-DIAGNOSTICS-0123456789";

fn req() -> String {
    r#"{"protocolVersion":1,"provider":"clawkeep","ids":["main/anthropic:default"]}"#.into()
}

fn vault() -> Env {
    let env = Env::new();
    env.init_file();
    let o = env.run(&["models", "auth", "add", "--provider", "anthropic"], KEY);
    assert_eq!(o.code, 0, "{o:?}");
    env
}

#[test]
fn resolve_names_the_cause_on_stderr() {
    let mut env = vault();
    // A missing passphrase file.
    let missing = env.dir.path().join("no-such-file");
    env.extra_env = vec![("CLAWKEEP_PASSPHRASE_FILE".into(), missing.display().to_string())];
    let o = env.run(&["resolve"], &req());
    assert!(o.stdout.contains("\"errors\""), "{o:?}");
    assert!(o.stderr.contains("no-such-file") && o.stderr.contains("does not exist"), "{o:?}");
    // A wrong passphrase.
    let wrong = env.dir.path().join("wrong");
    write_private(&wrong, "not the passphrase\n");
    env.extra_env = vec![("CLAWKEEP_PASSPHRASE_FILE".into(), wrong.display().to_string())];
    let o = env.run(&["resolve"], &req());
    assert!(o.stdout.contains("LOCKED"), "{o:?}");
    assert!(o.stderr.contains("wrong passphrase"), "{o:?}");
    // A passphrase file others can read.
    std::fs::set_permissions(&env.pass_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    env.extra_env.clear();
    let o = env.run(&["resolve"], &req());
    assert!(!o.stdout.contains(KEY), "{o:?}");
    assert!(o.stderr.contains("readable by group/others") && o.stderr.contains("chmod 600"), "{o:?}");
    assert!(!o.stderr.contains(KEY) && !o.stderr.contains(PASSPHRASE), "{o:?}");
}

#[test]
fn hints_fit_the_problem() {
    let mut env = vault();
    // A device as passphrase file: not "chmod 600 /dev/zero".
    env.extra_env = vec![("CLAWKEEP_PASSPHRASE_FILE".into(), "/dev/zero".into())];
    let o = env.run(&["get", "anthropic:default"], "");
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("a device, not a regular file") && !o.stderr.contains("chmod"), "{o:?}");
    // A directory: not "remove the other hard links".
    let dir = env.dir.path().join("a-dir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    env.extra_env = vec![("CLAWKEEP_PASSPHRASE_FILE".into(), dir.display().to_string())];
    let o = env.run(&["get", "anthropic:default"], "");
    assert_eq!(o.code, 77, "{o:?}");
    assert!(o.stderr.contains("a directory") && !o.stderr.contains("hard link"), "{o:?}");
    // 50 MiB: not "corrupted, restore from a backup".
    let big = env.dir.path().join("big");
    std::fs::write(&big, vec![b'a'; 50 * 1024 * 1024]).unwrap();
    std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).unwrap();
    env.extra_env = vec![("CLAWKEEP_PASSPHRASE_FILE".into(), big.display().to_string())];
    let o = env.run(&["get", "anthropic:default"], "");
    assert_eq!(o.code, 76, "{o:?}");
    assert!(o.stderr.contains("larger than") && !o.stderr.contains("restore"), "{o:?}");
}

#[test]
fn exec_keeps_clawkeeps_settings_from_the_program() {
    let env = vault();
    let o = env.run(&["exec", "--profile", "anthropic:default", "--", "sh", "-c", "env | grep ^CLAWKEEP_ || true"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stdout, "", "CLAWKEEP_* reached the program: {o:?}");
}

#[test]
fn a_busy_service_is_reported_as_busy_not_as_a_lost_connection() {
    let mut env = vault();
    let socket = env.dir.path().join("run").join("agent.sock");
    let mut svc = env
        .cmd(&["serve", "--max-clients", "1", "--client-timeout", "5s"])
        .env("CLAWKEEP_SOCKET", &socket)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let held = loop {
        if let Ok(mut s) = std::os::unix::net::UnixStream::connect(&socket) {
            // A request under way (half a frame) holds the only slot; a silent connection would not.
            use std::io::Write;
            s.write_all(b"{\"v\":1,").unwrap();
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "service did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // The held connection takes the only slot once the service has accepted it.
    std::thread::sleep(std::time::Duration::from_millis(300));
    env.extra_env.push(("CLAWKEEP_SOCKET".into(), socket.display().to_string()));
    let o = env.run(&["resolve"], &req());
    let _ = svc.kill();
    let _ = svc.wait();
    drop(held);
    assert!(o.stderr.contains("too many clients"), "{o:?}");
    assert!(!o.stderr.contains("closed the connection"), "{o:?}");
}

#[test]
fn a_passphrase_file_with_any_group_or_other_bit_is_refused() {
    let env = vault();
    for mode in [0o610, 0o601, 0o640, 0o604] {
        std::fs::set_permissions(&env.pass_file, std::fs::Permissions::from_mode(mode)).unwrap();
        let o = env.run(&["get", "anthropic:default"], "");
        assert_eq!(o.code, 77, "mode {mode:o}: {o:?}");
        assert!(!o.stdout.contains(KEY), "{o:?}");
        assert!(o.stderr.contains("chmod 600"), "{o:?}");
    }
}
