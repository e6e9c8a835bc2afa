//! The bottom layer: finding the `pulumi` binary, reading its version once, and running it.
//!
//! [`PulumiCommand`] is a cheap-to-clone handle on one binary. It is found in this order,
//! as the official SDKs look for it: an explicit path, the `PULUMI_AUTO_CLI` environment
//! variable, `PATH`, then `~/.pulumi/bin` (where Pulumi's installer puts it). The project's
//! own install cache ([`installed_bin_dir`]) is for its scripts and tests, which pass the
//! binary explicitly.
//!
//! Its version is read once per binary file: the first [`PulumiCommand::at`] of a process
//! runs `pulumi version` unless an earlier process of this user already recorded the same
//! file's version in `<cache dir>/cli-versions` (keyed by device, inode, size and
//! modification time, so a replaced binary is read afresh; used only when that directory
//! is private to the user).
//!
//! ```no_run
//! # async fn demo() -> pulumi_auto::Result<()> {
//! use pulumi_auto::cli::{Invocation, PulumiCommand};
//! let pulumi = PulumiCommand::find().await?;
//! println!("pulumi {:?} at {}", pulumi.version(), pulumi.path().display());
//! let out = pulumi.run(Invocation::new(["whoami", "--json"])).await?;
//! println!("{}", out.stdout);
//! # Ok(()) }
//! ```

pub(crate) mod classify;
mod memfile;
pub mod orphans;
mod output;
mod process;
pub(crate) mod procfs;
mod registry;
mod version;
mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use orphans::{DRIVER_ENV, Leftovers, reap_orphans};
pub use process::{CancelPolicy, CommandOutput, Invocation, LineCallback};
pub use version::{MINIMUM_VERSION, parse_version, pinned_version};

use crate::error::{Error, Result};

/// The environment variable naming a `pulumi` executable to use.
pub const CLI_ENV: &str = "PULUMI_AUTO_CLI";
/// The environment variable that overrides the install cache's root directory.
pub const CACHE_ENV: &str = "PULUMI_AUTO_CACHE_DIR";
/// The environment variable that skips the minimum-version check (as the official SDKs).
pub const SKIP_VERSION_CHECK_ENV: &str = "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK";

/// A `pulumi` binary, with its version read once per binary file (see the module docs).
#[derive(Clone)]
pub struct PulumiCommand {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    version: Option<semver::Version>,
}

impl std::fmt::Debug for PulumiCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PulumiCommand")
            .field("path", &self.inner.path)
            .field(
                "version",
                &self.inner.version.as_ref().map(ToString::to_string),
            )
            .finish()
    }
}

/// The root of the install cache.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("pulumi-auto"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("pulumi-auto"))
}

/// Where `scripts/install-pulumi` puts the pinned CLI's binaries (not searched by
/// [`locate`]: the project's scripts pass the binary in `PULUMI_AUTO_CLI`).
pub fn installed_bin_dir() -> Option<PathBuf> {
    cache_dir().map(|c| c.join(format!("pulumi-v{}", pinned_version())).join("bin"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Finds the `pulumi` executable without running it (see the module docs for the order).
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
    let mut searched = Vec::new();
    if let Some(p) = explicit {
        if is_executable(p) {
            return Ok(p.to_path_buf());
        }
        return Err(Error::CliNotFound {
            searched: vec![format!(
                "{} (given explicitly; missing or not executable)",
                p.display()
            )],
        });
    }
    if let Some(p) = std::env::var_os(CLI_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if is_executable(&p) {
            return Ok(p);
        }
        return Err(Error::CliNotFound {
            searched: vec![format!(
                "{} (from {CLI_ENV}; missing or not executable)",
                p.display()
            )],
        });
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("pulumi");
            if is_executable(&p) {
                return Ok(p);
            }
        }
        searched.push("PATH".into());
    }
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        let p = PathBuf::from(home).join(".pulumi/bin/pulumi");
        if is_executable(&p) {
            return Ok(p);
        }
        searched.push(p.display().to_string());
    }
    Err(Error::CliNotFound { searched })
}

fn skip_version_check() -> bool {
    std::env::var(SKIP_VERSION_CHECK_ENV)
        .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true"))
        .unwrap_or(false)
}

impl PulumiCommand {
    /// Finds the CLI (module docs give the order) and checks its version.
    pub async fn find() -> Result<Self> {
        Self::at(locate(None)?).await
    }

    /// Uses the CLI at `path` without reading its version: no `pulumi version` process,
    /// and no minimum-version check ([`version`](Self::version) is `None`). What
    /// [`at`](Self::at) and [`find`](Self::find) do when
    /// `PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK` is `true`, as the official SDKs allow;
    /// for a caller that pins its CLI and wants no process it does not need.
    pub fn at_unchecked(path: impl Into<PathBuf>) -> Result<Self> {
        let path = locate(Some(&path.into()))?;
        Ok(PulumiCommand {
            inner: Arc::new(Inner {
                path,
                version: None,
            }),
        })
    }

    /// Uses the CLI at `path` and checks its version (read once per binary file: see the
    /// module docs).
    pub async fn at(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        if skip_version_check() {
            return Self::at_unchecked(path);
        }
        let path = locate(Some(&path))?;
        let read_path = path.clone();
        let version = version::cached_version(&path, || async move {
            let inv = Invocation::new(["version"]);
            let out = process::run_raw(&read_path, &BTreeMap::new(), inv)
                .await
                .map_err(|e| e.to_string())?;
            if out.success() {
                Ok(out.stdout)
            } else {
                let tail: String = out.stderr.trim().chars().rev().take(500).collect();
                Err(format!(
                    "`pulumi version` exited with {:?}: {}",
                    out.exit_code,
                    tail.chars().rev().collect::<String>()
                ))
            }
        })
        .await;
        let version = match version {
            Ok(v) if v < MINIMUM_VERSION => {
                return Err(Error::CliVersionUnsupported {
                    path,
                    found: v,
                    minimum: MINIMUM_VERSION,
                });
            }
            Ok(v) => Some(v),
            Err(output) => return Err(Error::CliVersionUnparsable { path, output }),
        };
        Ok(PulumiCommand {
            inner: Arc::new(Inner { path, version }),
        })
    }

    /// The binary's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The binary's version (`None` when the check was skipped: see
    /// [`at_unchecked`](Self::at_unchecked)).
    pub fn version(&self) -> Option<&semver::Version> {
        self.inner.version.as_ref()
    }

    /// Runs a command and returns its output, or the most specific error for a non-zero
    /// exit (carrying exit code, output tails and the command, secrets redacted).
    ///
    /// A raw escape hatch: the arguments go to the CLI as given, outside every check of
    /// this crate. No destroy approval, no protection tag, no check of extra arguments or
    /// names applies: `pulumi destroy`, `stack rm --force` or a lossy `stack import` run
    /// here run unasked.
    pub async fn run(&self, inv: Invocation) -> Result<CommandOutput> {
        self.run_with_env(&BTreeMap::new(), inv).await
    }

    /// Like [`run`](Self::run), with a base environment (set or remove) applied first.
    pub async fn run_with_env(
        &self,
        base_env: &BTreeMap<String, Option<String>>,
        inv: Invocation,
    ) -> Result<CommandOutput> {
        let redact = inv.redact.clone();
        let stack = inv.stack.clone();
        let out = process::run_raw(&self.inner.path, base_env, inv).await?;
        process::check(out, &redact, stack.as_deref())
    }

    /// Runs a command and returns its output whatever the exit code.
    pub async fn run_unchecked(
        &self,
        base_env: &BTreeMap<String, Option<String>>,
        inv: Invocation,
    ) -> Result<CommandOutput> {
        process::run_raw(&self.inner.path, base_env, inv).await
    }
}

pub(crate) use process::failure_of;

/// A path made absolute for the CLI's command line: the CLI runs in the workspace's
/// directory, while a relative path names one relative to this process's. `what` names
/// it in the error.
pub(crate) fn absolute(what: &str, p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::invalid(what, format!("{}: {e}", p.display())))
}
