//! [`LocalWorkspace`]: a program directory, an environment and a backend.
//!
//! A workspace holds what every command needs: the program directory (with its
//! `Pulumi.yaml`), the `pulumi` binary, `PULUMI_HOME`, the backend URL, the secrets
//! passphrase and any environment variables. It is cheap to clone and safe to share across
//! tasks; it never relies on a globally selected stack, so many [`Stack`]s of one workspace
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

pub(crate) mod lock;
pub mod settings;
mod url;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) use url::url_secrets;
pub use url::{redact_url, url_has_credentials};
pub use validate::{
    MAX_NAME_LEN, validate_config_key, validate_project_name, validate_stack_name,
    validate_tag_name,
};

use crate::cli::{CommandOutput, Invocation, PulumiCommand};
use crate::error::{Error, Result};
use crate::model;
use crate::secret::Secret;
use crate::stack::Stack;

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
        for key in self.env.keys() {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                return Err(Error::invalid(
                    "environment variable",
                    format!("{key:?} is not a valid name"),
                ));
            }
        }
        // The CLI reads any flag from PULUMI_OPTION_<FLAG> (`PULUMI_OPTION_FORCE=true` is
        // `--force` on `stack rm`): an extra flag on every command, past every check.
        if let Some((key, _)) = self
            .env
            .iter()
            .find(|(k, v)| v.is_some() && k.starts_with("PULUMI_OPTION_"))
        {
            return Err(Error::invalid(
                "environment variable",
                format!(
                    "{key:?}: the CLI reads it as a flag of every command; pass flags as options"
                ),
            ));
        }

        let mut env = self.env.clone();
        if let Some(home) = &self.pulumi_home {
            let home = std::path::absolute(home)
                .map_err(|e| Error::invalid("pulumi_home", e.to_string()))?;
            tokio::fs::create_dir_all(&home)
                .await
                .map_err(|e| Error::io(format!("creating PULUMI_HOME {}", home.display()), e))?;
            env.insert("PULUMI_HOME".into(), Some(home.display().to_string()));
        }

        let inherited_backend = std::env::var("PULUMI_BACKEND_URL")
            .ok()
            .filter(|s| !s.is_empty());
        let project_backend = project
            .backend
            .as_ref()
            .and_then(|b| b.url.clone())
            .filter(|s| !s.is_empty());
        let backend_url = match (&self.backend_url, inherited_backend, project_backend) {
            (Some(url), _, _) => Some(url.clone()),
            (None, Some(url), _) => Some(url),
            (None, None, Some(_)) => None, // the CLI reads Pulumi.yaml itself
            (None, None, None) => Some(format!(
                "file://{}",
                work_dir.join(DEFAULT_STATE_DIR).display()
            )),
        };
        if let Some(url) = &backend_url {
            if url.is_empty() || url.chars().any(char::is_control) {
                return Err(Error::invalid(
                    "backend URL",
                    format!("{:?}", redact_url(url)),
                ));
            }
            if let Some(dir) = url.strip_prefix("file://") {
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
                if dir.starts_with('/') {
                    tokio::fs::create_dir_all(dir)
                        .await
                        .map_err(|e| Error::io(format!("creating the state directory {dir}"), e))?;
                }
            }
            env.insert("PULUMI_BACKEND_URL".into(), Some(url.clone()));
        }

        // A backend URL's password (postgres://user:password@…, ?password=…) travels only
        // in the environment; the CLI may quote the URL in its errors, so it is redacted
        // there too, as written and decoded.
        let mut redact = backend_url.as_deref().map(url_secrets).unwrap_or_default();
        if let Some(p) = &self.passphrase {
            env.insert(
                "PULUMI_CONFIG_PASSPHRASE".into(),
                Some(p.expose().to_owned()),
            );
            redact.push(p.clone());
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
                env,
                backend_url,
                secrets_provider: self.secrets_provider,
                redact,
            }),
        })
    }
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
    env: BTreeMap<String, Option<String>>,
    backend_url: Option<String>,
    secrets_provider: Option<String>,
    redact: Vec<Secret>,
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
            .field("env", &self.inner.env.keys().collect::<Vec<_>>())
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

    /// The `pulumi` binary in use.
    pub fn pulumi(&self) -> &PulumiCommand {
        &self.inner.pulumi
    }

    /// The names of the environment variables set or removed for every command.
    pub fn env_var_names(&self) -> Vec<&str> {
        self.inner.env.keys().map(String::as_str).collect()
    }

    /// Runs a command in the program directory with the workspace's environment.
    ///
    /// A raw escape hatch, like [`PulumiCommand::run`]: the arguments go to the CLI as
    /// given, outside the approval rules ([`Stack::destroy`], forced
    /// [`remove_stack`](Self::remove_stack), [`Stack::import_stack`]) and every check of
    /// names and extra arguments.
    ///
    /// A command that may write a stack's or the project's settings file (`config …`,
    /// `stack init`/`rm`/`rename`, an engine operation, …) holds that file's lock, within
    /// this process and across processes (see the README's "Concurrent config writes").
    pub async fn run(&self, inv: Invocation) -> Result<CommandOutput> {
        let (inv, _settings_lock) = self.lock_settings(inv).await?;
        let inv = inv
            .cwd(self.inner.work_dir.clone())
            .redact(self.inner.redact.clone());
        self.inner.pulumi.run_with_env(&self.inner.env, inv).await
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
        let inv = inv
            .cwd(self.inner.work_dir.clone())
            .redact(self.inner.redact.clone());
        self.inner.pulumi.run_unchecked(&self.inner.env, inv).await
    }

    pub(crate) fn redactions(&self) -> &[Secret] {
        &self.inner.redact
    }

    /// Prepares the program's dependencies (`pulumi install`: for Python, creates the
    /// virtualenv and installs `requirements.txt`). One process.
    pub async fn install(&self, opts: &InstallOptions) -> Result<()> {
        self.run(Invocation::new(opts.to_args())).await.map(drop)
    }

    /// A handle on a stack, without checking that it exists (no process).
    pub fn stack_handle(&self, name: &str) -> Result<Stack> {
        validate_stack_name(name)?;
        Ok(Stack::new(self.clone(), name.to_owned()))
    }

    /// Creates a stack; fails with [`Error::StackAlreadyExists`] if it exists. One process.
    pub async fn create_stack(&self, name: &str) -> Result<Stack> {
        let stack = self.stack_handle(name)?;
        let args = init_args(name, self.inner.secrets_provider.as_deref())?;
        self.run(Invocation::new(args).for_stack(name)).await?;
        Ok(stack)
    }

    /// A stack that must exist; fails with [`Error::StackNotFound`] otherwise. One process
    /// (a read of the stack's config), and nothing is selected globally.
    pub async fn select_stack(&self, name: &str) -> Result<Stack> {
        let stack = self.stack_handle(name)?;
        self.run(
            Invocation::new(["config", "--json", "--stack", name])
                .for_stack(name)
                .max_stdout(0),
        )
        .await?;
        Ok(stack)
    }

    /// Creates the stack, or uses it if it exists. One process either way: `stack init`,
    /// whose "already exists" answer means the stack is there.
    pub async fn create_or_select_stack(&self, name: &str) -> Result<Stack> {
        match self.create_stack(name).await {
            Ok(stack) => Ok(stack),
            Err(Error::StackAlreadyExists { .. }) => self.stack_handle(name),
            Err(e) => Err(e),
        }
    }

    /// Removes a stack and its config file (unless `preserve_config`). Without `force` it
    /// refuses while the stack has resources. One process; a forced removal first checks
    /// its approval like [`Stack::destroy`] does (the name without a process, then the
    /// protection tag: one more).
    pub async fn remove_stack(&self, name: &str, opts: RemoveOptions) -> Result<()> {
        let args = remove_args(name, &opts)?;
        if let Some(approval) = &opts.force {
            self.stack_handle(name)?
                .check_removal_approval(approval)
                .await?;
        }
        self.run(Invocation::new(args).for_stack(name))
            .await
            .map(drop)
    }

    /// Renames a stack; returns the handle under its new name. One process.
    pub async fn rename_stack(&self, name: &str, new_name: &str) -> Result<Stack> {
        let args = rename_args(name, new_name)?;
        let new = self.stack_handle(new_name)?;
        self.run(Invocation::new(args).for_stack(name)).await?;
        Ok(new)
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

    /// Installs a plugin (`kind` a [`PluginKind`](model::PluginKind), or its name:
    /// `resource`, `language`, `analyzer`, `converter` or `tool`; `name` by Pulumi's rule
    /// for plugin names; `version` a version, `1.2.3` or `v1.2.3`). One process.
    pub async fn install_plugin(
        &self,
        kind: impl Into<model::PluginKind>,
        name: &str,
        version: &str,
        server: Option<&str>,
    ) -> Result<()> {
        let args = plugin_install_args(kind.into().as_str(), name, version, server, None)?;
        self.run(Invocation::new(args)).await.map(drop)
    }

    /// Installs a plugin from a local binary, folder or tarball (`plugin install --file`),
    /// with no download. One process.
    pub async fn install_plugin_from_file(
        &self,
        kind: impl Into<model::PluginKind>,
        name: &str,
        version: &str,
        file: &Path,
    ) -> Result<()> {
        if !file.exists() {
            return Err(Error::invalid(
                "plugin file",
                format!("{} does not exist", file.display()),
            ));
        }
        let file = crate::cli::absolute("plugin file", file)?;
        let args = plugin_install_args(kind.into().as_str(), name, version, None, Some(&file))?;
        self.run(Invocation::new(args)).await.map(drop)
    }

    /// Removes a plugin: one kind and name, all its versions when `version` is `None`, else
    /// the versions matching `version` (a version or a range such as `>=1.0.0 <2.0.0`).
    /// Never more: kind, name and version are checked, and go to the CLI as positional
    /// arguments only. One process.
    pub async fn remove_plugin(
        &self,
        kind: impl Into<model::PluginKind>,
        name: &str,
        version: Option<&str>,
    ) -> Result<()> {
        let args = plugin_remove_args(kind.into().as_str(), name, version)?;
        self.run(Invocation::new(args)).await.map(drop)
    }

    /// The plugins in the plugin cache (`PULUMI_HOME/plugins`). One process.
    pub async fn list_plugins(&self) -> Result<Vec<model::PluginInfo>> {
        let out = self
            .run(Invocation::new(["plugin", "ls", "--json"]))
            .await?;
        model::parse_plugins(&out.stdout).map_err(|e| parse_error(&out, e))
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

/// Checks a value that goes to the CLI attached to its flag (`--flag=value`).
fn check_flag_value(what: &str, v: &str) -> Result<()> {
    if v.is_empty() || v.chars().any(char::is_control) {
        return Err(Error::invalid(
            what,
            format!("{v:?}: must be non-empty, with no control characters"),
        ));
    }
    Ok(())
}

/// The argv of `stack init`: the name after `--`, so that nothing can make it a flag.
fn init_args(name: &str, secrets_provider: Option<&str>) -> Result<Vec<String>> {
    validate_stack_name(name)?;
    let mut args = vec!["stack".to_owned(), "init".into(), "--no-select".into()];
    if let Some(p) = secrets_provider {
        check_flag_value("secrets provider", p)?;
        args.push(format!("--secrets-provider={p}"));
    }
    args.extend(["--".into(), name.into()]);
    Ok(args)
}

/// The argv of `stack rm` (it takes no extra arguments, and the name goes after `--`).
fn remove_args(name: &str, opts: &RemoveOptions) -> Result<Vec<String>> {
    validate_stack_name(name)?;
    let mut args = vec!["stack".to_owned(), "rm".into(), "--yes".into()];
    if opts.force.is_some() {
        args.push("--force".into());
    }
    if opts.preserve_config {
        args.push("--preserve-config".into());
    }
    args.extend(["--".into(), name.into()]);
    Ok(args)
}

/// The argv of `stack rename`: the new name after `--`.
fn rename_args(name: &str, new_name: &str) -> Result<Vec<String>> {
    validate_stack_name(name)?;
    validate_stack_name(new_name)?;
    Ok(vec![
        "stack".into(),
        "rename".into(),
        format!("--stack={name}"),
        "--".into(),
        new_name.into(),
    ])
}

/// The plugin kinds of the pinned CLI (`apitype.IsPluginKind`).
const PLUGIN_KINDS: [&str; 5] = ["analyzer", "language", "resource", "converter", "tool"];

/// Checks a plugin kind and name: the kind one of [`PLUGIN_KINDS`]; the name by Pulumi's
/// rule (`[source/][publisher/]name`, each part `[A-Za-z0-9-][A-Za-z0-9-_.]*[A-Za-z0-9]`),
/// and no part beginning with `-`.
fn check_plugin(kind: &str, name: &str) -> Result<()> {
    if !PLUGIN_KINDS.contains(&kind) {
        return Err(Error::invalid(
            "plugin kind",
            format!("{kind:?}: expected one of {}", PLUGIN_KINDS.join(", ")),
        ));
    }
    let parts: Vec<&str> = name.split('/').collect();
    let part_ok = |p: &str| {
        let b = p.as_bytes();
        b.len() >= 2
            && (b[0].is_ascii_alphanumeric())
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    };
    if parts.len() > 3 || !parts.iter().all(|p| part_ok(p)) {
        return Err(Error::invalid(
            "plugin name",
            format!(
                "{name:?}: expected `name`, `publisher/name` or `source/publisher/name`, each \
                 part letters, digits, `-`, `_` or `.`, beginning and ending with a letter or digit"
            ),
        ));
    }
    Ok(())
}

/// Checks a plugin version: `1.2.3` or `v1.2.3` (semver, with pre-release and build).
fn check_plugin_version(version: &str) -> Result<()> {
    let v = version.strip_prefix('v').unwrap_or(version);
    semver::Version::parse(v)
        .map(drop)
        .map_err(|e| Error::invalid("plugin version", format!("{version:?}: {e}")))
}

/// Checks a plugin version range as `plugin rm` takes it: versions, each optionally
/// preceded by a comparison (`>=1.0.0 <2.0.0`), alternatives joined by `||`.
fn check_plugin_version_range(range: &str) -> Result<()> {
    let bad = || {
        Error::invalid(
            "plugin version",
            format!("{range:?}: expected a version or a range such as `>=1.0.0 <2.0.0`"),
        )
    };
    if range.trim().is_empty() || range.chars().any(char::is_control) {
        return Err(bad());
    }
    for alternative in range.split("||") {
        let mut any = false;
        for comparator in alternative.split_whitespace() {
            let v = comparator.trim_start_matches(['<', '>', '=', '!']);
            check_plugin_version(v).map_err(|_| bad())?;
            any = true;
        }
        if !any {
            return Err(bad());
        }
    }
    Ok(())
}

/// The argv of `plugin install`: kind, name and version after `--`.
fn plugin_install_args(
    kind: &str,
    name: &str,
    version: &str,
    server: Option<&str>,
    file: Option<&Path>,
) -> Result<Vec<String>> {
    check_plugin(kind, name)?;
    check_plugin_version(version)?;
    let mut args = vec!["plugin".to_owned(), "install".into()];
    if let Some(s) = server {
        check_flag_value("plugin server", s)?;
        args.push(format!("--server={s}"));
    }
    if let Some(f) = file {
        args.push(format!("--file={}", f.display()));
    }
    args.extend(["--".into(), kind.into(), name.into(), version.into()]);
    Ok(args)
}

/// The argv of `plugin rm`: kind, name and version after `--` (a name `-a` would be
/// `--all` otherwise).
fn plugin_remove_args(kind: &str, name: &str, version: Option<&str>) -> Result<Vec<String>> {
    check_plugin(kind, name)?;
    let mut args = vec![
        "plugin".to_owned(),
        "rm".into(),
        "--yes".into(),
        "--".into(),
        kind.into(),
        name.into(),
    ];
    if let Some(v) = version {
        check_plugin_version_range(v)?;
        args.push(v.into());
    }
    Ok(args)
}

/// A parse failure of a command's output as an [`Error::Parse`].
pub(crate) fn parse_error(out: &CommandOutput, e: impl std::fmt::Display) -> Error {
    Error::Parse {
        command: out.command.clone(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_and_plugin_argv_put_user_input_after_the_flags() {
        assert_eq!(
            init_args("dev", Some("passphrase")).unwrap(),
            [
                "stack",
                "init",
                "--no-select",
                "--secrets-provider=passphrase",
                "--",
                "dev"
            ]
        );
        let forced = RemoveOptions::default()
            .force(crate::DestroyApproval::for_stack("dev"))
            .preserve_config(true);
        assert_eq!(
            remove_args("dev", &forced).unwrap(),
            [
                "stack",
                "rm",
                "--yes",
                "--force",
                "--preserve-config",
                "--",
                "dev"
            ]
        );
        assert_eq!(
            rename_args("organization/p/a", "b").unwrap(),
            ["stack", "rename", "--stack=organization/p/a", "--", "b"]
        );
        assert_eq!(
            plugin_install_args(
                "resource",
                "files",
                "v1.2.3",
                Some("https://example.com/x"),
                None
            )
            .unwrap(),
            [
                "plugin",
                "install",
                "--server=https://example.com/x",
                "--",
                "resource",
                "files",
                "v1.2.3"
            ]
        );
        assert_eq!(
            plugin_install_args("resource", "files", "1.0.0", None, Some(Path::new("/b"))).unwrap(),
            [
                "plugin",
                "install",
                "--file=/b",
                "--",
                "resource",
                "files",
                "1.0.0"
            ]
        );
        assert_eq!(
            plugin_remove_args("resource", "files", Some(">=1.0.0 <2.0.0")).unwrap(),
            [
                "plugin",
                "rm",
                "--yes",
                "--",
                "resource",
                "files",
                ">=1.0.0 <2.0.0"
            ]
        );
        assert_eq!(
            plugin_remove_args("tool", "pulumi/neo", None).unwrap(),
            ["plugin", "rm", "--yes", "--", "tool", "pulumi/neo"]
        );
    }

    #[test]
    fn flag_like_stack_and_plugin_inputs_are_refused() {
        let invalid = |r: Result<Vec<String>>| matches!(r, Err(Error::InvalidInput { .. }));
        for name in ["--force", "-", "--help", "../x", ""] {
            assert!(invalid(init_args(name, None)), "{name:?}");
            assert!(
                invalid(remove_args(name, &RemoveOptions::default())),
                "{name:?}"
            );
            assert!(invalid(rename_args("dev", name)), "{name:?}");
            assert!(invalid(rename_args(name, "dev")), "{name:?}");
        }
        assert!(invalid(init_args("dev", Some("--x\n"))));
        assert!(invalid(init_args("dev", Some(""))));
        for kind in ["-a", "--all", "resources", "", "Resource"] {
            assert!(invalid(plugin_remove_args(kind, "files", None)), "{kind:?}");
            assert!(invalid(plugin_install_args(
                kind, "files", "1.0.0", None, None
            )));
        }
        for name in [
            "-a", "--all", "a", "", "x/-a", "a/b/c/d", "a b", "files-", "files\n",
        ] {
            assert!(
                invalid(plugin_remove_args("resource", name, None)),
                "{name:?}"
            );
            assert!(
                invalid(plugin_install_args("resource", name, "1.0.0", None, None)),
                "{name:?}"
            );
        }
        for v in ["-a", "--yes", "", "1", "latest", "1.0.0\n", "v"] {
            assert!(
                invalid(plugin_install_args("resource", "files", v, None, None)),
                "{v:?}"
            );
        }
        for v in ["-a", "--yes", "", " ", "||", ">=", "1.0.0 ||", "x"] {
            assert!(
                invalid(plugin_remove_args("resource", "files", Some(v))),
                "{v:?}"
            );
        }
        for v in [
            "1.0.0",
            "v1.0.0",
            ">=1.0.0",
            "<2.0.0 >1.0.0",
            "1.0.0 || >=3.0.0-alpha.1",
        ] {
            assert!(
                plugin_remove_args("resource", "files", Some(v)).is_ok(),
                "{v:?}"
            );
        }
        assert!(invalid(plugin_install_args(
            "resource",
            "files",
            "1.0.0",
            Some("-x\u{7}"),
            None
        )));
    }

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
             echo \"error: unable to open bucket \\\"$PULUMI_BACKEND_URL\\\"\" >&2\nexit 255\n",
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
            let ws = LocalWorkspace::builder(dir.path())
                .backend_url(url)
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
