//! What every test against the real CLI shares: an isolated environment per test (its own
//! file backend, PULUMI_HOME, passphrase and copy of a fixture program), so tests run in
//! parallel.
//!
//! A missing CLI or test virtualenv fails the test (it never skips): `scripts/test`
//! installs both and exports `PULUMI_AUTO_CLI` and `PULUMI_AUTO_TEST_VENV`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use pulumi_auto::cli::PulumiCommand;
use pulumi_auto::{LocalWorkspace, Secret};

/// The passphrase of every test stack.
pub const PASSPHRASE: &str = "test-passphrase-not-secret";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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
        if s == "venv" || s == "__pycache__" || s.starts_with("Pulumi.") && s != "Pulumi.yaml" || s == ".pulumi-state" {
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

/// An isolated environment around a copy of one fixture program.
pub struct TestEnv {
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
        let files = root.path().join("files");
        std::fs::create_dir_all(&files).unwrap();
        let ws = LocalWorkspace::builder(&prog)
            .backend_url(format!("file://{}", state.display()))
            .pulumi_home(&home)
            .passphrase(Secret::new(PASSPHRASE))
            .pulumi_command(pulumi)
            .build()
            .await
            .unwrap();
        TestEnv {
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
        f: impl FnOnce(pulumi_auto::workspace::LocalWorkspaceBuilder) -> pulumi_auto::workspace::LocalWorkspaceBuilder,
    ) -> LocalWorkspace {
        let b = LocalWorkspace::builder(&self.program)
            .backend_url(format!("file://{}", self.state.display()))
            .pulumi_home(&self.home)
            .passphrase(Secret::new(PASSPHRASE))
            .pulumi_command(pulumi().await);
        f(b).build().await.unwrap()
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
