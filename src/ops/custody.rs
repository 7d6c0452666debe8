//! `clawkeep audit`: the inventory of every credential OpenClaw holds ([`crate::openclaw::surface`]), where each
//! value lives, a keyed fingerprint of the values clawkeep can see, and findings with stable codes (OpenClaw's where
//! they mean the same). Read-only. The residue scan (`--residue`) needs the vault's secrets and so its passphrase.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

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

/// Scan `agents` and judge. `vault`: when given (unlocked for `--residue`), clawkeep's refs are checked against it
/// and, with `residue`, every file under the state dir is searched for the values it holds.
pub fn run(paths: &Paths, agents: &[String], vault: Option<&Vault>, residue: bool) -> Audit {
    let scan = surface::scan(paths, agents);
    let mut findings = Vec::new();
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
                    (Some(v), Ok(id)) => {
                        Some(v.index.secrets.contains_key(id.as_str()) || v.present_in_store(&id).unwrap_or(false))
                    }
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
    let residue_scanned = residue && vault.is_some();
    if let Some(v) = vault.filter(|_| residue) {
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
            for (sid, s) in &values {
                let needle = s.expose_secret().as_bytes();
                if let Some(off) = find(&bytes, needle) {
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

    /// The JSON document (docs/audit.md); never holds a value.
    pub fn to_json(&self) -> Value {
        let count = |c: &str| self.findings.iter().filter(|f| f.code == c).count();
        let creds: Vec<Value> = self
            .scan
            .locations
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let mut o = json!({
                    "store": l.store,
                    "file": l.file,
                    "jsonPath": l.json_path,
                    "kind": l.kind,
                    "valueIn": value_in(l),
                });
                let m = o.as_object_mut().expect("object");
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        m.insert(k.into(), v);
                    }
                };
                put("row", l.row.clone().map(Value::from));
                put("agent", l.agent.clone().map(Value::from));
                put("profileId", l.profile_id.clone().map(Value::from));
                put("provider", l.provider.clone().map(Value::from));
                put("targetType", l.target_type.clone().map(Value::from));
                put("fingerprint", self.fingerprints.get(&i).cloned().map(Value::from));
                if let Held::Ref(r) = &l.held {
                    put("ref", Some(json!({"source": r.source, "provider": r.provider, "id": r.id})));
                }
                o
            })
            .collect();
        json!({
            "version": JSON_VERSION,
            "status": self.status(),
            "summary": {
                "credentials": self.scan.locations.len(),
                "plaintextCount": count("PLAINTEXT_FOUND"),
                "unresolvedRefCount": count("REF_UNRESOLVED"),
                "shadowedRefCount": count("REF_SHADOWED"),
                "legacyResidueCount": count("LEGACY_RESIDUE"),
                "residueCount": count("SQLITE_RESIDUE") + count("FILE_RESIDUE"),
                "duplicateCount": count("DUPLICATE_SECRET"),
                "findings": self.findings.len(),
            },
            "residueScanned": self.residue_scanned,
            "matrix": self.scan.matrix,
            "skipped": self.scan.skipped,
            "credentials": creds,
            "findings": self.findings,
        })
    }
}
