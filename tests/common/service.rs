//! A running `clawkeep serve` on a socket in the test's temp dir, for the tests that drive the service.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Env, Out};

/// A running `clawkeep serve`, killed on drop (`stop` ends it with SIGTERM instead).
pub struct Service {
    child: Option<Child>,
    pub socket: PathBuf,
    pub log: PathBuf,
}

impl Service {
    /// `clawkeep serve ARGS` on `<temp>/run/agent.sock`, its stderr in a log file of its own; returns once it listens.
    pub fn start(env: &Env, args: &[&str]) -> Service {
        let socket = env.dir.path().join("run").join("agent.sock");
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let log = env.dir.path().join(format!("serve-{}-{nanos}.log", std::process::id()));
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        let mut c = env.cmd(&all);
        c.env("CLAWKEEP_SOCKET", &socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let s = Service { child: Some(c.spawn().unwrap()), socket, log };
        s.wait_ready();
        s
    }

    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.log_text().contains("listening on") && UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("service did not start: {}", self.log_text());
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, sig: &str) {
        Command::new("kill").args([&format!("-{sig}"), &self.pid().to_string()]).status().unwrap();
    }

    /// SIGTERM, then wait for the exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        self.child.take().unwrap().wait().unwrap()
    }

    /// One request on a fresh connection; its one-line answer.
    pub fn call(&self, req: Value) -> Value {
        call_on(&self.socket, req)
    }

    /// The CLI aimed at this service's socket.
    pub fn cmd(&self, env: &Env, args: &[&str]) -> Command {
        let mut c = env.cmd(args);
        c.env("CLAWKEEP_SOCKET", &self.socket);
        c
    }

    /// Run the CLI aimed at this service's socket with `stdin` bytes.
    pub fn ck(&self, env: &Env, args: &[&str], stdin: &str) -> Out {
        super::run_cmd(&mut self.cmd(env, args), stdin)
    }

    pub fn unlocked(&self) -> bool {
        self.call(serde_json::json!({"v":1,"op":"status"}))["status"]["unlocked"] == true
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One request on a fresh connection to `socket`; its one-line answer.
pub fn call_on(socket: &std::path::Path, req: Value) -> Value {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut f = serde_json::to_vec(&req).unwrap();
    f.push(b'\n');
    s.write_all(&f).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line:?}"))
}
