//! The engine run every operation shares: the CLI writes its engine events to a named
//! pipe (`--event-log`), which is read while it runs; each event is observed (summary,
//! outputs, errors, policy violations), handed to the caller's callback and stream, and
//! a failed run becomes the most specific [`Error`] the events and the output allow.

use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::options::{Control, Controlled};
use crate::cli::{CommandOutput, Invocation};
use crate::error::{Error, PolicyViolation, Result};
use crate::events::{EngineEvent, EventKind, EventLog, EventStream, PolicyEvent};
use crate::stack::Stack;
use pulumi_auto_types::summary::OpSummary;

/// How much of an operation's stdout is kept (the tail): events carry the data.
const OP_STDOUT_KEEP: usize = 4 * 1024 * 1024;
/// Bound of the channel that hands events to a [`OperationEvents`] stream.
const STREAM_BOUND: usize = 1024;

/// What refresh, destroy and import return.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpResult {
    /// The change summary.
    pub summary: OpSummary,
    /// The CLI's stdout (human-readable, or the preview JSON for preview-only runs).
    pub stdout: String,
    /// The CLI's stderr (its tail).
    pub stderr: String,
}

/// A running operation, as the `*_with_events` methods return it next to its events:
/// await it, or spawn it. Dropping it stops the CLI and every process it started.
pub type OperationFuture<T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'static>>;

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

/// Runs an operation with its events also delivered as a stream: what every
/// `*_with_events` method is. `run` gets a handle of the stack and the options, whose
/// [`Control`] now also feeds the stream.
pub(crate) fn with_events<O, T, F>(
    stack: &Stack,
    mut opts: O,
    run: impl FnOnce(Stack, O) -> F,
) -> (OperationEvents, OperationFuture<T>)
where
    O: Controlled,
    F: Future<Output = Result<T>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(STREAM_BOUND);
    opts.control_mut().events = Some(tx);
    (OperationEvents { rx }, Box::pin(run(stack.clone(), opts)))
}

/// Appends `--event-log <path>`.
pub(crate) fn push_event_log(args: &mut Vec<String>, event_log: Option<&Path>) {
    if let Some(p) = event_log {
        args.extend(["--event-log".into(), p.display().to_string()]);
    }
}

/// A successful engine run: the command's output and what its events said.
pub(crate) struct EngineRun {
    pub(crate) out: CommandOutput,
    pub(crate) observed: Observed,
}

impl EngineRun {
    /// The change summary (empty if the engine sent none).
    pub(crate) fn summary(&self) -> OpSummary {
        self.observed.summary.clone().unwrap_or_default()
    }

    /// The result of refresh, destroy and import.
    pub(crate) fn into_op_result(self) -> OpResult {
        OpResult {
            summary: self.summary(),
            stdout: self.out.stdout,
            stderr: self.out.stderr,
        }
    }
}

/// What the runner learns from the events.
#[derive(Default)]
pub(crate) struct Observed {
    summary: Option<OpSummary>,
    pub(crate) root_outputs: Option<serde_json::Map<String, serde_json::Value>>,
    errors: Vec<String>,
    failed_resources: Vec<String>,
    violations: Vec<PolicyViolation>,
}

impl Observed {
    fn observe(&mut self, ev: &EngineEvent) {
        if let Some(s) = ev.summary_event() {
            self.summary = Some(OpSummary::from(s));
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
        if let EventKind::Policy(p) = &ev.kind
            && p.enforcement_level == "mandatory"
        {
            self.violations.push(violation_of(p));
        }
    }
}

/// A mandatory policy event as the violation [`Error::PolicyViolations`] lists (the same
/// shape the classifier reads from `up`'s text output, which `preview --json` lacks).
fn violation_of(p: &PolicyEvent) -> PolicyViolation {
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
    PolicyViolation {
        policy_pack: format!("{}@v{}", p.policy_pack_name, p.policy_pack_version),
        policy: p.policy_name.clone(),
        resource,
        message: p.message.trim().to_owned(),
    }
}

/// One engine run: spawn the CLI with an event log, read the events while it runs. A
/// failed command is the most specific error the events and its output allow.
pub(crate) async fn run(
    stack: &Stack,
    build_args: impl Fn(Option<&Path>) -> Result<Vec<String>>,
    control: &Control,
) -> Result<EngineRun> {
    // Check the options before creating anything.
    build_args(None)?;
    let dir = tempfile::Builder::new()
        .prefix("pulumi-auto-op-")
        .tempdir()
        .map_err(|e| Error::io("creating the operation's temporary directory", e))?;
    let (log, stream) =
        EventLog::create(dir.path()).map_err(|e| Error::io("creating the event log pipe", e))?;
    let inv = invocation(stack, build_args(Some(log.path()))?, control);

    let ws = stack.workspace().clone();
    // The stack's settings may be written until the engine starts (config given to the
    // operation, a secrets provider set up): held until the first engine event.
    let (inv, mut settings_lock) = ws.lock_settings(inv).await?;
    let command = async {
        let out = ws.run_unchecked(inv).await;
        log.process_exited();
        out
    };
    let reader = read_events(stream, control, || settings_lock.engine_started());
    let (out, observed) = tokio::join!(command, reader);
    drop(settings_lock);
    let out = out?;
    if !out.success() {
        return Err(engine_error(stack, &out, &observed));
    }
    Ok(EngineRun { out, observed })
}

/// The CLI's invocation for an operation's arguments, watched and stopped as `control`
/// says.
fn invocation(stack: &Stack, args: Vec<String>, control: &Control) -> Invocation {
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
    inv
}

/// Reads the event log to its end: each event is observed, then handed to the callback
/// and the stream; `on_event` is told of each.
async fn read_events(
    mut stream: EventStream,
    control: &Control,
    mut on_event: impl FnMut(),
) -> Observed {
    let mut observed = Observed::default();
    while let Some(item) = stream.next().await {
        match item {
            Ok(ev) => {
                on_event();
                observed.observe(&ev);
                if let Some(cb) = &control.on_event {
                    cb(&ev);
                }
                if let Some(tx) = &control.events {
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
    match refined(observed, failure, &stack.workspace().redactions()) {
        Ok(error) => error,
        Err(failure) => match from_text {
            Some(message) => Error::ProgramFailed { message, failure },
            None => Error::CommandFailed { failure },
        },
    }
}

/// The error the engine's own diagnostics explain, if they do: the program's, the
/// policies', or the resources' (their messages redacted: they are the CLI's output
/// too). `Err` gives the failure back when they explain nothing.
fn refined(
    observed: &Observed,
    failure: Box<crate::error::CommandFailure>,
    redact: &[crate::secret::Secret],
) -> std::result::Result<Error, Box<crate::error::CommandFailure>> {
    if observed.errors.is_empty() && observed.violations.is_empty() {
        return Err(failure);
    }
    let text = crate::secret::redact(&observed.errors.join("\n"), redact);
    if text.contains("SyntaxError:") || text.contains("IndentationError:") {
        return Ok(Error::CompilationFailed { failure });
    }
    if let Some(message) = crate::cli::classify::program_failure_message(&text) {
        return Ok(Error::ProgramFailed { message, failure });
    }
    if !observed.violations.is_empty() {
        let violations = observed
            .violations
            .iter()
            .map(|v| PolicyViolation {
                message: crate::secret::redact(&v.message, redact),
                ..v.clone()
            })
            .collect();
        return Ok(Error::PolicyViolations {
            violations,
            failure,
        });
    }
    if observed.failed_resources.is_empty() {
        return Err(failure);
    }
    let messages = observed
        .errors
        .iter()
        .filter(|m| m.trim() != "update failed")
        .map(|m| crate::secret::redact(m, redact))
        .collect();
    Ok(Error::ResourcesFailed {
        resources: observed.failed_resources.clone(),
        messages,
        failure,
    })
}
