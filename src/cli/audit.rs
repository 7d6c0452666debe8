//! `clawkeep audit`: the access log (last use per profile, `log` with filters, `log --verify`), and the helpers the
//! other commands call to record their hand-outs and changes.

use std::time::{Duration, SystemTime};

use clawkeep::audit::log::{Stored, verify};
use clawkeep::audit::{Entry, entry, outcome, record_cli};
use clawkeep::error::exit;
use clawkeep::paths::Paths;
use clawkeep::secret::{ExposeSecret, SecretString};
use clawkeep::{Error, Result};

use super::output;

/// Record a hand-out by this command (before the secret leaves). A refusal is recorded as well; only a hand-out
/// whose line cannot be written fails (fail closed).
pub fn handout(paths: &Paths, op: &str, agent: &str, profile: &str, secret: &Result<SecretString>) -> Result<()> {
    match secret {
        Ok(s) => {
            let fp = clawkeep::audit::fingerprint_or_none(paths, s.expose_secret().as_bytes());
            record_cli(paths, &[entry(op, Some(agent), Some(profile), "ok", fp)])
        }
        Err(e) => {
            let _ = record_cli(paths, &[entry(op, Some(agent), Some(profile), e.code_name(), None)]);
            Ok(())
        }
    }
}

/// Run a change, refusing it first when its line could not be written, and record its outcome after.
pub fn change(
    paths: &Paths,
    op: &str,
    agent: Option<&str>,
    profile: Option<&str>,
    run: impl FnOnce() -> Result<i32>,
) -> Result<i32> {
    clawkeep::audit::preflight(paths)?;
    let r = run();
    let what = match &r {
        Ok(code) if *code != exit::OK => format!("exit {code}"),
        r => outcome(r),
    };
    let logged = record_cli(paths, &[entry(op, agent, profile, &what, None)]);
    match (r, logged) {
        (Ok(code), Err(e)) => {
            eprintln!("clawkeep: the change was made, but {e}");
            Ok(if code == exit::OK { exit::AUDIT } else { code })
        }
        (r, _) => r,
    }
}

/// Entries for the ids a direct `resolve` answered.
pub fn resolve_entries(
    paths: &Paths,
    values: &std::collections::BTreeMap<String, zeroize::Zeroizing<String>>,
    errors: &[(String, &str)],
) -> Vec<Entry> {
    let mut out: Vec<Entry> = values
        .iter()
        .map(|(id, v)| {
            let fp = clawkeep::audit::fingerprint_or_none(paths, v.as_bytes());
            clawkeep::audit::id_entry("resolve", "cli", id, "ok", fp)
        })
        .collect();
    out.extend(errors.iter().map(|(id, c)| clawkeep::audit::id_entry("resolve", "cli", id, c, None)));
    out
}

/// `clawkeep audit log` filters.
#[derive(clap::Args)]
pub struct LogArgs {
    /// Only lines newer than this (`30m`, `24h`, `7d`).
    #[arg(long, value_name = "DUR")]
    since: Option<String>,
    /// Only this profile id.
    #[arg(long, value_name = "ID")]
    profile: Option<String>,
    /// Only this agent.
    #[arg(long, value_name = "A")]
    agent: Option<String>,
    /// One JSON object a line (the log's own lines, MAC included).
    #[arg(long)]
    json: bool,
    /// Check the chain: exit 0 when it holds, 1 naming the first bad line.
    #[arg(long, conflicts_with_all = ["since", "profile", "agent"])]
    verify: bool,
}

fn since_of(s: &str) -> Result<SystemTime> {
    let d: Duration = humantime::parse_duration(s)
        .or_else(|_| s.parse::<u64>().map(|days| Duration::from_secs(days * 86400)))
        .map_err(|_| Error::InvalidInput(format!("invalid --since `{s}`: use e.g. 30m, 24h, 7d")))?;
    Ok(SystemTime::now().checked_sub(d).unwrap_or(SystemTime::UNIX_EPOCH))
}

fn text(l: &Stored) -> String {
    let line = &l.line;
    format!(
        "{:>6}  {}  {:<8} {:<7} {}/{}  {}  {}{}",
        line.seq,
        line.time,
        line.op,
        line.via,
        line.agent.as_deref().unwrap_or("-"),
        line.profile.as_deref().unwrap_or("-"),
        line.outcome,
        line.who.short(),
        line.fp.as_deref().map(|f| format!("  fp {f}")).unwrap_or_default()
    )
}

/// `clawkeep audit log`.
pub fn log(paths: &Paths, a: LogArgs) -> Result<i32> {
    let files = clawkeep::audit::files(&paths.clawkeep_dir);
    if a.verify {
        let v = verify(&files, |_| {})?;
        return Ok(match v.broken {
            None => {
                println!(
                    "access log intact: {} lines in {} files; last seq {}, last MAC {}",
                    v.lines, v.files, v.head.seq, v.head.mac
                );
                exit::OK
            }
            Some(b) => {
                println!("access log broken at {b}");
                println!("{} lines before it hold (last good seq {})", v.lines, v.head.seq);
                exit::CHECK_FAILED
            }
        });
    }
    let since = a.since.as_deref().map(since_of).transpose()?;
    let agent = a.agent.map(|x| x.to_ascii_lowercase());
    let mut shown = 0u64;
    let v = verify(&files, |l| {
        let line = &l.line;
        if since.is_some_and(|s| humantime::parse_rfc3339(&line.time).is_ok_and(|t| t < s))
            || a.profile.as_ref().is_some_and(|p| line.profile.as_ref() != Some(p))
            || agent.as_ref().is_some_and(|x| line.agent.as_ref() != Some(x))
        {
            return;
        }
        shown += 1;
        if a.json {
            output::json_line(l);
        } else {
            println!("{}", text(l));
        }
    })?;
    if let Some(b) = v.broken {
        eprintln!("clawkeep: the access log is broken at {b}; lines after it are not shown (`--verify` for details)");
        return Ok(exit::CHECK_FAILED);
    }
    if shown == 0 && !a.json {
        eprintln!("no matching lines");
    }
    Ok(exit::OK)
}

/// Last hand-out of each profile: when, how, by whom. `recent_only` reads just the newest two files (at most
/// `2 × maxFileBytes`), each line checked against its MAC, so `models status` stays quick on a long log.
pub fn last_used(paths: &Paths, recent_only: bool) -> Result<std::collections::BTreeMap<(String, String), Stored>> {
    let files = clawkeep::audit::files(&paths.clawkeep_dir);
    let mut last = std::collections::BTreeMap::new();
    if recent_only {
        clawkeep::audit::log::recent(&files, 2, |l| note_use(&mut last, l))?;
    } else {
        verify(&files, |l| note_use(&mut last, l))?;
    }
    Ok(last)
}

/// Keep `l` as its profile's last use if it is a hand-out.
fn note_use(last: &mut std::collections::BTreeMap<(String, String), Stored>, l: &Stored) {
    if l.line.outcome == "ok"
        && l.line.fp.is_some()
        && let (Some(a), Some(p)) = (&l.line.agent, &l.line.profile)
    {
        last.insert((a.clone(), p.clone()), l.clone());
    }
}

/// A last use as JSON: when, how, by whom.
pub fn used_json(l: &clawkeep::audit::log::Line) -> serde_json::Value {
    serde_json::json!({"time": l.time, "op": l.op, "via": l.via, "by": l.who})
}

/// `clawkeep audit`: every credential OpenClaw holds and the findings, then the access log's last use of each
/// profile and whether its chain holds. The exit code: with `--check` the inventory's (0 clean, 1 findings, 2
/// unresolved refs), else 0; 1 when the access log is broken.
pub fn inventory(
    paths: &Paths,
    agent: Option<String>,
    json: bool,
    check: bool,
    residue: bool,
    max_age: Option<&str>,
) -> Result<i32> {
    let mut opts = clawkeep::ops::custody::Options::new(residue);
    if let Some(m) = max_age {
        opts.max_age_ms = match m.trim() {
            "0" => None,
            m => Some(clawkeep::ops::status::parse_duration_ms(m)?),
        };
    }
    let agents = super::agents_or_all(paths, agent)?;
    let vault = super::open_optional(paths)?;
    if residue && let Some(v) = &vault {
        v.unlock()?;
    }
    let inv = clawkeep::ops::custody::run(paths, &agents, vault.as_ref(), opts);
    let code = if check { inv.check_code() } else { exit::OK };
    let report = inv.report();
    if !json {
        print_inventory(&report);
    }
    let log_code = summary(paths, json.then_some(report))?;
    Ok(if code == exit::OK { log_code } else { code })
}

fn print_inventory(r: &clawkeep::ops::custody::Report) {
    use std::fmt::Write;
    // One buffer, written once: 10,000 locations are 10,000 lines.
    let mut out = String::new();
    let _ = write!(out, "{} credential location(s); status: {}", r.credentials.len(), r.status);
    for c in r.credentials.iter() {
        let fp = c.fingerprint.map(|f| format!("  fp {}", &f[..f.len().min(16)])).unwrap_or_default();
        let at = match c.row {
            Some(row) => format!("{} {row}:{}", c.file.display(), c.json_path),
            None => format!("{} {}", c.file.display(), c.json_path),
        };
        let _ = write!(
            out,
            "\n  {:<10} {:<8} {:<12} {:<14} {at}{fp}",
            c.value_in,
            c.kind,
            c.provider.unwrap_or("-"),
            c.store
        );
    }
    for f in r.findings {
        let at = match &f.json_path {
            Some(p) if !p.is_empty() => format!("{} {p}", f.file.display()),
            _ => f.file.display().to_string(),
        };
        let _ = write!(out, "\n[{}] {}: {at}: {}", f.severity, f.code, f.message);
        if let Some(fix) = f.fix.as_deref().filter(|x| !x.is_empty()) {
            let _ = write!(out, "\n        fix: {fix}");
        }
    }
    for sk in r.skipped {
        let _ = write!(out, "\n[skipped] {sk}");
    }
    output::text(&out);
}

/// The access log's part of `clawkeep audit`: the last use of each profile and whether the chain holds (one pass
/// over the log). With `inventory` (JSON output), one document holding both.
fn summary(paths: &Paths, inventory: Option<clawkeep::ops::custody::Report>) -> Result<i32> {
    let mut last = std::collections::BTreeMap::new();
    let v = verify(&clawkeep::audit::files(&paths.clawkeep_dir), |l| note_use(&mut last, l))?;
    if let Some(report) = inventory {
        /// The inventory followed by the access log's fields.
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            #[serde(flatten)]
            report: clawkeep::ops::custody::Report<'a>,
            intact: bool,
            lines: u64,
            profiles: Vec<serde_json::Value>,
            broken: Option<String>,
        }
        let profiles = last
            .iter()
            .map(|((a, p), l)| serde_json::json!({"agent": a, "profile": p, "lastUsed": used_json(&l.line)}))
            .collect();
        output::json(&Doc {
            report,
            intact: v.broken.is_none(),
            lines: v.lines,
            profiles,
            broken: v.broken.as_ref().map(|b| b.to_string()),
        });
    } else {
        for ((a, p), l) in &last {
            println!(
                "{a}/{p}  last used {}  ({} via {})  by {}",
                l.line.time,
                l.line.op,
                l.line.via,
                l.line.who.short()
            );
        }
        match &v.broken {
            None => println!("access log intact: {} lines", v.lines),
            Some(b) => println!("access log broken at {b}"),
        }
    }
    Ok(if v.broken.is_some() { exit::CHECK_FAILED } else { exit::OK })
}
