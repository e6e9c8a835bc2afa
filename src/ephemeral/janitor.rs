//! The janitor: removes the ephemeral stacks that killed processes left behind, found by
//! their tag on a backend ([`sweep`]) or by their ledger entries ([`sweep_ledger`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::blocking;
use super::guard::{destroy_and_remove, is_live_here, remove_everything};
use super::ledger::{
    Ledger, LedgerEntry, check_private_dir, check_temp_dir, default_ledger_dir, read_own_file,
    remove_temp_dir,
};
use super::tag::{EPHEMERAL_TAG, EphemeralTag, hostname};
use crate::approval::is_protected;
use crate::cli::PulumiCommand;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::workspace::{LocalWorkspace, redact_url};

/// What the janitor may sweep.
#[derive(Debug, Clone)]
#[must_use]
#[non_exhaustive]
pub struct SweepOptions {
    /// Only stacks at least this old (by their tag's creation time). Default: one hour.
    pub min_age: Duration,
    /// Only list what would be removed.
    pub dry_run: bool,
    /// Only stacks made by this run (their tag's
    /// [`run_id`](super::EphemeralStackBuilder::run_id)); every run's by default.
    pub run_id: Option<String>,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            min_age: Duration::from_secs(3600),
            dry_run: false,
            run_id: None,
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

    /// Only stacks made by the run `id` (for example the run of a process known to be
    /// gone, whose stacks are to be removed at once while other runs' are left alone).
    pub fn run_id(mut self, id: impl Into<String>) -> Self {
        self.run_id = Some(id.into());
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
    /// Made by another run than [`SweepOptions::run_id`].
    OtherRun,
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
    } else if opts.run_id.as_ref().is_some_and(|r| *r != tag.run_id) {
        Some(SkipReason::OtherRun)
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
    let this_host = blocking(|| Ok(hostname())).await?;
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
        match destroy_and_remove(&stack).await {
            Ok(()) => {
                tracing::info!(stack = %name, "janitor removed a leftover ephemeral stack");
                report.removed.push(name);
            }
            Err(e) => report.failed.push((name, e.to_string())),
        }
    }
    Ok(report)
}

/// The ledger's entries, once its directory is checked (none when it does not exist),
/// and this host's name. Blocking.
fn read_ledger(dir: &Path) -> Result<(Ledger, String)> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((Ledger::default(), hostname()));
        }
        _ => check_private_dir(dir)?,
    }
    Ok((LedgerEntry::read_all(dir), hostname()))
}

/// The janitor for the ledger: removes the stacks recorded in `ledger_dir` (default
/// [`default_ledger_dir`]) by earlier runs that never tore them down (killed processes),
/// on whatever backend each one used, then their temporary directories and entries.
/// The same rules as [`sweep`] decide which; the CLI is `pulumi` (default:
/// [`PulumiCommand::find`]).
///
/// The ledger directory must be private ([`check_private_dir`]; refused otherwise), and an
/// entry is acted on only when the world agrees with it: its temporary directory, if still
/// there, holds the entry's [`MARKER_FILE`](super::MARKER_FILE) id, and the stack on the
/// backend carries the entry's own [`EPHEMERAL_TAG`] (else the entry is reported as failed
/// and nothing is touched); a stack also tagged protected is skipped
/// ([`SkipReason::Protected`]). Processes per entry whose stack is still there: `stack
/// ls`, `stack tag ls` and the removal (`destroy --remove`).
pub async fn sweep_ledger(
    ledger_dir: Option<&Path>,
    pulumi: Option<PulumiCommand>,
    opts: &SweepOptions,
) -> Result<SweepReport> {
    let dir = ledger_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(default_ledger_dir);
    let mut report = SweepReport::default();
    let (ledger, this_host) = blocking(move || read_ledger(&dir)).await?;
    for (path, e) in ledger.unreadable {
        report.failed.push((
            path.display().to_string(),
            format!("unreadable ledger entry: {e}"),
        ));
    }
    let now = SystemTime::now();
    for (file, entry) in ledger.entries {
        let name = entry.stack.clone();
        if let Some(reason) =
            sweep_decision(&name, &entry.tag, false, now, opts, &this_host, pid_running)
        {
            report.skipped.push((name, reason));
            continue;
        }
        match remove_from_ledger(entry, pulumi.clone()).await {
            Ok(None) => {
                let _ = blocking(move || Ok(std::fs::remove_file(&file))).await;
                tracing::info!(stack = %name, "janitor removed a leaked ephemeral stack");
                report.removed.push(name);
            }
            Ok(Some(reason)) => report.skipped.push((name, reason)),
            Err(e) => report.failed.push((name, e.to_string())),
        }
    }
    Ok(report)
}

/// The passphrase a ledger entry's stack was made with, read from its file, which must
/// be in the stack's (checked) temporary directory; `None` when it was given, not
/// generated. Blocking.
fn entry_passphrase(entry: &LedgerEntry, temp_present: bool) -> Result<Option<Secret>> {
    let Some(file) = &entry.passphrase_file else {
        return Ok(None);
    };
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
    Ok(Some(Secret::new(p.trim().to_owned())))
}

/// Removes what a ledger entry records, once the world agrees with it; `Some` when the
/// stack is to be left alone (protected).
async fn remove_from_ledger(
    entry: LedgerEntry,
    pulumi: Option<PulumiCommand>,
) -> Result<Option<SkipReason>> {
    // First the directory: an entry whose directory is not the one this library made for
    // it is not acted on at all.
    let (entry, temp_present, passphrase) = blocking(move || {
        let present = check_temp_dir(&entry)?;
        let passphrase = match entry.isolated && !present {
            true => None,
            false => entry_passphrase(&entry, present)?,
        };
        Ok((entry, present, passphrase))
    })
    .await?;
    if entry.isolated && !temp_present {
        // Its backend went with its directory: nothing left to destroy.
        return Ok(None);
    }
    let mut builder = LocalWorkspace::builder(&entry.program_dir)
        .backend_url(&entry.backend_url)
        .pulumi_home(&entry.pulumi_home);
    if let Some(p) = passphrase {
        builder = builder.passphrase(p);
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
        blocking(move || remove_temp_dir(&entry)).await?;
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
    remove_everything(&stack, &entry).await?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::super::guard::set_live;
    use super::super::tag::test_tag as tag;
    use super::*;

    #[test]
    fn a_run_filter_leaves_other_runs_alone() {
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        let other_pid = std::process::id().wrapping_add(1);
        let t = tag(9_999, other_pid, "h");
        let never = |_| false;
        let only = |r: &str| SweepOptions::default().min_age(Duration::ZERO).run_id(r);
        assert_eq!(
            sweep_decision("x-1", &t, false, now, &only("r"), "h", never),
            None
        );
        assert_eq!(
            sweep_decision("x-1", &t, false, now, &only("another"), "h", never),
            Some(SkipReason::OtherRun)
        );
        // The other rules still hold for the run's own stacks.
        assert_eq!(
            sweep_decision("x-1", &t, true, now, &only("r"), "h", never),
            Some(SkipReason::Protected)
        );
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
}
