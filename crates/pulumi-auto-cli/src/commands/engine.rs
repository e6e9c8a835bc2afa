//! `up`, `preview` and `refresh`: engine operations shown live, then summed up.

use pulumi_auto::ops::{OpSummary, PreviewOptions, RefreshOptions, UpOptions};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::outputs::outputs_json;
use super::{Ctx, Fields};
use crate::args::{PreviewArgs, RefreshArgs, UpArgs};
use crate::exit::Failure;
use crate::report::{Mode, Reporter};

/// `create 2, same 1`.
pub(super) fn changes_text(s: &OpSummary) -> String {
    let parts: Vec<String> = s
        .resource_changes
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(op, n)| format!("{op} {n}"))
        .collect();
    if parts.is_empty() {
        "no resources".into()
    } else {
        parts.join(", ")
    }
}

/// The `summary` field of a JSON result object.
pub(super) fn summary_json(s: &OpSummary) -> Value {
    json!({
        "result": s.result,
        "resourceChanges": s.resource_changes,
        "durationSeconds": s.duration.as_secs(),
        "isPreview": s.is_preview,
    })
}

/// Fields holding only the summary.
fn summary_fields(s: &OpSummary) -> Fields {
    let mut f = Fields::new();
    f.insert("summary".into(), summary_json(s));
    f
}

impl Ctx {
    /// The cancellation token of a new engine operation, and the reporter that shows its
    /// events under `title`.
    pub(super) fn start_engine(&self, title: &str) -> (CancellationToken, Reporter) {
        (CancellationToken::new(), self.ui.start(title))
    }

    /// The line that sums an operation up (`preview of stack dev succeeded: create 2`),
    /// unless `--json`; `timing` goes after the result (` in 3s`).
    pub(super) fn print_summary(&self, what: &str, stack: &str, s: &OpSummary, timing: &str) {
        if self.ui.mode != Mode::Json {
            self.ui.out(&format!(
                "{what} of stack {stack} {}{timing}: {}",
                s.result,
                changes_text(s)
            ));
        }
    }

    /// `up`: the stack created if needed, its config set, then the update.
    pub(super) async fn up(&mut self, a: UpArgs) -> Result<Fields, Failure> {
        let stack = self
            .prepare("up", true, a.config.install, Some(&a.config))
            .await?;
        let (token, rep) = self.start_engine(&format!("up {}", stack.name()));
        let mut opts = UpOptions::default()
            .cancel_token(token.clone())
            .refresh(a.refresh)
            .on_event(rep.callback());
        if let Some(m) = a.message {
            opts = opts.message(m);
        }
        let up = self.op(&stack, &token, stack.up(opts)).await?;
        let timing = format!(" in {}s", up.summary.duration.as_secs());
        self.print_summary("update", stack.name(), &up.summary, &timing);
        self.print_outputs(&up.outputs, a.show_secrets);
        let mut f = summary_fields(&up.summary);
        f.insert("outputs".into(), outputs_json(&up.outputs, a.show_secrets));
        Ok(f)
    }

    /// `preview`: the stack created if needed, its config set, then the preview.
    pub(super) async fn preview(&mut self, a: PreviewArgs) -> Result<Fields, Failure> {
        let stack = self
            .prepare("preview", true, a.config.install, Some(&a.config))
            .await?;
        let (token, rep) = self.start_engine(&format!("preview {}", stack.name()));
        let opts = PreviewOptions::default()
            .cancel_token(token.clone())
            .expect_no_changes(a.expect_no_changes)
            .on_event(rep.callback());
        let p = self.op(&stack, &token, stack.preview(opts)).await?;
        self.print_summary("preview", stack.name(), &p.summary, "");
        let mut f = summary_fields(&p.summary);
        f.insert("steps".into(), json!(p.plan.steps.len()));
        Ok(f)
    }

    /// `refresh` of an existing stack.
    pub(super) async fn refresh(&mut self, a: RefreshArgs) -> Result<Fields, Failure> {
        let stack = self.prepare("refresh", false, a.install, None).await?;
        let (token, rep) = self.start_engine(&format!("refresh {}", stack.name()));
        let opts = RefreshOptions::default()
            .cancel_token(token.clone())
            .on_event(rep.callback());
        let res = self.op(&stack, &token, stack.refresh(opts)).await?;
        self.print_summary("refresh", stack.name(), &res.summary, "");
        Ok(summary_fields(&res.summary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_well() {
        let mut s = OpSummary::default();
        assert_eq!(changes_text(&s), "no resources");
        s.resource_changes.insert("create".into(), 3);
        s.resource_changes.insert("same".into(), 1);
        s.resource_changes.insert("delete".into(), 0);
        assert_eq!(changes_text(&s), "create 3, same 1");
    }
}
