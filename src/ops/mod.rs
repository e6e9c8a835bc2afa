//! The engine operations: up, preview, refresh, destroy and import.
//!
//! Each has its own file with its options (a builder), its argv (a pure function, unit
//! tested) and its result. They share one runner: the CLI writes its engine events to a
//! named pipe (`--event-log`), which is read as it runs and delivered, typed, to a
//! callback and to a [`Stream`](futures_core::Stream); the change summary and the outputs
//! come from those events, so `up` costs one `pulumi` process (two when an output is
//! secret: one more to reveal it).
//!
//! ```no_run
//! # async fn demo(stack: pulumi_auto::Stack) -> pulumi_auto::Result<()> {
//! use pulumi_auto::ops::UpOptions;
//! let result = stack
//!     .up(UpOptions::default().on_event(|ev| println!("event {}", ev.sequence)))
//!     .await?;
//! println!("{:?} in {:?}", result.summary.resource_changes, result.summary.duration);
//! for (name, out) in &result.outputs {
//!     println!("{name} = {:?} (secret: {})", out.value, out.secret);
//! }
//! # Ok(()) }
//! ```

mod argv;
mod destroy;
mod import;
mod options;
mod preview;
mod refresh;
mod up;

use std::collections::BTreeMap;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;

pub use argv::{FlagSpec, check_extra_args, managed_flags};
pub use destroy::DestroyOptions;
pub use import::{ImportOptions, ImportResource, ImportSource};
pub use options::{CommonOptions, Control, DebugLogging, EventCallback};
pub use preview::{PreviewOptions, PreviewResult};
pub use refresh::RefreshOptions;
pub use up::{UpOptions, UpResult};

use crate::approval::{DestroyApproval, DestroyPlan, DestroyRefusal};
use crate::cli::{CommandOutput, Invocation};
use crate::error::{Error, Result};
use crate::events::{EngineEvent, EventLog};
use crate::model::{self, OutputMap};
use crate::stack::Stack;

/// The change summary of an operation, from the engine's summary event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpSummary {
    /// `succeeded`, `failed` or `canceled` (empty if the engine never reported).
    pub result: String,
    /// Resource counts by operation (`create`, `update`, `delete`, `same`, `replace`, …).
    pub resource_changes: BTreeMap<String, u64>,
    /// How long the engine ran.
    pub duration: Duration,
    /// Whether it was a preview.
    pub is_preview: bool,
    /// Whether the state may be corrupt (the engine says so).
    pub maybe_corrupt: bool,
}

impl OpSummary {
    /// The number of resources with this operation (`create`, `same`, …), 0 if none.
    pub fn count(&self, op: &str) -> u64 {
        self.resource_changes.get(op).copied().unwrap_or(0)
    }

    /// True when nothing but `same` steps happened.
    pub fn is_no_op(&self) -> bool {
        self.resource_changes
            .iter()
            .all(|(op, n)| op == "same" || *n == 0)
    }
}

/// What refresh, destroy and import return.
#[derive(Debug, Clone)]
pub struct OpResult {
    /// The change summary.
    pub summary: OpSummary,
    /// The CLI's stdout (human-readable, or the preview JSON for preview-only runs).
    pub stdout: String,
    /// The CLI's stderr (its tail).
    pub stderr: String,
}

/// Appends `--event-log <path>`.
pub(crate) fn push_event_log(args: &mut Vec<String>, event_log: Option<&Path>) {
    if let Some(p) = event_log {
        args.extend(["--event-log".into(), p.display().to_string()]);
    }
}

/// How much of an operation's stdout is kept (the tail): events carry the data.
const OP_STDOUT_KEEP: usize = 4 * 1024 * 1024;
/// Bound of the channel that hands events to a [`OperationEvents`] stream.
const STREAM_BOUND: usize = 1024;

/// What the runner learns from the events.
#[derive(Default)]
struct Observed {
    summary: Option<OpSummary>,
    root_outputs: Option<serde_json::Map<String, serde_json::Value>>,
    errors: Vec<String>,
    failed_resources: Vec<String>,
    violations: Vec<crate::error::PolicyViolation>,
    events: u64,
}

impl Observed {
    fn observe(&mut self, ev: &EngineEvent) {
        self.events += 1;
        if let Some(s) = ev.summary_event() {
            self.summary = Some(OpSummary {
                result: s.result.clone(),
                resource_changes: s.resource_changes.clone(),
                duration: Duration::from_secs(s.duration_seconds),
                is_preview: s.is_preview,
                maybe_corrupt: s.maybe_corrupt,
            });
        }
        if let Some(outputs) = ev.root_stack_outputs() {
            self.root_outputs = Some(outputs.clone());
        }
        if let Some(msg) = ev.error_message() {
            self.errors.push(msg);
        }
        if ev.is_resource_failure()
            && let Some(urn) = ev.urn()
        {
            self.failed_resources.push(urn.to_owned());
        }
        if let crate::events::EventKind::Policy(p) = &ev.kind
            && p.enforcement_level == "mandatory"
        {
            self.violations.push(violation_of(p));
        }
    }
}

/// A mandatory policy event as the violation [`Error::PolicyViolations`] lists (the same
/// shape the classifier reads from `up`'s text output, which `preview --json` lacks).
fn violation_of(p: &crate::events::PolicyEvent) -> crate::error::PolicyViolation {
    // urn:pulumi:<stack>::<project>::<qualified type>::<name>
    let resource = p.resource_urn.as_deref().and_then(|urn| {
        let parts: Vec<&str> = urn.split("::").collect();
        match parts.as_slice() {
            [_, _, ty, name] => {
                let ty = ty.rsplit('$').next().unwrap_or(ty);
                Some(format!("{ty}: {name}"))
            }
            _ => None,
        }
    });
    crate::error::PolicyViolation {
        policy_pack: format!("{}@v{}", p.policy_pack_name, p.policy_pack_version),
        policy: p.policy_name.clone(),
        resource,
        message: p.message.trim().to_owned(),
    }
}

/// The live events of a running operation, as a [`Stream`](futures_core::Stream).
/// Dropping it does not stop the operation; events are then no longer delivered here.
pub struct OperationEvents {
    rx: mpsc::Receiver<EngineEvent>,
}

impl futures_core::Stream for OperationEvents {
    type Item = EngineEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<EngineEvent>> {
        self.rx.poll_recv(cx)
    }
}

/// One engine run: spawn the CLI with an event log, read the events while it runs, and
/// return what was observed with the command's output.
async fn run_engine(
    stack: &Stack,
    build_args: impl Fn(Option<&Path>) -> Result<Vec<String>>,
    control: &Control,
    events_tx: Option<mpsc::Sender<EngineEvent>>,
) -> Result<(CommandOutput, Observed)> {
    // Check the options before creating anything.
    build_args(None)?;
    let dir = tempfile::Builder::new()
        .prefix("pulumi-auto-op-")
        .tempdir()
        .map_err(|e| Error::io("creating the operation's temporary directory", e))?;
    let (log, mut stream) =
        EventLog::create(dir.path()).map_err(|e| Error::io("creating the event log pipe", e))?;
    let args = build_args(Some(log.path()))?;

    let mut inv = Invocation::new(args)
        .for_stack(stack.name().to_owned())
        .env("PULUMI_DEBUG_COMMANDS", "true")
        .max_stdout(OP_STDOUT_KEEP)
        .cancel_policy(control.cancel_policy);
    if let Some(cb) = &control.on_stdout {
        inv = inv.on_stdout(cb.clone());
    }
    if let Some(cb) = &control.on_stderr {
        inv = inv.on_stderr(cb.clone());
    }
    if let Some(t) = &control.cancel {
        inv = inv.cancel_token(t.clone());
    }
    if let Some(t) = control.timeout {
        inv = inv.timeout(t);
    }

    let ws = stack.workspace().clone();
    // The stack's settings may be written until the engine starts (config given to the
    // operation, a secrets provider set up): held until the first engine event.
    let (inv, mut settings_lock) = ws.lock_settings(inv).await?;
    let command = async {
        let out = ws.run_unchecked(inv).await;
        log.process_exited();
        out
    };
    let reader = async {
        let mut observed = Observed::default();
        while let Some(item) = stream.next().await {
            match item {
                Ok(ev) => {
                    settings_lock.engine_started();
                    observed.observe(&ev);
                    if let Some(cb) = &control.on_event {
                        cb(&ev);
                    }
                    if let Some(tx) = &events_tx {
                        // A dropped receiver only stops delivery.
                        let _ = tx.send(ev).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(target: "pulumi_auto::events", error = %e, "unreadable engine event")
                }
            }
        }
        observed
    };
    let (out, observed) = tokio::join!(command, reader);
    drop(settings_lock);
    Ok((out?, observed))
}

/// Turns a failed engine run into the most specific error, using what the events said.
fn engine_error(stack: &Stack, out: &CommandOutput, observed: &Observed) -> Error {
    let failure = crate::cli::failure_of(out, &stack.workspace().redactions());
    if out.cancelled {
        return Error::Cancelled {
            failure: Some(Box::new(failure)),
        };
    }
    let error = crate::cli::classify::classify(failure, Some(stack.name()));
    // A program failure found in the text output is read again from the events: the
    // text of `preview --json` is JSON, where the classifier cannot find the message.
    let (failure, from_text) = match error {
        Error::CommandFailed { failure } => (failure, None),
        Error::ProgramFailed { message, failure } => (failure, Some(message)),
        other => return other,
    };
    let unexplained = |failure| match &from_text {
        Some(message) => Error::ProgramFailed {
            message: message.clone(),
            failure,
        },
        None => Error::CommandFailed { failure },
    };
    if observed.errors.is_empty() && observed.violations.is_empty() {
        return unexplained(failure);
    }
    // The engine's own diagnostics say what failed: the program, or resources. They are
    // the CLI's output too, so the workspace's secrets are redacted.
    let redact = &stack.workspace().redactions();
    let text = crate::secret::redact(&observed.errors.join("\n"), redact);
    if text.contains("SyntaxError:") || text.contains("IndentationError:") {
        return Error::CompilationFailed { failure };
    }
    if let Some(message) = crate::cli::classify::program_failure_message(&text) {
        return Error::ProgramFailed { message, failure };
    }
    if !observed.violations.is_empty() {
        let violations = observed
            .violations
            .iter()
            .map(|v| crate::error::PolicyViolation {
                message: crate::secret::redact(&v.message, redact),
                ..v.clone()
            })
            .collect();
        return Error::PolicyViolations {
            violations,
            failure,
        };
    }
    if !observed.failed_resources.is_empty() {
        let messages = observed
            .errors
            .iter()
            .filter(|m| m.trim() != "update failed")
            .map(|m| crate::secret::redact(m, redact))
            .collect();
        return Error::ResourcesFailed {
            resources: observed.failed_resources.clone(),
            messages,
            failure,
        };
    }
    unexplained(failure)
}

impl Stack {
    /// Creates or updates the stack's resources. One process, plus one to reveal secret
    /// outputs when there are any.
    pub async fn up(&self, opts: UpOptions) -> Result<UpResult> {
        self.up_inner(opts, None).await
    }

    /// Like [`up`](Self::up), with the events also delivered as a stream while it runs.
    /// Drive the returned future (await or spawn it) and consume the stream or drop it:
    /// a stream kept but not read holds the CLI back. Dropping the future stops the CLI
    /// and every process it started.
    pub fn up_with_events(
        &self,
        opts: UpOptions,
    ) -> (
        OperationEvents,
        impl Future<Output = Result<UpResult>> + Send + 'static,
    ) {
        let (tx, rx) = mpsc::channel(STREAM_BOUND);
        let stack = self.clone();
        (OperationEvents { rx }, async move {
            stack.up_inner(opts, Some(tx)).await
        })
    }

    async fn up_inner(
        &self,
        opts: UpOptions,
        tx: Option<mpsc::Sender<EngineEvent>>,
    ) -> Result<UpResult> {
        let name = self.name().to_owned();
        let (out, observed) =
            run_engine(self, |log| opts.to_args(&name, log), &opts.control, tx).await?;
        if !out.success() {
            return Err(engine_error(self, &out, &observed));
        }
        let outputs = match &observed.root_outputs {
            Some(raw)
                if !model::contains_secret_object(&serde_json::Value::Object(raw.clone())) =>
            {
                model::outputs_from_property_map(raw)
            }
            Some(_) => self.outputs().await?,
            None => OutputMap::new(),
        };
        Ok(UpResult {
            summary: observed.summary.unwrap_or_default(),
            outputs,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// Shows what an update would do: the full plan from `preview --json` and the summary
    /// from the events. One process.
    pub async fn preview(&self, opts: PreviewOptions) -> Result<PreviewResult> {
        self.preview_inner(opts, None).await
    }

    /// Like [`preview`](Self::preview), with the events also delivered as a stream.
    pub fn preview_with_events(
        &self,
        opts: PreviewOptions,
    ) -> (
        OperationEvents,
        impl Future<Output = Result<PreviewResult>> + Send + 'static,
    ) {
        let (tx, rx) = mpsc::channel(STREAM_BOUND);
        let stack = self.clone();
        (OperationEvents { rx }, async move {
            stack.preview_inner(opts, Some(tx)).await
        })
    }

    async fn preview_inner(
        &self,
        opts: PreviewOptions,
        tx: Option<mpsc::Sender<EngineEvent>>,
    ) -> Result<PreviewResult> {
        let name = self.name().to_owned();
        let (out, observed) =
            run_engine(self, |log| opts.to_args(&name, log), &opts.control, tx).await?;
        if !out.success() {
            return Err(engine_error(self, &out, &observed));
        }
        let plan = model::parse_preview_output(&out.stdout)
            .map_err(|e| crate::workspace::parse_error(&out, e))?;
        Ok(PreviewResult {
            summary: observed.summary.unwrap_or_default(),
            plan,
            stderr: out.stderr,
        })
    }

    async fn simple_op(
        &self,
        build: impl Fn(Option<&Path>) -> Result<Vec<String>>,
        control: &Control,
    ) -> Result<OpResult> {
        let (out, observed) = run_engine(self, build, control, None).await?;
        if !out.success() {
            return Err(engine_error(self, &out, &observed));
        }
        Ok(OpResult {
            summary: observed.summary.unwrap_or_default(),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// Reads the real state of the stack's resources into its state (or, with
    /// `preview_only`, shows what would change). One process.
    pub async fn refresh(&self, opts: RefreshOptions) -> Result<OpResult> {
        let name = self.name().to_owned();
        self.simple_op(|log| opts.to_args(&name, log), &opts.control)
            .await
    }

    /// Shows what [`destroy`](Self::destroy) would delete, as a plan a human can read and
    /// [approve](crate::DestroyPlan::approve). Takes no lock and changes nothing. One
    /// process.
    pub async fn preview_destroy(&self, opts: DestroyOptions) -> Result<DestroyPlan> {
        let name = self.name().to_owned();
        let (out, observed) = run_engine(
            self,
            |log| opts.to_preview_args(&name, log),
            &opts.control,
            None,
        )
        .await?;
        if !out.success() {
            return Err(engine_error(self, &out, &observed));
        }
        let preview = model::parse_preview_output(&out.stdout)
            .map_err(|e| crate::workspace::parse_error(&out, e))?;
        Ok(DestroyPlan::new(
            name,
            observed.summary.unwrap_or_default(),
            preview,
        ))
    }

    /// Deletes every resource of the stack, when `approval` allows it:
    ///
    /// - the approval must name this stack, in any spelling the CLI resolves to it
    ///   (`dev`, `organization/dev`, `organization/<project>/dev`), and an approval bound
    ///   to a preview must come from a preview of this stack;
    /// - a stack tagged [`PROTECTED_TAG`](crate::approval::PROTECTED_TAG) is refused
    ///   unless the approval [overrides protection](DestroyApproval::override_protection);
    /// - an approval bound to a preview ([`DestroyPlan::approve`]) is refused when a fresh
    ///   preview differs from the approved one (resources added, gone or replaced).
    ///
    /// A refusal is [`Error::DestroyRefused`], decided before `pulumi destroy` starts.
    /// Extra arguments are refused ([`check_extra_args`]): no flag may change what the
    /// approval covers.
    /// Processes: the tag check and the destroy (2); a bound approval adds the fresh
    /// preview, run alongside the tag check (3). An approval that overrides protection,
    /// and an ephemeral stack's own, skip the tag check (1). An approval spelling the
    /// stack otherwise than its handle adds one process per spelling to compare them, and
    /// one for the handle.
    pub async fn destroy(
        &self,
        opts: DestroyOptions,
        approval: &DestroyApproval,
    ) -> Result<OpResult> {
        let name = self.name().to_owned();
        // Bad options fail before anything runs.
        opts.to_args(&name, None)?;
        self.check_destroy_approval(&opts, approval).await?;
        self.simple_op(|log| opts.to_args(&name, log), &opts.control)
            .await
    }

    /// The checks of a forced `stack rm`, which loses the state as a destroy loses the
    /// resources: the approval's name, and the protection tag.
    pub(crate) async fn check_removal_approval(&self, approval: &DestroyApproval) -> Result<()> {
        if approval.bound_plan().is_some() {
            return Err(Error::invalid(
                "remove approval",
                "an approval bound to a destroy preview approves that destroy, not a forced removal",
            ));
        }
        self.check_destroy_approval(&DestroyOptions::default(), approval)
            .await
    }

    async fn check_destroy_approval(
        &self,
        opts: &DestroyOptions,
        approval: &DestroyApproval,
    ) -> Result<()> {
        let refuse = |reason| Error::DestroyRefused {
            stack: self.name().to_owned(),
            reason,
        };
        let mut names = vec![approval.stack()];
        names.extend(approval.previewed_stack());
        let others = self.names_of_other_stacks(&names).await?;
        if others.contains(&approval.stack()) {
            return Err(refuse(DestroyRefusal::WrongStack {
                approved: approval.stack().to_owned(),
            }));
        }
        if let Some(previewed) = approval.previewed_stack()
            && others.contains(&previewed)
        {
            return Err(refuse(DestroyRefusal::PreviewOfAnotherStack {
                previewed: previewed.to_owned(),
            }));
        }
        // The protection tag matters only to an approval that does not override it.
        let check_tags = !approval.is_ephemeral() && !approval.overrides_protection();
        let tags = async {
            if check_tags {
                self.list_tags().await.map(Some)
            } else {
                Ok(None)
            }
        };
        let fresh = async {
            match approval.bound_plan() {
                Some(_) => {
                    // The same flags, without the caller's callbacks: this is our check.
                    let mut preview = opts.clone();
                    preview.control.on_event = None;
                    preview.control.on_stdout = None;
                    preview.control.on_stderr = None;
                    self.preview_destroy(preview).await.map(Some)
                }
                None => Ok(None),
            }
        };
        let (tags, fresh) = tokio::join!(tags, fresh);
        if let Some(tags) = tags?
            && crate::approval::is_protected(&tags)
            && !approval.overrides_protection()
        {
            let tag_value = tags
                .get(crate::approval::PROTECTED_TAG)
                .cloned()
                .unwrap_or_default();
            return Err(refuse(DestroyRefusal::Protected { tag_value }));
        }
        if let (Some(approved), Some(fresh)) = (approval.bound_plan(), fresh?)
            && let Some(reason) = crate::approval::plan_difference(approved, fresh.deletions())
        {
            return Err(refuse(reason));
        }
        Ok(())
    }

    /// Which of `names` (an approval's) do not name this stack. A name spelled like the
    /// handle's is this stack, and one whose stack, project or organization surely differ
    /// is another, without a process; the others (one leaves the organization to the
    /// backend) are compared by the fully qualified names the CLI resolves them to
    /// (`stack --show-name -Q`: one process for the handle and one per such name, run at
    /// once). A name the CLI cannot resolve (no such stack, a malformed name) names
    /// another stack.
    pub(crate) async fn names_of_other_stacks<'a>(
        &self,
        names: &[&'a str],
    ) -> Result<Vec<&'a str>> {
        let mut other = Vec::new();
        let mut unsure = Vec::new();
        for &n in names {
            if crate::approval::spelled_alike(n, self.name()) {
                continue;
            }
            if crate::workspace::validate_stack_name(n.trim()).is_err()
                || crate::approval::surely_different(
                    n,
                    self.name(),
                    self.workspace().project_name(),
                )
            {
                other.push(n);
            } else {
                unsure.push(n);
            }
        }
        if unsure.is_empty() {
            return Ok(other);
        }
        let mine = self.resolved_name(self.name());
        let theirs =
            futures_util::future::join_all(unsure.iter().map(|n| self.resolved_name(n.trim())));
        let (mine, theirs) = tokio::join!(mine, theirs);
        let mine = mine?;
        for (n, resolved) in unsure.into_iter().zip(theirs) {
            match resolved {
                Ok(fq) if fq == mine => {}
                Ok(_) | Err(Error::StackNotFound { .. }) | Err(Error::CommandFailed { .. }) => {
                    other.push(n)
                }
                Err(e) => return Err(e),
            }
        }
        Ok(other)
    }

    /// The fully qualified name (`org/project/stack`) the CLI resolves `name` to. One
    /// process.
    async fn resolved_name(&self, name: &str) -> Result<String> {
        let out = self
            .workspace()
            .run(
                Invocation::new([
                    "stack",
                    "--show-name",
                    "--fully-qualify-stack-names",
                    "--stack",
                    name,
                ])
                .for_stack(name),
            )
            .await?;
        let fq = out.stdout.trim();
        if fq.split('/').count() != 3 || crate::workspace::validate_stack_name(fq).is_err() {
            return Err(crate::workspace::parse_error(
                &out,
                format!("{fq:?} is not a fully qualified stack name"),
            ));
        }
        Ok(fq.to_owned())
    }

    /// Adopts existing resources into the stack. One process.
    pub async fn import(&self, opts: ImportOptions) -> Result<OpResult> {
        let name = self.name().to_owned();
        let dir = tempfile::Builder::new()
            .prefix("pulumi-auto-import-")
            .tempdir()
            .map_err(|e| Error::io("creating the import file's directory", e))?;
        let file = match &opts.source {
            ImportSource::File(p) => p.clone(),
            ImportSource::Resources(rs) => {
                let json = ImportOptions::import_file_json(rs)?;
                let p = dir.path().join("import.json");
                tokio::fs::write(&p, json)
                    .await
                    .map_err(|e| Error::io("writing the import file", e))?;
                p
            }
        };
        self.simple_op(|log| opts.to_args(&name, &file, log), &opts.control)
            .await
    }
}
