//! Command-line interface: clap definitions, dispatch, and the single place errors are printed.

mod audit;
mod doctor;
mod exec;
mod help;
mod input;
mod migrate;
mod model_command;
mod models;
mod onboard;
mod openclaw;
mod output;
mod probe;
mod resolve;
mod service;
mod sync;
mod transfer;
mod vault;

use clap::{Args, Parser, Subcommand};

use clawkeep::Result;
use clawkeep::error::exit;
use clawkeep::openclaw::CredType;
use clawkeep::ops::init::BackendChoice;
use clawkeep::paths::{DEFAULT_AGENT, Paths};
use clawkeep::vault::Vault;

/// clawkeep — a secure credential vault for OpenClaw gateways.
#[derive(Parser)]
#[command(name = "clawkeep", version, about, long_about = None, after_help = "Exit codes: see docs/cli.md")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the vault (`--backend auto` probes the keychain and falls back to the encrypted file store).
    Init {
        /// Where secrets live.
        #[arg(long, value_enum, default_value = "auto")]
        backend: BackendChoice,
        /// Join a shared file store: clone it from this git URL and give this host its own identity.
        #[arg(long, value_name = "GIT_URL")]
        join: Option<String>,
        /// With --join: this host's name in the recipients list (default: the host name).
        #[arg(long, requires = "join")]
        name: Option<String>,
    },
    /// Change the file store's passphrase (re-wraps the identity only).
    Passwd,
    /// Print a profile's secret on stdout, for scripts (like `gh auth token`).
    Get {
        /// Profile id, e.g. `anthropic:default`.
        profile_id: String,
        #[command(flatten)]
        agent: AgentArg,
    },
    /// Model credentials, as in `openclaw models`.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Check permissions, the vault, references, plaintext leftovers and expiry.
    Doctor {
        /// Repair what is safe to repair (permissions, a missing index).
        #[arg(long)]
        fix: bool,
        /// Only this agent (default: every agent found).
        #[arg(long)]
        agent: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Move plaintext credentials from OpenClaw's files into the vault and leave references.
    Migrate {
        /// Only this agent (default: main).
        #[arg(long, conflicts_with = "all_agents")]
        agent: Option<String>,
        /// Every agent under <state>/agents.
        #[arg(long)]
        all_agents: bool,
        /// Show what would move; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Restore the files as they were before the last migration.
        #[arg(long, conflicts_with = "dry_run")]
        undo: bool,
        /// With --undo: go on when files or secrets changed since (changed files are merged, changed secrets kept).
        #[arg(long, requires = "undo")]
        force: bool,
        /// Move the credentials in OpenClaw's SQLite stores and openclaw.json through `openclaw secrets apply` even
        /// though `--undo` cannot put them back in plaintext (OpenClaw's apply writes only references).
        #[arg(long, conflicts_with = "undo")]
        accept_no_undo: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// OpenClaw exec SecretRef provider (protocol v1): reads a request on stdin, prints only JSON on stdout.
    Resolve,
    /// Guided set-up: choose a store, add keys, offer to migrate (flags run it non-interactively).
    Onboard(onboard::OnboardArgs),
    /// Run the vault service in the foreground (systemd, launchd or a terminal).
    Serve(service::ServeArgs),
    /// Hand the file store's passphrase to the running service (CLAWKEEP_PASSPHRASE_FILE or the TTY).
    Unlock {
        /// How long to stay unlocked (default: the service's --ttl, 8h).
        #[arg(long)]
        ttl: Option<String>,
    },
    /// Make the running service wipe the file store's unwrapped identity (it never keeps the passphrase).
    Lock,
    /// The running service: pid, backend, locked or unlocked and until when.
    Status {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Run a command with secrets in its environment (ANTHROPIC_API_KEY, …), replacing clawkeep (execve).
    Exec(exec::ExecArgs),
    /// A chat session's `/model` command: `/model`, `/model list`, `/model status`, `/model <alias>@<profileId>`.
    #[allow(clippy::enum_variant_names)]
    ModelCommand {
        /// The chat session id.
        #[arg(long)]
        session: String,
        #[command(flatten)]
        agent: AgentArg,
        /// The command text, e.g. "/model opus@anthropic:work".
        text: String,
    },
    /// OpenClaw integration.
    Openclaw {
        #[command(subcommand)]
        command: OpenclawCommand,
    },
    /// Check credentials like `models status --check` and run a notify command for problems (at most hourly each).
    Monitor(openclaw::MonitorArgs),
    /// Print a shell completion script: `clawkeep completions bash > ~/.local/share/bash-completion/completions/clawkeep`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `clawkeep man > ~/.local/share/man/man1/clawkeep.1`.
    Man,
    /// This host's age recipient (stdout) and its fingerprint (stderr): what other hosts seal bundles to.
    Recipient {
        /// JSON output: {"recipient", "fingerprint"}.
        #[arg(long)]
        json: bool,
    },
    /// Seal profiles for another host: an ASCII-armored age bundle on stdout, importable once, until it expires.
    Export(transfer::ExportArgs),
    /// Open a bundle sealed to this host and store its profiles (as `models auth add` does).
    Import(transfer::ImportArgs),
    /// A shared file store's recipients: the hosts every secret is encrypted to.
    Recipients {
        #[command(subcommand)]
        command: sync::RecipientsCommand,
    },
    /// Share the file store over git: commit, pull (rebase), merge clawkeep's own conflicts, push; write references.
    Sync(sync::SyncArgs),
    /// Every credential OpenClaw holds (where, what kind, plaintext or ref, keyed fingerprint) with findings, then
    /// the access log's last use of each profile; `audit log` shows and verifies the log.
    Audit {
        #[command(subcommand)]
        command: Option<AuditCommand>,
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// Exit 0 clean, 1 findings (or a part skipped), 2 unresolved refs.
        #[arg(long)]
        check: bool,
        /// Only this agent's stores (default: every agent).
        #[arg(long, conflicts_with = "all_agents")]
        agent: Option<String>,
        /// Every agent under <state>/agents (the default).
        #[arg(long)]
        all_agents: bool,
        /// Also search every file under the state dir for the values clawkeep holds (reads the vault's secrets, so
        /// it may ask for the passphrase).
        #[arg(long)]
        residue: bool,
        /// Report a secret the vault has not had stored again for longer than this as NOT_ROTATED (`90d`, `12h`,
        /// or days; default 90 days; `0` turns the check off).
        #[arg(long, value_name = "AGE")]
        max_age: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Show the access log (filtered), or check its chain with `--verify`.
    Log(audit::LogArgs),
}

#[derive(Subcommand)]
enum OpenclawCommand {
    /// Add clawkeep as the exec SecretRef provider in openclaw.json (JSON5 read, every other setting kept).
    Wire(openclaw::WireArgs),
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Per provider and profile: store, status, expiry, last use. Never needs the passphrase (`--probe` reads the
    /// secrets it checks).
    Status {
        /// Exit 1 if anything is expired or missing, 2 if a token expires within 24 h.
        #[arg(long)]
        check: bool,
        /// Check each stored credential against its provider's API (Anthropic, OpenAI, OpenRouter): valid,
        /// rejected, Claude-Code-only, rate limited, unreachable or unexpected. Exit 1 if any is not valid, 2 if
        /// the worst is a rate limit.
        #[arg(long, conflicts_with = "check")]
        probe: bool,
        /// Probe only this profile (repeatable; implies --probe).
        #[arg(long, value_name = "ID")]
        probe_profile: Vec<String>,
        /// Per-credential probe timeout (`5s`, `1500ms`).
        #[arg(long, value_name = "DUR", default_value = "8s")]
        probe_timeout: String,
        #[command(flatten)]
        agent: AgentArg,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Manage credential profiles.
    Auth {
        #[command(subcommand)]
        command: AuthCommand,
    },
}

#[derive(Args, Clone)]
pub(crate) struct AgentArg {
    /// Agent id.
    #[arg(long, default_value = DEFAULT_AGENT)]
    pub agent: String,
}

impl AgentArg {
    fn id(&self) -> Result<String> {
        let a = self.agent.trim().to_ascii_lowercase();
        clawkeep::paths::check_agent_id(&a)?;
        Ok(a)
    }
}

#[derive(Args)]
pub(crate) struct StoreArgs {
    /// Provider id, e.g. anthropic, openai, openrouter.
    #[arg(long)]
    pub provider: String,
    /// Profile id (default `<provider>:manual` for paste-token and setup-token, `<provider>:default` for add).
    #[arg(long)]
    pub profile_id: Option<String>,
    /// Expiry: `12h`, `365d`, `1h30m`, or a bare number of days.
    #[arg(long)]
    pub expires_in: Option<String>,
    /// Replace an existing profile with the same id.
    #[arg(long)]
    pub force: bool,
    /// Store an API key even when it does not start as its provider's keys do (anthropic `sk-ant-api`, openai
    /// `sk-`, openrouter `sk-or-v1-`).
    #[arg(long)]
    pub allow_any_format: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub agent: AgentArg,
}

#[derive(Subcommand)]
enum AuthCommand {
    /// Store a token profile (read without echo on a TTY, or from stdin).
    PasteToken(StoreArgs),
    /// Store an API key (or token) profile (read without echo on a TTY, or from stdin).
    Add {
        #[command(flatten)]
        store: StoreArgs,
        /// Credential type.
        #[arg(long = "type", value_enum, default_value = "api_key")]
        cred_type: CredType,
    },
    /// Run `claude setup-token`, then store the token it prints (needs a TTY).
    SetupToken(StoreArgs),
    /// List profiles (from auth-profiles.json and clawkeep's index).
    List {
        /// Only this provider.
        #[arg(long)]
        provider: Option<String>,
        #[command(flatten)]
        agent: AgentArg,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Remove a profile: its secret, its reference and its order entries.
    Remove {
        /// Profile id.
        profile_id: String,
        #[command(flatten)]
        agent: AgentArg,
    },
    /// Write clawkeep's references into auth-profiles.json again (e.g. after OpenClaw imported and renamed it).
    Sync {
        #[command(flatten)]
        agent: AgentArg,
    },
    /// Per-agent profile order override (auth-state.json).
    Order {
        #[command(subcommand)]
        command: OrderCommand,
    },
}

#[derive(Subcommand)]
enum OrderCommand {
    /// Show the override.
    Get {
        /// Provider id.
        #[arg(long)]
        provider: String,
        #[command(flatten)]
        agent: AgentArg,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Set the override; every id must exist and belong to the provider.
    Set {
        /// Provider id.
        #[arg(long)]
        provider: String,
        #[command(flatten)]
        agent: AgentArg,
        /// Profile ids, first preferred.
        #[arg(required = true)]
        profile_ids: Vec<String>,
    },
    /// Remove the override.
    Clear {
        /// Provider id.
        #[arg(long)]
        provider: String,
        #[command(flatten)]
        agent: AgentArg,
    },
}

/// Open the vault with the passphrase coming from the usual sources when needed.
pub(crate) fn open_vault(paths: &Paths) -> Result<Vault> {
    Vault::open(paths, input::passphrase_fn())
}

/// The vault if there is one (opening reads metadata only).
pub(crate) fn open_optional(paths: &Paths) -> Result<Option<Vault>> {
    if Vault::exists(paths) { open_vault(paths).map(Some) } else { Ok(None) }
}

/// Parse, run, print the error once; the exit code.
pub fn main() -> i32 {
    // Every command may handle plaintext: no core dumps, no ptrace by other processes, from the start.
    let core_limit = clawkeep::memory::harden_process();
    // The two invocations that run most often (OpenClaw runs `resolve` for every secret it needs; scripts probe
    // `--version`) skip building clap's whole command tree: with no other argument they mean exactly this.
    let mut args = std::env::args_os().skip(1);
    match (args.next(), args.next()) {
        (Some(a), None) if a == "resolve" => return finish(run(Cli { command: Command::Resolve }, core_limit)),
        (Some(a), None) if a == "--version" || a == "-V" => {
            return match std::io::Write::write_all(&mut std::io::stdout(), VERSION_LINE.as_bytes()) {
                Ok(()) => exit::OK,
                Err(_) => exit::IO,
            };
        }
        _ => {}
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => exit::OK,
                _ => exit::USAGE,
            };
            let _ = e.print();
            return code;
        }
    };
    finish(run(cli, core_limit))
}

/// What `clawkeep --version` prints (as clap would).
const VERSION_LINE: &str = concat!("clawkeep ", env!("CARGO_PKG_VERSION"), "\n");

/// Print the error once; the exit code.
fn finish(result: Result<i32>) -> i32 {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("clawkeep: error: {e}");
            if let Some(h) = e.hint() {
                eprintln!("  hint: {h}");
            }
            e.exit_code()
        }
    }
}

fn run(cli: Cli, core_limit: Option<rustix::process::Rlimit>) -> Result<i32> {
    // Completions and the man page need no state dir.
    match &cli.command {
        Command::Completions { shell } => return help::completions(*shell),
        Command::Man => return help::man(),
        _ => {}
    }
    let paths = Paths::from_env()?;
    match cli.command {
        Command::Init { join: Some(url), name, .. } => sync::join(&paths, &url, name.as_deref())
            .and_then(|code| audit::change(&paths, "join", None, None, || Ok(code))),
        Command::Init { backend, .. } => {
            vault::init(&paths, backend).and_then(|code| audit::change(&paths, "init", None, None, || Ok(code)))
        }
        Command::Passwd => audit::change(&paths, "passwd", None, None, || vault::passwd(&paths)),
        Command::Get { profile_id, agent } => vault::get(&paths, &agent.id()?, &profile_id),
        Command::Models { command } => match command {
            ModelsCommand::Status { check, agent, json, probe, probe_profile, probe_timeout } => {
                if probe || !probe_profile.is_empty() {
                    let timeout = humantime::parse_duration(&probe_timeout)
                        .ok()
                        .filter(|d| !d.is_zero() && d.as_secs() <= 120)
                        .ok_or_else(|| {
                            clawkeep::Error::InvalidInput(format!(
                                "invalid --probe-timeout `{probe_timeout}`: use e.g. 5s (at most 120s)"
                            ))
                        })?;
                    probe::run(&paths, &agent.id()?, &probe_profile, timeout, json)
                } else {
                    models::status(&paths, &agent.id()?, check, json)
                }
            }
            ModelsCommand::Auth { command } => match command {
                AuthCommand::PasteToken(a) => {
                    let (agent, profile) = store_target(&a, "manual");
                    let op = if a.force { "replace" } else { "add" };
                    audit::change(&paths, op, Some(&agent), Some(&profile), || {
                        models::store(&paths, a, CredType::Token, "manual")
                    })
                }
                AuthCommand::Add { store, cred_type } => {
                    let (agent, profile) = store_target(&store, "default");
                    let op = if store.force { "replace" } else { "add" };
                    audit::change(&paths, op, Some(&agent), Some(&profile), || {
                        models::store(&paths, store, cred_type, "default")
                    })
                }
                AuthCommand::SetupToken(a) => {
                    let (agent, profile) = store_target(&a, "manual");
                    audit::change(&paths, "add", Some(&agent), Some(&profile), || models::setup_token(&paths, a))
                }
                AuthCommand::List { provider, agent, json } => {
                    models::list(&paths, &agent.id()?, provider.as_deref(), json)
                }
                AuthCommand::Remove { profile_id, agent } => {
                    let agent = agent.id()?;
                    audit::change(&paths, "remove", Some(&agent), Some(&profile_id), || {
                        models::remove(&paths, &agent, &profile_id)
                    })
                }
                AuthCommand::Sync { agent } => models::sync(&paths, &agent.id()?),
                AuthCommand::Order { command } => match command {
                    OrderCommand::Get { provider, agent, json } => {
                        models::order_get(&paths, &agent.id()?, &provider, json)
                    }
                    OrderCommand::Set { provider, agent, profile_ids } => {
                        models::order_set(&paths, &agent.id()?, &provider, &profile_ids)
                    }
                    OrderCommand::Clear { provider, agent } => models::order_clear(&paths, &agent.id()?, &provider),
                },
            },
        },
        Command::Doctor { fix, agent, json } => doctor::run(&paths, agent, fix, json),
        Command::Migrate { agent, all_agents, dry_run, undo, force, accept_no_undo, json } => {
            let op = if undo { "migrate-undo" } else { "migrate" };
            let who = agent.clone();
            let run = || {
                migrate::run(&paths, agent, all_agents, migrate::Flags { dry_run, undo, force, accept_no_undo }, json)
            };
            if dry_run { run() } else { audit::change(&paths, op, who.as_deref(), None, run) }
        }
        Command::Onboard(args) => audit::change(&paths, "onboard", None, None, || onboard::run(&paths, args)),
        Command::Resolve => resolve::run(&paths),
        Command::Serve(a) => service::serve(&paths, a),
        Command::Unlock { ttl } => service::unlock(&paths, ttl),
        Command::Lock => service::lock(&paths),
        Command::Status { json } => service::status(&paths, json),
        Command::Exec(a) => exec::run(&paths, a, core_limit),
        Command::ModelCommand { session, agent, text } => model_command::run(&paths, &session, &agent.id()?, &text),
        Command::Openclaw { command } => match command {
            OpenclawCommand::Wire(a) => openclaw::wire(&paths, a),
        },
        Command::Monitor(a) => openclaw::monitor(&paths, a),
        Command::Completions { .. } | Command::Man => unreachable!("answered before the state dir is read"),
        Command::Recipient { json } => transfer::recipient(&paths, json),
        Command::Export(a) => transfer::export(&paths, a),
        Command::Import(a) => {
            let agent = a.agent_id();
            audit::change(&paths, "import", agent.as_deref(), None, || transfer::import(&paths, a))
        }
        Command::Audit { command: None, json, check, agent, all_agents: _, residue, max_age } => {
            audit::inventory(&paths, agent, json, check, residue, max_age.as_deref())
        }
        Command::Audit { command: Some(AuditCommand::Log(a)), .. } => audit::log(&paths, a),
        Command::Recipients { command } => match command.change() {
            Some(op) => audit::change(&paths, op, None, None, || sync::recipients(&paths, command)),
            None => sync::recipients(&paths, command),
        },
        Command::Sync(a) => audit::change(&paths, "sync", None, None, || sync::sync(&paths, a)),
    }
}

/// The agent and profile id a store command writes (as `models::store` computes them), for the access log.
fn store_target(a: &StoreArgs, default_name: &str) -> (String, String) {
    let agent = a.agent.agent.trim().to_ascii_lowercase();
    let profile = a.profile_id.clone().unwrap_or_else(|| format!("{}:{default_name}", a.provider.trim()));
    (agent, profile)
}

/// Agents to look at: the one given, else every agent dir found (at least `main`).
pub(crate) fn agents_or_all(paths: &Paths, agent: Option<String>) -> Result<Vec<String>> {
    match agent {
        Some(a) => {
            let a = AgentArg { agent: a }.id()?;
            Ok(vec![a])
        }
        None => {
            let mut all = paths.existing_agents()?;
            if !all.iter().any(|a| a == DEFAULT_AGENT) {
                all.insert(0, DEFAULT_AGENT.to_string());
            }
            Ok(all)
        }
    }
}

/// Tell the user OpenClaw 2026.9+ must import the changed profiles.
pub(crate) fn import_hint(agent: &str) {
    eprintln!(
        "note: this OpenClaw keeps profiles in SQLite (2026.9+); run `openclaw doctor --fix` so it imports \
         agents/{agent}/agent/auth-profiles.json — until then it refuses the affected providers"
    );
}
