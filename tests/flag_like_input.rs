//! Names that look like flags never become flags, against the real CLI: stack names are
//! checked by Pulumi's rule (and may not begin with `-` or be `.`/`..`) before any
//! process; plugin kinds, names and versions are checked; and every user-controlled
//! positional goes after `--`, which the pinned CLI accepts for `stack init`, `stack rm`,
//! `stack rename`, `plugin install` and `plugin rm` (the tests below run each).

mod common;

use common::{CountingCli, TestEnv};
use pulumi_auto::cli::Invocation;
use pulumi_auto::workspace::RemoveOptions;
use pulumi_auto::{DestroyApproval, Error, LocalWorkspace};

fn invalid<T: std::fmt::Debug>(r: pulumi_auto::Result<T>, what: &str) {
    match r {
        Err(Error::InvalidInput { what: w, .. }) => assert_eq!(w, what),
        other => panic!("expected InvalidInput({what}), got {other:?}"),
    }
}

async fn stack_names(ws: &LocalWorkspace) -> Vec<String> {
    ws.list_stacks()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect()
}

#[tokio::test]
async fn flag_like_stack_names_are_refused_and_the_selected_stack_stays() {
    let env = TestEnv::new("files").await;
    let counting = CountingCli::new(env.root.path()).await;
    let cmd = counting.command().await;
    let ws = env.workspace_with(|b| b.pulumi_command(cmd)).await;
    ws.create_stack("dev").await.unwrap();
    // The CLI's "currently selected" stack, which `stack rm --force --yes` would remove.
    ws.run(Invocation::new(["stack", "select", "--", "dev"]))
        .await
        .unwrap();
    counting.reset();

    let approval = || RemoveOptions::default().force(DestroyApproval::for_stack("--force"));
    invalid(
        ws.remove_stack("--force", RemoveOptions::default()).await,
        "stack name",
    );
    invalid(ws.remove_stack("--force", approval()).await, "stack name");
    invalid(ws.create_stack("--help").await, "stack name");
    invalid(ws.create_or_select_stack("-s").await, "stack name");
    invalid(ws.select_stack("--force").await, "stack name");
    invalid(ws.rename_stack("dev", "--force").await, "stack name");
    invalid(ws.rename_stack("--force", "dev").await, "stack name");
    for path_like in [
        "../x",
        "..",
        ".",
        "organization/../x",
        "organization/files/..",
    ] {
        invalid(ws.create_stack(path_like).await, "stack name");
        invalid(
            ws.remove_stack(path_like, RemoveOptions::default()).await,
            "stack name",
        );
    }
    assert!(counting.lines().is_empty(), "{:?}", counting.lines());
    let listed = ws.list_stacks().await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].name, "dev");
    assert!(listed[0].current, "dev is still the selected stack");

    // Valid names, qualified too, go after `--`: the CLI takes them there.
    ws.create_stack("organization/files/x-1").await.unwrap();
    let renamed = ws
        .rename_stack("organization/files/x-1", "x.2")
        .await
        .unwrap();
    assert_eq!(renamed.name(), "x.2");
    assert_eq!(stack_names(&ws).await, ["dev", "x.2"]);
    ws.remove_stack("organization/files/x.2", RemoveOptions::default())
        .await
        .unwrap();
    assert_eq!(stack_names(&ws).await, ["dev"]);
    let lines = counting.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("stack init --no-select -- organization/files/x-1")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("--yes -- organization/files/x.2")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_flag_like_plugin_name_removes_nothing() {
    let env = TestEnv::new("files").await;
    let bin = env.root.path().join("pulumi-resource-fake");
    common::write_executable(&bin, "#!/bin/sh\nexit 0\n");
    for (name, version) in [("fake", "1.2.3"), ("fake", "2.0.0"), ("other", "1.0.0")] {
        env.ws
            .install_plugin_from_file("resource", name, version, &bin)
            .await
            .unwrap();
    }
    let installed = || async {
        let mut v: Vec<String> = env
            .ws
            .list_plugins()
            .await
            .unwrap()
            .into_iter()
            .map(|p| format!("{}-{}", p.name, p.version.unwrap_or_default()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        installed().await,
        ["fake-1.2.3", "fake-2.0.0", "other-1.0.0"]
    );

    // `plugin rm resource -a --yes` removes every plugin.
    invalid(
        env.ws.remove_plugin("resource", "-a", None).await,
        "plugin name",
    );
    invalid(
        env.ws.remove_plugin("resource", "--all", None).await,
        "plugin name",
    );
    invalid(
        env.ws.remove_plugin("-a", "fake", None).await,
        "plugin kind",
    );
    invalid(
        env.ws.remove_plugin("resource", "fake", Some("-a")).await,
        "plugin version",
    );
    invalid(
        env.ws
            .install_plugin_from_file("resource", "--reinstall", "1.0.0", &bin)
            .await,
        "plugin name",
    );
    invalid(
        env.ws
            .install_plugin_from_file("resource", "fake", "--exact", &bin)
            .await,
        "plugin version",
    );
    invalid(
        env.ws
            .install_plugin("resource", "fake", "1.0.0", Some("bad\nserver"))
            .await,
        "plugin server",
    );
    assert_eq!(
        installed().await,
        ["fake-1.2.3", "fake-2.0.0", "other-1.0.0"]
    );

    // Kind, name and version after `--` remove exactly what they name.
    env.ws
        .remove_plugin("resource", "fake", Some("<2.0.0"))
        .await
        .unwrap();
    assert_eq!(installed().await, ["fake-2.0.0", "other-1.0.0"]);
    env.ws
        .remove_plugin("resource", "fake", None)
        .await
        .unwrap();
    assert_eq!(installed().await, ["other-1.0.0"]);
}

#[tokio::test]
async fn flags_cannot_come_in_through_the_environment() {
    let env = TestEnv::new("files").await;
    env.ws.create_stack("dev").await.unwrap();
    // `PULUMI_OPTION_FORCE=true` would be `stack rm --force`.
    for key in [
        "PULUMI_OPTION_FORCE",
        "PULUMI_OPTION_STACK",
        "PULUMI_OPTION_REMOVE",
    ] {
        let err = LocalWorkspace::builder(&env.program)
            .env(key, "true")
            .pulumi_command(common::pulumi().await)
            .build()
            .await
            .unwrap_err();
        match err {
            Error::InvalidInput { what, reason } => {
                assert_eq!(what, "environment variable");
                assert!(reason.contains(key), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Removing an inherited one is fine.
    let ws = env
        .workspace_with(|b| b.env_remove("PULUMI_OPTION_FORCE"))
        .await;
    assert_eq!(stack_names(&ws).await, ["dev"]);
}
