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

/// The builder sits on a `LocalWorkspaceBuilder`: the workspace builder's environment and
/// CLI reach every `pulumi` process of the stack, while its backend, `PULUMI_HOME` and
/// passphrase give way to the ephemeral stack's own.
#[tokio::test]
async fn the_builder_takes_a_workspace_builder_and_keeps_its_own_backend() {
    let env = TestEnv::new("files").await;
    let ledger = env.root.path().join("ledger");
    let elsewhere = env.root.path().join("elsewhere");
    // A CLI that records, for each process, a variable only the workspace builder sets.
    let log = env.root.path().join("marks.log");
    let wrapper = env.root.path().join("pulumi-marking");
    common::write_executable(
        &wrapper,
        &format!(
            "#!/bin/sh\nprintf '%s|%s\\n' \"$PULUMI_AUTO_TEST_MARK\" \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            pulumi().await.path().display()
        ),
    );
    let ws = pulumi_auto::LocalWorkspace::builder(&env.program)
        .env("PULUMI_AUTO_TEST_MARK", "marked")
        .backend_url(format!("file://{}", elsewhere.display()))
        .pulumi_home(elsewhere.join("home"))
        .pulumi_command_path(&wrapper);
    let eph = EphemeralStack::builder_from(ws)
        .workspace(|b| b.env_remove("PULUMI_AUTO_TEST_UNSET"))
        .prefix("layered")
        .config("dir", env.files.display().to_string())
        .ledger_dir(&ledger)
        .create()
        .await
        .unwrap();
    let entry = eph.entry().clone();
    assert!(entry.isolated, "{entry:?}");
    assert_eq!(
        eph.workspace().backend_url(),
        Some(entry.backend_url.as_str())
    );
    assert!(
        entry
            .backend_url
            .contains(&*entry.temp_dir.to_string_lossy())
    );
    assert_eq!(entry.pulumi_home, entry.temp_dir.join("home"));
    assert!(
        !elsewhere.exists(),
        "the workspace builder's backend was not used"
    );
    let names = eph.workspace().env_var_names();
    assert!(
        names.iter().any(|n| n == "PULUMI_AUTO_TEST_UNSET"),
        "{names:?}"
    );
    eph.up(UpOptions::default()).await.unwrap();
    eph.teardown().await.unwrap();
    let marks = std::fs::read_to_string(&log).unwrap();
    // Every command of the stack (`stack init`, the tag, the config, `up`, the teardown's
    // destroy) ran with the workspace builder's environment; `pulumi version`, read when
    // the CLI is found, runs before there is a workspace.
    let commands: Vec<&str> = marks
        .lines()
        .filter(|l| !l.split_whitespace().any(|w| w == "version"))
        .collect();
    assert!(commands.len() >= 5, "{marks}");
    assert!(commands.iter().all(|l| l.starts_with("marked|")), "{marks}");
    assert!(ledger_files(&ledger).is_empty());
    assert!(dir_is_empty(&env.files));
}

on_both_backends! {
#[tokio::test]
async fn a_panicking_test_leaves_no_stack_and_no_files() {
    let env = TestEnv::new("files").await;
    let ledger = env.root.path().join("ledger");
    let backend = env.backend_url();
    let (tx, rx) = std::sync::mpsc::channel::<LedgerEntry>();
    let program = env.program.clone();
    let files = env.files.clone();
    let ledger2 = ledger.clone();
    let pulumi = pulumi().await;
    let task = tokio::spawn(async move {
        let eph = EphemeralStack::builder(&program)
            .prefix("panics")
            .backend_url(backend)
            .env("PULUMI_ACCESS_TOKEN", common::SERVER_TOKEN)
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
}

on_both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_ephemeral_stacks_at_once() {
    let env = TestEnv::new("files").await;
    let ledger = env.root.path().join("ledger");
    let backend = env.backend_url();
    let pulumi = pulumi().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let dir = env.files.join(format!("s{i}"));
        let builder = EphemeralStack::builder(&env.program)
            .prefix("par")
            .backend_url(&backend)
            .env("PULUMI_ACCESS_TOKEN", common::SERVER_TOKEN)
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

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// An old tag of a process on this host.
fn old_tag(pid: u32) -> EphemeralTag {
    EphemeralTag::parse(&format!(
        r#"{{"owner":"me","host":"{}","pid":{pid},"created":1000,"run_id":"r"}}"#,
        this_host()
    ))
    .unwrap()
}

/// Writes a ledger entry by hand, as a stale or planted one would be.
fn write_entry(ledger: &Path, entry: &LedgerEntry) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(ledger).unwrap();
    std::fs::set_permissions(ledger, std::fs::Permissions::from_mode(0o700)).unwrap();
    let file = ledger.join(format!("{}.json", entry.stack));
    std::fs::write(&file, serde_json::to_string(entry).unwrap()).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    file
}

/// A ledger entry that does not match the world is not acted on: one whose temporary
/// directory is not one the library made (no marker) deletes nothing, and one that names
/// a real stack without the entry's ephemeral tag destroys nothing.
#[tokio::test]
async fn a_planted_ledger_entry_deletes_and_destroys_nothing() {
    let env = TestEnv::new("files").await;
    let ledger = env.root.path().join("ledger");
    // A real stack with resources, not ephemeral.
    let prod = env.ws.create_stack("prod").await.unwrap();
    prod.set_config("dir", env.files.display().to_string())
        .await
        .unwrap();
    prod.up(UpOptions::default()).await.unwrap();
    let files_before = env.file_names();
    assert!(!files_before.is_empty());
    // A directory someone cares about.
    let victim = env.root.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("precious.txt"), "keep me").unwrap();

    let entry = |stack: &str, temp_dir: PathBuf| LedgerEntry {
        stack: stack.into(),
        program_dir: env.program.clone(),
        backend_url: format!("file://{}", env.state.display()),
        pulumi_home: env.home.clone(),
        temp_dir,
        marker: String::new(),
        isolated: false,
        passphrase_file: None,
        tag: old_tag(std::process::id()),
    };
    // 1. A stack that does not exist, and the victim as its "temporary directory".
    write_entry(&ledger, &entry("planted-gone", victim.clone()));
    // 2. The real stack, with a temporary directory that is gone.
    write_entry(&ledger, &entry("prod", env.root.path().join("no-such-dir")));

    let report = sweep_ledger(
        Some(&ledger),
        Some(pulumi().await),
        &SweepOptions::default().min_age(Duration::ZERO),
    )
    .await
    .unwrap();
    assert!(report.removed.is_empty(), "{report:?}");
    let failed: Vec<&str> = report.failed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(failed, ["planted-gone", "prod"], "{report:?}");
    assert!(report.failed[0].1.contains("no marker file"), "{report:?}");
    assert!(report.failed[1].1.contains("does not carry"), "{report:?}");
    assert!(
        victim.join("precious.txt").exists(),
        "the victim was deleted"
    );
    // prod is untouched: still there, same resources, same files.
    let stacks: Vec<String> = env
        .ws
        .list_stacks()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(stacks, ["prod"]);
    assert_eq!(env.file_names(), files_before);
    assert_eq!(prod.export_stack().await.unwrap().resources().len(), 4);
    // The entries stay, for a human to look at.
    assert_eq!(ledger_files(&ledger).len(), 2);
}

/// The ledger janitor skips a leaked stack that is tagged protected, as the backend
/// janitor does, and removes it once the protection is lifted.
#[tokio::test]
async fn the_ledger_janitor_honours_the_protection_tag() {
    let env = TestEnv::new("files").await;
    let ledger = env.root.path().join("ledger");
    let eph = EphemeralStack::builder(&env.program)
        .prefix("leak-protected")
        .config("dir", env.files.display().to_string())
        .ledger_dir(&ledger)
        .pulumi_command(pulumi().await)
        .create()
        .await
        .unwrap();
    eph.up(UpOptions::default()).await.unwrap();
    eph.set_protected(true).await.unwrap();
    let name = eph.name().to_owned();
    let stack = eph.stack().clone();
    let entry = eph.keep();
    assert!(
        entry
            .temp_dir
            .join(pulumi_auto::ephemeral::MARKER_FILE)
            .is_file()
    );

    let sweep_all = || async {
        sweep_ledger(
            Some(&ledger),
            Some(pulumi().await),
            &SweepOptions::default().min_age(Duration::ZERO),
        )
        .await
        .unwrap()
    };
    let report = sweep_all().await;
    assert_eq!(
        report.skipped,
        vec![(name.clone(), SkipReason::Protected)],
        "{report:?}"
    );
    assert!(report.removed.is_empty() && report.failed.is_empty());
    assert!(!dir_is_empty(&env.files), "a protected stack was destroyed");
    assert!(entry.temp_dir.exists());
    assert_eq!(ledger_files(&ledger).len(), 1);

    stack.set_protected(false).await.unwrap();
    let report = sweep_all().await;
    assert_eq!(report.removed, vec![name], "{report:?}");
    assert!(dir_is_empty(&env.files));
    assert!(!entry.temp_dir.exists());
    assert!(ledger_files(&ledger).is_empty());
}

/// A ledger directory other users can write to is refused, by the guard before anything
/// is created and by the janitor before anything is read.
#[tokio::test]
async fn a_ledger_directory_others_can_write_to_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new("files").await;
    let ledger = env.root.path().join("shared-ledger");
    std::fs::create_dir(&ledger).unwrap();
    std::fs::set_permissions(&ledger, std::fs::Permissions::from_mode(0o777)).unwrap();
    let counting = CountingCli::new(env.root.path()).await;
    let cli = counting.command().await; // reads `pulumi version` once
    counting.reset();
    let err = EphemeralStack::builder(&env.program)
        .prefix("refused")
        .config("dir", env.files.display().to_string())
        .ledger_dir(&ledger)
        .pulumi_command(cli)
        .create()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert!(err.to_string().contains("mode 0777"), "{err}");
    assert!(ledger_files(&ledger).is_empty());
    assert!(counting.lines().is_empty(), "{:?}", counting.lines());
    let err = sweep_ledger(
        Some(&ledger),
        Some(pulumi().await),
        &SweepOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
}

/// Set in the child process of the test below: the ledger directory it sweeps.
const SWEEP_CHILD_ENV: &str = "PULUMI_AUTO_TEST_SWEEP_CHILD";

/// A sweep run by another user cannot signal the owner process (EPERM): the owner still
/// runs, so its stack is left alone. Here the "owner" is pid 1, and the sweep runs in a
/// child process as uid 65534 (as root, through setpriv) or as this user (who may not
/// signal pid 1 either).
#[tokio::test]
async fn a_sweep_by_another_user_leaves_a_running_owners_stack_alone() {
    if let Some(dir) = std::env::var_os(SWEEP_CHILD_ENV) {
        // The child: sweep and print the report.
        let report = sweep_ledger(
            Some(Path::new(&dir)),
            None,
            &SweepOptions::default().min_age(Duration::ZERO),
        )
        .await
        .unwrap();
        println!("SWEEP-REPORT {report:?}");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ledger = root.path().join("ledger");
    let file = write_entry(
        &ledger,
        &LedgerEntry {
            stack: "owned-by-pid-1".into(),
            program_dir: "/nonexistent/program".into(),
            backend_url: "file:///nonexistent/state".into(),
            pulumi_home: "/nonexistent/home".into(),
            temp_dir: "/nonexistent/temp".into(),
            marker: "m".into(),
            isolated: false,
            passphrase_file: None,
            tag: old_tag(1),
        },
    );
    let me = std::env::current_exe().unwrap();
    let mut cmd = if nix::unistd::geteuid().is_root() {
        for p in [&ledger, &file] {
            std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
        }
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&me);
        c
    } else {
        std::process::Command::new(&me)
    };
    let out = cmd
        .args([
            "--exact",
            "a_sweep_by_another_user_leaves_a_running_owners_stack_alone",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SWEEP_CHILD_ENV, &ledger)
        .output()
        .expect("running the sweep as another user (setpriv)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let report = stdout
        .lines()
        .find_map(|l| l.find("SWEEP-REPORT ").map(|i| &l[i..]))
        .unwrap_or_else(|| panic!("no report:\n{stdout}\n{stderr}"));
    assert!(
        report.contains(r#"skipped: [("owned-by-pid-1", OwnerRunning)]"#),
        "{report}"
    );
    assert!(report.contains("failed: []"), "{report}");
}
