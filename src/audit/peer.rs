//! Who asked: a process's uid, pid, executable and command line (from `/proc`), and its parent's when the asker is
//! a `clawkeep` process (so a `clawkeep resolve` run by OpenClaw names the gateway, not just clawkeep).
//!
//! Command lines are cut to a few hundred characters, and arguments that look like credentials (a known key prefix,
//! the value of a `--token`/`--api-key`/`--password`-like flag, or a long unbroken token) are replaced by
//! `(redacted)`: a secret typed on some command line must not reach the log.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Most characters kept of one argument, and of a whole command line.
const MAX_ARG: usize = 160;
const MAX_CMDLINE: usize = 640;
const MAX_ARGS: usize = 24;

/// One process as `/proc` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Proc {
    /// Process id.
    pub pid: i32,
    /// The executable (`/proc/<pid>/exe`); absent when the kernel does not show it (another user's or a
    /// non-dumpable process, or one that has exited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// The command line, cut and with credential-like arguments redacted.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub cmdline: Vec<String>,
}

/// Who asked for a secret or made a change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Who {
    /// User id.
    pub uid: u32,
    /// The asking process.
    #[serde(flatten)]
    pub proc: Proc,
    /// Its parent, when the asker is a clawkeep process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<Proc>,
}

impl Who {
    /// The peer `pid` of a socket connection (uid from the kernel's peer credentials). Its parent is added when the
    /// peer is a clawkeep process.
    pub fn peer(uid: u32, pid: i32) -> Who {
        let proc = Proc::of(pid);
        let parent = is_clawkeep(pid).then(|| parent_pid(pid)).flatten().map(Proc::of);
        Who { uid, proc, parent }
    }

    /// This process and its parent (a CLI command: the parent is the shell, script or gateway that ran it).
    pub fn this_process() -> Who {
        let pid = std::process::id() as i32;
        let parent = rustix::process::getppid().map(|p| Proc::of(p.as_raw_nonzero().get()));
        Who { uid: crate::fs::euid(), proc: Proc::of(pid), parent }
    }

    /// A short form for text output: the parent's executable (or command) when known, else the asker's.
    pub fn short(&self) -> String {
        let one = |p: &Proc| {
            let name = p.exe.clone().or_else(|| p.cmdline.first().cloned()).unwrap_or_else(|| "?".into());
            format!("{name}[{}]", p.pid)
        };
        match &self.parent {
            Some(parent) => format!("{} via {}", one(parent), one(&self.proc)),
            None => one(&self.proc),
        }
    }
}

impl Proc {
    /// Read `pid`'s executable and command line; what cannot be read stays empty.
    pub fn of(pid: i32) -> Proc {
        if pid <= 0 {
            return Proc { pid, ..Default::default() };
        }
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok().map(|p| clip(&p.to_string_lossy(), MAX_ARG * 2));
        let cmdline = crate::fs::read_proc(Path::new(&format!("/proc/{pid}/cmdline")))
            .map(|s| redact_cmdline(s.split('\0').filter(|a| !a.is_empty())))
            .unwrap_or_default();
        Proc { pid, exe, cmdline }
    }
}

fn is_clawkeep(pid: i32) -> bool {
    crate::fs::read_proc(Path::new(&format!("/proc/{pid}/comm"))).is_some_and(|c| c.trim() == "clawkeep")
}

fn parent_pid(pid: i32) -> Option<i32> {
    let stat = crate::fs::read_proc(Path::new(&format!("/proc/{pid}/stat")))?;
    // `pid (comm) state ppid …`; comm may hold spaces and parentheses, so split after the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok().filter(|p| *p > 0)
}

fn clip(s: &str, max: usize) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(max).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

/// Flags whose value is a credential.
fn secret_flag(name: &str) -> bool {
    let n = name.trim_start_matches('-').to_ascii_lowercase();
    ["token", "key", "secret", "pass", "auth", "credential", "bearer"].iter().any(|w| n.contains(w))
}

/// Whether one argument looks like a credential: a known key prefix, or a long run without separators.
fn looks_secret(arg: &str) -> bool {
    const PREFIXES: [&str; 8] = ["sk-", "sk_", "ghp_", "gho_", "github_pat_", "xox", "AKIA", "Bearer "];
    if PREFIXES.iter().any(|p| arg.starts_with(p)) {
        return true;
    }
    let tokenish = arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_.+=".contains(c));
    tokenish
        && arg.len() >= 24
        && arg.chars().any(|c| c.is_ascii_digit())
        && arg.chars().any(|c| c.is_ascii_alphabetic())
}

/// Cut and redact a command line.
pub fn redact_cmdline<'a>(args: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out = Vec::new();
    let mut total = 0;
    let mut hide_next = false;
    for arg in args.take(MAX_ARGS) {
        let shown = if hide_next || looks_secret(arg) {
            "(redacted)".to_string()
        } else if let Some((flag, value)) = arg.split_once('=')
            && (secret_flag(flag) || looks_secret(value))
        {
            format!("{flag}=(redacted)")
        } else {
            clip(arg, MAX_ARG)
        };
        hide_next = arg.starts_with('-') && !arg.contains('=') && secret_flag(arg);
        total += shown.len();
        if total > MAX_CMDLINE {
            out.push("…".into());
            break;
        }
        out.push(shown);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_like_arguments_are_redacted() {
        let args = [
            "node",
            "/usr/lib/openclaw/gateway.js",
            "--token",
            "abc",
            "--api-key=xyz",
            "sk-ant-api03-AAAA",
            "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA",
            "--port",
            "18789",
        ];
        let out = redact_cmdline(args.into_iter());
        assert_eq!(
            out,
            [
                "node",
                "/usr/lib/openclaw/gateway.js",
                "--token",
                "(redacted)",
                "--api-key=(redacted)",
                "(redacted)",
                "(redacted)",
                "--port",
                "18789"
            ]
        );
        let long = "x".repeat(5000);
        let out = redact_cmdline(std::iter::repeat_n(long.as_str(), 50));
        assert!(out.iter().map(|a| a.len()).sum::<usize>() <= MAX_CMDLINE + 10, "{out:?}");
    }

    #[test]
    fn this_process_names_itself_and_its_parent() {
        let who = Who::this_process();
        assert_eq!(who.proc.pid, std::process::id() as i32);
        assert!(who.proc.exe.is_some());
        assert!(who.parent.is_some_and(|p| p.pid > 0));
    }
}
