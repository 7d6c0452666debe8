//! `onboard`: a wizard on a TTY (store, init, keys for common providers, migrate), or the same steps from flags.

use clap::Args;
use dialoguer::{Confirm, Select};

use clawkeep::error::exit;
use clawkeep::openclaw::CredType;
use clawkeep::ops::init::{BackendChoice, resolve};
use clawkeep::ops::migrate;
use clawkeep::ops::profile::{self, NewCredential};
use clawkeep::paths::Paths;
use clawkeep::vault::{Backend, Vault};
use clawkeep::{Error, Result};

use super::{AgentArg, input};

#[derive(Args)]
pub struct OnboardArgs {
    /// Never prompt; take every answer from flags (secrets from stdin).
    #[arg(long)]
    non_interactive: bool,
    /// Store to create when there is no vault yet.
    #[arg(long, value_enum)]
    backend: Option<BackendChoice>,
    /// Store one credential for this provider (read from stdin, or prompted on a TTY).
    #[arg(long)]
    provider: Option<String>,
    /// Type of that credential.
    #[arg(long = "type", value_enum, default_value = "api_key")]
    cred_type: CredType,
    /// Move plaintext credentials into the vault.
    #[arg(long)]
    migrate: bool,
    #[command(flatten)]
    agent: AgentArg,
}

const WIZARD_PROVIDERS: [(&str, CredType, &str); 4] = [
    ("anthropic", CredType::ApiKey, "an Anthropic API key (sk-ant-api…)"),
    ("anthropic", CredType::Token, "an Anthropic setup-token (sk-ant-oat01-…)"),
    ("openai", CredType::ApiKey, "an OpenAI API key"),
    ("openrouter", CredType::ApiKey, "an OpenRouter API key"),
];

fn ask(e: dialoguer::Error) -> Error {
    Error::io("/dev/tty", "prompting on", std::io::Error::other(e.to_string()))
}

pub fn run(paths: &Paths, a: OnboardArgs) -> Result<i32> {
    let agent = a.agent.id()?;
    if a.non_interactive {
        input::forbid_prompts();
    }
    let wizard = input::interactive();
    // 1. The store.
    if !Vault::exists(paths) {
        // What is left of a vault (vault.json lost) is never replaced by a new one.
        Vault::check_can_create(paths)?;
        let choice = match (a.backend, wizard) {
            (Some(b), _) => b,
            (None, true) => {
                let items = [
                    "auto (OS keychain if it works, else encrypted file)",
                    "OS keychain",
                    "kernel keyring (memory only: lost at reboot, dropped days after last use; keep another copy)",
                    "encrypted file (passphrase)",
                ];
                match Select::new()
                    .with_prompt("Where should clawkeep keep secrets?")
                    .items(items)
                    .default(0)
                    .interact()
                    .map_err(ask)?
                {
                    0 => BackendChoice::Auto,
                    1 => BackendChoice::Keychain,
                    2 => BackendChoice::Keyutils,
                    _ => BackendChoice::File,
                }
            }
            (None, false) => BackendChoice::Auto,
        };
        let (backend, fell_back) = resolve(choice)?;
        if let Some(reason) = fell_back {
            eprintln!("clawkeep: the OS keychain is not usable ({reason}); using the encrypted file store instead");
        }
        let pass = if backend == Backend::File { Some(input::new_passphrase(input::PASSPHRASE_FILE)?) } else { None };
        Vault::init(paths, backend, pass.as_ref())?;
        println!("created the vault in {} (store: {backend})", paths.clawkeep_dir.display());
        if backend == Backend::Keyutils {
            eprintln!("note: {}", clawkeep::vault::store::keyutils_lifetime_note());
        }
    } else {
        println!("using the existing vault in {}", paths.clawkeep_dir.display());
    }
    let mut vault = super::open_vault(paths)?;

    // 2. Credentials: per provider, ask, then read the secret at once (a key pasted right after "y" is read as the
    // key, not eaten by the next question). Questions need Enter.
    let mut stored = 0;
    let mut store_one = |provider: String, kind: CredType, secret| -> Result<()> {
        let name = if kind == CredType::Token { "manual" } else { "default" };
        let profile_id = format!("{provider}:{name}");
        profile::check_shape(&provider, kind, &secret)?;
        let summary = clawkeep::secret::describe(&secret);
        let added = profile::add(
            &mut vault,
            paths,
            NewCredential {
                agent: agent.clone(),
                provider,
                profile_id,
                kind,
                secret,
                expires: None,
                email: None,
                force: false,
            },
        )?;
        println!("stored {} in the {} store ({} {summary})", added.profile_id, added.store, kind.as_str());
        stored += 1;
        Ok(())
    };
    if let Some(p) = &a.provider {
        let secret = input::read_secret(&format!("Paste {p} {}: ", a.cred_type.as_str()))?;
        store_one(p.clone(), a.cred_type, secret)?;
    } else if wizard {
        for (p, t, what) in WIZARD_PROVIDERS {
            let yes = Confirm::new()
                .with_prompt(format!("Add {what}?"))
                .default(false)
                .wait_for_newline(true)
                .interact()
                .map_err(ask)?;
            if !yes {
                continue;
            }
            let secret = input::read_secret(&format!("Paste {what}: "))?;
            // A key that is refused (wrong shape, already stored) is reported; the wizard goes on.
            if let Err(e) = store_one(p.into(), t, secret) {
                eprintln!("clawkeep: not stored: {e}");
                if let Some(h) = e.hint() {
                    eprintln!("  hint: {h}");
                }
            }
        }
    }

    // 3. Plaintext left in OpenClaw's files.
    let plan = migrate::migrate(&mut vault, paths, std::slice::from_ref(&agent), true)?;
    let movable = plan.items.iter().filter(|i| i.action == "would-move").count();
    let do_migrate = movable > 0
        && (a.migrate
            || (wizard
                && Confirm::new()
                    .with_prompt(format!(
                        "Move {movable} plaintext credential(s) from OpenClaw's files into the vault?"
                    ))
                    .default(true)
                    .wait_for_newline(true)
                    .interact()
                    .map_err(ask)?));
    if do_migrate {
        migrate::migrate(&mut vault, paths, std::slice::from_ref(&agent), false)?;
        println!("migrated {movable} credential(s); `clawkeep migrate --undo` restores the old files");
    } else if movable > 0 {
        println!("{movable} plaintext credential(s) remain; run `clawkeep migrate` to move them");
    }
    if (stored > 0 || do_migrate) && paths.sqlite_layout(&agent) {
        super::import_hint(&agent);
    }
    println!("next: `clawkeep models status` and `clawkeep doctor`");
    Ok(exit::OK)
}
