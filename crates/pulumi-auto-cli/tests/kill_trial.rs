//! The driver killed outright, at random moments of an `up`, twenty times.
//!
//! The driving process is the `pulumi-auto` tool (a real user's orchestrator), running
//! `up` of the `slow` program; the test SIGKILLs it (no chance to cancel) at a random
//! moment: while it sets config, or while `pulumi up` starts, creates, updates or deletes
//! files. Each time: no process of the run survives (the CLI gets one SIGINT from its
//! watcher when its driver dies: inside the engine it cancels gracefully, anywhere else it
//! ignores the signal and completes its command; a plugin that escapes it is killed by
//! `cli::reap_orphans` once the CLI is gone); the stack is left with no lock and no
//! pending operation (`health()` is clean, no `recover()` is called); then `up`
//! converges, a refresh finds the state matching the files on disk, and the state holds
//! each resource exactly once.
//!
//! `PULUMI_AUTO_KILL_SEED=<n>` replays a run's kill moments (the seed is printed).

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{PASSPHRASE, TestEnv};
use pulumi_auto::model::UpdateResult;
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

/// The pid of the run's `pulumi up`, if it runs.
fn cli_of_up(marker: &str) -> Option<i32> {
    common::processes_with_marker(marker)
        .into_iter()
        .find(|(_, c)| c.contains("--non-interactive up "))
        .map(|(pid, _)| pid)
}

/// Whether `pid` catches SIGINT: pulumi does only inside the engine's cancellation scope
/// (it starts with SIGINT ignored).
fn in_engine(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        })
        .is_some_and(|mask| mask & (1 << (libc_sigint() - 1)) != 0)
}

fn libc_sigint() -> u32 {
    nix::sys::signal::Signal::SIGINT as u32
}

/// Polls `cond` until it holds (then the moment it did), or the child exits or two
/// minutes pass (`None`).
async fn wait_for(child: &mut tokio::process::Child, cond: impl Fn() -> bool) -> Option<Instant> {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(120) {
        if cond() {
            return Some(Instant::now());
        }
        if child.try_wait().ok().flatten().is_some() {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
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

    let mut killed_in_engine = 0;
    let mut killed_in_up_outside_engine = 0;
    let mut killed_before_up = 0;
    let mut finished_first = 0;
    let mut locks_left = 0;
    let mut pending_left = 0;
    let mut unclean = Vec::new();
    let mut cancelled_gracefully = 0;
    let mut completed_unattended = 0;
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
        let last_before = stack.history(1, 1).await.unwrap();
        let mut child = cmd.spawn().unwrap();
        // Kills are timed from what the run does, whatever the machine's load makes of
        // its steps: three trials in five from the moment the engine starts (the CLI
        // then listens for SIGINT), at any moment of the creates (their delay) and of the
        // update's end; one in five from the start of `pulumi up` (loading the program's
        // plugins, taking the lock); one in five from the start of the tool (config,
        // stack selection).
        let started = Instant::now();
        let from = match trial % 5 {
            4 => Some(started),
            3 => wait_for(&mut child, || cli_of_up(&marker).is_some()).await,
            _ => wait_for(&mut child, || cli_of_up(&marker).is_some_and(in_engine)).await,
        };
        let span = match trial % 5 {
            4 => 1500,
            3 => 3000,
            _ => 1500 + 1000 * delay.parse::<u64>().unwrap(),
        };
        let kill_at =
            from.unwrap_or_else(Instant::now) + Duration::from_millis(rng.between(0, span));
        let kill_after = kill_at.duration_since(started);
        let finished = tokio::time::timeout(
            kill_at.saturating_duration_since(Instant::now()),
            child.wait(),
        )
        .await;
        let killed = finished.is_err();
        let mut cli_output: [Option<std::fs::File>; 2] = Default::default();
        let moment = match finished {
            Ok(status) => {
                finished_first += 1;
                format!("finished before the kill ({:?})", status.unwrap().code())
            }
            Err(_) => {
                let cli = cli_of_up(&marker);
                let engine = cli.is_some_and(in_engine);
                // Held open, the CLI's output (anonymous files) can be read once it has
                // exited: shown if the trial fails.
                cli_output = cli
                    .map(|pid| {
                        [1, 2].map(|fd| std::fs::File::open(format!("/proc/{pid}/fd/{fd}")).ok())
                    })
                    .unwrap_or_default();
                child.start_kill().unwrap(); // SIGKILL
                child.wait().await.unwrap();
                match (cli, engine) {
                    (Some(_), true) => {
                        killed_in_engine += 1;
                        "killed while the engine of `pulumi up` ran".to_owned()
                    }
                    (Some(_), false) => {
                        killed_in_up_outside_engine += 1;
                        "killed while `pulumi up` ran, outside its engine".to_owned()
                    }
                    (None, _) => {
                        killed_before_up += 1;
                        "killed before `pulumi up` started".to_owned()
                    }
                }
            }
        };

        // The CLI cancels on its driver's death (its watcher's SIGINT) inside the engine,
        // or completes its command, and stops its plugins; what escapes it is killed by
        // the crate's reaper once the CLI is gone.
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

        // Nothing is left to repair: no lock, no pending operation.
        let health = stack.health().await.unwrap();
        locks_left += health.locks.len();
        pending_left += health.pending_operations.len();
        if !health.is_clean() {
            eprintln!(
                "trial {trial}: {moment} after {kill_after:?}: left {} lock(s) and {} pending operation(s)",
                health.locks.len(),
                health.pending_operations.len()
            );
            for f in cli_output.iter_mut().flatten() {
                let mut text = String::new();
                let _ = std::io::Read::read_to_string(f, &mut text);
                eprintln!("--- the killed run's `pulumi up` wrote:\n{text}");
            }
            unclean.push(trial);
            // Repaired only so that the trial goes on and reports every figure; it fails
            // at the end.
            stack
                .recover(
                    RecoverOptions::default()
                        .clear_locks(true)
                        .pending_creates(PendingCreates::Clear),
                )
                .await
                .unwrap();
        }
        // How the killed run's update (if it had begun one) ended.
        let last = stack.history(1, 1).await.unwrap();
        if killed && !last.is_empty() && last != last_before {
            match last[0].result {
                Some(UpdateResult::Succeeded) => completed_unattended += 1,
                _ => cancelled_gracefully += 1,
            }
        }

        // The stack is usable and converges to this trial's target.
        stack.set_all_config(config.clone()).await.unwrap();
        // No recover() after a clean kill: the stack is usable as the killed run left it.
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
        "kill trial (seed {seed}): {TRIALS} runs; killed while the engine of `pulumi up` ran \
         {killed_in_engine}, while `pulumi up` ran outside its engine \
         {killed_in_up_outside_engine}, before `pulumi up` {killed_before_up}, finished first \
         {finished_first}; of the killed runs' \
         updates, cancelled gracefully {cancelled_gracefully}, completed after the driver died \
         {completed_unattended}; locks left {locks_left}, pending operations left \
         {pending_left}; orphans reaped {orphans_reaped}; slowest wait for the run's \
         processes to go {slowest_exit:?}"
    );
    assert!(
        unclean.is_empty(),
        "seed {seed}: trials {unclean:?} left {locks_left} lock(s) and {pending_left} pending operation(s)"
    );
    assert!(
        killed_in_engine >= TRIALS / 4 && cancelled_gracefully > 0,
        "too few kills landed while the engine ran to mean anything ({killed_in_engine}, \
         {cancelled_gracefully} cancelled)"
    );
}
