//! Inline programs (feature `inline`) against the real pinned CLI: Rust closures as the
//! program, served to the CLI by the in-process language host. The resources are files of
//! the project's own provider (`tools/pulumi-resource-files`, installed into each test's
//! `PULUMI_HOME` from its file), the engine's built-in `pulumi:index:Stash`, components
//! and the `pulumi:pulumi:readStackOutputs` invoke.
#![cfg(feature = "inline")]

mod common;
mod inline_support;

use std::path::PathBuf;
use std::sync::Arc;

use inline_support::{Env, FILE, file, install_files, provider_binary, provider_version};
use pulumi_auto::inline::{
    Context, InlineStack, ProgramResult, PropertyMap, ResourceOptions, Value, props,
};
use pulumi_auto::ops::{DestroyOptions, PreviewOptions, RefreshOptions, UpOptions};
use pulumi_auto::{DestroyApproval, Error, Secret};

/// The program of the lifecycle test: config `names` (comma separated) and `content`
/// say which files exist and what they hold; `moved` moves `a` (a replacement).
fn files_program(
    dir: PathBuf,
) -> impl Fn(Context) -> std::pin::Pin<Box<dyn Future<Output = ProgramResult> + Send>>
+ Send
+ Sync
+ 'static {
    move |ctx: Context| {
        let dir = dir.clone();
        Box::pin(async move {
            let names = ctx.config_str("names").unwrap_or_default();
            let content = ctx.config_str("content").unwrap_or_else(|| "hello".into());
            let moved = ctx.config_str("moved").is_some();
            let mut sizes = PropertyMap::new();
            for name in names.split(',').filter(|n| !n.is_empty()) {
                let file_name = match (name, moved) {
                    ("a", true) => "a-moved.txt".to_owned(),
                    _ => format!("{name}.txt"),
                };
                let path = dir.join(file_name).display().to_string();
                let r = ctx
                    .register_resource(
                        FILE,
                        name,
                        file(&path, &content),
                        ResourceOptions::default(),
                    )
                    .await?;
                sizes.insert(name.to_owned(), r.output("size").clone());
            }
            ctx.export("sizes", Value::Object(sizes));
            Ok(())
        })
    }
}

#[tokio::test]
async fn create_update_replace_delete() {
    let env = Env::new();
    let stack = env.stack(files_program(env.files.clone())).await;
    stack.set_config("names", "a,b").await.unwrap();

    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(
        up.summary.resource_changes.get("create"),
        Some(&3),
        "{up:?}"
    ); // stack + 2
    assert_eq!(std::fs::read_to_string(env.path("a.txt")).unwrap(), "hello");
    assert_eq!(
        up.outputs["sizes"].value,
        serde_json::json!({"a": 5, "b": 5})
    );

    stack.set_config("content", "hello, world").await.unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(
        up.summary.resource_changes.get("update"),
        Some(&2),
        "{up:?}"
    );
    assert_eq!(
        std::fs::read_to_string(env.path("b.txt")).unwrap(),
        "hello, world"
    );

    stack.set_config("moved", "yes").await.unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(
        up.summary.resource_changes.get("replace"),
        Some(&1),
        "{up:?}"
    );
    assert!(!env.files.join("a.txt").exists());
    assert!(env.files.join("a-moved.txt").exists());

    stack.set_config("names", "b").await.unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(
        up.summary.resource_changes.get("delete"),
        Some(&1),
        "{up:?}"
    );
    assert!(!env.files.join("a-moved.txt").exists());

    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(up.summary.resource_changes.get("same"), Some(&2), "{up:?}");
}

/// What a program saw, handed back to the test.
type Seen = Arc<std::sync::Mutex<Vec<(bool, String, Value)>>>;

fn record(seen: &Seen, ctx: &Context, what: &str, v: &Value) {
    seen.lock()
        .unwrap()
        .push((ctx.is_preview(), what.to_owned(), v.clone()));
}

/// Resources of every kind, outputs plain, nested and secret, config and secret config,
/// a component with children, the Stash, and the readStackOutputs invoke of another stack.
#[tokio::test]
async fn outputs_config_components_stash_and_invoke() {
    let env = Env::new();
    // The stack the invoke reads: its outputs, one secret.
    let producer = env
        .stack(|ctx: Context| async move {
            ctx.export("plain", "from producer");
            ctx.export_secret("hidden", "producer-secret-value");
            Ok(())
        })
        .await;
    let up = producer.up(UpOptions::default()).await.unwrap();
    assert!(up.outputs["hidden"].secret);
    let producer_name = producer.fully_qualified_name();

    let seen: Seen = Default::default();
    let dir = env.files.clone();
    let (s, pn) = (seen.clone(), producer_name.clone());
    let ws = env
        .builder("consumer", move |ctx: Context| {
            let (seen, dir, producer) = (s.clone(), dir.clone(), pn.clone());
            async move {
                // Config: plain and secret; the secret is never in Debug.
                let greeting = ctx.config_str("greeting").ok_or("no greeting")?;
                let token = ctx.config("token").ok_or("no token")?;
                assert!(token.is_secret());
                assert!(ctx.config_str("token").is_none());
                assert!(ctx.is_config_secret("token"));
                let debug = format!("{ctx:?} {token:?} {:?}", ctx.secret_config("token"));
                assert!(!debug.contains("tok-s3cr3t"), "{debug}");
                assert_eq!(ctx.secret_config("token").unwrap().expose(), "tok-s3cr3t");

                // A component with two children, and its outputs.
                let group = ctx
                    .register_component("inline:index:Group", "group", ResourceOptions::default())
                    .await?;
                assert_eq!(group.id, Value::Null);
                let mut paths = Vec::new();
                for name in ["one", "two"] {
                    let path = dir.join(format!("{name}.txt")).display().to_string();
                    let f = ctx
                        .register_resource(
                            FILE,
                            name,
                            file(&path, &greeting),
                            ResourceOptions::default().parent(&group),
                        )
                        .await?;
                    record(&seen, &ctx, "file id", &f.id);
                    record(&seen, &ctx, "file size", f.output("size"));
                    paths.push(f.output("path").clone());
                }
                ctx.register_outputs(&group, props([("paths", Value::Array(paths.clone()))]))
                    .await?;

                // The engine's Stash: its output is its input.
                let stash = ctx
                    .register_resource(
                        "pulumi:index:Stash",
                        "stash",
                        props([(
                            "input",
                            props([("n", 1.into()), ("list", vec!["x", "y"].into())]).into(),
                        )]),
                        ResourceOptions::default(),
                    )
                    .await?;
                record(&seen, &ctx, "stash", stash.output("output"));

                // The other stack's outputs, through the engine's built-in invoke.
                let read = ctx
                    .invoke(
                        "pulumi:pulumi:readStackOutputs",
                        props([("name", producer.into())]),
                    )
                    .await?;
                record(&seen, &ctx, "read", &Value::Object(read.clone()));

                ctx.export("greeting", greeting.as_str());
                ctx.export(
                    "nested",
                    props([("paths", Value::Array(paths)), ("count", 2.into())]),
                );
                ctx.export("token", token);
                ctx.export_secret("derived", format!("{greeting}!"));
                ctx.export("stash", stash.output("output").clone());
                ctx.export(
                    "producerPlain",
                    read["outputs"].get("plain").cloned().unwrap_or(Value::Null),
                );
                ctx.info("logged by the program: tok-s3cr3t").await?;
                Ok(())
            }
        })
        .await
        .build()
        .await
        .unwrap();
    install_files(&ws).await;
    let stack = ws.create_stack("dev").await.unwrap();
    stack.set_config("greeting", "hi").await.unwrap();
    stack
        .set_config("token", Secret::new("tok-s3cr3t"))
        .await
        .unwrap();

    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let ev = events.clone();
    let preview = stack
        .preview(
            PreviewOptions::default()
                .on_event(move |e| ev.lock().unwrap().push(serde_json::to_string(e).unwrap())),
        )
        .await
        .unwrap();
    // The stack, the group, its two files, the stash.
    assert_eq!(
        preview.summary.resource_changes.get("create"),
        Some(&5),
        "{preview:?}"
    );
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(
        up.summary.resource_changes.get("create"),
        Some(&5),
        "{up:?}"
    );

    let o = &up.outputs;
    assert_eq!(o["greeting"].value, "hi");
    assert!(!o["greeting"].secret);
    assert_eq!(o["nested"].value["count"], 2);
    assert_eq!(o["nested"].value["paths"][1], env.path("two.txt"));
    assert!(o["token"].secret && o["token"].value == "tok-s3cr3t");
    assert!(o["derived"].secret && o["derived"].value == "hi!");
    assert_eq!(
        o["stash"].value,
        serde_json::json!({"n": 1, "list": ["x", "y"]})
    );
    assert_eq!(o["producerPlain"].value, "from producer");
    assert_eq!(std::fs::read_to_string(env.path("one.txt")).unwrap(), "hi");

    // The preview saw unknowns where the values were not known yet; the update saw them.
    let seen = seen.lock().unwrap().clone();
    let of = |preview: bool, what: &str| -> Vec<Value> {
        seen.iter()
            .filter(|(p, w, _)| *p == preview && w == what)
            .map(|(_, _, v)| v.clone())
            .collect()
    };
    assert_eq!(of(true, "file id"), [Value::Unknown, Value::Unknown]);
    // (The provider computes a file's size in a preview too.)
    assert_eq!(of(true, "file size"), [Value::from(2), Value::from(2)]);
    assert_eq!(
        of(false, "file id"),
        [
            Value::from(env.path("one.txt")),
            Value::from(env.path("two.txt"))
        ]
    );
    assert_eq!(of(false, "file size"), [Value::from(2), Value::from(2)]);
    assert_eq!(
        of(false, "stash")[0].get("list"),
        Some(&Value::from(vec!["x", "y"]))
    );
    // The invoke reads the other stack's secret output as a secret, and names it.
    let read = &of(false, "read")[0];
    assert!(
        read.get("outputs")
            .unwrap()
            .get("hidden")
            .unwrap()
            .is_secret(),
        "{read:?}"
    );
    assert_eq!(
        read.get("outputs").unwrap().get("hidden").unwrap().as_str(),
        Some("producer-secret-value")
    );
    assert_eq!(
        read.get("secretOutputNames"),
        Some(&Value::from(vec!["hidden"]))
    );

    // The log message reached the engine, the secret redacted.
    let events = events.lock().unwrap().join("\n");
    assert!(
        events.contains("logged by the program: [secret]"),
        "{events}"
    );
    assert!(!events.contains("tok-s3cr3t"));

    // The state: the children are the component's, the component the stack's.
    let dep = stack.export_stack().await.unwrap();
    let text = serde_json::to_string(&dep).unwrap();
    assert!(
        text.contains("urn:pulumi:dev::consumer::pulumi:pulumi:Stack::consumer-dev"),
        "{text}"
    );
    assert!(
        text.contains("urn:pulumi:dev::consumer::inline:index:Group$files:index:File::one"),
        "{text}"
    );
}

/// Eight stacks of eight different programs, each its own workspace and project, run
/// their `up` at once in this one process (each operation has its own server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_inline_stacks_in_parallel() {
    let env = Env::new();
    let mut stacks = Vec::new();
    for i in 0..8 {
        let path = env.path(&format!("p{i}.txt"));
        let ws = env
            .builder(&format!("parallel-{i}"), move |ctx: Context| {
                let path = path.clone();
                async move {
                    let content = format!("program {i}");
                    let f = ctx
                        .register_resource(
                            FILE,
                            "f",
                            file(&path, &content),
                            ResourceOptions::default(),
                        )
                        .await?;
                    ctx.export("which", i);
                    ctx.export("size", f.output("size").clone());
                    Ok(())
                }
            })
            .await
            .build()
            .await
            .unwrap();
        install_files(&ws).await;
        stacks.push(ws.create_stack("dev").await.unwrap());
    }
    let started = std::time::Instant::now();
    let ups =
        futures_util::future::join_all(stacks.iter().map(|s| s.up(UpOptions::default()))).await;
    let wall = started.elapsed();
    for (i, up) in ups.into_iter().enumerate() {
        let up = up.unwrap();
        assert_eq!(up.outputs["which"].value, i, "stack {i}");
        assert_eq!(up.outputs["size"].value, format!("program {i}").len());
        assert_eq!(
            std::fs::read_to_string(env.path(&format!("p{i}.txt"))).unwrap(),
            format!("program {i}")
        );
    }
    eprintln!("8 inline ups at once: {wall:?}");
}

/// A panicking program and a failing one: `Error::ProgramFailed` with the program's
/// message (secret config values redacted), and the driver goes on.
#[tokio::test]
async fn a_panicking_or_failing_program_is_program_failed() {
    let env = Env::new();
    let stack = env
        .stack(|ctx: Context| async move {
            let secret = ctx
                .secret_config("token")
                .map(|s| s.expose().to_owned())
                .unwrap_or_default();
            match ctx.config_str("mode").as_deref() {
                Some("panic") => panic!("the program gave up on {secret}"),
                Some("error") => Err(format!("no good: {secret}").into()),
                Some("engine") => {
                    // The engine's refusal reaches the program as a Result, which it
                    // returns with `?`.
                    ctx.invoke(
                        "pulumi:pulumi:noSuchFunction",
                        props([("arg", secret.into())]),
                    )
                    .await?;
                    Ok(())
                }
                _ => Ok(()),
            }
        })
        .await;
    stack
        .set_config("token", Secret::new("pass-s3cr3t"))
        .await
        .unwrap();
    for (mode, expected) in [
        (
            "panic",
            "the program panicked: the program gave up on [secret]",
        ),
        ("error", "no good: [secret]"),
        (
            "engine",
            "unrecognized function name: 'pulumi:pulumi:noSuchFunction'",
        ),
    ] {
        stack.set_config("mode", mode).await.unwrap();
        for result in [
            stack.up(UpOptions::default()).await.map(|_| ()),
            stack.preview(PreviewOptions::default()).await.map(|_| ()),
        ] {
            let err = result.unwrap_err();
            let Error::ProgramFailed { message, .. } = &err else {
                panic!("{mode}: {err:?}");
            };
            assert!(message.contains(expected), "{mode}: {message}");
            let all = format!("{err} {err:?}");
            assert!(!all.contains("pass-s3cr3t"), "{mode}: {all}");
        }
    }
    // Still alive, and the stack works.
    stack.set_config("mode", "fine").await.unwrap();
    stack.up(UpOptions::default()).await.unwrap();
    assert!(stack.health().await.unwrap().is_clean());
}

/// Refresh, destroy (with its approval: wrong name refused, bound approval honoured) and
/// a program that starts an operation of its own stack from inside (refused).
#[tokio::test]
async fn refresh_destroy_and_nested_operations() {
    let env = Env::new();
    let handle: Arc<std::sync::OnceLock<InlineStack>> = Default::default();
    let nested: Arc<std::sync::Mutex<Option<String>>> = Default::default();
    let (h, n, a) = (handle.clone(), nested.clone(), env.path("a.txt"));
    let stack = env
        .stack(move |ctx: Context| {
            let (h, n, a) = (h.clone(), n.clone(), a.clone());
            async move {
                ctx.register_resource(FILE, "a", file(&a, "a"), ResourceOptions::default())
                    .await?;
                if ctx.config_str("nested").is_some()
                    && let Some(stack) = h.get()
                {
                    let r = stack.up(UpOptions::default()).await;
                    *n.lock().unwrap() = Some(format!("{r:?}"));
                }
                Ok(())
            }
        })
        .await;
    handle.set(stack.clone()).unwrap();
    stack.up(UpOptions::default()).await.unwrap();

    // A file removed behind the stack's back: refresh finds it gone.
    std::fs::remove_file(env.path("a.txt")).unwrap();
    let refreshed = stack.refresh(RefreshOptions::default()).await.unwrap();
    assert_eq!(
        refreshed.summary.resource_changes.get("delete"),
        Some(&1),
        "{refreshed:?}"
    );
    stack.up(UpOptions::default()).await.unwrap();
    assert!(env.files.join("a.txt").exists());

    stack.set_config("nested", "yes").await.unwrap();
    stack.up(UpOptions::default()).await.unwrap();
    let nested = nested.lock().unwrap().clone().unwrap();
    assert!(
        nested.contains("InvalidInput") && nested.contains("from inside"),
        "{nested}"
    );

    // Destroy: the approval must name the stack; a bound one is checked by a fresh
    // preview, which the program serves too.
    let refused = stack
        .destroy(
            DestroyOptions::default(),
            &DestroyApproval::for_stack("prod"),
        )
        .await;
    assert!(
        matches!(refused, Err(Error::DestroyRefused { .. })),
        "{refused:?}"
    );
    assert!(env.files.join("a.txt").exists());
    let plan = stack
        .preview_destroy(DestroyOptions::default())
        .await
        .unwrap();
    let gone = stack
        .destroy(DestroyOptions::default(), &plan.approve("dev"))
        .await
        .unwrap();
    assert_eq!(
        gone.summary.resource_changes.get("delete"),
        Some(&2),
        "{gone:?}"
    );
    assert!(!env.files.join("a.txt").exists());
}

/// An ephemeral stack of an inline program: created with its config, up, torn down.
#[tokio::test]
async fn ephemeral_inline_stack() {
    let env = Env::new();
    let path = env.path("eph.txt");
    let bin = provider_binary();
    let version = provider_version(&bin);
    let stack = env
        .builder("ephemeral", move |ctx: Context| {
            let path = path.clone();
            async move {
                let content = ctx.config_str("content").unwrap_or_default();
                ctx.register_resource(FILE, "f", file(&path, &content), ResourceOptions::default())
                    .await?;
                Ok(())
            }
        })
        .await
        .create_ephemeral(|b| b.prefix("inline-eph").config("content", "ephemeral"))
        .await
        .unwrap();
    stack
        .workspace()
        .install_plugin_from_file("resource", "files", &version, &bin)
        .await
        .unwrap();
    assert!(stack.name().starts_with("inline-eph-"));
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(
        up.summary.resource_changes.get("create"),
        Some(&2),
        "{up:?}"
    );
    assert_eq!(
        std::fs::read_to_string(env.path("eph.txt")).unwrap(),
        "ephemeral"
    );
    stack.teardown().await.unwrap();
    assert!(!env.files.join("eph.txt").exists());
}

/// The resource options reach the engine: an explicit provider (and its version),
/// dependencies, protect, ignore changes, replace on changes (delete before replace),
/// additional secret outputs.
#[tokio::test]
async fn resource_options_reach_the_engine() {
    let env = Env::new();
    let version = provider_version(&provider_binary());
    let (a, b) = (env.path("a.txt"), env.path("b.txt"));
    let stack = env
        .stack(move |ctx: Context| {
            let (a, b, version) = (a.clone(), b.clone(), version.clone());
            async move {
                let content = ctx.config_str("content").unwrap_or_else(|| "one".into());
                let protect = ctx.config_str("protect").is_some();
                let provider = ctx
                    .register_resource(
                        "pulumi:providers:files",
                        "explicit",
                        PropertyMap::new(),
                        ResourceOptions::default().version(version.clone()),
                    )
                    .await?;
                let first = ctx
                    .register_resource(
                        FILE,
                        "a",
                        file(&a, &content),
                        ResourceOptions::default()
                            .provider(&provider)
                            .protect(protect)
                            .ignore_changes(["content"])
                            .additional_secret_outputs(["size"]),
                    )
                    .await?;
                ctx.register_resource(
                    FILE,
                    "b",
                    file(&b, &content),
                    ResourceOptions::default()
                        .depends_on(&first)
                        .replace_on_changes(["content"])
                        // Same path: the old file must go before the new one is written.
                        .delete_before_replace(true)
                        .version(version),
                )
                .await?;
                ctx.export("size", first.output("size").clone());
                Ok(())
            }
        })
        .await;
    stack.set_config("protect", "yes").await.unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert!(
        up.outputs["size"].secret,
        "additional secret output: {up:?}"
    );

    let dep = serde_json::to_value(stack.export_stack().await.unwrap()).unwrap();
    let resources = dep
        .pointer("/deployment/resources")
        .and_then(|r| r.as_array())
        .cloned()
        .unwrap_or_default();
    let find = |name: &str| {
        resources
            .iter()
            .find(|r| {
                r["urn"]
                    .as_str()
                    .is_some_and(|u| u.ends_with(&format!("::{name}")))
            })
            .cloned()
            .unwrap_or_else(|| panic!("{name} not in {dep}"))
    };
    let (provider, a, b) = (find("explicit"), find("a"), find("b"));
    assert!(
        a["provider"]
            .as_str()
            .unwrap()
            .starts_with(provider["urn"].as_str().unwrap()),
        "{a}"
    );
    assert_eq!(a["protect"], true, "{a}");
    assert_eq!(b["dependencies"], serde_json::json!([a["urn"]]), "{b}");
    assert!(
        b["provider"]
            .as_str()
            .unwrap()
            .contains("pulumi:providers:files::default"),
        "{b}"
    );

    // A content change: ignored on `a`, a replacement of `b`.
    stack.set_config("content", "two").await.unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(
        up.summary.resource_changes.get("replace"),
        Some(&1),
        "{up:?}"
    );
    assert_eq!(std::fs::read_to_string(env.path("a.txt")).unwrap(), "one");
    assert_eq!(std::fs::read_to_string(env.path("b.txt")).unwrap(), "two");

    // Protected: the destroy fails and `a` stays; unprotected, it goes.
    let approval = DestroyApproval::for_stack("dev");
    assert!(
        stack
            .destroy(DestroyOptions::default(), &approval)
            .await
            .is_err()
    );
    assert!(env.files.join("a.txt").exists());
    stack.remove_config("protect").await.unwrap();
    stack.up(UpOptions::default()).await.unwrap();
    stack
        .destroy(DestroyOptions::default(), &approval)
        .await
        .unwrap();
    assert!(!env.files.join("a.txt").exists());
}
