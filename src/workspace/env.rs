//! The environment a workspace gives every command: the variables set by its builder and
//! changed afterwards ([`LocalWorkspace::set_env_var`], [`set_env_vars`],
//! [`unset_env_var`], as the official SDKs' `SetEnvVar`/`SetEnvVars`/`UnsetEnvVar`), and
//! the secrets found in them, redacted from whatever the CLI prints.
//!
//! A change takes effect for the next command of the workspace and of every [`Stack`]
//! made from it (they share it); a command already running keeps the environment it
//! started with.
//!
//! [`set_env_vars`]: LocalWorkspace::set_env_vars
//! [`unset_env_var`]: LocalWorkspace::unset_env_var
//! [`Stack`]: crate::Stack

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};

use super::LocalWorkspace;
use super::url::url_secrets;
use crate::cli::DRIVER_ENV;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// The variables a workspace sets itself from its builder's settings
/// ([`backend_url`](super::LocalWorkspaceBuilder::backend_url),
/// [`passphrase`](super::LocalWorkspaceBuilder::passphrase),
/// [`pulumi_home`](super::LocalWorkspaceBuilder::pulumi_home)). A built workspace's
/// setters refuse them: the workspace's backend URL, its redactions and its plugin cache
/// are fixed when it is built, so a workspace on another backend, passphrase or home is
/// a new workspace.
pub const MANAGED_ENV_VARS: [&str; 3] = [
    "PULUMI_BACKEND_URL",
    "PULUMI_CONFIG_PASSPHRASE",
    "PULUMI_HOME",
];

/// The variables the runner sets on every command after the workspace's environment
/// (so a value set for them would be silently ignored).
const RUNNER_ENV_VARS: [&str; 3] = [
    DRIVER_ENV,
    "PULUMI_AUTOMATION_API",
    "PULUMI_SKIP_UPDATE_CHECK",
];

/// Parts of a variable's name that mark its value as a secret (compared in upper case).
const SECRET_NAME_PARTS: [&str; 9] = [
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "TOKEN",
    "CREDENTIAL",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "API_KEY",
];

/// Whether the value of the environment variable `name` is treated as a secret: its name
/// contains `PASSWORD`, `PASSWD`, `PASSPHRASE`, `SECRET`, `TOKEN`, `CREDENTIAL`,
/// `PRIVATE_KEY`, `ACCESS_KEY` or `API_KEY`, in any case (`PULUMI_ACCESS_TOKEN`,
/// `AWS_SECRET_ACCESS_KEY`, `GOOGLE_CREDENTIALS`, …). Such a value is redacted from
/// everything the CLI prints that the crate keeps (errors, messages); of any other
/// variable, only the password of a URL it holds is (`DATABASE_URL=postgres://u:pw@…`).
///
/// ```
/// use pulumi_auto::workspace::is_secret_env_var;
/// assert!(is_secret_env_var("PULUMI_ACCESS_TOKEN"));
/// assert!(is_secret_env_var("aws_secret_access_key"));
/// assert!(!is_secret_env_var("AWS_REGION"));
/// ```
pub fn is_secret_env_var(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    SECRET_NAME_PARTS.iter().any(|part| name.contains(part))
}

/// A workspace's environment: each variable set (`Some`) or removed from the inherited
/// environment (`None`), and every secret it has held.
#[derive(Clone, Default)]
pub(crate) struct Environment {
    pub vars: BTreeMap<String, Option<String>>,
    /// Only grows: a secret once set stays redacted after it is replaced or unset, as it
    /// may still be quoted (by a command that started before, in a log of the program).
    pub redact: Vec<Secret>,
}

impl Environment {
    /// Sets `key` to `value`, or removes it from the inherited environment (`None`), and
    /// redacts the secrets of `value`.
    pub fn set(&mut self, key: String, value: Option<String>) {
        if let Some(v) = &value {
            for s in secrets_of(&key, v) {
                if !self.redact.contains(&s) {
                    self.redact.push(s);
                }
            }
        }
        self.vars.insert(key, value);
    }
}

/// The secrets in the value of variable `key`: all of it for a
/// [secret-bearing name](is_secret_env_var), else the secret parts of a URL it holds.
fn secrets_of(key: &str, value: &str) -> Vec<Secret> {
    if is_secret_env_var(key) {
        vec![Secret::new(value)]
    } else {
        url_secrets(value)
    }
}

/// Checks a variable as the builder takes it: a name (non-empty, without `=` or NUL) and,
/// when it is set, a value without NUL; `PULUMI_OPTION_<FLAG>` may only be removed (the
/// CLI reads it as `--flag` on every command, past every check of the crate). Messages
/// name the variable, never its value.
pub(crate) fn check_var(key: &str, value: Option<&str>) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::invalid(
            "environment variable",
            format!("{key:?}: {reason}"),
        ))
    };
    if key.is_empty() || key.contains(['=', '\0']) {
        return bad("is not a valid name (empty, or with `=` or NUL)");
    }
    let Some(value) = value else {
        return Ok(());
    };
    if value.contains('\0') {
        return bad("its value contains NUL, which no environment can hold");
    }
    if key.starts_with("PULUMI_OPTION_") {
        return bad("the CLI reads it as a flag of every command; pass flags as options");
    }
    Ok(())
}

/// [`check_var`], and the refusals of a built workspace's setters: the
/// [managed](MANAGED_ENV_VARS) variables and those the runner sets itself.
fn check_change(key: &str, value: Option<&str>) -> Result<()> {
    let refuse = |reason: &str| {
        Err(Error::invalid(
            "environment variable",
            format!("{key:?}: {reason}"),
        ))
    };
    if MANAGED_ENV_VARS.contains(&key) {
        return refuse(
            "the workspace sets it from its builder (backend_url, passphrase, pulumi_home); \
             build another workspace to change it",
        );
    }
    if RUNNER_ENV_VARS.contains(&key) {
        return refuse("the runner sets it on every command");
    }
    check_var(key, value)
}

impl LocalWorkspace {
    /// Sets an environment variable for the workspace's next commands (and its stacks'),
    /// as the official SDKs' `SetEnvVar`. Checked as the builder's
    /// [`env`](super::LocalWorkspaceBuilder::env) is, and refused for the variables the
    /// workspace manages ([`MANAGED_ENV_VARS`]) and those the runner sets
    /// (`PULUMI_AUTO_DRIVER`, `PULUMI_AUTOMATION_API`, `PULUMI_SKIP_UPDATE_CHECK`):
    /// [`Error::InvalidInput`], nothing changed. The value of a
    /// [secret-bearing](is_secret_env_var) variable is redacted from errors from then on.
    pub fn set_env_var(&self, key: impl Into<String>, value: impl Into<String>) -> Result<()> {
        self.set_env_vars([(key, value)])
    }

    /// Sets several environment variables at once ([`set_env_var`](Self::set_env_var)'s
    /// rules): all of them, or, when one is refused, none.
    pub fn set_env_vars<K, V>(&self, vars: impl IntoIterator<Item = (K, V)>) -> Result<()>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let vars: Vec<(String, Option<String>)> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), Some(v.into())))
            .collect();
        self.change_env(vars)
    }

    /// Forgets the workspace's own setting of an environment variable, as the official
    /// SDKs' `UnsetEnvVar`: the next commands get the value this process inherited, if
    /// any (to remove an inherited variable, use the builder's
    /// [`env_remove`](super::LocalWorkspaceBuilder::env_remove)). Refused like
    /// [`set_env_var`](Self::set_env_var) for the variables the workspace or the runner
    /// manage. Unsetting a variable the workspace does not set is not an error.
    pub fn unset_env_var(&self, key: impl Into<String>) -> Result<()> {
        let key = key.into();
        check_change(&key, None)?;
        self.update_env(|env| {
            env.vars.remove(&key);
        });
        Ok(())
    }

    /// Checks every change, then applies them all.
    fn change_env(&self, vars: Vec<(String, Option<String>)>) -> Result<()> {
        for (k, v) in &vars {
            check_change(k, v.as_deref())?;
        }
        self.update_env(|env| {
            for (k, v) in vars {
                env.set(k, v);
            }
        });
        Ok(())
    }

    /// Replaces the environment with a changed copy (commands that started keep theirs).
    fn update_env(&self, change: impl FnOnce(&mut Environment)) {
        let mut current = self
            .inner
            .env
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut next = Environment::clone(&current);
        change(&mut next);
        *current = Arc::new(next);
    }

    /// The environment for one command: a snapshot, unaffected by later changes.
    pub(crate) fn environment(&self) -> Arc<Environment> {
        Arc::clone(
            &self
                .inner
                .env
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_are_checked_without_showing_the_value() {
        let invalid = |r: Result<()>| matches!(r, Err(Error::InvalidInput { .. }));
        for key in ["", "A=B", "A\0B"] {
            assert!(invalid(check_var(key, Some("v"))), "{key:?}");
            assert!(invalid(check_var(key, None)), "{key:?}");
        }
        let e = check_var("TOKEN", Some("hunter2\0x")).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(invalid(check_var("PULUMI_OPTION_FORCE", Some("true"))));
        assert!(check_var("PULUMI_OPTION_FORCE", None).is_ok());
        assert!(check_var("AWS_REGION", Some("eu-west-1")).is_ok());
        assert!(check_var("EMPTY", Some("")).is_ok());
    }

    #[test]
    fn setters_refuse_the_managed_and_runner_variables() {
        for key in MANAGED_ENV_VARS.iter().chain(&RUNNER_ENV_VARS) {
            let e = check_change(key, Some("x")).unwrap_err();
            assert!(matches!(e, Error::InvalidInput { .. }), "{key}");
            assert!(check_change(key, None).is_err(), "{key}");
        }
        assert!(check_change("PULUMI_CONFIG_PASSPHRASE_FILE", Some("/p")).is_ok());
        assert!(check_change("PULUMI_OPTION_YES", Some("true")).is_err());
    }

    #[test]
    fn secrets_of_a_value_follow_its_name() {
        for key in [
            "PULUMI_ACCESS_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "aws_session_token",
            "ARM_CLIENT_SECRET",
            "GOOGLE_CREDENTIALS",
            "DB_PASSWORD",
            "CLOUDFLARE_API_KEY",
        ] {
            assert!(is_secret_env_var(key), "{key}");
            assert_eq!(secrets_of(key, "s3cr3t"), [Secret::new("s3cr3t")], "{key}");
        }
        for key in [
            "AWS_REGION",
            "HOME",
            "PULUMI_SKIP_CONFIRMATIONS",
            "GREETING",
        ] {
            assert!(!is_secret_env_var(key), "{key}");
            assert!(secrets_of(key, "s3cr3t").is_empty(), "{key}");
        }
        // A URL's password is a secret whatever the variable is called.
        assert_eq!(
            secrets_of("DATABASE_URL", "postgres://u:hunter2@h/db"),
            [Secret::new("hunter2")]
        );
    }

    #[test]
    fn redactions_only_grow() {
        let mut env = Environment::default();
        env.set("API_TOKEN".into(), Some("first-token".into()));
        env.set("API_TOKEN".into(), Some("second-token".into()));
        env.set("API_TOKEN".into(), Some("second-token".into()));
        env.set("GREETING".into(), Some("hello".into()));
        env.set("GONE".into(), None);
        assert_eq!(
            env.redact,
            [Secret::new("first-token"), Secret::new("second-token")]
        );
        assert_eq!(env.vars["API_TOKEN"].as_deref(), Some("second-token"));
        assert_eq!(env.vars["GONE"], None);
    }
}
