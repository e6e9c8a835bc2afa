//! What the crate reads of Linux's `/proc`: the process list and a process's stat line.

/// The pids of `/proc` (every process visible to this one).
pub(crate) fn pids() -> impl Iterator<Item = i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
}

/// The fields of `/proc/<pid>/stat` this crate uses.
pub(crate) struct Stat {
    /// The process has exited and waits to be reaped (state `Z`).
    pub zombie: bool,
    /// Its session id (field 6).
    pub session: i32,
    /// When it started, in clock ticks since boot (field 22).
    pub start_time: u64,
}

/// Reads `/proc/<pid>/stat`; `None` when the process is gone.
pub(crate) fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name's closing paren: state ppid pgrp session ... (state is 0).
    let (_, rest) = text.rsplit_once(") ")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        zombie: *fields.first()? == "Z",
        session: fields.get(3)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// Whether `pid` runs (exists and is not a zombie).
pub(crate) fn alive(pid: i32) -> bool {
    stat(pid).is_some_and(|s| !s.zombie)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        let me = std::process::id() as i32;
        assert!(super::pids().any(|p| p == me));
        let s = super::stat(me).unwrap();
        assert!(!s.zombie);
        assert!(s.start_time > 0);
        assert!(super::alive(me));
        assert!(super::stat(-1).is_none());
    }
}
