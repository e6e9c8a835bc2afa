//! The crate's one error type, [`Error`]: types only. How a failed `pulumi` command becomes
//! the most specific variant is decided next to the runner, in `cli::classify`.
//!
//! Every failed command keeps its exit code, a bounded tail of its stderr and stdout and
//! the command line (which never holds a secret: secrets go to the CLI on stdin, and any
//! secret the caller handed over is redacted from the captured output as well).
//!
//! ```
//! use pulumi_auto::Error;
//! fn explain(e: &Error) -> &'static str {
//!     match e {
//!         Error::StackNotFound { .. } => "create it first",
//!         Error::ConcurrentUpdate { .. } => "someone else is updating this stack",
//!         Error::InvalidInput { .. } => "fix the input; nothing was run",
//!         _ => "see the message",
//!     }
//! }
//! ```

use std::fmt;
use std::path::PathBuf;

use crate::model::ModelError;

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a failed `pulumi` command left behind: enough to diagnose it, nothing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct CommandFailure {
    /// The command line, e.g. `pulumi up --stack dev --yes …` (no secret is ever on it).
    pub command: String,
    /// The exit code, or `None` when the process was ended by a signal.
    pub exit_code: Option<i32>,
    /// The last lines of stderr (bounded), secrets redacted.
    pub stderr: String,
    /// The last lines of stdout (bounded), secrets redacted.
    pub stdout: String,
}

impl CommandFailure {
    /// The most telling line of the output: the last `error:` line of stderr, else of stdout,
    /// else the last non-empty stderr line.
    pub fn headline(&self) -> &str {
        last_error_line(&self.stderr)
            .or_else(|| last_error_line(&self.stdout))
            .or_else(|| self.stderr.lines().rev().find(|l| !l.trim().is_empty()))
            .map(str::trim)
            .unwrap_or("")
    }
}

fn last_error_line(s: &str) -> Option<&str> {
    s.lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
}

impl fmt::Debug for CommandFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandFailure")
            .field("command", &self.command)
            .field("exit_code", &self.exit_code)
            .field("stderr", &self.stderr)
            .field("stdout", &self.stdout)
            .finish()
    }
}

impl fmt::Display for CommandFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` ", self.command)?;
        match self.exit_code {
            Some(code) => write!(f, "exited with code {code}")?,
            None => write!(f, "was killed by a signal")?,
        }
        let headline = self.headline();
        if !headline.is_empty() {
            write!(f, ": {headline}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong, one variant per case a caller may want to handle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No `pulumi` executable was found.
    #[error("pulumi CLI not found (looked in: {})", searched.join(", "))]
    CliNotFound {
        /// Where it was looked for, in order.
        searched: Vec<String>,
    },
    /// The CLI is older than this crate supports.
    #[error("pulumi CLI {found} at {} is older than the minimum supported {minimum} (set PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true to skip this check)", path.display())]
    CliVersionUnsupported {
        /// The CLI's path.
        path: PathBuf,
        /// The version it reported.
        found: semver::Version,
        /// The minimum this crate supports.
        minimum: semver::Version,
    },
    /// `pulumi version` printed something that is not a version.
    #[error("could not parse the version of the pulumi CLI at {} from {output:?} (set PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true to skip this check)", path.display())]
    CliVersionUnparsable {
        /// The CLI's path.
        path: PathBuf,
        /// What it printed (bounded).
        output: String,
    },
    /// Input rejected before any process was started.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// What was invalid (a stack name, a config key, a path, an option).
        what: String,
        /// Why.
        reason: String,
    },
    /// The stack does not exist.
    #[error("stack {stack:?} not found: {failure}")]
    StackNotFound {
        /// The stack as given.
        stack: String,
        /// The failed command.
        failure: Box<CommandFailure>,
    },
    /// A stack of that name already exists.
    #[error("stack {stack:?} already exists: {failure}")]
    StackAlreadyExists {
        /// The stack as given.
        stack: String,
        /// The failed command.
        failure: Box<CommandFailure>,
    },
    /// Another update holds the stack's lock.
    #[error("the stack is locked by another update{}: {failure}", if lock_holders.is_empty() { String::new() } else { format!(" ({})", lock_holders.join("; ")) })]
    ConcurrentUpdate {
        /// Who holds the lock, as the CLI reports it (e.g. `created by u@host (pid 42) at …`).
        lock_holders: Vec<String>,
        /// The failed command.
        failure: Box<CommandFailure>,
    },
    /// A lock was left alone: the process that holds it still runs on this host, so an
    /// update may be in flight ([`Stack::cancel`](crate::Stack::cancel),
    /// [`Stack::recover`](crate::Stack::recover)). Nothing was changed.
    #[error("the lock on stack {stack:?} is held by pid {pid} on this host ({hostname}), which still runs; it was not deleted ({})", file.display())]
    LockHolderRunning {
        /// The stack as given.
        stack: String,
        /// The holder's pid, from the lock.
        pid: i64,
        /// The holder's host, from the lock (this host).
        hostname: String,
        /// The lock file.
        file: PathBuf,
    },
    /// The program could not be compiled or loaded (e.g. a Python syntax error).
    #[error("the program could not be compiled: {failure}")]
    CompilationFailed {
        /// The failed command.
        failure: Box<CommandFailure>,
    },
    /// The program raised an error while running.
    #[error("the program failed: {message}")]
    ProgramFailed {
        /// The program's own error message, as the CLI reported it.
        message: String,
        /// The failed command.
        failure: Box<CommandFailure>,
    },
    /// Resource operations failed (the provider refused a create, update or delete).
    #[error("{} resource operation(s) failed: {}", resources.len(), messages.join("; "))]
    ResourcesFailed {
        /// The URNs of the resources whose operation failed.
        resources: Vec<String>,
        /// The engine's error messages, in order.
        messages: Vec<String>,
        /// The failed command.
        failure: Box<CommandFailure>,
    },
    /// Mandatory policies of a policy pack were violated (`--policy-pack`), so the engine
    /// stopped the operation: no violating resource was created or changed. Advisory
    /// violations never fail an operation; they arrive as policy events.
    #[error("{} mandatory policy violation(s): {}", violations.len(), join_violations(violations))]
    PolicyViolations {
        /// The mandatory violations, as the CLI listed them.
        violations: Vec<PolicyViolation>,
        /// The failed command.
        failure: Box<CommandFailure>,
    },
    /// The operation was cancelled (by the caller, a timeout, or a signal).
    #[error("the operation was cancelled{}", failure.as_ref().map(|f| format!(": {f}")).unwrap_or_default())]
    Cancelled {
        /// The command, when one had been started.
        failure: Option<Box<CommandFailure>>,
    },
    /// `--expect-no-changes` was given and the operation would change something.
    #[error("changes were found where none were expected: {failure}")]
    UnexpectedChanges {
        /// The failed command.
        failure: Box<CommandFailure>,
    },
    /// Any other non-zero exit of the CLI.
    #[error("{failure}")]
    CommandFailed {
        /// The failed command.
        failure: Box<CommandFailure>,
    },
    /// A destroy was refused before anything ran: the approval names another stack, the
    /// stack is protected, or it changed since the approved preview. No resource and no
    /// state was touched.
    #[error("destroy of stack {stack:?} refused: {reason}")]
    DestroyRefused {
        /// The stack as given.
        stack: String,
        /// Why.
        reason: pulumi_auto_types::approval::DestroyRefusal,
    },
    /// The CLI's output could not be understood.
    #[error("could not parse the output of `{command}`: {reason}")]
    Parse {
        /// The command whose output it was.
        command: String,
        /// What went wrong (with a short snippet, never a whole document).
        reason: String,
    },
    /// The CLI's output did not have the shape its model expects (`stack ls --json`,
    /// `stack export`, `config --json`, …). The model's error is kept as the
    /// [`source`](std::error::Error::source): what document, where, and a short snippet
    /// (strings masked in documents that may hold secrets).
    #[error("could not parse the output of `{command}`: {source}")]
    Model {
        /// The command whose output it was.
        command: String,
        /// What the model's parser reported.
        #[source]
        source: ModelError,
    },
    /// A request of an inline program to the engine failed (feature `inline`): a
    /// resource it refused, an invoke whose provider failed, or the connection lost.
    #[error("{request} failed: {message}")]
    EngineRequestFailed {
        /// What was asked (`RegisterResource files:index:File::a`, `Invoke …`).
        request: String,
        /// The engine's message, secret config values redacted.
        message: String,
    },
    /// A process could not be started, or a file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            what: what.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The failed command behind this error, when there is one.
    pub fn command_failure(&self) -> Option<&CommandFailure> {
        match self {
            Error::StackNotFound { failure, .. }
            | Error::StackAlreadyExists { failure, .. }
            | Error::ConcurrentUpdate { failure, .. }
            | Error::CompilationFailed { failure }
            | Error::ProgramFailed { failure, .. }
            | Error::ResourcesFailed { failure, .. }
            | Error::PolicyViolations { failure, .. }
            | Error::UnexpectedChanges { failure }
            | Error::CommandFailed { failure } => Some(failure),
            Error::Cancelled { failure } => failure.as_deref(),
            _ => None,
        }
    }

    /// The CLI's exit code, when a command failed.
    pub fn exit_code(&self) -> Option<i32> {
        self.command_failure().and_then(|f| f.exit_code)
    }
}

/// One violation of a mandatory policy, as the CLI lists it under `Policies:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyViolation {
    /// The policy pack and its version, e.g. `files-policy@v0.1.0`.
    pub policy_pack: String,
    /// The policy's name.
    pub policy: String,
    /// The resource, as `type: name`, for a resource policy; `None` for a stack policy.
    pub resource: Option<String>,
    /// The policy's description and the violation's message, one per line.
    pub message: String,
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.policy_pack, self.policy)?;
        if let Some(r) = &self.resource {
            write!(f, " on {r}")?;
        }
        let message: Vec<&str> = self.message.lines().map(str::trim).collect();
        if !message.is_empty() {
            write!(f, ": {}", message.join(" "))?;
        }
        Ok(())
    }
}

fn join_violations(v: &[PolicyViolation]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
