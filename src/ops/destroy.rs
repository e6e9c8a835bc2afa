//! `pulumi destroy`: delete every resource of the stack, behind a
//! [`DestroyApproval`](crate::DestroyApproval).

use std::collections::BTreeMap;
use std::path::Path;

use super::engine::{self, OpResult, OperationEvents, OperationFuture};
use super::options::{CommonOptions, Control, common_setters, push_mode};
use crate::approval::{DestroyApproval, DestroyFacts, DestroyPlan, Verdict};
use crate::cli::Invocation;
use crate::error::{Error, Result};
use crate::stack::Stack;

/// Options of [`Stack::destroy`](crate::Stack::destroy).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct DestroyOptions {
    /// Flags shared with the other operations.
    pub common: CommonOptions,
    /// Callbacks, cancellation and timeout.
    pub control: Control,
    /// Refresh the state first (`--refresh`).
    pub refresh: bool,
    /// Keep going past resource errors (`--continue-on-error`).
    pub continue_on_error: bool,
    /// Leave protected resources alone instead of failing (`--exclude-protected`).
    pub exclude_protected: bool,
    /// Run the program to compute dependencies (`--run-program`).
    pub run_program: bool,
    /// Remove the stack and its config file once its resources are gone (`--remove`): a
    /// destroy and a [`remove_stack`](crate::LocalWorkspace::remove_stack) in one process.
    /// Ignored by the preview.
    pub remove: bool,
}

common_setters!(DestroyOptions);

impl DestroyOptions {
    /// Refresh first.
    pub fn refresh(mut self, on: bool) -> Self {
        self.refresh = on;
        self
    }
    /// Keep going past resource errors.
    pub fn continue_on_error(mut self, on: bool) -> Self {
        self.continue_on_error = on;
        self
    }
    /// Leave protected resources alone.
    pub fn exclude_protected(mut self, on: bool) -> Self {
        self.exclude_protected = on;
        self
    }
    /// Run the program to compute dependencies.
    pub fn run_program(mut self, on: bool) -> Self {
        self.run_program = on;
        self
    }
    /// Remove the stack too, in the same process.
    pub fn remove(mut self, on: bool) -> Self {
        self.remove = on;
        self
    }

    /// The arguments of `pulumi destroy` (pure).
    pub fn to_args(&self, stack: &str, event_log: Option<&Path>) -> Result<Vec<String>> {
        self.args(stack, false, event_log)
    }

    /// The arguments of the preview-only destroy (`--preview-only --json`; pure).
    pub fn to_preview_args(&self, stack: &str, event_log: Option<&Path>) -> Result<Vec<String>> {
        self.args(stack, true, event_log)
    }

    fn args(
        &self,
        stack: &str,
        preview_only: bool,
        event_log: Option<&Path>,
    ) -> Result<Vec<String>> {
        // What a destroy deletes is decided by its approval: no extra flag may change it
        // (`--stack=prod`, `--target`, `--exclude`, `--remove`, …), so none is taken, by
        // the destroy or by its preview.
        super::check_extra_args("destroy", &self.common.extra_args)?;
        let mut args: Vec<String> = vec!["destroy".into(), "--stack".into(), stack.into()];
        push_mode(&mut args, preview_only);
        self.common.push_args(&mut args)?;
        for (on, flag) in [
            (self.refresh, "--refresh"),
            (self.continue_on_error, "--continue-on-error"),
            (self.exclude_protected, "--exclude-protected"),
            (self.run_program, "--run-program"),
            (self.remove && !preview_only, "--remove"),
        ] {
            if on {
                args.push(flag.into());
            }
        }
        engine::push_event_log(&mut args, event_log);
        Ok(args)
    }
}

impl Stack {
    /// Shows what [`destroy`](Self::destroy) would delete, as a plan a human can read and
    /// [approve](crate::DestroyPlan::approve). Takes no lock and changes nothing. One
    /// process.
    pub async fn preview_destroy(&self, opts: DestroyOptions) -> Result<DestroyPlan> {
        let build = |log: Option<&Path>| opts.to_preview_args(self.name(), log);
        let run = engine::run(self, build, &opts.control).await?;
        let preview = super::preview::parse_plan(&run.out)?;
        Ok(DestroyPlan::new(
            self.name().to_owned(),
            run.summary(),
            preview,
        ))
    }

    /// Like [`preview_destroy`](Self::preview_destroy), with the events also delivered as
    /// a stream (see [`up_with_events`](Self::up_with_events)).
    pub fn preview_destroy_with_events(
        &self,
        opts: DestroyOptions,
    ) -> (OperationEvents, OperationFuture<DestroyPlan>) {
        engine::with_events(self, opts, |s, o| async move { s.preview_destroy(o).await })
    }

    /// Deletes every resource of the stack, when `approval` allows it:
    ///
    /// - the approval must name this stack, in any spelling the CLI resolves to it
    ///   (`dev`, `organization/dev`, `organization/<project>/dev`), and an approval bound
    ///   to a preview must come from a preview of this stack;
    /// - a stack tagged [`PROTECTED_TAG`](crate::approval::PROTECTED_TAG) is refused
    ///   unless the approval [overrides protection](DestroyApproval::override_protection);
    /// - an approval bound to a preview ([`DestroyPlan::approve`]) is refused when a fresh
    ///   preview differs from the approved one (resources added, gone or replaced).
    ///
    /// A refusal is [`Error::DestroyRefused`], decided before `pulumi destroy` starts.
    /// Extra arguments are refused ([`check_extra_args`](super::check_extra_args)): no
    /// flag may change what the approval covers.
    /// Processes: the tag check and the destroy (2); a bound approval adds the fresh
    /// preview, run alongside the tag check (3). An approval that overrides protection,
    /// and an ephemeral stack's own, skip the tag check (1). An approval spelling the
    /// stack otherwise than its handle adds one process per spelling to compare them, and
    /// one for the handle.
    pub async fn destroy(
        &self,
        opts: DestroyOptions,
        approval: &DestroyApproval,
    ) -> Result<OpResult> {
        // Bad options fail before anything runs.
        opts.to_args(self.name(), None)?;
        self.check_destroy_approval(&opts, approval).await?;
        let build = |log: Option<&Path>| opts.to_args(self.name(), log);
        Ok(engine::run(self, build, &opts.control)
            .await?
            .into_op_result())
    }

    /// Like [`destroy`](Self::destroy), with the events of the destroy also delivered as
    /// a stream (see [`up_with_events`](Self::up_with_events)).
    pub fn destroy_with_events(
        &self,
        opts: DestroyOptions,
        approval: &DestroyApproval,
    ) -> (OperationEvents, OperationFuture<OpResult>) {
        let approval = approval.clone();
        engine::with_events(
            self,
            opts,
            |s, o| async move { s.destroy(o, &approval).await },
        )
    }

    /// The checks of a forced `stack rm`, which loses the state as a destroy loses the
    /// resources: the approval's name, and the protection tag.
    pub(crate) async fn check_removal_approval(&self, approval: &DestroyApproval) -> Result<()> {
        if approval.bound_plan().is_some() {
            return Err(Error::invalid(
                "remove approval",
                "an approval bound to a destroy preview approves that destroy, not a forced removal",
            ));
        }
        self.check_destroy_approval(&DestroyOptions::default(), approval)
            .await
    }

    /// Gathers what [`DestroyApproval::decide`] needs to know about this stack, and
    /// refuses as it decides: first which stacks the approval's names name, then, if it
    /// asks for them, the tags and a fresh destroy preview (at once).
    async fn check_destroy_approval(
        &self,
        opts: &DestroyOptions,
        approval: &DestroyApproval,
    ) -> Result<()> {
        let others = self.names_of_other_stacks(&approval.names()).await?;
        let known = DestroyFacts {
            other_stacks: &others,
            ..DestroyFacts::default()
        };
        let verdict = match approval.decide(&known) {
            Verdict::Needs {
                tags,
                fresh_preview,
            } => {
                let (tags, fresh) = self.destroy_facts(opts, tags, fresh_preview).await?;
                approval.decide(&DestroyFacts {
                    tags: tags.as_ref(),
                    fresh: fresh.as_ref().map(DestroyPlan::deletions),
                    ..known
                })
            }
            decided => decided,
        };
        let refuse = |reason| Error::DestroyRefused {
            stack: self.name().to_owned(),
            reason,
        };
        match verdict {
            Verdict::Allowed => Ok(()),
            Verdict::Refused(reason) => Err(refuse(reason)),
            // Given what it asked for, the decision needs nothing more (its tests); should
            // it ever, nothing is destroyed.
            Verdict::Needs { .. } => Err(Error::invalid(
                "destroy approval",
                "it could not be decided from the stack's tags and a fresh preview",
            )),
        }
    }

    /// The stack's tags and a fresh destroy preview, as asked for, run at once. The
    /// preview has the destroy's flags and none of the caller's callbacks: it is the
    /// crate's check.
    async fn destroy_facts(
        &self,
        opts: &DestroyOptions,
        tags: bool,
        fresh_preview: bool,
    ) -> Result<(Option<BTreeMap<String, String>>, Option<DestroyPlan>)> {
        let tags = async {
            match tags {
                true => self.list_tags().await.map(Some),
                false => Ok(None),
            }
        };
        let fresh = async {
            if !fresh_preview {
                return Ok(None);
            }
            let mut preview = opts.clone();
            preview.control = opts.control.unobserved();
            self.preview_destroy(preview).await.map(Some)
        };
        let (tags, fresh) = tokio::join!(tags, fresh);
        Ok((tags?, fresh?))
    }

    /// Which of `names` (an approval's) do not name this stack. A name spelled like the
    /// handle's is this stack, and one whose stack, project or organization surely differ
    /// is another, without a process; the others (one leaves the organization to the
    /// backend) are compared by the fully qualified names the CLI resolves them to
    /// (`stack --show-name -Q`: one process for the handle and one per such name, run at
    /// once). A name the CLI cannot resolve (no such stack, a malformed name) names
    /// another stack.
    pub(crate) async fn names_of_other_stacks<'a>(
        &self,
        names: &[&'a str],
    ) -> Result<Vec<&'a str>> {
        let mut other = Vec::new();
        let mut unsure = Vec::new();
        for &n in names {
            if crate::approval::spelled_alike(n, self.name()) {
                continue;
            }
            if crate::workspace::validate_stack_name(n.trim()).is_err()
                || crate::approval::surely_different(
                    n,
                    self.name(),
                    self.workspace().project_name(),
                )
            {
                other.push(n);
            } else {
                unsure.push(n);
            }
        }
        if unsure.is_empty() {
            return Ok(other);
        }
        let mine = self.resolved_name(self.name());
        let theirs =
            futures_util::future::join_all(unsure.iter().map(|n| self.resolved_name(n.trim())));
        let (mine, theirs) = tokio::join!(mine, theirs);
        let mine = mine?;
        for (n, resolved) in unsure.into_iter().zip(theirs) {
            match resolved {
                Ok(fq) if fq == mine => {}
                Ok(_) | Err(Error::StackNotFound { .. }) | Err(Error::CommandFailed { .. }) => {
                    other.push(n)
                }
                Err(e) => return Err(e),
            }
        }
        Ok(other)
    }

    /// The fully qualified name (`org/project/stack`) the CLI resolves `name` to. One
    /// process.
    async fn resolved_name(&self, name: &str) -> Result<String> {
        let out = self
            .workspace()
            .run(
                Invocation::new([
                    "stack",
                    "--show-name",
                    "--fully-qualify-stack-names",
                    "--stack",
                    name,
                ])
                .for_stack(name),
            )
            .await?;
        let fq = out.stdout.trim();
        if fq.split('/').count() != 3 || crate::workspace::validate_stack_name(fq).is_err() {
            return Err(crate::workspace::parse_error(
                &out,
                format!("{fq:?} is not a fully qualified stack name"),
            ));
        }
        Ok(fq.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Color;

    #[test]
    fn argv() {
        let o = DestroyOptions::default()
            .exclude_protected(true)
            .target("urn:a");
        assert_eq!(
            o.to_args("dev", Some(Path::new("/ev"))).unwrap(),
            [
                "destroy",
                "--stack",
                "dev",
                "--yes",
                "--skip-preview",
                "--target",
                "urn:a",
                "--color=never",
                "--exclude-protected",
                "--event-log",
                "/ev",
            ]
        );
        let rp = DestroyOptions::default()
            .run_program(true)
            .color(Color::Raw);
        let args = rp.to_args("dev", None).unwrap();
        assert!(args.contains(&"--run-program".to_owned()), "{args:?}");
        assert!(args.contains(&"--color=raw".to_owned()), "{args:?}");
        let r = DestroyOptions::default().remove(true);
        assert_eq!(r.to_args("dev", None).unwrap().last().unwrap(), "--remove");
        let p = DestroyOptions::default().remove(true);
        assert_eq!(
            p.to_preview_args("dev", None).unwrap(),
            [
                "destroy",
                "--stack",
                "dev",
                "--preview-only",
                "--json",
                "--color=never"
            ]
        );
    }
}
