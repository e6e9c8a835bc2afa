//! [`Stack`]: one stack's config, tags, outputs, history and state.
//!
//! Every command a `Stack` runs names its stack with `--stack`: nothing depends on the
//! CLI's "currently selected" stack, so stacks of one workspace can be driven at the same
//! time from one process. The operations (up, preview, refresh, destroy, import) live in
//! [`crate::ops`]. Commands that write the stack's `Pulumi.<stack>.yaml` (config set,
//! set-all, rm, refresh) hold its settings lock, so concurrent writers, in this process
//! or another, never lose each other's keys (see [`LocalWorkspace::run`]).
//!
//! ```no_run
//! # async fn demo(stack: pulumi_auto::Stack) -> pulumi_auto::Result<()> {
//! use pulumi_auto::{ConfigKey, Secret};
//! stack.set_config("region", "eu-west-1").await?;
//! stack.set_config("dbPassword", Secret::new("s3cr3t")).await?; // via stdin, never argv
//! stack.set_config(ConfigKey::path("db.hosts[0]"), "10.0.0.1").await?;
//! let all = stack.get_all_config().await?;
//! for (key, value) in &all {
//!     println!("{key} = {value:?}"); // secret values print as [secret]
//! }
//! # Ok(()) }
//! ```

mod lifecycle;

use std::collections::BTreeMap;

use crate::cli::Invocation;
use crate::cli::classify::parse_error;
use crate::error::{Error, Result};
use crate::model;
use crate::secret::Secret;
use crate::workspace::{LocalWorkspace, validate_config_key, validate_tag_name};

/// A config key, plain (`region`, `aws:region`) or a path into an object (`db.hosts[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigKey {
    key: String,
    path: bool,
}

impl ConfigKey {
    /// A plain key: dots and brackets are part of the name.
    pub fn new(key: impl Into<String>) -> Self {
        ConfigKey {
            key: key.into(),
            path: false,
        }
    }

    /// A path key (`--path`): `a.b[0]["c.d"]` addresses into objects and arrays.
    pub fn path(key: impl Into<String>) -> Self {
        ConfigKey {
            key: key.into(),
            path: true,
        }
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// Whether the key is a path.
    pub fn is_path(&self) -> bool {
        self.path
    }

    fn validate(&self) -> Result<()> {
        validate_config_key(&self.key, self.path)
    }
}

impl From<&str> for ConfigKey {
    fn from(k: &str) -> Self {
        ConfigKey::new(k)
    }
}

impl From<String> for ConfigKey {
    fn from(k: String) -> Self {
        ConfigKey::new(k)
    }
}

/// A config value to set: plain text, or a secret (encrypted by the stack's secrets
/// provider; sent to the CLI on stdin or in its environment, never on its command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSetValue {
    /// A plaintext value.
    Plain(String),
    /// A secret value.
    Secret(Secret),
}

impl ConfigSetValue {
    fn text(&self) -> &str {
        match self {
            ConfigSetValue::Plain(s) => s,
            ConfigSetValue::Secret(s) => s.expose(),
        }
    }

    fn is_secret(&self) -> bool {
        matches!(self, ConfigSetValue::Secret(_))
    }
}

impl From<&str> for ConfigSetValue {
    fn from(v: &str) -> Self {
        ConfigSetValue::Plain(v.to_owned())
    }
}

impl From<String> for ConfigSetValue {
    fn from(v: String) -> Self {
        ConfigSetValue::Plain(v)
    }
}

impl From<Secret> for ConfigSetValue {
    fn from(v: Secret) -> Self {
        ConfigSetValue::Secret(v)
    }
}

/// One stack of a [`LocalWorkspace`].
#[derive(Debug, Clone)]
pub struct Stack {
    ws: LocalWorkspace,
    name: String,
}

/// Encodes fields as one CSV record (Go's `encoding/csv` reader: every field quoted,
/// inner quotes doubled; newlines allowed inside quotes).
fn csv_record<'a>(fields: impl IntoIterator<Item = &'a str>) -> String {
    fields
        .into_iter()
        .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(",")
}

/// The argv and environment of `config set-all` for `values`: values travel in
/// `PULUMI_OPTION_PLAINTEXT` / `PULUMI_OPTION_SECRET` (the CLI reads any flag from
/// `PULUMI_OPTION_<FLAG>`), so not even plaintext values reach the command line.
pub(crate) fn set_all_invocation(
    stack: &str,
    values: &[(ConfigKey, ConfigSetValue)],
) -> Result<Invocation> {
    let path = values.first().is_some_and(|(k, _)| k.is_path());
    if values.iter().any(|(k, _)| k.is_path() != path) {
        return Err(Error::invalid(
            "config keys",
            "set_all_config takes either all plain keys or all path keys",
        ));
    }
    let mut plain = Vec::new();
    let mut secret = Vec::new();
    for (k, v) in values {
        k.validate()?;
        if k.as_str().contains('=') {
            return Err(Error::invalid(
                "config key",
                format!(
                    "{:?}: set_all_config cannot take a key containing `=`; use set_config",
                    k.as_str()
                ),
            ));
        }
        let pair = format!("{}={}", k.as_str(), v.text());
        if v.is_secret() {
            secret.push(pair);
        } else {
            plain.push(pair);
        }
    }
    let mut args = vec!["config", "set-all", "--stack", stack];
    if path {
        args.push("--path");
    }
    let mut inv = Invocation::new(args).for_stack(stack);
    let secrets: Vec<Secret> = values
        .iter()
        .filter_map(|(_, v)| match v {
            ConfigSetValue::Secret(s) => Some(s.clone()),
            ConfigSetValue::Plain(_) => None,
        })
        .collect();
    if !plain.is_empty() {
        inv = inv.env(
            "PULUMI_OPTION_PLAINTEXT",
            csv_record(plain.iter().map(String::as_str)),
        );
    }
    if !secret.is_empty() {
        inv = inv.env(
            "PULUMI_OPTION_SECRET",
            csv_record(secret.iter().map(String::as_str)),
        );
    }
    Ok(inv.redact(secrets))
}

/// The argv of `config set` (the value goes on stdin).
pub(crate) fn set_args(stack: &str, key: &ConfigKey, secret: bool) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "config".into(),
        "set".into(),
        "--stack".into(),
        stack.into(),
    ];
    if key.is_path() {
        args.push("--path".into());
    }
    args.push(if secret { "--secret" } else { "--plaintext" }.into());
    // --raw: take stdin exactly (no trailing-newline trim); `--` so keys like `--foo` are keys.
    args.extend(["--raw".into(), "--".into(), key.as_str().into()]);
    args
}

impl Stack {
    pub(crate) fn new(ws: LocalWorkspace, name: String) -> Self {
        Stack { ws, name }
    }

    /// The stack's name as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The workspace this stack belongs to.
    pub fn workspace(&self) -> &LocalWorkspace {
        &self.ws
    }

    /// The fully qualified name on a file backend: `organization/<project>/<stack>`
    /// (a name that is already qualified is returned as is).
    pub fn fully_qualified_name(&self) -> String {
        match self.name.matches('/').count() {
            0 => format!("organization/{}/{}", self.ws.project_name(), self.name),
            1 => {
                let (org, stack) = self
                    .name
                    .split_once('/')
                    .unwrap_or(("organization", &self.name));
                format!("{org}/{}/{stack}", self.ws.project_name())
            }
            _ => self.name.clone(),
        }
    }

    pub(crate) fn inv<I, S>(&self, args: I) -> Invocation
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Invocation::new(args)
            .arg("--stack")
            .arg(self.name.clone())
            .for_stack(self.name.clone())
    }

    // ----- config -----

    /// Reads one config value (secrets decrypted; their `Debug` stays redacted). One process.
    pub async fn get_config(&self, key: impl Into<ConfigKey>) -> Result<model::ConfigValue> {
        let key = key.into();
        key.validate()?;
        let mut args = vec!["config", "get", "--json"];
        if key.is_path() {
            args.push("--path");
        }
        let out = self
            .ws
            .run(self.inv(args).arg("--").arg(key.as_str()))
            .await?;
        let value = model::parse_config_value(&out.stdout).map_err(|e| parse_error(&out, e))?;
        Ok(value)
    }

    /// All config values of the stack, fully qualified keys (`project:key`), secrets
    /// decrypted (their `Debug` stays redacted). One process.
    pub async fn get_all_config(&self) -> Result<model::ConfigMap> {
        let out = self
            .ws
            .run(self.inv(["config", "--json", "--show-secrets"]))
            .await?;
        model::parse_config(&out.stdout).map_err(|e| parse_error(&out, e))
    }

    /// Sets one config value: plain text or a [`Secret`]. The value goes to the CLI on
    /// stdin, exactly (multi-line and unicode values included). One process.
    pub async fn set_config(
        &self,
        key: impl Into<ConfigKey>,
        value: impl Into<ConfigSetValue>,
    ) -> Result<()> {
        let key = key.into();
        let value = value.into();
        key.validate()?;
        let inv = Invocation::new(set_args(&self.name, &key, value.is_secret()))
            .for_stack(self.name.clone());
        let inv = match &value {
            ConfigSetValue::Secret(s) => inv.stdin_secret(s.clone()),
            ConfigSetValue::Plain(p) => inv.stdin(p.clone()),
        };
        self.ws.run(inv).await.map(drop)
    }

    /// Sets many values in one process (`config set-all`). Keys are all plain or all
    /// paths. No value, secret or not, is put on the command line.
    pub async fn set_all_config<K, V>(&self, values: impl IntoIterator<Item = (K, V)>) -> Result<()>
    where
        K: Into<ConfigKey>,
        V: Into<ConfigSetValue>,
    {
        let values: Vec<(ConfigKey, ConfigSetValue)> = values
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        if values.is_empty() {
            return Ok(());
        }
        let inv = set_all_invocation(&self.name, &values)?;
        self.ws.run(inv).await.map(drop)
    }

    /// Removes one config value. One process.
    pub async fn remove_config(&self, key: impl Into<ConfigKey>) -> Result<()> {
        let key = key.into();
        key.validate()?;
        let mut args = vec!["config", "rm"];
        if key.is_path() {
            args.push("--path");
        }
        self.ws
            .run(self.inv(args).arg("--").arg(key.as_str()))
            .await
            .map(drop)
    }

    /// Removes many config values in one process. Keys are all plain or all paths.
    pub async fn remove_all_config<K: Into<ConfigKey>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<()> {
        let keys: Vec<ConfigKey> = keys.into_iter().map(Into::into).collect();
        let Some(first) = keys.first() else {
            return Ok(());
        };
        let path = first.is_path();
        let mut args = vec!["config".to_owned(), "rm-all".into()];
        if path {
            args.push("--path".into());
        }
        let mut inv = self.inv(args).arg("--");
        for k in &keys {
            k.validate()?;
            if k.is_path() != path {
                return Err(Error::invalid(
                    "config keys",
                    "remove_all_config takes either all plain keys or all path keys",
                ));
            }
            inv = inv.arg(k.as_str());
        }
        self.ws.run(inv).await.map(drop)
    }

    /// Replaces the local config file with the config of the stack's last deployment.
    /// One process.
    pub async fn refresh_config(&self) -> Result<()> {
        self.ws
            .run(self.inv(["config", "refresh", "--force"]))
            .await
            .map(drop)
    }

    // ----- tags -----

    /// Sets a stack tag. One process.
    pub async fn set_tag(&self, name: &str, value: &str) -> Result<()> {
        validate_tag_name(name)?;
        if value.chars().any(|c| c == '\0') {
            return Err(Error::invalid("tag value", "may not contain NUL"));
        }
        self.ws
            .run(
                self.inv(["stack", "tag", "set"])
                    .arg("--")
                    .arg(name)
                    .arg(value),
            )
            .await
            .map(drop)
    }

    /// Reads a stack tag. One process.
    pub async fn get_tag(&self, name: &str) -> Result<String> {
        validate_tag_name(name)?;
        let out = self
            .ws
            .run(self.inv(["stack", "tag", "get"]).arg("--").arg(name))
            .await?;
        Ok(out
            .stdout
            .strip_suffix('\n')
            .unwrap_or(&out.stdout)
            .to_owned())
    }

    /// Removes a stack tag. One process.
    pub async fn remove_tag(&self, name: &str) -> Result<()> {
        validate_tag_name(name)?;
        self.ws
            .run(self.inv(["stack", "tag", "rm"]).arg("--").arg(name))
            .await
            .map(drop)
    }

    /// Protects the stack from [`destroy`](Self::destroy) (or lifts the protection) with
    /// the tag [`PROTECTED_TAG`](crate::approval::PROTECTED_TAG). One process.
    pub async fn set_protected(&self, on: bool) -> Result<()> {
        if on {
            self.set_tag(crate::approval::PROTECTED_TAG, "true").await
        } else {
            self.remove_tag(crate::approval::PROTECTED_TAG).await
        }
    }

    /// All tags of the stack (the backend adds some of its own). One process.
    pub async fn list_tags(&self) -> Result<BTreeMap<String, String>> {
        let out = self
            .ws
            .run(self.inv(["stack", "tag", "ls", "--json"]))
            .await?;
        model::parse_tags(&out.stdout)
            .map(|t| t.into_iter().collect())
            .map_err(|e| parse_error(&out, e))
    }

    // ----- outputs, history, state -----

    /// The stack's outputs, each with its secret flag, secrets revealed. One process
    /// (`stack export --show-secrets`, which carries both the values and which are secret,
    /// where the official SDKs run `stack output` twice).
    pub async fn outputs(&self) -> Result<model::OutputMap> {
        let dep = self.export_inner(true).await?;
        Ok(dep.stack_outputs())
    }

    /// The update history, newest first (`page` counts from 1; `page_size` 0 means all).
    /// Secret config values are revealed. One process.
    pub async fn history(&self, page_size: u32, page: u32) -> Result<Vec<model::UpdateSummary>> {
        let mut args = vec![
            "stack".to_owned(),
            "history".into(),
            "--json".into(),
            "--show-secrets".into(),
        ];
        if page_size > 0 {
            args.extend([
                "--page-size".into(),
                page_size.to_string(),
                "--page".into(),
                page.max(1).to_string(),
            ]);
        }
        let out = self.ws.run(self.inv(args)).await?;
        model::parse_history(&out.stdout).map_err(|e| parse_error(&out, e))
    }

    /// The latest update, if any. One process.
    pub async fn info(&self) -> Result<Option<model::UpdateSummary>> {
        Ok(self.history(1, 1).await?.into_iter().next())
    }

    async fn export_inner(&self, show_secrets: bool) -> Result<model::Deployment> {
        let mut args = vec!["stack", "export"];
        if show_secrets {
            args.push("--show-secrets");
        }
        let out = self.ws.run(self.inv(args)).await?;
        model::parse_deployment(&out.stdout).map_err(|e| parse_error(&out, e))
    }

    /// The stack's state (secrets stay encrypted), with unknown fields kept so that
    /// [`import_stack`](Self::import_stack) of it is lossless. One process.
    pub async fn export_stack(&self) -> Result<model::Deployment> {
        self.export_inner(false).await
    }

    /// Replaces the stack's state (fed on stdin), when that loses nothing: an import that
    /// would drop resources from the state (forget them: they would live on, unmanaged,
    /// as after a forced [`remove_stack`](LocalWorkspace::remove_stack)) is refused with
    /// [`Error::DestroyRefused`] ([`DestroyRefusal::ImportDropsResources`]) before it
    /// runs; [`import_stack_approved`](Self::import_stack_approved) takes the approval
    /// that allows it. Two processes: an export of the current state to compare, then the
    /// import.
    ///
    /// [`DestroyRefusal::ImportDropsResources`]: crate::approval::DestroyRefusal::ImportDropsResources
    pub async fn import_stack(&self, deployment: &model::Deployment) -> Result<()> {
        self.import_inner(deployment, None).await
    }

    /// Like [`import_stack`](Self::import_stack), and may drop resources from the state
    /// with an approval checked as a forced removal's is: it must name this stack, it
    /// overrides [protection](crate::approval::PROTECTED_TAG) only when it says so, and
    /// one bound to a destroy preview is refused. Processes: the tag check (none when the
    /// approval overrides protection) and the import.
    pub async fn import_stack_approved(
        &self,
        deployment: &model::Deployment,
        approval: &crate::DestroyApproval,
    ) -> Result<()> {
        self.import_inner(deployment, Some(approval)).await
    }

    async fn import_inner(
        &self,
        deployment: &model::Deployment,
        approval: Option<&crate::DestroyApproval>,
    ) -> Result<()> {
        let json = deployment.to_json().map_err(|source| Error::Model {
            command: "stack import".into(),
            source,
        })?;
        match approval {
            Some(a) => self.check_removal_approval(a).await?,
            None => {
                let current = self.export_stack().await?;
                let dropped = crate::approval::dropped_by_import(&current, deployment);
                if !dropped.is_empty() {
                    return Err(Error::DestroyRefused {
                        stack: self.name.clone(),
                        reason: crate::approval::DestroyRefusal::ImportDropsResources { dropped },
                    });
                }
            }
        }
        self.ws
            .run(self.inv(["stack", "import"]).stdin(json))
            .await
            .map(drop)
    }

    /// Deletes the stack's lock files left by an update that died (the file backend) or
    /// cancels the running update (Pulumi Cloud). It stops no process and touches no state.
    ///
    /// On a file backend (`file://`) it first reads the locks: while the process that
    /// holds one (its pid and host are in the lock) still runs on this host, an update may
    /// be in flight, and the lock is left alone: [`Error::LockHolderRunning`].
    /// [`force_cancel`](Self::force_cancel) deletes it anyway. Other backends' locks cannot
    /// be read here, and are deleted as the CLI does. One process.
    pub async fn cancel(&self) -> Result<()> {
        let locks = self.file_locks().await?;
        // Whether a holder runs is read from /proc: on the blocking pool.
        let running =
            tokio::task::spawn_blocking(move || locks.into_iter().find(|l| l.holder_running()))
                .await
                .map_err(|e| Error::io("checking the locks' holders", std::io::Error::other(e)))?;
        if let Some(lock) = running {
            return Err(Error::LockHolderRunning {
                stack: self.name.clone(),
                pid: lock.pid,
                hostname: lock.hostname,
                file: lock.file,
            });
        }
        self.force_cancel().await
    }

    /// [`cancel`](Self::cancel) without looking at the locks' holders: for a holder that
    /// runs but is known to be stuck. An update still running loses its lock, and another
    /// may then run at the same time. One process.
    pub async fn force_cancel(&self) -> Result<()> {
        self.ws.run(self.inv(["cancel", "--yes"])).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_args_put_no_value_on_argv_and_guard_flag_like_keys() {
        let a = set_args("dev", &ConfigKey::new("--foo"), true);
        assert_eq!(
            a,
            [
                "config", "set", "--stack", "dev", "--secret", "--raw", "--", "--foo"
            ]
        );
        let a = set_args("dev", &ConfigKey::path("a.b[0]"), false);
        assert_eq!(
            a,
            [
                "config",
                "set",
                "--stack",
                "dev",
                "--path",
                "--plaintext",
                "--raw",
                "--",
                "a.b[0]"
            ]
        );
    }

    #[test]
    fn csv_quotes_everything() {
        assert_eq!(
            csv_record(["a=1", "b=x,\"y\"\nz"]),
            "\"a=1\",\"b=x,\"\"y\"\"\nz\""
        );
    }

    #[test]
    fn set_all_keeps_values_off_argv() {
        let vals = vec![
            (ConfigKey::new("a"), ConfigSetValue::from("plain-1")),
            (
                ConfigKey::new("b"),
                ConfigSetValue::from(Secret::new("hunter2")),
            ),
        ];
        let inv = set_all_invocation("dev", &vals).unwrap();
        assert_eq!(inv.args(), ["config", "set-all", "--stack", "dev"]);
        assert!(
            !inv.args()
                .iter()
                .any(|a| a.contains("hunter2") || a.contains("plain-1"))
        );
        assert_eq!(
            inv.env
                .get("PULUMI_OPTION_SECRET")
                .cloned()
                .flatten()
                .as_deref(),
            Some("\"b=hunter2\"")
        );
        assert!(!format!("{inv:?}").contains("hunter2"));
    }

    #[test]
    fn set_all_rejects_mixed_and_bad_keys() {
        let mixed = vec![
            (ConfigKey::new("a"), ConfigSetValue::from("1")),
            (ConfigKey::path("b.c"), ConfigSetValue::from("2")),
        ];
        assert!(set_all_invocation("dev", &mixed).is_err());
        let eq = vec![(ConfigKey::new("a=b"), ConfigSetValue::from("1"))];
        assert!(set_all_invocation("dev", &eq).is_err());
        let empty = vec![(ConfigKey::new(""), ConfigSetValue::from("1"))];
        assert!(matches!(
            set_all_invocation("dev", &empty),
            Err(Error::InvalidInput { .. })
        ));
    }
}
