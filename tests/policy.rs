//! Policy packs against the real CLI: the Python pack `fixtures/policy/files-policy` runs
//! through the language host's RunPlugin on the `files` program. An advisory violation is a
//! typed policy event and the operation succeeds; a mandatory one stops the update with
//! `Error::PolicyViolations` before the violating file exists; a config file
//! (`--policy-pack-config`) changes the outcome.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::TestEnv;
use futures_util::StreamExt;
use pulumi_auto::error::PolicyViolation;
use pulumi_auto::events::{EngineEvent, EventKind, PolicyEvent, PolicySummaryEvent};
use pulumi_auto::ops::{PreviewOptions, UpOptions};
use pulumi_auto::{Error, Stack};

const PACK: &str = "files-policy";
const PACK_VERSION: &str = "0.1.0";
const FILE_TYPE: &str = "pulumi-python:dynamic:Resource";

/// The virtualenv with pulumi-policy (scripts/prepare-policy).
fn policy_venv() -> PathBuf {
    let dir = std::env::var_os("PULUMI_AUTO_TEST_POLICY_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            pulumi_auto::cli::cache_dir().map(|c| {
                c.join(format!(
                    "policy-venv-{}",
                    pulumi_auto::cli::pinned_version()
                ))
            })
        })
        .expect("no cache directory");
    assert!(
        dir.join("bin/python").exists(),
        "the policy pack's virtualenv {} is missing: run the tests with scripts/test (it runs scripts/prepare-policy)",
        dir.display()
    );
    dir
}

/// A copy of the test pack in the test's directory, using the prepared virtualenv.
fn policy_pack(env: &TestEnv) -> PathBuf {
    let src = common::repo().join("fixtures/policy").join(PACK);
    let dest = env.root.path().join(PACK);
    std::fs::create_dir_all(&dest).unwrap();
    for name in ["PulumiPolicy.yaml", "__main__.py", "requirements.txt"] {
        std::fs::copy(src.join(name), dest.join(name)).unwrap();
    }
    let yaml = dest.join("PulumiPolicy.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    assert!(text.contains("virtualenv: venv"), "{text}");
    let text = text.replace(
        "virtualenv: venv",
        &format!("virtualenv: {}", policy_venv().display()),
    );
    std::fs::write(&yaml, text).unwrap();
    dest
}

/// A policy config file in the test's directory.
fn config_file(env: &TestEnv, name: &str, json: serde_json::Value) -> PathBuf {
    let path = env.root.path().join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    path
}

async fn files_stack(env: &TestEnv) -> Stack {
    let stack = env.ws.create_stack("dev").await.unwrap();
    stack
        .set_config("dir", env.files.display().to_string())
        .await
        .unwrap();
    stack
}

fn policy_events(events: &[EngineEvent]) -> Vec<&PolicyEvent> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Policy(p) => Some(p),
            _ => None,
        })
        .collect()
}

/// (policy, enforcement level, resource name) of each violation event, sorted.
fn violations(events: &[EngineEvent]) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = policy_events(events)
        .into_iter()
        .map(|p| {
            let urn = p.resource_urn.as_deref().unwrap_or_default();
            (
                p.policy_name.clone(),
                p.enforcement_level.clone(),
                urn.rsplit("::").next().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The mandatory ones of [`violations`].
fn mandatory(events: &[EngineEvent]) -> Vec<(String, String, String)> {
    violations(events)
        .into_iter()
        .filter(|(_, level, _)| level == "mandatory")
        .collect()
}

fn v(policy: &str, level: &str, resource: &str) -> (String, String, String) {
    (policy.into(), level.into(), resource.into())
}

/// The per-resource analysis summary for the resource named `name`.
fn analyze_summary<'a>(events: &'a [EngineEvent], name: &str) -> &'a PolicySummaryEvent {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::PolicyAnalyzeSummary(s)
                if s.resource_urn
                    .as_deref()
                    .is_some_and(|u| u.ends_with(&format!("::{name}"))) =>
            {
                Some(s)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no policyAnalyzeSummaryEvent for {name}"))
}

fn sorted(v: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = v.iter().map(String::as_str).collect();
    v.sort();
    v
}

/// What every run with the pack shows: it was loaded, and the summary names it.
fn assert_pack_ran(events: &[EngineEvent], pack_dir: &Path) {
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, EventKind::PolicyLoad(_))),
        "no policyLoadEvent"
    );
    let summary = events
        .iter()
        .find_map(|e| e.summary_event())
        .expect("no summary event");
    let key = format!("{PACK}|local|{}", pack_dir.display());
    assert_eq!(
        summary.policy_packs.get(&key).map(String::as_str),
        Some(PACK_VERSION),
        "{:?}",
        summary.policy_packs
    );
}

fn collector() -> (
    Arc<Mutex<Vec<EngineEvent>>>,
    impl Fn(&EngineEvent) + Send + Sync + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (seen, move |e: &EngineEvent| {
        sink.lock().unwrap().push(e.clone())
    })
}

#[tokio::test]
async fn advisory_violation_is_a_typed_event_and_the_operation_succeeds() {
    let env = TestEnv::new("files").await;
    let pack = policy_pack(&env);
    let stack = files_stack(&env).await;

    // Preview, events as a stream: the default greeting "hello" has no final newline.
    let (mut stream, op) =
        stack.preview_with_events(PreviewOptions::default().policy_pack(&pack, None));
    let op = tokio::spawn(op);
    let mut events = Vec::new();
    while let Some(ev) = stream.next().await {
        events.push(ev);
    }
    let plan = op.await.unwrap().unwrap();
    assert_eq!(plan.summary.result, "succeeded");
    assert_eq!(plan.summary.count("create"), 3);
    assert!(env.file_names().is_empty(), "a preview created files");
    assert_pack_ran(&events, &pack);
    assert_eq!(
        violations(&events),
        [v("content-ends-with-newline", "advisory", "greeting")]
    );
    let p = policy_events(&events)[0];
    assert_eq!(p.policy_pack_name, PACK);
    assert_eq!(p.policy_pack_version, PACK_VERSION);
    assert_eq!(p.policy_pack_version_tag, PACK_VERSION);
    assert_eq!(
        p.message,
        "A file's content should end with a newline.\nfile greeting does not end with a newline\n"
    );
    assert_eq!(p.color, "never");
    assert!(
        p.extra.is_empty(),
        "fields the model does not know: {:?}",
        p.extra
    );
    let greeting = analyze_summary(&events, "greeting");
    assert_eq!(greeting.policy_pack_name, PACK);
    assert_eq!(sorted(&greeting.failed), ["content-ends-with-newline"]);
    assert_eq!(
        sorted(&greeting.passed),
        ["max-content-size", "no-forbidden-content"]
    );
    let note = analyze_summary(&events, "note");
    assert!(note.failed.is_empty(), "{note:?}");
    assert_eq!(note.passed.len(), 3, "{note:?}");
    // Every event of the run is of a kind the model knows.
    for e in &events {
        assert!(
            !matches!(e.kind, EventKind::Unknown { .. }),
            "unknown event: {e:?}"
        );
    }

    // Up, events through the callback: the same advisory, and the files are written.
    let (seen, on_event) = collector();
    let up = stack
        .up(UpOptions::default()
            .policy_pack(&pack, None)
            .on_event(on_event))
        .await
        .unwrap();
    assert_eq!(up.summary.result, "succeeded");
    assert_eq!(up.summary.count("create"), 3);
    assert_eq!(env.read_file("greeting.txt").as_deref(), Some("hello"));
    assert_eq!(env.read_file("note.txt").as_deref(), Some("a note\n"));
    let events = seen.lock().unwrap().clone();
    assert_pack_ran(&events, &pack);
    assert_eq!(
        violations(&events),
        [v("content-ends-with-newline", "advisory", "greeting")]
    );
    assert!(
        up.stdout.contains("[advisory]  content-ends-with-newline"),
        "{}",
        up.stdout
    );

    // Without the pack nothing is analysed.
    let (seen, on_event) = collector();
    stack
        .preview(PreviewOptions::default().on_event(on_event))
        .await
        .unwrap();
    let events = seen.lock().unwrap().clone();
    assert!(
        !events.iter().any(|e| e.name().starts_with("policy")),
        "policy events without a pack"
    );
}

#[tokio::test]
async fn mandatory_violation_fails_with_a_typed_error_and_creates_no_file() {
    let env = TestEnv::new("files").await;
    let pack = policy_pack(&env);
    let stack = files_stack(&env).await;
    stack
        .set_config("greeting", "forbidden words\n")
        .await
        .unwrap();

    let (seen, on_event) = collector();
    let err = stack
        .up(UpOptions::default()
            .policy_pack(&pack, None)
            .on_event(on_event))
        .await
        .unwrap_err();
    let Error::PolicyViolations {
        violations: found,
        failure,
    } = &err
    else {
        panic!("expected PolicyViolations, got {err:?}");
    };
    assert_eq!(
        found,
        &[PolicyViolation {
            policy_pack: format!("{PACK}@v{PACK_VERSION}"),
            policy: "no-forbidden-content".into(),
            resource: Some(format!("{FILE_TYPE}: greeting")),
            message: "A file's content must not contain the word 'forbidden'.\n\
                      file greeting contains the word 'forbidden'"
                .into(),
        }]
    );
    assert_eq!(failure.exit_code, Some(1));
    assert!(
        err.to_string().starts_with(
            "1 mandatory policy violation(s): files-policy@v0.1.0 no-forbidden-content"
        ),
        "{err}"
    );
    // The violating resource was never created; the engine stopped the update.
    assert_eq!(env.read_file("greeting.txt"), None);
    let events = seen.lock().unwrap().clone();
    assert_eq!(
        violations(&events),
        [v("no-forbidden-content", "mandatory", "greeting")]
    );
    let summary = events.iter().find_map(|e| e.summary_event()).unwrap();
    assert_eq!(summary.result, "failed");
    assert!(
        !events
            .iter()
            .any(|e| e.is_resource_outputs() && e.resource_name() == Some("greeting")),
        "greeting was created"
    );

    // A preview reports the same violation as a typed event, and fails with the same
    // typed error (read from the events: `preview --json` prints no policy listing).
    let (seen, on_event) = collector();
    let err = stack
        .preview(
            PreviewOptions::default()
                .policy_pack(&pack, None)
                .on_event(on_event),
        )
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), Some(1), "{err:?}");
    match &err {
        Error::PolicyViolations { violations, .. } => assert_eq!(violations, found),
        other => panic!("expected PolicyViolations from the preview, got {other:?}"),
    }
    assert_eq!(
        violations(&seen.lock().unwrap()),
        [v("no-forbidden-content", "mandatory", "greeting")]
    );

    // The same update without the pack goes through: the pack was what stopped it.
    stack.up(UpOptions::default()).await.unwrap();
    assert_eq!(
        env.read_file("greeting.txt").as_deref(),
        Some("forbidden words\n")
    );
}

#[tokio::test]
async fn policy_config_file_changes_the_outcome() {
    let env = TestEnv::new("files").await;
    let pack = policy_pack(&env);
    let stack = files_stack(&env).await;
    // "hello" is 5 bytes, "a note\n" 7; the default limit is 1024.
    let tight = config_file(
        &env,
        "tight.json",
        serde_json::json!({ "max-content-size": { "maxSize": 6 } }),
    );
    let quiet = config_file(
        &env,
        "quiet.json",
        serde_json::json!({
            "max-content-size": { "maxSize": 4 },
            "content-ends-with-newline": "disabled",
        }),
    );
    let lenient = config_file(
        &env,
        "lenient.json",
        serde_json::json!({
            "max-content-size": { "enforcementLevel": "advisory", "maxSize": 4 },
            "content-ends-with-newline": "disabled",
        }),
    );

    // Without a config file the pack's defaults pass everything but the advisory.
    let (seen, on_event) = collector();
    stack
        .preview(
            PreviewOptions::default()
                .policy_pack(&pack, None)
                .on_event(on_event),
        )
        .await
        .unwrap();
    assert_eq!(
        violations(&seen.lock().unwrap()),
        [v("content-ends-with-newline", "advisory", "greeting")]
    );

    // A limit of 6 bytes: the note is too big, and the update stops before writing it.
    let (seen, on_event) = collector();
    let err = stack
        .up(UpOptions::default()
            .policy_pack(&pack, Some(tight.clone()))
            .on_event(on_event))
        .await
        .unwrap_err();
    let Error::PolicyViolations {
        violations: found, ..
    } = &err
    else {
        panic!("expected PolicyViolations, got {err:?}");
    };
    let found: Vec<(&str, Option<&str>)> = found
        .iter()
        .map(|v| (v.policy.as_str(), v.resource.as_deref()))
        .collect();
    assert_eq!(
        found,
        [("max-content-size", Some(&*format!("{FILE_TYPE}: note")))]
    );
    assert!(
        err.to_string()
            .contains("file note has 7 bytes, more than the limit of 6"),
        "{err}"
    );
    assert_eq!(env.read_file("note.txt"), None);
    // The engine stops at the first mandatory violation: whether the greeting was analysed
    // too (and got its advisory) depends on which resource came first.
    assert_eq!(
        mandatory(&seen.lock().unwrap()),
        [v("max-content-size", "mandatory", "note")]
    );

    // A config can also turn a policy off (the advisory) and both files are now too big.
    let (seen, on_event) = collector();
    let err = stack
        .up(UpOptions::default()
            .policy_pack(&pack, Some(quiet))
            .on_event(on_event))
        .await
        .unwrap_err();
    let Error::PolicyViolations {
        violations: found, ..
    } = &err
    else {
        panic!("expected PolicyViolations, got {err:?}");
    };
    assert!(
        !found.is_empty() && found.iter().all(|v| v.policy == "max-content-size"),
        "{found:?}"
    );
    let seen = violations(&seen.lock().unwrap());
    assert!(
        !seen.is_empty()
            && seen
                .iter()
                .all(|(p, level, _)| p == "max-content-size" && level == "mandatory"),
        "{seen:?}"
    );
    // (The greeting passed the 6-byte limit above, so it may exist since.)
    assert_eq!(env.read_file("note.txt"), None);

    // ... or lower a mandatory policy to advisory: the update then goes through.
    let (seen, on_event) = collector();
    let up = stack
        .up(UpOptions::default()
            .policy_pack(&pack, Some(lenient))
            .on_event(on_event))
        .await
        .unwrap();
    assert_eq!(up.summary.result, "succeeded");
    assert_eq!(env.file_names(), ["greeting.txt", "note.txt"]);
    assert_eq!(
        violations(&seen.lock().unwrap()),
        [
            v("max-content-size", "advisory", "greeting"),
            v("max-content-size", "advisory", "note"),
        ]
    );

    // A config the pack's schema refuses fails clearly.
    let bad = config_file(
        &env,
        "bad.json",
        serde_json::json!({ "max-content-size": { "maxSize": "big" } }),
    );
    let err = stack
        .preview(PreviewOptions::default().policy_pack(&pack, Some(bad)))
        .await
        .unwrap_err();
    let text = format!("{err} {:?}", err.command_failure());
    assert!(
        text.contains("max-content-size: maxSize: Invalid type. Expected: integer, given: string"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_policy_pack_inputs_fail_clearly() {
    let env = TestEnv::new("files").await;
    let pack = policy_pack(&env);
    let stack = files_stack(&env).await;

    // One config for two packs is refused before anything runs.
    let cfg = config_file(&env, "c.json", serde_json::json!({}));
    let err = stack
        .preview(
            PreviewOptions::default()
                .policy_pack(&pack, None)
                .policy_pack(&pack, Some(cfg)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");

    // A relative path means one relative to this process, not to the program's directory.
    let cwd = std::env::current_dir().unwrap();
    let relative: PathBuf = cwd
        .components()
        .skip(1)
        .map(|_| "..")
        .collect::<PathBuf>()
        .join(pack.strip_prefix("/").unwrap());
    assert!(relative.is_relative());
    let (seen, on_event) = collector();
    stack
        .preview(
            PreviewOptions::default()
                .policy_pack(&relative, None)
                .on_event(on_event),
        )
        .await
        .unwrap();
    assert_eq!(violations(&seen.lock().unwrap()).len(), 1);

    // A pack whose virtualenv is missing: the CLI's message names the pack and the fix.
    let broken = env.root.path().join("no-venv-policy");
    std::fs::create_dir_all(&broken).unwrap();
    for name in ["PulumiPolicy.yaml", "__main__.py"] {
        std::fs::copy(pack.join(name), broken.join(name)).unwrap();
    }
    let yaml = broken.join("PulumiPolicy.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    let missing = env.root.path().join("missing-venv");
    let text = text.replace(
        &format!("virtualenv: {}", policy_venv().display()),
        &format!("virtualenv: {}", missing.display()),
    );
    std::fs::write(&yaml, text).unwrap();
    let err = stack
        .preview(PreviewOptions::default().policy_pack(&broken, None))
        .await
        .unwrap_err();
    let headline = err.command_failure().unwrap().headline().to_owned();
    assert!(
        headline.contains(&format!(
            "policy pack \"{}\" failed to start",
            broken.display()
        )) && headline.contains("virtualenv"),
        "{err:?}"
    );
    assert!(env.file_names().is_empty());
}

/// The marked processes running the policy pack.
fn pack_processes(marker: &str) -> Vec<(i32, String)> {
    common::processes_with_marker(marker)
        .into_iter()
        .filter(|(_, c)| c.contains("-m pulumi.policy"))
        .collect()
}

#[tokio::test]
async fn the_policy_pack_process_ends_with_the_operation_and_on_cancel() {
    let env = TestEnv::new("slow").await;
    let pack = policy_pack(&env);
    let (marker, stack) = common::marked_slow_stack(&env, "60", "1").await;

    // A finished preview leaves no pack behind.
    stack
        .preview(PreviewOptions::default().policy_pack(&pack, None))
        .await
        .unwrap();
    let left = common::wait_until_gone(&marker).await;
    assert!(left.is_empty(), "left after the preview: {left:?}");

    // An update cancelled while a create sleeps: the pack was running, and ends with it.
    let token = tokio_util::sync::CancellationToken::new();
    let opts = UpOptions::default()
        .policy_pack(&pack, None)
        .cancel_token(token.clone());
    let op = tokio::spawn({
        let stack = stack.clone();
        async move { stack.up(opts).await }
    });
    let seen = common::wait_for_provider(&marker).await;
    assert!(
        seen.iter().any(|(_, c)| c.contains("-m pulumi.policy")),
        "no policy pack process while the update ran: {seen:?}"
    );
    assert!(!pack_processes(&marker).is_empty());
    token.cancel();
    let err = op.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err:?}");
    let left = common::wait_until_gone_within(&marker, std::time::Duration::from_secs(15)).await;
    assert!(left.is_empty(), "left after the cancel: {left:?}");
}
