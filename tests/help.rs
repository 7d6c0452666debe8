//! Shell completions and the man page come from the parser's own definitions: every command is in them, they work
//! without a state dir, and bash accepts the completion script.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;
use std::process::Command;

fn clawkeep(args: &[&str]) -> std::process::Output {
    // No HOME, no state dir: completions and the man page must not need one.
    Command::new(env!("CARGO_BIN_EXE_clawkeep")).args(args).env_clear().output().unwrap()
}

#[test]
fn completions_cover_every_command_and_load_in_bash() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = clawkeep(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {o:?}");
        let text = String::from_utf8(o.stdout).unwrap();
        for cmd in ["resolve", "export", "import", "recipients", "audit", "serve", "doctor", "migrate"] {
            assert!(text.contains(cmd), "{shell} completions lack `{cmd}`");
        }
    }
    if common::have("bash") {
        let script = clawkeep(&["completions", "bash"]).stdout;
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("clawkeep.bash");
        std::fs::write(&f, script).unwrap();
        let o = Command::new("bash")
            .arg("-c")
            .arg(format!("source {} && complete -p clawkeep", f.display()))
            .output()
            .unwrap();
        assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("clawkeep"), "{o:?}");
    }
    let o = clawkeep(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(64), "{o:?}");
}

#[test]
fn the_man_page_names_the_commands() {
    let o = clawkeep(&["man"]);
    assert!(o.status.success(), "{o:?}");
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with(".ie") && text.contains(".TH clawkeep 1"), "{}", &text[..200.min(text.len())]);
    for cmd in ["resolve", "export", "import", "serve", "doctor"] {
        assert!(text.contains(cmd), "the man page lacks `{cmd}`");
    }
}

#[test]
fn the_fast_paths_print_what_clap_prints_and_extra_arguments_still_go_through_clap() {
    let want = format!("clawkeep {}\n", env!("CARGO_PKG_VERSION"));
    for flag in ["--version", "-V"] {
        let o = clawkeep(&[flag]);
        assert!(o.status.success(), "{flag}: {o:?}");
        assert_eq!(String::from_utf8(o.stdout).unwrap(), want, "{flag}");
    }
    // With anything after it, the whole parser runs: `resolve` takes no argument, so this is a usage error.
    let o = clawkeep(&["resolve", "extra"]);
    assert_eq!(o.status.code(), Some(64), "{o:?}");
}
