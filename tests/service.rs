//! The vault service from the outside: the real binary serving a real socket, driven by the CLI and by raw frames.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::service::Service;
use common::{Env, json, setup_token};
use serde_json::{Value, json};

const KEY: &str = "sk-ant-api03-SERVICE-canary-key-0123456789abcdef";

/// Send raw bytes, read one response line.
fn raw(socket: &Path, frame: &[u8]) -> Value {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(frame).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line:?}"))
}

fn call(socket: &Path, req: Value) -> Value {
    let mut f = serde_json::to_vec(&req).unwrap();
    f.push(b'\n');
    raw(socket, &f)
}

fn get(socket: &Path, id: &str) -> Value {
    call(socket, json!({"v":1,"op":"get","ids":[id]}))
}

/// An env with the file store and one API key.
fn file_env() -> Env {
    let env = Env::new();
    env.init_file();
    let o = env.run(&["models", "auth", "add", "--provider", "anthropic"], KEY);
    assert_eq!(o.code, 0, "{o:?}");
    env
}

/// CLI command aimed at the service's socket.
fn ck(env: &Env, svc: &Service, args: &[&str], stdin: &str) -> common::Out {
    svc.ck(env, args, stdin)
}

fn resolve_req(ids: &[&str]) -> String {
    json!({"protocolVersion":1,"provider":"clawkeep","ids":ids}).to_string()
}

#[test]
fn unlock_get_lock_and_ttl_through_the_cli() {
    let env = file_env();
    let svc = Service::start(&env, &["--ttl", "8h"]);
    // Locked at start: secrets are refused with LOCKED, status says so.
    assert_eq!(get(&svc.socket, "main/anthropic:default")["errors"]["main/anthropic:default"]["code"], "LOCKED");
    let st = ck(&env, &svc, &["status", "--json"], "");
    assert_eq!(st.code, 0, "{st:?}");
    let st: Value = serde_json::from_str(&st.stdout).unwrap();
    assert_eq!(st["unlocked"], false);
    assert_eq!(st["backend"], "file");

    let o = ck(&env, &svc, &["unlock", "--ttl", "2s"], "");
    assert_eq!(o.code, 0, "{o:?}");
    let r = get(&svc.socket, "main/anthropic:default");
    assert_eq!(r["ok"], true);
    assert_eq!(r["values"]["main/anthropic:default"], KEY);
    // Bare profile ids mean agent main.
    assert_eq!(get(&svc.socket, "anthropic:default")["values"]["anthropic:default"], KEY);

    // `resolve` without any passphrase source gets the value from the service.
    let mut c = env.cmd(&["resolve"]);
    c.env("CLAWKEEP_SOCKET", &svc.socket).env_remove("CLAWKEEP_PASSPHRASE_FILE");
    let o = common::run_cmd(&mut c, &resolve_req(&["main/anthropic:default", "main/nope:x"]));
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stderr, "");
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["values"]["main/anthropic:default"], KEY);
    assert_eq!(v["errors"]["main/nope:x"]["code"], "NOT_FOUND");

    // `exec` takes the secret from the service too (no passphrase source at all).
    let mut c = env.cmd(&["exec", "--provider", "anthropic", "--", "sh", "-c", "printf %s \"$ANTHROPIC_API_KEY\""]);
    c.env("CLAWKEEP_SOCKET", &svc.socket).env_remove("CLAWKEEP_PASSPHRASE_FILE");
    let o = common::run_cmd(&mut c, "");
    assert_eq!((o.code, o.stdout.as_str()), (0, KEY), "{o:?}");

    // TTL: after 2 s the identity is wiped without any request.
    std::thread::sleep(Duration::from_millis(2600));
    assert!(svc.log_text().contains("TTL reached"), "{}", svc.log_text());
    assert_eq!(get(&svc.socket, "main/anthropic:default")["errors"]["main/anthropic:default"]["code"], "LOCKED");
    let mut c = env.cmd(&["resolve"]);
    c.env("CLAWKEEP_SOCKET", &svc.socket).env_remove("CLAWKEEP_PASSPHRASE_FILE");
    let o = common::run_cmd(&mut c, &resolve_req(&["main/anthropic:default"]));
    assert!(o.stdout.contains("\"LOCKED\""), "{o:?}");

    // Explicit lock.
    assert_eq!(ck(&env, &svc, &["unlock"], "").code, 0);
    assert_eq!(get(&svc.socket, "main/anthropic:default")["ok"], true);
    let o = ck(&env, &svc, &["lock"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("locked"), "{o:?}");
    assert_eq!(get(&svc.socket, "main/anthropic:default")["errors"]["main/anthropic:default"]["code"], "LOCKED");

    // Wrong passphrase: exit 79, still locked.
    let bad = env.dir.path().join("bad-pass");
    common::write_private(&bad, "not the passphrase\n");
    let mut c = env.cmd(&["unlock"]);
    c.env("CLAWKEEP_SOCKET", &svc.socket).env("CLAWKEEP_PASSPHRASE_FILE", &bad);
    let o = common::run_cmd(&mut c, "");
    assert_eq!(o.code, 79, "{o:?}");
    assert_eq!(get(&svc.socket, "main/anthropic:default")["errors"]["main/anthropic:default"]["code"], "LOCKED");
    assert!(!svc.log_text().contains(KEY));
}

#[test]
fn an_unlock_ttl_is_capped_by_the_service_ttl() {
    let env = file_env();
    let svc = Service::start(&env, &["--ttl", "3s"]);
    let o = ck(&env, &svc, &["unlock", "--ttl", "1h"], "");
    assert_eq!(o.code, 0, "{o:?}");
    let st = call(&svc.socket, json!({"v":1,"op":"status"}));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let until = st["status"]["unlockedUntil"].as_i64().unwrap();
    assert!(until - now <= 3_000 && until - now > 1_000, "{st}");
}

#[test]
fn idle_timeout_wipes_the_identity() {
    let env = file_env();
    let svc = Service::start(&env, &["--unlock", "--idle-timeout", "1s"]);
    assert_eq!(get(&svc.socket, "main/anthropic:default")["ok"], true);
    std::thread::sleep(Duration::from_millis(1600));
    assert!(svc.log_text().contains("idle timeout"), "{}", svc.log_text());
    assert_eq!(get(&svc.socket, "main/anthropic:default")["errors"]["main/anthropic:default"]["code"], "LOCKED");
}

#[test]
fn socket_permissions_hardening_and_single_instance() {
    let mut env = file_env();
    // Started with core dumps allowed, so the limit seen below is the service's own doing.
    env.wrapper = vec!["prlimit".into(), "--core=unlimited".into(), "--".into()];
    let mut svc = Service::start(&env, &["--unlock"]);
    let dir = svc.socket.parent().unwrap();
    assert_eq!(std::fs::metadata(dir).unwrap().mode() & 0o777, 0o700);
    assert_eq!(std::fs::symlink_metadata(&svc.socket).unwrap().mode() & 0o777, 0o600);

    // From outside: locked memory while unlocked, no core dumps.
    let status = std::fs::read_to_string(format!("/proc/{}/status", svc.pid())).unwrap();
    let vmlck: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap())
        .unwrap();
    assert!(vmlck > 0, "identity should be mlocked: {status}");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", svc.pid())).unwrap();
    let core = limits.lines().find(|l| l.starts_with("Max core file size")).unwrap();
    assert_eq!(core.split_whitespace().nth(4), Some("0"), "soft: {core}");
    assert_eq!(core.split_whitespace().nth(5), Some("0"), "hard: {core}");

    // A second service on the same socket refuses to start.
    let mut c = env.cmd(&["serve"]);
    c.env("CLAWKEEP_SOCKET", &svc.socket);
    let o = common::run_cmd(&mut c, "");
    assert_eq!(o.code, 81, "{o:?}");
    assert!(o.stderr.contains("is starting or listening"), "{o:?}");

    // SIGTERM: socket removed. SIGKILL leaves a stale socket, which the next start removes.
    assert!(svc.stop().success());
    assert!(!svc.socket.exists());
    // A service still starting up holds `<socket>.lock` before it looks at the socket: a second one stays out.
    let lockfile = svc.socket.with_file_name("agent.sock.lock");
    let mut holder = Command::new("flock").arg("-o").arg(&lockfile).args(["sleep", "3"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut c = env.cmd(&["serve"]);
    c.env("CLAWKEEP_SOCKET", &svc.socket);
    let o = common::run_cmd(&mut c, "");
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(o.code, 81, "{o:?}");
    assert!(o.stderr.contains("starting or listening"), "{o:?}");
    let svc2 = Service::start(&env, &[]);
    svc2.signal("KILL");
    std::thread::sleep(Duration::from_millis(200));
    assert!(svc2.socket.exists());
    let svc3 = Service::start(&env, &[]);
    assert!(svc3.log_text().contains("removing stale socket"), "{}", svc3.log_text());
    assert_eq!(call(&svc3.socket, json!({"v":1,"op":"status"}))["ok"], true);
}

fn is_root() -> bool {
    clawkeep::fs::euid() == 0
}

/// `setpriv` to uid/gid 65534 (nobody). The service socket lies in a root-owned 0700 temp dir, so the process keeps
/// CAP_DAC_OVERRIDE and
/// CAP_DAC_READ_SEARCH (ambient) to reach the socket through that dir and past the socket's 0600 mode,
/// which is exactly the peer the SO_PEERCRED check must stop.
fn as_nobody(program: &Path) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(["--inh-caps=+dac_override,+dac_read_search", "--ambient-caps=+dac_override,+dac_read_search"])
        .arg(program);
    c
}

#[test]
fn a_foreign_uid_peer_gets_nothing_and_is_logged() {
    if !is_root() || !common::have("setpriv") {
        return common::skip("a_foreign_uid_peer_gets_nothing_and_is_logged", "needs root and setpriv");
    }
    let env = file_env();
    let svc = Service::start(&env, &["--unlock"]);
    let o = as_nobody(Path::new(env!("CARGO_BIN_EXE_clawkeep")))
        .arg("resolve")
        .env_clear()
        .env("HOME", "/nonexistent")
        .env("CLAWKEEP_SOCKET", &svc.socket)
        .env("CLAWKEEP_DIR", "/nonexistent/ck")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(resolve_req(&["main/anthropic:default"]).as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stdout.contains(KEY) && !stderr.contains(KEY), "{stdout} {stderr}");
    assert!(stderr.contains("is served by uid 0, not by you"), "the client checks the server too: {stderr}");
    // And the raw socket: no byte comes back.
    let nobody = as_nobody(Path::new("/usr/bin/python3"))
        .arg("-c")
        .arg(
            r#"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(5)
try:
    s.sendall(b'{"v":1,"op":"get","ids":["main/anthropic:default"]}\n')
    print(len(s.recv(65536)))
except (ConnectionResetError, BrokenPipeError):
    print(0)
"#,
        )
        .arg(&svc.socket)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&nobody.stdout).trim(), "0", "{nobody:?}");
    // Both attempts are logged (the log is written by the service's own task: give it a moment).
    let deadline = Instant::now() + Duration::from_secs(5);
    while svc.log_text().matches("rejected peer uid=65534").count() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = svc.log_text();
    assert_eq!(log.matches("rejected peer uid=65534").count(), 2, "{log}");
}

#[test]
fn the_service_is_not_dumpable() {
    if !is_root() || !common::have("setpriv") {
        return common::skip("the_service_is_not_dumpable", "needs root and setpriv");
    }
    // Run the service as nobody: /proc/<pid>/* of a non-dumpable process belongs to root, not to its user.
    let env = Env::new();
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = env.dir.path().join("nobody-home");
    std::fs::create_dir_all(&home).unwrap();
    let pass = home.join("pass");
    std::fs::write(&pass, "nobody passphrase\n").unwrap();
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
    Command::new("chown").args(["-R", "65534:65534"]).arg(&home).status().unwrap();
    let ck_nobody = |args: &[&str]| {
        let mut c = as_nobody(Path::new(env!("CARGO_BIN_EXE_clawkeep")));
        c.args(args)
            .env_clear()
            .env("HOME", &home)
            .env("CLAWKEEP_PASSPHRASE_FILE", &pass)
            .env("CLAWKEEP_SOCKET", home.join("run/agent.sock"));
        c
    };
    // Control: the same launch of an ordinary program leaves it dumpable (its /proc files belong to nobody).
    let mut control = as_nobody(Path::new("/bin/sleep")).arg("5").spawn().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let control_owner = std::fs::metadata(format!("/proc/{}/status", control.id())).unwrap().uid();
    let _ = control.kill();
    let _ = control.wait();
    assert_eq!(control_owner, 65534);
    let o = ck_nobody(&["init", "--backend", "file"]).output().unwrap();
    assert!(o.status.success(), "{o:?}");
    let mut child = ck_nobody(&["serve", "--unlock"]).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !home.join("run/agent.sock").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // The service runs as nobody: root is a foreign peer unless --allow-root.
    let root_status = |socket: &Path| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_clawkeep"));
        c.args(["status", "--json"]).env_clear().env("HOME", &home).env("CLAWKEEP_SOCKET", socket);
        common::run_cmd(&mut c, "")
    };
    let o = root_status(&home.join("run/agent.sock"));
    assert_eq!(o.code, 81, "root is refused by a nobody service: {o:?}");
    let pid = child.id();
    let status_owner = std::fs::metadata(format!("/proc/{pid}/status")).unwrap().uid();
    let real_uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:").map(|v| v.split_whitespace().next().unwrap().to_string()))
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(real_uid, "65534");
    assert_eq!(status_owner, 0, "a dumpable process's /proc files belong to its own uid");
    let mut child = ck_nobody(&["serve", "--allow-root"]).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut o = root_status(&home.join("run/agent.sock"));
    while o.code != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        o = root_status(&home.join("run/agent.sock"));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(o.code, 0, "--allow-root serves root: {o:?}");
}

#[test]
fn bad_frames_get_errors_and_never_stall_the_service() {
    let env = file_env();
    let svc = Service::start(&env, &["--unlock", "--client-timeout", "1s"]);
    // Several frames on one connection: each gets an answer, the connection survives malformed ones.
    let mut s = UnixStream::connect(&svc.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        b"this is not json\n{\"v\":2,\"op\":\"status\"}\n{\"op\":\"status\"}\n{\"v\":1,\"op\":\"explode\"}\n\
          {\"v\":1,\"op\":\"get\",\"ids\":[\"../etc\",\"main/anthropic:default\"]}\n{\"v\":1,\"op\":\"get\",\"ids\":\"sk-x\"}\n",
    )
    .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut next = || {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        serde_json::from_str::<Value>(&l).unwrap()
    };
    assert_eq!(next()["error"]["code"], "BAD_REQUEST");
    assert_eq!(next()["error"]["code"], "UNSUPPORTED_VERSION");
    assert_eq!(next()["error"]["code"], "UNSUPPORTED_VERSION");
    assert_eq!(next()["error"]["code"], "UNKNOWN_OP");
    let g = next();
    assert_eq!(g["errors"]["../etc"]["code"], "INVALID_ID");
    assert_eq!(g["values"]["main/anthropic:default"], KEY);
    let bad = next();
    assert_eq!(bad["error"]["code"], "BAD_REQUEST");
    assert!(!bad.to_string().contains("sk-x"), "a value sent in the wrong field must not be echoed: {bad}");

    // Oversized: TOO_LARGE, then the connection is closed.
    let mut big = UnixStream::connect(&svc.socket).unwrap();
    big.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = big.write_all(&vec![b'a'; 70 * 1024]);
    let mut resp = String::new();
    let _ = big.read_to_string(&mut resp);
    assert!(resp.contains("TOO_LARGE"), "{resp}");

    // A secret pasted into `ids` by mistake is answered but never named in the log.
    let r = get(&svc.socket, "sk-ant-api03-PASTEDBYMISTAKE0123456789");
    assert_eq!(r["ok"], true);
    assert!(!svc.log_text().contains("PASTEDBYMISTAKE"), "{}", svc.log_text());
    // ttlMs 0 is refused rather than unlocking for no time.
    let pass = std::fs::read_to_string(&env.pass_file).unwrap();
    let r = call(&svc.socket, json!({"v":1,"op":"unlock","passphrase":pass.trim_end(),"ttlMs":0}));
    assert_eq!(r["error"]["code"], "INVALID", "{r}");
    // Too many ids.
    let ids: Vec<String> = (0..300).map(|i| format!("main/p:{i}")).collect();
    assert_eq!(call(&svc.socket, json!({"v":1,"op":"get","ids":ids}))["error"]["code"], "BAD_REQUEST");
    // Still serving.
    assert_eq!(get(&svc.socket, "main/anthropic:default")["ok"], true);
}

#[test]
fn a_silent_client_times_out_without_blocking_others_and_many_clients_are_served() {
    let env = file_env();
    let svc = Service::start(&env, &["--unlock", "--client-timeout", "1s"]);
    let mut silent = UnixStream::connect(&svc.socket).unwrap();
    silent.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let t = Instant::now();
    assert_eq!(get(&svc.socket, "main/anthropic:default")["ok"], true);
    assert!(t.elapsed() < Duration::from_millis(900), "a silent client must not block others");
    let mut buf = [0u8; 16];
    let n = silent.read(&mut buf).unwrap();
    assert_eq!(n, 0, "the silent client is disconnected");
    assert!(t.elapsed() >= Duration::from_millis(900));

    let socket = svc.socket.clone();
    let threads: Vec<_> = (0..40)
        .map(|_| {
            let s = socket.clone();
            std::thread::spawn(move || get(&s, "main/anthropic:default")["values"]["main/anthropic:default"] == KEY)
        })
        .collect();
    assert!(threads.into_iter().all(|t| t.join().unwrap()));
    let st = call(&svc.socket, json!({"v":1,"op":"status"}));
    assert!(st["status"]["handedOut"].as_u64().unwrap() >= 41, "{st}");
}

#[test]
fn a_service_killed_mid_request_gives_a_clear_error_and_leaves_files_intact() {
    let env = file_env();
    let svc = Service::start(&env, &[]);
    let before = env.snapshot();
    // Freeze the service, let the client connect and send, then kill the service under it.
    svc.signal("STOP");
    let mut c = env.cmd(&["unlock"]);
    c.env("CLAWKEEP_SOCKET", &svc.socket).stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
    let client = c.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    svc.signal("KILL");
    let o = client.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(81), "{stderr}");
    assert!(stderr.contains("closed the connection without answering"), "{stderr}");
    assert_eq!(before, env.snapshot());
    // resolve falls back to the store (passphrase file given) when the service is gone.
    let mut c = env.cmd(&["resolve"]);
    c.env("CLAWKEEP_SOCKET", &svc.socket);
    let o = common::run_cmd(&mut c, &resolve_req(&["main/anthropic:default"]));
    assert!(o.stdout.contains(KEY), "{o:?}");
}

#[test]
fn select_report_store_and_session_pins() {
    let env = file_env();
    let add = |args: &[&str], secret: &str| {
        let o = env.run(args, secret);
        assert_eq!(o.code, 0, "{o:?}");
    };
    add(
        &["models", "auth", "add", "--provider", "anthropic", "--profile-id", "anthropic:b"],
        "sk-ant-api03-SECOND-key",
    );
    add(&["models", "auth", "paste-token", "--provider", "anthropic", "--expires-in", "30d"], &setup_token("TOK"));
    add(&["models", "auth", "add", "--provider", "openai"], "sk-proj-OPENAI-key");
    let svc = Service::start(&env, &["--unlock"]);
    let select = |extra: Value| {
        let mut req = json!({"v":1,"op":"select","provider":"anthropic"});
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        call(&svc.socket, req)
    };
    let state_path = env.agent_dir("main").join("auth-state.json");
    // Round robin: token before api keys; then api keys by lastUsed, oldest first.
    let s = select(json!({}));
    assert_eq!(s["profile"], "anthropic:manual", "{s}");
    assert_eq!(s["type"], "token");
    assert_eq!(s["secret"], setup_token("TOK"));
    let last_used = json(&state_path)["usageStats"]["anthropic:manual"]["lastUsed"].as_i64().unwrap();
    assert!(last_used > 0);

    // Failures: 30 s, then 60 s, then 5 min cap; billing 5 h, then 10 h.
    let report = |p: &str, reason: &str| call(&svc.socket, json!({"v":1,"op":"report","profile":p,"reason":reason}));
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let close = |until: &Value, want_ms: i64| (until.as_i64().unwrap() - now() - want_ms).abs() < 5_000;
    let r = report("anthropic:manual", "rate_limit");
    assert!(close(&r["usage"]["cooldownUntil"], 30_000), "{r}");
    let r = report("anthropic:manual", "overloaded");
    assert!(close(&r["usage"]["cooldownUntil"], 60_000), "{r}");
    let r = report("anthropic:manual", "timeout");
    assert!(close(&r["usage"]["cooldownUntil"], 300_000), "{r}");
    let r = report("anthropic:manual", "timeout");
    assert!(close(&r["usage"]["cooldownUntil"], 300_000), "{r}");
    assert_eq!(r["usage"]["errorCount"], 4);
    let r = report("anthropic:b", "billing");
    assert!(close(&r["usage"]["disabledUntil"], 5 * 3_600_000), "{r}");
    let r = report("anthropic:b", "billing");
    assert!(close(&r["usage"]["disabledUntil"], 10 * 3_600_000), "{r}");
    let st = json(&state_path);
    assert_eq!(st["usageStats"]["anthropic:manual"]["cooldownReason"], "timeout");
    assert_eq!(st["usageStats"]["anthropic:b"]["disabledReason"], "billing");
    assert_eq!(report("anthropic:b", "cosmic_rays")["error"]["code"], "INVALID");
    assert_eq!(report("anthropic:ghost", "auth")["error"]["code"], "NOT_FOUND");

    // Cooling-down and disabled profiles go last: the only usable one is anthropic:default.
    let s = select(json!({}));
    assert_eq!(s["profile"], "anthropic:default", "{s}");
    let order: Vec<&str> = s["candidates"].as_array().unwrap().iter().map(|c| c["profile"].as_str().unwrap()).collect();
    assert_eq!(order, ["anthropic:default", "anthropic:manual", "anthropic:b"], "soonest recovery first");

    // A session pin goes first while usable (ahead of the token round robin would pick); a disabled pin does not.
    let o = ck(&env, &svc, &["model-command", "--session", "chat-1", "/model opus@anthropic:b"], "");
    assert_eq!(o.code, 0, "{o:?}");
    let s = select(json!({"session":"chat-1"}));
    assert_eq!(s["profile"], "anthropic:default", "{s}");
    assert_eq!(s["candidates"][2]["pinned"], true, "the pin is kept while disabled: {s}");
    std::fs::write(&state_path, "{\"version\":1}\n").unwrap();
    let s = select(json!({"session":"chat-1"}));
    assert_eq!(s["profile"], "anthropic:b", "{s}");
    assert_eq!(s["candidates"][0]["pinned"], true);
    assert_eq!(select(json!({"session":"chat-2"}))["profile"], "anthropic:manual", "other sessions are not pinned");
    // An explicit order override is kept.
    let o =
        env.run(&["models", "auth", "order", "set", "--provider", "anthropic", "anthropic:b", "anthropic:default"], "");
    assert_eq!(o.code, 0, "{o:?}");
    let s = select(json!({}));
    assert_eq!(s["profile"], "anthropic:b");
    assert_eq!(s["candidates"].as_array().unwrap().len(), 2);
    assert_eq!(select(json!({"provider":"mistral"}))["error"]["code"], "NO_PROFILE");

    // store: a rotated secret replaces the old one; format checks apply.
    let r = call(&svc.socket, json!({"v":1,"op":"store","profile":"anthropic:b","secret":"sk-ant-api03-ROTATED-key"}));
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(get(&svc.socket, "main/anthropic:b")["values"]["main/anthropic:b"], "sk-ant-api03-ROTATED-key");
    let r =
        call(&svc.socket, json!({"v":1,"op":"store","profile":"anthropic:manual","secret":"sk-ant-api03-not-a-token"}));
    assert_eq!(r["error"]["code"], "INVALID", "{r}");
    assert_eq!(
        call(&svc.socket, json!({"v":1,"op":"store","profile":"nope:x","secret":"abc"}))["error"]["code"],
        "NOT_FOUND"
    );

    let log = svc.log_text();
    assert!(log.contains("handed out main/anthropic:manual"), "{log}");
    for secret in [KEY, "sk-ant-api03-SECOND-key", "sk-ant-api03-ROTATED-key", &setup_token("TOK")] {
        assert!(!log.contains(secret), "secret in the service log");
        for (path, bytes) in env.all_files() {
            assert!(!String::from_utf8_lossy(&bytes).contains(secret), "secret in {}", path.display());
        }
    }
}

#[test]
fn real_secret_service_needs_no_unlock() {
    if !common::have("gnome-keyring-daemon") || !common::have("dbus-daemon") {
        return common::skip("real_secret_service_needs_no_unlock", "gnome-keyring or dbus missing");
    }
    let bus = common::Bus::start(true);
    let mut env = Env::new();
    env.extra_env = bus.env();
    let o = env.run(&["init", "--backend", "keychain"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(env.run(&["models", "auth", "add", "--provider", "anthropic"], KEY).code, 0);
    let svc = Service::start(&env, &[]);
    let r = get(&svc.socket, "main/anthropic:default");
    assert_eq!(r["values"]["main/anthropic:default"], KEY, "{r}");
    let st = call(&svc.socket, json!({"v":1,"op":"status"}));
    assert_eq!(st["status"]["unlocked"], true);
    assert_eq!(st["status"]["backend"], "keychain");
    // `unlock` has nothing to do and asks for no passphrase (none is available here).
    let mut c = env.cmd(&["unlock"]);
    c.env("CLAWKEEP_SOCKET", &svc.socket).env_remove("CLAWKEEP_PASSPHRASE_FILE");
    let o = common::run_cmd(&mut c, "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("needs no unlock"), "{o:?}");
    // A locked keyring answers LOCKED, never hangs.
    bus.lock_keyring();
    let t = Instant::now();
    let r = get(&svc.socket, "main/anthropic:default");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(r["errors"]["main/anthropic:default"]["code"], "LOCKED", "{r}");
}

#[test]
fn a_lock_during_an_unlock_wins_and_busy_needs_no_slot() {
    let env = file_env();
    let svc = Service::start(&env, &["--max-clients", "2", "--client-timeout", "5s"]);
    let pass = std::fs::read_to_string(&env.pass_file).unwrap().trim_end().to_string();
    let socket = svc.socket.clone();
    let unlocking = std::thread::spawn(move || call(&socket, json!({"v":1,"op":"unlock","passphrase":pass})));
    std::thread::sleep(Duration::from_millis(15));
    let locked = call(&svc.socket, json!({"v":1,"op":"lock"}));
    assert_eq!(locked["status"]["unlocked"], false);
    let u = unlocking.join().unwrap();
    let st = call(&svc.socket, json!({"v":1,"op":"status"}));
    assert_eq!(st["status"]["unlocked"], false, "the lock must not be undone by the unlock it overtook: {u} {st}");
    if u["ok"] == false {
        assert_eq!(u["error"]["code"], "LOCKED", "{u}");
    }
    // Over --max-clients: BUSY at once, the others unaffected.
    std::thread::sleep(Duration::from_millis(200));
    let hold = || {
        let s = UnixStream::connect(&svc.socket).unwrap();
        (&s).write_all(b"{\"v\":1,\"op\":\"status\"}\n").unwrap();
        let mut line = String::new();
        BufReader::new(&s).read_line(&mut line).unwrap();
        assert!(line.contains("\"ok\":true"), "{line}");
        s
    };
    let (a, b) = (hold(), hold());
    // A third client's `get` is answered BUSY at once.
    let t = Instant::now();
    let r = get(&svc.socket, "main/anthropic:default");
    assert_eq!(r["error"]["code"], "BUSY", "{r}");
    assert!(t.elapsed() < Duration::from_secs(1));
    drop((a, b));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(call(&svc.socket, json!({"v":1,"op":"status"}))["ok"], true);
}

/// Write `content` at `path` with mode 0600 (the parent exists).
fn write_0600(path: &Path, content: &[u8]) {
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn deeply_nested_openclaw_files_are_refused_and_the_service_stays_up() {
    let env = file_env();
    let config = env.state.join("openclaw.json");
    let deep = |levels: usize| format!("{}1{}", "{a:".repeat(levels), "}".repeat(levels));
    // Within the bound, JSON5 is read as before.
    write_0600(&config, deep(100).as_bytes());
    let svc = Service::start(&env, &["--unlock"]);
    let select = || call(&svc.socket, json!({"v":1,"op":"select","provider":"anthropic"}));
    assert_eq!(select()["ok"], true);
    // 3,000 levels: one clear error, and the service keeps serving.
    write_0600(&config, deep(3_000).as_bytes());
    let r = select();
    assert_eq!(r["error"]["code"], "UNAVAILABLE", "{r}");
    let msg = r["error"]["message"].as_str().unwrap();
    assert!(msg.contains("openclaw.json") && msg.contains("nested more than 128 levels"), "{msg}");
    assert_eq!(get(&svc.socket, "main/anthropic:default")["values"]["main/anthropic:default"], KEY);
    // The CLI on 10,000 levels: exit 65 naming the file, no crash. The same in JSON (auth-profiles.json).
    write_0600(&config, deep(10_000).as_bytes());
    for args in [
        &["models", "auth", "add", "--provider", "openai"][..],
        &["openclaw", "wire"],
        &["model-command", "--session", "s1", "/model status"],
    ] {
        let o = env.run(args, "sk-proj-NESTED-key");
        assert_eq!(o.code, 65, "{args:?}: {o:?}");
        assert!(o.stderr.contains("openclaw.json") && o.stderr.contains("nested more than 128"), "{o:?}");
    }
    let o = env.run(&["doctor"], "");
    assert!(o.stdout.contains("CONFIG_UNREADABLE") && o.stdout.contains("nested more than 128"), "{o:?}");
    std::fs::remove_file(&config).unwrap();
    let profiles = env.auth_profiles();
    write_0600(&profiles, format!("{{\"version\":1,\"profiles\":{}}}", "[".repeat(10_000)).as_bytes());
    let o = env.run(&["models", "auth", "add", "--provider", "openai"], "sk-proj-NESTED-key");
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("auth-profiles.json") && o.stderr.contains("nested more than 128"), "{o:?}");
    assert_eq!(call(&svc.socket, json!({"v":1,"op":"status"}))["ok"], true);
}

#[test]
fn lock_and_status_get_through_when_every_slot_is_taken_and_silent_clients_go_fast() {
    let env = file_env();
    let svc = Service::start(&env, &["--unlock", "--max-clients", "2", "--client-timeout", "10s"]);
    // 64 connections that send nothing, and two that send half a frame (each takes a slot for the client timeout).
    let idle: Vec<UnixStream> = (0..64).map(|_| UnixStream::connect(&svc.socket).unwrap()).collect();
    let partial: Vec<UnixStream> = (0..2)
        .map(|_| {
            let s = UnixStream::connect(&svc.socket).unwrap();
            (&s).write_all(b"{\"v\":1,").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let st = ck(&env, &svc, &["status", "--json"], "");
    assert_eq!(st.code, 0, "{st:?}");
    let st: Value = serde_json::from_str(&st.stdout).unwrap();
    assert_eq!(st["unlocked"], true);
    assert!(st["lockedMemory"].as_u64().unwrap() > 0, "{st}");
    let o = ck(&env, &svc, &["lock"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(t.elapsed() < Duration::from_secs(2), "status and lock must not wait: {:?}", t.elapsed());
    assert_eq!(call(&svc.socket, json!({"v":1,"op":"status"}))["status"]["unlocked"], false);
    // Anything else is BUSY while the slots are taken.
    assert_eq!(get(&svc.socket, "main/anthropic:default")["error"]["code"], "BUSY");
    // A connection that sends nothing is closed within about 2 s, not the 10 s client timeout.
    let mut silent = UnixStream::connect(&svc.socket).unwrap();
    silent.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let t = Instant::now();
    assert_eq!(silent.read(&mut [0u8; 16]).unwrap(), 0);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    drop((idle, partial));
}

#[test]
fn a_flood_of_silent_connections_cannot_exhaust_the_services_file_descriptors() {
    let env = file_env();
    let svc = Service::start(&env, &["--unlock"]);
    let fds = || std::fs::read_dir(format!("/proc/{}/fd", svc.pid())).unwrap().count();
    let before = fds();
    // More silent connections than the service keeps waiting (256, and 256 more for 100 ms): the rest are closed.
    let flood: Vec<UnixStream> = (0..600).filter_map(|_| UnixStream::connect(&svc.socket).ok()).collect();
    std::thread::sleep(Duration::from_millis(500));
    let during = fds();
    assert!(during <= before + 2 * 256 + 8, "{before} fds before, {during} during a flood of {}", flood.len());
    // lock still gets through during the flood.
    let o = ck(&env, &svc, &["lock"], "");
    assert_eq!(o.code, 0, "{o:?}");
    drop(flood);
    // The soft fd limit was raised to the hard one.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", svc.pid())).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f[3], f[4], "{line}");
}

#[test]
fn a_deleted_socket_is_locked_and_bound_again_and_serve_names_the_holder() {
    let env = file_env();
    let svc = Service::start(&env, &["--unlock"]);
    // A second `serve` names the pid of the one holding the socket.
    let mut c = env.cmd(&["serve"]);
    c.env("CLAWKEEP_SOCKET", &svc.socket);
    let o = common::run_cmd(&mut c, "");
    assert_eq!(o.code, 81, "{o:?}");
    assert!(o.stderr.contains(&format!("(pid {})", svc.pid())), "{o:?}");
    assert_eq!(call(&svc.socket, json!({"v":1,"op":"status"}))["status"]["unlocked"], true);
    std::fs::remove_file(&svc.socket).unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while UnixStream::connect(&svc.socket).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let st = call(&svc.socket, json!({"v":1,"op":"status"}));
    assert_eq!(st["status"]["unlocked"], false, "{st}");
    assert_eq!(st["status"]["pid"], svc.pid());
    assert_eq!(std::fs::symlink_metadata(&svc.socket).unwrap().mode() & 0o777, 0o600);
    let o = ck(&env, &svc, &["lock"], "");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(svc.log_text().contains("was removed; locked the file store"), "{}", svc.log_text());
}

/// Wait for the service's log to contain `what` (its lines are written by its own tasks).
fn wait_log(svc: &Service, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !svc.log_text().contains(what) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    svc.log_text()
}

#[test]
fn refusals_are_logged_with_the_peer_and_only_profile_shaped_ids_are_named() {
    let env = file_env();
    let svc = Service::start(&env, &[]);
    let me = format!("uid={} pid={}", clawkeep::fs::euid(), std::process::id());
    // Locked: a select is refused, and the journal says so.
    let r = call(&svc.socket, json!({"v":1,"op":"select","provider":"anthropic"}));
    assert_eq!(r["error"]["code"], "LOCKED", "{r}");
    let log = wait_log(&svc, "refused select (provider anthropic)");
    assert!(log.contains(&format!("refused select (provider anthropic) to {me}")), "{log}");
    // Passphrase guessing shows, with the peer.
    let r = call(&svc.socket, json!({"v":1,"op":"unlock","passphrase":"guess-number-one"}));
    assert_eq!(r["error"]["code"], "WRONG_PASSPHRASE", "{r}");
    let log = wait_log(&svc, "refused unlock");
    assert!(log.contains(&format!("refused unlock to {me}")) && log.contains("WRONG_PASSPHRASE"), "{log}");
    assert!(!log.contains("guess-number-one"), "{log}");
    assert_eq!(ck(&env, &svc, &["unlock"], "").code, 0);
    for (req, code, line) in [
        (json!({"v":1,"op":"select","provider":"mistral"}), "NO_PROFILE", "refused select (provider mistral)"),
        (json!({"v":1,"op":"select","provider":"Not A Provider"}), "INVALID", "refused select to"),
        // A lowercase hex key pasted as the provider passes the provider grammar, but is not logged.
        (json!({"v":1,"op":"select","provider":"3f9a0c77e1d24b6f8a51c0de99aa12bb"}), "NO_PROFILE", "refused select to"),
        (
            json!({"v":1,"op":"store","profile":"anthropic:ghost","secret":"sk-ant-api03-x"}),
            "NOT_FOUND",
            "refused store (anthropic:ghost)",
        ),
        (
            json!({"v":1,"op":"report","profile":"anthropic:default","reason":"cosmic"}),
            "INVALID",
            "refused report (anthropic:default)",
        ),
        (
            json!({"v":1,"op":"store","profile":"api_key: gsk_PASTEDINPROFILE","secret":"x"}),
            "INVALID",
            "refused store ((id not shown))",
        ),
    ] {
        let r = call(&svc.socket, req);
        assert_eq!(r["error"]["code"], code, "{r}");
        let log = wait_log(&svc, line);
        assert!(log.lines().any(|l| l.contains(line) && l.contains(&me) && l.ends_with(code)), "{line}: {log}");
    }
    // Refused ids are named only when they have the shape of a profile id.
    let r = call(
        &svc.socket,
        json!({"v":1,"op":"get","ids":["api_key: gsk_PASTEDINIDS0123456789","sk-ant-api03-PASTEDTOO","main/nope:x"]}),
    );
    assert_eq!(r["ok"], true, "{r}");
    let log = wait_log(&svc, "main/nope:x=NOT_FOUND");
    assert!(log.contains("(id not shown)=INVALID_ID") && log.contains("main/nope:x=NOT_FOUND"), "{log}");
    assert!(!log.contains("gsk_PASTED") && !log.contains("PASTEDTOO") && !log.contains("PASTEDINPROFILE"), "{log}");
    assert!(!log.contains(KEY));
}

#[test]
fn bare_ids_inside_the_exec_grammar_get_one_answer_with_or_without_the_service() {
    let env = file_env();
    let svc = Service::start(&env, &["--unlock"]);
    let long = format!("openai:{}", "a".repeat(130));
    let ids = ["nocolon", long.as_str(), "../x"];
    let r = call(&svc.socket, json!({"v":1,"op":"get","ids":ids}));
    assert_eq!(r["errors"]["nocolon"]["code"], "NOT_FOUND", "{r}");
    assert_eq!(r["errors"][&long]["code"], "NOT_FOUND", "{r}");
    assert_eq!(r["errors"]["../x"]["code"], "INVALID_ID", "{r}");
    let resolve = |socket: &Path| {
        let mut c = env.cmd(&["resolve"]);
        c.env("CLAWKEEP_SOCKET", socket);
        let o = common::run_cmd(&mut c, &resolve_req(&ids));
        assert_eq!(o.code, 0, "{o:?}");
        serde_json::from_str::<Value>(&o.stdout).unwrap()["errors"].clone()
    };
    let with = resolve(&svc.socket);
    let without = resolve(&env.dir.path().join("no-service.sock"));
    assert_eq!(with, without);
    assert_eq!(with["nocolon"]["code"], "NOT_FOUND");
}

#[test]
fn a_get_too_large_to_send_is_not_a_hand_out() {
    let env = file_env();
    for i in 0..5 {
        let secret = format!("sk-proj-{i}{}", "x".repeat(15_000));
        let o = env.run(
            &["models", "auth", "add", "--provider", "openai", "--profile-id", &format!("openai:big{i}")],
            &secret,
        );
        assert_eq!(o.code, 0, "{o:?}");
    }
    let svc = Service::start(&env, &["--unlock"]);
    let ids: Vec<String> = (0..5).map(|i| format!("main/openai:big{i}")).collect();
    let r = call(&svc.socket, json!({"v":1,"op":"get","ids":ids}));
    assert_eq!(r["error"]["code"], "TOO_LARGE", "{r}");
    let st = call(&svc.socket, json!({"v":1,"op":"status"}));
    assert_eq!(st["status"]["handedOut"], 0, "{st}");
    let log = wait_log(&svc, "TOO_LARGE");
    assert!(!log.contains("handed out"), "{log}");
    assert!(log.contains("refused get to") && log.contains("TOO_LARGE"), "{log}");
    // Two of them fit, and count.
    let r = call(&svc.socket, json!({"v":1,"op":"get","ids":&ids[..2]}));
    assert_eq!(r["values"].as_object().unwrap().len(), 2, "{r}");
    assert_eq!(call(&svc.socket, json!({"v":1,"op":"status"}))["status"]["handedOut"], 2);
    assert!(wait_log(&svc, "handed out [").contains("handed out [main/openai:big0,main/openai:big1]"));
}

/// Run `clawkeep <args>`, killed after `secs`.
fn run_bounded(mut c: Command, secs: u64) -> common::Out {
    let mut child = c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let o = child.wait_with_output().unwrap();
    common::Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[test]
fn serve_refuses_bad_settings_at_start() {
    let env = file_env();
    let socket = env.dir.path().join("run").join("agent.sock");
    let serve = |args: &[&str], extra: &[(&str, &str)]| {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        let mut c = env.cmd(&all);
        c.env("CLAWKEEP_SOCKET", &socket);
        for (k, v) in extra {
            c.env(k, v);
        }
        run_bounded(c, 3)
    };
    for n in ["0", "4097", "18446744073709551615"] {
        let o = serve(&["--max-clients", n], &[]);
        assert_eq!(o.code, 65, "--max-clients {n}: {o:?}");
        assert!(o.stderr.contains("--max-clients") && !o.stderr.contains("panicked"), "{o:?}");
    }
    let o = serve(&[], &[("CLAWKEEP_KEYCHAIN_TIMEOUT_MS", "abc")]);
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("CLAWKEEP_KEYCHAIN_TIMEOUT_MS") && o.stderr.contains("abc"), "{o:?}");
    let o = serve(&["--unlock"], &[("CLAWKEEP_PASSPHRASE_FILE", "")]);
    assert_eq!(o.code, 65, "{o:?}");
    assert!(o.stderr.contains("CLAWKEEP_PASSPHRASE_FILE") && o.stderr.contains("empty"), "{o:?}");
    assert!(!socket.exists());
}

#[test]
fn the_default_client_slots_fit_an_8_mib_memlock_limit() {
    if !common::have("prlimit") {
        return common::skip("the_default_client_slots_fit_an_8_mib_memlock_limit", "prlimit missing");
    }
    let mut env = file_env();
    env.wrapper = vec!["prlimit".into(), "--memlock=8388608:8388608".into(), "--".into()];
    let svc = Service::start(&env, &["--unlock"]);
    // Every connection the service accepts at once takes a slot (or a reserved one, or gets BUSY).
    let held: Vec<UnixStream> = (0..70)
        .map(|_| {
            let s = UnixStream::connect(&svc.socket).unwrap();
            (&s).write_all(b"{\"v\":1,").unwrap();
            s
        })
        .collect();
    // Reserved slots held by a half-sent frame are answered BUSY after 0.5 s; the regular ones stay taken.
    std::thread::sleep(Duration::from_millis(1200));
    let st = ck(&env, &svc, &["status", "--json"], "");
    drop(held);
    assert_eq!(st.code, 0, "{st:?}");
    let st: Value = serde_json::from_str(&st.stdout).unwrap();
    assert_eq!(st["lockedMemoryLimit"], 8_388_608, "{st}");
    assert!(st["lockedMemory"].as_u64().unwrap() <= 8_388_608, "{st}");
    assert!(st["lockedMemory"].as_u64().unwrap() >= 48 * 128 * 1024, "all default slots in use: {st}");
    assert!(!svc.log_text().contains("could not lock"), "{}", svc.log_text());
    let o = ck(&env, &svc, &["status"], "");
    assert!(o.stdout.contains("(limit 8388608 bytes, RLIMIT_MEMLOCK)"), "{o:?}");
}

#[test]
fn an_unlock_overlapping_the_expiry_of_the_previous_one_succeeds() {
    let env = file_env();
    let svc = Service::start(&env, &[]);
    let pass = std::fs::read_to_string(&env.pass_file).unwrap().trim_end().to_string();
    for offset_ms in [940u64, 960, 980] {
        let r = call(&svc.socket, json!({"v":1,"op":"unlock","passphrase":pass,"ttlMs":1000}));
        assert_eq!(r["ok"], true, "{r}");
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_millis(offset_ms));
        let (socket, p) = (svc.socket.clone(), pass.clone());
        let second = std::thread::spawn(move || call(&socket, json!({"v":1,"op":"unlock","passphrase":p})));
        // While the second unlock derives its key, the first one expires (a request notices it at once).
        std::thread::sleep(Duration::from_millis(1_020u64.saturating_sub(t0.elapsed().as_millis() as u64)));
        let _ = get(&svc.socket, "main/anthropic:default");
        let u = second.join().unwrap();
        assert_eq!(u["ok"], true, "offset {offset_ms} ms: {u}");
        assert_eq!(get(&svc.socket, "main/anthropic:default")["values"]["main/anthropic:default"], KEY);
        assert_eq!(call(&svc.socket, json!({"v":1,"op":"lock"}))["ok"], true);
    }
}

#[test]
fn lock_stops_a_select_waiting_on_openclaw_s_lock() {
    let env = file_env();
    let svc = Service::start(&env, &["--unlock"]);
    // A live process (this test) holds OpenClaw's lock on auth-profiles.json.
    let lock = env.agent_dir("main").join("auth-profiles.json.lock");
    let me = std::process::id();
    let stat = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
    let starttime: u64 = stat.rsplit_once(')').unwrap().1.split_whitespace().nth(19).unwrap().parse().unwrap();
    write_0600(
        &lock,
        format!("{{\"pid\": {me}, \"createdAt\": \"x\", \"starttime\": {starttime}}}\ntoken\n").as_bytes(),
    );
    let socket = svc.socket.clone();
    let waiting = std::thread::spawn(move || call(&socket, json!({"v":1,"op":"select","provider":"anthropic"})));
    std::thread::sleep(Duration::from_millis(500));
    let o = ck(&env, &svc, &["lock"], "");
    assert_eq!(o.code, 0, "{o:?}");
    std::fs::remove_file(&lock).unwrap();
    let r = waiting.join().unwrap();
    assert_eq!(r["error"]["code"], "LOCKED", "{r}");
    assert!(!r.to_string().contains(KEY));
    assert_eq!(call(&svc.socket, json!({"v":1,"op":"status"}))["status"]["handedOut"], 0);
    assert!(!svc.log_text().contains("handed out"), "{}", svc.log_text());
}

#[test]
fn unlock_on_a_tty_prompts_before_it_connects() {
    if !common::have("script") {
        return common::skip("unlock_on_a_tty_prompts_before_it_connects", "`script` missing");
    }
    let env = file_env();
    let svc = Service::start(&env, &["--client-timeout", "1s"]);
    let script =
        std::env::split_paths(&std::env::var_os("PATH").unwrap()).map(|d| d.join("script")).find(|p| p.is_file());
    let mut template = env.cmd(&[]);
    template.env("CLAWKEEP_SOCKET", &svc.socket).env_remove("CLAWKEEP_PASSPHRASE_FILE");
    let mut s = Command::new(script.unwrap());
    s.args(["-qec", &format!("{} unlock", env!("CARGO_BIN_EXE_clawkeep")), "/dev/null"]).env_clear();
    for (k, v) in template.get_envs() {
        if let Some(v) = v {
            s.env(k, v);
        }
    }
    let mut child = s.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The user takes 3 s to type: longer than the service waits for a request.
    std::thread::sleep(Duration::from_secs(3));
    stdin.write_all(format!("{}\n", common::PASSPHRASE).as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(get(&svc.socket, "main/anthropic:default")["values"]["main/anthropic:default"], KEY);
}

#[test]
fn model_list_says_missing_when_the_secret_is_gone() {
    let env = file_env();
    let list = || env.run(&["model-command", "--session", "s1", "/model list"], "");
    let o = list();
    assert_eq!(o.code, 0, "{o:?}");
    let row = |o: &common::Out| o.stdout.lines().find(|l| l.contains("anthropic:default")).unwrap().to_string();
    assert!(row(&o).contains(" static "), "{o:?}");
    for e in std::fs::read_dir(env.ck().join("secrets")).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    let o = list();
    assert_eq!(o.code, 0, "{o:?}");
    assert!(row(&o).contains(" missing "), "{o:?}");
    let s = env.run(&["models", "status"], "");
    assert!(s.stdout.lines().any(|l| l.contains("anthropic:default") && l.contains("missing")), "{s:?}");
}

#[test]
fn lock_and_serve_help_say_what_the_service_does() {
    let env = Env::new();
    let lock = env.run(&["lock", "--help"], "");
    assert_eq!(lock.code, 0, "{lock:?}");
    assert!(
        lock.stdout.contains("unwrapped identity") && lock.stdout.contains("never keeps the passphrase"),
        "{lock:?}"
    );
    let serve = env.run(&["serve", "--help"], "");
    let text = serve.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("without a `get`, `select`, `report` or `store` request (whatever its outcome"),
        "the idle timer as docs/protocol.md states it: {text}"
    );
    assert!(text.contains("[default: 48]"), "{text}");
}

/// The service reuses what it read of the vault's files while they are unchanged: a profile added, a file made
/// readable by others, or an index swapped for another is seen by the very next request, as a fresh open would.
#[test]
fn the_service_sees_every_change_to_the_vaults_files_at_the_next_request() {
    use std::os::unix::fs::PermissionsExt;
    let env = file_env();
    let svc = Service::start(&env, &[]);
    assert_eq!(ck(&env, &svc, &["unlock"], "").code, 0);
    assert_eq!(get(&svc.socket, "main/anthropic:default")["values"]["main/anthropic:default"], KEY);
    // A profile added while the service runs.
    let other = "sk-ant-api03-SECONDKEY0123456789abcdefghijklmnopqrstuvwxyz";
    let o = env.run(&["models", "auth", "add", "--provider", "anthropic", "--profile-id", "anthropic:two"], other);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(get(&svc.socket, "main/anthropic:two")["values"]["main/anthropic:two"], other);
    // index.json made readable by others: refused, as a fresh open refuses it.
    let index = env.ck().join("index.json");
    std::fs::set_permissions(&index, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = get(&svc.socket, "main/anthropic:default");
    assert_ne!(r["values"]["main/anthropic:default"], KEY, "{r}");
    std::fs::set_permissions(&index, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(get(&svc.socket, "main/anthropic:default")["values"]["main/anthropic:default"], KEY);
    // vault.json replaced by one of an unknown version (same size, same mtime second): refused at once.
    let config = env.ck().join("vault.json");
    let text = std::fs::read_to_string(&config).unwrap();
    let swapped = text.replacen("\"version\": 1", "\"version\": 7", 1);
    assert_ne!(text, swapped, "{text}");
    let tmp = env.ck().join("vault.json.new");
    common::write_private(&tmp, &swapped);
    std::fs::rename(&tmp, &config).unwrap();
    let r = get(&svc.socket, "main/anthropic:default");
    assert_ne!(r["values"]["main/anthropic:default"], KEY, "{r}");
}
