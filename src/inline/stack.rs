//! Workspaces and stacks of an inline program: a [`LocalWorkspace`] on a directory that
//! holds only the project's `Pulumi.yaml`, and the operations that serve the program.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::server::{self, Server};
use super::{Context, InlineProgram, ProgramError, ProgramResult};
use crate::approval::{DestroyApproval, DestroyPlan};
use crate::ephemeral::{EphemeralStack, EphemeralStackBuilder, TeardownOutcome};
use crate::error::{Error, Result};
use crate::ops::{
    CommonOptions, DestroyOptions, OpResult, PreviewOptions, PreviewResult, RefreshOptions,
    UpOptions, UpResult,
};
use crate::stack::Stack;
use crate::workspace::{LocalWorkspace, LocalWorkspaceBuilder};

type Configure = Box<dyn FnOnce(LocalWorkspaceBuilder) -> LocalWorkspaceBuilder + Send>;

/// Builds an [`InlineWorkspace`]: the project's name, the program, and anything a
/// [`LocalWorkspaceBuilder`] takes (backend, passphrase, environment, `PULUMI_HOME`).
#[must_use]
pub struct InlineWorkspaceBuilder {
    project: String,
    program: InlineProgram,
    work_dir: Option<PathBuf>,
    configure: Vec<Configure>,
}

impl std::fmt::Debug for InlineWorkspaceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineWorkspaceBuilder")
            .field("project", &self.project)
            .field("work_dir", &self.work_dir)
            .finish_non_exhaustive()
    }
}

/// Pulumi's rule for project names.
fn check_project(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    match ok {
        true => Ok(()),
        false => Err(Error::invalid(
            "project name",
            format!("{name:?}: 1 to 100 letters, digits, '-', '_' or '.'"),
        )),
    }
}

/// The project file of an inline program: the runtime is the Go SDK's (the CLI replaces
/// it with its `client` runtime under `--client`).
fn project_yaml(project: &str) -> String {
    format!("name: {project}\nruntime: go\ndescription: an inline program of pulumi-auto\n")
}

/// Where the `Pulumi.yaml` lives: a directory of the workspace's own, removed with the
/// last handle, or the one given.
enum ProgramDir {
    Temp(tempfile::TempDir),
    Given(PathBuf),
}

impl ProgramDir {
    fn path(&self) -> &Path {
        match self {
            ProgramDir::Temp(t) => t.path(),
            ProgramDir::Given(p) => p,
        }
    }
}

impl InlineWorkspaceBuilder {
    /// Sets what a [`LocalWorkspaceBuilder`] sets: `.workspace(|b|
    /// b.backend_url(url).passphrase(p))`. Calls add up.
    pub fn workspace(
        mut self,
        f: impl FnOnce(LocalWorkspaceBuilder) -> LocalWorkspaceBuilder + Send + 'static,
    ) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    /// Keeps the project's files in this directory (created if missing) instead of a
    /// temporary one: the stacks' settings files (`Pulumi.<stack>.yaml`, their config and
    /// the passphrase provider's salt) then outlive the workspace. Its `Pulumi.yaml` is
    /// written by the build.
    pub fn work_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.work_dir = Some(dir.into());
        self
    }

    async fn prepare(self) -> Result<(LocalWorkspaceBuilder, InlineProgram, Arc<ProgramDir>)> {
        check_project(&self.project)?;
        let dir = match self.work_dir {
            Some(d) => {
                let d = std::path::absolute(&d)
                    .map_err(|e| Error::invalid("work_dir", format!("{}: {e}", d.display())))?;
                tokio::fs::create_dir_all(&d)
                    .await
                    .map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
                ProgramDir::Given(d)
            }
            None => ProgramDir::Temp(
                tempfile::Builder::new()
                    .prefix("pulumi-auto-inline-")
                    .tempdir()
                    .map_err(|e| Error::io("creating the inline program's directory", e))?,
            ),
        };
        let yaml = dir.path().join("Pulumi.yaml");
        tokio::fs::write(&yaml, project_yaml(&self.project))
            .await
            .map_err(|e| Error::io(format!("writing {}", yaml.display()), e))?;
        let mut builder = LocalWorkspace::builder(dir.path());
        for f in self.configure {
            builder = f(builder);
        }
        Ok((builder, self.program, Arc::new(dir)))
    }

    /// Writes the project file and builds the workspace.
    pub async fn build(self) -> Result<InlineWorkspace> {
        let (builder, program, dir) = self.prepare().await?;
        Ok(InlineWorkspace {
            ws: builder.build().await?,
            program,
            dir,
        })
    }

    /// Creates an [ephemeral stack](crate::EphemeralStack) of the program, on a backend
    /// and `PULUMI_HOME` of its own unless the workspace settings say otherwise;
    /// `configure` sets its prefix, config and the rest.
    pub async fn create_ephemeral(
        self,
        configure: impl FnOnce(EphemeralStackBuilder) -> EphemeralStackBuilder,
    ) -> Result<InlineEphemeralStack> {
        let (builder, program, dir) = self.prepare().await?;
        let guard = configure(EphemeralStack::builder_from(builder))
            .create()
            .await?;
        Ok(InlineEphemeralStack {
            guard,
            program,
            _dir: dir,
        })
    }
}

/// A workspace whose program is a Rust closure (see [the module](super)).
#[derive(Clone)]
pub struct InlineWorkspace {
    ws: LocalWorkspace,
    program: InlineProgram,
    dir: Arc<ProgramDir>,
}

impl std::fmt::Debug for InlineWorkspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineWorkspace")
            .field("workspace", &self.ws)
            .finish_non_exhaustive()
    }
}

impl InlineWorkspace {
    /// A builder for the project `project` and its program, a closure or function taking
    /// a [`Context`] and returning a future: `Fn(Context) -> impl Future<Output =
    /// ProgramResult> + Send + Sync + 'static`.
    pub fn builder<F, Fut>(project: impl Into<String>, program: F) -> InlineWorkspaceBuilder
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ProgramResult> + Send + 'static,
    {
        InlineWorkspaceBuilder {
            project: project.into(),
            program: InlineProgram::new(program),
            work_dir: None,
            configure: Vec::new(),
        }
    }

    /// The underlying workspace: stacks, plugins, settings and the rest, as for any
    /// program.
    pub fn workspace(&self) -> &LocalWorkspace {
        &self.ws
    }

    /// The directory that holds the project's `Pulumi.yaml` (a temporary one, removed
    /// with the last handle of the workspace and its stacks, unless one was given).
    pub fn work_dir(&self) -> &Path {
        self.dir.path()
    }

    fn wrap(&self, stack: Stack) -> InlineStack {
        InlineStack {
            stack,
            program: self.program.clone(),
            _dir: self.dir.clone(),
        }
    }

    /// Creates a stack (fails if it exists).
    pub async fn create_stack(&self, name: &str) -> Result<InlineStack> {
        Ok(self.wrap(self.ws.create_stack(name).await?))
    }

    /// Selects an existing stack.
    pub async fn select_stack(&self, name: &str) -> Result<InlineStack> {
        Ok(self.wrap(self.ws.select_stack(name).await?))
    }

    /// Creates the stack, or selects it if it exists.
    pub async fn create_or_select_stack(&self, name: &str) -> Result<InlineStack> {
        Ok(self.wrap(self.ws.create_or_select_stack(name).await?))
    }
}

/// A stack of an inline program. It derefs to its [`Stack`] for config, outputs, tags,
/// history and the rest; its own `up`, `preview`, `refresh`, `destroy` and
/// `preview_destroy` serve the program to the CLI. (The `*_with_events` methods reached
/// through the deref are [`Stack`]'s and do not serve it: take the live events with the
/// options' [`on_event`](UpOptions::on_event) callback.)
#[derive(Clone)]
pub struct InlineStack {
    stack: Stack,
    program: InlineProgram,
    _dir: Arc<ProgramDir>,
}

impl std::fmt::Debug for InlineStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineStack")
            .field("stack", &self.stack)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for InlineStack {
    type Target = Stack;
    fn deref(&self) -> &Stack {
        &self.stack
    }
}

/// Sets the operation's `--client` (and `--exec-kind=auto.inline`).
fn client(common: &mut CommonOptions, address: &str) {
    common.client = Some(address.to_owned());
}

/// Runs one operation with the program served: the server starts, `run` gets its
/// address, the server stops. A failure of the program is [`Error::ProgramFailed`] with
/// the program's own message.
async fn served<T, Fut>(program: &InlineProgram, run: impl FnOnce(String) -> Fut) -> Result<T>
where
    Fut: Future<Output = Result<T>>,
{
    if server::in_program() {
        return Err(Error::invalid(
            "operation",
            "an inline program cannot run an operation of a stack from inside its own run",
        ));
    }
    let server = Server::start(program.clone()).await?;
    let result = run(server.address().to_owned()).await;
    let failure = server.shutdown().await;
    match (result, failure) {
        (Err(e), Some(ProgramError(message))) => Err(match e {
            Error::CommandFailed { failure } | Error::ProgramFailed { failure, .. } => {
                Error::ProgramFailed { message, failure }
            }
            other => other,
        }),
        (r, _) => r,
    }
}

/// The operations of an inline stack, on `stack` with `program`.
macro_rules! inline_ops {
    () => {
        /// Creates or updates the stack's resources: the program runs once (the CLI's
        /// own preview is skipped, as for [`Stack::up`]). One `pulumi` process (one more
        /// to reveal secret outputs), no language host.
        pub async fn up(&self, mut opts: UpOptions) -> Result<UpResult> {
            served(&self.program, |a| {
                client(&mut opts.common, &a);
                self.stack().up(opts)
            })
            .await
        }

        /// Previews an update: the program runs once with [`Context::is_preview`], and
        /// outputs not known yet are [`Value::Unknown`](super::Value::Unknown).
        pub async fn preview(&self, mut opts: PreviewOptions) -> Result<PreviewResult> {
            served(&self.program, |a| {
                client(&mut opts.common, &a);
                self.stack().preview(opts)
            })
            .await
        }

        /// Refreshes the state from the providers (the program runs only with
        /// [`RefreshOptions::run_program`]).
        pub async fn refresh(&self, mut opts: RefreshOptions) -> Result<OpResult> {
            served(&self.program, |a| {
                client(&mut opts.common, &a);
                self.stack().refresh(opts)
            })
            .await
        }

        /// Shows what a destroy would delete, as a plan to
        /// [approve](crate::DestroyPlan::approve).
        pub async fn preview_destroy(&self, mut opts: DestroyOptions) -> Result<DestroyPlan> {
            served(&self.program, |a| {
                client(&mut opts.common, &a);
                self.stack().preview_destroy(opts)
            })
            .await
        }

        /// Deletes every resource of the stack, when `approval` allows it (see
        /// [`Stack::destroy`]; the fresh preview of a bound approval is served too).
        pub async fn destroy(
            &self,
            mut opts: DestroyOptions,
            approval: &DestroyApproval,
        ) -> Result<OpResult> {
            served(&self.program, |a| {
                client(&mut opts.common, &a);
                self.stack().destroy(opts, approval)
            })
            .await
        }
    };
}

impl InlineStack {
    /// The stack.
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    inline_ops!();
}

/// An [ephemeral stack](crate::EphemeralStack) of an inline program: it derefs to its
/// [`Stack`]; `up`, `preview`, `refresh`, `destroy` and `preview_destroy` serve the
/// program, and [`teardown`](Self::teardown) (or a drop) destroys and removes it as any
/// ephemeral stack.
pub struct InlineEphemeralStack {
    guard: EphemeralStack,
    program: InlineProgram,
    _dir: Arc<ProgramDir>,
}

impl std::fmt::Debug for InlineEphemeralStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineEphemeralStack")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for InlineEphemeralStack {
    type Target = Stack;
    fn deref(&self) -> &Stack {
        self.guard.stack()
    }
}

impl InlineEphemeralStack {
    /// The stack.
    pub fn stack(&self) -> &Stack {
        self.guard.stack()
    }

    /// The ephemeral stack's guard (its ledger entry, its workspace).
    pub fn guard(&self) -> &EphemeralStack {
        &self.guard
    }

    inline_ops!();

    /// Destroys the stack's resources and removes it (its guard's
    /// [`teardown`](EphemeralStack::teardown): a destroy needs no program).
    pub async fn teardown(self) -> Result<TeardownOutcome> {
        self.guard.teardown().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_get_the_client_flags_and_no_extra_arg_overrides_them() {
        let mut up = UpOptions::default();
        client(&mut up.common, "127.0.0.1:4242");
        let args = up.to_args("dev", None).unwrap();
        assert!(
            args.contains(&"--client=127.0.0.1:4242".to_owned()),
            "{args:?}"
        );
        assert!(
            args.contains(&"--exec-kind=auto.inline".to_owned()),
            "{args:?}"
        );
        let mut destroy = DestroyOptions::default();
        client(&mut destroy.common, "127.0.0.1:4242");
        for args in [
            destroy.to_args("dev", None).unwrap(),
            destroy.to_preview_args("dev", None).unwrap(),
        ] {
            assert!(
                args.contains(&"--client=127.0.0.1:4242".to_owned()),
                "{args:?}"
            );
        }
        let mut refresh = RefreshOptions::default().extra_arg("--client=127.0.0.1:1");
        client(&mut refresh.common, "127.0.0.1:4242");
        assert!(matches!(
            refresh.to_args("dev", None),
            Err(Error::InvalidInput { .. })
        ));
        let mut preview = PreviewOptions::default().extra_arg("--exec-kind=auto.local");
        client(&mut preview.common, "127.0.0.1:4242");
        assert!(matches!(
            preview.to_args("dev", None),
            Err(Error::InvalidInput { .. })
        ));
        // Without the inline module, no operation passes them.
        let args = UpOptions::default().to_args("dev", None).unwrap();
        assert!(
            !args
                .iter()
                .any(|a| a.starts_with("--client") || a.starts_with("--exec-kind"))
        );
    }

    #[test]
    fn project_names() {
        assert!(check_project("files-inline_1.0").is_ok());
        for bad in ["", "a b", "a\nruntime: python", "../x", &"x".repeat(101)] {
            assert!(
                matches!(check_project(bad), Err(Error::InvalidInput { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(
            project_yaml("p"),
            "name: p\nruntime: go\ndescription: an inline program of pulumi-auto\n"
        );
    }
}
