//! The sessions each driver's CLIs lead, recorded where the orphan reaper finds them
//! after the driver died.
//!
//! Every CLI leads a session of its own (its session id is its pid). Right after
//! spawning one, the driver writes an empty file named
//! `<driver pid>-<driver start>.<cli pid>-<cli start>` (start times in clock ticks since
//! boot, so a reused pid is never taken for the process recorded) into this user's
//! registry directory, and removes it once the CLI's session is over. A driver that is
//! killed leaves its records behind: [`reap_orphans`](super::reap_orphans) reads them to
//! tell the dead driver's own sessions from those of processes that detached into
//! sessions of their own, and removes them once those sessions are empty.
//!
//! With its first record a driver also writes `<driver pid>-<driver start>.driver`, which
//! stays as long as it lives: a driver nested in another's run (a program or provider
//! that drives pulumi itself) inherited the outer driver's tag, and this is how the
//! reaper knows to leave it, and what it started, alone. Each new driver removes the
//! markers of drivers that are gone.
//!
//! The directory is `$XDG_RUNTIME_DIR/pulumi-auto` when that variable names a directory,
//! else `pulumi-auto-<uid>` in the system's temporary directory. It must be this user's
//! and `0700` (created so; a directory that is not, or a symlink, is refused: nothing is
//! recorded, and the reaper then finds nothing to reap).

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A process as the registry names it: its pid and start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ProcId {
    /// The pid.
    pub pid: i32,
    /// When it started, in clock ticks since boot.
    pub start: u64,
}

/// One recorded CLI session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The driver that spawned the CLI.
    pub driver: ProcId,
    /// The CLI, leader of the session `cli.pid`.
    pub cli: ProcId,
}

fn id_name(id: ProcId) -> String {
    format!("{}-{}", id.pid, id.start)
}

fn parse_id(s: &str) -> Option<ProcId> {
    let (pid, start) = s.split_once('-')?;
    let pid: i32 = pid.parse().ok()?;
    (pid > 0).then_some(())?;
    Some(ProcId {
        pid,
        start: start.parse().ok()?,
    })
}

/// What a file of the registry says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Name {
    /// A CLI session.
    Session(Entry),
    /// A driver that has run CLIs (and may still).
    Driver(ProcId),
}

/// The suffix of a driver's marker.
const DRIVER_SUFFIX: &str = "driver";

/// The file name of a record.
pub(crate) fn record_name(e: &Entry) -> String {
    format!("{}.{}", id_name(e.driver), id_name(e.cli))
}

fn marker_name(driver: ProcId) -> String {
    format!("{}.{DRIVER_SUFFIX}", id_name(driver))
}

/// Parses a registry file's name.
pub(crate) fn parse_name(name: &str) -> Option<Name> {
    let (driver, rest) = name.split_once('.')?;
    let driver = parse_id(driver)?;
    if rest == DRIVER_SUFFIX {
        return Some(Name::Driver(driver));
    }
    Some(Name::Session(Entry {
        driver,
        cli: parse_id(rest)?,
    }))
}

/// Whether a directory's owner and mode make it this user's private directory.
fn private_to(meta: &std::fs::Metadata, uid: u32) -> bool {
    meta.is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0
}

/// Creates (`0700`) or checks `dir`: `Some` when it is this user's private directory.
fn private_dir(dir: PathBuf) -> Option<PathBuf> {
    let uid = nix::unistd::geteuid().as_raw();
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            tracing::warn!(target: "pulumi_auto::cli", dir = %dir.display(), error = %e, "cannot create the session registry: orphaned plugins will not be reaped");
            return None;
        }
    }
    // symlink_metadata: a symlink planted there is not followed, it is refused.
    match std::fs::symlink_metadata(&dir) {
        Ok(meta) if private_to(&meta, uid) => Some(dir),
        _ => {
            tracing::warn!(target: "pulumi_auto::cli", dir = %dir.display(), "the session registry is not a private directory of this user: refused, orphaned plugins will not be reaped");
            None
        }
    }
}

/// This user's registry directory (created on first use), if it is usable.
pub(crate) fn dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| d.is_absolute() && d.is_dir());
        let dir = match base {
            Some(base) => base.join("pulumi-auto"),
            None => std::env::temp_dir()
                .join(format!("pulumi-auto-{}", nix::unistd::geteuid().as_raw())),
        };
        private_dir(dir)
    })
    .as_deref()
}

/// A record of one live CLI session; removed when dropped.
pub(crate) struct Record {
    path: PathBuf,
}

impl Drop for Record {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn create(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
}

/// Marks `driver` (this process) as a driver, once; and removes the markers of drivers
/// that are gone (their pid runs no more with their start time).
fn mark_driver(dir: &Path, driver: ProcId, alive: impl Fn(ProcId) -> bool) {
    static MARKED: OnceLock<()> = OnceLock::new();
    MARKED.get_or_init(|| {
        if let Err(e) = create(&dir.join(marker_name(driver)))
            && e.kind() != std::io::ErrorKind::AlreadyExists
        {
            tracing::debug!(target: "pulumi_auto::cli", error = %e, "could not mark this process as a driver");
        }
        sweep_markers(dir, driver, alive);
    });
}

/// Removes the markers of drivers other than `me` that are gone.
fn sweep_markers(dir: &Path, me: ProcId, alive: impl Fn(ProcId) -> bool) {
    for name in list() {
        if let Name::Driver(d) = name
            && d != me
            && !alive(d)
        {
            let _ = std::fs::remove_file(dir.join(marker_name(d)));
        }
    }
}

/// Records that `driver` (this process) spawned `cli` (best effort: `None` when it cannot
/// be written).
pub(crate) fn record(
    driver: ProcId,
    cli: ProcId,
    alive: impl Fn(ProcId) -> bool,
) -> Option<Record> {
    let dir = dir()?;
    mark_driver(dir, driver, alive);
    let path = dir.join(record_name(&Entry { driver, cli }));
    create(&path)
        .map_err(|e| tracing::debug!(target: "pulumi_auto::cli", error = %e, "could not record a CLI session"))
        .ok()?;
    Some(Record { path })
}

/// Everything in the registry.
pub(crate) fn list() -> Vec<Name> {
    let Some(dir) = dir() else {
        return Vec::new();
    };
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(parse_name))
        .collect()
}

/// Removes a file of the registry (the reaper's part, for dead drivers).
pub(crate) fn remove(name: &Name) {
    if let Some(dir) = dir() {
        let file = match name {
            Name::Session(e) => record_name(e),
            Name::Driver(d) => marker_name(*d),
        };
        let _ = std::fs::remove_file(dir.join(file));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_garbage_is_ignored() {
        let e = Entry {
            driver: ProcId {
                pid: 12,
                start: 345,
            },
            cli: ProcId {
                pid: 678,
                start: 9012,
            },
        };
        assert_eq!(record_name(&e), "12-345.678-9012");
        assert_eq!(parse_name("12-345.678-9012"), Some(Name::Session(e)));
        assert_eq!(
            parse_name("12-345.driver"),
            Some(Name::Driver(ProcId {
                pid: 12,
                start: 345
            }))
        );
        for bad in [
            "",
            "12-345",
            "12-345.678",
            "a-1.2-3",
            "0-1.2-3",
            "-1-1.2-3",
            "1-2.3-x",
            "1-2.drivers",
        ] {
            assert_eq!(parse_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_directory_is_private_and_records_come_and_go() {
        let dir = dir().expect("a usable registry directory");
        let meta = std::fs::symlink_metadata(dir).unwrap();
        assert!(private_to(&meta, nix::unistd::geteuid().as_raw()));
        let me = ProcId {
            pid: std::process::id() as i32,
            start: crate::cli::procfs::stat(std::process::id() as i32)
                .unwrap()
                .start_time,
        };
        let cli = ProcId {
            pid: i32::MAX,
            start: 7,
        };
        // A marker of a driver that is gone is removed when this one marks itself.
        let gone = ProcId {
            pid: i32::MAX,
            start: 1,
        };
        let _ = create(&dir.join(marker_name(gone)));
        let rec = record(me, cli, |_| false).unwrap();
        sweep_markers(dir, me, |d| d != gone);
        let names = list();
        assert!(names.contains(&Name::Session(Entry { driver: me, cli })));
        assert!(names.contains(&Name::Driver(me)));
        assert!(!names.contains(&Name::Driver(gone)));
        drop(rec);
        assert!(!list().contains(&Name::Session(Entry { driver: me, cli })));
    }

    #[test]
    fn a_directory_open_to_others_or_a_symlink_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(private_dir(open), None);
        let target = tmp.path().join("target");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&target)
            .unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(private_dir(link), None);
        assert_eq!(private_dir(target.clone()), Some(target));
        let fresh = tmp.path().join("fresh");
        assert_eq!(private_dir(fresh.clone()), Some(fresh));
    }
}
