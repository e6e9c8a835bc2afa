//! Which settings files a command uses, and how (a pure function of its arguments), and
//! the lock an invocation takes for them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::SettingsLock;
use crate::cli::Invocation;
use crate::error::Result;
use crate::workspace::settings::{find_project_file, read_stack_settings, stack_settings_path};
use crate::workspace::validate::validate_stack_name;

/// Which settings files a command reads or writes, and how, read from its arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SettingsAccess {
    /// The stacks whose settings file it uses (and may write, remove or rename).
    pub stacks: Vec<String>,
    /// Settings files named explicitly (`--config-file`), as given.
    pub files: Vec<PathBuf>,
    /// Whether it may write the project file.
    pub project: bool,
    /// Whether it may write (else it only reads: a shared lock).
    pub exclusive: bool,
    /// An engine operation given no config: it writes only when the stack's settings hold
    /// no secrets provider yet (then the lock is exclusive).
    pub exclusive_without_secrets_provider: bool,
    /// An engine operation: it uses the settings only before its engine starts, so the
    /// lock goes with the first engine event.
    pub until_engine_starts: bool,
}

/// Flags of the CLI (global, or of the commands this looks at) that take a value as the
/// next argument.
const VALUE_FLAGS: [&str; 16] = [
    "--config",
    "-c",
    "--cwd",
    "-C",
    "--color",
    "-v",
    "--verbose",
    "--tracing",
    "--tracing-header",
    "--profiling",
    "--memprofilerate",
    "--stack",
    "-s",
    "--config-file",
    "--secrets-provider",
    "--dest",
];

/// The `stack` subcommands that write the stack's settings file.
const STACK_WRITERS: [&str; 7] = [
    "init",
    "rm",
    "remove",
    "rename",
    "change-secrets-provider",
    "import",
    "history",
];

/// The `stack` subcommands that read the stack's settings file (for its secrets provider).
const STACK_READERS: [&str; 2] = ["export", "output"];

/// The engine operations: each may write the stack's settings before the engine starts.
const ENGINE_OPS: [&str; 7] = [
    "up", "update", "preview", "refresh", "destroy", "import", "watch",
];

/// The value of `flag` in `args` (`--flag v`, `--flag=v`), the last one if repeated.
fn flag_value<'a>(args: &'a [String], names: &[&str]) -> Option<&'a str> {
    let mut found = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            break;
        }
        for n in names {
            if a == *n {
                found = args.get(i + 1).map(String::as_str);
            } else if let Some(v) = a.strip_prefix(n).and_then(|r| r.strip_prefix('=')) {
                found = Some(v);
            }
        }
        i += 1;
    }
    found
}

/// Which settings files a command with these arguments uses, and how; `None` when it
/// uses none. `stack` is the stack the invocation says it addresses (else `--stack` is
/// read).
///
/// Pure, and generous: a command that only may write (`config get`, whose secrets
/// provider may be set up on first use) counts as a writer.
pub(crate) fn settings_access(args: &[String], stack: Option<&str>) -> Option<SettingsAccess> {
    // The positional words: the command, its subcommand, then its operands (everything
    // after `--` is an operand).
    let mut words: Vec<&str> = Vec::new();
    let mut operands_from = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            operands_from.get_or_insert(words.len());
            words.extend(args[i + 1..].iter().map(String::as_str));
            break;
        }
        if a.starts_with('-') && a.len() > 1 {
            if VALUE_FLAGS.contains(&a) {
                i += 1;
            }
        } else {
            words.push(a);
        }
        i += 1;
    }
    let operands_from = operands_from.unwrap_or(words.len());
    let command = words.first().filter(|_| operands_from > 0).copied()?;
    let sub = words.get(1).filter(|_| operands_from > 1).copied();
    let named = stack
        .map(str::to_owned)
        .or_else(|| flag_value(args, &["--stack", "-s"]).map(str::to_owned));
    let mut a = SettingsAccess {
        exclusive: true,
        ..SettingsAccess::default()
    };
    match command {
        "config" => {
            a.stacks.extend(named);
            if sub == Some("cp") {
                a.stacks
                    .extend(flag_value(args, &["--dest", "-d"]).map(str::to_owned));
            }
        }
        "stack" if sub.is_some_and(|s| STACK_WRITERS.contains(&s)) => {
            // `stack init NAME`, `stack rm NAME`, `stack rename NEW`: the operand.
            let operand = words.get(2).copied().map(str::to_owned);
            match sub {
                Some("rename") => {
                    a.stacks.extend(named);
                    a.stacks.extend(operand);
                }
                _ => a.stacks.extend(named.or(operand)),
            }
        }
        // They read the settings for the secrets provider (`--show-secrets`).
        "stack" if sub.is_some_and(|s| STACK_READERS.contains(&s)) => {
            a.stacks.extend(named);
            a.exclusive = false;
        }
        "package" if sub == Some("add") => a.project = true,
        op if ENGINE_OPS.contains(&op) => {
            a.stacks.extend(named);
            let removes = op == "destroy" && args.iter().any(|x| x == "--remove");
            let given_config = flag_value(args, &["--config", "-c", "--config-file"]).is_some();
            a.exclusive = removes || given_config;
            a.exclusive_without_secrets_provider = !a.exclusive;
            a.until_engine_starts = !removes;
        }
        _ => return None,
    }
    if let Some(file) = flag_value(args, &["--config-file"]) {
        a.files.push(PathBuf::from(file));
    }
    a.stacks.sort();
    a.stacks.dedup();
    (!a.stacks.is_empty() || !a.files.is_empty() || a.project).then_some(a)
}

/// Locks the settings files `inv` uses, for the project in `work_dir` (the stack
/// settings files where the project puts them: `stackConfigDir`, `.yml`), waiting no
/// longer than the invocation's timeout and cancel token allow. Returns the invocation
/// with its timeout shortened by the wait.
pub(crate) async fn for_invocation(
    work_dir: &Path,
    mut inv: Invocation,
) -> Result<(Invocation, SettingsLock)> {
    let Some(access) = settings_access(&inv.args, inv.stack.as_deref()) else {
        return Ok((inv, SettingsLock::default()));
    };
    let mut exclusive = access.exclusive;
    let mut files = Vec::new();
    for stack in &access.stacks {
        // A name the CLI refuses names no file: nothing to lock for it.
        if validate_stack_name(stack).is_err() {
            continue;
        }
        if access.exclusive_without_secrets_provider && !has_secrets_provider(work_dir, stack).await
        {
            exclusive = true;
        }
        files.push(stack_settings_path(work_dir, stack).await?);
    }
    files.extend(access.files.iter().map(|f| work_dir.join(f)));
    if access.project {
        let project = find_project_file(work_dir).await;
        files.push(project.unwrap_or_else(|_| work_dir.join("Pulumi.yaml")));
    }
    let started = Instant::now();
    let deadline = inv.timeout.map(|t| started + t);
    let lock = SettingsLock::acquire(
        files,
        exclusive,
        access.until_engine_starts,
        inv.cancel.as_ref(),
        deadline,
    )
    .await?;
    if let Some(t) = inv.timeout {
        inv.timeout = Some(t.saturating_sub(started.elapsed()));
    }
    Ok((inv, lock))
}

/// Whether the stack's settings already hold its secrets provider (a passphrase's salt,
/// or a provider with its key), so that an operation given no config only reads them.
/// Read without the lock: a torn read only makes the lock exclusive.
async fn has_secrets_provider(work_dir: &Path, stack: &str) -> bool {
    match read_stack_settings(work_dir, stack).await {
        Ok(s) => {
            s.encryption_salt.is_some()
                || (s.secrets_provider.is_some() && s.encrypted_key.is_some())
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(args: &[&str], stack: Option<&str>) -> Option<SettingsAccess> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        settings_access(&args, stack)
    }

    fn stacks(args: &[&str], stack: Option<&str>) -> Vec<String> {
        w(args, stack).map(|w| w.stacks).unwrap_or_default()
    }

    #[test]
    fn config_commands_write_the_stack_settings() {
        for args in [
            &[
                "config", "set", "--stack", "dev", "--secret", "--raw", "--", "k",
            ][..],
            &["config", "set-all", "--stack", "dev", "--path"],
            &["config", "rm", "--stack", "dev", "--", "k"],
            &["config", "rm-all", "--stack", "dev", "--", "a", "b"],
            &["config", "refresh", "--stack", "dev", "--force"],
            &["config", "get", "--json", "--stack", "dev", "--", "k"],
            &["config", "--json", "--show-secrets", "--stack", "dev"],
            &["config", "set", "-s", "dev", "k", "v"],
            &["config", "set", "--stack=dev", "k", "v"],
        ] {
            let got = w(args, None).unwrap_or_default();
            assert_eq!(got.stacks, ["dev"], "{args:?}");
            assert!(got.exclusive && !got.until_engine_starts, "{args:?}");
        }
        // The invocation's own stack wins; `config cp` writes its destination too.
        assert_eq!(stacks(&["config", "set", "k"], Some("a")), ["a"]);
        assert_eq!(
            stacks(&["config", "cp", "--stack", "a", "--dest", "b"], None),
            ["a", "b"]
        );
        // A key that looks like a command changes nothing.
        assert_eq!(
            stacks(&["config", "set", "--stack", "dev", "--", "up"], None),
            ["dev"]
        );
    }

    #[test]
    fn stack_commands_that_write() {
        assert_eq!(
            stacks(&["stack", "init", "dev", "--no-select"], Some("dev")),
            ["dev"]
        );
        assert_eq!(
            stacks(&["stack", "init", "--no-select", "--", "dev"], None),
            ["dev"]
        );
        assert_eq!(
            stacks(&["stack", "rm", "dev", "--yes", "--force"], None),
            ["dev"]
        );
        assert_eq!(
            stacks(&["stack", "rename", "new", "--stack", "old"], Some("old")),
            ["new", "old"]
        );
        assert_eq!(
            stacks(
                &["stack", "rename", "--stack", "old", "--", "new"],
                Some("old")
            ),
            ["new", "old"]
        );
        for sub in ["change-secrets-provider", "import", "history"] {
            assert_eq!(stacks(&["stack", sub, "--stack", "dev"], None), ["dev"]);
        }
        // Readers of the settings (for the secrets provider): shared.
        for sub in ["export", "output"] {
            let got = w(&["stack", sub, "--show-secrets"], Some("dev")).unwrap();
            assert_eq!(got.stacks, ["dev"]);
            assert!(!got.exclusive && !got.until_engine_starts, "{sub}");
        }
        // Reads of the backend only.
        for args in [
            &["stack", "ls", "--json"][..],
            &["stack", "tag", "set", "--stack", "dev", "--", "k", "v"],
            &["stack", "select", "dev"],
            &["whoami", "--json"],
            &["plugin", "ls", "--json"],
            &["cancel", "--yes", "--stack", "dev"],
            &["version"],
            &["install"],
        ] {
            assert_eq!(w(args, Some("dev")), None, "{args:?}");
        }
    }

    #[test]
    fn engine_operations_hold_until_the_engine_starts() {
        for op in ["up", "preview", "refresh", "destroy", "import"] {
            let got = w(&[op, "--stack", "dev", "--yes"], None).unwrap();
            assert_eq!(got.stacks, ["dev"]);
            assert!(got.until_engine_starts, "{op}");
            assert!(
                !got.exclusive && got.exclusive_without_secrets_provider,
                "{op}"
            );
        }
        // `destroy --remove` deletes the file at its end.
        let got = w(&["destroy", "--stack", "dev", "--yes", "--remove"], None).unwrap();
        assert!(got.exclusive && !got.until_engine_starts);
        // Config given to the operation, and an explicit settings file.
        let got = w(
            &[
                "up",
                "--stack",
                "dev",
                "--config",
                "a=b",
                "--config-file",
                "/c.yaml",
            ],
            None,
        )
        .unwrap();
        assert_eq!(got.stacks, ["dev"]);
        assert_eq!(got.files, [PathBuf::from("/c.yaml")]);
        assert!(got.exclusive && got.until_engine_starts);
        for given in [&["-c", "a=b"][..], &["--config=a=b"]] {
            let mut args = vec!["preview", "--stack", "dev"];
            args.extend_from_slice(given);
            let got = w(&args, None).unwrap();
            assert!(got.exclusive, "{args:?}");
        }
        // Global flags before the command, with their values.
        assert_eq!(
            stacks(&["--cwd", "/p", "--color", "never", "up", "-s", "x"], None),
            ["x"]
        );
        assert_eq!(
            w(&["package", "add", "x"], None).map(|w| w.project),
            Some(true)
        );
    }
}
