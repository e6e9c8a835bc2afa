//! `pulumi up`: create or update the stack's resources.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::engine::{self, OperationEvents, OperationFuture};
use super::options::{CommonOptions, Control, common_setters, push_urns};
use crate::error::Result;
use crate::model::{self, OutputMap};
use crate::stack::Stack;
use pulumi_auto_types::summary::OpSummary;

/// Options of [`Stack::up`](crate::Stack::up).
///
/// ```
/// use pulumi_auto::ops::UpOptions;
/// let opts = UpOptions::default().message("deploy").parallel(4).refresh(true);
/// let args = opts.to_args("dev", None).unwrap();
/// assert_eq!(&args[..4], ["up", "--stack", "dev", "--yes"]);
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct UpOptions {
    /// Flags shared with the other operations.
    pub common: CommonOptions,
    /// Callbacks, cancellation and timeout.
    pub control: Control,
    /// Replace these URNs even if unchanged (`--replace`).
    pub replace: Vec<String>,
    /// Refresh the state before the update (`--refresh`).
    pub refresh: bool,
    /// Keep going past resource errors (`--continue-on-error`).
    pub continue_on_error: bool,
    /// Apply this plan, saved by a preview (`--plan`).
    pub plan: Option<PathBuf>,
}

common_setters!(UpOptions);

impl UpOptions {
    /// Adds a URN to replace.
    pub fn replace(mut self, urn: impl Into<String>) -> Self {
        self.replace.push(urn.into());
        self
    }
    /// Refresh before the update.
    pub fn refresh(mut self, on: bool) -> Self {
        self.refresh = on;
        self
    }
    /// Keep going past resource errors.
    pub fn continue_on_error(mut self, on: bool) -> Self {
        self.continue_on_error = on;
        self
    }
    /// Apply a plan saved by a preview.
    pub fn plan(mut self, path: impl Into<PathBuf>) -> Self {
        self.plan = Some(path.into());
        self
    }

    /// The arguments of `pulumi up` (pure; `event_log` is the engine-event log path).
    pub fn to_args(&self, stack: &str, event_log: Option<&Path>) -> Result<Vec<String>> {
        let mut args: Vec<String> = vec![
            "up".into(),
            "--stack".into(),
            stack.into(),
            "--yes".into(),
            "--skip-preview".into(),
        ];
        self.common.push_args(&mut args)?;
        push_urns(&mut args, "replace", "--replace", &self.replace)?;
        if self.refresh {
            args.push("--refresh".into());
        }
        if self.continue_on_error {
            args.push("--continue-on-error".into());
        }
        if let Some(p) = &self.plan {
            let p = super::options::absolute("--plan", p)?;
            args.push(format!("--plan={}", p.display()));
        }
        engine::push_event_log(&mut args, event_log);
        self.common.push_extra_args("up", &mut args)?;
        Ok(args)
    }
}

/// What [`Stack::up`](crate::Stack::up) returns.
///
/// Serialised, secret outputs are masked unless asked for
/// ([`Revealed`](crate::secret::Revealed)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpResult {
    /// The change summary from the engine's summary event.
    pub summary: OpSummary,
    /// The stack's outputs after the update, secrets revealed and flagged.
    pub outputs: OutputMap,
    /// The CLI's human-readable stdout (its tail for very long runs).
    pub stdout: String,
    /// The CLI's stderr (its tail).
    pub stderr: String,
}

impl Stack {
    /// Creates or updates the stack's resources. One process, plus one to reveal secret
    /// outputs when there are any.
    pub async fn up(&self, opts: UpOptions) -> Result<UpResult> {
        let run = engine::run(self, |log| opts.to_args(self.name(), log), &opts.control).await?;
        let outputs = match &run.observed.root_outputs {
            Some(raw)
                if !model::contains_secret_object(&serde_json::Value::Object(raw.clone())) =>
            {
                model::outputs_from_property_map(raw)
            }
            Some(_) => self.outputs().await?,
            None => OutputMap::new(),
        };
        Ok(UpResult {
            summary: run.summary(),
            outputs,
            stdout: run.out.stdout,
            stderr: run.out.stderr,
        })
    }

    /// Like [`up`](Self::up), with the events also delivered as a stream while it runs.
    /// Drive the returned future (await or spawn it) and consume the stream or drop it:
    /// a stream kept but not read holds the CLI back. Dropping the future stops the CLI
    /// and every process it started. Every operation has such a method.
    pub fn up_with_events(&self, opts: UpOptions) -> (OperationEvents, OperationFuture<UpResult>) {
        engine::with_events(self, opts, |s, o| async move { s.up(o).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv() {
        let o = UpOptions::default()
            .replace("urn:x")
            .refresh(true)
            .continue_on_error(true)
            .plan("/tmp/plan.json")
            .expect_no_changes(true);
        assert_eq!(
            o.to_args("dev", Some(Path::new("/tmp/ev"))).unwrap(),
            [
                "up",
                "--stack",
                "dev",
                "--yes",
                "--skip-preview",
                "--expect-no-changes",
                "--color=never",
                "--replace",
                "urn:x",
                "--refresh",
                "--continue-on-error",
                "--plan=/tmp/plan.json",
                "--event-log",
                "/tmp/ev",
            ]
        );
    }

    #[test]
    fn bad_replace_is_rejected() {
        assert!(
            UpOptions::default()
                .replace("")
                .to_args("dev", None)
                .is_err()
        );
    }
}
