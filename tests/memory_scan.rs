//! The attacker's memory scan from issue 7, from outside: as root, read the running service's memory through
//! `/proc/<pid>/mem` and look for key material in every anonymous read-write mapping.
//!
//! Looked for: the vault identity (every 8-byte-aligned 32-byte window tried as an X25519 scalar against the public
//! recipient in `identity.json`, and its exact bytes at any offset), the argon2id-derived wrap key, the age file key
//! and payload key of the secret handed out (exact bytes, and every window tried as the ChaCha20-Poly1305 payload key
//! of its `.age` file) and the secret value itself. The test recomputes all of them from the passphrase and the files,
//! independently of clawkeep's code. While unlocked, the identity must be found (the scan works) and only on locked
//! pages; after `lock` and after TTL expiry nothing may be found.
//!
//! Needs root with CAP_SYS_PTRACE (the service is not dumpable). Skipped loudly otherwise, except in CI
//! (`CI=true` or `CLAWKEEP_REQUIRE_REAL_KEYCHAIN=1`), where it fails instead.
#![allow(clippy::disallowed_methods)] // tests read their fixtures directly

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use common::service::Service;
use common::{Env, PASSPHRASE};
use serde_json::{Value, json};

const KEY: &str = "sk-ant-api03-MEMSCAN-canary-key-0123456789abcdefghijklmnop";

/// Whether this run must not skip.
fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true") || common::require_real()
}

/// Root with CAP_SYS_PTRACE, or why not.
fn can_read_other_memory() -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim).unwrap_or("");
    let euid = field("Uid:").split_whitespace().nth(1).unwrap_or("");
    if euid != "0" {
        return Err(format!("not root (euid {euid})"));
    }
    let caps = u64::from_str_radix(field("CapEff:"), 16).unwrap_or(0);
    if caps & (1 << 19) == 0 {
        return Err("no CAP_SYS_PTRACE (needed to read a non-dumpable process's memory)".into());
    }
    Ok(())
}

/// Run only where the scan is possible; say so loudly otherwise (and fail in CI).
fn scan_possible(test: &str) -> bool {
    match can_read_other_memory() {
        Ok(()) => true,
        Err(why) if required() => panic!("{test}: {why}; CI must run the memory scan as root"),
        Err(why) => {
            eprintln!("SKIPPED {test}: {why}; run the tests as root to scan the service's memory");
            false
        }
    }
}

/// Everything an attacker would look for, recomputed from the passphrase and the vault's files.
struct Keys {
    /// The recipient's public key (`recipient` in identity.json).
    public: [u8; 32],
    /// The vault identity's secret scalar (unclamped, as stored).
    identity: [u8; 32],
    /// The identity as age writes it (`AGE-SECRET-KEY-1…`).
    identity_text: String,
    /// argon2id(passphrase, salt).
    wrap_key: [u8; 32],
    /// The secret's `.age` file key and payload key.
    file_key: [u8; 16],
    payload_key: [u8; 32],
    /// The `.age` file's first (and last) payload chunk, to try candidate payload keys on.
    first_chunk: Vec<u8>,
}

fn bech32_bytes(s: &str) -> [u8; 32] {
    let (_, data) = bech32::decode(s).unwrap();
    data.try_into().unwrap()
}

fn keys(env: &Env, age_file: &Path) -> Keys {
    let id: Value = common::json(&env.ck().join("identity.json"));
    let kdf = &id["kdf"];
    let salt = base64::engine::general_purpose::STANDARD.decode(kdf["salt"].as_str().unwrap()).unwrap();
    let params = argon2::Params::new(
        kdf["memoryKib"].as_u64().unwrap() as u32,
        kdf["iterations"].as_u64().unwrap() as u32,
        kdf["parallelism"].as_u64().unwrap() as u32,
        Some(32),
    )
    .unwrap();
    let mut wrap_key = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(PASSPHRASE.as_bytes(), &salt, &mut wrap_key)
        .unwrap();
    // The wrapped identity is an age file to the wrap key used as an X25519 identity.
    let hrp = bech32::Hrp::parse("age-secret-key-").unwrap();
    let wrap_id = bech32::encode::<bech32::Bech32>(hrp, &wrap_key).unwrap().to_ascii_uppercase();
    let wrap_id = age::x25519::Identity::from_str(&wrap_id).unwrap();
    let reader = age::armor::ArmoredReader::new(id["wrapped"].as_str().unwrap().as_bytes());
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut age::Decryptor::new(reader).unwrap().decrypt(std::iter::once(&wrap_id as &dyn age::Identity)).unwrap(),
        &mut text,
    )
    .unwrap();
    let identity = bech32_bytes(text.trim());
    let identity_text = text.trim().to_string();
    let public = bech32_bytes(id["recipient"].as_str().unwrap());
    assert_eq!(x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(identity)).to_bytes(), public);

    // age's X25519 stanza → file key → payload key (age-encryption.org/v1).
    let file = std::fs::read(age_file).unwrap();
    let text_end = file.windows(4).position(|w| w == b"--- ").unwrap();
    let header = std::str::from_utf8(&file[..text_end]).unwrap();
    let mut lines = header.lines().skip_while(|l| !l.starts_with("-> X25519 "));
    let epk = lines.next().unwrap().strip_prefix("-> X25519 ").unwrap();
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let epk: [u8; 32] = b64.decode(epk).unwrap().try_into().unwrap();
    let body = b64.decode(lines.next().unwrap()).unwrap();
    let shared = x25519_dalek::StaticSecret::from(identity).diffie_hellman(&x25519_dalek::PublicKey::from(epk));
    let mut salt = epk.to_vec();
    salt.extend_from_slice(&public);
    let mut wrap = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(&salt), shared.as_bytes())
        .expand(b"age-encryption.org/v1/X25519", &mut wrap)
        .unwrap();
    let zero_nonce = [0u8; 12];
    let file_key: [u8; 16] = chacha20poly1305::ChaCha20Poly1305::new(&wrap.into())
        .decrypt(&zero_nonce.into(), body.as_slice())
        .unwrap()
        .try_into()
        .unwrap();
    let mac_line_end = text_end + file[text_end..].iter().position(|b| *b == b'\n').unwrap() + 1;
    let nonce = &file[mac_line_end..mac_line_end + 16];
    let mut payload_key = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(nonce), &file_key).expand(b"payload", &mut payload_key).unwrap();
    let first_chunk = file[mac_line_end + 16..].to_vec();
    let k = Keys { public, identity, identity_text, wrap_key, file_key, payload_key, first_chunk };
    assert!(k.opens_payload(&payload_key), "the recomputed payload key must open the file (checks the scanner)");
    k
}

impl Keys {
    /// Whether `candidate` is the payload key of the `.age` file (it authenticates its first and last chunk).
    fn opens_payload(&self, candidate: &[u8; 32]) -> bool {
        let mut nonce = [0u8; 12];
        nonce[11] = 1;
        chacha20poly1305::ChaCha20Poly1305::new(candidate.into())
            .decrypt(&nonce.into(), self.first_chunk.as_slice())
            .is_ok()
    }
}

/// One private writable mapping: where, whether the kernel keeps all of it locked in RAM, its bytes.
struct Mapping {
    start: u64,
    locked: bool,
    bytes: Vec<u8>,
}

/// Every writable mapping of `pid` (heap, stacks, anonymous maps, the writable data of the binary and its libraries),
/// read through /proc/<pid>/mem. Read-only mappings (code, constants) cannot hold what the process computed.
fn read_memory(pid: u32) -> Vec<Mapping> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut out = Vec::new();
    let mut current: Option<(u64, u64, bool)> = None;
    let finish = |m: Option<(u64, u64, bool)>, locked: bool, out: &mut Vec<Mapping>| {
        if let Some((start, end, true)) = m {
            let mut bytes = vec![0u8; (end - start) as usize];
            if mem.read_exact_at(&mut bytes, start).is_ok() {
                out.push(Mapping { start, locked, bytes });
            }
        }
    };
    let mut locked = false;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            finish(current.take(), locked, &mut out);
            let f: Vec<&str> = line.split_whitespace().collect();
            let (s, e) = f[0].split_once('-').unwrap();
            let (s, e) = (u64::from_str_radix(s, 16).unwrap(), u64::from_str_radix(e, 16).unwrap());
            let wanted = f[1].starts_with("rw") && !f.get(5).is_some_and(|p| p.starts_with("[v"));
            current = Some((s, e, wanted));
            locked = false;
        } else if let Some(kb) = line.strip_prefix("Locked:") {
            let kb: u64 = kb.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
            locked = current.is_some_and(|(s, e, _)| kb * 1024 == e - s && kb > 0);
        }
    }
    finish(current.take(), locked, &mut out);
    out
}

/// Whether a window looks like key material at all (random bytes have ~30 distinct values in 32).
fn random_looking(w: &[u8]) -> bool {
    let mut seen = [false; 256];
    let mut n = 0;
    for b in w {
        if !seen[*b as usize] {
            seen[*b as usize] = true;
            n += 1;
        }
    }
    n >= 16
}

/// Where one thing was found: addresses, and those of them on fully locked mappings.
#[derive(Debug, Default)]
struct Hits {
    at: BTreeSet<u64>,
    locked: BTreeSet<u64>,
}

impl Hits {
    fn add(&mut self, addr: u64, locked: bool) {
        self.at.insert(addr);
        if locked {
            self.locked.insert(addr);
        }
    }
    fn n(&self) -> usize {
        self.at.len()
    }
    /// Copies outside locked memory.
    fn unlocked(&self) -> usize {
        self.at.len() - self.locked.len()
    }
    /// A table cell: the count, and how many are on locked pages.
    fn cell(&self) -> String {
        match (self.n(), self.locked.len()) {
            (0, _) => "0".into(),
            (n, l) if l == n => format!("{n} (locked)"),
            (n, 0) => n.to_string(),
            (n, l) => format!("{n} ({l} locked)"),
        }
    }
}

/// What one scan found. A copy is counted once per address, whichever way it was found.
#[derive(Debug, Default)]
struct Found {
    /// The handed-out secret value, exact bytes.
    secret: Hits,
    /// The vault passphrase, exact bytes.
    passphrase: Hits,
    /// The identity as age's `AGE-SECRET-KEY-1…` text, either case.
    identity_text: Hits,
    /// The identity's 32 bytes: exact (as stored or clamped), or any aligned window that is it as an X25519 scalar.
    identity: Hits,
    /// argon2id(passphrase, salt), the key that unwraps the identity.
    wrap_key: Hits,
    /// The `.age` file key of the handed-out secret.
    file_key: Hits,
    /// Its payload key: exact bytes, or any aligned window that opens the `.age` file's payload.
    payload_key: Hits,
    /// Windows the key searches recognised (included above).
    identity_windows: usize,
    payload_windows: usize,
    /// How much was looked at.
    bytes_scanned: usize,
    windows_tried: usize,
}

impl Found {
    fn key_material(&self) -> [(&'static str, &Hits); 5] {
        [
            ("identity text", &self.identity_text),
            ("identity", &self.identity),
            ("wrap key", &self.wrap_key),
            ("file key", &self.file_key),
            ("payload key", &self.payload_key),
        ]
    }
}

fn scan(pid: u32, k: &Keys) -> Found {
    let mut f = Found::default();
    let mut clamped = k.identity;
    clamped[0] &= 248;
    clamped[31] &= 127;
    clamped[31] |= 64;
    let lower = k.identity_text.to_ascii_lowercase();
    // Exact needles, found in one pass per mapping: the needle, and which field counts it.
    type Field = fn(&mut Found) -> &mut Hits;
    let needles: Vec<(&[u8], Field)> = vec![
        (KEY.as_bytes(), |f| &mut f.secret),
        (PASSPHRASE.as_bytes(), |f| &mut f.passphrase),
        (k.identity_text.as_bytes(), |f| &mut f.identity_text),
        (lower.as_bytes(), |f| &mut f.identity_text),
        (&k.identity, |f| &mut f.identity),
        (&clamped, |f| &mut f.identity),
        (&k.wrap_key, |f| &mut f.wrap_key),
        (&k.file_key, |f| &mut f.file_key),
        (&k.payload_key, |f| &mut f.payload_key),
    ];
    let mut first = [false; 256];
    for (n, _) in &needles {
        first[n[0] as usize] = true;
    }
    for m in read_memory(pid) {
        f.bytes_scanned += m.bytes.len();
        for (i, b) in m.bytes.iter().enumerate() {
            if !first[*b as usize] {
                continue;
            }
            for (n, field) in &needles {
                if m.bytes[i..].starts_with(n) {
                    field(&mut f).add(m.start + i as u64, m.locked);
                }
            }
        }
        for off in (0..m.bytes.len().saturating_sub(31)).step_by(8) {
            let w: &[u8; 32] = m.bytes[off..off + 32].try_into().unwrap();
            if !random_looking(w) {
                continue;
            }
            f.windows_tried += 1;
            let addr = m.start + off as u64;
            let public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*w));
            if public.to_bytes() == k.public {
                f.identity.add(addr, m.locked);
                f.identity_windows += 1;
            }
            if k.opens_payload(w) {
                f.payload_key.add(addr, m.locked);
                f.payload_windows += 1;
            }
        }
    }
    f
}

fn assert_clean(f: &Found, when: &str) {
    assert!(f.bytes_scanned > 1 << 20, "{when}: read too little memory to mean anything: {f:?}");
    for (what, h) in f.key_material().into_iter().chain([("secret", &f.secret), ("passphrase", &f.passphrase)]) {
        assert_eq!(h.n(), 0, "{when}: the {what} is still in the service's memory: {f:?}");
    }
}

/// While unlocked: the scan finds the identity (it works), only on locked pages, and no other key material.
fn assert_unlocked(f: &Found, when: &str) {
    assert!(f.identity_windows > 0, "{when}: the scan must find the identity while unlocked: {f:?}");
    assert_eq!(f.identity.unlocked(), 0, "{when}: while unlocked the identity may live only on locked pages: {f:?}");
    assert_eq!(f.identity.n(), f.identity_windows, "{when}: no other copy of the identity: {f:?}");
    for (what, h) in [
        ("identity text", &f.identity_text),
        ("wrap key", &f.wrap_key),
        ("file key", &f.file_key),
        ("payload key", &f.payload_key),
        ("passphrase", &f.passphrase),
    ] {
        assert_eq!(h.n(), 0, "{when}: no copy of the {what}: {f:?}");
    }
}

/// A file-store vault holding KEY, and the keys to look for.
fn vault_with_key() -> (Env, Keys) {
    let env = Env::new();
    env.init_file();
    let o = env.run(&["models", "auth", "add", "--provider", "anthropic"], KEY);
    assert_eq!(o.code, 0, "{o:?}");
    let age_file = std::fs::read_dir(env.ck().join("secrets")).unwrap().next().unwrap().unwrap().path();
    let k = keys(&env, &age_file);
    (env, k)
}

fn get_request() -> Value {
    json!({"v":1,"op":"get","ids":["main/anthropic:default"]})
}

fn hand_out(svc: &Service, n: usize) {
    for _ in 0..n {
        let r = svc.call(get_request());
        assert_eq!(r["values"]["main/anthropic:default"], KEY, "{r}");
    }
}

fn wait_for_ttl(svc: &Service) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !svc.log_text().contains("TTL reached") {
        assert!(Instant::now() < deadline, "the TTL did not expire: {}", svc.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn lock_and_ttl_expiry_leave_no_key_material_in_the_service() {
    if !scan_possible("lock_and_ttl_expiry_leave_no_key_material_in_the_service") {
        return;
    }
    let (env, k) = vault_with_key();
    let svc = Service::start(&env, &["--unlock"]);
    let hand_outs = |svc: &Service| {
        hand_out(svc, 3);
        let r = svc.call(json!({"v":1,"op":"select","provider":"anthropic"}));
        assert_eq!(r["secret"], KEY, "{r}");
        let req = json!({"protocolVersion":1,"provider":"clawkeep","ids":["main/anthropic:default"]}).to_string();
        let o = svc.ck(&env, &["resolve"], &req);
        assert_eq!(o.code, 0, "{o:?}");
        assert!(o.stdout.contains(KEY), "resolve went through the service: {o:?}");
    };
    // Positive control: while unlocked the scan finds the identity, and only on locked pages.
    let unlocked_scan = |svc: &Service, when: &str| {
        let f = scan(svc.pid(), &k);
        eprintln!("{when}: {f:?}");
        assert_unlocked(&f, when);
    };
    let lock_and_scan = |svc: &Service, when: &str| {
        let o = svc.ck(&env, &["lock"], "");
        assert_eq!(o.code, 0, "{o:?}");
        assert!(!svc.unlocked());
        let f = scan(svc.pid(), &k);
        eprintln!("{when}: {f:?}");
        assert_clean(&f, when);
    };

    // 1. `serve --unlock`, then `lock` at once.
    unlocked_scan(&svc, "after serve --unlock");
    lock_and_scan(&svc, "after serve --unlock and lock");

    // 2. `clawkeep unlock`, hand-outs, `lock`.
    let o = svc.ck(&env, &["unlock"], "");
    assert_eq!(o.code, 0, "{o:?}");
    hand_outs(&svc);
    unlocked_scan(&svc, "unlocked, after hand-outs");
    lock_and_scan(&svc, "after hand-outs and lock");

    // Unlock again for 2 s, hand out, and let the TTL expire.
    let o = svc.ck(&env, &["unlock", "--ttl", "2s"], "");
    assert_eq!(o.code, 0, "{o:?}");
    hand_outs(&svc);
    wait_for_ttl(&svc);
    let f = scan(svc.pid(), &k);
    eprintln!("after TTL expiry: {f:?}");
    assert_clean(&f, "after TTL expiry");
}

// ---- The report: the same scan, per process and stage, as a table for docs/benchmarks.md.

/// One row of the report.
struct Row {
    process: &'static str,
    stage: String,
    found: Found,
}

/// Make a pipe's buffer full, so the next write(2) to it blocks; returns how many bytes it took.
fn fill(pipe: &std::io::PipeWriter) -> usize {
    use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
    let flags = fcntl_getfl(pipe).unwrap();
    fcntl_setfl(pipe, flags | OFlags::NONBLOCK).unwrap();
    let mut n = 0;
    loop {
        match (&*pipe).write(&[b'.'; 4096]) {
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the pipe: {e}"),
        }
    }
    fcntl_setfl(pipe, flags).unwrap();
    n
}

/// Whether `pid`'s main thread is blocked in write(2) on a pipe.
fn blocked_writing(pid: u32) -> bool {
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    wchan.ends_with("pipe_write") || (cfg!(target_arch = "x86_64") && syscall.starts_with("1 0x1 "))
}

fn state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next()).unwrap_or('?')
}

fn kill(sig: &str, pid: u32) {
    assert!(Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
}

/// Run a clawkeep command whose stdout is a pipe that is already full, so it stops in the write(2) of its answer:
/// it has received (or decrypted) the secret and built its answer, and has not yet handed it over or exited. Then
/// freeze it (SIGSTOP), scan it, let it go, and check that the answer it was holding was the secret.
fn scan_paused_client(env: &Env, mut c: Command, stdin: &str, k: &Keys) -> Found {
    let (mut reader, writer) = std::io::pipe().unwrap();
    let filled = fill(&writer);
    let err = env.dir.path().join("client.err");
    c.stdin(Stdio::piped()).stdout(writer).stderr(std::fs::File::create(&err).unwrap());
    let mut child: Child = c.spawn().unwrap();
    drop(c); // our copy of the pipe's write end: EOF comes when the client exits
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !blocked_writing(pid) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the client ended ({status}) before writing: {}", std::fs::read_to_string(&err).unwrap());
        }
        assert!(Instant::now() < deadline, "the client never blocked writing its answer");
        std::thread::sleep(Duration::from_millis(5));
    }
    kill("-STOP", pid);
    while state(pid) != 'T' {
        std::thread::sleep(Duration::from_millis(5));
    }
    let f = scan(pid, k);
    kill("-CONT", pid);
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    let status = child.wait().unwrap();
    let stdout = String::from_utf8_lossy(&out[filled..]);
    assert!(status.success() && stdout.contains(KEY), "{status}: {}", std::fs::read_to_string(&err).unwrap());
    f
}

fn markdown(rows: &[Row]) -> String {
    let mut t = String::from(
        "| process | stage | secret | passphrase | identity (text) | identity (32 bytes) | wrap key | file key | payload key |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let f = &r.found;
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.process,
            r.stage,
            f.secret.cell(),
            f.passphrase.cell(),
            f.identity_text.cell(),
            f.identity.cell(),
            f.wrap_key.cell(),
            f.file_key.cell(),
            f.payload_key.cell()
        ));
    }
    t
}

fn report_path() -> std::path::PathBuf {
    match std::env::var_os("CLAWKEEP_MEMORY_REPORT") {
        Some(p) => p.into(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("memory-report.md"),
    }
}

/// Copies of the secret, the passphrase, the identity and the payload keys in the service at each stage and in paused
/// `resolve`/`get` processes, written as a markdown table to `$CLAWKEEP_MEMORY_REPORT` (default
/// `target/memory-report.md`; `scripts/memory-report` puts it into docs/benchmarks.md). It asserts what SECURITY.md
/// promises and writes the table only when every promise held.
#[test]
fn memory_report() {
    if !scan_possible("memory_report") {
        return;
    }
    let (env, k) = vault_with_key();
    let svc = Service::start(&env, &[]);
    let mut rows = Vec::new();
    let service = "`serve`";

    let o = svc.ck(&env, &["unlock"], "");
    assert_eq!(o.code, 0, "{o:?}");
    let f = scan(svc.pid(), &k);
    assert_unlocked(&f, "after unlock");
    rows.push(Row { process: service, stage: "after `clawkeep unlock`".into(), found: f });

    hand_out(&svc, 1000);
    let f = scan(svc.pid(), &k);
    assert_unlocked(&f, "after hand-outs");
    rows.push(Row { process: service, stage: "after 1,000 `get` hand-outs".into(), found: f });

    let req = json!({"protocolVersion":1,"provider":"clawkeep","ids":["main/anthropic:default"]}).to_string();
    let clients: [(&'static str, Command, &str); 3] = [
        ("`resolve` through the service", svc.cmd(&env, &["resolve"]), &req),
        ("`resolve` from the file store", env.cmd(&["resolve"]), &req),
        ("`get` from the file store", env.cmd(&["get", "anthropic:default"]), ""),
    ];
    for (process, c, stdin) in clients {
        let f = scan_paused_client(&env, c, stdin, &k);
        eprintln!("{process}: {f:?}");
        // It holds its answer, once, on its locked output buffer; no key material and no passphrase.
        assert_eq!((f.secret.n(), f.secret.unlocked()), (1, 0), "{process}: one copy of the secret, locked: {f:?}");
        for (what, h) in f.key_material().into_iter().chain([("passphrase", &f.passphrase)]) {
            assert_eq!(h.n(), 0, "{process}: no copy of the {what} once the answer is built: {f:?}");
        }
        rows.push(Row { process, stage: "holding its answer, stopped in the write to stdout".into(), found: f });
    }

    let o = svc.ck(&env, &["lock"], "");
    assert_eq!(o.code, 0, "{o:?}");
    let f = scan(svc.pid(), &k);
    assert_clean(&f, "after lock");
    rows.push(Row { process: service, stage: "after `clawkeep lock`".into(), found: f });

    let o = svc.ck(&env, &["unlock", "--ttl", "5s"], "");
    assert_eq!(o.code, 0, "{o:?}");
    hand_out(&svc, 100);
    wait_for_ttl(&svc);
    let f = scan(svc.pid(), &k);
    assert_clean(&f, "after TTL expiry");
    rows.push(Row { process: service, stage: "after TTL expiry (`unlock --ttl 5s`, 100 hand-outs)".into(), found: f });

    let table = markdown(&rows);
    eprintln!("{table}");
    let path = report_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&path, table).unwrap();
}
