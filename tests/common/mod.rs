//! What every test against the real CLI shares: an isolated environment per test (its own
//! file backend, PULUMI_HOME, passphrase and copy of a fixture program), so tests run in
//! parallel.
//!
//! A missing CLI or test virtualenv fails the test (it never skips): `scripts/test`
//! installs both and exports `PULUMI_AUTO_CLI` and `PULUMI_AUTO_TEST_VENV`.
#![allow(dead_code)]

mod backend;

pub use backend::*;

use std::path::{Path, PathBuf};

use pulumi_auto::cli::PulumiCommand;
use pulumi_auto::{LocalWorkspace, Secret};

/// The passphrase of every test stack.
pub const PASSPHRASE: &str = "test-passphrase-not-secret";

/// The repository's root (where `PULUMI_VERSION` is), for the root package's tests and
/// for the member crates' tests that share this module.
pub fn repo() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .find(|d| d.join("PULUMI_VERSION").is_file())
        .map(Path::to_path_buf)
        .unwrap_or(here)
}

/// The pulumi CLI the tests use; a clear failure when it is missing.
pub async fn pulumi() -> PulumiCommand {
    match PulumiCommand::find().await {
        Ok(p) => p,
        Err(e) => panic!(
            "the real pulumi CLI is needed for this test ({e}); run the tests with scripts/test, \
             which installs it (CI={})",
            std::env::var("CI").unwrap_or_default()
        ),
    }
}

/// The shared virtualenv with the pinned pulumi SDK (scripts/prepare-python).
pub fn venv() -> PathBuf {
    let dir = std::env::var_os("PULUMI_AUTO_TEST_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            pulumi_auto::cli::cache_dir().map(|c| {
                c.join(format!(
                    "python-venv-{}",
                    pulumi_auto::cli::pinned_version()
                ))
            })
        })
        .expect("no cache directory");
    assert!(
        dir.join("bin/python").exists(),
        "the fixture virtualenv {} is missing: run the tests with scripts/test (it runs scripts/prepare-python)",
        dir.display()
    );
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let s = name.to_string_lossy();
        if s == "venv"
            || s == "__pycache__"
            || s.starts_with("Pulumi.") && s != "Pulumi.yaml"
            || s == ".pulumi-state"
        {
            continue;
        }
        let ty = entry.file_type().unwrap();
        if ty.is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// An isolated environment around a copy of one fixture program, on the backend
/// [`current_backend`] names (the file backend in `state`, or a server of its own).
pub struct TestEnv {
    /// The environment's server (killed first when the environment is dropped).
    pub server: Option<TestServer>,
    pub root: tempfile::TempDir,
    pub program: PathBuf,
    pub state: PathBuf,
    pub home: PathBuf,
    /// A directory the program's resources may write files into.
    pub files: PathBuf,
    pub ws: LocalWorkspace,
}

impl TestEnv {
    /// A workspace on a fresh copy of `fixtures/programs/<name>` using the shared venv.
    pub async fn new(program: &str) -> TestEnv {
        Self::with_venv(program, Some(venv())).await
    }

    /// Like `new`; with `venv: None` the program keeps its own `virtualenv: venv` option.
    pub async fn with_venv(program: &str, venv: Option<PathBuf>) -> TestEnv {
        let pulumi = pulumi().await;
        let root = tempfile::Builder::new()
            .prefix("pulumi-auto-test-")
            .tempdir()
            .unwrap();
        let prog = root.path().join(program);
        copy_dir(&repo().join("fixtures/programs").join(program), &prog);
        if let Some(venv) = venv {
            let yaml = prog.join("Pulumi.yaml");
            let text = std::fs::read_to_string(&yaml).unwrap();
            let text = text.replace(
                "virtualenv: venv",
                &format!("virtualenv: {}", venv.display()),
            );
            std::fs::write(&yaml, text).unwrap();
        }
        let state = root.path().join("state");
        let home = root.path().join("home");
        let files = root.path().join("out");
        std::fs::create_dir_all(&files).unwrap();
        let server = (current_backend() == Backend::Server).then(|| {
            std::fs::create_dir_all(root.path().join("server")).unwrap();
            TestServer::start(&root.path().join("server/data"))
        });
        let ws = on_backend(
            LocalWorkspace::builder(&prog)
                .pulumi_home(&home)
                .pulumi_command(pulumi),
            server.as_ref(),
            &state,
        )
        .build()
        .await
        .unwrap();
        TestEnv {
            server,
            root,
            program: prog,
            state,
            home,
            files,
            ws,
        }
    }

    /// The same environment with a workspace built by `f` from a prepared builder.
    pub async fn workspace_with(
        &self,
        f: impl FnOnce(
            pulumi_auto::workspace::LocalWorkspaceBuilder,
        ) -> pulumi_auto::workspace::LocalWorkspaceBuilder,
    ) -> LocalWorkspace {
        let b = LocalWorkspace::builder(&self.program)
            .pulumi_home(&self.home)
            .pulumi_command(pulumi().await);
        f(on_backend(b, self.server.as_ref(), &self.state))
            .build()
            .await
            .unwrap()
    }

    /// The backend URL of this environment's workspaces.
    pub fn backend_url(&self) -> String {
        match &self.server {
            Some(s) => s.url.clone(),
            None => format!("file://{}", self.state.display()),
        }
    }

    /// A unique stack name for this test.
    pub fn stack_name(&self, base: &str) -> String {
        base.to_owned()
    }

    /// The text of a file the program wrote, if present.
    pub fn read_file(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.files.join(name)).ok()
    }

    /// The names of the files the program's resources wrote, sorted.
    pub fn file_names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.files)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// The builder pointed at a server (its URL and token; new stacks use the service secrets
/// provider) or at the file backend in `state` (with the test passphrase).
pub fn on_backend(
    b: pulumi_auto::workspace::LocalWorkspaceBuilder,
    server: Option<&TestServer>,
    state: &Path,
) -> pulumi_auto::workspace::LocalWorkspaceBuilder {
    match server {
        Some(s) => b
            .backend_url(&s.url)
            .env("PULUMI_ACCESS_TOKEN", SERVER_TOKEN)
            .env_remove("PULUMI_CONFIG_PASSPHRASE"),
        None => b
            .backend_url(format!("file://{}", state.display()))
            .passphrase(Secret::new(PASSPHRASE)),
    }
}

/// Writes an executable script. It is written by a `cp` child, not by this process: a file
/// this (multi-threaded) test process holds open for writing is inherited by any child
/// another test forks at that moment, and executing the script then fails with ETXTBSY
/// ("Text file busy").
pub fn write_executable(path: &Path, text: &str) {
    let draft = path.with_extension("draft");
    std::fs::write(&draft, text).unwrap();
    let copied = std::process::Command::new("cp")
        .arg(&draft)
        .arg(path)
        .status()
        .unwrap();
    assert!(copied.success());
    let _ = std::fs::remove_file(&draft);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A wrapper around the real `pulumi` that records, for every process spawned through it,
/// its `/proc/<pid>/cmdline` (one line per process, NULs shown as spaces), then execs the
/// real binary with the same arguments.
pub struct CountingCli {
    pub log: PathBuf,
    pub path: PathBuf,
}

impl CountingCli {
    pub async fn new(dir: &Path) -> CountingCli {
        let real = pulumi().await.path().to_path_buf();
        let log = dir.join("spawned.log");
        let path = dir.join("pulumi-counting");
        let script = format!(
            // One printf, one O_APPEND write: lines of concurrent processes never mix.
            "#!/bin/sh\nline=$(tr '\\0' ' ' < /proc/$$/cmdline)\nprintf '%s\\n' \"$line\" >> '{log}'\nexec '{real}' \"$@\"\n",
            log = log.display(),
            real = real.display()
        );
        write_executable(&path, &script);
        CountingCli { log, path }
    }

    pub async fn command(&self) -> PulumiCommand {
        PulumiCommand::at(&self.path).await.unwrap()
    }

    /// The recorded command lines (after the wrapper's own `/bin/sh <script>`).
    pub fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let l = l.trim_end();
                let args = match l.find("pulumi-counting ") {
                    Some(i) => &l[i + "pulumi-counting ".len()..],
                    None => l.strip_suffix("pulumi-counting").unwrap_or(l),
                };
                args.strip_prefix("--non-interactive ")
                    .unwrap_or(args)
                    .to_owned()
            })
            .collect()
    }

    /// Forgets what was recorded so far.
    pub fn reset(&self) {
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The PIDs of live processes whose environment carries `marker` (every process a test's
/// workspace spawns inherits it, plugins and programs included).
pub fn processes_with_marker(marker: &str) -> Vec<(i32, String)> {
    let needle = format!("PULUMI_AUTO_TEST_MARKER={marker}");
    let mut found = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            // A zombie has no environ left; count only live ones.
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
            if state != Some('Z') {
                let cmd = std::fs::read_to_string(e.path().join("cmdline"))
                    .unwrap_or_default()
                    .replace('\0', " ");
                found.push((pid, cmd));
            }
        }
    }
    found
}

/// A marker unique to this process and call.
pub fn unique_marker() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Waits (up to 30 s) until a Python dynamic-provider process carrying `marker` runs;
/// returns the marked processes seen then.
pub async fn wait_for_provider(marker: &str) -> Vec<(i32, String)> {
    let mut seen = Vec::new();
    for _ in 0..300 {
        seen = processes_with_marker(marker);
        if seen.iter().any(|(_, c)| c.contains("pulumi.dynamic")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    seen
}

/// Waits (up to 5 s) for every process carrying `marker` to be gone; returns any left.
pub async fn wait_until_gone(marker: &str) -> Vec<(i32, String)> {
    wait_until_gone_within(marker, std::time::Duration::from_secs(5)).await
}

/// Waits up to `limit` for every process carrying `marker` to be gone; returns any left.
pub async fn wait_until_gone_within(
    marker: &str,
    limit: std::time::Duration,
) -> Vec<(i32, String)> {
    let mut left = Vec::new();
    for _ in 0..(limit.as_millis() / 100).max(1) {
        left = processes_with_marker(marker);
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    left
}

/// A stack `dev` of the `slow` program whose processes all carry a fresh marker in their
/// environment (see [`processes_with_marker`]); returns the marker and the stack.
pub async fn marked_slow_stack(
    env: &TestEnv,
    delay: &str,
    count: &str,
) -> (String, pulumi_auto::Stack) {
    let marker = unique_marker();
    let ws = env
        .workspace_with(|b| b.env("PULUMI_AUTO_TEST_MARKER", marker.clone()))
        .await;
    let stack = ws.create_stack("dev").await.unwrap();
    stack
        .set_all_config([
            ("dir", env.files.display().to_string()),
            ("delay", delay.to_owned()),
            ("count", count.to_owned()),
        ])
        .await
        .unwrap();
    (marker, stack)
}
