//! What a secret may contain and look like: control characters, invisible Unicode and keys of the wrong shape are
//! refused with a clear message (never quoting the key), exit 65, and nothing is stored.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;
use common::*;

#[test]
fn control_characters_and_invisible_unicode_are_refused() {
    let env = Env::new();
    env.init_file();
    let before = env.snapshot();
    for bad in ["sk-abc\u{0}def", "sk-abc\u{1b}[31mdef", "sk-abc\u{200B}def", "\u{FEFF}sk-abcdef"] {
        let o = env.run(&["models", "auth", "add", "--provider", "openai"], bad);
        assert_eq!(o.code, 65, "{bad:?}: {o:?}");
        assert!(o.stderr.contains("the secret contains"), "{o:?}");
        assert!(!o.stderr.contains("abc"), "the message quotes the key: {o:?}");
    }
    assert_eq!(env.snapshot(), before, "a refused key changed files");
}

#[test]
fn keys_of_the_wrong_shape_are_refused_unless_allowed() {
    let env = Env::new();
    env.init_file();
    let before = env.snapshot();
    for (provider, bad) in [
        ("anthropic", "ARYxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ("anthropic", "sk-proj-an-openai-key"),
        ("openai", "sk-ant-api03-an-anthropic-key"),
        ("openai", "proj-xxxxxxxxxxxx"),
        ("openrouter", "sk-proj-an-openai-key"),
    ] {
        let o = env.run(&["models", "auth", "add", "--provider", provider], bad);
        assert_eq!(o.code, 65, "{provider} {bad}: {o:?}");
        assert!(o.stderr.contains("does not look like") && o.stderr.contains("--allow-any-format"), "{o:?}");
        assert!(!o.stderr.contains(bad), "{o:?}");
    }
    assert_eq!(env.snapshot(), before);
    let o = env.run(&["models", "auth", "add", "--provider", "anthropic", "--allow-any-format"], "ARYxxxxxxxx");
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(env.run(&["get", "anthropic:default"], "").stdout, "ARYxxxxxxxx\n");
    // Other providers have no known shape: anything printable goes.
    let o = env.run(&["models", "auth", "add", "--provider", "groq"], "gsk_whatever");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("12 characters, sha256"), "{o:?}");
}
