//! Ctrl-C (SIGINT) and SIGTERM, counted.
//!
//! Once installed, neither signal ends the tool by itself: each one is counted, and the
//! code running at the time decides. During an engine operation the first one cancels
//! the operation's token (the library sends pulumi SIGTERM, so the engine finishes the
//! steps in flight, and escalates after its grace period); the second one drops the
//! operation, which makes the library kill pulumi and every plugin at once. Anywhere
//! else (a prompt, a short command) the first one cancels.
//!
//! pulumi runs in a session of its own, so the terminal's Ctrl-C reaches only the tool.

use std::future::Future;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::exit::Failure;
use crate::report::Ui;

/// The count of interrupts received so far.
#[derive(Clone)]
pub struct Interrupts {
    /// The count, kept by the task that receives the signals.
    rx: watch::Receiver<u32>,
}

impl Interrupts {
    /// Starts counting SIGINT and SIGTERM.
    pub fn install() -> std::io::Result<Interrupts> {
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let (tx, rx) = watch::channel(0u32);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(()) = int.recv() => {}
                    Some(()) = term.recv() => {}
                    else => break,
                }
                tx.send_modify(|n| *n += 1);
            }
        });
        Ok(Interrupts { rx })
    }

    /// Waits until the count exceeds `seen`; returns the new count.
    async fn after(&mut self, seen: u32) -> u32 {
        loop {
            let now = *self.rx.borrow_and_update();
            if now > seen {
                return now;
            }
            if self.rx.changed().await.is_err() {
                // The counter is gone: no interrupt will come.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Runs a short step (no cancellation token of its own): an interrupt (now or
    /// earlier) drops it, which stops any pulumi process it started, and the step ends as
    /// cancelled.
    pub async fn short<T, E: Into<Failure>>(
        &mut self,
        what: &str,
        fut: impl Future<Output = Result<T, E>>,
    ) -> Result<T, Failure> {
        tokio::select! {
            biased;
            _ = self.after(0) => Err(Failure::cancelled(format!("cancelled while {what}"))),
            r = fut => r.map_err(Into::into),
        }
    }

    /// Runs an engine operation that watches `token`: the first interrupt cancels the token
    /// (graceful: pulumi gets SIGTERM and finishes the steps in flight), a second one drops
    /// the operation: the library then sends pulumi its second SIGTERM at once, in a task
    /// of its own, and the tool gives pulumi a few seconds to end; when the tool's runtime
    /// shuts down, the library kills whatever is left of pulumi's session. The failure of
    /// a second interrupt is marked [`Failure::hard_stop`].
    pub async fn engine<T>(
        &mut self,
        ui: &Ui,
        token: &CancellationToken,
        fut: impl Future<Output = pulumi_auto::Result<T>>,
    ) -> Result<T, Failure> {
        let mut fut = Box::pin(fut);
        let mut seen = 0;
        loop {
            tokio::select! {
                now = self.after(seen) => {
                    seen = now;
                    if now >= 2 {
                        ui.note("interrupted again: terminating pulumi now, then killing whatever is left of it");
                        drop(fut);
                        wait_for_children(HARD_STOP_WAIT).await;
                        return Err(Failure::hard_stopped());
                    }
                    if !token.is_cancelled() {
                        token.cancel();
                        ui.note("interrupted: cancelling gracefully (pulumi finishes the steps in flight); press Ctrl-C again to stop at once");
                    }
                }
                r = &mut fut => return r.map_err(Failure::from),
            }
        }
    }
}

/// After a second interrupt, how long pulumi gets to terminate before it is killed.
const HARD_STOP_WAIT: Duration = Duration::from_secs(3);

/// The live child processes of the tool (the `pulumi` commands the library started).
fn live_children() -> usize {
    let me = std::process::id().to_string();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return 0;
    };
    rd.flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // After the command name: state ppid …
            let mut f = stat
                .rsplit_once(") ")
                .map(|(_, r)| r)
                .unwrap_or("")
                .split(' ');
            let state = f.next();
            state != Some("Z") && f.next() == Some(me.as_str())
        })
        .count()
}

/// Waits until the tool has no live child, at most `limit`. `/proc` is read on a blocking
/// thread, off the runtime's workers.
async fn wait_for_children(limit: Duration) {
    let end = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < end {
        let live = tokio::task::spawn_blocking(live_children)
            .await
            .unwrap_or(0);
        if live == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
