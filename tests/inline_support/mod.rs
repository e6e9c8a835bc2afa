//! What the inline tests share: an isolated environment (a file backend, a `PULUMI_HOME`
//! with the project's `files` provider installed from its file, a directory for the
//! files), and the `files:index:File` resource's inputs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use super::common::{self, PASSPHRASE};
use pulumi_auto::Secret;
use pulumi_auto::inline::{
    Context, InlineStack, InlineWorkspace, InlineWorkspaceBuilder, ProgramResult, PropertyMap,
    Value, props,
};

pub const FILE: &str = "files:index:File";

/// The provider binary built by `scripts/build-test-provider`; a clear failure when absent.
pub fn provider_binary() -> PathBuf {
    let dir = std::env::var_os("PULUMI_AUTO_TEST_PROVIDER_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .expect("PULUMI_AUTO_TEST_PROVIDER_DIR is not set: run the tests with scripts/test");
    let bin = dir.join("pulumi-resource-files");
    assert!(
        bin.is_file(),
        "{} is missing: run scripts/build-test-provider",
        bin.display()
    );
    bin
}

pub fn provider_version(bin: &Path) -> String {
    let out = std::process::Command::new(bin)
        .arg("-version")
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .trim_start_matches('v')
        .to_owned()
}

/// An isolated environment: a file backend, a `PULUMI_HOME` with the `files` plugin, a
/// directory for the files.
pub struct Env {
    pub root: tempfile::TempDir,
    pub files: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let root = tempfile::Builder::new()
            .prefix("pulumi-auto-inline-test-")
            .tempdir()
            .unwrap();
        let files = root.path().join("out");
        std::fs::create_dir_all(&files).unwrap();
        Env { root, files }
    }

    pub fn state(&self) -> PathBuf {
        self.root.path().join("state")
    }

    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    pub fn path(&self, name: &str) -> String {
        self.files.join(name).display().to_string()
    }

    /// A builder for `program` on this environment.
    pub async fn builder<F, Fut>(&self, project: &str, program: F) -> InlineWorkspaceBuilder
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ProgramResult> + Send + 'static,
    {
        let pulumi = common::pulumi().await;
        let state = format!("file://{}", self.state().display());
        let home = self.home();
        InlineWorkspace::builder(project, program).workspace(move |b| {
            b.backend_url(state)
                .pulumi_home(home)
                .passphrase(Secret::new(PASSPHRASE))
                .pulumi_command(pulumi)
                .env("PULUMI_IGNORE_AMBIENT_PLUGINS", "true")
        })
    }

    /// A workspace of `program` with the `files` plugin installed, and its stack `dev`.
    pub async fn stack<F, Fut>(&self, program: F) -> InlineStack
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ProgramResult> + Send + 'static,
    {
        let ws = self.builder("inline", program).await.build().await.unwrap();
        install_files(&ws).await;
        ws.create_or_select_stack("dev").await.unwrap()
    }
}

pub async fn install_files(ws: &InlineWorkspace) {
    let bin = provider_binary();
    ws.workspace()
        .install_plugin_from_file("resource", "files", &provider_version(&bin), &bin)
        .await
        .unwrap();
}

pub fn file(path: &str, content: &str) -> PropertyMap {
    props([
        ("path", path.into()),
        ("content", content.into()),
        ("size", Value::Null),
    ])
}
