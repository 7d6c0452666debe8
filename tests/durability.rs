//! The durability promise (SECURITY.md): no command loses the secret a user last stored. One test per finding of
//! issue 13, then the model-based test that checks every command against a model (`model_based_durability`).
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

fn plaintext_profile(env: &Env, provider: &str, key: &str) {
    write_private(
        &env.auth_profiles(),
        &json!({"version":1,"profiles":{format!("{provider}:default"):{"type":"api_key","provider":provider,"key":key}}})
            .to_string(),
    );
}

fn add(env: &Env, provider: &str, key: &str, force: bool) -> Out {
    let mut args = vec!["models", "auth", "add", "--provider", provider];
    if force {
        args.push("--force");
    }
    env.run(&args, key)
}

#[test]
fn init_refuses_over_a_vault_that_lost_vault_json_and_doctor_fix_rebuilds_it() {
    let env = Env::new();
    env.init_file();
    assert_eq!(add(&env, "openai", "sk-keep-1", false).code, 0);
    std::fs::remove_file(env.ck().join("vault.json")).unwrap();
    let before = env.snapshot();

    // doctor names the repair, never `init`.
    let d = env.run(&["doctor"], "");
    assert_ne!(d.code, 0, "{d:?}");
    assert!(d.stdout.contains("VAULT_CONFIG_MISSING"), "{d:?}");
    assert!(!d.stdout.contains("fix: clawkeep init") && !d.stdout.contains("VAULT_MISSING"), "{d:?}");

    for args in [&["init", "--backend", "file"][..], &["onboard", "--non-interactive", "--backend", "file"][..]] {
        let o = env.run(args, "");
        assert_eq!(o.code, 67, "{args:?}: {o:?}");
        assert!(o.stderr.contains("vault.json is missing") && o.stderr.contains("doctor --fix"), "{o:?}");
        assert!(env.snapshot() == before, "{args:?} changed files");
    }

    let f = env.run(&["doctor", "--fix"], "");
    assert!(f.stdout.contains("rebuilt it for the file store"), "{f:?}");
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-keep-1\n");
    assert_eq!(env.run(&["init", "--backend", "file"], "").code, 67);
}

#[test]
fn init_refuses_over_an_index_or_secrets_without_vault_json() {
    let env = Env::new();
    env.init_file();
    assert_eq!(add(&env, "openai", "sk-keep-2", false).code, 0);
    std::fs::remove_file(env.ck().join("vault.json")).unwrap();
    std::fs::rename(env.ck().join("identity.json"), env.dir.path().join("identity.saved")).unwrap();
    let o = env.run(&["init", "--backend", "file"], "");
    assert_eq!(o.code, 67, "{o:?}");
    assert!(o.stderr.contains("index.json") && o.stderr.contains("secrets/"), "{o:?}");
    // Without identity.json the files do not say which store: doctor asks the user instead of guessing.
    let d = env.run(&["doctor", "--fix"], "");
    assert!(d.stdout.contains("do not show which store"), "{d:?}");
    assert!(!env.ck().join("vault.json").exists());
}

#[test]
fn undo_never_deletes_a_secret_rotated_after_migrate() {
    let env = Env::new();
    env.init_file();
    plaintext_profile(&env, "openai", "sk-OLD");
    assert_eq!(env.run(&["migrate"], "").code, 0);
    let a = add(&env, "openai", "sk-NEW", true);
    assert_eq!(a.code, 0, "{a:?}");
    let before = env.snapshot();

    let u = env.run(&["migrate", "--undo"], "");
    assert_eq!(u.code, 65, "{u:?}");
    assert!(u.stderr.contains("main/openai:default"), "names the profile: {u:?}");
    assert!(env.snapshot() == before, "a refused undo changes nothing");
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-NEW\n");

    // --force restores the rest, and keeps the newer secret in the vault with its profile referring to it.
    let u = env.run(&["migrate", "--undo", "--force"], "");
    assert_eq!(u.code, 0, "{u:?}");
    assert!(u.stdout.contains("kept `main/openai:default`"), "{u:?}");
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-NEW\n", "sk-NEW survived");
    assert_eq!(json(&env.auth_profiles())["profiles"]["openai:default"]["keyRef"]["id"], "main/openai:default");
}

#[test]
fn undo_deletes_an_unchanged_secret() {
    let env = Env::new();
    env.init_file();
    plaintext_profile(&env, "openai", "sk-SAME");
    assert_eq!(env.run(&["migrate"], "").code, 0);
    let u = env.run(&["migrate", "--undo"], "");
    assert_eq!(u.code, 0, "{u:?}");
    assert_eq!(json(&env.auth_profiles())["profiles"]["openai:default"]["key"], "sk-SAME");
    assert_eq!(env.run(&["get", "openai:default"], "").code, 66);
}

/// OpenClaw 2026.9: the current key is in clawkeep, OpenClaw imported and renamed auth-profiles.json, and an
/// old key is still in `.env` (and in a legacy auth.json).
#[test]
fn migrate_never_overwrites_a_secret_the_vault_holds() {
    let env = Env::new();
    env.init_file();
    assert_eq!(add(&env, "openai", "sk-CURRENT", false).code, 0);
    assert_eq!(add(&env, "groq", "gsk-CURRENT", false).code, 0);
    std::fs::rename(env.auth_profiles(), env.agent_dir("main").join("auth-profiles.json.migrated-1")).unwrap();
    write_private(&env.state.join(".env"), "OPENAI_API_KEY=sk-STALE\n");
    write_private(&env.agent_dir("main").join("auth.json"), r#"{"groq":{"type":"api_key","key":"gsk-STALE"}}"#);

    let d = env.run(&["doctor"], "");
    assert!(!d.stdout.contains("fix: clawkeep migrate (if"), "doctor must not send the user to a migrate: {d:?}");
    let o = env.run(&["migrate", "--json"], "");
    assert_eq!(o.code, 0, "{o:?}");
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    for pid in ["openai:default", "groq:default"] {
        let it = v["items"].as_array().unwrap().iter().find(|i| i["profileId"] == pid).unwrap();
        assert_eq!(it["action"], "skipped", "{it}");
        assert!(it["note"].as_str().unwrap().contains("already holds a different secret"), "{it}");
    }
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-CURRENT\n");
    assert_eq!(env.run(&["get", "groq:default"], "").stdout, "gsk-CURRENT\n");
    assert_eq!(std::fs::read_to_string(env.state.join(".env")).unwrap(), "OPENAI_API_KEY=sk-STALE\n");
    assert_eq!(env.run(&["migrate", "--undo"], "").code, 66, "nothing was migrated");
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-CURRENT\n");
}

#[test]
fn migrate_of_a_key_the_vault_already_holds_removes_only_the_plaintext() {
    let env = Env::new();
    env.init_file();
    assert_eq!(add(&env, "openai", "sk-BOTH", false).code, 0);
    std::fs::remove_file(env.auth_profiles()).unwrap();
    write_private(&env.state.join(".env"), "OPENAI_API_KEY=sk-BOTH\nPORT=1\n");
    let o = env.run(&["migrate"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(std::fs::read_to_string(env.state.join(".env")).unwrap(), "PORT=1\n");
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-BOTH\n");
    // Undo puts the line back and keeps the secret migrate did not store.
    assert_eq!(env.run(&["migrate", "--undo"], "").code, 0);
    assert_eq!(std::fs::read_to_string(env.state.join(".env")).unwrap(), "OPENAI_API_KEY=sk-BOTH\nPORT=1\n");
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-BOTH\n");
}

#[test]
fn migrate_checks_every_target_before_the_first_write() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.init_file();
    std::fs::create_dir_all(env.agent_dir("main")).unwrap();
    std::fs::set_permissions(env.agent_dir("main"), std::fs::Permissions::from_mode(0o775)).unwrap();
    write_private(&env.state.join(".env"), "OPENAI_API_KEY=sk-STRANDED\n");
    let before = env.snapshot();
    let o = env.run(&["migrate"], "");
    assert_eq!(o.code, 77, "{o:?}");
    assert!(env.snapshot() == before, "a refused migrate changes nothing");
    std::fs::set_permissions(env.agent_dir("main"), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(env.run(&["migrate"], "").code, 0);
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-STRANDED\n");
    assert_eq!(json(&env.auth_profiles())["profiles"]["openai:default"]["keyRef"]["id"], "main/openai:default");
}

#[test]
fn doctor_reports_a_vault_entry_no_openclaw_store_refers_to() {
    let env = Env::new();
    env.init_file();
    assert_eq!(add(&env, "openai", "sk-LONELY", false).code, 0);
    std::fs::remove_file(env.auth_profiles()).unwrap();
    let d = env.run(&["doctor"], "");
    assert_ne!(d.code, 0, "{d:?}");
    assert!(d.stdout.contains("UNREFERENCED") && d.stdout.contains("main/openai:default"), "{d:?}");
    // With OpenClaw's SQLite layout the references live there: not a false alarm.
    std::fs::write(env.agent_dir("main").join("openclaw-agent.sqlite"), b"").unwrap();
    let d = env.run(&["doctor"], "");
    assert!(!d.stdout.contains("UNREFERENCED"), "{d:?}");
    assert!(d.stdout.contains("SQLITE_REFS_UNCHECKED"), "{d:?}");
}

/// The passphrase is asked (and checked) before clawkeep or OpenClaw locks are taken: a held lock does not
/// delay a wrong-passphrase answer, and the gateway never waits on a prompt.
#[test]
fn migrate_and_undo_unlock_before_taking_any_lock() {
    let env = Env::new();
    env.init_file();
    plaintext_profile(&env, "openai", "sk-LOCKS");
    assert_eq!(env.run(&["migrate"], "").code, 0);
    plaintext_profile(&env, "groq", "gsk-LOCKS");
    let wrong = env.dir.path().join("wrong");
    std::fs::write(&wrong, "not the passphrase\n").unwrap();
    std::fs::set_permissions(&wrong, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let lock = std::fs::OpenOptions::new().write(true).open(env.ck().join("lock")).unwrap();
    lock.lock().unwrap();
    for args in [&["migrate"][..], &["migrate", "--undo", "--force"][..]] {
        let mut c = env.cmd(args);
        c.env("CLAWKEEP_PASSPHRASE_FILE", &wrong);
        let t = Instant::now();
        let o = run_cmd(&mut c, "");
        assert_eq!(o.code, 79, "{args:?}: {o:?}");
        assert!(t.elapsed() < Duration::from_secs(5), "{args:?} waited for the lock first");
    }
    drop(lock);
}

#[test]
fn a_flat_oauth_only_file_is_converted_with_a_backup_undo_restores() {
    let env = Env::new();
    env.init_file();
    let flat = r#"{"openai":{"access":"a","refresh":"r","expires":4102444800000}}"#;
    write_private(&env.auth_profiles(), flat);
    let o = env.run(&["migrate"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(!o.stdout.contains("left untouched"), "{o:?}");
    assert!(o.stdout.contains("converted to version 1"), "{o:?}");
    assert_eq!(json(&env.auth_profiles())["version"], 1);
    let u = env.run(&["migrate", "--undo"], "");
    assert_eq!(u.code, 0, "{u:?}");
    assert_eq!(std::fs::read_to_string(env.auth_profiles()).unwrap(), flat);
}

#[test]
fn add_validates_openclaw_json_before_the_first_write() {
    let env = Env::new();
    env.init_file();
    write_private(&env.state.join("openclaw.json"), r#"{"auth":{"profiles":[]}}"#);
    let before = env.snapshot();
    let o = add(&env, "openai", "sk-ARRAY", false);
    assert_eq!(o.code, 65, "{o:?}");
    assert!(env.snapshot() == before, "nothing written");
    assert_eq!(add(&env, "openai", "sk-ARRAY", false).code, 65, "the rerun gets the same answer, not 67");
}

// ---------------------------------------------------------------------------------------------------------------
// The model-based test: random sequences of commands, lost and stale files, and crashes between any two file
// writes, checked after every step against a model of what the user last stored.
//
// It drives the library in-process (a process per step would take hours): one vault is created per run (one
// argon2id), each case starts from a copy of it, and every step opens the vault with the identity unwrapped once
// (`Vault::open_unlocked`), as the vault service does. A crash is simulated with `clawkeep::fs::fault`: the
// command's (n+1)-th file write or removal fails, so it stops there, leaving what a crash would leave.
//
// Cases: `CLAWKEEP_MODEL_CASES` (default 1,000, each of 20 to 29 steps); seed: `CLAWKEEP_MODEL_SEED`. A failing
// case is shrunk (steps dropped, crashes removed while it still fails) and printed with its seed.

mod model {
    use std::collections::BTreeMap;
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    use std::path::{Path, PathBuf};

    use clawkeep::fs::fault;
    use clawkeep::openclaw::CredType;
    use clawkeep::ops::{doctor, migrate, profile};
    use clawkeep::paths::Paths;
    use clawkeep::secret::{ExposeSecret, SecretId, SecretString};
    use clawkeep::vault::store::FileStore;
    use clawkeep::vault::{Backend, SecretStore, SharedIdentity, Vault, identity::WrappedIdentity};

    /// Profiles of agent `main`; the first two are also reachable from `.env`.
    const PIDS: [(&str, &str, &str); 3] = [
        ("openai:default", "openai", "OPENAI_API_KEY"),
        ("groq:default", "groq", "GROQ_API_KEY"),
        ("openai:work", "openai", ""),
    ];
    const PASS: &str = "model passphrase";

    fn val(v: u8) -> String {
        format!("sk-model-{v}")
    }

    #[derive(Debug, Clone)]
    pub enum Step {
        Add {
            pid: usize,
            val: u8,
            force: bool,
            crash: Option<u8>,
        },
        Remove {
            pid: usize,
            crash: Option<u8>,
        },
        Migrate {
            crash: Option<u8>,
        },
        Undo {
            force: bool,
            crash: Option<u8>,
        },
        Init,
        DoctorFix {
            crash: Option<u8>,
        },
        LoseVaultJson,
        LoseIndex,
        LoseAuthProfiles,
        /// OpenClaw 2026.9 imports auth-profiles.json and renames it `.migrated-<n>`.
        ImportRename,
        /// A `NAME=value` line appended to `.env`.
        EnvLine {
            pid: usize,
            val: u8,
        },
        /// A plaintext profile written into auth-profiles.json (by OpenClaw or by hand).
        PlaintextProfile {
            pid: usize,
            val: u8,
        },
        /// A key in the legacy `auth.json` (`{"<provider>": {"key": …}}`).
        LegacyKey {
            pid: usize,
            val: u8,
        },
        /// Keep a copy of index.json and auth-profiles.json (a backup the user takes)…
        CopyFiles,
        /// …and put the old index.json back later (a stale file).
        StaleIndex,
        /// …or the old auth-profiles.json.
        StaleAuthProfiles,
    }

    impl Step {
        fn crash_mut(&mut self) -> Option<&mut Option<u8>> {
            match self {
                Step::Add { crash, .. }
                | Step::Remove { crash, .. }
                | Step::Migrate { crash }
                | Step::Undo { crash, .. }
                | Step::DoctorFix { crash } => Some(crash),
                _ => None,
            }
        }
    }

    /// splitmix64: small, seedable, good enough to pick steps.
    pub struct Rng(u64);
    impl Rng {
        pub fn new(seed: u64) -> Rng {
            Rng(seed)
        }
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    pub fn gen_case(rng: &mut Rng) -> Vec<Step> {
        let n = 20 + rng.below(10) as usize;
        (0..n)
            .map(|_| {
                let crash = |r: &mut Rng| if r.below(10) < 3 { Some(r.below(8) as u8) } else { None };
                let pid = rng.below(PIDS.len() as u64) as usize;
                let v = rng.below(5) as u8;
                match rng.below(100) {
                    0..25 => Step::Add { pid, val: v, force: rng.below(10) < 3, crash: crash(rng) },
                    25..35 => Step::Remove { pid, crash: crash(rng) },
                    35..48 => Step::Migrate { crash: crash(rng) },
                    48..58 => Step::Undo { force: rng.below(10) < 4, crash: crash(rng) },
                    58..62 => Step::Init,
                    62..70 => Step::DoctorFix { crash: crash(rng) },
                    70..73 => Step::LoseVaultJson,
                    73..76 => Step::LoseIndex,
                    76..79 => Step::LoseAuthProfiles,
                    79..84 => Step::ImportRename,
                    84..89 => Step::EnvLine { pid: pid % 2, val: v },
                    89..93 => Step::PlaintextProfile { pid, val: v },
                    93..96 => Step::LegacyKey { pid: pid % 2, val: v },
                    96..98 => Step::CopyFiles,
                    98 => Step::StaleIndex,
                    _ => Step::StaleAuthProfiles,
                }
            })
            .collect()
    }

    /// The vault every case starts from, and its identity (unwrapped once).
    pub struct Template {
        pub dir: tempfile::TempDir,
        identity: SharedIdentity,
    }

    impl Template {
        pub fn new() -> Template {
            let dir = tempfile::tempdir().unwrap();
            let paths = paths_in(dir.path());
            mkdir(&paths.state_dir);
            Vault::init(&paths, Backend::File, Some(&SecretString::from(PASS.to_string()))).unwrap();
            let vault = Vault::open(&paths, Box::new(|| Ok(SecretString::from(PASS.to_string())))).unwrap();
            let identity = vault.unlocked_identity().unwrap().unwrap();
            Template { dir, identity }
        }
    }

    /// A temp dir, on tmpfs when there is one (OpenClaw's lock files are fsynced; on tmpfs that costs nothing).
    fn tempdir() -> tempfile::TempDir {
        let shm = Path::new("/dev/shm");
        if shm.is_dir()
            && let Ok(d) = tempfile::tempdir_in(shm)
        {
            return d;
        }
        tempfile::tempdir().unwrap()
    }

    fn paths_in(root: &Path) -> Paths {
        let state_dir = root.join("state");
        Paths { clawkeep_dir: state_dir.join("clawkeep"), state_dir }
    }

    fn mkdir(p: &Path) {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(p).unwrap();
    }

    struct World {
        _dir: tempfile::TempDir,
        paths: Paths,
        identity: SharedIdentity,
        identity_bytes: Vec<u8>,
        /// What the user last stored, per profile.
        model: BTreeMap<usize, String>,
        archives: u32,
        copies: (Option<Vec<u8>>, Option<Vec<u8>>),
    }

    fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(d: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            let Ok(rd) = std::fs::read_dir(d) else { return };
            for e in rd.flatten() {
                let p = e.path();
                let Ok(md) = std::fs::symlink_metadata(&p) else { continue };
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                if md.is_dir() {
                    walk(&p, out);
                } else if name != "lock" && !name.ends_with(".lock") {
                    out.insert(p, std::fs::read(e.path()).unwrap_or_default());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(dir, &mut out);
        out
    }

    fn inline_of(p: &serde_json::Value) -> Option<&str> {
        ["key", "apiKey", "token"].iter().find_map(|k| p.get(*k).and_then(|v| v.as_str()))
    }

    impl World {
        fn new(t: &Template) -> World {
            let dir = tempdir();
            let paths = paths_in(dir.path());
            let src = paths_in(t.dir.path());
            mkdir(&paths.clawkeep_dir);
            mkdir(&paths.clawkeep_dir.join("secrets"));
            mkdir(&paths.agent_dir("main"));
            for f in ["vault.json", "index.json", "identity.json"] {
                std::fs::copy(src.clawkeep_dir.join(f), paths.clawkeep_dir.join(f)).unwrap();
            }
            let identity_bytes = std::fs::read(paths.clawkeep_dir.join("identity.json")).unwrap();
            World {
                _dir: dir,
                paths,
                identity: t.identity.clone(),
                identity_bytes,
                model: BTreeMap::new(),
                archives: 0,
                copies: (None, None),
            }
        }

        fn open(&self) -> clawkeep::Result<Vault> {
            Vault::open_unlocked(&self.paths, Some(self.identity.clone()))
        }

        /// The secret the store holds for a profile, read straight from its file (no vault.json or index needed).
        fn in_store(&self, pid: usize) -> Option<String> {
            let ck = &self.paths.clawkeep_dir;
            let raw = std::fs::read(ck.join("identity.json")).ok()?;
            let wrapped: WrappedIdentity = serde_json::from_slice(&raw).ok()?;
            let store = FileStore::open(
                ck.join("secrets"),
                ck.join("identity.json"),
                wrapped,
                Box::new(|| Err(clawkeep::Error::VaultLocked)),
            )
            .ok()?;
            store.set_identity(self.identity.clone());
            let id = SecretId::for_profile("main", PIDS[pid].0).unwrap();
            store.get(&id).ok()?.map(|s| s.expose_secret().to_string())
        }

        /// Plaintext values of a profile in OpenClaw's files (auth-profiles.json, its archives, .env).
        fn in_plaintext(&self, pid: usize) -> Vec<String> {
            let mut out = Vec::new();
            let dir = self.paths.agent_dir("main");
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.flatten() {
                    let name = e.file_name().to_string_lossy().to_string();
                    if (name == "auth-profiles.json" || name.starts_with("auth-profiles.json.migrated-"))
                        && let Ok(b) = std::fs::read(e.path())
                        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&b)
                        && let Some(s) = v.pointer(&format!("/profiles/{}", PIDS[pid].0)).and_then(inline_of)
                    {
                        out.push(s.to_string());
                    }
                }
            }
            if pid < 2
                && let Ok(b) = std::fs::read(self.paths.legacy_auth("main"))
                && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&b)
                && let Some(s) = v.get(PIDS[pid].1).and_then(inline_of)
            {
                out.push(s.to_string());
            }
            if !PIDS[pid].2.is_empty()
                && let Ok(text) = std::fs::read_to_string(self.paths.dotenv())
            {
                // Every assignment counts (a value is on disk until its line is gone), not only the one that wins.
                for line in text.lines() {
                    for (name, value) in clawkeep::openclaw::dotenv::parse(line) {
                        if name == PIDS[pid].2 {
                            out.push(value.to_string());
                        }
                    }
                }
            }
            out
        }

        fn retrievable(&self, pid: usize, v: &str) -> bool {
            self.in_store(pid).as_deref() == Some(v) || self.in_plaintext(pid).iter().any(|x| x == v)
        }

        fn write_json(&self, path: &Path, v: &serde_json::Value) {
            std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }

        /// Run one step; Err describes a broken promise.
        fn step(&mut self, s: &Step) -> Result<(), String> {
            let before = snapshot(&self.paths.state_dir);
            // Candidates for each profile after the step: what it may hold now (None: gone is fine).
            let mut after: BTreeMap<usize, Vec<Option<String>>> =
                self.model.iter().map(|(k, v)| (*k, vec![Some(v.clone())])).collect();
            let crash = match s {
                Step::Add { crash, .. }
                | Step::Remove { crash, .. }
                | Step::Migrate { crash }
                | Step::Undo { crash, .. }
                | Step::DoctorFix { crash } => *crash,
                _ => None,
            };
            if let Some(n) = crash {
                fault::fail_after(n.into());
            }
            let res: clawkeep::Result<()> = match s {
                Step::Add { pid, val: v, force, .. } => {
                    let held_before = self.model.get(pid).is_some_and(|m| self.in_store(*pid).as_deref() == Some(m));
                    let r = self.open().and_then(|mut vault| {
                        profile::add(
                            &mut vault,
                            &self.paths,
                            profile::NewCredential {
                                agent: "main".into(),
                                provider: PIDS[*pid].1.into(),
                                profile_id: PIDS[*pid].0.into(),
                                kind: CredType::ApiKey,
                                secret: SecretString::from(val(*v)),
                                expires: None,
                                email: None,
                                force: *force,
                            },
                        )
                        .map(|_| ())
                    });
                    match &r {
                        Ok(()) => {
                            fault::clear();
                            if !force && held_before && self.model.get(pid) != Some(&val(*v)) {
                                return Err(format!(
                                    "add without --force replaced the stored secret of {}",
                                    PIDS[*pid].0
                                ));
                            }
                            let got = self
                                .open()
                                .and_then(|vault| profile::secret_of(&vault, &self.paths, "main", PIDS[*pid].0))
                                .map(|s| s.expose_secret().to_string());
                            if got.as_deref().ok() != Some(val(*v).as_str()) {
                                return Err(format!("after add, `get {}` answered {got:?}", PIDS[*pid].0));
                            }
                            after.insert(*pid, vec![Some(val(*v))]);
                        }
                        Err(_) if fault::tripped() => {
                            after.entry(*pid).or_insert_with(|| vec![None]).insert(0, Some(val(*v)));
                        }
                        Err(_) => {}
                    }
                    r
                }
                Step::Remove { pid, .. } => {
                    let r = self
                        .open()
                        .and_then(|mut vault| profile::remove(&mut vault, &self.paths, "main", PIDS[*pid].0));
                    match &r {
                        Ok(()) => {
                            after.remove(pid);
                        }
                        Err(_) if fault::tripped() => {
                            if let Some(c) = after.get_mut(pid) {
                                c.push(None);
                            }
                        }
                        Err(_) => {}
                    }
                    r
                }
                Step::Migrate { .. } => self.open().and_then(|mut vault| {
                    migrate::migrate(&mut vault, &self.paths, &["main".into()], false).map(|_| ())
                }),
                Step::Undo { force, .. } => {
                    self.open().and_then(|mut vault| migrate::undo(&mut vault, *force).map(|_| ()))
                }
                Step::Init => {
                    let r = Vault::init(&self.paths, Backend::File, Some(&SecretString::from("another".to_string())));
                    if r.is_ok() {
                        return Err("init created a new vault over an existing one".into());
                    }
                    r
                }
                Step::DoctorFix { .. } => {
                    doctor::run(&self.paths, &["main".into()], true, 0);
                    Ok(())
                }
                Step::LoseVaultJson => {
                    let _ = std::fs::remove_file(self.paths.clawkeep_dir.join("vault.json"));
                    Ok(())
                }
                Step::LoseIndex => {
                    let _ = std::fs::remove_file(self.paths.clawkeep_dir.join("index.json"));
                    Ok(())
                }
                Step::LoseAuthProfiles => {
                    // The user deletes the file: plaintext that lived only there is gone by their hand.
                    let _ = std::fs::remove_file(self.paths.auth_profiles("main"));
                    for (pid, v) in self.model.clone() {
                        if !self.retrievable(pid, &v) {
                            after.get_mut(&pid).unwrap().push(None);
                        }
                    }
                    Ok(())
                }
                Step::LegacyKey { pid, val: v } => {
                    let path = self.paths.legacy_auth("main");
                    let mut doc = match std::fs::read(&path) {
                        Ok(b) => match serde_json::from_slice::<serde_json::Value>(&b) {
                            Ok(d) => d,
                            Err(_) => return Ok(()),
                        },
                        Err(_) => serde_json::json!({}),
                    };
                    if doc.get(PIDS[*pid].1).is_none()
                        && let Some(m) = doc.as_object_mut()
                    {
                        m.insert(PIDS[*pid].1.into(), serde_json::json!({"type": "api_key", "key": val(*v)}));
                        self.write_json(&path, &doc);
                        if !self.model.contains_key(pid) {
                            after.insert(*pid, vec![Some(val(*v))]);
                        }
                    }
                    Ok(())
                }
                Step::CopyFiles => {
                    self.copies = (
                        std::fs::read(self.paths.clawkeep_dir.join("index.json")).ok(),
                        std::fs::read(self.paths.auth_profiles("main")).ok(),
                    );
                    Ok(())
                }
                Step::StaleIndex => {
                    if let Some(b) = &self.copies.0 {
                        let path = self.paths.clawkeep_dir.join("index.json");
                        std::fs::write(&path, b).unwrap();
                        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
                    }
                    Ok(())
                }
                Step::StaleAuthProfiles => {
                    // The user puts an old copy back: plaintext that lived only in the newer file is gone by
                    // their hand.
                    if let Some(b) = &self.copies.1 {
                        let path = self.paths.auth_profiles("main");
                        std::fs::write(&path, b).unwrap();
                        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
                        for (pid, v) in self.model.clone() {
                            if !self.retrievable(pid, &v) {
                                after.get_mut(&pid).unwrap().push(None);
                            }
                        }
                    }
                    Ok(())
                }
                Step::ImportRename => {
                    let ap = self.paths.auth_profiles("main");
                    if ap.exists() {
                        self.archives += 1;
                        let to = ap.with_file_name(format!("auth-profiles.json.migrated-{}", self.archives));
                        std::fs::rename(&ap, to).unwrap();
                    }
                    Ok(())
                }
                Step::EnvLine { pid, val: v } => {
                    let path = self.paths.dotenv();
                    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
                    text.push_str(&format!("{}={}\n", PIDS[*pid].2, val(*v)));
                    std::fs::write(&path, text).unwrap();
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
                    // A new key the user put there; with a profile already stored it is a stale line.
                    if !self.model.contains_key(pid) {
                        after.insert(*pid, vec![Some(val(*v))]);
                    }
                    Ok(())
                }
                Step::PlaintextProfile { pid, val: v } => {
                    let path = self.paths.auth_profiles("main");
                    let mut doc = match std::fs::read(&path) {
                        Ok(b) => match serde_json::from_slice::<serde_json::Value>(&b) {
                            Ok(d) => d,
                            Err(_) => return Ok(()),
                        },
                        Err(_) => serde_json::json!({"version": 1, "profiles": {}}),
                    };
                    if doc.pointer(&format!("/profiles/{}", PIDS[*pid].0)).is_none()
                        && let Some(p) = doc.get_mut("profiles").and_then(|p| p.as_object_mut())
                    {
                        p.insert(
                            PIDS[*pid].0.into(),
                            serde_json::json!({"type": "api_key", "provider": PIDS[*pid].1, "key": val(*v)}),
                        );
                        self.write_json(&path, &doc);
                        after.insert(*pid, vec![Some(val(*v))]);
                    }
                    Ok(())
                }
            };
            let crashed = fault::tripped();
            fault::clear();
            if let Err(e) = &res
                && !crashed
                && snapshot(&self.paths.state_dir) != before
            {
                return Err(format!("the command failed ({e}) and still changed files"));
            }
            // The identity is never replaced: every secret stays decryptable.
            if std::fs::read(self.paths.clawkeep_dir.join("identity.json")).ok().as_deref()
                != Some(&self.identity_bytes[..])
            {
                return Err("identity.json was replaced or removed".into());
            }
            // Every profile still holds what the user last stored (or, after a crash, the old or the new value).
            let mut model = BTreeMap::new();
            for (pid, cands) in after {
                let found = cands.iter().find(|c| c.as_ref().is_some_and(|v| self.retrievable(pid, v)));
                match found {
                    Some(Some(v)) => {
                        model.insert(pid, v.clone());
                    }
                    _ if cands.contains(&None) => {}
                    _ => {
                        return Err(format!(
                            "{} lost its secret (expected one of {cands:?}; store has {:?}, plaintext {:?})",
                            PIDS[pid].0,
                            self.in_store(pid),
                            self.in_plaintext(pid)
                        ));
                    }
                }
            }
            self.model = model;
            Ok(())
        }
    }

    /// Run a case; on a broken promise, the step index and what broke.
    pub fn run_case(t: &Template, steps: &[Step]) -> Result<(), (usize, String)> {
        fault::skip_fsync(true);
        let mut w = World::new(t);
        for (i, s) in steps.iter().enumerate() {
            w.step(s).map_err(|e| (i, e))?;
        }
        Ok(())
    }

    /// Drop steps and crashes while the case still fails.
    pub fn shrink(t: &Template, mut steps: Vec<Step>) -> Vec<Step> {
        loop {
            let mut smaller = false;
            let n = steps.len();
            for i in (0..n).rev() {
                let mut c = steps.clone();
                c.remove(i);
                if run_case(t, &c).is_err() {
                    steps = c;
                    smaller = true;
                }
                if steps.len() != n {
                    break;
                }
            }
            for i in 0..steps.len() {
                let mut c = steps.clone();
                if let Some(cr) = c[i].crash_mut()
                    && cr.is_some()
                {
                    *cr = None;
                    if run_case(t, &c).is_err() {
                        steps = c;
                        smaller = true;
                    }
                }
            }
            if !smaller {
                return steps;
            }
        }
    }
}

#[test]
fn model_based_durability() {
    let cases: u64 = std::env::var("CLAWKEEP_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let seed: u64 = std::env::var("CLAWKEEP_MODEL_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_c1a5);
    let t = model::Template::new();
    let start = Instant::now();
    for case in 0..cases {
        let case_seed = seed.wrapping_add(case);
        let steps = model::gen_case(&mut model::Rng::new(case_seed));
        if let Err((i, why)) = model::run_case(&t, &steps) {
            let small = model::shrink(&t, steps[..=i].to_vec());
            let (j, why_small) = model::run_case(&t, &small).err().unwrap_or((i, why.clone()));
            panic!(
                "durability broken in case {case} (CLAWKEEP_MODEL_SEED={seed} CLAWKEEP_MODEL_CASES={}): {why}\n\
                 shrunk to {} steps, failing at step {j}: {why_small}\n{small:#?}",
                case + 1,
                small.len()
            );
        }
    }
    eprintln!("model_based_durability: {cases} cases in {:.1} s", start.elapsed().as_secs_f64());
}

#[test]
fn openclaw_json_backups_hold_no_literal_key_and_doctor_scans_old_ones() {
    let env = Env::new();
    env.init_file();
    let cfg = env.state.join("openclaw.json");
    let original = "// gateway\n{\n  models: { providers: { openai: { apiKey: 'sk-LITERAL-in-config', baseUrl: 'https://x' } } },\n  gateway: { port: 1 },\n}\n";
    write_private(&cfg, original);
    let bak = env.state.join("openclaw.json.clawkeep.bak");
    for args in [&["openclaw", "wire"][..], &["models", "auth", "add", "--provider", "groq"][..]] {
        let o = env.run(args, "gsk-bak");
        assert_eq!(o.code, 0, "{args:?}: {o:?}");
        let b = std::fs::read_to_string(&bak).unwrap();
        assert!(!b.contains("sk-LITERAL-in-config"), "{args:?} wrote the key into the backup: {b}");
    }
    // Comments and layout of the original are kept around the left-out key.
    write_private(&cfg, original);
    assert_eq!(env.run(&["openclaw", "wire"], "").code, 0);
    let b = std::fs::read_to_string(&bak).unwrap();
    assert!(b.starts_with("// gateway\n") && b.contains("baseUrl: 'https://x'"), "{b}");

    // A backup written by an earlier clawkeep is reported, after the user fixed openclaw.json itself.
    write_private(&bak, original);
    write_private(&cfg, "{}");
    let d = env.run(&["doctor"], "");
    assert_ne!(d.code, 0, "{d:?}");
    assert!(d.stdout.contains("BACKUP_PLAINTEXT"), "{d:?}");
    assert!(!d.stdout.contains("sk-LITERAL"), "{d:?}");
}

#[test]
fn doctor_fix_puts_a_secret_the_index_lost_back_and_never_suggests_deleting_it() {
    let env = Env::new();
    env.init_file();
    assert_eq!(add(&env, "openai", "sk-ORPHAN", false).code, 0);
    write_private(&env.ck().join("index.json"), r#"{"version":1,"secrets":{}}"#);
    let d = env.run(&["doctor"], "");
    assert!(d.stdout.contains("ORPHAN_SECRET"), "{d:?}");
    assert!(!d.stdout.contains("remove the file"), "{d:?}");
    // `add` without --force does not overwrite the secret the index lost.
    std::fs::remove_file(env.auth_profiles()).unwrap();
    let a = add(&env, "openai", "sk-OTHER", false);
    assert_eq!(a.code, 67, "{a:?}");
    let f = env.run(&["doctor", "--fix"], "");
    assert!(f.stdout.contains("[fixed] ORPHAN_SECRET"), "{f:?}");
    assert!(std::fs::read_to_string(env.ck().join("index.json")).unwrap().contains("main/openai:default"));
    assert_eq!(env.run(&["get", "openai:default"], "").stdout, "sk-ORPHAN\n");
}
