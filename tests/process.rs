//! How the CLI is started, against the real CLI: only the driver process's death
//! signals it, not the exit of the thread that happened to spawn it; the passphrase
//! reaches no process's environment; bad bytes are refused before anything is spawned.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{CountingCli, PASSPHRASE, TestEnv};
use pulumi_auto::cli::Invocation;
use pulumi_auto::ops::UpOptions;
use pulumi_auto::{Error, LocalWorkspace, Secret};

/// A blocking thread of the runtime polls the start of an `up` (so the CLI is forked from
/// that thread), then the `up` goes on elsewhere and the thread retires (idle timeout).
/// Linux sends a parent-death signal when the *thread* that forked a child exits: the CLI
/// must not take that for its driver's death and cancel.
#[test]
fn a_retiring_runtime_thread_does_not_cancel_the_cli_it_spawned() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_keep_alive(Duration::from_millis(300))
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let env = TestEnv::new("slow").await;
        let (_marker, stack) = common::marked_slow_stack(&env, "6", "1").await;
        let engine_started = Arc::new(AtomicBool::new(false));
        let opts = UpOptions::default().on_event({
            let started = engine_started.clone();
            move |_| started.store(true, Ordering::SeqCst)
        });
        let op = Box::pin(async move { stack.up(opts).await });
        let (op, tid) = tokio::task::spawn_blocking(move || {
            let mut op = op;
            tokio::runtime::Handle::current().block_on(async {
                let t = Instant::now();
                // Until the engine runs (its first event): the CLI is in its
                // cancellation scope, where a SIGINT would cancel it.
                while !engine_started.load(Ordering::SeqCst) {
                    assert!(t.elapsed() < Duration::from_secs(60), "no engine event");
                    tokio::select! {
                        r = &mut op => panic!("the up ended before the engine ran: {r:?}"),
                        _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                    }
                }
            });
            (op, nix::unistd::gettid().as_raw())
        })
        .await
        .unwrap();
        let t = Instant::now();
        let up = op.await;
        let took = t.elapsed();
        // The thread that spawned the CLI did retire while the update ran.
        assert!(
            !std::path::Path::new(&format!("/proc/self/task/{tid}")).exists(),
            "the blocking thread {tid} is still there: the test proves nothing"
        );
        let up = up.unwrap_or_else(|e| panic!("the up was stopped after {took:?}: {e}"));
        assert_eq!(up.summary.result, "succeeded", "{:?}", up.summary);
        assert_eq!(env.file_names(), ["slow-0.txt"]);
    });
}

/// The environment of a process, `KEY=value` entries.
fn environ(pid: i32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|kv| !kv.is_empty())
            .map(|kv| String::from_utf8_lossy(kv).into_owned())
            .collect(),
    )
}

fn assert_no_passphrase(whose: &str, entries: &[String]) {
    for kv in entries {
        assert!(
            !kv.contains(PASSPHRASE),
            "{whose}: the passphrase is in its environment ({})",
            kv.split('=').next().unwrap_or_default()
        );
        assert!(
            !kv.starts_with("PULUMI_CONFIG_PASSPHRASE="),
            "{whose}: PULUMI_CONFIG_PASSPHRASE is set"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_passphrase_is_in_no_environment_and_secrets_still_work() {
    let env = TestEnv::new("environ").await;
    let marker = common::unique_marker();
    let ws = env
        .workspace_with(|b| b.env("PULUMI_AUTO_TEST_MARKER", marker.clone()))
        .await;
    let stack = ws.create_stack("dev").await.unwrap();
    stack
        .set_all_config([
            ("dir", env.files.display().to_string()),
            ("hold", "3".to_owned()),
        ])
        .await
        .unwrap();
    stack
        .set_config("token", Secret::new("the-token-value"))
        .await
        .unwrap();

    // While the update runs, the environment of every process of it: the CLI, the
    // language host, the program, the dynamic-provider host.
    let op = tokio::spawn({
        let stack = stack.clone();
        async move { stack.up(UpOptions::default()).await }
    });
    let mut seen: BTreeMap<i32, (String, Vec<String>)> = BTreeMap::new();
    while !op.is_finished() {
        for (pid, cmd) in common::processes_with_marker(&marker) {
            if let Some(e) = environ(pid) {
                seen.entry(pid).or_insert((cmd, e));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let up = op.await.unwrap().unwrap();
    let commands: Vec<&str> = seen.values().map(|(c, _)| c.as_str()).collect();
    for part in [" up ", "pulumi-language-python", "pulumi.dynamic"] {
        assert!(
            commands.iter().any(|c| c.contains(part)),
            "no process {part:?} was seen: {commands:?}"
        );
    }
    for (cmd, entries) in seen.values() {
        assert_no_passphrase(cmd, entries);
    }
    // The program's and the provider's own view of their environment.
    for file in ["env-program.json", "env-provider.json"] {
        let text = env
            .read_file(file)
            .unwrap_or_else(|| panic!("{file} missing"));
        let vars: BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
        let entries: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_no_passphrase(file, &entries);
        assert_eq!(vars.get("PULUMI_AUTO_TEST_MARKER"), Some(&marker), "{file}");
    }
    // The secret was encrypted with the passphrase and decrypts with it.
    assert_eq!(
        up.outputs["token"].value,
        serde_json::json!("the-token-value")
    );
    assert!(up.outputs["token"].secret);
    let token = stack.get_config("token").await.unwrap();
    assert!(token.secret);
    assert_eq!(token.value.as_deref(), Some("the-token-value"));
    let settings = std::fs::read_to_string(env.program.join("Pulumi.dev.yaml")).unwrap();
    assert!(settings.contains("secure:"), "{settings}");
    assert!(!settings.contains("the-token-value"));
}

#[tokio::test]
async fn nul_bytes_are_invalid_input_and_nothing_is_spawned() {
    let env = TestEnv::new("files").await;
    let counting = CountingCli::new(env.root.path()).await;
    let pulumi = counting.command().await;
    let ws = env.workspace_with(|b| b.pulumi_command(pulumi)).await;
    let stack = ws.create_stack("dev").await.unwrap();
    counting.reset();

    let named = |e: Error| match e {
        Error::InvalidInput { what, reason } => {
            assert!(reason.contains("NUL"), "{reason}");
            what
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    };
    let err = stack
        .up(UpOptions::default().message("deploy\0now"))
        .await
        .unwrap_err();
    assert_eq!(named(err), "`--message`");
    let err = stack
        .up(UpOptions::default().user_agent("agent\0/1"))
        .await
        .unwrap_err();
    assert_eq!(named(err), "`--exec-agent`");
    let err = stack
        .up(UpOptions::default().extra_arg("--parallel=1\0"))
        .await
        .unwrap_err();
    named(err);
    let err = stack
        .set_config("token", Secret::new("s3\0cr3t"))
        .await
        .unwrap_err();
    let what = named(err);
    assert!(!what.contains("s3"), "{what}");
    // An environment value the workspace is given is refused when it is built; one given
    // to a raw invocation, when it is run; and so is a working directory with a NUL.
    let err = LocalWorkspace::builder(&env.program)
        .env("SOME_TOKEN", "to\0ken")
        .pulumi_command(ws.pulumi().clone())
        .build()
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("to\0ken"), "{err}");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    let err = ws
        .pulumi()
        .run(Invocation::new(["whoami"]).env("SOME_TOKEN", "to\0ken"))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert_eq!(named(err), "environment variable SOME_TOKEN");
    assert!(!message.contains("to\0ken"), "{message}");
    let err = ws
        .pulumi()
        .run(Invocation::new(["whoami"]).cwd("/tmp/a\0b"))
        .await
        .unwrap_err();
    assert_eq!(named(err), "working directory");
    assert_eq!(
        counting.lines(),
        Vec::<String>::new(),
        "a process was spawned"
    );
    // The stack is untouched and usable.
    stack
        .set_config("token", Secret::new("s3cr3t"))
        .await
        .unwrap();
    assert_eq!(counting.lines().len(), 1, "{:?}", counting.lines());
}
