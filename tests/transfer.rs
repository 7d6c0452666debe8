//! Sealed bundles between hosts (issue 9, first half): `recipient`, `export --to`, `import`. Hosts are separate HOME
//! and state dirs on this machine. A bundle opens only on the host it was sealed to, only unchanged, only once, and
//! only before it expires; no byte of the secret is in the bundle or in any file outside the vault's ciphertext.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;
use common::*;

const CANARY: &str = "sk-ant-oat01-TRANSFER-CANARY-0123456789abcdefABCDEF0123456789abcdefABCDEF0123456789abcdef";

fn host() -> Env {
    let env = Env::new();
    env.init_file();
    env
}

fn recipient(env: &Env) -> String {
    let o = env.run(&["recipient"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("fingerprint: "), "{o:?}");
    o.stdout.trim().to_string()
}

fn export(from: &Env, to: &Env, extra: &[&str]) -> String {
    let r = recipient(to);
    let mut args = vec!["export", "--to", &r, "--profile", "anthropic:work"];
    args.extend_from_slice(extra);
    let o = from.run(&args, "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"), "{o:?}");
    assert!(!o.stdout.contains(CANARY) && !o.stderr.contains(CANARY), "plaintext in the export: {o:?}");
    o.stdout
}

fn sender() -> Env {
    let a = host();
    let o =
        a.run(&["models", "auth", "paste-token", "--provider", "anthropic", "--profile-id", "anthropic:work"], CANARY);
    assert_eq!(o.code, 0, "{o:?}");
    a
}

fn no_canary_outside_ciphertext(env: &Env) {
    for (path, bytes) in env.all_files() {
        assert!(!String::from_utf8_lossy(&bytes).contains(CANARY), "the secret is in plaintext in {}", path.display());
    }
}

#[test]
fn recipient_is_stable_and_fingerprinted() {
    let a = host();
    let r1 = recipient(&a);
    assert!(r1.starts_with("age1") && !r1.contains('\n'), "{r1}");
    assert_eq!(recipient(&a), r1);
    let o = a.run(&["recipient", "--json"], "");
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["recipient"], r1);
    assert_eq!(v["fingerprint"].as_str().unwrap().len(), 19, "{v}");
    assert_ne!(recipient(&host()), r1, "two hosts share a recipient");
}

#[test]
fn a_bundle_moves_a_token_to_its_host_once() {
    let (a, b) = (sender(), host());
    let bundle = export(&a, &b, &[]);
    let o = b.run(&["import", "-", "--yes"], &bundle);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("add anthropic:work") && o.stderr.contains("characters, sha256"), "{o:?}");
    assert!(!o.stdout.contains(CANARY) && !o.stderr.contains(CANARY), "{o:?}");
    assert_eq!(b.run(&["get", "anthropic:work"], "").stdout, format!("{CANARY}\n"));
    assert_eq!(json(&b.auth_profiles())["profiles"]["anthropic:work"]["tokenRef"]["id"], "main/anthropic:work");
    assert_eq!(json(&b.auth_profiles())["profiles"]["anthropic:work"]["type"], "token");
    no_canary_outside_ciphertext(&b);
    // Single use: the same bundle again is refused, and nothing changes.
    let before = b.snapshot();
    let o = b.run(&["import", "-", "--yes", "--force"], &bundle);
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("imported here before"), "{o:?}");
    assert_eq!(b.snapshot(), before);
}

#[test]
fn a_bundle_for_one_host_cannot_be_opened_by_another_and_one_changed_byte_is_refused() {
    let (a, b, c) = (sender(), host(), host());
    let bundle = export(&a, &b, &[]);
    let before = c.snapshot();
    let o = c.run(&["import", "-", "--yes"], &bundle);
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("another host"), "{o:?}");
    assert_eq!(c.snapshot(), before);
    // One byte changed in the middle of the armored body.
    let mut bytes = bundle.clone().into_bytes();
    let i = bytes.len() / 2;
    let i = (i..bytes.len()).find(|&j| bytes[j].is_ascii_alphanumeric()).unwrap();
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let before = b.snapshot();
    let o = b.run(&["import", "-", "--yes"], &String::from_utf8(bytes).unwrap());
    assert_eq!(o.code, 65, "{o:?}");
    assert_eq!(b.snapshot(), before);
    // The unchanged bundle still works afterwards.
    assert_eq!(b.run(&["import", "-", "--yes"], &bundle).code, 0);
}

#[test]
fn expired_bundles_are_refused() {
    let (a, b) = (sender(), host());
    let bundle = export(&a, &b, &["--expires-in", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(1300));
    let before = b.snapshot();
    let o = b.run(&["import", "-", "--yes"], &bundle);
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("expired"), "{o:?}");
    assert_eq!(b.snapshot(), before);
}

#[test]
fn conflicts_need_force_or_rename_and_unconfirmed_imports_need_yes() {
    let (a, b) = (sender(), host());
    let o = b.run(
        &["models", "auth", "paste-token", "--provider", "anthropic", "--profile-id", "anthropic:work"],
        &setup_token("B-OWN"),
    );
    assert_eq!(o.code, 0, "{o:?}");
    let bundle = export(&a, &b, &[]);
    // Without --yes and with the bundle on stdin there is no one to ask.
    let before = b.snapshot();
    let o = b.run(&["import", "-"], &bundle);
    assert_eq!(o.code, 78, "{o:?}");
    // A conflict without --force: refused, nothing written, the bundle not used up.
    let o = b.run(&["import", "-", "--yes"], &bundle);
    assert_eq!(o.code, 67, "{o:?}");
    assert_eq!(b.snapshot(), before);
    assert_eq!(b.run(&["get", "anthropic:work"], "").stdout, format!("{}\n", setup_token("B-OWN")));
    // --rename stores it beside.
    let o = b.run(&["import", "-", "--yes", "--rename", "anthropic:work=anthropic:from-a"], &bundle);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(b.run(&["get", "anthropic:from-a"], "").stdout, format!("{CANARY}\n"));
    assert_eq!(b.run(&["get", "anthropic:work"], "").stdout, format!("{}\n", setup_token("B-OWN")));
    // --force replaces (a new bundle: the first is used up).
    let bundle = export(&a, &b, &[]);
    let o = b.run(&["import", "-", "--yes", "--force"], &bundle);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("replace anthropic:work"), "{o:?}");
    assert_eq!(b.run(&["get", "anthropic:work"], "").stdout, format!("{CANARY}\n"));
}

#[test]
fn a_keyutils_host_keeps_its_identity_in_the_kernel_keyring() {
    if !have("keyctl")
        || !std::process::Command::new("keyctl")
            .args(["session", "-", "true"])
            .output()
            .is_ok_and(|o| o.status.success())
    {
        return skip("a_keyutils_host_keeps_its_identity_in_the_kernel_keyring", "`keyctl session` does not work here");
    }
    let a = sender();
    // Every command of host B runs in a fresh session keyring, as separate logins would.
    let mut b = Env::new();
    b.wrapper = vec!["keyctl".into(), "session".into(), "-".into()];
    // keyutils items live in the user's persistent keyring, shared by sessions: the host identity survives.
    let o = b.run(&["init", "--backend", "keyutils"], "");
    assert_eq!(o.code, 0, "{o:?}");
    let r = recipient(&b);
    assert_eq!(recipient(&b), r, "a keyutils host made a second identity");
    // Nothing of the identity on disk.
    for (path, bytes) in b.all_files() {
        assert!(!String::from_utf8_lossy(&bytes).contains("AGE-SECRET-KEY-"), "{}", path.display());
    }
    let bundle = export(&a, &b, &[]);
    let o = b.run(&["import", "-", "--yes"], &bundle);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(b.run(&["get", "anthropic:work"], "").stdout, format!("{CANARY}\n"));
    // Clean up this host's items from the user's keyring.
    b.run(&["models", "auth", "remove", "anthropic:work"], "");
}
