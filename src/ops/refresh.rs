//! `pulumi refresh`: read the real state of the stack's resources into its state.

use std::path::Path;

use super::options::{CommonOptions, Control, common_setters, push_mode};
use crate::error::{Error, Result};

/// Options of [`Stack::refresh`](crate::Stack::refresh).
#[derive(Debug, Clone, Default)]
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
    /// Adopt pending creates whose IDs are known: `(urn, id)` pairs
    /// (`--import-pending-creates`).
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
    /// Adopt a pending create with its provider ID.
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
        if !self.import_pending_creates.is_empty() {
            args.push("--import-pending-creates".into());
            for (urn, id) in &self.import_pending_creates {
                if urn.is_empty() || id.is_empty() {
                    return Err(Error::invalid(
                        "import_pending_creates",
                        "URN and ID must be non-empty",
                    ));
                }
                args.extend([urn.clone(), id.clone()]);
            }
        }
        if self.run_program {
            args.push("--run-program".into());
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
                "--import-pending-creates",
                "urn:a",
                "id-1",
                "--event-log",
                "/ev",
            ]
        );
    }

    #[test]
    fn skip_and_clear_conflict() {
        let o = RefreshOptions::default()
            .skip_pending_creates(true)
            .clear_pending_creates(true);
        assert!(o.to_args("dev", None).is_err());
    }
}
