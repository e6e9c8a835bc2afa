//! Telling a CLI, once, that its driver died.
//!
//! Linux's parent-death signal (`PR_SET_PDEATHSIG`) cannot do it: the kernel sends it
//! each time the child is re-parented, and a child's parent is a *thread*. A CLI forked by
//! a tokio blocking thread gets it when that thread retires, with the driver alive; and
//! when a multi-threaded driver dies, its threads exit one after another, the CLI is
//! handed from each to the next, and gets the signal again each time: pulumi takes the
//! second SIGINT as "terminate now", abandons the steps in flight and leaves them
//! pending in the state (seen in the kill trial: 2 and 3 signals).
//!
//! So the CLI has no parent-death signal. Each CLI gets a watcher instead: a `/bin/sh`
//! that reads a pipe whose only writer is the driver (close-on-exec, so no other program
//! inherits it). The pipe ends exactly once, when the driver process is gone, however its
//! threads go; the watcher then sends the CLI one SIGINT and exits. When the command ends
//! normally, the driver kills its watcher first (its own child, not yet reaped: the pid
//! is still its), then closes the pipe. The watcher has an empty environment and a
//! session of its own: no tag, no marker, nothing of the driver's process group.
//!
//! Without `/bin/sh` there is no watcher, and a CLI whose driver died is not told: it
//! runs its command to the end, which leaves the stack as cleanly.

use std::os::fd::OwnedFd;
use std::process::Stdio;

/// What the watcher runs: `$1` is the CLI's pid. `read` fails only at the end of the pipe
/// with nothing read, that is when the driver is gone.
const SCRIPT: &str = r#"read -r _ || kill -INT "$1" 2>/dev/null"#;

/// The shell the watcher runs in.
const SHELL: &str = "/bin/sh";

/// A CLI's watcher while the command runs. Dropping it stops the watcher (SIGKILL to our
/// child), then closes the pipe.
pub(crate) struct Watch {
    // Declared first, dropped first: the watcher is killed before the pipe ends.
    _watcher: tokio::process::Child,
    _pipe: OwnedFd,
}

/// Starts the watcher of the CLI `cli_pid` (our child, not yet reaped); `None` when it
/// cannot be started (no `/bin/sh`): see the module docs.
pub(crate) fn arm(cli_pid: u32) -> Option<Watch> {
    let (read, write) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::debug!(target: "pulumi_auto::cli", error = %e, "no pipe for the CLI's watcher");
            return None;
        }
    };
    let mut cmd = tokio::process::Command::new(SHELL);
    cmd.args(["-c", SCRIPT, "pulumi-auto-watch", &cli_pid.to_string()])
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::from(read))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    // SAFETY: setsid is an async-signal-safe system call that touches no memory.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    match cmd.spawn() {
        Ok(watcher) => Some(Watch {
            _watcher: watcher,
            _pipe: write,
        }),
        Err(e) => {
            tracing::debug!(target: "pulumi_auto::cli", error = %e, "no watcher for the CLI: if this process dies, the CLI runs its command to the end");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::time::Duration;

    /// A stand-in CLI: a shell that reports its first SIGINT, and how many it got. It
    /// prints `ready` once its trap is set (before that a SIGINT would kill it).
    fn stand_in() -> tokio::process::Command {
        let mut c = tokio::process::Command::new("sh");
        c.args([
            "-c",
            "n=0; trap 'n=$((n+1))' INT; echo ready; i=0; while [ $i -lt 100 ] && [ $n -eq 0 ]; do sleep 0.05; i=$((i+1)); done; sleep 0.3; exit $((10+n))",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
        c
    }

    /// Waits until the stand-in has set its trap.
    async fn ready(cli: &mut tokio::process::Child) {
        use tokio::io::AsyncBufReadExt;
        let out = cli.stdout.take().unwrap();
        let mut line = String::new();
        tokio::io::BufReader::new(out)
            .read_line(&mut line)
            .await
            .unwrap();
        assert_eq!(line.trim(), "ready");
    }

    #[tokio::test]
    async fn a_normal_end_sends_nothing() {
        let mut cli = stand_in().spawn().unwrap();
        ready(&mut cli).await;
        let watch = arm(cli.id().unwrap()).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(watch);
        // No SIGINT: the stand-in runs its 5 s loop out and exits 10.
        let status = cli.wait().await.unwrap();
        assert_eq!(status.code(), Some(10), "{status:?}");
    }

    #[tokio::test]
    async fn the_end_of_the_pipe_sends_exactly_one_sigint() {
        let mut cli = stand_in().spawn().unwrap();
        ready(&mut cli).await;
        let Watch { _watcher, _pipe } = arm(cli.id().unwrap()).unwrap();
        // The driver's death, as the watcher sees it: the pipe's only writer is gone
        // while the watcher runs.
        drop(_pipe);
        let status = cli.wait().await.unwrap();
        assert_eq!(status.code(), Some(11), "one SIGINT: {status:?}");
        assert_eq!(status.signal(), None);
    }
}
