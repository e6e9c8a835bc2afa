//! `pulumi import` adopting existing resources, against the real CLI.
//!
//! The resources are real files served by the project's own provider plugin
//! (tools/pulumi-resource-files, package `files`, resource `files:index:File`, ID = the
//! file's absolute path), built by `scripts/build-test-provider`, whose directory
//! `scripts/test` exports as `PULUMI_AUTO_TEST_PROVIDER_DIR`. Each test installs the
//! plugin into its own `PULUMI_HOME` with `LocalWorkspace::install_plugin_from_file`, and
//! its workspace ignores plugins on `PATH` (`PULUMI_IGNORE_AMBIENT_PLUGINS`), so the
//! plugin the engine runs is the one installed. The program is
//! `fixtures/programs/provider-files`, which declares the files `a.txt` and `b.txt`.
//!
//! A missing provider fails the tests (it never skips them).

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::TestEnv;
use pulumi_auto::ops::{ImportOptions, ImportResource, UpOptions};
use pulumi_auto::{Error, Stack};

const FILE_TYPE: &str = "files:index:File";
/// The content of the pre-existing files, which the program is configured to declare.
const CONTENT: &str = "was here before the stack\n";

fn urn(name: &str) -> String {
    format!("urn:pulumi:dev::provider-files::{FILE_TYPE}::{name}")
}

/// The provider binary built by `scripts/build-test-provider`; a clear failure when absent.
fn provider_binary() -> PathBuf {
    let ci = std::env::var("CI").unwrap_or_default();
    let dir = std::env::var_os("PULUMI_AUTO_TEST_PROVIDER_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "PULUMI_AUTO_TEST_PROVIDER_DIR is not set: these tests need the project's test \
                 resource provider (tools/pulumi-resource-files). Run them with scripts/test, \
                 which builds it with scripts/build-test-provider, or set the variable to the \
                 directory that script prints last (CI={ci})"
            )
        });
    let bin = dir.join("pulumi-resource-files");
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(&bin)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false);
    assert!(
        executable,
        "the test resource provider {} is missing or not executable (from \
         PULUMI_AUTO_TEST_PROVIDER_DIR): run scripts/build-test-provider (CI={ci})",
        bin.display()
    );
    bin
}

/// The plugin's version, as the binary reports it (`v3.259.0` → `3.259.0`).
fn provider_version(bin: &Path) -> String {
    let out = std::process::Command::new(bin)
        .arg("-version")
        .output()
        .unwrap();
    assert!(out.status.success(), "{} -version: {out:?}", bin.display());
    let v = String::from_utf8(out.stdout).unwrap();
    let v = v.trim().trim_start_matches('v').to_owned();
    assert!(semver::Version::parse(&v).is_ok(), "version {v:?}");
    v
}

/// A test environment on the `provider-files` program with the `files` plugin installed
/// into its `PULUMI_HOME`, and stack `dev` configured to declare `a.txt` and `b.txt` in
/// `env.files` with [`CONTENT`].
async fn provider_stack() -> (TestEnv, Stack) {
    let bin = provider_binary();
    let version = provider_version(&bin);
    let env = TestEnv::new("provider-files").await;
    let ws = env
        .workspace_with(|b| b.env("PULUMI_IGNORE_AMBIENT_PLUGINS", "true"))
        .await;
    ws.install_plugin_from_file("resource", "files", &version, &bin)
        .await
        .unwrap();
    let plugins = ws.list_plugins().await.unwrap();
    assert!(
        plugins
            .iter()
            .any(|p| p.name == "files" && p.version.as_deref() == Some(version.as_str())),
        "{plugins:?}"
    );
    let stack = ws.create_stack("dev").await.unwrap();
    stack
        .set_all_config([
            ("dir", env.files.display().to_string()),
            ("content", CONTENT.to_owned()),
        ])
        .await
        .unwrap();
    (env, stack)
}

/// A file's identity and last write: unchanged means nothing rewrote or recreated it.
#[derive(Debug, PartialEq)]
struct Stamp {
    ino: u64,
    mtime_ns: (i64, i64),
    content: String,
}

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).unwrap();
    Stamp {
        ino: m.ino(),
        mtime_ns: (m.mtime(), m.mtime_nsec()),
        content: std::fs::read_to_string(path).unwrap(),
    }
}

/// Writes a file the stack does not manage yet; returns its absolute path.
fn existing_file(env: &TestEnv, name: &str) -> PathBuf {
    let path = env.files.join(name);
    std::fs::write(&path, CONTENT).unwrap();
    path
}

fn changes(s: &pulumi_auto::ops::OpSummary) -> Vec<(String, u64)> {
    s.resource_changes
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

fn ch(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// The stack's resources in the state: (URN, ID, protected, outputs).
async fn state(stack: &Stack) -> Vec<(String, Option<String>, bool, serde_json::Value)> {
    let dep = stack.export_stack().await.unwrap();
    dep.deployment
        .map(|d| d.resources)
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.urn, r.id, r.protect, serde_json::Value::Object(r.outputs)))
        .collect()
}

fn find<'a>(
    state: &'a [(String, Option<String>, bool, serde_json::Value)],
    urn: &str,
) -> Option<&'a (String, Option<String>, bool, serde_json::Value)> {
    state.iter().find(|r| r.0 == urn)
}

/// The CLI was told not to generate code: none may reach the caller's output.
fn assert_no_generated_code(stdout: &str) {
    assert!(
        !stdout.contains("pulumi.CustomResource") && !stdout.contains("import pulumi"),
        "generated code in the import's output:\n{stdout}"
    );
}

#[tokio::test]
async fn import_adopts_existing_files_given_inline() {
    let (env, stack) = provider_stack().await;
    let a = existing_file(&env, "a.txt");
    let b = existing_file(&env, "b.txt");
    let (before_a, before_b) = (stamp(&a), stamp(&b));

    let res = stack
        .import(
            ImportOptions::resources(vec![
                ImportResource::new(FILE_TYPE, "a", a.display().to_string()),
                ImportResource::new(FILE_TYPE, "b", b.display().to_string()),
            ])
            .protect(false),
        )
        .await
        .unwrap();
    assert_eq!(res.summary.result, "succeeded");
    assert!(!res.summary.is_preview);
    // The stack resource is new; the two files are imported.
    assert_eq!(changes(&res.summary), ch(&[("create", 1), ("import", 2)]));
    assert_no_generated_code(&res.stdout);

    // The state holds both, with their paths as IDs and what the provider read.
    let st = state(&stack).await;
    for (name, path) in [("a", &a), ("b", &b)] {
        let r = find(&st, &urn(name)).unwrap_or_else(|| panic!("{name} not in {st:?}"));
        assert_eq!(r.1.as_deref(), Some(path.to_str().unwrap()));
        assert!(!r.2, "imported with protect=false");
        assert_eq!(r.3["content"], CONTENT);
        assert_eq!(r.3["size"], CONTENT.len());
    }
    // Reading did not touch the files.
    assert_eq!(stamp(&a), before_a);
    assert_eq!(stamp(&b), before_b);

    // The program declaring the same files finds them adopted: nothing to do.
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(changes(&up.summary), ch(&[("same", 3)]));
    assert!(up.summary.is_no_op());
    assert_eq!(
        up.outputs["sizes"].value,
        serde_json::json!({"a": CONTENT.len(), "b": CONTENT.len()})
    );
    // Not recreated, not rewritten; the same resources, same IDs.
    assert_eq!(stamp(&a), before_a);
    assert_eq!(stamp(&b), before_b);
    let after = state(&stack).await;
    for name in ["a", "b"] {
        assert_eq!(
            find(&after, &urn(name)).map(|r| &r.1),
            find(&st, &urn(name)).map(|r| &r.1)
        );
    }
}

#[tokio::test]
async fn import_from_a_file_in_the_cli_format() {
    let (env, stack) = provider_stack().await;
    let a = existing_file(&env, "a.txt");
    let before = stamp(&a);
    // The CLI's import file, written by hand as a user would.
    let file = env.root.path().join("resources.json");
    let json = serde_json::json!({
        "resources": [
            {"type": FILE_TYPE, "name": "a", "id": a.display().to_string()}
        ]
    });
    std::fs::write(&file, serde_json::to_string_pretty(&json).unwrap()).unwrap();

    // Default options: the imported resource is protected, as the CLI does by default.
    let res = stack.import(ImportOptions::file(&file)).await.unwrap();
    assert_eq!(changes(&res.summary), ch(&[("create", 1), ("import", 1)]));
    assert_no_generated_code(&res.stdout);
    let st = state(&stack).await;
    let r = find(&st, &urn("a")).unwrap_or_else(|| panic!("a not in {st:?}"));
    assert_eq!(r.1.as_deref(), Some(a.to_str().unwrap()));
    assert!(r.2, "protected by default");
    assert!(find(&st, &urn("b")).is_none());
    assert_eq!(stamp(&a), before);
    // The import file is the caller's: still there, unchanged.
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&file).unwrap())
            .unwrap(),
        json
    );

    // The program adopts `a` as it is and creates only `b`.
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(changes(&up.summary), ch(&[("create", 1), ("same", 2)]));
    assert_eq!(stamp(&a), before);
    assert_eq!(env.read_file("b.txt").as_deref(), Some(CONTENT));
}

#[tokio::test]
async fn preview_only_import_changes_nothing() {
    let (env, stack) = provider_stack().await;
    let a = existing_file(&env, "a.txt");
    // Adopt `a` for real first, so the state is not empty.
    stack
        .import(
            ImportOptions::resources(vec![ImportResource::new(
                FILE_TYPE,
                "a",
                a.display().to_string(),
            )])
            .protect(false),
        )
        .await
        .unwrap();
    let b = existing_file(&env, "b.txt");
    let before_b = stamp(&b);
    let st = state(&stack).await;
    let history = stack.history(0, 0).await.unwrap().len();

    let res = stack
        .import(
            ImportOptions::resources(vec![ImportResource::new(
                FILE_TYPE,
                "b",
                b.display().to_string(),
            )])
            .protect(false)
            .preview_only(true),
        )
        .await
        .unwrap();
    assert!(res.summary.is_preview);
    assert_eq!(res.summary.count("import"), 1, "{:?}", res.summary);
    assert_no_generated_code(&res.stdout);

    // The same state, no new update in the history, the file untouched.
    assert_eq!(state(&stack).await, st);
    assert!(find(&st, &urn("b")).is_none());
    assert_eq!(stack.history(0, 0).await.unwrap().len(), history);
    assert_eq!(stamp(&b), before_b);
}

#[tokio::test]
async fn import_of_a_missing_id_is_a_typed_error_and_changes_nothing() {
    let (env, stack) = provider_stack().await;
    let a = existing_file(&env, "a.txt");
    stack
        .import(
            ImportOptions::resources(vec![ImportResource::new(
                FILE_TYPE,
                "a",
                a.display().to_string(),
            )])
            .protect(false),
        )
        .await
        .unwrap();
    let st = state(&stack).await;
    let missing = env.files.join("missing.txt");

    let err = stack
        .import(
            ImportOptions::resources(vec![ImportResource::new(
                FILE_TYPE,
                "missing",
                missing.display().to_string(),
            )])
            .protect(false),
        )
        .await
        .unwrap_err();
    match &err {
        Error::ResourcesFailed {
            resources,
            messages,
            failure,
        } => {
            assert_eq!(resources, &[urn("missing")]);
            let expected = format!("resource '{}' does not exist", missing.display());
            assert!(
                messages.iter().any(|m| m.contains(&expected)),
                "{messages:?}"
            );
            assert_eq!(failure.exit_code, Some(1));
            assert!(failure.command.contains(" import "), "{}", failure.command);
        }
        other => panic!("expected ResourcesFailed, got {other:?}"),
    }
    // Nothing adopted, nothing created, the rest of the state as it was.
    assert_eq!(state(&stack).await, st);
    assert!(!missing.exists());
}
