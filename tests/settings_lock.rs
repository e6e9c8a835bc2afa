//! Concurrent writes of one stack's settings file (`Pulumi.<stack>.yaml`), against the
//! real CLI: config set, set-all and rm from two processes at once, with an engine
//! operation beside them. The CLI's own read-modify-write of the file is not atomic; the
//! settings lock (in-process and across processes) keeps every key, and the file's
//! `encryptionsalt`, so every secret still decrypts.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::process::Stdio;

use common::{PASSPHRASE, TestEnv};
use pulumi_auto::cli::Invocation;
use pulumi_auto::ops::PreviewOptions;
use pulumi_auto::{LocalWorkspace, Secret};

/// Set in the second process: what it works on, one per line (program, state, home,
/// key prefix).
const CHILD_ENV: &str = "PULUMI_AUTO_TEST_SETTINGS_CHILD";
/// Writers per process.
const WRITERS: usize = 8;

/// What the writers with this key prefix set: key → (value, secret). Writer `i` runs
/// `set_config` (even `i`, a secret every other time) or `set_all_config` of a plain and
/// a secret value (odd `i`).
fn expected(prefix: &str) -> BTreeMap<String, (String, bool)> {
    let mut m = BTreeMap::new();
    for i in 0..WRITERS {
        if i % 2 == 0 {
            let key = format!("{prefix}{i}");
            m.insert(key.clone(), (format!("value of {key}"), i % 4 == 0));
        } else {
            for (suffix, secret) in [("p", false), ("s", true)] {
                let key = format!("{prefix}{i}{suffix}");
                m.insert(key.clone(), (format!("value of {key}"), secret));
            }
        }
    }
    m
}

/// Runs the writers of one prefix at once, each a `pulumi` process.
async fn write_all(ws: &LocalWorkspace, prefix: &str) {
    let stack = ws.stack_handle("dev").unwrap();
    let all = expected(prefix);
    let tasks: Vec<_> = (0..WRITERS)
        .map(|i| {
            let stack = stack.clone();
            let all = all.clone();
            let prefix = prefix.to_owned();
            tokio::spawn(async move {
                let value = |key: &str| -> pulumi_auto::ConfigSetValue {
                    let (v, secret) = &all[key];
                    if *secret {
                        Secret::new(v.clone()).into()
                    } else {
                        v.clone().into()
                    }
                };
                if i % 2 == 0 {
                    let key = format!("{prefix}{i}");
                    stack.set_config(key.as_str(), value(&key)).await
                } else {
                    let (p, s) = (format!("{prefix}{i}p"), format!("{prefix}{i}s"));
                    stack
                        .set_all_config([(p.as_str(), value(&p)), (s.as_str(), value(&s))])
                        .await
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
}

/// The second process: builds its workspace, says `ready`, waits for `go`, writes.
async fn child(spec: &str) {
    let lines: Vec<&str> = spec.lines().collect();
    let [program, state, home, prefix] = lines[..] else {
        panic!("bad {CHILD_ENV}: {spec:?}");
    };
    let ws = LocalWorkspace::builder(program)
        .backend_url(format!("file://{state}"))
        .pulumi_home(home)
        .passphrase(Secret::new(PASSPHRASE))
        .pulumi_command(common::pulumi().await)
        .build()
        .await
        .unwrap();
    println!("ready");
    let mut go = String::new();
    std::io::stdin().lock().read_line(&mut go).unwrap();
    write_all(&ws, prefix).await;
    println!("done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_config_writes_from_two_processes_keep_every_key() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        return child(&spec).await;
    }
    let env = TestEnv::new("files").await;
    // `stack init` writes the file with its encryptionsalt.
    let stack = env.ws.create_stack("dev").await.unwrap();
    stack
        .set_all_config([
            ("dir", env.files.display().to_string()),
            ("gone0", "removed in round 0".to_owned()),
            ("gone1", "removed in round 1".to_owned()),
        ])
        .await
        .unwrap();
    let mut want = BTreeMap::new();
    for round in 0..2 {
        let mine = format!("a{round}x");
        let theirs = format!("b{round}x");
        want.extend(expected(&mine));
        want.extend(expected(&theirs));
        let spec = format!(
            "{}\n{}\n{}\n{theirs}",
            env.program.display(),
            env.state.display(),
            env.home.display()
        );
        let mut other = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sixteen_concurrent_config_writes_from_two_processes_keep_every_key",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, spec)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(other.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("ready") {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "the second process ended before it was ready"
            );
        }
        // Both processes' writers at once, with a removal and two previews among them:
        // one that only reads the settings, one given config, which it saves (engine
        // operations hold the lock until their engine starts).
        writeln!(other.stdin.take().unwrap(), "go").unwrap();
        let gone = format!("gone{round}");
        let op_key = format!("op{round}");
        want.insert(op_key.clone(), (format!("set by preview {round}"), false));
        // `--config` is managed (no operation takes it as an extra argument): a preview
        // given config runs through the raw escape hatch, which takes the same lock.
        let given = Invocation::new(["preview", "--stack", "dev", "--config"])
            .arg(format!("{op_key}=set by preview {round}"))
            .for_stack("dev");
        let (_, removed, previewed, given) = tokio::join!(
            write_all(&env.ws, &mine),
            stack.remove_config(gone.as_str()),
            stack.preview(PreviewOptions::default()),
            env.ws.run(given),
        );
        removed.unwrap();
        previewed.unwrap();
        given.unwrap();
        let status = tokio::task::spawn_blocking(move || {
            let rest = std::io::read_to_string(&mut out).unwrap();
            let mut err = String::new();
            std::io::Read::read_to_string(&mut other.stderr.take().unwrap(), &mut err).unwrap();
            (other.wait().unwrap(), rest, err)
        })
        .await
        .unwrap();
        assert!(
            status.0.success(),
            "the second process failed:\n{}\n{}",
            status.1,
            status.2
        );
    }

    // Every key, with its value; every secret decrypts (one process: `config
    // --show-secrets`, which fails if the file lost its encryptionsalt).
    let all = stack.get_all_config().await.unwrap();
    let missing: Vec<&String> = want
        .keys()
        .filter(|k| !all.contains_key(&format!("files:{k}")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} keys lost: {missing:?}",
        missing.len(),
        want.len()
    );
    for (key, (value, secret)) in &want {
        let got = &all[&format!("files:{key}")];
        assert_eq!(got.as_str(), Some(value.as_str()), "{key}");
        assert_eq!(got.secret, *secret, "{key}");
    }
    for gone in ["gone0", "gone1"] {
        assert!(
            !all.contains_key(&format!("files:{gone}")),
            "{gone} is back"
        );
    }
    let settings = env.ws.stack_settings("dev").await.unwrap();
    assert!(settings.encryption_salt.is_some(), "{settings:?}");
    // No lock file is left behind.
    let left: Vec<String> = std::fs::read_dir(&env.program)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
