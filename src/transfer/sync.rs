//! A shared file store synced with git, through the `git` command line (the user's config, credentials and ssh
//! keys apply). The clawkeep dir is the work tree; `.gitignore` admits only the shared part (`vault.json`,
//! `index.json`, `recipients.json`, `secrets/*.age`, `.gitignore`, `.gitattributes`), so each host's wrapped
//! identity and local state never go in. `.gitattributes` makes git stop on every two-sided change of clawkeep's
//! files instead of merging their text; clawkeep merges those itself ([`merge_index`], [`merge_recipients`]) and
//! continues the rebase. Any other conflict stops with the repository left as git left it. Layout in
//! docs/formats.md.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::secret::SecretId;
use crate::vault::{Index, IndexEntry, Vault, VaultFiles};

use super::recipients::{self, Recipients, Resealed};

/// The branch clawkeep pushes and pulls.
pub const BRANCH: &str = "main";

/// What goes into the repository (everything else is ignored).
pub const GITIGNORE: &str = "\
# clawkeep: only the shared part of the store goes into git. identity.json (this host's wrapped identity),
# reseal.json, imported.json, sessions.json, the lock and anything else stay on this host.
/*
!/.gitignore
!/.gitattributes
!/vault.json
!/index.json
!/recipients.json
!/secrets/
/secrets/*
!/secrets/*.age
# migrate's backups (secret ids `backup#…`, hex 6261636b757023…) hold this host's original files: not shared.
/secrets/6261636b757023*.age
";

/// Two-sided changes of clawkeep's files are never text-merged: clawkeep merges them.
pub const GITATTRIBUTES: &str = "\
index.json -merge -diff
recipients.json -merge
secrets/*.age -merge -diff binary
";

/// The shared files, as git paths.
const SHARED: [&str; 6] = [".gitignore", ".gitattributes", "vault.json", "index.json", "recipients.json", "secrets"];

/// Files (and directories) clawkeep writes with group/other bits cleared: git checks files out with the process
/// umask, and the vault refuses group/other-readable files.
fn private_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// The `git` command line, in one work tree.
pub struct Git {
    dir: PathBuf,
}

impl Git {
    /// Git in `dir`.
    pub fn new(dir: &Path) -> Git {
        Git { dir: dir.to_path_buf() }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        c.arg("-C").arg(&self.dir);
        // Commits need a name; the user's config (or GIT_AUTHOR_*) wins when set.
        if !has_identity() {
            c.args(["-c", "user.name=clawkeep", "-c", "user.email=clawkeep@localhost"]);
        }
        c.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        c.env("GIT_EDITOR", "true").env("GIT_MERGE_AUTOEDIT", "no");
        if !std::io::stdin().is_terminal() {
            c.env("GIT_TERMINAL_PROMPT", "0");
        }
        c
    }

    /// Run; `(success, stdout, stderr)`.
    pub fn try_run(&self, args: &[&str]) -> Result<(bool, String, String)> {
        let out = self.command(args).output().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::External(
                    "`git` is not installed (or not on PATH); clawkeep sync runs the git command line".into(),
                )
            } else {
                Error::External(format!("running git: {e}"))
            }
        })?;
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    /// Run; an error naming the command and git's message when it fails.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let (ok, out, err) = self.try_run(args)?;
        if ok { Ok(out) } else { Err(self.failed(args, &err)) }
    }

    fn failed(&self, args: &[&str], stderr: &str) -> Error {
        let msg: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = redact(&msg[msg.len().saturating_sub(6)..].join("\n  "));
        let args: Vec<String> = args.iter().map(|a| redact(a)).collect();
        Error::External(format!("`git {}` failed in {}:\n  {tail}", args.join(" "), self.dir.display()))
    }

    /// A file's content at a conflict stage (1 base, 2 upstream, 3 the local commit being replayed).
    fn stage(&self, n: u8, path: &str) -> Result<Option<Vec<u8>>> {
        let out = self
            .command(&["show", &format!(":{n}:{path}")])
            .output()
            .map_err(|e| Error::External(format!("running git: {e}")))?;
        Ok(out.status.success().then_some(out.stdout))
    }

    fn rebase_in_progress(&self) -> bool {
        let g = self.dir.join(".git");
        g.join("rebase-merge").exists() || g.join("rebase-apply").exists() || g.join("MERGE_HEAD").exists()
    }
}

fn has_identity() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        let env = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        if env("GIT_AUTHOR_EMAIL") && env("GIT_COMMITTER_EMAIL") || env("EMAIL") {
            return true;
        }
        Command::new("git")
            .args(["config", "user.email"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.trim_ascii().is_empty())
    })
}

/// `text` with the password of every `scheme://user:password@host` URL in it replaced by `***` (a git remote may
/// carry a token; it is not printed).
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail.find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"').unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => out.push_str(&format!("{user}:***")),
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Whether the clawkeep dir is a synced repository.
pub fn is_shared_repo(files: &VaultFiles) -> bool {
    files.dir.join(".git").is_dir()
}

/// The remote's URL, if any.
pub fn remote_url(files: &VaultFiles) -> Option<String> {
    Git::new(&files.dir).run(&["remote", "get-url", "origin"]).ok().map(|s| s.trim().to_string())
}

/// What a sync did.
#[derive(Debug, Default)]
pub struct Report {
    /// The repository was created and pushed for the first time.
    pub created: bool,
    /// Local changes were committed.
    pub committed: bool,
    /// Conflicts clawkeep merged, in words.
    pub merged: Vec<String>,
    /// Secrets whose value changed here (added or rotated on another host).
    pub changed: Vec<String>,
    /// Secrets removed on another host.
    pub removed: Vec<String>,
    /// Re-encryption after the merge (secrets written concurrently with a change of the recipients).
    pub resealed: Resealed,
    /// Secrets needed re-encryption but no passphrase could be asked for.
    pub reseal_needs_passphrase: bool,
    /// Whether this host's recipient is among the members.
    pub member: bool,
    /// Whether this host was removed (it is in `removed` and not a member).
    pub removed_here: bool,
}

fn stage_and_commit(git: &Git, files: &VaultFiles, message: &str) -> Result<bool> {
    let present: Vec<&str> = SHARED.iter().copied().filter(|p| files.dir.join(p).exists()).collect();
    let mut args = vec!["add", "-A", "--"];
    args.extend(present);
    git.run(&args)?;
    if git.run(&["status", "--porcelain", "--untracked-files=no"])?.trim().is_empty() {
        return Ok(false);
    }
    git.run(&["commit", "-q", "--no-verify", "-m", message])?;
    Ok(true)
}

fn write_layout(files: &VaultFiles) -> Result<()> {
    crate::fs::write_atomic(&files.dir.join(".gitignore"), GITIGNORE.as_bytes())?;
    crate::fs::write_atomic(&files.dir.join(".gitattributes"), GITATTRIBUTES.as_bytes())
}

fn commit_message(vault: &Vault) -> String {
    let name = Recipients::load(&vault.files)
        .ok()
        .flatten()
        .and_then(|r| {
            let me = vault.own_recipient()?.to_string();
            r.recipients.iter().find(|m| m.recipient == me).map(|m| m.name.clone())
        })
        .unwrap_or_else(recipients::default_host_name);
    format!("clawkeep sync from {name}")
}

/// `sync --remote URL` on the first host: make the shared part of the store a repository with that remote and
/// push it. The remote must be empty (a store already there is joined with `init --join`).
pub fn create(vault: &mut Vault, url: &str, name: Option<&str>) -> Result<Report> {
    private_umask();
    let files = vault.files.clone();
    if is_shared_repo(&files) {
        return Err(Error::InvalidInput(format!(
            "{} is already a repository (remote {}); run `clawkeep sync` without --remote",
            files.dir.display(),
            remote_url(&files).unwrap_or_else(|| "(none)".into())
        )));
    }
    if vault.backend() != crate::vault::Backend::File {
        return Err(Error::InvalidInput(format!(
            "only the file store can be shared between hosts (this vault uses the {} store); move single tokens with \
             `clawkeep export --to`",
            vault.backend()
        )));
    }
    let git = Git::new(&files.dir);
    let heads = git.run(&["ls-remote", "--heads", "--", url])?;
    if !heads.trim().is_empty() {
        let shown = redact(url);
        return Err(Error::InvalidInput(format!(
            "{shown} already holds commits; join a shared store with `clawkeep init --join {shown}` on a new host, or \
             give an empty repository"
        )));
    }
    recipients::finish_pending(vault)?;
    let _lock = vault.lock()?;
    recipients::ensure_shared(vault, name)?;
    write_layout(&files)?;
    git.run(&["init", "-q", "-b", BRANCH])?;
    git.run(&["remote", "add", "origin", "--", url])?;
    let msg = commit_message(vault);
    stage_and_commit(&git, &files, &msg)?;
    git.run(&["push", "-q", "-u", "origin", BRANCH])?;
    Ok(Report { created: true, committed: true, member: true, ..Default::default() })
}

/// `sync`: commit local changes, pull (rebase), merge clawkeep's own conflicts, re-encrypt what a merge left
/// encrypted to an old list of recipients, push. Takes the vault lock for the whole run.
pub fn sync(vault: &mut Vault) -> Result<Report> {
    private_umask();
    let files = vault.files.clone();
    if !is_shared_repo(&files) {
        return Err(Error::InvalidInput(format!(
            "{} is not shared yet: run `clawkeep sync --remote <git-url>` once (with an empty repository), or \
             `clawkeep init --join <git-url>` on a new host",
            files.dir.display()
        )));
    }
    let git = Git::new(&files.dir);
    if git.rebase_in_progress() {
        return Err(Error::External(format!(
            "git is in the middle of a rebase or merge in {d} (an earlier sync stopped on a conflict clawkeep cannot \
             merge): resolve it with git (`git -C {d} status`) or give up with `git -C {d} rebase --abort`, then run \
             `clawkeep sync` again",
            d = files.dir.display()
        )));
    }
    recipients::finish_pending(vault)?;
    let _lock = vault.lock()?;
    let mut report = Report::default();
    let before = vault.index.clone();
    // The layout files may be older than this clawkeep: keep them current.
    write_layout(&files)?;
    report.committed = stage_and_commit(&git, &files, &commit_message(vault))?;
    for attempt in 0..3 {
        pull(&git, &files, &mut report)?;
        vault.reload_index()?;
        vault.reload_recipients()?;
        if vault.sealed_to().is_some() {
            let r = match recipients::reseal(vault, "sync", false) {
                // Without a passphrase here (no terminal, no CLAWKEEP_PASSPHRASE_FILE) another member, or a later
                // sync, re-encrypts them; the rest of the sync goes on.
                Err(Error::NeedsTty(_)) => {
                    report.reseal_needs_passphrase = true;
                    Resealed::default()
                }
                r => r?,
            };
            report.resealed.files += r.files;
            report.resealed.unreadable = r.unreadable;
            if r.files > 0 {
                stage_and_commit(&git, &files, &format!("{} (re-encrypted to the recipients)", commit_message(vault)))?;
            }
        }
        let (ok, _, err) = git.try_run(&["push", "-q", "origin", &format!("HEAD:{BRANCH}")])?;
        if ok {
            break;
        }
        // Someone pushed in between: pull again (at most three times).
        if attempt == 2
            || !(err.contains("fetch first") || err.contains("non-fast-forward") || err.contains("rejected"))
        {
            return Err(git.failed(&["push", "origin", BRANCH], &err));
        }
    }
    for (id, e) in &vault.index.secrets {
        if before.secrets.get(id).is_none_or(|b| b.updated != e.updated) {
            report.changed.push(id.clone());
        }
    }
    report.removed = before.secrets.keys().filter(|id| !vault.index.secrets.contains_key(*id)).cloned().collect();
    let me = vault.own_recipient().map(|r| r.to_string()).unwrap_or_default();
    if let Some(r) = Recipients::load(&files)? {
        report.member = r.recipients.iter().any(|m| m.recipient == me);
        report.removed_here = !report.member && r.removed.iter().any(|g| g.recipient == me);
    }
    Ok(report)
}

fn pull(git: &Git, files: &VaultFiles, report: &mut Report) -> Result<()> {
    let (ok, _, err) =
        git.try_run(&["-c", "rebase.autoStash=false", "pull", "-q", "--rebase", "--no-edit", "origin", BRANCH])?;
    if ok {
        return Ok(());
    }
    if !git.rebase_in_progress() {
        return Err(git.failed(&["pull", "--rebase", "origin", BRANCH], &err));
    }
    // Conflicts: merge clawkeep's own files, continue; stop on anything else.
    for _ in 0..1000 {
        let unmerged: Vec<String> = git
            .run(&["diff", "--name-only", "--diff-filter=U", "-z"])?
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if unmerged.is_empty() && !git.rebase_in_progress() {
            return Ok(());
        }
        let foreign: Vec<&String> = unmerged.iter().filter(|p| !ours(p)).collect();
        if !foreign.is_empty() || unmerged.is_empty() {
            let what = if foreign.is_empty() {
                "git stopped the rebase".to_string()
            } else {
                format!("{} conflict(s) clawkeep does not merge: {}", foreign.len(), list_paths(&foreign))
            };
            return Err(Error::External(format!(
                "{what}. The repository in {d} is left as git left it (a rebase in progress): resolve it with git \
                 (`git -C {d} status`, then `git -C {d} rebase --continue`) or give up with `git -C {d} rebase \
                 --abort`; then run `clawkeep sync` again",
                d = files.dir.display()
            )));
        }
        resolve(git, files, &unmerged, report)?;
        let (ok, _, err) = git.try_run(&["rebase", "--continue"])?;
        if ok && !git.rebase_in_progress() {
            return Ok(());
        }
        if !ok && !git.rebase_in_progress() {
            return Err(git.failed(&["rebase", "--continue"], &err));
        }
    }
    Err(Error::Internal("the rebase did not finish".into()))
}

fn list_paths(paths: &[&String]) -> String {
    paths.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
}

/// Paths whose conflicts clawkeep merges.
fn ours(path: &str) -> bool {
    path == "index.json"
        || path == "recipients.json"
        || path.strip_prefix("secrets/").and_then(|s| s.strip_suffix(".age")).is_some_and(|s| !s.contains('/'))
}

fn parse_index(bytes: Option<Vec<u8>>, what: &str) -> Result<Option<Index>> {
    let Some(b) = bytes else { return Ok(None) };
    let p = PathBuf::from(format!("index.json ({what})"));
    let v: serde_json::Value = serde_json::from_slice(&b).map_err(|e| Error::json(&p, &e))?;
    serde_json::from_value(v).map(Some).map_err(|e| Error::InvalidField {
        path: p,
        field: "secrets".into(),
        message: e.to_string(),
    })
}

fn parse_recipients(bytes: Option<Vec<u8>>, what: &str) -> Result<Option<Recipients>> {
    let Some(b) = bytes else { return Ok(None) };
    Recipients::parse(&b, Path::new(&format!("recipients.json ({what})"))).map(Some)
}

/// Resolve one round of conflicts in clawkeep's files.
fn resolve(git: &Git, files: &VaultFiles, unmerged: &[String], report: &mut Report) -> Result<()> {
    // Stage 2 is upstream (what others pushed), stage 3 this host's commit being replayed.
    let index_base = parse_index(git.stage(1, "index.json")?, "base")?;
    let index_up = parse_index(git.stage(2, "index.json")?, "pulled")?;
    let index_local = parse_index(git.stage(3, "index.json")?, "local")?;
    let index_conflict = unmerged.iter().any(|p| p == "index.json");
    let merged_index = if index_conflict {
        let (m, notes) = merge_index(index_base.as_ref(), index_up.as_ref(), index_local.as_ref());
        report.merged.extend(notes);
        crate::fs::write_json(&files.index, &m)?;
        git.run(&["add", "--", "index.json"])?;
        Some(m)
    } else {
        Index::load(&files.index)?
    };
    if unmerged.iter().any(|p| p == "recipients.json") {
        let m = merge_recipients(
            parse_recipients(git.stage(1, "recipients.json")?, "base")?.as_ref(),
            parse_recipients(git.stage(2, "recipients.json")?, "pulled")?.as_ref(),
            parse_recipients(git.stage(3, "recipients.json")?, "local")?.as_ref(),
        );
        report.merged.push("recipients.json: both lists' changes kept".into());
        m.save(files)?;
        git.run(&["add", "--", "recipients.json"])?;
    }
    for path in unmerged.iter().filter(|p| p.starts_with("secrets/")) {
        let stem = path.trim_start_matches("secrets/").trim_end_matches(".age");
        let id = SecretId::from_file_stem(stem);
        let entry = |i: &Option<Index>| -> Option<IndexEntry> {
            i.as_ref().and_then(|i| i.secrets.get(id.as_ref()?.as_str()).cloned())
        };
        let merged = merged_index.as_ref().and_then(|i| i.secrets.get(id.as_ref()?.as_str()).cloned());
        let (up, local) = (git.stage(2, path)?, git.stage(3, path)?);
        // The file of the side whose index entry won; a secret is never dropped for a deletion on the other side.
        let pick = match &merged {
            Some(m) if local.is_some() && entry(&index_local).as_ref() == Some(m) => local,
            Some(m) if up.is_some() && entry(&index_up).as_ref() == Some(m) => up,
            _ => local.or(up),
        };
        let full = files.dir.join(path);
        match pick {
            Some(bytes) => {
                crate::fs::write_atomic(&full, &bytes)?;
                git.run(&["add", "--", path])?;
            }
            None => {
                git.run(&["rm", "-q", "--cached", "--ignore-unmatch", "--", path])?;
                let _ = std::fs::remove_file(&full);
            }
        }
    }
    Ok(())
}

/// Three-way merge of two index versions. Entries changed on one side only take that side; entries changed on
/// both take the later `updated` (a secret deleted on one side and changed on the other is kept). Returns the
/// merged index and notes for the user.
pub fn merge_index(base: Option<&Index>, up: Option<&Index>, local: Option<&Index>) -> (Index, Vec<String>) {
    let empty = Index::default();
    let (b, u, l) = (base.unwrap_or(&empty), up.unwrap_or(&empty), local.unwrap_or(&empty));
    let mut out = Index { version: 1, secrets: BTreeMap::new(), extra: u.extra.clone() };
    for (k, v) in &l.extra {
        out.extra.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let mut notes = Vec::new();
    let keys: BTreeSet<&String> = b.secrets.keys().chain(u.secrets.keys()).chain(l.secrets.keys()).collect();
    for k in keys {
        let (be, ue, le) = (b.secrets.get(k), u.secrets.get(k), l.secrets.get(k));
        let pick = if ue == le {
            ue
        } else if be == ue {
            // Only this host changed it (or deleted it).
            le
        } else if be == le {
            ue
        } else {
            match (ue, le) {
                (Some(x), Some(y)) => {
                    notes.push(format!("{k}: changed on two hosts; the later value is kept"));
                    if y.updated >= x.updated { Some(y) } else { Some(x) }
                }
                (x, y) => x.or(y),
            }
        };
        if let Some(e) = pick {
            out.secrets.insert(k.clone(), e.clone());
        }
    }
    let added_both = u.secrets.keys().filter(|k| !b.secrets.contains_key(*k)).count() > 0
        && l.secrets.keys().filter(|k| !b.secrets.contains_key(*k)).count() > 0;
    if added_both {
        notes.push("index.json: secrets added on two hosts, all kept".into());
    }
    (out, notes)
}

/// Three-way merge of two recipient lists: a host added on either side is kept, a host removed on either side is
/// removed (and its removal record kept), unless the other side added it anew.
pub fn merge_recipients(base: Option<&Recipients>, up: Option<&Recipients>, local: Option<&Recipients>) -> Recipients {
    let empty = Recipients::default();
    let (b, u, l) = (base.unwrap_or(&empty), up.unwrap_or(&empty), local.unwrap_or(&empty));
    let has = |r: &Recipients, x: &str| r.recipients.iter().any(|m| m.recipient == x);
    let mut out = Recipients::default();
    for m in u.recipients.iter().chain(&l.recipients) {
        if out.recipients.iter().any(|o| o.recipient == m.recipient) {
            continue;
        }
        let (in_b, in_u, in_l) = (has(b, &m.recipient), has(u, &m.recipient), has(l, &m.recipient));
        if (in_u && in_l) || !in_b {
            out.recipients.push(m.clone());
        }
    }
    for g in u.removed.iter().chain(&l.removed) {
        if out.recipients.iter().any(|m| m.recipient == g.recipient) {
            continue;
        }
        match out.removed.iter_mut().find(|o| o.recipient == g.recipient) {
            Some(o) if g.removed > o.removed => *o = g.clone(),
            Some(_) => {}
            None => out.removed.push(g.clone()),
        }
    }
    out
}

/// What `init --join` did.
pub struct Joined {
    /// This host's new recipient.
    pub recipient: String,
    /// The name to list it under.
    pub name: String,
}

/// `init --join URL`: clone the shared store into the clawkeep dir and give this host its own identity (wrapped
/// under `passphrase`). This host reads nothing until a member adds its recipient and syncs.
pub fn join(paths: &Paths, url: &str, name: Option<&str>, passphrase: &crate::secret::SecretString) -> Result<Joined> {
    private_umask();
    let files = VaultFiles::new(paths);
    let name = name.map(String::from).unwrap_or_else(recipients::default_host_name);
    recipients::check_name(&name)?;
    if files.config.exists() {
        return Err(Error::AlreadyInitialized(files.dir.clone()));
    }
    let existed = files.dir.exists();
    if existed && std::fs::read_dir(&files.dir).map_err(|e| Error::io(&files.dir, "listing", e))?.next().is_some() {
        return Err(Error::InvalidInput(format!(
            "{} exists and is not empty; `init --join` clones the shared store into it (set CLAWKEEP_DIR elsewhere, \
             or move it aside)",
            files.dir.display()
        )));
    }
    // A missing parent (a fresh `~/.openclaw`) is made private; an existing one is left as it is, as `init` does.
    if let Some(parent) = files.dir.parent()
        && !parent.exists()
    {
        crate::fs::ensure_private_dir(parent)?;
    }
    let parent = files.dir.parent().unwrap_or(Path::new("/"));
    let git = Git::new(parent);
    let target = files.dir.to_string_lossy().into_owned();
    let undo = |e: Error| {
        if !existed {
            let _ = std::fs::remove_dir_all(&files.dir);
        } else if let Ok(rd) = std::fs::read_dir(&files.dir) {
            for x in rd.flatten() {
                let _ =
                    if x.path().is_dir() { std::fs::remove_dir_all(x.path()) } else { std::fs::remove_file(x.path()) };
            }
        }
        e
    };
    git.run(&["clone", "-q", "--branch", BRANCH, "--", url, &target]).map_err(undo)?;
    let shown = redact(url);
    let url = &shown;
    let check = || -> Result<()> {
        crate::fs::check_dir(&files.dir)?;
        let shared = Recipients::load(&files)?.is_some_and(|r| !r.recipients.is_empty());
        if !files.config.exists() || !files.index.exists() || !shared {
            return Err(Error::InvalidInput(format!(
                "{url} does not hold a shared clawkeep store (vault.json, index.json and recipients.json); the first \
                 host makes one with `clawkeep sync --remote {url}`"
            )));
        }
        let cfg: crate::vault::VaultConfig = serde_json::from_slice(
            &crate::fs::read_optional(&files.config)?.ok_or_else(|| Error::NotInitialized(files.dir.clone()))?,
        )
        .map_err(|e| Error::json(&files.config, &e))?;
        if cfg.backend != crate::vault::Backend::File {
            return Err(Error::InvalidInput(format!("{url}: the shared store is not a file store")));
        }
        if files.identity.exists() {
            return Err(Error::InvalidInput(format!(
                "{url} holds an identity.json: a host's wrapped identity must never be shared; remove it from that \
                 repository's history before joining"
            )));
        }
        crate::fs::ensure_private_dir(&files.secrets)
    };
    check().map_err(undo)?;
    let (wrapped, identity) = crate::vault::identity::WrappedIdentity::generate(passphrase).map_err(undo)?;
    let recipient = identity.to_public().to_string();
    drop(identity);
    crate::fs::write_json(&files.identity, &wrapped).map_err(undo)?;
    Ok(Joined { recipient, name })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::{Backend, EntryKind};

    fn entry(updated: i64) -> IndexEntry {
        IndexEntry {
            store: Backend::File,
            kind: EntryKind::Profile,
            agent: Some("main".into()),
            profile_id: None,
            provider: None,
            cred_type: None,
            expires: None,
            email: None,
            created: 1,
            updated,
            extra: Default::default(),
        }
    }

    fn index(items: &[(&str, i64)]) -> Index {
        let mut i = Index::default();
        for (k, u) in items {
            i.secrets.insert(k.to_string(), entry(*u));
        }
        i
    }

    #[test]
    fn index_merge_keeps_both_sides_additions_and_the_later_change() {
        let base = index(&[("main/a", 1), ("main/b", 1), ("main/gone", 1)]);
        let up = index(&[("main/a", 5), ("main/b", 1), ("main/up", 2)]);
        let local = index(&[("main/a", 7), ("main/b", 3), ("main/gone", 1), ("main/local", 2)]);
        let (m, _) = merge_index(Some(&base), Some(&up), Some(&local));
        let got: Vec<(&str, i64)> = m.secrets.iter().map(|(k, e)| (k.as_str(), e.updated)).collect();
        // `gone` was deleted upstream and untouched here: deleted. Both additions kept; later change wins.
        assert_eq!(got, vec![("main/a", 7), ("main/b", 3), ("main/local", 2), ("main/up", 2)]);
        // Deleted on one side, changed on the other: kept.
        let local = index(&[("main/gone", 9)]);
        let (m, _) = merge_index(Some(&base), Some(&index(&[])), Some(&local));
        assert!(m.secrets.contains_key("main/gone"));
    }

    #[test]
    fn url_passwords_are_redacted() {
        assert_eq!(
            redact("fatal: unable to access 'https://me:ghp_TOKEN@example.com/x.git/': denied"),
            "fatal: unable to access 'https://me:***@example.com/x.git/': denied"
        );
        assert_eq!(redact("git@example.com:me/x.git file:///tmp/x"), "git@example.com:me/x.git file:///tmp/x");
        assert_eq!(redact("ssh://git@example.com/x"), "ssh://git@example.com/x");
    }

    #[test]
    fn recipient_merge_keeps_additions_and_removals_of_both_sides() {
        let m = |n: &str| recipients::Member { name: n.into(), recipient: format!("age1{n}"), added: 1 };
        let list = |ms: &[&str]| Recipients { recipients: ms.iter().map(|n| m(n)).collect(), ..Default::default() };
        let base = list(&["a", "b", "c"]);
        let up = list(&["a", "b", "d"]); // removed c, added d
        let local = list(&["a", "b", "c", "e"]); // added e
        let out = merge_recipients(Some(&base), Some(&up), Some(&local));
        let names: Vec<&str> = out.recipients.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, vec!["a", "b", "d", "e"]);
    }
}
