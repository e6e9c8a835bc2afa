//! The custom API: the server's own Pulumi programs, their stacks and operations over HTTP
//! (`/api/programs/…`). Every pulumi run goes through the library (`pulumi_auto`), and
//! every stack lives on this server's own service backend, so its updates and events are
//! also those of the service API.
//!
//! - [`ProgramsConfig`]: `--program NAME=DIR` and `--programs-dir DIR`.
//! - Preparation (on start, in the background): each program is copied to
//!   `DATA/programs/NAME/base`, its dependencies installed once there (a Python
//!   virtualenv named relatively is made shared, at `DATA/programs/NAME/venv`), and every
//!   named stack gets a directory of its own (`…/stacks/STACK`) so no two stacks share a
//!   settings file; burns run in `…/burn`, each ephemeral stack with its own settings file.
//! - Operations are jobs ([`jobs`]), recorded in the database; live events over
//!   Server-Sent Events ([`sse`]); destroy only with a previewed plan, the typed stack name
//!   and admin permission ([`handlers`]); burner endpoints ([`burn`]).
//! - Who may do what: [`authz::allow`], on the REST API's permission model.

pub mod authz;
pub mod burn;
pub mod destroy;
pub mod handlers;
pub mod jobs;
pub mod prepare;
pub mod queue;
pub mod sse;
pub mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pulumi_auto::cli::PulumiCommand;
use pulumi_auto::{LocalWorkspace, Stack};

use crate::api::AppState;
use crate::error::{Error, Result};

/// The description of the token the server makes, at every start, for its own runs of the
/// custom API (the previous one is revoked).
pub const INTERNAL_TOKEN_DESCRIPTION: &str = "custom API runs (made at start, internal)";

/// Which programs to serve.
#[derive(Debug, Clone, Default)]
pub struct ProgramsConfig {
    /// `NAME=DIR` pairs (`--program`).
    pub programs: Vec<(String, PathBuf)>,
    /// A directory whose subdirectories holding a `Pulumi.yaml` are programs named after
    /// them (`--programs-dir`).
    pub programs_dir: Option<PathBuf>,
}

impl ProgramsConfig {
    /// Parses one `--program NAME=DIR`.
    pub fn parse_program(arg: &str) -> std::result::Result<(String, PathBuf), String> {
        let (name, dir) = arg
            .split_once('=')
            .ok_or_else(|| format!("--program {arg:?}: expected NAME=DIR"))?;
        validate::program_name(name).map_err(|e| format!("--program {name:?}: {e}"))?;
        if dir.is_empty() {
            return Err(format!("--program {name}: the directory is empty"));
        }
        Ok((name.to_owned(), PathBuf::from(dir)))
    }

    /// Every program: the pairs given, then those of the programs directory; a name given
    /// twice is an error.
    pub fn resolve(&self) -> Result<Vec<(String, PathBuf)>> {
        let mut all = self.programs.clone();
        if let Some(dir) = &self.programs_dir {
            let rd = std::fs::read_dir(dir)
                .map_err(|e| Error::Internal(format!("--programs-dir {}: {e}", dir.display())))?;
            let mut found = Vec::new();
            for entry in rd.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                let has_project =
                    path.join("Pulumi.yaml").is_file() || path.join("Pulumi.yml").is_file();
                if has_project && validate::program_name(&name).is_ok() {
                    found.push((name, path));
                }
            }
            found.sort();
            all.extend(found);
        }
        let mut seen = std::collections::BTreeSet::new();
        for (name, dir) in &all {
            if !seen.insert(name.clone()) {
                return Err(Error::Internal(format!("program {name:?} is given twice")));
            }
            if !dir.join("Pulumi.yaml").is_file() && !dir.join("Pulumi.yml").is_file() {
                return Err(Error::Internal(format!(
                    "program {name:?}: {} holds no Pulumi.yaml",
                    dir.display()
                )));
            }
        }
        Ok(all)
    }
}

/// A served program, prepared.
#[derive(Debug, Clone)]
pub struct Program {
    /// Its name in the API.
    pub name: String,
    /// The Pulumi project's name (from its `Pulumi.yaml`).
    pub project: String,
    /// Where it came from.
    pub source: PathBuf,
    /// The prepared copy every stack directory is made from.
    pub base: PathBuf,
    /// The directory of its stacks' directories.
    pub stacks: PathBuf,
    /// The directory burns run in.
    pub burn: PathBuf,
}

/// How long a destroy preview's plan id stays valid.
pub const PLAN_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The custom API's state.
pub struct Programs {
    /// The organization the stacks live in.
    pub org: String,
    /// This server's URL (the service backend of every stack).
    pub backend_url: String,
    /// The token of the server's own runs (in the CLI's environment only).
    token: String,
    /// `PULUMI_HOME` of those runs.
    pub home: PathBuf,
    /// The ephemeral-stack ledger of burns.
    pub ledger: PathBuf,
    /// The CLI.
    pub pulumi: PulumiCommand,
    /// The programs by name.
    pub programs: BTreeMap<String, Program>,
    /// The jobs.
    pub jobs: Arc<jobs::Jobs>,
    /// This server's instance id (who claimed a job).
    pub instance: String,
}

impl std::fmt::Debug for Programs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Programs")
            .field("org", &self.org)
            .field("backend_url", &self.backend_url)
            .field("programs", &self.programs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Maps a library error to an answer: bad input 400, the rest 500 with the (redacted)
/// message.
pub(crate) fn lib_error(e: pulumi_auto::Error, secrets: &[pulumi_auto::Secret]) -> Error {
    let text = jobs::error_text(&e, secrets);
    match e {
        pulumi_auto::Error::InvalidInput { .. } => {
            Error::bad_request(format!("Bad Request: {text}"))
        }
        pulumi_auto::Error::StackNotFound { .. } => Error::not_found(format!("Not Found: {text}")),
        pulumi_auto::Error::ConcurrentUpdate { .. } => Error::Conflict(format!("Conflict: {text}")),
        _ => Error::Internal(text),
    }
}

impl Programs {
    /// The workspace builder of a directory: this server's backend, token and
    /// `PULUMI_HOME`, no passphrase (the service secrets provider).
    pub fn builder(&self, dir: &Path) -> pulumi_auto::workspace::LocalWorkspaceBuilder {
        LocalWorkspace::builder(dir)
            .backend_url(&self.backend_url)
            .pulumi_home(&self.home)
            .env("PULUMI_ACCESS_TOKEN", &self.token)
            .env("PULUMI_SKIP_UPDATE_CHECK", "true")
            .env_remove("PULUMI_CONFIG_PASSPHRASE")
            .env_remove("PULUMI_CONFIG_PASSPHRASE_FILE")
            .pulumi_command(self.pulumi.clone())
    }

    /// The program named `name`, or a 404.
    pub fn program(&self, name: &str) -> Result<&Program> {
        validate::program_name(name)?;
        self.programs
            .get(name)
            .ok_or_else(|| Error::not_found(format!("Not Found: no program {name:?} is served")))
    }

    /// The workspace of a stack's own directory (made, and refreshed from the program's
    /// prepared copy and the stack settings file kept in the database, first), and the
    /// stack's handle.
    pub async fn stack(&self, program: &Program, stack: &str) -> Result<Stack> {
        validate::stack_name(stack)?;
        let dir = program.stacks.join(stack);
        let base = program.base.clone();
        let d = dir.clone();
        let settings = self
            .jobs
            .state()
            .store
            .stack_settings(&program.name, stack)
            .await?;
        let file = settings_file(&dir, stack);
        tokio::task::spawn_blocking(move || {
            prepare::copy_program(&base, &d)?;
            match settings {
                Some(body) if std::fs::read_to_string(&file).ok().as_deref() != Some(&body) => {
                    std::fs::write(&file, body.as_bytes()).map_err(|e| {
                        Error::Internal(format!("cannot write {}: {e}", file.display()))
                    })
                }
                _ => Ok(()),
            }
        })
        .await
        .map_err(|e| Error::Internal(format!("preparing a stack directory: {e}")))??;
        let ws = self
            .builder(&dir)
            .build()
            .await
            .map_err(|e| lib_error(e, &[]))?;
        ws.stack_handle(stack).map_err(|e| lib_error(e, &[]))
    }

    /// The programs' state once started, or a 503 while they are being prepared (and a
    /// 404 when the server serves none).
    pub fn of(state: &AppState) -> Result<Arc<Programs>> {
        match state.programs.get() {
            Some(p) => Ok(p.clone()),
            None => Err(match (PREPARING.get(), PREPARE_FAILED.get()) {
                (_, Some(why)) => Error::Internal(format!(
                    "the programs could not be prepared (see the server's log): {why}"
                )),
                (Some(_), None) => Error::Unavailable(
                    "Service Unavailable: the programs are being prepared; try again".into(),
                ),
                (None, None) => Error::not_found("Not Found: this server serves no programs"),
            }),
        }
    }
}

/// A stack's settings file in its directory.
pub fn settings_file(dir: &Path, stack: &str) -> PathBuf {
    dir.join(format!("Pulumi.{stack}.yaml"))
}

/// Set once preparation has begun (the custom API answers 503 until it is done).
static PREPARING: std::sync::OnceLock<()> = std::sync::OnceLock::new();
/// Why preparation failed (the custom API then answers 500 with it).
static PREPARE_FAILED: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Starts the custom API of a running server: prepares the programs (in the background:
/// the CLI calls the server itself, so it must be serving), sweeps what an earlier run or a
/// dead replica left (jobs that were running: failed with a reason, their stacks repaired;
/// burns' ephemeral stacks removed: those of this data directory's ledger, those of dead
/// replicas' burns, and any old enough when no other replica is alive), then makes the
/// routes answer, and from then on repairs after replicas whose heartbeat expires (their
/// burns' ephemeral stacks torn down at once). Does nothing
/// without programs.
pub fn start(
    state: Arc<AppState>,
    cfg: &ProgramsConfig,
    data: &Path,
    org: &str,
    url: &str,
) -> Result<()> {
    let list = cfg.resolve()?;
    if list.is_empty() {
        return Ok(());
    }
    let _ = PREPARING.set(());
    let (data, org, url) = (data.to_path_buf(), org.to_owned(), url.to_owned());
    tokio::spawn(async move {
        match prepare::prepare(state.clone(), list, &data, &org, &url).await {
            Ok(p) => {
                tracing::info!(programs = ?p.programs.keys().collect::<Vec<_>>(), "programs ready");
                let _ = state.programs.set(p.clone());
                tokio::spawn(queue::claim_loop(p.clone(), state.clone()));
                tokio::spawn(prepare::reap_loop(p, state));
            }
            Err(e) => {
                tracing::error!(error = %e, "the programs could not be prepared");
                let _ = PREPARE_FAILED.set(e.to_string());
            }
        }
    });
    Ok(())
}

/// Cancels every running operation gracefully (SIGINT, then the library's escalation) and
/// waits until each has ended and been recorded (as cancelled); new ones are refused.
pub async fn shutdown(state: &AppState) {
    if let Some(p) = state.programs.get() {
        p.jobs.shut_down().await;
    }
}

/// The custom API's routes (behind the server's authentication).
pub fn routes() -> crate::openapi::ApiRoutes {
    use handlers as h;
    use utoipa_axum::routes;
    crate::openapi::ApiRoutes::new()
        .routes(routes!(h::list_programs))
        .routes(routes!(h::get_program))
        .routes(routes!(h::list_stacks))
        .routes(routes!(burn::burn_post, burn::burn_get))
        .routes(routes!(h::get_stack, h::put_stack))
        .routes(routes!(h::start_update))
        .routes(routes!(h::start_preview))
        .routes(routes!(h::start_refresh))
        .routes(routes!(destroy::destroy_preview))
        .routes(routes!(destroy::destroy))
        .routes(routes!(h::list_updates))
        .routes(routes!(h::get_update))
        .routes(routes!(h::cancel_update))
        .routes(routes!(sse::stream))
}
