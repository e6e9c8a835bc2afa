//! `Stack::cancel()` and `recover(clear_locks)` leave a lock alone while its holder (the
//! pid and host the file backend records in it) still runs on this host; they delete
//! the lock of a holder that is gone, that runs elsewhere, or whose pid was reused; and
//! `force_cancel()` deletes it anyway. Against the real CLI.

mod common;

use std::path::{Path, PathBuf};

use common::TestEnv;
use pulumi_auto::Error;
use pulumi_auto::ops::UpOptions;
use pulumi_auto::recovery::{PendingCreates, RecoverOptions};

fn lock_dir(state: &Path, project: &str, stack: &str) -> PathBuf {
    state
        .join(".pulumi/locks/organization")
        .join(project)
        .join(stack)
}

fn lock_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                // The blob store keeps `<lock>.json.attrs` beside each.
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

/// Writes a lock file as the CLI does (`{"pid","username","hostname","timestamp"}`).
fn plant_lock(dir: &Path, pid: u32, hostname: &str, timestamp: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("0b5e9d1a-0000-4000-8000-000000000001.json");
    std::fs::write(
        &file,
        serde_json::json!({"pid": pid, "username": "u", "hostname": hostname, "timestamp": timestamp})
            .to_string(),
    )
    .unwrap();
    file
}

fn rfc3339(t: std::time::SystemTime) -> String {
    // Seconds since the epoch as an RFC 3339 UTC time.
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.123456789Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[tokio::test]
async fn the_lock_of_a_running_update_is_not_cleared() {
    let env = TestEnv::new("slow").await;
    let (_marker, stack) = common::marked_slow_stack(&env, "4", "1").await;
    let dir = lock_dir(&env.state, "slow", "dev");
    let op = tokio::spawn({
        let stack = stack.clone();
        async move { stack.up(UpOptions::default()).await }
    });
    let mut locks = Vec::new();
    for _ in 0..300 {
        locks = stack.health().await.unwrap().locks;
        if !locks.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(locks.len(), 1, "the update took no lock");
    assert!(locks[0].holder_running(), "{locks:?}");

    match stack.cancel().await {
        Err(Error::LockHolderRunning { pid, file, .. }) => {
            assert_eq!(pid, locks[0].pid);
            assert_eq!(file, locks[0].file);
        }
        other => panic!("{other:?}"),
    }
    let recovered = stack
        .recover(
            RecoverOptions::default()
                .clear_locks(true)
                .pending_creates(PendingCreates::Leave),
        )
        .await;
    assert!(
        matches!(recovered, Err(Error::LockHolderRunning { .. })),
        "{recovered:?}"
    );
    assert_eq!(lock_files(&dir), [locks[0].file.clone()]);

    // The update finishes with its lock, and releases it.
    let up = op.await.unwrap().unwrap();
    assert_eq!(up.summary.count("create"), 2);
    assert!(lock_files(&dir).is_empty());
    assert!(stack.health().await.unwrap().is_clean());
}

#[tokio::test]
async fn a_lock_is_cleared_when_its_holder_is_gone_elsewhere_or_forced() {
    let env = TestEnv::new("files").await;
    let stack = env.ws.create_stack("dev").await.unwrap();
    let dir = lock_dir(&env.state, "files", "dev");
    let now = std::time::SystemTime::now();
    let hour_ago = rfc3339(now - std::time::Duration::from_secs(3600));

    // A process of this host that runs, and was running when the lock was written.
    let mut holder = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let file = plant_lock(
        &dir,
        holder.id(),
        &host(),
        &rfc3339(now + std::time::Duration::from_secs(5)),
    );
    assert!(matches!(
        stack.cancel().await,
        Err(Error::LockHolderRunning { .. })
    ));
    assert!(file.exists());
    // Forced, it goes.
    stack.force_cancel().await.unwrap();
    assert!(!file.exists());

    // The same pid, but the process started after the lock was written: a reused pid.
    let file = plant_lock(&dir, holder.id(), &host(), &hour_ago);
    stack.cancel().await.unwrap();
    assert!(!file.exists());

    // A holder on another host: not known to run.
    let file = plant_lock(&dir, holder.id(), "another-host.example", &rfc3339(now));
    stack.cancel().await.unwrap();
    assert!(!file.exists());

    // A holder that exited.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let file = plant_lock(&dir, holder.id(), &host(), &rfc3339(now));
    assert!(!stack.health().await.unwrap().locks[0].holder_running());
    stack
        .recover(
            RecoverOptions::default()
                .clear_locks(true)
                .pending_creates(PendingCreates::Leave),
        )
        .await
        .unwrap();
    assert!(!file.exists());
}
