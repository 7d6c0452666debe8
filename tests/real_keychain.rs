//! The keychain backends against the real thing: gnome-keyring's Secret Service on a private D-Bus, and the kernel
//! keyring in a named session keyring. Skipped loudly when the programs are missing; CI sets
//! CLAWKEEP_REQUIRE_REAL_KEYCHAIN=1 so they fail instead.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;
use common::*;
use serde_json::{Value, json};

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
    assert!(o.stderr.contains("lost at reboot") && o.stderr.contains("persistent_keyring_expiry"), "{o:?}");
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
    // Named by the vault's id: service `clawkeep:<vault id>`, account `<secret id>`.
    let vid = json(&env.ck().join("vault.json"))["id"].as_str().unwrap().to_string();
    let found = search(format!("keyring:main/{pid}@clawkeep:{vid}"));
    assert!(found.status.success(), "{found:?}");
    for (p, b) in env.all_files() {
        assert!(!String::from_utf8_lossy(&b).contains("sk-keyutils-1"), "{}", p.display());
    }
    assert_eq!(env.run(&["models", "auth", "remove", &pid], "").code, 0);
    assert_eq!(env.run(&["get", &pid], "").code, 66);
    assert!(
        !search(format!("keyring:main/{pid}@clawkeep:{vid}")).status.success(),
        "removed key still in the kernel keyring"
    );
}

fn keyutils_available(test: &str) -> bool {
    if !have("keyctl") {
        skip(test, "`keyctl` is not installed");
        return false;
    }
    let probe = std::process::Command::new("keyctl").args(["session", "-", "true"]).output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        skip(test, &format!("`keyctl session` does not work here: {probe:?}"));
        return false;
    }
    true
}

/// An env whose commands run in a fresh kernel session keyring (items land in the user's persistent keyring).
fn keyutils_env() -> Env {
    let mut env = Env::new();
    env.wrapper = vec!["keyctl".into(), "session".into(), "-".into()];
    env
}

/// A vault on keyutils in its own session keyring, or `None` (the test skipped, and said so) where keyutils cannot run.
fn keyutils_vault(test: &str) -> Option<Env> {
    if !keyutils_available(test) {
        return None;
    }
    let env = keyutils_env();
    assert_eq!(env.run(&["init", "--backend", "keyutils"], "").code, 0);
    Some(env)
}

fn get_is(env: &Env, pid: &str, want: &str, after: &str) {
    let g = env.run(&["get", pid], "");
    assert_eq!((g.code, g.stdout.as_str()), (0, format!("{want}\n").as_str()), "after {after}: {g:?}");
}

/// Two vaults of one user in one keychain (two OpenClaw state dirs): everything B does leaves A's keys alone.
fn two_vaults_keep_their_own_keys(a: &Env, b: &Env, backend: &str) {
    for env in [a, b] {
        let o = env.run(&["init", "--backend", backend], "");
        assert_eq!(o.code, 0, "{o:?}");
    }
    let id_a = json(&a.ck().join("vault.json"))["id"].as_str().unwrap().to_string();
    let id_b = json(&b.ck().join("vault.json"))["id"].as_str().unwrap().to_string();
    assert_eq!(id_a.len(), 32, "{id_a}");
    assert_ne!(id_a, id_b);
    let (key_a, ant_a) = ("sk-proj-A-only-copy", "sk-ant-api03-A-only-copy");
    assert_eq!(a.run(&["models", "auth", "add", "--provider", "openai"], key_a).code, 0);
    assert_eq!(a.run(&["models", "auth", "add", "--provider", "anthropic"], ant_a).code, 0);
    // The index keeps a copy of the id, for rebuilding a lost vault.json.
    assert_eq!(json(&a.ck().join("index.json"))["vaultId"], id_a.as_str());
    let check_a = |after: &str| {
        get_is(a, "openai:default", key_a, after);
        get_is(a, "anthropic:default", ant_a, after);
    };

    let o = b.run(&["models", "auth", "add", "--provider", "openai"], "sk-proj-B-1");
    assert_eq!(o.code, 0, "{o:?}");
    check_a("B's add");
    get_is(b, "openai:default", "sk-proj-B-1", "B's add");
    assert_eq!(b.run(&["models", "auth", "add", "--provider", "openai", "--force"], "sk-proj-B-2").code, 0);
    check_a("B's add --force");
    get_is(b, "openai:default", "sk-proj-B-2", "B's add --force");
    assert_eq!(b.run(&["models", "auth", "remove", "openai:default"], "").code, 0);
    check_a("B's remove");
    assert_eq!(b.run(&["get", "openai:default"], "").code, 66);

    write_private(
        &b.auth_profiles(),
        &serde_json::json!({"version":1,"profiles":{
            "anthropic:default":{"type":"api_key","provider":"anthropic","key":"sk-ant-api03-B-plain"}
        }})
        .to_string(),
    );
    let o = b.run(&["migrate"], "");
    assert_eq!(o.code, 0, "{o:?}");
    check_a("B's migrate");
    get_is(b, "anthropic:default", "sk-ant-api03-B-plain", "B's migrate");
    let o = b.run(&["migrate", "--undo"], "");
    assert_eq!(o.code, 0, "{o:?}");
    check_a("B's migrate --undo");

    // Leave nothing behind in the user's keychain.
    for pid in ["openai:default", "anthropic:default"] {
        assert_eq!(a.run(&["models", "auth", "remove", pid], "").code, 0);
    }
}

#[test]
fn two_keyutils_vaults_keep_their_own_keys() {
    if !keyutils_available("two_keyutils_vaults_keep_their_own_keys") {
        return;
    }
    two_vaults_keep_their_own_keys(&keyutils_env(), &keyutils_env(), "keyutils");
}

#[test]
fn two_secret_service_vaults_keep_their_own_keys() {
    if !secret_service_available("two_secret_service_vaults_keep_their_own_keys") {
        return;
    }
    let bus = Bus::start(true);
    let (mut a, mut b) = (Env::new(), Env::new());
    for env in [&mut a, &mut b] {
        env.extra_env = bus.env();
        env.extra_env.push(("XDG_DATA_HOME".into(), bus.dir.path().join("data").display().to_string()));
    }
    two_vaults_keep_their_own_keys(&a, &b, "keychain");
}

/// An `add` that crashes after storing the secret and before saving the index leaves an item only the reference
/// knows: `add` without --force refuses to replace it, `doctor` reports it and `doctor --fix` lists it again. The
/// kernel keyring holding the only copy is a warning.
#[test]
fn an_add_interrupted_before_the_index_is_found_by_doctor_and_refused_by_add() {
    let Some(env) = keyutils_vault("an_add_interrupted_before_the_index_is_found_by_doctor_and_refused_by_add") else {
        return;
    };
    let d = env.run(&["doctor", "--json"], "");
    assert!(!d.stdout.contains("KEYUTILS_ONLY_COPY"), "an empty vault has nothing to lose: {d:?}");
    let mut c = env.cmd(&["models", "auth", "add", "--provider", "openai"]);
    c.env("CLAWKEEP_TEST_CRASH_AT", "add-after-put");
    let o = run_cmd(&mut c, "sk-proj-crashed");
    assert_ne!(o.code, 0, "the crash point must stop the command: {o:?}");
    // The index entry was written before the store: the item is never one nobody knows of.
    let index = json(&env.ck().join("index.json"));
    assert!(index["secrets"]["main/openai:default"].is_object(), "{index}");
    assert!(!env.auth_profiles().exists() || json(&env.auth_profiles())["profiles"]["openai:default"].is_null());
    // add without --force does not replace it; doctor names it, and `models auth sync` writes its reference.
    let o = env.run(&["models", "auth", "add", "--provider", "openai"], "sk-proj-other");
    assert_eq!(o.code, 67, "{o:?}");
    assert!(!o.stderr.contains("sk-proj"), "{o:?}");
    let d = env.run(&["doctor"], "");
    assert_ne!(d.code, 0, "{d:?}");
    assert!(d.stdout.contains("UNREFERENCED") && d.stdout.contains("main/openai:default"), "{d:?}");
    assert_eq!(env.run(&["models", "auth", "sync"], "").code, 0);
    get_is(&env, "openai:default", "sk-proj-crashed", "sync after the crash");

    // A reference whose index entry is gone (an index.json restored from an older copy): doctor reports it,
    // `doctor --fix` lists it again, and add without --force does not replace the unlisted item.
    let mut index = json(&env.ck().join("index.json"));
    index["secrets"].as_object_mut().unwrap().remove("main/openai:default");
    write_private(&env.ck().join("index.json"), &index.to_string());
    let ap = env.auth_profiles();
    let aside = env.dir.path().join("auth-profiles.aside");
    std::fs::rename(&ap, &aside).unwrap();
    let o = env.run(&["models", "auth", "add", "--provider", "openai"], "sk-proj-other");
    assert_eq!(o.code, 67, "{o:?}");
    assert!(!o.stderr.contains("sk-proj"), "{o:?}");
    std::fs::rename(&aside, &ap).unwrap();
    get_is(&env, "openai:default", "sk-proj-crashed", "the refused add");
    let d = env.run(&["doctor"], "");
    assert_ne!(d.code, 0, "{d:?}");
    assert!(d.stdout.contains("REF_UNINDEXED") && d.stdout.contains("main/openai:default"), "{d:?}");
    let d = env.run(&["doctor", "--fix"], "");
    assert!(d.stdout.contains("REF_UNINDEXED"), "{d:?}");
    let index = json(&env.ck().join("index.json"));
    let e = &index["secrets"]["main/openai:default"];
    assert_eq!((e["provider"].as_str(), e["type"].as_str()), (Some("openai"), Some("api_key")), "{index}");
    let d = env.run(&["doctor", "--json"], "");
    assert!(!d.stdout.contains("REF_UNINDEXED"), "{d:?}");
    // The kernel keyring holds the only copy: a warning that names the kernel's expiry.
    assert!(d.stdout.contains("KEYUTILS_ONLY_COPY") && d.stdout.contains("persistent_keyring_expiry"), "{d:?}");
    assert_ne!(d.code, 0, "{d:?}");
    get_is(&env, "openai:default", "sk-proj-crashed", "doctor --fix");
    assert_eq!(env.run(&["models", "auth", "remove", "openai:default"], "").code, 0);
}

/// Vaults made before vault ids existed (no `id` in vault.json) keep working under the old names, and `add` without
/// --force does not replace an item another such vault stored under the shared name.
#[test]
fn vaults_without_an_id_keep_their_names_and_add_does_not_take_anothers_item() {
    let test = "vaults_without_an_id_keep_their_names_and_add_does_not_take_anothers_item";
    if !keyutils_available(test) {
        return;
    }
    let (a, b) = (keyutils_env(), keyutils_env());
    for env in [&a, &b] {
        assert_eq!(env.run(&["init", "--backend", "keyutils"], "").code, 0);
        let path = env.ck().join("vault.json");
        let mut cfg = json(&path);
        cfg.as_object_mut().unwrap().remove("id");
        write_private(&path, &cfg.to_string());
    }
    let pid = format!("openai:{}", unique("legacy"));
    let o = a.run(&["models", "auth", "add", "--provider", "openai", "--profile-id", &pid], "sk-proj-legacy-A");
    assert_eq!(o.code, 0, "{o:?}");
    get_is(&a, &pid, "sk-proj-legacy-A", "A's add");
    let found = std::process::Command::new("keyctl")
        .args(["session", "-", "sh", "-c", "keyctl get_persistent @s >/dev/null && keyctl search @s user \"$0\""])
        .arg(format!("keyring:main/{pid}@clawkeep"))
        .output()
        .unwrap();
    assert!(found.status.success(), "the old name: {found:?}");
    let o = b.run(&["models", "auth", "add", "--provider", "openai", "--profile-id", &pid], "sk-proj-legacy-B");
    assert_eq!(o.code, 67, "{o:?}");
    get_is(&a, &pid, "sk-proj-legacy-A", "B's refused add");
    assert_eq!(a.run(&["models", "auth", "remove", &pid], "").code, 0);
}

/// A kernel key holds at most 32,767 bytes: a migration whose encrypted-backup bundle is larger is refused before
/// anything is stored, with a message that says why and what to do, and every plaintext profile stays as it was.
#[test]
fn a_migration_too_large_for_a_kernel_key_is_refused_before_anything_changes() {
    let Some(env) = keyutils_vault("a_migration_too_large_for_a_kernel_key_is_refused_before_anything_changes") else {
        return;
    };
    let key = "sk-ant-api03-TOOLARGE-0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz";
    let profiles: serde_json::Map<String, Value> = (0..150)
        .map(|i| (format!("anthropic:p{i}"), json!({"type": "api_key", "provider": "anthropic", "key": key})))
        .collect();
    let file = env.agent_dir("main").join("auth-profiles.json");
    let text = json!({"version": 1, "profiles": profiles}).to_string();
    common::write_private(&file, &text);
    let o = env.run(&["migrate"], "");
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("kernel keyring key holds at most 32767 bytes"), "{o:?}");
    assert!(!o.stderr.contains(key) && !o.stdout.contains(key), "{o:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text, "auth-profiles.json changed");
    let index: Value = serde_json::from_str(&std::fs::read_to_string(env.ck().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["secrets"].as_object().map_or(0, |m| m.len()), 0, "{index}");
    // Fewer profiles at a time fit.
    let few: serde_json::Map<String, Value> = profiles.into_iter().take(20).collect();
    common::write_private(&file, &json!({"version": 1, "profiles": few}).to_string());
    let o = env.run(&["migrate"], "");
    assert_eq!(o.code, 0, "{o:?}");
}
