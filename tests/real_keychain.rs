//! The keychain backends against the real thing: gnome-keyring's Secret Service on a private D-Bus, and the kernel
//! keyring in a named session keyring. Skipped loudly when the programs are missing; CI sets
//! CLAWKEEP_REQUIRE_REAL_KEYCHAIN=1 so they fail instead.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;
use common::*;

fn secret_service_available(test: &str) -> bool {
    for p in ["dbus-daemon", "dbus-send", "gnome-keyring-daemon"] {
        if !have(p) {
            skip(test, &format!("`{p}` is not installed"));
            return false;
        }
    }
    true
}

fn unique(tag: &str) -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{tag}{}x{n}", std::process::id())
}

#[test]
fn secret_service_round_trip() {
    if !secret_service_available("secret_service_round_trip") {
        return;
    }
    let bus = Bus::start(true);
    let mut env = Env::new();
    env.extra_env = bus.env();
    env.extra_env.push(("XDG_DATA_HOME".into(), bus.dir.path().join("data").display().to_string()));
    let o = env.run(&["init", "--backend", "keychain"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("store: keychain"), "{o:?}");
    let key = "sk-ant-api03-SECRET-SERVICE-canary";
    let o = env.run(&["models", "auth", "add", "--provider", "anthropic"], key);
    assert_eq!(o.code, 0, "{o:?}");
    // The secret is in gnome-keyring, not in any file of ours.
    for (p, b) in env.all_files() {
        assert!(!String::from_utf8_lossy(&b).contains("SECRET-SERVICE"), "{} holds the secret", p.display());
    }
    assert!(!env.ck().join("secrets").exists());
    // Another process reads it back without any passphrase.
    let mut c = env.cmd(&["get", "anthropic:default"]);
    c.env_remove("CLAWKEEP_PASSPHRASE_FILE");
    let g = run_cmd(&mut c, "");
    assert_eq!(g.stdout, format!("{key}\n"), "{g:?}");
    assert_eq!(env.run(&["doctor"], "").code, 0);
    assert_eq!(env.run(&["models", "auth", "remove", "anthropic:default"], "").code, 0);
    let g = env.run(&["get", "anthropic:default"], "");
    assert_eq!(g.code, 66, "{g:?}");
}

#[test]
fn a_locked_secret_service_is_a_clear_error_and_changes_nothing() {
    if !secret_service_available("a_locked_secret_service_is_a_clear_error_and_changes_nothing") {
        return;
    }
    let bus = Bus::start(true);
    let mut env = Env::new();
    env.extra_env = bus.env();
    assert_eq!(env.run(&["init", "--backend", "keychain"], "").code, 0);
    assert_eq!(env.run(&["models", "auth", "add", "--provider", "openai"], "sk-1").code, 0);
    bus.lock_keyring();
    let before = env.snapshot();
    let t = std::time::Instant::now();
    let g = env.run(&["get", "openai:default"], "");
    assert!(t.elapsed() < std::time::Duration::from_secs(5), "must not hang");
    assert!(g.code == 75 || g.code == 69, "{g:?}");
    assert!(g.stderr.contains("locked") || g.stderr.contains("did not answer"), "{g:?}");
    let a = env.run(&["models", "auth", "add", "--provider", "groq"], "gsk-1");
    assert!(a.code == 75 || a.code == 69, "{a:?}");
    assert_eq!(env.snapshot(), before, "a refused write must leave every file as it was");
    assert!(!a.stderr.contains("gsk-1"));
}

#[test]
fn a_bus_without_secret_service_is_named_and_auto_falls_back_to_file() {
    if !secret_service_available("a_bus_without_secret_service_is_named_and_auto_falls_back_to_file") {
        return;
    }
    let bus = Bus::start(false);
    let mut env = Env::new();
    env.extra_env = bus.env();
    let o = env.run(&["init", "--backend", "keychain"], "");
    assert_eq!(o.code, 69, "{o:?}");
    assert!(o.stderr.contains("no Secret Service"), "{o:?}");
    assert!(!env.ck().join("vault.json").exists());
    let o = env.run(&["init"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stderr.contains("using the encrypted file store instead") && o.stderr.contains("no Secret Service"),
        "{o:?}"
    );
    assert!(o.stdout.contains("store: file"));
}

#[test]
fn kernel_keyutils_round_trip() {
    let test = "kernel_keyutils_round_trip";
    if !have("keyctl") {
        skip(test, "`keyctl` is not installed");
        return;
    }
    let mut env = Env::new();
    env.wrapper = vec!["keyctl".into(), "session".into(), "-".into()];
    let probe = std::process::Command::new("keyctl").args(["session", "-", "true"]).output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        skip(test, &format!("`keyctl session` does not work here: {probe:?}"));
        return;
    }
    let o = env.run(&["init", "--backend", "keyutils"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("does not survive a reboot"), "{o:?}");
    let pid = format!("openai:{}", unique("k"));
    let o = env.run(&["models", "auth", "add", "--provider", "openai", "--profile-id", &pid], "sk-keyutils-1");
    assert_eq!(o.code, 0, "{o:?}");
    let g = env.run(&["get", &pid], "");
    assert_eq!(g.stdout, "sk-keyutils-1\n", "{g:?}");
    // The key really sits in the kernel keyring (the user's persistent keyring, linked into each session).
    let search = |desc: String| {
        std::process::Command::new("keyctl")
            .args([
                "session",
                "-",
                "sh",
                "-c",
                "keyctl get_persistent @s >/dev/null && keyctl search @s user \"$0\"",
                &desc,
            ])
            .output()
            .unwrap()
    };
    let found = search(format!("keyring:main/{pid}@clawkeep"));
    assert!(found.status.success(), "{found:?}");
    for (p, b) in env.all_files() {
        assert!(!String::from_utf8_lossy(&b).contains("sk-keyutils-1"), "{}", p.display());
    }
    assert_eq!(env.run(&["models", "auth", "remove", &pid], "").code, 0);
    assert_eq!(env.run(&["get", &pid], "").code, 66);
    assert!(
        !search(format!("keyring:main/{pid}@clawkeep")).status.success(),
        "removed key still in the kernel keyring"
    );
}
