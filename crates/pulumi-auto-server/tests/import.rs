//! `pulumi import` through the server: a file that exists before the stack is adopted by the
//! project's own `files` provider plugin (tools/pulumi-resource-files, built by
//! scripts/build-test-provider, whose directory scripts/test exports as
//! PULUMI_AUTO_TEST_PROVIDER_DIR), recorded as an update with its checkpoint, the file
//! untouched.

mod common;

use std::path::PathBuf;

use common::{Cli, Server};

fn provider_binary() -> PathBuf {
    let dir = std::env::var_os("PULUMI_AUTO_TEST_PROVIDER_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "PULUMI_AUTO_TEST_PROVIDER_DIR is not set: run the tests with scripts/test, which \
                 builds the test provider (CI={})",
                std::env::var("CI").unwrap_or_default()
            )
        });
    let bin = dir.join("pulumi-resource-files");
    assert!(
        bin.exists(),
        "the test provider {} is missing",
        bin.display()
    );
    bin
}

fn ok(cli: &Cli, args: &[&str]) -> String {
    let out = cli
        .command(args)
        .env("PULUMI_IGNORE_AMBIENT_PLUGINS", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pulumi {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

on_both_databases! {
#[test]
fn pulumi_import_adopts_an_existing_file() {
    let bin = provider_binary();
    let version = String::from_utf8(
        std::process::Command::new(&bin)
            .arg("-version")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .trim_start_matches('v')
    .to_owned();
    let server = Server::start();
    let cli = Cli::new(&server, "provider-files");
    ok(
        &cli,
        &[
            "plugin",
            "install",
            "resource",
            "files",
            &version,
            "--file",
            bin.to_str().unwrap(),
        ],
    );
    cli.init_stack("dev");
    ok(&cli, &["config", "set", "content", "was here before\n"]);
    let a = cli.files.join("a.txt");
    std::fs::write(&a, "was here before\n").unwrap();
    let before = std::fs::metadata(&a).unwrap().modified().unwrap();

    let out = ok(
        &cli,
        &[
            "import",
            "files:index:File",
            "a",
            a.to_str().unwrap(),
            "--yes",
            "--generate-code=false",
        ],
    );
    assert!(out.contains("imported"), "{out}");
    assert_eq!(
        std::fs::metadata(&a).unwrap().modified().unwrap(),
        before,
        "the file is untouched"
    );
    let state: serde_json::Value = serde_json::from_str(&ok(&cli, &["stack", "export"])).unwrap();
    let urns: Vec<&str> = state["deployment"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["urn"].as_str())
        .collect();
    assert!(
        urns.contains(&"urn:pulumi:dev::provider-files::files:index:File::a"),
        "{urns:?}"
    );
    let history: serde_json::Value =
        serde_json::from_str(&ok(&cli, &["stack", "history", "--json"])).unwrap();
    assert_eq!(history[0]["result"], "succeeded", "{history}");
    assert_eq!(history[0]["resourceChanges"]["import"], 1, "{history}");
}
}
