//! Ephemeral stacks against the real CLI: the guard's lifecycle, teardown on panic, many
//! guards at once, and the janitor.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{CountingCli, PASSPHRASE, TestEnv, pulumi};
use pulumi_auto::ephemeral::{
    EPHEMERAL_TAG, EphemeralStack, EphemeralTag, LedgerEntry, SkipReason, SweepOptions,
    TeardownOutcome, sweep, sweep_ledger,
};
use pulumi_auto::ops::UpOptions;
use pulumi_auto::{Error, Secret};

fn ledger_files(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn dir_is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|mut rd| rd.next().is_none())
        .unwrap_or(true)
}

fn stack_config_files(program: &Path) -> Vec<String> {
    std::fs::read_dir(program)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("Pulumi.") && n != "Pulumi.yaml")
        .collect()
}

#[tokio::test]
async fn an_isolated_ephemeral_stack_lives_and_is_torn_down() {
    let env = TestEnv::new("files").await;
    let ledger = env.root.path().join("ledger");
    let secret = "ephemeral-secret-4e1d";
    let eph = EphemeralStack::builder(&env.program)
        .prefix("life")
        .config("dir", env.files.display().to_string())
        .secret_config("token", Secret::new(secret))
        .run_id("run-42")
        .ledger_dir(&ledger)
        .pulumi_command(pulumi().await)
        .create()
        .await
        .unwrap();

    let name = eph.name().to_owned();
    assert!(name.starts_with("life-"), "{name}");
    let entry = eph.entry().clone();
    assert!(entry.isolated);
    assert!(
        entry.temp_dir.join("state").is_dir(),
        "its own file backend"
    );
    assert!(entry.temp_dir.join("home").is_dir(), "its own PULUMI_HOME");
    assert!(
        entry
            .backend_url
            .contains(&*entry.temp_dir.to_string_lossy())
    );
    // The ledger records it before anything else, and holds no secret.
    let files = ledger_files(&ledger);
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(!text.contains(secret));
    // Tagged with who, where, when and which run.
    let tags = eph.list_tags().await.unwrap();
    let tag = EphemeralTag::parse(&tags[EPHEMERAL_TAG]).unwrap();
    assert_eq!(tag.run_id, "run-42");
    assert_eq!(tag.pid, std::process::id());
    assert!(tag.age(std::time::SystemTime::now()) < Duration::from_secs(300));
    // The secret config is a secret.
    let token = eph.get_config("token").await.unwrap();
    assert!(token.secret);

    let up = eph.up(UpOptions::default()).await.unwrap();
    assert_eq!(up.outputs["token"].value, serde_json::json!(secret));
    assert!(up.outputs["token"].secret);
    assert!(!dir_is_empty(&env.files), "the program wrote its files");

    let outcome = eph.teardown().await.unwrap();
    assert_eq!(
        outcome,
        TeardownOutcome::Removed {
            stack: name.clone()
        }
    );
    assert!(dir_is_empty(&env.files), "destroy deleted the files");
    assert!(!entry.temp_dir.exists(), "the temporary directory is gone");
    assert!(ledger_files(&ledger).is_empty(), "the ledger entry is gone");
    assert!(stack_config_files(&env.program).is_empty());
}

#[tokio::test]
async fn a_panicking_test_leaves_no_stack_and_no_files() {
    let env = TestEnv::new("files").await;
    let ledger = env.root.path().join("ledger");
    let backend = format!("file://{}", env.state.display());
    let (tx, rx) = std::sync::mpsc::channel::<LedgerEntry>();
    let program = env.program.clone();
    let files = env.files.clone();
    let ledger2 = ledger.clone();
    let pulumi = pulumi().await;
    let task = tokio::spawn(async move {
        let eph = EphemeralStack::builder(&program)
            .prefix("panics")
            .backend_url(backend)
            .passphrase(Secret::new(PASSPHRASE))
            .config("dir", files.display().to_string())
            .ledger_dir(&ledger2)
            .pulumi_command(pulumi)
            .create()
            .await
            .unwrap();
        eph.up(UpOptions::default()).await.unwrap();
        tx.send(eph.entry().clone()).unwrap();
        assert!(!dir_is_empty(&files));
        panic!("the test fails half way");
    });
    let err = task.await.unwrap_err();
    assert!(err.is_panic());
    let entry = rx.recv().unwrap();

    assert!(
        dir_is_empty(&env.files),
        "files left: {:?}",
        env.file_names()
    );
    let stacks = env.ws.list_stacks().await.unwrap();
    assert!(stacks.is_empty(), "stacks left: {stacks:?}");
    assert!(!entry.temp_dir.exists());
    assert!(ledger_files(&ledger).is_empty());
    assert!(stack_config_files(&env.program).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_ephemeral_stacks_at_once() {
    let env = TestEnv::new("files").await;
    let ledger = env.root.path().join("ledger");
    let backend = format!("file://{}", env.state.display());
    let pulumi = pulumi().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let dir = env.files.join(format!("s{i}"));
        let builder = EphemeralStack::builder(&env.program)
            .prefix("par")
            .backend_url(&backend)
            .passphrase(Secret::new(PASSPHRASE))
            .config("dir", dir.display().to_string())
            .config("greeting", format!("hello {i}"))
            .ledger_dir(&ledger)
            .pulumi_command(pulumi.clone());
        tasks.push(tokio::spawn(async move {
            let eph = builder.create().await.unwrap();
            let up = eph.up(UpOptions::default()).await.unwrap();
            (eph, up, dir)
        }));
    }
    let mut guards = Vec::new();
    for t in tasks {
        guards.push(t.await.unwrap());
    }
    let mut names: Vec<String> = guards.iter().map(|(e, _, _)| e.name().to_owned()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 8, "unique names");
    let listed = env.ws.list_stacks().await.unwrap();
    assert_eq!(listed.len(), 8, "{listed:?}");
    for (i, (_, up, dir)) in guards.iter().enumerate() {
        assert_eq!(
            up.outputs["dir"].value,
            serde_json::json!(dir.display().to_string())
        );
        let greeting = std::fs::read_to_string(dir.join("greeting.txt")).unwrap();
        assert_eq!(greeting, format!("hello {i}"));
    }
    assert_eq!(ledger_files(&ledger).len(), 8);

    let mut teardowns = Vec::new();
    for (eph, _, _) in guards {
        teardowns.push(tokio::spawn(eph.teardown()));
    }
    for t in teardowns {
        assert!(matches!(
            t.await.unwrap().unwrap(),
            TeardownOutcome::Removed { .. }
        ));
    }
    assert!(env.ws.list_stacks().await.unwrap().is_empty());
    for i in 0..8 {
        assert!(dir_is_empty(&env.files.join(format!("s{i}"))));
    }
    assert!(ledger_files(&ledger).is_empty());
}

#[tokio::test]
async fn the_janitor_removes_a_leaked_stack_by_tag_and_age() {
    let env = TestEnv::new("files").await;
    let ledger = env.root.path().join("ledger");
    let eph = EphemeralStack::builder(&env.program)
        .prefix("leak")
        .backend_url(format!("file://{}", env.state.display()))
        .passphrase(Secret::new(PASSPHRASE))
        .config("dir", env.files.display().to_string())
        .ledger_dir(&ledger)
        .pulumi_command(pulumi().await)
        .create()
        .await
        .unwrap();
    // A plain stack beside it, which the janitor must never touch.
    let plain = env.ws.create_stack("keepme").await.unwrap();
    plain
        .set_config("dir", env.files.join("plain").display().to_string())
        .await
        .unwrap();
    plain.up(UpOptions::default()).await.unwrap();
    eph.up(UpOptions::default()).await.unwrap();
    let name = eph.name().to_owned();

    // A live guard is never swept, whatever its age.
    let live = sweep(&env.ws, &SweepOptions::default().min_age(Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(live.skipped, vec![(name.clone(), SkipReason::LiveHere)]);
    assert!(live.removed.is_empty());

    // Leak it, as a process that dies without teardown does.
    let entry = eph.keep();
    assert!(entry.temp_dir.exists());
    assert!(std::fs::read_dir(&env.files).unwrap().count() > 1);

    let young = sweep(&env.ws, &SweepOptions::default()).await.unwrap();
    assert_eq!(young.skipped, vec![(name.clone(), SkipReason::TooYoung)]);
    let dry = sweep(
        &env.ws,
        &SweepOptions::default()
            .min_age(Duration::ZERO)
            .dry_run(true),
    )
    .await
    .unwrap();
    assert_eq!(dry.skipped, vec![(name.clone(), SkipReason::DryRun)]);
    assert_eq!(env.ws.list_stacks().await.unwrap().len(), 2);

    let report = sweep(&env.ws, &SweepOptions::default().min_age(Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(report.removed, vec![name.clone()], "{report:?}");
    assert!(report.failed.is_empty());
    let left: Vec<String> = env
        .ws
        .list_stacks()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(left, vec!["keepme".to_owned()]);
    // Its files are gone; the plain stack's are not.
    let names = env.file_names();
    assert_eq!(names, vec!["plain".to_owned()], "{names:?}");

    // The ledger still lists it; the ledger janitor finds the stack already gone and
    // removes its temporary directory and entry.
    let report = sweep_ledger(
        Some(&ledger),
        Some(pulumi().await),
        &SweepOptions::default().min_age(Duration::ZERO),
    )
    .await
    .unwrap();
    assert_eq!(report.removed, vec![name]);
    assert!(!entry.temp_dir.exists());
    assert!(ledger_files(&ledger).is_empty());
}

#[tokio::test]
async fn the_ledger_janitor_removes_a_leaked_isolated_stack() {
    let env = TestEnv::new("files").await;
    let ledger = env.root.path().join("ledger");
    let eph = EphemeralStack::builder(&env.program)
        .prefix("leak-iso")
        .config("dir", env.files.display().to_string())
        .ledger_dir(&ledger)
        .pulumi_command(pulumi().await)
        .create()
        .await
        .unwrap();
    eph.up(UpOptions::default()).await.unwrap();
    let name = eph.name().to_owned();
    let entry = eph.keep();
    assert!(!dir_is_empty(&env.files));

    let report = sweep_ledger(
        Some(&ledger),
        Some(pulumi().await),
        &SweepOptions::default().min_age(Duration::ZERO),
    )
    .await
    .unwrap();
    assert_eq!(report.removed, vec![name], "{report:?}");
    assert!(
        dir_is_empty(&env.files),
        "the leaked stack's resources were destroyed"
    );
    assert!(!entry.temp_dir.exists());
    assert!(ledger_files(&ledger).is_empty());
    assert!(stack_config_files(&env.program).is_empty());
}

#[tokio::test]
async fn bad_input_is_refused_before_any_process() {
    let env = TestEnv::new("files").await;
    let counting = CountingCli::new(env.root.path()).await;
    let ledger = env.root.path().join("ledger");
    let cli = counting.command().await; // reads `pulumi version` once
    counting.reset();
    for prefix in ["", "has space", "a/b", &"x".repeat(61)] {
        let err = EphemeralStack::builder(&env.program)
            .prefix(prefix)
            .ledger_dir(&ledger)
            .pulumi_command(cli.clone())
            .create()
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { .. }),
            "{prefix:?}: {err}"
        );
    }
    let err = EphemeralStack::builder(&env.program)
        .config("a:b:c", "v")
        .ledger_dir(&ledger)
        .pulumi_command(cli.clone())
        .create()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert!(counting.lines().is_empty(), "{:?}", counting.lines());
    assert!(ledger_files(&ledger).is_empty());
}
