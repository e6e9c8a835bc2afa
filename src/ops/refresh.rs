//! `pulumi refresh`: read the real state of the stack's resources into its state.

use std::path::Path;

use super::engine::{self, OpResult, OperationEvents, OperationFuture};
use super::options::{CommonOptions, Control, common_setters, push_mode};
use crate::error::{Error, Result};
use crate::stack::Stack;

/// Options of [`Stack::refresh`](crate::Stack::refresh).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct RefreshOptions {
    /// Flags shared with the other operations.
    pub common: CommonOptions,
    /// Callbacks, cancellation and timeout.
    pub control: Control,
    /// Only show what would change (`--preview-only`); takes no lock.
    pub preview_only: bool,
    /// Skip resources with pending creates (`--skip-pending-creates`).
    pub skip_pending_creates: bool,
    /// Drop pending creates from the state (`--clear-pending-creates`).
    pub clear_pending_creates: bool,
    /// `(urn, id)` pairs for `--import-pending-creates` (one occurrence for the URN, one
    /// for the ID, each `--import-pending-creates=<value>`). The pinned CLI only marks
    /// those pending creates `importing`, and the refresh then drops them: the resources
    /// end up neither in the state nor pending. To adopt them, use
    /// [`Stack::recover`](crate::Stack::recover) with
    /// [`PendingCreates::Import`](crate::recovery::PendingCreates::Import).
    pub import_pending_creates: Vec<(String, String)>,
    /// Run the program to compute the desired state (`--run-program`).
    pub run_program: bool,
}

common_setters!(RefreshOptions);

impl RefreshOptions {
    /// Only show what would change.
    pub fn preview_only(mut self, on: bool) -> Self {
        self.preview_only = on;
        self
    }
    /// Drop pending creates from the state.
    pub fn clear_pending_creates(mut self, on: bool) -> Self {
        self.clear_pending_creates = on;
        self
    }
    /// Skip resources with pending creates.
    pub fn skip_pending_creates(mut self, on: bool) -> Self {
        self.skip_pending_creates = on;
        self
    }
    /// Passes a pending create and its provider ID to `--import-pending-creates` (see
    /// [`import_pending_creates`](Self::import_pending_creates): the pinned CLI drops it).
    pub fn import_pending_create(mut self, urn: impl Into<String>, id: impl Into<String>) -> Self {
        self.import_pending_creates.push((urn.into(), id.into()));
        self
    }
    /// Run the program.
    pub fn run_program(mut self, on: bool) -> Self {
        self.run_program = on;
        self
    }

    /// The arguments of `pulumi refresh` (pure).
    pub fn to_args(&self, stack: &str, event_log: Option<&Path>) -> Result<Vec<String>> {
        if self.skip_pending_creates && self.clear_pending_creates {
            return Err(Error::invalid(
                "options",
                "skip_pending_creates and clear_pending_creates cannot be combined",
            ));
        }
        let mut args: Vec<String> = vec!["refresh".into(), "--stack".into(), stack.into()];
        push_mode(&mut args, self.preview_only);
        self.common.push_args(&mut args)?;
        if self.skip_pending_creates {
            args.push("--skip-pending-creates".into());
        }
        if self.clear_pending_creates {
            args.push("--clear-pending-creates".into());
        }
        // One value per occurrence (the flag is a string array), each attached with `=`,
        // so that an ID starting with `-` is a value, never a flag.
        for (urn, id) in &self.import_pending_creates {
            super::options::check_urns("import_pending_creates", std::slice::from_ref(urn))?;
            if id.is_empty() || id.contains('\0') {
                return Err(Error::invalid(
                    "import_pending_creates",
                    format!("{id:?} is not a provider ID (for {urn})"),
                ));
            }
            args.push(format!("--import-pending-creates={urn}"));
            args.push(format!("--import-pending-creates={id}"));
        }
        if self.run_program {
            args.push("--run-program".into());
        }
        engine::push_event_log(&mut args, event_log);
        self.common.push_extra_args("refresh", &mut args)?;
        Ok(args)
    }
}

impl Stack {
    /// Reads the real state of the stack's resources into its state (or, with
    /// `preview_only`, shows what would change). One process.
    pub async fn refresh(&self, opts: RefreshOptions) -> Result<OpResult> {
        let build = |log: Option<&Path>| opts.to_args(self.name(), log);
        Ok(engine::run(self, build, &opts.control)
            .await?
            .into_op_result())
    }

    /// Like [`refresh`](Self::refresh), with the events also delivered as a stream (see
    /// [`up_with_events`](Self::up_with_events)).
    pub fn refresh_with_events(
        &self,
        opts: RefreshOptions,
    ) -> (OperationEvents, OperationFuture<OpResult>) {
        engine::with_events(self, opts, |s, o| async move { s.refresh(o).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv() {
        let o = RefreshOptions::default().clear_pending_creates(true);
        assert_eq!(
            o.to_args("dev", None).unwrap(),
            [
                "refresh",
                "--stack",
                "dev",
                "--yes",
                "--skip-preview",
                "--color=never",
                "--clear-pending-creates"
            ]
        );
        let p = RefreshOptions::default()
            .preview_only(true)
            .import_pending_create("urn:a", "id-1");
        assert_eq!(
            p.to_args("dev", Some(Path::new("/ev"))).unwrap(),
            [
                "refresh",
                "--stack",
                "dev",
                "--preview-only",
                "--json",
                "--color=never",
                "--import-pending-creates=urn:a",
                "--import-pending-creates=id-1",
                "--event-log",
                "/ev",
            ]
        );
        // An ID that looks like a flag stays the flag's value.
        let f = RefreshOptions::default()
            .import_pending_create("urn:a", "--yes")
            .import_pending_create("urn:b", "-s=prod");
        let args = f.to_args("dev", None).unwrap();
        assert_eq!(
            &args[args.len() - 4..],
            [
                "--import-pending-creates=urn:a",
                "--import-pending-creates=--yes",
                "--import-pending-creates=urn:b",
                "--import-pending-creates=-s=prod",
            ]
        );
        for (urn, id) in [("", "i"), ("urn:a", ""), ("urn\n", "i"), ("urn:a", "i\0")] {
            let bad = RefreshOptions::default().import_pending_create(urn, id);
            assert!(
                matches!(bad.to_args("dev", None), Err(Error::InvalidInput { .. })),
                "{urn:?} {id:?}"
            );
        }
    }

    #[test]
    fn skip_and_clear_conflict() {
        let o = RefreshOptions::default()
            .skip_pending_creates(true)
            .clear_pending_creates(true);
        assert!(o.to_args("dev", None).is_err());
    }
}
