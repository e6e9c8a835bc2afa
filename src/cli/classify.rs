//! How a failed `pulumi` command becomes the most specific [`Error`]: by the exit code
//! where the CLI documents one, then by its known texts (a held lock, a missing or
//! existing stack, a program's exception, mandatory policy violations, a cancellation).
//! Pure functions over the captured output; the runner calls them.

use super::CommandOutput;
use crate::error::{CommandFailure, Error, PolicyViolation};
use crate::model::ModelError;

/// What could not be understood in a command's output: a model's error, kept as the
/// error's source ([`Error::Model`]), or a reason of this crate's ([`Error::Parse`]).
pub(crate) trait Unparsed {
    /// The error for output of `command`.
    fn into_error(self, command: String) -> Error;
}

impl Unparsed for ModelError {
    fn into_error(self, command: String) -> Error {
        Error::Model {
            command,
            source: self,
        }
    }
}

impl Unparsed for String {
    fn into_error(self, command: String) -> Error {
        Error::Parse {
            command,
            reason: self,
        }
    }
}

/// A command's output that could not be understood, as an error naming the command.
pub(crate) fn parse_error(out: &CommandOutput, e: impl Unparsed) -> Error {
    e.into_error(out.command.clone())
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

/// The file backend's lock check lost a race with another process taking the lock: the
/// CLI lists the stack's lock directory, sees the other process's lock file while it is
/// still being written (`<lock>.json.<random>.tmp`, renamed a moment later), and fails on
/// reading it (pkg/backend/diy/lock.go, `checkForLock`). No lock of this process is left.
fn lost_lock_race(stderr: &str) -> bool {
    stderr
        .lines()
        .any(|l| l.contains("/.pulumi/locks/") && l.contains(".tmp: no such file or directory"))
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
        || lost_lock_race(&failure.stderr)
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
    // The first cancel signal's notice: Ctrl-C's, or the SIGTERM this crate sends.
    if both.contains("update canceled")
        || both.contains("^C received")
        || both.contains("SIGTERM received")
    {
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

    /// A model's error stays the error's source: the chain reaches the parser's report.
    #[test]
    fn a_lost_race_for_the_file_backends_lock_is_a_concurrent_update() {
        let stderr = "error: 2 errors occurred:\n    1) stat /tmp/t/state/.pulumi/locks/organization/slow/dev/fe4a.json.18ed4358fee2a064.tmp: no such file or directory\n    2) NotFound\n";
        match classify(failure(1, stderr, ""), Some("dev")) {
            Error::ConcurrentUpdate { lock_holders, .. } => assert!(lock_holders.is_empty()),
            other => panic!("{other:?}"),
        }
        // A missing temporary file elsewhere is not about the lock.
        let stderr = "error: stat /tmp/t/program/out.tmp: no such file or directory\n";
        assert!(!matches!(
            classify(failure(1, stderr, ""), Some("dev")),
            Error::ConcurrentUpdate { .. }
        ));
    }

    #[test]
    fn a_model_error_is_kept_as_the_source() {
        let out = CommandOutput {
            command: "pulumi stack ls --json".into(),
            exit_code: Some(0),
            stdout: "[{\"name\": 7}]".into(),
            stderr: String::new(),
            cancelled: false,
        };
        let model = crate::model::parse_stack_list(&out.stdout).unwrap_err();
        let e = parse_error(&out, model.clone());
        assert!(
            matches!(&e, Error::Model { command, .. } if command == "pulumi stack ls --json"),
            "{e:?}"
        );
        let source = std::error::Error::source(&e).expect("a source");
        assert_eq!(source.downcast_ref::<ModelError>(), Some(&model));
        assert!(source.source().is_none());
        // A reason of this crate's has no source.
        let e = parse_error(&out, "not a stack name".to_owned());
        assert!(matches!(&e, Error::Parse { reason, .. } if reason == "not a stack name"));
        assert!(std::error::Error::source(&e).is_none());
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
            include_str!("../../fixtures/cli/err-stack-not-found.exit"),
            include_str!("../../fixtures/cli/err-stack-not-found.stderr"),
            "",
        );
        assert!(matches!(
            classify(f, Some("nope")),
            Error::StackNotFound { .. }
        ));
        let f = recorded(
            include_str!("../../fixtures/cli/err-stack-exists.exit"),
            include_str!("../../fixtures/cli/err-stack-exists.stderr"),
            "",
        );
        assert!(matches!(
            classify(f, Some("dev")),
            Error::StackAlreadyExists { .. }
        ));
        let f = recorded(
            include_str!("../../fixtures/cli/err-stack-locked.exit"),
            include_str!("../../fixtures/cli/err-stack-locked.stderr"),
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
            include_str!("../../fixtures/cli/err-program-failure.exit"),
            "",
            include_str!("../../fixtures/cli/err-program-failure.stdout"),
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
            include_str!("../../fixtures/cli/err-policy-violation.exit")
                .trim()
                .parse()
                .unwrap(),
            "",
            include_str!("../../fixtures/cli/err-policy-violation.stdout"),
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
        let notice = "SIGTERM received; cancelling. If you would like to terminate immediately, send SIGTERM again.";
        assert!(matches!(
            classify(failure(1, "", notice), None),
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
