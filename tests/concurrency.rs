//! Many stacks of one workspace at once, on the real CLI: no shared selected stack, no
//! shared temporary files, one event log per operation.

mod common;

use std::time::Instant;

use common::{CountingCli, TestEnv};
use pulumi_auto::DestroyApproval;
use pulumi_auto::ops::{DestroyOptions, UpOptions};
use pulumi_auto::workspace::RemoveOptions;

const STACKS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_stacks_up_and_destroyed_concurrently() {
    let env = TestEnv::new("files").await;
    let counting = CountingCli::new(env.root.path()).await;
    let cmd = counting.command().await;
    let ws = env.workspace_with(|b| b.pulumi_command(cmd)).await;
    counting.reset();
    let started = Instant::now();
    let tasks: Vec<_> = (0..STACKS)
        .map(|i| {
            let ws = ws.clone();
            let dir = env.files.join(format!("s{i}"));
            tokio::spawn(async move {
                let name = format!("s{i}");
                let stack = ws.create_stack(&name).await?;
                stack.set_config("dir", dir.display().to_string()).await?;
                let up = stack.up(UpOptions::default()).await?;
                let greeting = std::fs::read_to_string(dir.join("greeting.txt")).ok();
                let destroyed = stack
                    .destroy(
                        DestroyOptions::default(),
                        &DestroyApproval::for_stack(&name),
                    )
                    .await?;
                ws.remove_stack(&name, RemoveOptions::default()).await?;
                Ok::<_, pulumi_auto::Error>((up.summary, greeting, destroyed.summary, dir))
            })
        })
        .collect();
    for t in tasks {
        let (up, greeting, destroyed, dir) = t.await.unwrap().unwrap();
        assert_eq!(up.count("create"), 3);
        assert_eq!(greeting.as_deref(), Some("hello"));
        assert_eq!(destroyed.count("delete"), 3);
        assert!(!dir.join("greeting.txt").exists());
    }
    let wall = started.elapsed();
    eprintln!("{STACKS} stacks: create, config, up, destroy, remove in {wall:?}");

    // Per stack: stack init, config set, up + stack export (a secret output), the
    // destroy approval's tag check + destroy, stack rm: 7 processes, as
    // docs/process-counts.md gives for these calls.
    let lines = counting.lines();
    assert_eq!(lines.len(), STACKS * 7, "{lines:?}");
    for i in 0..STACKS {
        let mine = lines
            .iter()
            .filter(|l| l.split_whitespace().any(|w| w == format!("s{i}")))
            .count();
        assert_eq!(mine, 7, "stack s{i}: {lines:?}");
    }
    assert!(ws.list_stacks().await.unwrap().is_empty());
}
