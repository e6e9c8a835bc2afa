//! [`EphemeralStackBuilder`]: an ephemeral stack's settings, on top of a
//! [`LocalWorkspaceBuilder`], and its creation.

use std::path::PathBuf;

use super::blocking;
use super::guard::EphemeralStack;
use super::ledger::{LedgerEntry, MARKER_FILE, default_ledger_dir, write_private};
use super::tag::{EPHEMERAL_TAG, EphemeralTag, check_prefix, hex, random_bytes, unique_name};
use crate::cli::PulumiCommand;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::stack::{ConfigKey, ConfigSetValue};
use crate::workspace::{LocalWorkspace, LocalWorkspaceBuilder, redact_url};

/// Builds an [`EphemeralStack`]. See the [module docs](super).
///
/// The workspace is a [`LocalWorkspaceBuilder`]'s: [`env`](Self::env) and
/// [`pulumi_command`](Self::pulumi_command) set it, and [`workspace`](Self::workspace)
/// (or [`EphemeralStack::builder_from`]) gives every setting it has. The backend,
/// `PULUMI_HOME` and passphrase are this builder's own ([`backend_url`](Self::backend_url),
/// [`pulumi_home`](Self::pulumi_home), [`passphrase`](Self::passphrase)): by default they
/// live in the stack's temporary directory, they are recorded in its ledger entry, and
/// they replace any given to the workspace builder.
#[must_use]
pub struct EphemeralStackBuilder {
    workspace: LocalWorkspaceBuilder,
    prefix: String,
    config: Vec<(ConfigKey, ConfigSetValue)>,
    backend_url: Option<String>,
    pulumi_home: Option<PathBuf>,
    passphrase: Option<Secret>,
    run_id: Option<String>,
    ledger_dir: Option<PathBuf>,
}

impl std::fmt::Debug for EphemeralStackBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EphemeralStackBuilder")
            .field("workspace", &self.workspace)
            .field("prefix", &self.prefix)
            .field(
                "config_keys",
                &self
                    .config
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("backend_url", &self.backend_url.as_deref().map(redact_url))
            .field("pulumi_home", &self.pulumi_home)
            .field("passphrase", &self.passphrase)
            .field("run_id", &self.run_id)
            .field("ledger_dir", &self.ledger_dir)
            .finish()
    }
}

impl EphemeralStack {
    /// A builder for an ephemeral stack of the program in `program_dir`.
    pub fn builder(program_dir: impl Into<PathBuf>) -> EphemeralStackBuilder {
        EphemeralStack::builder_from(LocalWorkspace::builder(program_dir))
    }

    /// A builder for an ephemeral stack in the workspace `workspace` would build (its
    /// program directory, environment, CLI, secrets provider). Its backend, `PULUMI_HOME`
    /// and passphrase are replaced by the ephemeral stack's own: see
    /// [`EphemeralStackBuilder`].
    pub fn builder_from(workspace: LocalWorkspaceBuilder) -> EphemeralStackBuilder {
        EphemeralStackBuilder {
            workspace,
            prefix: "ephemeral".into(),
            config: Vec::new(),
            backend_url: None,
            pulumi_home: None,
            passphrase: None,
            run_id: None,
            ledger_dir: None,
        }
    }
}

/// What `create` makes before the stack exists (blocking work, off the async workers):
/// the name, the temporary directory with its marker, the passphrase, the tag.
struct Scratch {
    name: String,
    temp: PathBuf,
    marker: String,
    passphrase: Secret,
    /// The passphrase's file in `temp`, when it was generated (none was given).
    passphrase_file: Option<PathBuf>,
    tag: EphemeralTag,
}

impl Scratch {
    /// Makes the temporary directory, its marker, and a passphrase and its file unless
    /// one is `given`; on a failure nothing is left.
    fn make(prefix: &str, given: Option<Secret>, run_id: Option<String>) -> Result<Scratch> {
        let temp = tempfile::Builder::new()
            .prefix("pulumi-auto-ephemeral-")
            .tempdir()
            .map_err(|e| Error::io("creating an ephemeral stack's temporary directory", e))?
            .keep();
        // The id that proves, to a later janitor, that this library made the directory.
        let marker = hex(&random_bytes::<16>());
        let made = write_private(&temp.join(MARKER_FILE), &marker).and_then(|()| match given {
            Some(p) => Ok((p, None)),
            None => {
                let p = Secret::new(hex(&random_bytes::<24>()));
                let file = temp.join("passphrase");
                write_private(&file, p.expose())?;
                Ok((p, Some(file)))
            }
        });
        match made {
            Ok((passphrase, passphrase_file)) => Ok(Scratch {
                name: unique_name(prefix),
                temp,
                marker,
                passphrase,
                passphrase_file,
                tag: EphemeralTag::now(run_id),
            }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&temp);
                Err(e)
            }
        }
    }
}

impl EphemeralStackBuilder {
    /// Changes the workspace builder: `.workspace(|b| b.env_remove("AWS_PROFILE"))`.
    /// Its backend, `PULUMI_HOME` and passphrase are replaced by this builder's own.
    pub fn workspace(
        mut self,
        f: impl FnOnce(LocalWorkspaceBuilder) -> LocalWorkspaceBuilder,
    ) -> Self {
        self.workspace = f(self.workspace);
        self
    }

    /// The name's prefix (default `ephemeral`): `[A-Za-z0-9_.-]`, at most
    /// [`MAX_PREFIX_LEN`](super::MAX_PREFIX_LEN) characters.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// A plain config value, set when the stack is created.
    pub fn config(mut self, key: impl Into<ConfigKey>, value: impl Into<String>) -> Self {
        self.config
            .push((key.into(), ConfigSetValue::Plain(value.into())));
        self
    }

    /// A secret config value (sent to the CLI on stdin, like every secret).
    pub fn secret_config(mut self, key: impl Into<ConfigKey>, value: Secret) -> Self {
        self.config
            .push((key.into(), ConfigSetValue::Secret(value)));
        self
    }

    /// Use this backend instead of an isolated one (a shared backend, e.g. where a
    /// janitor sweeps). The temporary directory then holds only `PULUMI_HOME`.
    pub fn backend_url(mut self, url: impl Into<String>) -> Self {
        self.backend_url = Some(url.into());
        self
    }

    /// Use this `PULUMI_HOME` instead of one in the temporary directory (for example to
    /// share downloaded plugins between stacks).
    pub fn pulumi_home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.pulumi_home = Some(dir.into());
        self
    }

    /// The secrets passphrase. Default: a fresh random one, kept in a file (mode 0600)
    /// in the stack's temporary directory so that a janitor can still destroy a leaked
    /// stack; with a shared backend, give the passphrase the janitor will use.
    pub fn passphrase(mut self, passphrase: Secret) -> Self {
        self.passphrase = Some(passphrase);
        self
    }

    /// The CLI to use (default: [`PulumiCommand::find`]):
    /// [`LocalWorkspaceBuilder::pulumi_command`].
    pub fn pulumi_command(self, pulumi: PulumiCommand) -> Self {
        self.workspace(|b| b.pulumi_command(pulumi))
    }

    /// An environment variable for every `pulumi` process of this stack:
    /// [`LocalWorkspaceBuilder::env`].
    pub fn env(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.workspace(|b| b.env(key, value))
    }

    /// The run id recorded in the tag (default: `$GITHUB_RUN_ID`, `$CI_PIPELINE_ID`, or
    /// `<host>-<pid>`).
    pub fn run_id(mut self, id: impl Into<String>) -> Self {
        self.run_id = Some(id.into());
        self
    }

    /// Where to write the ledger entry (default [`default_ledger_dir`]).
    pub fn ledger_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.ledger_dir = Some(dir.into());
        self
    }

    /// Creates the stack: checks the inputs and the ledger directory (before any
    /// process; see [`check_private_dir`](super::check_private_dir)), makes the temporary
    /// directory, writes the ledger entry, then `stack init`, the tag and the config
    /// (three processes; four when there are both plain and path config keys).
    /// If a step after `stack init` fails, the stack is torn down again before the error
    /// is returned.
    pub async fn create(self) -> Result<EphemeralStack> {
        check_prefix(&self.prefix)?;
        for (key, _) in &self.config {
            crate::workspace::validate_config_key(key.as_str(), key.is_path())?;
        }
        let ledger_dir = self.ledger_dir.clone().unwrap_or_else(default_ledger_dir);
        // A ledger others could plant entries in is refused before anything exists.
        let checked = ledger_dir.clone();
        blocking(move || super::ledger::ensure_private_dir(&checked)).await?;
        let (prefix, given, run_id) = (
            self.prefix.clone(),
            self.passphrase.clone(),
            self.run_id.clone(),
        );
        let scratch = blocking(move || Scratch::make(&prefix, given, run_id)).await?;
        let temp = scratch.temp.clone();
        match self.create_in(scratch, ledger_dir).await {
            Ok(stack) => Ok(stack),
            Err(e) => {
                // Nothing of the stack exists yet (create_in tears down what it made):
                // the directory holds no state worth keeping.
                let _ = blocking(move || Ok(std::fs::remove_dir_all(&temp))).await;
                Err(e)
            }
        }
    }

    /// The workspace of the stack, on its backend, `PULUMI_HOME` and passphrase, and the
    /// ledger entry that records them.
    async fn build_workspace(&self, s: &Scratch) -> Result<(LocalWorkspace, LedgerEntry)> {
        let backend_url = match &self.backend_url {
            Some(url) => url.clone(),
            None => format!("file://{}", s.temp.join("state").display()),
        };
        let home = self
            .pulumi_home
            .clone()
            .unwrap_or_else(|| s.temp.join("home"));
        let ws = self
            .workspace
            .clone()
            .backend_url(&backend_url)
            .pulumi_home(&home)
            .passphrase(s.passphrase.clone())
            .build()
            .await?;
        let entry = LedgerEntry {
            stack: s.name.clone(),
            program_dir: ws.work_dir().to_path_buf(),
            backend_url,
            pulumi_home: home,
            temp_dir: s.temp.clone(),
            marker: s.marker.clone(),
            isolated: self.backend_url.is_none(),
            passphrase_file: s.passphrase_file.clone(),
            tag: s.tag.clone(),
        };
        Ok((ws, entry))
    }

    /// Records the stack in the ledger, creates it, then tags it and sets its config.
    async fn create_in(self, s: Scratch, ledger_dir: PathBuf) -> Result<EphemeralStack> {
        let (ws, entry) = self.build_workspace(&s).await?;
        let ledger_file = {
            let entry = entry.clone();
            blocking(move || entry.write(&ledger_dir)).await?
        };
        let stack = match ws.create_stack(&s.name).await {
            Ok(stack) => stack,
            Err(e) => {
                let _ = blocking(move || Ok(std::fs::remove_file(&ledger_file))).await;
                return Err(e);
            }
        };
        let guard = EphemeralStack::arm(stack, entry, ledger_file);
        match set_up(&guard, &s.tag, self.config).await {
            Ok(()) => Ok(guard),
            Err(e) => {
                if let Err(t) = guard.teardown().await {
                    tracing::error!(stack = %s.name, error = %t, "tearing down a half-made ephemeral stack failed");
                }
                Err(e)
            }
        }
    }
}

/// Tags a new ephemeral stack and sets its config.
async fn set_up(
    guard: &EphemeralStack,
    tag: &EphemeralTag,
    config: Vec<(ConfigKey, ConfigSetValue)>,
) -> Result<()> {
    guard
        .stack()
        .set_tag(EPHEMERAL_TAG, &tag.to_value())
        .await?;
    // `config set-all` takes plain keys or path keys, not both: one call each.
    let (paths, plain): (Vec<_>, Vec<_>) = config.into_iter().partition(|(k, _)| k.is_path());
    guard.stack().set_all_config(plain).await?;
    guard.stack().set_all_config(paths).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_a_backend_password() {
        let b = EphemeralStack::builder("/p")
            .backend_url("postgres://u:hunter2-pw@h/db")
            .passphrase(Secret::new("a-passphrase"))
            .workspace(|w| w.backend_url("postgres://u:other-pw@h/db"));
        let text = format!("{b:?}");
        assert!(!text.contains("hunter2-pw"), "{text}");
        assert!(!text.contains("other-pw"), "{text}");
        assert!(!text.contains("a-passphrase"), "{text}");
        assert!(text.contains("postgres://u:"), "{text}");
    }
}
