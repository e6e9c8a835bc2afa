//! Ephemeral stacks for test harnesses: created with a unique name, torn down even when
//! the test panics, and never leaked silently.
//!
//! An [`EphemeralStack`] is a guard. [`EphemeralStack::builder`] creates a stack with a
//! unique name (`<prefix>-<time>-<random>`) on an isolated backend by default (a
//! temporary directory of its own holding the file backend and `PULUMI_HOME`), tags it
//! [`EPHEMERAL_TAG`] with its owner, host, process, creation time and run id, and sets
//! its config. [`teardown`](EphemeralStack::teardown) destroys its resources, removes the
//! stack and deletes its temporary directory. A guard dropped without a teardown (a
//! panicking test, an early `?` return) tears down in its `Drop`, on a thread of its own
//! with its own runtime, so it works inside and outside async code.
//!
//! Nothing is leaked silently: before the stack exists, a ledger entry (a small JSON
//! file in [`default_ledger_dir`]) records where it lives; the entry goes only when the
//! teardown has succeeded. A process killed outright (SIGKILL, a CI timeout) leaves the
//! entry and the tagged stack behind, and the janitor ([`sweep`], [`sweep_ledger`])
//! removes them on a later run.
//!
//! The ledger is trusted only as far as it can be: its directory must be the user's own
//! and private (checked on every write and sweep, refused otherwise), and the janitor
//! acts on an entry only when the world agrees with it. The temporary directory must
//! hold the marker file [`MARKER_FILE`] with the random id the entry records (so only a
//! directory this library made is ever deleted), and the stack on the backend must
//! carry the entry's own [`EPHEMERAL_TAG`] and not be tagged protected.
//!
//! Setting [`KEEP_ENV`] (`PULUMI_AUTO_KEEP_EPHEMERAL=1`) keeps stacks for debugging: the
//! teardown logs where the stack is and leaves it, and its ledger entry, in place.
//!
//! ```no_run
//! use pulumi_auto::ephemeral::EphemeralStack;
//! use pulumi_auto::ops::UpOptions;
//!
//! # async fn demo() -> pulumi_auto::Result<()> {
//! let stack = EphemeralStack::builder("fixtures/programs/files")
//!     .prefix("files-test")
//!     .config("dir", "/tmp/files-test")
//!     .create()
//!     .await?;
//! let up = stack.up(UpOptions::default()).await?;
//! assert!(up.outputs.contains_key("files"));
//! stack.teardown().await?; // or let it drop: the guard tears down anyway
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::approval::{DestroyApproval, is_protected};
use crate::cli::PulumiCommand;
use crate::error::{Error, Result};
use crate::ops::{DestroyOptions, UpOptions, UpResult};
use crate::secret::Secret;
use crate::stack::{ConfigKey, ConfigSetValue, Stack};
use crate::workspace::{LocalWorkspace, LocalWorkspaceBuilder, redact_url};

/// The stack tag that marks an ephemeral stack; its value is an [`EphemeralTag`] as JSON.
pub const EPHEMERAL_TAG: &str = "pulumi-auto:ephemeral";

/// Set to `1` (or `true`) to keep ephemeral stacks instead of tearing them down.
pub const KEEP_ENV: &str = "PULUMI_AUTO_KEEP_EPHEMERAL";

/// Overrides the ledger directory ([`default_ledger_dir`]).
pub const LEDGER_ENV: &str = "PULUMI_AUTO_EPHEMERAL_LEDGER";

/// The longest prefix accepted, leaving room for the suffix within the CLI's name limit.
pub const MAX_PREFIX_LEN: usize = 60;

/// The file, in an ephemeral stack's temporary directory, that holds the random id its
/// ledger entry records ([`LedgerEntry::marker`]): a directory without it, or with
/// another id, is never deleted.
pub const MARKER_FILE: &str = ".pulumi-auto-ephemeral";

/// Who made an ephemeral stack, where and when: the value of its [`EPHEMERAL_TAG`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EphemeralTag {
    /// The user that created it (`$USER`, or the numeric uid).
    pub owner: String,
    /// The host it was created on.
    pub host: String,
    /// The creating process.
    pub pid: u32,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// The run that created it: the builder's [`run_id`](EphemeralStackBuilder::run_id),
    /// by default `$GITHUB_RUN_ID`, `$CI_PIPELINE_ID` or `<host>-<pid>`.
    pub run_id: String,
}

impl EphemeralTag {
    fn now(run_id: Option<String>) -> EphemeralTag {
        let host = hostname();
        let pid = std::process::id();
        let run_id = run_id
            .or_else(|| std::env::var("GITHUB_RUN_ID").ok())
            .or_else(|| std::env::var("CI_PIPELINE_ID").ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("{host}-{pid}"));
        EphemeralTag {
            owner: owner(),
            host,
            pid,
            created: unix_now(),
            run_id,
        }
    }

    /// Parses a tag value; `None` when it is not one of ours.
    ///
    /// ```
    /// use pulumi_auto::ephemeral::EphemeralTag;
    /// let t = EphemeralTag::parse(
    ///     r#"{"owner":"ci","host":"h","pid":7,"created":1700000000,"run_id":"r1"}"#,
    /// ).unwrap();
    /// assert_eq!(t.pid, 7);
    /// assert!(EphemeralTag::parse("true").is_none());
    /// ```
    pub fn parse(value: &str) -> Option<EphemeralTag> {
        serde_json::from_str(value).ok()
    }

    /// The tag value (compact JSON).
    pub fn to_value(&self) -> String {
        // Plain strings and integers: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// How old the stack is at `now` (zero if it claims to be from the future).
    pub fn age(&self, now: SystemTime) -> Duration {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Duration::from_secs(now.saturating_sub(self.created))
    }
}

/// True when `PULUMI_AUTO_KEEP_EPHEMERAL` asks to keep ephemeral stacks.
pub fn keep_requested() -> bool {
    keep_value(std::env::var(KEEP_ENV).ok().as_deref())
}

fn keep_value(v: Option<&str>) -> bool {
    v.map(|v| {
        let v = v.trim();
        !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
    })
    .unwrap_or(false)
}

/// Where ledger entries go by default: `$PULUMI_AUTO_EPHEMERAL_LEDGER`, else
/// `ephemeral-ledger` in the crate's cache directory ([`crate::cli::cache_dir`]), else
/// (no `HOME`, `XDG_CACHE_HOME` or `PULUMI_AUTO_CACHE_DIR`: systemd units, some CI) in a
/// directory of the user's own in the system temp directory, `pulumi-auto-<uid>`.
///
/// Whichever it is, it is used only while it is private (see [`check_private_dir`]).
pub fn default_ledger_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(LEDGER_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    match crate::cli::cache_dir() {
        Some(cache) => cache.join("ephemeral-ledger"),
        None => fallback_ledger_dir(&std::env::temp_dir(), nix::unistd::geteuid().as_raw()),
    }
}

/// The ledger directory without a cache directory: per user, in `temp`.
fn fallback_ledger_dir(temp: &Path, uid: u32) -> PathBuf {
    temp.join(format!("pulumi-auto-{uid}"))
        .join("ephemeral-ledger")
}

/// Checks that `dir` is fit to hold a ledger: a directory (not a symlink) owned by this
/// user, that no other user can write to or read; its parent owned by this user or root
/// and not writable by others (unless sticky, as `/tmp`), so nobody can swap it.
///
/// A directory of the user's own that others can read but not write (an older ledger
/// made with the umask's `0755`) is made `0700`. Anything else is refused with
/// [`Error::InvalidInput`] naming the directory and the problem; nothing is changed then.
pub fn check_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let uid = nix::unistd::geteuid().as_raw();
    let refuse = |why: String| {
        Err(Error::invalid(
            "ephemeral ledger directory",
            format!(
                "{}: {why}; it must be a private directory (mode 0700) of your own",
                dir.display()
            ),
        ))
    };
    let meta = std::fs::symlink_metadata(dir).map_err(|e| {
        Error::io(
            format!("checking the ledger directory {}", dir.display()),
            e,
        )
    })?;
    if meta.file_type().is_symlink() {
        return refuse("it is a symbolic link".into());
    }
    if !meta.is_dir() {
        return refuse("it is not a directory".into());
    }
    if meta.uid() != uid {
        return refuse(format!(
            "it is owned by uid {}, not by you (uid {uid})",
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return refuse(format!("other users may write to it (mode {mode:04o})"));
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        let p = std::fs::metadata(parent)
            .map_err(|e| Error::io(format!("checking the directory {}", parent.display()), e))?;
        let pmode = p.mode() & 0o7777;
        let sticky = pmode & 0o1000 != 0;
        if p.uid() != uid && p.uid() != 0 {
            return refuse(format!(
                "its parent {} is owned by uid {}, who could replace it",
                parent.display(),
                p.uid()
            ));
        }
        if pmode & 0o022 != 0 && !sticky {
            return refuse(format!(
                "other users may write to its parent {} (mode {pmode:04o}) and replace it",
                parent.display()
            ));
        }
    }
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            Error::io(
                format!("making the ledger directory {} private", dir.display()),
                e,
            )
        })?;
        tracing::info!(dir = %dir.display(), "made the ephemeral ledger directory private (0700)");
    }
    Ok(())
}

/// Creates the ledger directory if missing (mode 0700, missing parents too), then checks
/// it ([`check_private_dir`]).
fn ensure_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if std::fs::symlink_metadata(dir).is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(format!("creating the ledger {}", dir.display()), e))?;
    }
    check_private_dir(dir)
}

/// A unique, time-ordered stack name: `<prefix>-<unix millis, hex>-<random, 8 hex>`.
///
/// ```
/// let a = pulumi_auto::ephemeral::unique_name("t");
/// let b = pulumi_auto::ephemeral::unique_name("t");
/// assert_ne!(a, b);
/// assert!(a.starts_with("t-"));
/// pulumi_auto::workspace::validate_stack_name(&a).unwrap();
/// ```
pub fn unique_name(prefix: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let bytes = random_bytes::<4>();
    format!("{prefix}-{millis:011x}-{}", hex(&bytes))
}

fn check_prefix(prefix: &str) -> Result<()> {
    let bad = |reason: String| Err(Error::invalid("ephemeral stack prefix", reason));
    if prefix.is_empty() {
        return bad("the prefix may not be empty".into());
    }
    if prefix.len() > MAX_PREFIX_LEN {
        return bad(format!(
            "{prefix:?} is longer than {MAX_PREFIX_LEN} characters"
        ));
    }
    if let Some(c) = prefix
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return bad(format!(
            "{prefix:?}: may only contain alphanumerics, hyphens, underscores or periods (not {c:?})"
        ));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    let from_os = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut out));
    if from_os.is_err() {
        // No /dev/urandom: the standard library's randomly keyed hasher, over a counter.
        use std::hash::{BuildHasher, Hasher};
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        for chunk in out.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            h.write_u128(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            let v = h.finish().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    out
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

fn owner() -> String {
    std::env::var("USER")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata("/proc/self")
                .map(|m| format!("uid-{}", m.uid()))
                .unwrap_or_else(|_| "unknown-user".into())
        })
}

/// Names of the guards alive in this process: the janitor never sweeps them.
fn live_guards() -> &'static Mutex<HashSet<String>> {
    static LIVE: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(HashSet::new()))
}

fn set_live(name: &str, live: bool) {
    let mut set = match live_guards().lock() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    };
    if live {
        set.insert(name.to_owned());
    } else {
        set.remove(name);
    }
}

fn is_live_here(name: &str) -> bool {
    match live_guards().lock() {
        Ok(s) => s.contains(name),
        Err(poisoned) => poisoned.into_inner().contains(name),
    }
}

/// Builds an [`EphemeralStack`]. See the [module docs](self).
#[must_use]
pub struct EphemeralStackBuilder {
    program: PathBuf,
    prefix: String,
    config: Vec<(ConfigKey, ConfigSetValue)>,
    backend_url: Option<String>,
    pulumi_home: Option<PathBuf>,
    passphrase: Option<Secret>,
    pulumi: Option<PulumiCommand>,
    env: Vec<(String, String)>,
    run_id: Option<String>,
    ledger_dir: Option<PathBuf>,
}

impl std::fmt::Debug for EphemeralStackBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EphemeralStackBuilder")
            .field("program", &self.program)
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
            .field("run_id", &self.run_id)
            .field("ledger_dir", &self.ledger_dir)
            .finish_non_exhaustive()
    }
}

impl EphemeralStackBuilder {
    /// The name's prefix (default `ephemeral`): `[A-Za-z0-9_.-]`, at most
    /// [`MAX_PREFIX_LEN`] characters.
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

    /// The CLI to use (default: [`PulumiCommand::find`]).
    pub fn pulumi_command(mut self, pulumi: PulumiCommand) -> Self {
        self.pulumi = Some(pulumi);
        self
    }

    /// An environment variable for every `pulumi` process of this stack.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
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
    /// process; see [`check_private_dir`]), makes the temporary directory, writes the
    /// ledger entry, then `stack init`, the tag and the config
    /// (three processes; four when there are both plain and path config keys).
    /// If a step after `stack init` fails, the stack is torn down again before the error
    /// is returned.
    pub async fn create(self) -> Result<EphemeralStack> {
        check_prefix(&self.prefix)?;
        for (key, _) in &self.config {
            crate::workspace::validate_config_key(key.as_str(), key.is_path())?;
        }
        let name = unique_name(&self.prefix);
        let ledger_dir = self.ledger_dir.clone().unwrap_or_else(default_ledger_dir);
        // A ledger others could plant entries in is refused before anything exists.
        ensure_private_dir(&ledger_dir)?;

        let temp = tempfile::Builder::new()
            .prefix("pulumi-auto-ephemeral-")
            .tempdir()
            .map_err(|e| Error::io("creating an ephemeral stack's temporary directory", e))?
            .keep();
        // The id that proves, to a later janitor, that this library made the directory.
        let marker = hex(&random_bytes::<16>());
        if let Err(e) = write_private(&temp.join(MARKER_FILE), &marker) {
            let _ = std::fs::remove_dir_all(&temp);
            return Err(e);
        }
        match self.create_in(&name, &temp, &marker, &ledger_dir).await {
            Ok(stack) => Ok(stack),
            Err(e) => {
                // Nothing of the stack exists yet (create_in tears down what it made):
                // the directory holds no state worth keeping.
                let _ = std::fs::remove_dir_all(&temp);
                Err(e)
            }
        }
    }

    async fn create_in(
        self,
        name: &str,
        temp: &Path,
        marker: &str,
        ledger_dir: &Path,
    ) -> Result<EphemeralStack> {
        let isolated = self.backend_url.is_none();
        let backend_url = match &self.backend_url {
            Some(url) => url.clone(),
            None => format!("file://{}", temp.join("state").display()),
        };
        let home = self
            .pulumi_home
            .clone()
            .unwrap_or_else(|| temp.join("home"));
        let (passphrase, passphrase_file) = match &self.passphrase {
            Some(p) => (p.clone(), None),
            None => {
                let p = Secret::new(hex(&random_bytes::<24>()));
                let file = temp.join("passphrase");
                write_private(&file, p.expose())?;
                (p, Some(file))
            }
        };

        let mut builder = LocalWorkspace::builder(&self.program)
            .backend_url(&backend_url)
            .pulumi_home(&home)
            .passphrase(passphrase);
        for (k, v) in &self.env {
            builder = builder.env(k, v);
        }
        if let Some(p) = self.pulumi.clone() {
            builder = builder.pulumi_command(p);
        }
        let ws = builder.build().await?;

        let tag = EphemeralTag::now(self.run_id.clone());
        let entry = LedgerEntry {
            stack: name.to_owned(),
            program_dir: ws.work_dir().to_path_buf(),
            backend_url: backend_url.clone(),
            pulumi_home: home.clone(),
            temp_dir: temp.to_path_buf(),
            marker: marker.to_owned(),
            isolated,
            passphrase_file,
            tag: tag.clone(),
        };
        let ledger_file = entry.write(ledger_dir)?;

        let stack = match ws.create_stack(name).await {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_file(&ledger_file);
                return Err(e);
            }
        };
        set_live(name, true);
        let guard = EphemeralStack {
            inner: Some(Live {
                stack,
                entry,
                ledger_file,
            }),
        };
        let setup = async {
            guard
                .stack()
                .set_tag(EPHEMERAL_TAG, &tag.to_value())
                .await?;
            // `config set-all` takes plain keys or path keys, not both: one call each.
            let (paths, plain): (Vec<_>, Vec<_>) =
                self.config.iter().cloned().partition(|(k, _)| k.is_path());
            guard.stack().set_all_config(plain).await?;
            guard.stack().set_all_config(paths).await?;
            Ok::<(), Error>(())
        };
        match setup.await {
            Ok(()) => Ok(guard),
            Err(e) => {
                if let Err(t) = guard.teardown().await {
                    tracing::error!(stack = name, error = %t, "tearing down a half-made ephemeral stack failed");
                }
                Err(e)
            }
        }
    }
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// A ledger entry: where an ephemeral stack lives, written before the stack is created and
/// removed after its teardown succeeded. Its file (mode 0600) holds the backend URL as
/// given, password included, so that a janitor can reach the backend; its `Debug` hides
/// the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The stack's name.
    pub stack: String,
    /// The program directory (the workspace's `work_dir`).
    pub program_dir: PathBuf,
    /// The backend URL.
    pub backend_url: String,
    /// The `PULUMI_HOME` used.
    pub pulumi_home: PathBuf,
    /// The stack's temporary directory, deleted by its teardown.
    pub temp_dir: PathBuf,
    /// The random id in `temp_dir`'s [`MARKER_FILE`]: the directory is deleted only while
    /// it holds this id (empty in entries of older versions: their directories are kept).
    #[serde(default)]
    pub marker: String,
    /// Whether the backend lives in `temp_dir`.
    pub isolated: bool,
    /// The file holding the generated passphrase, if one was generated.
    pub passphrase_file: Option<PathBuf>,
    /// The stack's tag.
    pub tag: EphemeralTag,
}

impl std::fmt::Debug for LedgerEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerEntry")
            .field("stack", &self.stack)
            .field("program_dir", &self.program_dir)
            .field("backend_url", &redact_url(&self.backend_url))
            .field("pulumi_home", &self.pulumi_home)
            .field("temp_dir", &self.temp_dir)
            .field("marker", &self.marker)
            .field("isolated", &self.isolated)
            .field("passphrase_file", &self.passphrase_file)
            .field("tag", &self.tag)
            .finish()
    }
}

impl LedgerEntry {
    fn write(&self, dir: &Path) -> Result<PathBuf> {
        ensure_private_dir(dir)?;
        let file = dir.join(format!("{}.json", self.stack));
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::invalid("ledger entry", e.to_string()))?;
        write_private(&file, &text)?;
        Ok(file)
    }

    /// Reads every entry of a ledger directory; unreadable files are reported, not fatal,
    /// and so is a file that is not a regular file of this user's (a symbolic link, or
    /// one another user put there). The directory itself is not checked here (see
    /// [`check_private_dir`], which [`sweep_ledger`] runs first).
    pub fn read_all(dir: &Path) -> Ledger {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Ledger {
                entries: ok,
                unreadable: bad,
            };
        };
        for e in rd.flatten() {
            let path = e.path();
            if path.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            match read_own_file(&path)
                .and_then(|t| serde_json::from_str::<LedgerEntry>(&t).map_err(|e| e.to_string()))
            {
                Ok(entry) => ok.push((path, entry)),
                Err(e) => bad.push((path, e)),
            }
        }
        ok.sort_by(|a, b| a.0.cmp(&b.0));
        Ledger {
            entries: ok,
            unreadable: bad,
        }
    }
}

/// The text of a regular file owned by this user (not through a symbolic link).
fn read_own_file(path: &Path) -> std::result::Result<String, String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| e.to_string())?;
    let meta = f.metadata().map_err(|e| e.to_string())?;
    let uid = nix::unistd::geteuid().as_raw();
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.uid() != uid {
        return Err(format!(
            "owned by uid {}, not by you (uid {uid})",
            meta.uid()
        ));
    }
    let mut text = String::new();
    f.read_to_string(&mut text).map_err(|e| e.to_string())?;
    Ok(text)
}

/// The contents of a ledger directory.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// Each entry with its file.
    pub entries: Vec<(PathBuf, LedgerEntry)>,
    /// Files that could not be read or parsed, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

struct Live {
    stack: Stack,
    entry: LedgerEntry,
    ledger_file: PathBuf,
}

/// A stack that exists for as long as this guard: see the [module docs](self).
///
/// It derefs to its [`Stack`], so every stack operation is available on it; destroying it
/// needs no approval ([`teardown`](Self::teardown) carries its own).
pub struct EphemeralStack {
    inner: Option<Live>,
}

impl std::fmt::Debug for EphemeralStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Some(l) => f
                .debug_struct("EphemeralStack")
                .field("stack", &l.entry.stack)
                .field("backend_url", &redact_url(&l.entry.backend_url))
                .field("temp_dir", &l.entry.temp_dir)
                .finish(),
            None => f.write_str("EphemeralStack(torn down)"),
        }
    }
}

/// What a teardown did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TeardownOutcome {
    /// Resources destroyed, stack removed, temporary directory and ledger entry deleted.
    Removed {
        /// The stack's name.
        stack: String,
    },
    /// Kept because [`KEEP_ENV`] is set (or [`EphemeralStack::keep`] was called); its
    /// ledger entry stays so a janitor can remove it later.
    Kept {
        /// Where it lives.
        entry: Box<LedgerEntry>,
    },
}

impl EphemeralStack {
    /// A builder for an ephemeral stack of the program in `program_dir`.
    pub fn builder(program_dir: impl Into<PathBuf>) -> EphemeralStackBuilder {
        EphemeralStackBuilder {
            program: program_dir.into(),
            prefix: "ephemeral".into(),
            config: Vec::new(),
            backend_url: None,
            pulumi_home: None,
            passphrase: None,
            pulumi: None,
            env: Vec::new(),
            run_id: None,
            ledger_dir: None,
        }
    }

    fn live(&self) -> &Live {
        match &self.inner {
            Some(l) => l,
            // `inner` is only taken by methods that consume the guard.
            None => unreachable!("an ephemeral stack is used after its teardown"),
        }
    }

    /// The stack.
    pub fn stack(&self) -> &Stack {
        &self.live().stack
    }

    /// The stack's name.
    pub fn name(&self) -> &str {
        &self.live().entry.stack
    }

    /// Its workspace.
    pub fn workspace(&self) -> &LocalWorkspace {
        self.live().stack.workspace()
    }

    /// Where it lives (the ledger entry).
    pub fn entry(&self) -> &LedgerEntry {
        &self.live().entry
    }

    /// `pulumi up` on the stack ([`Stack::up`]).
    pub async fn up(&self, opts: UpOptions) -> Result<UpResult> {
        self.stack().up(opts).await
    }

    /// Destroys the stack's resources, removes the stack (one process: `destroy
    /// --remove`), deletes its temporary directory and its ledger entry. When [`KEEP_ENV`] is set it keeps everything
    /// instead and says where. On failure nothing more is deleted: the state and the
    /// ledger entry stay, so no resource is lost track of, and the error says why.
    pub async fn teardown(mut self) -> Result<TeardownOutcome> {
        let Some(live) = self.inner.take() else {
            return Err(Error::invalid("ephemeral stack", "already torn down"));
        };
        if keep_requested() {
            return Ok(keep(live));
        }
        teardown_live(live).await
    }

    /// Disarms the guard and keeps the stack, as [`KEEP_ENV`] does; returns where it is.
    /// A janitor can remove it later.
    pub fn keep(mut self) -> LedgerEntry {
        match self.inner.take() {
            Some(live) => match keep(live) {
                TeardownOutcome::Kept { entry } => *entry,
                TeardownOutcome::Removed { .. } => unreachable!("keep never removes"),
            },
            None => unreachable!("an ephemeral stack is used after its teardown"),
        }
    }
}

impl std::ops::Deref for EphemeralStack {
    type Target = Stack;
    fn deref(&self) -> &Stack {
        self.stack()
    }
}

fn keep(live: Live) -> TeardownOutcome {
    set_live(&live.entry.stack, false);
    tracing::warn!(
        stack = %live.entry.stack,
        backend = %redact_url(&live.entry.backend_url),
        ledger = %live.ledger_file.display(),
        "keeping ephemeral stack"
    );
    TeardownOutcome::Kept {
        entry: Box::new(live.entry),
    }
}

async fn teardown_live(live: Live) -> Result<TeardownOutcome> {
    let name = live.entry.stack.clone();
    let result = remove_everything(&live.stack, &live.entry).await;
    match result {
        Ok(()) => {
            let _ = std::fs::remove_file(&live.ledger_file);
            set_live(&name, false);
            Ok(TeardownOutcome::Removed { stack: name })
        }
        Err(e) => {
            set_live(&name, false);
            tracing::error!(
                stack = %name,
                ledger = %live.ledger_file.display(),
                error = %e,
                "ephemeral stack teardown failed; it is kept in the ledger for a janitor"
            );
            Err(e)
        }
    }
}

/// Whether `entry.temp_dir` is the directory this library made for the entry: a real
/// directory of this user's holding the entry's marker. `Ok(false)` when it is gone.
fn check_temp_dir(entry: &LedgerEntry) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let dir = &entry.temp_dir;
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(format!("checking {}", dir.display()), e)),
    };
    let refuse = |why: &str| {
        Err(Error::invalid(
            "ephemeral temporary directory",
            format!(
                "{} {why}: it is not the directory pulumi-auto made for stack {:?}, and is left alone",
                dir.display(),
                entry.stack
            ),
        ))
    };
    if !meta.is_dir() || meta.file_type().is_symlink() {
        return refuse("is not a directory");
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return refuse("is not yours");
    }
    match read_own_file(&dir.join(MARKER_FILE)) {
        Ok(id) if !entry.marker.is_empty() && id == entry.marker => Ok(true),
        Ok(_) => refuse("holds another marker"),
        Err(_) => refuse(&format!("has no marker file {MARKER_FILE}")),
    }
}

/// Deletes an ephemeral stack's temporary directory, if it is still there and is the one
/// this library made for it ([`MARKER_FILE`]).
fn remove_temp_dir(entry: &LedgerEntry) -> Result<()> {
    if !check_temp_dir(entry)? {
        return Ok(());
    }
    std::fs::remove_dir_all(&entry.temp_dir).map_err(|e| {
        Error::io(
            format!(
                "removing the temporary directory {}",
                entry.temp_dir.display()
            ),
            e,
        )
    })
}

/// Destroy and remove (one process), delete the temp directory. Stops at the first
/// failure.
async fn remove_everything(stack: &Stack, entry: &LedgerEntry) -> Result<()> {
    let approval = DestroyApproval::ephemeral(entry.stack.clone());
    stack
        .destroy(DestroyOptions::default().remove(true), &approval)
        .await?;
    remove_temp_dir(entry)
}

impl Drop for EphemeralStack {
    fn drop(&mut self) {
        let Some(live) = self.inner.take() else {
            return;
        };
        if keep_requested() {
            keep(live);
            return;
        }
        let name = live.entry.stack.clone();
        let ledger = live.ledger_file.clone();
        // Async cleanup from a synchronous drop: a thread with a runtime of its own, joined,
        // so the stack is gone before the drop returns (also during a panic's unwinding,
        // and when the caller's runtime is single-threaded).
        let worker = std::thread::Builder::new()
            .name(format!("teardown-{name}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match rt {
                    Ok(rt) => rt.block_on(teardown_live(live)).map(drop),
                    Err(e) => {
                        set_live(&live.entry.stack, false);
                        Err(Error::io("starting a runtime for an ephemeral teardown", e))
                    }
                }
            });
        let outcome = match worker {
            Ok(handle) => match handle.join() {
                Ok(r) => r,
                Err(_) => Err(Error::invalid(
                    "ephemeral teardown",
                    "the teardown thread panicked",
                )),
            },
            Err(e) => Err(Error::io("starting a thread for an ephemeral teardown", e)),
        };
        if let Err(e) = outcome {
            tracing::error!(
                stack = %name,
                ledger = %ledger.display(),
                error = %e,
                "an ephemeral stack dropped without teardown could not be removed; \
                 it is recorded in the ledger for a janitor"
            );
        }
    }
}

/// What the janitor may sweep.
#[derive(Debug, Clone)]
#[must_use]
pub struct SweepOptions {
    /// Only stacks at least this old (by their tag's creation time). Default: one hour.
    pub min_age: Duration,
    /// Only list what would be removed.
    pub dry_run: bool,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            min_age: Duration::from_secs(3600),
            dry_run: false,
        }
    }
}

impl SweepOptions {
    /// Only stacks at least this old.
    pub fn min_age(mut self, age: Duration) -> Self {
        self.min_age = age;
        self
    }

    /// Only list what would be removed.
    pub fn dry_run(mut self, on: bool) -> Self {
        self.dry_run = on;
        self
    }
}

/// Why the janitor left an ephemeral stack alone.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// Younger than [`SweepOptions::min_age`].
    TooYoung,
    /// Its guard is alive in this process.
    LiveHere,
    /// Its creating process is still running on this host.
    OwnerRunning,
    /// It is also tagged protected.
    Protected,
    /// A dry run.
    DryRun,
}

/// What a sweep found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Ephemeral stacks removed (resources destroyed, stack removed).
    pub removed: Vec<String>,
    /// Ephemeral stacks left alone, and why.
    pub skipped: Vec<(String, SkipReason)>,
    /// Ephemeral stacks whose removal failed, with the error.
    pub failed: Vec<(String, String)>,
}

/// The janitor's decision for one tagged stack (pure: the caller says which processes
/// run).
pub fn sweep_decision(
    name: &str,
    tag: &EphemeralTag,
    protected: bool,
    now: SystemTime,
    opts: &SweepOptions,
    this_host: &str,
    pid_running: impl Fn(u32) -> bool,
) -> Option<SkipReason> {
    if is_live_here(name) {
        Some(SkipReason::LiveHere)
    } else if protected {
        Some(SkipReason::Protected)
    } else if tag.age(now) < opts.min_age {
        Some(SkipReason::TooYoung)
    } else if tag.host == this_host && tag.pid != std::process::id() && pid_running(tag.pid) {
        Some(SkipReason::OwnerRunning)
    } else if opts.dry_run {
        Some(SkipReason::DryRun)
    } else {
        None
    }
}

/// Whether a process runs: signal 0 succeeds, or fails only for lack of permission (a
/// process of another user runs too; only `ESRCH` means it is gone).
fn pid_running(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    probe_says_running(nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        None,
    ))
}

fn probe_says_running(probe: nix::Result<()>) -> bool {
    !matches!(probe, Err(nix::errno::Errno::ESRCH))
}

/// The janitor for a backend: finds the workspace's stacks tagged [`EPHEMERAL_TAG`] that
/// are old enough, whose guard is not alive in this process and whose creating process
/// is not running on this host, and destroys and removes them. Processes: one to list,
/// one per stack to read its tags, one per removed stack.
pub async fn sweep(ws: &LocalWorkspace, opts: &SweepOptions) -> Result<SweepReport> {
    let mut report = SweepReport::default();
    let this_host = hostname();
    let now = SystemTime::now();
    for summary in ws.list_stacks().await? {
        let name = summary.name;
        let Ok(stack) = ws.stack_handle(&name) else {
            continue;
        };
        let tags: BTreeMap<String, String> = match stack.list_tags().await {
            Ok(t) => t,
            Err(e) => {
                report.failed.push((name, e.to_string()));
                continue;
            }
        };
        let Some(tag) = tags.get(EPHEMERAL_TAG).and_then(|v| EphemeralTag::parse(v)) else {
            continue;
        };
        let decision = sweep_decision(
            &name,
            &tag,
            is_protected(&tags),
            now,
            opts,
            &this_host,
            pid_running,
        );
        if let Some(reason) = decision {
            report.skipped.push((name, reason));
            continue;
        }
        let approval = DestroyApproval::ephemeral(name.clone());
        let removed = stack
            .destroy(DestroyOptions::default().remove(true), &approval)
            .await;
        match removed {
            Ok(_) => {
                tracing::info!(stack = %name, "janitor removed a leftover ephemeral stack");
                report.removed.push(name);
            }
            Err(e) => report.failed.push((name, e.to_string())),
        }
    }
    Ok(report)
}

/// The janitor for the ledger: removes the stacks recorded in `ledger_dir` (default
/// [`default_ledger_dir`]) by earlier runs that never tore them down (killed processes),
/// on whatever backend each one used, then their temporary directories and entries.
/// The same rules as [`sweep`] decide which; the CLI is `pulumi` (default:
/// [`PulumiCommand::find`]).
///
/// The ledger directory must be private ([`check_private_dir`]; refused otherwise), and an
/// entry is acted on only when the world agrees with it: its temporary directory, if still
/// there, holds the entry's [`MARKER_FILE`] id, and the stack on the backend carries the
/// entry's own [`EPHEMERAL_TAG`] (else the entry is reported as failed and nothing is
/// touched); a stack also tagged protected is skipped ([`SkipReason::Protected`]).
/// Processes per entry whose stack is still there: `stack ls`, `stack tag ls` and the
/// removal (`destroy --remove`).
pub async fn sweep_ledger(
    ledger_dir: Option<&Path>,
    pulumi: Option<PulumiCommand>,
    opts: &SweepOptions,
) -> Result<SweepReport> {
    let dir = ledger_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(default_ledger_dir);
    let mut report = SweepReport::default();
    match std::fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(report),
        _ => check_private_dir(&dir)?,
    }
    let Ledger {
        entries,
        unreadable,
    } = LedgerEntry::read_all(&dir);
    for (path, e) in unreadable {
        report.failed.push((
            path.display().to_string(),
            format!("unreadable ledger entry: {e}"),
        ));
    }
    let this_host = hostname();
    let now = SystemTime::now();
    for (file, entry) in entries {
        let name = entry.stack.clone();
        if let Some(reason) =
            sweep_decision(&name, &entry.tag, false, now, opts, &this_host, pid_running)
        {
            report.skipped.push((name, reason));
            continue;
        }
        match remove_from_ledger(&entry, pulumi.clone()).await {
            Ok(None) => {
                let _ = std::fs::remove_file(&file);
                tracing::info!(stack = %name, "janitor removed a leaked ephemeral stack");
                report.removed.push(name);
            }
            Ok(Some(reason)) => report.skipped.push((name, reason)),
            Err(e) => report.failed.push((name, e.to_string())),
        }
    }
    Ok(report)
}

/// Removes what a ledger entry records, once the world agrees with it; `Some` when the
/// stack is to be left alone (protected).
async fn remove_from_ledger(
    entry: &LedgerEntry,
    pulumi: Option<PulumiCommand>,
) -> Result<Option<SkipReason>> {
    // First the directory: an entry whose directory is not the one this library made for
    // it is not acted on at all.
    let temp_present = check_temp_dir(entry)?;
    if entry.isolated && !temp_present {
        // Its backend went with its directory: nothing left to destroy.
        return Ok(None);
    }
    let mut builder: LocalWorkspaceBuilder = LocalWorkspace::builder(&entry.program_dir)
        .backend_url(&entry.backend_url)
        .pulumi_home(&entry.pulumi_home);
    if let Some(file) = &entry.passphrase_file {
        if !temp_present || file.parent() != Some(entry.temp_dir.as_path()) {
            return Err(Error::invalid(
                "ledger entry",
                format!(
                    "the passphrase file {} is not in the stack's temporary directory",
                    file.display()
                ),
            ));
        }
        let p = read_own_file(file)
            .map_err(|e| Error::invalid(format!("passphrase file {}", file.display()), e))?;
        builder = builder.passphrase(Secret::new(p.trim().to_owned()));
    }
    if let Some(p) = pulumi {
        builder = builder.pulumi_command(p);
    }
    let ws = builder.build().await?;
    let stack = ws.stack_handle(&entry.stack)?;
    let exists = ws
        .list_stacks()
        .await?
        .iter()
        .any(|s| s.name == entry.stack);
    if !exists {
        remove_temp_dir(entry)?;
        return Ok(None);
    }
    // The stack must be the one the entry recorded: its own tag, not protected.
    let tags = stack.list_tags().await?;
    let tag = tags.get(EPHEMERAL_TAG).and_then(|v| EphemeralTag::parse(v));
    if tag.as_ref() != Some(&entry.tag) {
        return Err(Error::invalid(
            "ledger entry",
            format!(
                "stack {:?} on {} does not carry the entry's {EPHEMERAL_TAG} tag: it is not the \
                 ephemeral stack the entry recorded, and is left alone",
                entry.stack,
                redact_url(&entry.backend_url)
            ),
        ));
    }
    if is_protected(&tags) {
        return Ok(Some(SkipReason::Protected));
    }
    remove_everything(&stack, entry).await?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(created: u64, pid: u32, host: &str) -> EphemeralTag {
        EphemeralTag {
            owner: "me".into(),
            host: host.into(),
            pid,
            created,
            run_id: "r".into(),
        }
    }

    #[test]
    fn tag_round_trip() {
        let t = tag(1_700_000_000, 42, "h");
        assert_eq!(EphemeralTag::parse(&t.to_value()), Some(t));
        assert_eq!(EphemeralTag::parse(""), None);
        assert_eq!(EphemeralTag::parse("{}"), None);
    }

    #[test]
    fn prefixes() {
        assert!(check_prefix("files-test_1.x").is_ok());
        assert!(check_prefix("").is_err());
        assert!(check_prefix("a/b").is_err());
        assert!(check_prefix("a b").is_err());
        assert!(check_prefix(&"a".repeat(MAX_PREFIX_LEN + 1)).is_err());
        // The longest prefix still gives a valid stack name.
        let name = unique_name(&"a".repeat(MAX_PREFIX_LEN));
        crate::workspace::validate_stack_name(&name).unwrap();
    }

    #[test]
    fn names_are_unique_and_time_ordered() {
        let mut names: Vec<String> = (0..1000).map(|_| unique_name("p")).collect();
        let set: HashSet<&String> = names.iter().collect();
        assert_eq!(set.len(), names.len());
        let first = names.remove(0);
        std::thread::sleep(Duration::from_millis(2));
        let later = unique_name("p");
        assert!(later[..16] > first[..16], "{later} vs {first}");
    }

    #[test]
    fn decisions() {
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        let opts = SweepOptions::default().min_age(Duration::from_secs(100));
        let other_pid = std::process::id().wrapping_add(1);
        let old = tag(1_000, other_pid, "h");
        let never = |_| false;
        let always = |_| true;
        assert_eq!(
            sweep_decision("x-old", &old, false, now, &opts, "h", never),
            None
        );
        assert_eq!(
            sweep_decision("x-old", &old, true, now, &opts, "h", never),
            Some(SkipReason::Protected)
        );
        assert_eq!(
            sweep_decision("x-old", &old, false, now, &opts, "h", always),
            Some(SkipReason::OwnerRunning)
        );
        // A running pid on another host says nothing.
        assert_eq!(
            sweep_decision("x-old", &old, false, now, &opts, "other", always),
            None
        );
        let young = tag(9_950, other_pid, "h");
        assert_eq!(
            sweep_decision("x-young", &young, false, now, &opts, "h", never),
            Some(SkipReason::TooYoung)
        );
        assert_eq!(
            sweep_decision(
                "x-old",
                &old,
                false,
                now,
                &opts.clone().dry_run(true),
                "h",
                never
            ),
            Some(SkipReason::DryRun)
        );
        set_live("x-live", true);
        assert_eq!(
            sweep_decision("x-live", &old, false, now, &opts, "h", never),
            Some(SkipReason::LiveHere)
        );
        set_live("x-live", false);
        // Our own pid (a kept guard of this process) is not "another running owner".
        let mine = tag(1_000, std::process::id(), "h");
        assert_eq!(
            sweep_decision("x-mine", &mine, false, now, &opts, "h", always),
            None
        );
    }

    #[test]
    fn debug_hides_a_backend_password() {
        let entry = LedgerEntry {
            stack: "s".into(),
            program_dir: "/p".into(),
            backend_url: "postgres://u:hunter2-pw@h:5432/db".into(),
            pulumi_home: "/h".into(),
            temp_dir: "/t".into(),
            marker: "m".into(),
            isolated: false,
            passphrase_file: None,
            tag: tag(1, 1, "h"),
        };
        let text = format!("{entry:?}");
        assert!(!text.contains("hunter2-pw"), "{text}");
        assert!(text.contains("postgres://u:"), "{text}");
        let b = EphemeralStack::builder("/p").backend_url("postgres://u:hunter2-pw@h/db");
        assert!(!format!("{b:?}").contains("hunter2-pw"));
    }

    #[test]
    fn eperm_means_running() {
        use nix::errno::Errno;
        assert!(probe_says_running(Ok(())));
        assert!(probe_says_running(Err(Errno::EPERM)));
        assert!(!probe_says_running(Err(Errno::ESRCH)));
        assert!(pid_running(std::process::id()));
        assert!(!pid_running(0));
        // pid 1 runs, whether this process may signal it or not.
        assert!(pid_running(1));
    }

    #[test]
    fn the_fallback_ledger_is_per_user() {
        assert_eq!(
            fallback_ledger_dir(Path::new("/tmp"), 1000),
            Path::new("/tmp/pulumi-auto-1000/ephemeral-ledger")
        );
    }

    #[test]
    fn ledger_directories_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let set = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        // Created private, parents included.
        let fresh = root.path().join("a/b/ledger");
        ensure_private_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        assert_eq!(mode(&root.path().join("a/b")), 0o700);
        // Readable by others (an older ledger): made private.
        set(&fresh, 0o755);
        check_private_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        // Writable by others: refused, and left as it is.
        set(&fresh, 0o777);
        let e = check_private_dir(&fresh).unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
        assert!(e.to_string().contains("mode 0777"), "{e}");
        assert_eq!(mode(&fresh), 0o777);
        set(&fresh, 0o700);
        // Its parent writable by others, not sticky: refused; sticky (as /tmp): fine.
        let parent = root.path().join("a/b");
        set(&parent, 0o777);
        assert!(check_private_dir(&fresh).is_err());
        set(&parent, 0o1777);
        check_private_dir(&fresh).unwrap();
        set(&parent, 0o700);
        // A symbolic link, a file: refused.
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        assert!(check_private_dir(&link).is_err());
        let file = root.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(check_private_dir(&file).is_err());
        // Another user's directory: refused (`/` is root's; as root, chown one away).
        if nix::unistd::geteuid().is_root() {
            let theirs = root.path().join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            set(&theirs, 0o700);
            std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
            let e = check_private_dir(&theirs).unwrap_err();
            assert!(e.to_string().contains("owned by uid 65534"), "{e}");
        } else {
            let e = check_private_dir(Path::new("/")).unwrap_err();
            assert!(e.to_string().contains("owned by uid 0"), "{e}");
        }
    }

    #[test]
    fn only_a_marked_temporary_directory_is_removed() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("t");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("precious"), "x").unwrap();
        let mut entry = LedgerEntry {
            stack: "s".into(),
            program_dir: "/p".into(),
            backend_url: "file:///x".into(),
            pulumi_home: "/h".into(),
            temp_dir: dir.clone(),
            marker: "id-1".into(),
            isolated: true,
            passphrase_file: None,
            tag: tag(1, 1, "h"),
        };
        // No marker file, another id, an entry without an id: refused, nothing deleted.
        assert!(remove_temp_dir(&entry).is_err());
        write_private(&dir.join(MARKER_FILE), "id-2").unwrap();
        let e = remove_temp_dir(&entry).unwrap_err();
        assert!(e.to_string().contains("another marker"), "{e}");
        entry.marker = String::new();
        assert!(remove_temp_dir(&entry).is_err());
        assert!(dir.join("precious").exists());
        // A symbolic link to a marked directory: refused.
        entry.marker = "id-2".into();
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let linked = LedgerEntry {
            temp_dir: link,
            ..entry.clone()
        };
        assert!(remove_temp_dir(&linked).is_err());
        assert!(dir.join("precious").exists());
        // The right id: removed; gone already: fine.
        remove_temp_dir(&entry).unwrap();
        assert!(!dir.exists());
        remove_temp_dir(&entry).unwrap();
    }

    #[test]
    fn keep_env_values() {
        for v in ["1", "true", "yes", " TRUE "] {
            assert!(keep_value(Some(v)), "{v}");
        }
        for v in ["", "0", "false", "False", "  "] {
            assert!(!keep_value(Some(v)), "{v}");
        }
        assert!(!keep_value(None));
    }
}
