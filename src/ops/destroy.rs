//! `pulumi destroy`: delete every resource of the stack, behind a
//! [`DestroyApproval`](crate::DestroyApproval).

use std::path::Path;

use super::options::{CommonOptions, Control, common_setters, push_mode};
use crate::error::Result;

/// Options of [`Stack::destroy`](crate::Stack::destroy).
#[derive(Debug, Clone, Default)]
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
        super::push_event_log(&mut args, event_log);
        Ok(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
