//! Processes left behind by a driver that died without a chance to clean up.
//!
//! Every `pulumi` this crate starts carries [`DRIVER_ENV`] in its environment, naming the
//! driving process (its pid and start time, so a reused pid is not mistaken for it);
//! plugins, programs and dynamic-provider hosts inherit it. Each CLI leads a session of
//! its own, and the driver records that session in this user's registry (see
//! `registry.rs`). When a driver is killed outright its CLI cancels or completes (see the
//! [`process`](super) docs) and normally stops its plugins; but a plugin the engine was
//! still starting, or one that ignores the engine's going away (the Python
//! dynamic-provider host waits forever), can outlive it. [`reap_orphans`] finds those
//! and kills them.
//!
//! What it kills is narrow: a process tagged with a driver that is gone, in a session
//! that driver recorded for one of its CLIs. Never a process whose driver is alive; never
//! one that detached into a session of its own (a daemon a program started on purpose);
//! never a live driver nested in the dead one's run (a program or provider that drives
//! pulumi itself inherited the outer tag), nor anything below it, nor the reaping
//! process and its ancestors; and, unless forced, nothing in the session of a CLI that
//! is still running (it may be cancelling and saving the stack's state). Each kill goes
//! through a pidfd after checking the process's start time, so a pid reused in the
//! meantime is never hit. [`Stack::recover`](crate::Stack::recover) calls it first.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use nix::sys::signal::Signal;

use super::procfs;
use super::registry::{self, Entry, Name, ProcId};

/// The environment variable that tags every process of this crate's CLI runs with their
/// driver: `<pid>:<start time in clock ticks since boot>`.
pub const DRIVER_ENV: &str = "PULUMI_AUTO_DRIVER";

/// This process, as the registry names it.
pub(crate) fn me() -> ProcId {
    static ME: OnceLock<ProcId> = OnceLock::new();
    *ME.get_or_init(|| {
        let pid = std::process::id() as i32;
        ProcId {
            pid,
            start: start_time(pid).unwrap_or(0),
        }
    })
}

/// This process's tag.
pub(crate) fn driver_tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| format!("{}:{}", me().pid, me().start))
}

/// When a process started (field 22 of `/proc/<pid>/stat`).
fn start_time(pid: i32) -> Option<u64> {
    procfs::stat(pid).map(|s| s.start_time)
}

/// Whether the process `id` names runs (same pid, same start time, not a zombie).
pub(crate) fn alive(id: ProcId) -> bool {
    procfs::stat(id.pid).is_some_and(|s| !s.zombie && s.start_time == id.start)
}

/// Parses a [`DRIVER_ENV`] value.
fn parse_tag(value: &str) -> Option<ProcId> {
    let (pid, start) = value.split_once(':')?;
    Some(ProcId {
        pid: pid.parse().ok()?,
        start: start.parse().ok()?,
    })
}

/// What [`reap_orphans`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// The processes killed.
    pub reaped: Vec<i32>,
    /// Processes of a dead driver left alone because their CLI still runs (it is
    /// cancelling, or finishing its command); with `force` they are killed too.
    pub still_stopping: Vec<i32>,
}

/// A live process as the reaper sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proc {
    pub id: ProcId,
    pub ppid: i32,
    pub session: i32,
    /// The driver its [`DRIVER_ENV`] names (read only where it matters).
    pub tag: Option<ProcId>,
}

/// What to do, decided from the registry and the process list alone.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Kill these.
    pub kill: Vec<ProcId>,
    /// Left alone: their CLI still runs.
    pub still_stopping: Vec<i32>,
    /// Registry files of dead drivers that are done with (their sessions are empty).
    pub forget: Vec<Name>,
}

/// Decides what [`reap_orphans`] does: see the [module docs](self). `procs` are the live
/// (non-zombie) processes; `me` is the reaping process.
pub(crate) fn plan(names: &[Name], procs: &[Proc], me: ProcId, force: bool) -> Plan {
    let live: HashSet<ProcId> = procs.iter().map(|p| p.id).collect();
    let by_pid: HashMap<i32, &Proc> = procs.iter().map(|p| (p.id.pid, p)).collect();
    let mut drivers: HashSet<ProcId> = names
        .iter()
        .map(|n| match n {
            Name::Driver(d) => *d,
            Name::Session(e) => e.driver,
        })
        .filter(|d| live.contains(d))
        .collect();
    drivers.insert(me);
    // The sessions of dead drivers' CLIs, by session id.
    let sessions: HashMap<i32, &Entry> = names
        .iter()
        .filter_map(|n| match n {
            Name::Session(e) if !live.contains(&e.driver) => Some((e.cli.pid, e)),
            _ => None,
        })
        .collect();
    // The reaper's own ancestors are never touched.
    let mut mine = HashSet::new();
    let mut cur = by_pid.get(&me.pid).copied();
    while let Some(p) = cur {
        if !mine.insert(p.id) {
            break;
        }
        cur = by_pid.get(&p.ppid).copied();
    }
    // Whether `p` is a live driver or runs below one.
    let under_a_driver = |p: &Proc| {
        let mut seen = HashSet::new();
        let mut cur = Some(p);
        while let Some(q) = cur {
            if drivers.contains(&q.id) {
                return true;
            }
            if !seen.insert(q.id.pid) {
                break;
            }
            cur = by_pid.get(&q.ppid).copied();
        }
        false
    };

    let mut out = Plan::default();
    let mut busy: HashSet<i32> = HashSet::new();
    for p in procs {
        let Some(entry) = sessions.get(&p.session) else {
            continue;
        };
        // Something lives in the session: its record stays for now.
        busy.insert(p.session);
        if p.tag != Some(entry.driver) || mine.contains(&p.id) || under_a_driver(p) {
            continue;
        }
        match by_pid.get(&entry.cli.pid) {
            // The pid now leads something else: not the recorded CLI's session.
            Some(leader) if leader.id != entry.cli => continue,
            Some(_) if !force => out.still_stopping.push(p.id.pid),
            _ => out.kill.push(p.id),
        }
    }
    for n in names {
        match n {
            Name::Session(e) if !live.contains(&e.driver) && !busy.contains(&e.cli.pid) => {
                out.forget.push(n.clone())
            }
            Name::Driver(d) if !live.contains(d) => {
                // Its marker goes with its last session.
                let sessions_left = names.iter().any(
                    |m| matches!(m, Name::Session(e) if e.driver == *d && busy.contains(&e.cli.pid)),
                );
                if !sessions_left {
                    out.forget.push(n.clone());
                }
            }
            _ => {}
        }
    }
    out
}

/// The live processes, with the tag read for those in the sessions that matter.
fn scan(sessions: &HashSet<i32>) -> Vec<Proc> {
    procfs::pids()
        .filter_map(|pid| {
            let s = procfs::stat(pid).filter(|s| !s.zombie)?;
            let tag = if sessions.contains(&s.session) {
                procfs::environ_var(pid, DRIVER_ENV).and_then(|v| parse_tag(&v))
            } else {
                None
            };
            Some(Proc {
                id: ProcId {
                    pid,
                    start: s.start_time,
                },
                ppid: s.ppid,
                session: s.session,
                tag,
            })
        })
        .collect()
}

/// Kills the processes left by drivers that died: see the [module docs](self). With
/// `force`, also what runs in the sessions of their CLIs that still run (the CLIs
/// included). Linux only (reads `/proc`); elsewhere it finds nothing.
pub fn reap_orphans(force: bool) -> Leftovers {
    let names = registry::list();
    let sessions: HashSet<i32> = names
        .iter()
        .filter_map(|n| match n {
            Name::Session(e) => Some(e.cli.pid),
            Name::Driver(_) => None,
        })
        .collect();
    if names.is_empty() {
        return Leftovers::default();
    }
    let plan = plan(&names, &scan(&sessions), me(), force);
    let mut out = Leftovers {
        reaped: Vec::new(),
        still_stopping: plan.still_stopping,
    };
    for id in plan.kill {
        if procfs::signal_exact(id.pid, id.start, Signal::SIGKILL) {
            out.reaped.push(id.pid);
        }
    }
    for n in &plan.forget {
        registry::remove(n);
    }
    if !out.reaped.is_empty() {
        tracing::warn!(target: "pulumi_auto::cli", reaped = ?out.reaped, "killed processes left by a driver that died");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(pid: i32, start: u64) -> ProcId {
        ProcId { pid, start }
    }

    fn proc(pid: i32, ppid: i32, session: i32, tag: Option<ProcId>) -> Proc {
        Proc {
            id: id(pid, pid as u64 * 10),
            ppid,
            session,
            tag,
        }
    }

    #[test]
    fn tags() {
        assert_eq!(parse_tag("12:345"), Some(id(12, 345)));
        assert_eq!(parse_tag("12"), None);
        assert_eq!(parse_tag("a:1"), None);
        // Our own tag names us, alive; another start time is not us.
        let me = parse_tag(driver_tag()).unwrap();
        assert_eq!(me, super::me());
        assert!(alive(me));
        assert!(!alive(id(me.pid, me.start + 1)));
    }

    /// A dead driver D (pid 100) ran CLI 200, which has exited; a live driver L (pid 300)
    /// runs CLI 400. The reaper is pid 1000.
    fn world() -> (Vec<Name>, Vec<Proc>, ProcId) {
        let dead = id(100, 1);
        let live = id(300, 3000);
        let names = vec![
            Name::Driver(dead),
            Name::Session(Entry {
                driver: dead,
                cli: id(200, 2000),
            }),
            Name::Driver(live),
            Name::Session(Entry {
                driver: live,
                cli: id(400, 4000),
            }),
        ];
        let d = Some(dead);
        let procs = vec![
            proc(1, 0, 1, None),
            proc(1000, 1, 1000, None),
            // The live driver and its CLI, with a plugin.
            proc(300, 1, 300, None),
            proc(400, 300, 400, Some(live)),
            proc(401, 400, 400, Some(live)),
            // The dead driver's leftovers in its CLI's session: a provider and its child.
            proc(201, 1, 200, d),
            proc(202, 201, 200, d),
            // A daemon a program detached into a session of its own, and its child.
            proc(210, 1, 210, d),
            proc(211, 210, 210, d),
            // A process in the session whose tag was not inherited (env cleared).
            proc(220, 1, 200, None),
        ];
        (names, procs, id(1000, 10000))
    }

    #[test]
    fn only_a_dead_drivers_own_sessions_are_reaped() {
        let (names, procs, me) = world();
        let p = plan(&names, &procs, me, false);
        assert_eq!(p.kill, [id(201, 2010), id(202, 2020)]);
        assert!(p.still_stopping.is_empty());
        // The session still has members: its record and the marker stay until a later
        // pass finds it empty.
        assert!(p.forget.is_empty(), "{:?}", p.forget);
        // Once it is empty (but for the untagged process, which keeps it busy) nothing
        // is killed; once that is gone too, the dead driver's files go.
        let procs: Vec<Proc> = procs
            .into_iter()
            .filter(|p| p.session != 200 || p.id.pid == 220)
            .collect();
        let p = plan(&names, &procs, me, false);
        assert!(p.kill.is_empty() && p.forget.is_empty(), "{p:?}");
        let procs: Vec<Proc> = procs.into_iter().filter(|p| p.id.pid != 220).collect();
        let p = plan(&names, &procs, me, false);
        assert!(p.kill.is_empty());
        assert_eq!(p.forget, [names[0].clone(), names[1].clone()]);
    }

    #[test]
    fn a_running_cli_is_left_to_finish_unless_forced() {
        let (names, mut procs, me) = world();
        // The dead driver's CLI still runs (it is cancelling).
        procs.push(proc(200, 1, 200, Some(id(100, 1))));
        let p = plan(&names, &procs, me, false);
        assert!(p.kill.is_empty());
        assert_eq!(p.still_stopping, [201, 202, 200]);
        let p = plan(&names, &procs, me, true);
        assert_eq!(p.kill, [id(201, 2010), id(202, 2020), id(200, 2000)]);
    }

    #[test]
    fn a_reused_pid_of_the_cli_is_not_its_session() {
        let (names, mut procs, me) = world();
        // Pid 200 now belongs to another process (another start time) leading a session
        // 200 of its own, with a member carrying the dead driver's tag.
        procs.retain(|p| p.session != 200);
        procs.push(Proc {
            id: id(200, 99_999),
            ppid: 1,
            session: 200,
            tag: None,
        });
        procs.push(proc(205, 200, 200, Some(id(100, 1))));
        let p = plan(&names, &procs, me, true);
        assert!(p.kill.is_empty(), "{p:?}");
    }

    #[test]
    fn nested_drivers_what_they_run_and_the_reaper_are_spared() {
        let (mut names, mut procs, me) = world();
        let dead = Some(id(100, 1));
        // A nested driver N (pid 230) in the dead run's session, started by the dead
        // driver's provider; it runs a child of its own and a CLI of its own.
        procs.push(proc(230, 201, 200, dead));
        procs.push(proc(231, 230, 200, dead));
        procs.push(proc(240, 230, 240, Some(id(230, 2300))));
        names.push(Name::Driver(id(230, 2300)));
        names.push(Name::Session(Entry {
            driver: id(230, 2300),
            cli: id(240, 2400),
        }));
        // The reaper itself runs in the dead run's session (it is a program of it),
        // below the provider 202.
        let me_in_run = id(250, 2500);
        procs.push(proc(250, 202, 200, dead));
        let p = plan(&names, &procs, me_in_run, true);
        // 201 and 202 are the reaper's ancestors; 230 and 231 are the nested driver and
        // its child; 240 is the nested driver's CLI (its driver lives).
        assert!(p.kill.is_empty(), "{p:?}");
        // Run from outside, the provider and its child go, the nested driver stays.
        let p = plan(&names, &procs, me, true);
        assert_eq!(p.kill, [id(201, 2010), id(202, 2020), id(250, 2500)]);
    }

    #[test]
    fn reaps_only_the_orphans_of_dead_drivers_in_their_recorded_sessions() {
        // Real processes: three `sleep`s, each in a session of its own (setsid), all
        // tagged with a dead driver (our pid with another start time). Two sessions are
        // recorded as that driver's CLIs' (their leaders, the shells, have exited); the
        // third is not (a process that detached on purpose).
        let dead = id(me().pid, me().start + 1);
        let tag = format!("{}:{}", dead.pid, dead.start);
        let spawn = || {
            let out = std::process::Command::new("setsid")
                .args([
                    "--fork",
                    "sh",
                    "-c",
                    "echo $$; sleep 30 >/dev/null 2>&1 & echo $!; exec >&- 2>&-; sleep 0.5",
                ])
                .env(DRIVER_ENV, &tag)
                .stderr(std::process::Stdio::null())
                .output()
                .unwrap();
            let text = String::from_utf8(out.stdout).unwrap();
            let v: Vec<i32> = text.lines().map(|l| l.trim().parse().unwrap()).collect();
            (v[0], v[1])
        };
        let recorded: Vec<(i32, i32)> = (0..2).map(|_| spawn()).collect();
        let detached = spawn();
        // Wait for the leading shells to exit: the sessions keep only the sleeps.
        for (leader, _) in recorded.iter().chain([&detached]) {
            let t = std::time::Instant::now();
            while procfs::alive(*leader) {
                assert!(t.elapsed() < std::time::Duration::from_secs(10));
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let dir = registry::dir().unwrap();
        let mut files = Vec::new();
        for (leader, _) in &recorded {
            let e = Entry {
                driver: dead,
                cli: id(*leader, 1),
            };
            let path = dir.join(registry::record_name(&e));
            std::fs::write(&path, "").unwrap();
            files.push(path);
        }
        let left = reap_orphans(false);
        for (_, sleeper) in &recorded {
            assert!(left.reaped.contains(sleeper), "{left:?} {recorded:?}");
        }
        assert!(!left.reaped.contains(&detached.1));
        assert!(procfs::alive(detached.1));
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(detached.1), Signal::SIGKILL);
        // The sessions are over: a second pass forgets them.
        let t = std::time::Instant::now();
        while recorded.iter().any(|(_, s)| procfs::alive(*s)) {
            assert!(t.elapsed() < std::time::Duration::from_secs(10));
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        reap_orphans(false);
        for f in files {
            assert!(!f.exists(), "{} was not forgotten", f.display());
        }
    }
}
