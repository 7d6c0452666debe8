//! `init`, `passwd`, `get`.

use std::io::Write;

use clawkeep::error::exit;
use clawkeep::ops::init::{BackendChoice, resolve};
use clawkeep::paths::Paths;
use clawkeep::secret::ExposeSecret;
use clawkeep::vault::{Backend, Vault};
use clawkeep::{Error, Result};

use super::input;

pub fn init(paths: &Paths, choice: BackendChoice) -> Result<i32> {
    // Before any prompt: a vault, or what is left of one, is never replaced.
    Vault::check_can_create(paths)?;
    let (backend, fell_back) = resolve(choice)?;
    if let Some(reason) = fell_back {
        eprintln!("clawkeep: the OS keychain is not usable ({reason}); using the encrypted file store instead");
    }
    let pass = match backend {
        Backend::File => Some(input::new_passphrase(input::PASSPHRASE_FILE)?),
        _ => None,
    };
    Vault::init(paths, backend, pass.as_ref())?;
    println!("clawkeep vault created in {} (store: {backend})", paths.clawkeep_dir.display());
    if backend == Backend::Keyutils {
        eprintln!("note: {}", clawkeep::vault::store::keyutils_lifetime_note());
    }
    Ok(exit::OK)
}

pub fn passwd(paths: &Paths) -> Result<i32> {
    let mut vault = super::open_vault(paths)?;
    if vault.backend() != Backend::File {
        return Err(Error::InvalidInput(format!(
            "the {} backend has no clawkeep passphrase; manage it with your keychain",
            vault.backend()
        )));
    }
    vault.unlock()?;
    let new = input::new_passphrase(input::NEW_PASSPHRASE_FILE)?;
    vault.change_passphrase(&new)?;
    println!("passphrase changed");
    Ok(exit::OK)
}

pub fn get(paths: &Paths, agent: &str, profile_id: &str) -> Result<i32> {
    let vault = super::open_vault(paths)?;
    let secret = clawkeep::ops::profile::secret_of(&vault, paths, agent, profile_id);
    drop(vault);
    super::audit::handout(paths, "get", agent, profile_id, &secret)?;
    let secret = secret?;
    // The line is built on locked memory (zeroed when dropped) and written with one write(2), past std's buffer.
    // The decrypted value is dropped (zeroed) before the write, which may block: only the locked copy waits.
    let bytes = secret.expose_secret().as_bytes();
    let mut line = clawkeep::memory::SecretBuf::new(bytes.len() + 1);
    line.write_all(bytes).and_then(|()| line.write_all(b"\n")).map_err(|e| Error::io("<stdout>", "writing", e))?;
    drop(secret);
    clawkeep::memory::write_stdout(line.as_slice()).map_err(|e| Error::io("<stdout>", "writing", e))?;
    Ok(exit::OK)
}
