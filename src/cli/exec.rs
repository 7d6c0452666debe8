//! `exec`: run a command with secrets in its environment under the provider's usual variable names, replacing
//! the clawkeep process (execve) so no copy stays behind in a parent.

use std::os::unix::process::CommandExt;

use clawkeep::openclaw::dotenv::{env_for_provider, valid_env_name};
use clawkeep::ops::profile::list;
use clawkeep::ops::select::Want;
use clawkeep::paths::Paths;
use clawkeep::protocol::wire::{Request, WireError};
use clawkeep::secret::{ExposeSecret, SecretId, SecretString};
use clawkeep::{Error, Result};

#[derive(clap::Args)]
pub struct ExecArgs {
    /// A profile to expose: `anthropic:work` (under its provider's variable, e.g. ANTHROPIC_API_KEY) or
    /// `anthropic:work=MY_VAR`. Repeatable.
    #[arg(long = "profile", value_name = "ID[=ENV]")]
    profiles: Vec<String>,
    /// A provider whose next API-key profile (OpenClaw's selection rules) is exposed under its usual variable.
    /// Repeatable.
    #[arg(long = "provider")]
    providers: Vec<String>,
    #[command(flatten)]
    agent: super::AgentArg,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

fn check_env_name(name: &str) -> Result<()> {
    if valid_env_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!("invalid environment variable name `{name}`")))
    }
}

fn env_name_for(provider: &str, cred_type: &str, profile: &str) -> Result<String> {
    match env_for_provider(provider) {
        Some(n) if cred_type == "api_key" => Ok(n.to_string()),
        _ => Err(Error::InvalidInput(format!(
            "profile `{profile}` ({cred_type} of {provider}) has no usual variable name; give one: \
             --profile {profile}=VAR_NAME"
        ))),
    }
}

pub fn run(paths: &Paths, a: ExecArgs, core_limit: Option<rustix::process::Rlimit>) -> Result<i32> {
    if a.profiles.is_empty() && a.providers.is_empty() {
        return Err(Error::InvalidInput("give at least one --profile or --provider".into()));
    }
    let agent = a.agent.id()?;
    // Opening the vault reads metadata only; the passphrase is asked for only if a secret is decrypted here.
    let vault = super::open_optional(paths)?;
    let need_vault = || vault.as_ref().ok_or_else(|| Error::NotInitialized(paths.clawkeep_dir.clone()));
    let rows = list(vault.as_ref(), paths, &agent, None)?;
    let mut client = super::service::connect(paths)?;
    let mut env: Vec<(String, SecretString)> = Vec::new();
    for spec in &a.profiles {
        let (profile, name) = match spec.split_once('=') {
            Some((p, n)) => (p, Some(n.to_string())),
            None => (spec.as_str(), None),
        };
        let row = rows
            .iter()
            .find(|r| r.profile_id == profile)
            .ok_or_else(|| Error::UnknownProfile { agent: agent.clone(), profile: profile.into() })?;
        let name = match name {
            Some(n) => n,
            None => env_name_for(&row.provider, &row.cred_type, profile)?,
        };
        check_env_name(&name)?;
        let secret = match client.as_mut() {
            Some(c) => {
                // The id the profile's reference names (as the direct path follows it).
                let id = match &row.secret_id {
                    Some(sid) => SecretId::parse(sid)?,
                    None => {
                        return Err(Error::NotFound(format!(
                            "profile `{profile}` is not stored in clawkeep (it has no clawkeep reference)"
                        )));
                    }
                };
                let mut req = Request::new("get");
                req.ids = vec![id.to_string()];
                let mut resp = c.call(&req)?;
                if !resp.ok {
                    return Err(super::service::failure(resp));
                }
                match resp.values.as_mut().and_then(|v| v.remove(id.as_str())) {
                    Some(v) => SecretString::from(v.as_str().to_owned()),
                    None => {
                        let code = resp.errors.and_then(|mut e| e.remove(id.as_str())).map(|e| e.code);
                        let code = code.unwrap_or_else(|| clawkeep::protocol::wire::code::INTERNAL.into());
                        return Err(super::service::wire_error(WireError::new(
                            &code,
                            format!("no secret for `{}`", id.as_str()),
                        )));
                    }
                }
            }
            None => {
                let secret = clawkeep::ops::profile::secret_of(need_vault()?, paths, &agent, profile);
                super::audit::handout(paths, "exec", &agent, profile, &secret)?;
                secret?
            }
        };
        env.push((name, secret));
    }
    for provider in &a.providers {
        let name = env_for_provider(provider).ok_or_else(|| {
            Error::InvalidInput(format!("provider `{provider}` has no usual variable name; use --profile ID=VAR"))
        })?;
        let secret = match client.as_mut() {
            Some(c) => {
                let mut req = Request::new("select");
                req.provider = Some(provider.clone());
                req.agent = Some(agent.clone());
                req.cred_type = Some("api_key".into());
                let resp = c.call(&req)?;
                if !resp.ok {
                    return Err(super::service::failure(resp));
                }
                let s = resp.secret.ok_or_else(|| Error::Service("the vault service sent no secret".into()))?;
                SecretString::from(s.as_str().to_owned())
            }
            None => {
                let want = Want { agent: &agent, provider, pin: None, cred_type: Some("api_key") };
                let s = clawkeep::ops::select::select(need_vault()?, paths, want)?;
                super::audit::handout(paths, "exec", &agent, &s.profile, &Ok(s.secret.clone()))?;
                s.secret
            }
        };
        env.push((name.to_string(), secret));
    }
    drop(client);
    // The vault (and with it the unwrapped identity, zeroed as its locked page is freed) goes before execve: the
    // program must not start with key material that only this process needed.
    drop(rows);
    drop(vault);
    let mut cmd = std::process::Command::new(&a.command[0]);
    cmd.args(&a.command[1..]);
    // clawkeep's own settings (the passphrase file above all) are not the program's business.
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| k.starts_with("CLAWKEEP_")) {
            cmd.env_remove(&k);
        }
    }
    for (k, v) in &env {
        cmd.env(k, v.expose_secret());
    }
    // The child should get the core-dump limit the user had, not clawkeep's hardened one.
    if let Some(limit) = core_limit {
        let _ = rustix::process::setrlimit(rustix::process::Resource::Core, limit);
    }
    let err = cmd.exec();
    Err(Error::External(format!("could not run `{}`: {err}", a.command[0])))
}
