//! The commands, over the library: each prints its human-readable result (unless
//! `--json`) and returns the fields of its JSON result object.

use pulumi_auto::events::{urn_name, urn_type};
use pulumi_auto::model::OutputMap;
use pulumi_auto::ops::{DestroyOptions, OpSummary, PreviewOptions, RefreshOptions, UpOptions};
use pulumi_auto::stack::{ConfigKey, ConfigSetValue};
use pulumi_auto::workspace::{InstallOptions, RemoveOptions};
use pulumi_auto::{LocalWorkspace, Secret, Stack};
use std::future::Future;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::args::{
    Command, ConfigArgs, ConfigCommand, ConfigGetArgs, ConfigSetArgs, DestroyArgs, Global,
    OutputsArgs, PreviewArgs, RefreshArgs, UpArgs,
};
use crate::exit::Failure;
use crate::input;
use crate::interrupt::Interrupts;
use crate::report::{MASK, Mode, Reporter, Ui};

/// The fields of a command's JSON result object (besides type, command, status, exit
/// code).
pub type Fields = Map<String, Value>;

/// What every command works with.
pub struct Ctx {
    global: Global,
    ui: Ui,
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

/// `create 2, same 1`.
fn changes_text(s: &OpSummary) -> String {
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

fn summary_json(s: &OpSummary) -> Value {
    json!({
        "result": s.result,
        "resourceChanges": s.resource_changes,
        "durationSeconds": s.duration.as_secs(),
        "isPreview": s.is_preview,
    })
}

/// An output value as text: strings as they are, anything else as compact JSON.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
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

    fn reporter(&self, title: &str) -> Reporter {
        self.ui.start(title)
    }

    fn print_outputs(&self, outputs: &OutputMap, show_secrets: bool) {
        if self.ui.mode == Mode::Json {
            return;
        }
        if outputs.is_empty() {
            self.ui.out("no outputs");
            return;
        }
        self.ui.out("Outputs:");
        for (name, o) in outputs {
            if o.secret && !show_secrets {
                self.ui.out(&format!("  {name}: {MASK}"));
            } else if o.secret {
                // Asked for in clear: not masked.
                println!("  {name}: {}", value_text(&o.value));
            } else {
                self.ui.out(&format!("  {name}: {}", value_text(&o.value)));
            }
        }
    }

    fn outputs_json(outputs: &OutputMap, show_secrets: bool) -> Value {
        let m: Map<String, Value> = outputs
            .iter()
            .map(|(k, o)| {
                let v = if o.secret && !show_secrets {
                    Value::String(MASK.into())
                } else {
                    o.value.clone()
                };
                (k.clone(), json!({"value": v, "secret": o.secret}))
            })
            .collect();
        Value::Object(m)
    }

    async fn up(&mut self, a: UpArgs) -> Result<Fields, Failure> {
        let stack = self
            .prepare("up", true, a.config.install, Some(&a.config))
            .await?;
        let token = CancellationToken::new();
        let rep = self.reporter(&format!("up {}", stack.name()));
        let mut opts = UpOptions::default()
            .cancel_token(token.clone())
            .refresh(a.refresh)
            .on_event({
                let rep = rep.clone();
                move |ev| rep.event(ev)
            });
        if let Some(m) = a.message {
            opts = opts.message(m);
        }
        let up = self.op(&stack, &token, stack.up(opts)).await?;
        if self.ui.mode != Mode::Json {
            self.ui.out(&format!(
                "update of stack {} {} in {}s: {}",
                stack.name(),
                up.summary.result,
                up.summary.duration.as_secs(),
                changes_text(&up.summary)
            ));
            self.print_outputs(&up.outputs, a.show_secrets);
        }
        let mut f = Fields::new();
        f.insert("summary".into(), summary_json(&up.summary));
        f.insert(
            "outputs".into(),
            Self::outputs_json(&up.outputs, a.show_secrets),
        );
        Ok(f)
    }

    async fn preview(&mut self, a: PreviewArgs) -> Result<Fields, Failure> {
        let stack = self
            .prepare("preview", true, a.config.install, Some(&a.config))
            .await?;
        let token = CancellationToken::new();
        let rep = self.reporter(&format!("preview {}", stack.name()));
        let opts = PreviewOptions::default()
            .cancel_token(token.clone())
            .expect_no_changes(a.expect_no_changes)
            .on_event({
                let rep = rep.clone();
                move |ev| rep.event(ev)
            });
        let p = self.op(&stack, &token, stack.preview(opts)).await?;
        if self.ui.mode != Mode::Json {
            self.ui.out(&format!(
                "preview of stack {} {}: {}",
                stack.name(),
                p.summary.result,
                changes_text(&p.summary)
            ));
        }
        let mut f = Fields::new();
        f.insert("summary".into(), summary_json(&p.summary));
        f.insert("steps".into(), json!(p.plan.steps.len()));
        Ok(f)
    }

    async fn refresh(&mut self, a: RefreshArgs) -> Result<Fields, Failure> {
        let stack = self.prepare("refresh", false, a.install, None).await?;
        let token = CancellationToken::new();
        let rep = self.reporter(&format!("refresh {}", stack.name()));
        let opts = RefreshOptions::default()
            .cancel_token(token.clone())
            .on_event({
                let rep = rep.clone();
                move |ev| rep.event(ev)
            });
        let res = self.op(&stack, &token, stack.refresh(opts)).await?;
        if self.ui.mode != Mode::Json {
            self.ui.out(&format!(
                "refresh of stack {} {}: {}",
                stack.name(),
                res.summary.result,
                changes_text(&res.summary)
            ));
        }
        let mut f = Fields::new();
        f.insert("summary".into(), summary_json(&res.summary));
        Ok(f)
    }

    async fn destroy(&mut self, a: DestroyArgs) -> Result<Fields, Failure> {
        let stack = self.prepare("destroy", false, false, None).await?;
        let name = stack.name().to_owned();

        // 1. What would be deleted.
        let token = CancellationToken::new();
        self.reporter(&format!("destroy preview {name}"));
        let plan = self
            .op(
                &stack,
                &token,
                stack.preview_destroy(DestroyOptions::default().cancel_token(token.clone())),
            )
            .await?;
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
        } else if plan.is_empty() {
            self.ui
                .note(&format!("Destroying stack {name} would delete nothing."));
        } else {
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
        }

        // 2. The approval: bound to that preview, naming the stack as typed or given.
        let typed = match &a.yes_destroy {
            Some(given) => given.clone(),
            None if input::stdin_is_terminal() => {
                let prompt = format!(
                    "Type the stack name ({name}) to destroy it, anything else to keep it: "
                );
                match input::typed_stack_name(&mut self.ints, prompt).await? {
                    Some(t) if !t.is_empty() => t,
                    _ => {
                        return Err(Failure::refused(format!(
                            "no stack name typed: stack {name} was not destroyed"
                        )));
                    }
                }
            }
            None => {
                return Err(Failure::refused(format!(
                    "refusing to destroy stack {name} without a terminal to confirm on: pass --yes-destroy={name}"
                )));
            }
        };
        let approval = plan
            .approve(typed)
            .override_protection(a.override_protection);

        // 3. The destroy; the library refuses a wrong name, a protected stack, or a stack
        // that changed since the preview, before anything is deleted.
        let token = CancellationToken::new();
        let rep = self.reporter(&format!("destroy {name}"));
        let opts = DestroyOptions::default()
            .cancel_token(token.clone())
            .on_event({
                let rep = rep.clone();
                move |ev| rep.event(ev)
            });
        let res = self
            .op(&stack, &token, stack.destroy(opts, &approval))
            .await?;
        if self.ui.mode != Mode::Json {
            self.ui.out(&format!(
                "destroy of stack {name} {}: {}",
                res.summary.result,
                changes_text(&res.summary)
            ));
        }
        let mut removed = false;
        if a.remove {
            self.ints
                .short(
                    "removing the stack",
                    stack
                        .workspace()
                        .remove_stack(&name, RemoveOptions::default()),
                )
                .await?;
            removed = true;
            if self.ui.mode != Mode::Json {
                self.ui.out(&format!("stack {name} removed"));
            }
        }
        let mut f = Fields::new();
        f.insert("summary".into(), summary_json(&res.summary));
        f.insert("deletions".into(), Value::Array(deletions));
        f.insert("removed".into(), json!(removed));
        Ok(f)
    }

    async fn outputs(&mut self, a: OutputsArgs) -> Result<Fields, Failure> {
        let stack = self.prepare("outputs", false, false, None).await?;
        let outputs = self
            .ints
            .short("reading the outputs", stack.outputs())
            .await?;
        self.print_outputs(&outputs, a.show_secrets);
        let mut f = Fields::new();
        f.insert(
            "outputs".into(),
            Self::outputs_json(&outputs, a.show_secrets),
        );
        Ok(f)
    }

    async fn config_set(&mut self, a: ConfigSetArgs) -> Result<Fields, Failure> {
        let name = self.stack_name("config set")?;
        let key = if a.path {
            ConfigKey::path(a.key.clone())
        } else {
            ConfigKey::new(a.key.clone())
        };
        let passphrase = match (a.secret, &a.value) {
            (true, Some(_)) | (false, None) => None,
            _ => self.passphrase().await?,
        };
        let value = match (a.secret, a.value) {
            (true, Some(_)) => {
                return Err(Failure::usage(
                    "a secret value is never taken from the command line: leave VALUE out and give it on stdin or at the prompt",
                ));
            }
            (false, None) => {
                return Err(Failure::usage(
                    "config set needs a VALUE (or --secret, to read it from stdin or a prompt)",
                ));
            }
            (false, Some(v)) => ConfigSetValue::Plain(v),
            (true, None) => {
                let s = input::secret(&mut self.ints, &format!("secret {}", a.key)).await?;
                check_maskable(&format!("the value of secret {}", a.key), &s)?;
                self.ui.add_secret(&s);
                ConfigSetValue::Secret(s)
            }
        };
        let ws = self.workspace(passphrase).await?;
        let stack = self
            .ints
            .short("selecting the stack", ws.create_or_select_stack(&name))
            .await?;
        self.ints
            .short("setting config", stack.set_config(key, value))
            .await?;
        if self.ui.mode != Mode::Json {
            self.ui.out(&format!(
                "set {}{} on stack {name}",
                a.key,
                if a.secret { " (secret)" } else { "" }
            ));
        }
        let mut f = Fields::new();
        f.insert("key".into(), json!(a.key));
        f.insert("secret".into(), json!(a.secret));
        Ok(f)
    }

    async fn config_get(&mut self, a: ConfigGetArgs) -> Result<Fields, Failure> {
        let stack = self.prepare("config get", false, false, None).await?;
        let key = if a.path {
            ConfigKey::path(a.key.clone())
        } else {
            ConfigKey::new(a.key.clone())
        };
        let v = self
            .ints
            .short("reading config", stack.get_config(key))
            .await?;
        let text = v.value.clone().unwrap_or_default();
        let shown = if v.secret && !a.show_secrets {
            MASK.to_owned()
        } else {
            text
        };
        if self.ui.mode != Mode::Json {
            // Asked for by name: printed as is (a secret only with --show-secrets).
            println!("{shown}");
        }
        let mut f = Fields::new();
        f.insert("key".into(), json!(a.key));
        f.insert("value".into(), json!(shown));
        f.insert("secret".into(), json!(v.secret));
        Ok(f)
    }

    async fn stacks(&mut self) -> Result<Fields, Failure> {
        let passphrase = self.passphrase().await?;
        let ws = self.workspace(passphrase).await?;
        let stacks = self
            .ints
            .short("listing the stacks", ws.list_stacks())
            .await?;
        if self.ui.mode != Mode::Json {
            if stacks.is_empty() {
                self.ui.out("no stacks");
            } else {
                self.ui.out(&format!(
                    "{:<24} {:<26} {}",
                    "NAME", "LAST UPDATE", "RESOURCES"
                ));
                for s in &stacks {
                    self.ui.out(&format!(
                        "{:<24} {:<26} {}",
                        s.name,
                        s.last_update.as_deref().unwrap_or("never"),
                        s.resource_count
                            .map(|n| n.to_string())
                            .unwrap_or_else(|| "-".into())
                    ));
                }
            }
        }
        let list: Vec<Value> = stacks
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "lastUpdate": s.last_update,
                    "resourceCount": s.resource_count,
                })
            })
            .collect();
        let mut f = Fields::new();
        f.insert("stacks".into(), Value::Array(list));
        Ok(f)
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
