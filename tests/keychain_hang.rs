//! A Secret Service that accepts connections and never answers: the vault service keeps one keychain connection,
//! so a hang costs one helper thread and one deadline, not one of each per request.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Env, write_private};

const ID: &str = "main/openai:default";

/// A D-Bus "bus" that accepts every connection, reads what it is sent, and never replies.
fn silent_bus(path: &Path) {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while conn.read(&mut buf).is_ok_and(|n| n > 0) {}
            });
        }
    });
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn count(dir: String) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

fn get(socket: &Path) -> serde_json::Value {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(format!("{}\n", serde_json::json!({"v":1,"op":"get","ids":[ID]})).as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line:?}"))
}

#[test]
fn a_hung_secret_service_costs_one_thread_and_later_requests_fail_fast() {
    let mut env = Env::new();
    let ck = env.ck();
    write_private(
        &ck.join("vault.json"),
        r#"{"version":1,"backend":"keychain","created":0,"id":"0123456789abcdef0123456789abcdef"}"#,
    );
    write_private(
        &ck.join("index.json"),
        &serde_json::json!({"version":1,"secrets":{ID:{"store":"keychain","created":0,"updated":0}}}).to_string(),
    );
    let bus = env.dir.path().join("bus.sock");
    silent_bus(&bus);
    env.extra_env.push(("DBUS_SESSION_BUS_ADDRESS".into(), format!("unix:path={}", bus.display())));
    let socket = env.dir.path().join("run").join("agent.sock");
    let log = env.dir.path().join("serve.log");
    let mut c = env.cmd(&["serve"]);
    c.env("CLAWKEEP_SOCKET", &socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let svc = Serve(c.spawn().unwrap());
    let pid = svc.0.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(std::fs::read_to_string(&log).unwrap_or_default().contains("listening on")
        && UnixStream::connect(&socket).is_ok())
    {
        assert!(Instant::now() < deadline, "service did not start: {}", std::fs::read_to_string(&log).unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }

    let t = Instant::now();
    let r = get(&socket);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(r["errors"][ID]["code"], "UNAVAILABLE", "{r}");
    let (threads, fds) = (count(format!("/proc/{pid}/task")), count(format!("/proc/{pid}/fd")));
    for i in 2..=10 {
        let t = Instant::now();
        let r = get(&socket);
        assert!(t.elapsed() < Duration::from_millis(500), "request {i} waited {:?}", t.elapsed());
        assert_eq!(r["errors"][ID]["code"], "UNAVAILABLE", "{r}");
    }
    let (threads_after, fds_after) = (count(format!("/proc/{pid}/task")), count(format!("/proc/{pid}/fd")));
    assert!(threads_after <= threads + 2, "threads {threads} -> {threads_after}");
    assert!(fds_after <= fds + 2, "fds {fds} -> {fds_after}");
}
