//! A recognisable fake secret goes through every command; it must appear in no stdout (except `get`, whose job it
//! is), no stderr, and no file under the state dir except inside the encrypted store.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;
use common::*;

const CANARY_KEY: &str = "sk-ant-api03-CANARY-7f3c9d1e-DO-NOT-LEAK";

fn canary_token() -> String {
    setup_token("CANARY")
}

#[test]
fn canary_never_leaks_through_the_whole_flow() {
    let env = Env::new();
    let tok = canary_token();
    let mut outputs: Vec<(String, Out)> = Vec::new();
    let mut run = |args: &[&str], stdin: &str| {
        let o = env.run(args, stdin);
        outputs.push((args.join(" "), o));
    };
    // Plaintext to migrate, carrying the canary too.
    write_private(&env.state.join(".env"), &format!("OPENROUTER_API_KEY={CANARY_KEY}-env\n"));
    run(&["init", "--backend", "file"], "");
    run(&["models", "auth", "add", "--provider", "anthropic"], CANARY_KEY);
    run(&["models", "auth", "paste-token", "--provider", "anthropic", "--expires-in", "2h"], &tok);
    run(&["models", "auth", "add", "--provider", "anthropic"], CANARY_KEY); // duplicate → error path
    run(&["models", "auth", "paste-token", "--provider", "anthropic", "--profile-id", "anthropic:x"], CANARY_KEY); // wrong kind
    run(&["models", "auth", "add", "--provider", "anthropic", "--profile-id", "anthropic:y"], &tok); // wrong kind
    run(&["models", "auth", "list"], "");
    run(&["models", "auth", "list", "--json"], "");
    run(&["models", "status"], "");
    run(&["models", "status", "--check", "--json"], "");
    run(&["migrate", "--dry-run"], "");
    run(&["migrate", "--dry-run", "--json"], "");
    run(&["migrate", "--json"], "");
    run(&["doctor"], "");
    run(&["doctor", "--json"], "");
    run(&["models", "auth", "sync"], "");
    run(&["models", "auth", "order", "set", "--provider", "anthropic", "anthropic:manual", "anthropic:default"], "");
    run(&["models", "auth", "order", "get", "--provider", "anthropic", "--json"], "");
    run(&["onboard", "--non-interactive"], "");
    // The wrong passphrase path.
    let wrong = env.dir.path().join("wrong");
    write_private(&wrong, "wrong passphrase here\n");
    let mut c = env.cmd(&["get", "anthropic:default"]);
    c.env("CLAWKEEP_PASSPHRASE_FILE", &wrong);
    outputs.push(("get (wrong passphrase)".into(), run_cmd(&mut c, "")));
    // Sanity: the flow really stored the canary (otherwise this test proves nothing).
    let g = env.run(&["get", "anthropic:default"], "");
    assert_eq!(g.stdout.trim(), CANARY_KEY);
    let g = env.run(&["get", "openrouter:default"], "");
    assert_eq!(g.stdout.trim(), format!("{CANARY_KEY}-env"));

    let needles = ["CANARY", "7f3c9d1e"];
    for (cmd, o) in &outputs {
        for n in needles {
            assert!(!o.stdout.contains(n), "`{cmd}` leaked to stdout: {}", o.stdout);
            assert!(!o.stderr.contains(n), "`{cmd}` leaked to stderr: {}", o.stderr);
        }
    }
    let secrets_dir = env.ck().join("secrets");
    let mut scanned = 0;
    for (path, bytes) in env.all_files() {
        scanned += 1;
        let text = String::from_utf8_lossy(&bytes);
        if path.starts_with(&secrets_dir) {
            assert!(text.starts_with("age-encryption.org/v1"), "{} is not an age file", path.display());
        }
        for n in needles {
            assert!(!text.contains(n), "{} contains the canary", path.display());
        }
    }
    assert!(scanned >= 6, "scanned only {scanned} files");
    // No temp files left behind anywhere.
    assert!(env.all_files().iter().all(|(p, _)| !p.to_string_lossy().contains(".clawkeep-")));
}

#[test]
fn secrets_do_not_appear_in_debug_output_of_library_types() {
    let s = clawkeep::secret::normalize(CANARY_KEY).unwrap();
    assert!(!format!("{s:?}").contains("CANARY"));
    let e = clawkeep::ops::profile::check_secret("anthropic", clawkeep::openclaw::CredType::Token, &s).unwrap_err();
    assert!(!format!("{e:?} {e}").contains("CANARY"));
}
