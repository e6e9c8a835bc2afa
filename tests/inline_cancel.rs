//! Cancelling an inline program's `up` (feature `inline`), alone in its test binary: it
//! counts the process's threads and listening ports, which tests running beside it in one
//! process would change.
#![cfg(feature = "inline")]

mod common;
mod inline_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use inline_support::{Env, FILE, file, install_files};
use pulumi_auto::Error;
use pulumi_auto::inline::{Context, ResourceOptions};
use pulumi_auto::ops::UpOptions;

/// The TCP ports this process listens on (from /proc/net/tcp, by socket inode).
fn listening_ports() -> Vec<u16> {
    let mut inodes = std::collections::BTreeSet::new();
    for fd in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if let Ok(l) = std::fs::read_link(fd.path()) {
            let l = l.to_string_lossy().into_owned();
            if let Some(i) = l.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                inodes.insert(i.to_owned());
            }
        }
    }
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 9 && cols[3] == "0A" && inodes.contains(cols[9]) {
                let port = cols[1].rsplit(':').next().unwrap();
                ports.push(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports.sort();
    ports
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Sets a flag when dropped: the program's future was dropped (aborted).
struct Dropped(Arc<AtomicUsize>);
impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Cancelled while the program waits in the middle of its run: the CLI and its plugins
/// end, the program's task is aborted, the server's port closes, no thread is left, the
/// stack is not locked, and the next `up` converges.
#[tokio::test]
async fn cancel_mid_up_leaves_nothing() {
    let env = Env::new();
    let marker = common::unique_marker();
    let started = Arc::new(tokio::sync::Notify::new());
    let dropped = Arc::new(AtomicUsize::new(0));
    let (st, dr, a, b) = (
        started.clone(),
        dropped.clone(),
        env.path("a.txt"),
        env.path("b.txt"),
    );
    let m = marker.clone();
    let ws = env
        .builder("cancel", move |ctx: Context| {
            let (started, dropped, a, b) = (st.clone(), dr.clone(), a.clone(), b.clone());
            async move {
                let _guard = Dropped(dropped);
                ctx.register_resource(FILE, "a", file(&a, "a"), ResourceOptions::default())
                    .await?;
                if ctx.config_str("fast").is_none() {
                    started.notify_one();
                    tokio::time::sleep(std::time::Duration::from_secs(120)).await;
                }
                ctx.register_resource(FILE, "b", file(&b, "b"), ResourceOptions::default())
                    .await?;
                Ok(())
            }
        })
        .await
        .workspace(move |b| b.env("PULUMI_AUTO_TEST_MARKER", m))
        .build()
        .await
        .unwrap();
    install_files(&ws).await;
    let stack = ws.create_stack("dev").await.unwrap();
    let ports_before = listening_ports();
    let threads_before = thread_count();

    let token = tokio_util::sync::CancellationToken::new();
    let up = stack.up(UpOptions::default().cancel_token(token.clone()));
    let canceller = async {
        started.notified().await;
        assert!(!common::processes_with_marker(&marker).is_empty());
        assert!(
            listening_ports().len() > ports_before.len(),
            "the server listens"
        );
        token.cancel();
    };
    let (result, ()) = tokio::join!(up, canceller);
    assert!(matches!(result, Err(Error::Cancelled { .. })), "{result:?}");

    assert_eq!(common::wait_until_gone(&marker).await, [], "processes left");
    assert_eq!(listening_ports(), ports_before, "a port left open");
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the program's task was not aborted"
    );
    let mut threads = thread_count();
    for _ in 0..200 {
        if threads <= threads_before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        threads = thread_count();
    }
    assert!(
        threads <= threads_before,
        "{threads} threads, {threads_before} before"
    );
    let health = stack.health().await.unwrap();
    assert!(health.is_clean(), "{health:?}");

    stack.set_config("fast", "yes").await.unwrap();
    stack.up(UpOptions::default()).await.unwrap();
    assert!(env.files.join("b.txt").exists());
    assert_eq!(listening_ports(), ports_before);
}
