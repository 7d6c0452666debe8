//! Everything that reads from the user: secrets (TTY without echo, or stdin), passphrases
//! (`CLAWKEEP_PASSPHRASE_FILE`, then the TTY), confirmations. Nothing below `cli/` prompts.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clawkeep::secret::{self, ExposeSecret, SecretString};
use clawkeep::vault::PassphraseFn;
use clawkeep::{Error, Result};

/// Env var naming a 0600 file that holds the passphrase.
pub const PASSPHRASE_FILE: &str = "CLAWKEEP_PASSPHRASE_FILE";
/// Env var naming a 0600 file that holds the new passphrase for `passwd`.
pub const NEW_PASSPHRASE_FILE: &str = "CLAWKEEP_NEW_PASSPHRASE_FILE";
/// Shortest passphrase accepted for a new file store.
pub const MIN_PASSPHRASE: usize = 8;

static NO_PROMPTS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Never prompt in this process (`onboard --non-interactive`): passphrases come from their files, secrets from a
/// piped stdin, and a terminal on stdin is refused instead of read.
pub fn forbid_prompts() {
    NO_PROMPTS.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether we may prompt: stdin is a terminal and prompts are not forbidden.
pub fn interactive() -> bool {
    !NO_PROMPTS.load(std::sync::atomic::Ordering::Relaxed) && std::io::stdin().is_terminal()
}

/// Read a secret: prompt without echo on a TTY, else all of stdin. Whitespace is stripped.
pub fn read_secret(prompt: &str) -> Result<SecretString> {
    if interactive() {
        let raw = zeroize::Zeroizing::new(
            rpassword::prompt_password(prompt).map_err(|e| Error::io("/dev/tty", "reading a secret from", e))?,
        );
        return secret::normalize(&raw);
    }
    if std::io::stdin().is_terminal() {
        return Err(Error::NeedsTty(
            "--non-interactive reads the secret from stdin, which is a terminal here; pipe it in instead".into(),
        ));
    }
    let mut raw = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin()
        .take(secret::MAX_SECRET_LEN as u64 * 4 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| Error::io("<stdin>", "reading", e))?;
    let text =
        std::str::from_utf8(&raw).map_err(|_| Error::InvalidInput("the secret on stdin is not UTF-8 text".into()))?;
    secret::normalize(text)
}

fn read_passphrase_file(var: &str) -> Result<Option<SecretString>> {
    let Some(path) = std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from) else { return Ok(None) };
    clawkeep::fs::check_file(&path, true)?;
    let bytes = clawkeep::fs::read_optional(&path)?
        .ok_or_else(|| Error::NotFound(format!("{var} names {}, which does not exist", path.display())))?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| Error::InvalidInput(format!("{}: not UTF-8 text", path.display())))?;
    let text = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(text);
    if text.is_empty() {
        return Err(Error::InvalidInput(format!("{}: the passphrase file is empty", path.display())));
    }
    Ok(Some(SecretString::from(text.to_owned())))
}

/// The vault passphrase: `CLAWKEEP_PASSPHRASE_FILE`, else a prompt on the TTY.
pub fn passphrase() -> Result<SecretString> {
    if let Some(p) = read_passphrase_file(PASSPHRASE_FILE)? {
        return Ok(p);
    }
    if !interactive() {
        return Err(Error::NeedsTty(format!(
            "unlocking the file store (or set {PASSPHRASE_FILE} to a 0600 file holding the passphrase)"
        )));
    }
    let p = rpassword::prompt_password("clawkeep passphrase: ")
        .map_err(|e| Error::io("/dev/tty", "reading the passphrase from", e))?;
    Ok(SecretString::from(p))
}

/// A passphrase callback for [`clawkeep::vault::Vault::open`].
pub fn passphrase_fn() -> PassphraseFn {
    Box::new(passphrase)
}

/// A passphrase callback that never prompts (for `resolve`): `CLAWKEEP_PASSPHRASE_FILE`, else the vault stays locked.
pub fn passphrase_fn_no_prompt() -> PassphraseFn {
    Box::new(|| read_passphrase_file(PASSPHRASE_FILE)?.ok_or(Error::VaultLocked))
}

/// A new passphrase: from `var`'s file, else asked twice on the TTY.
pub fn new_passphrase(var: &str) -> Result<SecretString> {
    let p = match read_passphrase_file(var)? {
        Some(p) => p,
        None => {
            if !interactive() {
                return Err(Error::NeedsTty(format!("choosing a passphrase (or set {var} to a 0600 file holding it)")));
            }
            let a = SecretString::from(
                rpassword::prompt_password("new passphrase: ").map_err(|e| Error::io("/dev/tty", "reading", e))?,
            );
            let b = SecretString::from(
                rpassword::prompt_password("repeat passphrase: ").map_err(|e| Error::io("/dev/tty", "reading", e))?,
            );
            if !secret::same(&a, &b) {
                return Err(Error::InvalidInput("the two passphrases differ; nothing was changed".into()));
            }
            a
        }
    };
    if p.expose_secret().chars().count() < MIN_PASSPHRASE {
        return Err(Error::InvalidInput(format!("passphrase too short: use at least {MIN_PASSPHRASE} characters")));
    }
    Ok(p)
}
