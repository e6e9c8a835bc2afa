//! `recover(PendingCreates::Import(..))` on pending creates left by a real crash: the
//! named pending creates become resources with the caller's IDs, an ID that looks like a
//! flag (`--stack=prod`) included, and the stack converges. The CLI's own
//! `refresh --import-pending-creates`, given as the CLI takes it (one value per
//! occurrence), is accepted but drops the pending creates without adopting them.

mod common;

use common::TestEnv;
use pulumi_auto::Stack;
use pulumi_auto::ops::{RefreshOptions, UpOptions};
use pulumi_auto::recovery::{PendingCreates, RecoverOptions};

/// Runs an `up` and SIGKILLs every process of it once `pending` creates are recorded as
/// begun, as a machine's crash would; returns the pending creates' URNs, sorted.
async fn crash_during_creates(stack: &Stack, marker: &str, pending: usize) -> Vec<String> {
    let op = tokio::spawn({
        let stack = stack.clone();
        async move { stack.up(UpOptions::default()).await }
    });
    let seen = common::wait_for_provider(marker).await;
    assert!(
        seen.iter().any(|(_, c)| c.contains("pulumi.dynamic")),
        "{seen:?}"
    );
    // Creates only: the same up may also record other steps as pending for a moment (an
    // update of an earlier resource), which end before the kill.
    let mut begun = 0;
    for _ in 0..300 {
        // Read while the up writes it: the file backend's checkpoint can be caught half
        // written (the CLI's "failed to load checkpoint: EOF"); the next read sees it whole.
        let dep = match stack.export_stack().await {
            Ok(dep) => dep,
            Err(pulumi_auto::Error::CommandFailed { failure })
                if failure.stderr.contains("failed to load checkpoint") =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => panic!("export during the up: {e:?}"),
        };
        begun = dep
            .pending_operations()
            .iter()
            .filter(|p| p.type_.as_str() == "creating")
            .count();
        if begun == pending {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        begun, pending,
        "the pending creates never showed in the state"
    );
    for (pid, _) in common::processes_with_marker(marker) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(op.await.unwrap().is_err());
    assert!(common::wait_until_gone(marker).await.is_empty());
    let health = stack.health().await.unwrap();
    assert_eq!(health.locks.len(), 1, "{health:?}");
    let mut creates: Vec<String> = health
        .pending_creates()
        .map(|p| p.resource.urn.clone())
        .collect();
    creates.sort();
    assert_eq!(creates.len(), pending, "{health:?}");
    creates
}

fn dynamic_resources(stack_state: &pulumi_auto::model::Deployment) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = stack_state
        .resources()
        .iter()
        .filter(|r| r.type_ == "pulumi-python:dynamic:Resource")
        .map(|r| (r.urn.clone(), r.id.clone().unwrap_or_default()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn pending_creates_are_adopted_with_their_ids() {
    let env = TestEnv::new("slow").await;
    let (marker, stack) = common::marked_slow_stack(&env, "20", "2").await;
    let creates = crash_during_creates(&stack, &marker, 2).await;
    assert!(creates[0].ends_with("::slow-0") && creates[1].ends_with("::slow-1"));

    // The resources exist after all (the provider made them; the engine never heard).
    // The provider reads a resource by its ID, a path: the second one's, relative to the
    // provider's directory (the program's), looks like a flag.
    let first = env.files.join("slow-0.txt");
    std::fs::write(&first, "made out of band").unwrap();
    let flag_like = "--stack=prod";
    std::fs::write(env.program.join(flag_like), "made out of band").unwrap();

    // Every pending create needs its ID: the others would be lost.
    let err = stack
        .recover(RecoverOptions::default().clear_locks(true).pending_creates(
            PendingCreates::Import(vec![(creates[0].clone(), first.display().to_string())]),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, pulumi_auto::Error::InvalidInput { .. }),
        "{err:?}"
    );
    assert_eq!(stack.health().await.unwrap().pending_creates().count(), 2);

    let after = stack
        .recover(RecoverOptions::default().clear_locks(true).pending_creates(
            PendingCreates::Import(vec![
                (creates[0].clone(), first.display().to_string()),
                (creates[1].clone(), flag_like.to_owned()),
            ]),
        ))
        .await
        .unwrap();
    assert!(after.is_clean(), "{after:?}");
    assert_eq!(
        dynamic_resources(&stack.export_stack().await.unwrap()),
        [
            (creates[0].clone(), first.display().to_string()),
            (creates[1].clone(), flag_like.to_owned()),
        ]
    );

    // The CLI's own flag, on a third resource's pending create: accepted, but the pinned
    // CLI only marks the create `importing`, and the refresh drops it: the resource is
    // in neither the state nor the pending operations.
    stack.set_config("count", "3").await.unwrap();
    let third = crash_during_creates(&stack, &marker, 1).await;
    assert!(third[0].ends_with("::slow-2"), "{third:?}");
    stack.cancel().await.unwrap(); // its holder was killed
    let third_path = env.files.join("slow-2.txt");
    std::fs::write(&third_path, "made out of band").unwrap();
    stack
        .refresh(
            RefreshOptions::default()
                .import_pending_create(third[0].clone(), third_path.display().to_string()),
        )
        .await
        .unwrap();
    let dropped = stack.export_stack().await.unwrap();
    assert!(dropped.pending_operations().is_empty());
    assert_eq!(
        dynamic_resources(&dropped).len(),
        2,
        "slow-2 was not adopted"
    );

    // The stack converges: the adopted resources are kept (not created again), the
    // dropped one is created again. (The second keeps its adopted file: the fixture's
    // provider has no update.)
    stack.set_config("delay", "0.1").await.unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(up.summary.count("create"), 1, "{:?}", up.summary);
    assert_eq!(env.file_names(), ["slow-0.txt", "slow-2.txt"]);
    assert!(env.program.join(flag_like).exists());
    let ids = dynamic_resources(&stack.export_stack().await.unwrap());
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(ids[0].1, first.display().to_string());
    let refreshed = stack.refresh(RefreshOptions::default()).await.unwrap();
    assert!(refreshed.summary.is_no_op(), "{:?}", refreshed.summary);
}
