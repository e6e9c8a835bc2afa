//! The engine operations against the real CLI on the fixture programs: real files are
//! created, updated, replaced and deleted, and the resource changes are asserted exactly.

mod common;

use std::sync::{Arc, Mutex};

use common::{CountingCli, TestEnv};
use futures_util::StreamExt;
use pulumi_auto::ops::{
    DestroyOptions, ImportOptions, ImportResource, OpResult, PreviewOptions, PreviewResult,
    RefreshOptions, UpOptions, UpResult,
};
use pulumi_auto::secret::Revealed;
use pulumi_auto::{DestroyPlan, Error, Secret, Stack};

async fn files_stack(env: &TestEnv) -> Stack {
    let stack = env.ws.create_stack("dev").await.unwrap();
    stack
        .set_config("dir", env.files.display().to_string())
        .await
        .unwrap();
    stack
}

fn changes(s: &pulumi_auto::ops::OpSummary) -> Vec<(String, u64)> {
    s.resource_changes
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

fn ch(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

on_both_backends! {
#[tokio::test]
async fn create_update_replace_delete_real_files() {
    let env = TestEnv::new("files").await;
    let stack = files_stack(&env).await;

    // create
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(up.summary.result, "succeeded");
    assert_eq!(changes(&up.summary), ch(&[("create", 3)]));
    assert_eq!(env.file_names(), ["greeting.txt", "note.txt"]);
    assert_eq!(env.read_file("greeting.txt").as_deref(), Some("hello"));
    assert_eq!(up.outputs["count"].value, serde_json::json!(2));
    assert_eq!(
        up.outputs["token"].value,
        serde_json::json!("token-default")
    );
    assert!(up.outputs["token"].secret);
    assert!(!up.outputs["greetingPath"].secret);

    // no change
    let again = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(changes(&again.summary), ch(&[("same", 3)]));
    assert!(again.summary.is_no_op());

    // update: content change
    stack.set_config("greeting", "bonjour").await.unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(changes(&up.summary), ch(&[("same", 2), ("update", 1)]));
    assert_eq!(env.read_file("greeting.txt").as_deref(), Some("bonjour"));

    // replace: name change
    stack.set_config("noteName", "renamed.txt").await.unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(changes(&up.summary), ch(&[("replace", 1), ("same", 2)]));
    assert_eq!(env.file_names(), ["greeting.txt", "renamed.txt"]);

    // create then delete: an extra resource comes and goes
    stack.set_config("extra", "true").await.unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(changes(&up.summary), ch(&[("create", 1), ("same", 3)]));
    assert_eq!(up.outputs["count"].value, serde_json::json!(3));
    stack.set_config("extra", "false").await.unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(changes(&up.summary), ch(&[("delete", 1), ("same", 3)]));
    assert_eq!(env.file_names(), ["greeting.txt", "renamed.txt"]);

    // refresh sees a file changed behind Pulumi's back
    std::fs::write(env.files.join("greeting.txt"), "edited by hand").unwrap();
    let refreshed = stack.refresh(RefreshOptions::default()).await.unwrap();
    assert_eq!(
        changes(&refreshed.summary),
        ch(&[("same", 2), ("update", 1)])
    );
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(changes(&up.summary), ch(&[("same", 2), ("update", 1)]));
    assert_eq!(env.read_file("greeting.txt").as_deref(), Some("bonjour"));

    // destroy
    let plan = stack
        .preview_destroy(DestroyOptions::default())
        .await
        .unwrap();
    assert_eq!(changes(&plan.summary), ch(&[("delete", 3)]));
    assert_eq!(plan.deletions().len(), 3, "{:?}", plan.deletions());
    assert!(plan.deletions().iter().all(|d| d.op == "delete"));
    assert_eq!(env.file_names().len(), 2, "a destroy preview touched files");
    let destroyed = stack
        .destroy(DestroyOptions::default(), &plan.approve(stack.name()))
        .await
        .unwrap();
    assert_eq!(changes(&destroyed.summary), ch(&[("delete", 3)]));
    assert!(env.file_names().is_empty());
}
}

/// The events of a stream until it ends, and whether one was the summary.
async fn drained(mut events: pulumi_auto::ops::OperationEvents) -> (usize, bool) {
    let (mut n, mut summary) = (0, false);
    while let Some(ev) = events.next().await {
        n += 1;
        summary |= ev.summary_event().is_some();
    }
    (n, summary)
}

on_both_backends! {
#[tokio::test]
async fn results_serialise_with_secrets_masked_unless_revealed() {
    let env = TestEnv::new("files").await;
    let stack = files_stack(&env).await;
    let token = "tok-3f9a-never-shown";
    stack.set_config("token", Secret::new(token)).await.unwrap();
    let up = stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(up.outputs["token"].value, serde_json::json!(token));

    let masked = serde_json::to_string(&up).unwrap();
    assert!(!masked.contains(token), "{masked}");
    let back: UpResult = serde_json::from_str(&masked).unwrap();
    assert!(back.outputs["token"].secret && back.outputs["token"].is_redacted());
    assert_eq!(back.outputs["count"], up.outputs["count"]);
    assert_eq!((&back.summary, &back.stdout), (&up.summary, &up.stdout));
    let revealed = serde_json::to_string(&Revealed(&up)).unwrap();
    assert!(revealed.contains(token));
    assert_eq!(serde_json::from_str::<UpResult>(&revealed).unwrap(), up);

    // The history holds the config in plaintext (`--show-secrets`): masked when written.
    let history = stack.history(0, 0).await.unwrap();
    let config = &history[0].config["files:token"];
    assert_eq!(config.as_str(), Some(token));
    let text = serde_json::to_string(&history).unwrap();
    assert!(!text.contains(token), "{text}");
    assert!(
        serde_json::to_string(&Revealed(&history))
            .unwrap()
            .contains(token)
    );

    // Every operation's result goes through JSON and back; each streams its events.
    let (events, preview) = stack.preview_with_events(PreviewOptions::default());
    let (streamed, preview) = tokio::join!(drained(events), preview);
    let preview = preview.unwrap();
    assert!(streamed.1, "{streamed:?}");
    let json = serde_json::to_string(&preview).unwrap();
    assert_eq!(
        serde_json::from_str::<PreviewResult>(&json).unwrap(),
        preview
    );
    let (events, refreshed) = stack.refresh_with_events(RefreshOptions::default());
    let (streamed, refreshed) = tokio::join!(drained(events), refreshed);
    assert!(streamed.1, "{streamed:?}");
    let json = serde_json::to_string(&refreshed.unwrap()).unwrap();
    let refreshed: OpResult = serde_json::from_str(&json).unwrap();
    assert_eq!(changes(&refreshed.summary), ch(&[("same", 3)]));
    let (events, plan) = stack.preview_destroy_with_events(DestroyOptions::default());
    let (streamed, plan) = tokio::join!(drained(events), plan);
    assert!(streamed.1, "{streamed:?}");
    let plan = plan.unwrap();
    let json = serde_json::to_string(&plan).unwrap();
    let read_back: DestroyPlan = serde_json::from_str(&json).unwrap();
    assert_eq!(read_back, plan);
    assert_eq!(read_back.deletions().len(), 3);
    let (events, destroyed) =
        stack.destroy_with_events(DestroyOptions::default(), &read_back.approve("dev"));
    let (streamed, destroyed) = tokio::join!(drained(events), destroyed);
    assert!(streamed.1, "{streamed:?}");
    assert_eq!(changes(&destroyed.unwrap().summary), ch(&[("delete", 3)]));
    assert!(env.file_names().is_empty());
}
}

on_both_backends! {
#[tokio::test]
async fn preview_lists_steps_and_diffs() {
    let env = TestEnv::new("files").await;
    let stack = files_stack(&env).await;
    let plan = stack.preview(PreviewOptions::default()).await.unwrap();
    assert!(plan.summary.is_preview);
    assert_eq!(changes(&plan.summary), ch(&[("create", 3)]));
    let ops: Vec<String> = plan.plan.steps.iter().map(|s| s.op.to_string()).collect();
    assert_eq!(ops.iter().filter(|o| *o == "create").count(), 3, "{ops:?}");
    assert!(env.file_names().is_empty(), "a preview created files");

    stack.up(UpOptions::default()).await.unwrap();
    stack.set_config("greeting", "changed").await.unwrap();
    stack.set_config("noteName", "other.txt").await.unwrap();
    let plan = stack.preview(PreviewOptions::default()).await.unwrap();
    let greeting = plan
        .plan
        .steps
        .iter()
        .find(|s| s.urn.ends_with("::greeting"))
        .expect("a step for greeting");
    assert_eq!(greeting.op.to_string(), "update");
    let old = greeting.old_state.as_ref().expect("old state");
    let new = greeting.new_state.as_ref().expect("new state");
    assert_eq!(old.inputs["content"], serde_json::json!("hello"));
    assert_eq!(new.inputs["content"], serde_json::json!("changed"));
    let note = plan
        .plan
        .steps
        .iter()
        .find(|s| s.urn.ends_with("::note"))
        .unwrap();
    assert_eq!(note.op.to_string(), "replace");
    assert!(
        note.replace_reasons.iter().any(|r| r == "path"),
        "{:?}",
        note.replace_reasons
    );
    assert_eq!(env.read_file("greeting.txt").as_deref(), Some("hello"));
}
}

on_both_backends! {
#[tokio::test]
async fn failing_resource_gives_an_event_and_a_typed_error() {
    let env = TestEnv::new("failing").await;
    let stack = files_stack(&env).await;
    stack.set_config("mode", "create").await.unwrap();
    let failed = Arc::new(Mutex::new(Vec::new()));
    let seen = failed.clone();
    let err = stack
        .up(UpOptions::default().on_event(move |ev| {
            if ev.is_resource_failure() {
                seen.lock().unwrap().push(ev.sequence);
            }
        }))
        .await
        .unwrap_err();
    assert_eq!(failed.lock().unwrap().len(), 1, "one resOpFailedEvent");
    match &err {
        Error::ResourcesFailed {
            resources,
            messages,
            failure,
        } => {
            assert_eq!(failure.exit_code, Some(1));
            assert_eq!(resources.len(), 1);
            assert!(resources[0].ends_with("::bad"), "{resources:?}");
            assert!(
                messages.iter().any(|m| m.contains("create refused")),
                "{messages:?}"
            );
        }
        other => panic!("expected ResourcesFailed, got {other:?}"),
    }
    assert!(err.to_string().contains("create refused"), "{err}");
    assert_eq!(
        env.file_names(),
        ["good.txt"],
        "the good resource was created"
    );
}
}

on_both_backends! {
#[tokio::test]
async fn targets_replace_and_expect_no_changes() {
    let env = TestEnv::new("files").await;
    let stack = files_stack(&env).await;
    stack.up(UpOptions::default()).await.unwrap();
    let urn = |name: &str| format!("urn:pulumi:dev::files::pulumi-python:dynamic:Resource::{name}");

    stack.set_config("greeting", "targeted").await.unwrap();
    stack.set_config("noteName", "moved.txt").await.unwrap();
    let up = stack
        .up(UpOptions::default().target(urn("greeting")))
        .await
        .unwrap();
    assert_eq!(up.summary.count("update"), 1);
    assert_eq!(up.summary.count("replace"), 0, "note was not targeted");
    assert_eq!(env.file_names(), ["greeting.txt", "note.txt"]);

    let err = stack
        .up(UpOptions::default().expect_no_changes(true))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnexpectedChanges { .. }), "{err:?}");
    stack.up(UpOptions::default()).await.unwrap();
    let same = stack
        .up(UpOptions::default().expect_no_changes(true))
        .await
        .unwrap();
    assert!(same.summary.is_no_op());

    let up = stack
        .up(UpOptions::default().replace(urn("greeting")))
        .await
        .unwrap();
    assert_eq!(up.summary.count("replace"), 1);
    assert_eq!(env.read_file("greeting.txt").as_deref(), Some("targeted"));
}
}

on_both_backends! {
#[tokio::test]
async fn import_runs_the_engine_import_step() {
    // `pulumi import` of a Python dynamic-provider resource reaches the provider's read,
    // which cannot rebuild the provider without its serialised `__provider` input: the
    // CLI cannot adopt such resources. What is tested here is everything up to that:
    // the import file, the argv, the engine's import step for the right URN, the event
    // stream, and the typed error naming the resource and the provider's message.
    let env = TestEnv::new("files").await;
    let stack = files_stack(&env).await;
    stack.up(UpOptions::default()).await.unwrap();
    let note_urn = "urn:pulumi:dev::files::pulumi-python:dynamic:Resource::note";
    let note_id = env.files.join("note.txt").display().to_string();
    let mut dep = stack.export_stack().await.unwrap();
    dep.deployment
        .as_mut()
        .unwrap()
        .resources
        .retain(|r| r.urn != note_urn);
    // Dropping `note` from the state needs an approval naming the stack.
    stack
        .import_stack_approved(&dep, &pulumi_auto::DestroyApproval::for_stack("dev"))
        .await
        .unwrap();
    let plan = stack.preview(PreviewOptions::default()).await.unwrap();
    assert_eq!(
        plan.summary.count("create"),
        1,
        "note is no longer in the state"
    );

    let steps = Arc::new(Mutex::new(Vec::new()));
    let seen = steps.clone();
    let res = stack
        .import(
            ImportOptions::resources(vec![ImportResource::new(
                "pulumi-python:dynamic:Resource",
                "note",
                note_id,
            )])
            .protect(false)
            .on_event(move |ev| {
                if ev.is_resource_pre()
                    && let Some(step) = ev.step()
                {
                    seen.lock()
                        .unwrap()
                        .push((step.op.to_string(), step.urn.clone()));
                }
            }),
        )
        .await;
    let steps = steps.lock().unwrap().clone();
    assert!(
        steps.contains(&("import".to_owned(), note_urn.to_owned())),
        "{steps:?}"
    );
    match res {
        Err(Error::ResourcesFailed {
            resources,
            messages,
            ..
        }) => {
            assert_eq!(resources, [note_urn]);
            assert!(
                messages.iter().any(|m| m.contains("'__provider'")),
                "{messages:?}"
            );
        }
        other => panic!("expected the provider's refusal, got {other:?}"),
    }
    // Nothing was adopted, and the file is untouched.
    assert_eq!(env.read_file("note.txt").as_deref(), Some("a note\n"));
}
}

on_both_backends! {
#[tokio::test]
async fn events_stream_live_in_order() {
    let env = TestEnv::new("slow").await;
    let stack = env.ws.create_stack("dev").await.unwrap();
    stack
        .set_all_config([
            ("dir", env.files.display().to_string()),
            ("count", "2".to_owned()),
            ("delay", "2".to_owned()),
        ])
        .await
        .unwrap();
    let (mut events, op) = stack.up_with_events(UpOptions::default());
    let op = tokio::spawn(op);
    let mut seqs = Vec::new();
    let mut first_resource_at = None;
    while let Some(ev) = events.next().await {
        if first_resource_at.is_none() && ev.is_resource_pre() {
            // The files appear only after each 2 s create: an event seen now arrived live.
            first_resource_at = Some(env.file_names().len());
        }
        seqs.push(ev.sequence);
    }
    let up = op.await.unwrap().unwrap();
    assert_eq!(first_resource_at, Some(0), "events arrived only at the end");
    assert_eq!(
        seqs,
        (0..seqs.len() as u64).collect::<Vec<_>>(),
        "sequence gaps"
    );
    assert_eq!(up.summary.count("create"), 3);
}
}

on_both_backends! {
#[tokio::test]
async fn up_costs_one_process_or_two_with_secret_outputs() {
    let env = TestEnv::new("many").await;
    let counting = CountingCli::new(env.root.path()).await;
    let cmd = counting.command().await;
    let ws = env.workspace_with(|b| b.pulumi_command(cmd)).await;
    let stack = ws.create_stack("dev").await.unwrap();
    stack
        .set_all_config([
            ("dir", env.files.display().to_string()),
            ("count", "2".to_owned()),
        ])
        .await
        .unwrap();
    counting.reset();
    stack.up(UpOptions::default()).await.unwrap();
    let lines = counting.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("up "), "{lines:?}");

    // files has a secret output: one more process reveals it.
    let env2 = TestEnv::new("files").await;
    let counting2 = CountingCli::new(env2.root.path()).await;
    let cmd = counting2.command().await;
    let ws2 = env2.workspace_with(|b| b.pulumi_command(cmd)).await;
    let s2 = ws2.create_stack("dev").await.unwrap();
    s2.set_config("dir", env2.files.display().to_string())
        .await
        .unwrap();
    counting2.reset();
    s2.up(UpOptions::default()).await.unwrap();
    let lines = counting2.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[1].starts_with("stack export --show-secrets"),
        "{lines:?}"
    );
}
}

on_both_backends! {
#[tokio::test]
async fn plan_exclude_refresh_and_preview_only_refresh() {
    let env = TestEnv::new("files").await;
    let stack = files_stack(&env).await;
    stack.up(UpOptions::default()).await.unwrap();
    let urn = |name: &str| format!("urn:pulumi:dev::files::pulumi-python:dynamic:Resource::{name}");

    // A plan saved by preview is what up applies.
    stack.set_config("greeting", "planned").await.unwrap();
    let plan_file = env.root.path().join("plan.json");
    stack
        .preview(PreviewOptions::default().save_plan(&plan_file))
        .await
        .unwrap();
    assert!(plan_file.exists());
    let up = stack
        .up(UpOptions::default().plan(&plan_file))
        .await
        .unwrap();
    assert_eq!(up.summary.count("update"), 1);
    assert_eq!(env.read_file("greeting.txt").as_deref(), Some("planned"));

    // exclude: the excluded resource keeps its old state.
    stack.set_config("greeting", "excluded").await.unwrap();
    stack.set_config("noteName", "renamed.txt").await.unwrap();
    let up = stack
        .up(UpOptions::default().exclude(urn("greeting")))
        .await
        .unwrap();
    assert_eq!(up.summary.count("update"), 0);
    assert_eq!(up.summary.count("replace"), 1);
    assert_eq!(env.read_file("greeting.txt").as_deref(), Some("planned"));

    // preview-only refresh sees drift without recording it; refresh-before-up repairs it.
    std::fs::write(env.files.join("greeting.txt"), "drifted").unwrap();
    let seen = stack
        .refresh(RefreshOptions::default().preview_only(true))
        .await
        .unwrap();
    assert!(seen.summary.is_preview);
    assert_eq!(seen.summary.count("update"), 1);
    let again = stack
        .refresh(RefreshOptions::default().preview_only(true))
        .await
        .unwrap();
    assert_eq!(
        again.summary.count("update"),
        1,
        "a preview-only refresh changed the state"
    );
    let up = stack.up(UpOptions::default().refresh(true)).await.unwrap();
    assert_eq!(up.summary.count("update"), 1);
    assert_eq!(env.read_file("greeting.txt").as_deref(), Some("excluded"));
}
}

on_both_backends! {
#[tokio::test]
async fn continue_on_error_creates_what_it_can() {
    let env = TestEnv::new("failing").await;
    let stack = files_stack(&env).await;
    stack.set_config("mode", "create").await.unwrap();
    let err = stack
        .up(UpOptions::default().continue_on_error(true).parallel(1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ResourcesFailed { .. }), "{err:?}");
    assert_eq!(env.file_names(), ["good.txt"]);
}
}
