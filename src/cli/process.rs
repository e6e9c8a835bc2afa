//! Spawning one `pulumi` process: the only place in the crate that starts a process.
//!
//! The child leads a session of its own (`setsid`). Its stdin is a sealed in-memory file
//! holding what is fed to it (a secret, a deployment), complete before it starts, or
//! nothing; its stdout and stderr are anonymous files read as they grow (see
//! `output.rs`), line by line, into bounded buffers and caller callbacks. Cancelling
//! sends `pulumi` SIGTERM (inside the engine: the engine stops scheduling steps, finishes
//! and records the ones in flight, releases the lock), a second SIGTERM after a grace
//! period (the engine terminates), then SIGKILL to everything left in its session.
//! Dropping the future cancels the same way: the stop goes on in a task of its own on the
//! current tokio runtime (or, without one, or when the runtime shuts down, the session is
//! killed at once). When the command ends, whatever is left of its session (a plugin that
//! outlived the CLI) is killed too.
//!
//! If the process driving the CLI dies without a chance to cancel (SIGKILL, a crash), the
//! CLI gets one SIGINT from a watcher (see `watch.rs`: not Linux's parent-death signal,
//! which follows threads and comes again each time the CLI is re-parented; pulumi takes a
//! second SIGINT as "terminate now"). The CLI starts with SIGINT ignored: a Go program
//! keeps an inherited SIG_IGN for SIGINT except while it listens for the signal, and
//! pulumi listens only inside the engine's cancellation scope. So the driver's death
//! lands one of two ways, and neither leaves the stack locked:
//! - inside the engine: a graceful cancel, as on Ctrl-C: the steps in flight finish and
//!   are recorded, the lock is released, the plugins are stopped;
//! - anywhere else (starting up, loading the program's plugins, taking the lock, or after
//!   the engine, while the state and history are saved and the lock released): ignored,
//!   and the command runs to its end. A SIGINT there would kill pulumi on the spot,
//!   holding the lock if it had it.
//!
//! Nothing the CLI needs can break when the driver is gone: its output goes to files, not
//! pipes (a Go program writing to a broken stdout or stderr pipe dies of SIGPIPE
//! whatever its disposition), its input is already whole, and the passphrase it reads is
//! read before the engine starts. What still escapes (a plugin the engine was starting
//! when it stopped) is found and killed by [`reap_orphans`](super::reap_orphans), which
//! knows the driver's sessions from the record it leaves (see `registry.rs`).
//!
//! The passphrase never goes in the CLI's environment, where every plugin, language host
//! and program would inherit it: an effective `PULUMI_CONFIG_PASSPHRASE` (set by the
//! workspace, the invocation or inherited) becomes `PULUMI_CONFIG_PASSPHRASE_FILE`
//! naming a sealed in-memory file of the driver (see `memfile.rs`).
//!
//! Why a session and not a process group: pulumi starts every plugin (language host,
//! providers) in a process group of its own, so killing the CLI's group would miss them.
//! They do stay in the CLI's session, even after the CLI dies and they are re-parented.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{SigHandler, Signal, kill, signal};
use nix::unistd::Pid;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::memfile::{self, SealedFile};
use super::output::Capture;
use super::registry::{self, ProcId, Record};
use super::watch::{self, Watch};
use super::{orphans, procfs};
use crate::error::{CommandFailure, Error, Result};
use crate::secret::{Secret, redact};

pub use super::output::LineCallback;

/// How much of stderr is kept (the tail); stdout's bound is [`Invocation::max_stdout`].
const STDERR_KEEP: usize = 1024 * 1024;
/// How much of each stream a [`CommandFailure`] carries.
const FAILURE_TAIL: usize = 8 * 1024;
/// The variable pulumi reads the passphrase from.
const PASSPHRASE_ENV: &str = "PULUMI_CONFIG_PASSPHRASE";
/// The variable naming a file pulumi reads the passphrase from.
const PASSPHRASE_FILE_ENV: &str = "PULUMI_CONFIG_PASSPHRASE_FILE";

/// How a running command is stopped when it is cancelled or times out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelPolicy {
    /// How long after the first SIGTERM (graceful: the engine stops scheduling new steps
    /// and finishes the ones in flight) a second SIGTERM is sent (the engine terminates).
    pub grace: Duration,
    /// How long after the second SIGTERM the CLI's whole session is killed.
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

/// The live processes of session `sid`, with their start times.
fn session_members(sid: i32) -> Vec<ProcId> {
    procfs::pids()
        .filter_map(|pid| {
            let s = procfs::stat(pid)?;
            (!s.zombie && s.session == sid).then_some(ProcId {
                pid,
                start: s.start_time,
            })
        })
        .collect()
}

/// SIGKILL to every process of the session `sid` (a few passes, for processes forked
/// while the first pass ran). A process is in it only while its session exists, and a
/// session's id is not given to a new process while any member lives, so the scan finds
/// the session's processes; each is signalled through a pidfd after checking its start
/// time (see [`procfs::signal_exact`]), so one that exited meanwhile and whose pid was
/// reused is not hit.
pub(crate) fn kill_session(sid: i32) {
    for _ in 0..4 {
        let members = session_members(sid);
        if members.is_empty() {
            return;
        }
        for m in members {
            procfs::signal_exact(m.pid, m.start, Signal::SIGKILL);
        }
    }
}

/// One CLI's session: killed when the command ends or its future is dropped, so that
/// nothing of it is left behind; then its record in the registry is removed.
struct SessionGuard {
    sid: Option<i32>,
    record: Option<Record>,
}

impl SessionGuard {
    /// Records the session of a CLI just spawned.
    fn of(child: &tokio::process::Child) -> SessionGuard {
        let Some(pid) = child.id().map(|p| p as i32) else {
            return SessionGuard {
                sid: None,
                record: None,
            };
        };
        // Our child, not yet waited for: its pid cannot have been reused.
        let record = procfs::stat(pid).and_then(|s| {
            registry::record(
                orphans::me(),
                ProcId {
                    pid,
                    start: s.start_time,
                },
                orphans::alive,
            )
        });
        SessionGuard {
            sid: Some(pid),
            record,
        }
    }

    fn kill(&mut self) {
        if let Some(sid) = self.sid.take() {
            kill_session(sid);
        }
        self.record = None;
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Everything that must end with the command, whichever way it ends: the rest of its
/// session is killed, the readers of its output are told it exited, the files it reads
/// (its stdin, its passphrase) are closed and its watcher is stopped.
struct Ending {
    session: SessionGuard,
    exited: CancellationToken,
    _files: Vec<SealedFile>,
    _watch: Option<Watch>,
}

impl Ending {
    fn now(&mut self) {
        self.session.kill();
        self.exited.cancel();
    }
}

impl Drop for Ending {
    fn drop(&mut self) {
        self.now();
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
    ending: Option<Ending>,
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
        self.ending = None;
        self.child = None;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let (Some(mut child), Some(pid)) = (self.child.take(), self.pid) else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return; // `self.ending` kills the session
        };
        // The task owns what must end with the command: if the runtime drops the task
        // unrun or halfway, dropping it kills the session.
        let ending = self.ending.take();
        let policy = self.policy;
        tracing::info!(target: "pulumi_auto::cli", pid = pid.as_raw(), "operation dropped: cancelling the CLI");
        handle.spawn(async move {
            let _ = stop(&mut child, Some(pid), &policy).await;
            drop(ending);
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

/// How to name argument `i` in an error, without showing it: `--flag` for `--flag=…`, the
/// value of the flag before it, or its position.
fn argument_name(args: &[String], i: usize) -> String {
    let a = &args[i];
    if let Some((flag, _)) = a.split_once('=')
        && flag.starts_with("--")
        && !flag.contains('\0')
    {
        return format!("`{flag}`");
    }
    match i.checked_sub(1).map(|j| &args[j]) {
        Some(prev) if prev.starts_with('-') && !a.starts_with('-') && !prev.contains('\0') => {
            format!("`{prev}`")
        }
        _ => format!("argument {} of `pulumi`", i + 1),
    }
}

/// Refuses, before anything is spawned, what no process can be given: a NUL byte in an
/// argument, an environment variable's name or value, the working directory or a secret
/// fed on stdin, and a variable name that is empty or holds `=`. The errors name the bad
/// part, never a value.
pub(crate) fn validate(
    args: &[String],
    env: &[&BTreeMap<String, Option<String>>],
    cwd: Option<&Path>,
    stdin_secret: Option<&Secret>,
) -> Result<()> {
    const NUL: &str = "contains a NUL byte, which no process can be given";
    if let Some(i) = args.iter().position(|a| a.contains('\0')) {
        return Err(Error::invalid(argument_name(args, i), NUL));
    }
    for (key, value) in env.iter().flat_map(|m| m.iter()) {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return Err(Error::invalid(
                "environment variable name",
                format!("{key:?} is not a valid name (empty, or holding `=` or a NUL byte)"),
            ));
        }
        if value.as_deref().is_some_and(|v| v.contains('\0')) {
            return Err(Error::invalid(
                format!("environment variable {key}"),
                format!("its value {NUL}"),
            ));
        }
    }
    if cwd.is_some_and(|d| {
        use std::os::unix::ffi::OsStrExt;
        d.as_os_str().as_bytes().contains(&0)
    }) {
        return Err(Error::invalid("working directory", NUL));
    }
    if stdin_secret.is_some_and(|s| s.expose().contains('\0')) {
        return Err(Error::invalid("secret value", NUL));
    }
    Ok(())
}

/// The passphrase the child would see: set (or removed) by the invocation, else by the
/// base environment, else inherited.
fn effective_passphrase(
    base_env: &BTreeMap<String, Option<String>>,
    inv_env: &BTreeMap<String, Option<String>>,
) -> Option<String> {
    match inv_env
        .get(PASSPHRASE_ENV)
        .or_else(|| base_env.get(PASSPHRASE_ENV))
    {
        Some(v) => v.clone(),
        None => std::env::var(PASSPHRASE_ENV).ok(),
    }
}

/// Moves the passphrase out of the child's environment into a sealed file the child
/// reads (see the module docs); `None` when it stays where it was: no passphrase, one
/// that reading a file would change, or no way to expose the file.
fn passphrase_file(cmd: &mut Command, passphrase: Option<&str>) -> Option<SealedFile> {
    let p = passphrase?;
    if !memfile::survives_file(p) {
        tracing::debug!(target: "pulumi_auto::cli", "the passphrase has white space at an end, which the CLI strips from a file: it stays in PULUMI_CONFIG_PASSPHRASE");
        return None;
    }
    if !memfile::proc_fds_reachable() {
        tracing::debug!(target: "pulumi_auto::cli", "this process's descriptors cannot be opened through /proc: the passphrase stays in PULUMI_CONFIG_PASSPHRASE");
        return None;
    }
    match SealedFile::new("pulumi-auto-passphrase", p.as_bytes()) {
        Ok(file) => {
            cmd.env_remove(PASSPHRASE_ENV)
                .env(PASSPHRASE_FILE_ENV, file.proc_path());
            Some(file)
        }
        Err(e) => {
            tracing::debug!(target: "pulumi_auto::cli", error = %e, "no in-memory file for the passphrase: it stays in PULUMI_CONFIG_PASSPHRASE");
            None
        }
    }
}

/// A CLI run ready to spawn: the command, how it is shown, the sealed files it reads
/// (passphrase, stdin) and the files its output goes to.
struct Prepared {
    cmd: Command,
    command: String,
    files: Vec<SealedFile>,
    out: Capture,
    err: Capture,
}

/// Validates the invocation and builds its command: arguments, environment (with the
/// passphrase moved to a sealed file), stdin, output files and the child's own session.
/// Pure setup: nothing is spawned.
fn prepare(
    program: &std::path::Path,
    base_env: &BTreeMap<String, Option<String>>,
    inv: &Invocation,
) -> Result<Prepared> {
    // First, so that it is a flag even when the arguments end with `-- KEY`.
    let mut args = Vec::with_capacity(inv.args.len() + 1);
    if !inv.args.iter().any(|a| a == "--non-interactive") {
        args.push("--non-interactive".to_owned());
    }
    args.extend(inv.args.iter().cloned());
    let secret_stdin = inv.stdin.as_ref().filter(|s| inv.redact.contains(s));
    validate(
        &args,
        &[base_env, &inv.env],
        inv.cwd.as_deref(),
        secret_stdin,
    )?;
    let command = display_command("pulumi", &args);

    let mut cmd = Command::new(program);
    cmd.args(&args);
    if let Some(dir) = &inv.cwd {
        cmd.current_dir(dir);
    }
    apply_env(&mut cmd, base_env, &inv.env);
    let mut files = Vec::new();
    files.extend(passphrase_file(
        &mut cmd,
        effective_passphrase(base_env, &inv.env).as_deref(),
    ));
    let stdin = match &inv.stdin {
        Some(data) => {
            let file = SealedFile::new("pulumi-auto-stdin", data.expose().as_bytes())
                .map_err(|e| Error::io("preparing the CLI's input", e))?;
            let stdio = file
                .stdio()
                .map_err(|e| Error::io("preparing the CLI's input", e))?;
            files.push(file);
            stdio
        }
        None => Stdio::null(),
    };
    let io = |e| Error::io("creating the files the CLI's output goes to", e);
    let (out, err) = (Capture::new().map_err(io)?, Capture::new().map_err(io)?);
    cmd.env(orphans::DRIVER_ENV, orphans::driver_tag())
        .env("PULUMI_AUTOMATION_API", "true")
        .env("PULUMI_SKIP_UPDATE_CHECK", "true")
        .stdin(stdin)
        .stdout(out.stdio().map_err(io)?)
        .stderr(err.stdio().map_err(io)?)
        .kill_on_drop(true);
    // SAFETY: setsid and sigaction are async-signal-safe system calls and touch no memory
    // of the parent.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            // Ignored, SIGINT reaches pulumi only inside the engine's cancellation scope,
            // where it cancels gracefully: see the module docs.
            signal(Signal::SIGINT, SigHandler::SigIgn).map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    Ok(Prepared {
        cmd,
        command,
        files,
        out,
        err,
    })
}

/// The child's environment: the base environment, then the invocation's (`None` removes
/// a variable), and no inherited `PULUMI_OPTION_*` variable, which would silently add
/// flags to every command.
fn apply_env(
    cmd: &mut Command,
    base_env: &BTreeMap<String, Option<String>>,
    inv_env: &BTreeMap<String, Option<String>>,
) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PULUMI_OPTION_") {
            cmd.env_remove(&key);
        }
    }
    for (k, v) in base_env.iter().chain(inv_env.iter()) {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
}

/// Runs `program` with the invocation; returns its output whatever the exit code.
pub(crate) async fn run_raw(
    program: &std::path::Path,
    base_env: &BTreeMap<String, Option<String>>,
    inv: Invocation,
) -> Result<CommandOutput> {
    let Prepared {
        mut cmd,
        command,
        files,
        out,
        err,
    } = prepare(program, base_env, &inv)?;
    tracing::debug!(target: "pulumi_auto::cli", %command, "spawning");
    let child = cmd
        .spawn()
        .map_err(|e| Error::io(format!("could not start {}", program.display()), e))?;
    let session = SessionGuard::of(&child);
    let pid = child.id().map(|id| Pid::from_raw(id as i32));
    let watch = child.id().and_then(watch::arm);
    let exited = CancellationToken::new();
    let mut running = Running {
        child: Some(child),
        pid,
        policy: inv.cancel_policy,
        ending: Some(Ending {
            session,
            exited: exited.clone(),
            _files: files,
            _watch: watch,
        }),
    };
    let stdout_task = tokio::spawn(out.follow(
        inv.max_stdout.unwrap_or(usize::MAX),
        inv.on_stdout.clone(),
        exited.clone(),
    ));
    let stderr_task = tokio::spawn(err.follow(STDERR_KEEP, inv.on_stderr.clone(), exited));

    let (status, cancelled) = wait_or_stop(&mut running, pid, &inv).await;
    // Anything left in the session outlived the CLI: end it; then the output readers take
    // what was written and stop.
    running.finish();
    let status = status.map_err(|e| Error::io(format!("waiting for `{command}`"), e))?;

    let stdout = stdout_task.await.unwrap_or_default();
    let stderr = stderr_task.await.unwrap_or_default();
    tracing::debug!(target: "pulumi_auto::cli", %command, code = ?status.code(), cancelled, "finished");
    Ok(CommandOutput {
        exit_code: status.code(),
        stdout,
        stderr,
        command,
        cancelled,
    })
}

/// Waits for the CLI to exit, or stops it gracefully when the invocation is cancelled or
/// its timeout passes; `true` with the status when it was stopped.
async fn wait_or_stop(
    running: &mut Running,
    pid: Option<Pid>,
    inv: &Invocation,
) -> (std::io::Result<std::process::ExitStatus>, bool) {
    let token = inv.cancel.clone().unwrap_or_default();
    let deadline = async {
        match inv.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        status = running.child().wait() => (status, false),
        _ = token.cancelled() => (stop(running.child(), pid, &inv.cancel_policy).await, true),
        _ = deadline => (stop(running.child(), pid, &inv.cancel_policy).await, true),
    }
}

/// Graceful stop: SIGTERM to pulumi, a second SIGTERM after the grace period, then
/// SIGKILL to its session. (SIGTERM, not SIGINT: the CLI ignores SIGINT outside the
/// engine, see the module docs; it takes SIGTERM as it took SIGINT.)
async fn stop(
    child: &mut tokio::process::Child,
    pid: Option<Pid>,
    policy: &CancelPolicy,
) -> std::io::Result<std::process::ExitStatus> {
    let Some(pid) = pid else {
        return child.wait().await;
    };
    // `pid` is our child, not yet waited for: it cannot have been reused.
    tracing::info!(target: "pulumi_auto::cli", pid = pid.as_raw(), "cancelling: SIGTERM");
    let _ = kill(pid, Signal::SIGTERM);
    if let Ok(status) = tokio::time::timeout(policy.grace, child.wait()).await {
        return status;
    }
    tracing::warn!(target: "pulumi_auto::cli", pid = pid.as_raw(), "still running after the grace period: second SIGTERM");
    let _ = kill(pid, Signal::SIGTERM);
    if let Ok(status) = tokio::time::timeout(policy.kill_after, child.wait()).await {
        return status;
    }
    tracing::warn!(target: "pulumi_auto::cli", pid = pid.as_raw(), "still running: SIGKILL to its session");
    kill_session(pid.as_raw());
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

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn what(e: Error) -> (String, String) {
        match e {
            Error::InvalidInput { what, reason } => (what, reason),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn nul_bytes_are_refused_naming_the_part_never_the_value() {
        let none = BTreeMap::new();
        let ok = strings(&["up", "--message", "fine", "--exec-agent=a/1"]);
        assert!(validate(&ok, &[&none], Some(Path::new("/tmp")), None).is_ok());
        for (args, name) in [
            (&["up", "--message", "bad\0value"][..], "`--message`"),
            (&["up", "--exec-agent=bad\0value"][..], "`--exec-agent`"),
            (
                &["up", "--yes", "x", "bad\0value"][..],
                "argument 4 of `pulumi`",
            ),
            (&["up", "-m", "bad\0value"][..], "`-m`"),
            (&["up", "--bad\0value"][..], "argument 2 of `pulumi`"),
        ] {
            let (w, reason) = what(validate(&strings(args), &[&none], None, None).unwrap_err());
            assert_eq!(w, name, "{args:?}");
            assert!(
                !w.contains("value") && !reason.contains("value\0"),
                "{w} {reason}"
            );
            assert!(reason.contains("NUL"), "{reason}");
        }
        let mut env = BTreeMap::new();
        env.insert("GOOD".to_owned(), Some("v".to_owned()));
        env.insert("REMOVED".to_owned(), None);
        assert!(validate(&ok, &[&none, &env], None, None).is_ok());
        env.insert("TOKEN".to_owned(), Some("se\0cret".to_owned()));
        let (w, reason) = what(validate(&ok, &[&none, &env], None, None).unwrap_err());
        assert_eq!(w, "environment variable TOKEN");
        assert!(
            !reason.contains("se") || !reason.contains("cret"),
            "{reason}"
        );
        for bad in ["", "A=B", "A\0B"] {
            let mut env = BTreeMap::new();
            env.insert(bad.to_owned(), Some("v".to_owned()));
            let (w, _) = what(validate(&ok, &[&env], None, None).unwrap_err());
            assert_eq!(w, "environment variable name", "{bad:?}");
        }
        let (w, _) = what(validate(&ok, &[&none], Some(Path::new("/tmp/a\0b")), None).unwrap_err());
        assert_eq!(w, "working directory");
        let secret = Secret::new("s3\0cr3t");
        let (w, reason) = what(validate(&ok, &[&none], None, Some(&secret)).unwrap_err());
        assert_eq!(w, "secret value");
        assert!(!reason.contains("s3"), "{reason}");
    }

    #[test]
    fn the_passphrase_the_child_sees_is_the_last_one_set() {
        let mut base = BTreeMap::new();
        let mut inv = BTreeMap::new();
        base.insert(PASSPHRASE_ENV.to_owned(), Some("from-workspace".to_owned()));
        assert_eq!(
            effective_passphrase(&base, &inv).as_deref(),
            Some("from-workspace")
        );
        inv.insert(
            PASSPHRASE_ENV.to_owned(),
            Some("from-invocation".to_owned()),
        );
        assert_eq!(
            effective_passphrase(&base, &inv).as_deref(),
            Some("from-invocation")
        );
        inv.insert(PASSPHRASE_ENV.to_owned(), None);
        assert_eq!(effective_passphrase(&base, &inv), None);
    }

    #[test]
    fn the_passphrase_moves_to_a_file_unless_a_file_would_change_it() {
        let mut cmd = Command::new("true");
        let file = passphrase_file(&mut cmd, Some("correct horse")).unwrap();
        let envs: BTreeMap<_, _> = cmd
            .as_std()
            .get_envs()
            .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
            .collect();
        assert_eq!(envs.get(std::ffi::OsStr::new(PASSPHRASE_ENV)), Some(&None));
        let path = envs[std::ffi::OsStr::new(PASSPHRASE_FILE_ENV)]
            .clone()
            .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "correct horse");
        drop(file);
        let mut cmd = Command::new("true");
        assert!(passphrase_file(&mut cmd, Some(" padded ")).is_none());
        assert!(passphrase_file(&mut cmd, None).is_none());
        assert_eq!(cmd.as_std().get_envs().count(), 0);
    }
}
