//! One file store shared by several hosts over git (issue 9, second half): `recipients`, `sync`, `init --join`.
//! Hosts are separate HOME and state dirs on this machine; the shared remote is a bare repository in the test's temp
//! dir (no network). Secrets added on one host reach the others after `sync`, only once a member has added the
//! host's recipient; a removed host cannot read what is added afterwards; concurrent additions both survive; a
//! rotation reaches every host; an interrupted re-encryption resumes; no secret is in any git object or host file.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const CANARY: &str = "sk-ant-oat01-SYNC-CANARY-0123456789abcdefABCDEF0123456789abcdefABCDEF0123456789abcdef0000";

/// Who commits, and no system git configuration: for the test's own git commands and for every host.
const GIT_ENV: [(&str, &str); 5] = [
    ("GIT_AUTHOR_NAME", "test"),
    ("GIT_AUTHOR_EMAIL", "test@example.invalid"),
    ("GIT_COMMITTER_NAME", "test"),
    ("GIT_COMMITTER_EMAIL", "test@example.invalid"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
];

fn git(dir: &Path, args: &[&str]) -> String {
    let mut c = Command::new("git");
    c.arg("-C").arg(dir).args(["-c", "user.name=test", "-c", "user.email=test@example.invalid"]).args(args);
    c.envs(GIT_ENV);
    let o = c.output().unwrap();
    assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A bare repository as the shared remote.
struct Remote {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

/// The shared remote, or `None` (the test skips) when `git` is not installed; under CI it must be.
fn remote() -> Option<Remote> {
    if !have("git") {
        assert!(std::env::var_os("CI").is_none(), "`git` is missing in CI (.ci/run installs it)");
        eprintln!("SKIPPED: `git` is not installed");
        return None;
    }
    Some(Remote::new())
}

impl Remote {
    fn new() -> Remote {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.git");
        let o = Command::new("git").args(["init", "-q", "--bare", "-b", "main"]).arg(&path).output().unwrap();
        assert!(o.status.success(), "{o:?}");
        Remote { _dir: dir, path }
    }
    fn url(&self) -> String {
        format!("file://{}", self.path.display())
    }
    /// Every object of the repository, as `git cat-file --batch-all-objects --batch` prints them.
    fn all_objects(&self) -> Vec<u8> {
        let o = Command::new("git")
            .arg("-C")
            .arg(&self.path)
            .args(["cat-file", "--batch-all-objects", "--batch"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        o.stdout
    }
}

fn host() -> Env {
    let mut env = Env::new();
    env.extra_env.extend(GIT_ENV.map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

fn ok(env: &Env, args: &[&str], stdin: &str) -> Out {
    let o = env.run(args, stdin);
    assert_eq!(o.code, 0, "{args:?}: {o:?}");
    for s in [&o.stdout, &o.stderr] {
        assert!(!s.contains(CANARY) && !s.contains("SYNC-SECRET"), "a secret in the output of {args:?}: {o:?}");
    }
    o
}

fn paste(env: &Env, profile: &str, secret: &str) {
    ok(env, &["models", "auth", "paste-token", "--provider", "anthropic", "--profile-id", profile, "--force"], secret);
}

fn get(env: &Env, profile: &str) -> Out {
    env.run(&["get", profile], "")
}

/// The first host: a file store with one secret, shared to `remote`.
fn first(remote: &Remote) -> Env {
    let a = host();
    a.init_file();
    paste(&a, "anthropic:work", CANARY);
    let o = ok(&a, &["sync", "--remote", &remote.url(), "--name", "a"], "");
    assert!(o.stdout.contains("is now a git repository"), "{o:?}");
    a
}

/// A host that joins; returns it and the command a member runs for it.
fn joiner(remote: &Remote, name: &str) -> (Env, String) {
    let h = host();
    let o = ok(&h, &["init", "--join", &remote.url(), "--name", name], "");
    let cmd = o.stdout.trim().to_string();
    assert!(
        cmd.starts_with("clawkeep recipients add age1") && cmd.ends_with(&format!("--name {name} && clawkeep sync")),
        "{o:?}"
    );
    (h, cmd)
}

/// The arguments of the `clawkeep recipients add …` half of a joiner's printed command.
fn add_args(cmd: &str) -> Vec<&str> {
    cmd.split(" && ").next().unwrap().split_whitespace().skip(1).collect()
}

/// What a member runs for a joiner: the printed command, run through the binary.
fn admit(member: &Env, cmd: &str) {
    ok(member, &add_args(cmd), "");
    ok(member, &["sync"], "");
}

/// The usual start: the first host, and hosts `names` joined, admitted by it and synced (each reads the secret).
fn shared<const N: usize>(remote: &Remote, names: [&str; N]) -> (Env, [Env; N]) {
    let a = first(remote);
    let joined = names.map(|n| {
        let (h, cmd) = joiner(remote, n);
        admit(&a, &cmd);
        h
    });
    for h in &joined {
        ok(h, &["sync"], "");
        assert_eq!(get(h, "anthropic:work").stdout, format!("{CANARY}\n"));
    }
    (a, joined)
}

fn no_canary_anywhere(remote: &Remote, hosts: &[&Env], canaries: &[&str]) {
    let objects = remote.all_objects();
    for c in canaries {
        assert!(!objects.windows(c.len()).any(|w| w == c.as_bytes()), "a secret is in a git object");
    }
    for h in hosts {
        // Every file of the host, its clone's .git objects included (loose objects are compressed: their content is
        // checked through cat-file below).
        for (path, bytes) in h.all_files() {
            for c in canaries {
                assert!(!bytes.windows(c.len()).any(|w| w == c.as_bytes()), "a secret in {}", path.display());
            }
        }
        if h.ck().join(".git").is_dir() {
            let o = Command::new("git")
                .arg("-C")
                .arg(h.ck())
                .args(["cat-file", "--batch-all-objects", "--batch"])
                .output()
                .unwrap();
            for c in canaries {
                assert!(!o.stdout.windows(c.len()).any(|w| w == c.as_bytes()), "a secret in a git object of a host");
            }
        }
    }
}

#[test]
fn three_hosts_join_and_read_after_sync() {
    let Some(remote) = remote() else { return };
    let a = first(&remote);
    let (b, cmd_b) = joiner(&remote, "b");
    let (c, cmd_c) = joiner(&remote, "c");
    // Before a member adds it, a joined host holds the ciphertext and cannot read it.
    let o = get(&b, "anthropic:work");
    assert_eq!(o.code, 66, "{o:?}");
    assert!(o.stderr.contains("not encrypted to this host yet") && o.stderr.contains("recipients add age1"), "{o:?}");
    // The host's own wrapped identity and local files never go into the repository.
    let tracked = git(&a.ck(), &["ls-files"]);
    assert!(!tracked.contains("identity.json") && !tracked.contains("lock"), "{tracked}");
    // Nor this host's access log and its key.
    assert!(a.ck().join("audit").exists() && !tracked.contains("audit"), "{tracked}");
    assert!(tracked.contains("recipients.json") && tracked.contains("secrets/"), "{tracked}");
    admit(&a, &cmd_b);
    admit(&a, &cmd_c);
    for h in [&b, &c] {
        let o = ok(h, &["sync"], "");
        assert!(o.stdout.contains("Wrote references for anthropic:work"), "{o:?}");
        assert_eq!(get(h, "anthropic:work").stdout, format!("{CANARY}\n"));
        assert_eq!(json(&h.auth_profiles())["profiles"]["anthropic:work"]["tokenRef"]["id"], "main/anthropic:work");
    }
    // One adds a secret; the others read it after sync.
    let added = setup_token("SYNC-SECRET-FROM-B");
    paste(&b, "anthropic:second", &added);
    ok(&b, &["sync"], "");
    for h in [&a, &c] {
        ok(h, &["sync"], "");
        assert_eq!(get(h, "anthropic:second").stdout, format!("{added}\n"));
    }
    // A removal on one host reaches the others, and says what is left to do there.
    ok(&a, &["models", "auth", "remove", "anthropic:second"], "");
    ok(&a, &["sync"], "");
    let o = ok(&c, &["sync"], "");
    assert!(o.stderr.contains("removed on another host: main/anthropic:second"), "{o:?}");
    assert!(
        !c.ck().join("index.json").exists()
            || !std::fs::read_to_string(c.ck().join("index.json")).unwrap().contains("anthropic:second")
    );
    let o = ok(&c, &["recipients", "list"], "");
    for n in ["a", "b", "c"] {
        assert!(o.stdout.lines().any(|l| l.starts_with(&format!("{n} ")) || l.contains(&format!(" {n} "))), "{o:?}");
    }
    no_canary_anywhere(&remote, &[&a, &b, &c], &[CANARY, &added]);
}

#[test]
fn a_removed_host_cannot_read_a_secret_added_afterwards() {
    let Some(remote) = remote() else { return };
    let (a, [b, c]) = shared(&remote, ["b", "c"]);
    let o = ok(&a, &["recipients", "remove", "c"], "");
    assert!(o.stderr.contains("may still hold what it read before") && o.stderr.contains("anthropic:work"), "{o:?}");
    ok(&a, &["sync"], "");
    // The secret c could read is listed for rotation, on every host.
    ok(&b, &["sync"], "");
    let o = ok(&b, &["recipients", "list"], "");
    assert!(o.stdout.contains("removed: c") && o.stdout.contains("anthropic:work (agent main)"), "{o:?}");
    let o = ok(&b, &["models", "status"], "");
    assert!(o.stdout.contains("rotate") && o.stdout.contains("anthropic:work"), "{o:?}");
    let later = setup_token("SYNC-SECRET-AFTER-REMOVAL");
    paste(&b, "anthropic:later", &later);
    ok(&b, &["sync"], "");
    let o = ok(&c, &["sync"], "");
    assert!(o.stderr.contains("this host was removed"), "{o:?}");
    let o = get(&c, "anthropic:later");
    assert_ne!(o.code, 0, "{o:?}");
    assert!(!o.stdout.contains(&later), "{o:?}");
    // Not only the index says so: with the index's record removed, c's identity still cannot decrypt the file.
    let idx = c.ck().join("index.json");
    let mut v = json(&idx);
    v["secrets"]["main/anthropic:later"].as_object_mut().unwrap().remove("sealedTo");
    write_private(&idx, &serde_json::to_string_pretty(&v).unwrap());
    let o = get(&c, "anthropic:later");
    assert_eq!(o.code, 76, "{o:?}");
    assert!(!o.stdout.contains(&later), "{o:?}");
    // Rotating the exposed secret takes it off the list.
    paste(&a, "anthropic:work", &setup_token("SYNC-SECRET-ROTATED"));
    let o = ok(&a, &["recipients", "list"], "");
    assert!(!o.stdout.contains("anthropic:work (agent main)"), "{o:?}");
    no_canary_anywhere(&remote, &[&a, &b, &c], &[CANARY, &later]);
}

#[test]
fn concurrent_additions_on_two_hosts_both_survive_sync() {
    let Some(remote) = remote() else { return };
    let (a, [b]) = shared(&remote, ["b"]);
    let (from_a, from_b) = (setup_token("SYNC-SECRET-A"), setup_token("SYNC-SECRET-B"));
    // Both add before either syncs: the second sync meets a conflict in index.json and merges it.
    paste(&a, "anthropic:from-a", &from_a);
    paste(&b, "anthropic:from-b", &from_b);
    ok(&a, &["sync"], "");
    let o = ok(&b, &["sync"], "");
    assert!(o.stderr.contains("merged: "), "{o:?}");
    ok(&a, &["sync"], "");
    for h in [&a, &b] {
        assert_eq!(get(h, "anthropic:from-a").stdout, format!("{from_a}\n"));
        assert_eq!(get(h, "anthropic:from-b").stdout, format!("{from_b}\n"));
        assert_eq!(get(h, "anthropic:work").stdout, format!("{CANARY}\n"));
        let profiles = json(&h.auth_profiles());
        assert!(profiles["profiles"]["anthropic:from-a"]["tokenRef"].is_object(), "{profiles}");
        assert!(profiles["profiles"]["anthropic:from-b"]["tokenRef"].is_object(), "{profiles}");
    }
    assert!(!a.ck().join(".git/rebase-merge").exists() && !b.ck().join(".git/rebase-merge").exists());
    // A host added on one side while the other adds a secret: the merged secret is re-encrypted to the new host.
    let (c, cmd_c) = joiner(&remote, "c");
    let words = add_args(&cmd_c);
    ok(&a, &words, "");
    let from_b2 = setup_token("SYNC-SECRET-B2");
    paste(&b, "anthropic:from-b2", &from_b2);
    ok(&b, &["sync"], "");
    // Without a passphrase a cannot re-encrypt the merged secret: the sync goes on and says so.
    let mut cmd = a.cmd(&["sync"]);
    cmd.env_remove("CLAWKEEP_PASSPHRASE_FILE");
    let o = run_cmd(&mut cmd, "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("need re-encrypting") && !a.ck().join("reseal.json").exists(), "{o:?}");
    ok(&c, &["sync"], "");
    assert_eq!(get(&c, "anthropic:from-b2").code, 66);
    let o = ok(&a, &["sync"], "");
    assert!(o.stderr.contains("re-encrypted 1 merged secret file(s)"), "{o:?}");
    ok(&c, &["sync"], "");
    assert_eq!(get(&c, "anthropic:from-b2").stdout, format!("{from_b2}\n"));
    no_canary_anywhere(&remote, &[&a, &b, &c], &[CANARY, &from_a, &from_b, &from_b2]);
}

#[test]
fn a_rotation_on_one_host_reaches_the_others() {
    let Some(remote) = remote() else { return };
    let (a, [b, c]) = shared(&remote, ["b", "c"]);
    let rotated = setup_token("SYNC-SECRET-ROTATED");
    paste(&c, "anthropic:work", &rotated);
    ok(&c, &["sync"], "");
    for h in [&a, &b] {
        let before = std::fs::read(h.auth_profiles()).unwrap();
        let o = ok(h, &["sync"], "");
        assert!(o.stderr.contains("openclaw secrets reload"), "{o:?}");
        assert_eq!(get(h, "anthropic:work").stdout, format!("{rotated}\n"));
        // The reference stays as it was: OpenClaw resolves the new value through it.
        assert_eq!(std::fs::read(h.auth_profiles()).unwrap(), before);
    }
    // `--reload` runs `openclaw secrets reload` when a secret changed (a stand-in records its arguments).
    let mut a = a;
    let bin = a.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = a.dir.path().join("openclaw-args");
    std::fs::write(bin.join("openclaw"), format!("#!/bin/sh\necho \"$@\" >> {}\n", log.display())).unwrap();
    std::fs::set_permissions(bin.join("openclaw"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    a.extra_env.push(("PATH".into(), format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())));
    let again = setup_token("SYNC-SECRET-ROTATED-AGAIN");
    paste(&b, "anthropic:work", &again);
    ok(&b, &["sync"], "");
    let o = ok(&a, &["sync", "--reload"], "");
    assert!(o.stderr.contains("ran `openclaw secrets reload`"), "{o:?}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "secrets reload\n");
    assert_eq!(get(&a, "anthropic:work").stdout, format!("{again}\n"));
    no_canary_anywhere(&remote, &[&a, &b, &c], &[CANARY, &rotated, &again]);
}

#[test]
fn an_interrupted_reencryption_resumes_without_loss() {
    let Some(remote) = remote() else { return };
    let a = first(&remote);
    let mut secrets = vec![("anthropic:work".to_string(), CANARY.to_string())];
    for i in 0..7 {
        let s = setup_token(&format!("SYNC-SECRET-{i}"));
        let p = format!("anthropic:p{i}");
        paste(&a, &p, &s);
        secrets.push((p, s));
    }
    ok(&a, &["sync"], "");
    let (b, cmd_b) = joiner(&remote, "b");
    let words = add_args(&cmd_b);
    // kill -9 once 3 of 8 files are re-encrypted (the command waits there on a test hook).
    let journal = a.ck().join("reseal.json");
    let mut child = a
        .cmd(&words)
        .env("CLAWKEEP_TEST_PAUSE_AT", "reseal-paused-3")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let done = |p: &Path| {
        std::fs::read(p)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .map(|v| v["done"].as_array().map(|d| d.len()).unwrap_or(0))
    };
    while done(&journal) != Some(3) {
        assert!(start.elapsed().as_secs() < 60, "the re-encryption never reached 3 files");
        assert!(child.try_wait().unwrap().is_none(), "the command ended before it was killed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(done(&journal), Some(3));
    // Nothing lost meanwhile: every secret still reads on the interrupted host.
    for (p, s) in &secrets {
        assert_eq!(get(&a, p).stdout, format!("{s}\n"));
    }
    // A second run stopped again, between a file's replacement and the journal's update (abort: no cleanup).
    let mut cmd = a.cmd(&words);
    cmd.env("CLAWKEEP_TEST_CRASH_AT", "reseal-after-2");
    let o = run_cmd(&mut cmd, "");
    assert_ne!(o.code, 0, "{o:?}");
    assert!(journal.exists());
    let o = ok(&a, &["recipients", "list"], "");
    assert!(o.stdout.contains("interrupted re-encryption"), "{o:?}");
    // Nothing lost meanwhile: every secret still reads on the interrupted host.
    for (p, s) in &secrets {
        assert_eq!(get(&a, p).stdout, format!("{s}\n"));
    }
    // A second run finishes the job.
    let o = ok(&a, &words, "");
    assert!(o.stderr.contains("finished an interrupted re-encryption"), "{o:?}");
    assert!(!a.ck().join("reseal.json").exists());
    ok(&a, &["sync"], "");
    ok(&b, &["sync"], "");
    for h in [&a, &b] {
        for (p, s) in &secrets {
            assert_eq!(get(h, p).stdout, format!("{s}\n"), "{p}");
        }
    }
    let canaries: Vec<&str> = secrets.iter().map(|(_, s)| s.as_str()).collect();
    no_canary_anywhere(&remote, &[&a, &b], &canaries);
}

#[test]
fn a_conflict_outside_clawkeeps_files_stops_and_leaves_the_repository_to_git() {
    let Some(remote) = remote() else { return };
    let (a, [b]) = shared(&remote, ["b"]);
    // The user keeps a file of their own in the repository, changed on both hosts.
    for (h, text) in [(&a, "from a\n"), (&b, "from b\n")] {
        std::fs::write(h.ck().join("NOTES"), text).unwrap();
        git(&h.ck(), &["add", "-f", "NOTES"]);
        git(&h.ck(), &["commit", "-q", "-m", "notes"]);
    }
    ok(&a, &["sync"], "");
    let o = b.run(&["sync"], "");
    assert_eq!(o.code, 80, "{o:?}");
    assert!(o.stderr.contains("NOTES") && o.stderr.contains("rebase --abort"), "{o:?}");
    assert!(b.ck().join(".git/rebase-merge").exists() || b.ck().join(".git/rebase-apply").exists());
    let o = b.run(&["sync"], "");
    assert_eq!(o.code, 80, "{o:?}");
    assert!(o.stderr.contains("middle of a rebase"), "{o:?}");
    // The vault still works meanwhile.
    assert_eq!(get(&b, "anthropic:work").stdout, format!("{CANARY}\n"));
}

/// Run `clawkeep <args>` on a pseudo-terminal (`script` from util-linux); its stdout carries both streams.
fn on_tty(env: &Env, args: &str) -> Option<Out> {
    let script =
        std::env::split_paths(&std::env::var_os("PATH").unwrap()).map(|d| d.join("script")).find(|p| p.is_file());
    let Some(script) = script else {
        assert!(std::env::var_os("CI").is_none(), "`script` (util-linux) is missing in CI");
        eprintln!("SKIPPED: `script` (util-linux) is not installed");
        return None;
    };
    let template = env.cmd(&[]);
    let mut s = Command::new(script);
    s.args(["-qec", &format!("{} {args}", env!("CARGO_BIN_EXE_clawkeep")), "/dev/null"])
        .env_clear()
        .env("TERM", "xterm");
    for (k, v) in template.get_envs() {
        if let Some(v) = v {
            s.env(k, v);
        }
    }
    Some(run_cmd(&mut s, ""))
}

#[test]
fn many_secrets_show_a_progress_bar_on_a_terminal_and_none_without_one() {
    let Some(remote) = remote() else { return };
    let a = first(&remote);
    for i in 0..24 {
        paste(&a, &format!("anthropic:bulk{i}"), &setup_token(&format!("SYNC-SECRET-BULK{i}")));
    }
    let (b, cmd_b) = joiner(&remote, "b");
    let recipient = cmd_b.split_whitespace().nth(3).unwrap().to_string();
    let Some(o) = on_tty(&a, &format!("recipients add {recipient} --name b")) else { return };
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("re-encrypting") && o.stdout.contains("/25 secrets"), "{o:?}");
    // Without a terminal: no bar, just the count.
    let (_c, cmd_c) = joiner(&remote, "c");
    let words = add_args(&cmd_c);
    let o = ok(&a, &words, "");
    assert!(!o.stderr.contains("re-encrypting") && o.stderr.contains("re-encrypted 25 secret file(s)"), "{o:?}");
    ok(&a, &["sync"], "");
    ok(&b, &["sync"], "");
    assert_eq!(get(&b, "anthropic:bulk23").stdout, format!("{}\n", setup_token("SYNC-SECRET-BULK23")));
}

#[test]
fn bad_sync_and_join_requests_are_refused_clearly() {
    let Some(remote) = remote() else { return };
    // Joining an empty repository: nothing to join, and no clawkeep dir is left behind.
    let j = host();
    let o = j.run(&["init", "--join", &remote.url(), "--name", "j"], "");
    assert_eq!(o.code, 80, "{o:?}");
    assert!(!j.ck().exists(), "a failed join left {}", j.ck().display());
    let o = j.run(&["init", "--join", &remote.url(), "--name", "bad/name"], "");
    assert_eq!(o.code, 65, "{o:?}");
    // A store that is not shared yet.
    let a = host();
    a.init_file();
    let o = a.run(&["sync"], "");
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("sync --remote"), "{o:?}");
    let o = a.run(&["recipients", "add", "age1notarecipient", "--name", "x"], "");
    assert_eq!(o.code, 65, "{o:?}");
    // A repository that is not a clawkeep store.
    let other = Remote::new();
    let work = tempfile::tempdir().unwrap();
    git(work.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(work.path().join("README"), "not a store\n").unwrap();
    git(work.path(), &["add", "README"]);
    git(work.path(), &["commit", "-q", "-m", "x"]);
    git(work.path(), &["push", "-q", &other.url(), "main"]);
    let o = j.run(&["init", "--join", &other.url(), "--name", "j"], "");
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("does not hold a shared clawkeep store"), "{o:?}");
    assert!(!j.ck().exists());
    // --remote with a repository that already holds commits.
    let o = a.run(&["sync", "--remote", &other.url()], "");
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("init --join"), "{o:?}");
    // A shared store: this host's own recipient cannot be removed here; an unknown host is not found.
    ok(&a, &["sync", "--remote", &remote.url(), "--name", "a"], "");
    let me = ok(&a, &["recipient"], "").stdout.trim().to_string();
    let o = a.run(&["recipients", "remove", &me], "");
    assert_eq!(o.code, 65, "{o:?}");
    let o = a.run(&["recipients", "remove", "nobody"], "");
    assert_eq!(o.code, 66, "{o:?}");
    let o = a.run(&["sync", "--remote", &remote.url()], "");
    assert_eq!(o.code, 65, "{o:?}");
    // Without git on PATH: exit 80, saying so.
    let mut n = host();
    n.init_file();
    n.extra_env.push(("PATH".into(), "/nonexistent".into()));
    let o = n.run(&["sync", "--remote", &remote.url()], "");
    assert_eq!(o.code, 80, "{o:?}");
    assert!(o.stderr.contains("`git` is not installed"), "{o:?}");
}

#[test]
fn migrate_backups_stay_on_the_host_that_made_them() {
    let Some(remote) = remote() else { return };
    let (a, [b]) = shared(&remote, ["b"]);
    // a migrates first, b later: each backup stays with its host.
    let a_file = serde_json::json!({"version":1,"profiles":{
        "groq:default":{"type":"api_key","provider":"groq","key":"gsk-SYNC-SECRET-A-MIGRATED"}
    }})
    .to_string();
    write_private(&a.auth_profiles(), &a_file);
    ok(&a, &["migrate"], "");
    ok(&a, &["sync"], "");
    std::thread::sleep(std::time::Duration::from_millis(5));
    // b migrates a plaintext key; its backup of the original file is not shared, the key is.
    write_private(
        &b.auth_profiles(),
        &serde_json::json!({"version":1,"profiles":{
            "openai:default":{"type":"api_key","provider":"openai","key":"sk-proj-SYNC-SECRET-MIGRATED"}
        }})
        .to_string(),
    );
    ok(&b, &["migrate"], "");
    ok(&b, &["sync"], "");
    let tracked = git(&b.ck(), &["ls-files", "secrets"]);
    assert!(!tracked.contains("6261636b757023"), "a migrate backup is in the repository: {tracked}");
    ok(&a, &["sync"], "");
    assert_eq!(get(&a, "openai:default").stdout, "sk-proj-SYNC-SECRET-MIGRATED\n");
    // a's undo restores a's own files, never b's (b's backup is newer, and listed in the shared index).
    ok(&a, &["migrate", "--undo", "--force"], "");
    let profiles = json(&a.auth_profiles());
    assert_eq!(profiles["profiles"]["groq:default"]["key"], "gsk-SYNC-SECRET-A-MIGRATED", "{profiles}");
    assert!(profiles["profiles"]["openai:default"]["keyRef"].is_object(), "b's backup was restored on a: {profiles}");
    let o = a.run(&["migrate", "--undo", "--force"], "");
    assert_eq!(o.code, 66, "{o:?}");
    ok(&b, &["migrate", "--undo", "--force"], "");
    no_canary_anywhere(&remote, &[&a], &["sk-proj-SYNC-SECRET-MIGRATED"]);
}

#[test]
fn a_secret_rotated_on_two_hosts_at_once_keeps_the_later_value() {
    let Some(remote) = remote() else { return };
    let (a, [b]) = shared(&remote, ["b"]);
    let (on_a, on_b) = (setup_token("SYNC-SECRET-ROT-A"), setup_token("SYNC-SECRET-ROT-B"));
    paste(&a, "anthropic:work", &on_a);
    std::thread::sleep(std::time::Duration::from_millis(5));
    paste(&b, "anthropic:work", &on_b);
    ok(&a, &["sync"], "");
    // b's value is the later one: b's sync keeps it, and a gets it at its next sync.
    let o = ok(&b, &["sync"], "");
    assert!(o.stderr.contains("changed on two hosts; the later value is kept"), "{o:?}");
    ok(&a, &["sync"], "");
    for h in [&a, &b] {
        assert_eq!(get(h, "anthropic:work").stdout, format!("{on_b}\n"));
    }
    // The other order: a's later value wins over b's earlier one, and b's commit becomes empty.
    let (on_b2, on_a2) = (setup_token("SYNC-SECRET-ROT-B2"), setup_token("SYNC-SECRET-ROT-A2"));
    paste(&b, "anthropic:work", &on_b2);
    std::thread::sleep(std::time::Duration::from_millis(5));
    paste(&a, "anthropic:work", &on_a2);
    ok(&a, &["sync"], "");
    ok(&b, &["sync"], "");
    ok(&a, &["sync"], "");
    for h in [&a, &b] {
        assert_eq!(get(h, "anthropic:work").stdout, format!("{on_a2}\n"));
        assert!(!h.ck().join(".git/rebase-merge").exists());
    }
}
