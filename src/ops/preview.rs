//! `pulumi preview`: what an update would do, step by step.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::engine::{self, OperationEvents, OperationFuture};
use super::options::{CommonOptions, Control, common_setters, push_urns};
use crate::error::Result;
use crate::model::{self, PreviewDigest};
use crate::stack::Stack;
use pulumi_auto_types::summary::OpSummary;

/// Options of [`Stack::preview`](crate::Stack::preview).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct PreviewOptions {
    /// Flags shared with the other operations.
    pub common: CommonOptions,
    /// Callbacks, cancellation and timeout.
    pub control: Control,
    /// Plan to replace these URNs even if unchanged (`--replace`).
    pub replace: Vec<String>,
    /// Refresh the state first (`--refresh`).
    pub refresh: bool,
    /// Save the plan for `up` to apply (`--save-plan`).
    pub save_plan: Option<PathBuf>,
}

common_setters!(PreviewOptions);

impl PreviewOptions {
    /// Adds a URN to plan a replacement of.
    pub fn replace(mut self, urn: impl Into<String>) -> Self {
        self.replace.push(urn.into());
        self
    }
    /// Refresh first.
    pub fn refresh(mut self, on: bool) -> Self {
        self.refresh = on;
        self
    }
    /// Save the plan to this file.
    pub fn save_plan(mut self, path: impl Into<PathBuf>) -> Self {
        self.save_plan = Some(path.into());
        self
    }

    /// The arguments of `pulumi preview` (pure). `--json` makes stdout the full plan.
    pub fn to_args(&self, stack: &str, event_log: Option<&Path>) -> Result<Vec<String>> {
        let mut args: Vec<String> = vec![
            "preview".into(),
            "--stack".into(),
            stack.into(),
            "--json".into(),
        ];
        self.common.push_args(&mut args)?;
        push_urns(&mut args, "replace", "--replace", &self.replace)?;
        if self.refresh {
            args.push("--refresh".into());
        }
        if let Some(p) = &self.save_plan {
            let p = super::options::absolute("--save-plan", p)?;
            args.push(format!("--save-plan={}", p.display()));
        }
        engine::push_event_log(&mut args, event_log);
        self.common.push_extra_args("preview", &mut args)?;
        Ok(args)
    }
}

/// What [`Stack::preview`](crate::Stack::preview) returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewResult {
    /// The change summary from the engine's summary event.
    pub summary: OpSummary,
    /// Every step the update would take, with old and new state and diffs.
    pub plan: PreviewDigest,
    /// The CLI's stderr (its tail).
    pub stderr: String,
}

impl Stack {
    /// Shows what an update would do: the full plan from `preview --json` and the summary
    /// from the events. One process.
    pub async fn preview(&self, opts: PreviewOptions) -> Result<PreviewResult> {
        let run = engine::run(self, |log| opts.to_args(self.name(), log), &opts.control).await?;
        Ok(PreviewResult {
            summary: run.summary(),
            plan: parse_plan(&run.out)?,
            stderr: run.out.stderr,
        })
    }

    /// Like [`preview`](Self::preview), with the events also delivered as a stream (see
    /// [`up_with_events`](Self::up_with_events)).
    pub fn preview_with_events(
        &self,
        opts: PreviewOptions,
    ) -> (OperationEvents, OperationFuture<PreviewResult>) {
        engine::with_events(self, opts, |s, o| async move { s.preview(o).await })
    }
}

/// The plan a preview (`preview --json`, `destroy --preview-only --json`) printed.
pub(crate) fn parse_plan(out: &crate::cli::CommandOutput) -> Result<PreviewDigest> {
    model::parse_preview_output(&out.stdout).map_err(|e| crate::workspace::parse_error(out, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv() {
        let o = PreviewOptions::default()
            .refresh(true)
            .save_plan("/p.json")
            .diff(true);
        assert_eq!(
            o.to_args("dev", Some(Path::new("/ev"))).unwrap(),
            [
                "preview",
                "--stack",
                "dev",
                "--json",
                "--diff",
                "--color=never",
                "--refresh",
                "--save-plan=/p.json",
                "--event-log",
                "/ev",
            ]
        );
    }
}
