//! The bottom layer against the real CLI (and a fake one only for faults the real one
//! cannot be made to produce), and the main job end to end.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use common::{CountingCli, TestEnv};
use pulumi_auto::cli::{Invocation, PulumiCommand, pinned_version};
use pulumi_auto::ops::UpOptions;
use pulumi_auto::{Error, Secret};

fn fake_cli(dir: &Path, body: &str) -> std::path::PathBuf {
    let p = dir.join("pulumi");
    common::write_executable(&p, &format!("#!/bin/sh\n{body}\n"));
    p
}

#[tokio::test]
async fn the_installed_cli_is_the_pin() {
    let pulumi = common::pulumi().await;
    assert_eq!(
        pulumi.version().map(ToString::to_string).as_deref(),
        Some(pinned_version())
    );
    let out = pulumi.run(Invocation::new(["version"])).await.unwrap();
    assert_eq!(out.stdout.trim(), format!("v{}", pinned_version()));
}

#[tokio::test]
async fn version_is_read_once_per_binary() {
    let dir = tempfile::tempdir().unwrap();
    let counting = CountingCli::new(dir.path()).await;
    let (a, b) = tokio::join!(
        PulumiCommand::at(&counting.path),
        PulumiCommand::at(&counting.path)
    );
    a.unwrap();
    b.unwrap();
    PulumiCommand::at(&counting.path).await.unwrap();
    let lines = counting.lines();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("version")).count(),
        1,
        "{lines:?}"
    );
}

#[tokio::test]
async fn missing_old_and_unparsable_clis_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = PulumiCommand::at(dir.path().join("nope"))
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::CliNotFound { .. }), "{missing:?}");
    assert!(missing.to_string().contains("nope"));

    let old_dir = dir.path().join("old");
    std::fs::create_dir(&old_dir).unwrap();
    let old = PulumiCommand::at(fake_cli(&old_dir, "echo v3.100.0"))
        .await
        .unwrap_err();
    match &old {
        Error::CliVersionUnsupported { found, minimum, .. } => {
            assert_eq!(found.to_string(), "3.100.0");
            assert!(minimum > found);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        old.to_string()
            .contains("PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK")
    );

    let garbage_dir = dir.path().join("garbage");
    std::fs::create_dir(&garbage_dir).unwrap();
    let garbage_cli = fake_cli(&garbage_dir, "echo 'not a version'");
    let garbage = PulumiCommand::at(&garbage_cli).await;
    assert!(
        matches!(garbage, Err(Error::CliVersionUnparsable { .. })),
        "{garbage:?}"
    );
    // Unchecked: no `pulumi version` run, so nothing to refuse; a missing binary still is.
    let unchecked = PulumiCommand::at_unchecked(&garbage_cli).unwrap();
    assert!(unchecked.version().is_none());
    assert!(matches!(
        PulumiCommand::at_unchecked(dir.path().join("nowhere/pulumi")),
        Err(Error::CliNotFound { .. })
    ));

    let noexec_dir = dir.path().join("noexec");
    std::fs::create_dir(&noexec_dir).unwrap();
    let p = noexec_dir.join("pulumi");
    std::fs::write(&p, "#!/bin/sh\necho v3.259.0\n").unwrap();
    assert!(matches!(
        PulumiCommand::at(&p).await,
        Err(Error::CliNotFound { .. })
    ));
}

#[tokio::test]
async fn chatty_streams_do_not_deadlock_and_stay_bounded() {
    // A fault the real CLI cannot be made to produce on demand: 8 MiB on stdout and
    // 32 MiB on stderr at the same time.
    let dir = tempfile::tempdir().unwrap();
    let cli = fake_cli(
        dir.path(),
        r#"case " $* " in *" version "*) echo v3.259.0; exit 0;; esac
yes 'stderr line of some length to fill the pipe quickly' | head -n 640000 >&2 &
yes 'stdout' | head -c 8388608
wait
echo 'error: it went wrong' >&2
exit 3"#,
    );
    let pulumi = PulumiCommand::at(&cli).await.unwrap();
    let stderr_lines = Arc::new(Mutex::new(0usize));
    let counter = stderr_lines.clone();
    let err = pulumi
        .run(Invocation::new(["up"]).on_stderr(Arc::new(move |_l: &str| {
            *counter.lock().unwrap() += 1;
        })))
        .await
        .unwrap_err();
    let failure = err.command_failure().unwrap();
    assert_eq!(failure.exit_code, Some(3));
    assert!(
        failure.stderr.len() <= 8 * 1024 + 64,
        "{}",
        failure.stderr.len()
    );
    assert!(failure.stderr.ends_with("error: it went wrong\n"));
    assert_eq!(failure.headline(), "error: it went wrong");
    let n = *stderr_lines.lock().unwrap();
    assert!(n > 500_000, "{n} stderr lines");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_an_operation_cancels_it_and_leaves_no_process_and_no_lock() {
    let env = TestEnv::new("slow").await;
    let (marker, stack) = common::marked_slow_stack(&env, "4", "2").await;
    let op = tokio::spawn({
        let stack = stack.clone();
        async move { stack.up(UpOptions::default()).await }
    });
    // Wait until the program's dynamic providers are running (python processes).
    let seen = common::wait_for_provider(&marker).await;
    assert!(
        seen.iter().any(|(_, c)| c.contains("pulumi.dynamic")),
        "the provider never started: {seen:?}"
    );
    assert!(
        seen.len() >= 3,
        "cli, language host, program, provider: {seen:?}"
    );
    op.abort();
    let _ = op.await;
    // The dropped operation is cancelled as a cancel token would: SIGTERM, the engine
    // finishes the steps in flight, records them and exits.
    let left = common::wait_until_gone_within(&marker, std::time::Duration::from_secs(60)).await;
    assert!(left.is_empty(), "processes survived the drop: {left:?}");
    let health = stack.health().await.unwrap();
    assert!(
        health.is_clean(),
        "a graceful cancel leaves no lock and nothing pending: {health:?}"
    );
    // The stack is usable at once and converges.
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(up.summary.result, "succeeded", "{:?}", up.summary);
    assert_eq!(env.file_names(), ["slow-0.txt", "slow-1.txt"]);
}

#[tokio::test]
async fn an_operation_dropped_as_its_runtime_shuts_down_is_killed() {
    let env = TestEnv::new("slow").await;
    let (marker, stack) = common::marked_slow_stack(&env, "30", "1").await;
    // A runtime of its own that shuts down right after the operation is dropped: the
    // graceful stop's task never runs, and dropping it kills the session.
    let rt_marker = marker.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let op = stack.up(UpOptions::default());
            tokio::pin!(op);
            tokio::select! {
                _ = &mut op => panic!("the slow up finished early"),
                _ = common::wait_for_provider(&rt_marker) => {}
            }
        });
        // `op` was dropped at the end of block_on's future; now the runtime goes.
        drop(rt);
    })
    .join()
    .unwrap();
    let left = common::wait_until_gone(&marker).await;
    assert!(left.is_empty(), "processes survived: {left:?}");
}

#[tokio::test]
async fn the_main_job_runs_twice_and_changes_nothing_the_second_time() {
    // The tutorial example, built by `cargo test`, on a copy of the files program (it runs
    // `pulumi install` itself, so the copy keeps `virtualenv: venv`).
    let env = TestEnv::with_venv("files", None).await;
    let exe = std::env::current_exe().unwrap();
    let tutorial = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/tutorial");
    assert!(tutorial.exists(), "{} not built", tutorial.display());
    let run = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(&tutorial);
        cmd.arg("--work-dir")
            .arg(&env.program)
            .arg("--files-dir")
            .arg(&env.files)
            .args(extra)
            .env("PULUMI_HOME", &env.home)
            .env("PULUMI_CONFIG_PASSPHRASE", "main-job-test")
            .env("RUST_LOG", "info")
            .env_remove("PULUMI_BACKEND_URL");
        cmd.output().unwrap()
    };
    let first = run(&[]);
    let log = String::from_utf8_lossy(&first.stdout).to_string()
        + &String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{log}");
    assert!(log.contains("create 3"), "{log}");
    assert!(log.contains("output token = [secret]"), "{log}");
    assert!(
        !log.contains("demo-token-value"),
        "the secret was logged: {log}"
    );
    assert_eq!(
        env.read_file("greeting.txt").as_deref(),
        Some("hello from pulumi-auto")
    );
    assert!(
        env.program.join(".pulumi-state/.pulumi").exists(),
        "state is project-local"
    );

    let second = run(&[]);
    let log = String::from_utf8_lossy(&second.stdout).to_string()
        + &String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{log}");
    assert!(log.contains("no changes"), "{log}");

    let refused = run(&["--destroy=prod"]);
    assert!(!refused.status.success());
    assert_eq!(env.file_names().len(), 2, "a refused destroy touched files");
    let destroyed = run(&["--destroy=dev"]);
    let log = String::from_utf8_lossy(&destroyed.stderr).to_string()
        + &String::from_utf8_lossy(&destroyed.stdout);
    assert!(destroyed.status.success(), "{log}");
    assert!(env.file_names().is_empty());
    let _ = Secret::new("unused");
}
