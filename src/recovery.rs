//! Finding and repairing what a killed update leaves behind: a stale lock and pending
//! operations. Nothing here runs on its own: [`Stack::health`] reports, and only an
//! explicit [`Stack::recover`] changes anything.
//!
//! ```no_run
//! # async fn demo(stack: pulumi_auto::Stack) -> pulumi_auto::Result<()> {
//! use pulumi_auto::recovery::{PendingCreates, RecoverOptions};
//! let health = stack.health().await?;
//! if !health.is_clean() {
//!     println!("{} lock(s), {} pending operation(s)", health.locks.len(), health.pending_operations.len());
//!     // Only when no update is running: a live update's lock looks the same.
//!     let opts = RecoverOptions::default().clear_locks(true).pending_creates(PendingCreates::Clear);
//!     stack.recover(opts).await?;
//! }
//! # Ok(()) }
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::PendingOperation;
use crate::ops::RefreshOptions;
use crate::stack::Stack;

/// A lock on the stack, as the file backend records it: the CLI writes
/// `.pulumi/locks/<org>/<project>/<stack>/<id>.json` holding `{"pid", "username",
/// "hostname", "timestamp"}` when it takes the lock, and deletes it when it is done.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LockInfo {
    /// The process that took it.
    #[serde(default)]
    pub pid: i64,
    /// Its user.
    #[serde(default)]
    pub username: String,
    /// Its host.
    #[serde(default)]
    pub hostname: String,
    /// When (RFC 3339).
    #[serde(default)]
    pub timestamp: String,
    /// The lock file.
    #[serde(skip)]
    pub file: PathBuf,
}

impl LockInfo {
    /// Whether the process that took the lock still runs: it was taken on this host and
    /// its pid is alive, and that process did not start after the lock was written (a
    /// pid reused since). A lock taken on another host is not known to be held: `false`.
    /// Used by [`Stack::cancel`], which leaves such a lock alone.
    pub fn holder_running(&self) -> bool {
        holder_running(self, this_host().as_deref(), probe(self.pid))
    }
}

/// What is known of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// No such process (or a zombie).
    Gone,
    /// It exists; it started at this Unix time, when known.
    Running(Option<i64>),
}

/// This host's name as the CLI records it in locks (Go's `os.Hostname` reads this file
/// on Linux); `None` if unreadable.
fn this_host() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// Looks at process `pid` (signal 0: no signal is sent) and at when it started.
fn probe(pid: i64) -> Probe {
    let Ok(pid) = i32::try_from(pid) else {
        return Probe::Gone;
    };
    if pid <= 0 {
        return Probe::Gone;
    }
    // EPERM: it runs, as another user. Any other answer but ESRCH: unsure, so it may run.
    if let Err(nix::errno::Errno::ESRCH) =
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
    {
        return Probe::Gone;
    }
    match crate::cli::procfs::stat(pid) {
        Some(st) if st.zombie => Probe::Gone,
        Some(st) => Probe::Running(boot_time().map(|b| b + (st.start_time / CLOCK_TICKS) as i64)),
        // Not visible in /proc (hidepid) although it exists.
        None => Probe::Running(None),
    }
}

/// The kernel's clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`: 100 on Linux).
const CLOCK_TICKS: u64 = 100;

/// When the system booted (Unix time, `btime` in `/proc/stat`).
fn boot_time() -> Option<i64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The decision of [`LockInfo::holder_running`], on what was observed (pure).
fn holder_running(lock: &LockInfo, host: Option<&str>, probe: Probe) -> bool {
    // Locks name the host by what `os.Hostname` said; one we cannot read is taken as ours.
    if host.is_some_and(|h| h != lock.hostname) {
        return false;
    }
    match probe {
        Probe::Gone => false,
        Probe::Running(started) => match (started, unix_seconds(&lock.timestamp)) {
            // Started after the lock was written: another process, with the pid reused.
            // (Two seconds of slack for the boot time's and the clock's rounding.)
            (Some(started), Some(locked)) => started <= locked + 2,
            _ => true,
        },
    }
}

/// Seconds since the Unix epoch of an RFC 3339 time as Go writes `time.Time` in JSON
/// (`2026-01-02T03:04:05.123456789+01:00`, `…Z`); `None` if malformed (pure).
pub(crate) fn unix_seconds(ts: &str) -> Option<i64> {
    let (date, time) = ts.split_once(['T', 't'])?;
    let mut d = date.splitn(3, '-');
    let (y, mo, da): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let zone_at = time.find(['Z', 'z', '+', '-'])?;
    let (clock, zone) = time.split_at(zone_at);
    let clock = clock.split('.').next()?;
    let mut c = clock.splitn(3, ':');
    let (h, mi, se): (i64, i64, i64) = (
        c.next()?.parse().ok()?,
        c.next()?.parse().ok()?,
        c.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let offset = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (oh, om) = zone[1..].split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    // Days from 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// What a stack's state looks like after a possible crash.
#[derive(Debug, Clone, Default)]
pub struct StackHealth {
    /// Locks held on the stack (file backend only; other backends report none here and
    /// refuse a concurrent update with [`Error::ConcurrentUpdate`]).
    pub locks: Vec<LockInfo>,
    /// Operations the engine began and never finished.
    pub pending_operations: Vec<PendingOperation>,
}

impl StackHealth {
    /// No lock and no pending operation.
    pub fn is_clean(&self) -> bool {
        self.locks.is_empty() && self.pending_operations.is_empty()
    }

    /// The pending `creating` operations: resources that may exist without being in the
    /// state.
    pub fn pending_creates(&self) -> impl Iterator<Item = &PendingOperation> {
        self.pending_operations
            .iter()
            .filter(|p| p.type_.as_str() == "creating")
    }
}

/// What to do with pending creates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PendingCreates {
    /// Leave them (the next refresh will ask again).
    #[default]
    Leave,
    /// Drop them from the state: the caller knows the resources were not created, or will
    /// be recreated and adopted by the provider (`refresh --clear-pending-creates`).
    Clear,
    /// Adopt them with the IDs the caller knows: `(urn, id)` pairs, one for every pending
    /// create. Each becomes a resource of the state with that ID and its create's inputs
    /// as its last known outputs (a `stack export`, the edit, a `stack import`), then a
    /// refresh reads each from its provider: one that does not exist is dropped by that
    /// refresh. A URN that is not a pending create, or a
    /// pending create left without an ID (the rewritten state would drop it), is refused
    /// before anything changes. (The CLI's own `refresh --import-pending-creates`, which
    /// [`RefreshOptions::import_pending_create`] passes, only marks the operations
    /// `importing`, and the refresh then drops them: on the pinned CLI the resources end
    /// up neither in the state nor pending.)
    Import(Vec<(String, String)>),
}

/// What [`Stack::recover`] may do.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct RecoverOptions {
    /// Delete the stack's locks (`pulumi cancel`), as [`Stack::cancel`] does: refused with
    /// [`Error::LockHolderRunning`] while a lock's holder still runs on this host. (To
    /// delete such a lock anyway: [`Stack::force_cancel`], then `recover`.)
    pub clear_locks: bool,
    /// What to do with pending creates.
    pub pending_creates: PendingCreates,
}

impl RecoverOptions {
    /// Delete the stack's locks (see [`clear_locks`](Self::clear_locks)).
    pub fn clear_locks(mut self, on: bool) -> Self {
        self.clear_locks = on;
        self
    }
    /// What to do with pending creates.
    pub fn pending_creates(mut self, what: PendingCreates) -> Self {
        self.pending_creates = what;
        self
    }
}

/// The file backend's state directory, when the workspace uses one.
fn file_backend_dir(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("file://")?;
    let path = path.split('?').next().unwrap_or(path);
    if let Some(rest) = path.strip_prefix('~') {
        return std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(rest.trim_start_matches('/')));
    }
    Some(PathBuf::from(path))
}

impl Stack {
    /// The stack's locks on a file backend, read from disk (none on other backends).
    pub(crate) async fn file_locks(&self) -> Result<Vec<LockInfo>> {
        let mut found = Vec::new();
        let Some(dir) = self.workspace().backend_url().and_then(file_backend_dir) else {
            return Ok(found);
        };
        let locks = dir.join(".pulumi/locks").join(self.fully_qualified_name());
        if let Ok(mut rd) = tokio::fs::read_dir(&locks).await {
            while let Ok(Some(entry)) = rd.next_entry().await {
                let file = entry.path();
                if file.extension().is_some_and(|e| e == "json") {
                    let text = match tokio::fs::read_to_string(&file).await {
                        Ok(t) => t,
                        // Deleted since it was listed: released.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(Error::io(format!("reading {}", file.display()), e)),
                    };
                    let mut info: LockInfo =
                        serde_json::from_str(&text).map_err(|e| Error::Parse {
                            command: format!("reading {}", file.display()),
                            reason: e.to_string(),
                        })?;
                    info.file = file;
                    found.push(info);
                }
            }
        }
        Ok(found)
    }

    /// Reports the stack's locks (file backend, read from disk) and pending operations
    /// (one `stack export`). Changes nothing.
    pub async fn health(&self) -> Result<StackHealth> {
        Ok(self.health_and_state().await?.0)
    }

    async fn health_and_state(&self) -> Result<(StackHealth, crate::model::Deployment)> {
        let locks = self.file_locks().await?;
        let dep = self.export_stack().await?;
        let health = StackHealth {
            locks,
            pending_operations: dep.pending_operations().to_vec(),
        };
        Ok((health, dep))
    }

    /// Repairs what [`health`](Self::health) found, as far as `opts` allows: kills the
    /// processes left by drivers that died ([`reap_orphans`](crate::cli::reap_orphans);
    /// never a CLI still running), clears the locks ([`cancel`](Self::cancel), which
    /// refuses while a lock's holder runs on this host), then resolves pending creates
    /// with a refresh. Returns the health afterwards. Never call it while an update may
    /// still be running elsewhere: a lock taken on another host is not checked.
    pub async fn recover(&self, opts: RecoverOptions) -> Result<StackHealth> {
        // Reaping reads every process's /proc entry: on a blocking thread.
        let _ = tokio::task::spawn_blocking(|| crate::cli::reap_orphans(false)).await;
        let (before, state) = self.health_and_state().await?;
        let has_creates = before.pending_creates().next().is_some();
        // The adopted state is worked out first: bad pairs change nothing.
        let adopted = match &opts.pending_creates {
            PendingCreates::Import(pairs) if has_creates => {
                Some(adopt_pending_creates(state, pairs)?)
            }
            _ => None,
        };
        if opts.clear_locks && !before.locks.is_empty() {
            self.cancel().await?;
        }
        // Pending updates and deletes: the refresh reads those resources back and drops
        // the operations (nothing may exist that the state does not know of).
        let has_others = before.pending_operations.len() > before.pending_creates().count();
        let refreshed = match &opts.pending_creates {
            PendingCreates::Clear if has_creates => {
                self.refresh(RefreshOptions::default().clear_pending_creates(true))
                    .await?;
                true
            }
            PendingCreates::Import(_) => match &adopted {
                Some(dep) => {
                    self.import_stack(dep).await?;
                    self.refresh(RefreshOptions::default()).await?;
                    true
                }
                None => false,
            },
            _ => false,
        };
        if has_others && !refreshed {
            self.refresh(RefreshOptions::default()).await?;
        }
        self.health().await
    }
}

/// The state with the named pending creates made resources, with their IDs (pure). Each
/// is appended after every resource already there: its parent, provider and
/// dependencies were created before it, and nothing depends on a resource not created.
pub(crate) fn adopt_pending_creates(
    mut dep: crate::model::Deployment,
    pairs: &[(String, String)],
) -> Result<crate::model::Deployment> {
    let Some(state) = dep.deployment.as_mut() else {
        return Err(Error::invalid(
            "pending creates",
            "the stack has no state, so no pending create",
        ));
    };
    for (urn, id) in pairs {
        if id.is_empty() || id.contains('\0') {
            return Err(Error::invalid(
                "pending creates",
                format!("{id:?} is not a provider ID (for {urn})"),
            ));
        }
        let Some(at) = state
            .pending_operations
            .iter()
            .position(|p| p.type_.as_str() == "creating" && &p.resource.urn == urn)
        else {
            return Err(Error::invalid(
                "pending creates",
                format!("{urn:?} is not a pending create of the stack"),
            ));
        };
        let mut resource = state.pending_operations.remove(at).resource;
        resource.id = Some(id.clone());
        // The create never reported outputs. Until the refresh reads the real ones, the
        // inputs stand in: the provider's read gets them as the last known state (a
        // Python dynamic provider finds its own code there).
        if resource.outputs.is_empty() {
            resource.outputs = resource.inputs.clone();
        }
        state.resources.push(resource);
    }
    // `stack import` clears every pending operation: a pending create not named here
    // would be forgotten.
    let unnamed: Vec<&str> = state
        .pending_operations
        .iter()
        .filter(|p| p.type_.as_str() == "creating")
        .map(|p| p.resource.urn.as_str())
        .collect();
    if !unnamed.is_empty() {
        return Err(Error::invalid(
            "pending creates",
            format!(
                "every pending create needs an ID to be adopted (the state is rewritten, which \
                 would drop the others); missing: {}",
                unnamed.join(", ")
            ),
        ));
    }
    Ok(dep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_backend_dirs() {
        assert_eq!(
            file_backend_dir("file:///tmp/s"),
            Some(PathBuf::from("/tmp/s"))
        );
        assert_eq!(
            file_backend_dir("file:///tmp/s?no_tmp_dir=true"),
            Some(PathBuf::from("/tmp/s"))
        );
        assert_eq!(file_backend_dir("s3://bucket"), None);
        assert_eq!(file_backend_dir("https://api.pulumi.com"), None);
    }

    #[test]
    fn pending_creates_become_resources_with_their_ids() {
        let dep: crate::model::Deployment = serde_json::from_value(serde_json::json!({
            "version": 3,
            "deployment": {
                "manifest": {"time": "t", "magic": "", "version": ""},
                "resources": [{"urn": "urn:stack", "type": "pulumi:pulumi:Stack", "custom": false}],
                "pending_operations": [
                    {"type": "creating", "resource": {"urn": "urn:a", "type": "t:m:R", "custom": true, "inputs": {"k": "v"}}},
                    {"type": "creating", "resource": {"urn": "urn:b", "type": "t:m:R", "custom": true}},
                    {"type": "updating", "resource": {"urn": "urn:c", "type": "t:m:R", "custom": true}}
                ]
            }
        }))
        .unwrap();
        let out = adopt_pending_creates(
            dep.clone(),
            &[
                ("urn:a".into(), "--stack=prod".into()),
                ("urn:b".into(), "id-b".into()),
            ],
        )
        .unwrap();
        let urns: Vec<(&str, Option<&str>)> = out
            .resources()
            .iter()
            .map(|r| (r.urn.as_str(), r.id.as_deref()))
            .collect();
        assert_eq!(
            urns,
            [
                ("urn:stack", None),
                ("urn:a", Some("--stack=prod")),
                ("urn:b", Some("id-b"))
            ]
        );
        assert_eq!(out.resources()[1].inputs["k"], "v");
        assert_eq!(out.resources()[1].outputs["k"], "v");
        let left: Vec<&str> = out
            .pending_operations()
            .iter()
            .map(|p| p.resource.urn.as_str())
            .collect();
        assert_eq!(left, ["urn:c"], "other pending operations stay");
        // Nothing that is not a pending create, no empty ID, no pending create left out.
        for (urn, id) in [
            ("urn:c", "i"),
            ("urn:x", "i"),
            ("urn:b", ""),
            ("urn:a", "i"),
        ] {
            assert!(matches!(
                adopt_pending_creates(dep.clone(), &[(urn.into(), id.into())]),
                Err(Error::InvalidInput { .. })
            ));
        }
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            unix_seconds("2026-12-01T09:43:15.904Z"),
            Some(1_796_118_195)
        );
        assert_eq!(
            unix_seconds("2026-12-01T10:43:15.123456789+01:00"),
            Some(1_796_118_195)
        );
        assert_eq!(
            unix_seconds("2026-12-01T04:13:15-05:30"),
            Some(1_796_118_195)
        );
        assert_eq!(unix_seconds("2000-02-29T12:00:00Z"), Some(951_825_600));
        for bad in [
            "",
            "2026-12-01",
            "2026-13-01T00:00:00Z",
            "2026-12-01T00:00:00",
            "x",
        ] {
            assert_eq!(unix_seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_lock_is_held_while_its_holder_runs_here() {
        let lock = LockInfo {
            pid: 42,
            username: "u".into(),
            hostname: "here".into(),
            timestamp: "2026-12-01T09:43:15.904Z".into(),
            file: PathBuf::new(),
        };
        let t = unix_seconds(&lock.timestamp).unwrap();
        assert!(holder_running(
            &lock,
            Some("here"),
            Probe::Running(Some(t - 60))
        ));
        assert!(holder_running(&lock, Some("here"), Probe::Running(None)));
        assert!(holder_running(&lock, None, Probe::Running(Some(t))));
        // Gone, on another host, or a younger process with the pid reused.
        assert!(!holder_running(&lock, Some("here"), Probe::Gone));
        assert!(!holder_running(
            &lock,
            Some("there"),
            Probe::Running(Some(t - 60))
        ));
        assert!(!holder_running(
            &lock,
            Some("here"),
            Probe::Running(Some(t + 60))
        ));
        // A timestamp that cannot be read: the pid alone decides.
        let odd = LockInfo {
            timestamp: "soon".into(),
            ..lock.clone()
        };
        assert!(holder_running(
            &odd,
            Some("here"),
            Probe::Running(Some(t + 60))
        ));

        // This process holds a lock it just wrote; a dead pid holds none.
        let mine = LockInfo {
            pid: i64::from(std::process::id()),
            hostname: this_host().unwrap(),
            timestamp: "2999-01-01T00:00:00Z".into(),
            ..lock.clone()
        };
        assert!(mine.holder_running());
        assert!(
            !LockInfo {
                pid: 0,
                ..mine.clone()
            }
            .holder_running()
        );
        assert!(
            !LockInfo {
                pid: -1,
                ..mine.clone()
            }
            .holder_running()
        );
        assert!(
            !LockInfo {
                pid: i64::MAX,
                ..mine.clone()
            }
            .holder_running()
        );
        let old = LockInfo {
            timestamp: "1971-01-01T00:00:00Z".into(),
            ..mine
        };
        assert!(!old.holder_running(), "this process started after 1971");
    }

    #[test]
    fn lock_files_parse() {
        let l: LockInfo = serde_json::from_str(
            r#"{"pid":15886,"username":"root","hostname":"vm","timestamp":"2026-11-22T14:40:56Z"}"#,
        )
        .unwrap();
        assert_eq!((l.pid, l.username.as_str()), (15886, "root"));
    }
}
