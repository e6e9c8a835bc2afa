//! Many stacks of one workspace at once, on the real CLI: no shared selected stack, no
//! shared temporary files, one event log per operation.

mod common;

use std::time::Instant;

use common::{CountingCli, TestEnv};
use pulumi_auto::DestroyApproval;
use pulumi_auto::ops::{DestroyOptions, UpOptions};
use pulumi_auto::workspace::RemoveOptions;

const STACKS: usize = 16;

on_both_backends! {
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
}

on_both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_ups_of_one_stack_one_runs_the_other_is_refused() {
    let env = TestEnv::new("slow").await;
    // A service takes its lease when the update proper starts, after `up`'s preview (the
    // file backend locks before it), so the two updates overlap only if each outlasts the
    // spread of the two CLIs' previews: longer creates on a server.
    let delay = if env.server.is_some() { 6 } else { 3 };
    let stack = env.ws.create_stack("dev").await.unwrap();
    stack
        .set_all_config([
            ("dir", env.files.display().to_string()),
            ("delay", delay.to_string()),
            ("count", "2".to_owned()),
        ])
        .await
        .unwrap();
    // Three rounds, each with both ups started at the same instant and each creating a
    // resource (a change of input would be an update, which takes no time): the first
    // creates two, the next ones one more each.
    for round in 0..3 {
        if round > 0 {
            stack
                .set_config("count", format!("{}", 2 + round))
                .await
                .unwrap();
        }
        // The file backend's lock (pkg/backend/diy/lock.go) checks for other locks, writes
        // its own, then checks again and backs off if it sees another: two CLIs writing at
        // the same instant can both see the other and both be refused. Nothing ran then;
        // the pair is started again (a service's lease always lets exactly one in).
        let mut attempt = 0;
        let (ok, refused) = loop {
            let (a, b) = tokio::join!(
                stack.up(UpOptions::default()),
                stack.up(UpOptions::default())
            );
            match (a, b) {
                (Ok(ok), Err(e)) | (Err(e), Ok(ok)) => break (ok, e),
                (
                    Err(pulumi_auto::Error::ConcurrentUpdate { .. }),
                    Err(pulumi_auto::Error::ConcurrentUpdate { .. }),
                ) if env.server.is_none() && attempt < 5 => {
                    attempt += 1;
                    let health = stack.health().await.unwrap();
                    assert!(health.is_clean(), "round {round}, both refused: {health:?}");
                }
                (a, b) => panic!(
                    "round {round}: expected one success and one refusal: {a:?} / {b:?}"
                ),
            }
        };
        assert_eq!(ok.summary.result, "succeeded");
        match refused {
            pulumi_auto::Error::ConcurrentUpdate {
                lock_holders,
                failure,
            } => {
                // The file backend's lock names its holder; a service's 409 names none, nor
                // does the file backend's check that read the other lock while it was
                // being written (its temporary file, gone a moment later).
                assert!(
                    env.server.is_some()
                        || !lock_holders.is_empty()
                        || failure.stderr.contains(".tmp: no such file or directory"),
                    "the error names the lock: {failure:?}"
                );
            }
            other => panic!("round {round}: expected ConcurrentUpdate, got {other:?}"),
        }
        // The state is intact: no lock, nothing pending, and it matches the disk.
        let health = stack.health().await.unwrap();
        assert!(health.is_clean(), "round {round}: {health:?}");
        let expected: Vec<String> = (0..2 + round).map(|i| format!("slow-{i}.txt")).collect();
        assert_eq!(env.file_names(), expected);
        let refreshed = stack
            .refresh(pulumi_auto::ops::RefreshOptions::default())
            .await
            .unwrap();
        let changed: u64 = refreshed
            .summary
            .resource_changes
            .iter()
            .filter(|(op, _)| op.as_str() != "same")
            .map(|(_, n)| *n)
            .sum();
        assert_eq!(changed, 0, "round {round}: {:?}", refreshed.summary);
    }
}
}
