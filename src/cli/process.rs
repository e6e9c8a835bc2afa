//! Spawning one `pulumi` process: the only place in the crate that starts a process.
//!
//! The child leads a session of its own (`setsid`), with stdin closed unless a secret is
//! fed to it, stdout and stderr read concurrently line by line (so a chatty stream cannot
//! deadlock it) into bounded buffers and caller callbacks. Cancelling sends SIGINT to
//! `pulumi`, a second SIGINT after a grace period, then SIGKILL to everything left in its
//! session. Dropping the future cancels the same way: the stop goes on in a task of its own
//! on the current tokio runtime (or, without one, or when the runtime shuts down, the
//! session is killed at once). When the command ends, whatever is left of its session (a
//! plugin that outlived the CLI) is killed too.
//!
//! If the process driving the CLI dies without a chance to cancel (SIGKILL, a crash), the
//! kernel sends `pulumi` a SIGINT (Linux's parent-death signal): the engine cancels as on
//! Ctrl-C, records what it did, releases the stack's lock and stops its plugins, so no
//! process is orphaned and the stack is not left locked. For that the CLI starts with
//! SIGPIPE ignored: its output pipes break when the driver dies, and a Go program that
//! writes to a broken pipe otherwise dies at once. What still escapes (a plugin the
//! engine was starting when it stopped) is found and killed by
//! [`reap_orphans`](super::reap_orphans). The signal follows the thread
//! that spawned the CLI: tokio's worker threads live as long as their runtime.
//!
//! Why a session and not a process group: pulumi starts every plugin (language host,
//! providers) in a process group of its own, so killing the CLI's group would miss them.
//! They do stay in the CLI's session, even after the CLI dies and they are re-parented.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use crate::error::{CommandFailure, Error, Result};
use crate::secret::{Secret, redact};

/// A callback that receives each line of a stream (without its newline).
pub type LineCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// How much of stderr is kept (the tail); stdout's bound is [`Invocation::max_stdout`].
const STDERR_KEEP: usize = 1024 * 1024;
/// How much of each stream a [`CommandFailure`] carries.
const FAILURE_TAIL: usize = 8 * 1024;
/// After the CLI has exited, how long its output pipes may stay open (held by an escaped
/// grandchild) before reading them is abandoned.
const PIPE_DRAIN: Duration = Duration::from_secs(5);

/// How a running command is stopped when it is cancelled or times out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelPolicy {
    /// How long after the first SIGINT (graceful: the engine stops scheduling new steps
    /// and finishes the ones in flight) a second SIGINT is sent (the engine terminates).
    pub grace: Duration,
    /// How long after the second SIGINT the whole process group is killed.
    pub kill_after: Duration,
}

impl Default for CancelPolicy {
    fn default() -> Self {
        CancelPolicy {
            grace: Duration::from_secs(30),
            kill_after: Duration::from_secs(10),
        }
    }
}

/// One command to run: its arguments, environment, input and how to watch it.
///
/// ```
/// use pulumi_auto::cli::Invocation;
/// let inv = Invocation::new(["stack", "ls", "--json"]).cwd("/tmp");
/// assert_eq!(inv.args(), ["stack", "ls", "--json"]);
/// ```
#[derive(Clone, Default)]
pub struct Invocation {
    pub(crate) args: Vec<String>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) env: BTreeMap<String, Option<String>>,
    pub(crate) stdin: Option<Secret>,
    pub(crate) redact: Vec<Secret>,
    pub(crate) max_stdout: Option<usize>,
    pub(crate) on_stdout: Option<LineCallback>,
    pub(crate) on_stderr: Option<LineCallback>,
    pub(crate) cancel: Option<CancellationToken>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) cancel_policy: CancelPolicy,
    pub(crate) stack: Option<String>,
}

impl fmt::Debug for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invocation")
            .field("args", &self.args)
            .field("cwd", &self.cwd)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("stdin", &self.stdin)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Invocation {
    /// A command with these arguments (after `pulumi`). `--non-interactive` is put first.
    pub fn new<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Invocation {
            args: args.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// The arguments (after `pulumi`).
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Appends arguments.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// The working directory (the program directory for most commands).
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), Some(value.into()));
        self
    }

    /// Removes an inherited environment variable from the child's environment.
    pub fn env_remove(mut self, key: impl Into<String>) -> Self {
        self.env.insert(key.into(), None);
        self
    }

    /// Sets (`Some`) or removes (`None`) many variables.
    pub fn envs(mut self, vars: &BTreeMap<String, Option<String>>) -> Self {
        for (k, v) in vars {
            self.env.insert(k.clone(), v.clone());
        }
        self
    }

    /// Feeds a secret to the child's stdin, then closes it. The secret is also redacted
    /// from any output kept in an error.
    pub fn stdin_secret(mut self, secret: Secret) -> Self {
        self.redact.push(secret.clone());
        self.stdin = Some(secret);
        self
    }

    /// Feeds data that is not secret (a deployment to import, a plain config value) to the
    /// child's stdin, then closes it.
    pub fn stdin(mut self, data: impl Into<String>) -> Self {
        self.stdin = Some(Secret::new(data));
        self
    }

    /// Redacts these values from any output kept in an error.
    pub fn redact(mut self, secrets: impl IntoIterator<Item = Secret>) -> Self {
        self.redact.extend(secrets);
        self
    }

    /// Keeps at most this many bytes of stdout (the tail); by default all of it.
    pub fn max_stdout(mut self, bytes: usize) -> Self {
        self.max_stdout = Some(bytes);
        self
    }

    /// Receives each stdout line as it arrives.
    pub fn on_stdout(mut self, f: LineCallback) -> Self {
        self.on_stdout = Some(f);
        self
    }

    /// Receives each stderr line as it arrives.
    pub fn on_stderr(mut self, f: LineCallback) -> Self {
        self.on_stderr = Some(f);
        self
    }

    /// Cancels the command gracefully when the token is cancelled.
    pub fn cancel_token(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Cancels the command gracefully after this long.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How a cancelled command is stopped.
    pub fn cancel_policy(mut self, policy: CancelPolicy) -> Self {
        self.cancel_policy = policy;
        self
    }

    /// The stack this command addresses, named in errors.
    pub fn for_stack(mut self, stack: impl Into<String>) -> Self {
        self.stack = Some(stack.into());
        self
    }
}

/// What a finished command produced.
#[derive(Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// The exit code, `None` if a signal ended it.
    pub exit_code: Option<i32>,
    /// Its stdout (all of it, or the tail when bounded by [`Invocation::max_stdout`]).
    pub stdout: String,
    /// The tail of its stderr.
    pub stderr: String,
    /// The command line, for messages.
    pub command: String,
    /// True when the command was cancelled (by token, timeout).
    pub cancelled: bool,
}

impl fmt::Debug for CommandOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandOutput")
            .field("command", &self.command)
            .field("exit_code", &self.exit_code)
            .field("stdout_len", &self.stdout.len())
            .field("stderr", &tail(&self.stderr, 512))
            .field("cancelled", &self.cancelled)
            .finish()
    }
}

impl CommandOutput {
    /// True when the command exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.cancelled
    }
}

/// A bounded text buffer that keeps the tail.
struct Tail {
    text: String,
    max: usize,
}

impl Tail {
    fn new(max: usize) -> Self {
        Tail {
            text: String::new(),
            max,
        }
    }

    fn push_line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
        if self.text.len() > self.max {
            let mut cut = self.text.len() - self.max;
            while !self.text.is_char_boundary(cut) {
                cut += 1;
            }
            self.text.drain(..cut);
        }
    }
}

fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = s.len() - max;
    while !s.is_char_boundary(cut) {
        cut += 1;
    }
    &s[cut..]
}

/// Reads a stream line by line into a bounded tail, calling `cb` on each line.
async fn pump<R: AsyncRead + Unpin>(reader: R, max: usize, cb: Option<LineCallback>) -> String {
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    let mut out = Tail::new(max);
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                let line = String::from_utf8_lossy(&buf);
                if let Some(cb) = &cb {
                    cb(&line);
                }
                out.push_line(&line);
            }
        }
    }
    out.text
}

/// The live processes of session `sid`.
fn session_members(sid: Pid) -> Vec<Pid> {
    super::procfs::pids()
        .filter(|&pid| {
            super::procfs::stat(pid).is_some_and(|s| !s.zombie && s.session == sid.as_raw())
        })
        .map(Pid::from_raw)
        .collect()
}

/// SIGKILL to every process of the session led by `sid` (a few passes, for processes
/// forked while the first pass ran).
pub(crate) fn kill_session(sid: Pid) {
    let _ = killpg(sid, Signal::SIGKILL);
    for _ in 0..3 {
        let members = session_members(sid);
        if members.is_empty() {
            return;
        }
        for pid in members {
            let _ = kill(pid, Signal::SIGKILL);
        }
    }
}

/// Kills the command's whole session when dropped while armed: a command whose future is
/// dropped must leave no process behind.
struct SessionGuard {
    sid: Option<Pid>,
}

impl SessionGuard {
    fn kill(&mut self) {
        if let Some(sid) = self.sid.take() {
            kill_session(sid);
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The running child while its future is alive. Dropped while armed (the caller dropped
/// the future), it hands the child to a task that stops it gracefully with the
/// invocation's [`CancelPolicy`]; without a runtime to run that task, or if the runtime
/// drops it (shutting down), the session is killed at once.
struct Running {
    child: Option<tokio::process::Child>,
    pid: Option<Pid>,
    policy: CancelPolicy,
    session: SessionGuard,
}

impl Running {
    fn child(&mut self) -> &mut tokio::process::Child {
        match self.child.as_mut() {
            Some(c) => c,
            // Only `Drop` takes the child.
            None => unreachable!("the child is taken only when the command is dropped"),
        }
    }

    /// The command ended (or was stopped): nothing to do on drop but end its leftovers.
    fn finish(&mut self) {
        self.session.kill();
        self.child = None;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let (Some(mut child), Some(pid)) = (self.child.take(), self.pid) else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return; // `self.session` kills the session
        };
        // The task owns the session guard: if the runtime drops the task unrun or halfway,
        // the guard kills the session.
        let mut session = SessionGuard {
            sid: self.session.sid.take(),
        };
        let policy = self.policy;
        tracing::info!(target: "pulumi_auto::cli", pid = pid.as_raw(), "operation dropped: cancelling the CLI");
        handle.spawn(async move {
            let _ = stop(&mut child, Some(pid), &policy).await;
            session.kill();
        });
    }
}

/// The shell-like command line for messages (arguments with spaces quoted).
pub(crate) fn display_command(program: &str, args: &[String]) -> String {
    let mut s = program.to_owned();
    for a in args {
        s.push(' ');
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
            s.push_str(&format!("{a:?}"));
        } else {
            s.push_str(a);
        }
    }
    s
}

/// Runs `program` with the invocation; returns its output whatever the exit code.
pub(crate) async fn run_raw(
    program: &std::path::Path,
    base_env: &BTreeMap<String, Option<String>>,
    inv: Invocation,
) -> Result<CommandOutput> {
    // First, so that it is a flag even when the arguments end with `-- KEY`.
    let mut args = Vec::with_capacity(inv.args.len() + 1);
    if !inv.args.iter().any(|a| a == "--non-interactive") {
        args.push("--non-interactive".to_owned());
    }
    args.extend(inv.args.iter().cloned());
    let command = display_command("pulumi", &args);
    tracing::debug!(target: "pulumi_auto::cli", %command, "spawning");

    let mut cmd = Command::new(program);
    cmd.args(&args);
    if let Some(dir) = &inv.cwd {
        cmd.current_dir(dir);
    }
    // Inherited PULUMI_OPTION_* variables would silently add flags to every command.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PULUMI_OPTION_") {
            cmd.env_remove(&key);
        }
    }
    for (k, v) in base_env.iter().chain(inv.env.iter()) {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.env(super::orphans::DRIVER_ENV, super::orphans::driver_tag())
        .env("PULUMI_AUTOMATION_API", "true")
        .env("PULUMI_SKIP_UPDATE_CHECK", "true")
        .stdin(if inv.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let parent = nix::unistd::getpid();
    // SAFETY: setsid, sigaction, prctl and getppid are async-signal-safe system calls and
    // touch no memory of the parent.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            // A Go program writing to a broken stdout dies of SIGPIPE on the spot, leaving
            // its plugins orphaned and its stack locked. With SIGPIPE ignored, a CLI whose
            // driver died gets EPIPE instead and goes on cancelling cleanly.
            nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigIgn)
                .map_err(std::io::Error::from)?;
            #[cfg(target_os = "linux")]
            {
                nix::sys::prctl::set_pdeathsig(Signal::SIGINT).map_err(std::io::Error::from)?;
                // The parent may have died before the signal was armed.
                if nix::unistd::getppid() != parent {
                    return Err(std::io::Error::other("the parent process exited"));
                }
            }
            Ok(())
        });
    }

    let mut child = cmd
        .spawn()
        .map_err(|e| Error::io(format!("could not start {}", program.display()), e))?;
    let pid = child.id().map(|id| Pid::from_raw(id as i32));
    let mut running = Running {
        child: None,
        pid,
        policy: inv.cancel_policy,
        session: SessionGuard { sid: pid },
    };

    if let (Some(secret), Some(mut stdin)) = (inv.stdin.clone(), child.stdin.take()) {
        tokio::spawn(async move {
            let _ = stdin.write_all(secret.expose().as_bytes()).await;
            let _ = stdin.shutdown().await;
        });
    }
    let stdout_task = child.stdout.take().map(|s| {
        tokio::spawn(pump(
            s,
            inv.max_stdout.unwrap_or(usize::MAX),
            inv.on_stdout.clone(),
        ))
    });
    let stderr_task = child
        .stderr
        .take()
        .map(|s| tokio::spawn(pump(s, STDERR_KEEP, inv.on_stderr.clone())));

    let token = inv.cancel.clone().unwrap_or_default();
    let deadline = async {
        match inv.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    running.child = Some(child);
    let mut cancelled = false;
    let status = tokio::select! {
        status = running.child().wait() => status,
        _ = token.cancelled() => { cancelled = true; stop(running.child(), pid, &inv.cancel_policy).await }
        _ = deadline => { cancelled = true; stop(running.child(), pid, &inv.cancel_policy).await }
    };
    // Anything left in the session outlived the CLI: end it.
    running.finish();
    let status = status.map_err(|e| Error::io(format!("waiting for `{command}`"), e))?;

    let stdout = join_pipe(stdout_task).await;
    let stderr = join_pipe(stderr_task).await;
    tracing::debug!(target: "pulumi_auto::cli", %command, code = ?status.code(), cancelled, "finished");
    Ok(CommandOutput {
        exit_code: status.code(),
        stdout,
        stderr,
        command,
        cancelled,
    })
}

async fn join_pipe(task: Option<tokio::task::JoinHandle<String>>) -> String {
    let Some(mut task) = task else {
        return String::new();
    };
    match tokio::time::timeout(PIPE_DRAIN, &mut task).await {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => String::new(),
        Err(_) => {
            task.abort();
            String::new()
        }
    }
}

/// Graceful stop: SIGINT to pulumi, a second SIGINT after the grace period, then
/// SIGKILL to the group.
async fn stop(
    child: &mut tokio::process::Child,
    pid: Option<Pid>,
    policy: &CancelPolicy,
) -> std::io::Result<std::process::ExitStatus> {
    let Some(pid) = pid else {
        return child.wait().await;
    };
    tracing::info!(target: "pulumi_auto::cli", pid = pid.as_raw(), "cancelling: SIGINT");
    let _ = kill(pid, Signal::SIGINT);
    if let Ok(status) = tokio::time::timeout(policy.grace, child.wait()).await {
        return status;
    }
    tracing::warn!(target: "pulumi_auto::cli", pid = pid.as_raw(), "still running after the grace period: second SIGINT");
    let _ = kill(pid, Signal::SIGINT);
    if let Ok(status) = tokio::time::timeout(policy.kill_after, child.wait()).await {
        return status;
    }
    tracing::warn!(target: "pulumi_auto::cli", pid = pid.as_raw(), "still running: SIGKILL to its session");
    kill_session(pid);
    child.wait().await
}

/// Turns a finished command into `Ok` (exit 0) or the most specific error.
pub(crate) fn check(
    output: CommandOutput,
    inv_redact: &[Secret],
    stack: Option<&str>,
) -> Result<CommandOutput> {
    if output.success() {
        return Ok(output);
    }
    let failure = failure_of(&output, inv_redact);
    if output.cancelled {
        return Err(Error::Cancelled {
            failure: Some(Box::new(failure)),
        });
    }
    Err(super::classify::classify(failure, stack))
}

/// The redacted, bounded record of a command's failure.
pub(crate) fn failure_of(output: &CommandOutput, secrets: &[Secret]) -> CommandFailure {
    CommandFailure {
        command: redact(&output.command, secrets),
        exit_code: output.exit_code,
        stderr: redact(tail(&output.stderr, FAILURE_TAIL), secrets),
        stdout: redact(tail(&output.stdout, FAILURE_TAIL), secrets),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end_on_char_boundaries() {
        let mut t = Tail::new(10);
        for l in ["ééééé", "abc", "defgh"] {
            t.push_line(l);
        }
        assert!(t.text.len() <= 10);
        assert!(t.text.ends_with("defgh\n"));
        assert_eq!(tail("héllo", 4), "llo");
    }

    #[test]
    fn display_quotes_args_with_spaces() {
        let s = display_command(
            "pulumi",
            &["config".into(), "set".into(), "a b".into(), String::new()],
        );
        assert_eq!(s, r#"pulumi config set "a b" """#);
    }

    #[test]
    fn debug_of_invocation_hides_stdin_and_env_values() {
        let inv = Invocation::new(["config", "set", "k"])
            .env("PULUMI_CONFIG_PASSPHRASE", "pass-value")
            .stdin_secret(Secret::new("the-secret"));
        let dbg = format!("{inv:?}");
        assert!(!dbg.contains("the-secret"), "{dbg}");
        assert!(!dbg.contains("pass-value"), "{dbg}");
    }
}
