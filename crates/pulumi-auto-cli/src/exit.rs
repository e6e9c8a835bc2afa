//! Exit codes, and the failure every command returns.

use pulumi_auto::Error;

/// The tool's exit codes (documented in `--help` and the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Ok = 0,
    /// 1: the operation failed.
    Failed = 1,
    /// 2: usage error or bad input (clap uses 2 for its own errors too).
    Usage = 2,
    /// 3: a destroy was refused.
    Refused = 3,
    /// 4: cancelled by Ctrl-C or SIGTERM.
    Cancelled = 4,
}

impl Exit {
    /// The `status` field of a JSON result.
    pub fn status(self) -> &'static str {
        match self {
            Exit::Ok => "succeeded",
            Exit::Failed => "failed",
            Exit::Usage => "usage",
            Exit::Refused => "refused",
            Exit::Cancelled => "cancelled",
        }
    }

    /// The process exit code.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// Why a command did not succeed: its exit code and a message for the human.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// What went wrong (no secret: library errors are redacted, and the tool redacts the
    /// secrets it was given before printing).
    pub message: String,
    /// An operation stopped by a second interrupt, which may leave a lock or pending
    /// operations behind.
    pub hard_stop: bool,
    /// The stack that operation ran on, to report what it was left with.
    pub stack: Option<pulumi_auto::Stack>,
}

impl Failure {
    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            exit: Exit::Usage,
            message: message.into(),
            hard_stop: false,
            stack: None,
        }
    }

    /// A refusal (exit 3).
    pub fn refused(message: impl Into<String>) -> Self {
        Failure {
            exit: Exit::Refused,
            message: message.into(),
            hard_stop: false,
            stack: None,
        }
    }

    /// A cancellation (exit 4).
    pub fn cancelled(message: impl Into<String>) -> Self {
        Failure {
            exit: Exit::Cancelled,
            message: message.into(),
            hard_stop: false,
            stack: None,
        }
    }

    /// An operation stopped by a second interrupt (exit 4).
    pub fn hard_stopped() -> Self {
        Failure {
            hard_stop: true,
            ..Failure::cancelled("stopped at once by a second interrupt")
        }
    }

    /// Any other failure (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Failure {
            exit: Exit::Failed,
            message: message.into(),
            hard_stop: false,
            stack: None,
        }
    }
}

/// The exit code of a library error.
pub fn exit_of(e: &Error) -> Exit {
    match e {
        Error::Cancelled { .. } => Exit::Cancelled,
        Error::DestroyRefused { .. } => Exit::Refused,
        Error::InvalidInput { .. } => Exit::Usage,
        _ => Exit::Failed,
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure {
            exit: exit_of(&e),
            message: e.to_string(),
            hard_stop: false,
            stack: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_documented() {
        let all = [
            Exit::Ok,
            Exit::Failed,
            Exit::Usage,
            Exit::Refused,
            Exit::Cancelled,
        ];
        let codes: std::collections::BTreeSet<i32> = all.iter().map(|e| e.code()).collect();
        assert_eq!(codes.len(), all.len());
        assert_eq!(codes.into_iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn library_errors_map_to_codes() {
        assert_eq!(
            exit_of(&Error::Cancelled { failure: None }),
            Exit::Cancelled
        );
        assert_eq!(exit_of(&Error::invalid("stack", "bad")), Exit::Usage);
        let refused = Error::DestroyRefused {
            stack: "dev".into(),
            reason: pulumi_auto::approval::DestroyRefusal::WrongStack {
                approved: "prod".into(),
            },
        };
        assert_eq!(exit_of(&refused), Exit::Refused);
    }
}
