//! `destroy`: a destroy preview, the stack's name typed (or `--yes-destroy`), then the
//! destroy bound to that preview, and `--remove`.

use pulumi_auto::events::{urn_name, urn_type};
use pulumi_auto::ops::{DestroyOptions, OpSummary};
use pulumi_auto::workspace::RemoveOptions;
use pulumi_auto::{DestroyApproval, DestroyPlan, Stack};
use serde_json::{Value, json};

use super::engine::summary_json;
use super::{Ctx, Fields};
use crate::args::DestroyArgs;
use crate::exit::Failure;
use crate::input;
use crate::report::Mode;

impl Ctx {
    /// `destroy` of an existing stack.
    pub(super) async fn destroy(&mut self, a: DestroyArgs) -> Result<Fields, Failure> {
        let stack = self.prepare("destroy", false, false, None).await?;
        let name = stack.name().to_owned();
        // 1. What would be deleted.
        let plan = self.destroy_preview(&stack).await?;
        let deletions = self.show_deletions(&name, &plan);
        // 2. The approval: bound to that preview, naming the stack as typed or given.
        let typed = self.confirmation(&name, a.yes_destroy.as_deref()).await?;
        let approval = plan
            .approve(typed)
            .override_protection(a.override_protection);
        // 3. The destroy; the library refuses a wrong name, a protected stack, or a stack
        // that changed since the preview, before anything is deleted.
        let summary = self.destroy_approved(&stack, &approval).await?;
        if a.remove {
            self.remove(&stack).await?;
        }
        let mut f = Fields::new();
        f.insert("summary".into(), summary_json(&summary));
        f.insert("deletions".into(), Value::Array(deletions));
        f.insert("removed".into(), json!(a.remove));
        Ok(f)
    }

    /// The destroy preview: what a destroy would delete now.
    async fn destroy_preview(&mut self, stack: &Stack) -> Result<DestroyPlan, Failure> {
        let (token, _rep) = self.start_engine(&format!("destroy preview {}", stack.name()));
        let opts = DestroyOptions::default().cancel_token(token.clone());
        self.op(stack, &token, stack.preview_destroy(opts)).await
    }

    /// Shows what the destroy would delete (a `destroyPreview` object with `--json`);
    /// returns the deletions as JSON values.
    fn show_deletions(&self, name: &str, plan: &DestroyPlan) -> Vec<Value> {
        let deletions: Vec<Value> = plan
            .deletions()
            .iter()
            .map(|d| json!({"urn": d.urn, "id": d.id, "op": d.op}))
            .collect();
        if self.ui.mode == Mode::Json {
            self.ui.json(&json!({
                "type": "destroyPreview",
                "stack": name,
                "deletions": deletions,
            }));
            return deletions;
        }
        if plan.is_empty() {
            self.ui
                .note(&format!("Destroying stack {name} would delete nothing."));
            return deletions;
        }
        self.ui.note(&format!(
            "Destroying stack {name} would delete {} resource(s):",
            plan.deletions().len()
        ));
        for d in plan.deletions() {
            let id =
                d.id.as_deref()
                    .map(|i| format!(" (id {i})"))
                    .unwrap_or_default();
            self.ui.note(&format!(
                "  - {} {} {}{id}",
                d.op,
                urn_type(&d.urn),
                urn_name(&d.urn)
            ));
        }
        deletions
    }

    /// The stack name that approves the destroy: `--yes-destroy`'s, or the one typed at
    /// the prompt on a terminal; refused without either.
    async fn confirmation(&mut self, name: &str, given: Option<&str>) -> Result<String, Failure> {
        if let Some(given) = given {
            return Ok(given.to_owned());
        }
        if !crate::terminal::stdin_is_terminal() {
            return Err(Failure::refused(format!(
                "refusing to destroy stack {name} without a terminal to confirm on: pass --yes-destroy={name}"
            )));
        }
        let prompt =
            format!("Type the stack name ({name}) to destroy it, anything else to keep it: ");
        match input::typed_stack_name(&mut self.ints, prompt).await? {
            Some(t) if !t.is_empty() => Ok(t),
            _ => Err(Failure::refused(format!(
                "no stack name typed: stack {name} was not destroyed"
            ))),
        }
    }

    /// The destroy itself, shown live; returns its summary.
    async fn destroy_approved(
        &mut self,
        stack: &Stack,
        approval: &DestroyApproval,
    ) -> Result<OpSummary, Failure> {
        let name = stack.name();
        let (token, rep) = self.start_engine(&format!("destroy {name}"));
        let opts = DestroyOptions::default()
            .cancel_token(token.clone())
            .on_event(rep.callback());
        let res = self
            .op(stack, &token, stack.destroy(opts, approval))
            .await?;
        self.print_summary("destroy", name, &res.summary, "");
        Ok(res.summary)
    }

    /// `--remove`: the stack removed once destroyed.
    async fn remove(&mut self, stack: &Stack) -> Result<(), Failure> {
        let name = stack.name();
        let ws = stack.workspace();
        self.ints
            .short(
                "removing the stack",
                ws.remove_stack(name, RemoveOptions::default()),
            )
            .await?;
        if self.ui.mode != Mode::Json {
            self.ui.out(&format!("stack {name} removed"));
        }
        Ok(())
    }
}
