//! What the crate reads of Linux's `/proc` (the process list, a process's stat line and
//! one variable of its environment), and how it signals a process it found there without
//! ever hitting another process that reused the pid.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::signal::Signal;

/// The pids of `/proc` (every process visible to this one).
pub(crate) fn pids() -> impl Iterator<Item = i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
}

/// The fields of `/proc/<pid>/stat` this crate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    /// The process has exited and waits to be reaped (state `Z`).
    pub zombie: bool,
    /// Its parent (field 4).
    pub ppid: i32,
    /// Its session id (field 6).
    pub session: i32,
    /// When it started, in clock ticks since boot (field 22).
    pub start_time: u64,
}

/// Parses the text of `/proc/<pid>/stat`.
fn parse_stat(text: &str) -> Option<Stat> {
    // After the command name's closing paren: state ppid pgrp session ... (state is 0).
    let (_, rest) = text.rsplit_once(") ")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        zombie: *fields.first()? == "Z",
        ppid: fields.get(1)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// Reads `/proc/<pid>/stat`; `None` when the process is gone.
pub(crate) fn stat(pid: i32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Whether `pid` runs (exists and is not a zombie).
#[cfg(test)]
pub(crate) fn alive(pid: i32) -> bool {
    stat(pid).is_some_and(|s| !s.zombie)
}

/// The value of the environment variable `key` that process `pid` started with, if it can
/// be read (the process is this user's and not a zombie).
pub(crate) fn environ_var(pid: i32, key: &str) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let needle = format!("{key}=");
    environ
        .split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(needle.as_bytes()))
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::to_owned)
}

/// `pidfd_open(2)`: a descriptor that names one process for as long as it is held, whatever
/// becomes of its pid.
fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: a plain system call with integer arguments; a non-negative result is a new
    // descriptor that nothing else owns.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: see above.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `pidfd_send_signal(2)` on a descriptor from [`pidfd_open`].
fn pidfd_send_signal(fd: &OwnedFd, signal: Signal) -> Result<(), Errno> {
    // SAFETY: a plain system call on a descriptor we own; no siginfo is passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            signal as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 { Err(Errno::last()) } else { Ok(()) }
}

/// Sends `signal` to process `pid` only if it is still the process that started at
/// `start_time` (and is not a zombie); returns whether the signal was sent.
///
/// The process is pinned first with a pidfd, then its start time is checked, then the
/// signal goes through the pidfd: if the process exits and its pid is reused at any
/// moment, either the check fails (a new process has another start time) or the signal
/// reaches no one (the pidfd names the exited process), never the newcomer. On a kernel
/// without pidfds (before Linux 5.3) the check is made right before a plain `kill`.
pub(crate) fn signal_exact(pid: i32, start_time: u64, signal: Signal) -> bool {
    let is_it = || stat(pid).is_some_and(|s| !s.zombie && s.start_time == start_time);
    match pidfd_open(pid) {
        Ok(fd) => is_it() && pidfd_send_signal(&fd, signal).is_ok(),
        Err(Errno::ENOSYS) => {
            is_it() && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).is_ok()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id() as i32;
        assert!(pids().any(|p| p == me));
        let s = stat(me).unwrap();
        assert!(!s.zombie);
        assert!(s.start_time > 0);
        assert_eq!(s.ppid, nix::unistd::getppid().as_raw());
        assert_eq!(s.session, nix::unistd::getsid(None).unwrap().as_raw());
        assert!(alive(me));
        assert!(stat(-1).is_none());
        assert_eq!(environ_var(me, "PULUMI_AUTO_NO_SUCH_VARIABLE"), None);
    }

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let line = "42 (a) b (c)) S 7 42 40 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                zombie: false,
                ppid: 7,
                session: 40,
                start_time: 12345
            })
        );
        assert!(parse_stat("42 (x) Z 1").is_none());
    }

    #[test]
    fn signals_only_the_process_that_started_then() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let start = stat(pid).unwrap().start_time;
        // Another start time is another process: nothing is sent.
        assert!(!signal_exact(pid, start + 1, Signal::SIGKILL));
        assert!(alive(pid));
        assert!(signal_exact(pid, start, Signal::SIGKILL));
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        // Gone (reaped): nothing to signal.
        assert!(!signal_exact(pid, start, Signal::SIGKILL));
    }
}
