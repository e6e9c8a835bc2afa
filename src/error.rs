//! The crate's one error type, [`Error`], and how a failed `pulumi` command is classified.
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

/// The mandatory violations listed in the `Policies:` section of the CLI's human-readable
/// output (`--color=never`):
///
/// ```text
/// Policies:
///     ❌ files-policy@v0.1.0 (local: /path/to/pack)
///         - [mandatory]  no-forbidden-content  (pulumi-python:dynamic:Resource: greeting)
///           A file's content must not contain the word 'forbidden'.
///           file greeting contains the word 'forbidden'
/// ```
pub(crate) fn mandatory_policy_violations(text: &str) -> Vec<PolicyViolation> {
    let mut found = Vec::new();
    let mut in_section = false;
    let mut pack = String::new();
    // The violation being read, and the indentation of its message lines.
    let mut current: Option<(PolicyViolation, usize)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some((v, message_indent)) = &mut current {
            if indent >= *message_indent && (!trimmed.is_empty() || !v.message.is_empty()) {
                if !v.message.is_empty() {
                    v.message.push('\n');
                }
                v.message.push_str(trimmed.trim_end());
                continue;
            }
            if let Some((mut v, _)) = current.take() {
                v.message = v.message.trim_end().to_owned();
                found.push(v);
            }
        }
        if line.trim() == "Policies:" {
            in_section = true;
            continue;
        }
        if !in_section {
            continue;
        }
        if trimmed.is_empty() {
            in_section = false;
        } else if let Some(rest) = trimmed.strip_prefix("- [mandatory]") {
            let mut rest = rest.trim_start();
            if rest.starts_with("[severity:") {
                rest = rest.split_once(']').map_or("", |(_, r)| r);
            }
            let (policy, resource) = match rest.trim().split_once("  (") {
                Some((p, r)) => (p, Some(r.strip_suffix(')').unwrap_or(r).to_owned())),
                None => (rest.trim(), None),
            };
            current = Some((
                PolicyViolation {
                    policy_pack: pack.clone(),
                    policy: policy.trim().to_owned(),
                    resource,
                    message: String::new(),
                },
                indent + 2,
            ));
        } else if indent <= 4 {
            // A pack's header (its items and their messages are indented further): a status
            // mark, then `name@vVERSION`, then where it is.
            pack = trimmed
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
        }
    }
    if let Some((mut v, _)) = current {
        v.message = v.message.trim_end().to_owned();
        found.push(v);
    }
    found
}

/// Exit codes the CLI documents (`pkg/cmd/pulumi/cmd/exit_codes.go`, since v3.226.0).
pub(crate) mod exit_code {
    pub const STACK_NOT_FOUND: i32 = 6;
    pub const EXPECT_NO_CHANGES: i32 = 7;
    pub const CANCELLED: i32 = 8;
}

/// Turns a failed command into the most specific [`Error`]: by the exit code where the CLI
/// documents one, then by its known texts. `stack` is the stack the command addressed.
pub(crate) fn classify(failure: CommandFailure, stack: Option<&str>) -> Error {
    let stack_name = || stack.unwrap_or_default().to_owned();
    let both = format!("{}\n{}", failure.stderr, failure.stdout);
    let failure = Box::new(failure);
    match failure.exit_code {
        Some(exit_code::STACK_NOT_FOUND) => {
            return Error::StackNotFound {
                stack: stack_name(),
                failure,
            };
        }
        Some(exit_code::EXPECT_NO_CHANGES) => return Error::UnexpectedChanges { failure },
        Some(exit_code::CANCELLED) => {
            return Error::Cancelled {
                failure: Some(failure),
            };
        }
        _ => {}
    }
    if failure.stderr.contains("the stack is currently locked by")
        || failure
            .stderr
            .contains("Another update is currently in progress")
    {
        let lock_holders = failure
            .stderr
            .lines()
            .filter_map(|l| {
                l.split_once(": created by ")
                    .map(|(_, who)| format!("created by {}", who.trim()))
            })
            .collect();
        return Error::ConcurrentUpdate {
            lock_holders,
            failure,
        };
    }
    if is_match(&failure.stderr, "no stack named", "found") {
        return Error::StackNotFound {
            stack: stack_name(),
            failure,
        };
    }
    if is_match(&failure.stderr, "stack", "already exists") {
        return Error::StackAlreadyExists {
            stack: stack_name(),
            failure,
        };
    }
    if both.contains("SyntaxError:") || both.contains("IndentationError:") {
        return Error::CompilationFailed { failure };
    }
    if let Some(message) = program_failure_message(&both) {
        return Error::ProgramFailed { message, failure };
    }
    let violations = mandatory_policy_violations(&failure.stdout);
    if !violations.is_empty() {
        return Error::PolicyViolations {
            violations,
            failure,
        };
    }
    if both.contains("update canceled") || both.contains("^C received") {
        return Error::Cancelled {
            failure: Some(failure),
        };
    }
    Error::CommandFailed { failure }
}

/// True when some line has `first` followed later by `then`.
fn is_match(text: &str, first: &str, then: &str) -> bool {
    text.lines().any(|l| {
        l.find(first)
            .is_some_and(|i| l[i + first.len()..].contains(then))
    })
}

/// The program's own error message, when the output says the program failed.
pub(crate) fn program_failure_message(text: &str) -> Option<String> {
    const MARKERS: [&str; 3] = [
        "Program failed with an unhandled exception:",
        "an unhandled error occurred:",
        "Program exited with non-zero exit code",
    ];
    let start = MARKERS.iter().filter_map(|m| text.find(m)).min()?;
    let rest = &text[start..];
    // For a Python traceback the last line of the block is the exception itself.
    let block: Vec<&str> = rest.lines().take_while(|l| !l.trim().is_empty()).collect();
    let last = block
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    Some(last.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32, stderr: &str, stdout: &str) -> CommandFailure {
        CommandFailure {
            command: "pulumi up --stack dev".into(),
            exit_code: Some(code),
            stderr: stderr.into(),
            stdout: stdout.into(),
        }
    }

    #[test]
    fn stack_not_found_by_exit_code() {
        let e = classify(
            failure(6, "error: no stack named 'nope' found\n", ""),
            Some("nope"),
        );
        assert!(
            matches!(e, Error::StackNotFound { ref stack, .. } if stack == "nope"),
            "{e:?}"
        );
        assert_eq!(e.exit_code(), Some(6));
    }

    #[test]
    fn stack_exists_by_text() {
        let e = classify(
            failure(
                1,
                "error: stack 'organization/files/dev' already exists\n",
                "",
            ),
            Some("dev"),
        );
        assert!(matches!(e, Error::StackAlreadyExists { .. }), "{e:?}");
    }

    #[test]
    fn locked_names_the_holder() {
        let stderr = "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n  file:///tmp/s/.pulumi/locks/organization/files/dev/abc.json?no_tmp_dir=true: created by u@h (pid 1) at 2026-01-01T00:00:00Z\n";
        let e = classify(failure(1, stderr, ""), Some("dev"));
        match e {
            Error::ConcurrentUpdate { lock_holders, .. } => {
                assert_eq!(
                    lock_holders,
                    vec!["created by u@h (pid 1) at 2026-01-01T00:00:00Z"]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn program_exception_message_from_stdout() {
        let stdout = "    error: Program failed with an unhandled exception:\n    Traceback (most recent call last):\n      File \"/p/__main__.py\", line 43, in <module>\n        raise ValueError(\"boom\")\n    ValueError: boom\n\nResources:\n";
        let e = classify(failure(1, "", stdout), Some("dev"));
        match e {
            Error::ProgramFailed { message, .. } => assert_eq!(message, "ValueError: boom"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn syntax_error_is_compilation() {
        let stdout = "error: Program failed with an unhandled exception:\n  File \"x\", line 1\n    def (\nSyntaxError: invalid syntax\n";
        assert!(matches!(
            classify(failure(1, "", stdout), None),
            Error::CompilationFailed { .. }
        ));
    }

    /// The failures recorded from the real CLI (fixtures/cli, by scripts/record-fixtures).
    #[test]
    fn recorded_failures_classify() {
        fn recorded(code: &str, stderr: &str, stdout: &str) -> CommandFailure {
            failure(code.trim().parse().unwrap(), stderr, stdout)
        }
        let f = recorded(
            include_str!("../fixtures/cli/err-stack-not-found.exit"),
            include_str!("../fixtures/cli/err-stack-not-found.stderr"),
            "",
        );
        assert!(matches!(
            classify(f, Some("nope")),
            Error::StackNotFound { .. }
        ));
        let f = recorded(
            include_str!("../fixtures/cli/err-stack-exists.exit"),
            include_str!("../fixtures/cli/err-stack-exists.stderr"),
            "",
        );
        assert!(matches!(
            classify(f, Some("dev")),
            Error::StackAlreadyExists { .. }
        ));
        let f = recorded(
            include_str!("../fixtures/cli/err-stack-locked.exit"),
            include_str!("../fixtures/cli/err-stack-locked.stderr"),
            "",
        );
        match classify(f, Some("dev")) {
            Error::ConcurrentUpdate { lock_holders, .. } => {
                assert_eq!(lock_holders.len(), 1);
                assert!(
                    lock_holders[0].starts_with("created by root@"),
                    "{lock_holders:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        let f = recorded(
            include_str!("../fixtures/cli/err-program-failure.exit"),
            "",
            include_str!("../fixtures/cli/err-program-failure.stdout"),
        );
        match classify(f, Some("dev")) {
            Error::ProgramFailed { message, .. } => {
                assert_eq!(message, "ValueError: the failing fixture raised on purpose");
            }
            other => panic!("{other:?}"),
        }
    }

    /// A mandatory policy violation recorded from the real CLI (scripts/record-fixtures).
    #[test]
    fn recorded_policy_violation_classifies() {
        let f = failure(
            include_str!("../fixtures/cli/err-policy-violation.exit")
                .trim()
                .parse()
                .unwrap(),
            "",
            include_str!("../fixtures/cli/err-policy-violation.stdout"),
        );
        let e = classify(f, Some("policy"));
        let Error::PolicyViolations { violations, .. } = &e else {
            panic!("{e:?}");
        };
        // The advisory violation listed with it is not one.
        assert_eq!(
            violations,
            &[PolicyViolation {
                policy_pack: "files-policy@v0.1.0".into(),
                policy: "no-forbidden-content".into(),
                resource: Some("pulumi-python:dynamic:Resource: greeting".into()),
                message: "A file's content must not contain the word 'forbidden'.\n\
                          file greeting contains the word 'forbidden'"
                    .into(),
            }]
        );
        assert_eq!(
            e.to_string(),
            "1 mandatory policy violation(s): files-policy@v0.1.0 no-forbidden-content on \
             pulumi-python:dynamic:Resource: greeting: A file's content must not contain the \
             word 'forbidden'. file greeting contains the word 'forbidden'"
        );
        assert_eq!(e.exit_code(), Some(1));
    }

    #[test]
    fn policy_violations_of_several_packs_with_severity_and_stack_policies() {
        let stdout = "Policies:\n    ✅ quiet@v1.0.0 (local: /q)\n    ❌ a@v2.0.0\n        - [mandatory] [severity: high]  stack-rule\n          Whole stack.\n          \n          second paragraph\n        - [mandatory]  res-rule  (t:m:R: x)\n          Msg.\n        - [advisory]  soft  (t:m:R: y)\n          Soft words.\n        - [mandatory]  late  (t:m:R: w)\n          Late.\n    ❌ b@v0.0.1 (local: /b)\n        - [mandatory]  other  (t:m:R: z)\n          Other.\n\nOutputs:\n        - [mandatory]  not-a-policy  (x)\n";
        let v = mandatory_policy_violations(stdout);
        let brief: Vec<(&str, &str, Option<&str>, &str)> = v
            .iter()
            .map(|v| {
                (
                    v.policy_pack.as_str(),
                    v.policy.as_str(),
                    v.resource.as_deref(),
                    v.message.as_str(),
                )
            })
            .collect();
        assert_eq!(
            brief,
            [
                (
                    "a@v2.0.0",
                    "stack-rule",
                    None,
                    "Whole stack.\n\nsecond paragraph"
                ),
                ("a@v2.0.0", "res-rule", Some("t:m:R: x"), "Msg."),
                ("a@v2.0.0", "late", Some("t:m:R: w"), "Late."),
                ("b@v0.0.1", "other", Some("t:m:R: z"), "Other."),
            ]
        );
        assert!(
            mandatory_policy_violations("Policies:\n    ⚠️ a@v1\n        - [advisory]  p\n")
                .is_empty()
        );
    }

    #[test]
    fn expect_no_changes_and_cancel_codes() {
        assert!(matches!(
            classify(failure(7, "", ""), None),
            Error::UnexpectedChanges { .. }
        ));
        assert!(matches!(
            classify(failure(8, "", ""), None),
            Error::Cancelled { .. }
        ));
    }

    #[test]
    fn anything_else_is_command_failed_with_headline() {
        let e = classify(failure(2, "warning: x\nerror: bad flag\n", ""), None);
        assert!(matches!(e, Error::CommandFailed { .. }));
        assert_eq!(
            e.to_string(),
            "`pulumi up --stack dev` exited with code 2: error: bad flag"
        );
    }
}
