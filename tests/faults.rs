//! Faults the real CLI cannot be made to produce on demand, from a fake `pulumi`: a crash
//! in the middle of an event line, garbage output, an event log that is never created,
//! and a hang. Each must end in a clear typed error: no panic, no hang, no process left.

mod common;

use std::time::{Duration, Instant};

use common::TestEnv;
use pulumi_auto::cli::CancelPolicy;
use pulumi_auto::ops::UpOptions;
use pulumi_auto::{Error, LocalWorkspace, Stack};

/// A fake CLI: `version` answers the pin; anything else behaves as `$FAKE_MODE` says,
/// writing to the `--event-log` path it is given.
const FAKE: &str = r#"#!/bin/sh
for a in "$@"; do [ "$a" = version ] && { echo v3.259.0; exit 0; }; done
log=/dev/null; prev=
for a in "$@"; do [ "$prev" = --event-log ] && log="$a"; prev="$a"; done
case "$FAKE_MODE" in
crash)
  printf '{"sequence":0,"timestamp":1,"preludeEvent":{"config":{}}}\n{"sequence":1,"timesta' >> "$log"
  echo 'Updating (dev):'
  kill -9 $$ ;;
garbage)
  echo 'this is not what pulumi prints'
  printf 'garbage line\n{"sequence":"x"}\n' >> "$log"
  echo 'error: something odd' >&2
  exit 1 ;;
nolog)
  echo 'error: failed before the engine started' >&2
  exit 1 ;;
hang)
  sleep 1000 &
  sleep 1000 ;;
esac
"#;

async fn fake_stack(env: &TestEnv, mode: &str, marker: &str) -> Stack {
    let bin = env.root.path().join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = bin.join("pulumi");
    common::write_executable(&path, FAKE);
    let ws: LocalWorkspace = env
        .workspace_with(|b| {
            b.env("FAKE_MODE", mode)
                .env("PULUMI_AUTO_TEST_MARKER", marker)
                .pulumi_command_path(&path)
        })
        .await;
    ws.stack_handle("dev").unwrap()
}

#[tokio::test]
async fn a_crash_mid_event_line_is_a_clean_error() {
    let env = TestEnv::new("files").await;
    let marker = common::unique_marker();
    let stack = fake_stack(&env, "crash", &marker).await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let err = stack
        .up(UpOptions::default().on_event(move |ev| s2.lock().unwrap().push(ev.sequence)))
        .await
        .unwrap_err();
    match &err {
        Error::CommandFailed { failure } => {
            assert_eq!(failure.exit_code, None, "killed by a signal");
            assert!(failure.stdout.contains("Updating (dev):"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        *seen.lock().unwrap(),
        [0],
        "the complete event before the crash"
    );
    assert!(common::wait_until_gone(&marker).await.is_empty());
}

#[tokio::test]
async fn garbage_output_is_a_clean_error() {
    let env = TestEnv::new("files").await;
    let marker = common::unique_marker();
    let stack = fake_stack(&env, "garbage", &marker).await;
    let err = stack.up(UpOptions::default()).await.unwrap_err();
    match &err {
        Error::CommandFailed { failure } => {
            assert_eq!(failure.exit_code, Some(1));
            assert_eq!(failure.headline(), "error: something odd");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_event_log_never_opened_ends_promptly() {
    let env = TestEnv::new("files").await;
    let marker = common::unique_marker();
    let stack = fake_stack(&env, "nolog", &marker).await;
    let t = Instant::now();
    let err = stack.up(UpOptions::default()).await.unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(
        err.command_failure()
            .map(|f| f.headline().to_owned())
            .as_deref(),
        Some("error: failed before the engine started")
    );
}

#[tokio::test]
async fn a_hanging_cli_is_stopped_by_the_timeout_and_leaves_nothing() {
    let env = TestEnv::new("files").await;
    let marker = common::unique_marker();
    let stack = fake_stack(&env, "hang", &marker).await;
    let err = stack
        .up(UpOptions::default()
            .timeout(Duration::from_millis(500))
            .cancel_policy(CancelPolicy {
                grace: Duration::from_millis(300),
                kill_after: Duration::from_millis(300),
            }))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err:?}");
    let left = common::wait_until_gone(&marker).await;
    assert!(left.is_empty(), "left behind: {left:?}");
}
