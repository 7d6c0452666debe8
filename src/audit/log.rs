//! The access log's files and its keyed hash chain.
//!
//! Files: `<clawkeep dir>/audit/access-000001.log`, `access-000002.log`, … (one JSON object a line, the highest
//! number is the current file), `audit/key` (32 random bytes, 0600) and `audit/lock`. Each line ends with
//! `"mac":"<hex>"`: HMAC-SHA256, under a key derived from `audit/key`, of the line's bytes without that field, and
//! the line carries `prev`, the previous line's MAC (the first line of a new file names the last MAC of the file
//! before, the very first line 64 zeros) and `seq`, its number in the whole log. So an edited, removed, inserted or
//! reordered line breaks the chain at that line, and a missing file breaks it at the next file's first line.
//! Appends take `audit/lock` (a `flock`), so lines from concurrent processes never interleave or fork the chain.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::peer::Who;
use crate::error::{Error, Result};
use crate::fs::{AppendFile, VaultLock};

type HmacSha256 = Hmac<Sha256>;

/// `prev` of the very first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Default size at which a new file is started.
pub const DEFAULT_MAX_FILE: u64 = 8 * 1024 * 1024;
/// Longest line read back (lines written are a few KiB at most: command lines are cut).
pub const MAX_LINE: usize = 64 * 1024;
/// `,"mac":"` + 64 hex + `"}`.
const MAC_SUFFIX: usize = 8 + 64 + 2;

/// The log's files.
#[derive(Debug, Clone)]
pub struct LogFiles {
    /// `<clawkeep dir>/audit`.
    pub dir: PathBuf,
    /// `audit/key`.
    pub key: PathBuf,
    /// `audit/lock`.
    pub lock: PathBuf,
}

impl LogFiles {
    /// The layout under a clawkeep dir.
    pub fn new(clawkeep_dir: &Path) -> LogFiles {
        let dir = clawkeep_dir.join("audit");
        LogFiles { key: dir.join("key"), lock: dir.join("lock"), dir }
    }

    /// Path of file number `n`.
    pub fn file(&self, n: u32) -> PathBuf {
        self.dir.join(format!("access-{n:06}.log"))
    }

    /// Numbers of the log files present, ascending.
    pub fn numbers(&self) -> Result<Vec<u32>> {
        let mut out: Vec<u32> = crate::fs::list_names(&self.dir)?
            .iter()
            .filter_map(|name| {
                name.strip_prefix("access-")
                    .and_then(|s| s.strip_suffix(".log"))
                    .filter(|s| s.len() == 6)
                    .and_then(|s| s.parse::<u32>().ok())
            })
            .collect();
        out.sort_unstable();
        Ok(out)
    }
}

/// The per-vault keys: one for the chain, one for fingerprints of values, both derived from `audit/key`.
pub struct Keys {
    chain: Zeroizing<[u8; 32]>,
    fingerprint: Zeroizing<[u8; 32]>,
}

impl Keys {
    fn derive(root: &[u8; 32]) -> Keys {
        let sub = |label: &[u8]| {
            let mut m = HmacSha256::new_from_slice(root).expect("any key length");
            m.update(label);
            Zeroizing::new(<[u8; 32]>::from(m.finalize().into_bytes()))
        };
        Keys { chain: sub(b"clawkeep audit chain v1"), fingerprint: sub(b"clawkeep value fingerprint v1") }
    }

    /// The MAC of a line's body.
    pub fn mac(&self, body: &[u8]) -> String {
        let mut m = HmacSha256::new_from_slice(&*self.chain).expect("any key length");
        m.update(body);
        hex(&m.finalize().into_bytes())
    }

    /// The keyed fingerprint of a value: the first 16 bytes of HMAC-SHA256 under the vault's fingerprint key, in
    /// hex. The same value gives the same fingerprint in this vault only; without the key it says nothing.
    pub fn fingerprint(&self, value: &[u8]) -> String {
        let mut m = HmacSha256::new_from_slice(&*self.fingerprint).expect("any key length");
        m.update(value);
        hex(&m.finalize().into_bytes()[..16])
    }
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    b.iter().fold(String::with_capacity(b.len() * 2), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

/// Keys already read, per log dir (the service reads its key once).
type KeyCache = Mutex<Vec<(PathBuf, Arc<Keys>)>>;

fn cache() -> &'static KeyCache {
    static CACHE: OnceLock<KeyCache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The keys of this log; `None` when there is no key yet.
pub fn read_keys(files: &LogFiles) -> Result<Option<Arc<Keys>>> {
    if let Some((_, k)) = cache().lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(d, _)| *d == files.dir) {
        return Ok(Some(k.clone()));
    }
    let Some(raw) = crate::fs::read_private(&files.key)? else { return Ok(None) };
    let root: [u8; 32] = raw.as_slice().try_into().map_err(|_| Error::Corrupt {
        path: files.key.clone(),
        what: "the access log's key (it must be 32 bytes)".into(),
    })?;
    let keys = Arc::new(Keys::derive(&Zeroizing::new(root)));
    cache().lock().unwrap_or_else(|e| e.into_inner()).push((files.dir.clone(), keys.clone()));
    Ok(Some(keys))
}

/// The keys, creating the key (under the log's lock) when there is none.
pub fn keys(files: &LogFiles) -> Result<Arc<Keys>> {
    if let Some(k) = read_keys(files)? {
        return Ok(k);
    }
    crate::fs::ensure_private_dir(&files.dir)?;
    let _lock = VaultLock::acquire_blocking(&files.lock)?;
    if let Some(k) = read_keys(files)? {
        return Ok(k);
    }
    let mut root = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *root).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    crate::fs::write_atomic(&files.key, &*root)?;
    read_keys(files)?.ok_or_else(|| Error::Internal("the access log's key vanished".into()))
}

/// One line of the log. Fields in the order written; `mac` is appended after them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Line {
    /// Line number in the whole log, from 1.
    pub seq: u64,
    /// RFC 3339 UTC, milliseconds.
    pub time: String,
    /// What was done: `get`, `select`, `resolve`, `exec`, `export`, `probe`, `add`, `remove`, ….
    pub op: String,
    /// `service` when the vault service answered, `cli` for a command.
    pub via: String,
    /// Agent id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub agent: Option<String>,
    /// Profile id (or the secret id as asked, when it is profile-shaped).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub profile: Option<String>,
    /// `ok`, or the refusal's code (`LOCKED`, `NOT_FOUND`, …).
    pub outcome: String,
    /// Keyed fingerprint of the value handed out or stored (never the value, never an unkeyed hash).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fp: Option<String>,
    /// Who asked.
    pub who: Who,
    /// The previous line's MAC.
    pub prev: String,
}

/// A line as read back, with its MAC.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    /// The line.
    #[serde(flatten)]
    pub line: Line,
    /// Its MAC.
    pub mac: String,
}

/// What to write: everything of a [`Line`] but its place in the chain.
#[derive(Debug, Clone)]
pub struct Entry {
    /// See [`Line::op`].
    pub op: String,
    /// See [`Line::via`].
    pub via: &'static str,
    /// See [`Line::agent`].
    pub agent: Option<String>,
    /// See [`Line::profile`].
    pub profile: Option<String>,
    /// See [`Line::outcome`].
    pub outcome: String,
    /// See [`Line::fp`].
    pub fp: Option<String>,
}

/// Serialize `line` and append its MAC: the bytes written (with the newline).
pub fn seal(keys: &Keys, line: &Line) -> Result<Vec<u8>> {
    let mut body = serde_json::to_vec(line).map_err(|e| Error::Internal(e.to_string()))?;
    let mac = keys.mac(&body);
    body.pop(); // `}`
    body.extend_from_slice(format!(",\"mac\":\"{mac}\"}}\n").as_bytes());
    Ok(body)
}

/// Check one line's own MAC (not its place in the chain): the parsed line, or why not.
pub fn unseal(keys: &Keys, raw: &[u8]) -> std::result::Result<Stored, String> {
    let stored: Stored = serde_json::from_slice(raw).map_err(|e| format!("not a log line ({e})"))?;
    if raw.len() < MAC_SUFFIX || !raw.starts_with(b"{") {
        return Err("not a log line".into());
    }
    let (head, tail) = raw.split_at(raw.len() - MAC_SUFFIX);
    if tail != format!(",\"mac\":\"{}\"}}", stored.mac).as_bytes() {
        return Err("`mac` is not the last field".into());
    }
    let mut body = head.to_vec();
    body.push(b'}');
    if keys.mac(&body) != stored.mac {
        return Err("its MAC does not match its content (the line was edited, or written under another key)".into());
    }
    Ok(stored)
}

/// Where the chain ends: the last line's number and MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// `seq` of the last line (0 for an empty log).
    pub seq: u64,
    /// Its MAC ([`GENESIS`] for an empty log).
    pub mac: String,
}

/// The head from the last line of the newest non-empty file. A damaged last line restarts the chain from
/// [`GENESIS`] (so logging goes on; `--verify` reports the damaged line).
fn head(files: &LogFiles, keys: &Keys, numbers: &[u32]) -> Result<Head> {
    for n in numbers.iter().rev() {
        let path = files.file(*n);
        // Lines are a few KiB at most: 8 KiB hold the last one whole almost always; else read up to MAX_LINE.
        let Some(mut tail) = crate::fs::read_tail(&path, 8192)? else { continue };
        if tail.len() == 8192 && !tail[..tail.len() - 1].contains(&b'\n') {
            tail = crate::fs::read_tail(&path, MAX_LINE as u64 + 1)?.unwrap_or_default();
        }
        let Some(body) = tail.strip_suffix(b"\n") else {
            if tail.is_empty() {
                continue;
            }
            return Ok(Head { seq: 0, mac: GENESIS.into() });
        };
        let last = body.rsplit(|b| *b == b'\n').next().unwrap_or(body);
        return Ok(match unseal(keys, last) {
            Ok(s) => Head { seq: s.line.seq, mac: s.mac },
            Err(_) => Head { seq: 0, mac: GENESIS.into() },
        });
    }
    Ok(Head { seq: 0, mac: GENESIS.into() })
}

/// Append `entries` for `who` as consecutive lines, under the log's lock; start a new file first when the current
/// one would grow past `max_file`.
pub fn append(files: &LogFiles, entries: &[Entry], who: &Who, max_file: u64) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    crate::fs::ensure_private_dir(&files.dir)?;
    let keys = keys(files)?;
    let _lock = VaultLock::acquire_blocking(&files.lock)?;
    let numbers = files.numbers()?;
    let mut n = numbers.last().copied().unwrap_or(1);
    let mut path = files.file(n);
    let mut file = AppendFile::open(&path)?;
    // The head this process wrote last, while the newest file is still as long as it left it (any other writer's
    // line changes the length): no need to read and check the last line again.
    let mut head = match last_written(files, n, file.len()) {
        Some(h) => h,
        None => head(files, &keys, &numbers)?,
    };
    let time = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let mut out = Vec::new();
    for e in entries {
        let line = Line {
            seq: head.seq + 1,
            time: time.clone(),
            op: e.op.clone(),
            via: e.via.into(),
            agent: e.agent.clone(),
            profile: e.profile.clone(),
            outcome: e.outcome.clone(),
            fp: e.fp.clone(),
            who: who.clone(),
            prev: std::mem::take(&mut head.mac),
        };
        let sealed = seal(&keys, &line)?;
        head = Head { seq: line.seq, mac: sealed_mac(&sealed) };
        out.extend_from_slice(&sealed);
    }
    if !file.is_empty() && file.len() + out.len() as u64 > max_file {
        n += 1;
        path = files.file(n);
        file = AppendFile::open(&path)?;
    }
    let written = file.append(&path, &out);
    let mut last = LAST_WRITTEN.lock().unwrap_or_else(|e| e.into_inner());
    *last = match written {
        Ok(()) => Some((files.dir.clone(), n, file.len(), head)),
        Err(_) => None,
    };
    written
}

/// The log dir, file number, that file's length after this process's last append, and the head it wrote.
static LAST_WRITTEN: Mutex<Option<(PathBuf, u32, u64, Head)>> = Mutex::new(None);

fn last_written(files: &LogFiles, n: u32, len: u64) -> Option<Head> {
    match &*LAST_WRITTEN.lock().unwrap_or_else(|e| e.into_inner()) {
        Some((dir, m, l, head)) if *dir == files.dir && *m == n && *l == len && len > 0 => Some(head.clone()),
        _ => None,
    }
}

fn sealed_mac(sealed: &[u8]) -> String {
    let end = sealed.len() - 3; // `"}\n`
    String::from_utf8_lossy(&sealed[end - 64..end]).into_owned()
}

/// The first line that breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The file.
    pub file: PathBuf,
    /// Line number within it, from 1 (0: the file itself is missing).
    pub line: u64,
    /// What is wrong.
    pub why: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.why)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.why)
        }
    }
}

/// What `--verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Lines checked.
    pub lines: u64,
    /// Files checked.
    pub files: u64,
    /// The chain's end.
    pub head: Head,
    /// The first bad line, if any.
    pub broken: Option<Broken>,
}

/// Read one line of at most [`MAX_LINE`] bytes: `Ok(None)` at the end, `Err` for an over-long line.
fn next_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<Option<std::result::Result<(), ()>>> {
    buf.clear();
    let n = r.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > MAX_LINE {
        return Ok(Some(Err(())));
    }
    Ok(Some(Ok(())))
}

/// Check the whole chain, streaming each file (memory stays bounded by [`MAX_LINE`] whatever the log's size).
/// `visit` sees each good line, in order.
pub fn verify(files: &LogFiles, mut visit: impl FnMut(&Stored)) -> Result<Verified> {
    // Which files, and how far into the newest one, are taken under the lock (for a moment): appends finish under
    // it, so the snapshot ends on a line boundary and lines written meanwhile are not half read.
    let (numbers, end_of_last) = {
        let _lock = if files.dir.is_dir() { Some(VaultLock::acquire_blocking(&files.lock)?) } else { None };
        let numbers = files.numbers()?;
        let end = match numbers.last() {
            Some(n) => std::fs::symlink_metadata(files.file(*n)).map(|m| m.len()).unwrap_or(0),
            None => 0,
        };
        (numbers, end)
    };
    let last_number = numbers.last().copied();
    let keys = read_keys(files)?;
    let mut v = Verified { lines: 0, files: 0, head: Head { seq: 0, mac: GENESIS.into() }, broken: None };
    let Some(keys) = keys else {
        if let Some(n) = numbers.first() {
            v.broken = Some(Broken {
                file: files.key.clone(),
                line: 0,
                why: format!("is missing, but {} exists", files.file(*n).display()),
            });
        }
        return Ok(v);
    };
    if numbers.is_empty() {
        v.broken = Some(Broken {
            file: files.file(1),
            line: 0,
            why: "is missing: the key exists, so lines were written and the log was removed".into(),
        });
        return Ok(v);
    }
    let mut buf = Vec::with_capacity(4096);
    for (expect, n) in (1..).zip(numbers) {
        if n != expect {
            v.broken = Some(Broken {
                file: files.file(expect),
                line: 0,
                why: "is missing (a gap in the rotated files)".into(),
            });
            return Ok(v);
        }
        v.files += 1;
        let path = files.file(n);
        let Some((file, _)) = crate::fs::open_checked(&path, true)? else {
            v.broken = Some(Broken { file: path, line: 0, why: "vanished while it was being read".into() });
            return Ok(v);
        };
        let limit = if Some(n) == last_number { end_of_last } else { u64::MAX };
        let mut r = BufReader::with_capacity(64 * 1024, file.take(limit));
        let mut no = 0u64;
        while let Some(read) = next_line(&mut r, &mut buf).map_err(|e| Error::io(&path, "reading", e))? {
            no += 1;
            let bad = |why: String| Some(Broken { file: path.clone(), line: no, why });
            if read.is_err() {
                v.broken = bad(format!("longer than {MAX_LINE} bytes"));
                return Ok(v);
            }
            let Some(raw) = buf.strip_suffix(b"\n") else {
                v.broken = bad("truncated (no newline at the end)".into());
                return Ok(v);
            };
            let stored = match unseal(&keys, raw) {
                Ok(s) => s,
                Err(why) => {
                    v.broken = bad(why);
                    return Ok(v);
                }
            };
            if stored.line.prev != v.head.mac {
                v.broken = bad(format!(
                    "`prev` does not name the MAC of the line before (seq {}): a line was removed, inserted or moved",
                    v.head.seq
                ));
                return Ok(v);
            }
            if stored.line.seq != v.head.seq + 1 {
                v.broken = bad(format!("seq {} follows seq {}", stored.line.seq, v.head.seq));
                return Ok(v);
            }
            visit(&stored);
            v.lines += 1;
            v.head = Head { seq: stored.line.seq, mac: stored.mac };
        }
    }
    Ok(v)
}

/// The lines of the newest `max_files` files, oldest first, each checked against its own MAC only (not the chain):
/// for `models status`, which must stay quick however long the log is. Lines that fail are skipped.
pub fn recent(files: &LogFiles, max_files: usize, mut visit: impl FnMut(&Stored)) -> Result<()> {
    let Some(keys) = read_keys(files)? else { return Ok(()) };
    let numbers = files.numbers()?;
    let mut buf = Vec::with_capacity(4096);
    for n in &numbers[numbers.len().saturating_sub(max_files)..] {
        let path = files.file(*n);
        let Some((file, _)) = crate::fs::open_checked(&path, true)? else { continue };
        let mut r = BufReader::with_capacity(64 * 1024, file);
        while let Some(read) = next_line(&mut r, &mut buf).map_err(|e| Error::io(&path, "reading", e))? {
            if let (Ok(()), Some(raw)) = (read, buf.strip_suffix(b"\n"))
                && let Ok(stored) = unseal(&keys, raw)
            {
                visit(&stored);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(op: &str) -> Entry {
        Entry {
            op: op.into(),
            via: "cli",
            agent: Some("main".into()),
            profile: Some("anthropic:default".into()),
            outcome: "ok".into(),
            fp: None,
        }
    }

    #[test]
    fn verify_streams_a_log_larger_than_any_buffer() {
        let d = tempfile::tempdir().unwrap();
        let files = LogFiles::new(d.path());
        let who = Who::default();
        // 40 batches of 500 lines, ~6 MB across several files of at most 1 MB.
        let batch: Vec<Entry> = (0..500).map(|i| entry(&format!("op{i}"))).collect();
        for _ in 0..40 {
            append(&files, &batch, &who, 1024 * 1024).unwrap();
        }
        let numbers = files.numbers().unwrap();
        assert!(numbers.len() >= 5, "{numbers:?}");
        let mut seen = 0u64;
        let v = verify(&files, |_| seen += 1).unwrap();
        assert_eq!(v.broken, None);
        assert_eq!((v.lines, seen, v.head.seq), (20_000, 20_000, 20_000));
        // The reader holds one line at a time: its buffer never grew past the longest line.
        let mut r = BufReader::new(crate::fs::open_checked(&files.file(1), true).unwrap().unwrap().0);
        let mut buf = Vec::new();
        let mut longest = 0;
        while let Some(Ok(())) = next_line(&mut r, &mut buf).unwrap() {
            longest = longest.max(buf.len());
        }
        assert!(buf.capacity() < 4 * longest.max(1024), "{} vs {longest}", buf.capacity());
    }

    #[test]
    fn an_over_long_line_is_reported_not_read_whole() {
        let mut r = std::io::Cursor::new(vec![b'x'; MAX_LINE * 3]);
        let mut buf = Vec::new();
        assert_eq!(next_line(&mut r, &mut buf).unwrap(), Some(Err(())));
        assert!(buf.len() <= MAX_LINE + 1);
    }

    #[test]
    fn fingerprints_are_keyed_per_vault() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let ka = keys(&LogFiles::new(a.path())).unwrap();
        let kb = keys(&LogFiles::new(b.path())).unwrap();
        assert_eq!(ka.fingerprint(b"sk-ant-api03-x"), ka.fingerprint(b"sk-ant-api03-x"));
        assert_ne!(ka.fingerprint(b"sk-ant-api03-x"), kb.fingerprint(b"sk-ant-api03-x"));
        assert_eq!(ka.fingerprint(b"x").len(), 32);
    }
}
