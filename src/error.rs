//! Typed errors. Every variant maps to one stable exit code (see `docs/cli.md`) and, where there is one, a
//! suggested fix. User-facing wording lives here and nowhere else. No variant ever carries secret material.

use std::path::PathBuf;

/// Stable process exit codes, documented in `docs/cli.md`.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// A check found problems (`models status --check`: expired or missing; `doctor`: findings remain).
    pub const CHECK_FAILED: i32 = 1;
    /// `models status --check`: a token expires within 24 h.
    pub const CHECK_EXPIRING: i32 = 2;
    /// Bad command line (unknown flag, missing argument).
    pub const USAGE: i32 = 64;
    /// Bad input data: malformed JSON, wrong token format, empty input, invalid id or duration.
    pub const INVALID_INPUT: i32 = 65;
    /// A profile, secret, backup or file that was asked for does not exist.
    pub const NOT_FOUND: i32 = 66;
    /// The profile id already exists (use `--force`).
    pub const ALREADY_EXISTS: i32 = 67;
    /// No vault here yet (`clawkeep init`).
    pub const NOT_INITIALIZED: i32 = 68;
    /// The OS keychain cannot be reached: no D-Bus session, no Secret Service, or it timed out.
    pub const KEYCHAIN_UNAVAILABLE: i32 = 69;
    /// A bug in clawkeep.
    pub const INTERNAL: i32 = 70;
    /// Reading or writing a file failed; the original is left intact.
    pub const IO: i32 = 74;
    /// The keychain is locked, or the file store is locked in the vault service.
    pub const KEYCHAIN_LOCKED: i32 = 75;
    /// An encrypted file or the vault's own metadata is corrupted or truncated.
    pub const CORRUPT: i32 = 76;
    /// A file or directory is a symlink, hard-linked, group/world-writable or owned by someone else.
    pub const INSECURE: i32 = 77;
    /// The command needs an interactive terminal and there is none.
    pub const NEEDS_TTY: i32 = 78;
    /// Wrong passphrase for the file store.
    pub const WRONG_PASSPHRASE: i32 = 79;
    /// A required external program (e.g. `claude`) is missing or failed.
    pub const EXTERNAL: i32 = 80;
    /// The vault service is not running, refused the request, or failed mid-request.
    pub const SERVICE: i32 = 81;
    /// The access log could not be written, so the hand-out or change was refused (`audit.json` can make this a
    /// warning).
    pub const AUDIT: i32 = 82;
}

/// Why the OS keychain could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeychainProblem {
    /// No D-Bus session bus to talk to.
    NoDbus,
    /// D-Bus works but nothing provides `org.freedesktop.secrets`.
    NoSecretService,
    /// The keyring exists but is locked.
    Locked,
    /// The keychain did not answer in time.
    Timeout(u64),
    /// Any other platform failure (message from the platform, never a secret).
    Other(String),
}

/// Every error clawkeep can report. The `#[error]` text of each variant is its documentation.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)]
pub enum Error {
    #[error("{path}: malformed JSON at line {line}, column {column}: {message}")]
    MalformedJson { path: PathBuf, line: usize, column: usize, message: String },
    #[error("{path}: unsupported {field} {found} (clawkeep understands {expected})")]
    UnknownVersion { path: PathBuf, field: &'static str, found: String, expected: &'static str },
    #[error("{path}: field `{field}`: {message}")]
    InvalidField { path: PathBuf, field: String, message: String },
    #[error("{0}")]
    InvalidInput(String),
    #[error("profile `{profile}` not found for agent `{agent}`")]
    UnknownProfile { agent: String, profile: String },
    #[error("no secret stored for `{0}`")]
    SecretMissing(String),
    #[error("{0}")]
    NotFound(String),
    #[error("profile `{profile}` already exists for agent `{agent}`")]
    DuplicateProfile { agent: String, profile: String },
    #[error(
        "the {backend} store already holds a secret for `{id}` under this vault's name, but the vault's index does not list it (an interrupted `add`, or a lost index)"
    )]
    UnindexedSecret { backend: String, id: String },
    #[error("no clawkeep vault in {0}")]
    NotInitialized(PathBuf),
    #[error("a clawkeep vault already exists in {0}")]
    AlreadyInitialized(PathBuf),
    #[error(
        "{dir} holds a clawkeep vault whose vault.json is missing ({found}); a new vault would make its secrets undecryptable"
    )]
    VaultWithoutConfig { dir: PathBuf, found: String },
    #[error("{}", keychain_message(.0))]
    Keychain(KeychainProblem),
    #[error("wrong passphrase for the file store")]
    WrongPassphrase,
    #[error("{path}: {what} is corrupted or truncated")]
    Corrupt { path: PathBuf, what: String },
    #[error("{path}: larger than {limit} bytes, more than any file clawkeep or OpenClaw writes")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{path}: this file holds the secret of {found}, not of `{expected}` (it was swapped, renamed or copied)")]
    WrongSecretFile { path: PathBuf, expected: String, found: String },
    #[error("{path}: {problem}")]
    Insecure { path: PathBuf, problem: String, fix: String },
    #[error("{0} needs an interactive terminal, and there is none")]
    NeedsTty(String),
    #[error("{0}")]
    External(String),
    #[error("{path}: {action} failed: {source}")]
    Io { path: PathBuf, action: &'static str, source: std::io::Error },
    #[error("{0}")]
    Service(String),
    #[error("refused: the access log cannot be written: {0}")]
    Audit(String),
    #[error("the file store is locked (the vault service holds no passphrase)")]
    VaultLocked,
    #[error("internal error: {0}")]
    Internal(String),
}

fn keychain_message(p: &KeychainProblem) -> String {
    match p {
        KeychainProblem::NoDbus => "OS keychain unavailable: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset \
             and there is no $XDG_RUNTIME_DIR/bus)"
            .into(),
        KeychainProblem::NoSecretService => {
            "OS keychain unavailable: D-Bus is running but no Secret Service (org.freedesktop.secrets) answers".into()
        }
        KeychainProblem::Locked => "OS keychain is locked".into(),
        KeychainProblem::Timeout(ms) => format!("OS keychain did not answer within {ms} ms"),
        KeychainProblem::Other(m) => format!("OS keychain error: {m}"),
    }
}

impl Error {
    /// The stable exit code for this error (`docs/cli.md`).
    pub fn exit_code(&self) -> i32 {
        use Error::*;
        match self {
            MalformedJson { .. } | UnknownVersion { .. } | InvalidField { .. } | InvalidInput(_) => exit::INVALID_INPUT,
            UnknownProfile { .. } | SecretMissing(_) | NotFound(_) => exit::NOT_FOUND,
            DuplicateProfile { .. } | UnindexedSecret { .. } | AlreadyInitialized(_) | VaultWithoutConfig { .. } => {
                exit::ALREADY_EXISTS
            }
            NotInitialized(_) => exit::NOT_INITIALIZED,
            Keychain(KeychainProblem::Locked) | VaultLocked => exit::KEYCHAIN_LOCKED,
            Keychain(_) => exit::KEYCHAIN_UNAVAILABLE,
            WrongPassphrase => exit::WRONG_PASSPHRASE,
            Corrupt { .. } | TooLarge { .. } | WrongSecretFile { .. } => exit::CORRUPT,
            Insecure { .. } => exit::INSECURE,
            NeedsTty(_) => exit::NEEDS_TTY,
            External(_) => exit::EXTERNAL,
            Io { .. } => exit::IO,
            Service(_) => exit::SERVICE,
            Audit(_) => exit::AUDIT,
            Internal(_) => exit::INTERNAL,
        }
    }

    /// A suggested fix, printed after the message.
    pub fn hint(&self) -> Option<String> {
        use Error::*;
        Some(match self {
            MalformedJson { .. } | UnknownVersion { .. } | InvalidField { .. } => {
                "clawkeep left the file untouched; fix it by hand (or restore it) and run the command again".into()
            }
            UnknownProfile { .. } => "list profiles with `clawkeep models auth list`".into(),
            SecretMissing(_) => "store it again with `clawkeep models auth add`/`paste-token --force`, or run `clawkeep doctor`".into(),
            DuplicateProfile { .. } => "pass --force to replace it, or choose another --profile-id".into(),
            UnindexedSecret { .. } => {
                "`clawkeep doctor` names it (`doctor --fix` lists it again when a profile refers to it); pass --force to \
                 replace it, or choose another --profile-id"
                    .into()
            }
            NotInitialized(_) => "create one with `clawkeep init` (or `clawkeep onboard`)".into(),
            AlreadyInitialized(_) => {
                "the vault holds your secrets: keep it (`clawkeep passwd` changes the passphrase, `clawkeep doctor` \
                 checks it)"
                    .into()
            }
            VaultWithoutConfig { .. } => "`clawkeep doctor --fix` rebuilds vault.json from the files that are there".into(),
            Keychain(KeychainProblem::NoDbus) => {
                "on a headless host use the encrypted file store (`clawkeep init --backend file`) or the kernel keyring \
                 (`--backend keyutils`), or start a session bus (`dbus-run-session`)"
                    .into()
            }
            Keychain(KeychainProblem::NoSecretService) => {
                "install and start a Secret Service (e.g. gnome-keyring-daemon --components=secrets), or use \
                 `clawkeep init --backend file`"
                    .into()
            }
            Keychain(KeychainProblem::Locked) => {
                "unlock your login keyring (e.g. `echo -n PASS | gnome-keyring-daemon --unlock`) and try again".into()
            }
            Keychain(KeychainProblem::Timeout(_)) => {
                "the Secret Service may be waiting for a prompt nobody can see; unlock it from the desktop session, or \
                 use `--backend file` on headless hosts"
                    .into()
            }
            Keychain(KeychainProblem::Other(_)) => "run `clawkeep doctor` for details".into(),
            WrongPassphrase => "nothing was changed; check CLAWKEEP_PASSPHRASE_FILE or retype the passphrase".into(),
            Corrupt { .. } => "restore the file from a backup, or remove the profile and store the secret again".into(),
            TooLarge { .. } => "check that the path names the file you meant; nothing was read or changed".into(),
            WrongSecretFile { .. } => {
                "nothing was handed out; restore the right file from a backup, or store the secret again (e.g. \
                 `clawkeep models auth add --force`)"
                    .into()
            }
            Insecure { fix, .. } => fix.clone(),
            VaultLocked => "run `clawkeep unlock` (or start the service with `clawkeep serve --unlock`)".into(),
            Audit(_) => "free space or fix the access log's permissions (`clawkeep doctor`), or set \"onFailure\": \"warn\" in \
                 <clawkeep dir>/audit.json to log a warning instead of refusing"
                .into(),
            Service(_) => "check the service with `clawkeep status`; start it with `clawkeep serve`".into(),
            NeedsTty(_) => "run it in a terminal, or use the non-interactive form described in `--help`".into(),
            _ => return None,
        })
    }

    /// A short stable name for the access log's `outcome` (one per exit code).
    pub fn code_name(&self) -> &'static str {
        match self.exit_code() {
            exit::INVALID_INPUT => "INVALID_INPUT",
            exit::NOT_FOUND => "NOT_FOUND",
            exit::ALREADY_EXISTS => "ALREADY_EXISTS",
            exit::NOT_INITIALIZED => "NOT_INITIALIZED",
            exit::KEYCHAIN_UNAVAILABLE => "KEYCHAIN_UNAVAILABLE",
            exit::IO => "IO",
            exit::KEYCHAIN_LOCKED => "LOCKED",
            exit::CORRUPT => "CORRUPT",
            exit::INSECURE => "INSECURE",
            exit::NEEDS_TTY => "NEEDS_TTY",
            exit::WRONG_PASSPHRASE => "WRONG_PASSPHRASE",
            exit::EXTERNAL => "EXTERNAL",
            exit::SERVICE => "SERVICE",
            exit::AUDIT => "AUDIT",
            _ => "INTERNAL",
        }
    }

    /// Shorthand for an I/O error on a path.
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), action, source }
    }

    /// `Ok` when a file's `version` field (`found`) is the number 1, else [`Error::UnknownVersion`] naming what was
    /// found (or that it is missing).
    pub fn check_version_1(path: &std::path::Path, found: Option<&serde_json::Value>) -> Result<()> {
        match found {
            Some(serde_json::Value::Number(n)) if n.as_u64() == Some(1) => Ok(()),
            other => Err(Error::UnknownVersion {
                path: path.into(),
                field: "version",
                found: other.map(|v| v.to_string()).unwrap_or_else(|| "(missing)".into()),
                expected: "1",
            }),
        }
    }

    /// A JSON parse error on `path`, with line and column.
    pub fn json(path: impl Into<PathBuf>, e: &serde_json::Error) -> Self {
        Error::MalformedJson { path: path.into(), line: e.line(), column: e.column(), message: strip_position(e) }
    }
}

fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
