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
    if Vault::exists(paths) {
        return Err(Error::AlreadyInitialized(paths.clawkeep_dir.clone()));
    }
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
        eprintln!("note: the kernel keyring does not survive a reboot; secrets stored there are lost at shutdown");
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
    super::audit::handout(paths, "get", agent, profile_id, &secret)?;
    let secret = secret?;
    let mut out = std::io::stdout().lock();
    out.write_all(secret.expose_secret().as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("<stdout>", "writing", e))?;
    Ok(exit::OK)
}
