//! Bad input as data: each case sets up a state, runs one command, and checks the exit code, the message, and that
//! every file the user had is byte-identical afterwards.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;
use std::os::unix::fs::PermissionsExt;

use common::*;

struct Case {
    name: &'static str,
    setup: fn(&Env),
    args: &'static [&'static str],
    stdin: &'static str,
    code: i32,
    message: &'static [&'static str],
}

fn vault_with_profile(env: &Env) {
    env.init_file();
    let o = env.run(&["models", "auth", "add", "--provider", "openai"], "sk-proj-existing");
    assert_eq!(o.code, 0, "{o:?}");
}

fn first_secret_file(env: &Env) -> std::path::PathBuf {
    std::fs::read_dir(env.ck().join("secrets")).unwrap().next().unwrap().unwrap().path()
}

fn chmod(p: &std::path::Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

const TOKEN_STDIN: &str =
    "sk-ant-oat01-AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789AbCdEf0123456789";

const CASES: &[Case] = &[
    Case {
        name: "malformed auth-profiles.json",
        setup: |e| {
            vault_with_profile(e);
            write_private(&e.auth_profiles(), "{\"version\":1,\n \"profiles\": {,}}");
        },
        args: &["models", "auth", "add", "--provider", "anthropic"],
        stdin: "sk-ant-api03-x",
        code: 65,
        message: &["auth-profiles.json: malformed JSON at line 2, column"],
    },
    Case {
        name: "unknown auth-profiles version",
        setup: |e| {
            vault_with_profile(e);
            write_private(&e.auth_profiles(), r#"{"version":2,"profiles":{}}"#);
        },
        args: &["models", "auth", "paste-token", "--provider", "anthropic"],
        stdin: TOKEN_STDIN,
        code: 65,
        message: &["auth-profiles.json: unsupported version 2"],
    },
    Case {
        name: "malformed auth-state.json",
        setup: |e| {
            vault_with_profile(e);
            write_private(&e.agent_dir("main").join("auth-state.json"), "[1,2");
        },
        args: &["models", "auth", "order", "set", "--provider", "openai", "openai:default"],
        stdin: "",
        code: 65,
        message: &["auth-state.json: malformed JSON at line 1"],
    },
    Case {
        name: "wrong field type in a profile",
        setup: |e| {
            vault_with_profile(e);
            write_private(
                &e.auth_profiles(),
                r#"{"version":1,"profiles":{"a:b":{"provider":"a","type":"token","expires":"soon"}}}"#,
            );
        },
        args: &["models", "status"],
        stdin: "",
        code: 65,
        message: &["field `profiles.a:b.expires`"],
    },
    Case {
        name: "unknown profile id (get)",
        setup: vault_with_profile,
        args: &["get", "openai:nope"],
        stdin: "",
        code: 66,
        message: &["profile `openai:nope` not found for agent `main`"],
    },
    Case {
        name: "unknown profile id (remove)",
        setup: vault_with_profile,
        args: &["models", "auth", "remove", "anthropic:none"],
        stdin: "",
        code: 66,
        message: &["profile `anthropic:none` not found"],
    },
    Case {
        name: "duplicate id",
        setup: vault_with_profile,
        args: &["models", "auth", "add", "--provider", "openai"],
        stdin: "sk-proj-other",
        code: 67,
        message: &["profile `openai:default` already exists", "--force"],
    },
    Case {
        name: "wrong token prefix",
        setup: vault_with_profile,
        args: &["models", "auth", "paste-token", "--provider", "anthropic"],
        stdin: "sk-xyz-0000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        code: 65,
        message: &["must start with `sk-ant-oat01-`"],
    },
    Case {
        name: "token too short",
        setup: vault_with_profile,
        args: &["models", "auth", "paste-token", "--provider", "anthropic"],
        stdin: "sk-ant-oat01-short",
        code: 65,
        message: &["too short"],
    },
    Case {
        name: "api key pasted as token",
        setup: vault_with_profile,
        args: &["models", "auth", "paste-token", "--provider", "anthropic"],
        stdin: "sk-ant-api03-0000000000000000000000000000000000000000000000000000000000000000000000000000",
        code: 65,
        message: &["looks like an Anthropic API key", "clawkeep models auth add --provider anthropic"],
    },
    Case {
        name: "setup-token stored as key",
        setup: vault_with_profile,
        args: &["models", "auth", "add", "--provider", "anthropic"],
        stdin: TOKEN_STDIN,
        code: 65,
        message: &["setup-token", "paste-token"],
    },
    Case {
        name: "empty input",
        setup: vault_with_profile,
        args: &["models", "auth", "add", "--provider", "anthropic"],
        stdin: " \n\t\n",
        code: 65,
        message: &["empty input"],
    },
    Case {
        name: "bad duration",
        setup: vault_with_profile,
        args: &["models", "auth", "paste-token", "--provider", "anthropic", "--expires-in", "12 parsecs"],
        stdin: TOKEN_STDIN,
        code: 65,
        message: &["invalid duration"],
    },
    Case {
        name: "invalid agent id",
        setup: vault_with_profile,
        args: &["models", "auth", "list", "--agent", "../etc"],
        stdin: "",
        code: 65,
        message: &["invalid agent id"],
    },
    Case {
        name: "wrong passphrase",
        setup: |e| {
            vault_with_profile(e);
            write_private(&e.pass_file, "not the passphrase\n");
        },
        args: &["get", "openai:default"],
        stdin: "",
        code: 79,
        message: &["wrong passphrase", "nothing was changed"],
    },
    Case {
        name: "wrong passphrase during migrate",
        setup: |e| {
            vault_with_profile(e);
            write_private(&e.state.join(".env"), "ANTHROPIC_API_KEY=sk-ant-api03-plain\n");
            write_private(&e.pass_file, "not the passphrase\n");
        },
        args: &["migrate"],
        stdin: "",
        code: 79,
        message: &["wrong passphrase"],
    },
    Case {
        name: "corrupted age file",
        setup: |e| {
            vault_with_profile(e);
            write_private(&first_secret_file(e), "age-encryption.org/v1\n-> garbage\n");
        },
        args: &["get", "openai:default"],
        stdin: "",
        code: 76,
        message: &["the encrypted secret is corrupted or truncated"],
    },
    Case {
        name: "truncated age file",
        setup: |e| {
            vault_with_profile(e);
            let f = first_secret_file(e);
            let b = std::fs::read(&f).unwrap();
            std::fs::write(&f, &b[..b.len() - 20]).unwrap();
        },
        args: &["get", "openai:default"],
        stdin: "",
        code: 76,
        message: &["corrupted or truncated"],
    },
    Case {
        name: "missing index",
        setup: |e| {
            vault_with_profile(e);
            std::fs::remove_file(e.ck().join("index.json")).unwrap();
        },
        args: &["get", "openai:default"],
        stdin: "",
        code: 76,
        message: &["index.json", "clawkeep doctor --fix"],
    },
    Case {
        name: "malformed index",
        setup: |e| {
            vault_with_profile(e);
            write_private(&e.ck().join("index.json"), "{\"version\":1,\"secrets\":");
        },
        args: &["models", "status"],
        stdin: "",
        code: 65,
        message: &["index.json: malformed JSON at line 1"],
    },
    Case {
        name: "group-writable auth-profiles.json",
        setup: |e| {
            vault_with_profile(e);
            chmod(&e.auth_profiles(), 0o666);
        },
        args: &["models", "auth", "list"],
        stdin: "",
        code: 77,
        message: &["auth-profiles.json: is group/world-writable", "chmod 600"],
    },
    Case {
        name: "world-writable state dir",
        setup: |e| {
            vault_with_profile(e);
            chmod(&e.state, 0o777);
        },
        args: &["models", "auth", "add", "--provider", "groq"],
        stdin: "gsk-1",
        code: 77,
        message: &[".openclaw: is group/world-writable", "chmod 700"],
    },
    Case {
        name: "symlinked auth-profiles.json",
        setup: |e| {
            vault_with_profile(e);
            let real = e.dir.path().join("elsewhere.json");
            std::fs::rename(e.auth_profiles(), &real).unwrap();
            std::os::unix::fs::symlink(&real, e.auth_profiles()).unwrap();
        },
        args: &["models", "auth", "add", "--provider", "anthropic"],
        stdin: "sk-ant-api03-x",
        code: 77,
        message: &["is a symbolic link", "replace the symlink"],
    },
    Case {
        name: "hard-linked secret file",
        setup: |e| {
            vault_with_profile(e);
            std::fs::hard_link(first_secret_file(e), e.dir.path().join("copy.age")).unwrap();
        },
        args: &["get", "openai:default"],
        stdin: "",
        code: 77,
        message: &["has 2 hard links"],
    },
    Case {
        name: "passphrase file readable by others",
        setup: |e| {
            vault_with_profile(e);
            chmod(&e.pass_file, 0o644);
        },
        args: &["get", "openai:default"],
        stdin: "",
        code: 77,
        message: &["passphrase: is readable by group/others"],
    },
    Case {
        name: "no vault yet",
        setup: |_| {},
        args: &["models", "auth", "add", "--provider", "openai"],
        stdin: "sk-1",
        code: 68,
        message: &["no clawkeep vault", "clawkeep init"],
    },
    Case {
        name: "keychain without a D-Bus session",
        setup: |_| {},
        args: &["init", "--backend", "keychain"],
        stdin: "",
        code: 69,
        message: &["no D-Bus session bus", "--backend file"],
    },
    Case {
        name: "setup-token without a TTY",
        setup: vault_with_profile,
        args: &["models", "auth", "setup-token", "--provider", "anthropic"],
        stdin: "",
        code: 78,
        message: &["needs an interactive terminal", "paste-token"],
    },
    Case {
        name: "passphrase too short on init",
        setup: |e| write_private(&e.pass_file, "short\n"),
        args: &["init", "--backend", "file"],
        stdin: "",
        code: 65,
        message: &["passphrase too short"],
    },
];

#[test]
fn every_bad_input_gets_a_clear_message_its_exit_code_and_changes_nothing() {
    let mut failures = Vec::new();
    for case in CASES {
        let env = Env::new();
        (case.setup)(&env);
        let before = env.snapshot();
        let o = env.run(case.args, case.stdin);
        let after = env.snapshot();
        if o.code != case.code {
            failures.push(format!("{}: exit {} (want {}): {}", case.name, o.code, case.code, o.stderr));
        }
        for m in case.message {
            if !o.stderr.contains(m) {
                failures.push(format!("{}: stderr lacks {m:?}: {}", case.name, o.stderr));
            }
        }
        if before != after {
            let diff: Vec<_> = after.keys().chain(before.keys()).filter(|k| before.get(*k) != after.get(*k)).collect();
            failures.push(format!("{}: files changed: {diff:?}", case.name));
        }
        if !o.stdout.is_empty() {
            failures.push(format!("{}: unexpected stdout {:?}", case.name, o.stdout));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Run `env.run(args, stdin)` while `dir` cannot be written: immutable as root (root ignores modes), read-only
/// otherwise. `None` (after a SKIPPED line) when the filesystem does not support `chattr +i`.
fn run_with_unwritable(env: &Env, dir: &std::path::Path, args: &[&str], stdin: &str, test: &str) -> Option<Out> {
    let root = current_uid() == 0;
    if root {
        let s = std::process::Command::new("chattr").arg("+i").arg(dir).status();
        if !s.is_ok_and(|s| s.success()) {
            eprintln!("SKIPPED {test}: chattr +i not supported here");
            return None;
        }
    } else {
        chmod(dir, 0o500);
    }
    let o = env.run(args, stdin);
    if root {
        std::process::Command::new("chattr").arg("-i").arg(dir).status().unwrap();
    } else {
        chmod(dir, 0o700);
    }
    Some(o)
}

fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    let d = tempfile::tempdir().unwrap();
    std::fs::metadata(d.path()).unwrap().uid()
}

#[test]
fn a_failed_write_leaves_the_original_intact() {
    let env = Env::new();
    vault_with_profile(&env);
    let agent = env.agent_dir("main");
    let before = env.snapshot();
    let args = ["models", "auth", "add", "--provider", "openai", "--force"];
    let Some(o) = run_with_unwritable(&env, &agent, &args, "sk-proj-new", "a_failed_write_leaves_the_original_intact")
    else {
        return;
    };
    assert_eq!(o.code, 74, "{o:?}");
    assert!(o.stderr.contains("auth-profiles.json") || o.stderr.contains("agent"), "{o:?}");
    let leftovers: Vec<_> = std::fs::read_dir(&agent)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    assert_eq!(env.snapshot(), before, "no file may change when the write fails");
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-proj-existing\n");
}

#[test]
fn a_failed_secret_write_rolls_the_reference_back() {
    let env = Env::new();
    vault_with_profile(&env);
    let secrets = env.ck().join("secrets");
    let before = env.snapshot();
    let args = ["models", "auth", "add", "--provider", "groq"];
    let Some(o) =
        run_with_unwritable(&env, &secrets, &args, "gsk-new", "a_failed_secret_write_rolls_the_reference_back")
    else {
        return;
    };
    assert_eq!(o.code, 74, "{o:?}");
    assert!(o.stderr.contains("secrets"), "{o:?}");
    assert_eq!(env.snapshot(), before, "the reference must be rolled back");
}
