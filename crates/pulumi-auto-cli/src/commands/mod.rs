//! The commands, over the library: each prints its human-readable result (unless
//! `--json`) and returns the fields of its JSON result object.
//!
//! One file a command (`engine` holds up, preview and refresh); this module holds what
//! they share: the inputs read before anything runs, the workspace and stack, and the
//! engine operation watched for Ctrl-C.

mod config;
mod destroy;
mod engine;
mod outputs;
mod service;
mod stacks;

use std::future::Future;
use std::time::Duration;

use pulumi_auto::events::urn_name;
use pulumi_auto::stack::ConfigSetValue;
use pulumi_auto::workspace::InstallOptions;
use pulumi_auto::{LocalWorkspace, Secret, Stack};
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::args::{Command, ConfigArgs, ConfigCommand, Global};
use crate::exit::Failure;
use crate::input;
use crate::interrupt::Interrupts;
use crate::report::Ui;

/// The fields of a command's JSON result object (besides type, command, status, exit
/// code).
pub type Fields = Map<String, Value>;

/// What every command works with.
pub struct Ctx {
    /// The global flags.
    global: Global,
    /// Where output goes.
    ui: Ui,
    /// The Ctrl-C count.
    ints: Interrupts,
}

/// Runs one command.
pub async fn run(
    global: Global,
    command: Command,
    ui: Ui,
    ints: Interrupts,
) -> Result<Fields, Failure> {
    check_backend_flag(global.backend.as_deref())?;
    let mut ctx = Ctx { global, ui, ints };
    match command {
        Command::Up(a) => ctx.up(a).await,
        Command::Preview(a) => ctx.preview(a).await,
        Command::Refresh(a) => ctx.refresh(a).await,
        Command::Destroy(a) => ctx.destroy(a).await,
        Command::Outputs(a) => ctx.outputs(a).await,
        Command::Config(ConfigCommand::Set(a)) => ctx.config_set(a).await,
        Command::Config(ConfigCommand::Get(a)) => ctx.config_get(a).await,
        Command::Stacks => ctx.stacks().await,
        Command::Service(a) => ctx.service(a).await,
    }
}

/// A password on the tool's own command line would be visible to every user of the
/// machine (`/proc/<pid>/cmdline`, `ps`): `--backend` takes a URL without one.
pub fn check_backend_flag(url: Option<&str>) -> Result<(), Failure> {
    match url {
        Some(url) if pulumi_auto::workspace::url_has_credentials(url) => {
            Err(Failure::usage(format!(
                "--backend {:?}: a backend URL with a password does not go on the command line, \
                 where every user of the machine can read it; set PULUMI_BACKEND_URL instead",
                pulumi_auto::workspace::redact_url(url)
            )))
        }
        _ => Ok(()),
    }
}

/// A secret the tool will mask in everything it prints: empty, or long enough to mask
/// (a 1- or 2-byte secret would mask unrelated text, or not be masked at all).
pub fn check_maskable(what: &str, s: &Secret) -> Result<(), Failure> {
    let len = s.expose().len();
    if len > 0 && len < pulumi_auto::secret::MIN_REDACTED_LEN {
        return Err(Failure::usage(format!(
            "{what} is {len} byte(s) long: a secret must be at least {} bytes, so that it \
             can be masked in the tool's output",
            pulumi_auto::secret::MIN_REDACTED_LEN
        )));
    }
    Ok(())
}

/// `KEY=VALUE` pairs, checked (a key, and no secret given this way by mistake is
/// detectable only by the human: `--secret` exists for those).
pub fn parse_config_pairs(pairs: &[String]) -> Result<Vec<(String, String)>, Failure> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
            _ => Err(Failure::usage(format!(
                "--config {p:?}: expected KEY=VALUE with a non-empty key"
            ))),
        })
        .collect()
}

/// What an operation stopped at once left on the stack: locks, pending operations.
pub async fn left_behind(stack: &Stack) -> String {
    let name = stack.name();
    let health = match tokio::time::timeout(Duration::from_secs(20), stack.health()).await {
        Ok(Ok(h)) => h,
        _ => {
            return format!(
                "check stack {name} for a stale lock or pending operations before the next update"
            );
        }
    };
    if health.is_clean() {
        return format!("stack {name} has no lock and no pending operation");
    }
    let mut parts = Vec::new();
    if !health.locks.is_empty() {
        let pids: Vec<String> = health.locks.iter().map(|l| l.pid.to_string()).collect();
        parts.push(format!(
            "{} lock(s) of pid {} (remove with `pulumi cancel --stack {name}` once no other update runs)",
            health.locks.len(),
            pids.join(", ")
        ));
    }
    if !health.pending_operations.is_empty() {
        let ops: Vec<String> = health
            .pending_operations
            .iter()
            .map(|p| format!("{} {}", p.type_, urn_name(&p.resource.urn)))
            .collect();
        parts.push(format!(
            "pending operation(s): {} (resolve with `pulumi refresh --stack {name}` and its --clear-pending-creates or --import-pending-creates)",
            ops.join(", ")
        ));
    }
    format!("stack {name} was left with {}", parts.join("; "))
}

impl Ctx {
    /// The `--stack` flag's name, required by `command`.
    fn stack_name(&self, command: &str) -> Result<String, Failure> {
        match self.global.stack.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => Ok(s.to_owned()),
            _ => Err(Failure::usage(format!(
                "`{command}` needs the stack: --stack NAME"
            ))),
        }
    }

    /// The passphrase: from the first line of stdin (or a hidden prompt) with
    /// --passphrase-stdin, else PULUMI_CONFIG_PASSPHRASE (pulumi itself also reads
    /// PULUMI_CONFIG_PASSPHRASE_FILE).
    async fn passphrase(&mut self) -> Result<Option<Secret>, Failure> {
        let p = if self.global.passphrase_stdin {
            Some(input::secret(&mut self.ints, "the passphrase").await?)
        } else {
            std::env::var("PULUMI_CONFIG_PASSPHRASE")
                .ok()
                .map(Secret::new)
        };
        if let Some(p) = &p {
            check_maskable("the passphrase", p)?;
            self.ui.add_secret(p);
        }
        Ok(p)
    }

    /// The workspace on the work dir, with the backend and passphrase.
    async fn workspace(&mut self, passphrase: Option<Secret>) -> Result<LocalWorkspace, Failure> {
        let mut b = LocalWorkspace::builder(&self.global.work_dir);
        if let Some(url) = &self.global.backend {
            b = b.backend_url(url.clone());
        }
        if let Some(p) = passphrase {
            b = b.passphrase(p);
        }
        self.ints.short("starting", b.build()).await
    }

    /// Reads the `--secret` values (before anything runs) and checks the `--config` pairs.
    async fn config_values(
        &mut self,
        args: &ConfigArgs,
    ) -> Result<Vec<(String, ConfigSetValue)>, Failure> {
        let mut values: Vec<(String, ConfigSetValue)> = parse_config_pairs(&args.config)?
            .into_iter()
            .map(|(k, v)| (k, ConfigSetValue::Plain(v)))
            .collect();
        for key in &args.secrets {
            let key = key.trim();
            if key.is_empty() || key.contains('=') {
                return Err(Failure::usage(format!(
                    "--secret {key:?}: give the key only; the value is read from stdin or a prompt"
                )));
            }
            let s = input::secret(&mut self.ints, &format!("secret {key}")).await?;
            check_maskable(&format!("the value of secret {key}"), &s)?;
            self.ui.add_secret(&s);
            values.push((key.to_owned(), ConfigSetValue::Secret(s)));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (k, _) in &values {
            if !seen.insert(k.clone()) {
                return Err(Failure::usage(format!("config key {k:?} is given twice")));
            }
        }
        Ok(values)
    }

    /// The workspace (after reading every input), `pulumi install` if asked, the stack
    /// (created if `create`), and the config set on it.
    async fn prepare(
        &mut self,
        command: &str,
        create: bool,
        install: bool,
        config: Option<&ConfigArgs>,
    ) -> Result<Stack, Failure> {
        let name = self.stack_name(command)?;
        // Every input is read before anything runs: a bad one changes nothing.
        let passphrase = self.passphrase().await?;
        let values = match config {
            Some(c) => self.config_values(c).await?,
            None => Vec::new(),
        };
        let ws = self.workspace(passphrase).await?;
        if install {
            self.ui
                .note("installing the program's dependencies (pulumi install)…");
            self.ints
                .short("installing", ws.install(&InstallOptions::default()))
                .await?;
        }
        let stack = if create {
            self.ints
                .short("selecting the stack", ws.create_or_select_stack(&name))
                .await?
        } else {
            self.ints
                .short("selecting the stack", ws.select_stack(&name))
                .await?
        };
        if !values.is_empty() {
            let n = values.len();
            self.ints
                .short("setting config", stack.set_all_config(values))
                .await?;
            self.ui
                .note(&format!("set {n} config value(s) on stack {name}"));
        }
        Ok(stack)
    }

    /// Runs an engine operation, Ctrl-C handled (see [`Interrupts::engine`]); after a
    /// second Ctrl-C, the failure names the stack, to report what it was left with.
    async fn op<T>(
        &mut self,
        stack: &Stack,
        token: &CancellationToken,
        fut: impl Future<Output = pulumi_auto::Result<T>>,
    ) -> Result<T, Failure> {
        let r = self.ints.engine(&self.ui, token, fut).await;
        self.ui.finish();
        match r {
            Err(mut f) if f.hard_stop => {
                // Reported once pulumi is gone (see `main`).
                f.stack = Some(stack.clone());
                Err(f)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_pairs() {
        let ok = parse_config_pairs(&["a=1".into(), "b=x=y".into(), "c=".into()]).unwrap();
        assert_eq!(
            ok,
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x=y".to_owned()),
                ("c".to_owned(), String::new())
            ]
        );
        for bad in ["novalue", "=v", " =v"] {
            let e = parse_config_pairs(&[bad.into()]).unwrap_err();
            assert_eq!(e.exit, crate::exit::Exit::Usage, "{bad}");
        }
    }

    #[test]
    fn backend_flag_takes_no_password() {
        for ok in [
            None,
            Some("file:///tmp/state"),
            Some("postgres://me@h/db?sslmode=disable"),
            Some("s3://bucket?region=eu-west-1"),
        ] {
            assert!(check_backend_flag(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "postgres://me:hunter2@h/db",
            "postgres://me@h/db?password=hunter2",
            "postgres://me:a/hunter2@h/db",
        ] {
            let e = check_backend_flag(Some(bad)).unwrap_err();
            assert_eq!(e.exit, crate::exit::Exit::Usage, "{bad}");
            assert!(!e.message.contains("hunter2"), "{}", e.message);
            assert!(e.message.contains("PULUMI_BACKEND_URL"), "{}", e.message);
        }
    }

    #[test]
    fn secrets_must_be_maskable() {
        assert!(check_maskable("s", &Secret::new("")).is_ok());
        assert!(check_maskable("s", &Secret::new("abc")).is_ok());
        for short in ["a", "ab", "é"] {
            let e = check_maskable("the value of secret token", &Secret::new(short)).unwrap_err();
            assert_eq!(e.exit, crate::exit::Exit::Usage);
            assert!(e.message.contains("at least 3 bytes"), "{}", e.message);
        }
    }
}
