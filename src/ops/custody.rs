//! `clawkeep audit`: the inventory of every credential OpenClaw holds ([`crate::openclaw::surface`]), where each
//! value lives, a keyed fingerprint of the values clawkeep can see, and findings with stable codes (OpenClaw's where
//! they mean the same). Read-only. The residue scan (`--residue`) needs the vault's secrets and so its passphrase.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use super::status::Health;
use crate::error::Error;
use crate::openclaw::surface::{self, Held, Location, Scan};
use crate::paths::Paths;
use crate::secret::{ExposeSecret, SecretId, SecretString};
use crate::vault::Vault;

/// Version of the `--json` document (docs/audit.md).
pub const JSON_VERSION: u32 = 1;

/// One finding.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Stable code (docs/audit.md).
    pub code: &'static str,
    /// `error`, `warn`, `info`.
    pub severity: &'static str,
    /// The file.
    pub file: PathBuf,
    /// Where in it (JSON path, `table[row]`, or a byte offset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
    /// What is wrong (never a value).
    pub message: String,
    /// The command that fixes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Auth profile id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
}

/// The whole audit.
pub struct Audit {
    /// What was scanned.
    pub scan: Scan,
    /// Findings.
    pub findings: Vec<Finding>,
    /// Keyed fingerprint per location index (only for values clawkeep can see, and only when the vault has a key).
    pub fingerprints: BTreeMap<usize, String>,
    /// Whether the residue scan ran.
    pub residue_scanned: bool,
}

/// Where a location's value lives, for reports.
pub fn value_in(l: &Location) -> &'static str {
    match &l.held {
        Held::Plaintext(_) => "plaintext",
        Held::Ref(r) if r.is_clawkeep() => "clawkeep",
        Held::Ref(_) => "other-provider",
        Held::EnvTemplate(_) => "environment",
        Held::OAuth => "oauth",
    }
}

fn finding(code: &'static str, severity: &'static str, l: &Location, message: String, fix: Option<String>) -> Finding {
    let json_path = match &l.row {
        Some(row) => Some(format!("{row}:{}", l.json_path)),
        None => Some(l.json_path.clone()),
    };
    Finding {
        code,
        severity,
        file: l.file.clone(),
        json_path,
        message,
        fix,
        provider: l.provider.clone(),
        profile_id: l.profile_id.clone(),
    }
}

/// Default `--max-age` of `NOT_ROTATED`: 90 days.
pub const DEFAULT_MAX_AGE_MS: i64 = 90 * 24 * 3600 * 1000;

/// What [`run`] checks beyond the scan.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Search every file under the state dir for the values the vault holds (needs it unlocked).
    pub residue: bool,
    /// `NOT_ROTATED` for a vault secret whose `updated` is older than this (`None`: not checked).
    pub max_age_ms: Option<i64>,
    /// Now (ms since the epoch).
    pub now_ms: i64,
}

impl Options {
    /// The defaults: no residue scan, `NOT_ROTATED` after [`DEFAULT_MAX_AGE_MS`].
    pub fn new(residue: bool) -> Options {
        Options { residue, max_age_ms: Some(DEFAULT_MAX_AGE_MS), now_ms: crate::vault::now_ms() }
    }
}

/// The files OpenClaw keeps credentials in (whether or not they exist), for `LINKED_FILE`.
fn credential_files(paths: &Paths, agents: &[String]) -> Vec<PathBuf> {
    let mut out = vec![paths.openclaw_config(), paths.dotenv()];
    let mut sqlite = vec![paths.shared_sqlite()];
    for a in agents {
        out.extend([paths.auth_profiles(a), paths.auth_state(a), paths.legacy_auth(a)]);
        sqlite.push(paths.agent_sqlite(a));
    }
    for db in sqlite {
        out.extend([with_suffix(&db, "-wal"), with_suffix(&db, "-journal"), db]);
    }
    out
}

/// Scan `agents` and judge. `vault`: when given (unlocked for `--residue`), clawkeep's refs are checked against it,
/// its store is probed (`KEYCHAIN_UNAVAILABLE`) and its secrets' ages checked (`NOT_ROTATED`); with
/// `opts.residue`, every file under the state dir is searched for the values it holds.
pub fn run(paths: &Paths, agents: &[String], vault: Option<&Vault>, opts: Options) -> Audit {
    let residue = opts.residue;
    let mut scan = surface::scan(paths, agents);
    let mut findings = Vec::new();
    // The vault's store (a keychain) out of reach: said, and the rest still reported (never `clean`).
    let store_down = match vault.map(Vault::probe) {
        Some(Err(e)) => {
            findings.push(Finding {
                code: "KEYCHAIN_UNAVAILABLE",
                severity: "error",
                file: vault.map(|v| v.files.dir.clone()).unwrap_or_default(),
                json_path: None,
                message: format!(
                    "the vault's {} store could not be reached: {e}; clawkeep's refs were checked against its index \
                     only{}",
                    vault.map(|v| v.backend().to_string()).unwrap_or_default(),
                    if residue { ", and the residue scan could not read the values" } else { "" }
                ),
                fix: e.hint().or_else(|| Some("clawkeep doctor".into())),
                provider: None,
                profile_id: None,
            });
            scan.skipped.push("the vault's store could not be reached (KEYCHAIN_UNAVAILABLE)".into());
            true
        }
        _ => false,
    };
    // Symbolic or hard links where OpenClaw expects its own credential file.
    for f in credential_files(paths, agents) {
        let Ok(m) = std::fs::symlink_metadata(&f) else { continue };
        let what = if m.file_type().is_symlink() {
            Some("a symbolic link".to_string())
        } else if m.is_file() && m.nlink() > 1 {
            Some(format!("a file with {} hard links", m.nlink()))
        } else {
            None
        };
        if let Some(what) = what {
            findings.push(Finding {
                code: "LINKED_FILE",
                severity: "error",
                file: f.clone(),
                json_path: None,
                message: format!(
                    "is {what} where OpenClaw keeps credentials: writes through it land elsewhere, and its other names \
                     keep the bytes"
                ),
                fix: Some(format!(
                    "replace it with a private regular file (copy, then `rm` the link): {}",
                    f.display()
                )),
                provider: None,
                profile_id: None,
            });
        }
    }
    // Expiry of the profiles in OpenClaw's stores (tokens; OAuth access tokens are refreshed by OpenClaw).
    let mut seen_expiry = std::collections::BTreeSet::new();
    for l in &scan.locations {
        let (Some(exp), Some(pid)) = (l.expires, l.profile_id.as_deref()) else { continue };
        if matches!(l.held, Held::OAuth) || !seen_expiry.insert((l.file.clone(), pid.to_string())) {
            continue;
        }
        let left = exp - opts.now_ms;
        // The same thresholds as `models status` and `doctor` (within 24 h: expiring).
        let (code, severity, message) = match super::status::health_of(Some(exp), opts.now_ms) {
            Health::Expired => {
                ("EXPIRED", "error", format!("the {} expired {} ago", l.kind, super::status::human_duration(-left)))
            }
            Health::Expiring => {
                ("EXPIRING", "warn", format!("the {} expires in {}", l.kind, super::status::human_duration(left)))
            }
            _ => continue,
        };
        let mut f = finding(code, severity, l, message, None);
        f.json_path = Some(match &l.row {
            Some(row) => format!("{row}:profiles.{pid}.expires"),
            None => format!("profiles.{pid}.expires"),
        });
        f.fix = Some(format!(
            "store a new one: clawkeep models auth paste-token --provider {} --profile-id {pid} --force",
            l.provider.as_deref().unwrap_or("<provider>")
        ));
        findings.push(f);
    }
    // Secrets the vault has not had stored again for longer than the maximum age.
    if let (Some(v), Some(max)) = (vault, opts.max_age_ms.filter(|m| *m > 0)) {
        for (sid, e) in &v.index.secrets {
            let stored = if e.updated > 0 { e.updated } else { e.created };
            if e.kind != crate::vault::EntryKind::Profile || stored <= 0 || opts.now_ms - stored <= max {
                continue;
            }
            findings.push(Finding {
                code: "NOT_ROTATED",
                severity: "warn",
                file: v.files.index.clone(),
                json_path: Some(sid.clone()),
                message: format!(
                    "stored {} ago, longer than the maximum age ({})",
                    super::status::human_duration(opts.now_ms - stored),
                    super::status::human_duration(max)
                ),
                fix: Some(format!(
                    "rotate it at the provider, then store the new one: clawkeep models auth add --provider {} \
                     --profile-id {} --force (or pass --max-age)",
                    e.provider.as_deref().unwrap_or("<provider>"),
                    e.profile_id.as_deref().unwrap_or("<profile>")
                )),
                provider: e.provider.clone(),
                profile_id: e.profile_id.clone(),
            });
        }
    }
    let keys = crate::audit::log::read_keys(&crate::audit::files(&paths.clawkeep_dir)).ok().flatten();
    let mut fingerprints = BTreeMap::new();

    for (file, e) in &scan.errors {
        findings.push(Finding {
            code: "STORE_UNREADABLE",
            severity: "error",
            file: file.clone(),
            json_path: None,
            message: format!("not read, so its credentials are not in this audit: {e}"),
            fix: e.hint(),
            provider: None,
            profile_id: None,
        });
    }
    // Providers that have auth profiles: a credential in openclaw.json for them is shadowed by the profiles.
    let profiled: std::collections::BTreeSet<&str> =
        scan.locations.iter().filter(|l| l.profile_id.is_some()).filter_map(|l| l.provider.as_deref()).collect();
    let mut plain_values: Vec<(usize, &SecretString)> = Vec::new();
    for (i, l) in scan.locations.iter().enumerate() {
        match &l.held {
            Held::Plaintext(v) => {
                plain_values.push((i, v));
                if let Some(k) = &keys {
                    fingerprints.insert(i, k.fingerprint(v.expose_secret().as_bytes()));
                }
                let fix = match l.store {
                    ".env" | "auth-profiles.json" | "auth.json" => "clawkeep migrate".to_string(),
                    "openclaw.json" | "shared-sqlite" | "agent-sqlite" => {
                        "clawkeep migrate (through `openclaw secrets apply`; needs `openclaw` on PATH)".to_string()
                    }
                    _ => "clawkeep migrate".to_string(),
                };
                findings.push(finding(
                    "PLAINTEXT_FOUND",
                    "error",
                    l,
                    format!("{} holds a plaintext credential ({})", l.store, l.kind),
                    Some(fix),
                ));
            }
            Held::Ref(r) if r.is_clawkeep() => {
                let present = match (vault, SecretId::parse(&r.id)) {
                    (Some(v), Ok(id)) if v.index.secrets.contains_key(id.as_str()) => Some(true),
                    // The store cannot be asked: unknown, not unresolved (KEYCHAIN_UNAVAILABLE says why).
                    (Some(_), Ok(_)) if store_down => None,
                    (Some(v), Ok(id)) => Some(v.present_in_store(&id).unwrap_or(false)),
                    (None, _) => None,
                    (Some(_), Err(_)) => Some(false),
                };
                if present == Some(false) {
                    findings.push(finding(
                        "REF_UNRESOLVED",
                        "error",
                        l,
                        format!("refers to clawkeep id `{}`, which the vault does not hold", r.id),
                        Some("store it with `clawkeep models auth add` (or paste-token) under that profile id".into()),
                    ));
                }
            }
            Held::OAuth => findings.push(finding(
                "OAUTH_PLAINTEXT",
                "info",
                l,
                "OAuth tokens in plaintext (OpenClaw cannot use references for OAuth; out of the SecretRef surface)"
                    .into(),
                None,
            )),
            _ => {}
        }
        if l.store == "openclaw.json"
            && l.json_path.ends_with(".apiKey")
            && l.json_path.starts_with("models.providers.")
            && l.provider.as_deref().is_some_and(|p| profiled.contains(p))
        {
            findings.push(finding(
                "REF_SHADOWED",
                "warn",
                l,
                "auth profiles of this provider take precedence over this openclaw.json credential".into(),
                Some("remove one of the two".into()),
            ));
        }
    }
    // The same value in two places.
    for (n, (i, a)) in plain_values.iter().enumerate() {
        for (j, b) in plain_values.iter().skip(n + 1) {
            if crate::secret::same(a, b) {
                let (la, lb) = (&scan.locations[*i], &scan.locations[*j]);
                findings.push(finding(
                    "DUPLICATE_SECRET",
                    "warn",
                    lb,
                    format!("the same value as {} {}", la.file.display(), la.json_path),
                    None,
                ));
            }
        }
    }
    // Permissions of every file that holds credentials.
    let mut files: Vec<&Path> = scan.locations.iter().map(|l| l.file.as_path()).collect();
    files.sort();
    files.dedup();
    for f in files {
        for p in [f.to_path_buf(), with_suffix(f, "-wal"), with_suffix(f, "-journal")] {
            if let Ok(m) = std::fs::metadata(&p)
                && m.mode() & 0o077 != 0
            {
                findings.push(Finding {
                    code: "INSECURE_PERMISSIONS",
                    severity: "error",
                    file: p.clone(),
                    json_path: None,
                    message: format!(
                        "holds credentials and is readable or writable by others (mode {:o})",
                        m.mode() & 0o777
                    ),
                    fix: Some(format!("chmod 600 {}", p.display())),
                    provider: None,
                    profile_id: None,
                });
            }
        }
    }
    // Legacy files OpenClaw no longer reads.
    for a in agents {
        let legacy = paths.legacy_auth(a);
        if legacy.exists() {
            findings.push(Finding {
                code: "LEGACY_RESIDUE",
                severity: "warn",
                file: legacy,
                json_path: None,
                message: "legacy auth.json may hold plaintext credentials".into(),
                fix: Some(format!("clawkeep migrate --agent {a}")),
                provider: None,
                profile_id: None,
            });
        }
    }
    // Secrets the vault holds that nothing refers to (only when every store was read).
    if let Some(v) = vault
        && scan.errors.is_empty()
    {
        let referenced: std::collections::BTreeSet<&str> = scan
            .locations
            .iter()
            .filter_map(|l| match &l.held {
                Held::Ref(r) if r.is_clawkeep() => Some(r.id.as_str()),
                _ => None,
            })
            .collect();
        for (sid, e) in &v.index.secrets {
            if e.kind == crate::vault::EntryKind::Profile && !referenced.contains(sid.as_str()) {
                findings.push(Finding {
                    code: "ORPHAN_SECRET",
                    severity: "info",
                    file: v.files.index.clone(),
                    json_path: Some(sid.clone()),
                    message: "held by clawkeep but referenced nowhere in OpenClaw's stores or openclaw.json".into(),
                    fix: Some(format!("clawkeep models auth remove {}", e.profile_id.as_deref().unwrap_or("?"))),
                    provider: e.provider.clone(),
                    profile_id: e.profile_id.clone(),
                });
            }
        }
    }
    let residue_scanned = residue && vault.is_some() && !store_down;
    if let Some(v) = vault.filter(|_| residue && !store_down) {
        residue_scan(paths, v, &scan, &mut findings);
    }
    Audit { scan, findings, fingerprints, residue_scanned }
}

fn with_suffix(p: &Path, s: &str) -> PathBuf {
    let mut n = p.as_os_str().to_os_string();
    n.push(s);
    PathBuf::from(n)
}

/// Largest file the residue scan reads.
pub const MAX_SCAN_FILE: u64 = 256 << 20;

fn residue_scan(paths: &Paths, v: &Vault, scan: &Scan, findings: &mut Vec<Finding>) {
    let mut values: Vec<(String, SecretString)> = Vec::new();
    for (sid, e) in &v.index.secrets {
        if e.kind != crate::vault::EntryKind::Profile {
            continue;
        }
        if let Ok(id) = SecretId::parse(sid)
            && let Ok(s) = v.get(&id)
            && s.expose_secret().len() >= 8
        {
            values.push((sid.clone(), s));
        }
    }
    if values.is_empty() {
        return;
    }
    // Files already reported as a plaintext location are not reported again.
    let known: std::collections::BTreeSet<&Path> = scan
        .locations
        .iter()
        .filter(|l| matches!(l.held, Held::Plaintext(_)) && l.store != "shared-sqlite" && l.store != "agent-sqlite")
        .map(|l| l.file.as_path())
        .collect();
    // One automaton for every value: each file is read once and searched once, whatever the number of values (a
    // search per value cost values x bytes: 30 s for 200 values over 5.6 MB in a debug build).
    let Ok(ac) = aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::Standard)
        .build(values.iter().map(|(_, s)| s.expose_secret().as_bytes()))
    else {
        return;
    };
    let mut stack = vec![paths.state_dir.clone()];
    let ck = std::fs::canonicalize(&v.files.secrets).unwrap_or_else(|_| v.files.secrets.clone());
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if std::fs::canonicalize(&p).is_ok_and(|c| c == ck) {
                    continue; // clawkeep's ciphertext
                }
                stack.push(p);
                continue;
            }
            if !ft.is_file() || known.contains(p.as_path()) {
                continue;
            }
            let Ok(Some((file, m))) = crate::fs::open_checked(&p, false) else { continue };
            if m.len() > MAX_SCAN_FILE {
                continue;
            }
            let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(m.len() as usize + 1));
            if std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_SCAN_FILE), &mut bytes).is_err() {
                continue;
            }
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let sqlite_family = [".sqlite", ".sqlite-wal", ".sqlite-journal", ".sqlite-shm", ".db", ".db-wal"]
                .iter()
                .any(|s| name.ends_with(s));
            // The first offset of each value in this file.
            let mut first: BTreeMap<usize, usize> = BTreeMap::new();
            for m in ac.find_overlapping_iter(&bytes[..]) {
                first.entry(m.pattern().as_usize()).or_insert(m.start());
            }
            for (i, off) in first {
                let sid = &values[i].0;
                let (code, fix) = if sqlite_family {
                    (
                        "SQLITE_RESIDUE",
                        "old bytes stay in free pages and the WAL after rows change: stop OpenClaw, then run `sqlite3 <file> 'PRAGMA wal_checkpoint(TRUNCATE); VACUUM;'`",
                    )
                } else {
                    (
                        "FILE_RESIDUE",
                        "delete the file if it is a stale copy (backup, archive, log), or migrate its credentials",
                    )
                };
                findings.push(Finding {
                    code,
                    severity: "error",
                    file: p.clone(),
                    json_path: Some(format!("byte offset {off}")),
                    message: format!("holds the value of `{sid}` (which clawkeep holds) in plaintext"),
                    fix: Some(fix.into()),
                    provider: None,
                    profile_id: None,
                });
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Audit {
    /// `clean`, `findings`, `unresolved` (as OpenClaw), or `incomplete` (a part was skipped; never `clean` then).
    pub fn status(&self) -> &'static str {
        if self.findings.iter().any(|f| f.code == "REF_UNRESOLVED") {
            "unresolved"
        } else if self.findings.iter().any(|f| f.severity != "info") {
            "findings"
        } else if !self.scan.skipped.is_empty() {
            "incomplete"
        } else {
            "clean"
        }
    }

    /// The `--check` exit code: 0 clean, 1 findings or incomplete, 2 unresolved refs.
    pub fn check_code(&self) -> i32 {
        match self.status() {
            "clean" => 0,
            "unresolved" => 2,
            _ => 1,
        }
    }

    /// The JSON document (docs/audit.md), ready to serialize; never holds a value. It borrows the audit, so a
    /// large inventory is written straight out rather than built as a JSON value first.
    pub fn report(&self) -> Report<'_> {
        let count = |c: &str| self.findings.iter().filter(|f| f.code == c).count();
        Report {
            version: JSON_VERSION,
            status: self.status(),
            summary: Summary {
                credentials: self.scan.locations.len(),
                plaintext_count: count("PLAINTEXT_FOUND"),
                unresolved_ref_count: count("REF_UNRESOLVED"),
                shadowed_ref_count: count("REF_SHADOWED"),
                legacy_residue_count: count("LEGACY_RESIDUE"),
                residue_count: count("SQLITE_RESIDUE") + count("FILE_RESIDUE"),
                duplicate_count: count("DUPLICATE_SECRET"),
                findings: self.findings.len(),
            },
            residue_scanned: self.residue_scanned,
            matrix: self.scan.matrix.as_deref(),
            skipped: &self.scan.skipped,
            credentials: Credentials(self),
            findings: &self.findings,
        }
    }
}

/// `clawkeep audit --json` (version [`JSON_VERSION`], docs/custody.md): the fields in the order they are written.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report<'a> {
    /// [`JSON_VERSION`].
    pub version: u32,
    /// [`Audit::status`].
    pub status: &'static str,
    /// Counts.
    pub summary: Summary,
    /// Whether the residue scan ran.
    pub residue_scanned: bool,
    /// OpenClaw's credential matrix used for `openclaw.json`.
    pub matrix: Option<&'a Path>,
    /// Parts not checked, and why.
    pub skipped: &'a [String],
    /// Every credential location.
    pub credentials: Credentials<'a>,
    /// The findings.
    pub findings: &'a [Finding],
}

/// The `summary` counts of [`Report`].
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Credential locations.
    pub credentials: usize,
    /// `PLAINTEXT_FOUND` findings.
    pub plaintext_count: usize,
    /// `REF_UNRESOLVED` findings.
    pub unresolved_ref_count: usize,
    /// `REF_SHADOWED` findings.
    pub shadowed_ref_count: usize,
    /// `LEGACY_RESIDUE` findings.
    pub legacy_residue_count: usize,
    /// `SQLITE_RESIDUE` and `FILE_RESIDUE` findings.
    pub residue_count: usize,
    /// `DUPLICATE_SECRET` findings.
    pub duplicate_count: usize,
    /// All findings.
    pub findings: usize,
}

/// The credential locations of an audit, serialized one [`Credential`] at a time.
pub struct Credentials<'a>(&'a Audit);

impl<'a> Credentials<'a> {
    /// Each location as reported.
    pub fn iter(&self) -> impl Iterator<Item = Credential<'a>> + 'a {
        let a = self.0;
        a.scan.locations.iter().enumerate().map(move |(i, l)| Credential {
            store: l.store,
            file: &l.file,
            json_path: &l.json_path,
            kind: &l.kind,
            value_in: value_in(l),
            row: l.row.as_deref(),
            agent: l.agent.as_deref(),
            profile_id: l.profile_id.as_deref(),
            provider: l.provider.as_deref(),
            target_type: l.target_type.as_deref(),
            fingerprint: a.fingerprints.get(&i).map(String::as_str),
            secret_ref: match &l.held {
                Held::Ref(r) => Some(RefOut { source: &r.source, provider: &r.provider, id: &r.id }),
                _ => None,
            },
        })
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.scan.locations.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.scan.locations.is_empty()
    }
}

impl Serialize for Credentials<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// One credential location in [`Report`]: where it is and where its value lives, never the value.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Credential<'a> {
    /// `auth-profiles.json`, `agent-sqlite`, `shared-sqlite`, `auth.json`, `openclaw.json`, `.env`.
    pub store: &'a str,
    /// The file.
    pub file: &'a Path,
    /// Path inside the document.
    pub json_path: &'a str,
    /// `api_key`, `token`, `oauth`, `config`, `env`.
    pub kind: &'a str,
    /// [`value_in`].
    pub value_in: &'static str,
    /// Table and row in a SQLite store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<&'a str>,
    /// The agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<&'a str>,
    /// Auth profile id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<&'a str>,
    /// Provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<&'a str>,
    /// Plan target type of `openclaw secrets apply`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_type: Option<&'a str>,
    /// Keyed fingerprint of a value clawkeep can see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<&'a str>,
    /// The SecretRef, when the location holds one.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<RefOut<'a>>,
}

/// A SecretRef in [`Credential`].
#[derive(Serialize)]
pub struct RefOut<'a> {
    /// `exec`, `env`, `file`.
    pub source: &'a str,
    /// Provider alias.
    pub provider: &'a str,
    /// The id.
    pub id: &'a str,
}

/// Before `migrate` changes anything: every OpenClaw SQLite store must read (a locked, corrupt or unknown-schema
/// store refuses the whole run, so nothing is half done). The JSON files are the file migration's to judge (it
/// converts legacy shapes the scan does not read).
pub fn preflight(paths: &Paths, agents: &[String]) -> crate::Result<()> {
    let sqlite = |p: &Path| p.extension().is_some_and(|e| e == "sqlite");
    match surface::scan(paths, agents).errors.into_iter().find(|(p, _)| sqlite(p)) {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// The credentials [`migrate_surface`] would move through `openclaw secrets apply` (file and path): what
/// `migrate --undo` cannot put back. OpenClaw's apply writes only references (its plan contract: every target's
/// `ref` is a SecretRef, `env`/`file`/`exec`/`store`, never a value), and clawkeep does not write plaintext into
/// OpenClaw's stores, so these stay references to the vault after an undo.
pub fn apply_moves(paths: &Paths, agents: &[String]) -> Vec<(PathBuf, String)> {
    surface::scan(paths, agents)
        .locations
        .into_iter()
        .filter(|l| matches!(l.held, Held::Plaintext(_)) && l.target_type.is_some())
        .filter(|l| match l.store {
            "shared-sqlite" | "agent-sqlite" => l.profile_id.is_some(),
            "openclaw.json" => {
                let s: Vec<&str> = l.json_path.split('.').collect();
                s.len() == 4 && s[0] == "models" && s[1] == "providers" && s[3] == "apiKey"
            }
            _ => false,
        })
        .map(|l| (l.file, l.json_path))
        .collect()
}

/// What `migrate` did (or would do) with one credential on the SQLite / `openclaw.json` surface.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SurfaceItem {
    /// The file.
    pub file: PathBuf,
    /// Where in it.
    pub json_path: String,
    /// The clawkeep id its ref names.
    pub id: String,
    /// `moved`, `would-move`, `skipped`.
    pub action: String,
    /// Why, for skips.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The outcome of [`migrate_surface`].
#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SurfaceReport {
    /// Per credential.
    pub items: Vec<SurfaceItem>,
    /// The plan given to `openclaw secrets apply` (refs only, no value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Value>,
    /// Profiles whose plaintext clawkeep cleared from the shared store after OpenClaw's apply left it there.
    pub shared_store_cleared: Vec<String>,
    /// OpenClaw's `openclaw.json.bak*` copies holding a moved value, now kept only encrypted in the vault.
    pub backups_removed: Vec<PathBuf>,
    /// The `openclaw --version` used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openclaw: Option<String>,
}

struct Candidate {
    file: PathBuf,
    json_path: String,
    store: &'static str,
    target: crate::openclaw::apply::Target,
    profile: Option<(String, &'static str, &'static str)>,
    provider: String,
    kind: &'static str,
    secret: SecretString,
    held: bool,
}

/// Move every plaintext credential in OpenClaw's SQLite auth stores and in `openclaw.json`'s
/// `models.providers.*.apiKey` into the vault and replace it with clawkeep's exec ref through `openclaw secrets
/// apply` (docs/migrate.md). Order: every store read (or refuse, nothing changed); each value stored and read back;
/// apply `--dry-run`, then apply (OpenClaw resolves every new ref through `clawkeep resolve` before it writes, and
/// rolls back on failure, in which case the values stored here are removed again); then the shared-store plaintext
/// OpenClaw's apply leaves is cleared, only once the per-agent store holds the ref; then everything is re-read.
pub fn migrate_surface(
    vault: &mut Vault,
    paths: &Paths,
    agents: &[String],
    dry_run: bool,
) -> crate::Result<SurfaceReport> {
    use crate::openclaw::apply;
    let mut report = SurfaceReport::default();
    let scan = surface::scan(paths, agents);
    if let Some((_, e)) = scan.errors.into_iter().find(|(p, _)| p.extension().is_some_and(|e| e == "sqlite")) {
        return Err(e);
    }
    let mut cands: Vec<Candidate> = Vec::new();
    for l in scan.locations {
        let Held::Plaintext(secret) = l.held else { continue };
        if !matches!(l.store, "shared-sqlite" | "agent-sqlite" | "openclaw.json") {
            continue; // auth-profiles.json and .env: the file migration
        }
        let Some(tt) = l.target_type.clone() else { continue };
        let provider = l.provider.clone().unwrap_or_default();
        let (agent, pid, segments, profile, kind) = match (&l.profile_id, l.store) {
            (Some(pid), _) => {
                let (field, ref_field, kind) =
                    if l.kind == "token" { ("token", "tokenRef", "token") } else { ("key", "keyRef", "api_key") };
                let agent = l.agent.clone().unwrap_or_else(|| crate::paths::DEFAULT_AGENT.to_string());
                let segs = vec!["profiles".to_string(), pid.clone(), field.to_string()];
                (agent, pid.clone(), segs, Some((pid.clone(), field, ref_field)), kind)
            }
            (None, _) => {
                let segs: Vec<String> = l.json_path.split('.').map(String::from).collect();
                if !(segs.len() == 4 && segs[0] == "models" && segs[1] == "providers" && segs[3] == "apiKey") {
                    report.items.push(SurfaceItem {
                        file: l.file.clone(),
                        json_path: l.json_path.clone(),
                        id: String::new(),
                        action: "skipped".into(),
                        note: Some("clawkeep migrate moves models.providers.*.apiKey of openclaw.json; move this one with `openclaw secrets configure`".into()),
                    });
                    continue;
                }
                (crate::paths::DEFAULT_AGENT.to_string(), format!("{}:config", segs[2]), segs, None, "api_key")
            }
        };
        let id = SecretId::for_profile(&agent, &pid)?;
        if cands.iter().any(|c| c.target.id == id.as_str()) {
            continue; // the same profile in the shared and the per-agent store: one target
        }
        let held = vault.index.secrets.contains_key(id.as_str()) || vault.present_in_store(&id)?;
        let auth = profile.is_some();
        cands.push(Candidate {
            file: l.file.clone(),
            json_path: l.json_path.clone(),
            store: l.store,
            target: apply::Target {
                target_type: tt,
                path: l.json_path.clone(),
                segments,
                agent: auth.then(|| agent.clone()),
                auth_profile_provider: auth.then(|| provider.clone()),
                id: id.to_string(),
            },
            profile,
            provider,
            kind,
            secret,
            held,
        });
    }
    if cands.is_empty() {
        return Ok(report);
    }
    let bin = match apply::openclaw_bin() {
        Ok(b) => Some(b),
        Err(_) if dry_run => None,
        Err(e) => return Err(e),
    };
    report.openclaw = bin.as_deref().and_then(apply::version);
    let cfg = crate::openclaw::OpenClawConfig::load(&paths.openclaw_config())?;
    let entry = cfg.exec_provider(crate::PROVIDER_ALIAS).cloned().ok_or_else(|| {
        Error::InvalidInput(format!(
            "{}: no secrets.providers.clawkeep: run `clawkeep openclaw wire` first (OpenClaw resolves every new ref through it before writing)",
            paths.openclaw_config().display()
        ))
    })?;
    if !dry_run && cands.iter().any(|c| c.held) {
        vault.unlock()?;
    }
    // A held id with another value is never overwritten: that credential stays where it is.
    let mut moves = Vec::new();
    for c in cands {
        let same =
            c.held && vault.get(&SecretId::parse(&c.target.id)?).is_ok_and(|s| crate::secret::same(&s, &c.secret));
        if c.held && !same && !dry_run {
            report.items.push(SurfaceItem {
                file: c.file,
                json_path: c.json_path,
                id: c.target.id,
                action: "skipped".into(),
                note: Some(
                    "the vault already holds a different secret under this id; the plaintext was left where it is"
                        .into(),
                ),
            });
            continue;
        }
        moves.push((c, same));
    }
    let targets: Vec<apply::Target> = moves.iter().map(|(c, _)| clone_target(&c.target)).collect();
    let plan = apply::plan(&entry, &targets);
    report.plan = Some(plan.clone());
    let item = |c: &Candidate, action: &str| SurfaceItem {
        file: c.file.clone(),
        json_path: c.json_path.clone(),
        id: c.target.id.clone(),
        action: action.into(),
        note: None,
    };
    let Some(bin) = bin.filter(|_| !dry_run && !moves.is_empty()) else {
        if dry_run {
            report.items.extend(moves.iter().map(|(c, _)| item(c, "would-move")));
        }
        return Ok(report);
    };
    vault.unlock()?;
    let _lock = vault.lock()?;
    // 1. Store and read back.
    let mut stored: Vec<SecretId> = Vec::new();
    let undo_stored = |vault: &mut Vault, stored: &[SecretId]| {
        for id in stored {
            let _ = vault.remove(id);
        }
        let _ = vault.save_index();
    };
    for (c, same) in &moves {
        if *same {
            continue;
        }
        let id = SecretId::parse(&c.target.id)?;
        let (agent, pid) = id.profile_parts().unwrap_or_default();
        let entry = crate::vault::IndexEntry::profile(vault.backend(), &agent, &pid, Some(&c.provider), Some(c.kind));
        if let Err(e) = vault.put(&id, &c.secret, entry) {
            undo_stored(vault, &stored);
            return Err(e);
        }
        stored.push(id.clone());
        if !vault.get(&id).is_ok_and(|b| crate::secret::same(&b, &c.secret)) {
            undo_stored(vault, &stored);
            return Err(Error::Internal(format!(
                "read-back of `{id}` did not match what was stored; nothing was changed"
            )));
        }
    }
    vault.save_index()?;
    // 2. The plan (refs only), then OpenClaw's apply: dry run, then write.
    let plan_file = paths.clawkeep_dir.join("openclaw-apply-plan.json");
    let bytes = serde_json::to_vec_pretty(&plan).map_err(|e| Error::Internal(e.to_string()))?;
    crate::fs::write_atomic(&plan_file, &bytes)?;
    for dry in [true, false] {
        if let Err(e) = apply::run(&bin, &plan_file, dry) {
            // OpenClaw rolled back (or never wrote): no ref names what was just stored, so it goes again.
            undo_stored(vault, &stored);
            let found = report.openclaw.as_deref().unwrap_or("an OpenClaw whose --version could not be read");
            return Err(Error::External(format!(
                "{e} (with {found} at {}; `secrets apply` needs OpenClaw 2026.7 or later); nothing was moved",
                bin.display()
            )));
        }
    }
    // 3. The shared store: OpenClaw's apply writes the ref into the per-agent store and leaves the plaintext in the
    // shared one. Cleared only for profiles whose per-agent store now holds exactly clawkeep's ref.
    let mut clear: Vec<(String, &'static str, &'static str, Value)> = Vec::new();
    for (c, _) in &moves {
        let Some((pid, field, ref_field)) = &c.profile else { continue };
        if c.store != "shared-sqlite" {
            continue;
        }
        let agent = c.target.agent.clone().unwrap_or_default();
        let db = crate::openclaw::sqlite::agent_path(&paths.agent_dir(&agent));
        let has_ref =
            crate::openclaw::sqlite::read(crate::openclaw::sqlite::StoreKind::Agent, &db)?.is_some_and(|st| {
                st.profiles().any(|(p, prof)| {
                    p == pid
                        && crate::openclaw::auth_profiles::profile_ref(prof)
                            .is_some_and(|r| r.is_clawkeep() && r.id == c.target.id)
                })
            });
        if has_ref {
            clear.push((
                pid.clone(),
                field,
                ref_field,
                json!({"source": "exec", "provider": crate::PROVIDER_ALIAS, "id": c.target.id}),
            ));
        }
    }
    if !clear.is_empty() {
        let ids: BTreeMap<String, String> =
            moves.iter().filter_map(|(c, _)| Some((c.profile.as_ref()?.0.clone(), c.target.id.clone()))).collect();
        let expected =
            |pid: &str| ids.get(pid).and_then(|id| SecretId::parse(id).ok()).and_then(|id| vault.get(&id).ok());
        report.shared_store_cleared = apply::clear_shared_plaintext(&paths.shared_sqlite(), &clear, &expected)?;
    }
    // 4. OpenClaw's config writer leaves `openclaw.json.bak*`: plaintext copies of the old config. Those that hold a
    // value just moved are kept encrypted in the vault (one backup secret) and removed, once the refs are written.
    report.backups_removed =
        secure_config_backups(vault, paths, &moves.iter().map(|(c, _)| &c.secret).collect::<Vec<_>>())?;
    // 5. Verify by re-reading every store: what was moved is no longer plaintext anywhere.
    let after = surface::scan(paths, agents);
    for (c, _) in &moves {
        let left = after.locations.iter().any(|l| {
            matches!(&l.held, Held::Plaintext(s) if crate::secret::same(s, &c.secret))
                && matches!(l.store, "shared-sqlite" | "agent-sqlite" | "openclaw.json")
        });
        report.items.push(SurfaceItem {
            file: c.file.clone(),
            json_path: c.json_path.clone(),
            id: c.target.id.clone(),
            action: if left { "ref-written-plaintext-left".into() } else { "moved".into() },
            note: left.then(|| "OpenClaw wrote the ref, but the plaintext is still there: see `clawkeep audit`".into()),
        });
    }
    Ok(report)
}

fn clone_target(t: &crate::openclaw::apply::Target) -> crate::openclaw::apply::Target {
    crate::openclaw::apply::Target {
        target_type: t.target_type.clone(),
        path: t.path.clone(),
        segments: t.segments.clone(),
        agent: t.agent.clone(),
        auth_profile_provider: t.auth_profile_provider.clone(),
        id: t.id.clone(),
    }
}

/// Id prefix of the encrypted copies of OpenClaw's `openclaw.json.bak*` files (restore by hand with
/// `clawkeep get --id`-style tooling is not offered; they are kept so nothing OpenClaw wrote is lost).
pub const CONFIG_BACKUP_PREFIX: &str = "backup#openclaw-bak-";

fn secure_config_backups(vault: &mut Vault, paths: &Paths, moved: &[&SecretString]) -> crate::Result<Vec<PathBuf>> {
    use base64::Engine;
    let Ok(rd) = std::fs::read_dir(&paths.state_dir) else { return Ok(Vec::new()) };
    let mut hits: Vec<(PathBuf, zeroize::Zeroizing<Vec<u8>>)> = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with("openclaw.json.bak") {
            continue;
        }
        let p = e.path();
        let Ok(Some(bytes)) = crate::fs::read_optional(&p) else { continue };
        if moved.iter().any(|s| find(&bytes, s.expose_secret().as_bytes()).is_some()) {
            hits.push((p, bytes));
        }
    }
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    let files: Vec<Value> = hits
        .iter()
        .map(|(p, b)| json!({"path": p, "original": base64::engine::general_purpose::STANDARD.encode(b)}))
        .collect();
    let bundle = zeroize::Zeroizing::new(json!({"version": 1, "files": files}).to_string());
    let id = SecretId::parse(&format!("{CONFIG_BACKUP_PREFIX}{}", crate::vault::now_ms()))?;
    let entry = crate::vault::IndexEntry {
        store: vault.backend(),
        kind: crate::vault::EntryKind::Backup,
        agent: None,
        profile_id: None,
        provider: None,
        cred_type: None,
        expires: None,
        email: None,
        created: 0,
        updated: 0,
        extra: Default::default(),
    };
    let secret = SecretString::from(bundle.as_str().to_owned());
    vault.put(&id, &secret, entry)?;
    vault.save_index()?;
    if !vault.get(&id).is_ok_and(|b| crate::secret::same(&b, &secret)) {
        return Err(Error::Internal(format!(
            "read-back of `{id}` did not match; OpenClaw's backups were left in place"
        )));
    }
    let mut removed = Vec::new();
    for (p, _) in hits {
        if crate::fs::remove_file(&p)? {
            removed.push(p);
        }
    }
    Ok(removed)
}
