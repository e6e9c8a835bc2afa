//! The command line: global options, subcommands and their flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The exit codes, as `--help` shows them (kept in step with [`crate::exit::Exit`]).
const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  the operation failed (program error, resource failure, backend or CLI error)
  2  usage error or bad input; nothing was changed
  3  refused: a destroy without approval, with the wrong stack name, or of a protected stack
  4  cancelled (Ctrl-C or SIGTERM; a second press stops pulumi at once)

Secrets: `--secret KEY` values are read from standard input, one line per key in the
order given, or asked for without echo on a terminal; they never go on a command line.
The passphrase comes from PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE, read
by pulumi), or from the first line of standard input with --passphrase-stdin. Every line
the tool prints has these values masked, so a secret must be empty or at least 3 bytes
long. A backend URL with a password (user:password@host, ?password=...) goes in
PULUMI_BACKEND_URL, never in --backend: a command line is visible to every user of the
machine.

Output: results on stdout, progress and messages on stderr (a live bar on a terminal,
plain lines otherwise). With --json, stdout carries one JSON object per line: the engine
events as pulumi writes them to its event log, then one object with \"type\": \"result\".";

/// Drive pulumi stacks from the command line, over the pulumi-auto library.
#[derive(Debug, Parser)]
#[command(name = "pulumi-auto", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// The program directory (with Pulumi.yaml).
    #[arg(long, global = true, value_name = "DIR", default_value = ".")]
    pub work_dir: PathBuf,

    /// The stack to act on (required by every command but `stacks` and `service`).
    #[arg(long, short = 's', global = true, value_name = "NAME")]
    pub stack: Option<String>,

    /// The backend URL (file:///abs/dir, s3://…, https://api.pulumi.com, …). Default:
    /// PULUMI_BACKEND_URL, else the backend of Pulumi.yaml, else <work dir>/.pulumi-state.
    /// A URL with a password (user:password@, ?password=…) is refused here: give it in
    /// PULUMI_BACKEND_URL, which no other user of the machine can read.
    #[arg(long, global = true, value_name = "URL")]
    pub backend: Option<String>,

    /// Machine-readable output: JSON lines on stdout (events, then a result object).
    #[arg(long, global = true)]
    pub json: bool,

    /// Read the secrets passphrase from the first line of standard input.
    #[arg(long, global = true)]
    pub passphrase_stdin: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the stack's resources (creates the stack if needed).
    Up(UpArgs),
    /// Show what `up` would change (creates the stack if needed).
    Preview(PreviewArgs),
    /// Read the real state of the stack's resources into its state.
    Refresh(RefreshArgs),
    /// Delete every resource of the stack, after showing what would be deleted and
    /// getting the stack's name typed on a terminal (or given with --yes-destroy).
    Destroy(DestroyArgs),
    /// Print the stack's outputs (secret ones masked unless --show-secrets).
    Outputs(OutputsArgs),
    /// Read or write the stack's configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// List the project's stacks on the backend.
    Stacks,
    /// Read a Pulumi service's REST API (Pulumi Cloud or pulumi-auto-server): stacks,
    /// updates, engine events. The token comes from PULUMI_ACCESS_TOKEN only.
    #[command(after_help = SERVICE_HELP)]
    Service(ServiceArgs),
}

/// The help of `service`: where the URL and the token come from.
const SERVICE_HELP: &str = "\
The service: --url, else PULUMI_BACKEND_URL, else https://api.pulumi.com (http or https
only). The access token comes from PULUMI_ACCESS_TOKEN and from nowhere else: there is no
flag for it, since a command line is visible to every user of the machine. The token is
sent in the Authorization header only and masked in everything the tool prints.

Every page is read (continuation tokens and pages are followed to the end). With --json
the result object carries the REST API's own shapes (`stacks`, `updates`, `events`).
An answer of 401, 403 or 404 is an error (exit 1) with the server's message.";

/// `service …`.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The service's base URL. Default: PULUMI_BACKEND_URL, else https://api.pulumi.com.
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// What to read.
    #[command(subcommand)]
    pub command: ServiceCommand,
}

/// `service stacks|updates|events`.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// List the stacks the token's user can see (every page).
    #[command(after_help = SERVICE_HELP)]
    Stacks(ServiceStacksArgs),
    /// List a stack's updates, newest first (every page).
    #[command(after_help = SERVICE_HELP)]
    Updates(ServiceUpdatesArgs),
    /// Print an update's engine events, in order (every page).
    #[command(after_help = SERVICE_HELP)]
    Events(ServiceEventsArgs),
}

/// `service stacks`.
#[derive(Debug, Args)]
pub struct ServiceStacksArgs {
    /// Only stacks of this organization.
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// Only stacks of this project.
    #[arg(long, value_name = "PROJECT")]
    pub project: Option<String>,
    /// Only stacks with this tag.
    #[arg(long, value_name = "NAME")]
    pub tag_name: Option<String>,
    /// … whose value is this (needs --tag-name).
    #[arg(long, value_name = "VALUE", requires = "tag_name")]
    pub tag_value: Option<String>,
}

/// `service updates`.
#[derive(Debug, Args)]
pub struct ServiceUpdatesArgs {
    /// The stack, as ORG/PROJECT/STACK.
    #[arg(value_name = "ORG/PROJECT/STACK")]
    pub stack: String,
    /// Updates asked for a page (every page is read).
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub page_size: i64,
}

/// `service events`.
#[derive(Debug, Args)]
pub struct ServiceEventsArgs {
    /// The stack, as ORG/PROJECT/STACK.
    #[arg(value_name = "ORG/PROJECT/STACK")]
    pub stack: String,
    /// The update's id (`service updates` lists them).
    #[arg(value_name = "UPDATE_ID")]
    pub update_id: String,
}

/// Config to set before an operation.
#[derive(Debug, Args, Clone, Default)]
pub struct ConfigArgs {
    /// Set a plain config value first (repeatable).
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
    pub config: Vec<String>,

    /// Set a secret config value first, read from stdin or a hidden prompt (repeatable).
    #[arg(long = "secret", value_name = "KEY")]
    pub secrets: Vec<String>,

    /// Run `pulumi install` first (the program's dependencies, e.g. its virtualenv).
    #[arg(long)]
    pub install: bool,
}

/// `up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Config to set first, and `pulumi install`.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The update's message.
    #[arg(long, short = 'm')]
    pub message: Option<String>,
    /// Refresh the state before the update.
    #[arg(long)]
    pub refresh: bool,
    /// Print secret outputs in clear.
    #[arg(long)]
    pub show_secrets: bool,
}

/// `preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// Config to set first, and `pulumi install`.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Exit with code 1 when the preview finds changes.
    #[arg(long)]
    pub expect_no_changes: bool,
}

/// `refresh`.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Run `pulumi install` first.
    #[arg(long)]
    pub install: bool,
}

/// `destroy`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Approve without a prompt: must be the stack's name (needed without a terminal).
    #[arg(long, value_name = "STACK")]
    pub yes_destroy: Option<String>,
    /// Also destroy a stack tagged pulumi-auto:protected.
    #[arg(long)]
    pub override_protection: bool,
    /// Remove the stack (and its Pulumi.<stack>.yaml) once its resources are gone.
    #[arg(long)]
    pub remove: bool,
}

/// `outputs`.
#[derive(Debug, Args)]
pub struct OutputsArgs {
    /// Print secret outputs in clear.
    #[arg(long)]
    pub show_secrets: bool,
}

/// `config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Set a value (creates the stack if needed). With --secret the value is read from
    /// stdin or a hidden prompt, never from the command line.
    Set(ConfigSetArgs),
    /// Print a value (a secret one only with --show-secrets).
    Get(ConfigGetArgs),
}

/// `config set`.
#[derive(Debug, Args)]
pub struct ConfigSetArgs {
    /// The key (`name`, `project:name`, or a path with --path).
    pub key: String,
    /// The value (not allowed with --secret).
    pub value: Option<String>,
    /// Store it encrypted; the value comes from stdin or a hidden prompt.
    #[arg(long)]
    pub secret: bool,
    /// The key is a path into an object (`a.b[0]`).
    #[arg(long)]
    pub path: bool,
}

/// `config get`.
#[derive(Debug, Args)]
pub struct ConfigGetArgs {
    /// The key.
    pub key: String,
    /// The key is a path into an object (`a.b[0]`).
    #[arg(long)]
    pub path: bool,
    /// Print a secret value in clear.
    #[arg(long)]
    pub show_secrets: bool,
}

impl Command {
    /// The command's name, as results name it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Up(_) => "up",
            Command::Preview(_) => "preview",
            Command::Refresh(_) => "refresh",
            Command::Destroy(_) => "destroy",
            Command::Outputs(_) => "outputs",
            Command::Config(ConfigCommand::Set(_)) => "config set",
            Command::Config(ConfigCommand::Get(_)) => "config get",
            Command::Stacks => "stacks",
            Command::Service(s) => match s.command {
                ServiceCommand::Stacks(_) => "service stacks",
                ServiceCommand::Updates(_) => "service updates",
                ServiceCommand::Events(_) => "service events",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn secrets_take_keys_only() {
        let cli = Cli::try_parse_from([
            "pulumi-auto",
            "up",
            "--stack",
            "dev",
            "--config",
            "dir=/tmp/x",
            "--secret",
            "token",
            "--secret",
            "other",
        ])
        .unwrap();
        let Command::Up(up) = cli.command else {
            panic!("not up")
        };
        assert_eq!(up.config.secrets, ["token", "other"]);
        assert_eq!(up.config.config, ["dir=/tmp/x"]);
        assert_eq!(cli.global.stack.as_deref(), Some("dev"));
    }
}
