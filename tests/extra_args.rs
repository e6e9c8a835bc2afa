//! Extra arguments never override a flag the crate manages, against the real CLI: a
//! destroy approved for `dev` with `extra_arg("--stack=prod")` is refused before any
//! process and `prod` keeps its resources and state; the operations refuse every spelling
//! of a managed flag before spawning; the flag tables match the pinned CLI's own flags;
//! and the spellings refused here are the ones the CLI would have read as `--stack`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{CountingCli, TestEnv};
use pulumi_auto::ops::{
    DestroyOptions, PreviewOptions, RefreshOptions, UpOptions, check_extra_args, managed_flags,
};
use pulumi_auto::{DestroyApproval, Error, Stack};

fn assert_refused<T: std::fmt::Debug>(r: pulumi_auto::Result<T>, arg: &str) {
    match r {
        Err(Error::InvalidInput { what, reason }) => {
            assert_eq!(what, "extra argument");
            assert!(reason.contains(&format!("{arg:?}")), "{reason}");
        }
        other => panic!("{arg:?} was not refused: {other:?}"),
    }
}

async fn resources(stack: &Stack) -> Vec<(String, Option<String>)> {
    stack
        .export_stack()
        .await
        .unwrap()
        .resources()
        .iter()
        .map(|r| (r.urn.clone(), r.id.clone()))
        .collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test]
async fn a_destroy_cannot_be_redirected_to_another_stack() {
    let env = TestEnv::new("files").await;
    let counting = CountingCli::new(env.root.path()).await;
    let cmd = counting.command().await;
    let ws = env.workspace_with(|b| b.pulumi_command(cmd)).await;
    let mut stacks = Vec::new();
    for name in ["dev", "prod"] {
        let stack = ws.create_stack(name).await.unwrap();
        let dir = env.files.join(name);
        stack
            .set_config("dir", dir.display().to_string())
            .await
            .unwrap();
        stack.up(UpOptions::default()).await.unwrap();
        assert_eq!(files_in(&dir), ["greeting.txt", "note.txt"]);
        stacks.push(stack);
    }
    let (dev, prod) = (&stacks[0], &stacks[1]);
    let dev_before = resources(dev).await;
    let prod_before = resources(prod).await;
    counting.reset();

    let dev_approval = DestroyApproval::for_stack("dev");
    for arg in [
        "--stack=prod",
        "-sprod",
        "-s=prod",
        "-esprod",
        "--stack",
        "--target=urn:pulumi:dev::files::pulumi-python:dynamic:Resource::note",
        "--exclude=urn:x",
        "--remove",
        "--cwd=/tmp",
        // Even a flag the crate leaves alone elsewhere: destroy takes none.
        "--suppress-outputs",
    ] {
        let opts = DestroyOptions::default().extra_arg(arg);
        assert_refused(dev.destroy(opts.clone(), &dev_approval).await, arg);
        assert_refused(dev.preview_destroy(opts).await, arg);
    }
    // Decided before any process started; nothing of either stack was touched.
    assert!(counting.lines().is_empty(), "{:?}", counting.lines());
    assert_eq!(
        files_in(&env.files.join("prod")),
        ["greeting.txt", "note.txt"]
    );
    assert_eq!(
        files_in(&env.files.join("dev")),
        ["greeting.txt", "note.txt"]
    );
    assert_eq!(resources(prod).await, prod_before);
    assert_eq!(resources(dev).await, dev_before);
    let names: Vec<String> = ws
        .list_stacks()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["dev", "prod"]);

    // The approved destroy, without extra arguments, takes dev only.
    dev.destroy(DestroyOptions::default(), &dev_approval)
        .await
        .unwrap();
    assert!(files_in(&env.files.join("dev")).is_empty());
    assert_eq!(resources(prod).await, prod_before);
}

#[tokio::test]
async fn managed_flags_are_refused_before_spawning_and_others_pass() {
    let env = TestEnv::new("files").await;
    let counting = CountingCli::new(env.root.path()).await;
    let cmd = counting.command().await;
    let ws = env.workspace_with(|b| b.pulumi_command(cmd)).await;
    let stack = ws.create_stack("dev").await.unwrap();
    stack
        .set_config("dir", env.files.display().to_string())
        .await
        .unwrap();
    counting.reset();
    let common = [
        "--stack=prod",
        "-sprod",
        "-ysprod",
        "-fs=prod",
        "-Qes",
        "--cwd=/tmp",
        "-C/tmp",
        "--json",
        "--event-log=/tmp/other",
        "--non-interactive",
        "--config-file=/tmp/Pulumi.prod.yaml",
        "-cfiles:dir=/tmp",
        "--remote",
        "-h",
        "--help",
        "prod",
        "--",
        "-",
    ];
    for arg in common.iter().chain(&[
        "--yes",
        "--skip-preview",
        "--secrets-provider=passphrase",
        "--show-secrets",
        "-r",
    ]) {
        assert_refused(stack.up(UpOptions::default().extra_arg(*arg)).await, arg);
    }
    for arg in common
        .iter()
        .chain(&["--show-secrets", "--save-plan=/tmp/p", "-x=urn:x"])
    {
        assert_refused(
            stack
                .preview(PreviewOptions::default().extra_arg(*arg))
                .await,
            arg,
        );
    }
    for arg in common.iter().chain(&[
        "--yes",
        "--skip-preview",
        "--preview-only",
        "--clear-pending-creates",
    ]) {
        assert_refused(
            stack
                .refresh(RefreshOptions::default().extra_arg(*arg))
                .await,
            arg,
        );
    }
    assert!(counting.lines().is_empty(), "{:?}", counting.lines());
    assert!(env.file_names().is_empty());

    // A flag the crate does not manage goes through, after every flag the crate sets.
    let up = stack
        .up(UpOptions::default().extra_arg("--suppress-outputs"))
        .await
        .unwrap();
    assert_eq!(up.summary.count("create"), 3);
    let lines = counting.lines();
    assert!(
        lines[0].starts_with("up ") && lines[0].ends_with(" --suppress-outputs"),
        "{lines:?}"
    );
}

/// `pulumi <command> --help`, with every flag shown (the event log is behind
/// `PULUMI_DEBUG_COMMANDS`, the remote flags behind `PULUMI_EXPERIMENTAL`).
async fn cli_output(args: &[&str]) -> String {
    let pulumi = common::pulumi().await;
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(pulumi.path())
        .args(args)
        .env("PULUMI_HOME", home.path())
        .env("PULUMI_SKIP_UPDATE_CHECK", "true")
        .env("PULUMI_DEBUG_COMMANDS", "true")
        .env("PULUMI_EXPERIMENTAL", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The flags in a command's help: long name → (short alias, takes a value).
fn help_flags(help: &str) -> BTreeMap<String, (Option<char>, bool)> {
    let mut flags = BTreeMap::new();
    for line in help.lines() {
        let t = line.trim_start();
        let (short, rest) = match t.strip_prefix('-') {
            Some(r) if !r.starts_with('-') && r.len() > 3 && &r[1..3] == ", " => {
                (r.chars().next(), &r[3..])
            }
            _ => (None, t),
        };
        let Some(rest) = rest.strip_prefix("--") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let after = &rest[name.len()..];
        // A value's type follows the name (`--stack string`); an optional one shows
        // as `string[="true"]`.
        let ty = after.strip_prefix(' ').unwrap_or("");
        let word: String = ty.chars().take_while(|c| !c.is_whitespace()).collect();
        let optional = word.contains("[=");
        flags.insert(name, (short, !word.is_empty() && !optional));
    }
    flags
}

#[tokio::test]
async fn the_flag_tables_match_the_pinned_cli() {
    let spec: serde_json::Value =
        serde_json::from_str(&cli_output(&["generate-cli-spec"]).await).unwrap();
    let global = spec["flags"].as_object().unwrap().clone();
    for cmd in ["up", "preview", "refresh", "import"] {
        let help = help_flags(&cli_output(&[cmd, "--help"]).await);
        let spec_flags = spec["commands"][cmd]["flags"].as_object().unwrap();
        let table = managed_flags(cmd).unwrap();
        // Every flag with a one-letter alias is in the table, alias and arity alike, so
        // a group of short flags is read as the CLI reads it.
        for (long, (short, _)) in &help {
            if let Some(s) = short {
                let t = table
                    .iter()
                    .find(|f| f.short == Some(*s))
                    .unwrap_or_else(|| panic!("{cmd}: -{s} (--{long}) is not in the table"));
                assert_eq!(t.long, long, "{cmd}: -{s}");
            }
        }
        // Every flag of the table is one of the command's, with its alias and arity
        // (hidden flags are in the spec only; none of them has an alias).
        for f in &table {
            let spec_type = spec_flags
                .get(f.long)
                .or(global.get(f.long))
                .map(|v| v["type"].as_str().unwrap().to_owned());
            let (short, takes_value) = match (help.get(f.long), &spec_type) {
                (Some((short, _)), Some(t)) if t == "boolean" => (*short, false),
                (Some((short, value)), _) => (*short, *value),
                (None, Some(t)) => (None, t != "boolean"),
                (None, None) => panic!("{cmd}: --{} is not a flag of the CLI", f.long),
            };
            assert_eq!(short, f.short, "{cmd}: --{}", f.long);
            assert_eq!(takes_value, f.takes_value, "{cmd}: --{} arity", f.long);
        }
    }
}

#[tokio::test]
async fn the_refused_spellings_are_the_ones_the_cli_reads_as_the_stack() {
    let env = TestEnv::new("files").await;
    env.ws.create_stack("dev").await.unwrap();
    // `prod` does not exist: a spelling the CLI reads as `--stack prod` fails to find it.
    let spellings: &[(&str, &[&str])] = &[
        (
            "up",
            &[
                "--stack=prod",
                "-sprod",
                "-s=prod",
                "-esprod",
                "-ysprod",
                "-yfs=prod",
                "-Qesprod",
            ],
        ),
        (
            "preview",
            &["--stack=prod", "-sprod", "-es=prod", "-jsprod"],
        ),
        (
            "refresh",
            &["--stack=prod", "-sprod", "-fysprod", "-jes=prod"],
        ),
    ];
    for (cmd, args) in spellings {
        for arg in *args {
            assert_refused(check_extra_args(cmd, &[arg.to_string()]), arg);
            let mut argv = vec![cmd.to_string(), "--stack".into(), "dev".into()];
            if *cmd != "preview" {
                argv.push("--yes".into());
            }
            argv.push(arg.to_string());
            let out = env
                .ws
                .run(pulumi_auto::cli::Invocation::new(argv.clone()))
                .await;
            match out {
                Err(Error::StackNotFound { failure, .. }) => {
                    assert!(failure.stderr.contains("'prod'"), "{argv:?}: {failure}")
                }
                other => panic!("{argv:?}: the CLI did not read it as --stack prod: {other:?}"),
            }
        }
    }
}
