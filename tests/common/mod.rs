//! Test fixture: a temp HOME + OpenClaw state dir, the real binary, file snapshots, and (when installed) a private
//! D-Bus with gnome-keyring or a named kernel session keyring.
#![allow(dead_code)]

pub mod service;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const PASSPHRASE: &str = "correct horse battery staple";

/// A realistic Anthropic setup-token (fake).
pub fn setup_token(tag: &str) -> String {
    let mut t = format!("sk-ant-oat01-{tag}-");
    while t.len() < 100 {
        t.push_str("AbCdEf0123456789");
    }
    t
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub state: PathBuf,
    pub home: PathBuf,
    pub pass_file: PathBuf,
    pub extra_env: Vec<(String, String)>,
    pub wrapper: Vec<String>,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let state = home.join(".openclaw");
        std::fs::create_dir_all(&home).unwrap();
        let pass_file = dir.path().join("passphrase");
        std::fs::write(&pass_file, format!("{PASSPHRASE}\n")).unwrap();
        std::fs::set_permissions(&pass_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        Env { dir, state, home, pass_file, extra_env: Vec::new(), wrapper: Vec::new() }
    }

    pub fn agent_dir(&self, agent: &str) -> PathBuf {
        self.state.join("agents").join(agent).join("agent")
    }
    pub fn auth_profiles(&self) -> PathBuf {
        self.agent_dir("main").join("auth-profiles.json")
    }
    pub fn ck(&self) -> PathBuf {
        self.state.join("clawkeep")
    }

    /// The real binary with a clean environment pointing into the temp dir.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let bin = env!("CARGO_BIN_EXE_clawkeep");
        let mut c = if self.wrapper.is_empty() {
            Command::new(bin)
        } else {
            let mut c = Command::new(&self.wrapper[0]);
            c.args(&self.wrapper[1..]).arg(bin);
            c
        };
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("OPENCLAW_STATE_DIR", &self.state)
            .env("CLAWKEEP_PASSPHRASE_FILE", &self.pass_file)
            .env("CLAWKEEP_KEYCHAIN_TIMEOUT_MS", "3000")
            .current_dir(self.dir.path());
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        c
    }

    /// Run with `stdin` bytes.
    pub fn run(&self, args: &[&str], stdin: &str) -> Out {
        let mut c = self.cmd(args);
        run_cmd(&mut c, stdin)
    }

    pub fn init_file(&self) {
        let o = self.run(&["init", "--backend", "file"], "");
        assert_eq!(o.code, 0, "{o:?}");
    }

    /// Every file under the temp dir (excluding the passphrase file and the access log, which records every
    /// command, refusals included), path → bytes.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        walk(&self.home, &mut out, true);
        out
    }

    /// All bytes of all files under the home dir (the access log included), for canary scans.
    pub fn all_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = BTreeMap::new();
        walk(&self.home, &mut out, false);
        out.into_iter().collect()
    }
}

fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>, skip_audit: bool) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        let md = std::fs::symlink_metadata(&p).unwrap();
        if md.is_dir() {
            if skip_audit
                && p.file_name().is_some_and(|n| n == "audit")
                && p.parent().is_some_and(|d| d.ends_with("clawkeep"))
            {
                continue;
            }
            walk(&p, out, skip_audit);
        } else if md.is_file() && p.file_name().is_some_and(|n| n != "lock") {
            out.insert(p.clone(), std::fs::read(&p).unwrap());
        }
    }
}

#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run_cmd(c: &mut Command, stdin: &str) -> Out {
    use std::io::Write;
    let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    {
        let mut i = child.stdin.take().unwrap();
        let _ = i.write_all(stdin.as_bytes());
    }
    let o: Output = child.wait_with_output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Write a 0600 file, creating missing parent directories with mode 0700. Existing directories are made 0700 only
/// when they lie strictly inside the system temp dir (a test's own temp dir): never `/`, `/tmp` or `$HOME`.
pub fn write_private(path: &Path, content: &str) {
    use std::os::unix::fs::DirBuilderExt;
    let parent = path.parent().unwrap();
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(parent).unwrap();
    for d in path.ancestors().skip(1) {
        if !inside_temp_dir(d) {
            break;
        }
        let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700));
    }
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Whether `p` lies strictly below the system temp dir, at least two levels down (`/tmp/.tmpXXXX/...`).
pub fn inside_temp_dir(p: &Path) -> bool {
    let tmp = std::env::temp_dir();
    p.strip_prefix(&tmp).is_ok_and(|rest| rest.components().count() >= 2)
}

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Whether the real-keychain tests must run (CI) rather than skip.
pub fn require_real() -> bool {
    std::env::var("CLAWKEEP_REQUIRE_REAL_KEYCHAIN").is_ok_and(|v| v == "1")
}

pub fn have(prog: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

/// Skip loudly, or fail when CLAWKEEP_REQUIRE_REAL_KEYCHAIN=1.
pub fn skip(test: &str, why: &str) {
    if require_real() {
        panic!("{test}: {why}, and CLAWKEEP_REQUIRE_REAL_KEYCHAIN=1 forbids skipping");
    }
    eprintln!("SKIPPED {test}: {why} (install gnome-keyring, dbus and keyutils to run it)");
}

/// A private session bus without service activation, optionally with gnome-keyring (unlocked with `pw`).
pub struct Bus {
    pub dir: tempfile::TempDir,
    pub address: String,
    daemon: Child,
    keyring: Option<Child>,
}

const BUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=DIR</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

impl Bus {
    pub fn start(with_keyring: bool) -> Bus {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
        let cfg = dir.path().join("bus.conf");
        std::fs::write(&cfg, BUS_CONFIG.replace("DIR", dir.path().to_str().unwrap())).unwrap();
        let mut daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", cfg.display()))
            .args(["--print-address=1", "--nofork", "--nopidfile"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(daemon.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let address = line.trim().to_string();
        let mut bus = Bus { dir, address, daemon, keyring: None };
        if with_keyring {
            let mut k = Command::new("gnome-keyring-daemon")
                .args(["--foreground", "--unlock", "--components=secrets"])
                .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
                .env("XDG_DATA_HOME", bus.dir.path().join("data"))
                .env("XDG_RUNTIME_DIR", &run)
                .env("HOME", bus.dir.path())
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            {
                use std::io::Write;
                let mut i = k.stdin.take().unwrap();
                i.write_all(b"pw").unwrap();
            }
            bus.keyring = Some(k);
            // Wait until the Secret Service name is owned.
            for _ in 0..100 {
                let o = Command::new("dbus-send")
                    .args(["--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus"])
                    .args(["org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets"])
                    .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
                    .output()
                    .unwrap();
                if String::from_utf8_lossy(&o.stdout).contains("boolean true") {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        bus
    }

    /// Environment for clients of this bus.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("DBUS_SESSION_BUS_ADDRESS".into(), self.address.clone()),
            ("XDG_RUNTIME_DIR".into(), self.dir.path().join("run").display().to_string()),
        ]
    }

    /// Kill gnome-keyring (SIGKILL): the Secret Service disappears from the bus mid-run.
    pub fn stop_keyring(&mut self) {
        if let Some(mut k) = self.keyring.take() {
            let _ = k.kill();
            let _ = k.wait();
        }
    }

    /// Kill the bus daemon itself (SIGKILL): every connection to it breaks.
    pub fn stop_bus(&mut self) {
        self.stop_keyring();
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }

    /// Lock the login collection through the Secret Service API.
    pub fn lock_keyring(&self) {
        let o = Command::new("dbus-send")
            .args(["--session", "--print-reply", "--dest=org.freedesktop.secrets", "/org/freedesktop/secrets"])
            .args(["org.freedesktop.Secret.Service.Lock", "array:objpath:/org/freedesktop/secrets/collection/login"])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        if let Some(k) = &mut self.keyring {
            let _ = k.kill();
            let _ = k.wait();
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
