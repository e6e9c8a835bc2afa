//! A crash (every process of the update SIGKILLed mid-create, as when the machine dies)
//! leaves a lock and pending creates; health reports them, recover repairs them only
//! when asked, and the stack converges afterwards with state matching the files on disk.

mod common;

use common::TestEnv;
use pulumi_auto::Error;
use pulumi_auto::ops::{RefreshOptions, UpOptions};
use pulumi_auto::recovery::{PendingCreates, RecoverOptions};

/// The number of pending creates in the file backend's checkpoint of any stack under
/// `state`, once it reaches `want` (or what it is after 30 s).
async fn wait_for_pending_creates(state: &std::path::Path, want: usize) -> usize {
    fn checkpoints(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                checkpoints(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    let mut count = 0;
    for _ in 0..300 {
        let mut files = Vec::new();
        checkpoints(&state.join(".pulumi/stacks"), &mut files);
        count = files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .filter_map(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .map(|v| {
                v.pointer("/checkpoint/latest/pending_operations")
                    .and_then(|p| p.as_array())
                    .map_or(0, |ops| {
                        ops.iter().filter(|o| o["type"] == "creating").count()
                    })
            })
            .max()
            .unwrap_or(0);
        if count >= want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    count
}

#[tokio::test]
async fn a_crashed_update_is_reported_and_recovered_only_when_asked() {
    let env = TestEnv::new("slow").await;
    let (marker, stack) = common::marked_slow_stack(&env, "20", "2").await;

    // Crash: SIGKILL every process of the update while its creates are sleeping (a
    // dropped operation would cancel gracefully; a crash gives no such chance).
    let op = tokio::spawn({
        let stack = stack.clone();
        async move { stack.up(UpOptions::default()).await }
    });
    let seen = common::wait_for_provider(&marker).await;
    assert!(
        seen.iter().any(|(_, c)| c.contains("pulumi.dynamic")),
        "{seen:?}"
    );
    // Kill once the engine has recorded both pending creates (a fixed wait is too short on
    // a loaded machine: the checkpoint is written after the provider starts).
    let recorded = wait_for_pending_creates(&env.state, 2).await;
    assert_eq!(
        recorded, 2,
        "the engine never recorded the two pending creates"
    );
    for (pid, _) in common::processes_with_marker(&marker) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let crashed = op.await.unwrap();
    assert!(crashed.is_err(), "{crashed:?}");
    assert!(common::wait_until_gone(&marker).await.is_empty());

    let health = stack.health().await.unwrap();
    assert_eq!(health.locks.len(), 1, "{health:?}");
    assert_eq!(health.pending_creates().count(), 2, "{health:?}");
    assert!(env.file_names().is_empty(), "the creates never finished");

    // Nothing is repaired silently: a new update is refused while the lock stands.
    let err = stack.up(UpOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::ConcurrentUpdate { .. }), "{err:?}");
    assert_eq!(stack.health().await.unwrap().locks.len(), 1);

    // Explicit recovery, then the stack converges.
    let after = stack
        .recover(
            RecoverOptions::default()
                .clear_locks(true)
                .pending_creates(PendingCreates::Clear),
        )
        .await
        .unwrap();
    assert!(after.is_clean(), "{after:?}");
    stack.set_config("delay", "0.1").await.unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    // The root stack resource was created before the crash; the two files were not.
    assert_eq!(
        (up.summary.count("create"), up.summary.count("same")),
        (2, 1),
        "{:?}",
        up.summary
    );
    assert_eq!(env.file_names(), ["slow-0.txt", "slow-1.txt"]);
    let refreshed = stack.refresh(RefreshOptions::default()).await.unwrap();
    assert!(refreshed.summary.is_no_op(), "{:?}", refreshed.summary);
    assert!(stack.health().await.unwrap().is_clean());
}
