//! LocalWorkspace and Stack against the real CLI: stacks, config, tags, outputs, history,
//! state export/import, errors, and how many processes each call spawns.

mod common;

use common::{CountingCli, TestEnv};
use pulumi_auto::ops::UpOptions;
use pulumi_auto::workspace::RemoveOptions;
use pulumi_auto::{ConfigKey, DestroyApproval, Error, Secret};

on_both_backends! {
#[tokio::test]
async fn stack_lifecycle_create_select_list_rename_remove() {
    let env = TestEnv::new("files").await;
    let ws = &env.ws;
    let a = ws.create_stack("alpha").await.unwrap();
    assert_eq!(a.name(), "alpha");
    assert_eq!(a.fully_qualified_name(), "organization/files/alpha");

    match ws.create_stack("alpha").await {
        Err(Error::StackAlreadyExists { stack, failure }) => {
            assert_eq!(stack, "alpha");
            assert!(failure.stderr.contains("already exists"), "{failure:?}");
        }
        other => panic!("expected StackAlreadyExists, got {other:?}"),
    }
    match ws.select_stack("nope").await {
        Err(Error::StackNotFound { stack, failure }) => {
            assert_eq!(stack, "nope");
            assert_eq!(failure.exit_code, Some(6));
        }
        other => panic!("expected StackNotFound, got {other:?}"),
    }
    ws.select_stack("alpha").await.unwrap();
    ws.create_or_select_stack("alpha").await.unwrap();
    ws.create_or_select_stack("beta").await.unwrap();

    let names: Vec<String> = ws
        .list_stacks()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["alpha", "beta"]);

    let renamed = ws.rename_stack("beta", "gamma").await.unwrap();
    assert_eq!(renamed.name(), "gamma");
    let names: Vec<String> = ws
        .list_stacks()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["alpha", "gamma"]);

    ws.remove_stack("gamma", RemoveOptions::default())
        .await
        .unwrap();
    assert!(matches!(
        ws.select_stack("gamma").await,
        Err(Error::StackNotFound { .. })
    ));
}
}

on_both_backends! {
#[tokio::test]
async fn remove_refuses_a_stack_with_resources_unless_forced() {
    let env = TestEnv::new("files").await;
    let stack = env.ws.create_stack("dev").await.unwrap();
    stack
        .set_config("dir", env.files.display().to_string())
        .await
        .unwrap();
    stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(env.file_names(), ["greeting.txt", "note.txt"]);

    let err = env
        .ws
        .remove_stack("dev", RemoveOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("still has resources"), "{err}");
    env.ws.select_stack("dev").await.unwrap();

    let list = env.ws.list_stacks().await.unwrap();
    assert_eq!(list[0].resource_count, Some(4), "{list:?}");

    // Forgetting the resources needs an approval naming the stack, as a destroy does.
    let err = env
        .ws
        .remove_stack(
            "dev",
            RemoveOptions::default().force(DestroyApproval::for_stack("prod")),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DestroyRefused { .. }),
        "wrong approval: {err:?}"
    );
    stack.set_protected(true).await.unwrap();
    let err = env
        .ws
        .remove_stack(
            "dev",
            RemoveOptions::default().force(DestroyApproval::for_stack("dev")),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DestroyRefused { .. }),
        "protected: {err:?}"
    );
    env.ws.select_stack("dev").await.unwrap();

    env.ws
        .remove_stack(
            "dev",
            RemoveOptions::default()
                .force(DestroyApproval::for_stack("dev").override_protection(true))
                .preserve_config(true),
        )
        .await
        .unwrap();
    assert!(matches!(
        env.ws.select_stack("dev").await,
        Err(Error::StackNotFound { .. })
    ));
    // --force forgets resources, it does not delete them; --preserve-config keeps the file.
    assert_eq!(env.file_names(), ["greeting.txt", "note.txt"]);
    assert!(env.program.join("Pulumi.dev.yaml").exists());
}
}

on_both_backends! {
#[tokio::test]
async fn config_plain_secret_path_flaglike_unicode_multiline() {
    let env = TestEnv::new("files").await;
    let stack = env.ws.create_stack("dev").await.unwrap();

    stack.set_config("plain", "value").await.unwrap();
    stack.set_config("--foo", "flag-like key").await.unwrap();
    stack
        .set_config("dashes", "-starts-with-dash")
        .await
        .unwrap();
    stack
        .set_config("unicode", "héllo wörld ✓ 日本")
        .await
        .unwrap();
    stack
        .set_config("multi", "line one\nline two\n")
        .await
        .unwrap();
    stack
        .set_config("pw", Secret::new("s3cr3t-p@ss\nword"))
        .await
        .unwrap();
    stack
        .set_config(ConfigKey::path("db.hosts[0]"), "10.0.0.1")
        .await
        .unwrap();
    stack
        .set_config(ConfigKey::path("db.hosts[1]"), "10.0.0.2")
        .await
        .unwrap();
    stack
        .set_config(ConfigKey::path("db.port"), "5432")
        .await
        .unwrap();

    let get = |k: &'static str| {
        let stack = stack.clone();
        async move { stack.get_config(k).await.unwrap() }
    };
    assert_eq!(get("plain").await.value.as_deref(), Some("value"));
    assert_eq!(get("--foo").await.value.as_deref(), Some("flag-like key"));
    assert_eq!(
        get("dashes").await.value.as_deref(),
        Some("-starts-with-dash")
    );
    assert_eq!(
        get("unicode").await.value.as_deref(),
        Some("héllo wörld ✓ 日本")
    );
    assert_eq!(
        get("multi").await.value.as_deref(),
        Some("line one\nline two\n")
    );
    let pw = get("pw").await;
    assert!(pw.secret);
    assert_eq!(pw.value.as_deref(), Some("s3cr3t-p@ss\nword"));
    assert!(
        !format!("{pw:?}").contains("s3cr3t"),
        "Debug must redact: {pw:?}"
    );

    let port = stack.get_config(ConfigKey::path("db.port")).await.unwrap();
    assert_eq!(port.value.as_deref(), Some("5432"));

    let all = stack.get_all_config().await.unwrap();
    let db = &all["files:db"];
    let obj = db.object_value.as_ref().expect("db is an object");
    assert_eq!(obj["hosts"], serde_json::json!(["10.0.0.1", "10.0.0.2"]));
    assert_eq!(obj["port"], serde_json::json!(5432));
    assert_eq!(all["files:pw"].value.as_deref(), Some("s3cr3t-p@ss\nword"));
    assert!(all["files:pw"].secret);
    assert!(!format!("{all:?}").contains("s3cr3t"));

    // The secret is stored encrypted on disk.
    let file = std::fs::read_to_string(env.program.join("Pulumi.dev.yaml")).unwrap();
    assert!(file.contains("secure:"), "{file}");
    assert!(!file.contains("s3cr3t"), "{file}");

    stack.remove_config("plain").await.unwrap();
    stack
        .remove_config(ConfigKey::path("db.hosts[1]"))
        .await
        .unwrap();
    stack.remove_all_config(["--foo", "dashes"]).await.unwrap();
    let all = stack.get_all_config().await.unwrap();
    assert!(!all.contains_key("files:plain"));
    assert!(!all.contains_key("files:--foo"));
    assert!(!all.contains_key("files:dashes"));
    assert_eq!(
        all["files:db"].object_value.as_ref().unwrap()["hosts"],
        serde_json::json!(["10.0.0.1"])
    );
    let missing = stack.get_config("plain").await.unwrap_err();
    assert!(missing.to_string().contains("not found"), "{missing}");
}
}

on_both_backends! {
#[tokio::test]
async fn set_all_config_in_one_process_with_no_value_on_argv() {
    let env = TestEnv::new("files").await;
    let counting = CountingCli::new(env.root.path()).await;
    let cmd = counting.command().await;
    let ws = env.workspace_with(|b| b.pulumi_command(cmd)).await;
    let stack = ws.create_stack("dev").await.unwrap();
    counting.reset();
    stack
        .set_all_config([
            (
                "a",
                pulumi_auto::stack::ConfigSetValue::from("plain, with \"quotes\""),
            ),
            ("b", Secret::new("very-secret-value-1").into()),
            ("c", "multi\nline".into()),
        ])
        .await
        .unwrap();
    let lines = counting.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("config set-all --stack dev"),
        "{lines:?}"
    );
    assert!(!lines[0].contains("very-secret"), "{lines:?}");

    let all = stack.get_all_config().await.unwrap();
    assert_eq!(
        all["files:a"].value.as_deref(),
        Some("plain, with \"quotes\"")
    );
    assert_eq!(all["files:b"].value.as_deref(), Some("very-secret-value-1"));
    assert!(all["files:b"].secret);
    assert_eq!(all["files:c"].value.as_deref(), Some("multi\nline"));

    stack
        .set_all_config([
            (
                ConfigKey::path("obj.x"),
                pulumi_auto::stack::ConfigSetValue::from("1"),
            ),
            (
                ConfigKey::path("obj.list[0]"),
                Secret::new("inner-secret").into(),
            ),
        ])
        .await
        .unwrap();
    let obj = stack.get_config(ConfigKey::path("obj.x")).await.unwrap();
    assert_eq!(obj.value.as_deref(), Some("1"));
}
}

on_both_backends! {
#[tokio::test]
async fn secrets_never_reach_a_command_line() {
    let env = TestEnv::new("files").await;
    let counting = CountingCli::new(env.root.path()).await;
    let cmd = counting.command().await;
    let marker = common::unique_marker();
    let ws = env
        .workspace_with(|b| {
            b.pulumi_command(cmd)
                .passphrase(Secret::new("passphrase-must-stay-hidden"))
                .env("PULUMI_AUTO_TEST_MARKER", marker.clone())
        })
        .await;
    // Meanwhile, sample the command line of every process the workspace spawns (the CLI,
    // language host, program, providers) from /proc.
    let stop = tokio_util::sync::CancellationToken::new();
    let sampler = tokio::spawn({
        let (stop, marker) = (stop.clone(), marker.clone());
        async move {
            let mut seen = std::collections::BTreeSet::new();
            while !stop.is_cancelled() {
                for (_, cmdline) in common::processes_with_marker(&marker) {
                    seen.insert(cmdline);
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            seen
        }
    });
    let stack = ws.create_stack("dev").await.unwrap();
    const SECRET: &str = "never-on-argv-7c1e";
    stack
        .set_config("token", Secret::new(SECRET))
        .await
        .unwrap();
    stack
        .set_all_config([("token2", Secret::new(SECRET))])
        .await
        .unwrap();
    stack
        .set_config("dir", env.files.display().to_string())
        .await
        .unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    stop.cancel();
    let sampled = sampler.await.unwrap();
    assert!(
        sampled.iter().any(|c| c.contains("pulumi-language-python")),
        "the sampler saw no language host: {sampled:?}"
    );
    for c in &sampled {
        assert!(!c.contains(SECRET), "secret on a command line: {c}");
        assert!(
            !c.contains("passphrase-must-stay-hidden"),
            "passphrase on a command line: {c}"
        );
    }
    assert_eq!(up.outputs["token"].value, serde_json::json!(SECRET));
    assert!(up.outputs["token"].secret);
    assert!(
        !format!("{up:?}").contains(SECRET),
        "Debug of the result shows the secret"
    );
    let _ = stack.get_all_config().await.unwrap();

    let lines = counting.lines();
    assert!(lines.len() >= 6, "{lines:?}");
    for l in &lines {
        assert!(!l.contains(SECRET), "secret on a command line: {l}");
        assert!(
            !l.contains("passphrase-must-stay-hidden"),
            "passphrase on a command line: {l}"
        );
    }
    // The error path: a failing command that was fed the secret does not show it.
    let err = stack
        .set_config("a:b:c", Secret::new(SECRET))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }));
    assert!(!format!("{err} {err:?}").contains(SECRET));
}
}

on_both_backends! {
#[tokio::test]
async fn tags_set_get_list_remove() {
    let env = TestEnv::new("files").await;
    let stack = env.ws.create_stack("dev").await.unwrap();
    stack.set_tag("owner", "team-a").await.unwrap();
    stack.set_tag("note", "-dash and spaces").await.unwrap();
    assert_eq!(stack.get_tag("owner").await.unwrap(), "team-a");
    assert_eq!(stack.get_tag("note").await.unwrap(), "-dash and spaces");
    let tags = stack.list_tags().await.unwrap();
    assert_eq!(tags.get("owner").map(String::as_str), Some("team-a"));
    stack.remove_tag("owner").await.unwrap();
    assert!(!stack.list_tags().await.unwrap().contains_key("owner"));
    assert!(stack.get_tag("owner").await.is_err());
}
}

on_both_backends! {
#[tokio::test]
async fn outputs_history_info_export_import_roundtrip() {
    let env = TestEnv::new("files").await;
    let stack = env.ws.create_stack("dev").await.unwrap();
    assert!(stack.info().await.unwrap().is_none());
    assert!(stack.outputs().await.unwrap().is_empty());
    stack
        .set_config("dir", env.files.display().to_string())
        .await
        .unwrap();
    stack
        .set_config("token", Secret::new("tok-123"))
        .await
        .unwrap();
    stack
        .up(UpOptions::default().message("first"))
        .await
        .unwrap();

    let outputs = stack.outputs().await.unwrap();
    assert_eq!(outputs["count"].value, serde_json::json!(2));
    assert!(!outputs["count"].secret);
    assert_eq!(outputs["token"].value, serde_json::json!("tok-123"));
    assert!(outputs["token"].secret);
    assert_eq!(
        outputs["files"].value["greeting"]["size"],
        serde_json::json!(5)
    );

    let history = stack.history(10, 1).await.unwrap();
    assert_eq!(history.len(), 1);
    let info = stack.info().await.unwrap().unwrap();
    assert_eq!(info.message, "first");
    assert_eq!(info.kind.to_string(), "update");
    assert_eq!(
        info.result.as_ref().map(ToString::to_string).as_deref(),
        Some("succeeded")
    );
    assert_eq!(
        info.resource_changes
            .as_ref()
            .and_then(|c| c.get("create"))
            .copied(),
        Some(3)
    );

    // Our model of an export serialises back to exactly what the CLI printed.
    let raw = env
        .ws
        .run(pulumi_auto::cli::Invocation::new([
            "stack", "export", "--stack", "dev",
        ]))
        .await
        .unwrap()
        .stdout;
    let raw: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let exported = stack.export_stack().await.unwrap();
    let before = serde_json::to_value(&exported).unwrap();
    assert!(
        before == raw,
        "the parsed export does not serialise back to the CLI's JSON"
    );
    assert!(
        !before.to_string().contains("tok-123"),
        "export without --show-secrets leaks"
    );

    // Import then export again: the same state, except that secrets are re-encrypted
    // (fresh nonces) and the manifest is new.
    stack.import_stack(&exported).await.unwrap();
    let after = serde_json::to_value(stack.export_stack().await.unwrap()).unwrap();
    fn normalise(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(ct) = m.get_mut("ciphertext") {
                    *ct = serde_json::json!("<ciphertext>");
                }
                m.values_mut().for_each(normalise);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(normalise),
            _ => {}
        }
    }
    let (mut b, mut a) = (
        before["deployment"]["resources"].clone(),
        after["deployment"]["resources"].clone(),
    );
    normalise(&mut b);
    normalise(&mut a);
    assert!(a == b, "export → import → export changed the resources");
    let outputs_after = stack.outputs().await.unwrap();
    assert_eq!(outputs_after["token"].value, serde_json::json!("tok-123"));
}
}

on_both_backends! {
#[tokio::test]
async fn two_stacks_of_one_workspace_concurrently() {
    let env = TestEnv::new("files").await;
    let a = env.ws.create_stack("a").await.unwrap();
    let b = env.ws.create_stack("b").await.unwrap();
    let (fa, fb) = (env.files.join("a"), env.files.join("b"));
    a.set_config("dir", fa.display().to_string()).await.unwrap();
    b.set_config("dir", fb.display().to_string()).await.unwrap();
    b.set_config("greeting", "from b").await.unwrap();
    let (ra, rb) = tokio::join!(a.up(UpOptions::default()), b.up(UpOptions::default()));
    ra.unwrap();
    rb.unwrap();
    assert_eq!(
        std::fs::read_to_string(fa.join("greeting.txt")).unwrap(),
        "hello"
    );
    assert_eq!(
        std::fs::read_to_string(fb.join("greeting.txt")).unwrap(),
        "from b"
    );
}
}

#[tokio::test]
async fn bad_input_is_rejected_before_any_process() {
    let env = TestEnv::new("files").await;
    let counting = CountingCli::new(env.root.path()).await;
    let cmd = counting.command().await;
    let ws = env.workspace_with(|b| b.pulumi_command(cmd)).await;
    counting.reset();
    for bad in ["", "has space", "a/b/c/d", "semi;colon", &"x".repeat(101)] {
        assert!(
            matches!(ws.create_stack(bad).await, Err(Error::InvalidInput { .. })),
            "{bad:?}"
        );
        assert!(
            matches!(ws.select_stack(bad).await, Err(Error::InvalidInput { .. })),
            "{bad:?}"
        );
    }
    let stack = ws.stack_handle("dev").unwrap();
    for bad in ["", "a:b:c", "k\nx", " lead"] {
        assert!(
            matches!(
                stack.set_config(bad, "v").await,
                Err(Error::InvalidInput { .. })
            ),
            "{bad:?}"
        );
        assert!(
            matches!(stack.get_config(bad).await, Err(Error::InvalidInput { .. })),
            "{bad:?}"
        );
    }
    assert!(matches!(
        stack.set_config(ConfigKey::path("a[x"), "v").await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        stack
            .up(UpOptions::default().target("urn:a").exclude("urn:b"))
            .await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(
        counting.lines().is_empty(),
        "processes spawned: {:?}",
        counting.lines()
    );

    // Work dirs: missing, or without Pulumi.yaml.
    let missing = pulumi_auto::LocalWorkspace::builder(env.root.path().join("nope"))
        .pulumi_command(counting.command().await)
        .build()
        .await;
    assert!(
        matches!(missing, Err(Error::InvalidInput { .. })),
        "{missing:?}"
    );
    let empty = pulumi_auto::LocalWorkspace::builder(&env.files)
        .pulumi_command(counting.command().await)
        .build()
        .await;
    assert!(
        matches!(empty, Err(Error::InvalidInput { .. })),
        "{empty:?}"
    );
    assert!(
        counting.lines().is_empty(),
        "processes spawned: {:?}",
        counting.lines()
    );
}

#[tokio::test]
async fn whoami_and_plugins() {
    let env = TestEnv::new("files").await;
    let me = env.ws.whoami().await.unwrap();
    assert!(!me.user.is_empty());
    assert!(me.url.starts_with("file://"), "{me:?}");
    assert!(env.ws.list_plugins().await.unwrap().is_empty());
}

#[tokio::test]
async fn program_failure_and_locked_stack_are_typed() {
    let env = TestEnv::new("failing").await;
    let stack = env.ws.create_stack("dev").await.unwrap();
    stack
        .set_config("dir", env.files.display().to_string())
        .await
        .unwrap();
    match stack.up(UpOptions::default()).await {
        Err(Error::ProgramFailed { message, failure }) => {
            assert!(
                message.contains("the failing fixture raised on purpose"),
                "{message}"
            );
            assert_eq!(failure.exit_code, Some(1));
        }
        other => panic!("expected ProgramFailed, got {other:?}"),
    }

    // A real concurrent update holds the lock.
    let slow = TestEnv::new("slow").await;
    let s = slow.ws.create_stack("dev").await.unwrap();
    s.set_all_config([
        ("dir", slow.files.display().to_string()),
        ("delay", "8".to_owned()),
        ("count", "1".to_owned()),
    ])
    .await
    .unwrap();
    let holder = {
        let s = s.clone();
        tokio::spawn(async move { s.up(UpOptions::default()).await })
    };
    let locks = slow.state.join(".pulumi/locks/organization/slow/dev");
    for _ in 0..200 {
        if std::fs::read_dir(&locks)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    match s.up(UpOptions::default()).await {
        Err(Error::ConcurrentUpdate { lock_holders, .. }) => {
            assert_eq!(lock_holders.len(), 1, "{lock_holders:?}");
            assert!(lock_holders[0].contains("created by"), "{lock_holders:?}");
        }
        other => panic!("expected ConcurrentUpdate, got {other:?}"),
    }
    holder.await.unwrap().unwrap();
    assert_eq!(slow.file_names(), ["slow-0.txt"]);
}

#[tokio::test]
async fn install_prepares_the_virtualenv() {
    // The program keeps `virtualenv: venv`: `pulumi install` creates it and installs
    // requirements.txt, then the program runs in it.
    let env = TestEnv::with_venv("many", None).await;
    env.ws.install(&Default::default()).await.unwrap();
    assert!(env.program.join("venv/bin/python").exists());
    let stack = env.ws.create_stack("dev").await.unwrap();
    stack
        .set_all_config([
            ("dir", env.files.display().to_string()),
            ("count", "3".to_owned()),
        ])
        .await
        .unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(up.summary.count("create"), 4);
    assert_eq!(env.file_names().len(), 3);
}

#[tokio::test]
async fn project_and_stack_settings_roundtrip() {
    let env = TestEnv::new("files").await;
    let mut project = env.ws.project_settings().await.unwrap();
    assert_eq!(project.name, "files");
    project.description = Some("changed by a test".into());
    env.ws.save_project_settings(&project).await.unwrap();
    let again = env.ws.project_settings().await.unwrap();
    assert_eq!(again.description.as_deref(), Some("changed by a test"));
    // The CLI still reads it.
    let stack = env.ws.create_stack("dev").await.unwrap();
    stack.set_config(ConfigKey::new("k"), "v").await.unwrap();
    let settings = env.ws.stack_settings("dev").await.unwrap();
    assert!(settings.config.contains_key("files:k"), "{settings:?}");
    assert!(settings.encryption_salt.is_some());
    env.ws.save_stack_settings("dev", &settings).await.unwrap();
    assert_eq!(
        stack.get_config("k").await.unwrap().value.as_deref(),
        Some("v")
    );
}

#[tokio::test]
async fn plugins_install_from_file_list_remove() {
    let env = TestEnv::new("files").await;
    let bin = env.root.path().join("pulumi-resource-fake");
    std::fs::write(&bin, "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.ws
        .install_plugin_from_file("resource", "fake", "1.2.3", &bin)
        .await
        .unwrap();
    let plugins = env.ws.list_plugins().await.unwrap();
    assert_eq!(plugins.len(), 1, "{plugins:?}");
    assert_eq!(plugins[0].name, "fake");
    assert_eq!(plugins[0].version.as_deref(), Some("1.2.3"));
    env.ws
        .remove_plugin("resource", "fake", Some("1.2.3"))
        .await
        .unwrap();
    assert!(env.ws.list_plugins().await.unwrap().is_empty());
    assert!(matches!(
        env.ws
            .install_plugin_from_file("resource", "fake", "1.0.0", &env.root.path().join("nope"))
            .await,
        Err(Error::InvalidInput { .. })
    ));
}

#[tokio::test]
async fn a_syntax_error_is_a_compilation_error() {
    let env = TestEnv::new("files").await;
    std::fs::write(
        env.program.join("__main__.py"),
        "import pulumi\ndef broken(:\n    pass\n",
    )
    .unwrap();
    let stack = env.ws.create_stack("dev").await.unwrap();
    match stack.up(UpOptions::default()).await {
        Err(Error::CompilationFailed { failure }) => assert_eq!(failure.exit_code, Some(1)),
        other => panic!("expected CompilationFailed, got {other:?}"),
    }
}

on_both_backends! {
#[tokio::test]
async fn cancelling_an_update_is_typed_and_leaves_no_process() {
    let env = TestEnv::new("slow").await;
    let (marker, stack) = common::marked_slow_stack(&env, "20", "1").await;
    let token = tokio_util::sync::CancellationToken::new();
    let op = tokio::spawn({
        let stack = stack.clone();
        let opts = UpOptions::default()
            .cancel_token(token.clone())
            .cancel_policy(pulumi_auto::cli::CancelPolicy {
                grace: std::time::Duration::from_secs(3),
                kill_after: std::time::Duration::from_secs(3),
            });
        async move { stack.up(opts).await }
    });
    let seen = common::wait_for_provider(&marker).await;
    assert!(
        seen.iter().any(|(_, c)| c.contains("pulumi.dynamic")),
        "{seen:?}"
    );
    token.cancel();
    let res = op.await.unwrap();
    assert!(matches!(res, Err(Error::Cancelled { .. })), "{res:?}");
    let left = common::wait_until_gone(&marker).await;
    assert!(left.is_empty(), "processes survived the cancel: {left:?}");
}
}

on_both_backends! {
#[tokio::test]
async fn a_stack_without_any_config_runs() {
    // Regression: the language host must pass `{}` (never `null`) as the program's config.
    let env = TestEnv::new("files").await;
    std::fs::write(
        env.program.join("__main__.py"),
        "import pulumi\npulumi.export('answer', 42)\n",
    )
    .unwrap();
    let stack = env.ws.create_stack("dev").await.unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(up.outputs["answer"].value, serde_json::json!(42));
    assert_eq!(up.summary.count("create"), 1);
}
}

/// A built workspace's environment changes for its next commands, and for the stacks made
/// from it before the change (the `env` program exports what its environment holds);
/// a secret-bearing variable's value is redacted from errors; managed variables are
/// refused and nothing changes.
#[tokio::test]
async fn a_built_workspace_environment_can_change() {
    const GREETING: &str = "PULUMI_AUTO_FIXTURE_GREETING";
    let env = TestEnv::new("env").await;
    let ws = env.ws.clone();
    let stack = ws.create_stack("dev").await.unwrap();
    let greeting = async || {
        let up = stack.up(UpOptions::default()).await.unwrap();
        up.outputs.get("greeting").map(|o| o.value.clone())
    };
    assert_eq!(greeting().await, None);

    ws.set_env_var(GREETING, "first").unwrap();
    assert_eq!(greeting().await, Some("first".into()));
    // Through a clone of the workspace, for the stack made before.
    env.ws
        .set_env_vars([(GREETING, "second"), ("OTHER", "x")])
        .unwrap();
    assert_eq!(greeting().await, Some("second".into()));
    let names = ws.env_var_names();
    assert!(names.iter().any(|n| n == GREETING) && names.iter().any(|n| n == "OTHER"));
    ws.unset_env_var(GREETING).unwrap();
    assert_eq!(greeting().await, None);

    // Refused, and all or nothing.
    for key in [
        "PULUMI_BACKEND_URL",
        "PULUMI_CONFIG_PASSPHRASE",
        "PULUMI_HOME",
    ] {
        let e = ws.set_env_var(key, "x").unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{key}: {e:?}");
        assert!(ws.unset_env_var(key).is_err(), "{key}");
    }
    for (key, value) in [
        ("A=B", "x"),
        ("", "x"),
        ("NUL\0", "x"),
        ("V", "nul\0"),
        ("PULUMI_OPTION_FORCE", "true"),
    ] {
        let e = ws
            .set_env_vars([(GREETING, "third"), (key, value)])
            .unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{key:?}: {e:?}");
    }
    assert!(!ws.env_var_names().iter().any(|n| n == GREETING));
    assert_eq!(greeting().await, None);

    // A secret-bearing variable: its value is in no error and no Debug.
    let token = "hunter2-env-token";
    ws.set_env_vars([
        ("PULUMI_AUTO_FIXTURE_TOKEN", token),
        ("PULUMI_AUTO_FIXTURE_FAIL", "1"),
    ])
    .unwrap();
    let err = stack.up(UpOptions::default()).await.unwrap_err();
    let Error::ProgramFailed { message, failure } = &err else {
        panic!("expected ProgramFailed, got {err:?}");
    };
    assert_eq!(message, "ValueError: the token is [secret]");
    let text = format!("{err} {err:?} {failure:?} {ws:?} {stack:?}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        failure.stdout.contains("the token is [secret]"),
        "{failure:?}"
    );
}
