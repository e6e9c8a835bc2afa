//! Every file under fixtures/cli/ (recorded from the real CLI by scripts/record-fixtures)
//! parses, with the values the recording run produced.

use std::path::PathBuf;

use pulumi_auto::events::read_event_log_file;
use pulumi_auto::model;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/cli")
        .join(name)
}

fn text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_event_log_parses_with_contiguous_sequences_and_one_summary() {
    let mut seen = 0;
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".events.jsonl") {
            continue;
        }
        seen += 1;
        let events = read_event_log_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let seqs: Vec<u64> = events.iter().map(|e| e.sequence).collect();
        assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>(), "{name}");
        assert!(
            events.last().unwrap().is_cancel(),
            "{name} does not end with cancelEvent"
        );
        let summaries: Vec<_> = events.iter().filter_map(|e| e.summary_event()).collect();
        assert_eq!(summaries.len(), 1, "{name}");
        for ev in &events {
            assert!(
                !format!("{:?}", ev.kind).starts_with("Unknown"),
                "{name}: an event kind the model does not know: {:?}",
                ev.kind
            );
        }
    }
    assert!(seen >= 8, "only {seen} event logs");
}

#[test]
fn recorded_summaries() {
    let summary = |name: &str| {
        let events = read_event_log_file(fixture(name)).unwrap();
        let s = events
            .iter()
            .find_map(|e| e.summary_event().cloned())
            .unwrap();
        (s.result.clone(), s.resource_changes.clone(), s.is_preview)
    };
    let (result, changes, preview) = summary("up.events.jsonl");
    assert_eq!((result.as_str(), preview), ("succeeded", false));
    assert_eq!(changes.get("create").copied(), Some(3));
    let (_, changes, preview) = summary("preview.events.jsonl");
    assert!(preview);
    assert_eq!(changes.get("create").copied(), Some(3));
    let (_, changes, _) = summary("up-update.events.jsonl");
    assert_eq!(
        (
            changes.get("create"),
            changes.get("update"),
            changes.get("replace")
        ),
        (Some(&1), Some(&1), Some(&1))
    );
    let (_, changes, _) = summary("destroy.events.jsonl");
    assert_eq!(changes.get("delete").copied(), Some(4));
    let (result, _, _) = summary("up-program-failure.events.jsonl");
    assert_eq!(result, "failed");
    let (result, _, _) = summary("up-resource-failure.events.jsonl");
    assert_eq!(result, "failed");
}

#[test]
fn failures_carry_their_errors_in_events() {
    let events = read_event_log_file(fixture("up-resource-failure.events.jsonl")).unwrap();
    assert_eq!(events.iter().filter(|e| e.is_resource_failure()).count(), 1);
    let errors: Vec<String> = events.iter().filter_map(|e| e.error_message()).collect();
    assert!(
        errors.iter().any(|m| m.contains("create refused")),
        "{errors:?}"
    );

    let events = read_event_log_file(fixture("up-program-failure.events.jsonl")).unwrap();
    let errors: Vec<String> = events.iter().filter_map(|e| e.error_message()).collect();
    assert!(
        errors
            .iter()
            .any(|m| m.contains("the failing fixture raised on purpose")),
        "{errors:?}"
    );
}

#[test]
fn root_stack_outputs_in_the_up_log_blind_secrets() {
    let events = read_event_log_file(fixture("up.events.jsonl")).unwrap();
    let outputs = events.iter().find_map(|e| e.root_stack_outputs()).unwrap();
    assert_eq!(outputs["count"], serde_json::json!(2));
    assert!(model::contains_secret_object(&outputs["token"]));
    let map = model::outputs_from_property_map(outputs);
    assert!(map["token"].secret);
    assert!(!map["count"].secret);
}

#[test]
fn json_outputs_parse() {
    let outs = model::parse_outputs(
        &text("stack-output.stdout"),
        Some(&text("stack-output-secrets.stdout")),
    )
    .unwrap();
    assert!(outs["token"].secret);
    assert_eq!(outs["token"].value, serde_json::json!("fixture-token"));
    assert!(!outs["greetingPath"].secret);

    let history = model::parse_history(&text("stack-history.stdout")).unwrap();
    assert!(history.len() >= 3);
    assert_eq!(history[0].kind.to_string(), "refresh");
    assert!(
        history.iter().all(|h| h.version == 0),
        "the file backend has no versions"
    );

    let config = model::parse_config(&text("config.stdout")).unwrap();
    assert!(config["files:token"].secret);
    assert!(
        config["files:token"].value.is_none(),
        "no --show-secrets: no value"
    );
    let config = model::parse_config(&text("config-secrets.stdout")).unwrap();
    assert_eq!(
        config["files:token"].value.as_deref(),
        Some("fixture-token")
    );
    assert!(config["files:nested"].object_value.is_some());
    let one = model::parse_config_value(&text("config-get.stdout")).unwrap();
    assert!(one.secret);

    let stacks = model::parse_stack_list(&text("stack-ls.stdout")).unwrap();
    assert_eq!(stacks[0].name, "dev");
    assert_eq!(stacks[0].resource_count, Some(5));

    let me = model::parse_whoami(&text("whoami.stdout")).unwrap();
    assert!(me.url.starts_with("file://"));
    assert!(
        model::parse_tags(&text("stack-tags.stdout"))
            .unwrap()
            .is_empty()
    );

    for name in ["stack-export.stdout", "stack-export-secrets.stdout"] {
        let raw: serde_json::Value = serde_json::from_str(&text(name)).unwrap();
        let dep = model::parse_deployment(&text(name)).unwrap();
        assert_eq!(
            serde_json::to_value(&dep).unwrap(),
            raw,
            "{name} does not round-trip"
        );
    }
    let dep = model::parse_deployment(&text("stack-export-secrets.stdout")).unwrap();
    assert_eq!(
        dep.stack_outputs()["token"].value,
        serde_json::json!("fixture-token")
    );

    let plan = model::parse_preview_output(&text("preview-changes.json")).unwrap();
    let ops: Vec<String> = plan.steps.iter().map(|s| s.op.to_string()).collect();
    assert!(
        ops.contains(&"update".to_owned()) && ops.contains(&"replace".to_owned()),
        "{ops:?}"
    );
}

#[test]
fn recorded_failures_classify() {
    let code = |name: &str| text(&format!("{name}.exit")).trim().parse::<i32>().unwrap();
    assert_eq!(code("err-stack-not-found"), 6);
    assert!(text("err-stack-not-found.stderr").contains("no stack named 'nope' found"));
    assert_eq!(code("err-stack-exists"), 1);
    assert!(text("err-stack-exists.stderr").contains("already exists"));
    assert_eq!(code("err-stack-locked"), 1);
    assert!(text("err-stack-locked.stderr").contains("the stack is currently locked by 1 lock(s)"));
    assert_eq!(code("err-program-failure"), 1);
    assert!(
        text("err-program-failure.stdout").contains("Program failed with an unhandled exception")
    );
}
