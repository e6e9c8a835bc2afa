//! The driver killed outright, at random moments of an `up`, twenty times.
//!
//! The driving process is the `pulumi-auto` tool (a real user's orchestrator), running
//! `up` of the `slow` program; the test SIGKILLs it (no chance to cancel) at a random
//! moment: while it creates the stack, sets config, or while `pulumi up` creates,
//! updates or deletes files. Each time: no process of the run survives (the CLI gets
//! SIGINT from the kernel when its driver dies, cancels, and stops its plugins; a
//! plugin that escapes it is killed by `cli::reap_orphans` once the CLI is gone); any
//! lock or pending operation left is reported by `health()` and repaired by an explicit
//! `recover()`; then `up` converges, a refresh finds the state matching the files on
//! disk, and the state holds each resource exactly once.
//!
//! `PULUMI_AUTO_KILL_SEED=<n>` replays a run's kill moments (the seed is printed).

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{PASSPHRASE, TestEnv};
use pulumi_auto::ops::{RefreshOptions, UpOptions};
use pulumi_auto::recovery::{PendingCreates, RecoverOptions};

const TRIALS: usize = 20;

/// xorshift64*: enough randomness for kill moments, reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_driver_at_random_moments_never_breaks_the_stack() {
    let env = TestEnv::new("slow").await;
    let marker = common::unique_marker();
    let ws = env
        .workspace_with(|b| b.env("PULUMI_AUTO_TEST_MARKER", marker.clone()))
        .await;
    let stack = ws.create_stack("dev").await.unwrap();
    let backend = format!("file://{}", env.state.display());

    let seed = std::env::var("PULUMI_AUTO_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    eprintln!("kill trial seed: {seed}");
    let mut rng = Rng(seed);

    let mut killed_during_up = 0;
    let mut killed_before_up = 0;
    let mut finished_first = 0;
    let mut recovered = 0;
    let mut orphans_reaped = 0;
    let mut slowest_exit = Duration::ZERO;

    for trial in 0..TRIALS {
        // Vary the target so killed updates create, update and delete.
        let count = [3, 1, 4, 2][trial % 4];
        let delay = ["1", "2", "3"][trial % 3];
        let config = [
            ("dir", env.files.display().to_string()),
            ("count", count.to_string()),
            ("delay", delay.to_owned()),
        ];
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pulumi-auto"));
        cmd.arg("up").arg("--work-dir").arg(&env.program).args([
            "--stack",
            "dev",
            "--backend",
            &backend,
        ]);
        for (k, v) in &config {
            cmd.arg("--config").arg(format!("{k}={v}"));
        }
        cmd.env("PULUMI_HOME", &env.home)
            .env("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
            .env("PULUMI_AUTO_TEST_MARKER", &marker)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap();
        // An up here takes about 2.5 s plus the delay; stack init and config come first.
        let kill_after = Duration::from_millis(rng.between(50, 4000));
        let finished = tokio::time::timeout(kill_after, child.wait()).await;
        let moment = match finished {
            Ok(status) => {
                finished_first += 1;
                format!("finished before the kill ({:?})", status.unwrap().code())
            }
            Err(_) => {
                let running = common::processes_with_marker(&marker);
                let in_up = running.iter().any(|(_, c)| c.contains(" up "));
                child.start_kill().unwrap(); // SIGKILL
                child.wait().await.unwrap();
                if in_up {
                    killed_during_up += 1;
                    "killed during `pulumi up`".to_owned()
                } else {
                    killed_before_up += 1;
                    "killed before `pulumi up` started".to_owned()
                }
            }
        };

        // The CLI cancels on its driver's death (parent-death SIGINT) and stops its
        // plugins; what escapes it is killed by the crate's reaper once the CLI is gone.
        let t = Instant::now();
        let mut left = Vec::new();
        while t.elapsed() < Duration::from_secs(120) {
            let l = pulumi_auto::cli::reap_orphans(false);
            orphans_reaped += l.reaped.len();
            left = common::processes_with_marker(&marker);
            if l.still_stopping.is_empty() && left.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            left.is_empty(),
            "trial {trial} (seed {seed}), {moment}: processes survived: {left:?}"
        );
        slowest_exit = slowest_exit.max(t.elapsed());

        // Whatever was left is reported, and repaired only when asked.
        let health = stack.health().await.unwrap();
        if !health.is_clean() {
            recovered += 1;
            eprintln!(
                "trial {trial}: {moment}; recovering from {} lock(s) and {} pending operation(s)",
                health.locks.len(),
                health.pending_operations.len()
            );
            stack
                .recover(
                    RecoverOptions::default()
                        .clear_locks(true)
                        .pending_creates(PendingCreates::Clear),
                )
                .await
                .unwrap();
            assert!(stack.health().await.unwrap().is_clean());
        }

        // The stack is usable and converges to this trial's target.
        stack.set_all_config(config.clone()).await.unwrap();
        let up = stack.up(UpOptions::default()).await.unwrap_or_else(|e| {
            panic!("trial {trial} (seed {seed}), {moment}: up after the kill failed: {e}")
        });
        assert_eq!(up.summary.result, "succeeded");
        let expected: Vec<String> = (0..count).map(|i| format!("slow-{i}.txt")).collect();
        let mut on_disk = env.file_names();
        on_disk.retain(|n| n.ends_with(".txt"));
        assert_eq!(on_disk, expected, "trial {trial} (seed {seed}), {moment}");

        // A refresh finds the state matching the disk: nothing lost, nothing extra.
        let refreshed = stack.refresh(RefreshOptions::default()).await.unwrap();
        let changed: u64 = refreshed
            .summary
            .resource_changes
            .iter()
            .filter(|(op, _)| op.as_str() != "same")
            .map(|(_, n)| *n)
            .sum();
        assert_eq!(
            changed, 0,
            "trial {trial} (seed {seed}), {moment}: {:?}",
            refreshed.summary
        );
        // Each resource exactly once.
        let state = stack.export_stack().await.unwrap();
        let files: Vec<&str> = state
            .resources()
            .iter()
            .filter(|r| r.type_ == "pulumi-python:dynamic:Resource")
            .map(|r| r.urn.as_str())
            .collect();
        let unique: BTreeSet<&str> = files.iter().copied().collect();
        assert_eq!(files.len(), count, "trial {trial}: {files:?}");
        assert_eq!(unique.len(), count, "trial {trial}: duplicated: {files:?}");
        assert!(state.pending_operations().is_empty());
        eprintln!("trial {trial}: {moment} after {kill_after:?}; converged to {count} files");
    }
    eprintln!(
        "kill trial (seed {seed}): {TRIALS} runs; killed during `pulumi up` {killed_during_up}, \
         before it {killed_before_up}, finished first {finished_first}; recovery needed \
         {recovered}; orphans reaped {orphans_reaped}; slowest wait for the run's processes \
         to go {slowest_exit:?}"
    );
    assert!(
        killed_during_up >= TRIALS / 4,
        "too few kills landed during an update to mean anything ({killed_during_up})"
    );
}
