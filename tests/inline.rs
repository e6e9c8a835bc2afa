//! Inline programs (feature `inline`) against the real pinned CLI: Rust closures as the
//! program, served to the CLI by the in-process language host. The resources are files of
//! the project's own provider (`tools/pulumi-resource-files`, installed into each test's
//! `PULUMI_HOME` from its file), the engine's built-in `pulumi:index:Stash`, components
//! and the `pulumi:pulumi:readStackOutputs` invoke.
#![cfg(feature = "inline")]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::PASSPHRASE;
use pulumi_auto::inline::{
    Context, InlineStack, InlineWorkspace, InlineWorkspaceBuilder, ProgramResult, PropertyMap,
    ResourceOptions, Value, props,
};
use pulumi_auto::ops::{DestroyOptions, PreviewOptions, RefreshOptions, UpOptions};
use pulumi_auto::{DestroyApproval, Error, Secret};

const FILE: &str = "files:index:File";

/// The provider binary built by `scripts/build-test-provider`; a clear failure when absent.
fn provider_binary() -> PathBuf {
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

fn provider_version(bin: &Path) -> String {
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
struct Env {
    root: tempfile::TempDir,
    files: PathBuf,
}

impl Env {
    fn new() -> Env {
        let root = tempfile::Builder::new()
            .prefix("pulumi-auto-inline-test-")
            .tempdir()
            .unwrap();
        let files = root.path().join("out");
        std::fs::create_dir_all(&files).unwrap();
        Env { root, files }
    }

    fn state(&self) -> PathBuf {
        self.root.path().join("state")
    }

    fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    fn path(&self, name: &str) -> String {
        self.files.join(name).display().to_string()
    }

    /// A builder for `program` on this environment.
    async fn builder<F, Fut>(&self, project: &str, program: F) -> InlineWorkspaceBuilder
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
    async fn stack<F, Fut>(&self, program: F) -> InlineStack
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ProgramResult> + Send + 'static,
    {
        let ws = self.builder("inline", program).await.build().await.unwrap();
        install_files(&ws).await;
        ws.create_or_select_stack("dev").await.unwrap()
    }
}

async fn install_files(ws: &InlineWorkspace) {
    let bin = provider_binary();
    ws.workspace()
        .install_plugin_from_file("resource", "files", &provider_version(&bin), &bin)
        .await
        .unwrap();
}

fn file(path: &str, content: &str) -> PropertyMap {
    props([
        ("path", path.into()),
        ("content", content.into()),
        ("size", Value::Null),
    ])
}

/// The program of the lifecycle test: config `names` (comma separated) and `content`
/// say which files exist and what they hold; `moved` moves `a` (a replacement).
fn files_program(
    dir: PathBuf,
) -> impl Fn(Context) -> std::pin::Pin<Box<dyn Future<Output = ProgramResult> + Send>>
+ Send
+ Sync
+ 'static {
    move |ctx: Context| {
        let dir = dir.clone();
        Box::pin(async move {
            let names = ctx.config_str("names").unwrap_or_default();
            let content = ctx.config_str("content").unwrap_or_else(|| "hello".into());
            let moved = ctx.config_str("moved").is_some();
            let mut sizes = PropertyMap::new();
            for name in names.split(',').filter(|n| !n.is_empty()) {
                let file_name = match (name, moved) {
                    ("a", true) => "a-moved.txt".to_owned(),
                    _ => format!("{name}.txt"),
                };
                let path = dir.join(file_name).display().to_string();
                let r = ctx
                    .register_resource(
                        FILE,
                        name,
                        file(&path, &content),
                        ResourceOptions::default(),
                    )
                    .await?;
                sizes.insert(name.to_owned(), r.output("size").clone());
            }
            ctx.export("sizes", Value::Object(sizes));
            Ok(())
        })
    }
}

#[tokio::test]
async fn create_update_replace_delete() {
    let env = Env::new();
    let stack = env.stack(files_program(env.files.clone())).await;
    stack.set_config("names", "a,b").await.unwrap();

    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(
        up.summary.resource_changes.get("create"),
        Some(&3),
        "{up:?}"
    ); // stack + 2
    assert_eq!(std::fs::read_to_string(env.path("a.txt")).unwrap(), "hello");
    assert_eq!(
        up.outputs["sizes"].value,
        serde_json::json!({"a": 5, "b": 5})
    );

    stack.set_config("content", "hello, world").await.unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(
        up.summary.resource_changes.get("update"),
        Some(&2),
        "{up:?}"
    );
    assert_eq!(
        std::fs::read_to_string(env.path("b.txt")).unwrap(),
        "hello, world"
    );

    stack.set_config("moved", "yes").await.unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(
        up.summary.resource_changes.get("replace"),
        Some(&1),
        "{up:?}"
    );
    assert!(!env.files.join("a.txt").exists());
    assert!(env.files.join("a-moved.txt").exists());

    stack.set_config("names", "b").await.unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(
        up.summary.resource_changes.get("delete"),
        Some(&1),
        "{up:?}"
    );
    assert!(!env.files.join("a-moved.txt").exists());

    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(up.summary.resource_changes.get("same"), Some(&2), "{up:?}");
}
