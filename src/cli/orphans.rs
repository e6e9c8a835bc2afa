//! Processes left behind by a driver that died without a chance to clean up.
//!
//! Every `pulumi` this crate starts carries [`DRIVER_ENV`] in its environment, naming the
//! driving process (its pid and start time, so a reused pid is not mistaken for it);
//! plugins, programs and dynamic-provider hosts inherit it. When a driver is killed
//! outright, its CLI gets SIGINT (see the [`process`](super) docs), cancels, and normally
//! stops its plugins; but a plugin the engine was still starting, or one that ignores
//! the engine's going away (the Python dynamic-provider host waits forever), can outlive
//! it. [`reap_orphans`] finds those by the tag and kills them. It never touches a
//! process whose driver is alive, nor, unless forced, the session of a CLI that is still
//! running (it may still be cancelling and saving the stack's state).
//! [`Stack::recover`](crate::Stack::recover) calls it first.

use std::sync::OnceLock;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::procfs;

/// The environment variable that tags every process of this crate's CLI runs with their
/// driver: `<pid>:<start time in clock ticks since boot>`.
pub const DRIVER_ENV: &str = "PULUMI_AUTO_DRIVER";

/// This process's tag.
pub(crate) fn driver_tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let pid = std::process::id() as i32;
        format!("{pid}:{}", start_time(pid).unwrap_or(0))
    })
}

/// When a process started (field 22 of `/proc/<pid>/stat`).
fn start_time(pid: i32) -> Option<u64> {
    procfs::stat(pid).map(|s| s.start_time)
}

/// Parses a [`DRIVER_ENV`] value.
fn parse_tag(value: &str) -> Option<(i32, u64)> {
    let (pid, start) = value.split_once(':')?;
    Some((pid.parse().ok()?, start.parse().ok()?))
}

/// Whether the driver a tag names is alive (same pid, same start time).
fn driver_alive(value: &str) -> bool {
    match parse_tag(value) {
        Some((pid, start)) => start_time(pid) == Some(start),
        // Not ours to judge: leave it alone.
        None => true,
    }
}

/// What [`reap_orphans`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// The processes killed.
    pub reaped: Vec<i32>,
    /// Processes of a dead driver left alone because their CLI still runs (it is
    /// cancelling); with `force` they are killed too.
    pub still_stopping: Vec<i32>,
}

/// Kills the processes whose driver is dead: see the [module docs](self). With `force`,
/// also the sessions of CLIs that still run. Linux only (reads `/proc`); elsewhere it
/// finds nothing.
pub fn reap_orphans(force: bool) -> Leftovers {
    let mut out = Leftovers::default();
    let needle = format!("{DRIVER_ENV}=");
    for pid in procfs::pids() {
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let Some(tag) = environ
            .split(|b| *b == 0)
            .find_map(|kv| kv.strip_prefix(needle.as_bytes()))
            .and_then(|v| std::str::from_utf8(v).ok())
        else {
            continue;
        };
        if driver_alive(tag) {
            continue;
        }
        let Some(stat) = procfs::stat(pid) else {
            continue;
        };
        if stat.zombie {
            continue;
        }
        // The CLI leads its session: while it runs, its plugins are its business.
        if !force && stat.session > 0 && procfs::alive(stat.session) {
            out.still_stopping.push(pid);
            continue;
        }
        if kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
            out.reaped.push(pid);
        }
    }
    if !out.reaped.is_empty() {
        tracing::warn!(target: "pulumi_auto::cli", reaped = ?out.reaped, "killed processes left by a driver that died");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert_eq!(parse_tag("12:345"), Some((12, 345)));
        assert_eq!(parse_tag("12"), None);
        assert_eq!(parse_tag("a:1"), None);
        // Our own tag names a live driver; a start time that differs does not.
        assert!(driver_alive(driver_tag()));
        let (pid, start) = parse_tag(driver_tag()).unwrap();
        assert_eq!(pid, std::process::id() as i32);
        assert!(!driver_alive(&format!("{pid}:{}", start + 1)));
        // Unparsable tags are left alone.
        assert!(driver_alive("garbage"));
    }

    #[test]
    fn reaps_only_the_orphans_of_dead_drivers() {
        // A process tagged with a dead driver (a start time that is not ours), in a
        // session of its own whose leader is gone once the shell exits, is reaped; one
        // tagged with us is not.
        let (pid, start) = parse_tag(driver_tag()).unwrap();
        let dead = format!("{pid}:{}", start + 1);
        let spawn = |tag: &str| {
            let mut c = std::process::Command::new("setsid");
            c.args(["sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"])
                .env(DRIVER_ENV, tag)
                .stdout(std::process::Stdio::piped());
            let out = c.output().unwrap();
            String::from_utf8(out.stdout)
                .unwrap()
                .trim()
                .parse::<i32>()
                .unwrap()
        };
        let orphan = spawn(&dead);
        let ours = spawn(driver_tag());
        let left = reap_orphans(false);
        assert!(left.reaped.contains(&orphan), "{left:?}");
        assert!(!left.reaped.contains(&ours));
        let _ = kill(Pid::from_raw(ours), Signal::SIGKILL);
    }
}
