//! Options shared by the engine operations, and the flags they turn into.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub(crate) use crate::cli::absolute;
use crate::cli::{CancelPolicy, LineCallback};
use crate::error::{Error, Result};
use crate::events::EngineEvent;

/// A callback that receives each engine event as the operation runs.
pub type EventCallback = std::sync::Arc<dyn Fn(&EngineEvent) + Send + Sync>;

/// How an operation is watched and stopped: callbacks, cancellation, timeout. Every
/// operation's options have a setter for each (`on_event`, `on_stdout`, `on_stderr`,
/// `cancel_token`, `timeout`, `cancel_policy`); the callbacks are all
/// `Fn(&T) + Send + Sync + 'static`, called as each event or line arrives (keep them
/// short: the CLI's output waits for them). The `*_with_events` methods deliver the
/// events as a stream as well.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Control {
    /// Receives each engine event while the operation runs.
    pub on_event: Option<EventCallback>,
    /// Receives each line of the CLI's human-readable stdout.
    pub on_stdout: Option<LineCallback>,
    /// Receives each line of the CLI's stderr.
    pub on_stderr: Option<LineCallback>,
    /// Cancels the operation gracefully when cancelled.
    pub cancel: Option<CancellationToken>,
    /// Cancels the operation gracefully after this long.
    pub timeout: Option<Duration>,
    /// How a cancelled operation is stopped (SIGTERM, second SIGTERM, SIGKILL).
    pub cancel_policy: CancelPolicy,
    /// Where the events also go, for the `*_with_events` methods.
    pub(crate) events: Option<mpsc::Sender<EngineEvent>>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("on_event", &self.on_event.is_some())
            .field("on_stdout", &self.on_stdout.is_some())
            .field("on_stderr", &self.on_stderr.is_some())
            .field("cancel", &self.cancel.is_some())
            .field("timeout", &self.timeout)
            .field("cancel_policy", &self.cancel_policy)
            .field("events", &self.events.is_some())
            .finish()
    }
}

impl Control {
    /// The same cancellation and timeout, without the callbacks and the event stream: for
    /// a run the crate makes for itself (a destroy's fresh preview).
    pub(crate) fn unobserved(&self) -> Control {
        Control {
            cancel: self.cancel.clone(),
            timeout: self.timeout,
            cancel_policy: self.cancel_policy,
            ..Control::default()
        }
    }
}

/// Options that carry a [`Control`] (every operation's).
pub(crate) trait Controlled {
    fn control_mut(&mut self) -> &mut Control;
}

/// Debug logging of the CLI and its plugins.
///
/// ```
/// use pulumi_auto::ops::{DebugLogging, UpOptions};
/// let opts = UpOptions::default().debug_logging(DebugLogging::default().level(9).to_stderr(true));
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct DebugLogging {
    /// Verbosity (`-v N`, 1 to 11); 0 leaves it off.
    pub level: u8,
    /// Log to stderr instead of to files under `PULUMI_HOME/logs` (`--logtostderr`).
    pub to_stderr: bool,
    /// Pass the log settings on to plugins (`--logflow`).
    pub flow_to_plugins: bool,
    /// Print debug diagnostics (`--debug`).
    pub debug: bool,
}

impl DebugLogging {
    /// Verbosity, 1 to 11 (0: off).
    pub fn level(mut self, level: u8) -> Self {
        self.level = level;
        self
    }
    /// Log to stderr instead of to files.
    pub fn to_stderr(mut self, on: bool) -> Self {
        self.to_stderr = on;
        self
    }
    /// Pass the log settings on to plugins.
    pub fn flow_to_plugins(mut self, on: bool) -> Self {
        self.flow_to_plugins = on;
        self
    }
    /// Print debug diagnostics.
    pub fn debug(mut self, on: bool) -> Self {
        self.debug = on;
        self
    }
}

/// Colour of the CLI's human-readable output (`--color`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Color {
    /// `never`: plain text (the default: the output is read by a program).
    #[default]
    Never,
    /// `always`: ANSI colour codes.
    Always,
    /// `raw`: the CLI's own colour directives, unrendered.
    Raw,
    /// `auto`: colour when the CLI's stdout is a terminal (it never is here).
    Auto,
}

impl Color {
    /// The value of `--color`.
    pub fn as_str(self) -> &'static str {
        match self {
            Color::Never => "never",
            Color::Always => "always",
            Color::Raw => "raw",
            Color::Auto => "auto",
        }
    }
}

/// Flags common to up, preview, refresh, destroy and import; each has a setter on every
/// operation's options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommonOptions {
    /// The update's message (`--message`).
    pub message: Option<String>,
    /// Only these resource URNs (`--target`).
    pub targets: Vec<String>,
    /// Also the targets' dependents (`--target-dependents`).
    pub target_dependents: bool,
    /// All but these resource URNs (`--exclude`).
    pub excludes: Vec<String>,
    /// Also the excluded resources' dependents (`--exclude-dependents`).
    pub exclude_dependents: bool,
    /// How many resource operations run at once (`--parallel`); 0 leaves the default.
    pub parallel: u32,
    /// Fail if the operation would change anything (`--expect-no-changes`).
    pub expect_no_changes: bool,
    /// Print a detailed diff (`--diff`) in the human-readable output.
    pub diff: bool,
    /// Policy packs to run (`--policy-pack`).
    pub policy_packs: Vec<PathBuf>,
    /// Their config files, one per pack (`--policy-pack-config`).
    pub policy_pack_configs: Vec<PathBuf>,
    /// Show `create-replacement`/`delete-replaced` steps (`--show-replacement-steps`).
    pub show_replacement_steps: bool,
    /// Show secret values in the human-readable output (`--show-secrets`).
    pub show_secrets: bool,
    /// Colour of the human-readable output; default [`Color::Never`].
    pub color: Color,
    /// Debug logging.
    pub debug_logging: DebugLogging,
    /// Write tracing data to this file (`--tracing file:…`).
    pub tracing_file: Option<PathBuf>,
    /// The user agent reported to the backend (`--exec-agent`).
    pub user_agent: Option<String>,
    /// Flags not modelled yet, appended after every flag the crate sets. Each is checked
    /// first ([`check_extra_args`](super::check_extra_args)): a flag the crate manages
    /// (`--stack`, `--cwd`, `--yes`, …, in any spelling), a positional argument or `--`
    /// is refused, and destroy takes none. Never put a secret here.
    pub extra_args: Vec<String>,
    /// The address of the in-process language host of an inline program (`--client`,
    /// with `--exec-kind=auto.inline`); set by the `inline` module only, a managed flag.
    pub(crate) client: Option<String>,
}

/// Appends `flag path` for each path, made [absolute].
fn push_paths(args: &mut Vec<String>, flag: &str, paths: &[PathBuf]) -> Result<()> {
    for p in paths {
        args.push(flag.to_owned());
        args.push(absolute(flag, p)?.display().to_string());
    }
    Ok(())
}

/// Appends `--preview-only --json` (a preview: the plan on stdout, no lock) or
/// `--yes --skip-preview` (the operation itself, non-interactively).
pub(crate) fn push_mode(args: &mut Vec<String>, preview_only: bool) {
    if preview_only {
        args.extend(["--preview-only".into(), "--json".into()]);
    } else {
        args.extend(["--yes".into(), "--skip-preview".into()]);
    }
}

/// Appends `flag urn` for each URN, after checking it.
pub(crate) fn push_urns(
    args: &mut Vec<String>,
    what: &str,
    flag: &str,
    urns: &[String],
) -> Result<()> {
    check_urns(what, urns)?;
    for u in urns {
        args.extend([flag.to_owned(), u.clone()]);
    }
    Ok(())
}

pub(crate) fn check_urns(what: &str, urns: &[String]) -> Result<()> {
    for u in urns {
        if u.is_empty() || u.chars().any(char::is_control) {
            return Err(Error::invalid(what, format!("{u:?} is not a URN")));
        }
    }
    Ok(())
}

impl CommonOptions {
    /// Appends the flags for these options; checks them first.
    pub(crate) fn push_args(&self, args: &mut Vec<String>) -> Result<()> {
        if !self.targets.is_empty() && !self.excludes.is_empty() {
            return Err(Error::invalid(
                "options",
                "targets and excludes cannot be combined (the CLI refuses --target with --exclude)",
            ));
        }

        if !self.policy_pack_configs.is_empty()
            && self.policy_pack_configs.len() != self.policy_packs.len()
        {
            return Err(Error::invalid(
                "options",
                "policy_pack_configs needs one config per policy pack",
            ));
        }
        if self.debug_logging.level > 11 {
            return Err(Error::invalid("debug log level", "must be 0 to 11"));
        }
        if let Some(m) = &self.message {
            args.extend(["--message".into(), m.clone()]);
        }
        push_urns(args, "target", "--target", &self.targets)?;
        if self.target_dependents {
            args.push("--target-dependents".into());
        }
        push_urns(args, "exclude", "--exclude", &self.excludes)?;
        if self.exclude_dependents {
            args.push("--exclude-dependents".into());
        }
        if self.parallel > 0 {
            args.extend(["--parallel".into(), self.parallel.to_string()]);
        }
        if self.expect_no_changes {
            args.push("--expect-no-changes".into());
        }
        if self.diff {
            args.push("--diff".into());
        }
        push_paths(args, "--policy-pack", &self.policy_packs)?;
        push_paths(args, "--policy-pack-config", &self.policy_pack_configs)?;
        if self.show_replacement_steps {
            args.push("--show-replacement-steps".into());
        }
        if self.show_secrets {
            args.push("--show-secrets".into());
        }
        args.push(format!("--color={}", self.color.as_str()));
        let d = &self.debug_logging;
        if d.level > 0 {
            args.push(format!("--verbose={}", d.level));
        }
        if d.to_stderr {
            args.push("--logtostderr".into());
        }
        if d.flow_to_plugins {
            args.push("--logflow".into());
        }
        if d.debug {
            args.push("--debug".into());
        }
        if let Some(t) = &self.tracing_file {
            args.push(format!(
                "--tracing=file:{}",
                absolute("--tracing", t)?.display()
            ));
        }
        if let Some(a) = &self.user_agent {
            args.extend(["--exec-agent".into(), a.clone()]);
        }
        if let Some(c) = &self.client {
            args.extend([format!("--client={c}"), "--exec-kind=auto.inline".into()]);
        }
        Ok(())
    }

    /// Appends the extra arguments, after checking them against the flags the crate
    /// manages for `pulumi <command>`. Called last, so that no flag the crate sets can be
    /// taken as an extra argument's value.
    pub(crate) fn push_extra_args(&self, command: &str, args: &mut Vec<String>) -> Result<()> {
        super::argv::check_extra_args(command, &self.extra_args)?;
        args.extend(self.extra_args.iter().cloned());
        Ok(())
    }
}

/// Builder setters for the [`CommonOptions`] of an options type, and for its
/// [`Control`] (both fields must be named `common` and `control`).
macro_rules! common_setters {
    ($t:ty) => {
        impl $crate::ops::options::Controlled for $t {
            fn control_mut(&mut self) -> &mut $crate::ops::Control {
                &mut self.control
            }
        }

        impl $t {
            /// The update's message.
            pub fn message(mut self, m: impl Into<String>) -> Self {
                self.common.message = Some(m.into());
                self
            }
            /// Adds a target URN (only it, and its dependents with `target_dependents`).
            pub fn target(mut self, urn: impl Into<String>) -> Self {
                self.common.targets.push(urn.into());
                self
            }
            /// Also the targets' dependents.
            pub fn target_dependents(mut self, on: bool) -> Self {
                self.common.target_dependents = on;
                self
            }
            /// Adds a URN to exclude.
            pub fn exclude(mut self, urn: impl Into<String>) -> Self {
                self.common.excludes.push(urn.into());
                self
            }
            /// Also the excluded resources' dependents.
            pub fn exclude_dependents(mut self, on: bool) -> Self {
                self.common.exclude_dependents = on;
                self
            }
            /// How many resource operations run at once.
            pub fn parallel(mut self, n: u32) -> Self {
                self.common.parallel = n;
                self
            }
            /// Fail if anything would change.
            pub fn expect_no_changes(mut self, on: bool) -> Self {
                self.common.expect_no_changes = on;
                self
            }
            /// A detailed diff in the human-readable output.
            pub fn diff(mut self, on: bool) -> Self {
                self.common.diff = on;
                self
            }
            /// Adds a policy pack (and optionally its config file).
            pub fn policy_pack(
                mut self,
                pack: impl Into<std::path::PathBuf>,
                config: Option<std::path::PathBuf>,
            ) -> Self {
                self.common.policy_packs.push(pack.into());
                if let Some(c) = config {
                    self.common.policy_pack_configs.push(c);
                }
                self
            }
            /// Show replacement steps.
            pub fn show_replacement_steps(mut self, on: bool) -> Self {
                self.common.show_replacement_steps = on;
                self
            }
            /// Show secrets in the human-readable output.
            pub fn show_secrets(mut self, on: bool) -> Self {
                self.common.show_secrets = on;
                self
            }
            /// The colour of the human-readable output.
            pub fn color(mut self, c: $crate::ops::Color) -> Self {
                self.common.color = c;
                self
            }
            /// Debug logging.
            pub fn debug_logging(mut self, d: $crate::ops::DebugLogging) -> Self {
                self.common.debug_logging = d;
                self
            }
            /// Write tracing data to this file.
            pub fn tracing_file(mut self, p: impl Into<std::path::PathBuf>) -> Self {
                self.common.tracing_file = Some(p.into());
                self
            }
            /// The user agent reported to the backend.
            pub fn user_agent(mut self, a: impl Into<String>) -> Self {
                self.common.user_agent = Some(a.into());
                self
            }
            /// Appends a flag not modelled yet; refused (before anything runs) when it is a
            /// flag the crate manages, a positional argument or `--`
            /// ([`check_extra_args`](crate::ops::check_extra_args)). Never put a secret here.
            pub fn extra_arg(mut self, a: impl Into<String>) -> Self {
                self.common.extra_args.push(a.into());
                self
            }
            /// Receives each engine event while the operation runs.
            pub fn on_event(
                mut self,
                f: impl Fn(&$crate::events::EngineEvent) + Send + Sync + 'static,
            ) -> Self {
                self.control.on_event = Some(std::sync::Arc::new(f));
                self
            }
            /// Receives each line of the CLI's stdout.
            pub fn on_stdout(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
                self.control.on_stdout = Some(std::sync::Arc::new(f));
                self
            }
            /// Receives each line of the CLI's stderr.
            pub fn on_stderr(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
                self.control.on_stderr = Some(std::sync::Arc::new(f));
                self
            }
            /// Cancels the operation gracefully when the token is cancelled.
            pub fn cancel_token(mut self, t: tokio_util::sync::CancellationToken) -> Self {
                self.control.cancel = Some(t);
                self
            }
            /// Cancels the operation gracefully after this long.
            pub fn timeout(mut self, t: std::time::Duration) -> Self {
                self.control.timeout = Some(t);
                self
            }
            /// How a cancelled operation is stopped.
            pub fn cancel_policy(mut self, p: $crate::cli::CancelPolicy) -> Self {
                self.control.cancel_policy = p;
                self
            }
        }
    };
}
pub(crate) use common_setters;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_color_never_only() {
        let mut args = Vec::new();
        CommonOptions::default().push_args(&mut args).unwrap();
        assert_eq!(args, ["--color=never"]);
    }

    #[test]
    fn every_flag() {
        let o = CommonOptions {
            message: Some("msg with spaces".into()),
            targets: vec!["urn:a".into(), "urn:b".into()],
            target_dependents: true,
            parallel: 3,
            expect_no_changes: true,
            diff: true,
            policy_packs: vec!["/p".into()],
            policy_pack_configs: vec!["/c.json".into()],
            show_replacement_steps: true,
            show_secrets: true,
            color: Color::Always,
            debug_logging: DebugLogging::default()
                .level(9)
                .to_stderr(true)
                .flow_to_plugins(true)
                .debug(true),
            tracing_file: Some("/t.trace".into()),
            user_agent: Some("agent/1".into()),
            // Not appended here: each operation appends them last, checked.
            extra_args: vec!["--suppress-outputs".into()],
            ..Default::default()
        };
        let mut args = Vec::new();
        o.push_args(&mut args).unwrap();
        assert_eq!(
            args,
            [
                "--message",
                "msg with spaces",
                "--target",
                "urn:a",
                "--target",
                "urn:b",
                "--target-dependents",
                "--parallel",
                "3",
                "--expect-no-changes",
                "--diff",
                "--policy-pack",
                "/p",
                "--policy-pack-config",
                "/c.json",
                "--show-replacement-steps",
                "--show-secrets",
                "--color=always",
                "--verbose=9",
                "--logtostderr",
                "--logflow",
                "--debug",
                "--tracing=file:/t.trace",
                "--exec-agent",
                "agent/1",
            ]
        );
        let mut args = vec!["up".to_owned()];
        o.push_extra_args("up", &mut args).unwrap();
        assert_eq!(args, ["up", "--suppress-outputs"]);
        let bad = CommonOptions {
            extra_args: vec!["--suppress-outputs".into(), "--stack=prod".into()],
            ..Default::default()
        };
        let mut args = Vec::new();
        assert!(matches!(
            bad.push_extra_args("up", &mut args),
            Err(Error::InvalidInput { .. })
        ));
        assert!(args.is_empty(), "nothing is appended when one is refused");
    }

    #[test]
    fn rejects_bad_combinations() {
        let both = CommonOptions {
            targets: vec!["urn:a".into()],
            excludes: vec!["urn:b".into()],
            ..Default::default()
        };
        assert!(both.push_args(&mut Vec::new()).is_err());
        let configs = CommonOptions {
            policy_pack_configs: vec!["/c".into()],
            ..Default::default()
        };
        assert!(configs.push_args(&mut Vec::new()).is_err());
        let urn = CommonOptions {
            targets: vec!["a\nb".into()],
            ..Default::default()
        };
        assert!(urn.push_args(&mut Vec::new()).is_err());
        let empty = CommonOptions {
            policy_packs: vec!["".into()],
            ..Default::default()
        };
        assert!(matches!(
            empty.push_args(&mut Vec::new()),
            Err(Error::InvalidInput { .. })
        ));
    }

    #[test]
    fn policy_paths_are_made_absolute() {
        let o = CommonOptions {
            policy_packs: vec!["packs/files".into()],
            policy_pack_configs: vec!["packs/files.json".into()],
            ..Default::default()
        };
        let mut args = Vec::new();
        o.push_args(&mut args).unwrap();
        let cwd = std::env::current_dir().unwrap();
        let at = |flag: &str| {
            let i = args.iter().position(|a| a == flag).unwrap();
            PathBuf::from(&args[i + 1])
        };
        assert_eq!(at("--policy-pack"), cwd.join("packs/files"));
        assert_eq!(at("--policy-pack-config"), cwd.join("packs/files.json"));
    }

    #[test]
    fn tracing_and_plan_paths_are_made_absolute() {
        let cwd = std::env::current_dir().unwrap();
        let o = CommonOptions {
            tracing_file: Some("out/t.trace".into()),
            ..Default::default()
        };
        let mut args = Vec::new();
        o.push_args(&mut args).unwrap();
        let want = format!("--tracing=file:{}", cwd.join("out/t.trace").display());
        assert!(args.contains(&want), "{args:?}");

        let up = crate::ops::UpOptions::default().plan("plans/p.json");
        let args = up.to_args("dev", None).unwrap();
        let want = format!("--plan={}", cwd.join("plans/p.json").display());
        assert!(args.contains(&want), "{args:?}");

        let pv = crate::ops::PreviewOptions::default().save_plan("plans/p.json");
        let args = pv.to_args("dev", None).unwrap();
        let want = format!("--save-plan={}", cwd.join("plans/p.json").display());
        assert!(args.contains(&want), "{args:?}");
    }
}
