//! [`LocalWorkspace`]: a program directory, an environment and a backend.
//!
//! A workspace holds what every command needs: the program directory (with its
//! `Pulumi.yaml`), the `pulumi` binary, `PULUMI_HOME`, the backend URL, the secrets
//! passphrase and any environment variables. It is cheap to clone and safe to share across
//! tasks; it never relies on a globally selected stack, so many [`Stack`](crate::Stack)s of one workspace
//! can be used at the same time.
//!
//! The backend, in order: the one given to the builder, `PULUMI_BACKEND_URL` in the
//! environment, the project's `backend.url` in `Pulumi.yaml`, else an embedded file
//! backend in the project-local directory `<work_dir>/.pulumi-state`.
//!
//! ```no_run
//! # async fn demo() -> pulumi_auto::Result<()> {
//! use pulumi_auto::{LocalWorkspace, Secret};
//! let ws = LocalWorkspace::builder("fixtures/programs/files")
//!     .passphrase(Secret::new("correct horse battery staple"))
//!     .build()
//!     .await?;
//! let stack = ws.create_or_select_stack("dev").await?;
//! stack.set_config("dir", "/tmp/files").await?;
//! # Ok(()) }
//! ```

mod env;
pub(crate) mod lock;
mod plugins;
pub mod settings;
mod url;
pub(crate) mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

pub(crate) use crate::cli::classify::parse_error;
use env::Environment;
pub use env::{MANAGED_ENV_VARS, is_secret_env_var};
pub use url::{redact_url, url_has_credentials};
pub use validate::{
    MAX_NAME_LEN, validate_config_key, validate_project_name, validate_stack_name,
    validate_tag_name,
};

use crate::cli::{CommandOutput, Invocation, PulumiCommand};
use crate::error::{Error, Result};
use crate::model;
use crate::secret::Secret;

/// The directory, below the program directory, of the default embedded file backend.
pub const DEFAULT_STATE_DIR: &str = ".pulumi-state";

/// Builds a [`LocalWorkspace`]. Nothing is checked or run until [`build`](Self::build).
///
/// Its `Debug` shows no secret: the backend URL's password and password-like query
/// parameters as `[secret]`, the passphrase as `[secret]`, and the names of the
/// environment variables without their values.
#[derive(Clone)]
#[must_use]
pub struct LocalWorkspaceBuilder {
    work_dir: PathBuf,
    pulumi_home: Option<PathBuf>,
    backend_url: Option<String>,
    passphrase: Option<Secret>,
    secrets_provider: Option<String>,
    env: BTreeMap<String, Option<String>>,
    pulumi: Option<PulumiCommand>,
    pulumi_path: Option<PathBuf>,
}

impl std::fmt::Debug for LocalWorkspaceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalWorkspaceBuilder")
            .field("work_dir", &self.work_dir)
            .field("pulumi_home", &self.pulumi_home)
            .field("backend_url", &self.backend_url.as_deref().map(redact_url))
            .field("passphrase", &self.passphrase)
            .field(
                "secrets_provider",
                &self.secrets_provider.as_deref().map(redact_url),
            )
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("pulumi", &self.pulumi)
            .field("pulumi_path", &self.pulumi_path)
            .finish()
    }
}

impl LocalWorkspaceBuilder {
    /// The `PULUMI_HOME` directory (plugins, credentials, logs); created if missing.
    pub fn pulumi_home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.pulumi_home = Some(dir.into());
        self
    }

    /// The backend URL: `file:///abs/dir`, `s3://bucket`, `postgres://…`,
    /// `https://api.pulumi.com`, …. A `file://` directory is created if missing.
    pub fn backend_url(mut self, url: impl Into<String>) -> Self {
        self.backend_url = Some(url.into());
        self
    }

    /// The passphrase of the passphrase secrets provider (passed in the environment, never
    /// on a command line).
    pub fn passphrase(mut self, passphrase: Secret) -> Self {
        self.passphrase = Some(passphrase);
        self
    }

    /// The secrets provider for new stacks (`passphrase`, `awskms://…`, …).
    pub fn secrets_provider(mut self, provider: impl Into<String>) -> Self {
        self.secrets_provider = Some(provider.into());
        self
    }

    /// Sets an environment variable for every command.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), Some(value.into()));
        self
    }

    /// Removes an inherited environment variable from every command's environment.
    pub fn env_remove(mut self, key: impl Into<String>) -> Self {
        self.env.insert(key.into(), None);
        self
    }

    /// The `pulumi` binary to use (default: [`PulumiCommand::find`]).
    pub fn pulumi_command(mut self, pulumi: PulumiCommand) -> Self {
        self.pulumi = Some(pulumi);
        self
    }

    /// The `pulumi` binary at this path (its version is checked at [`build`](Self::build)).
    pub fn pulumi_command_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.pulumi_path = Some(path.into());
        self
    }

    /// Checks the inputs and the program directory, finds the CLI and reads its version.
    pub async fn build(self) -> Result<LocalWorkspace> {
        let work_dir = std::path::absolute(&self.work_dir)
            .map_err(|e| Error::invalid("work_dir", format!("{}: {e}", self.work_dir.display())))?;
        let project = settings::read_project(&work_dir).await?;
        for (key, value) in &self.env {
            env::check_var(key, value.as_deref())?;
        }
        let mut env = Environment::default();
        for (key, value) in &self.env {
            env.set(key.clone(), value.clone());
        }
        if let Some(home) = self.prepare_home().await? {
            env.set("PULUMI_HOME".into(), Some(home.display().to_string()));
        }
        // A backend URL's password (postgres://user:password@…, ?password=…) travels only
        // in the environment; the CLI may quote the URL in its errors, so it is redacted
        // there too, as written and decoded (as any secret in the environment is).
        let backend_url = self.backend_url_for(&work_dir, &project).await?;
        if let Some(url) = &backend_url {
            env.set("PULUMI_BACKEND_URL".into(), Some(url.clone()));
        }
        if let Some(p) = &self.passphrase {
            env.set(
                "PULUMI_CONFIG_PASSPHRASE".into(),
                Some(p.expose().to_owned()),
            );
        }
        let pulumi = match (self.pulumi, &self.pulumi_path) {
            (_, Some(path)) => PulumiCommand::at(path).await?,
            (Some(p), None) => p,
            (None, None) => PulumiCommand::find().await?,
        };
        Ok(LocalWorkspace {
            inner: Arc::new(Inner {
                work_dir,
                project_name: project.name.clone(),
                pulumi,
                env: RwLock::new(Arc::new(env)),
                backend_url,
                secrets_provider: self.secrets_provider,
            }),
        })
    }

    /// The absolute `PULUMI_HOME`, created if missing; `None` when none was given.
    async fn prepare_home(&self) -> Result<Option<PathBuf>> {
        let Some(home) = &self.pulumi_home else {
            return Ok(None);
        };
        let home =
            std::path::absolute(home).map_err(|e| Error::invalid("pulumi_home", e.to_string()))?;
        tokio::fs::create_dir_all(&home)
            .await
            .map_err(|e| Error::io(format!("creating PULUMI_HOME {}", home.display()), e))?;
        Ok(Some(home))
    }

    /// The backend URL to pass to every command (see the module docs for the order),
    /// checked; a `file://` directory is created. `None` when `Pulumi.yaml` names the
    /// backend (the CLI reads it there itself).
    async fn backend_url_for(
        &self,
        work_dir: &Path,
        project: &settings::ProjectSettings,
    ) -> Result<Option<String>> {
        let inherited = std::env::var("PULUMI_BACKEND_URL")
            .ok()
            .filter(|s| !s.is_empty());
        let in_project = project
            .backend
            .as_ref()
            .and_then(|b| b.url.as_deref())
            .is_some_and(|u| !u.is_empty());
        let url = match (&self.backend_url, inherited) {
            (Some(url), _) => url.clone(),
            (None, Some(url)) => url,
            (None, None) if in_project => return Ok(None),
            (None, None) => format!("file://{}", work_dir.join(DEFAULT_STATE_DIR).display()),
        };
        if let Some(dir) = check_backend_url(&url)? {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| Error::io(format!("creating the state directory {dir}"), e))?;
        }
        Ok(Some(url))
    }
}

/// Checks a backend URL (shown redacted in the error); returns the directory of a
/// `file://` backend given as an absolute path.
fn check_backend_url(url: &str) -> Result<Option<&str>> {
    if url.is_empty() || url.chars().any(char::is_control) {
        return Err(Error::invalid(
            "backend URL",
            format!("{:?}", redact_url(url)),
        ));
    }
    let Some(dir) = url.strip_prefix("file://") else {
        return Ok(None);
    };
    let dir = dir.split('?').next().unwrap_or(dir);
    if !dir.starts_with('/') && !dir.starts_with('~') {
        return Err(Error::invalid(
            "backend URL",
            format!(
                "{:?}: a file backend needs an absolute path (file:///abs/dir)",
                redact_url(url)
            ),
        ));
    }
    Ok(dir.starts_with('/').then_some(dir))
}

/// A program directory with its environment and backend. See the module docs.
#[derive(Clone)]
pub struct LocalWorkspace {
    inner: Arc<Inner>,
}

struct Inner {
    work_dir: PathBuf,
    project_name: String,
    pulumi: PulumiCommand,
    /// Shared by every clone and stack; replaced whole on a change (see `env.rs`).
    env: RwLock<Arc<Environment>>,
    backend_url: Option<String>,
    secrets_provider: Option<String>,
}

impl std::fmt::Debug for LocalWorkspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalWorkspace")
            .field("work_dir", &self.inner.work_dir)
            .field("project", &self.inner.project_name)
            .field(
                "backend_url",
                &self.inner.backend_url.as_deref().map(redact_url),
            )
            .field("env", &self.env_var_names())
            .finish_non_exhaustive()
    }
}

/// Options for [`LocalWorkspace::install`] (`pulumi install`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct InstallOptions {
    /// Skip installing plugins.
    pub no_plugins: bool,
    /// Skip installing the program's dependencies.
    pub no_dependencies: bool,
    /// Reinstall plugins even if present.
    pub reinstall: bool,
    /// Use language version tools (pyenv, …) to set up the runtime.
    pub use_language_version_tools: bool,
}

impl InstallOptions {
    /// Skip installing plugins.
    pub fn no_plugins(mut self, on: bool) -> Self {
        self.no_plugins = on;
        self
    }
    /// Skip installing the program's dependencies.
    pub fn no_dependencies(mut self, on: bool) -> Self {
        self.no_dependencies = on;
        self
    }
    /// Reinstall plugins even if present.
    pub fn reinstall(mut self, on: bool) -> Self {
        self.reinstall = on;
        self
    }
    /// Use language version tools to set up the runtime.
    pub fn use_language_version_tools(mut self, on: bool) -> Self {
        self.use_language_version_tools = on;
        self
    }

    /// The arguments of `pulumi install` for these options.
    ///
    /// ```
    /// use pulumi_auto::workspace::InstallOptions;
    /// let o = InstallOptions::default().no_plugins(true).reinstall(true);
    /// assert_eq!(o.to_args(), ["install", "--no-plugins", "--reinstall"]);
    /// ```
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec!["install".to_owned()];
        for (on, flag) in [
            (self.no_plugins, "--no-plugins"),
            (self.no_dependencies, "--no-dependencies"),
            (self.reinstall, "--reinstall"),
            (
                self.use_language_version_tools,
                "--use-language-version-tools",
            ),
        ] {
            if on {
                args.push(flag.to_owned());
            }
        }
        args
    }
}

/// Options for [`LocalWorkspace::remove_stack`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct RemoveOptions {
    /// Remove the stack even if it still has resources (`--force`: they are forgotten,
    /// not deleted, and their state is lost). Losing a stack's state needs the same
    /// opt-in as destroying it: an approval naming the stack, which overrides protection
    /// when the stack is [protected](crate::approval::PROTECTED_TAG).
    pub force: Option<crate::DestroyApproval>,
    /// Keep the stack's `Pulumi.<stack>.yaml`.
    pub preserve_config: bool,
}

impl RemoveOptions {
    /// Remove even a stack that still has resources, with this approval naming it.
    pub fn force(mut self, approval: crate::DestroyApproval) -> Self {
        self.force = Some(approval);
        self
    }

    /// Keep the stack's `Pulumi.<stack>.yaml`.
    pub fn preserve_config(mut self, on: bool) -> Self {
        self.preserve_config = on;
        self
    }
}

impl LocalWorkspace {
    /// A builder for a workspace on the program in `work_dir`.
    pub fn builder(work_dir: impl Into<PathBuf>) -> LocalWorkspaceBuilder {
        LocalWorkspaceBuilder {
            work_dir: work_dir.into(),
            pulumi_home: None,
            backend_url: None,
            passphrase: None,
            secrets_provider: None,
            env: BTreeMap::new(),
            pulumi: None,
            pulumi_path: None,
        }
    }

    /// The program directory (absolute).
    pub fn work_dir(&self) -> &Path {
        &self.inner.work_dir
    }

    /// The project's name, from `Pulumi.yaml`.
    pub fn project_name(&self) -> &str {
        &self.inner.project_name
    }

    /// The backend URL passed to every command (`None` when `Pulumi.yaml` names it), as
    /// given: with its password, if it has one (the workspace's `Debug` shows it redacted).
    pub fn backend_url(&self) -> Option<&str> {
        self.inner.backend_url.as_deref()
    }

    /// The secrets provider given for new stacks (`None`: the CLI's default, the
    /// passphrase provider on a self-managed backend).
    pub fn secrets_provider(&self) -> Option<&str> {
        self.inner.secrets_provider.as_deref()
    }

    /// The `pulumi` binary in use.
    pub fn pulumi(&self) -> &PulumiCommand {
        &self.inner.pulumi
    }

    /// The names of the environment variables set or removed for every command (their
    /// values are not shown: some are secrets).
    pub fn env_var_names(&self) -> Vec<String> {
        self.environment().vars.keys().cloned().collect()
    }

    /// Runs a command in the program directory with the workspace's environment.
    ///
    /// A raw escape hatch, like [`PulumiCommand::run`]: the arguments go to the CLI as
    /// given, outside the approval rules ([`Stack::destroy`](crate::Stack::destroy), forced
    /// [`remove_stack`](Self::remove_stack), [`Stack::import_stack`](crate::Stack::import_stack)) and every check of
    /// names and extra arguments.
    ///
    /// A command that may write a stack's or the project's settings file (`config …`,
    /// `stack init`/`rm`/`rename`, an engine operation, …) holds that file's lock, within
    /// this process and across processes (see the README's "Concurrent config writes").
    pub async fn run(&self, inv: Invocation) -> Result<CommandOutput> {
        let (inv, _settings_lock) = self.lock_settings(inv).await?;
        let env = self.environment();
        let inv = inv
            .cwd(self.inner.work_dir.clone())
            .redact(env.redact.iter().cloned());
        self.inner.pulumi.run_with_env(&env.vars, inv).await
    }

    /// Takes the lock of every settings file `inv` may write (none for most commands).
    pub(crate) async fn lock_settings(
        &self,
        inv: Invocation,
    ) -> Result<(Invocation, lock::SettingsLock)> {
        lock::for_invocation(&self.inner.work_dir, inv).await
    }

    /// Like [`run`](Self::run), whatever the exit code (the caller classifies), and
    /// without taking the settings lock: the caller holds it ([`Self::lock_settings`]).
    pub(crate) async fn run_unchecked(&self, inv: Invocation) -> Result<CommandOutput> {
        let env = self.environment();
        let inv = inv
            .cwd(self.inner.work_dir.clone())
            .redact(env.redact.iter().cloned());
        self.inner.pulumi.run_unchecked(&env.vars, inv).await
    }

    /// The secrets redacted from the output of the workspace's commands (the passphrase,
    /// the backend URL's password, secret-bearing environment variables), as of now.
    pub(crate) fn redactions(&self) -> Vec<Secret> {
        self.environment().redact.clone()
    }

    /// Prepares the program's dependencies (`pulumi install`: for Python, creates the
    /// virtualenv and installs `requirements.txt`). One process.
    pub async fn install(&self, opts: &InstallOptions) -> Result<()> {
        self.run(Invocation::new(opts.to_args())).await.map(drop)
    }

    /// The project's stacks on the backend, with last update time and resource count.
    /// One process.
    pub async fn list_stacks(&self) -> Result<Vec<model::StackSummary>> {
        let out = self.run(Invocation::new(["stack", "ls", "--json"])).await?;
        model::parse_stack_list(&out.stdout).map_err(|e| parse_error(&out, e))
    }

    /// Who the backend says we are. One process.
    pub async fn whoami(&self) -> Result<model::WhoAmI> {
        let out = self.run(Invocation::new(["whoami", "--json"])).await?;
        model::parse_whoami(&out.stdout).map_err(|e| parse_error(&out, e))
    }

    /// The project settings (`Pulumi.yaml`), read from disk (no process).
    pub async fn project_settings(&self) -> Result<settings::ProjectSettings> {
        settings::read_project(&self.inner.work_dir).await
    }

    /// Writes the project settings (`Pulumi.yaml`); unknown fields are kept.
    pub async fn save_project_settings(&self, s: &settings::ProjectSettings) -> Result<()> {
        settings::write_project(&self.inner.work_dir, s).await
    }

    /// A stack's settings (`Pulumi.<stack>.yaml`), read from disk (no process).
    pub async fn stack_settings(&self, stack: &str) -> Result<settings::StackSettings> {
        validate_stack_name(stack)?;
        settings::read_stack_settings(&self.inner.work_dir, stack).await
    }

    /// Writes a stack's settings (`Pulumi.<stack>.yaml`); unknown fields are kept.
    pub async fn save_stack_settings(
        &self,
        stack: &str,
        s: &settings::StackSettings,
    ) -> Result<()> {
        validate_stack_name(stack)?;
        settings::write_stack_settings(&self.inner.work_dir, stack, s).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn debug_and_errors_do_not_show_the_backend_password() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Pulumi.yaml"), "name: p\nruntime: python\n").unwrap();
        // A stand-in CLI that quotes the backend URL in its error, as pulumi does when it
        // cannot open a backend.
        let fake = dir.path().join("pulumi");
        std::fs::write(
            &fake,
            "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = version ] && { echo v3.259.0; exit 0; }; done\n\
             echo \"error: unable to open bucket \\\"$PULUMI_BACKEND_URL\\\" as $MY_API_TOKEN\" >&2\nexit 255\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();

        for (url, shown) in [
            (
                "postgres://me:hunter2-pw@127.0.0.1:1/db?sslmode=disable",
                "hunter2-pw",
            ),
            ("postgres://me:hunter2%2Dpw@127.0.0.1:1/db", "hunter2%2Dpw"),
            ("postgres://me:hunter2/pw@127.0.0.1:1/db", "hunter2/pw"),
            ("postgres://me:p?hunter2#x@127.0.0.1:1/db", "p?hunter2#x"),
            (
                "postgres://me:hunter2%2Fpw@127.0.0.1:1/db?password=hunter2-q",
                "hunter2%2Fpw",
            ),
        ] {
            // A secret-bearing variable of the builder is redacted too.
            let ws = LocalWorkspace::builder(dir.path())
                .backend_url(url)
                .env("MY_API_TOKEN", "hunter2-api-token")
                .pulumi_command_path(&fake)
                .build()
                .await
                .unwrap();
            assert_eq!(ws.backend_url(), Some(url));
            let debug = format!("{ws:?}");
            assert!(
                !debug.contains(shown) && !debug.contains("hunter2"),
                "{debug}"
            );
            assert!(
                debug.contains("postgres://me:[secret]@127.0.0.1:1/db"),
                "{debug}"
            );

            let err = ws.list_stacks().await.unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(text.contains("unable to open bucket"), "{text}");
            assert!(text.contains("as [secret]"), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }

        // The builder's Debug: no password, no passphrase, no environment value.
        let builder = LocalWorkspace::builder(dir.path())
            .backend_url("postgres://me:hunter2-pw@h/db?password=hunter2-q")
            .passphrase(Secret::new("hunter2-passphrase"))
            .env("AWS_SECRET_ACCESS_KEY", "hunter2-env");
        let debug = format!("{builder:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("AWS_SECRET_ACCESS_KEY"), "{debug}");

        let err = LocalWorkspace::builder(dir.path())
            .backend_url("postgres://me:hunter2-pw@host/db\n")
            .pulumi_command_path(&fake)
            .build()
            .await
            .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("me:[secret]@host"), "{text}");
    }
}
