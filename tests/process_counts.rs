//! Measures how many `pulumi` processes each public call starts, through a wrapper around
//! the real CLI, and checks every row of docs/process-counts.md against the measurement.

mod common;

use std::collections::BTreeMap;

use common::{CountingCli, TestEnv};
use pulumi_auto::cli::PulumiCommand;
use pulumi_auto::ops::{DestroyOptions, PreviewOptions, RefreshOptions, UpOptions};
use pulumi_auto::workspace::RemoveOptions;
use pulumi_auto::{DestroyApproval, Secret};

/// The pulumi-auto column of the docs table, by row.
fn documented() -> BTreeMap<String, usize> {
    let doc = std::fs::read_to_string(common::repo().join("docs/process-counts.md")).unwrap();
    doc.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| call") && !l.starts_with("|---"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].to_owned(), cells[2].parse().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn process_counts_match_the_docs() {
    let env = TestEnv::new("files").await;
    let counting = CountingCli::new(env.root.path()).await;
    let mut measured: BTreeMap<String, usize> = BTreeMap::new();
    let mut step = |name: &str, counting: &CountingCli| {
        measured.insert(name.to_owned(), counting.lines().len());
        counting.reset();
    };
    let build = || async {
        let cmd = PulumiCommand::at(&counting.path).await.unwrap();
        env.workspace_with(|b| b.pulumi_command(cmd)).await
    };
    let ws = build().await;
    step("first workspace for a binary (`pulumi version`)", &counting);
    let ws2 = build().await;
    step("another workspace on the same binary", &counting);
    drop(ws2);
    let unchecked = PulumiCommand::at_unchecked(&counting.path).unwrap();
    assert!(unchecked.version().is_none());
    let ws3 = env.workspace_with(|b| b.pulumi_command(unchecked)).await;
    step("a workspace on PulumiCommand::at_unchecked", &counting);
    drop(ws3);

    let stack = ws.create_or_select_stack("dev").await.unwrap();
    step("create_or_select_stack (new stack)", &counting);
    ws.create_or_select_stack("dev").await.unwrap();
    step("create_or_select_stack (stack exists)", &counting);
    ws.select_stack("dev").await.unwrap();
    step("select_stack", &counting);
    stack.set_config("token", Secret::new("tok")).await.unwrap();
    step("set_config (secret)", &counting);
    stack
        .set_all_config([
            (
                "dir",
                pulumi_auto::stack::ConfigSetValue::from(env.files.display().to_string()),
            ),
            ("greeting", "hi".into()),
            ("token", Secret::new("tok-2").into()),
        ])
        .await
        .unwrap();
    step("set_all_config (3 values, 1 secret)", &counting);
    stack.get_all_config().await.unwrap();
    step("get_all_config", &counting);
    stack.preview(PreviewOptions::default()).await.unwrap();
    step("preview", &counting);
    stack.up(UpOptions::default()).await.unwrap();
    step("up (with a secret output)", &counting);
    stack.refresh_config().await.unwrap();
    step("refresh_config", &counting);
    stack.refresh(RefreshOptions::default()).await.unwrap();
    step("refresh", &counting);
    stack.outputs().await.unwrap();
    step("outputs", &counting);
    stack.info().await.unwrap();
    step("info", &counting);
    let exported = stack.export_stack().await.unwrap();
    step("export_stack", &counting);
    stack.import_stack(&exported).await.unwrap();
    step("import_stack", &counting);
    stack.cancel().await.unwrap();
    step("cancel", &counting);
    ws.whoami().await.unwrap();
    step("whoami", &counting);
    stack
        .destroy(
            DestroyOptions::default(),
            &DestroyApproval::for_stack("dev"),
        )
        .await
        .unwrap();
    step("destroy (approved; reads the protection tag)", &counting);
    let stack = ws.rename_stack("dev", "renamed").await.unwrap();
    step("rename_stack", &counting);
    stack.up(UpOptions::default()).await.unwrap();
    counting.reset();
    stack
        .destroy(
            DestroyOptions::default(),
            &DestroyApproval::for_stack("renamed"),
        )
        .await
        .unwrap();
    ws.remove_stack("renamed", RemoveOptions::default())
        .await
        .unwrap();
    step("destroy, then remove_stack", &counting);

    // up without secret outputs: the many program has none.
    let many = TestEnv::new("many").await;
    let cmd = PulumiCommand::at(&counting.path).await.unwrap();
    let ws = many.workspace_with(|b| b.pulumi_command(cmd)).await;
    let s = ws.create_stack("dev").await.unwrap();
    s.set_all_config([
        ("dir", many.files.display().to_string()),
        ("count", "2".to_owned()),
    ])
    .await
    .unwrap();
    counting.reset();
    s.up(UpOptions::default()).await.unwrap();
    step("up (no secret outputs)", &counting);
    s.destroy(
        DestroyOptions::default(),
        &DestroyApproval::for_stack("dev").override_protection(true),
    )
    .await
    .unwrap();
    step("destroy (approval overriding protection)", &counting);
    s.up(UpOptions::default()).await.unwrap();
    counting.reset();
    s.destroy(
        DestroyOptions::default().remove(true),
        &DestroyApproval::for_stack("dev"),
    )
    .await
    .unwrap();
    step("destroy with remove(true)", &counting);

    // The ephemeral guard, on a shared backend (as tag, config and teardown run there).
    let eph = pulumi_auto::EphemeralStack::builder(&many.program)
        .backend_url(format!("file://{}", many.state.display()))
        .passphrase(Secret::new(common::PASSPHRASE))
        .config("dir", many.files.display().to_string())
        .config("count", "1")
        .ledger_dir(many.root.path().join("ledger"))
        .pulumi_command(PulumiCommand::at(&counting.path).await.unwrap())
        .create()
        .await
        .unwrap();
    step("EphemeralStack create (stack init, tag, config)", &counting);
    eph.up(UpOptions::default()).await.unwrap();
    counting.reset();
    eph.teardown().await.unwrap();
    step("EphemeralStack teardown", &counting);

    let documented = documented();
    assert_eq!(
        documented.keys().collect::<Vec<_>>(),
        measured.keys().collect::<Vec<_>>(),
        "the docs table and the measured calls differ"
    );
    assert_eq!(
        documented, measured,
        "docs/process-counts.md is out of date"
    );
}
