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

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
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

/// A running `clawkeep serve`, killed on drop.
struct Service {
    child: Option<Child>,
    socket: PathBuf,
    log: PathBuf,
}

impl Service {
    fn start(env: &Env, args: &[&str]) -> Service {
        let socket = env.dir.path().join("run").join("agent.sock");
        let log = env.dir.path().join("serve.log");
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        let mut c = env.cmd(&all);
        c.env("CLAWKEEP_SOCKET", &socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let s = Service { child: Some(c.spawn().unwrap()), socket, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if s.log_text().contains("listening on") && UnixStream::connect(&s.socket).is_ok() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("service did not start: {}", s.log_text());
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn call(&self, req: Value) -> Value {
        let mut s = UnixStream::connect(&self.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut f = serde_json::to_vec(&req).unwrap();
        f.push(b'\n');
        s.write_all(&f).unwrap();
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line:?}"))
    }

    fn ck(&self, env: &Env, args: &[&str], stdin: &str) -> common::Out {
        let mut c = env.cmd(args);
        c.env("CLAWKEEP_SOCKET", &self.socket);
        common::run_cmd(&mut c, stdin)
    }

    fn unlocked(&self) -> bool {
        self.call(json!({"v":1,"op":"status"}))["status"]["unlocked"] == true
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

/// Everything an attacker would look for, recomputed from the passphrase and the vault's files.
struct Keys {
    /// The recipient's public key (`recipient` in identity.json).
    public: [u8; 32],
    /// The vault identity's secret scalar (unclamped, as stored).
    identity: [u8; 32],
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
    let k = Keys { public, identity, wrap_key, file_key, payload_key, first_chunk };
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

/// One anonymous read-write mapping: where, whether the kernel keeps it locked in RAM, its bytes.
struct Mapping {
    start: u64,
    locked: bool,
    bytes: Vec<u8>,
}

/// Every anonymous read-write mapping of `pid`, read through /proc/<pid>/mem.
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
            let anonymous = f[4] == "0" && f.get(5).is_none_or(|p| p.starts_with('['));
            let wanted = f[1].starts_with("rw") && anonymous && !f.get(5).is_some_and(|p| p.starts_with("[v"));
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

#[derive(Debug, Default)]
struct Found {
    /// Addresses of windows that are the identity as an X25519 scalar (the attacker's scan), and whether each is on
    /// a locked mapping.
    identity_windows: Vec<(u64, bool)>,
    /// Windows that are the payload key of the handed-out secret's `.age` file.
    payload_windows: Vec<u64>,
    /// Exact occurrences, at any offset.
    identity_bytes: usize,
    wrap_key: usize,
    file_key: usize,
    payload_key: usize,
    secret: usize,
    /// How much was looked at.
    bytes_scanned: usize,
    windows_tried: usize,
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

fn scan(pid: u32, k: &Keys) -> Found {
    let mut f = Found::default();
    let clamped = x25519_dalek::StaticSecret::from(k.identity).to_bytes();
    for m in read_memory(pid) {
        f.bytes_scanned += m.bytes.len();
        f.identity_bytes += count(&m.bytes, &k.identity);
        if clamped != k.identity {
            f.identity_bytes += count(&m.bytes, &clamped);
        }
        f.wrap_key += count(&m.bytes, &k.wrap_key);
        f.file_key += count(&m.bytes, &k.file_key);
        f.payload_key += count(&m.bytes, &k.payload_key);
        f.secret += count(&m.bytes, KEY.as_bytes());
        for off in (0..m.bytes.len().saturating_sub(31)).step_by(8) {
            let w: &[u8; 32] = m.bytes[off..off + 32].try_into().unwrap();
            if !random_looking(w) {
                continue;
            }
            f.windows_tried += 1;
            let public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*w));
            if public.to_bytes() == k.public {
                f.identity_windows.push((m.start + off as u64, m.locked));
            }
            if k.opens_payload(w) {
                f.payload_windows.push(m.start + off as u64);
            }
        }
    }
    f
}

fn assert_clean(f: &Found, when: &str) {
    assert!(f.bytes_scanned > 1 << 20, "{when}: read too little memory to mean anything: {f:?}");
    assert!(
        f.identity_windows.is_empty()
            && f.payload_windows.is_empty()
            && f.identity_bytes == 0
            && f.wrap_key == 0
            && f.file_key == 0
            && f.payload_key == 0
            && f.secret == 0,
        "{when}: key material or the secret is still in the service's memory: {f:?}"
    );
}

#[test]
fn lock_and_ttl_expiry_leave_no_key_material_in_the_service() {
    if !scan_possible("lock_and_ttl_expiry_leave_no_key_material_in_the_service") {
        return;
    }
    let env = Env::new();
    env.init_file();
    let o = env.run(&["models", "auth", "add", "--provider", "anthropic"], KEY);
    assert_eq!(o.code, 0, "{o:?}");
    let age_file = std::fs::read_dir(env.ck().join("secrets")).unwrap().next().unwrap().unwrap().path();
    let k = keys(&env, &age_file);

    let svc = Service::start(&env, &["--unlock"]);
    let hand_outs = |svc: &Service| {
        for _ in 0..3 {
            let r = svc.call(json!({"v":1,"op":"get","ids":["main/anthropic:default"]}));
            assert_eq!(r["values"]["main/anthropic:default"], KEY, "{r}");
        }
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
        assert!(!f.identity_windows.is_empty(), "{when}: the scan must find the identity while unlocked: {f:?}");
        assert!(
            f.identity_windows.iter().all(|(_, locked)| *locked),
            "{when}: while unlocked the identity may live only on locked pages: {f:?}"
        );
        assert_eq!(f.identity_bytes, f.identity_windows.len(), "{when}: no other copy of the identity: {f:?}");
        assert_eq!(
            (f.wrap_key, f.file_key, f.payload_key, f.payload_windows.len()),
            (0, 0, 0, 0),
            "{when}: no wrap, file or payload key: {f:?}"
        );
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
    let mut c = env.cmd(&["unlock", "--ttl", "2s"]);
    c.env("CLAWKEEP_SOCKET", &svc.socket);
    let o = common::run_cmd(&mut c, "");
    assert_eq!(o.code, 0, "{o:?}");
    hand_outs(&svc);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !svc.log_text().contains("TTL reached") {
        assert!(Instant::now() < deadline, "the TTL did not expire: {}", svc.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    let f = scan(svc.pid(), &k);
    eprintln!("after TTL expiry: {f:?}");
    assert_clean(&f, "after TTL expiry");
}
