//! Fault injection against the real binary: `kill -9` at random moments during concurrent writes, many writers at
//! once on one agent, a write limit (disk full), and a keychain that disappears mid-run. Afterwards every file
//! parses and every write that reported success is there (SECURITY.md, durability).
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;
use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// xorshift64*: reproducible randomness without a dependency (seed from `CLAWKEEP_FAULT_SEED`).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    std::env::var("CLAWKEEP_FAULT_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x0fa1_75ee_d5ee_d5ee)
}

/// Every JSON file under the home dir parses, and every line of every JSON-lines file does.
fn assert_all_files_parse(env: &Env) {
    for (path, bytes) in env.all_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".json") || name.ends_with(".json.bak") {
            serde_json::from_slice::<Value>(&bytes)
                .unwrap_or_else(|e| panic!("{} does not parse after the kills: {e}", path.display()));
        } else if name.ends_with(".jsonl") {
            for (i, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
                serde_json::from_str::<Value>(line).unwrap_or_else(|e| {
                    panic!("{} line {} does not parse after the kills: {e}", path.display(), i + 1)
                });
            }
        }
    }
    let d = env.run(&["doctor", "--json"], "");
    assert!(d.code != 70 && d.code != 101 && d.code >= 0, "doctor after the kills: {d:?}");
}

/// Resolve `ids` (profile ids of agent main) straight from the file store: id → value (absent when not found).
fn resolve_all(env: &Env, pids: &[String]) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for chunk in pids.chunks(200) {
        let ids: Vec<String> = chunk.iter().map(|p| format!("main/{p}")).collect();
        let req = json!({"protocolVersion": 1, "provider": "clawkeep", "ids": ids}).to_string();
        let o = env.run(&["resolve"], &req);
        assert_eq!(o.code, 0, "{o:?}");
        let v: Value = serde_json::from_str(&o.stdout).unwrap();
        for p in chunk {
            let id = format!("main/{p}");
            match v["values"].get(&id).and_then(Value::as_str) {
                Some(s) => out.insert(p.clone(), Some(s.to_string())),
                None => {
                    assert_eq!(v["errors"][&id]["code"], "NOT_FOUND", "{id}: {v}");
                    out.insert(p.clone(), None)
                }
            };
        }
    }
    out
}

/// The profile ids `auth-profiles.json` refers to clawkeep for.
fn referenced(env: &Env) -> BTreeSet<String> {
    let Ok(bytes) = std::fs::read(env.auth_profiles()) else { return BTreeSet::new() };
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    v["profiles"]
        .as_object()
        .map(|m| m.iter().filter(|(_, p)| p.get("keyRef").is_some()).map(|(k, _)| k.clone()).collect())
        .unwrap_or_default()
}

enum Ended {
    Ok,
    Failed(Out),
    Killed,
}

/// Run a command and SIGKILL it after `kill_after` unless it ended first.
fn run_killed(env: &Env, args: &[&str], stdin: &str, kill_after: Duration) -> Ended {
    run_cmd_killed(env.cmd(args), stdin, kill_after)
}

fn run_cmd_killed(mut c: Command, stdin: &str, kill_after: Duration) -> Ended {
    use std::io::Write;
    let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    {
        let mut i = child.stdin.take().unwrap();
        let _ = i.write_all(stdin.as_bytes());
    }
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let o = child.wait_with_output().unwrap();
            return match st.code() {
                Some(0) => Ended::Ok,
                _ => Ended::Failed(Out {
                    code: st.code().unwrap_or(-1),
                    stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
                }),
            };
        }
        if start.elapsed() >= kill_after {
            let _ = child.kill();
            let _ = child.wait();
            return Ended::Killed;
        }
        std::thread::sleep(Duration::from_micros(300));
    }
}

/// What may be found for one profile: the values one of which must be there (`None`: absent is allowed).
#[derive(Default)]
struct Allowed(BTreeSet<Option<String>>);

#[test]
fn kill_9_at_random_moments_during_concurrent_writes_loses_no_reported_write() {
    let env = Arc::new(Env::new());
    env.init_file();
    let same = env.dir.path().join("same-passphrase");
    write_private(&same, &format!("{PASSPHRASE}\n"));
    let min_kills: u64 = std::env::var("CLAWKEEP_FAULT_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let kills = Arc::new(Mutex::new(0u64));
    let completed = Arc::new(Mutex::new(0u64));
    let expected: Arc<Mutex<BTreeMap<String, Allowed>>> = Arc::default();
    let env_lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let start = Instant::now();
    let mut workers = Vec::new();
    // Workers 0..3 add, rotate, remove and reorder their own profiles; worker 4 migrates `.env` keys; worker 5 runs
    // `passwd` (to the same passphrase: identity.json is rewritten without changing what unlocks it).
    for w in 0..6u64 {
        let (env, kills, expected, env_lines, same) =
            (env.clone(), kills.clone(), expected.clone(), env_lines.clone(), same.clone());
        let completed = completed.clone();
        workers.push(std::thread::spawn(move || {
            let mut rng = Rng(seed() ^ (w + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut n = 0u64;
            let mut done = 0u64;
            let mut mine: Vec<String> = Vec::new();
            let mut typical = Duration::from_millis(100);
            while *kills.lock().unwrap() < min_kills && start.elapsed() < Duration::from_secs(240) {
                n += 1;
                // Kill somewhere within a command's run: uniformly up to 1.3× the typical run time of this worker's
                // commands on this machine (the first command of each worker runs to its end to measure it; the window
                // grows while kills keep landing before the end and follows the run time of completed ones).
                let after = if n == 1 {
                    Duration::from_secs(60)
                } else {
                    Duration::from_micros(rng.below(typical.as_micros() as u64 * 13 / 10 + 1))
                };
                let began = Instant::now();
                let ended;
                if w == 5 {
                    let mut c = env.cmd(&["passwd"]);
                    c.env("CLAWKEEP_NEW_PASSPHRASE_FILE", &same);
                    ended = run_cmd_killed(c, "", after);
                } else if w == 4 {
                    let value = format!("sk-ant-api03-migrate-{n}-{:016x}", rng.next());
                    write_private(&env.state.join(".env"), &format!("ANTHROPIC_API_KEY={value}\n"));
                    env_lines.lock().unwrap().push(value);
                    ended = run_killed(&env, &["migrate"], "", after);
                } else {
                    let op = rng.below(10);
                    if op < 5 || mine.is_empty() {
                        let pid = format!("openai:w{w}-{n}");
                        let value = format!("sk-fault-{w}-{n}-{:016x}", rng.next());
                        ended = run_killed(
                            &env,
                            &["models", "auth", "add", "--provider", "openai", "--profile-id", &pid],
                            &value,
                            after,
                        );
                        let mut ex = expected.lock().unwrap();
                        let a = ex.entry(pid.clone()).or_default();
                        match ended {
                            Ended::Ok => a.0 = BTreeSet::from([Some(value)]),
                            Ended::Killed => a.0 = BTreeSet::from([None, Some(value)]),
                            Ended::Failed(_) => a.0 = BTreeSet::from([None]),
                        }
                        mine.push(pid);
                    } else if op < 7 {
                        let pid = mine[rng.below(mine.len() as u64) as usize].clone();
                        let value = format!("sk-fault-{w}-{n}-rotated-{:016x}", rng.next());
                        ended = run_killed(
                            &env,
                            &["models", "auth", "add", "--provider", "openai", "--profile-id", &pid, "--force"],
                            &value,
                            after,
                        );
                        let mut ex = expected.lock().unwrap();
                        let a = ex.get_mut(&pid).unwrap();
                        match ended {
                            Ended::Ok => a.0 = BTreeSet::from([Some(value)]),
                            Ended::Killed => {
                                a.0.insert(Some(value));
                            }
                            Ended::Failed(_) => {}
                        }
                    } else if op < 9 {
                        let i = rng.below(mine.len() as u64) as usize;
                        let pid = mine.swap_remove(i);
                        ended = run_killed(&env, &["models", "auth", "remove", &pid], "", after);
                        let mut ex = expected.lock().unwrap();
                        let a = ex.get_mut(&pid).unwrap();
                        match ended {
                            Ended::Ok => a.0 = BTreeSet::from([None]),
                            Ended::Killed => {
                                a.0.insert(None);
                            }
                            Ended::Failed(_) => mine.push(pid),
                        }
                    } else {
                        let k = 1 + rng.below(mine.len().min(3) as u64) as usize;
                        let mut args = vec!["models", "auth", "order", "set", "--provider", "openai"];
                        args.extend(mine[..k].iter().map(String::as_str));
                        ended = run_killed(&env, &args, "", after);
                    }
                }
                match ended {
                    Ended::Killed => {
                        *kills.lock().unwrap() += 1;
                        // Under contention commands wait for the vault lock: let the window follow them.
                        typical += typical / 16;
                    }
                    Ended::Failed(o) => {
                        // A command that was not killed may be refused (e.g. a profile another kill left half
                        // added), but never crash or report an internal error.
                        assert!(o.code > 0 && o.code != 70 && o.code != 101, "worker {w} op {n}: {o:?}");
                        assert!(!o.stderr.contains("panicked"), "{o:?}");
                    }
                    Ended::Ok => {
                        done += 1;
                        *completed.lock().unwrap() += 1;
                        typical = if n == 1 { began.elapsed() } else { (typical * 3 + began.elapsed()) / 4 };
                    }
                }
            }
            (n, done)
        }));
    }
    let per_worker: Vec<(u64, u64)> = workers.into_iter().map(|h| h.join().unwrap()).collect();
    let ops: u64 = per_worker.iter().map(|(n, _)| n).sum();
    eprintln!("commands (run, completed) per worker (add/remove/order ×4, migrate, passwd): {per_worker:?}");
    // `migrate` and `passwd` take longer than a kill window early on; each must have completed at least once.
    assert!(per_worker[4].1 > 0 && per_worker[5].1 > 0, "migrate or passwd never completed: {per_worker:?}");
    let kills = *kills.lock().unwrap();
    let completed = *completed.lock().unwrap();
    eprintln!(
        "{ops} commands, {kills} killed with SIGKILL, {completed} completed, in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert!(kills >= min_kills, "only {kills} kills");

    assert_all_files_parse(&env);
    assert!(completed >= ops / 10, "too few commands completed to check anything: {completed} of {ops}");
    let expected = expected.lock().unwrap();
    let pids: Vec<String> = expected.keys().cloned().collect();
    let found = resolve_all(&env, &pids);
    let refs = referenced(&env);
    for (pid, allowed) in expected.iter() {
        let got = &found[pid];
        assert!(allowed.0.contains(got), "{pid}: found {:?}, allowed {:?}", got.as_ref().map(|s| s.len()), allowed.0);
        if allowed.0.len() == 1 && got.is_some() {
            assert!(refs.contains(pid), "{pid}: stored, but auth-profiles.json does not refer to it");
        }
    }
    // The last `.env` key written is either still in `.env` or stored (never neither).
    let last = env_lines.lock().unwrap().last().cloned().unwrap();
    let in_env = std::fs::read_to_string(env.state.join(".env")).unwrap_or_default().contains(&last);
    let stored = resolve_all(&env, &["anthropic:default".to_string()])["anthropic:default"].as_deref() == Some(&last);
    assert!(in_env || stored, "the last .env key is neither in .env nor in the vault");
}

#[test]
fn twenty_processes_times_fifty_writes_on_one_agent_lose_nothing() {
    let env = Arc::new(Env::new());
    env.init_file();
    let start = Instant::now();
    let procs: Vec<_> = (0..20)
        .map(|p| {
            let env = env.clone();
            std::thread::spawn(move || {
                let mut stored = Vec::new();
                for i in 0..50 {
                    let pid = format!("openai:p{p}-{i}");
                    let value = format!("sk-many-{p}-{i}-0123456789abcdef");
                    let o = env.run(&["models", "auth", "add", "--provider", "openai", "--profile-id", &pid], &value);
                    assert_eq!(o.code, 0, "{pid}: {o:?}");
                    stored.push((pid, value));
                }
                stored
            })
        })
        .collect();
    let stored: Vec<(String, String)> = procs.into_iter().flat_map(|h| h.join().unwrap()).collect();
    eprintln!("{} adds by 20 processes in {:.1} s", stored.len(), start.elapsed().as_secs_f64());
    assert_eq!(stored.len(), 1000);
    assert_all_files_parse(&env);
    let pids: Vec<String> = stored.iter().map(|(p, _)| p.clone()).collect();
    let found = resolve_all(&env, &pids);
    let refs = referenced(&env);
    for (pid, value) in &stored {
        assert_eq!(found[pid].as_deref(), Some(value.as_str()), "{pid} lost");
        assert!(refs.contains(pid), "{pid}: auth-profiles.json lost its reference");
    }
    let index: Value = serde_json::from_slice(&std::fs::read(env.ck().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["secrets"].as_object().unwrap().len(), 1000, "index.json lost entries");
}

/// A command run with the file size limit (`RLIMIT_FSIZE`) at `limit` bytes: a write past it fails with EFBIG, as on
/// a full disk. SIGXFSZ is ignored in the wrapper (ignored signals survive exec), so the write returns the error
/// instead of killing the process.
fn limited(env: &Env, limit: u64, args: &[&str], stdin: &str) -> Out {
    let c = env.cmd(args);
    let prog = c.get_program().to_owned();
    let rest: Vec<_> = c.get_args().map(|a| a.to_owned()).collect();
    let mut w = Command::new("prlimit");
    w.arg(format!("--fsize={limit}")).args(["sh", "-c", "trap '' XFSZ; exec \"$@\"", "sh"]).arg(prog).args(rest);
    w.env_clear();
    for (k, v) in c.get_envs() {
        if let Some(v) = v {
            w.env(k, v);
        }
    }
    w.current_dir(env.dir.path());
    run_cmd(&mut w, stdin)
}

#[test]
fn a_write_limit_gives_a_clear_error_and_keeps_the_originals() {
    if !have("prlimit") {
        return skip("a_write_limit_gives_a_clear_error_and_keeps_the_originals", "prlimit is not installed");
    }
    let env = Env::new();
    env.init_file();
    for p in ["openai", "anthropic"] {
        let o = env.run(
            &["models", "auth", "add", "--provider", p],
            &format!("sk-{}original-0123456789", if p == "anthropic" { "ant-api03-" } else { "openai-" }),
        );
        assert_eq!(o.code, 0, "{o:?}");
    }
    let biggest = env.all_files().iter().map(|(_, b)| b.len() as u64).max().unwrap();
    let mut refused = 0;
    // Limits from nothing to past the largest file: each lands on a different write of a rotation.
    for (n, limit) in (0..biggest + 600).step_by(97).enumerate() {
        let before = env.snapshot();
        let old = resolve_all(&env, &["openai:default".into()])["openai:default"].clone().unwrap();
        let new = format!("sk-openai-rotated-{n}-0123456789");
        let o = limited(&env, limit, &["models", "auth", "add", "--provider", "openai", "--force"], &new);
        assert!(o.code >= 0, "limit {limit}: killed by a signal: {o:?}");
        assert_all_files_parse(&env);
        let now = resolve_all(&env, &["openai:default".into(), "anthropic:default".into()]);
        assert_eq!(now["anthropic:default"].as_deref(), Some("sk-ant-api03-original-0123456789"), "limit {limit}");
        if o.code == 0 {
            assert_eq!(now["openai:default"].as_deref(), Some(new.as_str()), "limit {limit}: {o:?}");
            continue;
        }
        refused += 1;
        eprintln!("limit {limit}: exit {}: {}", o.code, o.stderr.trim());
        // A clear error: names the failed write, no panic, no secret.
        assert!(!o.stderr.contains("panicked") && o.code != 101 && o.code != 70, "limit {limit}: {o:?}");
        assert!(
            o.stderr.contains("too large") || o.stderr.contains("File too large") || o.stderr.contains("write"),
            "limit {limit}: unclear error: {o:?}"
        );
        assert!(!o.stderr.contains(&new) && !o.stdout.contains(&new), "limit {limit}: the secret was printed");
        // The secret the user last stored is still there; nothing else changed except the access log.
        let got = now["openai:default"].clone().unwrap();
        assert!(got == old || got == new, "limit {limit}: openai:default lost ({o:?})");
        if got == old {
            let after = env.snapshot();
            for (path, bytes) in &before {
                if path.extension().is_some_and(|e| e == "json") && !path.starts_with(env.ck()) {
                    assert_eq!(after.get(path), Some(bytes), "limit {limit}: {} changed: {o:?}", path.display());
                }
            }
        }
    }
    assert!(refused > 0, "no limit made a write fail");
}

/// Gets in a loop on three threads while the keychain goes away after `after`: every command ends within the
/// deadline, with the secret or a clear error (no hang, no panic, never another value).
fn keychain_disappears(test: &str, kill_bus: bool) {
    for p in ["dbus-daemon", "dbus-send", "gnome-keyring-daemon"] {
        if !have(p) {
            return skip(test, &format!("`{p}` is not installed"));
        }
    }
    let mut bus = Bus::start(true);
    let mut env = Env::new();
    env.extra_env = bus.env();
    env.extra_env.push(("XDG_DATA_HOME".into(), bus.dir.path().join("data").display().to_string()));
    let o = env.run(&["init", "--backend", "keychain"], "");
    assert_eq!(o.code, 0, "{o:?}");
    let secret = "sk-keychain-gone-0123456789abcdef";
    let o = env.run(&["models", "auth", "add", "--provider", "openai"], secret);
    assert_eq!(o.code, 0, "{o:?}");
    let env = Arc::new(env);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let deadline = Duration::from_secs(10); // CLAWKEEP_KEYCHAIN_TIMEOUT_MS is 3000 in the tests
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (env, stop) = (env.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut outcomes = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let began = Instant::now();
                    let o = env.run(&["get", "openai:default"], "");
                    outcomes.push((began.elapsed(), o));
                }
                outcomes
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    if kill_bus {
        bus.stop_bus();
    } else {
        bus.stop_keyring();
    }
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let outcomes: Vec<(Duration, Out)> = readers.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let (mut ok, mut failed) = (0, 0);
    for (took, o) in &outcomes {
        assert!(*took < deadline, "a get took {took:?}: {o:?}");
        assert!(!o.stderr.contains("panicked") && o.code != 101 && o.code >= 0, "{o:?}");
        if o.code == 0 {
            assert_eq!(o.stdout.trim_end(), secret);
            ok += 1;
        } else {
            assert_eq!(o.code, 69, "KEYCHAIN_UNAVAILABLE expected: {o:?}");
            assert!(!o.stdout.contains(secret) && !o.stderr.contains(secret), "{o:?}");
            assert!(
                o.stderr.contains("keychain") || o.stderr.contains("Secret Service") || o.stderr.contains("D-Bus"),
                "unclear error when the keychain went away: {o:?}"
            );
            failed += 1;
        }
    }
    eprintln!("{test}: {ok} gets answered before, {failed} refused after the keychain went away");
    assert!(ok > 0 && failed > 0, "{ok} answered, {failed} refused");
    // After it: a write is refused as clearly, within the deadline, and the file it would change is untouched.
    let before = std::fs::read(env.auth_profiles()).unwrap();
    let began = Instant::now();
    let o = env.run(&["models", "auth", "add", "--provider", "openai", "--force"], "sk-keychain-gone-rotated-0123");
    assert!(began.elapsed() < deadline, "add took {:?}: {o:?}", began.elapsed());
    assert!(o.code > 0 && o.code != 70 && o.code != 101, "{o:?}");
    assert_eq!(std::fs::read(env.auth_profiles()).unwrap(), before, "auth-profiles.json changed: {o:?}");
    eprintln!("add after: exit {}: {}", o.code, o.stderr.trim());
}

#[test]
fn the_secret_service_disappearing_mid_run_is_a_clear_error_within_the_deadline() {
    keychain_disappears("the_secret_service_disappearing_mid_run_is_a_clear_error_within_the_deadline", false);
}

#[test]
fn the_session_bus_disappearing_mid_run_is_a_clear_error_within_the_deadline() {
    keychain_disappears("the_session_bus_disappearing_mid_run_is_a_clear_error_within_the_deadline", true);
}
