//! A stack's lifecycle on its workspace: create, select, create-or-select, remove, rename.
//! The methods are [`LocalWorkspace`]'s (`ws.create_or_select_stack("dev")`), defined here
//! beside [`Stack`] so that the workspace never needs the stack: the import points down,
//! from the stack to the workspace.

use crate::cli::Invocation;
use crate::error::{Error, Result};
use crate::workspace::validate::check_flag_value;
use crate::workspace::{LocalWorkspace, RemoveOptions, validate_stack_name};

use super::Stack;

impl LocalWorkspace {
    /// A handle on a stack, without checking that it exists (no process).
    pub fn stack_handle(&self, name: &str) -> Result<Stack> {
        validate_stack_name(name)?;
        Ok(Stack::new(self.clone(), name.to_owned()))
    }

    /// Creates a stack; fails with [`Error::StackAlreadyExists`] if it exists. One process.
    pub async fn create_stack(&self, name: &str) -> Result<Stack> {
        let stack = self.stack_handle(name)?;
        let args = init_args(name, self.secrets_provider())?;
        self.run(Invocation::new(args).for_stack(name)).await?;
        Ok(stack)
    }

    /// A stack that must exist; fails with [`Error::StackNotFound`] otherwise. One process
    /// (a read of the stack's config), and nothing is selected globally.
    pub async fn select_stack(&self, name: &str) -> Result<Stack> {
        let stack = self.stack_handle(name)?;
        self.run(
            Invocation::new(["config", "--json", "--stack", name])
                .for_stack(name)
                .max_stdout(0),
        )
        .await?;
        Ok(stack)
    }

    /// Creates the stack, or uses it if it exists. One process either way: `stack init`,
    /// whose "already exists" answer means the stack is there.
    pub async fn create_or_select_stack(&self, name: &str) -> Result<Stack> {
        match self.create_stack(name).await {
            Ok(stack) => Ok(stack),
            Err(Error::StackAlreadyExists { .. }) => self.stack_handle(name),
            Err(e) => Err(e),
        }
    }

    /// Removes a stack and its config file (unless `preserve_config`). Without `force` it
    /// refuses while the stack has resources. One process; a forced removal first checks
    /// its approval like [`Stack::destroy`] does (the name without a process, then the
    /// protection tag: one more).
    pub async fn remove_stack(&self, name: &str, opts: RemoveOptions) -> Result<()> {
        let args = remove_args(name, &opts)?;
        if let Some(approval) = &opts.force {
            self.stack_handle(name)?
                .check_removal_approval(approval)
                .await?;
        }
        self.run(Invocation::new(args).for_stack(name))
            .await
            .map(drop)
    }

    /// Renames a stack; returns the handle under its new name. One process.
    pub async fn rename_stack(&self, name: &str, new_name: &str) -> Result<Stack> {
        let args = rename_args(name, new_name)?;
        let new = self.stack_handle(new_name)?;
        self.run(Invocation::new(args).for_stack(name)).await?;
        Ok(new)
    }
}

/// The argv of `stack init`: the name after `--`, so that nothing can make it a flag.
fn init_args(name: &str, secrets_provider: Option<&str>) -> Result<Vec<String>> {
    validate_stack_name(name)?;
    let mut args = vec!["stack".to_owned(), "init".into(), "--no-select".into()];
    if let Some(p) = secrets_provider {
        check_flag_value("secrets provider", p)?;
        args.push(format!("--secrets-provider={p}"));
    }
    args.extend(["--".into(), name.into()]);
    Ok(args)
}

/// The argv of `stack rm` (it takes no extra arguments, and the name goes after `--`).
fn remove_args(name: &str, opts: &RemoveOptions) -> Result<Vec<String>> {
    validate_stack_name(name)?;
    let mut args = vec!["stack".to_owned(), "rm".into(), "--yes".into()];
    if opts.force.is_some() {
        args.push("--force".into());
    }
    if opts.preserve_config {
        args.push("--preserve-config".into());
    }
    args.extend(["--".into(), name.into()]);
    Ok(args)
}

/// The argv of `stack rename`: the new name after `--`.
fn rename_args(name: &str, new_name: &str) -> Result<Vec<String>> {
    validate_stack_name(name)?;
    validate_stack_name(new_name)?;
    Ok(vec![
        "stack".into(),
        "rename".into(),
        format!("--stack={name}"),
        "--".into(),
        new_name.into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_argv_puts_the_names_after_the_flags() {
        assert_eq!(
            init_args("dev", Some("passphrase")).unwrap(),
            [
                "stack",
                "init",
                "--no-select",
                "--secrets-provider=passphrase",
                "--",
                "dev"
            ]
        );
        let forced = RemoveOptions::default()
            .force(crate::DestroyApproval::for_stack("dev"))
            .preserve_config(true);
        assert_eq!(
            remove_args("dev", &forced).unwrap(),
            [
                "stack",
                "rm",
                "--yes",
                "--force",
                "--preserve-config",
                "--",
                "dev"
            ]
        );
        assert_eq!(
            rename_args("organization/p/a", "b").unwrap(),
            ["stack", "rename", "--stack=organization/p/a", "--", "b"]
        );
    }

    #[test]
    fn flag_like_stack_inputs_are_refused() {
        let invalid = |r: Result<Vec<String>>| matches!(r, Err(Error::InvalidInput { .. }));
        for name in ["--force", "-", "--help", "../x", ""] {
            assert!(invalid(init_args(name, None)), "{name:?}");
            assert!(
                invalid(remove_args(name, &RemoveOptions::default())),
                "{name:?}"
            );
            assert!(invalid(rename_args("dev", name)), "{name:?}");
            assert!(invalid(rename_args(name, "dev")), "{name:?}");
        }
        assert!(invalid(init_args("dev", Some("--x\n"))));
        assert!(invalid(init_args("dev", Some(""))));
    }
}
