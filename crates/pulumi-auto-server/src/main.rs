//! The `pulumi-auto-server` command: `serve`, `org-create` and `token create|list|revoke`
//! (offline, on the data directory), `openapi` (prints the API's OpenAPI document).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pulumi_auto_server::api::ApiConfig;
use pulumi_auto_server::programs::ProgramsConfig;
use pulumi_auto_server::server::{ServeOptions, open_store};
use pulumi_auto_server::{crypto, serve};

/// A Pulumi service backend the real `pulumi` CLI logs in to.
#[derive(Debug, Parser)]
#[command(name = "pulumi-auto-server", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server. The first line of standard output is the URL it listens on.
    Serve {
        /// Address to listen on (`127.0.0.1:0` picks a free port).
        #[arg(long, default_value = "127.0.0.1:8000")]
        listen: SocketAddr,
        /// Data directory: database, master key, first start's admin token.
        #[arg(long)]
        data: PathBuf,
        /// A postgres:// URL to keep the state in instead of SQLite in the data directory.
        #[arg(long, env = "PULUMI_AUTO_SERVER_DATABASE", hide_env_values = true)]
        database: Option<String>,
        /// The organization created on first start.
        #[arg(long, default_value = "organization")]
        org: String,
        /// The admin user created on first start.
        #[arg(long, default_value = "admin")]
        admin: String,
        /// The largest request body accepted (after decompression), in MiB.
        #[arg(long, default_value_t = 256)]
        max_body_mib: usize,
        /// How long an update's lease lasts unless renewed, in seconds. The CLI assumes 5
        /// minutes and renews once half of that has passed: shorter leases suit tests only.
        #[arg(long, default_value_t = 300)]
        lease_secs: i64,
        /// A program of the custom API, `NAME=DIR` (repeatable).
        #[arg(long = "program", value_parser = ProgramsConfig::parse_program)]
        programs: Vec<(String, PathBuf)>,
        /// A directory whose subdirectories with a Pulumi.yaml are programs (named after them).
        #[arg(long)]
        programs_dir: Option<PathBuf>,
        /// Seconds a replica may go without renewing its heartbeat (every third of this)
        /// before the others sharing its database take it for dead: they fail its running
        /// operations and repair their stacks.
        #[arg(long, default_value = "15", value_parser = pulumi_auto_server::replica::parse_timeout)]
        heartbeat_timeout: std::time::Duration,
        /// The most custom-API operations (update, preview, refresh) this replica runs at
        /// once; queued ones beyond it wait for another replica or a free slot. No limit
        /// unless given; 0 makes a replica that takes requests but runs none.
        #[arg(long)]
        max_jobs: Option<usize>,
    },
    /// Creates an organization offline (the server may be running), with its admin (a user
    /// made when unknown; give them a token with `token create --user`).
    OrgCreate {
        /// Data directory.
        #[arg(long)]
        data: PathBuf,
        /// The organization's name.
        name: String,
        /// The login of its admin.
        #[arg(long, default_value = "admin")]
        admin: String,
    },
    /// Prints the OpenAPI 3.1 document of the API (what `GET /api/openapi.json` answers;
    /// `docs/openapi.json` is this output).
    Openapi,
    /// Manages access tokens offline (the server may be running).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Creates a token and prints its value (shown once; only its hash is kept).
    Create {
        /// Data directory.
        #[arg(long)]
        data: PathBuf,
        /// The user the token authenticates.
        #[arg(long, default_value = "admin")]
        user: String,
        /// What the token is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Lists tokens (id, user, description, created, last used).
    List {
        /// Data directory.
        #[arg(long)]
        data: PathBuf,
    },
    /// Revokes a token by id.
    Revoke {
        /// Data directory.
        #[arg(long)]
        data: PathBuf,
        /// The token's id (from `token list`).
        id: String,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // sqlx warns about a URL parameter it does not know by quoting it, which for a
    // malformed postgres:// URL can be the password: never at any level.
    let filter = match "sqlx_postgres::options=off".parse() {
        Ok(d) => filter.add_directive(d),
        Err(_) => filter,
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(cli: Cli) -> pulumi_auto_server::Result<()> {
    match cli.command {
        Command::Serve {
            listen,
            data,
            database,
            org,
            admin,
            max_body_mib,
            lease_secs,
            programs,
            programs_dir,
            heartbeat_timeout,
            max_jobs,
        } => {
            if let Some(n) = max_jobs {
                pulumi_auto_server::replica::set_max_jobs(n);
            }
            serve(ServeOptions {
                listen,
                data,
                database,
                org,
                admin,
                api: ApiConfig {
                    max_body: max_body_mib.saturating_mul(1024 * 1024),
                    lease_secs: lease_secs.clamp(10, 86_400),
                },
                programs: ProgramsConfig {
                    programs,
                    programs_dir,
                },
                heartbeat_timeout,
            })
            .await
        }
        Command::OrgCreate { data, name, admin } => {
            if !pulumi_auto_server::api::valid_name(&name)
                || !pulumi_auto_server::api::valid_name(&admin)
            {
                return Err(pulumi_auto_server::Error::bad_request(
                    "names are 1 to 100 of A-Z, a-z, 0-9, '-', '_', '.'",
                ));
            }
            let database = std::env::var("PULUMI_AUTO_SERVER_DATABASE").ok();
            let (store, _) =
                open_store(&data, database.as_deref(), "organization", "admin").await?;
            store.create_org(&name, &admin).await?;
            eprintln!("organization {name} created, admin {admin}");
            store.close().await;
            Ok(())
        }
        Command::Openapi => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(pulumi_auto_server::openapi::document_json().as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| pulumi_auto_server::Error::Internal(format!("stdout: {e}")))
        }
        Command::Token { command } => {
            let data = match &command {
                TokenCommand::Create { data, .. }
                | TokenCommand::List { data }
                | TokenCommand::Revoke { data, .. } => data.clone(),
            };
            let database = std::env::var("PULUMI_AUTO_SERVER_DATABASE").ok();
            let (store, made) =
                open_store(&data, database.as_deref(), "organization", "admin").await?;
            if let Some(path) = made {
                eprintln!(
                    "first start: the admin token was written to {}",
                    path.display()
                );
            }
            match command {
                TokenCommand::Create {
                    user, description, ..
                } => {
                    let token = crypto::new_token();
                    let id = store.create_token(&user, &description, &token).await?;
                    eprintln!("token {id} for {user}");
                    println!("{}", token.as_str());
                }
                TokenCommand::List { .. } => {
                    println!("ID\tUSER\tCREATED\tLAST USED\tDESCRIPTION");
                    for t in store.list_tokens().await? {
                        println!(
                            "{}\t{}\t{}\t{}\t{}",
                            t.id,
                            t.user,
                            t.created,
                            if t.last_used == 0 {
                                "never".to_owned()
                            } else {
                                t.last_used.to_string()
                            },
                            t.description
                        );
                    }
                }
                TokenCommand::Revoke { id, .. } => {
                    if !store.revoke_token(&id).await? {
                        return Err(pulumi_auto_server::Error::not_found(format!(
                            "no token {id}"
                        )));
                    }
                    eprintln!("token {id} revoked");
                }
            }
            store.close().await;
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pulumi-auto-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pulumi-auto-server: {e}");
            ExitCode::FAILURE
        }
    }
}
